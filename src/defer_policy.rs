//! The plugin's defer decision (`DeferPolicy`), made with the engine's glob semantics.

use gatsby_dsg_engine as engine;
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::error::invalid_arg;

#[napi(object)]
pub struct DeferPolicyOptions {
    /// Page-path globs to defer (`*` within a segment, `**` across segments).
    pub defer: Option<Vec<String>>,
    /// Globs never to defer; they win over `defer`.
    pub exclude: Option<Vec<String>>,
}

/// The plugin's defer decision, made with the engine's glob semantics.
#[napi]
pub struct DeferPolicy {
    inner: engine::DeferPolicy,
}

#[napi]
impl DeferPolicy {
    /// Throws on a glob that does not compile, naming it.
    #[napi(constructor)]
    pub fn new(options: DeferPolicyOptions) -> Result<Self> {
        let inner = engine::DeferPolicy::new(
            &options.defer.unwrap_or_default(),
            &options.exclude.unwrap_or_default(),
        )
        .map_err(invalid_arg)?;
        Ok(DeferPolicy { inner })
    }

    #[napi]
    pub fn should_defer(&self, page_path: String) -> bool {
        self.inner.should_defer(&page_path)
    }
}
