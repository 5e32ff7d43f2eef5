//! Partytown's reverse proxy, `/__third-party-proxy?url=<encoded URL>`, as `gatsby serve` mounts
//! it (`packages/gatsby/src/internal-plugins/partytown/proxy.ts`): at the root of the server
//! (not under the path prefix), and only for a `url` that equals one of gatsby-config's
//! `partytownProxiedURLs` exactly. Any other `url` (or none) is the site's 404, as under Gatsby.
//!
//! Invariants:
//! - only a listed URL is ever fetched; redirects are never followed (the upstream's 3xx goes
//!   back to the browser with its `Location`), so no unlisted host is reached by the server;
//! - the upstream has [`PartytownConfig::timeout`] to send its status and headers (else 504), an
//!   upstream that cannot be reached is 502;
//! - a body larger than [`PartytownConfig::max_body_bytes`] is refused with 502 when its
//!   `Content-Length` says so, and cut (the connection errors, never a clean short body) when a
//!   chunked body grows past it;
//! - the upstream's status, `content-type` and body (streamed) go back; its other headers do
//!   not (no cookies of a third party under the site's origin).

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{Empty, Limited};
use hyper::header::{self, HeaderValue};
use hyper::{Method, Response, StatusCode, Uri};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use crate::functions::{plain, ProxyBody};

/// The path Gatsby serves the proxy at.
pub const PROXY_PATH: &str = "/__third-party-proxy";

/// What the proxy is started with.
#[derive(Clone, Debug)]
pub struct PartytownConfig {
    /// gatsby-config `partytownProxiedURLs`, compared with the request's `url` as strings.
    pub urls: Vec<String>,
    /// An upstream that has not sent its status and headers within this is answered 504.
    pub timeout: Duration,
    /// The largest upstream body passed on.
    pub max_body_bytes: u64,
}

impl PartytownConfig {
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
    /// Third-party scripts (analytics, tag managers) are well under 1 MB; 8 MiB leaves room.
    pub const DEFAULT_MAX_BODY_BYTES: u64 = 8 * 1024 * 1024;

    pub fn new(urls: Vec<String>) -> Self {
        PartytownConfig {
            urls,
            timeout: Self::DEFAULT_TIMEOUT,
            max_body_bytes: Self::DEFAULT_MAX_BODY_BYTES,
        }
    }
}

type HttpsClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Empty<Bytes>>;

/// The proxy, with one pooled http/https client.
pub struct PartytownProxy {
    config: PartytownConfig,
    client: HttpsClient,
}

impl std::fmt::Debug for PartytownProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PartytownProxy")
            .field("config", &self.config)
            .finish()
    }
}

/// What a request to the proxy's path asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum ProxyRoute {
    /// A listed URL: fetch it.
    Listed(String),
    /// The proxy's path with a `url` that is not listed: the site's 404.
    Unlisted,
    /// Not the proxy's path.
    NotProxy,
}

impl PartytownProxy {
    pub fn new(config: PartytownConfig) -> Self {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(config.timeout));
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(
                rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
                    rustls::crypto::ring::default_provider(),
                ))
                .with_safe_default_protocol_versions()
                .expect("ring supports the default TLS versions")
                .with_root_certificates(rustls::RootCertStore {
                    roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
                })
                .with_no_client_auth(),
            )
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new()).build(connector);
        PartytownProxy { config, client }
    }

    /// Routes a request by its path and query (Express's `app.use(path)` also matches below it).
    pub fn route(&self, path: &str, query: Option<&str>) -> ProxyRoute {
        let below = path
            .strip_prefix(PROXY_PATH)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'));
        if !below {
            return ProxyRoute::NotProxy;
        }
        match query.and_then(url_param) {
            Some(url) if self.config.urls.contains(&url) => ProxyRoute::Listed(url),
            _ => ProxyRoute::Unlisted,
        }
    }

    /// Fetches a listed URL (GET, or HEAD for a HEAD request) and streams its answer back.
    pub async fn fetch(&self, url: &str, method: &Method) -> Response<ProxyBody> {
        let uri: Uri = match url.parse() {
            Ok(uri) => uri,
            Err(_) => {
                return plain(
                    StatusCode::BAD_GATEWAY,
                    format!("partytownProxiedURLs entry {url:?} is not a URL\n"),
                )
            }
        };
        let method = if *method == Method::HEAD {
            Method::HEAD
        } else {
            Method::GET
        };
        let request = hyper::Request::builder()
            .method(method)
            .uri(uri)
            .header(header::USER_AGENT, "gatsby-dsg partytown proxy")
            .body(Empty::new());
        let Ok(request) = request else {
            return plain(StatusCode::BAD_GATEWAY, format!("cannot request {url}\n"));
        };
        let answer = tokio::time::timeout(self.config.timeout, self.client.request(request)).await;
        let upstream = match answer {
            Err(_) => {
                return plain(
                    StatusCode::GATEWAY_TIMEOUT,
                    format!(
                        "{url} did not answer within {} ms\n",
                        self.config.timeout.as_millis()
                    ),
                )
            }
            Ok(Err(error)) => {
                return plain(
                    StatusCode::BAD_GATEWAY,
                    format!("{url} could not be fetched: {}\n", describe(&error)),
                )
            }
            Ok(Ok(upstream)) => upstream,
        };
        let (parts, body) = upstream.into_parts();
        let length = parts
            .headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        if length.is_some_and(|n| n > self.config.max_body_bytes) {
            return plain(
                StatusCode::BAD_GATEWAY,
                format!(
                    "{url} answered {} bytes, over the proxy's bound of {} bytes\n",
                    length.unwrap_or_default(),
                    self.config.max_body_bytes
                ),
            );
        }
        let limit = usize::try_from(self.config.max_body_bytes).unwrap_or(usize::MAX);
        let mut response = Response::new(ProxyBody::Bounded(Limited::new(body, limit)));
        *response.status_mut() = parts.status;
        let headers = response.headers_mut();
        for name in [
            header::CONTENT_TYPE,
            header::CONTENT_LENGTH,
            header::LOCATION,
        ] {
            if let Some(value) = parts.headers.get(&name) {
                headers.insert(name, value.clone());
            }
        }
        headers
            .entry(header::CACHE_CONTROL)
            .or_insert(HeaderValue::from_static("no-cache"));
        response
    }
}

/// The decoded `url` parameter of a query string (`+` is a space, as Express's `qs` reads it).
fn url_param(query: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        (name == "url").then(|| {
            let value = value.replace('+', " ");
            percent_encoding::percent_decode_str(&value)
                .decode_utf8_lossy()
                .into_owned()
        })
    })
}

fn describe(error: &hyper_util::client::legacy::Error) -> String {
    let mut message = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        message = format!("{message}: {cause}");
        source = cause.source();
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxy() -> PartytownProxy {
        PartytownProxy::new(PartytownConfig::new(vec![
            "https://example.com/gtag.js?id=1".into(),
        ]))
    }

    #[test]
    fn a_listed_url_is_recognised_only_when_it_equals_the_entry_after_decoding() {
        let p = proxy();
        let listed = "url=https%3A%2F%2Fexample.com%2Fgtag.js%3Fid%3D1";
        assert_eq!(
            p.route(PROXY_PATH, Some(listed)),
            ProxyRoute::Listed("https://example.com/gtag.js?id=1".into())
        );
        assert_eq!(
            p.route(PROXY_PATH, Some("url=https%3A%2F%2Fexample.com%2Fgtag.js")),
            ProxyRoute::Unlisted
        );
        assert_eq!(p.route(PROXY_PATH, None), ProxyRoute::Unlisted);
        assert_eq!(
            p.route("/__third-party-proxyx", Some(listed)),
            ProxyRoute::NotProxy
        );
        assert_eq!(p.route("/about/", Some(listed)), ProxyRoute::NotProxy);
    }
}
