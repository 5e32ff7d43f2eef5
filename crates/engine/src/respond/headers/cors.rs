//! The CORS headers `gatsby serve` sends with every response, and the allowed methods of a
//! preflight (`OPTIONS`).

use hyper::header::{
    HeaderMap, HeaderValue, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN,
};

use crate::respond::ALLOWED;

pub fn apply(headers: &mut HeaderMap, preflight: bool) {
    headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    headers.insert(
        ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("Origin, X-Requested-With, Content-Type, Accept"),
    );
    if preflight {
        headers.insert(ACCESS_CONTROL_ALLOW_METHODS, ALLOWED);
    }
}
