//! The napi binding of gatsby-dsg: converts JS values to engine types and back, and implements the
//! engine's `Renderer` with the JS render callback. No behaviour lives here.
#![deny(clippy::all)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use bytes::Bytes;
use engine::render::pool::RendererPool;
use futures_util::future::BoxFuture;
use gatsby_dsg_engine as engine;
use napi::bindgen_prelude::*;
use napi::threadsafe_function::ThreadsafeFunction;
use napi_derive::napi;
use parking_lot::Mutex;

/// What the JS render callback resolves to: the page-data JSON at once, the HTML as a promise.
#[napi(object, object_to_js = false)]
pub struct RenderResult {
    pub page_data: String,
    pub html: Promise<String>,
}

/// `render(pagePath)`: called with the page's path as the build lists it.
type RenderCallback = ThreadsafeFunction<String, RenderReturn, String, Status, false>;

/// What the render callback returned, checked before it is converted: anything but a promise is
/// a clear render error, never an exception thrown into Node.
pub enum RenderReturn {
    Promise(Promise<RenderResult>),
    NotAPromise,
}

impl FromNapiValue for RenderReturn {
    unsafe fn from_napi_value(env: sys::napi_env, value: sys::napi_value) -> Result<Self> {
        let mut is_promise = false;
        check_status!(
            unsafe { sys::napi_is_promise(env, value, &mut is_promise) },
            "checking what render returned"
        )?;
        if is_promise {
            Ok(RenderReturn::Promise(unsafe {
                Promise::from_napi_value(env, value)
            }?))
        } else {
            Ok(RenderReturn::NotAPromise)
        }
    }
}

#[napi(object)]
pub struct DeferredPageInput {
    pub path: String,
    pub match_path: Option<String>,
}

#[napi(object)]
pub struct ServerOptions {
    /// Default `localhost`.
    pub host: Option<String>,
    /// Default 9000; 0 picks a free port.
    pub port: Option<u32>,
    /// The site's `public/`.
    pub public_dir: String,
    /// Root of the on-disk artifact store; artifacts go under `<cacheDir>/<build id>/`.
    /// Omit to keep artifacts in memory only.
    pub cache_dir: Option<String>,
    /// Anything that changes with every `gatsby build` (the CLI joins the plugin's build id and
    /// Gatsby's compilation hash); hashed into the cache directory's name.
    pub build_id: String,
    /// Memory cache bound for generated pages, in bytes (every encoding counted). Default 256 MiB.
    pub memory_cache_bytes: Option<i64>,
    /// Memory cache bound for files of `public/`, in bytes. Default 64 MiB.
    pub static_cache_bytes: Option<i64>,
    /// Default 30 000.
    pub render_timeout_ms: Option<u32>,
    /// How long `close()` waits for in-flight requests and renders. Default 10 000.
    pub shutdown_timeout_ms: Option<u32>,
    pub deferred_pages: Vec<DeferredPageInput>,
    /// Serve under this prefix (gatsby-config `pathPrefix`, with `--prefix-paths`).
    pub path_prefix: Option<String>,
    /// gatsby-config `trailingSlash`: `always` (Gatsby's default), `never` or `ignore`.
    pub trailing_slash: Option<String>,
    /// gatsby-config `headers`.
    pub headers: Option<Vec<HeaderRuleInput>>,
    /// `.cache/redirects.json`, as `createRedirect` wrote it.
    pub redirects: Option<Vec<RedirectInput>>,
    /// `.cache/match-paths.json`: client-only routes of SSG pages.
    pub client_routes: Option<Vec<ClientRouteInput>>,
    /// Lifetime of generated pages in shared caches (CDNs): `s-maxage` and `CDN-Cache-Control`.
    pub shared_max_age_seconds: Option<u32>,
    /// Serve pages older than this `STALE` while one background render refreshes them.
    pub revalidate_seconds: Option<u32>,
    /// Renders running at once. Default 8.
    pub render_slots: Option<u32>,
    /// Renders waiting for a slot; past it, 503 with `Retry-After`. Default 1024.
    pub max_queued_renders: Option<u32>,
    /// Enables `/__dsg/health`, `/__dsg/metrics` and `POST /__dsg/purge` for requests with
    /// `Authorization: Bearer <adminToken>`.
    pub admin_token: Option<String>,
    /// One line per request on stdout: `text` or `json`. Default: none.
    pub access_log: Option<String>,
    /// Share generated pages with other instances through Redis (`redis://host:6379/`).
    pub redis_url: Option<String>,
    /// Key namespace in Redis: instances of one site share it. Default `gatsby-dsg`.
    pub redis_namespace: Option<String>,
    /// TTL of a page's cluster-wide render lock, renewed while rendering. Default 10 000.
    pub redis_lock_ttl_ms: Option<u32>,
}

#[napi(object)]
pub struct PurgeOptions {
    /// One page, by its path.
    pub path: Option<String>,
    /// Every deferred page whose path matches.
    pub glob: Option<String>,
    /// Every page.
    pub all: Option<bool>,
}

#[napi(object)]
pub struct HeaderRuleInput {
    pub source: String,
    pub headers: Vec<HeaderInput>,
}

#[napi(object)]
pub struct HeaderInput {
    pub key: String,
    pub value: String,
}

#[napi(object)]
pub struct RedirectInput {
    pub from_path: String,
    pub to_path: String,
    pub is_permanent: Option<bool>,
    pub status_code: Option<u32>,
    pub ignore_case: Option<bool>,
    pub force: Option<bool>,
}

#[napi(object)]
pub struct ClientRouteInput {
    pub path: String,
    pub match_path: String,
}

#[napi(object)]
pub struct SiteSummary {
    pub static_files: u32,
    pub static_pages: u32,
    pub deferred_pages: u32,
    pub generated_pages: u32,
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
    /// Pages being generated (render, compression, disk write).
    pub renders_in_flight: i64,
    pub renders_queued: i64,
}

/// Implements the engine's renderer with the JS callback. The callback is released on `close()`
/// so that Node can exit.
struct JsRenderer {
    callback: Mutex<Option<Arc<RenderCallback>>>,
}

/// The render threw or one of its promises rejected.
fn js_error(error: napi::Error) -> engine::RenderError {
    engine::RenderError::failed(error.reason.clone())
}

/// The call itself failed. Unless the callback threw, it never ran: its thread is closing, or
/// Node dropped the queued call as that thread went away. Either way another renderer can take it.
fn call_error(error: napi::Error) -> engine::RenderError {
    if error.status == Status::PendingException {
        return js_error(error);
    }
    engine::RenderError::Unavailable(Arc::from(format!(
        "the render callback's thread did not run it: {}",
        error.reason
    )))
}

impl engine::Renderer for JsRenderer {
    fn render(
        &self,
        page_path: &str,
    ) -> BoxFuture<'static, std::result::Result<engine::RenderedPage, engine::RenderError>> {
        let callback = self.callback.lock().clone();
        let page_path = page_path.to_string();
        Box::pin(async move {
            let callback = callback.ok_or_else(|| {
                engine::RenderError::Unavailable(Arc::from("the server is closing"))
            })?;
            let returned = callback
                .call_async_catch(page_path)
                .await
                .map_err(call_error)?;
            let RenderReturn::Promise(promise) = returned else {
                return Err(engine::RenderError::failed(
                    "render(pagePath) must return a Promise of { pageData, html }",
                ));
            };
            let RenderResult { page_data, html } = promise.await.map_err(js_error)?;
            let html: BoxFuture<'static, _> =
                Box::pin(async move { html.await.map(Bytes::from).map_err(js_error) });
            Ok(engine::RenderedPage {
                page_data: Bytes::from(page_data),
                html,
            })
        })
    }
}

/// The render pools of the servers of this process, by server id, so that a worker thread (its
/// own JS environment, which cannot reach the server object) can register its render callback.
static POOLS: LazyLock<Mutex<HashMap<u32, Arc<RendererPool>>>> = LazyLock::new(Default::default);
static NEXT_SERVER_ID: AtomicU32 = AtomicU32::new(1);

fn js_renderer(render: RenderCallback) -> Arc<JsRenderer> {
    Arc::new(JsRenderer {
        callback: Mutex::new(Some(Arc::new(render))),
    })
}

/// Adds a render callback to the server `serverId` (from any thread, e.g. a worker thread that
/// loaded Gatsby's engines). Returns the renderer's id.
#[napi(ts_args_type = "serverId: number, render: (pagePath: string) => Promise<RenderResult>")]
pub fn register_renderer(server_id: u32, render: RenderCallback) -> Result<u32> {
    let pool = POOLS.lock().get(&server_id).cloned().ok_or_else(|| {
        Error::new(
            Status::InvalidArg,
            format!("no running gatsby-dsg server {server_id}"),
        )
    })?;
    Ok(pool.add(js_renderer(render)))
}

/// Takes a render callback out of the server `serverId`, from the thread that registered it: a
/// render worker calls it as it stops (its `exit` event), before Node drops the calls queued to
/// it, so that no more renders are sent there and those running there fail at once.
#[napi]
pub fn unregister_renderer(server_id: u32, renderer_id: u32) -> bool {
    let pool = POOLS.lock().get(&server_id).cloned();
    pool.is_some_and(|pool| pool.remove(renderer_id))
}

/// Gives the memory malloc holds free back to the system; returns whether it could. Called after
/// a render worker ends: glibc keeps what a finished thread freed in its arenas, so without this
/// recycling a worker would not lower the process's RSS. A no-op off glibc.
#[napi]
pub fn release_free_memory() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: malloc_trim only walks malloc's own arenas, under their locks.
        unsafe { libc::malloc_trim(0) == 1 }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
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

#[napi]
pub struct DsgServer {
    server: Arc<engine::Server>,
    id: u32,
    pool: Arc<RendererPool>,
}

#[napi]
impl DsgServer {
    /// The port the server listens on.
    #[napi(getter)]
    pub fn port(&self) -> u32 {
        u32::from(self.server.local_addr().port())
    }

    /// Passed to `registerRenderer` by worker threads.
    #[napi(getter)]
    pub fn server_id(&self) -> u32 {
        self.id
    }

    /// Removes a renderer (its worker thread exited or is being terminated): renders still
    /// running on it fail at once.
    #[napi]
    pub fn remove_renderer(&self, renderer_id: u32) -> bool {
        self.pool.remove(renderer_id)
    }

    /// Sends a renderer no more renders; those running on it finish (a render worker being
    /// recycled). Remove it with `removeRenderer` once its `inFlight` is 0.
    #[napi]
    pub fn retire_renderer(&self, renderer_id: u32) -> bool {
        self.pool.retire(renderer_id)
    }

    /// What each registered renderer has done.
    #[napi]
    pub fn render_workers(&self) -> Vec<RenderWorkerStats> {
        self.pool
            .stats()
            .into_iter()
            .map(|m| RenderWorkerStats {
                id: m.id,
                renders: m.renders as i64,
                in_flight: m.in_flight as u32,
                oldest_render_ms: m.oldest_render.map(|d| d.as_secs_f64() * 1000.0),
                retiring: m.retiring,
            })
            .collect()
    }

    /// The address the server listens on, e.g. `127.0.0.1:9000`.
    #[napi(getter)]
    pub fn address(&self) -> String {
        self.server.local_addr().to_string()
    }

    #[napi]
    pub fn summary(&self) -> SiteSummary {
        let s = self.server.summary();
        SiteSummary {
            static_files: s.static_files as u32,
            static_pages: s.static_pages as u32,
            deferred_pages: s.deferred_pages as u32,
            generated_pages: s.generated_pages as u32,
            cache_dir: s.cache_dir.clone(),
            path_prefix: s.path_prefix.clone(),
        }
    }

    #[napi]
    pub fn stats(&self) -> ServerStats {
        let s = self.server.stats();
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
        }
    }

    /// The Prometheus text `/__dsg/metrics` serves.
    #[napi]
    pub fn metrics(&self) -> String {
        self.server.metrics_text()
    }

    /// Removes generated pages (memory and disk): one `path`, a `glob`, or `all`. Resolves to the
    /// number of artifacts removed.
    #[napi]
    pub async fn purge(&self, options: PurgeOptions) -> Result<u32> {
        let request = match (&options.path, &options.glob, options.all) {
            (Some(path), None, None | Some(false)) => engine::PurgeRequest::Path(path),
            (None, Some(glob), None | Some(false)) => engine::PurgeRequest::Glob(glob),
            (None, None, Some(true)) => engine::PurgeRequest::All,
            _ => {
                return Err(Error::new(
                    Status::InvalidArg,
                    "purge takes exactly one of { path }, { glob } or { all: true }",
                ))
            }
        };
        let purged = self
            .server
            .purge(request)
            .await
            .map_err(|e| Error::new(Status::InvalidArg, e))?;
        Ok(purged as u32)
    }

    /// Paths of the deferred pages, all or those matching `glob`, sorted.
    #[napi]
    pub fn deferred_pages(&self, glob: Option<String>) -> Result<Vec<String>> {
        self.server
            .deferred_pages(glob.as_deref())
            .map_err(|e| Error::new(Status::InvalidArg, e))
    }

    /// Generates one deferred page ahead of traffic (yielding to live requests): resolves to
    /// `rendered`, or `stored` when it was generated already.
    #[napi]
    pub async fn warm(&self, page_path: String) -> Result<String> {
        match self.server.warm(&page_path).await {
            Ok(engine::Warmed::Rendered) => Ok("rendered".into()),
            Ok(engine::Warmed::AlreadyStored) => Ok("stored".into()),
            Err(e) => Err(Error::new(Status::GenericFailure, e)),
        }
    }

    /// Stops accepting connections, lets in-flight requests and renders finish, then releases the
    /// render callback (so Node can exit).
    #[napi]
    pub async fn close(&self) -> Result<()> {
        self.server.close().await;
        POOLS.lock().remove(&self.id);
        self.pool.clear();
        Ok(())
    }
}

/// Starts the server. Resolves once it listens. Renders go to `render` when given, and to the
/// callbacks worker threads add with `registerRenderer(server.serverId, render)`.
#[napi(
    ts_args_type = "options: ServerOptions, render?: (pagePath: string) => Promise<RenderResult>"
)]
pub async fn start_server(
    options: ServerOptions,
    render: Option<RenderCallback>,
) -> Result<DsgServer> {
    let config = server_config(options)?;
    let pool = Arc::new(RendererPool::new());
    if let Some(render) = render {
        pool.add(js_renderer(render));
    }
    let id = NEXT_SERVER_ID.fetch_add(1, Ordering::Relaxed);
    POOLS.lock().insert(id, Arc::clone(&pool));
    let server = match engine::Server::start(config, pool.clone()).await {
        Ok(server) => server,
        Err(e) => {
            POOLS.lock().remove(&id);
            pool.clear();
            return Err(Error::new(Status::GenericFailure, e.to_string()));
        }
    };
    Ok(DsgServer {
        server: Arc::new(server),
        id,
        pool,
    })
}

fn server_config(options: ServerOptions) -> Result<engine::ServerConfig> {
    let invalid = |message: String| Error::new(Status::InvalidArg, message);
    let mut config = engine::ServerConfig::new(
        PathBuf::from(options.public_dir),
        engine::BuildId::from_parts([options.build_id]),
    );
    if let Some(host) = options.host {
        config.host = host;
    }
    if let Some(port) = options.port {
        config.port =
            u16::try_from(port).map_err(|_| invalid(format!("port {port} is out of range")))?;
    }
    config.cache_dir = options.cache_dir.map(PathBuf::from);
    let bytes = |value: i64, name: &str| {
        usize::try_from(value).map_err(|_| invalid(format!("{name} {value} must not be negative")))
    };
    if let Some(value) = options.memory_cache_bytes {
        config.memory_cache_bytes = bytes(value, "memoryCacheBytes")?;
    }
    if let Some(value) = options.static_cache_bytes {
        config.static_cache_bytes = bytes(value, "staticCacheBytes")?;
    }
    if let Some(ms) = options.render_timeout_ms {
        config.render_timeout = Duration::from_millis(u64::from(ms));
    }
    if let Some(ms) = options.shutdown_timeout_ms {
        config.shutdown_timeout = Duration::from_millis(u64::from(ms));
    }
    config.revalidate_after = options
        .revalidate_seconds
        .map(|s| Duration::from_secs(u64::from(s)));
    if let Some(slots) = options.render_slots {
        config.render_slots = slots.max(1) as usize;
    }
    if let Some(max) = options.max_queued_renders {
        config.max_queued_renders = max as usize;
    }
    config.admin_token = options.admin_token;
    config.redis = options.redis_url.map(|url| engine::RedisConfig {
        url,
        namespace: options
            .redis_namespace
            .unwrap_or_else(|| engine::RedisConfig::DEFAULT_NAMESPACE.to_string()),
        lock_ttl: options
            .redis_lock_ttl_ms
            .map_or(engine::RedisConfig::DEFAULT_LOCK_TTL, |ms| {
                Duration::from_millis(u64::from(ms))
            }),
    });
    config.access_log = match options.access_log.as_deref() {
        None | Some("off") => None,
        Some("text") => Some(engine::LogFormat::Text),
        Some("json") => Some(engine::LogFormat::Json),
        Some(other) => {
            return Err(invalid(format!(
                "accessLog must be text, json or off, not {other:?}"
            )))
        }
    };
    config.deferred_pages = options
        .deferred_pages
        .into_iter()
        .map(|p| engine::DeferredPageSpec {
            path: p.path,
            match_path: p.match_path,
        })
        .collect();
    config.site = site_options(
        options.path_prefix,
        options.trailing_slash,
        options.headers,
        options.redirects,
        options.client_routes,
        options.shared_max_age_seconds,
    )?;
    Ok(config)
}

fn site_options(
    path_prefix: Option<String>,
    trailing_slash: Option<String>,
    headers: Option<Vec<HeaderRuleInput>>,
    redirects: Option<Vec<RedirectInput>>,
    client_routes: Option<Vec<ClientRouteInput>>,
    shared_max_age: Option<u32>,
) -> Result<engine::SiteOptions> {
    let trailing_slash = match trailing_slash.as_deref() {
        None | Some("always") => engine::TrailingSlash::Always,
        Some("never") => engine::TrailingSlash::Never,
        Some("ignore") => engine::TrailingSlash::Ignore,
        Some(other) => {
            return Err(Error::new(
                Status::InvalidArg,
                format!("trailingSlash must be always, never or ignore, not {other:?}"),
            ))
        }
    };
    Ok(engine::SiteOptions {
        path_prefix,
        trailing_slash,
        headers: headers
            .unwrap_or_default()
            .into_iter()
            .map(|rule| engine::HeaderRuleSpec {
                source: rule.source,
                headers: rule
                    .headers
                    .into_iter()
                    .map(|h| engine::HeaderSpec {
                        key: h.key,
                        value: h.value,
                    })
                    .collect(),
            })
            .collect(),
        redirects: redirects
            .unwrap_or_default()
            .into_iter()
            .map(|r| engine::RedirectSpec {
                from_path: r.from_path,
                to_path: r.to_path,
                is_permanent: r.is_permanent.unwrap_or(false),
                status_code: r.status_code.and_then(|c| u16::try_from(c).ok()),
                ignore_case: r.ignore_case.unwrap_or(false),
                force: r.force.unwrap_or(false),
            })
            .collect(),
        client_routes: client_routes
            .unwrap_or_default()
            .into_iter()
            .map(|r| engine::ClientRouteSpec {
                path: r.path,
                match_path: r.match_path,
            })
            .collect(),
        shared_max_age,
    })
}

#[napi(object)]
pub struct DeferPolicyOptions {
    /// Page-path globs to defer (`*` within a segment, `**` across segments).
    pub defer: Option<Vec<String>>,
    /// Globs never to defer; they win over `defer`.
    pub exclude: Option<Vec<String>>,
}

/// The plugin's defer decision, made with the engine's glob semantics.
#[napi]
pub struct DeferPolicy {
    inner: engine::DeferPolicy,
}

#[napi]
impl DeferPolicy {
    /// Throws on a glob that does not compile, naming it.
    #[napi(constructor)]
    pub fn new(options: DeferPolicyOptions) -> Result<Self> {
        let inner = engine::DeferPolicy::new(
            &options.defer.unwrap_or_default(),
            &options.exclude.unwrap_or_default(),
        )
        .map_err(|e| Error::new(Status::InvalidArg, e.to_string()))?;
        Ok(DeferPolicy { inner })
    }

    #[napi]
    pub fn should_defer(&self, page_path: String) -> bool {
        self.inner.should_defer(&page_path)
    }
}
