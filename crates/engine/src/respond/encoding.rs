//! `Accept-Encoding` negotiation: which stored representation a client gets.

use hyper::header::HeaderValue;

use crate::content::{Content, Encoding};

/// The best representation `content` has for a client sending `accept_encoding`: the highest
/// q-value among those stored, brotli before gzip on a tie, identity when nothing else is
/// acceptable.
pub fn negotiate(accept_encoding: Option<&HeaderValue>, content: &Content) -> Encoding {
    let Some(header) = accept_encoding.and_then(|h| h.to_str().ok()) else {
        return Encoding::Identity;
    };
    let (mut brotli, mut gzip, mut wildcard) = (None, None, None);
    for item in header.split(',') {
        let mut parts = item.split(';');
        let coding = parts.next().unwrap_or("").trim();
        let q = parts
            .filter_map(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .or_else(|| p.trim().strip_prefix("Q="))
            })
            .find_map(|v| v.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        match coding.to_ascii_lowercase().as_str() {
            "br" => brotli = Some(q),
            "gzip" | "x-gzip" => gzip = Some(q),
            "*" => wildcard = Some(q),
            _ => {}
        }
    }
    let brotli_q = brotli.or(wildcard).unwrap_or(0.0);
    let gzip_q = gzip.or(wildcard).unwrap_or(0.0);
    let candidates = [
        (Encoding::Brotli, brotli_q, content.brotli.is_some()),
        (Encoding::Gzip, gzip_q, content.gzip.is_some()),
    ];
    candidates
        .iter()
        .filter(|(_, q, stored)| *stored && *q > 0.0)
        .fold(
            None,
            |best: Option<(Encoding, f32)>, &(encoding, q, _)| match best {
                Some((_, best_q)) if best_q >= q => best,
                _ => Some((encoding, q)),
            },
        )
        .map_or(Encoding::Identity, |(encoding, _)| encoding)
}

/// Whether a file of this type is worth compressing (text; not images, fonts or archives, which
/// are compressed already).
pub fn is_compressible(content_type: &str) -> bool {
    let mime = content_type.split(';').next().unwrap_or("").trim();
    mime.starts_with("text/")
        || matches!(
            mime,
            "application/json"
                | "application/javascript"
                | "application/manifest+json"
                | "application/xml"
                | "application/rss+xml"
                | "application/atom+xml"
                | "image/svg+xml"
                | "application/wasm"
                | "font/ttf"
                | "font/otf"
                | "application/vnd.ms-fontobject"
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn content() -> Content {
        Content::new("<p>x</p>".repeat(500)).compressed()
    }

    fn pick(header: &str) -> Encoding {
        negotiate(Some(&HeaderValue::from_str(header).unwrap()), &content())
    }

    #[test]
    fn brotli_is_preferred_when_both_are_accepted() {
        assert_eq!(pick("gzip, deflate, br"), Encoding::Brotli);
        assert_eq!(pick("br, gzip"), Encoding::Brotli);
    }

    #[test]
    fn q_values_are_honoured() {
        assert_eq!(pick("br;q=0.5, gzip;q=0.8"), Encoding::Gzip);
        assert_eq!(pick("br;q=0, gzip"), Encoding::Gzip);
        assert_eq!(pick("gzip;q=0, br;q=0"), Encoding::Identity);
    }

    #[test]
    fn wildcard_accepts_what_is_not_named() {
        assert_eq!(pick("*"), Encoding::Brotli);
        assert_eq!(pick("br;q=0, *;q=0.1"), Encoding::Gzip);
    }

    #[test]
    fn no_header_or_unknown_codings_get_identity() {
        assert_eq!(negotiate(None, &content()), Encoding::Identity);
        assert_eq!(pick("deflate, zstd"), Encoding::Identity);
    }

    #[test]
    fn missing_variant_falls_back_to_what_is_stored() {
        let identity_only = Content::new("tiny");
        let header = HeaderValue::from_static("br, gzip");
        assert_eq!(negotiate(Some(&header), &identity_only), Encoding::Identity);
    }

    #[test]
    fn compressible_types() {
        assert!(is_compressible("text/html; charset=utf-8"));
        assert!(is_compressible("application/json; charset=utf-8"));
        assert!(is_compressible("image/svg+xml"));
        assert!(!is_compressible("image/png"));
        assert!(!is_compressible("font/woff2"));
    }
}
