//! Where the shared tier connects, parsed once at start-up from the `--redis` URL:
//!
//! - `redis://[user:password@]host:port[/db]` — one Redis (or a primary behind a proxy);
//! - `rediss://…` — the same over TLS; the server's certificate is verified against the system's
//!   roots, or only against `ca_file` when given; `cert_file` + `key_file` add a client
//!   certificate (mutual TLS);
//! - `redis+cluster://[user:password@]host:port[,host:port…]` (and `rediss+cluster://`) — a Redis
//!   Cluster, given any of its nodes as seeds; the rest is discovered (`CLUSTER SLOTS`).
//!
//! Invariant: nothing derived from the URL that reaches a log line carries its user or password
//! ([`redacted`]); TLS material that cannot be read is an error at start-up, never later.

use std::path::{Path, PathBuf};

use redis::cluster::{ClusterClient, ClusterClientBuilder};
use redis::{ClientTlsConfig, ConnectionAddr, ConnectionInfo, IntoConnectionInfo, TlsCertificates};

use crate::config::RedisTls;

/// A parsed `--redis` target: how to reach it, and how logs show it.
pub struct Target {
    /// The URL with its user and password replaced by `***`.
    pub shown: String,
    pub topology: Topology,
    /// One connection description per seed node (one for a single Redis), credentials and TLS
    /// included: the purge subscription connects to these, and to the nodes discovered later.
    seeds: Vec<ConnectionInfo>,
    certificates: Option<TlsCertificates>,
}

pub enum Topology {
    Single(redis::Client),
    Cluster(ClusterClient),
}

impl Target {
    pub fn parse(url: &str, tls: &RedisTls) -> Result<Target, String> {
        let shown = redacted(url);
        let invalid = |e: &dyn std::fmt::Display| format!("invalid Redis URL {shown}: {e}");
        let (scheme, rest) = url.split_once("://").ok_or_else(|| {
            invalid(&"expected redis://, rediss://, redis+cluster:// or rediss+cluster://")
        })?;
        let (base, cluster) = match scheme {
            "redis" | "rediss" | "unix" | "redis+unix" => (scheme, false),
            "redis+cluster" => ("redis", true),
            "rediss+cluster" => ("rediss", true),
            other => return Err(invalid(&format!("unknown scheme {other}://"))),
        };
        let secure = base == "rediss";
        let certificates = certificates(tls, secure)?;
        let seeds: Vec<ConnectionInfo> = if cluster {
            seed_urls(base, rest)
                .map_err(|e| invalid(&e))?
                .into_iter()
                .map(|u| u.into_connection_info().map_err(|e| invalid(&e)))
                .collect::<Result<_, _>>()?
        } else {
            vec![url.into_connection_info().map_err(|e| invalid(&e))?]
        };
        let topology = if cluster {
            let mut builder = ClusterClientBuilder::new(seeds.clone())
                .connection_timeout(super::OP_TIMEOUT)
                .response_timeout(super::OP_TIMEOUT)
                .retries(2);
            if let Some(certs) = &certificates {
                builder = builder.certs(certs.clone());
            }
            Topology::Cluster(builder.build().map_err(|e| invalid(&e))?)
        } else {
            Topology::Single(client_for(seeds[0].clone(), &certificates).map_err(|e| invalid(&e))?)
        };
        Ok(Target {
            shown,
            topology,
            seeds,
            certificates,
        })
    }

    /// Clients for the seed nodes, then for `discovered` (`host`, `port`) with the seeds'
    /// credentials and TLS: where the purge subscription may connect, in this order.
    pub fn node_clients(&self, discovered: &[(String, u16)]) -> Vec<redis::Client> {
        let mut infos = self.seeds.clone();
        for (host, port) in discovered {
            let mut info = self.seeds[0].clone();
            info.addr = match info.addr {
                ConnectionAddr::TcpTls { insecure, .. } => ConnectionAddr::TcpTls {
                    host: host.clone(),
                    port: *port,
                    insecure,
                    tls_params: None,
                },
                _ => ConnectionAddr::Tcp(host.clone(), *port),
            };
            infos.push(info);
        }
        infos
            .into_iter()
            .filter_map(|info| client_for(info, &self.certificates).ok())
            .collect()
    }
}

fn client_for(
    info: ConnectionInfo,
    certificates: &Option<TlsCertificates>,
) -> redis::RedisResult<redis::Client> {
    match certificates {
        Some(certs) => redis::Client::build_with_tls(info, certs.clone()),
        None => redis::Client::open(info),
    }
}

/// `host1:p1,host2:p2` of a cluster URL, each as a URL of its own with the shared credentials.
fn seed_urls(base: &str, rest: &str) -> Result<Vec<String>, String> {
    let (authority, tail) = rest.split_at(rest.find(['/', '?']).unwrap_or(rest.len()));
    let (userinfo, hosts) = match authority.rsplit_once('@') {
        Some((userinfo, hosts)) => (format!("{userinfo}@"), hosts),
        None => (String::new(), authority),
    };
    let tail = tail.trim_start_matches('/');
    if !tail.is_empty() && !tail.starts_with('?') && tail != "0" {
        return Err("a Redis Cluster has only database 0".into());
    }
    let query = tail.strip_prefix('0').unwrap_or(tail);
    let seeds: Vec<String> = hosts
        .split(',')
        .filter(|h| !h.is_empty())
        .map(|host| format!("{base}://{userinfo}{host}/{query}"))
        .collect();
    if seeds.is_empty() {
        return Err("no cluster node given".into());
    }
    Ok(seeds)
}

/// The TLS material of `tls`, read now; `None` when none is configured.
fn certificates(tls: &RedisTls, secure: bool) -> Result<Option<TlsCertificates>, String> {
    if tls.ca_file.is_none() && tls.cert_file.is_none() && tls.key_file.is_none() {
        return Ok(None);
    }
    if !secure {
        return Err(
            "a Redis CA file or client certificate needs a rediss:// (TLS) Redis URL".into(),
        );
    }
    let read = |what: &str, path: &Path| {
        std::fs::read(path)
            .map_err(|e| format!("cannot read the Redis {what} {}: {e}", path.display()))
    };
    let client_tls = match (&tls.cert_file, &tls.key_file) {
        (Some(cert), Some(key)) => Some(ClientTlsConfig {
            client_cert: read("client certificate", cert)?,
            client_key: read("client key", key)?,
        }),
        (None, None) => None,
        _ => {
            return Err(
                "a Redis client certificate needs both its certificate and its key file".into(),
            )
        }
    };
    let root_cert = tls
        .ca_file
        .as_ref()
        .map(|ca: &PathBuf| read("CA file", ca))
        .transpose()?;
    let certs = TlsCertificates {
        client_tls,
        root_cert,
    };
    // Parsed now, so that a file that is not PEM is refused at start-up with its name.
    let probe = redis::Client::build_with_tls("rediss://127.0.0.1:1/", certs.clone());
    probe.map_err(|e| format!("invalid Redis TLS files: {e}"))?;
    Ok(Some(certs))
}

/// The URL as logs may show it: user and password (the whole userinfo) replaced by `***`.
pub fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    match authority.rsplit_once('@') {
        Some((_, hosts)) => format!("{scheme}://***@{hosts}{tail}"),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logged_url_never_shows_the_user_or_the_password() {
        assert_eq!(
            redacted("redis://:s3cret@127.0.0.1:6379/0"),
            "redis://***@127.0.0.1:6379/0"
        );
        assert_eq!(
            redacted("rediss://acl-user:s3cret@host/"),
            "rediss://***@host/"
        );
        assert_eq!(
            redacted("redis+cluster://u:p@a:1,b:2/"),
            "redis+cluster://***@a:1,b:2/"
        );
        assert_eq!(
            redacted("redis://127.0.0.1:6379/"),
            "redis://127.0.0.1:6379/"
        );
    }

    #[test]
    fn a_cluster_url_gives_one_seed_per_node_with_the_shared_credentials() {
        assert_eq!(
            seed_urls("rediss", "u:p@a:1,b:2/").unwrap(),
            ["rediss://u:p@a:1/", "rediss://u:p@b:2/"]
        );
        assert_eq!(seed_urls("redis", "a:1").unwrap(), ["redis://a:1/"]);
        assert!(seed_urls("redis", "a:1/3").is_err());
        assert!(seed_urls("redis", "/").is_err());
    }

    #[test]
    fn tls_files_need_a_tls_url_and_must_exist() {
        let tls = RedisTls {
            ca_file: Some("/nonexistent/ca.pem".into()),
            ..RedisTls::default()
        };
        let err = Target::parse("redis://127.0.0.1:6379/", &tls)
            .err()
            .unwrap();
        assert!(err.contains("rediss://"), "{err}");
        let err = Target::parse("rediss://127.0.0.1:6379/", &tls)
            .err()
            .unwrap();
        assert!(err.contains("/nonexistent/ca.pem"), "{err}");
    }
}
