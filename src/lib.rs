//! The napi binding of gatsby-dsg: converts JS values to engine types and back, and implements the
//! engine's `Renderer` with the JS render callback. No behaviour lives here. One module per
//! binding concern:
//!
//! - [`options`]: `ServerOptions` → the engine's `ServerConfig`;
//! - [`server`]: `startServer` and `DsgServer` (its methods, `PurgeOptions`);
//! - [`stats`]: what a server reports (`SiteSummary`, `ServerStats`, `RenderWorkerStats`);
//! - [`renderer`]: the JS render callback as an engine `Renderer`;
//! - [`registry`]: servers by id, for render workers' `registerRenderer`;
//! - [`defer_policy`]: the plugin's `DeferPolicy`;
//! - [`memory`]: `releaseFreeMemory` (`malloc_trim`);
//! - [`error`]: engine errors → napi errors.
//!
//! The server runs on napi-rs's tokio runtime, built here as napi-rs builds its own (one worker per
//! core) with every thread in `SCHED_BATCH` (`gatsby_dsg_engine::threads`: woken, a tokio thread
//! never preempts a render thread).
#![deny(clippy::all)]

/// Hands napi-rs the runtime it runs every async call on. Runs once per process, as the addon is
/// loaded (a library constructor): the runtime's threads start parked and cost nothing until a
/// server runs. Should building it fail, napi-rs builds its default one on first use.
#[napi_derive::module_init]
fn init() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .on_thread_start(gatsby_dsg_engine::threads::batch_this_thread)
        .build();
    if let Ok(runtime) = runtime {
        napi::bindgen_prelude::create_custom_tokio_runtime(runtime);
    }
}

pub mod defer_policy;
pub mod error;
pub mod functions;
pub mod memory;
pub mod options;
pub mod registry;
pub mod renderer;
pub mod server;
pub mod stats;
