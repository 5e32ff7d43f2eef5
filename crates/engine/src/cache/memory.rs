//! The memory tier: a least-recently-used map of ready artifacts, bounded in bytes.

use std::sync::Arc;

use lru::LruCache;
use parking_lot::Mutex;

use crate::artifact::{Artifact, ArtifactKind};

/// Bookkeeping per entry (key, map slot, `Arc`), counted so that many tiny artifacts cannot
/// exceed the bound either.
const ENTRY_OVERHEAD: usize = 128;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Key {
    page: Arc<str>,
    kind: ArtifactKind,
}

pub struct MemoryCache {
    capacity_bytes: usize,
    inner: Mutex<Inner>,
}

struct Inner {
    entries: LruCache<Key, Arc<Artifact>>,
    bytes: usize,
}

fn cost(page: &str, artifact: &Artifact) -> usize {
    artifact.body.len() + page.len() + ENTRY_OVERHEAD
}

impl MemoryCache {
    pub fn new(capacity_bytes: usize) -> Self {
        MemoryCache {
            capacity_bytes,
            inner: Mutex::new(Inner {
                entries: LruCache::unbounded(),
                bytes: 0,
            }),
        }
    }

    pub fn get(&self, page: &Arc<str>, kind: ArtifactKind) -> Option<Arc<Artifact>> {
        let key = Key {
            page: Arc::clone(page),
            kind,
        };
        self.inner.lock().entries.get(&key).cloned()
    }

    /// Stores `artifact`, evicting the least recently used entries to stay within the bound. An
    /// artifact larger than the whole bound is not kept (it is still served from disk).
    pub fn insert(&self, page: &Arc<str>, kind: ArtifactKind, artifact: Arc<Artifact>) {
        let size = cost(page, &artifact);
        let key = Key {
            page: Arc::clone(page),
            kind,
        };
        let mut inner = self.inner.lock();
        if let Some(old) = inner.entries.pop(&key) {
            inner.bytes -= cost(page, &old);
        }
        if size > self.capacity_bytes {
            return;
        }
        inner.bytes += size;
        inner.entries.put(key, artifact);
        while inner.bytes > self.capacity_bytes {
            match inner.entries.pop_lru() {
                Some((key, old)) => inner.bytes -= cost(&key.page, &old),
                None => break,
            }
        }
    }

    pub fn len(&self) -> usize {
        self.inner.lock().entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes accounted against the bound (bodies plus per-entry overhead).
    pub fn bytes(&self) -> usize {
        self.inner.lock().bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn artifact(len: usize) -> Arc<Artifact> {
        Arc::new(Artifact::new(vec![b'x'; len]))
    }

    fn page(p: &str) -> Arc<str> {
        Arc::from(p)
    }

    #[test]
    fn evicts_least_recently_used_when_over_the_byte_bound() {
        let per_entry = 1000 + 2 + ENTRY_OVERHEAD;
        let cache = MemoryCache::new(per_entry * 2);
        cache.insert(&page("/a"), ArtifactKind::Html, artifact(1000));
        cache.insert(&page("/b"), ArtifactKind::Html, artifact(1000));
        // Touch /a so /b is the least recently used.
        assert!(cache.get(&page("/a"), ArtifactKind::Html).is_some());
        cache.insert(&page("/c"), ArtifactKind::Html, artifact(1000));
        assert!(cache.get(&page("/a"), ArtifactKind::Html).is_some());
        assert!(cache.get(&page("/b"), ArtifactKind::Html).is_none());
        assert!(cache.get(&page("/c"), ArtifactKind::Html).is_some());
        assert!(cache.bytes() <= per_entry * 2);
    }

    #[test]
    fn bytes_never_exceed_the_bound_with_uneven_sizes() {
        let cache = MemoryCache::new(10_000);
        for i in 0..200 {
            cache.insert(
                &page(&format!("/p{i}")),
                ArtifactKind::Html,
                artifact(i * 37 % 3000),
            );
            assert!(cache.bytes() <= 10_000);
        }
        assert!(!cache.is_empty());
    }

    #[test]
    fn artifact_larger_than_the_bound_is_not_kept() {
        let cache = MemoryCache::new(500);
        cache.insert(&page("/big"), ArtifactKind::Html, artifact(1000));
        assert!(cache.get(&page("/big"), ArtifactKind::Html).is_none());
        assert_eq!(cache.bytes(), 0);
    }

    #[test]
    fn replacing_an_entry_keeps_the_byte_count_exact() {
        let cache = MemoryCache::new(100_000);
        cache.insert(&page("/a"), ArtifactKind::Html, artifact(1000));
        cache.insert(&page("/a"), ArtifactKind::Html, artifact(10));
        assert_eq!(cache.bytes(), 10 + 2 + ENTRY_OVERHEAD);
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn html_and_page_data_of_one_page_are_separate_entries() {
        let cache = MemoryCache::new(100_000);
        cache.insert(&page("/a"), ArtifactKind::Html, artifact(1));
        assert!(cache.get(&page("/a"), ArtifactKind::PageData).is_none());
        cache.insert(&page("/a"), ArtifactKind::PageData, artifact(2));
        assert_eq!(
            cache
                .get(&page("/a"), ArtifactKind::PageData)
                .unwrap()
                .body
                .len(),
            2
        );
        assert_eq!(cache.len(), 2);
    }
}
