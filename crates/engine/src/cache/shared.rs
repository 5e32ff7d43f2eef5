//! The shared tier: generated artifacts in Redis — one server, or a Redis Cluster — so that
//! instances behind one load balancer render each page once between them.
//!
//! Keys are namespaced by the build and carry the page in a hash tag:
//! `<ns>:<build>:artifact:<kind>:{<page>}` (a hash: `identity`, `br`, `gz`, `created`) and
//! `<ns>:<build>:lock:{<page>}`. All keys of one page hash to one slot, so on a cluster they live
//! on one master and every per-page operation (replace an artifact, purge a page, take or release
//! its lock) is one atomic command or transaction; different pages spread over all masters.
//!
//! - Cluster-wide single flight: before rendering, an instance takes the page's lock
//!   (`SET lock token NX PX ttl`, renewed while it renders, deleted only by its owner); the others
//!   poll for the artifact instead of rendering. A dead owner's lock expires at its TTL.
//! - An artifact is replaced whole (`DEL` + `HSET` + optional `PEXPIRE`, in `MULTI`): a reader
//!   never gets one version's body with another's compressed variant.
//! - Purges are published; every instance drops the pages from its memory and disk. Purging all
//!   walks each master with `SCAN` (never `KEYS`, which blocks Redis for the whole keyspace).
//! - Redis down or slow: every call is bounded by a timeout; instances serve and render locally,
//!   log one line when Redis goes away and one when it is back, and reconnect by themselves.

mod conn;
mod target;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures_util::StreamExt;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::AsyncCommands;
use serde::{Deserialize, Serialize};
use tokio::sync::RwLock;

use crate::artifact::ArtifactKind;
use crate::build_id::BuildId;
use crate::config::RedisConfig;
use crate::content::Content;
use conn::Conn;
pub use target::redacted;
use target::{Target, Topology};

/// No Redis call may hold a request longer than this.
pub const OP_TIMEOUT: Duration = Duration::from_millis(500);
/// Redis is said to be back only after this long without a failed call: during a cluster
/// failover, calls to the surviving masters succeed while those to the dead one fail, and the
/// log must not alternate between "unavailable" and "reachable again" for every call.
const QUIET_BEFORE_BACK: Duration = Duration::from_secs(1);
const RECONNECT_EVERY: Duration = Duration::from_secs(1);
/// How often the holder of a render lock tries again to store an artifact Redis refused.
const STORE_AGAIN_EVERY: Duration = Duration::from_millis(200);
/// Keys asked of `SCAN` per call, and deleted per `UNLINK`.
const BATCH: usize = 1000;

/// Deletes the lock only if it still holds our token.
const RELEASE: &str =
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";
/// Extends the lock only if it still holds our token.
const RENEW: &str = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end";

/// What a purge message tells the other instances.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub enum PurgeMessage {
    All,
    Pages(Vec<String>),
}

/// Called on every instance (the sender included) when a purge is published.
pub type OnPurge = Arc<dyn Fn(PurgeMessage) + Send + Sync>;

#[derive(Debug)]
pub struct SharedError(String);

impl std::fmt::Display for SharedError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

pub struct SharedCache {
    /// The URL without credentials, for log lines.
    shown: String,
    prefix: String,
    token: String,
    lock_ttl: Duration,
    artifact_ttl: Option<Duration>,
    conn: RwLock<Option<Conn>>,
    down: AtomicBool,
    /// When a call last failed and last succeeded (see [`SharedCache::mark`]).
    calls: parking_lot::Mutex<(Option<Instant>, Option<Instant>)>,
}

/// Holds a page's render lock; renews it while alive, releases it when dropped.
pub struct RenderLock {
    shared: Arc<SharedCache>,
    page: String,
    key: String,
    renewer: tokio::task::JoinHandle<()>,
}

impl RenderLock {
    /// Stores the page's artifact of `kind`, trying again while Redis refuses it, for up to the
    /// lock's TTL. The other instances wait on this lock for exactly this artifact: after a
    /// failover the promoted replica still holds the lock, and a store that failed once would
    /// leave every one of them waiting until the lock expires (10 s by default) before rendering
    /// the page themselves. The lock is renewed meanwhile, so it does not expire under them.
    pub async fn put(&self, kind: ArtifactKind, content: &Content) -> Result<(), SharedError> {
        let give_up = Instant::now() + self.shared.lock_ttl;
        loop {
            let result = self.shared.put(&self.page, kind, content).await;
            if result.is_ok() || Instant::now() + STORE_AGAIN_EVERY >= give_up {
                return result;
            }
            tokio::time::sleep(STORE_AGAIN_EVERY).await;
        }
    }
}

impl Drop for RenderLock {
    fn drop(&mut self) {
        self.renewer.abort();
        let (shared, key) = (Arc::clone(&self.shared), std::mem::take(&mut self.key));
        tokio::spawn(async move {
            let token = shared.token.clone();
            let _ = shared
                .call(move |mut c| async move {
                    redis::Script::new(RELEASE)
                        .key(key)
                        .arg(token)
                        .invoke_async::<i64>(&mut c)
                        .await
                })
                .await;
        });
    }
}

impl SharedCache {
    /// Checks the URL, namespace and TLS files now; connects in the background (Redis may be
    /// down at start) and subscribes to purges.
    pub fn start(
        config: &RedisConfig,
        build_id: &BuildId,
        on_purge: OnPurge,
    ) -> Result<Arc<Self>, String> {
        // redis-rs builds rustls without choosing a crypto provider; an error means one is set.
        let _ = rustls::crypto::ring::default_provider().install_default();
        if config.namespace.contains(['{', '}']) {
            return Err(format!(
                "the Redis namespace {:?} may not contain {{ or }}: they choose a key's cluster slot",
                config.namespace
            ));
        }
        let target = Arc::new(Target::parse(&config.url, &config.tls)?);
        let shared = Arc::new(SharedCache {
            shown: target.shown.clone(),
            prefix: format!("{}:{build_id}", config.namespace),
            token: instance_token(),
            lock_ttl: config.lock_ttl,
            artifact_ttl: config.artifact_ttl,
            conn: RwLock::new(None),
            down: AtomicBool::new(false),
            calls: parking_lot::Mutex::new((None, None)),
        });
        tokio::spawn(report_back(Arc::downgrade(&shared)));
        tokio::spawn(Arc::clone(&shared).connect(Arc::clone(&target)));
        tokio::spawn(Arc::clone(&shared).listen_for_purges(target, on_purge));
        Ok(shared)
    }

    async fn connect(self: Arc<Self>, target: Arc<Target>) {
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(OP_TIMEOUT)
            .set_response_timeout(OP_TIMEOUT)
            .set_number_of_retries(2)
            .set_max_delay(1000);
        loop {
            let connected = match &target.topology {
                Topology::Single(client) => {
                    ConnectionManager::new_with_config(client.clone(), config.clone())
                        .await
                        .map(Conn::Single)
                }
                Topology::Cluster(client) => {
                    match tokio::time::timeout(4 * OP_TIMEOUT, client.get_async_connection()).await
                    {
                        Ok(result) => result.map(Conn::Cluster),
                        Err(_) => Err(redis::RedisError::from((
                            redis::ErrorKind::IoError,
                            "no cluster node answered",
                        ))),
                    }
                }
            };
            match connected {
                Ok(conn) => {
                    *self.conn.write().await = Some(conn);
                    self.mark(Ok(()));
                    return;
                }
                Err(e) => {
                    self.mark(Err(&e.to_string()));
                    tokio::time::sleep(RECONNECT_EVERY).await;
                }
            }
        }
    }

    /// Subscribes to the purge channel on one node and, when that connection ends, on another.
    /// On a cluster any node will do (`PUBLISH` reaches every node); the seed nodes are tried
    /// first, then the nodes the cluster reports, starting after the one that was lost. Purges
    /// published while no subscription stands (at most about a second) are not received.
    async fn listen_for_purges(self: Arc<Self>, target: Arc<Target>, on_purge: OnPurge) {
        let channel = self.key("purge");
        let attempt = AtomicUsize::new(0);
        loop {
            let discovered = match self.conn.read().await.clone() {
                Some(mut conn) => tokio::time::timeout(OP_TIMEOUT, conn.nodes())
                    .await
                    .ok()
                    .and_then(Result::ok)
                    .unwrap_or_default(),
                None => Vec::new(),
            };
            let clients = target.node_clients(&discovered);
            let first = attempt.fetch_add(1, Ordering::Relaxed);
            for n in 0..clients.len() {
                let client = &clients[(first + n) % clients.len()];
                let Ok(Ok(mut pubsub)) =
                    tokio::time::timeout(OP_TIMEOUT, client.get_async_pubsub()).await
                else {
                    continue;
                };
                if !matches!(
                    tokio::time::timeout(OP_TIMEOUT, pubsub.subscribe(&channel)).await,
                    Ok(Ok(()))
                ) {
                    continue;
                }
                let mut messages = pubsub.on_message();
                while let Some(msg) = messages.next().await {
                    if let Ok(message) = serde_json::from_slice(msg.get_payload_bytes()) {
                        on_purge(message);
                    }
                }
                attempt.store(first + n + 1, Ordering::Relaxed);
                break;
            }
            tokio::time::sleep(RECONNECT_EVERY).await;
        }
    }

    /// One line when Redis goes away; when it is back, one line from [`report_back`].
    fn mark(&self, result: Result<(), &str>) {
        let now = Some(Instant::now());
        match result {
            Ok(()) => {
                if self.down.load(Ordering::Relaxed) {
                    self.calls.lock().1 = now;
                }
            }
            Err(e) => {
                self.calls.lock().0 = now;
                if !self.down.swap(true, Ordering::Relaxed) {
                    eprintln!(
                        "gatsby-dsg: Redis at {} unavailable ({}); serving and rendering locally until it is back",
                        self.shown,
                        explained(e)
                    );
                }
            }
        }
    }

    /// Back: a call succeeded after the last failure, and none failed for [`QUIET_BEFORE_BACK`].
    fn back(&self) -> bool {
        let (failed, succeeded) = *self.calls.lock();
        match (failed, succeeded) {
            (Some(failed), Some(succeeded)) => {
                succeeded > failed && failed.elapsed() >= QUIET_BEFORE_BACK
            }
            (None, Some(_)) => true,
            _ => false,
        }
    }

    /// Runs one Redis call on the shared connection, bounded by `OP_TIMEOUT`.
    async fn call<T, F, Fut>(&self, f: F) -> Result<T, SharedError>
    where
        F: FnOnce(Conn) -> Fut,
        Fut: std::future::Future<Output = redis::RedisResult<T>>,
    {
        let Some(conn) = self.conn.read().await.clone() else {
            return Err(SharedError("not connected".into()));
        };
        let result = match tokio::time::timeout(OP_TIMEOUT, f(conn)).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(SharedError(e.to_string())),
            Err(_) => Err(SharedError(format!(
                "no answer within {} ms",
                OP_TIMEOUT.as_millis()
            ))),
        };
        self.mark(result.as_ref().map(|_| ()).map_err(|e| e.0.as_str()));
        result
    }

    /// Whether Redis answers a `PING` now, within the call timeout (`/__dsg/readyz`). Like every
    /// call, it logs the line when Redis goes away or comes back.
    pub async fn ping(&self) -> Result<(), SharedError> {
        self.call(|mut c| async move { redis::cmd("PING").query_async::<String>(&mut c).await })
            .await
            .map(|_| ())
    }

    fn key(&self, rest: &str) -> String {
        format!("{}:{rest}", self.prefix)
    }

    fn artifact_key(&self, page: &str, kind: ArtifactKind) -> String {
        self.key(&format!("artifact:{}:{{{page}}}", kind.name()))
    }

    fn lock_key(&self, page: &str) -> String {
        self.key(&format!("lock:{{{page}}}"))
    }

    pub async fn get(
        &self,
        page: &str,
        kind: ArtifactKind,
    ) -> Result<Option<Content>, SharedError> {
        let key = self.artifact_key(page, kind);
        let mut fields: HashMap<String, Vec<u8>> = self
            .call(move |mut c| async move { c.hgetall(key).await })
            .await?;
        let Some(identity) = fields.remove("identity") else {
            return Ok(None);
        };
        let created = fields
            .remove("created")
            .and_then(|ms| String::from_utf8(ms).ok()?.parse::<u64>().ok())
            .map_or_else(SystemTime::now, |ms| UNIX_EPOCH + Duration::from_millis(ms));
        let variant = |v: Option<Vec<u8>>| v.map(Bytes::from);
        Ok(Some(
            Content::with_encodings(
                identity,
                variant(fields.remove("br")),
                variant(fields.remove("gz")),
            )
            .created_at(created),
        ))
    }

    /// Replaces the page's artifact of `kind` whole, expiring after the artifact TTL if one is set.
    pub async fn put(
        &self,
        page: &str,
        kind: ArtifactKind,
        content: &Content,
    ) -> Result<(), SharedError> {
        let key = self.artifact_key(page, kind);
        let created = content
            .created
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis()
            .to_string();
        let mut fields: Vec<(&str, Vec<u8>)> = vec![
            ("identity", content.identity.bytes.to_vec()),
            ("created", created.into_bytes()),
        ];
        if let Some(br) = &content.brotli {
            fields.push(("br", br.bytes.to_vec()));
        }
        if let Some(gz) = &content.gzip {
            fields.push(("gz", gz.bytes.to_vec()));
        }
        let mut pipe = redis::pipe();
        pipe.atomic()
            .del(&key)
            .ignore()
            .hset_multiple(&key, &fields)
            .ignore();
        if let Some(ttl) = self.artifact_ttl {
            pipe.pexpire(&key, ttl.as_millis() as i64).ignore();
        }
        self.call(move |mut c| async move { pipe.query_async::<()>(&mut c).await })
            .await
    }

    /// Takes the page's render lock, or `None` when another instance holds it.
    pub async fn try_lock(self: &Arc<Self>, page: &str) -> Result<Option<RenderLock>, SharedError> {
        let key = self.lock_key(page);
        let (k, token, ttl) = (
            key.clone(),
            self.token.clone(),
            self.lock_ttl.as_millis() as u64,
        );
        let taken: Option<String> = self
            .call(move |mut c| async move {
                redis::cmd("SET")
                    .arg(k)
                    .arg(token)
                    .arg("NX")
                    .arg("PX")
                    .arg(ttl)
                    .query_async(&mut c)
                    .await
            })
            .await?;
        if taken.is_none() {
            return Ok(None);
        }
        let shared = Arc::clone(self);
        let renew_key = key.clone();
        let renewer = tokio::spawn(async move {
            let every = shared.lock_ttl / 3;
            loop {
                tokio::time::sleep(every).await;
                let (k, token, ttl) = (
                    renew_key.clone(),
                    shared.token.clone(),
                    shared.lock_ttl.as_millis() as u64,
                );
                let _ = shared
                    .call(move |mut c| async move {
                        redis::Script::new(RENEW)
                            .key(k)
                            .arg(token)
                            .arg(ttl)
                            .invoke_async::<i64>(&mut c)
                            .await
                    })
                    .await;
            }
        });
        Ok(Some(RenderLock {
            shared: Arc::clone(self),
            page: page.to_string(),
            key,
            renewer,
        }))
    }

    /// Deletes the pages' artifacts (all of this build's with `All`) and tells every instance.
    /// The message is published even when some deletions failed; the first failure is returned.
    pub async fn purge(&self, message: PurgeMessage) -> Result<(), SharedError> {
        let deleted = match &message {
            PurgeMessage::Pages(pages) => {
                let keys: Vec<String> = pages
                    .iter()
                    .flat_map(|p| ArtifactKind::ALL.map(|k| self.artifact_key(p, k)))
                    .collect();
                self.unlink(keys).await
            }
            PurgeMessage::All => self.purge_all().await,
        };
        let (channel, payload) = (
            self.key("purge"),
            serde_json::to_string(&message).unwrap_or_default(),
        );
        let published = self
            .call(move |mut c| async move { c.publish::<_, _, ()>(channel, payload).await })
            .await;
        deleted.and(published)
    }

    /// `SCAN`s every master for this build's artifacts and unlinks them, a batch at a time (each
    /// call bounded by `OP_TIMEOUT`, so Redis is never blocked for the whole keyspace).
    async fn purge_all(&self) -> Result<(), SharedError> {
        let masters = self.call(|mut c| async move { c.masters().await }).await?;
        let pattern = format!("{}:artifact:*", glob_escape(&self.prefix));
        let mut first_error = None;
        for master in masters {
            let mut cursor = 0u64;
            loop {
                let (m, p) = (master.clone(), pattern.clone());
                let step = self
                    .call(move |mut c| async move {
                        let mut scan = redis::cmd("SCAN");
                        scan.arg(cursor).arg("MATCH").arg(p).arg("COUNT").arg(BATCH);
                        c.on::<(u64, Vec<String>)>(&m, &scan).await
                    })
                    .await;
                let (next, keys) = match step {
                    Ok(step) => step,
                    Err(e) => {
                        first_error.get_or_insert(e);
                        break;
                    }
                };
                if let Err(e) = self.unlink(keys).await {
                    first_error.get_or_insert(e);
                }
                if next == 0 {
                    break;
                }
                cursor = next;
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// `UNLINK`s the keys, a batch per call (on a cluster, split by slot).
    async fn unlink(&self, keys: Vec<String>) -> Result<(), SharedError> {
        for batch in keys.chunks(BATCH) {
            let batch = batch.to_vec();
            self.call(move |mut c| async move { c.unlink::<_, ()>(batch).await })
                .await?;
        }
        Ok(())
    }
}

/// Logs the line saying Redis is back once [`SharedCache::back`] holds (checked 4 times a
/// second, so the line does not wait for the next call); ends with the shared tier.
async fn report_back(shared: std::sync::Weak<SharedCache>) {
    loop {
        tokio::time::sleep(QUIET_BEFORE_BACK / 4).await;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        if shared.down.load(Ordering::Relaxed)
            && shared.back()
            && shared.down.swap(false, Ordering::Relaxed)
        {
            eprintln!(
                "gatsby-dsg: Redis at {} is reachable again; sharing resumed",
                shared.shown
            );
        }
    }
}

/// A Redis error as an operator needs it: what is wrong with TLS said in words.
fn explained(error: &str) -> String {
    if error.contains("certificate") || error.contains("UnknownIssuer") {
        format!("TLS certificate of the server not accepted: {error}")
    } else {
        error.to_string()
    }
}

/// `text` matched literally by a `SCAN MATCH` pattern.
fn glob_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Unique per instance: owner of the locks it takes.
fn instance_token() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    format!("{:x}-{nanos:x}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_patterns_match_the_namespace_literally() {
        assert_eq!(glob_escape("a*b?[c]\\d:e"), "a\\*b\\?\\[c\\]\\\\d:e");
    }
}
