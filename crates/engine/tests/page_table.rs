//! The compact deferred-page table (`pages.rs`) answers exactly as the `HashMap` table it
//! replaced: the old implementation is kept here as the oracle, and both are asked the same
//! questions over listings and request paths built from hostile pieces (encoded and raw
//! non-ASCII, encoded slashes and percent signs, dot segments, repeated and missing slashes,
//! duplicate pages, `matchPath`s). The manifest reader builds the same table as the page list.
//!
//! `PROPTEST_CASES` cases (256 by default).

use std::collections::HashMap;
use std::sync::Arc;

use gatsby_dsg_engine::manifest;
use gatsby_dsg_engine::pages::MatchPath;
use gatsby_dsg_engine::path::{normalize, trim_trailing_slash};
use gatsby_dsg_engine::policy::DeferPolicy;
use gatsby_dsg_engine::{DeferredPageSpec, DeferredPages, TableError};
use proptest::prelude::*;

/// A page as the oracle holds it: path and matchPath.
type Page = (String, Option<String>);

/// The table as it was before it was made compact (pages.rs at b31959f), the oracle.
#[derive(Default)]
struct Reference {
    exact: HashMap<String, Arc<Page>>,
    patterns: Vec<(MatchPath, Arc<Page>)>,
}

impl Reference {
    fn new(specs: &[DeferredPageSpec]) -> Self {
        let mut table = Reference::default();
        for spec in specs {
            let page = Arc::new((spec.path.clone(), spec.match_path.clone()));
            if let Some(pattern) = &spec.match_path {
                table
                    .patterns
                    .push((MatchPath::parse(pattern), Arc::clone(&page)));
            }
            let normalized = normalize(&spec.path).unwrap_or_else(|_| spec.path.clone());
            table
                .exact
                .insert(trim_trailing_slash(&normalized).to_string(), page);
        }
        table
            .patterns
            .sort_by_key(|(pattern, _)| std::cmp::Reverse(pattern.score));
        table
    }

    fn find_exact(&self, path: &str) -> Option<Page> {
        self.exact
            .get(trim_trailing_slash(path))
            .map(|p| (**p).clone())
    }

    fn find_by_match_path(&self, path: &str) -> Option<(i32, Page)> {
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        self.patterns
            .iter()
            .find(|(pattern, _)| pattern.matches(&segments))
            .map(|(pattern, page)| (pattern.score, (**page).clone()))
    }

    fn paths(&self) -> Vec<String> {
        let mut paths: Vec<String> = self.exact.values().map(|p| p.0.clone()).collect();
        paths.sort();
        paths
    }

    fn matching(&self, glob: &str) -> Vec<String> {
        let policy = DeferPolicy::new(&[glob.to_string()], &[]).unwrap();
        let mut paths: Vec<String> = self
            .exact
            .values()
            .filter(|p| policy.should_defer(&p.0))
            .map(|p| p.0.clone())
            .collect();
        paths.sort();
        paths
    }
}

fn found(table: &DeferredPages, path: &str) -> Option<Page> {
    table
        .find_exact(path)
        .map(|p| (p.path.to_string(), p.match_path.clone()))
}

fn found_by_match_path(table: &DeferredPages, path: &str) -> Option<(i32, Page)> {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    table
        .find_by_match_path_scored(&segments)
        .map(|(score, p)| (score, (p.path.to_string(), p.match_path.clone())))
}

fn sorted_paths(table: &DeferredPages) -> Vec<String> {
    let mut paths: Vec<String> = table.paths().map(|p| p.into_owned()).collect();
    paths.sort();
    paths
}

const PIECES: &[&str] = &[
    "a",
    "b",
    "blog",
    "post-1",
    "안녕",
    "%EC%95%88",
    "%ec%95%88",
    "%2F",
    "%2f",
    "%25",
    "%",
    "%zz",
    "%00",
    ".",
    "..",
    "%2e",
    "%2E%2E",
    "",
    "x y",
    "x%20y",
    "A",
    "a.html",
    "index",
    "*",
    ":id",
    "\\",
    "ü",
    "%C3%BC",
];

/// A path of 0–4 pieces joined by one or two slashes, maybe without the leading slash, with
/// 0–2 trailing slashes.
fn a_path() -> impl Strategy<Value = String> {
    (
        prop::collection::vec((prop::sample::select(PIECES), any::<bool>()), 0..5),
        prop::sample::select(&[0usize, 1, 1, 1, 2][..]),
        prop::bool::weighted(0.95),
    )
        .prop_map(|(pieces, trailing, leading)| {
            let mut path = String::new();
            for (piece, double) in pieces {
                path.push_str(if double { "//" } else { "/" });
                path.push_str(piece);
            }
            path.push_str(&"/".repeat(trailing));
            if path.is_empty() {
                path.push('/');
            }
            if !leading {
                path = path.trim_start_matches('/').to_string();
            }
            path
        })
}

const PATTERNS: &[&str] = &[
    "/*",
    "/a/*",
    "/a/:id",
    "/blog/:id/b",
    "/안녕/*",
    "/%EC%95%88/:x",
    "/app/*rest",
    "/",
];

fn a_spec() -> impl Strategy<Value = DeferredPageSpec> {
    (
        a_path(),
        prop::option::weighted(0.1, prop::sample::select(PATTERNS)),
    )
        .prop_map(|(path, match_path)| DeferredPageSpec {
            path,
            match_path: match_path.map(str::to_string),
        })
}

const GLOBS: &[&str] = &["/**", "/a/**", "/blog/*", "/안녕/**", "/**/b/", "/a"];

proptest! {
    #[test]
    fn the_compact_table_answers_every_lookup_as_the_hash_map_did(
        specs in prop::collection::vec(a_spec(), 0..40),
        requests in prop::collection::vec(a_path(), 1..40),
    ) {
        let reference = Reference::new(&specs);
        let table = DeferredPages::new(specs.iter().cloned());
        prop_assert_eq!(table.len(), reference.exact.len());
        prop_assert_eq!(sorted_paths(&table), reference.paths());
        // Listed paths and their slash variants are found; so are the requests, raw and as the
        // router asks (normalised).
        let listed = specs.iter().flat_map(|s| [s.path.clone(), format!("{}/", s.path), s.path.trim_end_matches('/').to_string()]);
        for request in requests.into_iter().chain(listed) {
            let mut asked = vec![request.clone()];
            if let Ok(normalized) = normalize(&request) {
                asked.push(normalized);
            }
            for path in asked {
                prop_assert_eq!(found(&table, &path), reference.find_exact(&path), "find_exact({:?})", path);
                prop_assert_eq!(found_by_match_path(&table, &path), reference.find_by_match_path(&path), "matchPath of {:?}", path);
            }
        }
        for glob in GLOBS {
            let mut matching: Vec<String> = table.matching(glob).unwrap().iter().map(|p| p.path.to_string()).collect();
            matching.sort();
            prop_assert_eq!(matching, reference.matching(glob), "glob {}", glob);
        }
    }

    #[test]
    fn the_manifest_reader_builds_the_table_the_page_list_builds(
        specs in prop::collection::vec(a_spec(), 0..30),
        ssr in prop::collection::vec(a_spec(), 0..5),
        requests in prop::collection::vec(a_path(), 1..20),
    ) {
        let entry = |s: &DeferredPageSpec| serde_json::json!({
            "path": s.path, "matchPath": s.match_path, "componentChunkName": "component---x-js",
        });
        let json = serde_json::json!({
            "version": 2, "buildId": "b1", "site": { "trailingSlash": "always" },
            "pages": specs.iter().map(entry).collect::<Vec<_>>(),
            "ssrPages": ssr.iter().map(entry).collect::<Vec<_>>(),
        });
        let read = manifest::parse(json.to_string().as_bytes(), "deferred-pages.json", Some("b1")).unwrap();
        let listed = DeferredPages::new(specs.iter().cloned());
        let listed_ssr = DeferredPages::new(ssr.iter().cloned());
        prop_assert_eq!(sorted_paths(&read.deferred), sorted_paths(&listed));
        prop_assert_eq!(sorted_paths(&read.ssr), sorted_paths(&listed_ssr));
        for path in requests {
            prop_assert_eq!(found(&read.deferred, &path), found(&listed, &path));
            prop_assert_eq!(found_by_match_path(&read.deferred, &path), found_by_match_path(&listed, &path));
            prop_assert_eq!(found(&read.ssr, &path), found(&listed_ssr, &path));
        }
    }
}

#[test]
fn a_manifest_of_gatsby_dsg_0_1_with_indented_pages_and_null_match_paths_is_read() {
    // The shape the plugin wrote as version 1 (fixture builds of Gatsby 4.25 and 5.12 have it).
    let v1 = r#"{
  "version": 1,
  "buildId": "0f3a",
  "builtAt": "2026-11-30T10:00:00.000Z",
  "site": { "pathPrefix": "", "redirects": [] },
  "pages": [
    { "path": "/blog/a/", "matchPath": null, "componentChunkName": "component---src-templates-post-js" },
    { "path": "/app/", "matchPath": "/app/*", "componentChunkName": "component---src-pages-app-js" },
    { "path": "/\u00fc/", "matchPath": null, "componentChunkName": "c" }
  ],
  "ssrPages": [ { "path": "/ssr/", "matchPath": null, "componentChunkName": "c" } ]
}"#;
    let read = manifest::parse(v1.as_bytes(), "deferred-pages.json", Some("0f3a")).unwrap();
    assert_eq!(read.deferred.len(), 3);
    assert_eq!(
        &*read.deferred.find_exact("/blog/a").unwrap().path,
        "/blog/a/"
    );
    assert_eq!(&*read.deferred.find_exact("/ü").unwrap().path, "/ü/");
    assert_eq!(
        &*read.deferred.find_by_match_path("/app/x").unwrap().path,
        "/app/"
    );
    assert!(read.ssr.find_exact("/ssr/").is_some());
}

#[test]
fn a_manifest_of_an_unknown_version_is_refused_with_a_rebuild_message() {
    let error = manifest::parse(
        br#"{"version": 3, "buildId": "b", "pages": []}"#,
        "m.json",
        None,
    )
    .unwrap_err();
    assert!(matches!(error, TableError::Version { version: 3, .. }));
    assert!(
        error.to_string().contains("run `gatsby build` again"),
        "{error}"
    );
}

#[test]
fn a_manifest_of_another_build_is_refused() {
    let error = manifest::parse(
        br#"{"version": 2, "buildId": "new", "pages": []}"#,
        "m.json",
        Some("old"),
    )
    .unwrap_err();
    assert!(matches!(error, TableError::OtherBuild { .. }), "{error}");
    assert!(
        error.to_string().contains("run `gatsby build` again"),
        "{error}"
    );
}

#[test]
fn a_torn_or_misshapen_manifest_is_refused_naming_the_file() {
    for bad in [
        &br#"{"version": 2, "buildId": "b", "pages": [{"path": "/a/"}"#[..],
        br#"{"version": 2, "pages": [{"matchPath": "/a/*"}]}"#,
        br#"{"version": 2, "pages": {"path": "/a/"}}"#,
        br#"{"buildId": "b", "pages": []}"#,
        b"[]",
        b"",
    ] {
        let error =
            manifest::parse(bad, "/site/.cache/gatsby-dsg/deferred-pages.json", None).unwrap_err();
        let message = error.to_string();
        assert!(
            message.contains("/site/.cache/gatsby-dsg/deferred-pages.json"),
            "{message}"
        );
        assert!(message.contains("run `gatsby build` again"), "{message}");
    }
}

#[test]
fn the_table_holds_a_million_blog_pages_in_under_40_bytes_each() {
    let table = DeferredPages::new((0..1_000_000).map(|i| DeferredPageSpec {
        path: format!("/blog/post-{i}/"),
        match_path: None,
    }));
    assert_eq!(table.len(), 1_000_000);
    // A key of ~17 bytes, a 4-byte end and a shape byte; nothing per page beside.
    let per_page = table.heap_bytes() as f64 / 1e6;
    assert!(per_page < 40.0, "{per_page} bytes per page");
    assert_eq!(
        &*table.find_exact("/blog/post-999999").unwrap().path,
        "/blog/post-999999/"
    );
    assert!(table.find_exact("/blog/post-1000000").is_none());
}
