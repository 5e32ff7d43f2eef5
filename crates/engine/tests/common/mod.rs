//! Shared by the integration tests: a fixture site in a tempdir, a Rust renderer that counts its
//! calls and can be slowed, held, failed or hung, and a small HTTP/1.1 client over a real socket
//! (raw, so that tests can send request lines no URI type would accept and drop connections).
#![allow(dead_code)]

use std::collections::HashMap;
use std::fs;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use gatsby_dsg_engine::{
    ArtifactKind, BuildId, DeferredPageSpec, RenderError, RenderedPage, Renderer, Server,
    ServerConfig,
};
use parking_lot::Mutex;
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;

/// How long any single wait in a test may take before the test fails instead of hanging.
pub const PATIENCE: Duration = Duration::from_secs(20);

pub const INDEX_HTML: &str = "<html><body>home</body></html>";
pub const ABOUT_HTML: &str = "<html><body>about (static)</body></html>";
pub const ABOUT_PAGE_DATA: &str = r#"{"path":"/about/"}"#;
pub const NOT_FOUND_HTML: &str = "<html><body>custom 404 page</body></html>";
pub const SERVER_ERROR_HTML: &str = "<html><body>custom 500 page</body></html>";
pub const STATIC_JS: &str = "console.log('static');";
pub const HASHED_APP_JS: &str = "/app-0123456789abcdef0123.js";

// ---------------------------------------------------------------------------------------------
// Fixture site

/// A built site in a tempdir: `public/` (static pages, error pages, assets) and room for a cache.
pub struct Site {
    dir: TempDir,
}

impl Site {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let site = Site { dir };
        site.write("index.html", INDEX_HTML);
        site.write("about/index.html", ABOUT_HTML);
        site.write("page-data/about/page-data.json", ABOUT_PAGE_DATA);
        site.write("404.html", NOT_FOUND_HTML);
        site.write("500.html", SERVER_ERROR_HTML);
        site.write("static/x.js", STATIC_JS);
        site.write(HASHED_APP_JS.trim_start_matches('/'), STATIC_JS);
        site.write("sw.js", STATIC_JS);
        site
    }

    pub fn write(&self, relative: &str, contents: &str) {
        let file = self.public().join(relative);
        fs::create_dir_all(file.parent().unwrap()).unwrap();
        fs::write(file, contents).unwrap();
    }

    pub fn public(&self) -> PathBuf {
        self.dir.path().join("public")
    }

    pub fn cache_dir(&self) -> PathBuf {
        self.dir.path().join("cache")
    }

    /// A config on 127.0.0.1, a free port, no disk cache, with `pages` deferred.
    pub fn config(&self, pages: &[&str]) -> ServerConfig {
        let mut config = ServerConfig::new(self.public(), build_id("build-1"));
        config.host = "127.0.0.1".into();
        config.port = 0;
        config.render_timeout = Duration::from_secs(10);
        config.shutdown_timeout = Duration::from_secs(10);
        config.deferred_pages = pages
            .iter()
            .map(|path| DeferredPageSpec {
                path: path.to_string(),
                match_path: None,
            })
            .collect();
        config
    }
}

impl Default for Site {
    fn default() -> Self {
        Site::new()
    }
}

pub fn build_id(name: &str) -> BuildId {
    BuildId::from_parts([name])
}

pub async fn start(config: ServerConfig, renderer: &Arc<TestRenderer>) -> Server {
    let renderer: Arc<dyn Renderer> = renderer.clone();
    Server::start(config, renderer)
        .await
        .expect("server starts")
}

/// Where the disk cache keeps `page`'s HTML (Gatsby's `public/` layout under the build id).
pub fn stored_html(cache_dir: &Path, build: &BuildId, page: &str) -> PathBuf {
    cache_dir
        .join(build.as_str())
        .join(page.trim_matches('/'))
        .join("index.html")
}

/// Where the disk cache keeps `page`'s page-data.
pub fn stored_page_data(cache_dir: &Path, build: &BuildId, page: &str) -> PathBuf {
    cache_dir
        .join(build.as_str())
        .join("page-data")
        .join(page.trim_matches('/'))
        .join("page-data.json")
}

/// Waits until `condition` holds (polling), failing the test after [`PATIENCE`].
pub async fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !condition() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "gave up waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Awaits `future`, failing the test instead of hanging after [`PATIENCE`].
pub async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(PATIENCE, future)
        .await
        .unwrap_or_else(|_| panic!("gave up waiting for {what}"))
}

// ---------------------------------------------------------------------------------------------
// Renderer

/// A latch the test opens; every render waiting on it then proceeds.
#[derive(Clone)]
pub struct Gate {
    tx: Arc<watch::Sender<bool>>,
}

impl Gate {
    pub fn new() -> Self {
        Gate {
            tx: Arc::new(watch::channel(false).0),
        }
    }

    pub fn open(&self) {
        self.tx.send_replace(true);
    }

    pub async fn wait(&self) {
        let mut rx = self.tx.subscribe();
        let _ = rx.wait_for(|open| *open).await;
    }
}

impl Default for Gate {
    fn default() -> Self {
        Gate::new()
    }
}

/// How the next renders behave; changeable between requests.
#[derive(Clone, Default)]
pub struct Behaviour {
    /// The render future never resolves (not even its page-data).
    pub never_settle: bool,
    pub page_data_delay: Option<Duration>,
    pub fail_page_data: bool,
    /// The HTML future waits for this gate to open.
    pub html_gate: Option<Gate>,
    pub html_delay: Option<Duration>,
    pub fail_html: bool,
    /// Extra bytes appended to the HTML (to make big artifacts).
    pub html_padding: usize,
}

/// A renderer that counts its calls, per page and in total, and renders bodies that say which
/// call made them (so a second render of a page is visible in the body).
pub struct TestRenderer {
    name: String,
    total: AtomicUsize,
    per_page: Mutex<HashMap<String, Arc<AtomicUsize>>>,
    started: watch::Sender<usize>,
    behaviour: Mutex<Behaviour>,
}

impl TestRenderer {
    pub fn new() -> Arc<Self> {
        TestRenderer::named("renderer")
    }

    /// `name` goes into every body, to tell renderers (e.g. across restarts) apart.
    pub fn named(name: &str) -> Arc<Self> {
        Arc::new(TestRenderer {
            name: name.to_string(),
            total: AtomicUsize::new(0),
            per_page: Mutex::new(HashMap::new()),
            started: watch::channel(0).0,
            behaviour: Mutex::new(Behaviour::default()),
        })
    }

    pub fn configure(&self, change: impl FnOnce(&mut Behaviour)) {
        change(&mut self.behaviour.lock());
    }

    /// Makes the HTML of the next renders wait for the returned gate.
    pub fn hold_html(&self) -> Gate {
        let gate = Gate::new();
        self.configure(|b| b.html_gate = Some(gate.clone()));
        gate
    }

    /// Calls to `render`, all pages.
    pub fn renders(&self) -> usize {
        self.total.load(SeqCst)
    }

    /// Calls to `render` for `page`.
    pub fn renders_of(&self, page: &str) -> usize {
        self.per_page
            .lock()
            .get(page)
            .map_or(0, |count| count.load(SeqCst))
    }

    /// Waits until `render` has been called at least `n` times.
    pub async fn wait_for_renders(&self, n: usize) {
        let mut rx = self.started.subscribe();
        within(&format!("{n} render(s) to start"), rx.wait_for(|c| *c >= n))
            .await
            .expect("renderer alive");
    }

    /// The HTML body of the `nth` render (1-based) of `page` by this renderer.
    pub fn html(&self, page: &str, nth: usize) -> String {
        format!(
            "<!DOCTYPE html><html><body><h1>{page}</h1><p>{} render #{nth}</p></body></html>",
            self.name
        )
    }

    /// The page-data body of the `nth` render of `page` by this renderer.
    pub fn page_data(&self, page: &str, nth: usize) -> String {
        format!(
            r#"{{"path":"{page}","renderer":"{}","render":{nth}}}"#,
            self.name
        )
    }
}

impl Renderer for TestRenderer {
    fn render(
        &self,
        page_path: &str,
        _: ArtifactKind,
    ) -> BoxFuture<'static, Result<RenderedPage, RenderError>> {
        let counter = Arc::clone(
            self.per_page
                .lock()
                .entry(page_path.to_string())
                .or_default(),
        );
        let nth = counter.fetch_add(1, SeqCst) + 1;
        let total = self.total.fetch_add(1, SeqCst) + 1;
        self.started.send_replace(total);

        let b = self.behaviour.lock().clone();
        let page_data = self.page_data(page_path, nth);
        let mut html = self.html(page_path, nth);
        html.push_str(&"x".repeat(b.html_padding));
        let page = page_path.to_string();
        async move {
            if b.never_settle {
                futures_util::future::pending::<()>().await;
            }
            if let Some(delay) = b.page_data_delay {
                tokio::time::sleep(delay).await;
            }
            if b.fail_page_data {
                return Err(RenderError::failed(format!(
                    "page query of {page} threw (test)"
                )));
            }
            let html = async move {
                if let Some(gate) = b.html_gate {
                    gate.wait().await;
                }
                if let Some(delay) = b.html_delay {
                    tokio::time::sleep(delay).await;
                }
                if b.fail_html {
                    return Err(RenderError::failed(format!(
                        "HTML render of {page} threw (test)"
                    )));
                }
                Ok(Bytes::from(html))
            }
            .boxed();
            Ok(RenderedPage {
                page_data: Bytes::from(page_data),
                html,
            })
        }
        .boxed()
    }
}

// ---------------------------------------------------------------------------------------------
// HTTP client

#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    /// Names lower-cased, in the order received.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// The one value of header `name`; fails the test if it is repeated.
    pub fn header(&self, name: &str) -> Option<&str> {
        let mut values = self
            .headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str());
        let first = values.next();
        assert!(values.next().is_none(), "header {name} repeated: {self:?}");
        first
    }

    pub fn text(&self) -> String {
        String::from_utf8(self.body.clone()).expect("UTF-8 body")
    }

    pub fn cache(&self) -> Option<&str> {
        self.header("x-dsg-cache")
    }

    /// Asserts the security headers `gatsby serve` sends.
    pub fn assert_security_headers(&self) {
        for (name, value) in [
            ("x-xss-protection", "1; mode=block"),
            ("x-content-type-options", "nosniff"),
            ("referrer-policy", "same-origin"),
            ("x-frame-options", "DENY"),
        ] {
            assert_eq!(self.header(name), Some(value), "{name} in {self:?}");
        }
    }
}

/// Sends `raw` bytes as the whole request on a fresh connection and reads the response until the
/// server closes the connection (requests carry `Connection: close`).
pub async fn send_raw(addr: SocketAddr, raw: &[u8]) -> Response {
    within("a response", async {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        stream.write_all(raw).await.expect("send request");
        let mut bytes = Vec::new();
        stream.read_to_end(&mut bytes).await.expect("read response");
        parse_response(&bytes)
    })
    .await
}

/// The request bytes for `method target` with `Connection: close`.
pub fn request_bytes(method: &str, target: &str) -> Vec<u8> {
    let body_header = if matches!(method, "POST" | "PUT") {
        "Content-Length: 0\r\n"
    } else {
        ""
    };
    format!(
        "{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n{body_header}\r\n"
    )
    .into_bytes()
}

pub async fn request(addr: SocketAddr, method: &str, target: &str) -> Response {
    let res = send_raw(addr, &request_bytes(method, target)).await;
    if method != "HEAD" {
        if let Some(length) = res.header("content-length") {
            assert_eq!(
                length.parse::<usize>().unwrap(),
                res.body.len(),
                "content-length of {method} {target}"
            );
        }
    }
    res
}

pub async fn get(addr: SocketAddr, target: &str) -> Response {
    request(addr, "GET", target).await
}

fn parse_response(bytes: &[u8]) -> Response {
    let end = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no end of head in {:?}", String::from_utf8_lossy(bytes)));
    let head = std::str::from_utf8(&bytes[..end]).expect("ASCII head");
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    let mut parts = status_line.splitn(3, ' ');
    assert_eq!(parts.next(), Some("HTTP/1.1"), "{status_line}");
    let status = parts.next().unwrap().parse().expect("status code");
    let headers = lines
        .map(|line| {
            let (name, value) = line.split_once(':').expect("header line");
            (name.trim().to_ascii_lowercase(), value.trim().to_string())
        })
        .collect();
    assert!(
        !head.to_ascii_lowercase().contains("transfer-encoding"),
        "this client reads identity bodies only: {head}"
    );
    Response {
        status,
        headers,
        body: bytes[end + 4..].to_vec(),
    }
}

/// `/blog/안녕하세요/` → `/blog/%EC%95%88%EB%85%95%ED%95%98%EC%84%B8%EC%9A%94/`.
pub fn percent_encode_path(path: &str) -> String {
    let mut out = String::new();
    for byte in path.bytes() {
        if byte.is_ascii_alphanumeric() || b"/-_.~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Raw exchanges for hostile and malformed requests (hostile_paths.rs, bad_requests.rs): any bytes
// out, whatever comes back in, HTTP/1.0 and pipelined responses included.

/// The root of the fixture's tempdir (holds `public/`, and room for files outside it).
pub fn site_root(site: &Site) -> PathBuf {
    site.public()
        .parent()
        .expect("public/ has a parent")
        .to_path_buf()
}

/// Sends `raw` on a fresh connection and reads until the server closes it. Returns every byte
/// received: empty when the server closed without answering. A write or read the server cut
/// short (it may answer and close before reading an oversized request) ends the exchange.
pub async fn exchange_raw(addr: SocketAddr, raw: &[u8]) -> Vec<u8> {
    within("the server to answer and close", async {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        let _ = stream.write_all(raw).await;
        let mut bytes = Vec::new();
        let mut buf = [0u8; 16 * 1024];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => bytes.extend_from_slice(&buf[..n]),
            }
        }
        bytes
    })
    .await
}

/// The responses in `bytes`, in order, one per entry of `methods` (HEAD responses have no body).
/// Accepts HTTP/1.0 and HTTP/1.1 status lines; a body without Content-Length runs to the end.
/// Returns fewer responses than asked for when `bytes` ends first.
pub fn parse_responses(bytes: &[u8], methods: &[&str]) -> Vec<Response> {
    let mut out = Vec::new();
    let mut rest = bytes;
    for method in methods {
        let Some(end) = rest.windows(4).position(|w| w == b"\r\n\r\n") else {
            break;
        };
        let head = String::from_utf8_lossy(&rest[..end]).into_owned();
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let mut parts = status_line.splitn(3, ' ');
        let version = parts.next().unwrap_or_default();
        assert!(
            version == "HTTP/1.1" || version == "HTTP/1.0",
            "status line {status_line:?}"
        );
        let status = parts
            .next()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("status code in {status_line:?}"));
        let headers: Vec<(String, String)> = lines
            .filter_map(|line| line.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        let body_start = end + 4;
        let length = headers
            .iter()
            .find(|(n, _)| n == "content-length")
            .map(|(_, v)| v.parse::<usize>().expect("numeric content-length"));
        let body_len = if *method == "HEAD" || status == 204 || status == 304 {
            0
        } else {
            length.unwrap_or(rest.len() - body_start)
        };
        let body_end = (body_start + body_len).min(rest.len());
        out.push(Response {
            status,
            headers,
            body: rest[body_start..body_end].to_vec(),
        });
        rest = &rest[body_end..];
    }
    out
}

/// The one response to `raw` (sent on a fresh connection), or `None` if the server closed the
/// connection without answering.
pub async fn try_exchange(addr: SocketAddr, raw: &[u8], method: &str) -> Option<Response> {
    let bytes = exchange_raw(addr, raw).await;
    parse_responses(&bytes, &[method]).into_iter().next()
}
