//! A Gatsby Function's route: forwarded to the functions process ([`crate::functions`]), which
//! answers with the function's own status, headers and streamed body.

use std::net::SocketAddr;
use std::sync::Arc;

use hyper::body::Incoming;
use hyper::{Method, Request, Response};

use super::super::App;
use crate::functions::{not_ready, ApiRoute, NotReady, ProxyBody};

/// Where a function request goes: the function's path after `/api/`, and the path the functions
/// process is asked for.
pub(super) struct Forward {
    fragment: String,
    upstream_path: String,
}

/// What a request is for the functions.
pub(super) enum FunctionRoute {
    /// It names one of the site's functions (at `/api/…`, or under the path prefix), whatever
    /// its method.
    Forward(Forward),
    /// Under `/api/`, naming no function.
    Unknown,
    /// Under `/api/`, but the routes did not arrive within the function timeout: a 503.
    NotReady(NotReady),
    /// Not under `/api/`, or the site has no functions.
    None,
}

/// What the request is for the functions; under `/api/` while the functions process has not
/// reported its routes, this waits for them (at most the function timeout).
pub(super) async fn route(app: &App, req: &Request<Incoming>) -> FunctionRoute {
    let Some(functions) = app.functions.as_ref() else {
        return FunctionRoute::None;
    };
    match functions
        .route(req.uri().path(), app.router.path_prefix())
        .await
    {
        ApiRoute::Function {
            fragment,
            upstream_path,
        } => FunctionRoute::Forward(Forward {
            fragment,
            upstream_path,
        }),
        ApiRoute::NoFunction => FunctionRoute::Unknown,
        ApiRoute::NotReady(why) => FunctionRoute::NotReady(why),
        ApiRoute::NotApi => FunctionRoute::None,
    }
}

/// A request under `/api/` naming no function, with a method a page would refuse: a 404, not a
/// 405 (only GET, HEAD and OPTIONS go on to the site's routing, which may still find a file).
pub(super) fn is_unknown_function(routed: &FunctionRoute, req: &Request<()>) -> bool {
    matches!(routed, FunctionRoute::Unknown)
        && !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS)
}

pub(super) async fn serve(
    app: &Arc<App>,
    req: Request<Incoming>,
    forward: Forward,
    remote: SocketAddr,
) -> Response<ProxyBody> {
    let functions = app.functions.as_ref().expect("routed to a function");
    functions
        .forward(req, &forward.fragment, &forward.upstream_path, remote)
        .await
}

/// The 503 of a request that waited for the routes in vain.
pub(super) fn unavailable(why: NotReady) -> Response<ProxyBody> {
    not_ready(why)
}
