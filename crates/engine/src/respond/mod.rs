//! Turning a routed, resolved request into an HTTP response.

pub mod error_pages;
pub mod headers;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{self, HeaderValue};
use hyper::{Response, StatusCode};

use crate::artifact::{Artifact, ArtifactKind};
use crate::cache::CacheOutcome;
use crate::static_files::StaticFile;
use error_pages::ErrorPages;
use headers::{add_security_headers, MUST_REVALIDATE, X_DSG_CACHE};

pub type Body = Full<Bytes>;

const HTML: HeaderValue = HeaderValue::from_static("text/html; charset=utf-8");
const TEXT: HeaderValue = HeaderValue::from_static("text/plain; charset=utf-8");

/// Whether the body is sent: HEAD gets the same headers with none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyMode {
    Full,
    HeadersOnly,
}

fn response(
    status: StatusCode,
    content_type: HeaderValue,
    body: Bytes,
    mode: BodyMode,
) -> Response<Body> {
    let length = HeaderValue::from(body.len());
    let body = match mode {
        BodyMode::Full => body,
        BodyMode::HeadersOnly => Bytes::new(),
    };
    let mut res = Response::new(Full::new(body));
    *res.status_mut() = status;
    let headers = res.headers_mut();
    headers.insert(header::CONTENT_TYPE, content_type);
    headers.insert(header::CONTENT_LENGTH, length);
    add_security_headers(headers);
    res
}

/// A deferred page's artifact, with Gatsby's headers and whether it came from the cache.
pub fn artifact(
    kind: ArtifactKind,
    artifact: &Artifact,
    outcome: CacheOutcome,
    mode: BodyMode,
) -> Response<Body> {
    let mut res = response(
        StatusCode::OK,
        HeaderValue::from_static(kind.content_type()),
        artifact.body.clone(),
        mode,
    );
    let headers = res.headers_mut();
    headers.insert(header::CACHE_CONTROL, MUST_REVALIDATE);
    headers.insert(X_DSG_CACHE, outcome.header_value());
    res
}

pub fn static_file(file: &StaticFile, body: Bytes, mode: BodyMode) -> Response<Body> {
    let mut res = response(StatusCode::OK, file.content_type.clone(), body, mode);
    res.headers_mut()
        .insert(header::CACHE_CONTROL, file.cache_control.clone());
    res
}

pub fn redirect(location: &str) -> Response<Body> {
    let mut res = response(
        StatusCode::MOVED_PERMANENTLY,
        TEXT,
        Bytes::from(format!("Redirecting to {location}")),
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
        Some(html) => response(status, HTML, html.clone(), mode),
        None => plain(status, status.canonical_reason().unwrap_or("Error"), mode),
    };
    res.headers_mut()
        .insert(header::CACHE_CONTROL, MUST_REVALIDATE);
    res
}

pub fn plain(status: StatusCode, message: &str, mode: BodyMode) -> Response<Body> {
    response(status, TEXT, Bytes::from(format!("{message}\n")), mode)
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
    res.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
    res
}
