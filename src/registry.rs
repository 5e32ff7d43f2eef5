//! The render pools of this process's servers, by server id: a worker thread (its own JS
//! environment, which cannot reach the server object) registers its render callback here with the
//! id it was given. A server is in the registry from just before it starts until it closes (or
//! fails to start).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, LazyLock};

use gatsby_dsg_engine::render::pool::RendererPool;
use napi::bindgen_prelude::*;
use napi_derive::napi;
use parking_lot::Mutex;

use crate::error::invalid_arg;
use crate::renderer::{JsRenderer, RenderCallback, SsrCallback};

static POOLS: LazyLock<Mutex<HashMap<u32, Arc<RendererPool>>>> = LazyLock::new(Default::default);
static NEXT_SERVER_ID: AtomicU32 = AtomicU32::new(1);

/// Adds a server's pool; returns the server's id.
pub fn insert(pool: &Arc<RendererPool>) -> u32 {
    let id = NEXT_SERVER_ID.fetch_add(1, Ordering::Relaxed);
    POOLS.lock().insert(id, Arc::clone(pool));
    id
}

pub fn remove(server_id: u32) {
    POOLS.lock().remove(&server_id);
}

fn get(server_id: u32) -> Option<Arc<RendererPool>> {
    POOLS.lock().get(&server_id).cloned()
}

/// Adds a render callback, and the SSR render callback, to the server `serverId` (from any
/// thread, e.g. a worker thread that loaded Gatsby's engines). Returns the renderer's id.
#[napi(
    ts_args_type = "serverId: number, render: (pagePath: string, first: 'html' | 'page-data') => Promise<RenderResult>, renderSsr?: (request: SsrRequest) => Promise<SsrResult>"
)]
pub fn register_renderer(
    server_id: u32,
    render: RenderCallback,
    render_ssr: Option<SsrCallback>,
) -> Result<u32> {
    let pool = get(server_id)
        .ok_or_else(|| invalid_arg(format!("no running gatsby-dsg server {server_id}")))?;
    Ok(pool.add(JsRenderer::new(render, render_ssr)))
}

/// Takes a render callback out of the server `serverId`, from the thread that registered it: a
/// render worker calls it as it stops (its `exit` event), before Node drops the calls queued to
/// it, so that no more renders are sent there and those running there fail at once.
#[napi]
pub fn unregister_renderer(server_id: u32, renderer_id: u32) -> bool {
    get(server_id).is_some_and(|pool| pool.remove(renderer_id))
}
