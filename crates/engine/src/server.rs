//! The HTTP server: accept loop, one handler per request, graceful close.

use std::convert::Infallible;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::header::{HeaderMap, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use parking_lot::Mutex;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::artifact::ArtifactKind;
use crate::cache::disk::DiskCache;
use crate::cache::memory::MemoryCache;
use crate::cache::{CacheOutcome, PageCache};
use crate::config::ServerConfig;
use crate::pages::{DeferredPage, DeferredPages};
use crate::render::Renderer;
use crate::respond::error_pages::ErrorPages;
use crate::respond::headers::{generated_cache_control, CDN_CACHE_CONTROL, X_DSG_CACHE};
use crate::respond::{self, Body, BodyMode, Entity};
use crate::route::{Route, Router};
use crate::site::HeaderRules;
use crate::static_files::{StaticContent, StaticFiles};
use crate::stats::{Stats, StatsSnapshot};

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
    stats: Arc<Stats>,
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

        let disk = match &config.cache_dir {
            None => None,
            Some(dir) => Some(DiskCache::open(dir, &config.build_id).map_err(|source| {
                StartError::CacheDir {
                    dir: dir.display().to_string(),
                    source,
                }
            })?),
        };
        let header_rules = HeaderRules::new(&config.site.headers)
            .map_err(|e| StartError::SiteOption(e.to_string()))?;
        let pages = DeferredPages::new(config.deferred_pages.iter().cloned());
        let summary = SiteSummary {
            static_files: static_files.len(),
            static_pages: static_files.html_page_count(),
            deferred_pages: pages.len(),
            generated_pages: disk.as_ref().map_or(0, DiskCache::html_count),
            cache_dir: disk.as_ref().map(|d| d.dir().display().to_string()),
            path_prefix: None,
        };

        let addr = format!("{}:{}", config.host, config.port);
        let listener = TcpListener::bind(&addr)
            .await
            .map_err(|source| StartError::Bind {
                addr: addr.clone(),
                source,
            })?;
        let local_addr = listener
            .local_addr()
            .map_err(|source| StartError::Bind { addr, source })?;

        let stats = Arc::new(Stats::default());
        let cache = Arc::new(PageCache::new(
            MemoryCache::new(config.memory_cache_bytes),
            disk,
            renderer,
            config.render_timeout,
            Arc::clone(&stats),
        ));
        let site = &config.site;
        let router = Router::new(static_files, pages).with_path_prefix(site.path_prefix.as_deref());
        let summary = SiteSummary {
            path_prefix: router.path_prefix().map(str::to_string),
            ..summary
        };
        let router = router
            .with_trailing_slash(site.trailing_slash)
            .with_redirects(&site.redirects)
            .with_client_routes(&site.client_routes);
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
            stats,
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
        let mut snapshot = self.app.stats.snapshot();
        snapshot.memory_entries = self.app.cache.memory.len() as u64;
        snapshot.memory_bytes = self.app.cache.memory.bytes() as u64;
        snapshot.renders_in_flight = self.app.cache.fills_in_flight() as u64;
        snapshot
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

async fn accept_loop(
    listener: TcpListener,
    app: Arc<App>,
    mut shutdown: watch::Receiver<bool>,
    shutdown_timeout: Duration,
) {
    let graceful = GracefulShutdown::new();
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, _) = match accepted {
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
                    async move { Ok::<_, Infallible>(handle(&app, req).await) }
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

async fn handle(app: &Arc<App>, req: Request<Incoming>) -> Response<Body> {
    Stats::incr(&app.stats.requests);
    let mode = match *req.method() {
        Method::GET => BodyMode::Full,
        Method::HEAD => BodyMode::HeadersOnly,
        Method::OPTIONS => return respond::options(),
        _ => return respond::method_not_allowed(),
    };
    let uri = req.uri();
    let routed = app.router.route(uri.path(), uri.query());
    let mut res = match routed.route {
        Route::Deferred { page, kind } => deferred(app, req.headers(), &page, kind, mode).await,
        Route::Static(file) => match app.static_content.get(&file).await {
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
        },
        Route::Redirect { status, location } => respond::redirect(status, &location),
        Route::NotFound => respond::not_found(&app.error_pages, mode),
        Route::BadRequest(reason) => respond::bad_request(&reason.to_string()),
    };
    if let Some(path) = routed.path.filter(|_| !app.header_rules.is_empty()) {
        let headers = res.headers_mut();
        for (name, value) in app.header_rules.for_path(&path) {
            headers.insert(name.clone(), value.clone());
        }
    }
    res
}

async fn deferred(
    app: &Arc<App>,
    request: &HeaderMap,
    page: &Arc<DeferredPage>,
    kind: ArtifactKind,
    mode: BodyMode,
) -> Response<Body> {
    let (content, outcome) = match app.cache.get(page, kind).await {
        Ok(found) => found,
        Err(_) => {
            // Already logged once by the render's leader.
            let mut res = respond::server_error(&app.error_pages, mode);
            res.headers_mut()
                .insert(X_DSG_CACHE, CacheOutcome::Miss.header_value());
            return res;
        }
    };
    let counter = match outcome {
        CacheOutcome::Hit => &app.stats.hits,
        CacheOutcome::Miss => &app.stats.misses,
    };
    counter.fetch_add(1, Relaxed);
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
    res
}
