//! `Vary: Accept-Encoding` on every response whose body was chosen by `Accept-Encoding` (also on
//! its 304s, so that a cache keeps one copy per encoding).

use hyper::header::{HeaderMap, HeaderValue, VARY};

const ACCEPT_ENCODING: HeaderValue = HeaderValue::from_static("Accept-Encoding");

pub fn apply(headers: &mut HeaderMap, negotiable: bool) {
    if negotiable {
        headers.insert(VARY, ACCEPT_ENCODING);
    }
}
