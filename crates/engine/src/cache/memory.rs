//! The memory tier: a least-recently-used map of ready content, bounded in bytes.

use std::hash::Hash;
use std::sync::Arc;

use lru::LruCache;
use parking_lot::Mutex;

use crate::artifact::ArtifactKind;
use crate::content::Content;

/// Bookkeeping per entry (key, map slot, `Arc`), counted so that many tiny entries cannot exceed
/// the bound either.
const ENTRY_OVERHEAD: usize = 128;

/// A key with a size of its own to count against the bound.
pub trait Weigh {
    fn weight(&self) -> usize;
}

/// A deferred page's artifact: the page path and which of its two files.
pub type PageKey = (Arc<str>, ArtifactKind);

impl Weigh for PageKey {
    fn weight(&self) -> usize {
        self.0.len()
    }
}

/// A file of `public/`, by URL path.
impl Weigh for Arc<str> {
    fn weight(&self) -> usize {
        self.len()
    }
}

pub struct MemoryCache<K: Hash + Eq> {
    capacity_bytes: usize,
    inner: Mutex<Inner<K>>,
}

struct Inner<K: Hash + Eq> {
    entries: LruCache<K, Arc<Content>>,
    bytes: usize,
}

fn cost<K: Weigh>(key: &K, content: &Content) -> usize {
    content.size() + key.weight() + ENTRY_OVERHEAD
}

impl<K: Hash + Eq + Weigh> MemoryCache<K> {
    pub fn new(capacity_bytes: usize) -> Self {
        MemoryCache {
            capacity_bytes,
            inner: Mutex::new(Inner {
                entries: LruCache::unbounded(),
                bytes: 0,
            }),
        }
    }

    pub fn get(&self, key: &K) -> Option<Arc<Content>> {
        self.inner.lock().entries.get(key).cloned()
    }

    /// Stores `content`, evicting the least recently used entries to stay within the bound.
    /// Content larger than the whole bound is not kept (it is still served from disk).
    pub fn insert(&self, key: K, content: Arc<Content>) {
        let size = cost(&key, &content);
        let mut inner = self.inner.lock();
        if let Some(old) = inner.entries.pop(&key) {
            inner.bytes -= cost(&key, &old);
        }
        if size > self.capacity_bytes {
            return;
        }
        inner.bytes += size;
        inner.entries.put(key, content);
        while inner.bytes > self.capacity_bytes {
            match inner.entries.pop_lru() {
                Some((key, old)) => inner.bytes -= cost(&key, &old),
                None => break,
            }
        }
    }

    pub fn remove(&self, key: &K) -> bool {
        let mut inner = self.inner.lock();
        match inner.entries.pop(key) {
            Some(old) => {
                inner.bytes -= cost(key, &old);
                true
            }
            None => false,
        }
    }

    pub fn clear(&self) {
        let mut inner = self.inner.lock();
        inner.entries.clear();
        inner.bytes = 0;
    }

    pub fn len(&self) -> usize {
        self.inner.lock().entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes accounted against the bound (bodies in every encoding, plus per-entry overhead).
    pub fn bytes(&self) -> usize {
        self.inner.lock().bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn content(len: usize) -> Arc<Content> {
        Arc::new(Content::new(vec![b'x'; len]))
    }

    fn key(p: &str) -> PageKey {
        (Arc::from(p), ArtifactKind::Html)
    }

    #[test]
    fn evicts_least_recently_used_when_over_the_byte_bound() {
        let per_entry = 1000 + 2 + ENTRY_OVERHEAD;
        let cache = MemoryCache::new(per_entry * 2);
        cache.insert(key("/a"), content(1000));
        cache.insert(key("/b"), content(1000));
        // Touch /a so /b is the least recently used.
        assert!(cache.get(&key("/a")).is_some());
        cache.insert(key("/c"), content(1000));
        assert!(cache.get(&key("/a")).is_some());
        assert!(cache.get(&key("/b")).is_none());
        assert!(cache.get(&key("/c")).is_some());
        assert!(cache.bytes() <= per_entry * 2);
    }

    #[test]
    fn bytes_never_exceed_the_bound_with_uneven_sizes() {
        let cache = MemoryCache::new(10_000);
        for i in 0..200 {
            cache.insert(key(&format!("/p{i}")), content(i * 37 % 3000));
            assert!(cache.bytes() <= 10_000);
        }
        assert!(!cache.is_empty());
    }

    #[test]
    fn compressed_variants_count_against_the_bound() {
        let cache = MemoryCache::new(1_000_000);
        let plain = Arc::new(Content::new("<p>x</p>".repeat(1000)));
        let compressed = Arc::new(plain.compressed());
        cache.insert(key("/a"), plain.clone());
        let before = cache.bytes();
        cache.insert(key("/a"), compressed.clone());
        assert_eq!(cache.bytes() - before, compressed.size() - plain.size());
    }

    #[test]
    fn content_larger_than_the_bound_is_not_kept() {
        let cache = MemoryCache::new(500);
        cache.insert(key("/big"), content(1000));
        assert!(cache.get(&key("/big")).is_none());
        assert_eq!(cache.bytes(), 0);
    }

    #[test]
    fn replacing_an_entry_keeps_the_byte_count_exact() {
        let cache = MemoryCache::new(100_000);
        cache.insert(key("/a"), content(1000));
        cache.insert(key("/a"), content(10));
        assert_eq!(cache.bytes(), 10 + 2 + ENTRY_OVERHEAD);
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn removed_and_cleared_entries_give_their_bytes_back() {
        let cache = MemoryCache::new(100_000);
        cache.insert(key("/a"), content(100));
        cache.insert(key("/b"), content(100));
        assert!(cache.remove(&key("/a")));
        assert!(!cache.remove(&key("/a")));
        assert_eq!(cache.bytes(), 100 + 2 + ENTRY_OVERHEAD);
        cache.clear();
        assert_eq!((cache.len(), cache.bytes()), (0, 0));
    }

    #[test]
    fn html_and_page_data_of_one_page_are_separate_entries() {
        let cache = MemoryCache::new(100_000);
        cache.insert(key("/a"), content(1));
        let page_data: PageKey = (Arc::from("/a"), ArtifactKind::PageData);
        assert!(cache.get(&page_data).is_none());
        cache.insert(page_data.clone(), content(2));
        assert_eq!(cache.get(&page_data).unwrap().identity.bytes.len(), 2);
        assert_eq!(cache.len(), 2);
    }
}
