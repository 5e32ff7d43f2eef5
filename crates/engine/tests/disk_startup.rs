//! Start-up does not depend on what the disk tier holds: the store is swept and counted in the
//! background, and serving never waits for it. The sweep is held with `before_disk_sweep`, so the
//! order is proven, not timed.

mod common;

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use gatsby_dsg_engine::config::SweepHook;
use gatsby_dsg_engine::{ManifestSource, Renderer, Server, ServerConfig};

const PAGE: &str = "/blog/a/";
const PAGE_DATA_URL: &str = "/page-data/blog/a/page-data.json";

/// A hook that blocks the sweep until the returned sender sends (or is dropped).
fn held_sweep() -> (SweepHook, mpsc::Sender<()>, Arc<Mutex<bool>>) {
    let (release, held) = mpsc::channel::<()>();
    let held = Mutex::new(held);
    let began = Arc::new(Mutex::new(false));
    let seen = Arc::clone(&began);
    let hook = SweepHook(Arc::new(move || {
        *seen.lock().unwrap() = true;
        let _ = held.lock().unwrap().recv();
    }));
    (hook, release, began)
}

/// Starts a server over what an earlier one stored, its sweep held until the returned sender
/// sends; returns once the sweep began.
async fn restart_with_the_sweep_held(
    config: &mut ServerConfig,
) -> (Server, Arc<TestRenderer>, mpsc::Sender<()>) {
    let (hook, release, began) = held_sweep();
    config.before_disk_sweep = Some(hook);
    let renderer = TestRenderer::named("later");
    let server = start(config.clone(), &renderer).await;
    eventually("the sweep began", || *began.lock().unwrap()).await;
    (server, renderer, release)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn static_files_and_stored_pages_are_served_while_the_sweep_is_held() {
    let site = Site::new();
    let mut config = site.config(&[PAGE, "/blog/b/"]);
    config.cache_dir = Some(site.cache_dir());

    // An earlier process stored /blog/a/ (HTML and page-data).
    let earlier = TestRenderer::named("earlier");
    let server = start(config.clone(), &earlier).await;
    assert_eq!(get(server.local_addr(), PAGE).await.status, 200);
    eventually("the page-data and HTML are stored", || {
        stored_html(&site.cache_dir(), &config.build_id, PAGE).is_file()
            && stored_page_data(&site.cache_dir(), &config.build_id, PAGE).is_file()
    })
    .await;
    server.close().await;

    let (server, renderer, release) = restart_with_the_sweep_held(&mut config).await;
    let addr = server.local_addr();
    // Not counted yet: the sweep is held.
    assert_eq!(server.summary().generated_pages, None);

    let index = get(addr, "/").await;
    assert_eq!(index.status, 200);
    let html = get(addr, PAGE).await;
    assert_eq!((html.status, html.cache()), (200, Some("HIT")));
    assert_eq!(html.text(), earlier.html(PAGE, 1));
    let page_data = get(addr, PAGE_DATA_URL).await;
    assert_eq!((page_data.status, page_data.cache()), (200, Some("HIT")));
    // A page never stored is a miss, rendered once, as always.
    let other = get(addr, "/blog/b/").await;
    assert_eq!((other.status, other.cache()), (200, Some("MISS")));
    assert_eq!(renderer.renders(), 1);
    assert_eq!(server.summary().generated_pages, None, "still held");

    release.send(()).unwrap();
    eventually("the sweep counted the stored page", || {
        server.summary().generated_pages == Some(1)
    })
    .await;
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn start_returns_without_waiting_longer_than_its_bound_for_a_held_sweep() {
    let site = Site::new();
    let mut config = site.config(&[PAGE]);
    config.cache_dir = Some(site.cache_dir());
    let (hook, release, _) = held_sweep();
    config.before_disk_sweep = Some(hook);
    config.disk_count_wait = Duration::ZERO;
    let renderer = TestRenderer::new();
    // The sweep never finishes while held: start must not wait for it.
    let server = within("start", start(config, &renderer)).await;
    assert_eq!(get(server.local_addr(), "/").await.status, 200);
    assert_eq!(server.summary().generated_pages, None);
    drop(release);
    eventually("the sweep finished", || {
        server.summary().generated_pages == Some(0)
    })
    .await;
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_store_swept_within_the_wait_is_counted_when_start_returns() {
    let site = Site::new();
    let mut config = site.config(&[PAGE]);
    config.cache_dir = Some(site.cache_dir());
    let renderer = TestRenderer::new();
    let server = start(config.clone(), &renderer).await;
    assert_eq!(server.summary().generated_pages, Some(0));
    assert_eq!(get(server.local_addr(), PAGE).await.status, 200);
    server.close().await;
    let server = start(config, &renderer).await;
    assert_eq!(server.summary().generated_pages, Some(1));
    server.close().await;
}

/// `config` with its pages moved into a plugin manifest file (as `serve()` starts the engine).
fn from_manifest(site: &Site, mut config: ServerConfig, build_id: &str) -> ServerConfig {
    let pages: Vec<_> = config
        .deferred_pages
        .drain(..)
        .map(
            |p| serde_json::json!({ "path": p.path, "matchPath": null, "componentChunkName": "c" }),
        )
        .collect();
    let file = site.cache_dir().with_file_name("deferred-pages.json");
    let manifest = serde_json::json!({
        "version": 2, "buildId": build_id, "site": {}, "pages": pages, "ssrPages": [],
    });
    std::fs::write(&file, manifest.to_string()).unwrap();
    config.manifest = Some(ManifestSource {
        file,
        build_id: Some(build_id.to_string()),
    });
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pages_read_from_the_manifest_file_are_served_from_the_store_while_the_sweep_is_held() {
    let site = Site::new();
    let mut config = from_manifest(&site, site.config(&[PAGE, "/blog/b/"]), "plugin-1");
    config.cache_dir = Some(site.cache_dir());

    let earlier = TestRenderer::named("earlier");
    let server = start(config.clone(), &earlier).await;
    assert_eq!(server.summary().deferred_pages, 2);
    assert_eq!(get(server.local_addr(), PAGE).await.status, 200);
    eventually("the HTML is stored", || {
        stored_html(&site.cache_dir(), &config.build_id, PAGE).is_file()
    })
    .await;
    server.close().await;

    let (server, renderer, release) = restart_with_the_sweep_held(&mut config).await;
    let addr = server.local_addr();
    assert_eq!(get(addr, "/").await.status, 200);
    let html = get(addr, PAGE).await;
    assert_eq!((html.status, html.cache()), (200, Some("HIT")));
    assert_eq!(get(addr, "/blog/not-listed/").await.status, 404);
    assert_eq!(
        renderer.renders(),
        0,
        "neither the hit nor the 404 rendered"
    );
    release.send(()).unwrap();
    server.close().await;
}

#[tokio::test]
async fn a_manifest_of_another_build_than_its_head_is_refused_at_start() {
    let site = Site::new();
    let mut config = from_manifest(&site, site.config(&[PAGE]), "plugin-1");
    if let Some(source) = config.manifest.as_mut() {
        source.build_id = Some("plugin-2".into());
    }
    let renderer: Arc<dyn Renderer> = TestRenderer::named("r");
    let error = Server::start(config, renderer)
        .await
        .err()
        .expect("start is refused");
    let message = error.to_string();
    assert!(message.contains("deferred-pages.json"), "{message}");
    assert!(message.contains("run `gatsby build` again"), "{message}");
}
