//! Request path → what answers it. Decided entirely in Rust, without calling JavaScript.

use std::sync::Arc;

use crate::artifact::ArtifactKind;
use crate::pages::{DeferredPage, DeferredPages};
use crate::path::{normalize, page_path_of_page_data, PathError};
use crate::static_files::{StaticFile, StaticFiles};

#[derive(Debug)]
pub enum Route {
    /// A file of `public/`.
    Static(Arc<StaticFile>),
    /// A directory asked without its trailing slash: 301 to this location, like `gatsby serve`.
    Redirect(String),
    /// A deferred page's HTML or page-data.
    Deferred {
        page: Arc<DeferredPage>,
        kind: ArtifactKind,
    },
    NotFound,
    BadRequest(PathError),
}

#[derive(Debug)]
pub struct Router {
    pub static_files: StaticFiles,
    pub pages: DeferredPages,
}

impl Router {
    pub fn new(static_files: StaticFiles, pages: DeferredPages) -> Self {
        Router {
            static_files,
            pages,
        }
    }

    /// Routes the path part of a request URI; `query` only travels into redirects.
    ///
    /// Order: a deferred page by its own path first (a file left in `public/` by an older build
    /// must not shadow it), then `public/`, then deferred pages by `matchPath` (so that a
    /// catch-all pattern never hides a real file).
    pub fn route(&self, raw_path: &str, query: Option<&str>) -> Route {
        let path = match normalize(raw_path) {
            Ok(path) => path,
            Err(error) => return Route::BadRequest(error),
        };

        if let Some(page_path) = page_path_of_page_data(&path) {
            if let Some(page) = self.pages.find_exact(&page_path) {
                return deferred(page, ArtifactKind::PageData);
            }
        }
        if let Some(page) = self.pages.find_exact(&path) {
            return deferred(page, ArtifactKind::Html);
        }

        if path.ends_with('/') {
            if let Some(file) = self.static_files.index_of(&path) {
                return Route::Static(Arc::clone(file));
            }
        } else if let Some(file) = self.static_files.file(&path) {
            return Route::Static(Arc::clone(file));
        } else if self.static_files.has_index_below(&path) {
            // Leading slashes collapsed: `//about` must not become `//about/`, which a browser
            // reads as another host.
            let mut location = format!("/{}/", raw_path.trim_start_matches('/'));
            if let Some(query) = query {
                location.push('?');
                location.push_str(query);
            }
            return Route::Redirect(location);
        }

        match self.pages.find_by_match_path(&path) {
            Some(page) => deferred(page, ArtifactKind::Html),
            None => Route::NotFound,
        }
    }
}

fn deferred(page: &Arc<DeferredPage>, kind: ArtifactKind) -> Route {
    Route::Deferred {
        page: Arc::clone(page),
        kind,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pages::DeferredPageSpec;
    use std::fs;

    fn router() -> (tempfile::TempDir, Router) {
        let public = tempfile::tempdir().unwrap();
        let write = |p: &str| {
            let file = public.path().join(p);
            fs::create_dir_all(file.parent().unwrap()).unwrap();
            fs::write(file, p).unwrap();
        };
        write("index.html");
        write("about/index.html");
        write("page-data/about/page-data.json");
        write("404.html");
        write("static/a.png");
        let pages = DeferredPages::new([
            spec("/blog/a/", None),
            spec("/blog/안녕/", None),
            spec("/deferred-root/", None),
            spec("/app/", Some("/app/*")),
            spec("/catch/", Some("/*")),
        ]);
        let files = StaticFiles::scan(public.path()).unwrap();
        (public, Router::new(files, pages))
    }

    fn spec(path: &str, match_path: Option<&str>) -> DeferredPageSpec {
        DeferredPageSpec {
            path: path.into(),
            match_path: match_path.map(Into::into),
        }
    }

    fn deferred_path(route: Route) -> (String, ArtifactKind) {
        match route {
            Route::Deferred { page, kind } => (page.path.to_string(), kind),
            other => panic!("expected a deferred page, got {other:?}"),
        }
    }

    #[test]
    fn deferred_page_html_resolves_in_every_slash_variant() {
        let (_dir, r) = router();
        for raw in ["/blog/a", "/blog/a/", "/blog/a//", "//blog//a/"] {
            assert_eq!(
                deferred_path(r.route(raw, None)),
                ("/blog/a/".into(), ArtifactKind::Html)
            );
        }
    }

    #[test]
    fn deferred_page_data_url_resolves_to_its_page() {
        let (_dir, r) = router();
        assert_eq!(
            deferred_path(r.route("/page-data/blog/a/page-data.json", None)),
            ("/blog/a/".into(), ArtifactKind::PageData)
        );
    }

    #[test]
    fn percent_encoded_korean_slug_resolves() {
        let (_dir, r) = router();
        let raw = "/blog/%EC%95%88%EB%85%95/";
        assert_eq!(deferred_path(r.route(raw, None)).0, "/blog/안녕/");
    }

    #[test]
    fn static_page_and_its_page_data_are_served_from_public() {
        let (_dir, r) = router();
        assert!(matches!(r.route("/about/", None), Route::Static(_)));
        assert!(matches!(r.route("/", None), Route::Static(_)));
        assert!(matches!(
            r.route("/page-data/about/page-data.json", None),
            Route::Static(_)
        ));
    }

    #[test]
    fn directory_without_slash_redirects_keeping_the_query() {
        let (_dir, r) = router();
        match r.route("/about", Some("x=1")) {
            Route::Redirect(location) => assert_eq!(location, "/about/?x=1"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn match_path_never_hides_a_static_file() {
        let (_dir, r) = router();
        assert!(matches!(r.route("/static/a.png", None), Route::Static(_)));
        assert_eq!(deferred_path(r.route("/app/x", None)).0, "/app/");
        assert_eq!(deferred_path(r.route("/nothing-here", None)).0, "/catch/");
    }

    #[test]
    fn unknown_path_is_not_found_without_a_catch_all() {
        let public = tempfile::tempdir().unwrap();
        let r = Router::new(
            StaticFiles::scan(public.path()).unwrap(),
            DeferredPages::new([spec("/blog/a/", None)]),
        );
        assert!(matches!(r.route("/nope/", None), Route::NotFound));
        assert!(matches!(
            r.route("/page-data/nope/page-data.json", None),
            Route::NotFound
        ));
    }

    #[test]
    fn traversal_is_a_bad_request() {
        let (_dir, r) = router();
        assert!(matches!(
            r.route("/../../etc/passwd", None),
            Route::BadRequest(PathError::EscapesRoot)
        ));
    }
}
