//! SSR pages (a template exporting `getServerData`): rendered by Gatsby's engine for each request,
//! on the render-worker pool (never on the threads serving files), unless [`cache::SsrCache`]
//! holds a shareable answer.
//!
//! As `gatsby serve` answers them: the HTML or the page-data of the request's URL, with its query
//! string passed through (`getServerData` receives `method`, `url`, `query`, `headers`); the
//! `status` and `headers` `getServerData` returns, over Gatsby's defaults and gatsby-config
//! `headers` (the header stage's last step, `respond::headers::server_data`); a render that throws is a 500 with `public/500.html` (page-data: a plain 500, as
//! Gatsby's own server). Every render is bounded by the render timeout, and SSR renders have their
//! own render queue ([`RenderGate`]): past it, 503 with `Retry-After`.

pub mod cache;
pub mod cache_control;

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, StatusCode};

use crate::artifact::ArtifactKind;
use crate::cache::gate::{Priority, RenderGate};
use crate::pages::DeferredPage;
use crate::render::{RenderError, Renderer, SsrRequest};
use crate::respond::error_pages::ErrorPages;
use crate::respond::{self, BodyMode, Caching, Entity, Reply};
use cache::{Render, SsrCache};

/// What SSR responses need of the server.
pub struct Ssr {
    pub cache: SsrCache,
    pub renderer: Arc<dyn Renderer>,
    pub gate: Arc<RenderGate>,
    pub render_timeout: Duration,
    /// Calls of the renderer.
    pub renders: Arc<AtomicU64>,
}

/// One request of an SSR page, as routed.
pub struct SsrCall<'a> {
    pub page: &'a Arc<DeferredPage>,
    pub kind: ArtifactKind,
    pub method: &'a Method,
    /// The normalised path, without the path prefix.
    pub path: &'a str,
    /// The request path as sent, without the path prefix.
    pub raw_path: &'a str,
    pub query: Option<&'a str>,
    pub headers: &'a HeaderMap,
}

impl Ssr {
    /// The response, and the cache outcome when the shared cache was involved.
    pub async fn respond(&self, call: SsrCall<'_>, error_pages: &ErrorPages) -> Reply {
        let mode = if call.method == Method::HEAD {
            BodyMode::HeadersOnly
        } else {
            BodyMode::Full
        };
        let page_data = call.kind == ArtifactKind::PageData;
        let request = Arc::new(SsrRequest {
            path: call.path.to_string(),
            page_data,
            method: call.method.to_string(),
            url: match call.query {
                Some(q) => format!("{}?{q}", call.raw_path),
                None => call.raw_path.to_string(),
            },
            query: call.query.unwrap_or("").to_string(),
            headers: node_headers(call.headers),
        });
        let render: Render = {
            let (renderer, gate, timeout, renders) = (
                Arc::clone(&self.renderer),
                Arc::clone(&self.gate),
                self.render_timeout,
                Arc::clone(&self.renders),
            );
            let request = Arc::clone(&request);
            Arc::new(move || {
                let (renderer, gate, request) = (
                    Arc::clone(&renderer),
                    Arc::clone(&gate),
                    Arc::clone(&request),
                );
                renders.fetch_add(1, Relaxed);
                Box::pin(async move {
                    let _slot = gate
                        .enter(Priority::Live)
                        .await
                        .map_err(|_| RenderError::Overloaded)?;
                    match tokio::time::timeout(timeout, renderer.render_ssr(request)).await {
                        Ok(result) => result,
                        Err(_) => Err(RenderError::TimedOut(timeout)),
                    }
                })
            })
        };
        let key = SsrCache::key(page_data, call.path, call.query);
        let served = self
            .cache
            .serve(
                key,
                call.headers,
                call.method == Method::GET,
                call.method == Method::HEAD,
                render,
            )
            .await;
        let (answer, outcome, age) = match served {
            Ok(served) => served,
            Err(RenderError::Overloaded) => return respond::overloaded(mode),
            Err(error) => {
                eprintln!(
                    "gatsby-dsg: rendering SSR page {} for {} failed: {error}",
                    call.page.path, request.url
                );
                return if page_data {
                    let mut reply = respond::plain(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "Internal server error.",
                        mode,
                    );
                    reply.facts.caching = Caching::Revalidate;
                    reply
                } else {
                    respond::server_error(error_pages, mode)
                };
            }
        };

        let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK);
        // Validators answer only a 200; another status is sent as it is.
        let conditional = if status == StatusCode::OK {
            call.headers.clone()
        } else {
            let mut only_encoding = HeaderMap::new();
            if let Some(v) = call.headers.get(header::ACCEPT_ENCODING) {
                only_encoding.insert(header::ACCEPT_ENCODING, v.clone());
            }
            only_encoding
        };
        let mut reply = respond::entity(
            &conditional,
            Entity {
                content: &answer.content,
                content_type: HeaderValue::from_static(call.kind.content_type()),
                // Gatsby's default for SSR responses; getServerData's headers override it.
                caching: Caching::Revalidate,
                modified: None,
                negotiable: true,
                ranges: false,
            },
            mode,
        );
        if reply.response.status() == StatusCode::OK {
            *reply.response.status_mut() = status;
        }
        if let Some(age) = age {
            reply
                .headers_mut()
                .insert(header::AGE, HeaderValue::from(age.as_secs()));
        }
        reply.facts.cache_status = outcome;
        reply.facts.server_data = Some(Arc::clone(&answer.headers));
        reply
    }
}

/// Request headers as Node's `req.headers` has them: lower-case names, repeated values joined
/// with `, ` (`cookie` with `; `).
fn node_headers(headers: &HeaderMap) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::with_capacity(headers.keys_len());
    for name in headers.keys() {
        let separator = if name == header::COOKIE { "; " } else { ", " };
        let values: Vec<String> = headers
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect();
        out.push((name.as_str().to_string(), values.join(separator)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_headers_are_joined_as_node_joins_them() {
        let mut headers = HeaderMap::new();
        headers.append(header::ACCEPT, HeaderValue::from_static("a"));
        headers.append(header::ACCEPT, HeaderValue::from_static("b"));
        headers.append(header::COOKIE, HeaderValue::from_static("x=1"));
        headers.append(header::COOKIE, HeaderValue::from_static("y=2"));
        let joined = node_headers(&headers);
        assert!(joined.contains(&("accept".into(), "a, b".into())));
        assert!(joined.contains(&("cookie".into(), "x=1; y=2".into())));
    }
}
