//! A Gatsby Function's route: forwarded to the functions process ([`crate::functions`]), which
//! answers with the function's own status, headers and streamed body.

use std::net::SocketAddr;
use std::sync::Arc;

use hyper::body::Incoming;
use hyper::{Method, Request, Response};

use super::super::App;
use crate::functions::{ApiRoute, ProxyBody};

/// Where a function request goes: the function's path after `/api/`, and the path the functions
/// process is asked for.
pub(super) struct Forward {
    fragment: String,
    upstream_path: String,
}

/// `Some` when the request names one of the site's functions (at `/api/…`, or under the path
/// prefix), whatever its method.
pub(super) fn route(app: &App, req: &Request<Incoming>) -> Option<Forward> {
    let functions = app.functions.as_ref()?;
    match functions.route(req.uri().path(), app.router.path_prefix()) {
        ApiRoute::Function {
            fragment,
            upstream_path,
        } => Some(Forward {
            fragment,
            upstream_path,
        }),
        ApiRoute::NoFunction | ApiRoute::NotApi => None,
    }
}

/// A request under `/api/` naming no function, with a method a page would refuse: a 404, not a
/// 405 (only GET, HEAD and OPTIONS go on to the site's routing, which may still find a file).
pub(super) fn is_unknown_function(app: &App, req: &Request<Incoming>) -> bool {
    let Some(functions) = app.functions.as_ref() else {
        return false;
    };
    !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS)
        && functions.route(req.uri().path(), app.router.path_prefix()) == ApiRoute::NoFunction
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
