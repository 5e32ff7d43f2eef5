//! The response-header stage: every header that states a policy is set here, in one chain run on
//! every response after its handler made it (static-web-server's post-processing), one module per
//! concern, in this order (a later one may override an earlier one):
//!
//! 1. [`security`] sets `X-XSS-Protection`, `X-Content-Type-Options`, `Referrer-Policy`, `X-Frame-Options`
//! 2. [`cors`] sets `Access-Control-Allow-{Origin,Headers}`, and `-Methods` on preflights
//! 3. [`cache_control`] sets `Cache-Control`, `CDN-Cache-Control`
//! 4. [`vary`] sets `Vary`
//! 5. [`cache_status`] sets `x-dsg-cache`
//! 6. [`site_rules`] sets gatsby-config `headers`, so that a site can override any of the above
//! 7. [`server_data`] sets the `headers` an SSR page's `getServerData` returned, last: Gatsby lets
//!    them override its defaults and gatsby-config `headers`
//!
//! What a handler sets itself, because only it knows them: the representation
//! (`Content-Type`, `Content-Length`, `Content-Encoding`, `Content-Range`, `ETag`,
//! `Last-Modified`, `Accept-Ranges`: `respond::entity` and `respond::simple`) and the headers a
//! status requires (`Location`, `Allow`, `Retry-After`, `WWW-Authenticate`: the `respond`
//! function that makes that status). A handler says what the stage needs in [`Facts`].

pub mod cache_control;
pub mod cache_status;
pub mod cors;
pub mod security;
pub mod server_data;
pub mod site_rules;
pub mod vary;

use std::sync::Arc;

use hyper::header::HeaderMap;

use crate::cache::CacheStatus;
use crate::site::HeaderRules;
use cache_control::CacheControl;
pub use cache_control::Caching;

/// What the header stage needs to know about one response; its handler fills it.
#[derive(Clone, Debug, Default)]
pub struct Facts {
    pub caching: Caching,
    /// Set when a deferred page was involved.
    pub cache_status: Option<CacheStatus>,
    /// The body was chosen by `Accept-Encoding`.
    pub negotiable: bool,
    /// A CORS preflight (`OPTIONS`).
    pub preflight: bool,
    /// The request's normalised, unprefixed path, for gatsby-config `headers`.
    pub site_path: Option<String>,
    /// An SSR page's `getServerData` headers.
    pub server_data: Option<Arc<Vec<(String, String)>>>,
}

/// The chain, with what it computed once at start.
#[derive(Debug)]
pub struct HeaderStage {
    cache_control: CacheControl,
    site_rules: HeaderRules,
}

impl HeaderStage {
    pub fn new(shared_max_age: Option<u32>, site_rules: HeaderRules) -> Self {
        HeaderStage {
            cache_control: CacheControl::new(shared_max_age),
            site_rules,
        }
    }

    pub fn apply(&self, headers: &mut HeaderMap, facts: &Facts) {
        security::apply(headers);
        cors::apply(headers, facts.preflight);
        self.cache_control.apply(headers, &facts.caching);
        vary::apply(headers, facts.negotiable);
        cache_status::apply(headers, facts.cache_status);
        site_rules::apply(headers, &self.site_rules, facts.site_path.as_deref());
        server_data::apply(headers, facts.server_data.as_deref().map(Vec::as_slice));
    }
}
