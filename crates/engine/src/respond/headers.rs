//! Header values, computed once: the ones Gatsby sends, and the caching policy Gatsby documents.

use hyper::header::{HeaderMap, HeaderName, HeaderValue};

pub const X_DSG_CACHE: HeaderName = HeaderName::from_static("x-dsg-cache");
pub const HIT: HeaderValue = HeaderValue::from_static("HIT");
pub const MISS: HeaderValue = HeaderValue::from_static("MISS");
pub const STALE: HeaderValue = HeaderValue::from_static("STALE");

/// HTML, page-data and `app-data.json`: always revalidate (Gatsby's caching documentation).
pub const MUST_REVALIDATE: HeaderValue =
    HeaderValue::from_static("public, max-age=0, must-revalidate");
/// Content-hashed JS/CSS and `/static/`: never changes under its name.
pub const IMMUTABLE: HeaderValue = HeaderValue::from_static("public, max-age=31536000, immutable");

/// What `gatsby serve` adds to every response: its four security headers and its CORS headers.
pub fn add_common_headers(headers: &mut HeaderMap) {
    use hyper::header::{
        ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_ORIGIN, REFERRER_POLICY,
        X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS, X_XSS_PROTECTION,
    };
    headers.insert(X_XSS_PROTECTION, HeaderValue::from_static("1; mode=block"));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    headers.insert(
        ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("Origin, X-Requested-With, Content-Type, Accept"),
    );
}

pub const CDN_CACHE_CONTROL: HeaderName = HeaderName::from_static("cdn-cache-control");

/// `Cache-Control` (and `CDN-Cache-Control`) of generated pages: browsers revalidate; shared
/// caches may keep a page for `shared_max_age` seconds, since it is valid for the whole build.
pub fn generated_cache_control(shared_max_age: Option<u32>) -> (HeaderValue, Option<HeaderValue>) {
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

/// `Content-Type` for a file of `public/`, with a charset for text.
pub fn content_type_for(url_path: &str) -> HeaderValue {
    let mime = mime_guess::from_path(url_path).first_or_octet_stream();
    let textual = mime.type_() == mime_guess::mime::TEXT
        || matches!(
            mime.subtype().as_str(),
            "json" | "javascript" | "xml" | "manifest+json"
        );
    let value = if textual {
        format!("{mime}; charset=utf-8")
    } else {
        mime.to_string()
    };
    HeaderValue::from_str(&value).unwrap_or(HeaderValue::from_static("application/octet-stream"))
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

    #[test]
    fn text_types_carry_a_charset() {
        assert_eq!(
            content_type_for("/a/index.html"),
            "text/html; charset=utf-8"
        );
        assert_eq!(
            content_type_for("/page-data/a/page-data.json"),
            "application/json; charset=utf-8"
        );
        assert_eq!(content_type_for("/x.png"), "image/png");
    }
}
