//! Counters a test, the CLI or an operator reads through the server handle.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

#[derive(Debug, Default)]
pub struct Stats {
    pub requests: AtomicU64,
    /// Calls into the renderer (one per page generation, whatever the number of requests).
    pub renders: AtomicU64,
    pub render_failures: AtomicU64,
    pub hits: AtomicU64,
    pub misses: AtomicU64,
    pub disk_write_failures: AtomicU64,
}

impl Stats {
    pub fn incr(counter: &AtomicU64) {
        counter.fetch_add(1, Relaxed);
    }
}

/// A copy of the counters at one moment, with the cache's size.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    pub requests: u64,
    pub renders: u64,
    pub render_failures: u64,
    pub hits: u64,
    pub misses: u64,
    pub disk_write_failures: u64,
    pub memory_entries: u64,
    pub memory_bytes: u64,
    pub renders_in_flight: u64,
}

impl Stats {
    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            requests: self.requests.load(Relaxed),
            renders: self.renders.load(Relaxed),
            render_failures: self.render_failures.load(Relaxed),
            hits: self.hits.load(Relaxed),
            misses: self.misses.load(Relaxed),
            disk_write_failures: self.disk_write_failures.load(Relaxed),
            ..StatsSnapshot::default()
        }
    }
}
