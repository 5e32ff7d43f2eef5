//! Conditional requests: `If-None-Match` against ETags, `If-Modified-Since` against file times.

use std::time::SystemTime;

use hyper::header::{HeaderMap, HeaderValue, IF_MODIFIED_SINCE, IF_NONE_MATCH};

/// Whether the client's copy is current, so a 304 answers it. `If-None-Match` wins over
/// `If-Modified-Since` when both are sent (RFC 9110 §13.2.2).
pub fn not_modified(
    request: &HeaderMap,
    etag: &HeaderValue,
    last_modified: Option<SystemTime>,
) -> bool {
    if let Some(if_none_match) = request.get(IF_NONE_MATCH) {
        return etag_matches(if_none_match, etag);
    }
    match (request.get(IF_MODIFIED_SINCE), last_modified) {
        (Some(since), Some(modified)) => since
            .to_str()
            .ok()
            .and_then(|s| httpdate::parse_http_date(s).ok())
            .is_some_and(|since| truncate_to_seconds(modified) <= since),
        _ => false,
    }
}

/// Weak comparison, as `If-None-Match` requires: `W/"x"` matches `"x"`; `*` matches anything.
fn etag_matches(if_none_match: &HeaderValue, etag: &HeaderValue) -> bool {
    let Ok(list) = if_none_match.to_str() else {
        return false;
    };
    let ours = etag.to_str().unwrap_or("").trim_start_matches("W/");
    list.split(',')
        .map(str::trim)
        .any(|candidate| candidate == "*" || candidate.trim_start_matches("W/") == ours)
}

/// HTTP dates have whole seconds.
fn truncate_to_seconds(time: SystemTime) -> SystemTime {
    httpdate::parse_http_date(&httpdate::fmt_http_date(time)).unwrap_or(time)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn headers(name: hyper::header::HeaderName, value: &str) -> HeaderMap {
        let mut map = HeaderMap::new();
        map.insert(name, HeaderValue::from_str(value).unwrap());
        map
    }

    const TAG: HeaderValue = HeaderValue::from_static("\"abc\"");

    #[test]
    fn matching_etag_is_not_modified() {
        assert!(not_modified(&headers(IF_NONE_MATCH, "\"abc\""), &TAG, None));
        assert!(not_modified(
            &headers(IF_NONE_MATCH, "\"x\", W/\"abc\""),
            &TAG,
            None
        ));
        assert!(not_modified(&headers(IF_NONE_MATCH, "*"), &TAG, None));
    }

    #[test]
    fn other_etag_is_modified() {
        assert!(!not_modified(
            &headers(IF_NONE_MATCH, "\"abd\""),
            &TAG,
            None
        ));
        assert!(!not_modified(&HeaderMap::new(), &TAG, None));
    }

    #[test]
    fn if_modified_since_compares_whole_seconds() {
        let modified = SystemTime::UNIX_EPOCH + Duration::from_millis(1_700_000_000_500);
        let same_second = httpdate::fmt_http_date(modified);
        assert!(not_modified(
            &headers(IF_MODIFIED_SINCE, &same_second),
            &TAG,
            Some(modified)
        ));
        let earlier = httpdate::fmt_http_date(modified - Duration::from_secs(10));
        assert!(!not_modified(
            &headers(IF_MODIFIED_SINCE, &earlier),
            &TAG,
            Some(modified)
        ));
    }

    #[test]
    fn if_none_match_wins_over_if_modified_since() {
        let modified = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let mut map = headers(IF_NONE_MATCH, "\"other\"");
        map.insert(
            IF_MODIFIED_SINCE,
            HeaderValue::from_str(&httpdate::fmt_http_date(modified)).unwrap(),
        );
        assert!(!not_modified(&map, &TAG, Some(modified)));
    }
}
