//! The site's function routes, which may arrive after the server listens.
//!
//! The functions process reports its routes, with the body limits of each function's `config`
//! export, only once it has loaded every compiled function (1,842 ms for the example's 12), and
//! the server does not wait for that before it listens: static files, generated pages and SSR
//! need no functions. Until the routes arrive they are *pending*, and a request under `/api/`
//! waits for them ([`RouteWatch::wait`], bounded by the function timeout) so that it is then
//! routed exactly as it would be later: a 404 for an unknown function, a 413 from its `config`,
//! forwarded otherwise. A request whose bound passes first is a 503 with `Retry-After`
//! ([`FunctionsProxy::route`](super::FunctionsProxy::route) answers it).
//!
//! Invariants: waiting parks the request's task on a `watch` channel, never a thread; routes are
//! replaced whole (a request sees one table or the next, never a mix); closing the server
//! releases every pending waiter at once (it does not hold up the shutdown), and routes that had
//! arrived stay as they are for the requests still in flight.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::routes::FunctionRoutes;

#[derive(Debug)]
enum State {
    /// The functions process has not reported its routes yet.
    Pending,
    Ready(Arc<FunctionRoutes>),
    /// The server closed before the routes arrived.
    Closed,
}

/// Why a request under `/api/` found no routes to be routed by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotReady {
    /// They did not arrive within the bound.
    TimedOut(Duration),
    /// The server is closing; they never arrived.
    Closed,
}

/// The routes, set at start-up or later.
pub struct RouteWatch {
    state: watch::Sender<State>,
}

impl RouteWatch {
    /// `None`: pending until [`set`](Self::set).
    pub fn new(routes: Option<FunctionRoutes>) -> RouteWatch {
        let state = match routes {
            Some(routes) => State::Ready(Arc::new(routes)),
            None => State::Pending,
        };
        RouteWatch {
            state: watch::channel(state).0,
        }
    }

    /// Sets (or replaces) the routes; every request waiting for them goes on.
    pub fn set(&self, routes: FunctionRoutes) {
        self.state.send_replace(State::Ready(Arc::new(routes)));
    }

    /// The server is closing: pending waiters are released (as [`NotReady::Closed`]); routes
    /// already set stay.
    pub fn close(&self) {
        self.state.send_if_modified(|state| match state {
            State::Pending => {
                *state = State::Closed;
                true
            }
            State::Ready(_) | State::Closed => false,
        });
    }

    /// The routes, if they have arrived.
    pub fn now(&self) -> Option<Arc<FunctionRoutes>> {
        match &*self.state.borrow() {
            State::Ready(routes) => Some(Arc::clone(routes)),
            State::Pending | State::Closed => None,
        }
    }

    /// How many requests wait for the routes now (each holds the one subscription it waits on).
    #[cfg(test)]
    pub(crate) fn waiting(&self) -> usize {
        self.state.receiver_count()
    }

    /// The routes once they arrive, waiting at most `bound` for them.
    pub async fn wait(&self, bound: Duration) -> Result<Arc<FunctionRoutes>, NotReady> {
        let settled = |state: &State| match state {
            State::Pending => None,
            State::Ready(routes) => Some(Ok(Arc::clone(routes))),
            State::Closed => Some(Err(NotReady::Closed)),
        };
        // The common case, once ready: no timer, no subscription.
        if let Some(outcome) = settled(&self.state.borrow()) {
            return outcome;
        }
        let mut state = self.state.subscribe();
        let arrived = tokio::time::timeout(bound, state.wait_for(|s| !matches!(s, State::Pending)))
            .await
            .map(|seen| seen.map(|s| settled(&s)));
        match arrived {
            Ok(Ok(Some(outcome))) => outcome,
            // The sender lives as long as `self`: `wait_for` cannot fail while we borrow it.
            Ok(Ok(None) | Err(_)) => Err(NotReady::Closed),
            Err(_) => Err(NotReady::TimedOut(bound)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::functions::FunctionSpec;

    fn routes(names: &[&str]) -> FunctionRoutes {
        let specs: Vec<FunctionSpec> = names
            .iter()
            .map(|name| FunctionSpec {
                function_route: name.to_string(),
                match_path: None,
                body_limits: vec![],
            })
            .collect();
        FunctionRoutes::new(&specs)
    }

    #[tokio::test]
    async fn a_waiter_goes_on_with_the_routes_set_while_it_waits() {
        let watch = Arc::new(RouteWatch::new(None));
        assert!(watch.now().is_none());
        let waiter = {
            let watch = Arc::clone(&watch);
            tokio::spawn(async move { watch.wait(Duration::from_secs(30)).await })
        };
        while watch.waiting() == 0 {
            tokio::task::yield_now().await;
        }
        assert!(!waiter.is_finished());
        watch.set(routes(&["hello"]));
        let found = waiter.await.unwrap().unwrap();
        assert!(found.find("hello").is_some());
        assert!(watch.now().is_some());
    }

    #[tokio::test(start_paused = true)]
    async fn a_waiter_gives_up_at_the_bound_and_the_routes_still_count_after() {
        let watch = RouteWatch::new(None);
        let bound = Duration::from_secs(3);
        assert_eq!(
            watch.wait(bound).await.unwrap_err(),
            NotReady::TimedOut(bound)
        );
        watch.set(routes(&["hello"]));
        assert_eq!(watch.wait(bound).await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn closing_releases_pending_waiters_but_keeps_routes_that_arrived() {
        let pending = Arc::new(RouteWatch::new(None));
        let waiter = {
            let pending = Arc::clone(&pending);
            tokio::spawn(async move { pending.wait(Duration::from_secs(30)).await })
        };
        while pending.waiting() == 0 {
            tokio::task::yield_now().await;
        }
        pending.close();
        assert_eq!(waiter.await.unwrap().unwrap_err(), NotReady::Closed);

        let ready = RouteWatch::new(Some(routes(&["hello"])));
        ready.close();
        assert!(ready.wait(Duration::ZERO).await.is_ok());
    }

    #[tokio::test]
    async fn new_routes_replace_the_old_ones_whole() {
        let watch = RouteWatch::new(Some(routes(&["a"])));
        watch.set(routes(&["b", "c"]));
        let now = watch.now().unwrap();
        assert!(now.find("a").is_none());
        assert_eq!(now.len(), 2);
    }
}
