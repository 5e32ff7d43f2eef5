//! The gatsby-config options that change how the built site is served, as Gatsby's build recorded
//! them: `pathPrefix`, `trailingSlash`, `headers`, redirects from `createRedirect`, and the
//! client-only routes of SSG pages (`.cache/match-paths.json`).

use hyper::header::{HeaderName, HeaderValue};
use serde::Deserialize;

use crate::pages::MatchPath;
use crate::path::{normalize, trim_trailing_slash};

/// Gatsby's `trailingSlash` option (Gatsby 5's default is `always`).
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum TrailingSlash {
    #[default]
    Always,
    Never,
    Ignore,
}

/// One entry of gatsby-config `headers`: `{ source: "/blog/*", headers: [{ key, value }] }`.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct HeaderRuleSpec {
    pub source: String,
    pub headers: Vec<HeaderSpec>,
}

#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct HeaderSpec {
    pub key: String,
    pub value: String,
}

/// One entry of `.cache/redirects.json`, as `createRedirect` made it.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct RedirectSpec {
    pub from_path: String,
    pub to_path: String,
    #[serde(default)]
    pub is_permanent: bool,
    #[serde(default, deserialize_with = "status_code")]
    pub status_code: Option<u16>,
    #[serde(default)]
    pub ignore_case: bool,
    #[serde(default)]
    pub force: bool,
    /// `createRedirect`'s `conditions`: the redirect applies only to requests meeting them.
    #[serde(default)]
    pub conditions: RedirectConditions,
}

/// `createRedirect({ conditions: { language, country } })`: each a value or a list of values.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
pub struct RedirectConditions {
    /// Language tags (`en`, `pt-BR`), matched against `Accept-Language`.
    #[serde(default)]
    pub language: Vec<String>,
    /// Country codes (`us`), matched against the request header named by `--country-header`.
    #[serde(default)]
    pub country: Vec<String>,
    /// Conditions of other kinds: they cannot be evaluated, so the redirect never applies.
    #[serde(default)]
    pub unknown: Vec<String>,
}

impl RedirectConditions {
    pub fn is_empty(&self) -> bool {
        self.language.is_empty() && self.country.is_empty() && self.unknown.is_empty()
    }
}

/// What a request tells about its sender, for redirect conditions. `None`: not known, so a
/// redirect conditioned on it does not apply.
#[derive(Clone, Copy, Debug, Default)]
pub struct RequestFacts<'a> {
    pub accept_language: Option<&'a str>,
    pub country: Option<&'a str>,
}

/// `statusCode` as `createRedirect` takes it, a number; one that is no `u16` is ignored (the
/// permanent or temporary default applies).
fn status_code<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u16>, D::Error> {
    let code: Option<f64> = Option::deserialize(d)?;
    Ok(code.and_then(|c| u16::try_from(c as u32).ok()))
}

/// One entry of `.cache/match-paths.json`: an SSG page answering every path its pattern matches.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ClientRouteSpec {
    pub path: String,
    pub match_path: String,
}

#[derive(Clone, Debug, Default)]
pub struct SiteOptions {
    /// Served under this prefix (`gatsby-dsg serve --prefix-paths` on a site with `pathPrefix`).
    pub path_prefix: Option<String>,
    pub trailing_slash: TrailingSlash,
    pub headers: Vec<HeaderRuleSpec>,
    pub redirects: Vec<RedirectSpec>,
    pub client_routes: Vec<ClientRouteSpec>,
    /// Lifetime in shared caches (CDNs) for generated pages: a deferred page is valid for the
    /// whole build. Adds `s-maxage` and `CDN-Cache-Control`.
    pub shared_max_age: Option<u32>,
}

/// Compiled gatsby-config `headers`.
#[derive(Debug, Default)]
pub struct HeaderRules {
    rules: Vec<(MatchPath, Vec<(HeaderName, HeaderValue)>)>,
}

/// A header rule that cannot be sent (a name or value HTTP does not allow).
#[derive(Debug)]
pub struct InvalidHeader(pub String);

impl std::fmt::Display for InvalidHeader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invalid header in gatsby-config `headers`: {}", self.0)
    }
}

impl std::error::Error for InvalidHeader {}

impl HeaderRules {
    pub fn new(specs: &[HeaderRuleSpec]) -> Result<Self, InvalidHeader> {
        let mut rules = Vec::new();
        for spec in specs {
            let mut headers = Vec::new();
            for h in &spec.headers {
                let name = HeaderName::from_bytes(h.key.as_bytes())
                    .map_err(|_| InvalidHeader(format!("name {:?}", h.key)))?;
                let value = HeaderValue::from_str(&h.value)
                    .map_err(|_| InvalidHeader(format!("value {:?} of {}", h.value, h.key)))?;
                headers.push((name, value));
            }
            rules.push((MatchPath::parse(&spec.source), headers));
        }
        Ok(HeaderRules { rules })
    }

    /// Headers for a (normalised, unprefixed) path, in rule order.
    pub fn for_path<'a>(
        &'a self,
        path: &'a str,
    ) -> impl Iterator<Item = &'a (HeaderName, HeaderValue)> + 'a {
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        self.rules
            .iter()
            .filter(move |(pattern, _)| pattern.matches(&segments))
            .flat_map(|(_, headers)| headers.iter())
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
}

/// A redirect ready to match: `from` normalised without its trailing slash.
#[derive(Debug)]
pub struct Redirect {
    from: String,
    pub to: String,
    pub status: u16,
    ignore_case: bool,
    pub force: bool,
    conditions: RedirectConditions,
}

impl Redirect {
    pub fn new(spec: &RedirectSpec) -> Self {
        let from = normalize(&spec.from_path).unwrap_or_else(|_| spec.from_path.clone());
        let from = trim_trailing_slash(&from).to_string();
        Redirect {
            from: if spec.ignore_case {
                from.to_lowercase()
            } else {
                from
            },
            to: spec.to_path.clone(),
            status: spec
                .status_code
                .unwrap_or(if spec.is_permanent { 301 } else { 302 }),
            ignore_case: spec.ignore_case,
            force: spec.force,
            conditions: spec.conditions.clone(),
        }
    }

    /// Whether the request meets the redirect's `conditions` (all of them; one that cannot be
    /// evaluated is not met). `language`: one of the languages `Accept-Language` accepts (q > 0)
    /// is a listed tag or has it as its primary subtag (`en-GB` meets `en`). `country`: the
    /// country header's value is one of the listed codes. Case-insensitive.
    pub fn applies_to(&self, facts: &RequestFacts<'_>) -> bool {
        if !self.conditions.unknown.is_empty() {
            return false;
        }
        let languages = &self.conditions.language;
        if !languages.is_empty() {
            let Some(accepted) = facts.accept_language else {
                return false;
            };
            let met = accepted_languages(accepted).any(|tag| {
                let primary = tag.split('-').next().unwrap_or(tag);
                languages
                    .iter()
                    .any(|l| l.eq_ignore_ascii_case(tag) || l.eq_ignore_ascii_case(primary))
            });
            if !met {
                return false;
            }
        }
        let countries = &self.conditions.country;
        if !countries.is_empty() {
            let Some(country) = facts.country.map(str::trim) else {
                return false;
            };
            if !countries.iter().any(|c| c.eq_ignore_ascii_case(country)) {
                return false;
            }
        }
        true
    }

    pub fn matches(&self, path: &str) -> bool {
        let path = trim_trailing_slash(path);
        if self.ignore_case {
            path.to_lowercase() == self.from
        } else {
            path == self.from
        }
    }
}

/// The language tags of an `Accept-Language` value with q > 0 (`*` excluded).
fn accepted_languages(value: &str) -> impl Iterator<Item = &str> {
    value.split(',').filter_map(|item| {
        let mut parts = item.split(';');
        let tag = parts.next()?.trim();
        let q = parts
            .find_map(|p| p.trim().strip_prefix("q="))
            .map_or(Some(1.0), |q| q.trim().parse::<f32>().ok())?;
        (q > 0.0 && !tag.is_empty() && tag != "*").then_some(tag)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conditional(language: &[&str], country: &[&str]) -> Redirect {
        Redirect::new(&RedirectSpec {
            from_path: "/".into(),
            to_path: "/x/".into(),
            is_permanent: false,
            status_code: None,
            ignore_case: false,
            force: false,
            conditions: RedirectConditions {
                language: language.iter().map(|s| s.to_string()).collect(),
                country: country.iter().map(|s| s.to_string()).collect(),
                unknown: vec![],
            },
        })
    }

    fn facts<'a>(accept_language: Option<&'a str>, country: Option<&'a str>) -> RequestFacts<'a> {
        RequestFacts {
            accept_language,
            country,
        }
    }

    #[test]
    fn a_language_condition_is_met_by_an_accepted_language() {
        let r = conditional(&["de", "pt-BR"], &[]);
        assert!(r.applies_to(&facts(Some("de-AT,en;q=0.5"), None)));
        assert!(r.applies_to(&facts(Some("en, PT-br;q=0.8"), None)));
        assert!(!r.applies_to(&facts(Some("en-US,en;q=0.9"), None)));
        assert!(!r.applies_to(&facts(Some("de;q=0"), None)));
        assert!(!r.applies_to(&facts(Some("*"), None)));
    }

    #[test]
    fn a_condition_that_cannot_be_evaluated_is_not_met() {
        assert!(!conditional(&["de"], &[]).applies_to(&facts(None, None)));
        assert!(!conditional(&[], &["us"]).applies_to(&facts(Some("en"), None)));
        assert!(conditional(&[], &[]).applies_to(&facts(None, None)));
    }

    #[test]
    fn a_country_condition_is_met_by_the_country_header_and_all_conditions_must_be_met() {
        let r = conditional(&[], &["us", "CA"]);
        assert!(r.applies_to(&facts(None, Some("US"))));
        assert!(r.applies_to(&facts(None, Some("ca"))));
        assert!(!r.applies_to(&facts(None, Some("de"))));
        let both = conditional(&["fr"], &["ca"]);
        assert!(both.applies_to(&facts(Some("fr-CA"), Some("CA"))));
        assert!(!both.applies_to(&facts(Some("en-CA"), Some("CA"))));
    }

    #[test]
    fn header_rules_apply_to_matching_paths_only() {
        let rules = HeaderRules::new(&[HeaderRuleSpec {
            source: "/blog/*".into(),
            headers: vec![HeaderSpec {
                key: "x-section".into(),
                value: "blog".into(),
            }],
        }])
        .unwrap();
        assert_eq!(rules.for_path("/blog/a/").count(), 1);
        assert_eq!(rules.for_path("/about/").count(), 0);
    }

    #[test]
    fn invalid_header_name_is_refused() {
        let err = HeaderRules::new(&[HeaderRuleSpec {
            source: "/*".into(),
            headers: vec![HeaderSpec {
                key: "bad name".into(),
                value: "x".into(),
            }],
        }])
        .unwrap_err();
        assert!(err.to_string().contains("bad name"));
    }

    #[test]
    fn redirect_status_follows_gatsby() {
        let spec = |permanent, status| RedirectSpec {
            from_path: "/old".into(),
            to_path: "/new/".into(),
            is_permanent: permanent,
            status_code: status,
            ignore_case: false,
            force: false,
            conditions: RedirectConditions::default(),
        };
        assert_eq!(Redirect::new(&spec(true, None)).status, 301);
        assert_eq!(Redirect::new(&spec(false, None)).status, 302);
        assert_eq!(Redirect::new(&spec(false, Some(307))).status, 307);
    }

    #[test]
    fn redirect_matches_slash_variants_and_case_when_asked() {
        let mut spec = RedirectSpec {
            from_path: "/Old/".into(),
            to_path: "/new/".into(),
            is_permanent: true,
            status_code: None,
            ignore_case: false,
            force: false,
            conditions: RedirectConditions::default(),
        };
        assert!(Redirect::new(&spec).matches("/Old"));
        assert!(!Redirect::new(&spec).matches("/old/"));
        spec.ignore_case = true;
        assert!(Redirect::new(&spec).matches("/old/"));
    }
}
