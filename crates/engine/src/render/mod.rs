//! The one call out of Rust: rendering a deferred page. The napi binding implements [`Renderer`]
//! with Gatsby's engines; tests implement it in Rust.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::BoxFuture;

/// A page rendered as far as its page-data. Gatsby renders the HTML from the same query result,
/// so the HTML follows as a second future: a page-data request is answered without waiting for it.
pub struct RenderedPage {
    pub page_data: Bytes,
    pub html: BoxFuture<'static, Result<Bytes, RenderError>>,
}

pub trait Renderer: Send + Sync + 'static {
    /// Renders the deferred page whose path is `page_path` (as the build lists it).
    fn render(&self, page_path: &str) -> BoxFuture<'static, Result<RenderedPage, RenderError>>;
}

/// Why a page has no artifact. Cheap to clone: every request waiting on the render gets it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RenderError {
    /// The renderer threw or rejected; the message (with the JS stack when there is one).
    Failed(Arc<str>),
    /// The renderer did not settle within the render timeout.
    TimedOut(Duration),
    /// The renderer is gone (the server is closing) or its task ended without an answer.
    Unavailable(Arc<str>),
    /// The render queue is full: answered 503 with `Retry-After`.
    Overloaded,
}

impl RenderError {
    pub fn failed(message: impl Into<Arc<str>>) -> Self {
        RenderError::Failed(message.into())
    }
}

impl fmt::Display for RenderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RenderError::Failed(message) => write!(f, "render failed: {message}"),
            RenderError::TimedOut(limit) => {
                write!(f, "render timed out after {} ms", limit.as_millis())
            }
            RenderError::Unavailable(why) => write!(f, "renderer unavailable: {why}"),
            RenderError::Overloaded => f.write_str("render queue full"),
        }
    }
}

impl std::error::Error for RenderError {}

pub mod pool;
