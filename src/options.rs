//! `ServerOptions`, as JS passes them to `startServer`, and their conversion into the engine's
//! `ServerConfig`: an omitted option keeps the engine's default (all of them in [`defaults`]); an
//! option out of range or not one of its words is refused with a message naming it.

use std::path::PathBuf;
use std::time::Duration;

use gatsby_dsg_engine as engine;
use napi::bindgen_prelude::*;
use napi::Env;
use napi_derive::napi;
use serde::de::DeserializeOwned;

use crate::error::invalid_arg;
use crate::functions::{functions_config, FunctionsInput};

/// An option given as the engine's own spec type (`site.rs`, `pages.rs`: one copy of each),
/// deserialized from the JS value with serde. A value of the wrong shape is refused with serde's
/// message, naming the field.
pub struct Spec<T>(T);

impl<T> Spec<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T: DeserializeOwned> FromNapiValue for Spec<T> {
    unsafe fn from_napi_value(env: sys::napi_env, value: sys::napi_value) -> Result<Self> {
        let unknown = unsafe { Unknown::from_napi_value(env, value) }?;
        Env::from_raw(env)
            .from_js_value(unknown)
            .map(Spec)
            .map_err(|e| invalid_arg(e.reason))
    }
}

impl<T> TypeName for Spec<T> {
    fn type_name() -> &'static str {
        "Object"
    }

    fn value_type() -> ValueType {
        ValueType::Object
    }
}

impl<T> ValidateNapiValue for Spec<T> {}

/// The default of every option, from the engine's `ServerConfig` (the one source): the CLI's help
/// and `serve()` read them here.
#[napi(object)]
pub struct Defaults {
    pub host: String,
    pub port: u32,
    pub memory_cache_bytes: i64,
    pub static_cache_bytes: i64,
    pub render_timeout_ms: u32,
    pub shutdown_timeout_ms: u32,
    pub render_slots: u32,
    pub max_queued_renders: u32,
    pub redis_namespace: String,
    pub redis_lock_ttl_ms: u32,
    /// Gatsby Functions: `--function-timeout` and `--function-max-body`.
    pub function_timeout_ms: u32,
    pub function_max_body_bytes: i64,
    /// `--max-header-size`: request heads above it are refused with 431.
    pub max_request_head_bytes: u32,
}

#[napi]
pub fn defaults() -> Defaults {
    type C = engine::ServerConfig;
    type R = engine::RedisConfig;
    type F = engine::functions::FunctionsConfig;
    let ms = |d: Duration| d.as_millis() as u32;
    Defaults {
        host: C::DEFAULT_HOST.to_string(),
        port: u32::from(C::DEFAULT_PORT),
        memory_cache_bytes: C::DEFAULT_MEMORY_CACHE_BYTES as i64,
        static_cache_bytes: C::DEFAULT_STATIC_CACHE_BYTES as i64,
        render_timeout_ms: ms(C::DEFAULT_RENDER_TIMEOUT),
        shutdown_timeout_ms: ms(C::DEFAULT_SHUTDOWN_TIMEOUT),
        render_slots: C::DEFAULT_RENDER_SLOTS as u32,
        max_queued_renders: C::DEFAULT_MAX_QUEUED_RENDERS as u32,
        redis_namespace: R::DEFAULT_NAMESPACE.to_string(),
        redis_lock_ttl_ms: ms(R::DEFAULT_LOCK_TTL),
        function_timeout_ms: ms(F::DEFAULT_TIMEOUT),
        function_max_body_bytes: F::DEFAULT_MAX_BODY_BYTES as i64,
        max_request_head_bytes: C::DEFAULT_MAX_REQUEST_HEAD_BYTES as u32,
    }
}

#[napi(object, object_to_js = false)]
pub struct ServerOptions {
    /// Default: `defaults().host`.
    pub host: Option<String>,
    /// Default: `defaults().port`; 0 picks a free port.
    pub port: Option<u32>,
    /// The site's `public/`.
    pub public_dir: String,
    /// Root of the on-disk artifact store; artifacts go under `<cacheDir>/<build id>/`.
    /// Omit to keep artifacts in memory only.
    pub cache_dir: Option<String>,
    /// Anything that changes with every `gatsby build` (the CLI joins the plugin's build id and
    /// Gatsby's compilation hash); hashed into the cache directory's name.
    pub build_id: String,
    /// Memory cache bound for generated pages, in bytes (every encoding counted).
    pub memory_cache_bytes: Option<i64>,
    /// Memory cache bound for files of `public/`, in bytes.
    pub static_cache_bytes: Option<i64>,
    /// A render (page-data, then HTML) that takes longer fails with 500 and is not cached.
    pub render_timeout_ms: Option<u32>,
    /// How long `close()` waits for in-flight requests and renders.
    pub shutdown_timeout_ms: Option<u32>,
    /// The deferred pages, listed. Omit them (and `ssrPages`) when `manifestFile` is given.
    #[napi(ts_type = "Array<{ path: string; matchPath?: string }>")]
    pub deferred_pages: Option<Spec<Vec<engine::DeferredPageSpec>>>,
    /// The plugin's page manifest (`.cache/gatsby-dsg/deferred-pages.json`): both page lists are
    /// read from it by the engine, never by JavaScript.
    pub manifest_file: Option<String>,
    /// The manifest's own `buildId`: a manifest file carrying another is refused.
    pub manifest_build_id: Option<String>,
    /// Serve under this prefix (gatsby-config `pathPrefix`, with `--prefix-paths`).
    pub path_prefix: Option<String>,
    /// gatsby-config `trailingSlash`: `always` (Gatsby's default), `never` or `ignore`.
    pub trailing_slash: Option<String>,
    /// gatsby-config `headers`.
    #[napi(ts_type = "Array<{ source: string; headers: Array<{ key: string; value: string }> }>")]
    pub headers: Option<Spec<Vec<engine::HeaderRuleSpec>>>,
    /// `.cache/redirects.json`, as `createRedirect` wrote it.
    #[napi(
        ts_type = "Array<{ fromPath: string; toPath: string; isPermanent?: boolean; statusCode?: number; ignoreCase?: boolean; force?: boolean; conditions?: { language?: string[]; country?: string[]; unknown?: string[] } }>"
    )]
    pub redirects: Option<Spec<Vec<engine::RedirectSpec>>>,
    /// `.cache/match-paths.json`: client-only routes of SSG pages.
    #[napi(ts_type = "Array<{ path: string; matchPath: string }>")]
    pub client_routes: Option<Spec<Vec<engine::ClientRouteSpec>>>,
    /// Lifetime of generated pages in shared caches (CDNs): `s-maxage` and `CDN-Cache-Control`.
    pub shared_max_age_seconds: Option<u32>,
    /// Serve pages older than this `STALE` while one background render refreshes them.
    pub revalidate_seconds: Option<u32>,
    /// Renders running at once.
    pub render_slots: Option<u32>,
    /// Renders waiting for a slot; past it, 503 with `Retry-After`.
    pub max_queued_renders: Option<u32>,
    /// Enables `/__dsg/health`, `/__dsg/metrics` and `POST /__dsg/purge` for requests with
    /// `Authorization: Bearer <adminToken>`.
    pub admin_token: Option<String>,
    /// One line per request on stdout: `text` or `json`. Default: none.
    pub access_log: Option<String>,
    /// Share generated pages with other instances through Redis: `redis://host:6379/`,
    /// `rediss://` (TLS), `redis+cluster://host:port,host:port` (a Redis Cluster), `rediss+cluster://`.
    pub redis_url: Option<String>,
    /// Key namespace in Redis: instances of one site share it.
    pub redis_namespace: Option<String>,
    /// TTL of a page's cluster-wide render lock, renewed while rendering.
    pub redis_lock_ttl_ms: Option<u32>,
    /// Gatsby Functions (`/api/*`), forwarded to the functions process.
    pub functions: Option<FunctionsInput>,
    /// Generated pages expire in Redis this many seconds after they are stored. Default: never.
    pub redis_ttl_seconds: Option<u32>,
    /// PEM CA certificates that alone are trusted for a `rediss://` server. Default: system roots.
    pub redis_ca_file: Option<String>,
    /// PEM client certificate and its key, for `rediss://` servers that require one.
    pub redis_cert_file: Option<String>,
    pub redis_key_file: Option<String>,
    /// SSR pages (`getServerData`), rendered for every request.
    #[napi(ts_type = "Array<{ path: string; matchPath?: string }>")]
    pub ssr_pages: Option<Spec<Vec<engine::DeferredPageSpec>>>,
    /// The request header a CDN sets to the visitor's country (`createRedirect` `country`
    /// conditions); without it, country-conditioned redirects never apply.
    pub country_header: Option<String>,
    /// Request heads (request line and headers) above this many bytes are refused with 431.
    /// Default 16 384, Node's limit; at least 8 192.
    pub max_request_head_bytes: Option<u32>,
    /// gatsby-config `partytownProxiedURLs`: served at `/__third-party-proxy?url=…`, only these.
    #[napi(js_name = "partytownProxiedURLs")]
    pub partytown_proxied_urls: Option<Vec<String>>,
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
        artifact_ttl: options
            .redis_ttl_seconds
            .map(|s| Duration::from_secs(u64::from(s))),
        tls: engine::RedisTls {
            ca_file: options.redis_ca_file.map(Into::into),
            cert_file: options.redis_cert_file.map(Into::into),
            key_file: options.redis_key_file.map(Into::into),
        },
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
        .map(Spec::into_inner)
        .unwrap_or_default();
    config.ssr_pages = options.ssr_pages.map(Spec::into_inner).unwrap_or_default();
    if let Some(file) = options.manifest_file {
        if !config.deferred_pages.is_empty() || !config.ssr_pages.is_empty() {
            return Err(invalid(
                "give the pages either in manifestFile or as deferredPages/ssrPages, not both"
                    .into(),
            ));
        }
        config.manifest = Some(engine::ManifestSource {
            file: PathBuf::from(file),
            build_id: options.manifest_build_id,
        });
    }
    config.country_header = options.country_header.filter(|h| !h.is_empty());
    if let Some(bytes) = options.max_request_head_bytes {
        config.max_request_head_bytes = bytes as usize;
    }
    config.partytown = options
        .partytown_proxied_urls
        .filter(|urls| !urls.is_empty())
        .map(engine::PartytownConfig::new);
    if let Some(functions) = options.functions {
        config.functions = Some(functions_config(functions)?);
    }
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
    headers: Option<Spec<Vec<engine::HeaderRuleSpec>>>,
    redirects: Option<Spec<Vec<engine::RedirectSpec>>>,
    client_routes: Option<Spec<Vec<engine::ClientRouteSpec>>>,
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
        headers: headers.map(Spec::into_inner).unwrap_or_default(),
        redirects: redirects.map(Spec::into_inner).unwrap_or_default(),
        client_routes: client_routes.map(Spec::into_inner).unwrap_or_default(),
        shared_max_age,
    })
}

/// A header as JS passes it: `{ key, value }`.
#[napi(object)]
pub struct HeaderInput {
    pub key: String,
    pub value: String,
}
