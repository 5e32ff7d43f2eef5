//! Whether a shared cache may store an SSR response (RFC 9111, as a CDN in front of the site
//! would decide), and for how long.
//!
//! Stored only with an **explicit** lifetime — `s-maxage`, else `max-age`, above 0 (no heuristic
//! freshness: Gatsby documents SSR responses as "every request is a cache miss" unless their
//! `Cache-Control` says otherwise, and its own default is `max-age=0, must-revalidate`). Never
//! stored: `private`, `no-store`, `no-cache` (it would have to be revalidated on every use), a
//! response with `Set-Cookie`, `Vary: *`, a status that is not cacheable by default (RFC 9110
//! §15.1), and the answer to a request with `Authorization` unless the response says `public`,
//! `s-maxage` or `must-revalidate` (RFC 9111 §3.5). `must-revalidate` and `proxy-revalidate`
//! forbid serving it stale, so they cancel `stale-while-revalidate`.
//!
//! Hand-written rather than a general HTTP-cache crate: only this subset applies to one origin
//! whose responses are rendered in-process (no Expires/Date clock skew, no revalidation with the
//! origin), and heuristic freshness must be off.

use std::time::Duration;

/// Statuses a cache may store with explicit freshness information (RFC 9110 §15.1).
const CACHEABLE_STATUSES: [u16; 11] = [200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501];

/// How a storable response may be reused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Storable {
    pub fresh_for: Duration,
    /// After `fresh_for`, served stale this long while one background render refreshes it.
    pub stale_while_revalidate: Duration,
    /// Lower-case request header names the response varies by (`Vary`).
    pub vary: Vec<String>,
}

/// The response's status and headers (lower- or mixed-case names), and whether the request had
/// `Authorization`.
pub fn shared_cacheability(
    status: u16,
    headers: &[(String, String)],
    request_authorized: bool,
) -> Option<Storable> {
    if !CACHEABLE_STATUSES.contains(&status) {
        return None;
    }
    let values = |name: &'static str| values_of(headers, name);
    if values("set-cookie").next().is_some() {
        return None;
    }
    let directives: Vec<(String, Option<String>)> =
        values("cache-control").flat_map(parse_directives).collect();
    let has = |name: &str| directives.iter().any(|(n, _)| n == name);
    let seconds = |name: &str| {
        directives
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| v.as_deref()?.parse::<u64>().ok())
    };
    if has("private") || has("no-store") || has("no-cache") {
        return None;
    }
    if request_authorized && !(has("public") || has("s-maxage") || has("must-revalidate")) {
        return None;
    }
    let lifetime = seconds("s-maxage").or_else(|| seconds("max-age"))?;
    if lifetime == 0 {
        return None;
    }
    let mut vary = Vec::new();
    for name in values("vary").flat_map(|v| v.split(',')) {
        let name = name.trim().to_ascii_lowercase();
        if name == "*" {
            return None;
        }
        if !name.is_empty() && !vary.contains(&name) {
            vary.push(name);
        }
    }
    let may_be_stale = !(has("must-revalidate") || has("proxy-revalidate"));
    let stale = seconds("stale-while-revalidate").filter(|_| may_be_stale);
    Some(Storable {
        fresh_for: Duration::from_secs(lifetime),
        stale_while_revalidate: Duration::from_secs(stale.unwrap_or(0)),
        vary,
    })
}

fn values_of<'a>(headers: &'a [(String, String)], name: &'a str) -> impl Iterator<Item = &'a str> {
    headers
        .iter()
        .filter(move |(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// `public, s-maxage=60, no-cache="set-cookie"` → lower-case names with their unquoted values.
fn parse_directives(value: &str) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    let mut rest = value;
    while !rest.is_empty() {
        let (name, after) = match rest.find(['=', ',']) {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        let name = name.trim().to_ascii_lowercase();
        let (argument, after) = if let Some(after) = after.strip_prefix('=') {
            let after = after.trim_start();
            if let Some(quoted) = after.strip_prefix('"') {
                let end = quoted.find('"').unwrap_or(quoted.len());
                let tail = quoted.get(end + 1..).unwrap_or("");
                (Some(quoted[..end].to_string()), tail)
            } else {
                let end = after.find(',').unwrap_or(after.len());
                (Some(after[..end].trim().to_string()), &after[end..])
            }
        } else {
            (None, after)
        };
        if !name.is_empty() {
            out.push((name, argument));
        }
        rest = after.find(',').map_or("", |i| &after[i + 1..]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn cc(value: &str) -> Option<Storable> {
        shared_cacheability(200, &headers(&[("cache-control", value)]), false)
    }

    #[test]
    fn s_maxage_and_stale_while_revalidate_make_a_storable_response() {
        let storable = cc("public, s-maxage=60, stale-while-revalidate=30").unwrap();
        assert_eq!(storable.fresh_for, Duration::from_secs(60));
        assert_eq!(storable.stale_while_revalidate, Duration::from_secs(30));
        assert!(storable.vary.is_empty());
    }

    #[test]
    fn s_maxage_wins_over_max_age_for_a_shared_cache() {
        assert_eq!(
            cc("max-age=5, s-maxage=100").unwrap().fresh_for,
            Duration::from_secs(100)
        );
        assert_eq!(
            cc("public, max-age=7").unwrap().fresh_for,
            Duration::from_secs(7)
        );
    }

    #[test]
    fn gatsbys_default_and_responses_without_an_explicit_lifetime_are_not_stored() {
        assert_eq!(cc("public, max-age=0, must-revalidate"), None);
        assert_eq!(cc("public"), None);
        assert_eq!(shared_cacheability(200, &[], false), None);
    }

    #[test]
    fn private_no_store_and_no_cache_are_never_stored() {
        assert_eq!(cc("private, s-maxage=60"), None);
        assert_eq!(cc("public, s-maxage=60, no-store"), None);
        assert_eq!(cc("s-maxage=60, no-cache"), None);
        assert_eq!(cc("s-maxage=60, no-cache=\"set-cookie, x-a\""), None);
        assert_eq!(cc("S-MAXAGE=60, Private"), None);
    }

    #[test]
    fn a_response_with_set_cookie_is_never_stored() {
        let h = headers(&[
            ("cache-control", "public, s-maxage=60"),
            ("Set-Cookie", "a=b"),
        ]);
        assert_eq!(shared_cacheability(200, &h, false), None);
    }

    #[test]
    fn vary_is_kept_and_vary_star_is_never_stored() {
        let h = headers(&[
            ("cache-control", "s-maxage=60"),
            ("vary", "Accept-Language, X-Device"),
            ("Vary", "accept-language"),
        ]);
        assert_eq!(
            shared_cacheability(200, &h, false).unwrap().vary,
            ["accept-language", "x-device"]
        );
        let star = headers(&[("cache-control", "s-maxage=60"), ("vary", "*")]);
        assert_eq!(shared_cacheability(200, &star, false), None);
    }

    #[test]
    fn must_revalidate_cancels_stale_while_revalidate() {
        let storable = cc("s-maxage=60, stale-while-revalidate=30, must-revalidate").unwrap();
        assert_eq!(storable.stale_while_revalidate, Duration::ZERO);
        let storable = cc("s-maxage=60, stale-while-revalidate=30, proxy-revalidate").unwrap();
        assert_eq!(storable.stale_while_revalidate, Duration::ZERO);
    }

    #[test]
    fn only_default_cacheable_statuses_are_stored() {
        let h = headers(&[("cache-control", "public, s-maxage=60")]);
        assert!(shared_cacheability(404, &h, false).is_some());
        assert!(shared_cacheability(410, &h, false).is_some());
        assert_eq!(shared_cacheability(202, &h, false), None);
        assert_eq!(shared_cacheability(500, &h, false), None);
        assert_eq!(shared_cacheability(302, &h, false), None);
    }

    #[test]
    fn an_authorized_request_is_stored_only_when_the_response_allows_it() {
        let max_age = headers(&[("cache-control", "max-age=60")]);
        assert_eq!(shared_cacheability(200, &max_age, true), None);
        let public = headers(&[("cache-control", "public, max-age=60")]);
        assert!(shared_cacheability(200, &public, true).is_some());
        let shared = headers(&[("cache-control", "s-maxage=60")]);
        assert!(shared_cacheability(200, &shared, true).is_some());
    }

    #[test]
    fn malformed_values_are_not_lifetimes() {
        assert_eq!(cc("s-maxage=abc"), None);
        assert_eq!(cc("s-maxage=-5"), None);
        assert_eq!(cc("s-maxage"), None);
        assert_eq!(cc(",,, ,"), None);
        assert_eq!(
            cc("s-maxage=\"20\"").unwrap().fresh_for,
            Duration::from_secs(20)
        );
    }
}
