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
#![deny(clippy::all)]

pub mod defer_policy;
pub mod error;
pub mod functions;
pub mod memory;
pub mod options;
pub mod registry;
pub mod renderer;
pub mod server;
pub mod stats;
