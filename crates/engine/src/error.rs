//! The errors of the public engine API, one type per operation, each variant saying what went
//! wrong in words a user can act on (the binding passes the message on unchanged).

use std::io;

use crate::path::PathError;
use crate::policy::PolicyError;
use crate::render::RenderError;

/// Why the server did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot read the site's public directory {dir}: {source}")]
    PublicDir { dir: String, source: io::Error },
    #[error("cannot use cache directory {dir}: {source}")]
    CacheDir { dir: String, source: io::Error },
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: String, source: io::Error },
    /// A site option that cannot be used (a header rule HTTP does not allow, a Redis URL).
    #[error("{0}")]
    SiteOption(String),
    /// The page manifest cannot be read (or belongs to another build).
    #[error(transparent)]
    Pages(#[from] crate::pages::TableError),
}

/// Why a purge (API or `POST /__dsg/purge`) removed nothing.
#[derive(Debug, thiserror::Error)]
pub enum PurgeError {
    #[error("path: {0}")]
    Path(PathError),
    #[error(transparent)]
    Glob(#[from] PolicyError),
    #[error("say what to purge: ?path=/a/page/, ?glob=/blog/** or ?all=1")]
    NothingNamed,
    /// The cache directory could not be emptied.
    #[error(transparent)]
    Storage(#[from] io::Error),
}

/// Why a warm-up did not generate its page.
#[derive(Debug, thiserror::Error)]
pub enum WarmError {
    #[error(transparent)]
    Path(#[from] PathError),
    #[error("{0} is not a deferred page")]
    NotDeferred(String),
    #[error(transparent)]
    Render(#[from] RenderError),
}

/// Why function routes could not be set.
#[derive(Debug, thiserror::Error)]
pub enum FunctionsError {
    #[error("the server was started without functions (ServerOptions.functions): it has no functions process to route to")]
    NotConfigured,
}
