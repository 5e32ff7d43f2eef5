//! The HTTP server: accept loop, one handler per request, graceful close.

use std::convert::Infallible;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, OnceLock, Weak};
use std::time::{Duration, Instant, SystemTime};

use hyper::body::Incoming;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use parking_lot::Mutex;
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::access_log::{self, AccessLog, Entry};
use crate::admin::{self, Endpoint, PurgeRequest, PurgeTarget};
use crate::artifact::ArtifactKind;
use crate::cache::disk::DiskCache;
use crate::cache::memory::MemoryCache;
use crate::cache::shared::{OnPurge, PurgeMessage, SharedCache};
use crate::cache::{CacheOutcome, CachePolicy, PageCache};
use crate::config::{RedisConfig, ServerConfig};
use crate::metrics::{CacheLabel, Metrics, RequestLabels, RouteKind, StatsSnapshot};
use crate::pages::{DeferredPage, DeferredPages};
use crate::path::normalize;
use crate::render::{RenderError, Renderer};
use crate::respond::error_pages::ErrorPages;
use crate::respond::headers::{generated_cache_control, CDN_CACHE_CONTROL, X_DSG_CACHE};
use crate::respond::{self, Body, BodyMode, Entity};
use crate::route::{Route, Router};
use crate::site::HeaderRules;
use crate::static_files::{StaticContent, StaticFiles};

/// A slow client gets this long to send its request head.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// What the request handler shares.
struct App {
    router: Router,
    cache: Arc<PageCache>,
    static_content: StaticContent,
    error_pages: ErrorPages,
    header_rules: HeaderRules,
    /// Precomputed for generated pages (with the shared-cache lifetime when one is set).
    generated_cache_control: HeaderValue,
    cdn_cache_control: Option<HeaderValue>,
    admin_token: Option<String>,
    build_id: String,
    metrics: Arc<Metrics>,
    access_log: Option<AccessLog>,
}

/// Why the server did not start.
#[derive(Debug)]
pub enum StartError {
    PublicDir { dir: String, source: io::Error },
    CacheDir { dir: String, source: io::Error },
    Bind { addr: String, source: io::Error },
    SiteOption(String),
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::PublicDir { dir, source } => {
                write!(f, "cannot read the site's public directory {dir}: {source}")
            }
            StartError::CacheDir { dir, source } => {
                write!(f, "cannot use cache directory {dir}: {source}")
            }
            StartError::Bind { addr, source } => write!(f, "cannot listen on {addr}: {source}"),
            StartError::SiteOption(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for StartError {}

/// Facts about the site the server found at start-up (for the CLI's start-up line).
#[derive(Clone, Debug)]
pub struct SiteSummary {
    pub static_files: usize,
    pub static_pages: usize,
    pub deferred_pages: usize,
    /// Deferred pages whose HTML is already stored on disk for this build.
    pub generated_pages: usize,
    pub cache_dir: Option<String>,
    /// The path prefix the site is served under, if any (`/docs`).
    pub path_prefix: Option<String>,
}

/// What a warm-up of one page did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Warmed {
    Rendered,
    AlreadyStored,
}

pub struct Server {
    local_addr: SocketAddr,
    app: Arc<App>,
    summary: SiteSummary,
    shutdown: watch::Sender<bool>,
    accept_loop: Mutex<Option<JoinHandle<()>>>,
    shutdown_timeout: Duration,
}

impl Server {
    pub async fn start(
        config: ServerConfig,
        renderer: Arc<dyn Renderer>,
    ) -> Result<Server, StartError> {
        let public_dir = config.public_dir.clone();
        let scanned = tokio::task::spawn_blocking(move || {
            let files = StaticFiles::scan(&public_dir)?;
            Ok::<_, io::Error>((files, ErrorPages::load(&public_dir)))
        })
        .await
        .map_err(io::Error::other)
        .and_then(|r| r);
        let (static_files, error_pages) = scanned.map_err(|source| StartError::PublicDir {
            dir: config.public_dir.display().to_string(),
            source,
        })?;
        let header_rules = HeaderRules::new(&config.site.headers)
            .map_err(|e| StartError::SiteOption(e.to_string()))?;

        let metrics = Arc::new(Metrics::default());
        let disk = match &config.cache_dir {
            None => None,
            Some(dir) => Some(open_disk(dir, &config, &metrics).await?),
        };
        let pages = DeferredPages::new(config.deferred_pages.iter().cloned());
        let site = &config.site;
        let router = Router::new(static_files, pages)
            .with_path_prefix(site.path_prefix.as_deref())
            .with_trailing_slash(site.trailing_slash)
            .with_redirects(&site.redirects)
            .with_client_routes(&site.client_routes);
        let summary = SiteSummary {
            static_files: router.static_files.len(),
            static_pages: router.static_files.html_page_count(),
            deferred_pages: router.pages.len(),
            generated_pages: metrics.disk_html_pages.load(Relaxed) as usize,
            cache_dir: disk.as_ref().map(|d| d.dir().display().to_string()),
            path_prefix: router.path_prefix().map(str::to_string),
        };

        let addr = format!("{}:{}", config.host, config.port);
        let listener = listen(&addr).await.map_err(|source| StartError::Bind {
            addr: addr.clone(),
            source,
        })?;
        let local_addr = listener
            .local_addr()
            .map_err(|source| StartError::Bind { addr, source })?;

        let cache = PageCache::new(
            MemoryCache::new(config.memory_cache_bytes),
            disk,
            renderer,
            CachePolicy {
                render_timeout: config.render_timeout,
                revalidate_after: config.revalidate_after,
                render_slots: config.render_slots,
                max_queued_renders: config.max_queued_renders,
            },
            Arc::clone(&metrics),
        );
        let cache = match &config.redis {
            None => Arc::new(cache),
            Some(redis) => with_shared_tier(cache, redis, &config.build_id)?,
        };
        let (generated_cache_control, cdn_cache_control) =
            generated_cache_control(site.shared_max_age);
        let app = Arc::new(App {
            router,
            cache,
            static_content: StaticContent::new(config.static_cache_bytes),
            error_pages,
            header_rules,
            generated_cache_control,
            cdn_cache_control,
            admin_token: config.admin_token.clone().filter(|t| !t.is_empty()),
            build_id: config.build_id.to_string(),
            metrics,
            access_log: config.access_log.map(AccessLog::to_stdout),
        });
        let (shutdown, shutdown_rx) = watch::channel(false);
        let accept_loop = tokio::spawn(accept_loop(
            listener,
            Arc::clone(&app),
            shutdown_rx,
            config.shutdown_timeout,
        ));
        Ok(Server {
            local_addr,
            app,
            summary,
            shutdown,
            accept_loop: Mutex::new(Some(accept_loop)),
            shutdown_timeout: config.shutdown_timeout,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    pub fn summary(&self) -> &SiteSummary {
        &self.summary
    }

    pub fn stats(&self) -> StatsSnapshot {
        let cache = &self.app.cache;
        StatsSnapshot {
            memory_entries: cache.memory.len() as u64,
            memory_bytes: cache.memory.bytes() as u64,
            renders_in_flight: cache.fills_in_flight() as u64,
            renders_queued: cache.renders_queued() as u64,
            ..self.app.metrics.snapshot()
        }
    }

    /// Prometheus text, as `/__dsg/metrics` serves it.
    pub fn metrics_text(&self) -> String {
        let memory = &self.app.cache.memory;
        self.app.metrics.encode(memory.len(), memory.bytes())
    }

    /// Purges the deferred pages matching a path (`/blog/a/`), a glob (`/blog/**`), or all.
    /// Returns how many artifacts were removed.
    pub async fn purge(&self, request: PurgeRequest<'_>) -> Result<usize, String> {
        purge(
            &self.app,
            admin::purge_target(request, &self.app.router.pages)?,
        )
        .await
    }

    /// The deferred pages whose path matches `glob` (all with `None`), as the build lists them.
    pub fn deferred_pages(&self, glob: Option<&str>) -> Result<Vec<String>, String> {
        let pages = &self.app.router.pages;
        let matching = match glob {
            Some(glob) => pages.matching(glob)?,
            None => pages.iter().collect(),
        };
        let mut paths: Vec<String> = matching.iter().map(|p| p.path.to_string()).collect();
        paths.sort();
        Ok(paths)
    }

    /// Renders one deferred page ahead of traffic, yielding to live requests.
    pub async fn warm(&self, page_path: &str) -> Result<Warmed, String> {
        let path = normalize(page_path).map_err(|e| e.to_string())?;
        let page = self
            .app
            .router
            .pages
            .find_exact(&path)
            .cloned()
            .ok_or_else(|| format!("{page_path} is not a deferred page"))?;
        match self.app.cache.warm(&page).await {
            Ok(true) => Ok(Warmed::Rendered),
            Ok(false) => Ok(Warmed::AlreadyStored),
            Err(e) => Err(e.to_string()),
        }
    }

    /// Stops accepting, lets in-flight requests and renders finish (up to the shutdown timeout),
    /// then returns. Calling it again is a no-op.
    pub async fn close(&self) {
        let _ = self.shutdown.send(true);
        let accept_loop = self.accept_loop.lock().take();
        if let Some(handle) = accept_loop {
            let _ = handle.await;
            let _ = tokio::time::timeout(self.shutdown_timeout, self.app.cache.drain()).await;
        }
    }
}

/// Connects the page cache to Redis; purges published by any instance reach this one's cache.
fn with_shared_tier(
    cache: PageCache,
    redis: &RedisConfig,
    build_id: &crate::build_id::BuildId,
) -> Result<Arc<PageCache>, StartError> {
    let slot: Arc<OnceLock<Weak<PageCache>>> = Arc::new(OnceLock::new());
    let on_purge: OnPurge = {
        let slot = Arc::clone(&slot);
        Arc::new(move |message| {
            let Some(cache) = slot.get().and_then(Weak::upgrade) else {
                return;
            };
            tokio::spawn(async move {
                match message {
                    PurgeMessage::All => {
                        let _ = cache.purge_all().await;
                    }
                    PurgeMessage::Pages(pages) => {
                        cache.purge(pages.into_iter().map(Arc::from)).await;
                    }
                }
            });
        })
    };
    let shared = SharedCache::start(
        &redis.url,
        &redis.namespace,
        build_id,
        redis.lock_ttl,
        on_purge,
    )
    .map_err(StartError::SiteOption)?;
    let cache = Arc::new(cache.with_shared(shared));
    let _ = slot.set(Arc::downgrade(&cache));
    Ok(cache)
}

/// Opens the build's directory, counts what it holds, and removes other builds' directories no
/// server uses any more (in the background).
async fn open_disk(
    dir: &std::path::Path,
    config: &ServerConfig,
    metrics: &Arc<Metrics>,
) -> Result<Arc<DiskCache>, StartError> {
    let error = |source| StartError::CacheDir {
        dir: dir.display().to_string(),
        source,
    };
    let (root, build_id) = (dir.to_path_buf(), config.build_id.clone());
    let disk = tokio::task::spawn_blocking(move || DiskCache::open(&root, &build_id))
        .await
        .map_err(|e| error(io::Error::other(e)))?
        .map_err(error)?;
    let disk = Arc::new(disk);
    let usage = disk.usage_at_open();
    metrics.disk_entries.store(usage.entries as i64, Relaxed);
    metrics.disk_bytes.store(usage.bytes as i64, Relaxed);
    metrics
        .disk_html_pages
        .store(usage.html_pages as i64, Relaxed);
    let cleaner = Arc::clone(&disk);
    tokio::task::spawn_blocking(move || {
        let removed = cleaner.remove_other_builds();
        if removed > 0 {
            eprintln!("gatsby-dsg: removed the cached pages of {removed} older build(s)");
        }
    });
    Ok(disk)
}

async fn accept_loop(
    listener: TcpListener,
    app: Arc<App>,
    mut shutdown: watch::Receiver<bool>,
    shutdown_timeout: Duration,
) {
    let graceful = GracefulShutdown::new();
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        // A client that shuts down its sending side after the request still gets the answer.
        .half_close(true);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, remote) = match accepted {
                    Ok(conn) => conn,
                    Err(e) => {
                        // Out of file descriptors and the like: back off instead of spinning.
                        eprintln!("gatsby-dsg: accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let app = Arc::clone(&app);
                let service = service_fn(move |req| {
                    let app = Arc::clone(&app);
                    async move { Ok::<_, Infallible>(serve(&app, req, remote).await) }
                });
                let conn = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
                tokio::spawn(async move {
                    let _ = conn.await;
                });
            }
            _ = shutdown_requested(&mut shutdown) => break,
        }
    }
    drop(listener);
    let _ = tokio::time::timeout(shutdown_timeout, graceful.shutdown()).await;
}

/// Resolves when `close()` asks to stop. A handle dropped without `close()` (e.g. a JS server
/// object that was garbage-collected) leaves the server running, as Node's own servers do.
async fn shutdown_requested(shutdown: &mut watch::Receiver<bool>) {
    loop {
        if *shutdown.borrow_and_update() {
            return;
        }
        if shutdown.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// One request: answer it, then count it and log it.
async fn serve(app: &Arc<App>, req: Request<Incoming>, remote: SocketAddr) -> Response<Body> {
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
    let (res, route, cache) = handle(app, req).await;
    let status = res.status().as_u16();
    app.metrics.record_request(RequestLabels {
        route,
        status,
        cache,
    });
    if let (Some(log), Some((method, path))) = (&app.access_log, log_line) {
        let bytes = res
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
            cache: access_log::cache_name(cache),
            bytes,
            duration: started.elapsed(),
        });
    }
    res
}

async fn handle(app: &Arc<App>, req: Request<Incoming>) -> (Response<Body>, RouteKind, CacheLabel) {
    let no_cache = CacheLabel::none;
    if admin::is_admin_path(req.uri().path()) {
        return (handle_admin(app, &req).await, RouteKind::admin, no_cache);
    }
    let mode = match *req.method() {
        Method::GET => BodyMode::Full,
        Method::HEAD => BodyMode::HeadersOnly,
        Method::OPTIONS => return (respond::options(), RouteKind::method_not_allowed, no_cache),
        _ => {
            return (
                respond::method_not_allowed(),
                RouteKind::method_not_allowed,
                no_cache,
            )
        }
    };
    let uri = req.uri();
    let routed = app.router.route(uri.path(), uri.query());
    let (mut res, route, cache) = match routed.route {
        Route::Deferred { page, kind } => {
            let (res, cache) = deferred(app, req.headers(), &page, kind, mode).await;
            let route = match kind {
                ArtifactKind::Html => RouteKind::deferred_html,
                ArtifactKind::PageData => RouteKind::deferred_page_data,
            };
            (res, route, cache)
        }
        Route::Static(file) => {
            let res = match app.static_content.get(&file).await {
                Ok(content) => respond::entity(
                    req.headers(),
                    Entity {
                        content: &content,
                        content_type: file.content_type.clone(),
                        cache_control: file.cache_control.clone(),
                        modified: file.modified.zip(file.last_modified.as_ref()),
                        negotiable: file.compressible,
                        ranges: true,
                    },
                    mode,
                ),
                Err(e) => {
                    eprintln!("gatsby-dsg: cannot read {}: {e}", file.fs_path.display());
                    respond::server_error(&app.error_pages, mode)
                }
            };
            (res, RouteKind::static_file, no_cache)
        }
        Route::Redirect { status, location } => (
            respond::redirect(status, &location),
            RouteKind::redirect,
            no_cache,
        ),
        Route::NotFound => (
            respond::not_found(&app.error_pages, mode),
            RouteKind::not_found,
            no_cache,
        ),
        Route::BadRequest(reason) => (
            respond::bad_request(&reason.to_string()),
            RouteKind::bad_request,
            no_cache,
        ),
    };
    if let Some(path) = routed.path.filter(|_| !app.header_rules.is_empty()) {
        let headers = res.headers_mut();
        for (name, value) in app.header_rules.for_path(&path) {
            headers.insert(name.clone(), value.clone());
        }
    }
    (res, route, cache)
}

async fn deferred(
    app: &Arc<App>,
    request: &HeaderMap,
    page: &Arc<DeferredPage>,
    kind: ArtifactKind,
    mode: BodyMode,
) -> (Response<Body>, CacheLabel) {
    let (content, outcome) = match app.cache.get(page, kind).await {
        Ok(found) => found,
        Err(RenderError::Overloaded) => {
            let mut res = respond::plain(
                StatusCode::SERVICE_UNAVAILABLE,
                "Too many pages are being generated; retry shortly",
                mode,
            );
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            res.headers_mut()
                .insert(X_DSG_CACHE, CacheOutcome::Miss.header_value());
            return (res, CacheLabel::miss);
        }
        Err(_) => {
            // Already logged once by the render's leader.
            let mut res = respond::server_error(&app.error_pages, mode);
            res.headers_mut()
                .insert(X_DSG_CACHE, CacheOutcome::Miss.header_value());
            return (res, CacheLabel::miss);
        }
    };
    let mut res = respond::entity(
        request,
        Entity {
            content: &content,
            content_type: HeaderValue::from_static(kind.content_type()),
            cache_control: app.generated_cache_control.clone(),
            modified: None,
            negotiable: true,
            ranges: false,
        },
        mode,
    );
    let headers = res.headers_mut();
    headers.insert(X_DSG_CACHE, outcome.header_value());
    if let Some(value) = &app.cdn_cache_control {
        headers.insert(CDN_CACHE_CONTROL, value.clone());
    }
    let label = match outcome {
        CacheOutcome::Hit => CacheLabel::hit,
        CacheOutcome::Miss => CacheLabel::miss,
        CacheOutcome::Stale => CacheLabel::stale,
    };
    (res, label)
}

async fn handle_admin(app: &Arc<App>, req: &Request<Incoming>) -> Response<Body> {
    let Some(token) = &app.admin_token else {
        return respond::not_found(&app.error_pages, BodyMode::Full);
    };
    if !admin::authorized(req.headers(), token) {
        return admin::unauthorized();
    }
    match admin::endpoint(req.method(), req.uri().path()) {
        Endpoint::Health => admin::json(
            StatusCode::OK,
            serde_json::json!({
                "status": "ok",
                "buildId": app.build_id,
                "deferredPages": app.router.pages.len(),
                "rendersInFlight": app.cache.fills_in_flight(),
                "rendersQueued": app.cache.renders_queued(),
            }),
        ),
        Endpoint::Metrics => {
            let memory = &app.cache.memory;
            admin::metrics(app.metrics.encode(memory.len(), memory.bytes()))
        }
        Endpoint::Purge => {
            let purged = match admin::purge_target_of_query(req.uri().query(), &app.router.pages) {
                Ok(target) => purge(app, target).await,
                Err(message) => Err(message),
            };
            match purged {
                Ok(purged) => admin::json(StatusCode::OK, serde_json::json!({ "purged": purged })),
                Err(message) => admin::json(
                    StatusCode::BAD_REQUEST,
                    serde_json::json!({ "error": message }),
                ),
            }
        }
        Endpoint::MethodNotAllowed => respond::method_not_allowed(),
        Endpoint::NotFound => admin::json(
            StatusCode::NOT_FOUND,
            serde_json::json!({ "error": "no such admin endpoint: health, metrics, purge" }),
        ),
    }
}

async fn purge(app: &App, target: PurgeTarget) -> Result<usize, String> {
    match target {
        PurgeTarget::All => app
            .cache
            .purge_all_everywhere()
            .await
            .map_err(|e| e.to_string()),
        PurgeTarget::Pages(pages) => Ok(app.cache.purge_everywhere(pages).await),
    }
}

/// Connections the kernel queues for `accept` (it caps this at `net.core.somaxconn`). The 128 of
/// `TcpListener::bind` overflowed under a burst of 200 new connections: the dropped SYNs were
/// retried by the clients a second later (the benchmark's stampede p99 went from ~50 ms to 1 s).
const LISTEN_BACKLOG: u32 = 4096;

/// Listens on the first address `addr` (`host:port`) resolves to that can be bound.
async fn listen(addr: &str) -> io::Result<TcpListener> {
    let mut last_error = None;
    for resolved in tokio::net::lookup_host(addr).await? {
        let socket = if resolved.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        // As std and tokio do: a restarted server can bind while old connections linger.
        socket.set_reuseaddr(true)?;
        match socket
            .bind(resolved)
            .and_then(|()| socket.listen(LISTEN_BACKLOG))
        {
            Ok(listener) => return Ok(listener),
            Err(error) => last_error = Some(error),
        }
    }
    Err(last_error.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "the address resolved to nothing",
        )
    }))
}
