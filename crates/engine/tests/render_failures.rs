//! A render that fails or hangs is answered with the site's 500 page and never cached: the next
//! request renders again.

mod common;

use std::time::Duration;

use common::*;

const PAGE: &str = "/blog/a/";
const PAGE_DATA_URL: &str = "/page-data/blog/a/page-data.json";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn failed_page_data_is_500_and_not_cached() {
    let site = Site::new();
    let renderer = TestRenderer::new();
    renderer.configure(|b| b.fail_page_data = true);
    let server = start(site.config(&[PAGE]), &renderer).await;
    let addr = server.local_addr();

    let failed = get(addr, PAGE_DATA_URL).await;
    assert_eq!(failed.status, 500);
    assert_eq!(failed.text(), SERVER_ERROR_HTML);
    assert_eq!(
        failed.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    failed.assert_security_headers();
    assert_eq!(server.stats().memory_entries, 0, "nothing cached");

    // Still failing: the HTML request renders again rather than reusing the failure.
    let failed_html = get(addr, PAGE).await;
    assert_eq!(failed_html.status, 500);
    assert_eq!(failed_html.text(), SERVER_ERROR_HTML);
    assert_eq!(renderer.renders(), 2);

    renderer.configure(|b| b.fail_page_data = false);
    let recovered = get(addr, PAGE_DATA_URL).await;
    assert_eq!((recovered.status, recovered.cache()), (200, Some("MISS")));
    assert_eq!(recovered.text(), renderer.page_data(PAGE, 3));
    assert_eq!(renderer.renders(), 3);
    assert_eq!(server.stats().render_failures, 2);
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn failed_html_keeps_the_page_data_and_renders_again() {
    let site = Site::new();
    let renderer = TestRenderer::new();
    renderer.configure(|b| b.fail_html = true);
    let server = start(site.config(&[PAGE]), &renderer).await;
    let addr = server.local_addr();

    let page_data = get(addr, PAGE_DATA_URL).await;
    assert_eq!((page_data.status, page_data.cache()), (200, Some("MISS")));
    assert_eq!(page_data.text(), renderer.page_data(PAGE, 1));
    eventually("the failed HTML render ended", || {
        server.stats().renders_in_flight == 0
    })
    .await;

    let html = get(addr, PAGE).await;
    assert_eq!(html.status, 500);
    assert_eq!(html.text(), SERVER_ERROR_HTML);
    assert_eq!(renderer.renders(), 2, "the HTML request renders again");

    // The page-data of the first render was stored.
    let page_data_again = get(addr, PAGE_DATA_URL).await;
    assert_eq!(
        (page_data_again.status, page_data_again.cache()),
        (200, Some("HIT"))
    );
    assert_eq!(page_data_again.body, page_data.body);

    renderer.configure(|b| b.fail_html = false);
    let html = get(addr, PAGE).await;
    assert_eq!((html.status, html.cache()), (200, Some("MISS")));
    assert_eq!(html.text(), renderer.html(PAGE, 3));
    assert_eq!(renderer.renders(), 3);
    let html_again = get(addr, PAGE).await;
    assert_eq!(html_again.cache(), Some("HIT"));
    // The re-render did not replace the page-data clients already have.
    assert_eq!(get(addr, PAGE_DATA_URL).await.body, page_data.body);
    assert_eq!(renderer.renders(), 3);
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn failed_html_is_500_for_the_request_that_started_the_render() {
    let site = Site::new();
    let renderer = TestRenderer::new();
    renderer.configure(|b| b.fail_html = true);
    let server = start(site.config(&[PAGE]), &renderer).await;
    let addr = server.local_addr();

    let html = get(addr, PAGE).await;
    assert_eq!(html.status, 500);
    assert_eq!(html.text(), SERVER_ERROR_HTML);
    let page_data = get(addr, PAGE_DATA_URL).await;
    assert_eq!((page_data.status, page_data.cache()), (200, Some("HIT")));
    assert_eq!(renderer.renders(), 1);
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn render_that_never_settles_times_out_with_500() {
    let site = Site::new();
    let renderer = TestRenderer::new();
    renderer.configure(|b| b.never_settle = true);
    let mut config = site.config(&[PAGE]);
    config.render_timeout = Duration::from_millis(200);
    let server = start(config, &renderer).await;
    let addr = server.local_addr();

    let html = get(addr, PAGE).await;
    assert_eq!(html.status, 500);
    assert_eq!(html.text(), SERVER_ERROR_HTML);
    assert_eq!(html.cache(), Some("MISS"));
    let page_data = get(addr, PAGE_DATA_URL).await;
    assert_eq!(page_data.status, 500);
    assert_eq!(renderer.renders(), 2, "the timed-out render is not reused");
    assert_eq!(server.stats().memory_entries, 0, "nothing cached");

    renderer.configure(|b| b.never_settle = false);
    let retry = get(addr, PAGE).await;
    assert_eq!((retry.status, retry.cache()), (200, Some("MISS")));
    assert_eq!(retry.text(), renderer.html(PAGE, 3));
    assert_eq!(renderer.renders(), 3);
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn html_that_never_settles_times_out_with_500() {
    let site = Site::new();
    let renderer = TestRenderer::new();
    let never = renderer.hold_html(); // never opened
    let mut config = site.config(&[PAGE]);
    config.render_timeout = Duration::from_millis(200);
    let server = start(config, &renderer).await;
    let addr = server.local_addr();

    let html = get(addr, PAGE).await;
    assert_eq!(html.status, 500);
    assert_eq!(html.text(), SERVER_ERROR_HTML);
    assert_eq!(renderer.renders(), 1);

    renderer.configure(|b| b.html_gate = None);
    let retry = get(addr, PAGE).await;
    assert_eq!((retry.status, retry.cache()), (200, Some("MISS")));
    assert_eq!(retry.text(), renderer.html(PAGE, 2));
    assert_eq!(renderer.renders(), 2);
    drop(never);
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn missing_500_page_falls_back_to_plain_text() {
    let site = Site::new();
    std::fs::remove_file(site.public().join("500.html")).unwrap();
    let renderer = TestRenderer::new();
    renderer.configure(|b| b.fail_page_data = true);
    let server = start(site.config(&[PAGE]), &renderer).await;

    let res = get(server.local_addr(), PAGE).await;
    assert_eq!(res.status, 500);
    assert_eq!(
        res.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(res.text(), "Internal Server Error\n");
    server.close().await;
}
