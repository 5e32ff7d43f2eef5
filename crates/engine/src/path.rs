//! URL path normalisation, shared by routing and the page table so that `/a/b`, `/a/b/`, `/a//b/`
//! and `/a/%62/` name the same page, as Gatsby's `findEnginePageByPath` treats them.

use std::fmt;

use percent_encoding::percent_decode_str;

/// Why a request path was refused (answered 400).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PathError {
    /// Not origin-form (`/…`).
    NotAbsolute,
    /// Percent-decoding gave bytes that are not UTF-8 (Gatsby page paths are UTF-8).
    InvalidUtf8,
    /// A NUL byte, raw or encoded.
    NulByte,
    /// More `..` segments than there are directories: the path points above the site root.
    EscapesRoot,
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PathError::NotAbsolute => "path must start with /",
            PathError::InvalidUtf8 => "path is not valid UTF-8 after percent-decoding",
            PathError::NulByte => "path contains a NUL byte",
            PathError::EscapesRoot => "path escapes the site root",
        })
    }
}

impl std::error::Error for PathError {}

/// Percent-decodes `raw` (the path part of a request URI, without the query) and resolves `.`, `..`
/// and repeated slashes. The result starts with `/` and keeps a trailing slash if `raw` had one.
pub fn normalize(raw: &str) -> Result<String, PathError> {
    if !raw.starts_with('/') {
        return Err(PathError::NotAbsolute);
    }
    let decoded = percent_decode_str(raw)
        .decode_utf8()
        .map_err(|_| PathError::InvalidUtf8)?;
    if decoded.contains('\0') {
        return Err(PathError::NulByte);
    }

    let mut segments: Vec<&str> = Vec::new();
    let mut trailing_slash = false;
    for segment in decoded.split('/') {
        trailing_slash = false;
        match segment {
            "" => trailing_slash = true,
            "." => trailing_slash = true,
            ".." => {
                segments.pop().ok_or(PathError::EscapesRoot)?;
                trailing_slash = true;
            }
            _ => segments.push(segment),
        }
    }

    let mut normalized = String::with_capacity(decoded.len());
    for segment in &segments {
        normalized.push('/');
        normalized.push_str(segment);
    }
    if trailing_slash || segments.is_empty() {
        normalized.push('/');
    }
    Ok(normalized)
}

/// `/a/b/` → `/a/b`; `/` stays `/`. The form under which pages are looked up.
pub fn trim_trailing_slash(path: &str) -> &str {
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        "/"
    } else {
        trimmed
    }
}

/// For a normalised `/page-data/<p>/page-data.json`, the page path `/<p>` (`index` is `/`).
pub fn page_path_of_page_data(path: &str) -> Option<String> {
    let inner = path
        .strip_prefix("/page-data/")?
        .strip_suffix("/page-data.json")?;
    match inner {
        "" => None,
        "index" => Some("/".to_string()),
        _ => Some(format!("/{inner}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slash_variants_normalize_alike() {
        assert_eq!(normalize("/a/b").unwrap(), "/a/b");
        assert_eq!(normalize("/a/b/").unwrap(), "/a/b/");
        assert_eq!(normalize("/a//b//").unwrap(), "/a/b/");
        assert_eq!(trim_trailing_slash(&normalize("/a/b//").unwrap()), "/a/b");
    }

    #[test]
    fn root_stays_root() {
        assert_eq!(normalize("/").unwrap(), "/");
        assert_eq!(normalize("//").unwrap(), "/");
        assert_eq!(trim_trailing_slash("/"), "/");
    }

    #[test]
    fn percent_encoded_non_ascii_is_decoded() {
        let raw = "/blog/%EC%95%88%EB%85%95%ED%95%98%EC%84%B8%EC%9A%94/";
        assert_eq!(normalize(raw).unwrap(), "/blog/안녕하세요/");
    }

    #[test]
    fn dot_segments_resolve_inside_the_root() {
        assert_eq!(normalize("/a/./b/../c").unwrap(), "/a/c");
        assert_eq!(normalize("/a/b/..").unwrap(), "/a/");
        assert_eq!(normalize("/a/%2e%2e/c").unwrap(), "/c");
    }

    #[test]
    fn dot_segments_above_the_root_are_refused() {
        assert_eq!(normalize("/.."), Err(PathError::EscapesRoot));
        assert_eq!(
            normalize("/a/../../etc/passwd"),
            Err(PathError::EscapesRoot)
        );
        assert_eq!(normalize("/%2e%2e/%2e%2e/etc"), Err(PathError::EscapesRoot));
        assert_eq!(normalize("/a/..%2f..%2fetc"), Err(PathError::EscapesRoot));
    }

    #[test]
    fn nul_and_invalid_utf8_are_refused() {
        assert_eq!(normalize("/a%00b"), Err(PathError::NulByte));
        assert_eq!(normalize("/a%ff"), Err(PathError::InvalidUtf8));
        assert_eq!(normalize("/%c0%ae%c0%ae/"), Err(PathError::InvalidUtf8));
        assert_eq!(normalize("a/b"), Err(PathError::NotAbsolute));
    }

    #[test]
    fn double_encoding_is_decoded_once() {
        assert_eq!(normalize("/%252e%252e/").unwrap(), "/%2e%2e/");
    }

    #[test]
    fn page_data_url_maps_to_page_path() {
        assert_eq!(
            page_path_of_page_data("/page-data/index/page-data.json").as_deref(),
            Some("/")
        );
        assert_eq!(
            page_path_of_page_data("/page-data/a/b/page-data.json").as_deref(),
            Some("/a/b")
        );
        assert_eq!(page_path_of_page_data("/page-data/page-data.json"), None);
        assert_eq!(page_path_of_page_data("/page-data/app-data.json"), None);
        assert_eq!(page_path_of_page_data("/a/page-data.json"), None);
    }
}
