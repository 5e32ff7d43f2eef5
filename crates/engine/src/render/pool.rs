//! Renderers that come and go: each Node worker thread running Gatsby's engines registers one, and
//! each render goes to the least busy of them. A worker that dies takes its renders with it: they
//! fail at once (500, not cached) and the next request renders on a live worker.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use parking_lot::{Mutex, RwLock};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::{RenderError, RenderedPage, Renderer, SsrRequest, SsrResponse};
use crate::artifact::ArtifactKind;

/// One registered renderer and what it is doing.
struct Member {
    id: u32,
    renderer: Arc<dyn Renderer>,
    in_flight: AtomicUsize,
    renders: AtomicU64,
    /// Start times of the renders running on it, to find a stuck one.
    running: Mutex<Vec<(u64, Instant)>>,
    /// Its callback's thread is gone (a call found it closed, or its owner removed it): it gets no
    /// more renders, and the renders running on it fail at once. A dead JS thread never settles
    /// the promises it returned, so without this they would wait for the render timeout.
    lost: CancellationToken,
    /// Being retired (recycled): it gets no more renders, the ones running on it finish.
    retiring: AtomicBool,
}

impl Member {
    fn takes_renders(&self) -> bool {
        !self.lost.is_cancelled() && !self.retiring.load(Relaxed)
    }
}

/// What one renderer has done, for stats and for finding stuck workers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberStats {
    pub id: u32,
    pub renders: u64,
    pub in_flight: usize,
    /// How long its oldest running render has been running.
    pub oldest_render: Option<Duration>,
    /// Retired: it gets no more renders and is removed once `in_flight` is 0.
    pub retiring: bool,
}

/// A render that finds no member waits for one to be added (workers still starting, or one
/// being replaced); the page cache's render timeout bounds the wait.
#[derive(Default)]
pub struct RendererPool {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    members: RwLock<Vec<Arc<Member>>>,
    added: Notify,
    next_id: AtomicU32,
    next_render: AtomicU64,
}

impl RendererPool {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a renderer; returns its id.
    pub fn add(&self, renderer: Arc<dyn Renderer>) -> u32 {
        let id = self.inner.next_id.fetch_add(1, Relaxed) + 1;
        self.inner.members.write().push(Arc::new(Member {
            id,
            renderer,
            in_flight: AtomicUsize::new(0),
            renders: AtomicU64::new(0),
            running: Mutex::new(Vec::new()),
            lost: CancellationToken::new(),
            retiring: AtomicBool::new(false),
        }));
        self.inner.added.notify_waiters();
        id
    }

    /// Removes a renderer (its worker exited, or is about to be terminated): the renders still
    /// running on it fail now. Returns whether it was there.
    pub fn remove(&self, id: u32) -> bool {
        let mut members = self.inner.members.write();
        let Some(at) = members.iter().position(|m| m.id == id) else {
            return false;
        };
        members.remove(at).lost.cancel();
        true
    }

    /// Sends a renderer no more renders; the ones running on it finish. Its owner removes it once
    /// its `in_flight` is 0 (a worker recycled to give back the memory Gatsby's engine grew).
    /// Returns whether it was there.
    pub fn retire(&self, id: u32) -> bool {
        let members = self.inner.members.read();
        let member = members.iter().find(|m| m.id == id);
        if let Some(member) = member {
            member.retiring.store(true, Relaxed);
        }
        member.is_some()
    }

    /// Removes every renderer (the server closes: their callbacks are released).
    pub fn clear(&self) {
        for member in self.inner.members.write().drain(..) {
            member.lost.cancel();
        }
    }

    pub fn len(&self) -> usize {
        self.inner.members.read().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn stats(&self) -> Vec<MemberStats> {
        self.inner
            .members
            .read()
            .iter()
            .map(|m| MemberStats {
                id: m.id,
                renders: m.renders.load(Relaxed),
                in_flight: m.in_flight.load(Relaxed),
                oldest_render: m.running.lock().iter().map(|(_, t)| t.elapsed()).max(),
                retiring: m.retiring.load(Relaxed),
            })
            .collect()
    }
}

impl Inner {
    /// The member with the fewest renders in flight (then the fewest renders done).
    fn least_busy(&self) -> Option<Arc<Member>> {
        self.members
            .read()
            .iter()
            .filter(|m| m.takes_renders())
            .min_by_key(|m| (m.in_flight.load(Relaxed), m.renders.load(Relaxed)))
            .cloned()
    }

    /// Starts the render on `member`. A member whose worker is gone (its callback closed before
    /// any JavaScript ran) gets no more renders and the render goes to another member: this is
    /// not a retry of a failed render, which is never repeated.
    fn start(
        self: &Arc<Self>,
        member: Arc<Member>,
        page_path: &str,
        first: ArtifactKind,
    ) -> BoxFuture<'static, Result<RenderedPage, RenderError>> {
        let call = self.call(&member, page_path, first);
        let (inner, page_path) = (Arc::clone(self), page_path.to_string());
        Box::pin(async move {
            let (mut member, mut call) = (member, call);
            loop {
                match call.await {
                    Err(RenderError::Unavailable(_)) => {
                        member.lost.cancel();
                        member = inner.wait_for_member().await;
                        call = inner.call(&member, &page_path, first);
                    }
                    result => return result,
                }
            }
        })
    }

    /// As [`start`](Self::start), for an SSR request (one future: it is done when answered).
    fn start_ssr(
        self: &Arc<Self>,
        member: Arc<Member>,
        request: Arc<SsrRequest>,
    ) -> BoxFuture<'static, Result<SsrResponse, RenderError>> {
        // The first call starts now (counted on its member), so that concurrent renders spread.
        let call = |member: &Arc<Member>, request: &Arc<SsrRequest>| {
            (
                self.running_on(member),
                member.renderer.render_ssr(Arc::clone(request)),
            )
        };
        let first = call(&member, &request);
        let inner = Arc::clone(self);
        Box::pin(async move {
            let (mut member, mut current) = (member, first);
            loop {
                let (running, step) = current;
                let result = unless_lost(&member.lost, step).await;
                drop(running);
                match result {
                    Err(RenderError::Unavailable(_)) => {
                        member.lost.cancel();
                        member = inner.wait_for_member().await;
                        current = (
                            inner.running_on(&member),
                            member.renderer.render_ssr(Arc::clone(&request)),
                        );
                    }
                    result => return result,
                }
            }
        })
    }

    async fn wait_for_member(&self) -> Arc<Member> {
        loop {
            let added = self.added.notified();
            if let Some(member) = self.least_busy() {
                return member;
            }
            added.await;
        }
    }

    /// One call on one member, counted as running there until its HTML is done.
    fn call(
        &self,
        member: &Arc<Member>,
        page_path: &str,
        first: ArtifactKind,
    ) -> BoxFuture<'static, Result<RenderedPage, RenderError>> {
        let running = self.running_on(member);
        let call = member.renderer.render(page_path, first);
        let lost = member.lost.clone();
        Box::pin(async move {
            let rendered = unless_lost(&lost, call).await?;
            let html = rendered.html;
            Ok(RenderedPage {
                page_data: rendered.page_data,
                html: Box::pin(async move {
                    let html = unless_lost(&lost, html).await;
                    drop(running);
                    html
                }),
            })
        })
    }
}

impl Inner {
    /// Counts one render as running on `member` until the returned guard is dropped.
    fn running_on(&self, member: &Arc<Member>) -> Running {
        let render = self.next_render.fetch_add(1, Relaxed);
        member.in_flight.fetch_add(1, Relaxed);
        member.renders.fetch_add(1, Relaxed);
        member.running.lock().push((render, Instant::now()));
        Running {
            member: Arc::clone(member),
            render,
        }
    }
}

/// `step`, or a render failure as soon as the member is lost. A call that never reached the
/// worker is told apart by the renderer itself (`Unavailable`) and goes to another member.
async fn unless_lost<T>(
    lost: &CancellationToken,
    step: impl std::future::Future<Output = Result<T, RenderError>>,
) -> Result<T, RenderError> {
    tokio::select! {
        biased;
        result = step => result,
        () = lost.cancelled() => Err(RenderError::failed(
            "its render worker exited while rendering it",
        )),
    }
}

/// Ends one render's accounting on its member however the render ends (HTML done, failed, or
/// dropped).
struct Running {
    member: Arc<Member>,
    render: u64,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.member.in_flight.fetch_sub(1, Relaxed);
        self.member
            .running
            .lock()
            .retain(|(r, _)| *r != self.render);
    }
}

impl Renderer for RendererPool {
    fn render(
        &self,
        page_path: &str,
        first: ArtifactKind,
    ) -> BoxFuture<'static, Result<RenderedPage, RenderError>> {
        // Started now when a member is there, so that concurrent renders spread at once.
        if let Some(member) = self.inner.least_busy() {
            return self.inner.start(member, page_path, first);
        }
        let (inner, page_path) = (Arc::clone(&self.inner), page_path.to_string());
        Box::pin(async move {
            let member = inner.wait_for_member().await;
            inner.start(member, &page_path, first).await
        })
    }

    fn render_ssr(
        &self,
        request: Arc<SsrRequest>,
    ) -> BoxFuture<'static, Result<SsrResponse, RenderError>> {
        if let Some(member) = self.inner.least_busy() {
            return self.inner.start_ssr(member, request);
        }
        let inner = Arc::clone(&self.inner);
        Box::pin(async move {
            let member = inner.wait_for_member().await;
            inner.start_ssr(member, request).await
        })
    }

    /// Members that take renders: neither lost nor retiring. 0 while the workers are still
    /// loading Gatsby's engines, and after `clear()`.
    fn renderers_ready(&self) -> usize {
        self.inner
            .members
            .read()
            .iter()
            .filter(|m| m.takes_renders())
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    /// Renders after `gate` is notified; counts its calls.
    struct Held {
        gate: Arc<Notify>,
        calls: AtomicUsize,
    }

    impl Renderer for Held {
        fn render(
            &self,
            page: &str,
            _: ArtifactKind,
        ) -> BoxFuture<'static, Result<RenderedPage, RenderError>> {
            self.calls.fetch_add(1, Relaxed);
            let (gate, page) = (Arc::clone(&self.gate), page.to_string());
            Box::pin(async move {
                gate.notified().await;
                Ok(RenderedPage {
                    page_data: Bytes::from(page.clone()),
                    html: Box::pin(async move { Ok(Bytes::from(page)) }),
                })
            })
        }
    }

    fn held() -> Arc<Held> {
        Arc::new(Held {
            gate: Arc::new(Notify::new()),
            calls: AtomicUsize::new(0),
        })
    }

    #[test]
    fn ready_renderers_are_the_members_that_take_renders() {
        let pool = RendererPool::new();
        assert_eq!(pool.renderers_ready(), 0);
        let (a, b) = (pool.add(held()), pool.add(held()));
        assert_eq!(pool.renderers_ready(), 2);
        pool.retire(a);
        assert_eq!(pool.renderers_ready(), 1);
        pool.remove(b);
        assert_eq!(pool.renderers_ready(), 0);
        pool.add(held());
        pool.clear();
        assert_eq!(pool.renderers_ready(), 0);
    }

    #[tokio::test]
    async fn renders_go_to_the_least_busy_member() {
        let pool = RendererPool::new();
        let (a, b) = (held(), held());
        pool.add(a.clone());
        pool.add(b.clone());
        let first = pool.render("/1/", ArtifactKind::Html);
        let second = pool.render("/2/", ArtifactKind::Html);
        assert_eq!(
            (a.calls.load(Relaxed), b.calls.load(Relaxed)),
            (1, 1),
            "two concurrent renders are spread over two members"
        );
        assert_eq!(pool.stats().iter().map(|s| s.in_flight).sum::<usize>(), 2);
        drop((first, second));
        assert_eq!(pool.stats().iter().map(|s| s.in_flight).sum::<usize>(), 0);
    }

    #[tokio::test]
    async fn in_flight_ends_when_the_html_is_done() {
        let pool = RendererPool::new();
        let a = held();
        pool.add(a.clone());
        let render = tokio::spawn(pool.render("/1/", ArtifactKind::Html));
        tokio::task::yield_now().await;
        a.gate.notify_one();
        let rendered = render.await.unwrap().unwrap();
        assert_eq!(pool.stats()[0].in_flight, 1, "the HTML is still to come");
        assert!(pool.stats()[0].oldest_render.is_some());
        assert_eq!(rendered.html.await.unwrap(), "/1/");
        assert_eq!(pool.stats()[0].in_flight, 0);
        assert_eq!(pool.stats()[0].renders, 1);
    }

    #[tokio::test]
    async fn render_without_members_waits_for_one_to_be_added() {
        let pool = RendererPool::new();
        let waiting = tokio::spawn(pool.render("/1/", ArtifactKind::Html));
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        let late = held();
        pool.add(late.clone());
        while late.calls.load(Relaxed) == 0 {
            tokio::task::yield_now().await;
        }
        late.gate.notify_one();
        let rendered = waiting.await.unwrap().unwrap();
        assert_eq!(rendered.page_data, "/1/");
    }

    /// A renderer whose worker is gone: every call fails before any JavaScript runs.
    struct Gone;

    impl Renderer for Gone {
        fn render(
            &self,
            _: &str,
            _: ArtifactKind,
        ) -> BoxFuture<'static, Result<RenderedPage, RenderError>> {
            Box::pin(async { Err(RenderError::Unavailable(Arc::from("closing"))) })
        }
    }

    #[tokio::test]
    async fn render_sent_to_a_gone_member_goes_to_a_live_one_and_the_gone_one_gets_no_more() {
        let pool = RendererPool::new();
        pool.add(Arc::new(Gone));
        let live = held();
        pool.add(live.clone());
        // The gone member looks least busy (no renders yet, lowest id): it is picked first.
        let render = tokio::spawn(pool.render("/1/", ArtifactKind::Html));
        while live.calls.load(Relaxed) == 0 {
            tokio::task::yield_now().await;
        }
        live.gate.notify_one();
        assert_eq!(render.await.unwrap().unwrap().page_data, "/1/");
        let _second = pool.render("/2/", ArtifactKind::Html);
        assert_eq!(
            live.calls.load(Relaxed),
            2,
            "the gone member gets no more renders"
        );
    }

    #[tokio::test]
    async fn removed_member_gets_no_more_renders() {
        let pool = RendererPool::new();
        let (a, b) = (held(), held());
        let id = pool.add(a.clone());
        pool.add(b.clone());
        assert!(pool.remove(id));
        assert!(!pool.remove(id));
        let _render = pool.render("/1/", ArtifactKind::Html);
        assert_eq!((a.calls.load(Relaxed), b.calls.load(Relaxed)), (0, 1));
    }

    /// Page-data at once; the HTML only when `html_gate` is notified (it never is when the
    /// worker dies: a dead JS thread settles nothing).
    struct HtmlHeld {
        html_gate: Arc<Notify>,
    }

    impl Renderer for HtmlHeld {
        fn render(
            &self,
            page: &str,
            _: ArtifactKind,
        ) -> BoxFuture<'static, Result<RenderedPage, RenderError>> {
            let (gate, page) = (Arc::clone(&self.html_gate), page.to_string());
            Box::pin(async move {
                Ok(RenderedPage {
                    page_data: Bytes::from(page.clone()),
                    html: Box::pin(async move {
                        gate.notified().await;
                        Ok(Bytes::from(page))
                    }),
                })
            })
        }
    }

    #[tokio::test]
    async fn removing_a_member_fails_its_running_renders_at_once() {
        let pool = RendererPool::new();
        let waiting_for_page_data = held();
        let id = pool.add(waiting_for_page_data.clone());
        let render = tokio::spawn(pool.render("/1/", ArtifactKind::Html));
        tokio::task::yield_now().await;
        assert!(pool.remove(id));
        let error = render.await.unwrap().err().expect("the render fails");
        assert!(
            matches!(&error, RenderError::Failed(m) if m.contains("worker exited")),
            "{error}"
        );
        assert_eq!(waiting_for_page_data.calls.load(Relaxed), 1, "not retried");
    }

    #[tokio::test]
    async fn removing_a_member_fails_the_html_still_to_come() {
        let pool = RendererPool::new();
        let id = pool.add(Arc::new(HtmlHeld {
            html_gate: Arc::new(Notify::new()),
        }));
        let rendered = pool.render("/1/", ArtifactKind::Html).await.unwrap();
        assert_eq!(rendered.page_data, "/1/");
        assert!(pool.remove(id));
        assert!(matches!(rendered.html.await, Err(RenderError::Failed(_))));
    }

    #[tokio::test]
    async fn a_call_finding_the_thread_gone_fails_the_other_renders_running_there() {
        // The first render is running when the worker dies; the second call finds it closed.
        struct DiesAfterFirst {
            calls: AtomicUsize,
        }
        impl Renderer for DiesAfterFirst {
            fn render(
                &self,
                _: &str,
                _: ArtifactKind,
            ) -> BoxFuture<'static, Result<RenderedPage, RenderError>> {
                if self.calls.fetch_add(1, Relaxed) == 0 {
                    Box::pin(std::future::pending())
                } else {
                    Box::pin(async { Err(RenderError::Unavailable(Arc::from("closing"))) })
                }
            }
        }
        let pool = RendererPool::new();
        pool.add(Arc::new(DiesAfterFirst {
            calls: AtomicUsize::new(0),
        }));
        let running = tokio::spawn(pool.render("/1/", ArtifactKind::Html));
        tokio::task::yield_now().await;
        let live = held();
        let rerouted = tokio::spawn(pool.render("/2/", ArtifactKind::Html));
        tokio::task::yield_now().await;
        pool.add(live.clone());
        assert!(matches!(
            running.await.unwrap(),
            Err(RenderError::Failed(_))
        ));
        while live.calls.load(Relaxed) == 0 {
            tokio::task::yield_now().await;
        }
        live.gate.notify_one();
        assert_eq!(rerouted.await.unwrap().unwrap().page_data, "/2/");
    }

    #[tokio::test]
    async fn retired_member_finishes_its_renders_and_gets_no_new_ones() {
        let pool = RendererPool::new();
        let (old, new) = (held(), held());
        let id = pool.add(old.clone());
        let running = tokio::spawn(pool.render("/1/", ArtifactKind::Html));
        tokio::task::yield_now().await;
        assert!(pool.retire(id));
        pool.add(new.clone());
        let _next = pool.render("/2/", ArtifactKind::Html);
        assert_eq!((old.calls.load(Relaxed), new.calls.load(Relaxed)), (1, 1));
        let stats = pool.stats();
        assert!(stats[0].retiring && stats[0].in_flight == 1);
        old.gate.notify_one();
        assert_eq!(running.await.unwrap().unwrap().page_data, "/1/");
        assert_eq!(pool.stats()[0].in_flight, 0, "its owner may now remove it");
    }
}
