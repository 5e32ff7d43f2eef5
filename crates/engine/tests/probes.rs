//! The probes over real HTTP: `/__dsg/livez` and `/__dsg/readyz` answer without a token, whether
//! or not one is configured, while the other admin endpoints still need it; readiness follows the
//! render pool (workers still loading Gatsby's engines, all of them gone).

mod common;

use std::sync::Arc;

use common::*;
use gatsby_dsg_engine::render::pool::RendererPool;
use gatsby_dsg_engine::render::Renderer;
use gatsby_dsg_engine::Server;

const PAGE: &str = "/blog/a/";

fn json(res: &Response) -> serde_json::Value {
    serde_json::from_slice(&res.body).expect("a JSON body")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_answer_without_a_token_while_health_metrics_and_purge_still_need_it() {
    let site = Site::new();
    for token in [None, Some("s3cret".to_string())] {
        let mut config = site.config(&[PAGE]);
        config.admin_token = token.clone();
        let renderer = TestRenderer::new();
        let server = start(config, &renderer).await;
        let addr = server.local_addr();

        let live = get(addr, "/__dsg/livez").await;
        assert_eq!(live.status, 200, "livez with token {token:?}");
        assert_eq!(json(&live), serde_json::json!({ "status": "live" }));
        assert_eq!(live.header("cache-control"), Some("no-store"));
        assert_eq!(
            live.header("content-type"),
            Some("application/json; charset=utf-8")
        );
        let ready = get(addr, "/__dsg/readyz").await;
        assert_eq!(ready.status, 200, "readyz with token {token:?}");
        assert_eq!(
            json(&ready),
            serde_json::json!({ "status": "ready", "renderWorkersReady": 1 })
        );
        let head = request(addr, "HEAD", "/__dsg/readyz").await;
        assert_eq!((head.status, head.body.len()), (200, 0));
        assert_eq!(request(addr, "POST", "/__dsg/livez").await.status, 405);

        // The rest of /__dsg/ is unchanged: 404 without a token configured, 401 without it sent.
        let unauthenticated = if token.is_some() { 401 } else { 404 };
        for path in ["/__dsg/health", "/__dsg/metrics"] {
            assert_eq!(get(addr, path).await.status, unauthenticated, "{path}");
        }
        assert_eq!(
            request(addr, "POST", "/__dsg/purge?all=1").await.status,
            unauthenticated
        );
        // Nothing was rendered and the probes say nothing about the build.
        assert_eq!(renderer.renders(), 0);
        assert!(!String::from_utf8_lossy(&ready.body).contains("build"));
        server.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_is_503_until_a_render_worker_takes_renders_and_again_when_none_does() {
    let site = Site::new();
    let pool = Arc::new(RendererPool::new());
    let server = Server::start(site.config(&[PAGE]), pool.clone() as Arc<dyn Renderer>)
        .await
        .expect("server starts");
    let addr = server.local_addr();

    // Workers still loading: alive, not ready.
    assert_eq!(get(addr, "/__dsg/livez").await.status, 200);
    let waiting = get(addr, "/__dsg/readyz").await;
    assert_eq!(waiting.status, 503);
    assert_eq!(waiting.header("cache-control"), Some("no-store"));
    assert_eq!(
        json(&waiting),
        serde_json::json!({
            "status": "not ready",
            "renderWorkersReady": 0,
            "waitingFor": ["no render worker is ready"],
        })
    );

    let first = pool.add(TestRenderer::new());
    let second = pool.add(TestRenderer::new());
    let ready = get(addr, "/__dsg/readyz").await;
    assert_eq!(ready.status, 200);
    assert_eq!(json(&ready)["renderWorkersReady"], 2);

    // One retiring (recycled), the other gone: none takes renders.
    pool.retire(first);
    assert_eq!(
        json(&get(addr, "/__dsg/readyz").await)["renderWorkersReady"],
        1
    );
    pool.remove(second);
    assert_eq!(get(addr, "/__dsg/readyz").await.status, 503);
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_site_without_deferred_pages_is_ready_without_any_renderer() {
    let site = Site::new();
    let server = Server::start(
        site.config(&[]),
        Arc::new(RendererPool::new()) as Arc<dyn Renderer>,
    )
    .await
    .expect("server starts");
    let ready = get(server.local_addr(), "/__dsg/readyz").await;
    assert_eq!(ready.status, 200);
    assert_eq!(json(&ready)["status"], "ready");
    server.close().await;
}
