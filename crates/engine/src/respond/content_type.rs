//! `Content-Type` of the files of `public/`.

use hyper::header::HeaderValue;

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

#[cfg(test)]
mod tests {
    use super::*;

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
