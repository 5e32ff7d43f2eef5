//! Request path → what answers it. Decided entirely in Rust, without calling JavaScript.
//!
//! Each [`Route`] variant is answered by one module of `server/handler/` (`static_file`,
//! `deferred`, `ssr`; redirects and errors straight from `respond`). A new kind of page is a new
//! variant here, decided in [`Router::route`]'s order, with its module beside
//! `server/handler/deferred.rs`. (Gatsby Functions and Partytown's proxy never get here: the
//! handler's pre-process takes them.)

use std::sync::Arc;

use hyper::StatusCode;

use crate::artifact::ArtifactKind;
use crate::pages::{DeferredPage, DeferredPages, MatchPath};
use crate::path::{normalize, page_path_of_page_data, trim_trailing_slash, PathError};
use crate::runtime_files::Known;
use crate::site::{ClientRouteSpec, Redirect, RedirectSpec, RequestFacts, TrailingSlash};
use crate::static_files::{StaticFile, StaticFiles};

/// What answers a request; `server/handler/mod.rs` dispatches on it.
#[derive(Debug)]
pub enum Route {
    /// A file of `public/` (also an SSG page answering for its client-only routes).
    Static(Arc<StaticFile>),
    /// Gatsby's trailing-slash redirects, a directory without its slash, `createRedirect`.
    Redirect {
        status: StatusCode,
        location: String,
    },
    /// A deferred page's HTML or page-data.
    Deferred {
        page: Arc<DeferredPage>,
        kind: ArtifactKind,
    },
    /// An SSR page's HTML or page-data, rendered for the request.
    Ssr {
        page: Arc<DeferredPage>,
        kind: ArtifactKind,
    },
    /// Maybe a file written into `public/` after start-up (`/static/…`, `/_gatsby/…`): look it up
    /// with [`RuntimeFiles::look_up`](crate::runtime_files::RuntimeFiles::look_up) off the async
    /// threads; if it is not there, [`Router::route_without_lookup`] routes the request on.
    LookUp(String),
    NotFound,
    BadRequest(PathError),
}

/// A routed request, with its normalised path (without the path prefix) for header rules.
#[derive(Debug)]
pub struct Routed {
    pub route: Route,
    pub path: Option<String>,
}

#[derive(Debug)]
pub struct Router {
    pub static_files: StaticFiles,
    pub pages: DeferredPages,
    /// SSR pages (`getServerData`): the same table, rendered per request.
    pub ssr_pages: DeferredPages,
    path_prefix: Option<String>,
    trailing_slash: TrailingSlash,
    redirects: Vec<Redirect>,
    /// SSG pages with a `matchPath`, most specific first.
    client_routes: Vec<(MatchPath, Arc<StaticFile>)>,
}

impl Router {
    pub fn new(static_files: StaticFiles, pages: DeferredPages) -> Self {
        Router {
            static_files,
            pages,
            ssr_pages: DeferredPages::default(),
            path_prefix: None,
            trailing_slash: TrailingSlash::default(),
            redirects: Vec::new(),
            client_routes: Vec::new(),
        }
    }

    /// Serve under `prefix` (e.g. `/blog`): other paths are not found.
    pub fn with_path_prefix(mut self, prefix: Option<&str>) -> Self {
        self.path_prefix = prefix
            .map(|p| format!("/{}", p.trim_matches('/')))
            .filter(|p| p != "/");
        self
    }

    pub fn path_prefix(&self) -> Option<&str> {
        self.path_prefix.as_deref()
    }

    pub fn with_ssr_pages(mut self, pages: DeferredPages) -> Self {
        self.ssr_pages = pages;
        self
    }

    pub fn with_trailing_slash(mut self, option: TrailingSlash) -> Self {
        self.trailing_slash = option;
        self
    }

    pub fn with_redirects(mut self, redirects: &[RedirectSpec]) -> Self {
        self.redirects = redirects.iter().map(Redirect::new).collect();
        self
    }

    /// Client-only routes of SSG pages; an entry whose page has no HTML in `public/` (a deferred
    /// page) is left to the deferred-page table.
    pub fn with_client_routes(mut self, routes: &[ClientRouteSpec]) -> Self {
        for route in routes {
            let dir = normalize(&route.path).unwrap_or_else(|_| route.path.clone());
            let dir = format!("{}/", dir.trim_end_matches('/'));
            if let Some(file) = self.static_files.index_of(&dir) {
                let file = Arc::clone(file);
                self.client_routes
                    .push((MatchPath::parse(&route.match_path), file));
            }
        }
        self.client_routes
            .sort_by_key(|(pattern, _)| std::cmp::Reverse(pattern.score));
        self
    }

    /// Routes the path part of a request URI; `query` only travels into redirects.
    ///
    /// Order: forced redirects; a deferred page by its own path (a file left in `public/` by an
    /// older build must not shadow it); `public/`; other redirects; `matchPath` patterns of SSG
    /// and deferred pages (so that a catch-all never hides a real file or redirect); 404.
    /// Redirects with `conditions` do not apply (nothing is known of the request).
    pub fn route(&self, raw_path: &str, query: Option<&str>) -> Routed {
        self.route_with(raw_path, query, &RequestFacts::default(), true)
    }

    /// As [`route`](Self::route), with what the request tells for redirect conditions.
    pub fn route_for(
        &self,
        raw_path: &str,
        query: Option<&str>,
        facts: &RequestFacts<'_>,
    ) -> Routed {
        self.route_with(raw_path, query, facts, true)
    }

    /// As [`route_for`](Self::route_for), for a request whose [`Route::LookUp`] found nothing.
    pub fn route_without_lookup(
        &self,
        raw_path: &str,
        query: Option<&str>,
        facts: &RequestFacts<'_>,
    ) -> Routed {
        self.route_with(raw_path, query, facts, false)
    }

    fn route_with(
        &self,
        raw_path: &str,
        query: Option<&str>,
        facts: &RequestFacts<'_>,
        look_up: bool,
    ) -> Routed {
        let Some(raw) = self.strip_prefix(raw_path) else {
            return Routed {
                route: Route::NotFound,
                path: None,
            };
        };
        let path = match normalize(raw) {
            Ok(path) => path,
            Err(error) => {
                return Routed {
                    route: Route::BadRequest(error),
                    path: None,
                }
            }
        };
        let route = self.route_normalized(raw, &path, query, facts, look_up);
        Routed {
            route,
            path: Some(path),
        }
    }

    fn route_normalized(
        &self,
        raw: &str,
        path: &str,
        query: Option<&str>,
        facts: &RequestFacts<'_>,
        look_up: bool,
    ) -> Route {
        let redirect = self
            .redirects
            .iter()
            .find(|r| r.matches(path) && r.applies_to(facts));
        if let Some(redirect) = redirect.filter(|r| r.force) {
            return self.redirect_to(redirect, query);
        }

        if let Some(page_path) = page_path_of_page_data(path) {
            if let Some(page) = self.pages.find_exact(&page_path) {
                return deferred(&page, ArtifactKind::PageData);
            }
            // The browser asks an SSR page found by its matchPath for the page-data of the URL.
            if let Some(page) = self
                .ssr_pages
                .find_exact(&page_path)
                .or_else(|| self.ssr_pages.find_by_match_path(&page_path).cloned())
            {
                return ssr(&page, ArtifactKind::PageData);
            }
        }
        if let Some(page) = self.pages.find_exact(path) {
            let page_path = normalize(&page.path).unwrap_or_else(|_| page.path.to_string());
            return match self.slash_redirect(raw, path, &page_path, query) {
                Some(route) => route,
                None => deferred(&page, ArtifactKind::Html),
            };
        }
        if let Some(page) = self.ssr_pages.find_exact(path) {
            let page_path = normalize(&page.path).unwrap_or_else(|_| page.path.to_string());
            return match self.slash_redirect(raw, path, &page_path, query) {
                Some(route) => route,
                None => ssr(&page, ArtifactKind::Html),
            };
        }

        if path.ends_with('/') {
            if let Some(file) = self.static_files.index_of(path) {
                if self.trailing_slash == TrailingSlash::Never && path != "/" {
                    let trimmed = raw.trim_end_matches('/');
                    return self.moved(trimmed, query);
                }
                return Route::Static(Arc::clone(file));
            }
        } else if let Some(file) = self.static_files.file(path) {
            return Route::Static(Arc::clone(file));
        } else if let Some(route) = self.runtime_file(path, look_up) {
            return route;
        } else if self.static_files.has_index_below(path) {
            if self.trailing_slash == TrailingSlash::Never {
                let dir = format!("{path}/");
                if let Some(file) = self.static_files.index_of(&dir) {
                    return Route::Static(Arc::clone(file));
                }
            }
            return self.moved(&format!("{}/", raw.trim_end_matches('/')), query);
        }

        // A redirect is shadowed by a real page, not by a client-only route's pattern.
        if let Some(redirect) = redirect {
            return self.redirect_to(redirect, query);
        }

        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let client_route = self
            .client_routes
            .iter()
            .find(|(pattern, _)| pattern.matches(&segments));
        let deferred_route = self.pages.find_by_match_path_scored(&segments);
        let ssr_route = self.ssr_pages.find_by_match_path_scored(&segments);
        // Of a deferred and an SSR pattern, the more specific (the deferred one when equal).
        let engine_route = match (deferred_route, ssr_route) {
            (Some((d, page)), Some((s, _))) if d >= s => {
                Some((d, deferred(page, ArtifactKind::Html)))
            }
            (_, Some((s, page))) => Some((s, ssr(page, ArtifactKind::Html))),
            (Some((d, page)), None) => Some((d, deferred(page, ArtifactKind::Html))),
            (None, None) => None,
        };
        if client_route.is_some() || engine_route.is_some() {
            // Gatsby redirects a path found through a page's matchPath as it does the page's
            // own path (the page's path never equals such a request path).
            if let Some(redirect) = self.slash_redirect(raw, path, "", query) {
                return redirect;
            }
        }
        match (client_route, engine_route) {
            (Some((pattern, file)), Some((score, _))) if pattern.score > score => {
                Route::Static(Arc::clone(file))
            }
            (_, Some((_, route))) => route,
            (Some((_, file)), None) => Route::Static(Arc::clone(file)),
            (None, None) => Route::NotFound,
        }
    }

    /// A file written into `public/` after start-up: known, or worth a look on disk. Like any
    /// file, it comes before redirects and `matchPath` patterns (a catch-all `/*` page must not
    /// answer for an image).
    fn runtime_file(&self, path: &str, look_up: bool) -> Option<Route> {
        match self.static_files.runtime().known(path) {
            Known::Found(file) => Some(Route::Static(file)),
            Known::Unknown if look_up => Some(Route::LookUp(path.to_string())),
            Known::Unknown | Known::Missing => None,
        }
    }

    /// Gatsby's `trailingSlash` redirects for a page found by a slash variant of its path.
    fn slash_redirect(
        &self,
        raw: &str,
        path: &str,
        page_path: &str,
        query: Option<&str>,
    ) -> Option<Route> {
        if path == page_path || path == "/" {
            return None;
        }
        match self.trailing_slash {
            TrailingSlash::Always if !path.ends_with('/') => {
                Some(self.moved(&format!("{}/", raw.trim_end_matches('/')), query))
            }
            TrailingSlash::Never if path.ends_with('/') => {
                Some(self.moved(trim_trailing_slash(raw), query))
            }
            _ => None,
        }
    }

    /// The request path without the path prefix (`None`: outside it).
    pub fn strip_path_prefix<'a>(&self, raw_path: &'a str) -> Option<&'a str> {
        self.strip_prefix(raw_path)
    }

    fn strip_prefix<'a>(&self, raw_path: &'a str) -> Option<&'a str> {
        let Some(prefix) = &self.path_prefix else {
            return Some(raw_path);
        };
        match raw_path.strip_prefix(prefix.as_str()) {
            Some("") => Some("/"),
            Some(rest) if rest.starts_with('/') => Some(rest),
            _ => None,
        }
    }

    /// 301 to `raw` (an unprefixed path of this site), with the prefix and the query.
    fn moved(&self, raw: &str, query: Option<&str>) -> Route {
        Route::Redirect {
            status: StatusCode::MOVED_PERMANENTLY,
            location: self.location(raw, query),
        }
    }

    fn redirect_to(&self, redirect: &Redirect, query: Option<&str>) -> Route {
        let location = if redirect.to.starts_with('/') {
            self.location(&redirect.to, query)
        } else {
            redirect.to.clone()
        };
        Route::Redirect {
            status: StatusCode::from_u16(redirect.status).unwrap_or(StatusCode::FOUND),
            location,
        }
    }

    fn location(&self, raw: &str, query: Option<&str>) -> String {
        // Leading slashes collapsed: `//about` must not become `//about/`, which a browser
        // reads as another host.
        // A raw backslash too: browsers read `/\evil.example/` as `//evil.example/`.
        let mut location = format!(
            "{}/{}",
            self.path_prefix.as_deref().unwrap_or(""),
            raw.trim_start_matches('/').replace('\\', "%5C")
        );
        if let Some(query) = query {
            location.push('?');
            location.push_str(query);
        }
        location
    }
}

fn ssr(page: &Arc<DeferredPage>, kind: ArtifactKind) -> Route {
    Route::Ssr {
        page: Arc::clone(page),
        kind,
    }
}

fn deferred(page: &Arc<DeferredPage>, kind: ArtifactKind) -> Route {
    Route::Deferred {
        page: Arc::clone(page),
        kind,
    }
}

#[cfg(test)]
mod tests;
