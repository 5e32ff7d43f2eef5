//! The defer policy of the Gatsby plugin: which page paths become DSG pages. The plugin asks this
//! through the addon so that glob semantics are the same everywhere.

use globset::{Glob, GlobBuilder, GlobSet, GlobSetBuilder};

use crate::path::trim_trailing_slash;

/// Gatsby's error pages must always be built (Gatsby itself forces them to SSG).
const NEVER_DEFERRED: [&str; 5] = ["/404.html", "/404", "/500.html", "/500", "/dev-404-page"];

/// Path globs (`*` stays inside one segment, `**` crosses them) for pages to defer, and globs for
/// pages never to defer; exclusion wins.
#[derive(Clone, Debug)]
pub struct DeferPolicy {
    defer: GlobSet,
    exclude: GlobSet,
}

/// A glob that does not compile, with the offending pattern.
#[derive(Debug)]
pub struct PolicyError {
    pub pattern: String,
    pub message: String,
}

impl std::fmt::Display for PolicyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invalid glob {:?}: {}", self.pattern, self.message)
    }
}

impl std::error::Error for PolicyError {}

impl DeferPolicy {
    pub fn new(defer: &[String], exclude: &[String]) -> Result<Self, PolicyError> {
        Ok(DeferPolicy {
            defer: glob_set(defer)?,
            exclude: glob_set(exclude)?,
        })
    }

    /// Whether the page at `page_path` should be deferred. A glob matches a path with or without
    /// its trailing slash, since Gatsby sites differ on `trailingSlash`.
    pub fn should_defer(&self, page_path: &str) -> bool {
        let trimmed = trim_trailing_slash(page_path);
        if NEVER_DEFERRED.contains(&trimmed) {
            return false;
        }
        let with_slash = format!("{}/", trimmed.trim_end_matches('/'));
        let candidates = [page_path, trimmed, with_slash.as_str()];
        let any = |set: &GlobSet| candidates.iter().any(|c| set.is_match(c));
        any(&self.defer) && !any(&self.exclude)
    }
}

fn glob_set(patterns: &[String]) -> Result<GlobSet, PolicyError> {
    let mut builder = GlobSetBuilder::new();
    for pattern in patterns {
        builder.add(compile(pattern)?);
    }
    builder.build().map_err(|e| PolicyError {
        pattern: patterns.join(", "),
        message: e.to_string(),
    })
}

fn compile(pattern: &str) -> Result<Glob, PolicyError> {
    let error = |message: String| PolicyError {
        pattern: pattern.to_string(),
        message,
    };
    if !pattern.starts_with('/') {
        return Err(error("a page glob must start with /".into()));
    }
    GlobBuilder::new(pattern)
        .literal_separator(true)
        .build()
        .map_err(|e| error(e.kind().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(defer: &[&str], exclude: &[&str]) -> DeferPolicy {
        let own = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        DeferPolicy::new(&own(defer), &own(exclude)).unwrap()
    }

    #[test]
    fn double_star_crosses_segments() {
        let p = policy(&["/blog/**"], &[]);
        assert!(p.should_defer("/blog/a/"));
        assert!(p.should_defer("/blog/2024/a/"));
        assert!(!p.should_defer("/about/"));
    }

    #[test]
    fn single_star_stays_in_one_segment() {
        let p = policy(&["/blog/*/"], &[]);
        assert!(p.should_defer("/blog/a/"));
        assert!(!p.should_defer("/blog/2024/a/"));
    }

    #[test]
    fn exclude_wins_over_defer() {
        let p = policy(&["/guides/**"], &["/guides/keep-static/"]);
        assert!(p.should_defer("/guides/one/"));
        assert!(!p.should_defer("/guides/keep-static/"));
        assert!(!p.should_defer("/guides/keep-static"));
    }

    #[test]
    fn trailing_slash_does_not_matter() {
        let p = policy(&["/a/b"], &[]);
        assert!(p.should_defer("/a/b/"));
        assert!(p.should_defer("/a/b"));
    }

    #[test]
    fn error_pages_are_never_deferred() {
        let p = policy(&["/**"], &[]);
        for path in ["/404.html", "/404/", "/500.html", "/500/", "/dev-404-page/"] {
            assert!(!p.should_defer(path), "{path}");
        }
        assert!(p.should_defer("/anything/"));
    }

    #[test]
    fn non_ascii_paths_match() {
        assert!(policy(&["/blog/**"], &[]).should_defer("/blog/안녕하세요/"));
    }

    #[test]
    fn invalid_glob_is_an_error_naming_the_pattern() {
        let err = DeferPolicy::new(&["/blog/[".to_string()], &[]).unwrap_err();
        assert!(err.to_string().contains("/blog/["), "{err}");
        let err = DeferPolicy::new(&["blog/**".to_string()], &[]).unwrap_err();
        assert!(err.to_string().contains("must start with /"), "{err}");
    }
}
