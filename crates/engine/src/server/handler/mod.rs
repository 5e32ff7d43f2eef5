//! The request pipeline, one request at a time:
//!
//! 1. pre-process ([`serve`]): count the request, note what the access log needs; a Gatsby
//!    Function's route (`/api/*`, any method) goes to [`function`], which streams the function's
//!    own response back untouched by the header stage (as `gatsby serve` adds none to it) — under
//!    `/api/` while the functions process has not reported its routes, the request waits for
//!    them first (a 503 if they do not come within the function timeout);
//!    Partytown's proxy (`/__third-party-proxy?url=` a listed URL, GET or HEAD) goes to
//!    [`partytown`], which streams the upstream's answer back, also untouched by the header stage
//!    (an unlisted `url` goes on to the site's routing, as under `gatsby serve`: a 404);
//! 2. the probes (`/__dsg/livez`, `/__dsg/readyz`) go to [`crate::admin::probes`], the rest of
//!    admin (`/__dsg/`) to [`crate::admin::handle`]; methods other than GET/HEAD are answered
//!    here (OPTIONS, 405);
//! 3. route ([`crate::route::Router::route`]) decides what answers the path;
//! 4. dispatch by [`Route`]: [`static_file`] (a file of `public/`; one found on disk after
//!    start-up is looked up off the async threads first, [`Route::LookUp`]), [`deferred`] (a
//!    deferred page: page cache → single flight → render) or [`ssr`] (an SSR page, any method),
//!    redirects and errors from [`crate::respond`];
//! 5. post-process: the header stage ([`crate::respond::headers`]) sets every policy header, then
//!    the request is counted by route and cache status and logged.
//!
//! A new route kind (SSR pages, Functions) is a [`Route`] variant, one arm in [`handle`]'s match
//! and one module beside [`deferred`]; the pre- and post-processing stay as they are.

mod deferred;
mod function;
mod partytown;
mod ssr;
mod static_file;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use hyper::body::Incoming;
use hyper::header;
use hyper::{Method, Request, Response};

use super::App;
use crate::access_log::Entry;
use crate::admin;
use crate::artifact::ArtifactKind;
use crate::cache::CacheStatus;
use crate::functions::ProxyBody;
use crate::linger;
use crate::metrics::{CacheLabel, RequestLabels, RouteKind};
use crate::respond::{self, BodyMode, Reply};
use crate::route::{Route, Routed};
use crate::site::RequestFacts;
use function::FunctionRoute;

/// One request: answer it, set its headers, then count it and log it.
pub(super) async fn serve(
    app: &Arc<App>,
    req: Request<Incoming>,
    remote: SocketAddr,
) -> Response<ResponseBody> {
    let started = Instant::now();
    app.metrics.request_received();
    let log_line = app.access_log.as_ref().map(|_| {
        (
            req.method().to_string(),
            req.uri()
                .path_and_query()
                .map_or_else(|| "/".to_string(), |p| p.to_string()),
        )
    });
    let for_functions = function::route(app, &req).await;
    let (response, route, cache) = match for_functions {
        FunctionRoute::Forward(forward) => {
            let response = function::serve(app, req, forward, remote).await;
            (response.map(ResponseBody::Right), RouteKind::function, None)
        }
        for_functions => {
            // Only a function reads a request body: the rest is read and thrown away, so that the
            // client still sending it gets this answer (crate::linger).
            let (parts, body) = req.into_parts();
            linger::discard(body);
            answer(app, Request::from_parts(parts, ()), for_functions).await
        }
    };
    let status = response.status().as_u16();
    app.metrics.record_request(RequestLabels {
        route,
        status,
        cache: CacheLabel(cache),
    });
    if let (Some(log), Some((method, path))) = (&app.access_log, log_line) {
        let bytes = response
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse().ok())
            .unwrap_or(0);
        log.log(&Entry {
            time: SystemTime::now(),
            remote: Some(remote),
            method,
            path,
            status,
            cache: cache.map(CacheStatus::as_str),
            bytes,
            duration: started.elapsed(),
        });
    }
    response
}

/// The answer to a request that no function reads: a function not ready yet, Partytown's proxy,
/// or the engine's own (pages, files, probes, admin); with its route kind and cache status.
async fn answer(
    app: &Arc<App>,
    req: Request<()>,
    for_functions: FunctionRoute,
) -> (Response<ResponseBody>, RouteKind, Option<CacheStatus>) {
    let proxied = match for_functions {
        FunctionRoute::None => partytown::route(app, &req),
        _ => None,
    };
    match (for_functions, proxied) {
        (FunctionRoute::NotReady(why), _) => (
            function::unavailable(why).map(ResponseBody::Right),
            RouteKind::function,
            None,
        ),
        (_, Some(url)) => {
            let response = partytown::serve(app, &req, &url).await;
            (
                response.map(ResponseBody::Right),
                RouteKind::partytown,
                None,
            )
        }
        (for_functions, None) => {
            let unknown_function = function::is_unknown_function(&for_functions, &req);
            let (
                Reply {
                    mut response,
                    facts,
                },
                route,
            ) = handle(app, req, unknown_function).await;
            app.headers.apply(response.headers_mut(), &facts);
            (response.map(ResponseBody::Left), route, facts.cache_status)
        }
    }
}

/// A response body: the engine's own, or a function's or Partytown upstream's, streamed.
pub(crate) type ResponseBody = http_body_util::Either<respond::Body, ProxyBody>;

/// The reply to a request, and the route kind it is counted under.
/// `unknown_function`: a request under `/api/` naming no function, with a method no page allows.
async fn handle(app: &Arc<App>, req: Request<()>, unknown_function: bool) -> (Reply, RouteKind) {
    if let Some(probe) = admin::probes::probe(req.uri().path()) {
        return (
            admin::probes::answer(app, probe, req.method()).await,
            RouteKind::probe,
        );
    }
    if admin::is_admin_path(req.uri().path()) {
        return (admin::handle(app, &req).await, RouteKind::admin);
    }
    if unknown_function {
        // Any method: an unknown function is not a page that allows only GET.
        let mode = if *req.method() == Method::HEAD {
            BodyMode::HeadersOnly
        } else {
            BodyMode::Full
        };
        return (
            respond::not_found(&app.error_pages, mode),
            RouteKind::not_found,
        );
    }
    if req.method() == Method::OPTIONS {
        return (respond::options(), RouteKind::method_not_allowed);
    }
    let routed = route(app, &req).await;
    // An SSR page answers every method, as under `gatsby serve` (getServerData gets `method`).
    let mode = match *req.method() {
        Method::GET => BodyMode::Full,
        Method::HEAD => BodyMode::HeadersOnly,
        _ if matches!(routed.route, Route::Ssr { .. }) => BodyMode::Full,
        _ => return (respond::method_not_allowed(), RouteKind::method_not_allowed),
    };
    let (mut reply, route) = match routed.route {
        Route::Static(file) => (
            static_file::serve(app, req.headers(), &file, mode).await,
            RouteKind::static_file,
        ),
        Route::Deferred { page, kind } => {
            let route = match kind {
                ArtifactKind::Html => RouteKind::deferred_html,
                ArtifactKind::PageData => RouteKind::deferred_page_data,
            };
            (
                deferred::serve(app, req.headers(), &page, kind, mode).await,
                route,
            )
        }
        Route::Ssr { page, kind } => {
            let route = match kind {
                ArtifactKind::Html => RouteKind::ssr_html,
                ArtifactKind::PageData => RouteKind::ssr_page_data,
            };
            let path = routed.path.as_deref().unwrap_or("/");
            (ssr::serve(app, &req, &page, kind, path).await, route)
        }
        Route::Redirect { status, location } => {
            (respond::redirect(status, &location), RouteKind::redirect)
        }
        Route::NotFound => (
            respond::not_found(&app.error_pages, mode),
            RouteKind::not_found,
        ),
        Route::BadRequest(reason) => (
            respond::bad_request(&reason.to_string()),
            RouteKind::bad_request,
        ),
        Route::LookUp(_) => unreachable!("route() resolves lookups"),
    };
    reply.facts.site_path = routed.path;
    (reply, route)
}

/// Routes the request with what it tells for redirect conditions; a path that may be a file
/// written into `public/` after start-up is looked up on disk off the async threads.
async fn route(app: &Arc<App>, req: &Request<()>) -> Routed {
    let uri = req.uri();
    let facts = RequestFacts {
        accept_language: req
            .headers()
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
        country: app
            .country_header
            .as_ref()
            .and_then(|name| req.headers().get(name)?.to_str().ok()),
    };
    let routed = app.router.route_for(uri.path(), uri.query(), &facts);
    let Route::LookUp(path) = routed.route else {
        return routed;
    };
    let runtime = Arc::clone(app.router.static_files.runtime());
    let found = tokio::task::spawn_blocking(move || runtime.look_up(&path))
        .await
        .ok()
        .flatten();
    match found {
        Some(file) => Routed {
            route: Route::Static(file),
            path: routed.path,
        },
        None => app
            .router
            .route_without_lookup(uri.path(), uri.query(), &facts),
    }
}
