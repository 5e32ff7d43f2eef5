//! Whether a response was served from stored artifacts (`HIT`), had to wait for a render
//! (`MISS`), or was served from an expired artifact while one background render refreshes it
//! (`STALE`): one type for the `x-dsg-cache` header, the `cache` label of the metrics, the
//! `stats()` counters and the access log. A response no deferred page was involved in has none
//! (`Option<CacheStatus>`).

use hyper::header::HeaderValue;

#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum CacheStatus {
    Hit,
    Miss,
    Stale,
}

impl CacheStatus {
    /// As `x-dsg-cache` and the access log write it.
    pub const fn as_str(self) -> &'static str {
        match self {
            CacheStatus::Hit => "HIT",
            CacheStatus::Miss => "MISS",
            CacheStatus::Stale => "STALE",
        }
    }

    /// As the metrics' `cache` label writes it.
    pub const fn label(self) -> &'static str {
        match self {
            CacheStatus::Hit => "hit",
            CacheStatus::Miss => "miss",
            CacheStatus::Stale => "stale",
        }
    }

    pub const fn header_value(self) -> HeaderValue {
        HeaderValue::from_static(self.as_str())
    }
}
