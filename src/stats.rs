//! What a server reports to JS: its site at start-up, its counters, its render workers. Numbers
//! are `i64`/`u32`, which JS reads exactly.

use gatsby_dsg_engine as engine;
use napi_derive::napi;

#[napi(object)]
pub struct SiteSummary {
    pub static_files: u32,
    pub static_pages: u32,
    pub deferred_pages: u32,
    pub ssr_pages: u32,
    /// What the deferred and SSR page tables hold in memory, in bytes.
    pub page_table_bytes: f64,
    /// Absent while the stored pages are still being counted (a big disk cache, in the background).
    pub generated_pages: Option<u32>,
    /// Gatsby Functions served under `/api/`.
    pub functions: u32,
    pub cache_dir: Option<String>,
    /// The path prefix the site is served under, if any.
    pub path_prefix: Option<String>,
}

#[napi(object)]
pub struct ServerStats {
    pub requests: i64,
    /// Calls of the render callback.
    pub renders: i64,
    pub render_failures: i64,
    /// Renders refused with 503 because the render queue was full.
    pub render_rejections: i64,
    pub hits: i64,
    pub misses: i64,
    pub stale: i64,
    pub disk_write_failures: i64,
    pub memory_entries: i64,
    pub memory_bytes: i64,
    pub disk_entries: i64,
    pub disk_bytes: i64,
    /// Pages being generated: rendering, compressing or being stored.
    pub renders_in_flight: i64,
    pub renders_queued: i64,
    /// Calls of the SSR render callback.
    pub ssr_renders: i64,
    /// SSR responses kept in the shared cache, and their bytes.
    pub ssr_cache_entries: i64,
    pub ssr_cache_bytes: i64,
    /// Files of `public/` found on disk after start-up, and the disk lookups made for them.
    pub runtime_files: i64,
    pub runtime_file_lookups: i64,
}

impl From<&engine::SiteSummary> for SiteSummary {
    fn from(s: &engine::SiteSummary) -> Self {
        SiteSummary {
            static_files: s.static_files as u32,
            static_pages: s.static_pages as u32,
            deferred_pages: s.deferred_pages as u32,
            ssr_pages: s.ssr_pages as u32,
            page_table_bytes: s.page_table_bytes as f64,
            generated_pages: s.generated_pages.map(|n| n as u32),
            functions: s.functions as u32,
            cache_dir: s.cache_dir.clone(),
            path_prefix: s.path_prefix.clone(),
        }
    }
}

impl From<engine::StatsSnapshot> for ServerStats {
    fn from(s: engine::StatsSnapshot) -> Self {
        let n = |v: u64| v as i64;
        ServerStats {
            requests: n(s.requests),
            renders: n(s.renders),
            render_failures: n(s.render_failures),
            render_rejections: n(s.render_rejections),
            hits: n(s.hits),
            misses: n(s.misses),
            stale: n(s.stale),
            disk_write_failures: n(s.disk_write_failures),
            memory_entries: n(s.memory_entries),
            memory_bytes: n(s.memory_bytes),
            disk_entries: n(s.disk_entries),
            disk_bytes: n(s.disk_bytes),
            renders_in_flight: n(s.renders_in_flight),
            renders_queued: n(s.renders_queued),
            ssr_renders: n(s.ssr_renders),
            ssr_cache_entries: n(s.ssr_cache_entries),
            ssr_cache_bytes: n(s.ssr_cache_bytes),
            runtime_files: n(s.runtime_files),
            runtime_file_lookups: n(s.runtime_file_lookups),
        }
    }
}

#[napi(object)]
pub struct RenderWorkerStats {
    pub id: u32,
    pub renders: i64,
    pub in_flight: u32,
    /// How long the oldest render running on it has been running, in ms.
    pub oldest_render_ms: Option<f64>,
    /// Retired: it gets no more renders (see `retireRenderer`).
    pub retiring: bool,
}

impl From<engine::render::pool::MemberStats> for RenderWorkerStats {
    fn from(m: engine::render::pool::MemberStats) -> Self {
        RenderWorkerStats {
            id: m.id,
            renders: m.renders as i64,
            in_flight: m.in_flight as u32,
            oldest_render_ms: m.oldest_render.map(|d| d.as_secs_f64() * 1000.0),
            retiring: m.retiring,
        }
    }
}
