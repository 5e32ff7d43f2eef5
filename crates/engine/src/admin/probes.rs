//! The probes, for load balancers, container runtimes and supervisors, which send no bearer token:
//!
//! - `GET /__dsg/livez`: `200` whenever the server answers HTTP at all (a hung or dead process
//!   answers nothing, which is what a liveness check detects);
//! - `GET /__dsg/readyz`: `200` when a request for a deferred page would find a renderer now (at
//!   least one render worker takes renders; a site without deferred pages needs none) and, with a
//!   shared tier, Redis answers a `PING`, and, for a site with Gatsby Functions, the functions
//!   process has reported their routes (until then a request under `/api/` waits for them:
//!   [`crate::functions::ready`]); `503` otherwise, naming what is not ready.
//!
//! Invariants: answered with or without an admin token configured, and without one being sent;
//! they tell an unauthenticated client nothing more than the above (no build id, no Redis address,
//! no error text; `/__dsg/health` with the token has the details); never cached
//! (`Cache-Control: no-store`); one readiness check costs at most one Redis `PING`, bounded by the
//! shared tier's call timeout (500 ms), so a probe timeout of a second or more always gets an answer.

use bytes::Bytes;
use hyper::header::HeaderValue;
use hyper::{Method, StatusCode};

use crate::respond::headers::Caching;
use crate::respond::{self, BodyMode, Reply};
use crate::server::App;

/// Which probe a request names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Probe {
    Live,
    Ready,
}

/// The probe `raw_path` names (`/__dsg/livez`, `/__dsg/readyz`, with or without a trailing slash).
pub fn probe(raw_path: &str) -> Option<Probe> {
    match raw_path.strip_prefix(super::PREFIX)?.trim_end_matches('/') {
        "livez" => Some(Probe::Live),
        "readyz" => Some(Probe::Ready),
        _ => None,
    }
}

/// What readiness depends on, as found now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Readiness {
    /// Whether the site has deferred pages at all (else renderers are not needed).
    pub renders_needed: bool,
    /// Renderers that take renders now.
    pub renderers_ready: usize,
    /// `None` without a shared tier; else whether Redis answered.
    pub redis_reachable: Option<bool>,
    /// The site has functions and the functions process has not reported their routes yet.
    pub functions_pending: bool,
}

impl Readiness {
    pub fn ready(&self) -> bool {
        (!self.renders_needed || self.renderers_ready > 0)
            && self.redis_reachable != Some(false)
            && !self.functions_pending
    }

    /// What is not ready, in words (empty when ready).
    pub fn waiting_for(&self) -> Vec<&'static str> {
        let mut waiting = Vec::new();
        if self.renders_needed && self.renderers_ready == 0 {
            waiting.push("no render worker is ready");
        }
        if self.redis_reachable == Some(false) {
            waiting.push("Redis does not answer");
        }
        if self.functions_pending {
            waiting.push("the functions process has not reported its functions");
        }
        waiting
    }

    fn body(&self) -> serde_json::Value {
        let mut body = serde_json::json!({
            "status": if self.ready() { "ready" } else { "not ready" },
            "renderWorkersReady": self.renderers_ready,
        });
        if let Some(reachable) = self.redis_reachable {
            body["redis"] = serde_json::Value::from(if reachable {
                "reachable"
            } else {
                "unreachable"
            });
        }
        let waiting = self.waiting_for();
        if !waiting.is_empty() {
            body["waitingFor"] = serde_json::Value::from(waiting);
        }
        body
    }
}

/// Answers a probe request.
pub(crate) async fn answer(app: &App, probe: Probe, method: &Method) -> Reply {
    let mode = match *method {
        Method::GET => BodyMode::Full,
        Method::HEAD => BodyMode::HeadersOnly,
        _ => return respond::method_not_allowed(),
    };
    let (status, body) = match probe {
        Probe::Live => (StatusCode::OK, serde_json::json!({ "status": "live" })),
        Probe::Ready => {
            let readiness = Readiness {
                renders_needed: !app.router.pages.is_empty(),
                renderers_ready: app.cache.renderers_ready(),
                redis_reachable: app.cache.shared_tier_reachable().await,
                functions_pending: app
                    .functions
                    .as_ref()
                    .is_some_and(|f| f.function_count().is_none()),
            };
            let status = if readiness.ready() {
                StatusCode::OK
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            };
            (status, readiness.body())
        }
    };
    let mut reply = respond::simple(
        status,
        HeaderValue::from_static("application/json; charset=utf-8"),
        Bytes::from(body.to_string()),
        mode,
    );
    reply.facts.caching = Caching::NoStore;
    reply
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_paths() {
        assert_eq!(probe("/__dsg/livez"), Some(Probe::Live));
        assert_eq!(probe("/__dsg/livez/"), Some(Probe::Live));
        assert_eq!(probe("/__dsg/readyz"), Some(Probe::Ready));
        assert_eq!(probe("/__dsg/health"), None);
        assert_eq!(probe("/__dsg/readyz/x"), None);
        assert_eq!(probe("/livez"), None);
        assert_eq!(probe("/__dsg"), None);
    }

    #[test]
    fn ready_needs_a_renderer_only_with_deferred_pages_and_redis_only_when_configured() {
        let r = |renders_needed, renderers_ready, redis_reachable| Readiness {
            renders_needed,
            renderers_ready,
            redis_reachable,
            functions_pending: false,
        };
        assert!(r(true, 1, None).ready());
        assert!(!r(true, 0, None).ready());
        assert!(r(false, 0, None).ready());
        assert!(r(true, 2, Some(true)).ready());
        assert!(!r(true, 2, Some(false)).ready());
        assert_eq!(
            r(true, 0, Some(false)).waiting_for(),
            vec!["no render worker is ready", "Redis does not answer"]
        );
        assert!(r(true, 1, Some(true)).waiting_for().is_empty());
    }

    #[test]
    fn not_ready_while_the_functions_process_has_not_reported_its_functions() {
        let pending = Readiness {
            renders_needed: true,
            renderers_ready: 1,
            redis_reachable: None,
            functions_pending: true,
        };
        assert!(!pending.ready());
        assert_eq!(
            pending.waiting_for(),
            vec!["the functions process has not reported its functions"]
        );
        let reported = Readiness {
            functions_pending: false,
            ..pending
        };
        assert!(reported.ready());
    }
}
