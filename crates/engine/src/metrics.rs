//! Counters for operators: Prometheus text at `/__dsg/metrics`, and a snapshot for the JS API
//! (`server.stats()`). One set of counters feeds both.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::cache::CacheStatus;

/// What answered a request, for the `route` label.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub enum RouteKind {
    static_file,
    deferred_html,
    deferred_page_data,
    ssr_html,
    ssr_page_data,
    redirect,
    not_found,
    bad_request,
    method_not_allowed,
    admin,
    function,
    /// Partytown's `/__third-party-proxy` for a listed URL.
    partytown,
    /// `/__dsg/livez` and `/__dsg/readyz`.
    probe,
}

/// The `cache` label: the response's [`CacheStatus`], `none` for responses no deferred page was
/// involved in.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub struct CacheLabel(pub Option<CacheStatus>);

impl EncodeLabelValue for CacheLabel {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        EncodeLabelValue::encode(&self.0.map_or("none", CacheStatus::label), encoder)
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub route: RouteKind,
    pub status: u16,
    pub cache: CacheLabel,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TierLabels {
    tier: Tier,
}

#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
enum Tier {
    memory,
    disk,
}

pub struct Metrics {
    requests: Family<RequestLabels, Counter>,
    pub renders: Counter,
    pub render_failures: Counter,
    pub render_rejections: Counter,
    render_duration: Histogram,
    renders_in_flight: Gauge,
    pub renders_queued: Gauge,
    pub disk_write_failures: Counter,
    cache_entries: Family<TierLabels, Gauge>,
    cache_bytes: Family<TierLabels, Gauge>,
    /// Artifacts on disk for this build (files of identity bodies) and their bytes, all encodings.
    pub disk_entries: AtomicI64,
    pub disk_bytes: AtomicI64,
    /// Pages with stored HTML when the server started.
    pub disk_html_pages: AtomicI64,
    // For the JS snapshot: totals without labels.
    requests_total: AtomicU64,
    hits: AtomicU64,
    misses: AtomicU64,
    stale: AtomicU64,
    registry: Registry,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut m = Metrics {
            requests: Family::default(),
            renders: Counter::default(),
            render_failures: Counter::default(),
            render_rejections: Counter::default(),
            render_duration: Histogram::new(exponential_buckets(0.001, 2.0, 14)),
            renders_in_flight: Gauge::default(),
            renders_queued: Gauge::default(),
            disk_write_failures: Counter::default(),
            cache_entries: Family::default(),
            cache_bytes: Family::default(),
            disk_entries: AtomicI64::new(0),
            disk_bytes: AtomicI64::new(0),
            disk_html_pages: AtomicI64::new(0),
            requests_total: AtomicU64::new(0),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            stale: AtomicU64::new(0),
            registry: Registry::with_prefix("gatsby_dsg"),
        };
        let r = &mut m.registry;
        r.register("requests", "HTTP requests answered", m.requests.clone());
        r.register(
            "renders",
            "Renders of deferred pages (calls of Gatsby's engine)",
            m.renders.clone(),
        );
        r.register(
            "render_failures",
            "Renders that threw, rejected or timed out",
            m.render_failures.clone(),
        );
        r.register(
            "render_rejections",
            "Renders refused because the render queue was full (503)",
            m.render_rejections.clone(),
        );
        r.register(
            "render_duration_seconds",
            "Time from render start to HTML",
            m.render_duration.clone(),
        );
        r.register(
            "renders_in_flight",
            "Pages being generated: rendering, compressing or being stored",
            m.renders_in_flight.clone(),
        );
        r.register(
            "renders_queued",
            "Renders waiting for a render slot",
            m.renders_queued.clone(),
        );
        r.register(
            "disk_write_failures",
            "Artifacts that could not be stored on disk",
            m.disk_write_failures.clone(),
        );
        r.register(
            "cache_entries",
            "Artifacts held, by tier",
            m.cache_entries.clone(),
        );
        r.register(
            "cache_bytes",
            "Bytes held, by tier (all encodings)",
            m.cache_bytes.clone(),
        );
        m
    }
}

impl Metrics {
    /// Counts a request as it arrives (`stats().requests`); `record_request` labels it when answered.
    pub fn request_received(&self) {
        self.requests_total.fetch_add(1, Relaxed);
    }

    pub fn record_request(&self, labels: RequestLabels) {
        match labels.cache.0 {
            Some(CacheStatus::Hit) => self.hits.fetch_add(1, Relaxed),
            Some(CacheStatus::Miss) => self.misses.fetch_add(1, Relaxed),
            Some(CacheStatus::Stale) => self.stale.fetch_add(1, Relaxed),
            None => 0,
        };
        self.requests.get_or_create(&labels).inc();
    }

    pub fn record_render(&self, took: Duration) {
        self.render_duration.observe(took.as_secs_f64());
    }

    /// Prometheus text exposition, with the gauges the page cache knows read now.
    pub fn encode(&self, now: &Gauges) -> String {
        let Gauges {
            memory_entries,
            memory_bytes,
            renders_in_flight,
        } = *now;
        self.renders_in_flight.set(renders_in_flight as i64);
        let tier = |tier| TierLabels { tier };
        self.cache_entries
            .get_or_create(&tier(Tier::memory))
            .set(memory_entries as i64);
        self.cache_bytes
            .get_or_create(&tier(Tier::memory))
            .set(memory_bytes as i64);
        self.cache_entries
            .get_or_create(&tier(Tier::disk))
            .set(self.disk_entries.load(Relaxed));
        self.cache_bytes
            .get_or_create(&tier(Tier::disk))
            .set(self.disk_bytes.load(Relaxed));
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }

    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            requests: self.requests_total.load(Relaxed),
            renders: self.renders.get(),
            render_failures: self.render_failures.get(),
            render_rejections: self.render_rejections.get(),
            hits: self.hits.load(Relaxed),
            misses: self.misses.load(Relaxed),
            stale: self.stale.load(Relaxed),
            disk_write_failures: self.disk_write_failures.get(),
            renders_queued: self.renders_queued.get().max(0) as u64,
            disk_entries: self.disk_entries.load(Relaxed).max(0) as u64,
            disk_bytes: self.disk_bytes.load(Relaxed).max(0) as u64,
            ..StatsSnapshot::default()
        }
    }
}

/// What the page cache knows now, read when the metrics are encoded.
#[derive(Clone, Copy, Debug, Default)]
pub struct Gauges {
    pub memory_entries: usize,
    pub memory_bytes: usize,
    pub renders_in_flight: usize,
}

/// A copy of the counters at one moment, with the cache's size.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    pub requests: u64,
    pub renders: u64,
    pub render_failures: u64,
    pub render_rejections: u64,
    pub hits: u64,
    pub misses: u64,
    pub stale: u64,
    pub disk_write_failures: u64,
    pub memory_entries: u64,
    pub memory_bytes: u64,
    pub disk_entries: u64,
    pub disk_bytes: u64,
    /// Pages being generated: rendering, compressing or being stored.
    pub renders_in_flight: u64,
    pub renders_queued: u64,
    /// Calls of the SSR renderer.
    pub ssr_renders: u64,
    pub ssr_cache_entries: u64,
    pub ssr_cache_bytes: u64,
    /// Files of `public/` found after start-up, and the disk lookups made for them.
    pub runtime_files: u64,
    pub runtime_file_lookups: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_appear_in_the_exposition_with_their_labels() {
        let m = Metrics::default();
        m.request_received();
        m.record_request(RequestLabels {
            route: RouteKind::deferred_html,
            status: 200,
            cache: CacheLabel(Some(CacheStatus::Hit)),
        });
        m.renders.inc();
        let text = m.encode(&Gauges {
            memory_entries: 3,
            memory_bytes: 1234,
            renders_in_flight: 2,
        });
        assert!(
            text.contains(
                r#"gatsby_dsg_requests_total{route="deferred_html",status="200",cache="hit"} 1"#
            ),
            "{text}"
        );
        assert!(text.contains("gatsby_dsg_renders_total 1"), "{text}");
        assert!(text.contains("gatsby_dsg_renders_in_flight 2"), "{text}");
        assert!(
            text.contains(r#"gatsby_dsg_cache_bytes{tier="memory"} 1234"#),
            "{text}"
        );
        assert_eq!((m.snapshot().hits, m.snapshot().requests), (1, 1));
    }
}
