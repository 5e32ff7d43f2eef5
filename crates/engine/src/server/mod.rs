//! The server, assembled: [`Server::start`] scans `public/`, opens the caches, builds the router
//! and the header stage, binds the socket and starts the accept loop; the rest of [`Server`] is
//! the public API (`stats`, `purge`, `warm`, `close`, ...).
//!
//! - [`listener`]: sockets, the accept loop, serving connections;
//! - [`handler`]: one request, from pre-processing through routing and dispatch to the header
//!   stage and the access log.

mod handler;
mod listener;

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::access_log::AccessLog;
use crate::admin::{self, PurgeRequest, PurgeTarget};
use crate::cache::disk::DiskCache;
use crate::cache::gate::RenderGate;
use crate::cache::memory::MemoryCache;
use crate::cache::shared::{OnPurge, PurgeMessage, SharedCache};
use crate::cache::{CachePolicy, PageCache};
use crate::config::{RedisConfig, ServerConfig};
use crate::error::{FunctionsError, PurgeError, StartError, WarmError};
use crate::functions::{FunctionSpec, FunctionsProxy};
use crate::manifest::ManifestPages;
use crate::metrics::{Gauges, Metrics, StatsSnapshot};
use crate::pages::DeferredPages;
use crate::path::normalize;
use crate::policy::PolicyError;
use crate::render::Renderer;
use crate::respond::error_pages::ErrorPages;
use crate::respond::headers::HeaderStage;
use crate::route::Router;
use crate::runtime_files::SettleWatch;
use crate::site::HeaderRules;
use crate::ssr::cache::SsrCache;
use crate::ssr::Ssr;
use crate::static_files::{StaticContent, StaticFiles};

/// What every request's handling shares.
pub(crate) struct App {
    pub(crate) router: Router,
    pub(crate) cache: Arc<PageCache>,
    pub(crate) static_content: StaticContent,
    pub(crate) error_pages: ErrorPages,
    /// Sets every policy header of every response.
    pub(crate) headers: HeaderStage,
    pub(crate) admin_token: Option<String>,
    pub(crate) build_id: String,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) access_log: Option<AccessLog>,
    /// Gatsby Functions, when the site has any.
    pub(crate) functions: Option<FunctionsProxy>,
    /// Partytown's proxy, when gatsby-config lists `partytownProxiedURLs`.
    pub(crate) partytown: Option<crate::partytown::PartytownProxy>,
    /// SSR pages: renderer, render queue and shared cache.
    pub(crate) ssr: Ssr,
    /// The request header a CDN sets to the visitor's country (redirect conditions).
    pub(crate) country_header: Option<hyper::header::HeaderName>,
}

impl App {
    /// Prometheus text, as `/__dsg/metrics` serves it.
    pub(crate) fn metrics_text(&self) -> String {
        let memory = &self.cache.memory;
        self.metrics.encode(&Gauges {
            memory_entries: memory.len(),
            memory_bytes: memory.bytes(),
            renders_in_flight: self.cache.renders_in_flight(),
        })
    }

    /// Removes the named artifacts here and, with a shared tier, in every instance.
    pub(crate) async fn purge(&self, target: PurgeTarget) -> Result<usize, PurgeError> {
        match target {
            PurgeTarget::All => Ok(self.cache.purge_all_everywhere().await?),
            PurgeTarget::Pages(pages) => Ok(self.cache.purge_everywhere(pages).await),
        }
    }
}

/// Facts about the site the server found at start-up (for the CLI's start-up line).
#[derive(Clone, Debug)]
pub struct SiteSummary {
    pub static_files: usize,
    pub static_pages: usize,
    pub deferred_pages: usize,
    pub ssr_pages: usize,
    /// What the deferred and SSR page tables hold on the heap, in bytes.
    pub page_table_bytes: usize,
    /// Deferred pages whose HTML is already stored on disk for this build; `None` while the
    /// disk sweep is still counting them (a big store: see [`ServerConfig::disk_count_wait`]).
    pub generated_pages: Option<usize>,
    pub cache_dir: Option<String>,
    /// The path prefix the site is served under, if any (`/docs`).
    pub path_prefix: Option<String>,
    /// Gatsby Functions served under `/api/`; 0 until the functions process reported them.
    pub functions: usize,
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
    /// Set once the disk sweep has counted what is stored (always set without a disk cache).
    disk_counted: watch::Receiver<bool>,
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
        let scan = tokio::task::spawn_blocking(move || {
            let files = StaticFiles::scan(&public_dir)?;
            Ok::<_, io::Error>((files, ErrorPages::load(&public_dir)))
        });
        // The page tables are read while public/ is scanned (both block; neither needs the other).
        let manifest = config.manifest.clone();
        let read_pages = tokio::task::spawn_blocking(move || match &manifest {
            None => Ok(None),
            Some(source) => crate::manifest::read(source).map(Some),
        });
        let scanned = scan.await.map_err(io::Error::other).and_then(|r| r);
        let read_pages = read_pages.await.map_err(|e| {
            StartError::SiteOption(format!("reading the page manifest failed: {e}"))
        })?;
        let (static_files, error_pages) = scanned.map_err(|source| StartError::PublicDir {
            dir: config.public_dir.display().to_string(),
            source,
        })?;
        let header_rules = HeaderRules::new(&config.site.headers)
            .map_err(|e| StartError::SiteOption(e.to_string()))?;

        let metrics = Arc::new(Metrics::default());
        let (disk, disk_counted) = match &config.cache_dir {
            None => (None, watch::channel(true).1),
            Some(dir) => {
                let (disk, counted) = open_disk(dir, &config, &metrics).await?;
                (Some(disk), counted)
            }
        };
        let ManifestPages {
            deferred: pages,
            ssr: ssr_pages,
        } = match read_pages? {
            Some(read) => read,
            None => ManifestPages {
                deferred: DeferredPages::new(config.deferred_pages.iter().cloned()),
                ssr: DeferredPages::new(config.ssr_pages.iter().cloned()),
            },
        };
        let site = &config.site;
        // Renders settling tell the table of files found after start-up that new ones may exist.
        let renderer: Arc<dyn Renderer> = Arc::new(SettleWatch {
            inner: renderer,
            files: Arc::clone(static_files.runtime()),
        });
        let router = Router::new(static_files, pages)
            .with_ssr_pages(ssr_pages)
            .with_path_prefix(site.path_prefix.as_deref())
            .with_trailing_slash(site.trailing_slash)
            .with_redirects(&site.redirects)
            .with_client_routes(&site.client_routes);
        let summary = SiteSummary {
            static_files: router.static_files.len(),
            static_pages: router.static_files.html_page_count(),
            deferred_pages: router.pages.len(),
            ssr_pages: router.ssr_pages.len(),
            page_table_bytes: router.pages.heap_bytes() + router.ssr_pages.heap_bytes(),
            generated_pages: None, // read live: see Server::summary
            cache_dir: disk.as_ref().map(|d| d.dir().display().to_string()),
            path_prefix: router.path_prefix().map(str::to_string),
            functions: 0, // read live: see Server::summary
        };

        let addr = format!("{}:{}", config.host, config.port);
        let listener = listener::listen(&addr)
            .await
            .map_err(|source| StartError::Bind {
                addr: addr.clone(),
                source,
            })?;
        let local_addr = listener
            .local_addr()
            .map_err(|source| StartError::Bind { addr, source })?;

        let ssr = Ssr {
            cache: SsrCache::new(config.ssr_cache_bytes),
            renderer: Arc::clone(&renderer),
            gate: Arc::new(RenderGate::new(
                config.render_slots,
                config.max_queued_renders,
            )),
            render_timeout: config.render_timeout,
            renders: Default::default(),
        };
        let country_header = match &config.country_header {
            None => None,
            Some(name) => Some(
                hyper::header::HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                    StartError::SiteOption(format!(
                        "--country-header {name:?} is not a header name"
                    ))
                })?,
            ),
        };
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
        let app = Arc::new(App {
            router,
            cache,
            static_content: StaticContent::new(config.static_cache_bytes),
            error_pages,
            headers: HeaderStage::new(site.shared_max_age, header_rules),
            admin_token: config.admin_token.clone().filter(|t| !t.is_empty()),
            build_id: config.build_id.to_string(),
            metrics,
            access_log: config.access_log.map(AccessLog::to_stdout),
            functions: config.functions.as_ref().map(FunctionsProxy::new),
            partytown: config
                .partytown
                .clone()
                .filter(|p| !p.urls.is_empty())
                .map(crate::partytown::PartytownProxy::new),
            ssr,
            country_header,
        });
        let (shutdown, shutdown_rx) = watch::channel(false);
        let accept_loop = tokio::spawn(listener::accept_loop(
            listener,
            Arc::clone(&app),
            shutdown_rx,
            config.shutdown_timeout,
            config.max_request_head_bytes,
        ));
        // Serving already; give the sweep a moment so that the start-up line can count what is
        // stored (any store it sweeps within the wait).
        let mut counted = disk_counted.clone();
        let _ = tokio::time::timeout(config.disk_count_wait, counted.wait_for(|done| *done)).await;
        Ok(Server {
            local_addr,
            app,
            summary,
            disk_counted,
            shutdown,
            accept_loop: Mutex::new(Some(accept_loop)),
            shutdown_timeout: config.shutdown_timeout,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// What the server found at start-up, with the stored pages as counted so far.
    pub fn summary(&self) -> SiteSummary {
        let counted = *self.disk_counted.borrow();
        SiteSummary {
            generated_pages: counted
                .then(|| self.app.metrics.disk_html_pages.load(Relaxed).max(0) as usize),
            functions: self
                .app
                .functions
                .as_ref()
                .and_then(FunctionsProxy::function_count)
                .unwrap_or(0),
            ..self.summary.clone()
        }
    }

    /// Sets the routes of the site's functions, as the functions process reported them (it
    /// loads every function first, so they may come after the server listens); requests under
    /// `/api/` waiting for them go on. Replaces routes set before.
    pub fn set_function_routes(&self, functions: &[FunctionSpec]) -> Result<(), FunctionsError> {
        let proxy = self
            .app
            .functions
            .as_ref()
            .ok_or(FunctionsError::NotConfigured)?;
        proxy.set_routes(functions);
        Ok(())
    }

    pub fn stats(&self) -> StatsSnapshot {
        let cache = &self.app.cache;
        StatsSnapshot {
            memory_entries: cache.memory.len() as u64,
            memory_bytes: cache.memory.bytes() as u64,
            renders_in_flight: cache.renders_in_flight() as u64,
            renders_queued: cache.renders_queued() as u64,
            ssr_renders: self.app.ssr.renders.load(Relaxed),
            ssr_cache_entries: self.app.ssr.cache.len() as u64,
            ssr_cache_bytes: self.app.ssr.cache.bytes() as u64,
            runtime_files: self.app.router.static_files.runtime().found_count() as u64,
            runtime_file_lookups: self.app.router.static_files.runtime().disk_lookups(),
            ..self.app.metrics.snapshot()
        }
    }

    /// Prometheus text, as `/__dsg/metrics` serves it.
    pub fn metrics_text(&self) -> String {
        self.app.metrics_text()
    }

    /// Purges the deferred pages matching a path (`/blog/a/`), a glob (`/blog/**`), or all.
    /// Returns how many artifacts were removed.
    pub async fn purge(&self, request: PurgeRequest<'_>) -> Result<usize, PurgeError> {
        self.app
            .purge(admin::purge_target(request, &self.app.router.pages)?)
            .await
    }

    /// The deferred pages whose path matches `glob` (all with `None`), as the build lists them.
    pub fn deferred_pages(&self, glob: Option<&str>) -> Result<Vec<String>, PolicyError> {
        let pages = &self.app.router.pages;
        let mut paths: Vec<String> = match glob {
            Some(glob) => pages
                .matching(glob)?
                .iter()
                .map(|p| p.path.to_string())
                .collect(),
            None => pages.paths().map(|p| p.into_owned()).collect(),
        };
        paths.sort();
        Ok(paths)
    }

    /// Renders one deferred page ahead of traffic, yielding to live requests.
    pub async fn warm(&self, page_path: &str) -> Result<Warmed, WarmError> {
        let path = normalize(page_path)?;
        let page = self
            .app
            .router
            .pages
            .find_exact(&path)
            .ok_or_else(|| WarmError::NotDeferred(page_path.to_string()))?;
        Ok(match self.app.cache.warm(&page).await? {
            true => Warmed::Rendered,
            false => Warmed::AlreadyStored,
        })
    }

    /// Stops accepting, lets in-flight requests and renders finish (up to the shutdown timeout),
    /// then returns. Calling it again is a no-op.
    pub async fn close(&self) {
        // Requests still waiting for the function routes are answered (503) rather than held.
        if let Some(functions) = &self.app.functions {
            functions.close();
        }
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
    let shared = SharedCache::start(redis, build_id, on_purge).map_err(StartError::SiteOption)?;
    let cache = Arc::new(cache.with_shared(shared));
    let _ = slot.set(Arc::downgrade(&cache));
    Ok(cache)
}

/// Opens the build's directory (reading nothing of what it holds), then, in the background,
/// sweeps it (cleans what a killed process left and counts what is stored: DiskCache::sweep) and
/// removes other builds' directories no server uses any more. The receiver turns true once the
/// sweep has counted.
async fn open_disk(
    dir: &std::path::Path,
    config: &ServerConfig,
    metrics: &Arc<Metrics>,
) -> Result<(Arc<DiskCache>, watch::Receiver<bool>), StartError> {
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
    let (counted, counted_rx) = watch::channel(false);
    let (sweeper, metrics, hook) = (
        Arc::clone(&disk),
        Arc::clone(metrics),
        config.before_disk_sweep.clone(),
    );
    tokio::task::spawn_blocking(move || {
        if let Some(hook) = hook {
            (hook.0)();
        }
        let started = std::time::Instant::now();
        let usage = sweeper.sweep();
        // Writes made while it ran were counted by their own deltas.
        metrics
            .disk_entries
            .fetch_add(usage.entries as i64, Relaxed);
        metrics.disk_bytes.fetch_add(usage.bytes as i64, Relaxed);
        metrics
            .disk_html_pages
            .store(usage.html_pages as i64, Relaxed);
        let _ = counted.send(true);
        let took = started.elapsed();
        if took >= Duration::from_secs(1) {
            eprintln!(
                "gatsby-dsg: counted {} stored pages ({} artifacts) in {:.1} s",
                usage.html_pages,
                usage.entries,
                took.as_secs_f64()
            );
        }
        let removed = sweeper.remove_other_builds();
        if removed > 0 {
            eprintln!("gatsby-dsg: removed the cached pages of {removed} older build(s)");
        }
    });
    Ok((disk, counted_rx))
}
