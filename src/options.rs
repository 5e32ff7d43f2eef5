//! `ServerOptions`, as JS passes them to `startServer`, and their conversion into the engine's
//! `ServerConfig`: omitted options keep the engine's defaults; an option out of range or not one
//! of its words is refused with a message naming it.

use std::path::PathBuf;
use std::time::Duration;

use gatsby_dsg_engine as engine;
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::error::invalid_arg;

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
pub struct DeferredPageInput {
    pub path: String,
    pub match_path: Option<String>,
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

impl From<DeferredPageInput> for engine::DeferredPageSpec {
    fn from(p: DeferredPageInput) -> Self {
        engine::DeferredPageSpec {
            path: p.path,
            match_path: p.match_path,
        }
    }
}

impl From<HeaderRuleInput> for engine::HeaderRuleSpec {
    fn from(rule: HeaderRuleInput) -> Self {
        engine::HeaderRuleSpec {
            source: rule.source,
            headers: rule
                .headers
                .into_iter()
                .map(|h| engine::HeaderSpec {
                    key: h.key,
                    value: h.value,
                })
                .collect(),
        }
    }
}

impl From<RedirectInput> for engine::RedirectSpec {
    fn from(r: RedirectInput) -> Self {
        engine::RedirectSpec {
            from_path: r.from_path,
            to_path: r.to_path,
            is_permanent: r.is_permanent.unwrap_or(false),
            status_code: r.status_code.and_then(|c| u16::try_from(c).ok()),
            ignore_case: r.ignore_case.unwrap_or(false),
            force: r.force.unwrap_or(false),
        }
    }
}

impl From<ClientRouteInput> for engine::ClientRouteSpec {
    fn from(r: ClientRouteInput) -> Self {
        engine::ClientRouteSpec {
            path: r.path,
            match_path: r.match_path,
        }
    }
}

impl TryFrom<ServerOptions> for engine::ServerConfig {
    type Error = napi::Error;

    fn try_from(options: ServerOptions) -> Result<Self> {
        server_config(options)
    }
}

fn server_config(options: ServerOptions) -> Result<engine::ServerConfig> {
    let invalid = invalid_arg;
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
        .map(engine::DeferredPageSpec::from)
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
            return Err(invalid_arg(format!(
                "trailingSlash must be always, never or ignore, not {other:?}"
            )))
        }
    };
    Ok(engine::SiteOptions {
        path_prefix,
        trailing_slash,
        headers: headers
            .unwrap_or_default()
            .into_iter()
            .map(engine::HeaderRuleSpec::from)
            .collect(),
        redirects: redirects
            .unwrap_or_default()
            .into_iter()
            .map(engine::RedirectSpec::from)
            .collect(),
        client_routes: client_routes
            .unwrap_or_default()
            .into_iter()
            .map(engine::ClientRouteSpec::from)
            .collect(),
        shared_max_age,
    })
}
