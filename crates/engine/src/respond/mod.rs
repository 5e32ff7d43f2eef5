//! Turning a routed, resolved request into an HTTP response: representation chosen by
//! `Accept-Encoding`, validators and 304s, byte ranges, error pages. Each function here sets the
//! status, the body, the representation headers and the headers its status requires, and returns
//! a [`Reply`]: the response with the [`Facts`] the header stage ([`headers`]) needs to add every
//! other header.

pub mod conditional;
pub mod content_type;
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
pub use headers::{Caching, Facts};
use range::RangeRequest;

pub type Body = Full<Bytes>;

/// A response, and what the header stage needs to know to finish its headers.
pub struct Reply {
    pub response: Response<Body>,
    pub facts: Facts,
}

impl Reply {
    fn new(response: Response<Body>, facts: Facts) -> Self {
        Reply { response, facts }
    }

    /// A reply the header stage adds only the headers of every response to.
    fn plain(response: Response<Body>) -> Self {
        Reply::new(response, Facts::default())
    }

    pub fn headers_mut(&mut self) -> &mut HeaderMap {
        self.response.headers_mut()
    }
}

const HTML: HeaderValue = HeaderValue::from_static("text/html; charset=utf-8");
const TEXT: HeaderValue = HeaderValue::from_static("text/plain; charset=utf-8");
const BYTES: HeaderValue = HeaderValue::from_static("bytes");
/// The methods the site answers (`Allow`, and `Access-Control-Allow-Methods` on preflights).
pub const ALLOWED: HeaderValue = HeaderValue::from_static("GET, HEAD, OPTIONS");

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
    pub caching: Caching,
    pub modified: Option<(SystemTime, &'a HeaderValue)>,
    /// Offered in brotli/gzip when stored so (`Vary: Accept-Encoding`).
    pub negotiable: bool,
    /// Byte ranges allowed (static files).
    pub ranges: bool,
}

/// 200, 206, 304 or 416 for `entity`, as `request` asks.
pub fn entity(request: &HeaderMap, entity: Entity<'_>, mode: BodyMode) -> Reply {
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

    let facts = Facts {
        caching: entity.caching,
        negotiable: entity.negotiable,
        ..Facts::default()
    };
    let mut res = Response::new(Full::new(Bytes::new()));
    let headers = res.headers_mut();
    headers.insert(header::ETAG, representation.etag.clone());
    if let Some((_, last_modified)) = entity.modified {
        headers.insert(header::LAST_MODIFIED, last_modified.clone());
    }
    if entity.ranges {
        headers.insert(header::ACCEPT_RANGES, BYTES);
    }

    if conditional::not_modified(request, &representation.etag, entity.modified.map(|m| m.0)) {
        *res.status_mut() = StatusCode::NOT_MODIFIED;
        return Reply::new(res, facts);
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
    Reply::new(res, facts)
}

fn set_body(res: &mut Response<Body>, body: Bytes, mode: BodyMode) {
    res.headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    if mode == BodyMode::Full {
        *res.body_mut() = Full::new(body);
    }
}

/// A response with one body.
pub fn simple(status: StatusCode, content_type: HeaderValue, body: Bytes, mode: BodyMode) -> Reply {
    let mut res = Response::new(Full::new(Bytes::new()));
    *res.status_mut() = status;
    res.headers_mut().insert(header::CONTENT_TYPE, content_type);
    set_body(&mut res, body, mode);
    Reply::plain(res)
}

/// A redirect answers a page's URL, so it gets the page's caching policy: revalidate (Gatsby's
/// `public, max-age=0, must-revalidate`). Without it, browsers keep a 301 heuristically, and the
/// next build could not take it back.
pub fn redirect(status: StatusCode, location: &str) -> Reply {
    let mut res = simple(
        status,
        TEXT,
        Bytes::from(format!("Redirecting to {location}\n")),
        BodyMode::Full,
    );
    res.facts.caching = Caching::Revalidate;
    if let Ok(value) = HeaderValue::from_str(location) {
        res.headers_mut().insert(header::LOCATION, value);
    }
    res
}

/// 404 with the site's `404.html`. `x-dsg-cache` is absent: no deferred page was involved.
pub fn not_found(pages: &ErrorPages, mode: BodyMode) -> Reply {
    error_page(StatusCode::NOT_FOUND, pages.not_found.as_ref(), mode)
}

/// 500 with the site's `500.html` when it has one.
pub fn server_error(pages: &ErrorPages, mode: BodyMode) -> Reply {
    error_page(
        StatusCode::INTERNAL_SERVER_ERROR,
        pages.server_error.as_ref(),
        mode,
    )
}

fn error_page(status: StatusCode, page: Option<&Bytes>, mode: BodyMode) -> Reply {
    let mut reply = match page {
        Some(html) => simple(status, HTML, html.clone(), mode),
        None => plain(status, status.canonical_reason().unwrap_or("Error"), mode),
    };
    reply.facts.caching = Caching::Revalidate;
    reply
}

pub fn plain(status: StatusCode, message: &str, mode: BodyMode) -> Reply {
    simple(status, TEXT, Bytes::from(format!("{message}\n")), mode)
}

pub fn bad_request(reason: &str) -> Reply {
    plain(
        StatusCode::BAD_REQUEST,
        &format!("Bad Request: {reason}"),
        BodyMode::Full,
    )
}

pub fn method_not_allowed() -> Reply {
    let mut res = plain(
        StatusCode::METHOD_NOT_ALLOWED,
        "Method Not Allowed",
        BodyMode::Full,
    );
    res.headers_mut().insert(header::ALLOW, ALLOWED);
    res
}

/// 503 while too many renders wait: the client may retry in a second.
pub fn overloaded(mode: BodyMode) -> Reply {
    let mut res = plain(
        StatusCode::SERVICE_UNAVAILABLE,
        "Too many pages are being generated; retry shortly",
        mode,
    );
    res.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    res
}

/// `OPTIONS`: what may be asked, for CORS preflights.
pub fn options() -> Reply {
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
    res.facts.preflight = true;
    res
}
