//! What the server is started with.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::access_log::LogFormat;
use crate::build_id::BuildId;
use crate::functions::FunctionsConfig;
use crate::pages::DeferredPageSpec;
use crate::partytown::PartytownConfig;
use crate::site::SiteOptions;

/// The shared tier: Redis URL, key namespace (instances of one site share it), render-lock TTL,
/// artifact expiry, TLS files.
#[derive(Clone, Debug)]
pub struct RedisConfig {
    /// `redis://`, `rediss://` (TLS), `redis+cluster://host:port,host:port` or
    /// `rediss+cluster://…` (a Redis Cluster given seed nodes).
    pub url: String,
    pub namespace: String,
    pub lock_ttl: Duration,
    /// Artifacts expire in Redis this long after they are stored; `None` keeps them until they
    /// are purged (or evicted by Redis's `maxmemory-policy`).
    pub artifact_ttl: Option<Duration>,
    pub tls: RedisTls,
}

/// TLS material for a `rediss://` URL, read at start-up.
#[derive(Clone, Debug, Default)]
pub struct RedisTls {
    /// PEM CA certificates that alone are trusted for the server's certificate (system roots
    /// otherwise).
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate chain and its key, for servers that require client certificates.
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
}

impl RedisConfig {
    pub const DEFAULT_NAMESPACE: &'static str = "gatsby-dsg";
    pub const DEFAULT_LOCK_TTL: Duration = Duration::from_secs(10);

    /// `url` with the default namespace and lock TTL, no expiry, no TLS files.
    pub fn new(url: impl Into<String>) -> Self {
        RedisConfig {
            url: url.into(),
            namespace: Self::DEFAULT_NAMESPACE.into(),
            lock_ttl: Self::DEFAULT_LOCK_TTL,
            artifact_ttl: None,
            tls: RedisTls::default(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct ServerConfig {
    pub host: String,
    /// 0 picks a free port (see `Server::local_addr`).
    pub port: u16,
    /// The site's `public/`.
    pub public_dir: PathBuf,
    /// Root of the artifact store on disk; artifacts go under `<cache_dir>/<build_id>/`.
    /// `None` keeps artifacts in memory only.
    pub cache_dir: Option<PathBuf>,
    pub build_id: BuildId,
    /// Upper bound of the memory cache of generated pages, in bytes (every encoding counted).
    pub memory_cache_bytes: usize,
    /// Upper bound of the memory cache of files of `public/`, in bytes.
    pub static_cache_bytes: usize,
    /// A render (page-data, then HTML) that takes longer fails with 500 and is not cached.
    pub render_timeout: Duration,
    /// Artifacts older than this are served `STALE` while one background render refreshes them.
    pub revalidate_after: Option<Duration>,
    /// Renders running at once.
    pub render_slots: usize,
    /// Renders waiting for a slot; past it, 503 with `Retry-After`.
    pub max_queued_renders: usize,
    /// Enables `/__dsg/` (health, metrics, purge) for requests bearing this token.
    pub admin_token: Option<String>,
    /// One line per request on stdout, when set.
    pub access_log: Option<LogFormat>,
    /// Share generated pages with other instances through Redis.
    pub redis: Option<RedisConfig>,
    /// How long `close()` waits for in-flight requests and renders.
    pub shutdown_timeout: Duration,
    pub deferred_pages: Vec<DeferredPageSpec>,
    /// The plugin's manifest, read at start for both page tables (then `deferred_pages` and
    /// `ssr_pages` must be empty): how a built site is served, with no page list in JavaScript.
    pub manifest: Option<crate::manifest::ManifestSource>,
    /// SSR pages (`getServerData`): rendered for each request.
    pub ssr_pages: Vec<DeferredPageSpec>,
    /// Bound of the SSR shared cache, in bytes (every encoding counted).
    pub ssr_cache_bytes: usize,
    /// The request header carrying the visitor's country, set by a CDN (`CF-IPCountry`,
    /// `CloudFront-Viewer-Country`), for `createRedirect` `country` conditions.
    pub country_header: Option<String>,
    /// Request heads above this many bytes are refused with 431 (hyper's read buffer bound).
    pub max_request_head_bytes: usize,
    pub site: SiteOptions,
    /// Gatsby Functions, forwarded to the functions process; `None`: the site has none.
    pub functions: Option<FunctionsConfig>,
    /// Partytown's `/__third-party-proxy` for gatsby-config `partytownProxiedURLs`; `None`: the
    /// site lists none (the path is then an ordinary 404).
    pub partytown: Option<PartytownConfig>,
    /// How long `Server::start` waits for the disk sweep to count what is stored (the summary's
    /// `generated_pages`); the server is already answering meanwhile, and a bigger store is
    /// counted in the background.
    pub disk_count_wait: Duration,
    /// Called on the disk sweep's thread before it walks the store. Tests hold the sweep with it
    /// to prove that serving never waits for it; `None` otherwise.
    pub before_disk_sweep: Option<SweepHook>,
}

/// See [`ServerConfig::before_disk_sweep`].
#[derive(Clone)]
pub struct SweepHook(pub Arc<dyn Fn() + Send + Sync>);

impl fmt::Debug for SweepHook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SweepHook")
    }
}

/// The defaults of every option: the one source (the binding hands them to JS as `defaults()`,
/// which the CLI's help and `serve()` use).
impl ServerConfig {
    pub const DEFAULT_HOST: &'static str = "localhost";
    pub const DEFAULT_PORT: u16 = 9000;
    pub const DEFAULT_MEMORY_CACHE_BYTES: usize = 256 * 1024 * 1024;
    pub const DEFAULT_STATIC_CACHE_BYTES: usize = 64 * 1024 * 1024;
    pub const DEFAULT_RENDER_TIMEOUT: Duration = Duration::from_secs(30);
    pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);
    pub const DEFAULT_RENDER_SLOTS: usize = 8;
    pub const DEFAULT_MAX_QUEUED_RENDERS: usize = 1024;
    pub const DEFAULT_SSR_CACHE_BYTES: usize = 64 * 1024 * 1024;
    /// Node's default `--max-http-header-size` (what `gatsby serve` enforces).
    pub const DEFAULT_MAX_REQUEST_HEAD_BYTES: usize = 16 * 1024;
    /// Measured: the sweep takes ~57 µs per stored page, so a store of up to ~17,000 pages is
    /// counted on the start-up line; static files are served during the wait.
    pub const DEFAULT_DISK_COUNT_WAIT: Duration = Duration::from_secs(1);

    pub fn new(public_dir: impl Into<PathBuf>, build_id: BuildId) -> Self {
        ServerConfig {
            host: Self::DEFAULT_HOST.into(),
            port: Self::DEFAULT_PORT,
            public_dir: public_dir.into(),
            cache_dir: None,
            build_id,
            memory_cache_bytes: Self::DEFAULT_MEMORY_CACHE_BYTES,
            static_cache_bytes: Self::DEFAULT_STATIC_CACHE_BYTES,
            render_timeout: Self::DEFAULT_RENDER_TIMEOUT,
            revalidate_after: None,
            render_slots: Self::DEFAULT_RENDER_SLOTS,
            max_queued_renders: Self::DEFAULT_MAX_QUEUED_RENDERS,
            admin_token: None,
            access_log: None,
            redis: None,
            shutdown_timeout: Self::DEFAULT_SHUTDOWN_TIMEOUT,
            deferred_pages: Vec::new(),
            manifest: None,
            ssr_pages: Vec::new(),
            ssr_cache_bytes: Self::DEFAULT_SSR_CACHE_BYTES,
            country_header: None,
            max_request_head_bytes: Self::DEFAULT_MAX_REQUEST_HEAD_BYTES,
            site: SiteOptions::default(),
            functions: None,
            partytown: None,
            disk_count_wait: Self::DEFAULT_DISK_COUNT_WAIT,
            before_disk_sweep: None,
        }
    }
}
