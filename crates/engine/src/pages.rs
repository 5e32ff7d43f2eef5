//! The deferred-page table, known in full at start-up so that an unknown path never reaches
//! JavaScript: exact page paths, then `matchPath` patterns ranked as Gatsby's router ranks them.
//!
//! Compact, because a site DSG is made for has up to millions of pages (measured with
//! `bench/startup.js` at 1,000,000 `/blog/post-N/` pages; the `HashMap<String, Arc<DeferredPage>>`
//! this replaces held ~150 bytes per page): every page's lookup key (its path normalised and
//! without trailing slashes) is stored once, sorted, in one arena `String`, with a `u32` end
//! offset and one byte saying how the path as the build lists it derives from the key (`key/`,
//! `key`, or, rarely — an encoded or oddly slashed path — kept whole beside). A page is found by
//! binary search (~20 comparisons at 1M). Pages with a `matchPath` are few and kept apart with
//! their patterns. Invariants:
//! - a key is listed once; of pages listed with equal keys, the last one listed is the page (as
//!   the map this replaces did);
//! - the [`DeferredPage`] a lookup returns equals the one the build listed (its path is rebuilt
//!   from the key, or is the one kept beside);
//! - at most `u32::MAX` bytes of keys: a bigger listing is refused ([`TableError`]).
//!
//! [`crate::manifest`] builds the tables straight from the plugin's manifest file, with no copy
//! of the page list in JavaScript.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use serde::Deserialize;

use crate::path::{normalize, trim_trailing_slash};
use crate::policy::{DeferPolicy, PolicyError};

/// A deferred page as Gatsby's build lists it.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct DeferredPageSpec {
    pub path: String,
    #[serde(default)]
    pub match_path: Option<String>,
}

/// A deferred page: `path` is what its artifacts are cached under and what the renderer receives.
#[derive(Debug, PartialEq, Eq)]
pub struct DeferredPage {
    pub path: Arc<str>,
    pub match_path: Option<String>,
}

/// How a page's path as listed derives from its key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
enum Shape {
    /// `key/`: the usual Gatsby path.
    Slash,
    /// `key` itself (`trailingSlash: never`, and `/`).
    Bare,
    /// Neither (encoded, several trailing slashes…): kept whole in `listed_paths`.
    Listed,
}

#[derive(Debug, Default)]
pub struct DeferredPages {
    /// Every page's lookup key, sorted, concatenated.
    keys: String,
    /// End of page `i`'s key in `keys`; it starts at the previous page's end.
    ends: Vec<u32>,
    shapes: Vec<Shape>,
    /// The paths of pages whose shape is [`Shape::Listed`], by index.
    listed_paths: HashMap<u32, Box<str>>,
    /// Pages with a `matchPath`, by index: the same `Arc` as in `patterns`.
    with_match_path: HashMap<u32, Arc<DeferredPage>>,
    /// Most specific first.
    patterns: Vec<(MatchPath, Arc<DeferredPage>)>,
}

/// A page listing the table cannot hold, or a manifest it cannot read.
#[derive(Debug, thiserror::Error)]
pub enum TableError {
    #[error("more than {} bytes of deferred page paths", u32::MAX)]
    TooLarge,
    #[error("cannot read {file}: {source}")]
    Read {
        file: String,
        source: std::io::Error,
    },
    #[error("{file} is not a gatsby-dsg page manifest ({reason}): run `gatsby build` again")]
    Invalid { file: String, reason: String },
    #[error(
        "{file} has manifest version {version}, which this gatsby-dsg does not read \
         (it reads versions 1 and 2): run `gatsby build` again with this gatsby-dsg's plugin"
    )]
    Version { file: String, version: u64 },
    #[error(
        "{file} belongs to another build (build id {found}, expected {expected}): \
         it changed while the server started, or `gatsby build` was interrupted: run `gatsby build` again"
    )]
    OtherBuild {
        file: String,
        found: String,
        expected: String,
    },
}

impl DeferredPages {
    /// The table of `specs`.
    ///
    /// # Panics
    /// With more than `u32::MAX` bytes of paths ([`DeferredPages::builder`] refuses them).
    pub fn new(specs: impl IntoIterator<Item = DeferredPageSpec>) -> Self {
        let mut builder = PagesBuilder::default();
        for spec in specs {
            builder
                .push(&spec.path, spec.match_path.as_deref())
                .expect("deferred page paths fit the table");
        }
        builder.finish()
    }

    /// A builder, for pages given one at a time (as a manifest is read).
    pub fn builder() -> PagesBuilder {
        PagesBuilder::default()
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// What the table holds on the heap, in bytes (its allocations' capacities; the hash maps'
    /// entries and what they point to estimated from their lengths).
    pub fn heap_bytes(&self) -> usize {
        let listed: usize = self
            .listed_paths
            .values()
            .map(|p| p.len() + std::mem::size_of::<(u32, Box<str>)>() + 1)
            .sum();
        let patterns: usize = self
            .patterns
            .iter()
            .map(|(pattern, page)| {
                std::mem::size_of::<(MatchPath, Arc<DeferredPage>)>()
                    + pattern.segments.capacity() * std::mem::size_of::<Segment>()
                    + page.path.len()
                    + page.match_path.as_ref().map_or(0, String::capacity)
                    + 2 * std::mem::size_of::<usize>()
                    + std::mem::size_of::<DeferredPage>()
            })
            .sum();
        self.keys.capacity()
            + self.ends.capacity() * std::mem::size_of::<u32>()
            + self.shapes.capacity()
            + listed
            + self.with_match_path.capacity() * (std::mem::size_of::<(u32, usize)>() + 1)
            + patterns
    }

    fn key(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.keys[start..self.ends[i] as usize]
    }

    /// Page `i`'s path as the build listed it.
    fn path(&self, i: usize) -> Cow<'_, str> {
        let key = self.key(i);
        match self.shapes[i] {
            Shape::Slash => Cow::Owned(format!("{key}/")),
            Shape::Bare => Cow::Borrowed(key),
            Shape::Listed => Cow::Borrowed(&self.listed_paths[&(i as u32)]),
        }
    }

    fn page(&self, i: usize) -> Arc<DeferredPage> {
        if let Some(page) = self.with_match_path.get(&(i as u32)) {
            return Arc::clone(page);
        }
        Arc::new(DeferredPage {
            path: Arc::from(self.path(i).as_ref()),
            match_path: None,
        })
    }

    fn index_of(&self, key: &str) -> Option<usize> {
        let (mut low, mut high) = (0, self.len());
        while low < high {
            let mid = low + (high - low) / 2;
            match self.key(mid).cmp(key) {
                std::cmp::Ordering::Less => low = mid + 1,
                std::cmp::Ordering::Greater => high = mid,
                std::cmp::Ordering::Equal => return Some(mid),
            }
        }
        None
    }

    /// Every page's path as the build listed it, in the order of their keys.
    pub fn paths(&self) -> impl Iterator<Item = Cow<'_, str>> {
        (0..self.len()).map(|i| self.path(i))
    }

    pub fn iter(&self) -> impl Iterator<Item = Arc<DeferredPage>> + '_ {
        (0..self.len()).map(|i| self.page(i))
    }

    /// The pages whose path matches `glob` (the plugin's glob semantics).
    pub fn matching(&self, glob: &str) -> Result<Vec<Arc<DeferredPage>>, PolicyError> {
        let policy = DeferPolicy::new(&[glob.to_string()], &[])?;
        Ok((0..self.len())
            .filter(|&i| policy.should_defer(&self.path(i)))
            .map(|i| self.page(i))
            .collect())
    }

    /// The page whose own path is `path` (normalised; any trailing slashes).
    pub fn find_exact(&self, path: &str) -> Option<Arc<DeferredPage>> {
        self.index_of(trim_trailing_slash(path))
            .map(|i| self.page(i))
    }

    /// The most specific page whose `matchPath` matches `path` (normalised).
    pub fn find_by_match_path(&self, path: &str) -> Option<&Arc<DeferredPage>> {
        let segments: Vec<&str> = segments(path).collect();
        self.find_by_match_path_scored(&segments)
            .map(|(_, page)| page)
    }

    /// The same, for a path given as its segments, with the winning pattern's rank.
    pub fn find_by_match_path_scored(
        &self,
        segments: &[&str],
    ) -> Option<(i32, &Arc<DeferredPage>)> {
        self.patterns
            .iter()
            .find(|(pattern, _)| pattern.matches(segments))
            .map(|(pattern, page)| (pattern.score, page))
    }
}

/// Builds a [`DeferredPages`] from pages given one at a time, in the build's order.
#[derive(Default)]
pub struct PagesBuilder {
    /// Keys in the order listed.
    keys: String,
    /// (start, length) of each listed page's key in `keys`.
    spans: Vec<(u32, u32)>,
    shapes: Vec<Shape>,
    /// (listing index, path) of pages of [`Shape::Listed`], in listing order.
    listed_paths: Vec<(u32, Box<str>)>,
    /// (listing index, page) of pages with a `matchPath`, in listing order.
    with_match_path: Vec<(u32, Arc<DeferredPage>)>,
    patterns: Vec<(MatchPath, Arc<DeferredPage>)>,
}

impl PagesBuilder {
    pub fn push(&mut self, path: &str, match_path: Option<&str>) -> Result<(), TableError> {
        let seq = u32::try_from(self.spans.len()).map_err(|_| TableError::TooLarge)?;
        let key = lookup_key(path);
        let start = u32::try_from(self.keys.len()).map_err(|_| TableError::TooLarge)?;
        let end = u32::try_from(self.keys.len() + key.len()).map_err(|_| TableError::TooLarge)?;
        let shape = if path.len() == key.len() + 1 && path.starts_with(&*key) && path.ends_with('/')
        {
            Shape::Slash
        } else if path == key {
            Shape::Bare
        } else {
            self.listed_paths.push((seq, Box::from(path)));
            Shape::Listed
        };
        self.keys.push_str(&key);
        self.spans.push((start, end - start));
        self.shapes.push(shape);
        if let Some(pattern) = match_path {
            let page = Arc::new(DeferredPage {
                path: Arc::from(path),
                match_path: Some(pattern.to_string()),
            });
            self.patterns
                .push((MatchPath::parse(pattern), Arc::clone(&page)));
            self.with_match_path.push((seq, page));
        }
        Ok(())
    }

    pub fn finish(self) -> DeferredPages {
        let key = |seq: u32| {
            let (start, len) = self.spans[seq as usize];
            &self.keys[start as usize..(start + len) as usize]
        };
        let mut order: Vec<u32> = (0..self.spans.len() as u32).collect();
        order.sort_unstable_by(|&a, &b| key(a).cmp(key(b)).then(a.cmp(&b)));
        // Of equal keys (sorted by listing order), the last listed.
        let kept = |at: usize| at + 1 == order.len() || key(order[at + 1]) != key(order[at]);
        let count = (0..order.len()).filter(|&at| kept(at)).count();
        let bytes: usize = (0..order.len())
            .filter(|&at| kept(at))
            .map(|at| key(order[at]).len())
            .sum();
        let mut table = DeferredPages {
            keys: String::with_capacity(bytes),
            ends: Vec::with_capacity(count),
            shapes: Vec::with_capacity(count),
            ..DeferredPages::default()
        };
        for at in (0..order.len()).filter(|&at| kept(at)) {
            let seq = order[at];
            let index = table.ends.len() as u32;
            table.keys.push_str(key(seq));
            table.ends.push(table.keys.len() as u32);
            let shape = self.shapes[seq as usize];
            table.shapes.push(shape);
            if shape == Shape::Listed {
                let found = find(&self.listed_paths, seq).expect("a listed shape has its path");
                table
                    .listed_paths
                    .insert(index, self.listed_paths[found].1.clone());
            }
            if let Some(found) = find(&self.with_match_path, seq) {
                table
                    .with_match_path
                    .insert(index, Arc::clone(&self.with_match_path[found].1));
            }
        }
        let mut patterns = self.patterns;
        // Stable sort: equally specific patterns keep the build's order.
        patterns.sort_by_key(|(pattern, _)| std::cmp::Reverse(pattern.score));
        table.patterns = patterns;
        table
    }
}

/// Where `seq` is in a list sorted by listing index.
fn find<T>(list: &[(u32, T)], seq: u32) -> Option<usize> {
    list.binary_search_by_key(&seq, |(s, _)| *s).ok()
}

/// Page paths from the build may be stored raw (`/안녕/`) or encoded (`/%EC%95%88/`): look both
/// up in their decoded form. A path with nothing to decode or resolve is its own form (the
/// common case, without an allocation).
fn lookup_key(page_path: &str) -> Cow<'_, str> {
    let plain = page_path.starts_with('/')
        && !page_path.contains(['%', '\0'])
        && !page_path.contains("//")
        && !page_path.contains("/.");
    if plain {
        return Cow::Borrowed(trim_trailing_slash(page_path));
    }
    let normalized = normalize(page_path).unwrap_or_else(|_| page_path.to_string());
    Cow::Owned(trim_trailing_slash(&normalized).to_string())
}

fn segments(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter(|s| !s.is_empty())
}

/// A `matchPath` in @reach/router syntax: static segments, `:param` segments, a final `*` splat.
#[derive(Debug)]
pub struct MatchPath {
    segments: Vec<Segment>,
    pub score: i32,
}

#[derive(Debug, PartialEq)]
enum Segment {
    Static(String),
    Param,
    Splat,
}

impl MatchPath {
    pub fn parse(pattern: &str) -> Self {
        let decoded = normalize(pattern).unwrap_or_else(|_| pattern.to_string());
        let segments: Vec<Segment> = segments(&decoded)
            .map(|s| {
                if s == "*" || (s.starts_with('*') && s.len() > 1) {
                    Segment::Splat
                } else if s.starts_with(':') {
                    Segment::Param
                } else {
                    Segment::Static(s.to_string())
                }
            })
            .collect();
        let score = rank(&segments);
        MatchPath { segments, score }
    }

    /// Whether the path given as its segments matches.
    pub fn matches(&self, path: &[&str]) -> bool {
        for (i, segment) in self.segments.iter().enumerate() {
            match segment {
                Segment::Splat => return true,
                Segment::Param if i < path.len() => {}
                Segment::Static(s) if path.get(i) == Some(&s.as_str()) => {}
                _ => return false,
            }
        }
        path.len() == self.segments.len()
    }
}

/// @reach/router's route ranking, which Gatsby uses to order `matchPath`s.
fn rank(segments: &[Segment]) -> i32 {
    const SEGMENT: i32 = 4;
    const STATIC: i32 = 3;
    const DYNAMIC: i32 = 2;
    const SPLAT_PENALTY: i32 = 1;
    const ROOT: i32 = 1;
    if segments.is_empty() {
        return SEGMENT + ROOT;
    }
    segments
        .iter()
        .map(|s| match s {
            Segment::Static(_) => SEGMENT + STATIC,
            Segment::Param => SEGMENT + DYNAMIC,
            Segment::Splat => -(SEGMENT + SPLAT_PENALTY),
        })
        .sum::<i32>()
        + SEGMENT
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(specs: &[(&str, Option<&str>)]) -> DeferredPages {
        DeferredPages::new(specs.iter().map(|(path, mp)| DeferredPageSpec {
            path: path.to_string(),
            match_path: mp.map(str::to_string),
        }))
    }

    #[test]
    fn exact_page_found_with_or_without_trailing_slash() {
        let pages = table(&[("/blog/a/", None)]);
        assert_eq!(&*pages.find_exact("/blog/a").unwrap().path, "/blog/a/");
        assert_eq!(&*pages.find_exact("/blog/a/").unwrap().path, "/blog/a/");
        assert!(pages.find_exact("/blog/b/").is_none());
    }

    #[test]
    fn encoded_and_raw_page_paths_are_the_same_page() {
        let pages = table(&[("/blog/%EC%95%88/", None), ("/raw/안/", None)]);
        assert!(pages.find_exact("/blog/안").is_some());
        assert!(pages.find_exact("/raw/안/").is_some());
    }

    #[test]
    fn splat_match_path_matches_everything_below() {
        let pages = table(&[("/app/", Some("/app/*"))]);
        assert_eq!(
            &*pages.find_by_match_path("/app/x/y").unwrap().path,
            "/app/"
        );
        assert!(pages.find_by_match_path("/app").is_some());
        assert!(pages.find_by_match_path("/application").is_none());
    }

    #[test]
    fn param_matches_exactly_one_segment() {
        let pages = table(&[("/users/", Some("/users/:id"))]);
        assert!(pages.find_by_match_path("/users/42/").is_some());
        assert!(pages.find_by_match_path("/users/42/edit").is_none());
        assert!(pages.find_by_match_path("/users/").is_none());
    }

    #[test]
    fn more_specific_match_path_wins() {
        let pages = table(&[
            ("/catch-all/", Some("/*")),
            ("/app/", Some("/app/*")),
            ("/app-user/", Some("/app/users/:id")),
        ]);
        let find = |p: &str| pages.find_by_match_path(p).unwrap().path.to_string();
        assert_eq!(find("/app/users/7"), "/app-user/");
        assert_eq!(find("/app/other"), "/app/");
        assert_eq!(find("/elsewhere"), "/catch-all/");
    }
}
