//! Single byte ranges (`Range: bytes=…`) of static files. Multiple ranges are answered with the
//! whole file, which RFC 9110 allows.

use std::ops::Range;

#[derive(Debug, PartialEq, Eq)]
pub enum RangeRequest {
    /// No usable `Range` header: send everything.
    Full,
    /// Send these bytes with 206.
    Partial(Range<usize>),
    /// 416: the range starts past the end.
    Unsatisfiable,
}

pub fn parse(header: Option<&str>, len: usize) -> RangeRequest {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return RangeRequest::Full;
    };
    if spec.contains(',') {
        return RangeRequest::Full;
    }
    let Some((start, end)) = spec.trim().split_once('-') else {
        return RangeRequest::Full;
    };
    let (start, end) = (start.trim(), end.trim());
    let range = match (start.parse::<usize>(), end.parse::<usize>()) {
        // bytes=-N: the last N bytes.
        (Err(_), Ok(suffix)) if start.is_empty() => {
            if suffix == 0 {
                return RangeRequest::Unsatisfiable;
            }
            len.saturating_sub(suffix)..len
        }
        // bytes=N-
        (Ok(first), Err(_)) if end.is_empty() => first..len,
        (Ok(first), Ok(last)) if first <= last => first..(last + 1).min(len),
        _ => return RangeRequest::Full,
    };
    if range.start >= len {
        return RangeRequest::Unsatisfiable;
    }
    RangeRequest::Partial(range)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closed_open_and_suffix_ranges() {
        assert_eq!(parse(Some("bytes=0-9"), 100), RangeRequest::Partial(0..10));
        assert_eq!(
            parse(Some("bytes=90-"), 100),
            RangeRequest::Partial(90..100)
        );
        assert_eq!(
            parse(Some("bytes=-10"), 100),
            RangeRequest::Partial(90..100)
        );
        assert_eq!(
            parse(Some("bytes=95-200"), 100),
            RangeRequest::Partial(95..100)
        );
    }

    #[test]
    fn range_past_the_end_is_unsatisfiable() {
        assert_eq!(parse(Some("bytes=100-"), 100), RangeRequest::Unsatisfiable);
        assert_eq!(parse(Some("bytes=-0"), 100), RangeRequest::Unsatisfiable);
    }

    #[test]
    fn malformed_or_multiple_ranges_send_the_whole_file() {
        assert_eq!(parse(None, 100), RangeRequest::Full);
        assert_eq!(parse(Some("bytes=5-1"), 100), RangeRequest::Full);
        assert_eq!(parse(Some("items=0-1"), 100), RangeRequest::Full);
        assert_eq!(parse(Some("bytes=0-1,5-6"), 100), RangeRequest::Full);
    }
}
