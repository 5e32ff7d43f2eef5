//! The admin endpoints under `/__dsg/`: health, Prometheus metrics, purge. Served only when an
//! admin token is configured, and only to requests bearing it ([`auth`]); without a token the
//! prefix is a plain 404. [`handle`] dispatches; [`purge`] reads what a purge names. The
//! exception is [`probes`] (`livez`, `readyz`): always served, to anyone.

pub mod auth;
pub mod probes;
pub mod purge;

use bytes::Bytes;
use hyper::header::HeaderValue;
use hyper::{Method, Request, StatusCode};

use crate::respond::{self, BodyMode, Reply};
use crate::server::App;
pub use purge::{purge_target, purge_target_of_query, PurgeRequest, PurgeTarget};

pub const PREFIX: &str = "/__dsg/";

/// Whether the raw request path is under the admin prefix.
pub fn is_admin_path(raw_path: &str) -> bool {
    raw_path.starts_with(PREFIX) || raw_path == "/__dsg"
}

/// Answers a request under the admin prefix.
pub(crate) async fn handle(app: &App, req: &Request<()>) -> Reply {
    let Some(token) = &app.admin_token else {
        return respond::not_found(&app.error_pages, BodyMode::Full);
    };
    if !auth::authorized(req.headers(), token) {
        return auth::unauthorized();
    }
    match endpoint(req.method(), req.uri().path()) {
        Endpoint::Health => json(
            StatusCode::OK,
            serde_json::json!({
                "status": "ok",
                "buildId": app.build_id,
                "deferredPages": app.router.pages.len(),
                "rendersInFlight": app.cache.renders_in_flight(),
                "rendersQueued": app.cache.renders_queued(),
            }),
        ),
        Endpoint::Metrics => metrics(app.metrics_text()),
        Endpoint::Purge => {
            let purged = match purge_target_of_query(req.uri().query(), &app.router.pages) {
                Ok(target) => app.purge(target).await,
                Err(message) => Err(message),
            };
            match purged {
                Ok(purged) => json(StatusCode::OK, serde_json::json!({ "purged": purged })),
                Err(error) => json(
                    StatusCode::BAD_REQUEST,
                    serde_json::json!({ "error": error.to_string() }),
                ),
            }
        }
        Endpoint::MethodNotAllowed => respond::method_not_allowed(),
        Endpoint::NotFound => json(
            StatusCode::NOT_FOUND,
            serde_json::json!({ "error": "no such admin endpoint: health, metrics, purge" }),
        ),
    }
}

fn json(status: StatusCode, value: serde_json::Value) -> Reply {
    respond::simple(
        status,
        HeaderValue::from_static("application/json; charset=utf-8"),
        Bytes::from(value.to_string()),
        BodyMode::Full,
    )
}

fn metrics(text: String) -> Reply {
    respond::simple(
        StatusCode::OK,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        Bytes::from(text),
        BodyMode::Full,
    )
}

/// Which admin endpoint a request names.
#[derive(Debug, PartialEq, Eq)]
enum Endpoint {
    Health,
    Metrics,
    Purge,
    NotFound,
    MethodNotAllowed,
}

fn endpoint(method: &Method, raw_path: &str) -> Endpoint {
    let name = raw_path.trim_start_matches("/__dsg").trim_matches('/');
    let (expected, endpoint) = match name {
        "health" => (Method::GET, Endpoint::Health),
        "metrics" => (Method::GET, Endpoint::Metrics),
        "purge" => (Method::POST, Endpoint::Purge),
        _ => return Endpoint::NotFound,
    };
    if *method == expected || (expected == Method::GET && *method == Method::HEAD) {
        endpoint
    } else {
        Endpoint::MethodNotAllowed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_by_method() {
        assert_eq!(endpoint(&Method::GET, "/__dsg/health"), Endpoint::Health);
        assert_eq!(endpoint(&Method::GET, "/__dsg/metrics"), Endpoint::Metrics);
        assert_eq!(endpoint(&Method::POST, "/__dsg/purge"), Endpoint::Purge);
        assert_eq!(
            endpoint(&Method::GET, "/__dsg/purge"),
            Endpoint::MethodNotAllowed
        );
        assert_eq!(endpoint(&Method::GET, "/__dsg/other"), Endpoint::NotFound);
    }
}
