//! Which Gatsby Function a request path names, as Gatsby's functions middleware decides it
//! (`internal-plugins/functions/middleware.ts`): the path after `/api/` is compared with every
//! function's `functionRoute` first (exact, case-sensitive), then with each `matchPath` in the
//! manifest's order, matched as `@gatsbyjs/reach-router`'s `match` does — `:name` takes one
//! segment, `*` or `*name` takes the rest (possibly nothing); leading and trailing slashes do not
//! count. The first match wins. Only the decision is made here; the parameters themselves are
//! computed again by Gatsby's middleware in the functions process.
//!
//! Invariant: a path that names no function is answered without leaving Rust.

use std::collections::HashMap;

/// The body limit of one body-parser of a function, for request bodies of `media_type`
/// (`application/json`, `text/*`, `*/*+json`, …).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BodyLimitSpec {
    pub media_type: String,
    pub limit: u64,
}

/// One function of `.cache/functions/manifest.json`, with the body limits its `config` sets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FunctionSpec {
    /// Relative to `/api/`: `hello`, `users/[id]`.
    pub function_route: String,
    /// `users/:id`, `files/*`, `docs/*slug`; `None` for an exact route.
    pub match_path: Option<String>,
    /// In the order Gatsby's chain runs its parsers; the first whose type matches applies.
    pub body_limits: Vec<BodyLimitSpec>,
}

#[derive(Debug)]
enum Segment {
    Literal(String),
    Param,
    Splat,
}

/// A function as the router knows it.
#[derive(Debug)]
pub struct Function {
    pub route: String,
    body_limits: Vec<(MediaRange, u64)>,
}

impl Function {
    /// The body limit for a request of `content_type` (its media type; parameters ignored), if
    /// one of the function's parsers reads such bodies. `None`: only the overall limit applies.
    pub fn body_limit(&self, content_type: Option<&str>) -> Option<u64> {
        let essence = content_type?
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        let (kind, subtype) = essence.split_once('/')?;
        self.body_limits
            .iter()
            .find(|(range, _)| range.matches(kind, subtype))
            .map(|(_, limit)| *limit)
    }
}

/// `type/subtype`, either part `*`, or `*/*+suffix` (type-is's forms).
#[derive(Debug)]
struct MediaRange {
    kind: String,
    subtype: String,
}

impl MediaRange {
    fn parse(media_type: &str) -> Option<MediaRange> {
        let (kind, subtype) = media_type
            .trim()
            .to_ascii_lowercase()
            .split_once('/')
            .map(|(k, s)| (k.to_string(), s.to_string()))?;
        Some(MediaRange { kind, subtype })
    }

    fn matches(&self, kind: &str, subtype: &str) -> bool {
        if self.kind != "*" && self.kind != kind {
            return false;
        }
        match self.subtype.strip_prefix("*+") {
            Some(suffix) => subtype.rsplit_once('+').is_some_and(|(_, s)| s == suffix),
            None => self.subtype == "*" || self.subtype == subtype,
        }
    }
}

/// The site's functions.
#[derive(Debug, Default)]
pub struct FunctionRoutes {
    functions: Vec<Function>,
    exact: HashMap<String, usize>,
    patterns: Vec<(Vec<Segment>, usize)>,
}

impl FunctionRoutes {
    pub fn new(specs: &[FunctionSpec]) -> FunctionRoutes {
        let mut routes = FunctionRoutes::default();
        for spec in specs {
            let index = routes.functions.len();
            routes.functions.push(Function {
                route: spec.function_route.clone(),
                body_limits: spec
                    .body_limits
                    .iter()
                    .filter_map(|l| Some((MediaRange::parse(&l.media_type)?, l.limit)))
                    .collect(),
            });
            // As Gatsby: the first function with a route wins.
            routes
                .exact
                .entry(spec.function_route.clone())
                .or_insert(index);
            if let Some(pattern) = &spec.match_path {
                routes.patterns.push((segments(pattern), index));
            }
        }
        routes
    }

    pub fn len(&self) -> usize {
        self.functions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.functions.is_empty()
    }

    /// The function for `fragment`, the percent-decoded path after `/api/`.
    pub fn find(&self, fragment: &str) -> Option<&Function> {
        if let Some(&index) = self.exact.get(fragment) {
            return Some(&self.functions[index]);
        }
        let uri: Vec<&str> = split(fragment).collect();
        self.patterns
            .iter()
            .find(|(pattern, _)| matches(pattern, &uri))
            .map(|(_, index)| &self.functions[*index])
    }
}

fn split(path: &str) -> impl Iterator<Item = &str> {
    let trimmed = path.trim_matches('/');
    trimmed.split('/').filter(move |_| !trimmed.is_empty())
}

fn segments(pattern: &str) -> Vec<Segment> {
    split(pattern)
        .map(|s| {
            if s.starts_with('*') {
                Segment::Splat
            } else if s.len() > 1 && s.starts_with(':') {
                Segment::Param
            } else {
                Segment::Literal(s.to_string())
            }
        })
        .collect()
}

/// reach-router's `match` for one route: walks the longer of both; a splat ends it successfully.
fn matches(pattern: &[Segment], uri: &[&str]) -> bool {
    for index in 0..pattern.len().max(uri.len()) {
        match (pattern.get(index), uri.get(index)) {
            (Some(Segment::Splat), _) => return true,
            (_, None) | (None, _) => return false,
            (Some(Segment::Param), Some(_)) => {}
            (Some(Segment::Literal(literal)), Some(segment)) => {
                if literal != segment {
                    return false;
                }
            }
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(route: &str, match_path: Option<&str>) -> FunctionSpec {
        FunctionSpec {
            function_route: route.into(),
            match_path: match_path.map(str::to_string),
            body_limits: vec![
                BodyLimitSpec {
                    media_type: "application/json".into(),
                    limit: 1024,
                },
                BodyLimitSpec {
                    media_type: "text/*".into(),
                    limit: 10,
                },
                BodyLimitSpec {
                    media_type: "*/*+json".into(),
                    limit: 7,
                },
            ],
        }
    }

    fn site() -> FunctionRoutes {
        FunctionRoutes::new(&[
            spec("hello", None),
            spec("users/[id]", Some("users/:id")),
            spec("users/me", None),
            spec("files/[...]", Some("files/*")),
            spec("docs/[...slug]", Some("docs/*slug")),
        ])
    }

    fn found(routes: &FunctionRoutes, fragment: &str) -> Option<String> {
        routes.find(fragment).map(|f| f.route.clone())
    }

    #[test]
    fn an_exact_route_wins_over_an_earlier_match_path() {
        let routes = site();
        assert_eq!(found(&routes, "users/me").as_deref(), Some("users/me"));
        assert_eq!(found(&routes, "users/42").as_deref(), Some("users/[id]"));
    }

    #[test]
    fn a_param_takes_exactly_one_segment() {
        let routes = site();
        assert_eq!(found(&routes, "users/42/").as_deref(), Some("users/[id]"));
        assert_eq!(found(&routes, "users/42/posts"), None);
        assert_eq!(found(&routes, "users"), None);
    }

    #[test]
    fn a_splat_takes_the_rest_even_nothing() {
        let routes = site();
        assert_eq!(
            found(&routes, "files/a/b.txt").as_deref(),
            Some("files/[...]")
        );
        assert_eq!(found(&routes, "files").as_deref(), Some("files/[...]"));
        assert_eq!(
            found(&routes, "docs/guide/intro").as_deref(),
            Some("docs/[...slug]")
        );
    }

    #[test]
    fn an_exact_route_is_compared_as_is() {
        let routes = site();
        assert_eq!(found(&routes, "hello").as_deref(), Some("hello"));
        // Express hands Gatsby `hello/` and Gatsby compares it with `hello`: no function.
        assert_eq!(found(&routes, "hello/"), None);
        assert_eq!(found(&routes, "Hello"), None);
        assert_eq!(found(&routes, "nope"), None);
        assert_eq!(found(&routes, ""), None);
    }

    #[test]
    fn the_body_limit_is_the_first_parser_whose_type_matches() {
        let routes = site();
        let f = routes.find("hello").unwrap();
        assert_eq!(
            f.body_limit(Some("application/json; charset=utf-8")),
            Some(1024)
        );
        assert_eq!(f.body_limit(Some("Text/Plain")), Some(10));
        assert_eq!(f.body_limit(Some("application/ld+json")), Some(7));
        assert_eq!(f.body_limit(Some("multipart/form-data; boundary=x")), None);
        assert_eq!(f.body_limit(Some("nonsense")), None);
        assert_eq!(f.body_limit(None), None);
    }
}
