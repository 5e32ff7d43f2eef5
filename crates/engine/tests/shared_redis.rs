//! Several instances sharing one real `redis-server` (started here on a loopback port):
//! cluster-wide single flight, artifacts shared, purges reaching every instance, Redis going away
//! and coming back.

mod common;
mod redis_support;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use gatsby_dsg_engine::{RedisConfig, Server};
use redis_support::Redis;

const PAGE: &str = "/blog/a/";

struct Instance {
    server: Server,
    renderer: Arc<TestRenderer>,
}

async fn instances(site: &Site, redis: &Redis, n: usize, lock_ttl: Duration) -> Vec<Instance> {
    instances_with(site, redis, n, |config| config.lock_ttl = lock_ttl, None).await
}

async fn instances_with(
    site: &Site,
    redis: &Redis,
    n: usize,
    change: impl Fn(&mut RedisConfig),
    revalidate_after: Option<Duration>,
) -> Vec<Instance> {
    let mut out = Vec::new();
    for i in 0..n {
        let renderer = TestRenderer::named(&format!("instance-{i}"));
        let pages: Vec<String> = (0..100).map(|n| format!("/p/{n}/")).collect();
        let mut all: Vec<&str> = pages.iter().map(String::as_str).collect();
        all.extend([PAGE, "/blog/b/"]);
        let mut config = site.config(&all);
        config.cache_dir = None; // each instance: memory, then Redis
        let mut redis_config = RedisConfig {
            namespace: "test-site".into(),
            ..RedisConfig::new(redis.url())
        };
        change(&mut redis_config);
        config.redis = Some(redis_config);
        config.revalidate_after = revalidate_after;
        let server = start(config, &renderer).await;
        out.push(Instance { server, renderer });
    }
    // Each instance connects in the background: a command connection and a purge subscription.
    let connected = || {
        redis
            .cli(&["INFO", "clients"])
            .lines()
            .find_map(|l| l.strip_prefix("connected_clients:"))
            .and_then(|n| n.trim().parse::<usize>().ok())
            .unwrap_or(0)
    };
    for _ in 0..200 {
        if connected() >= 2 * n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    out
}

fn total_renders(instances: &[Instance]) -> usize {
    instances.iter().map(|i| i.renderer.renders()).sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_first_requests_over_three_instances_render_once() {
    let site = Site::new();
    let redis = Redis::start();
    let cluster = instances(&site, &redis, 3, RedisConfig::DEFAULT_LOCK_TTL).await;
    // Slow enough that all requests overlap the one render.
    for i in &cluster {
        i.renderer
            .configure(|b| b.page_data_delay = Some(Duration::from_millis(200)));
    }
    let mut requests = Vec::new();
    for n in 0..100 {
        let addr = cluster[n % 3].server.local_addr();
        requests.push(tokio::spawn(get(addr, PAGE)));
    }
    let mut bodies = std::collections::HashSet::new();
    for r in requests {
        let res = r.await.unwrap();
        assert_eq!(res.status, 200);
        bodies.insert(res.text());
    }
    assert_eq!(
        total_renders(&cluster),
        1,
        "one render in the whole cluster"
    );
    assert_eq!(bodies.len(), 1, "every instance served the same artifact");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn artifact_rendered_by_one_instance_is_a_hit_on_the_others() {
    let site = Site::new();
    let redis = Redis::start();
    let cluster = instances(&site, &redis, 3, RedisConfig::DEFAULT_LOCK_TTL).await;
    let first = get(cluster[0].server.local_addr(), PAGE).await;
    assert_eq!(first.cache(), Some("MISS"));
    // The renderer stores in Redis after compressing, off the response path.
    eventually("stored in Redis", || {
        cluster[0].server.stats().renders_in_flight == 0
    })
    .await;
    for i in &cluster[1..] {
        let res = get(i.server.local_addr(), PAGE).await;
        assert_eq!((res.status, res.cache()), (200, Some("HIT")));
        assert_eq!(res.text(), first.text());
    }
    assert_eq!(total_renders(&cluster), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn purge_on_one_instance_is_gone_on_all() {
    let site = Site::new();
    let redis = Redis::start();
    let cluster = instances(&site, &redis, 3, RedisConfig::DEFAULT_LOCK_TTL).await;
    get(cluster[0].server.local_addr(), PAGE).await;
    eventually("stored", || {
        cluster[0].server.stats().renders_in_flight == 0
    })
    .await;
    for i in &cluster {
        assert_eq!(get(i.server.local_addr(), PAGE).await.cache(), Some("HIT"));
    }
    cluster[1]
        .server
        .purge(gatsby_dsg_engine::PurgeRequest::Path(PAGE))
        .await
        .unwrap();
    eventually("purged from every memory", || {
        cluster.iter().all(|i| i.server.stats().memory_entries == 0)
    })
    .await;
    let again = get(cluster[2].server.local_addr(), PAGE).await;
    assert_eq!(again.cache(), Some("MISS"));
    assert_eq!(total_renders(&cluster), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lock_of_a_dead_renderer_expires_and_another_instance_renders() {
    let site = Site::new();
    let redis = Redis::start();
    let cluster = instances(&site, &redis, 1, Duration::from_millis(600)).await;
    // A lock left by an instance that died mid-render: another token, a short TTL.
    let build = site.config(&[]).build_id.to_string();
    let lock = format!("test-site:{build}:lock:{{{PAGE}}}");
    assert_eq!(
        redis.cli(&["SET", &lock, "dead-instance", "PX", "500"]),
        "OK"
    );
    let res = within(
        "the render after the TTL",
        get(cluster[0].server.local_addr(), PAGE),
    )
    .await;
    assert_eq!((res.status, res.cache()), (200, Some("MISS")));
    assert_eq!(cluster[0].renderer.renders(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_down_keeps_serving_and_sharing_resumes_when_it_is_back() {
    let site = Site::new();
    let mut redis = Redis::start();
    let cluster = instances(&site, &redis, 2, RedisConfig::DEFAULT_LOCK_TTL).await;
    redis.stop();
    // Served and rendered locally, within the bound of Redis's timeouts.
    let res = within(
        "served without Redis",
        get(cluster[0].server.local_addr(), PAGE),
    )
    .await;
    assert_eq!(res.status, 200);
    let res = within(
        "served without Redis",
        get(cluster[1].server.local_addr(), PAGE),
    )
    .await;
    assert_eq!(res.status, 200);
    assert_eq!(
        total_renders(&cluster),
        2,
        "each instance rendered for itself"
    );

    let _redis = Redis::start_on(redis.port);
    // Once both have reconnected, a page rendered by one instance is a HIT on the other.
    let mut shared = false;
    for n in 0..100 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let page = format!("/p/{n}/");
        get(cluster[0].server.local_addr(), &page).await;
        eventually("stored", || {
            cluster[0].server.stats().renders_in_flight == 0
        })
        .await;
        if get(cluster[1].server.local_addr(), &page).await.cache() == Some("HIT") {
            shared = true;
            break;
        }
    }
    assert!(shared, "sharing resumed after Redis came back");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_expired_page_is_refreshed_once_for_all_instances() {
    let site = Site::new();
    let redis = Redis::start();
    let revalidate = Some(Duration::from_millis(300));
    let cluster = instances_with(&site, &redis, 3, |_| {}, revalidate).await;
    get(cluster[0].server.local_addr(), PAGE).await;
    eventually("stored", || {
        cluster[0].server.stats().renders_in_flight == 0
    })
    .await;
    for i in &cluster[1..] {
        assert_eq!(get(i.server.local_addr(), PAGE).await.cache(), Some("HIT"));
    }
    for i in &cluster {
        i.renderer
            .configure(|b| b.page_data_delay = Some(Duration::from_millis(100)));
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    // Every instance finds its copy expired at once: STALE, and a refresh asked of each.
    let mut requests = Vec::new();
    for i in &cluster {
        requests.push(tokio::spawn(get(i.server.local_addr(), PAGE)));
    }
    for r in requests {
        let res = r.await.unwrap();
        assert_eq!((res.status, res.cache()), (200, Some("STALE")));
    }
    eventually("refreshed everywhere", || {
        cluster
            .iter()
            .all(|i| i.server.stats().renders_in_flight == 0)
    })
    .await;
    assert_eq!(
        total_renders(&cluster),
        2,
        "one refresh for the three instances"
    );
    let bodies: std::collections::HashSet<String> = {
        let mut bodies = std::collections::HashSet::new();
        for i in &cluster {
            let res = get(i.server.local_addr(), PAGE).await;
            assert_eq!(res.cache(), Some("HIT"));
            bodies.insert(res.text());
        }
        bodies
    };
    assert_eq!(bodies.len(), 1, "every instance serves the refreshed page");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn artifacts_expire_in_redis_after_the_artifact_ttl() {
    let site = Site::new();
    let redis = Redis::start();
    let ttl = Duration::from_millis(1500);
    let cluster = instances_with(&site, &redis, 2, |c| c.artifact_ttl = Some(ttl), None).await;
    get(cluster[0].server.local_addr(), PAGE).await;
    eventually("stored", || {
        cluster[0].server.stats().renders_in_flight == 0
    })
    .await;
    let build = site.config(&[]).build_id.to_string();
    let key = format!("test-site:{build}:artifact:html:{{{PAGE}}}");
    let pttl: i64 = redis.cli(&["PTTL", &key]).parse().unwrap();
    assert!(pttl > 0 && pttl <= 1500, "PTTL {pttl}");
    tokio::time::sleep(Duration::from_millis(1700)).await;
    assert_eq!(redis.cli(&["EXISTS", &key]), "0");
    // The other instance no longer finds it in Redis: it renders.
    let res = get(cluster[1].server.local_addr(), PAGE).await;
    assert_eq!(res.cache(), Some("MISS"));
    assert_eq!(total_renders(&cluster), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn readiness_is_503_while_redis_does_not_answer_and_200_once_it_is_back() {
    let site = Site::new();
    let mut redis = Redis::start();
    let cluster = instances(&site, &redis, 1, RedisConfig::DEFAULT_LOCK_TTL).await;
    let addr = cluster[0].server.local_addr();
    let readyz = || async move {
        let res = within("readyz answered", get(addr, "/__dsg/readyz")).await;
        let body: serde_json::Value = serde_json::from_slice(&res.body).unwrap();
        (res.status, body)
    };
    let (status, body) = readyz().await;
    assert_eq!(
        (status, &body["redis"]),
        (200, &serde_json::json!("reachable"))
    );

    redis.stop();
    let (status, body) = readyz().await;
    assert_eq!(status, 503);
    assert_eq!(body["redis"], "unreachable");
    assert_eq!(
        body["waitingFor"],
        serde_json::json!(["Redis does not answer"])
    );
    // Not ready, still alive and serving: pages render locally.
    assert_eq!(get(addr, "/__dsg/livez").await.status, 200);
    assert_eq!(get(addr, PAGE).await.status, 200);

    let _redis = Redis::start_on(redis.port);
    let mut back = false;
    for _ in 0..100 {
        if readyz().await.0 == 200 {
            back = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(back, "ready again once Redis answers");
}
