//! The calls out of Rust: rendering a deferred page, and rendering an SSR page (`getServerData`)
//! for one request. The napi binding implements [`Renderer`] with Gatsby's engines; tests
//! implement it in Rust.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::BoxFuture;

use crate::artifact::ArtifactKind;

/// A page rendered as far as its page-data. Gatsby renders the HTML from the same query result,
/// so the HTML follows as a second future: a page-data request is answered without waiting for it.
/// A render asked for its HTML first may resolve with the HTML done (`html` is then ready).
pub struct RenderedPage {
    pub page_data: Bytes,
    pub html: BoxFuture<'static, Result<Bytes, RenderError>>,
}

pub trait Renderer: Send + Sync + 'static {
    /// Renders the deferred page whose path is `page_path` (as the build lists it). `first` is the
    /// artifact awaited first, the one the request that started the render asked for: with
    /// [`ArtifactKind::PageData`] the render resolves as soon as the page-data exists; with
    /// [`ArtifactKind::Html`] it may resolve once, with both (the binding's JS renderer does: one
    /// completion, one wake-up of the waiting render instead of two).
    fn render(
        &self,
        page_path: &str,
        first: ArtifactKind,
    ) -> BoxFuture<'static, Result<RenderedPage, RenderError>>;

    /// Renders an SSR page for one request: Gatsby's `getData` with the request (which runs the
    /// page query and `getServerData`), then the HTML or the page-data.
    fn render_ssr(
        &self,
        request: Arc<SsrRequest>,
    ) -> BoxFuture<'static, Result<SsrResponse, RenderError>> {
        let _ = request;
        Box::pin(async {
            Err(RenderError::failed(
                "this renderer does not render SSR pages",
            ))
        })
    }

    /// How many renderers would take a render asked now (`/__dsg/readyz`): a single renderer is
    /// always there; a [`pool::RendererPool`] counts its members that take renders.
    fn renderers_ready(&self) -> usize {
        1
    }
}

/// What an SSR page's `getServerData` is given of the request (`req` of Gatsby's `getData`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SsrRequest {
    /// The normalised request path, without the path prefix: the page's URL (`/ssr/a/`), or its
    /// page-data URL (`/page-data/ssr/a/page-data.json`), as Gatsby's `getData` accepts both.
    pub path: String,
    /// Page-data (`true`) or HTML.
    pub page_data: bool,
    pub method: String,
    /// The request target without the path prefix, with its query string (`/ssr/a/?x=1`).
    pub url: String,
    /// The raw query string, without `?`.
    pub query: String,
    /// Lower-case names; a repeated header's values joined as Node joins them.
    pub headers: Vec<(String, String)>,
}

/// What Gatsby's engine answered for an SSR request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SsrResponse {
    /// `getServerData`'s `status`; `None` is 200.
    pub status: Option<u16>,
    /// Gatsby's defaults, gatsby-config `headers`, then `getServerData`'s (5.12+; before that only
    /// `getServerData`'s).
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
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
