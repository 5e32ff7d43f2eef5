//! `x-dsg-cache: HIT | MISS | STALE` on every response a deferred page was involved in (also its
//! 500s and 503s, as `MISS`); absent on all others.

use hyper::header::{HeaderMap, HeaderName, HeaderValue};

use crate::cache::CacheOutcome;

pub const X_DSG_CACHE: HeaderName = HeaderName::from_static("x-dsg-cache");
pub const HIT: HeaderValue = HeaderValue::from_static("HIT");
pub const MISS: HeaderValue = HeaderValue::from_static("MISS");
pub const STALE: HeaderValue = HeaderValue::from_static("STALE");

pub fn apply(headers: &mut HeaderMap, outcome: Option<CacheOutcome>) {
    if let Some(outcome) = outcome {
        headers.insert(X_DSG_CACHE, outcome.header_value());
    }
}
