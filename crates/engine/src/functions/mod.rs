//! Gatsby Functions (`src/api/**`): routed here, run in a Node process of their own.
//!
//! The engine knows the site's functions from the routes the functions process reports once it
//! has loaded them (`.cache/functions/manifest.json`, with the body limits each function's
//! `config` export sets), so an unknown `/api/x` is a 404 decided in Rust. A known one is
//! forwarded ([`proxy`]) to the functions process — Node, running Gatsby's own middleware chain
//! on Express, so `req` and `res` are exactly what `gatsby serve` gives — over a unix socket,
//! request and response streamed.
//!
//! The routes may arrive after the server listens ([`ready`]): loading every function takes
//! seconds (1,842 ms for the example's 12), and static files, generated pages and SSR do not wait
//! for it. Meanwhile a request under `/api/` waits for the routes, at most the function timeout,
//! then is routed as it would be later; one whose wait passes that bound is a 503 with
//! `Retry-After`.
//!
//! Invariants: a request under `/api/` is routed only by the routes the functions process
//! reported, never guessed while they are pending; a request body over the function's limit is
//! refused with 413 before it is read (by its `Content-Length`) or as soon as the streamed bytes
//! pass the limit, and never reaches the function whole; a function that has not started
//! answering within the function timeout is a 504; a functions process that is gone is a 502.
//! None of this touches the threads that serve static files and generated pages beyond the
//! forwarding itself.

pub mod proxy;
pub mod ready;
pub mod routes;

pub use proxy::{not_ready, plain, ApiRoute, FunctionsConfig, FunctionsProxy, ProxyBody};
pub use ready::NotReady;
pub use routes::{BodyLimitSpec, FunctionRoutes, FunctionSpec};
