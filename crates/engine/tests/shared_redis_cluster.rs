//! The shared tier on a real Redis Cluster (3 masters, 1 replica each, started here on loopback
//! ports): one render per page for all instances, a page's keys on one master while pages spread
//! over every master, purges reaching every master and instance, and a master killed mid-load.

mod common;
mod redis_support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use gatsby_dsg_engine::{PurgeRequest, RedisConfig, Server};
use redis_support::Cluster;

const NS: &str = "cluster-site";

struct Instance {
    server: Server,
    renderer: Arc<TestRenderer>,
}

fn pages(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("/p/{i}/")).collect()
}

async fn instance(site: &Site, cluster: &Cluster, name: &str) -> Instance {
    let renderer = TestRenderer::named(name);
    let all = pages(300);
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    let mut config = site.config(&all);
    config.cache_dir = None;
    config.redis = Some(RedisConfig {
        namespace: NS.into(),
        ..RedisConfig::new(cluster.url())
    });
    let server = start(config, &renderer).await;
    Instance { server, renderer }
}

async fn instances(site: &Site, cluster: &Cluster, n: usize) -> Vec<Instance> {
    let mut out = Vec::new();
    for i in 0..n {
        out.push(instance(site, cluster, &format!("instance-{i}")).await);
    }
    cluster.wait_connected(n).await;
    out
}

fn total_renders(instances: &[Instance]) -> usize {
    instances.iter().map(|i| i.renderer.renders()).sum()
}

async fn settled(instances: &[Instance]) {
    eventually("nothing in flight", || {
        instances
            .iter()
            .all(|i| i.server.stats().renders_in_flight == 0)
    })
    .await;
}

/// Artifact keys on each master, by its port.
fn artifact_keys_by_master(cluster: &Cluster) -> BTreeMap<u16, Vec<String>> {
    cluster
        .masters()
        .into_iter()
        .map(|m| (m.port, m.keys(&format!("{NS}:*:artifact:*"))))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_instances_render_each_page_once_with_its_keys_on_one_master_and_pages_on_every_master(
) {
    let cluster = Cluster::start(3);
    let site = Site::new();
    let group = instances(&site, &cluster, 3).await;
    for i in &group {
        i.renderer
            .configure(|b| b.page_data_delay = Some(Duration::from_millis(100)));
    }
    // Every page asked of all three instances at once, 60 pages concurrently.
    let paths = pages(60);
    let mut requests = Vec::new();
    for path in &paths {
        for i in &group {
            let (addr, path) = (i.server.local_addr(), path.clone());
            requests.push(tokio::spawn(async move { get(addr, &path).await }));
        }
    }
    for r in requests {
        assert_eq!(r.await.unwrap().status, 200);
    }
    settled(&group).await;
    assert_eq!(
        total_renders(&group),
        60,
        "one render per page in the whole cluster"
    );

    let by_master = artifact_keys_by_master(&cluster);
    assert_eq!(by_master.len(), 3);
    let total: usize = by_master.values().map(Vec::len).sum();
    assert_eq!(total, 120, "two artifacts per page: {by_master:?}");
    for (port, keys) in &by_master {
        assert!(
            keys.len() >= 10,
            "master {port} holds only {} keys",
            keys.len()
        );
        // Both artifacts of each page it holds are here: one page, one slot, one master.
        let pages_of = |kind: &str| -> BTreeSet<String> {
            keys.iter()
                .filter(|k| k.contains(&format!(":artifact:{kind}:")))
                .map(|k| k.rsplit_once(":{").unwrap().1.to_string())
                .collect()
        };
        assert_eq!(pages_of("html"), pages_of("page-data"), "master {port}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn purges_of_a_page_and_of_everything_reach_every_master_and_instance() {
    let cluster = Cluster::start(3);
    let site = Site::new();
    let group = instances(&site, &cluster, 3).await;
    let paths = pages(40);
    for path in &paths {
        get(group[0].server.local_addr(), path).await;
    }
    settled(&group).await;
    for path in &paths[..5] {
        for i in &group[1..] {
            assert_eq!(get(i.server.local_addr(), path).await.cache(), Some("HIT"));
        }
    }
    group[1]
        .server
        .purge(PurgeRequest::Path("/p/0/"))
        .await
        .unwrap();
    let remaining: usize = artifact_keys_by_master(&cluster)
        .values()
        .map(Vec::len)
        .sum();
    assert_eq!(remaining, 78);
    eventually("the page gone from every instance's memory", || {
        group[1..]
            .iter()
            .all(|i| i.server.stats().memory_entries == 8)
    })
    .await;

    group[2].server.purge(PurgeRequest::All).await.unwrap();
    let by_master = artifact_keys_by_master(&cluster);
    assert!(
        by_master.values().all(Vec::is_empty),
        "every master emptied: {by_master:?}"
    );
    eventually("every instance emptied", || {
        group.iter().all(|i| i.server.stats().memory_entries == 0)
    })
    .await;
    let before = total_renders(&group);
    let again = get(group[0].server.local_addr(), "/p/7/").await;
    assert_eq!((again.status, again.cache()), (200, Some("MISS")));
    assert_eq!(total_renders(&group), before + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_master_killed_mid_load_fails_over_every_request_is_answered_and_nothing_stored_is_lost()
{
    let mut cluster = Cluster::start(3);
    let site = Site::new();
    let group = instances(&site, &cluster, 3).await;
    // Stored before the kill, and replicated.
    let stored = pages(30);
    for path in &stored {
        get(group[0].server.local_addr(), path).await;
    }
    settled(&group).await;
    cluster.wait_for_replication();

    // Load: new pages and stored ones on all instances, until told to stop.
    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicUsize::new(0));
    let mut load = Vec::new();
    for (n, i) in group.iter().enumerate() {
        let (addr, stop, answered) = (
            i.server.local_addr(),
            Arc::clone(&stop),
            Arc::clone(&answered),
        );
        load.push(tokio::spawn(async move {
            let mut statuses = Vec::new();
            let mut k = 0;
            while !stop.load(Ordering::Relaxed) {
                let path = format!("/p/{}/", 30 + (n * 90 + k) % 270);
                statuses.push(get(addr, &path).await.status);
                statuses.push(get(addr, &format!("/p/{}/", k % 30)).await.status);
                answered.fetch_add(2, Ordering::Relaxed);
                k += 1;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            statuses
        }));
    }
    eventually("load under way", || answered.load(Ordering::Relaxed) >= 30).await;
    let killed = cluster.kill_master(0);
    // Failure detection (cluster-node-timeout 1 s), then a replica is promoted.
    tokio::task::block_in_place(|| cluster.wait_until_ok());
    let at_failover = answered.load(Ordering::Relaxed);
    eventually("load continues after the failover", || {
        answered.load(Ordering::Relaxed) >= at_failover + 60
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    for task in load {
        let statuses = task.await.unwrap();
        assert!(
            statuses.iter().all(|&s| s == 200),
            "every request answered 200 across the kill of master {killed}"
        );
    }
    assert_eq!(cluster.masters().len(), 3, "a replica took over");

    // A new instance finds every page stored before the kill in the cluster.
    let fresh = instance(&site, &cluster, "fresh").await;
    cluster.wait_connected(4).await;
    for path in &stored {
        let res = get(fresh.server.local_addr(), path).await;
        assert_eq!((res.status, res.cache()), (200, Some("HIT")), "{path}");
    }
    assert_eq!(fresh.renderer.renders(), 0, "nothing stored was lost");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_render_finished_while_its_master_fails_over_is_stored_afterwards_and_not_rendered_again()
{
    let mut cluster = Cluster::start(3);
    let site = Site::new();
    let group = instances(&site, &cluster, 2).await;
    let page = "/p/7/";
    // Instance 0 takes the page's lock and renders; the lock reaches the replica.
    let gate = group[0].renderer.hold_html();
    let first = tokio::spawn(get(group[0].server.local_addr(), page));
    let lock = format!("{NS}:*:lock:{{{page}}}");
    let holder = |cluster: &Cluster| {
        cluster
            .masters()
            .iter()
            .position(|m| !m.keys(&lock).is_empty())
    };
    eventually("the lock taken", || holder(&cluster).is_some()).await;
    cluster.wait_for_replication();
    // Its master dies before the render ends: storing the page fails until the replica takes over,
    // and the promoted replica still holds the lock.
    let index = holder(&cluster).unwrap();
    cluster.kill_master(index);
    gate.open();
    let res = within("the render's own answer", first).await.unwrap();
    assert_eq!((res.status, res.cache()), (200, Some("MISS")));
    tokio::task::block_in_place(|| cluster.wait_until_ok());
    // Instance 1 learns the new topology (its client finds the promoted replica on its first call
    // there, which could otherwise fail and make it render locally, as it should with Redis
    // unusable): it renders other pages until it has stored one on the master holding the lock.
    let promoted =
        cluster.masters()[holder(&cluster).expect("the lock survived the failover")].port;
    let mut other = 100;
    loop {
        let path = format!("/p/{other}/");
        within(
            "a page of instance 1",
            get(group[1].server.local_addr(), &path),
        )
        .await;
        settled(&group[1..]).await;
        let stored_there = artifact_keys_by_master(&cluster)[&promoted]
            .iter()
            .any(|k| k.ends_with(&format!("{{{path}}}")));
        if stored_there {
            break;
        }
        other += 1;
        assert!(
            other < 160,
            "instance 1 stored nothing on the promoted master"
        );
    }
    let renders_before = group[1].renderer.renders();

    // Instance 1 gets instance 0's render from the cluster, without rendering it itself.
    let res = within(
        "the other instance's answer",
        get(group[1].server.local_addr(), page),
    )
    .await;
    assert_eq!(res.status, 200);
    assert_eq!(res.text(), group[0].renderer.html(page, 1));
    assert_eq!(
        group[1].renderer.renders(),
        renders_before,
        "rendered once in the cluster"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pages_stay_shared_while_slots_move_between_masters() {
    let cluster = Arc::new(Cluster::start(3));
    let site = Site::new();
    let group = instances(&site, &cluster, 2).await;
    let stored = pages(60);
    for path in &stored {
        get(group[0].server.local_addr(), path).await;
    }
    settled(&group).await;
    let before = artifact_keys_by_master(&cluster);

    // 1000 of the 16384 slots move while the first instance renders and stores new pages.
    let moving = {
        let cluster = Arc::clone(&cluster);
        tokio::task::spawn_blocking(move || cluster.reshard(0, 1, 1000))
    };
    let mut statuses = Vec::new();
    let mut n = 0;
    while !moving.is_finished() {
        let path = format!("/p/{}/", 60 + n % 240);
        statuses.push(get(group[0].server.local_addr(), &path).await.status);
        n += 1;
    }
    moving.await.unwrap();
    let distinct: BTreeSet<u16> = statuses.iter().copied().collect();
    assert_eq!(
        distinct,
        BTreeSet::from([200]),
        "every request during the move answered"
    );
    let after = artifact_keys_by_master(&cluster);
    assert_ne!(before, after, "keys moved between masters");

    // The second instance's slot map predates the move: it follows MOVED to every stored page.
    for path in &stored {
        let res = get(group[1].server.local_addr(), path).await;
        assert_eq!((res.status, res.cache()), (200, Some("HIT")), "{path}");
    }
    assert_eq!(group[1].renderer.renders(), 0);
}
