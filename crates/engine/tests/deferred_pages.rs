//! Serving deferred pages: first visit renders, later visits are cache hits, concurrent visits
//! share one render, and the URL variants of one page name one artifact.

mod common;

use std::time::Duration;

use common::*;
use gatsby_dsg_engine::TrailingSlash;

const PAGE: &str = "/blog/a/";
const PAGE_DATA_URL: &str = "/page-data/blog/a/page-data.json";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn direct_visit_renders_once_then_hits_the_cache() {
    let site = Site::new();
    let renderer = TestRenderer::new();
    let server = start(site.config(&[PAGE]), &renderer).await;
    let addr = server.local_addr();

    let first = get(addr, PAGE).await;
    assert_eq!(first.status, 200);
    assert_eq!(first.cache(), Some("MISS"));
    assert_eq!(first.text(), renderer.html(PAGE, 1));
    assert_eq!(
        first.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(
        first.header("cache-control"),
        Some("public, max-age=0, must-revalidate")
    );
    first.assert_security_headers();

    let second = get(addr, PAGE).await;
    assert_eq!(second.status, 200);
    assert_eq!(second.cache(), Some("HIT"));
    assert_eq!(second.body, first.body);
    assert_eq!(
        second.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(
        second.header("cache-control"),
        Some("public, max-age=0, must-revalidate")
    );
    second.assert_security_headers();

    assert_eq!(renderer.renders(), 1);
    assert_eq!(renderer.renders_of(PAGE), 1);
    let stats = server.stats();
    assert_eq!((stats.renders, stats.misses, stats.hits), (1, 1, 1));
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn page_data_is_answered_before_the_html_is_rendered() {
    let site = Site::new();
    let renderer = TestRenderer::new();
    let html_released = renderer.hold_html();
    let server = start(site.config(&[PAGE]), &renderer).await;
    let addr = server.local_addr();

    // The HTML is held until after this response arrives: the page-data cannot wait for it.
    let page_data = get(addr, PAGE_DATA_URL).await;
    assert_eq!(page_data.status, 200);
    assert_eq!(page_data.cache(), Some("MISS"));
    assert_eq!(page_data.text(), renderer.page_data(PAGE, 1));
    assert_eq!(
        page_data.header("content-type"),
        Some("application/json; charset=utf-8")
    );
    assert_eq!(
        page_data.header("cache-control"),
        Some("public, max-age=0, must-revalidate")
    );
    page_data.assert_security_headers();
    assert_eq!(server.stats().renders_in_flight, 1, "HTML still rendering");

    html_released.open();
    eventually("the render finished", || {
        server.stats().renders_in_flight == 0
    })
    .await;

    let html = get(addr, PAGE).await;
    assert_eq!(html.status, 200);
    assert_eq!(html.cache(), Some("HIT"));
    assert_eq!(html.text(), renderer.html(PAGE, 1));
    let page_data_again = get(addr, PAGE_DATA_URL).await;
    assert_eq!(page_data_again.cache(), Some("HIT"));
    assert_eq!(page_data_again.body, page_data.body);
    assert_eq!(renderer.renders(), 1);
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_misses_share_one_render() {
    let site = Site::new();
    let renderer = TestRenderer::new();
    // Keep the render open long enough for all 50 requests to arrive while it runs.
    renderer.configure(|b| {
        b.page_data_delay = Some(Duration::from_millis(100));
        b.html_delay = Some(Duration::from_millis(100));
    });
    let server = start(site.config(&[PAGE]), &renderer).await;
    let addr = server.local_addr();

    let requests = (0..50).map(|i| {
        let target = if i % 2 == 0 { PAGE } else { PAGE_DATA_URL };
        tokio::spawn(async move { (target, get(addr, target).await) })
    });
    let responses = futures_util::future::join_all(requests).await;

    for response in responses {
        let (target, res) = response.expect("request task");
        assert_eq!(res.status, 200, "{target}");
        let expected = if target == PAGE {
            renderer.html(PAGE, 1)
        } else {
            renderer.page_data(PAGE, 1)
        };
        assert_eq!(res.text(), expected, "{target}");
    }
    assert_eq!(renderer.renders(), 1);
    assert_eq!(server.stats().renders, 1);
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn head_sends_the_headers_of_get_without_the_body() {
    let site = Site::new();
    let renderer = TestRenderer::new();
    let server = start(site.config(&[PAGE]), &renderer).await;
    let addr = server.local_addr();

    let head = request(addr, "HEAD", PAGE).await;
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty(), "HEAD body: {:?}", head.text());
    let full_length = renderer.html(PAGE, 1).len().to_string();
    assert_eq!(head.header("content-length"), Some(full_length.as_str()));
    assert_eq!(
        head.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(
        head.header("cache-control"),
        Some("public, max-age=0, must-revalidate")
    );
    head.assert_security_headers();

    let get = get(addr, PAGE).await;
    assert_eq!(get.cache(), Some("HIT"), "HEAD generated the page");
    assert_eq!(get.header("content-length"), Some(full_length.as_str()));
    assert_eq!(renderer.renders(), 1);
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn other_methods_are_refused_without_rendering() {
    let site = Site::new();
    let renderer = TestRenderer::new();
    let server = start(site.config(&[PAGE]), &renderer).await;
    let addr = server.local_addr();

    for method in ["POST", "PUT", "DELETE"] {
        for target in [PAGE, PAGE_DATA_URL] {
            let res = request(addr, method, target).await;
            assert_eq!(res.status, 405, "{method} {target}");
            assert_eq!(
                res.header("allow"),
                Some("GET, HEAD, OPTIONS"),
                "{method} {target}"
            );
            res.assert_security_headers();
        }
    }
    assert_eq!(renderer.renders(), 0);
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn query_string_does_not_change_the_deferred_artifact() {
    let site = Site::new();
    let renderer = TestRenderer::new();
    let server = start(site.config(&[PAGE]), &renderer).await;
    let addr = server.local_addr();

    let first = get(addr, "/blog/a/?utm=1").await;
    assert_eq!((first.status, first.cache()), (200, Some("MISS")));
    for target in ["/blog/a/?utm=2&x=y", "/blog/a/", "/blog/a/?"] {
        let res = get(addr, target).await;
        assert_eq!((res.status, res.cache()), (200, Some("HIT")), "{target}");
        assert_eq!(res.body, first.body, "{target}");
    }
    let page_data = get(addr, "/page-data/blog/a/page-data.json?v=3").await;
    assert_eq!((page_data.status, page_data.cache()), (200, Some("HIT")));
    assert_eq!(renderer.renders(), 1);
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn slash_variants_name_the_same_page() {
    let site = Site::new();
    let renderer = TestRenderer::new();
    let mut config = site.config(&[PAGE]);
    config.site.trailing_slash = TrailingSlash::Ignore;
    let server = start(config, &renderer).await;
    let addr = server.local_addr();

    let mut bodies = Vec::new();
    for target in ["/blog/a", "/blog/a/", "/blog/a//", "//blog//a/"] {
        let res = get(addr, target).await;
        assert_eq!(res.status, 200, "{target}");
        bodies.push(res.text());
    }
    assert!(bodies.iter().all(|b| *b == renderer.html(PAGE, 1)));
    assert_eq!(renderer.renders(), 1);
    assert_eq!(renderer.renders_of(PAGE), 1);
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn trailing_slash_always_redirects_the_variant_without_it_before_rendering() {
    let site = Site::new();
    let renderer = TestRenderer::new();
    let server = start(site.config(&[PAGE]), &renderer).await;
    let addr = server.local_addr();

    let res = get(addr, "/blog/a?x=1").await;
    assert_eq!(res.status, 301);
    assert_eq!(res.header("location"), Some("/blog/a/?x=1"));
    assert_eq!(renderer.renders(), 0);
    for target in ["/blog/a/", "/blog/a//"] {
        assert_eq!(get(addr, target).await.status, 200, "{target}");
    }
    assert_eq!(renderer.renders(), 1);
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn percent_encoded_korean_path_serves_the_page_listed_raw() {
    let korean = "/blog/안녕하세요/";
    let site = Site::new();
    let renderer = TestRenderer::new();
    let server = start(site.config(&[korean]), &renderer).await;
    let addr = server.local_addr();

    let encoded = percent_encode_path(korean);
    assert_eq!(
        encoded,
        "/blog/%EC%95%88%EB%85%95%ED%95%98%EC%84%B8%EC%9A%94/"
    );
    let html = get(addr, &encoded).await;
    assert_eq!((html.status, html.cache()), (200, Some("MISS")));
    // The renderer receives the path as the build listed it.
    assert_eq!(html.text(), renderer.html(korean, 1));
    assert_eq!(renderer.renders_of(korean), 1);

    let page_data = get(
        addr,
        &percent_encode_path("/page-data/blog/안녕하세요/page-data.json"),
    )
    .await;
    assert_eq!((page_data.status, page_data.cache()), (200, Some("HIT")));
    assert_eq!(page_data.text(), renderer.page_data(korean, 1));
    assert_eq!(renderer.renders(), 1);
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pages_render_independently() {
    let site = Site::new();
    let renderer = TestRenderer::new();
    let server = start(site.config(&["/blog/a/", "/blog/b/"]), &renderer).await;
    let addr = server.local_addr();

    let a = get(addr, "/blog/a/").await;
    let b = get(addr, "/blog/b/").await;
    assert_eq!(a.text(), renderer.html("/blog/a/", 1));
    assert_eq!(b.text(), renderer.html("/blog/b/", 1));
    assert_eq!(b.cache(), Some("MISS"));
    assert_eq!(renderer.renders_of("/blog/a/"), 1);
    assert_eq!(renderer.renders_of("/blog/b/"), 1);
    server.close().await;
}
