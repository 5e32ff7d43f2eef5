//! Requests a well-behaved browser does not send: oversized heads, slow and stalled clients,
//! HTTP/1.0, pipelining, unknown methods, garbage, and clients that go away mid-render. The
//! server answers each one clearly (or drops only that connection), never renders for what is not
//! a GET or HEAD of a deferred page, and keeps serving everybody else.

mod common;

use std::time::Duration;

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const PAGE: &str = "/blog/a/";
const PAGE_DATA_URL: &str = "/page-data/blog/a/page-data.json";
/// How long a stalled connection is watched for an (unwanted) answer. Not a timing assertion:
/// the test only checks that nothing arrived meanwhile.
const QUIET: Duration = Duration::from_millis(300);

async fn connect(addr: std::net::SocketAddr) -> TcpStream {
    within("connect", TcpStream::connect(addr))
        .await
        .expect("connect")
}

/// Whether anything (bytes or a close) arrives on `stream` within [`QUIET`].
async fn answered_within_quiet(stream: &mut TcpStream) -> bool {
    let mut buf = [0u8; 1];
    tokio::time::timeout(QUIET, stream.read(&mut buf))
        .await
        .is_ok()
}

async fn assert_still_serving(addr: std::net::SocketAddr) {
    let about = get(addr, "/about/").await;
    assert_eq!((about.status, about.text()), (200, ABOUT_HTML.to_string()));
}

// ---------------------------------------------------------------------------------------------
// Oversized and malformed heads

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn oversized_header_is_refused_with_431_and_others_are_served() {
    let site = Site::new();
    let renderer = TestRenderer::new();
    let server = start(site.config(&[PAGE]), &renderer).await;
    let addr = server.local_addr();

    let huge = format!(
        "GET {PAGE} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: {}\r\nConnection: close\r\n\r\n",
        "a".repeat(1024 * 1024)
    );
    let res = try_exchange(addr, huge.as_bytes(), "GET").await;
    // hyper answers 431 and closes; it may also close before its answer is read.
    if let Some(res) = res {
        assert_eq!(res.status, 431, "{res:?}");
    }

    let mut many = format!("GET {PAGE} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    for i in 0..500 {
        many.push_str(&format!("X-Header-{i}: {i}\r\n"));
    }
    many.push_str("Connection: close\r\n\r\n");
    let res = try_exchange(addr, many.as_bytes(), "GET").await;
    if let Some(res) = res {
        assert_eq!(res.status, 431, "{res:?}");
    }

    assert_eq!(
        renderer.renders(),
        0,
        "nothing rendered for a refused request"
    );
    assert_still_serving(addr).await;
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_head_over_the_16_kib_limit_is_refused_with_431_and_one_under_it_is_served() {
    let site = Site::new();
    let renderer = TestRenderer::new();
    let config = site.config(&[PAGE]);
    assert_eq!(config.max_request_head_bytes, 16 * 1024, "Node's limit");
    let server = start(config, &renderer).await;
    let addr = server.local_addr();
    let head = |value_bytes: usize| {
        format!(
            "GET /about/ HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: {}\r\nConnection: close\r\n\r\n",
            "a".repeat(value_bytes)
        )
    };
    let under = try_exchange(addr, head(15 * 1024).as_bytes(), "GET").await;
    assert_eq!(under.map(|r| r.status), Some(200));
    // 70 KB: what `gatsby serve` (Node) refuses with 431 and this server used to answer 200.
    for bytes in [17 * 1024, 70 * 1024] {
        if let Some(res) = try_exchange(addr, head(bytes).as_bytes(), "GET").await {
            assert_eq!(res.status, 431, "{bytes} bytes: {res:?}");
        }
    }
    assert_still_serving(addr).await;
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn garbage_and_other_protocols_get_400_or_a_closed_connection() {
    let site = Site::new();
    let renderer = TestRenderer::new();
    let server = start(site.config(&[PAGE]), &renderer).await;
    let addr = server.local_addr();

    let inputs: Vec<&[u8]> = vec![
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", // a TLS ClientHello
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",                     // the HTTP/2 preface
        b"GET\r\n\r\n",
        b"GET /blog/a/\r\n\r\n", // HTTP/0.9
        b"GET /blog/a/ HTTP/9.9\r\nHost: x\r\n\r\n",
        b"GET /blog/a/ HTTP/1.1\r\nHost: x\r\nBad Header Name: 1\r\n\r\n",
        b"GET /blog/a/ HTTP/1.1\r\nHost: x\r\nX: \x00\r\n\r\n",
        b"GET /blog/a/ HTTP/1.1\r\nHost: x\r\n: empty name\r\n\r\n",
        b"GET /blog/a/ HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        b"GET /blog/a/ HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
        b"GET /blog/a/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
        b"\x00\x00\x00\x00\x00\x00\x00\x00\r\n\r\n",
    ];
    for raw in inputs {
        let bytes = exchange_raw(addr, raw).await;
        if !bytes.is_empty() {
            let res = parse_responses(&bytes, &["GET"]);
            let status = res.first().map(|r| r.status);
            assert!(
                matches!(status, Some(400 | 405 | 501 | 505)),
                "{:?} → {:?}",
                String::from_utf8_lossy(raw),
                String::from_utf8_lossy(&bytes)
            );
        }
    }
    assert_eq!(
        renderer.renders(),
        0,
        "nothing rendered for a malformed request"
    );

    // Empty lines before a request line are skipped (RFC 9112 §2.2), not an error.
    let padded = b"\r\n\r\n\r\nGET /about/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    let res = try_exchange(addr, padded, "GET").await.expect("a response");
    assert_eq!((res.status, res.text()), (200, ABOUT_HTML.to_string()));
    assert_still_serving(addr).await;
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unknown_methods_are_405_and_never_render() {
    let site = Site::new();
    let renderer = TestRenderer::new();
    let server = start(site.config(&[PAGE]), &renderer).await;
    let addr = server.local_addr();

    for method in [
        "POST", "PUT", "DELETE", "PATCH", "TRACE", "PROPFIND", "MKCOL", "FOO", "get", "Get",
        "M-SEARCH", "BREW",
    ] {
        for target in [PAGE, PAGE_DATA_URL, "/about/", "/nope/"] {
            let res = request(addr, method, target).await;
            assert_eq!(res.status, 405, "{method} {target}");
            let allow = res.header("allow").unwrap_or_default();
            assert!(
                allow.contains("GET") && allow.contains("HEAD"),
                "{method} {target}: {allow}"
            );
        }
    }
    // A body sent with a refused method is not a problem either.
    let post = b"POST /blog/a/ HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\nConnection: close\r\n\r\nhello=world";
    assert_eq!(
        try_exchange(addr, post, "POST").await.map(|r| r.status),
        Some(405)
    );
    let chunked = b"PUT /blog/a/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
    assert_eq!(
        try_exchange(addr, chunked, "PUT").await.map(|r| r.status),
        Some(405)
    );
    // CONNECT (authority-form) is refused too.
    let connect =
        b"CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\nConnection: close\r\n\r\n";
    let res = try_exchange(addr, connect, "CONNECT").await;
    assert!(matches!(res.map(|r| r.status), Some(400 | 405) | None));

    assert_eq!(renderer.renders(), 0, "no method but GET and HEAD renders");
    assert_still_serving(addr).await;
    server.close().await;
}

// ---------------------------------------------------------------------------------------------
// HTTP/1.0 and pipelining

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn http_1_0_requests_get_whole_responses_and_a_closed_connection() {
    let site = Site::new();
    let renderer = TestRenderer::new();
    let server = start(site.config(&[PAGE]), &renderer).await;
    let addr = server.local_addr();

    // No Host header, no Connection header: the server answers and closes.
    for (target, body) in [
        ("/about/", ABOUT_HTML.to_string()),
        (PAGE, renderer.html(PAGE, 1)), // a first render, answered to an HTTP/1.0 client
        (PAGE, renderer.html(PAGE, 1)),
        (PAGE_DATA_URL, renderer.page_data(PAGE, 1)),
    ] {
        let raw = format!("GET {target} HTTP/1.0\r\n\r\n");
        let bytes = exchange_raw(addr, raw.as_bytes()).await;
        let head = String::from_utf8_lossy(&bytes).to_ascii_lowercase();
        assert!(
            !head.contains("transfer-encoding: chunked"),
            "HTTP/1.0 has no chunked encoding: {head}"
        );
        let res = parse_responses(&bytes, &["GET"]).pop().expect("a response");
        assert_eq!((res.status, res.text()), (200, body), "{target}");
    }
    assert_eq!(renderer.renders(), 1);

    // HTTP/1.0 with keep-alive: two requests on one connection.
    let mut stream = connect(addr).await;
    let mut received = Vec::new();
    for target in ["/about/", PAGE] {
        let raw = format!("GET {target} HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        stream.write_all(raw.as_bytes()).await.unwrap();
        within("a keep-alive answer", async {
            let mut buf = [0u8; 4096];
            loop {
                let n = stream.read(&mut buf).await.unwrap();
                assert!(n > 0, "closed before answering {target}");
                received.extend_from_slice(&buf[..n]);
                if parse_responses(&received, &["GET", "GET"])
                    .iter()
                    .filter(|r| {
                        r.body.len() as u64
                            == r.header("content-length").map_or(0, |l| l.parse().unwrap())
                    })
                    .count()
                    == if target == PAGE { 2 } else { 1 }
                {
                    break;
                }
            }
        })
        .await;
    }
    let res = parse_responses(&received, &["GET", "GET"]);
    assert_eq!(res[0].text(), ABOUT_HTML);
    assert_eq!(res[1].text(), renderer.html(PAGE, 1));
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pipelined_requests_are_answered_in_order() {
    let site = Site::new();
    let renderer = TestRenderer::new();
    // The deferred page is slow to render: the answers after it must still come after it.
    renderer.configure(|b| b.html_delay = Some(Duration::from_millis(100)));
    let server = start(site.config(&[PAGE]), &renderer).await;
    let addr = server.local_addr();

    let raw = [
        "GET /about/ HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /blog/a/ HTTP/1.1\r\nHost: x\r\n\r\n",
        "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /nope/ HTTP/1.1\r\nHost: x\r\n\r\n",
        "DELETE /blog/a/ HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /page-data/blog/a/page-data.json HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /%2e%2e/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    ]
    .concat();
    let bytes = exchange_raw(addr, raw.as_bytes()).await;
    let res = parse_responses(
        &bytes,
        &["GET", "GET", "HEAD", "GET", "DELETE", "GET", "GET"],
    );
    let summary: Vec<(u16, Option<&str>)> = res.iter().map(|r| (r.status, r.cache())).collect();
    assert_eq!(
        summary,
        vec![
            (200, None),
            (200, Some("MISS")),
            (200, None),
            (404, None),
            (405, None),
            (200, Some("HIT")),
            (400, None)
        ]
    );
    assert_eq!(res[0].text(), ABOUT_HTML);
    assert_eq!(res[1].text(), renderer.html(PAGE, 1));
    assert!(res[2].body.is_empty());
    assert_eq!(res[3].text(), NOT_FOUND_HTML);
    assert_eq!(res[5].text(), renderer.page_data(PAGE, 1));
    assert_eq!(renderer.renders(), 1);
    server.close().await;
}

// ---------------------------------------------------------------------------------------------
// Slow and stalled clients

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stalled_and_slow_clients_do_not_block_other_clients() {
    let site = Site::new();
    site.write("big/index.html", &"<p>big</p>".repeat(1_000_000));
    let renderer = TestRenderer::new();
    let server = start(site.config(&[PAGE]), &renderer).await;
    let addr = server.local_addr();

    // 200 connections that sent part of a request head and stopped (slowloris).
    let mut stalled = Vec::new();
    for _ in 0..200 {
        let mut stream = connect(addr).await;
        stream
            .write_all(b"GET /about/ HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            .await
            .unwrap();
        stalled.push(stream);
    }
    // One that sends its head a byte at a time, without end (until the test ends).
    let trickle = tokio::spawn(async move {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let head = b"GET /about/ HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Trickle: ";
        for byte in head.iter().chain(std::iter::repeat(&b'a')) {
            if stream.write_all(&[*byte]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    // One that asked for a 10 MB page and does not read it (its socket buffers fill up).
    let mut not_reading = connect(addr).await;
    not_reading
        .write_all(b"GET /big/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();

    // Everybody else is served, static and deferred, in parallel.
    let mut clients = Vec::new();
    for i in 0..40 {
        clients.push(tokio::spawn(async move {
            let target = match i % 4 {
                0 => "/about/",
                1 => PAGE,
                2 => PAGE_DATA_URL,
                _ => "/nope/",
            };
            (target, get(addr, target).await.status)
        }));
    }
    for client in clients {
        let (target, status) = within("a client behind stalled ones", client)
            .await
            .unwrap();
        let expected = if target == "/nope/" { 404 } else { 200 };
        assert_eq!(status, expected, "{target}");
    }

    // The stalled connections got nothing meanwhile; once one completes its head, it is served.
    let mut first = stalled.remove(0);
    assert!(
        !answered_within_quiet(&mut first).await,
        "a connection that has not finished its request head got an answer"
    );
    first.write_all(b"Connection: close\r\n\r\n").await.unwrap();
    let mut bytes = Vec::new();
    within("the completed request", first.read_to_end(&mut bytes))
        .await
        .unwrap();
    let res = parse_responses(&bytes, &["GET"]).pop().expect("a response");
    assert_eq!((res.status, res.text()), (200, ABOUT_HTML.to_string()));

    trickle.abort();
    drop(stalled);
    drop(not_reading);
    server.close().await;
}

// ---------------------------------------------------------------------------------------------
// Clients that go away

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn clients_leaving_mid_render_do_not_cancel_it_and_it_is_stored_once() {
    let site = Site::new();
    let renderer = TestRenderer::new();
    let gate = renderer.hold_html();
    let mut config = site.config(&[PAGE]);
    config.cache_dir = Some(site.cache_dir());
    let server = start(config, &renderer).await;
    let addr = server.local_addr();

    // Ten clients ask for the page and hang up while its HTML is being rendered.
    let mut leaving = Vec::new();
    for _ in 0..10 {
        let mut stream = connect(addr).await;
        stream.write_all(&request_bytes("GET", PAGE)).await.unwrap();
        leaving.push(stream);
    }
    renderer.wait_for_renders(1).await;
    drop(leaving);
    // One more leaves half-way through sending its head.
    let mut half = connect(addr).await;
    half.write_all(b"GET /blog/a/ HTTP/1.1\r\nHo")
        .await
        .unwrap();
    drop(half);

    gate.open();
    let build = build_id("build-1");
    let html_file = stored_html(&site.cache_dir(), &build, PAGE);
    let page_data_file = stored_page_data(&site.cache_dir(), &build, PAGE);
    eventually("the page is stored on disk", || {
        html_file.is_file() && page_data_file.is_file() && server.stats().renders_in_flight == 0
    })
    .await;
    assert_eq!(
        std::fs::read_to_string(&html_file).unwrap(),
        renderer.html(PAGE, 1)
    );
    assert_eq!(
        std::fs::read_to_string(&page_data_file).unwrap(),
        renderer.page_data(PAGE, 1)
    );

    let html = get(addr, PAGE).await;
    assert_eq!((html.status, html.cache()), (200, Some("HIT")));
    assert_eq!(html.text(), renderer.html(PAGE, 1));
    assert_eq!(renderer.renders(), 1, "rendered once for all of them");
    assert_eq!(
        server.stats().disk_entries,
        2,
        "stored once: its HTML and its page-data"
    );
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn client_leaving_while_a_large_response_is_sent_does_not_disturb_the_server() {
    let site = Site::new();
    let renderer = TestRenderer::new();
    renderer.configure(|b| b.html_padding = 4 * 1024 * 1024);
    let server = start(site.config(&[PAGE]), &renderer).await;
    let addr = server.local_addr();

    for _ in 0..5 {
        let mut stream = connect(addr).await;
        stream.write_all(&request_bytes("GET", PAGE)).await.unwrap();
        let mut first = [0u8; 1024];
        let _ = within("the first bytes", stream.read(&mut first)).await;
        drop(stream); // hangs up with megabytes left to send
    }
    let res = get(addr, PAGE).await;
    assert_eq!((res.status, res.cache()), (200, Some("HIT")));
    assert_eq!(
        res.body.len(),
        renderer.html(PAGE, 1).len() + 4 * 1024 * 1024
    );
    assert_eq!(renderer.renders(), 1);
    assert_still_serving(addr).await;
    server.close().await;
}

/// A client that sends its whole request and then shuts down its sending side (`nc -N`, some
/// health checkers and proxies) is still answered, as nginx and Apache answer it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn half_closed_client_still_gets_its_answer() {
    let site = Site::new();
    let renderer = TestRenderer::new();
    let server = start(site.config(&[PAGE]), &renderer).await;
    let addr = server.local_addr();

    for (target, body) in [
        ("/about/", ABOUT_HTML.to_string()),
        (PAGE, renderer.html(PAGE, 1)),
    ] {
        let mut stream = connect(addr).await;
        stream
            .write_all(&request_bytes("GET", target))
            .await
            .unwrap();
        stream.shutdown().await.unwrap(); // FIN: nothing more to send
        let mut bytes = Vec::new();
        within("the answer", stream.read_to_end(&mut bytes))
            .await
            .unwrap();
        let res = parse_responses(&bytes, &["GET"]).pop();
        assert_eq!(
            res.map(|r| (r.status, r.text())),
            Some((200, body)),
            "GET {target} then half-close: got {:?}",
            String::from_utf8_lossy(&bytes)
        );
    }
    server.close().await;
}

/// A request refused before its body is read (a POST to a page): the client, still sending a
/// 4 MiB body, gets its 405 instead of a reset, and the connection then serves its next request
/// (crate::linger). Before, hyper closed with the body unread and 28 of 30 such clients (4 MiB to
/// /about/) got EPIPE.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_client_still_sending_a_body_gets_the_405_of_a_page_and_keeps_its_connection() {
    let site = Site::new();
    let renderer = TestRenderer::new();
    let server = start(site.config(&[PAGE]), &renderer).await;
    let addr = server.local_addr();
    const BODY: usize = 4 * 1024 * 1024;

    for target in ["/about/", PAGE] {
        let stream = connect(addr).await;
        let (mut reader, mut writer) = stream.into_split();
        let send = tokio::spawn(async move {
            let head =
                format!("POST {target} HTTP/1.1\r\nHost: x\r\nContent-Length: {BODY}\r\n\r\n");
            writer.write_all(head.as_bytes()).await?;
            let chunk = vec![b'x'; 64 * 1024];
            for _ in 0..BODY / chunk.len() {
                writer.write_all(&chunk).await?;
            }
            writer
                .write_all(b"GET /about/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .await
        });
        let mut bytes = Vec::new();
        within("the answers", reader.read_to_end(&mut bytes))
            .await
            .unwrap();
        let sent = within("the body sent", send).await.unwrap();
        assert!(sent.is_ok(), "POST {target}: sending failed: {sent:?}");
        let answers: Vec<_> = parse_responses(&bytes, &["POST", "GET"])
            .into_iter()
            .map(|r| r.status)
            .collect();
        assert_eq!(answers, [405, 200], "POST {target} then GET /about/");
    }
    assert_eq!(renderer.renders(), 0, "a POST renders nothing");
    server.close().await;
}
