//! The server across its life: restarts over a disk cache, clients that go away, graceful close.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

const PAGE: &str = "/blog/a/";
const PAGE_DATA_URL: &str = "/page-data/blog/a/page-data.json";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn restart_with_the_same_build_serves_stored_artifacts_without_rendering() {
    let site = Site::new();
    let mut config = site.config(&[PAGE]);
    config.cache_dir = Some(site.cache_dir());

    let first = TestRenderer::named("first");
    let server = start(config.clone(), &first).await;
    assert_eq!(server.summary().generated_pages, Some(0));
    let html = get(server.local_addr(), PAGE).await;
    assert_eq!((html.status, html.cache()), (200, Some("MISS")));
    server.close().await;
    assert_eq!(first.renders(), 1);
    assert!(stored_html(&site.cache_dir(), &config.build_id, PAGE).is_file());
    assert!(stored_page_data(&site.cache_dir(), &config.build_id, PAGE).is_file());

    let second = TestRenderer::named("second");
    let server = start(config.clone(), &second).await;
    assert_eq!(server.summary().generated_pages, Some(1));
    let addr = server.local_addr();
    let html = get(addr, PAGE).await;
    assert_eq!((html.status, html.cache()), (200, Some("HIT")));
    assert_eq!(html.text(), first.html(PAGE, 1));
    assert_eq!(
        html.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let page_data = get(addr, PAGE_DATA_URL).await;
    assert_eq!((page_data.status, page_data.cache()), (200, Some("HIT")));
    assert_eq!(page_data.text(), first.page_data(PAGE, 1));
    assert_eq!(second.renders(), 0);
    assert_eq!(server.stats().renders, 0);
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn restart_with_another_build_never_serves_the_old_artifacts() {
    let site = Site::new();
    let mut config = site.config(&[PAGE]);
    config.cache_dir = Some(site.cache_dir());

    let old = TestRenderer::named("old-build");
    let server = start(config.clone(), &old).await;
    assert_eq!(get(server.local_addr(), PAGE).await.status, 200);
    server.close().await;
    assert!(stored_html(&site.cache_dir(), &config.build_id, PAGE).is_file());

    config.build_id = build_id("build-2");
    let new = TestRenderer::named("new-build");
    let server = start(config.clone(), &new).await;
    assert_eq!(server.summary().generated_pages, Some(0));
    let addr = server.local_addr();
    let page_data = get(addr, PAGE_DATA_URL).await;
    assert_eq!((page_data.status, page_data.cache()), (200, Some("MISS")));
    assert_eq!(page_data.text(), new.page_data(PAGE, 1));
    eventually("the render finished", || {
        server.stats().renders_in_flight == 0
    })
    .await;
    let html = get(addr, PAGE).await;
    assert_eq!((html.status, html.cache()), (200, Some("HIT")));
    assert_eq!(html.text(), new.html(PAGE, 1));
    assert_eq!(new.renders(), 1);
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn client_disconnect_does_not_cancel_the_render() {
    let site = Site::new();
    let mut config = site.config(&[PAGE]);
    config.cache_dir = Some(site.cache_dir());
    let renderer = TestRenderer::new();
    let html_released = renderer.hold_html();
    let server = start(config.clone(), &renderer).await;
    let addr = server.local_addr();

    let mut impatient = TcpStream::connect(addr).await.unwrap();
    impatient
        .write_all(&request_bytes("GET", PAGE))
        .await
        .unwrap();
    renderer.wait_for_renders(1).await;
    drop(impatient);
    // Give the server time to notice the closed connection before the render can finish.
    tokio::time::sleep(Duration::from_millis(100)).await;
    html_released.open();

    eventually("the render finished", || {
        server.stats().renders_in_flight == 0
    })
    .await;
    let res = get(addr, PAGE).await;
    assert_eq!((res.status, res.cache()), (200, Some("HIT")));
    assert_eq!(res.text(), renderer.html(PAGE, 1));
    assert_eq!(renderer.renders(), 1);

    server.close().await;
    let stored = stored_html(&site.cache_dir(), &config.build_id, PAGE);
    assert_eq!(
        std::fs::read_to_string(stored).unwrap(),
        renderer.html(PAGE, 1)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn client_disconnect_does_not_fail_the_requests_waiting_on_the_same_render() {
    let site = Site::new();
    let renderer = TestRenderer::new();
    let html_released = renderer.hold_html();
    let server = start(site.config(&[PAGE]), &renderer).await;
    let addr = server.local_addr();

    // The leader's client goes away; a second client waits on the same render.
    let mut impatient = TcpStream::connect(addr).await.unwrap();
    impatient
        .write_all(&request_bytes("GET", PAGE))
        .await
        .unwrap();
    renderer.wait_for_renders(1).await;
    let patient = tokio::spawn(get(addr, PAGE));
    eventually("the second request is waiting", || {
        server.stats().requests >= 2
    })
    .await;
    drop(impatient);
    tokio::time::sleep(Duration::from_millis(100)).await;
    html_released.open();

    let res = within("the waiting request", patient).await.unwrap();
    assert_eq!((res.status, res.cache()), (200, Some("MISS")));
    assert_eq!(res.text(), renderer.html(PAGE, 1));
    assert_eq!(renderer.renders(), 1);
    server.close().await;
}

/// Tries to connect until the listener is gone.
async fn wait_until_refused(addr: std::net::SocketAddr) {
    within("the listener to close", async {
        while TcpStream::connect(addr).await.is_ok() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn close_lets_the_request_in_flight_finish_then_refuses_connections() {
    let site = Site::new();
    let renderer = TestRenderer::new();
    let html_released = renderer.hold_html();
    let server = Arc::new(start(site.config(&[PAGE]), &renderer).await);
    let addr = server.local_addr();

    let in_flight = tokio::spawn(get(addr, PAGE));
    renderer.wait_for_renders(1).await;

    let closing = tokio::spawn({
        let server = Arc::clone(&server);
        async move { server.close().await }
    });
    wait_until_refused(addr).await;
    assert!(
        !closing.is_finished(),
        "close() returned while a request was in flight"
    );

    html_released.open();
    let res = within("the in-flight request", in_flight).await.unwrap();
    assert_eq!((res.status, res.cache()), (200, Some("MISS")));
    assert_eq!(res.text(), renderer.html(PAGE, 1));
    within("close()", closing).await.unwrap();

    assert!(TcpStream::connect(addr).await.is_err(), "still accepting");
    server.close().await; // a second close is a no-op
    assert_eq!(renderer.renders(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn close_waits_for_the_disk_write_of_a_render_whose_client_left() {
    let site = Site::new();
    let mut config = site.config(&[PAGE]);
    config.cache_dir = Some(site.cache_dir());
    let renderer = TestRenderer::new();
    renderer.configure(|b| b.html_delay = Some(Duration::from_millis(200)));
    let server = start(config.clone(), &renderer).await;

    let mut impatient = TcpStream::connect(server.local_addr()).await.unwrap();
    impatient
        .write_all(&request_bytes("GET", PAGE))
        .await
        .unwrap();
    renderer.wait_for_renders(1).await;
    drop(impatient);

    server.close().await;
    let stored = stored_html(&site.cache_dir(), &config.build_id, PAGE);
    assert_eq!(
        std::fs::read_to_string(stored).unwrap(),
        renderer.html(PAGE, 1)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dropping_the_handle_without_close_keeps_serving() {
    let site = Site::new();
    let renderer = TestRenderer::new();
    let server = start(site.config(&[PAGE]), &renderer).await;
    let addr = server.local_addr();
    // As a garbage-collected JS handle does: the server must go on, like Node's own servers.
    drop(server);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let res = get(addr, PAGE).await;
    assert_eq!(res.status, 200);
}
