//! `Cache-Control` and `CDN-Cache-Control`: the caching policy Gatsby documents, computed once.
//! Files of `public/` carry their policy from the scan; generated pages revalidate in browsers and
//! may be kept by shared caches for the site's `shared_max_age`; error pages always revalidate.

use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};

/// HTML, page-data and `app-data.json`: always revalidate (Gatsby's caching documentation).
pub const MUST_REVALIDATE: HeaderValue =
    HeaderValue::from_static("public, max-age=0, must-revalidate");
/// Content-hashed JS/CSS and `/static/`: never changes under its name.
pub const IMMUTABLE: HeaderValue = HeaderValue::from_static("public, max-age=31536000, immutable");

pub const CDN_CACHE_CONTROL: HeaderName = HeaderName::from_static("cdn-cache-control");

/// Which caching policy a response carries.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Caching {
    /// No `Cache-Control` (admin answers, 405, 503).
    #[default]
    Unset,
    /// A file of `public/`, with the policy its path gets (`cache_control_for_static`).
    File(HeaderValue),
    /// A generated (deferred) page: `CacheControl::generated`.
    Generated,
    /// An error page, a redirect: always revalidate.
    Revalidate,
    /// Never stored by any cache (the probes: each answer is about this moment).
    NoStore,
}

/// The `Cache-Control` values of this server, computed once at start.
#[derive(Debug)]
pub struct CacheControl {
    generated: HeaderValue,
    cdn: Option<HeaderValue>,
}

impl CacheControl {
    pub fn new(shared_max_age: Option<u32>) -> Self {
        let (generated, cdn) = generated_cache_control(shared_max_age);
        CacheControl { generated, cdn }
    }

    pub fn apply(&self, headers: &mut HeaderMap, caching: &Caching) {
        match caching {
            Caching::Unset => {}
            Caching::File(value) => {
                headers.insert(header::CACHE_CONTROL, value.clone());
            }
            Caching::Generated => {
                headers.insert(header::CACHE_CONTROL, self.generated.clone());
                if let Some(value) = &self.cdn {
                    headers.insert(CDN_CACHE_CONTROL, value.clone());
                }
            }
            Caching::Revalidate => {
                headers.insert(header::CACHE_CONTROL, MUST_REVALIDATE);
            }
            Caching::NoStore => {
                headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            }
        }
    }
}

/// `Cache-Control` (and `CDN-Cache-Control`) of generated pages: browsers revalidate; shared
/// caches may keep a page for `shared_max_age` seconds, since it is valid for the whole build.
fn generated_cache_control(shared_max_age: Option<u32>) -> (HeaderValue, Option<HeaderValue>) {
    let Some(seconds) = shared_max_age else {
        return (MUST_REVALIDATE, None);
    };
    let value = |v: String| HeaderValue::from_str(&v).expect("digits are a valid header value");
    (
        value(format!(
            "public, max-age=0, must-revalidate, s-maxage={seconds}"
        )),
        Some(value(format!("public, max-age={seconds}"))),
    )
}

/// Gatsby's documented policy: `/static/*` and content-hashed `.js`/`.css` are immutable; the rest
/// (HTML, page-data, `app-data.json`, `sw.js`, files copied from the site's `static/`) revalidates.
pub fn cache_control_for_static(url_path: &str) -> HeaderValue {
    if url_path.starts_with("/static/") || is_content_hashed_asset(url_path) {
        IMMUTABLE
    } else {
        MUST_REVALIDATE
    }
}

/// `app-2f1c0b8e9d3a4c5b6a7e.js`, `styles.0a1b2c3d4e5f6a7b8c9d.css`: webpack's `[contenthash]`
/// (Gatsby uses 20 hex digits) as the last `-` or `.` separated part of the name.
fn is_content_hashed_asset(url_path: &str) -> bool {
    let Some((stem, extension)) = url_path.rsplit_once('.') else {
        return false;
    };
    if !matches!(extension, "js" | "css" | "mjs" | "map") {
        return false;
    }
    let stem = stem.trim_end_matches(".js"); // `x-<hash>.js.map`
    let hash = stem.rsplit(['-', '.']).next().unwrap_or("");
    hash.len() >= 16 && hash.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashed_js_and_css_are_immutable() {
        assert_eq!(
            cache_control_for_static("/app-2f1c0b8e9d3a4c5b6a7e.js"),
            IMMUTABLE
        );
        assert_eq!(
            cache_control_for_static("/component---src-pages-index-js-0a1b2c3d4e5f6a7b8c9d.js"),
            IMMUTABLE
        );
        assert_eq!(
            cache_control_for_static("/styles.0a1b2c3d4e5f6a7b8c9d.css"),
            IMMUTABLE
        );
        assert_eq!(cache_control_for_static("/static/d/123/x.json"), IMMUTABLE);
    }

    #[test]
    fn pages_page_data_and_unhashed_files_revalidate() {
        for path in [
            "/index.html",
            "/page-data/index/page-data.json",
            "/page-data/app-data.json",
            "/sw.js",
            "/scripts/widget.js",
            "/robots.txt",
        ] {
            assert_eq!(cache_control_for_static(path), MUST_REVALIDATE, "{path}");
        }
    }
}
