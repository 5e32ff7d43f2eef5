//! A deferred page's HTML or page-data: the page cache ([`crate::cache::PageCache::get`]) finds
//! it in memory or on disk, or joins or starts its single render ([`crate::cache::flight`],
//! [`crate::render`]). Every reply here carries its cache status (`x-dsg-cache`), failures as
//! `MISS`.

use std::sync::Arc;

use hyper::header::{HeaderMap, HeaderValue};

use crate::artifact::ArtifactKind;
use crate::cache::CacheStatus;
use crate::pages::DeferredPage;
use crate::render::RenderError;
use crate::respond::{self, BodyMode, Caching, Entity, Reply};
use crate::server::App;

pub(super) async fn serve(
    app: &App,
    request: &HeaderMap,
    page: &Arc<DeferredPage>,
    kind: ArtifactKind,
    mode: BodyMode,
) -> Reply {
    let (mut reply, outcome) = match app.cache.get(page, kind).await {
        Ok((content, outcome)) => {
            let reply = respond::entity(
                request,
                Entity {
                    content: &content,
                    content_type: HeaderValue::from_static(kind.content_type()),
                    caching: Caching::Generated,
                    modified: None,
                    negotiable: true,
                    ranges: false,
                },
                mode,
            );
            (reply, outcome)
        }
        Err(RenderError::Overloaded) => (respond::overloaded(mode), CacheStatus::Miss),
        // Already logged once by the render's leader.
        Err(_) => (
            respond::server_error(&app.error_pages, mode),
            CacheStatus::Miss,
        ),
    };
    reply.facts.cache_status = Some(outcome);
    reply
}
