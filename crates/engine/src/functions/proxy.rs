//! Forwarding a function request to the functions process, with the body limit and the timeout.

use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::{Request, Response, StatusCode, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};

use super::ready::{NotReady, RouteWatch};
use super::routes::{FunctionRoutes, FunctionSpec};

/// What the functions are started with.
#[derive(Clone, Debug)]
pub struct FunctionsConfig {
    /// `None`: not known yet (the functions process is still loading them); requests under
    /// `/api/` wait for [`FunctionsProxy::set_routes`], at most `timeout`.
    pub functions: Option<Vec<FunctionSpec>>,
    /// The unix sockets of the functions processes; requests go to them in turn.
    pub sockets: Vec<PathBuf>,
    /// A function that has not sent its status and headers within this is answered 504.
    pub timeout: Duration,
    /// The largest request body any function receives, whatever its content type (multipart
    /// uploads and types no body-parser of the function reads have no limit of their own).
    pub max_body_bytes: u64,
}

impl FunctionsConfig {
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
    pub const DEFAULT_MAX_BODY_BYTES: u64 = 32 * 1024 * 1024;
}

/// The body of a proxied response: the function's, streamed, or the engine's own (413, 502,
/// 504); or a Partytown upstream's, streamed under a size bound ([`crate::partytown`]).
pub enum ProxyBody {
    Upstream(Incoming),
    Engine(Full<Bytes>),
    Bounded(http_body_util::Limited<Incoming>),
}

impl Body for ProxyBody {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        match self.get_mut() {
            ProxyBody::Upstream(body) => Pin::new(body)
                .poll_frame(cx)
                .map(|frame| frame.map(|r| r.map_err(Into::into))),
            ProxyBody::Engine(body) => Pin::new(body)
                .poll_frame(cx)
                .map(|frame| frame.map(|r| r.map_err(|never| match never {}))),
            ProxyBody::Bounded(body) => Pin::new(body).poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            ProxyBody::Upstream(body) => body.is_end_stream(),
            ProxyBody::Engine(body) => body.is_end_stream(),
            ProxyBody::Bounded(body) => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            ProxyBody::Upstream(body) => body.size_hint(),
            ProxyBody::Engine(body) => body.size_hint(),
            ProxyBody::Bounded(body) => body.size_hint(),
        }
    }
}

/// Connects to one unix socket, whatever the URI says.
#[derive(Clone)]
struct UnixConnector(Arc<PathBuf>);

impl tower_service::Service<Uri> for UnixConnector {
    type Response = TokioIo<tokio::net::UnixStream>;
    type Error = std::io::Error;
    type Future =
        Pin<Box<dyn std::future::Future<Output = std::io::Result<Self::Response>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Uri) -> Self::Future {
        let path = Arc::clone(&self.0);
        Box::pin(async move { Ok(TokioIo::new(tokio::net::UnixStream::connect(&*path).await?)) })
    }
}

type UpstreamClient = Client<UnixConnector, LimitedBody>;

pub struct FunctionsProxy {
    routes: RouteWatch,
    clients: Vec<UpstreamClient>,
    next: AtomicUsize,
    timeout: Duration,
    max_body_bytes: u64,
}

/// What a request path is for the functions.
#[derive(Debug, PartialEq, Eq)]
pub enum ApiRoute {
    /// Under `/api/`, naming a function: forward it as `upstream_path` (`/api/…`, the prefix
    /// removed, still percent-encoded as sent).
    Function {
        fragment: String,
        upstream_path: String,
    },
    /// Under `/api/` but no function has that route.
    NoFunction,
    /// Under `/api/`, but the routes did not arrive in time to say: a 503 ([`not_ready`]).
    NotReady(NotReady),
    NotApi,
}

/// What a client waiting for the functions is told to wait before it tries again: a functions
/// process loads in seconds (1.8 s for the example's 12 functions), and one that took longer than
/// the function timeout is restarting or failing.
pub const RETRY_AFTER_SECONDS: u32 = 5;

/// The answer to a request under `/api/` that found no routes to be routed by: a 503 with
/// `Retry-After`, saying why.
pub fn not_ready(why: NotReady) -> Response<ProxyBody> {
    let message = match why {
        NotReady::TimedOut(bound) => format!(
            "Service Unavailable: the functions process has not reported its functions within {} s (still starting); retry in {RETRY_AFTER_SECONDS} s\n",
            bound.as_secs_f64()
        ),
        NotReady::Closed => {
            "Service Unavailable: the server is shutting down before its functions were ready\n"
                .to_string()
        }
    };
    let mut res = plain(StatusCode::SERVICE_UNAVAILABLE, message);
    res.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS));
    res
}

/// Hop-by-hop headers (RFC 9110 §7.6.1), never forwarded either way.
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

impl FunctionsProxy {
    pub fn new(config: &FunctionsConfig) -> FunctionsProxy {
        let clients = config
            .sockets
            .iter()
            .map(|socket| {
                Client::builder(TokioExecutor::new())
                    // Shorter than the functions process's keep-alive (65 s): the engine never
                    // reuses a connection Node is closing.
                    .pool_idle_timeout(Duration::from_secs(30))
                    .build(UnixConnector(Arc::new(socket.clone())))
            })
            .collect();
        FunctionsProxy {
            routes: RouteWatch::new(config.functions.as_deref().map(FunctionRoutes::new)),
            clients,
            next: AtomicUsize::new(0),
            timeout: config.timeout,
            max_body_bytes: config.max_body_bytes,
        }
    }

    /// Sets the routes the functions process reported (replacing any earlier ones); requests
    /// waiting for them go on.
    pub fn set_routes(&self, functions: &[FunctionSpec]) {
        self.routes.set(FunctionRoutes::new(functions));
    }

    /// How many functions there are; `None` while their routes are pending.
    pub fn function_count(&self) -> Option<usize> {
        self.routes.now().map(|routes| routes.len())
    }

    /// The server is closing: requests still waiting for the routes are answered 503 now.
    pub fn close(&self) {
        self.routes.close();
    }

    #[cfg(test)]
    fn waiting(&self) -> usize {
        self.routes.waiting()
    }

    /// What `raw_path` (the request's path, still percent-encoded) is for the functions: as
    /// `gatsby serve` mounts them, `/api/*` at the root and under the site's path prefix. Under
    /// `/api/` while the routes are pending, it waits for them (at most the function timeout).
    pub async fn route(&self, raw_path: &str, path_prefix: Option<&str>) -> ApiRoute {
        let Some((fragment, rest)) = api_path(raw_path, path_prefix) else {
            return ApiRoute::NotApi;
        };
        if self.clients.is_empty() {
            return ApiRoute::NoFunction;
        }
        let routes = match self.routes.wait(self.timeout).await {
            Ok(routes) => routes,
            Err(why) => return ApiRoute::NotReady(why),
        };
        if routes.find(&fragment).is_none() {
            return ApiRoute::NoFunction;
        }
        ApiRoute::Function {
            fragment,
            upstream_path: format!("/api/{rest}"),
        }
    }

    /// Forwards `req` to the function of `fragment` as `upstream_path` (`/api/…`, without the
    /// site's path prefix; the query is added here), and streams its answer back.
    pub async fn forward(
        &self,
        req: Request<Incoming>,
        fragment: &str,
        upstream_path: &str,
        remote: std::net::SocketAddr,
    ) -> Response<ProxyBody> {
        // Routed by `route`, so the routes have arrived (and are never unset).
        let Some(routes) = self.routes.now() else {
            return not_ready(NotReady::Closed);
        };
        let Some(function) = routes.find(fragment) else {
            return plain(StatusCode::NOT_FOUND, "Not Found".into());
        };
        let (parts, body) = req.into_parts();
        let content_type = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        let limit = function
            .body_limit(content_type)
            .map_or(self.max_body_bytes, |l| l.min(self.max_body_bytes));
        let too_large = || {
            let mut res = plain(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "Request body too large: /api/{} accepts at most {limit} bytes of this content type\n",
                    function.route
                ),
            );
            // The rest of the body is not forwarded: read and thrown away (crate::linger), so
            // that a client still sending it gets this answer, then the connection closes.
            res.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            res
        };
        let declared = parts
            .headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        if declared.is_some_and(|n| n > limit) {
            crate::linger::discard(body);
            return too_large();
        }

        let query = parts.uri.query().map_or(String::new(), |q| format!("?{q}"));
        let uri: Uri = match format!("http://functions{upstream_path}{query}").parse() {
            Ok(uri) => uri,
            Err(_) => return plain(StatusCode::BAD_REQUEST, "Bad Request\n".into()),
        };
        let mut upstream = Request::builder()
            .method(parts.method.clone())
            .uri(uri)
            .version(hyper::Version::HTTP_11);
        let headers = upstream.headers_mut().expect("a valid request builder");
        copy_end_to_end(&parts.headers, headers);
        forwarded_headers(&parts.headers, headers, remote);
        let exceeded = Arc::new(AtomicBool::new(false));
        let upstream = match upstream.body(LimitedBody {
            inner: Some(body),
            seen: 0,
            limit,
            exceeded: Arc::clone(&exceeded),
        }) {
            Ok(upstream) => upstream,
            Err(_) => return plain(StatusCode::BAD_REQUEST, "Bad Request\n".into()),
        };

        let index = self.next.fetch_add(1, Ordering::Relaxed) % self.clients.len();
        let sent = tokio::time::timeout(self.timeout, self.clients[index].request(upstream)).await;
        match sent {
            Ok(Ok(res)) => {
                let (mut parts, body) = res.into_parts();
                strip_hop_by_hop(&mut parts.headers);
                Response::from_parts(parts, ProxyBody::Upstream(body))
            }
            Ok(Err(_)) if exceeded.load(Ordering::Relaxed) => too_large(),
            Ok(Err(error)) => {
                eprintln!(
                    "gatsby-dsg: function /api/{} failed: the functions process {}",
                    function.route,
                    describe_error(&error)
                );
                plain(
                    StatusCode::BAD_GATEWAY,
                    format!("The function /api/{} did not answer\n", function.route),
                )
            }
            Err(_) => {
                eprintln!(
                    "gatsby-dsg: function /api/{} timed out after {} s",
                    function.route,
                    self.timeout.as_secs_f64()
                );
                plain(
                    StatusCode::GATEWAY_TIMEOUT,
                    format!(
                        "The function /api/{} did not answer within {} s\n",
                        function.route,
                        self.timeout.as_secs_f64()
                    ),
                )
            }
        }
    }
}

/// The function fragment (percent-decoded) and the raw rest of a path under `/api/`, at the root
/// or under `path_prefix`; `None` for any other path (or one that does not decode to UTF-8).
fn api_path<'a>(raw_path: &'a str, path_prefix: Option<&str>) -> Option<(String, &'a str)> {
    let under_prefix = path_prefix
        .and_then(|prefix| raw_path.strip_prefix(prefix))
        .filter(|rest| rest.starts_with("/api/"));
    let rest = under_prefix.unwrap_or(raw_path).strip_prefix("/api/")?;
    let fragment = percent_encoding::percent_decode_str(rest)
        .decode_utf8()
        .ok()?;
    Some((fragment.into_owned(), rest))
}

fn describe_error(error: &hyper_util::client::legacy::Error) -> String {
    if error.is_connect() {
        "is not running (restarting?)".into()
    } else {
        let mut message = error.to_string();
        let mut source = std::error::Error::source(error);
        while let Some(cause) = source {
            message = format!("{message}: {cause}");
            source = cause.source();
        }
        format!("closed the connection ({message})")
    }
}

/// A short plain-text answer of the engine itself.
pub fn plain(status: StatusCode, message: String) -> Response<ProxyBody> {
    let mut res = Response::new(ProxyBody::Engine(Full::new(Bytes::from(message))));
    *res.status_mut() = status;
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// The headers named in `Connection` are hop-by-hop too.
fn connection_tokens(headers: &HeaderMap) -> Vec<HeaderName> {
    headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|t| HeaderName::from_bytes(t.trim().as_bytes()).ok())
        .collect()
}

fn copy_end_to_end(from: &HeaderMap, to: &mut HeaderMap) {
    let named = connection_tokens(from);
    for (name, value) in from {
        if HOP_BY_HOP.contains(&name.as_str()) || named.contains(name) {
            continue;
        }
        to.append(name.clone(), value.clone());
    }
}

fn strip_hop_by_hop(headers: &mut HeaderMap) {
    for name in connection_tokens(headers) {
        headers.remove(name);
    }
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
}

/// As a reverse proxy does: the functions process sees the client's address, scheme and host.
fn forwarded_headers(from: &HeaderMap, to: &mut HeaderMap, remote: std::net::SocketAddr) {
    let client = remote.ip().to_string();
    let chain = match from.get("x-forwarded-for").and_then(|v| v.to_str().ok()) {
        Some(earlier) => format!("{earlier}, {client}"),
        None => client,
    };
    if let Ok(value) = HeaderValue::from_str(&chain) {
        to.insert("x-forwarded-for", value);
    }
    if !from.contains_key("x-forwarded-proto") {
        to.insert("x-forwarded-proto", HeaderValue::from_static("http"));
    }
    if let (false, Some(host)) = (
        from.contains_key("x-forwarded-host"),
        from.get(header::HOST),
    ) {
        to.insert("x-forwarded-host", host.clone());
    }
}

/// The request body, streamed to the function, failing once more than `limit` bytes came; the
/// rest of a body over the limit is read and thrown away (crate::linger), never forwarded.
pub struct LimitedBody {
    inner: Option<Incoming>,
    seen: u64,
    limit: u64,
    exceeded: Arc<AtomicBool>,
}

#[derive(Debug)]
struct BodyTooLarge;

impl std::fmt::Display for BodyTooLarge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("request body over the function's limit")
    }
}

impl std::error::Error for BodyTooLarge {}

impl Body for LimitedBody {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let Some(inner) = self.inner.as_mut() else {
            return Poll::Ready(Some(Err(Box::new(BodyTooLarge))));
        };
        match Pin::new(inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    self.seen += data.len() as u64;
                    if self.seen > self.limit {
                        self.exceeded.store(true, Ordering::Relaxed);
                        if let Some(rest) = self.inner.take() {
                            crate::linger::discard(rest);
                        }
                        return Poll::Ready(Some(Err(Box::new(BodyTooLarge))));
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(Box::new(e)))),
            other => other.map(|o| o.map(|r| r.map_err(Into::into))),
        }
    }

    fn is_end_stream(&self) -> bool {
        // Past the limit the body only fails: it never ends well.
        self.inner.as_ref().is_some_and(Body::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.inner
            .as_ref()
            .map_or_else(SizeHint::default, Body::size_hint)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::functions::routes::BodyLimitSpec;
    use http_body_util::BodyExt;
    use hyper::server::conn::http1;
    use hyper::service::service_fn;
    use std::convert::Infallible;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn config(socket: PathBuf, timeout: Duration) -> FunctionsConfig {
        FunctionsConfig {
            functions: Some(vec![
                FunctionSpec {
                    function_route: "echo".into(),
                    match_path: None,
                    body_limits: vec![BodyLimitSpec {
                        media_type: "application/json".into(),
                        limit: 16,
                    }],
                },
                FunctionSpec {
                    function_route: "hang".into(),
                    match_path: None,
                    body_limits: vec![],
                },
            ]),
            sockets: vec![socket],
            timeout,
            max_body_bytes: 64,
        }
    }

    /// A stand-in for the functions process: `/api/echo` answers with the path it was asked
    /// and the body it read; `/api/hang` never answers. Counts the requests that reached it.
    fn upstream(socket: &std::path::Path) -> Arc<AtomicUsize> {
        let listener = tokio::net::UnixListener::bind(socket).unwrap();
        let reached = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&reached);
        tokio::spawn(async move {
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                let counter = Arc::clone(&counter);
                tokio::spawn(async move {
                    let service = service_fn(move |req: Request<Incoming>| {
                        counter.fetch_add(1, Ordering::SeqCst);
                        async move {
                            let path = req.uri().to_string();
                            if path.starts_with("/api/hang") {
                                std::future::pending::<()>().await;
                            }
                            let forwarded = req.headers().get("x-forwarded-for").cloned();
                            let body = req.into_body().collect().await.unwrap().to_bytes();
                            let text = format!(
                                "{path} {} {:?}",
                                String::from_utf8_lossy(&body),
                                forwarded
                            );
                            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(text))))
                        }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        reached
    }

    /// The engine side: a server on a loopback port whose every request goes to `proxy`.
    async fn engine(proxy: FunctionsProxy) -> std::net::SocketAddr {
        engine_of(Arc::new(proxy)).await
    }

    async fn engine_of(proxy: Arc<FunctionsProxy>) -> std::net::SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            loop {
                let (stream, remote) = listener.accept().await.unwrap();
                let proxy = Arc::clone(&proxy);
                tokio::spawn(async move {
                    let service = service_fn(move |req: Request<Incoming>| {
                        let proxy = Arc::clone(&proxy);
                        async move {
                            let res = match proxy.route(req.uri().path(), Some("/pre")).await {
                                ApiRoute::Function {
                                    fragment,
                                    upstream_path,
                                } => proxy.forward(req, &fragment, &upstream_path, remote).await,
                                ApiRoute::NotReady(why) => not_ready(why),
                                other => plain(StatusCode::NOT_FOUND, format!("{other:?}")),
                            };
                            Ok::<_, Infallible>(res)
                        }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        addr
    }

    /// Sends `raw` and reads until the server closes or `wait` passes.
    async fn exchange(addr: std::net::SocketAddr, raw: &str, wait: Duration) -> String {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        stream.write_all(raw.as_bytes()).await.unwrap();
        let mut buf = Vec::new();
        let _ = tokio::time::timeout(wait, stream.read_to_end(&mut buf)).await;
        String::from_utf8_lossy(&buf).into_owned()
    }

    #[tokio::test]
    async fn api_paths_are_recognised_at_the_root_and_under_the_prefix() {
        let proxy =
            FunctionsProxy::new(&config("/nonexistent.sock".into(), Duration::from_secs(1)));
        let function = |upstream: &str| ApiRoute::Function {
            fragment: "echo".into(),
            upstream_path: upstream.into(),
        };
        assert_eq!(proxy.route("/api/echo", None).await, function("/api/echo"));
        assert_eq!(
            proxy.route("/pre/api/echo", Some("/pre")).await,
            function("/api/echo")
        );
        assert_eq!(
            proxy.route("/api/ech%6F", Some("/pre")).await,
            function("/api/ech%6F")
        );
        assert_eq!(proxy.route("/api/nope", None).await, ApiRoute::NoFunction);
        assert_eq!(proxy.route("/apix/echo", None).await, ApiRoute::NotApi);
        assert_eq!(proxy.route("/about/", None).await, ApiRoute::NotApi);
        assert_eq!(proxy.route("/api/%ff", None).await, ApiRoute::NotApi);
    }

    #[tokio::test]
    async fn a_request_is_forwarded_with_its_query_body_and_client_address() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("f.sock");
        upstream(&socket);
        let addr = engine(FunctionsProxy::new(&config(socket, Duration::from_secs(5)))).await;
        let answer = exchange(
            addr,
            "POST /pre/api/echo?a=1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 7\r\nConnection: close\r\n\r\n{\"a\":1}",
            Duration::from_secs(5),
        )
        .await;
        assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
        assert!(
            answer.ends_with("/api/echo?a=1 {\"a\":1} Some(\"127.0.0.1\")"),
            "{answer}"
        );
    }

    #[tokio::test]
    async fn a_body_over_the_limit_is_refused_before_it_is_read_and_never_forwarded() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("f.sock");
        let reached = upstream(&socket);
        let addr = engine(FunctionsProxy::new(&config(socket, Duration::from_secs(5)))).await;
        // Declared over the JSON limit (16), nothing sent after the head.
        let declared = exchange(
            addr,
            "POST /api/echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 17\r\n\r\n",
            Duration::from_secs(5),
        )
        .await;
        assert!(declared.starts_with("HTTP/1.1 413 "), "{declared}");
        // Chunked, passing the overall limit (64) for a type with no limit of its own.
        let chunk = "x".repeat(40);
        let chunked = exchange(
            addr,
            &format!("POST /api/echo HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n28\r\n{chunk}\r\n28\r\n{chunk}\r\n0\r\n\r\n"),
            Duration::from_secs(5),
        )
        .await;
        assert!(chunked.starts_with("HTTP/1.1 413 "), "{chunked}");
        // The chunked request reached the upstream's head parsing at most; its handler never
        // saw a whole body.
        assert!(reached.load(Ordering::SeqCst) <= 1);
        assert!(!chunked.contains(&chunk));
    }

    #[tokio::test]
    async fn a_function_that_never_answers_is_a_504_and_a_missing_process_a_502() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("f.sock");
        upstream(&socket);
        let addr = engine(FunctionsProxy::new(&config(
            socket,
            Duration::from_millis(300),
        )))
        .await;
        let hung = exchange(
            addr,
            "GET /api/hang HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            Duration::from_secs(5),
        )
        .await;
        assert!(hung.starts_with("HTTP/1.1 504 "), "{hung}");

        let gone = engine(FunctionsProxy::new(&config(
            dir.path().join("absent.sock"),
            Duration::from_secs(5),
        )))
        .await;
        let refused = exchange(
            gone,
            "GET /api/echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            Duration::from_secs(5),
        )
        .await;
        assert!(refused.starts_with("HTTP/1.1 502 "), "{refused}");
    }

    #[tokio::test]
    async fn a_request_sent_while_the_routes_are_pending_is_routed_as_usual_once_they_arrive() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("f.sock");
        let reached = upstream(&socket);
        let known = config(socket, Duration::from_secs(30));
        let proxy = Arc::new(FunctionsProxy::new(&FunctionsConfig {
            functions: None,
            ..known.clone()
        }));
        assert_eq!(proxy.function_count(), None);
        let addr = engine_of(Arc::clone(&proxy)).await;
        let send = |raw: &'static str| tokio::spawn(exchange(addr, raw, Duration::from_secs(10)));
        let echo = send("GET /api/echo?a=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        let unknown = send("GET /api/nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        let too_large = send(
            "POST /api/echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 17\r\n\r\n",
        );
        // All three have arrived and wait; none reached the functions process.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while proxy.waiting() < 3 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(proxy.waiting(), 3);
        assert_eq!(reached.load(Ordering::SeqCst), 0);

        proxy.set_routes(known.functions.as_deref().unwrap());
        assert_eq!(proxy.function_count(), Some(2));
        let echo = echo.await.unwrap();
        assert!(echo.starts_with("HTTP/1.1 200 "), "{echo}");
        assert!(echo.contains("/api/echo?a=1 "), "{echo}");
        let unknown = unknown.await.unwrap();
        assert!(unknown.starts_with("HTTP/1.1 404 "), "{unknown}");
        assert!(unknown.ends_with("NoFunction"), "{unknown}");
        let too_large = too_large.await.unwrap();
        assert!(too_large.starts_with("HTTP/1.1 413 "), "{too_large}");
        assert_eq!(reached.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_request_whose_wait_passes_the_function_timeout_is_a_503_with_retry_after() {
        let proxy = Arc::new(FunctionsProxy::new(&FunctionsConfig {
            functions: None,
            ..config("/nonexistent.sock".into(), Duration::from_millis(200))
        }));
        let addr = engine_of(Arc::clone(&proxy)).await;
        let request = "GET /api/echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
        let timed_out = exchange(addr, request, Duration::from_secs(10)).await;
        assert!(timed_out.starts_with("HTTP/1.1 503 "), "{timed_out}");
        assert!(
            timed_out.contains(&format!("\r\nretry-after: {RETRY_AFTER_SECONDS}\r\n")),
            "{timed_out}"
        );
        assert!(
            timed_out.contains("has not reported its functions within 0.2 s"),
            "{timed_out}"
        );

        // Closing answers a waiting request at once, whatever its bound.
        let proxy = Arc::new(FunctionsProxy::new(&FunctionsConfig {
            functions: None,
            ..config("/nonexistent.sock".into(), Duration::from_secs(3600))
        }));
        let addr = engine_of(Arc::clone(&proxy)).await;
        let waiting = tokio::spawn(exchange(addr, request, Duration::from_secs(10)));
        while proxy.waiting() == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        proxy.close();
        let closed = waiting.await.unwrap();
        assert!(closed.starts_with("HTTP/1.1 503 "), "{closed}");
        assert!(closed.contains("shutting down"), "{closed}");
    }
}
