//! The `headers` an SSR page's `getServerData` returned (Gatsby's `serverDataHeaders`), last:
//! Gatsby applies them over its defaults and gatsby-config `headers`. The first value of a name
//! replaces what the stage set, later ones are added (several `Set-Cookie`), `Vary` is merged
//! with the server's own; framing headers are the server's alone.

use std::collections::HashSet;

use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};

/// Headers the engine must not set: the server frames the body itself.
const FRAMING: [HeaderName; 4] = [
    header::CONTENT_LENGTH,
    header::TRANSFER_ENCODING,
    header::CONNECTION,
    header::CONTENT_ENCODING,
];

pub fn apply(headers: &mut HeaderMap, server_data: Option<&[(String, String)]>) {
    let Some(engine) = server_data else {
        return;
    };
    let mut seen = HashSet::new();
    for (name, value) in engine {
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) else {
            eprintln!("gatsby-dsg: getServerData header {name:?} is not a valid header: ignored");
            continue;
        };
        if FRAMING.contains(&name) {
            continue;
        }
        if name == header::VARY {
            headers.append(header::VARY, value);
        } else if seen.insert(name.clone()) {
            headers.insert(name, value);
        } else {
            headers.append(name, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::respond::headers::cache_control::MUST_REVALIDATE;

    #[test]
    fn server_data_headers_replace_defaults_add_repeats_and_merge_vary() {
        let mut headers = HeaderMap::new();
        headers.insert(header::CACHE_CONTROL, MUST_REVALIDATE);
        headers.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
        let engine = [
            ("cache-control", "public, s-maxage=60"),
            ("set-cookie", "a=1"),
            ("set-cookie", "b=2"),
            ("vary", "Accept-Language"),
            ("content-length", "1"),
            ("bad name", "x"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()));
        apply(&mut headers, Some(&engine));
        assert_eq!(headers[header::CACHE_CONTROL], "public, s-maxage=60");
        assert_eq!(headers.get_all(header::SET_COOKIE).iter().count(), 2);
        assert_eq!(headers.get_all(header::VARY).iter().count(), 2);
        assert!(!headers.contains_key(header::CONTENT_LENGTH));
    }
}
