//! The shared tier: generated artifacts in Redis, so that instances behind one load balancer
//! render each page once between them. Keys are namespaced by the build (`<ns>:<build>:…`).
//!
//! - Cluster-wide single flight: before rendering, an instance takes the page's lock
//!   (`SET lock token NX PX ttl`, renewed while it renders, deleted only by its owner); the others
//!   poll for the artifact instead of rendering. A dead owner's lock expires at its TTL.
//! - Purges are published; every instance drops the pages from its memory and disk.
//! - Redis down or slow: every call is bounded by a timeout; instances serve and render locally,
//!   log one line when Redis goes away and one when it is back, and reconnect by themselves.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::AsyncCommands;
use serde::{Deserialize, Serialize};
use tokio::sync::RwLock;

use crate::artifact::ArtifactKind;
use crate::build_id::BuildId;
use crate::content::Content;

/// No Redis call may hold a request longer than this.
const OP_TIMEOUT: Duration = Duration::from_millis(500);
const RECONNECT_EVERY: Duration = Duration::from_secs(1);

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
    url: String,
    prefix: String,
    token: String,
    lock_ttl: Duration,
    conn: RwLock<Option<ConnectionManager>>,
    down: AtomicBool,
}

/// Holds a page's render lock; renews it while alive, releases it when dropped.
pub struct RenderLock {
    shared: Arc<SharedCache>,
    key: String,
    renewer: tokio::task::JoinHandle<()>,
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
    /// Connects in the background (Redis may be down at start) and subscribes to purges.
    pub fn start(
        url: &str,
        namespace: &str,
        build_id: &BuildId,
        lock_ttl: Duration,
        on_purge: OnPurge,
    ) -> Result<Arc<Self>, String> {
        let shown = redacted(url);
        let client =
            redis::Client::open(url).map_err(|e| format!("invalid Redis URL {shown}: {e}"))?;
        let shared = Arc::new(SharedCache {
            url: shown,
            prefix: format!("{namespace}:{build_id}"),
            token: instance_token(),
            lock_ttl,
            conn: RwLock::new(None),
            down: AtomicBool::new(false),
        });
        tokio::spawn(Arc::clone(&shared).connect(client.clone()));
        tokio::spawn(Arc::clone(&shared).listen_for_purges(client, on_purge));
        Ok(shared)
    }

    async fn connect(self: Arc<Self>, client: redis::Client) {
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(OP_TIMEOUT)
            .set_response_timeout(OP_TIMEOUT)
            .set_number_of_retries(2)
            .set_max_delay(1000);
        loop {
            match ConnectionManager::new_with_config(client.clone(), config.clone()).await {
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

    async fn listen_for_purges(self: Arc<Self>, client: redis::Client, on_purge: OnPurge) {
        let channel = self.key("purge");
        loop {
            if let Ok(Ok(mut pubsub)) =
                tokio::time::timeout(OP_TIMEOUT, client.get_async_pubsub()).await
            {
                if pubsub.subscribe(&channel).await.is_ok() {
                    let mut messages = pubsub.on_message();
                    while let Some(msg) = messages.next().await {
                        if let Ok(message) = serde_json::from_slice(msg.get_payload_bytes()) {
                            on_purge(message);
                        }
                    }
                }
            }
            tokio::time::sleep(RECONNECT_EVERY).await;
        }
    }

    /// One line when Redis goes away, one when it is back.
    fn mark(&self, result: Result<(), &str>) {
        match result {
            Ok(()) => {
                if self.down.swap(false, Ordering::Relaxed) {
                    eprintln!(
                        "gatsby-dsg: Redis at {} is reachable again; sharing resumed",
                        self.url
                    );
                }
            }
            Err(e) => {
                if !self.down.swap(true, Ordering::Relaxed) {
                    eprintln!(
                        "gatsby-dsg: Redis at {} unavailable ({e}); serving and rendering locally until it is back",
                        self.url
                    );
                }
            }
        }
    }

    /// Runs one Redis call on the shared connection, bounded by `OP_TIMEOUT`.
    async fn call<T, F, Fut>(&self, f: F) -> Result<T, SharedError>
    where
        F: FnOnce(ConnectionManager) -> Fut,
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

    fn key(&self, rest: &str) -> String {
        format!("{}:{rest}", self.prefix)
    }

    fn artifact_key(&self, page: &str, kind: ArtifactKind) -> String {
        self.key(&format!("artifact:{}:{page}", kind.name()))
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
        let variant = |v: Option<Vec<u8>>| v.map(Bytes::from);
        Ok(Some(Content::with_encodings(
            identity,
            variant(fields.remove("br")),
            variant(fields.remove("gz")),
        )))
    }

    pub async fn put(
        &self,
        page: &str,
        kind: ArtifactKind,
        content: &Content,
    ) -> Result<(), SharedError> {
        let key = self.artifact_key(page, kind);
        let mut fields: Vec<(&str, Vec<u8>)> = vec![("identity", content.identity.bytes.to_vec())];
        if let Some(br) = &content.brotli {
            fields.push(("br", br.bytes.to_vec()));
        }
        if let Some(gz) = &content.gzip {
            fields.push(("gz", gz.bytes.to_vec()));
        }
        self.call(move |mut c| async move { c.hset_multiple::<_, _, _, ()>(key, &fields).await })
            .await
    }

    /// Takes the page's render lock, or `None` when another instance holds it.
    pub async fn try_lock(self: &Arc<Self>, page: &str) -> Result<Option<RenderLock>, SharedError> {
        let key = self.key(&format!("lock:{page}"));
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
            key,
            renewer,
        }))
    }

    /// Deletes the pages' artifacts (all of this build's with `All`) and tells every instance.
    pub async fn purge(&self, message: PurgeMessage) -> Result<(), SharedError> {
        let keys: Vec<String> = match &message {
            PurgeMessage::Pages(pages) => pages
                .iter()
                .flat_map(|p| ArtifactKind::ALL.map(|k| self.artifact_key(p, k)))
                .collect(),
            PurgeMessage::All => {
                let pattern = self.key("artifact:*");
                self.call(move |mut c| async move {
                    let keys: Vec<String> =
                        redis::cmd("KEYS").arg(pattern).query_async(&mut c).await?;
                    Ok(keys)
                })
                .await?
            }
        };
        if !keys.is_empty() {
            self.call(move |mut c| async move { c.del::<_, ()>(keys).await })
                .await?;
        }
        let (channel, payload) = (
            self.key("purge"),
            serde_json::to_string(&message).unwrap_or_default(),
        );
        self.call(move |mut c| async move { c.publish::<_, _, ()>(channel, payload).await })
            .await
    }
}

/// The URL as logs may show it: a password replaced by `***`.
fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    match rest.split_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(user, _)| user);
            format!("{scheme}://{user}:***@{host}")
        }
        None => url.to_string(),
    }
}

/// Unique per instance: owner of the locks it takes.
fn instance_token() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    format!("{:x}-{nanos:x}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logged_url_never_shows_the_password() {
        assert_eq!(
            redacted("redis://:s3cret@127.0.0.1:6379/0"),
            "redis://:***@127.0.0.1:6379/0"
        );
        assert_eq!(
            redacted("redis://user:s3cret@host/"),
            "redis://user:***@host/"
        );
        assert_eq!(
            redacted("redis://127.0.0.1:6379/"),
            "redis://127.0.0.1:6379/"
        );
    }
}
