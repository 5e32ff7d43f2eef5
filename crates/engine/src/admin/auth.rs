//! Who may use the admin endpoints: requests bearing `Authorization: Bearer <admin token>`.

use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::StatusCode;
use subtle::ConstantTimeEq;

use crate::respond::{self, BodyMode, Reply};

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

pub fn unauthorized() -> Reply {
    let mut res = respond::plain(StatusCode::UNAUTHORIZED, "Unauthorized", BodyMode::Full);
    res.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"gatsby-dsg\""),
    );
    res
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
