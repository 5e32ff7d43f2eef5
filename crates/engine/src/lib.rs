//! gatsby-dsg engine: serves a built Gatsby site and generates its deferred (DSG) pages once.
//!
//! One request's path, module by module:
//! [`server`] accepts it → [`route`] decides what it is (static file in `public/`, a deferred page's
//! HTML or page-data, or nothing) → for a deferred page, [`cache`] looks in memory, then on disk,
//! then joins or starts the single render ([`cache::flight`]) that calls the [`render::Renderer`] →
//! [`respond`] writes the headers and body.
//!
//! Nothing here knows about Node: the napi binding implements [`render::Renderer`] on top of Gatsby's
//! engines, and tests implement it in Rust.
#![deny(clippy::all)]

pub mod access_log;
pub mod admin;
pub mod artifact;
pub mod build_id;
pub mod cache;
pub mod config;
pub mod content;
pub mod error;
pub mod functions;
pub mod linger;
pub mod manifest;
pub mod metrics;
pub mod pages;
pub mod partytown;
pub mod path;
pub mod policy;
pub mod render;
pub mod respond;
pub mod route;
pub mod runtime_files;
pub mod server;
pub mod site;
pub mod ssr;
pub mod static_files;
pub mod threads;

pub use access_log::LogFormat;
pub use admin::PurgeRequest;
pub use artifact::ArtifactKind;
pub use build_id::BuildId;
pub use config::{RedisConfig, RedisTls, ServerConfig};
pub use content::Content;
pub use error::{FunctionsError, PurgeError, StartError, WarmError};
pub use manifest::{ManifestPages, ManifestSource};
pub use metrics::StatsSnapshot;
pub use pages::{DeferredPage, DeferredPageSpec, DeferredPages, PagesBuilder, TableError};
pub use partytown::PartytownConfig;
pub use policy::DeferPolicy;
pub use render::{RenderError, RenderedPage, Renderer, SsrRequest, SsrResponse};
pub use server::{Server, SiteSummary, Warmed};
pub use site::{
    ClientRouteSpec, HeaderRuleSpec, HeaderSpec, RedirectConditions, RedirectSpec, SiteOptions,
    TrailingSlash,
};
