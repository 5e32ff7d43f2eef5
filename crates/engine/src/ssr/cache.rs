//! The SSR shared cache: `getServerData` responses that allow shared caching
//! ([`shared_cacheability`]) are kept in memory, as a CDN in front of the site would keep them.
//!
//! Invariants:
//! - Keyed by the artifact (HTML or page-data), the request path and its query string as sent,
//!   then by the values of the request headers the response's `Vary` names. Only `GET` and `HEAD`
//!   are answered from it; only answers to `GET` are stored.
//! - A fresh entry is a `HIT`. Past its lifetime and within `stale-while-revalidate`, it is served
//!   `STALE` while one background render (per key) refreshes it. Past that it is not served.
//! - Requests are collapsed onto one render (single flight) only for a key whose last response
//!   was storable: a first request, or a key whose responses are not storable, is rendered for
//!   itself — two users' concurrent requests never share a response nobody declared shareable.
//!   A collapsed request uses the leader's response only if that is storable and matches its own
//!   `Vary` values; otherwise it renders for itself.
//! - The leader's render runs detached from the request that started it (a client that goes away
//!   cancels nothing).
//! - Bounded in bytes (bodies in every encoding, headers, keys) with least-recently-used
//!   eviction, and at most [`MAX_VARIANTS`] variants per key.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use dashmap::mapref::entry::Entry;
use dashmap::DashMap;
use futures_util::future::BoxFuture;
use hyper::header::HeaderMap;
use lru::LruCache;
use parking_lot::Mutex;
use tokio::sync::watch;

use super::cache_control::{shared_cacheability, Storable};
use crate::cache::CacheStatus;
use crate::content::{Content, MIN_COMPRESSIBLE_BYTES};
use crate::render::{RenderError, SsrResponse};

/// Variants (by `Vary` values) kept per key; the oldest is dropped past it.
pub const MAX_VARIANTS: usize = 8;

const ENTRY_OVERHEAD: usize = 256;

/// A response ready to send: from the cache or rendered for this request.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: Arc<Vec<(String, String)>>,
    pub content: Arc<Content>,
    pub compressible: bool,
}

/// How an answer was obtained: `None` when it was rendered for this request and not stored.
pub type Served = (Arc<Answer>, Option<CacheStatus>, Option<Duration>);

/// Renders the request once more (called at most once per request, plus background refreshes).
pub type Render =
    Arc<dyn Fn() -> BoxFuture<'static, Result<SsrResponse, RenderError>> + Send + Sync>;

struct Stored {
    answer: Arc<Answer>,
    stored_at: Instant,
    storable: Storable,
    /// The values the request that produced it had for `storable.vary`.
    vary_values: Vec<Option<String>>,
}

impl Stored {
    fn cost(&self, key: &str) -> usize {
        let headers: usize = self
            .answer
            .headers
            .iter()
            .map(|(k, v)| k.len() + v.len())
            .sum();
        self.answer.content.size() + headers + key.len() + ENTRY_OVERHEAD
    }
}

type FlightResult = Option<Result<Arc<Stored>, RenderError>>;

pub struct SsrCache {
    capacity_bytes: usize,
    inner: Arc<Mutex<Inner>>,
    flights: Arc<DashMap<String, watch::Receiver<FlightResult>>>,
}

struct Inner {
    entries: LruCache<String, Vec<Arc<Stored>>>,
    bytes: usize,
}

enum Lookup {
    Fresh(Arc<Stored>),
    Stale(Arc<Stored>),
    /// The key's last response was storable: collapse onto one render.
    Known,
    Unknown,
}

/// The request's values for `names` (a repeated header's values joined with `, `).
fn vary_values(names: &[String], request: &HeaderMap) -> Vec<Option<String>> {
    names
        .iter()
        .map(|name| {
            let values: Vec<&str> = request
                .get_all(name.as_str())
                .iter()
                .filter_map(|v| v.to_str().ok())
                .collect();
            (!values.is_empty()).then(|| values.join(", "))
        })
        .collect()
}

impl SsrCache {
    pub fn new(capacity_bytes: usize) -> Self {
        SsrCache {
            capacity_bytes,
            inner: Arc::new(Mutex::new(Inner {
                entries: LruCache::unbounded(),
                bytes: 0,
            })),
            flights: Arc::default(),
        }
    }

    pub fn bytes(&self) -> usize {
        self.inner.lock().bytes
    }

    pub fn len(&self) -> usize {
        self.inner.lock().entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lookup(&self, key: &str, request: &HeaderMap) -> Lookup {
        let mut inner = self.inner.lock();
        let Some(variants) = inner.entries.get(key) else {
            return Lookup::Unknown;
        };
        let now = Instant::now();
        for stored in variants {
            if vary_values(&stored.storable.vary, request) != stored.vary_values {
                continue;
            }
            let age = now.duration_since(stored.stored_at);
            if age < stored.storable.fresh_for {
                return Lookup::Fresh(Arc::clone(stored));
            }
            if age < stored.storable.fresh_for + stored.storable.stale_while_revalidate {
                return Lookup::Stale(Arc::clone(stored));
            }
        }
        Lookup::Known
    }

    /// Answers one request of an SSR page. `key`: artifact, path and query
    /// ([`key`](Self::key)); `cacheable_method`: `GET` (or `HEAD`, answered but never stored).
    pub async fn serve(
        &self,
        key: String,
        request: &HeaderMap,
        method_is_get: bool,
        method_is_head: bool,
        render: Render,
    ) -> Result<Served, RenderError> {
        let authorized = request.contains_key(hyper::header::AUTHORIZATION);
        if !(method_is_get || method_is_head) {
            let response = render().await?;
            return Ok((Arc::new(answer(response)), None, None));
        }
        match self.lookup(&key, request) {
            Lookup::Fresh(stored) => {
                let age = stored.stored_at.elapsed();
                Ok((
                    Arc::clone(&stored.answer),
                    Some(CacheStatus::Hit),
                    Some(age),
                ))
            }
            Lookup::Stale(stored) => {
                // One refresh per key; its result is stored for the next requests.
                let _ = self.lead(key, request.clone(), authorized, render);
                let age = stored.stored_at.elapsed();
                Ok((
                    Arc::clone(&stored.answer),
                    Some(CacheStatus::Stale),
                    Some(age),
                ))
            }
            Lookup::Known if method_is_get => {
                let mut result = self.lead(
                    key.clone(),
                    request.clone(),
                    authorized,
                    Arc::clone(&render),
                );
                let settled = loop {
                    if let Some(settled) = result.borrow_and_update().clone() {
                        break settled;
                    }
                    if result.changed().await.is_err() {
                        break Err(RenderError::Unavailable(Arc::from(
                            "the render ended without an answer",
                        )));
                    }
                };
                match settled {
                    Ok(stored)
                        if vary_values(&stored.storable.vary, request) == stored.vary_values =>
                    {
                        Ok((Arc::clone(&stored.answer), Some(CacheStatus::Miss), None))
                    }
                    // Not storable (or another variant): this request gets its own render.
                    _ => {
                        self.render_for_itself(key, request, authorized, render)
                            .await
                    }
                }
            }
            Lookup::Known | Lookup::Unknown => {
                if method_is_head {
                    let response = render().await?;
                    return Ok((Arc::new(answer(response)), None, None));
                }
                self.render_for_itself(key, request, authorized, render)
                    .await
            }
        }
    }

    async fn render_for_itself(
        &self,
        key: String,
        request: &HeaderMap,
        authorized: bool,
        render: Render,
    ) -> Result<Served, RenderError> {
        let response = render().await?;
        let answer = Arc::new(answer(response));
        match storable(&answer, authorized) {
            Some(storable) => {
                let stored = Arc::new(Stored {
                    vary_values: vary_values(&storable.vary, request),
                    answer: Arc::clone(&answer),
                    stored_at: Instant::now(),
                    storable,
                });
                store(&self.inner, self.capacity_bytes, key, stored);
                Ok((answer, Some(CacheStatus::Miss), None))
            }
            None => {
                self.forget(&key);
                Ok((answer, None, None))
            }
        }
    }

    /// Joins the key's render in flight, or starts it (detached): it stores a storable response
    /// and forgets the key otherwise.
    fn lead(
        &self,
        key: String,
        request: HeaderMap,
        authorized: bool,
        render: Render,
    ) -> watch::Receiver<FlightResult> {
        let (tx, rx) = match self.flights.entry(key.clone()) {
            Entry::Occupied(flight) => return flight.get().clone(),
            Entry::Vacant(slot) => {
                let (tx, rx) = watch::channel(None);
                slot.insert(rx.clone());
                (tx, rx)
            }
        };
        let (inner, flights, capacity) = (
            Arc::clone(&self.inner),
            Arc::clone(&self.flights),
            self.capacity_bytes,
        );
        tokio::spawn(async move {
            let result = match render().await {
                Ok(response) => {
                    let answer = Arc::new(answer(response));
                    match storable(&answer, authorized) {
                        Some(storable) => {
                            let stored = Arc::new(Stored {
                                vary_values: vary_values(&storable.vary, &request),
                                answer,
                                stored_at: Instant::now(),
                                storable,
                            });
                            store(&inner, capacity, key.clone(), Arc::clone(&stored));
                            Ok(stored)
                        }
                        None => {
                            forget(&inner, &key);
                            Err(RenderError::failed("not storable"))
                        }
                    }
                }
                Err(error) => Err(error),
            };
            flights.remove(&key);
            let _ = tx.send(Some(result));
        });
        rx
    }

    fn forget(&self, key: &str) {
        forget(&self.inner, key);
    }

    /// The cache key of a request: artifact, path and raw query.
    pub fn key(page_data: bool, path: &str, query: Option<&str>) -> String {
        let kind = if page_data { 'p' } else { 'h' };
        match query {
            Some(query) => format!("{kind}{path}?{query}"),
            None => format!("{kind}{path}"),
        }
    }
}

/// The key's responses are no longer storable: later requests are not collapsed.
fn forget(inner: &Mutex<Inner>, key: &str) {
    let mut inner = inner.lock();
    if let Some(variants) = inner.entries.pop(key) {
        let freed: usize = variants.iter().map(|s| s.cost(key)).sum();
        inner.bytes -= freed;
    }
}

fn storable(answer: &Answer, authorized: bool) -> Option<Storable> {
    shared_cacheability(answer.status, &answer.headers, authorized)
}

fn answer(response: SsrResponse) -> Answer {
    let content_type = response
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        .map(|(_, v)| v.clone());
    Answer {
        status: response.status.unwrap_or(200),
        compressible: content_type.is_none_or(|t| crate::respond::encoding::is_compressible(&t))
            && response.body.len() >= MIN_COMPRESSIBLE_BYTES,
        content: Arc::new(Content::new(response.body)),
        headers: Arc::new(response.headers),
    }
}

/// Stores `stored` under `key` (replacing the variant with the same `Vary` values), evicts the
/// least recently used keys past the bound, then makes its compressed variants in the background.
fn store(inner: &Arc<Mutex<Inner>>, capacity: usize, key: String, stored: Arc<Stored>) {
    let cost = stored.cost(&key);
    if cost > capacity {
        return;
    }
    {
        let mut guard = inner.lock();
        let Inner { entries, bytes } = &mut *guard;
        let variants = entries.get_or_insert_mut(key.clone(), Vec::new);
        let mut freed = 0;
        variants.retain(|v| {
            let same =
                v.vary_values == stored.vary_values && v.storable.vary == stored.storable.vary;
            if same {
                freed += v.cost(&key);
            }
            !same
        });
        if variants.len() >= MAX_VARIANTS {
            freed += variants.remove(0).cost(&key);
        }
        variants.push(Arc::clone(&stored));
        *bytes = *bytes + cost - freed;
        while *bytes > capacity {
            let Some((old_key, old)) = entries.pop_lru() else {
                break;
            };
            *bytes -= old.iter().map(|s| s.cost(&old_key)).sum::<usize>();
        }
    }
    if stored.answer.compressible {
        let inner = Arc::clone(inner);
        tokio::task::spawn_blocking(move || {
            let compressed = Arc::new(Answer {
                status: stored.answer.status,
                headers: Arc::clone(&stored.answer.headers),
                content: Arc::new(stored.answer.content.compressed()),
                compressible: true,
            });
            let replacement = Arc::new(Stored {
                answer: compressed,
                stored_at: stored.stored_at,
                storable: stored.storable.clone(),
                vary_values: stored.vary_values.clone(),
            });
            let mut guard = inner.lock();
            let Inner { entries, bytes } = &mut *guard;
            let Some(variants) = entries.peek_mut(&key) else {
                return;
            };
            if let Some(slot) = variants.iter_mut().find(|v| Arc::ptr_eq(v, &stored)) {
                *bytes = *bytes + replacement.cost(&key) - slot.cost(&key);
                *slot = replacement;
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use hyper::header::HeaderValue;
    use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

    fn renderer(
        cache_control: &'static str,
        extra: Vec<(&'static str, &'static str)>,
    ) -> (Render, Arc<AtomicUsize>) {
        let calls = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&calls);
        let render: Render = Arc::new(move || {
            let n = counter.fetch_add(1, Relaxed) + 1;
            let mut headers = vec![("cache-control".to_string(), cache_control.to_string())];
            headers.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
            Box::pin(async move {
                tokio::time::sleep(Duration::from_millis(20)).await;
                Ok(SsrResponse {
                    status: None,
                    headers,
                    body: Bytes::from(format!("render {n}")),
                })
            })
        });
        (render, calls)
    }

    fn body(served: &Served) -> String {
        String::from_utf8(served.0.content.identity.bytes.to_vec()).unwrap()
    }

    /// One GET of `key` without request headers, which must not fail.
    async fn get(cache: &SsrCache, key: String, render: &Render) -> Served {
        cache
            .serve(key, &HeaderMap::new(), true, false, render.clone())
            .await
            .unwrap()
    }

    /// `n` GETs of the key `k`, started at once.
    fn concurrent_gets(
        cache: &Arc<SsrCache>,
        render: &Render,
        n: usize,
    ) -> Vec<tokio::task::JoinHandle<Result<Served, RenderError>>> {
        (0..n)
            .map(|_| {
                let (cache, render) = (Arc::clone(cache), render.clone());
                tokio::spawn(async move {
                    cache
                        .serve("k".into(), &HeaderMap::new(), true, false, render)
                        .await
                })
            })
            .collect()
    }

    #[tokio::test]
    async fn a_shareable_response_is_stored_and_then_a_hit() {
        let cache = SsrCache::new(1 << 20);
        let (render, calls) = renderer("public, s-maxage=60", vec![]);
        let key = SsrCache::key(false, "/ssr/", Some("a=1"));
        let first = get(&cache, key.clone(), &render).await;
        assert_eq!(first.1, Some(CacheStatus::Miss));
        let second = get(&cache, key.clone(), &render).await;
        assert_eq!(second.1, Some(CacheStatus::Hit));
        assert_eq!(body(&second), "render 1");
        // Another query string is another key.
        let other = get(&cache, SsrCache::key(false, "/ssr/", Some("a=2")), &render).await;
        assert_eq!(body(&other), "render 2");
        assert_eq!(calls.load(Relaxed), 2);
    }

    #[tokio::test]
    async fn a_private_response_is_rendered_for_every_request() {
        let cache = SsrCache::new(1 << 20);
        let (render, calls) = renderer("private, s-maxage=60", vec![]);
        for _ in 0..3 {
            let served = get(&cache, "k".into(), &render).await;
            assert_eq!(served.1, None);
        }
        assert_eq!(calls.load(Relaxed), 3);
        assert!(cache.is_empty());
    }

    #[tokio::test]
    async fn concurrent_requests_of_a_first_seen_key_are_not_collapsed() {
        let cache = Arc::new(SsrCache::new(1 << 20));
        let (render, calls) = renderer("public, s-maxage=60", vec![]);
        let requests = concurrent_gets(&cache, &render, 4);
        for r in requests {
            r.await.unwrap().unwrap();
        }
        assert_eq!(calls.load(Relaxed), 4);
    }

    #[tokio::test(start_paused = true)]
    async fn an_expired_known_key_is_refreshed_by_one_render_for_all_concurrent_requests() {
        let cache = Arc::new(SsrCache::new(1 << 20));
        let (render, calls) = renderer("public, s-maxage=1", vec![]);
        get(&cache, "k".into(), &render).await;
        tokio::time::advance(Duration::from_secs(2)).await;
        let requests = concurrent_gets(&cache, &render, 5);
        for r in requests {
            let served = r.await.unwrap().unwrap();
            assert_eq!(body(&served), "render 2");
        }
        assert_eq!(calls.load(Relaxed), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn within_stale_while_revalidate_the_old_response_is_served_while_one_render_refreshes() {
        let cache = SsrCache::new(1 << 20);
        let (render, calls) = renderer("public, s-maxage=1, stale-while-revalidate=60", vec![]);
        get(&cache, "k".into(), &render).await;
        tokio::time::advance(Duration::from_secs(2)).await;
        for _ in 0..3 {
            let stale = get(&cache, "k".into(), &render).await;
            assert_eq!(stale.1, Some(CacheStatus::Stale));
            assert_eq!(body(&stale), "render 1");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        let fresh = get(&cache, "k".into(), &render).await;
        assert_eq!(fresh.1, Some(CacheStatus::Hit));
        assert_eq!(body(&fresh), "render 2");
        assert_eq!(calls.load(Relaxed), 2);
    }

    #[tokio::test]
    async fn vary_keeps_one_variant_per_request_header_value() {
        let cache = SsrCache::new(1 << 20);
        let (render, calls) = renderer("public, s-maxage=60", vec![("vary", "Accept-Language")]);
        let mut en = HeaderMap::new();
        en.insert("accept-language", HeaderValue::from_static("en"));
        let mut de = HeaderMap::new();
        de.insert("accept-language", HeaderValue::from_static("de"));
        let a = cache
            .serve("k".into(), &en, true, false, render.clone())
            .await
            .unwrap();
        let b = cache
            .serve("k".into(), &de, true, false, render.clone())
            .await
            .unwrap();
        assert_ne!(body(&a), body(&b));
        let a2 = cache
            .serve("k".into(), &en, true, false, render.clone())
            .await
            .unwrap();
        let b2 = cache
            .serve("k".into(), &de, true, false, render)
            .await
            .unwrap();
        assert_eq!((body(&a2), a2.1), (body(&a), Some(CacheStatus::Hit)));
        assert_eq!((body(&b2), b2.1), (body(&b), Some(CacheStatus::Hit)));
        assert_eq!(calls.load(Relaxed), 2);
    }

    #[tokio::test]
    async fn set_cookie_and_other_methods_are_never_stored() {
        let cache = SsrCache::new(1 << 20);
        let (render, calls) = renderer("public, s-maxage=60", vec![("set-cookie", "a=b")]);
        get(&cache, "k".into(), &render).await;
        get(&cache, "k".into(), &render).await;
        assert_eq!(calls.load(Relaxed), 2);
        let (render, calls) = renderer("public, s-maxage=60", vec![]);
        cache
            .serve("p".into(), &HeaderMap::new(), false, false, render.clone())
            .await
            .unwrap();
        cache
            .serve("p".into(), &HeaderMap::new(), false, false, render)
            .await
            .unwrap();
        assert_eq!(calls.load(Relaxed), 2);
        assert!(cache.is_empty());
    }

    #[tokio::test]
    async fn the_cache_stays_within_its_byte_bound() {
        let cache = SsrCache::new(4 * 1024);
        let (render, _) = renderer("public, s-maxage=60", vec![]);
        for i in 0..100 {
            get(&cache, format!("k{i}"), &render).await;
        }
        assert!(cache.bytes() <= 4 * 1024);
        assert!(cache.len() < 100);
    }
}
