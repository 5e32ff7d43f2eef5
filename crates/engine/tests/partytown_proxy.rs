//! Partytown's `/__third-party-proxy?url=…` against a real loopback HTTP upstream (a hyper server
//! in the test): a listed URL is fetched and streamed back with the upstream's status and
//! content-type, an unlisted one is the site's 404 and never fetched, an upstream that is down is
//! 502, one that does not answer in time is 504, a body over the bound is never passed on whole,
//! and an upstream's redirect is handed back, not followed.

mod common;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::*;
use gatsby_dsg_engine::PartytownConfig;
use http_body_util::{Full, StreamBody};
use hyper::body::Frame;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

const SCRIPT: &str = "window.gtag = function () {};";
const BOUND: u64 = 64 * 1024;

/// The upstream: `/script.js`, `/slow.js` (answers after 5 s), `/big.js` (chunked, over
/// [`BOUND`]), `/sized.js` (a `Content-Length` over it), `/moved.js` (302 elsewhere). Counts
/// the requests it gets.
async fn upstream() -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&hits);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let hits = Arc::clone(&counted);
            tokio::spawn(async move {
                let service = service_fn(move |req: Request<hyper::body::Incoming>| {
                    hits.fetch_add(1, SeqCst);
                    async move { Ok::<_, Infallible>(answer(req.uri().path()).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (addr, hits)
}

type Body = http_body_util::Either<
    Full<Bytes>,
    StreamBody<futures_util::stream::Iter<std::vec::IntoIter<Result<Frame<Bytes>, Infallible>>>>,
>;

async fn answer(path: &str) -> Response<Body> {
    let full = |s: &str| http_body_util::Either::Left(Full::new(Bytes::from(s.to_string())));
    match path {
        "/script.js" => Response::builder()
            .header("content-type", "application/javascript; charset=utf-8")
            .header("set-cookie", "tracker=1")
            .body(full(SCRIPT))
            .unwrap(),
        "/slow.js" => {
            tokio::time::sleep(Duration::from_secs(5)).await;
            Response::new(full(SCRIPT))
        }
        "/big.js" => {
            let chunk = Bytes::from(vec![b'x'; 16 * 1024]);
            let frames: Vec<_> = (0..10).map(|_| Ok(Frame::data(chunk.clone()))).collect();
            Response::new(http_body_util::Either::Right(StreamBody::new(
                futures_util::stream::iter(frames),
            )))
        }
        "/sized.js" => Response::new(full(&"x".repeat(BOUND as usize + 1))),
        "/moved.js" => Response::builder()
            .status(302)
            .header("location", "http://unlisted.invalid/elsewhere.js")
            .body(full(""))
            .unwrap(),
        _ => Response::builder().status(404).body(full("no")).unwrap(),
    }
}

fn proxied(url: &str) -> String {
    let encoded: String = url::form_urlencoded_byte_serialize(url);
    format!("/__third-party-proxy?url={encoded}")
}

mod url {
    /// Encodes as `encodeURIComponent` does (what Partytown's `resolveUrl` sends).
    pub fn form_urlencoded_byte_serialize(s: &str) -> String {
        percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
    }
}

async fn start_with(urls: Vec<String>) -> gatsby_dsg_engine::Server {
    let site = Box::leak(Box::new(Site::new()));
    let mut config = site.config(&[]);
    let mut partytown = PartytownConfig::new(urls);
    partytown.timeout = Duration::from_millis(500);
    partytown.max_body_bytes = BOUND;
    config.partytown = Some(partytown);
    start(config, &TestRenderer::new()).await
}

#[tokio::test]
async fn a_listed_url_is_fetched_and_streamed_back_with_its_status_and_content_type() {
    let (up, hits) = upstream().await;
    let url = format!("http://{up}/script.js");
    let server = start_with(vec![url.clone()]).await;
    let res = get(server.local_addr(), &proxied(&url)).await;
    assert_eq!(res.status, 200);
    assert_eq!(res.text(), SCRIPT);
    assert_eq!(
        res.header("content-type"),
        Some("application/javascript; charset=utf-8")
    );
    assert_eq!(
        res.header("set-cookie"),
        None,
        "third-party cookies stay out"
    );
    assert_eq!(hits.load(SeqCst), 1);
    server.close().await;
}

#[tokio::test]
async fn an_unlisted_url_is_the_sites_404_and_is_never_fetched() {
    let (up, hits) = upstream().await;
    let listed = format!("http://{up}/script.js");
    let server = start_with(vec![listed.clone()]).await;
    let addr = server.local_addr();
    for target in [
        proxied(&format!("http://{up}/slow.js")),
        proxied(&format!("{listed}?x=1")),
        "/__third-party-proxy".to_string(),
        format!(
            "/__third-party-proxy?other={}",
            url::form_urlencoded_byte_serialize(&listed)
        ),
    ] {
        let res = get(addr, &target).await;
        assert_eq!(res.status, 404, "{target}");
        assert_eq!(res.text(), NOT_FOUND_HTML, "{target}");
    }
    assert_eq!(hits.load(SeqCst), 0);
    server.close().await;
}

#[tokio::test]
async fn a_listed_url_whose_upstream_is_down_is_a_502_and_the_server_keeps_serving() {
    let down = {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        listener.local_addr().expect("addr")
    };
    let url = format!("http://{down}/script.js");
    let server = start_with(vec![url.clone()]).await;
    let res = get(server.local_addr(), &proxied(&url)).await;
    assert_eq!(res.status, 502);
    assert!(
        res.text().contains("could not be fetched"),
        "{}",
        res.text()
    );
    assert_eq!(get(server.local_addr(), "/about/").await.status, 200);
    server.close().await;
}

#[tokio::test]
async fn a_listed_url_whose_upstream_does_not_answer_in_time_is_a_504() {
    let (up, _) = upstream().await;
    let url = format!("http://{up}/slow.js");
    let server = start_with(vec![url.clone()]).await;
    let res = get(server.local_addr(), &proxied(&url)).await;
    assert_eq!(res.status, 504);
    assert!(
        res.text().contains("did not answer within 500 ms"),
        "{}",
        res.text()
    );
    server.close().await;
}

#[tokio::test]
async fn a_body_over_the_bound_is_refused_or_cut_never_passed_on_whole() {
    let (up, _) = upstream().await;
    let sized = format!("http://{up}/sized.js");
    let big = format!("http://{up}/big.js");
    let server = start_with(vec![sized.clone(), big.clone()]).await;
    let addr = server.local_addr();
    let res = get(addr, &proxied(&sized)).await;
    assert_eq!(res.status, 502);
    assert!(
        res.text().contains("over the proxy's bound"),
        "{}",
        res.text()
    );
    // Chunked: the status is sent, then the stream is cut before its end (no final chunk), so
    // the client sees a torn transfer, not a complete short body.
    let raw = exchange_raw(addr, &request_bytes("GET", &proxied(&big))).await;
    let text = String::from_utf8_lossy(&raw);
    assert!(
        text.starts_with("HTTP/1.1 200"),
        "{}",
        &text[..text.len().min(200)]
    );
    assert!(
        !text.ends_with("0\r\n\r\n"),
        "the chunked body must not end cleanly"
    );
    assert!(
        raw.len() < 10 * 16 * 1024,
        "more than the bound was passed on"
    );
    assert_eq!(get(addr, "/about/").await.status, 200);
    server.close().await;
}

#[tokio::test]
async fn an_upstream_redirect_is_handed_back_not_followed() {
    let (up, hits) = upstream().await;
    let url = format!("http://{up}/moved.js");
    let server = start_with(vec![url.clone()]).await;
    let res = get(server.local_addr(), &proxied(&url)).await;
    assert_eq!(res.status, 302);
    assert_eq!(
        res.header("location"),
        Some("http://unlisted.invalid/elsewhere.js")
    );
    assert_eq!(hits.load(SeqCst), 1);
    server.close().await;
}
