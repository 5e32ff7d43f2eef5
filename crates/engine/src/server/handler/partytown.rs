//! Partytown's `/__third-party-proxy`: a listed URL fetched by [`crate::partytown`], its answer
//! streamed back.

use hyper::{Method, Request, Response};

use super::super::App;
use crate::functions::ProxyBody;
use crate::partytown::ProxyRoute;

/// The listed URL a GET or HEAD request asks the proxy for; `None` sends the request on to the
/// site's routing (an unlisted URL is the site's 404 there, as under `gatsby serve`).
pub(super) fn route(app: &App, req: &Request<()>) -> Option<String> {
    let proxy = app.partytown.as_ref()?;
    if !matches!(*req.method(), Method::GET | Method::HEAD) {
        return None;
    }
    match proxy.route(req.uri().path(), req.uri().query()) {
        ProxyRoute::Listed(url) => Some(url),
        ProxyRoute::Unlisted | ProxyRoute::NotProxy => None,
    }
}

pub(super) async fn serve(app: &App, req: &Request<()>, url: &str) -> Response<ProxyBody> {
    let proxy = app.partytown.as_ref().expect("routed to the proxy");
    proxy.fetch(url, req.method()).await
}
