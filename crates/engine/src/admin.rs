//! The admin endpoints under `/__dsg/`: health, Prometheus metrics, purge. Served only when an
//! admin token is configured, and only to requests bearing it; without a token the prefix is a
//! plain 404.

use std::sync::Arc;

use bytes::Bytes;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, Response, StatusCode};
use subtle::ConstantTimeEq;

use crate::pages::DeferredPages;
use crate::path::normalize;
use crate::respond::{self, Body, BodyMode};

pub const PREFIX: &str = "/__dsg/";

/// Whether the raw request path is under the admin prefix.
pub fn is_admin_path(raw_path: &str) -> bool {
    raw_path.starts_with(PREFIX) || raw_path == "/__dsg"
}

/// Whether `headers` carry `Authorization: Bearer <token>`, compared in constant time.
pub fn authorized(headers: &HeaderMap, token: &str) -> bool {
    let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let Some(given) = value.strip_prefix("Bearer ") else {
        return false;
    };
    given.as_bytes().ct_eq(token.as_bytes()).into()
}

pub fn unauthorized() -> Response<Body> {
    let mut res = respond::plain(StatusCode::UNAUTHORIZED, "Unauthorized", BodyMode::Full);
    res.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"gatsby-dsg\""),
    );
    res
}

pub fn json(status: StatusCode, value: serde_json::Value) -> Response<Body> {
    respond::simple(
        status,
        HeaderValue::from_static("application/json; charset=utf-8"),
        Bytes::from(value.to_string()),
        BodyMode::Full,
    )
}

pub fn metrics(text: String) -> Response<Body> {
    respond::simple(
        StatusCode::OK,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        Bytes::from(text),
        BodyMode::Full,
    )
}

/// What `POST /__dsg/purge` was asked to remove.
#[derive(Debug, PartialEq, Eq)]
pub enum PurgeTarget {
    All,
    Pages(Vec<Arc<str>>),
}

/// What to purge: one page by its path, the pages matching a glob, or all.
#[derive(Clone, Copy, Debug)]
pub enum PurgeRequest<'a> {
    Path(&'a str),
    Glob(&'a str),
    All,
}

/// The deferred pages a purge request names.
pub fn purge_target(
    request: PurgeRequest<'_>,
    pages: &DeferredPages,
) -> Result<PurgeTarget, String> {
    Ok(match request {
        PurgeRequest::All => PurgeTarget::All,
        PurgeRequest::Path(path) => {
            let path = normalize(path).map_err(|e| format!("path: {e}"))?;
            PurgeTarget::Pages(
                pages
                    .find_exact(&path)
                    .map(|p| vec![Arc::clone(&p.path)])
                    .unwrap_or_default(),
            )
        }
        PurgeRequest::Glob(glob) => PurgeTarget::Pages(
            pages
                .matching(glob)?
                .into_iter()
                .map(|p| Arc::clone(&p.path))
                .collect(),
        ),
    })
}

/// Reads `?path=/a/`, `?glob=/blog/**` or `?all=1` (one of them) into the deferred pages to purge.
pub fn purge_target_of_query(
    query: Option<&str>,
    pages: &DeferredPages,
) -> Result<PurgeTarget, String> {
    let params: Vec<(String, String)> = query
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let decode = |s: &str| {
                percent_encoding::percent_decode_str(&s.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned()
            };
            (decode(k), decode(v))
        })
        .collect();
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let request = if matches!(get("all"), Some("1" | "true")) {
        PurgeRequest::All
    } else if let Some(path) = get("path") {
        PurgeRequest::Path(path)
    } else if let Some(glob) = get("glob") {
        PurgeRequest::Glob(glob)
    } else {
        return Err("say what to purge: ?path=/a/page/, ?glob=/blog/** or ?all=1".into());
    };
    purge_target(request, pages)
}

/// Which admin endpoint a request names.
#[derive(Debug, PartialEq, Eq)]
pub enum Endpoint {
    Health,
    Metrics,
    Purge,
    NotFound,
    MethodNotAllowed,
}

pub fn endpoint(method: &Method, raw_path: &str) -> Endpoint {
    let name = raw_path.trim_start_matches("/__dsg").trim_matches('/');
    let (expected, endpoint) = match name {
        "health" => (Method::GET, Endpoint::Health),
        "metrics" => (Method::GET, Endpoint::Metrics),
        "purge" => (Method::POST, Endpoint::Purge),
        _ => return Endpoint::NotFound,
    };
    if *method == expected || (expected == Method::GET && *method == Method::HEAD) {
        endpoint
    } else {
        Endpoint::MethodNotAllowed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pages::DeferredPageSpec;

    fn pages() -> DeferredPages {
        DeferredPages::new(
            ["/blog/a/", "/blog/b/", "/guides/x/"].map(|p| DeferredPageSpec {
                path: p.into(),
                match_path: None,
            }),
        )
    }

    fn bearer(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn only_the_exact_bearer_token_is_authorized() {
        assert!(authorized(&bearer("Bearer s3cret"), "s3cret"));
        assert!(!authorized(&bearer("Bearer s3cre"), "s3cret"));
        assert!(!authorized(&bearer("Bearer s3cret!"), "s3cret"));
        assert!(!authorized(&bearer("Basic s3cret"), "s3cret"));
        assert!(!authorized(&HeaderMap::new(), "s3cret"));
    }

    #[test]
    fn purge_by_path_glob_or_all() {
        let t = |q| purge_target_of_query(Some(q), &pages());
        assert_eq!(
            t("path=/blog/a"),
            Ok(PurgeTarget::Pages(vec![Arc::from("/blog/a/")]))
        );
        assert_eq!(t("path=/not/deferred/"), Ok(PurgeTarget::Pages(vec![])));
        match t("glob=/blog/**").unwrap() {
            PurgeTarget::Pages(mut p) => {
                p.sort();
                assert_eq!(p, vec![Arc::from("/blog/a/"), Arc::from("/blog/b/")]);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(t("all=1"), Ok(PurgeTarget::All));
        assert!(t("glob=/blog/[").is_err());
        assert!(purge_target_of_query(None, &pages()).is_err());
    }

    #[test]
    fn endpoints_by_method() {
        assert_eq!(endpoint(&Method::GET, "/__dsg/health"), Endpoint::Health);
        assert_eq!(endpoint(&Method::GET, "/__dsg/metrics"), Endpoint::Metrics);
        assert_eq!(endpoint(&Method::POST, "/__dsg/purge"), Endpoint::Purge);
        assert_eq!(
            endpoint(&Method::GET, "/__dsg/purge"),
            Endpoint::MethodNotAllowed
        );
        assert_eq!(endpoint(&Method::GET, "/__dsg/other"), Endpoint::NotFound);
    }
}
