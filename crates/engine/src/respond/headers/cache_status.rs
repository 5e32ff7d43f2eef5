//! `x-dsg-cache: HIT | MISS | STALE` on every response a deferred page was involved in (also its
//! 500s and 503s, as `MISS`); absent on all others.

use hyper::header::{HeaderMap, HeaderName};

use crate::cache::CacheStatus;

pub const X_DSG_CACHE: HeaderName = HeaderName::from_static("x-dsg-cache");

pub fn apply(headers: &mut HeaderMap, status: Option<CacheStatus>) {
    if let Some(status) = status {
        headers.insert(X_DSG_CACHE, status.header_value());
    }
}
