//! `startServer` and the `DsgServer` it resolves to: the engine's server, its render pool and its
//! id in the [`registry`].

use std::sync::Arc;

use engine::render::pool::RendererPool;
use gatsby_dsg_engine as engine;
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::error::{failure, invalid_arg};
use crate::functions::{function_specs, FunctionRouteInput};
use crate::options::ServerOptions;
use crate::registry;
use crate::renderer::{JsRenderer, RenderCallback, SsrCallback};
use crate::stats::{RenderWorkerStats, ServerStats, SiteSummary};

#[napi(object)]
pub struct PurgeOptions {
    /// One page, by its path.
    pub path: Option<String>,
    /// Every deferred page whose path matches.
    pub glob: Option<String>,
    /// Every page.
    pub all: Option<bool>,
}

impl<'a> TryFrom<&'a PurgeOptions> for engine::PurgeRequest<'a> {
    type Error = napi::Error;

    fn try_from(options: &'a PurgeOptions) -> Result<Self> {
        match (&options.path, &options.glob, options.all) {
            (Some(path), None, None | Some(false)) => Ok(engine::PurgeRequest::Path(path)),
            (None, Some(glob), None | Some(false)) => Ok(engine::PurgeRequest::Glob(glob)),
            (None, None, Some(true)) => Ok(engine::PurgeRequest::All),
            _ => Err(invalid_arg(
                "purge takes exactly one of { path }, { glob } or { all: true }",
            )),
        }
    }
}

#[napi]
pub struct DsgServer {
    server: Arc<engine::Server>,
    id: u32,
    pool: Arc<RendererPool>,
}

#[napi]
impl DsgServer {
    /// The port the server listens on.
    #[napi(getter)]
    pub fn port(&self) -> u32 {
        u32::from(self.server.local_addr().port())
    }

    /// Passed to `registerRenderer` by worker threads.
    #[napi(getter)]
    pub fn server_id(&self) -> u32 {
        self.id
    }

    /// Removes a renderer (its worker thread exited or is being terminated): renders still
    /// running on it fail at once.
    #[napi]
    pub fn remove_renderer(&self, renderer_id: u32) -> bool {
        self.pool.remove(renderer_id)
    }

    /// Sends a renderer no more renders; those running on it finish (a render worker being
    /// recycled). Remove it with `removeRenderer` once its `inFlight` is 0.
    #[napi]
    pub fn retire_renderer(&self, renderer_id: u32) -> bool {
        self.pool.retire(renderer_id)
    }

    /// The routes of the site's functions, once the functions process reported them (the server
    /// listens before that; requests under `/api/` wait for them). Replaces routes set before.
    #[napi]
    pub fn set_function_routes(&self, routes: Vec<FunctionRouteInput>) -> Result<()> {
        self.server
            .set_function_routes(&function_specs(routes)?)
            .map_err(invalid_arg)
    }

    /// What each registered renderer has done.
    #[napi]
    pub fn render_workers(&self) -> Vec<RenderWorkerStats> {
        self.pool
            .stats()
            .into_iter()
            .map(RenderWorkerStats::from)
            .collect()
    }

    /// The address the server listens on, e.g. `127.0.0.1:9000`.
    #[napi(getter)]
    pub fn address(&self) -> String {
        self.server.local_addr().to_string()
    }

    #[napi]
    pub fn summary(&self) -> SiteSummary {
        SiteSummary::from(&self.server.summary())
    }

    #[napi]
    pub fn stats(&self) -> ServerStats {
        ServerStats::from(self.server.stats())
    }

    /// The Prometheus text `/__dsg/metrics` serves.
    #[napi]
    pub fn metrics(&self) -> String {
        self.server.metrics_text()
    }

    /// Removes generated pages (memory and disk): one `path`, a `glob`, or `all`. Resolves to the
    /// number of artifacts removed.
    #[napi]
    pub async fn purge(&self, options: PurgeOptions) -> Result<u32> {
        let request = engine::PurgeRequest::try_from(&options)?;
        let purged = self.server.purge(request).await.map_err(invalid_arg)?;
        Ok(purged as u32)
    }

    /// Paths of the deferred pages, all or those matching `glob`, sorted.
    #[napi]
    pub fn deferred_pages(&self, glob: Option<String>) -> Result<Vec<String>> {
        self.server
            .deferred_pages(glob.as_deref())
            .map_err(invalid_arg)
    }

    /// Generates one deferred page ahead of traffic (yielding to live requests): resolves to
    /// `rendered`, or `stored` when it was generated already.
    #[napi]
    pub async fn warm(&self, page_path: String) -> Result<String> {
        match self.server.warm(&page_path).await {
            Ok(engine::Warmed::Rendered) => Ok("rendered".into()),
            Ok(engine::Warmed::AlreadyStored) => Ok("stored".into()),
            Err(e) => Err(failure(e)),
        }
    }

    /// Stops accepting connections, lets in-flight requests and renders finish, then releases the
    /// render callback (so Node can exit).
    #[napi]
    pub async fn close(&self) -> Result<()> {
        self.server.close().await;
        registry::remove(self.id);
        self.pool.clear();
        Ok(())
    }
}

/// Starts the server. Resolves once it listens. Renders go to `render` when given, and to the
/// callbacks worker threads add with `registerRenderer(server.serverId, render)`.
#[napi(
    ts_args_type = "options: ServerOptions, render?: (pagePath: string, first: 'html' | 'page-data') => Promise<RenderResult>, renderSsr?: (request: SsrRequest) => Promise<SsrResult>"
)]
pub async fn start_server(
    options: ServerOptions,
    render: Option<RenderCallback>,
    render_ssr: Option<SsrCallback>,
) -> Result<DsgServer> {
    let config = engine::ServerConfig::try_from(options)?;
    let pool = Arc::new(RendererPool::new());
    if let Some(render) = render {
        pool.add(JsRenderer::new(render, render_ssr));
    }
    let id = registry::insert(&pool);
    let server = match engine::Server::start(config, pool.clone()).await {
        Ok(server) => server,
        Err(e) => {
            registry::remove(id);
            pool.clear();
            return Err(failure(e));
        }
    };
    Ok(DsgServer {
        server: Arc::new(server),
        id,
        pool,
    })
}
