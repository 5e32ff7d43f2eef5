//! The memory tier stays within its byte bound; what it evicts is served from disk, not rendered
//! again.

mod common;

use common::*;

const BOUND: usize = 4_000;
/// Each page's HTML is about 700 bytes: a handful of pages fill the bound.
const PADDING: usize = 600;

fn pages(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("/many/{i}/")).collect()
}

fn refs(pages: &[String]) -> Vec<&str> {
    pages.iter().map(String::as_str).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_cache_stays_within_its_byte_bound() {
    let site = Site::new();
    let pages = pages(30);
    let mut config = site.config(&refs(&pages));
    config.memory_cache_bytes = BOUND;
    let renderer = TestRenderer::new();
    renderer.configure(|b| b.html_padding = PADDING);
    let server = start(config, &renderer).await;
    let addr = server.local_addr();

    for page in &pages {
        let res = get(addr, page).await;
        assert_eq!((res.status, res.cache()), (200, Some("MISS")), "{page}");
        let page_data = get(addr, &format!("/page-data{page}page-data.json")).await;
        assert_eq!(page_data.status, 200, "{page}");
        let stats = server.stats();
        assert!(
            stats.memory_bytes as usize <= BOUND,
            "{} bytes in memory after {page}, bound {BOUND}",
            stats.memory_bytes
        );
    }
    let stats = server.stats();
    assert!(stats.memory_bytes > 0);
    assert!(stats.memory_entries > 0 && stats.memory_entries < 60);

    // Without a disk cache, an evicted page is rendered again.
    let evicted = get(addr, &pages[0]).await;
    assert_eq!((evicted.status, evicted.cache()), (200, Some("MISS")));
    assert_eq!(
        evicted.text().len(),
        renderer.html(&pages[0], 2).len() + PADDING
    );
    assert_eq!(renderer.renders_of(&pages[0]), 2);
    assert!(server.stats().memory_bytes as usize <= BOUND);
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn page_evicted_from_memory_is_served_from_disk() {
    let site = Site::new();
    let pages = pages(12);
    let mut config = site.config(&refs(&pages));
    config.memory_cache_bytes = BOUND;
    config.cache_dir = Some(site.cache_dir());
    let renderer = TestRenderer::new();
    renderer.configure(|b| b.html_padding = PADDING);
    let server = start(config.clone(), &renderer).await;
    let addr = server.local_addr();

    for page in &pages {
        let res = get(addr, page).await;
        assert_eq!((res.status, res.cache()), (200, Some("MISS")), "{page}");
        let stored = stored_html(&site.cache_dir(), &config.build_id, page);
        eventually(&format!("{page} is on disk"), || stored.is_file()).await;
        assert!(server.stats().memory_bytes as usize <= BOUND);
    }

    let first = &pages[0];
    let res = get(addr, first).await;
    assert_eq!((res.status, res.cache()), (200, Some("HIT")));
    let mut expected = renderer.html(first, 1);
    expected.push_str(&"x".repeat(PADDING));
    assert_eq!(res.text(), expected);
    let page_data = get(addr, &format!("/page-data{first}page-data.json")).await;
    assert_eq!((page_data.status, page_data.cache()), (200, Some("HIT")));
    assert_eq!(page_data.text(), renderer.page_data(first, 1));
    assert_eq!(renderer.renders_of(first), 1);
    assert_eq!(renderer.renders(), pages.len());
    server.close().await;
}

/// An artifact larger than the whole memory bound is not kept in memory "(it is still served from
/// disk)". Between the end of its render and the end of its disk write, though, neither tier nor
/// a flight has it: a request in that window renders the page a second time.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn artifact_larger_than_the_memory_bound_is_not_rendered_twice() {
    const PAGE: &str = "/big/";
    let site = Site::new();
    let mut config = site.config(&[PAGE]);
    config.memory_cache_bytes = 64 * 1024;
    config.cache_dir = Some(site.cache_dir());
    let renderer = TestRenderer::new();
    renderer.configure(|b| b.html_padding = 64 * 1024 * 1024);
    let server = start(config.clone(), &renderer).await;
    let addr = server.local_addr();

    // HEAD: the response comes back as soon as the render publishes, without the 64 MiB body.
    let head = request(addr, "HEAD", PAGE).await;
    assert_eq!((head.status, head.cache()), (200, Some("MISS")));
    let res = get(addr, PAGE).await;
    assert_eq!(res.status, 200);
    assert_eq!(
        res.body.len(),
        renderer.html(PAGE, 1).len() + 64 * 1024 * 1024
    );
    assert_eq!(
        renderer.renders(),
        1,
        "a GET right after the first render rendered the page again (x-dsg-cache: {:?})",
        res.cache()
    );
    server.close().await;
}
