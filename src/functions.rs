//! `ServerOptions.functions`, as JS passes them, and the routes and body limits the functions
//! process reports from `.cache/functions/manifest.json` (at start-up or later, through
//! `DsgServer.setFunctionRoutes`), converted into the engine's `FunctionsConfig` and
//! `FunctionSpec`s: omitted options keep the engine's defaults; a negative size is refused.

use std::path::PathBuf;
use std::time::Duration;

use engine::functions::{BodyLimitSpec, FunctionSpec, FunctionsConfig};
use gatsby_dsg_engine as engine;
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::error::invalid_arg;

/// Gatsby Functions: where the functions process listens and what it serves.
#[napi(object)]
pub struct FunctionsInput {
    /// Unix socket paths of the functions processes.
    pub sockets: Vec<String>,
    /// Omitted: not known yet (the functions process is still loading the functions); requests
    /// under `/api/` wait for `setFunctionRoutes`, at most `timeoutMs`.
    pub routes: Option<Vec<FunctionRouteInput>>,
    /// A function that has not started its response by then is a 504, and a request waiting for
    /// the routes that long a 503. Default 30 000.
    pub timeout_ms: Option<u32>,
    /// The largest request body any function receives. Default 32 MiB.
    pub max_body_bytes: Option<i64>,
}

/// One Gatsby Function.
#[napi(object)]
pub struct FunctionRouteInput {
    /// Relative to `/api/`: `hello`, `users/[id]`.
    pub function_route: String,
    /// `users/:id`, `files/*`, `docs/*slug`; none for an exact route.
    pub match_path: Option<String>,
    /// The body-parser limits of its `config`, in the order Gatsby's chain runs them.
    pub body_limits: Vec<BodyLimitInput>,
}

#[napi(object)]
pub struct BodyLimitInput {
    /// A media type or range: `application/json`, `text/*`, `*/*+json`.
    #[napi(js_name = "type")]
    pub media_type: String,
    /// Bytes.
    pub limit: i64,
}

fn bytes(value: i64, name: &str) -> Result<u64> {
    u64::try_from(value).map_err(|_| invalid_arg(format!("{name} {value} must not be negative")))
}

/// The engine's view of the routes the functions process reported.
pub(crate) fn function_specs(routes: Vec<FunctionRouteInput>) -> Result<Vec<FunctionSpec>> {
    let mut functions = Vec::with_capacity(routes.len());
    for route in routes {
        let mut body_limits = Vec::with_capacity(route.body_limits.len());
        for limit in route.body_limits {
            body_limits.push(BodyLimitSpec {
                media_type: limit.media_type,
                limit: bytes(limit.limit, "a function's body limit")?,
            });
        }
        functions.push(FunctionSpec {
            function_route: route.function_route,
            match_path: route.match_path,
            body_limits,
        });
    }
    Ok(functions)
}

pub(crate) fn functions_config(input: FunctionsInput) -> Result<FunctionsConfig> {
    Ok(FunctionsConfig {
        functions: input.routes.map(function_specs).transpose()?,
        sockets: input.sockets.into_iter().map(PathBuf::from).collect(),
        timeout: input
            .timeout_ms
            .map_or(FunctionsConfig::DEFAULT_TIMEOUT, |ms| {
                Duration::from_millis(u64::from(ms))
            }),
        max_body_bytes: match input.max_body_bytes {
            Some(value) => bytes(value, "functions.maxBodyBytes")?,
            None => FunctionsConfig::DEFAULT_MAX_BODY_BYTES,
        },
    })
}
