//! An SSR page: the request as `getServerData` sees it, to [`crate::ssr::Ssr`] (shared cache or
//! a render on the worker pool).

use std::sync::Arc;

use hyper::Request;

use crate::artifact::ArtifactKind;
use crate::pages::DeferredPage;
use crate::respond::Reply;
use crate::server::App;
use crate::ssr::SsrCall;

pub(super) async fn serve(
    app: &App,
    req: &Request<()>,
    page: &Arc<DeferredPage>,
    kind: ArtifactKind,
    path: &str,
) -> Reply {
    let uri = req.uri();
    let raw_path = app.router.strip_path_prefix(uri.path()).unwrap_or("/");
    app.ssr
        .respond(
            SsrCall {
                page,
                kind,
                method: req.method(),
                path,
                raw_path,
                query: uri.query(),
                headers: req.headers(),
            },
            &app.error_pages,
        )
        .await
}
