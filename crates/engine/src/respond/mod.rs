//! Turning a routed, resolved request into an HTTP response: representation chosen by
//! `Accept-Encoding`, validators and 304s, byte ranges, error pages.

pub mod conditional;
pub mod encoding;
pub mod error_pages;
pub mod headers;
pub mod range;

use std::time::SystemTime;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Response, StatusCode};

use crate::content::{Content, Encoding};
use error_pages::ErrorPages;
use headers::{add_common_headers, MUST_REVALIDATE};
use range::RangeRequest;

pub type Body = Full<Bytes>;

const HTML: HeaderValue = HeaderValue::from_static("text/html; charset=utf-8");
const TEXT: HeaderValue = HeaderValue::from_static("text/plain; charset=utf-8");
const ACCEPT_ENCODING: HeaderValue = HeaderValue::from_static("Accept-Encoding");
const BYTES: HeaderValue = HeaderValue::from_static("bytes");
const ALLOWED: HeaderValue = HeaderValue::from_static("GET, HEAD, OPTIONS");

/// Whether the body is sent: HEAD gets the same headers with none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyMode {
    Full,
    HeadersOnly,
}

/// What is known about a body before a request picks its representation.
pub struct Entity<'a> {
    pub content: &'a Content,
    pub content_type: HeaderValue,
    pub cache_control: HeaderValue,
    pub modified: Option<(SystemTime, &'a HeaderValue)>,
    /// Offered in brotli/gzip when stored so (`Vary: Accept-Encoding`).
    pub negotiable: bool,
    /// Byte ranges allowed (static files).
    pub ranges: bool,
}

/// 200, 206, 304 or 416 for `entity`, as `request` asks.
pub fn entity(request: &HeaderMap, entity: Entity<'_>, mode: BodyMode) -> Response<Body> {
    let range_header = request
        .get(header::RANGE)
        .filter(|_| entity.ranges)
        .and_then(|v| v.to_str().ok());
    // A range is of the identity bytes; no compressed range.
    let encoding = if entity.negotiable && range_header.is_none() {
        encoding::negotiate(request.get(header::ACCEPT_ENCODING), entity.content)
    } else {
        Encoding::Identity
    };
    let representation = entity
        .content
        .get(encoding)
        .unwrap_or(&entity.content.identity);

    let mut res = Response::new(Full::new(Bytes::new()));
    let headers = res.headers_mut();
    headers.insert(header::CACHE_CONTROL, entity.cache_control);
    headers.insert(header::ETAG, representation.etag.clone());
    if entity.negotiable {
        headers.insert(header::VARY, ACCEPT_ENCODING);
    }
    if let Some((_, last_modified)) = entity.modified {
        headers.insert(header::LAST_MODIFIED, last_modified.clone());
    }
    if entity.ranges {
        headers.insert(header::ACCEPT_RANGES, BYTES);
    }
    add_common_headers(headers);

    if conditional::not_modified(request, &representation.etag, entity.modified.map(|m| m.0)) {
        *res.status_mut() = StatusCode::NOT_MODIFIED;
        return res;
    }

    let headers = res.headers_mut();
    headers.insert(header::CONTENT_TYPE, entity.content_type);
    if let Some(value) = encoding.header_value() {
        headers.insert(header::CONTENT_ENCODING, value);
    }
    let full = &representation.bytes;
    let body = match range::parse(range_header, full.len()) {
        RangeRequest::Full => full.clone(),
        RangeRequest::Partial(range) => {
            *res.status_mut() = StatusCode::PARTIAL_CONTENT;
            let value = format!("bytes {}-{}/{}", range.start, range.end - 1, full.len());
            res.headers_mut().insert(
                header::CONTENT_RANGE,
                HeaderValue::from_str(&value).expect("digits are a valid header value"),
            );
            full.slice(range)
        }
        RangeRequest::Unsatisfiable => {
            *res.status_mut() = StatusCode::RANGE_NOT_SATISFIABLE;
            let value = format!("bytes */{}", full.len());
            res.headers_mut().insert(
                header::CONTENT_RANGE,
                HeaderValue::from_str(&value).expect("digits are a valid header value"),
            );
            Bytes::new()
        }
    };
    set_body(&mut res, body, mode);
    res
}

fn set_body(res: &mut Response<Body>, body: Bytes, mode: BodyMode) {
    res.headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    if mode == BodyMode::Full {
        *res.body_mut() = Full::new(body);
    }
}

/// A response with one body and the headers every response carries.
pub fn simple(
    status: StatusCode,
    content_type: HeaderValue,
    body: Bytes,
    mode: BodyMode,
) -> Response<Body> {
    let mut res = Response::new(Full::new(Bytes::new()));
    *res.status_mut() = status;
    let headers = res.headers_mut();
    headers.insert(header::CONTENT_TYPE, content_type);
    add_common_headers(headers);
    set_body(&mut res, body, mode);
    res
}

pub fn redirect(status: StatusCode, location: &str) -> Response<Body> {
    let mut res = simple(
        status,
        TEXT,
        Bytes::from(format!("Redirecting to {location}\n")),
        BodyMode::Full,
    );
    if let Ok(value) = HeaderValue::from_str(location) {
        res.headers_mut().insert(header::LOCATION, value);
    }
    res
}

/// 404 with the site's `404.html`. `x-dsg-cache` is absent: no deferred page was involved.
pub fn not_found(pages: &ErrorPages, mode: BodyMode) -> Response<Body> {
    error_page(StatusCode::NOT_FOUND, pages.not_found.as_ref(), mode)
}

/// 500 with the site's `500.html` when it has one.
pub fn server_error(pages: &ErrorPages, mode: BodyMode) -> Response<Body> {
    error_page(
        StatusCode::INTERNAL_SERVER_ERROR,
        pages.server_error.as_ref(),
        mode,
    )
}

fn error_page(status: StatusCode, page: Option<&Bytes>, mode: BodyMode) -> Response<Body> {
    let mut res = match page {
        Some(html) => simple(status, HTML, html.clone(), mode),
        None => plain(status, status.canonical_reason().unwrap_or("Error"), mode),
    };
    res.headers_mut()
        .insert(header::CACHE_CONTROL, MUST_REVALIDATE);
    res
}

pub fn plain(status: StatusCode, message: &str, mode: BodyMode) -> Response<Body> {
    simple(status, TEXT, Bytes::from(format!("{message}\n")), mode)
}

pub fn bad_request(reason: &str) -> Response<Body> {
    plain(
        StatusCode::BAD_REQUEST,
        &format!("Bad Request: {reason}"),
        BodyMode::Full,
    )
}

pub fn method_not_allowed() -> Response<Body> {
    let mut res = plain(
        StatusCode::METHOD_NOT_ALLOWED,
        "Method Not Allowed",
        BodyMode::Full,
    );
    res.headers_mut().insert(header::ALLOW, ALLOWED);
    res
}

/// `OPTIONS`: what may be asked, for CORS preflights.
pub fn options() -> Response<Body> {
    let mut res = simple(
        StatusCode::NO_CONTENT,
        TEXT,
        Bytes::new(),
        BodyMode::HeadersOnly,
    );
    let headers = res.headers_mut();
    headers.remove(header::CONTENT_TYPE);
    headers.remove(header::CONTENT_LENGTH);
    headers.insert(header::ALLOW, ALLOWED);
    headers.insert(header::ACCESS_CONTROL_ALLOW_METHODS, ALLOWED);
    res
}
