//! The JS render callback as the engine's [`engine::Renderer`]: `render(pagePath)` is called on
//! its JS thread with `call_async_catch` (never blocking it); anything it throws, rejects or
//! returns that is not a promise of `{ pageData, html }` is a render error, never an exception
//! thrown into Node. The callback is released when its server closes, so that Node can exit.

use std::sync::Arc;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use gatsby_dsg_engine as engine;
use napi::bindgen_prelude::*;
use napi::threadsafe_function::ThreadsafeFunction;
use napi_derive::napi;
use parking_lot::Mutex;

/// What the JS render callback resolves to: the page-data JSON at once, the HTML as a promise.
#[napi(object, object_to_js = false)]
pub struct RenderResult {
    pub page_data: String,
    pub html: Promise<String>,
}

/// `render(pagePath)`: called with the page's path as the build lists it.
pub type RenderCallback = ThreadsafeFunction<String, RenderReturn, String, Status, false>;

/// What the render callback returned, checked before it is converted: anything but a promise is
/// a clear render error, never an exception thrown into Node.
pub enum RenderReturn {
    Promise(Promise<RenderResult>),
    NotAPromise,
}

impl FromNapiValue for RenderReturn {
    unsafe fn from_napi_value(env: sys::napi_env, value: sys::napi_value) -> Result<Self> {
        let mut is_promise = false;
        check_status!(
            unsafe { sys::napi_is_promise(env, value, &mut is_promise) },
            "checking what render returned"
        )?;
        if is_promise {
            Ok(RenderReturn::Promise(unsafe {
                Promise::from_napi_value(env, value)
            }?))
        } else {
            Ok(RenderReturn::NotAPromise)
        }
    }
}

/// Implements the engine's renderer with the JS callback. The callback is released on `close()`
/// so that Node can exit.
pub struct JsRenderer {
    callback: Mutex<Option<Arc<RenderCallback>>>,
}

/// The render threw or one of its promises rejected.
fn js_error(error: napi::Error) -> engine::RenderError {
    engine::RenderError::failed(error.reason.clone())
}

/// The call itself failed. Unless the callback threw, it never ran: its thread is closing, or
/// Node dropped the queued call as that thread went away. Either way another renderer can take it.
fn call_error(error: napi::Error) -> engine::RenderError {
    if error.status == Status::PendingException {
        return js_error(error);
    }
    engine::RenderError::Unavailable(Arc::from(format!(
        "the render callback's thread did not run it: {}",
        error.reason
    )))
}

impl engine::Renderer for JsRenderer {
    fn render(
        &self,
        page_path: &str,
    ) -> BoxFuture<'static, std::result::Result<engine::RenderedPage, engine::RenderError>> {
        let callback = self.callback.lock().clone();
        let page_path = page_path.to_string();
        Box::pin(async move {
            let callback = callback.ok_or_else(|| {
                engine::RenderError::Unavailable(Arc::from("the server is closing"))
            })?;
            let returned = callback
                .call_async_catch(page_path)
                .await
                .map_err(call_error)?;
            let RenderReturn::Promise(promise) = returned else {
                return Err(engine::RenderError::failed(
                    "render(pagePath) must return a Promise of { pageData, html }",
                ));
            };
            let RenderResult { page_data, html } = promise.await.map_err(js_error)?;
            let html: BoxFuture<'static, _> =
                Box::pin(async move { html.await.map(Bytes::from).map_err(js_error) });
            Ok(engine::RenderedPage {
                page_data: Bytes::from(page_data),
                html,
            })
        })
    }
}

impl JsRenderer {
    pub fn new(render: RenderCallback) -> Arc<JsRenderer> {
        Arc::new(JsRenderer {
            callback: Mutex::new(Some(Arc::new(render))),
        })
    }
}
