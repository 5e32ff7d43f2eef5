//! The deferred-page table, known in full at start-up so that an unknown path never reaches
//! JavaScript: exact page paths, then `matchPath` patterns ranked as Gatsby's router ranks them.

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

#[derive(Debug, Default)]
pub struct DeferredPages {
    /// Keyed by the normalised path without its trailing slash.
    exact: HashMap<String, Arc<DeferredPage>>,
    /// Most specific first.
    patterns: Vec<(MatchPath, Arc<DeferredPage>)>,
}

impl DeferredPages {
    pub fn new(specs: impl IntoIterator<Item = DeferredPageSpec>) -> Self {
        let mut table = DeferredPages::default();
        for spec in specs {
            let page = Arc::new(DeferredPage {
                path: Arc::from(spec.path.as_str()),
                match_path: spec.match_path.clone(),
            });
            if let Some(pattern) = &spec.match_path {
                table
                    .patterns
                    .push((MatchPath::parse(pattern), Arc::clone(&page)));
            }
            table.exact.insert(lookup_key(&spec.path), page);
        }
        // Stable sort: equally specific patterns keep the build's order.
        table
            .patterns
            .sort_by_key(|(pattern, _)| std::cmp::Reverse(pattern.score));
        table
    }

    pub fn len(&self) -> usize {
        self.exact.len()
    }

    pub fn is_empty(&self) -> bool {
        self.exact.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<DeferredPage>> {
        self.exact.values()
    }

    /// The pages whose path matches `glob` (the plugin's glob semantics).
    pub fn matching(&self, glob: &str) -> Result<Vec<&Arc<DeferredPage>>, PolicyError> {
        let policy = DeferPolicy::new(&[glob.to_string()], &[])?;
        Ok(self
            .iter()
            .filter(|p| policy.should_defer(&p.path))
            .collect())
    }

    /// The page whose own path is `path` (normalised; any trailing slashes).
    pub fn find_exact(&self, path: &str) -> Option<&Arc<DeferredPage>> {
        self.exact.get(trim_trailing_slash(path))
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

/// Page paths from the build may be stored raw (`/안녕/`) or encoded (`/%EC%95%88/`): look both
/// up in their decoded form.
fn lookup_key(page_path: &str) -> String {
    let normalized = normalize(page_path).unwrap_or_else(|_| page_path.to_string());
    trim_trailing_slash(&normalized).to_string()
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
