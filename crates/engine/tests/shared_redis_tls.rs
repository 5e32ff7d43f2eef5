//! The shared tier over TLS: a real `redis-server` listening only on TLS (certificates made with
//! `openssl` here), verified against a custom CA, with a client certificate.

mod common;
mod redis_support;

use std::sync::Arc;

use common::*;
use gatsby_dsg_engine::{RedisConfig, RedisTls, Server};
use redis_support::{Certs, Redis};

const PAGE: &str = "/blog/a/";

async fn instance(
    site: &Site,
    url: &str,
    tls: RedisTls,
    name: &str,
) -> (Server, Arc<TestRenderer>) {
    let renderer = TestRenderer::named(name);
    let mut config = site.config(&[PAGE, "/blog/b/"]);
    config.cache_dir = None;
    config.redis = Some(RedisConfig {
        namespace: "tls-site".into(),
        tls,
        ..RedisConfig::new(url)
    });
    (start(config, &renderer).await, renderer)
}

fn tls_files(certs: &Certs) -> RedisTls {
    RedisTls {
        ca_file: Some(certs.ca.clone()),
        cert_file: Some(certs.client_cert.clone()),
        key_file: Some(certs.client_key.clone()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_tls_only_redis_requiring_client_certificates_shares_pages_between_instances() {
    let certs = Certs::make();
    let redis = Redis::start_tls(&certs, true);
    let site = Site::new();
    let url = format!("rediss://127.0.0.1:{}/", redis.port);
    let (a, ra) = instance(&site, &url, tls_files(&certs), "a").await;
    let (b, rb) = instance(&site, &url, tls_files(&certs), "b").await;
    redis.wait_connected(2).await;

    let first = get(a.local_addr(), PAGE).await;
    assert_eq!((first.status, first.cache()), (200, Some("MISS")));
    eventually("stored in Redis", || a.stats().renders_in_flight == 0).await;
    let second = get(b.local_addr(), PAGE).await;
    assert_eq!((second.status, second.cache()), (200, Some("HIT")));
    assert_eq!(second.text(), first.text());
    assert_eq!(ra.renders() + rb.renders(), 1);
    let build = site.config(&[]).build_id.to_string();
    assert_eq!(
        redis.keys("tls-site:*:artifact:*"),
        [
            format!("tls-site:{build}:artifact:html:{{{PAGE}}}"),
            format!("tls-site:{build}:artifact:page-data:{{{PAGE}}}"),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_server_certificate_from_another_ca_is_refused_and_pages_are_rendered_locally() {
    let certs = Certs::make();
    let redis = Redis::start_tls(&certs, false);
    let site = Site::new();
    let url = format!("rediss://127.0.0.1:{}/", redis.port);
    let wrong = RedisTls {
        ca_file: Some(certs.other_ca.clone()),
        ..RedisTls::default()
    };
    let (a, ra) = instance(&site, &url, wrong.clone(), "a").await;
    let (b, rb) = instance(&site, &url, wrong, "b").await;
    for server in [&a, &b] {
        let res = within("served without Redis", get(server.local_addr(), PAGE)).await;
        assert_eq!((res.status, res.cache()), (200, Some("MISS")));
    }
    assert_eq!(
        ra.renders() + rb.renders(),
        2,
        "nothing shared through an untrusted server"
    );
    assert!(redis.keys("*").is_empty(), "nothing was written to it");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tls_files_are_checked_at_start_up() {
    let certs = Certs::make();
    let site = Site::new();
    let start_with = |url: &str, tls: RedisTls| {
        let mut config = site.config(&[PAGE]);
        config.redis = Some(RedisConfig {
            tls,
            ..RedisConfig::new(url)
        });
        let renderer = TestRenderer::new();
        async move {
            Server::start(config, renderer)
                .await
                .err()
                .map(|e| e.to_string())
        }
    };
    let plain = start_with("redis://127.0.0.1:1/", tls_files(&certs))
        .await
        .unwrap();
    assert!(plain.contains("rediss://"), "{plain}");
    let missing = RedisTls {
        ca_file: Some("/nonexistent/ca.pem".into()),
        ..RedisTls::default()
    };
    let err = start_with("rediss://127.0.0.1:1/", missing).await.unwrap();
    assert!(err.contains("/nonexistent/ca.pem"), "{err}");
    let half = RedisTls {
        cert_file: Some(certs.client_cert.clone()),
        ..RedisTls::default()
    };
    let err = start_with("rediss://127.0.0.1:1/", half).await.unwrap();
    assert!(err.contains("key"), "{err}");
}
