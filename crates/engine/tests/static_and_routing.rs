//! What is not a deferred page: files of `public/`, redirects, unknown paths, bad paths.

mod common;

use common::*;

const PAGE: &str = "/blog/a/";
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const REVALIDATE: &str = "public, max-age=0, must-revalidate";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_path_is_the_sites_404_page_without_rendering() {
    let site = Site::new();
    let renderer = TestRenderer::new();
    let server = start(site.config(&[PAGE]), &renderer).await;
    let addr = server.local_addr();

    for target in ["/nope/", "/blog/b/", "/blog/a/extra/", "/nope.js"] {
        let res = get(addr, target).await;
        assert_eq!(res.status, 404, "{target}");
        assert_eq!(res.text(), NOT_FOUND_HTML, "{target}");
        assert_eq!(res.header("content-type"), Some("text/html; charset=utf-8"));
        assert_eq!(res.cache(), None, "no deferred page involved in {target}");
        res.assert_security_headers();
    }
    assert_eq!(renderer.renders(), 0);
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_page_data_path_is_404_without_rendering() {
    let site = Site::new();
    let renderer = TestRenderer::new();
    let server = start(site.config(&[PAGE]), &renderer).await;
    let addr = server.local_addr();

    for target in [
        "/page-data/nope/page-data.json",
        "/page-data/blog/b/page-data.json",
        "/page-data/page-data.json",
    ] {
        let res = get(addr, target).await;
        assert_eq!(res.status, 404, "{target}");
        assert_eq!(res.text(), NOT_FOUND_HTML, "{target}");
    }
    assert_eq!(renderer.renders(), 0);
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn static_page_is_served_from_its_index_html() {
    let site = Site::new();
    let renderer = TestRenderer::new();
    let server = start(site.config(&[PAGE]), &renderer).await;
    let addr = server.local_addr();

    let about = get(addr, "/about/").await;
    assert_eq!(about.status, 200);
    assert_eq!(about.text(), ABOUT_HTML);
    assert_eq!(
        about.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(about.header("cache-control"), Some(REVALIDATE));
    assert_eq!(about.cache(), None);
    about.assert_security_headers();

    let home = get(addr, "/").await;
    assert_eq!((home.status, home.text()), (200, INDEX_HTML.to_string()));

    let page_data = get(addr, "/page-data/about/page-data.json").await;
    assert_eq!(page_data.status, 200);
    assert_eq!(page_data.text(), ABOUT_PAGE_DATA);
    assert_eq!(
        page_data.header("content-type"),
        Some("application/json; charset=utf-8")
    );
    assert_eq!(page_data.header("cache-control"), Some(REVALIDATE));
    assert_eq!(renderer.renders(), 0);
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn directory_without_trailing_slash_redirects_permanently() {
    let site = Site::new();
    let renderer = TestRenderer::new();
    let server = start(site.config(&[PAGE]), &renderer).await;
    let addr = server.local_addr();

    let res = get(addr, "/about").await;
    assert_eq!(res.status, 301);
    assert_eq!(res.header("location"), Some("/about/"));
    // A 301 without Cache-Control is kept heuristically by browsers: redirects revalidate.
    assert_eq!(
        res.header("cache-control"),
        Some("public, max-age=0, must-revalidate")
    );

    let with_query = get(addr, "/about?ref=x").await;
    assert_eq!(with_query.status, 301);
    assert_eq!(with_query.header("location"), Some("/about/?ref=x"));
    server.close().await;
}

/// `//about` names the local directory `/about`; its redirect must stay on this host. A
/// `Location: //about/` is a scheme-relative URL: browsers go to the host `about`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirect_location_stays_on_this_host() {
    let site = Site::new();
    let renderer = TestRenderer::new();
    let server = start(site.config(&[PAGE]), &renderer).await;
    let addr = server.local_addr();

    let res = get(addr, "//about").await;
    assert_eq!(res.status, 301);
    let location = res.header("location").expect("a Location header");
    assert!(
        location.starts_with('/') && !location.starts_with("//"),
        "redirect leaves the site: Location: {location}"
    );
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traversal_above_the_root_is_a_bad_request() {
    let site = Site::new();
    let renderer = TestRenderer::new();
    let server = start(site.config(&[PAGE]), &renderer).await;
    let addr = server.local_addr();

    for target in [
        "/../../etc/passwd",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/about/../../etc/passwd",
    ] {
        // Sent as-is in the request line: no client-side normalisation.
        let res = send_raw(addr, &request_bytes("GET", target)).await;
        assert_eq!(res.status, 400, "{target}");
        assert!(!res.text().contains("root:"), "{target}");
    }
    // Dot segments that stay inside the site are resolved.
    let inside = send_raw(addr, &request_bytes("GET", "/blog/../about/")).await;
    assert_eq!(
        (inside.status, inside.text()),
        (200, ABOUT_HTML.to_string())
    );
    assert_eq!(renderer.renders(), 0);
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hashed_and_static_assets_are_immutable() {
    let site = Site::new();
    let renderer = TestRenderer::new();
    let server = start(site.config(&[PAGE]), &renderer).await;
    let addr = server.local_addr();

    for target in ["/static/x.js", HASHED_APP_JS] {
        let res = get(addr, target).await;
        assert_eq!(res.status, 200, "{target}");
        assert_eq!(res.text(), STATIC_JS, "{target}");
        assert_eq!(res.header("cache-control"), Some(IMMUTABLE), "{target}");
        assert_eq!(
            res.header("content-type"),
            Some("text/javascript; charset=utf-8"),
            "{target}"
        );
        res.assert_security_headers();
    }
    let service_worker = get(addr, "/sw.js").await;
    assert_eq!(service_worker.status, 200);
    assert_eq!(service_worker.header("cache-control"), Some(REVALIDATE));
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deferred_page_is_not_shadowed_by_a_stale_file_in_public() {
    let site = Site::new();
    // An older build left this page's HTML in public/; this build defers the page.
    site.write("blog/a/index.html", "<html>stale</html>");
    let renderer = TestRenderer::new();
    let server = start(site.config(&[PAGE]), &renderer).await;

    let res = get(server.local_addr(), PAGE).await;
    assert_eq!(res.status, 200);
    assert_eq!(res.text(), renderer.html(PAGE, 1));
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conditional_redirect_applies_to_requests_meeting_its_language_and_country() {
    use gatsby_dsg_engine::{RedirectConditions, RedirectSpec};
    let site = Site::new();
    let renderer = TestRenderer::new();
    let mut config = site.config(&[PAGE]);
    let conditional = |from: &str, language: &[&str], country: &[&str]| RedirectSpec {
        from_path: from.into(),
        to_path: "/about/".into(),
        is_permanent: false,
        status_code: None,
        ignore_case: false,
        force: false,
        conditions: RedirectConditions {
            language: language.iter().map(|s| s.to_string()).collect(),
            country: country.iter().map(|s| s.to_string()).collect(),
            unknown: vec![],
        },
    };
    config.site.redirects = vec![
        conditional("/de/", &["de"], &[]),
        conditional("/us/", &[], &["us"]),
    ];
    config.country_header = Some("cf-ipcountry".into());
    let server = start(config, &renderer).await;
    let addr = server.local_addr();
    let with = |target: &str, header: &str| {
        let raw = format!(
            "GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n{header}Connection: close\r\n\r\n"
        );
        async move { send_raw(addr, raw.as_bytes()).await }
    };
    assert_eq!(
        with("/de/", "Accept-Language: de-AT,en;q=0.5\r\n")
            .await
            .status,
        302
    );
    assert_eq!(with("/de/", "Accept-Language: en\r\n").await.status, 404);
    assert_eq!(
        with("/de/", "").await.status,
        404,
        "no Accept-Language: not evaluable"
    );
    assert_eq!(with("/us/", "CF-IPCountry: US\r\n").await.status, 302);
    assert_eq!(with("/us/", "CF-IPCountry: DE\r\n").await.status, 404);
    assert_eq!(
        with("/us/", "").await.status,
        404,
        "no country header: not evaluable"
    );
    server.close().await;
}
