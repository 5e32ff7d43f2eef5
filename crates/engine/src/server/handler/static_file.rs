//! A file of `public/`: from the static-content cache (or disk), as the request's validators,
//! ranges and `Accept-Encoding` ask.

use std::sync::Arc;

use hyper::header::HeaderMap;

use crate::respond::{self, BodyMode, Caching, Entity, Reply};
use crate::server::App;
use crate::static_files::StaticFile;

pub(super) async fn serve(
    app: &App,
    request: &HeaderMap,
    file: &Arc<StaticFile>,
    mode: BodyMode,
) -> Reply {
    match app.static_content.get(file).await {
        Ok(content) => respond::entity(
            request,
            Entity {
                content: &content,
                content_type: file.content_type.clone(),
                caching: Caching::File(file.cache_control.clone()),
                modified: file.modified.zip(file.last_modified.as_ref()),
                negotiable: file.compressible,
                ranges: true,
            },
            mode,
        ),
        Err(e) => {
            eprintln!("gatsby-dsg: cannot read {}: {e}", file.fs_path.display());
            respond::server_error(&app.error_pages, mode)
        }
    }
}
