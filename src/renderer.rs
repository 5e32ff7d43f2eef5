//! The JS render callbacks as the engine's [`engine::Renderer`]: `render(pagePath, first)` (a
//! deferred page; `first` is `'html'` or `'page-data'`, the artifact awaited first) and
//! `renderSsr(request)` (an SSR page) are called on their JS thread with `call_with_return_value`
//! (never blocking it; the promise is chained there, on that thread, so one completion per
//! promise reaches Rust); anything they throw, reject or return that is not a
//! promise of the expected shape is a render error, never an exception thrown into Node. The
//! callbacks are released when their server closes, so that Node can exit. Each napi type has its
//! one conversion to or from the engine's type beside it; the rest only wires the calls.

use std::cell::Cell;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use gatsby_dsg_engine as engine;
use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;
use parking_lot::Mutex;
use tokio::sync::oneshot;

use crate::options::HeaderInput;

/// What the JS render callback resolves to: the page-data JSON, and the HTML as a promise (asked
/// for the page-data first) or as the string itself (asked for the HTML first: the render settles
/// once, when both exist).
#[napi(object, object_to_js = false)]
pub struct RenderResult {
    pub page_data: String,
    pub html: Either<String, Promise<String>>,
}

impl From<RenderResult> for engine::RenderedPage {
    fn from(RenderResult { page_data, html }: RenderResult) -> Self {
        engine::RenderedPage {
            page_data: Bytes::from(page_data),
            html: match html {
                Either::A(html) => Box::pin(std::future::ready(Ok(Bytes::from(html)))),
                Either::B(html) => {
                    Box::pin(async move { html.await.map(Bytes::from).map_err(js_error) })
                }
            },
        }
    }
}

/// `render(pagePath, first)`: called with the page's path as the build lists it and the name of
/// the artifact awaited first ([`engine::ArtifactKind::name`]: `'html'` or `'page-data'`).
pub type RenderCallback = JsCallback<FnArgs<(String, String)>, RenderResult>;

/// One request of an SSR page, as `renderSsr(request)` receives it.
#[napi(object, object_from_js = false)]
pub struct SsrRequest {
    /// The page's URL path, or its page-data URL path (`getData` accepts both).
    pub path: String,
    pub page_data: bool,
    pub method: String,
    /// The request target with its query string, without the path prefix.
    pub url: String,
    /// The raw query string, without `?`.
    pub query: String,
    pub headers: Vec<HeaderInput>,
}

impl From<&engine::SsrRequest> for SsrRequest {
    fn from(request: &engine::SsrRequest) -> Self {
        SsrRequest {
            path: request.path.clone(),
            page_data: request.page_data,
            method: request.method.clone(),
            url: request.url.clone(),
            query: request.query.clone(),
            headers: request
                .headers
                .iter()
                .map(|(key, value)| HeaderInput {
                    key: key.clone(),
                    value: value.clone(),
                })
                .collect(),
        }
    }
}

/// What `renderSsr` resolves to: Gatsby's `serverDataStatus`, `serverDataHeaders`, the body.
#[napi(object, object_to_js = false)]
pub struct SsrResult {
    pub status: Option<u32>,
    pub headers: Vec<HeaderInput>,
    pub body: String,
}

impl From<SsrResult> for engine::SsrResponse {
    /// A status that is not a `u16` is left out (the response is a 200).
    fn from(result: SsrResult) -> Self {
        engine::SsrResponse {
            status: result.status.and_then(|s| u16::try_from(s).ok()),
            headers: result
                .headers
                .into_iter()
                .map(|h| (h.key, h.value))
                .collect(),
            body: Bytes::from(result.body),
        }
    }
}

/// `renderSsr(request)`.
pub type SsrCallback = JsCallback<SsrRequest, SsrResult>;

/// A JS callback called with an `A`, returning (it should) a promise of a `T`.
pub type JsCallback<A, T> = ThreadsafeFunction<A, Returned<T>, A, Status, false>;

/// What a render callback returned, checked before it is converted: anything but a promise is a
/// clear render error, never an exception thrown into Node. Only valid on the JS thread, inside
/// the call's own callback (`settle` consumes it there): the `'static` is napi-rs's bound on a
/// threadsafe function's return type, not how long the value lives.
pub enum Returned<T: FromNapiValue + 'static> {
    Promise(PromiseRaw<'static, T>),
    NotAPromise,
}

impl<T: FromNapiValue + 'static> FromNapiValue for Returned<T> {
    unsafe fn from_napi_value(env: sys::napi_env, value: sys::napi_value) -> Result<Self> {
        let mut is_promise = false;
        check_status!(
            unsafe { sys::napi_is_promise(env, value, &mut is_promise) },
            "checking whether a render callback returned a promise"
        )?;
        if is_promise {
            Ok(Returned::Promise(PromiseRaw::new(env, value)))
        } else {
            Ok(Returned::NotAPromise)
        }
    }
}

/// Implements the engine's renderer with the JS callbacks. They are released on `close()` so
/// that Node can exit.
pub struct JsRenderer {
    callback: Mutex<Option<Arc<RenderCallback>>>,
    ssr: Mutex<Option<Arc<SsrCallback>>>,
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

/// What a render resolves to on the engine's side.
type Settled<R> = std::result::Result<R, engine::RenderError>;

/// Calls `callback` with `argument` on its JS thread (never blocking it) and converts what the
/// promise it returned resolves to. One completion reaches Rust per call: the promise is chained
/// on the JS thread, inside the call itself (`settle`), so the waiting render is woken once, when
/// the promise settles, not also when the callback returns (measured in BENCHMARKS.md, session 8:
/// that wake-up landed a tokio worker on the render thread's core mid-render). `missing` is the
/// error when there is no callback (the server is closing, or it was never registered); `shape`
/// says what the callback must return.
fn call_js<A, T, R>(
    callback: Option<Arc<JsCallback<A, T>>>,
    missing: fn() -> engine::RenderError,
    argument: A,
    shape: &'static str,
) -> BoxFuture<'static, Settled<R>>
where
    A: JsValuesTupleIntoVec + 'static,
    T: FromNapiValue + 'static,
    R: From<T> + Send + 'static,
{
    let Some(callback) = callback else {
        return Box::pin(std::future::ready(Err(missing())));
    };
    let (sender, settled) = oneshot::channel::<Settled<R>>();
    let ran = Arc::new(AtomicBool::new(false));
    let status =
        callback.call_with_return_value(argument, ThreadsafeFunctionCallMode::NonBlocking, {
            let ran = Arc::clone(&ran);
            move |returned, _env| {
                ran.store(true, Ordering::Release);
                settle(returned, shape, sender);
                Ok(())
            }
        });
    Box::pin(async move {
        if status != Status::Ok {
            return Err(call_error(napi::Error::new(
                status,
                "the call could not be queued",
            )));
        }
        // The sender is dropped unanswered when Node drops the queued call as its thread goes
        // away (no JavaScript ran: another renderer can take it), or when that thread ends while
        // the promise is pending (the render ran: a failure, never repeated elsewhere).
        settled.await.unwrap_or_else(|_| {
            Err(if ran.load(Ordering::Acquire) {
                engine::RenderError::failed(
                    "the render callback's thread ended before its promise settled",
                )
            } else {
                engine::RenderError::Unavailable(Arc::from(
                    "the render callback's thread ended before it ran the call",
                ))
            })
        })
    })
}

/// On the JS thread, with what the callback returned (or threw): chains the promise so that its
/// settling sends the converted value, or the render error, to the waiting render.
fn settle<T, R>(
    returned: Result<Returned<T>>,
    shape: &'static str,
    sender: oneshot::Sender<Settled<R>>,
) where
    T: FromNapiValue + 'static,
    R: From<T> + Send + 'static,
{
    let promise = match returned {
        Ok(Returned::Promise(promise)) => promise,
        Ok(Returned::NotAPromise) => {
            let _ = sender.send(Err(engine::RenderError::failed(shape)));
            return;
        }
        Err(error) => {
            let _ = sender.send(Err(call_error(error)));
            return;
        }
    };
    // Whichever of the two callbacks runs first answers (a conversion error in `then` rejects
    // the promise `catch` is chained on).
    let on_resolve = Rc::new(Cell::new(Some(sender)));
    let on_reject = on_resolve.clone();
    let chained = promise
        .then(move |resolved: CallbackContext<T>| {
            if let Some(sender) = on_resolve.take() {
                let _ = sender.send(Ok(R::from(resolved.value)));
            }
            Ok(())
        })
        .and_then(|then| {
            then.catch(move |rejected: CallbackContext<Unknown>| {
                if let Some(sender) = on_reject.take() {
                    let error = napi::Error::from_unknown_without_coercion(rejected.value);
                    let _ = sender.send(Err(js_error(error)));
                }
                Ok(())
            })
        });
    // Chaining failed only if the env is going away; the render then ends unanswered (above).
    drop(chained);
}

impl engine::Renderer for JsRenderer {
    fn render(
        &self,
        page_path: &str,
        first: engine::ArtifactKind,
    ) -> BoxFuture<'static, std::result::Result<engine::RenderedPage, engine::RenderError>> {
        call_js(
            self.callback.lock().clone(),
            || engine::RenderError::Unavailable(Arc::from("the server is closing")),
            FnArgs::from((page_path.to_string(), first.name().to_string())),
            "render(pagePath, first) must return a Promise of { pageData, html }",
        )
    }

    fn render_ssr(
        &self,
        request: Arc<engine::SsrRequest>,
    ) -> BoxFuture<'static, std::result::Result<engine::SsrResponse, engine::RenderError>> {
        call_js(
            self.ssr.lock().clone(),
            || engine::RenderError::failed("this renderer was registered without renderSsr"),
            SsrRequest::from(&*request),
            "renderSsr(request) must return a Promise of { status, headers, body }",
        )
    }
}

impl JsRenderer {
    pub fn new(render: RenderCallback, ssr: Option<SsrCallback>) -> Arc<JsRenderer> {
        Arc::new(JsRenderer {
            callback: Mutex::new(Some(Arc::new(render))),
            ssr: Mutex::new(ssr.map(Arc::new)),
        })
    }
}
