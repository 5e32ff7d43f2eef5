//! Single-flight: concurrent misses for one page share one fill (disk read or render). The first
//! request starts it; the others subscribe to its progress and take the artifact they asked for as
//! soon as it is published — page-data before the HTML is done.

use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;

use dashmap::mapref::entry::Entry;
use dashmap::DashMap;
use tokio::sync::watch;

use super::CacheStatus;
use crate::artifact::ArtifactKind;
use crate::content::Content;
use crate::render::RenderError;

pub type Outcome = Result<(Arc<Content>, CacheStatus), RenderError>;

/// What one fill has published so far.
#[derive(Clone, Debug, Default)]
pub struct Progress {
    page_data: Option<Outcome>,
    html: Option<Outcome>,
}

impl Progress {
    pub fn get(&self, kind: ArtifactKind) -> Option<&Outcome> {
        match kind {
            ArtifactKind::PageData => self.page_data.as_ref(),
            ArtifactKind::Html => self.html.as_ref(),
        }
    }

    fn slot(&mut self, kind: ArtifactKind) -> &mut Option<Outcome> {
        match kind {
            ArtifactKind::PageData => &mut self.page_data,
            ArtifactKind::Html => &mut self.html,
        }
    }
}

/// One fill under way: its progress, and whether the page was purged while it ran.
struct Flight {
    progress: watch::Receiver<Progress>,
    purged: Arc<AtomicBool>,
}

/// The fills under way, by page path.
#[derive(Default)]
pub struct Flights {
    map: Arc<DashMap<Arc<str>, Flight>>,
}

/// Joining a flight either makes you its leader (you must fill) or a follower.
pub enum Joined {
    Leader(FlightLead, watch::Receiver<Progress>),
    Follower(watch::Receiver<Progress>),
}

impl Flights {
    pub fn join(&self, page: &Arc<str>) -> Joined {
        match self.map.entry(Arc::clone(page)) {
            Entry::Occupied(flight) => Joined::Follower(flight.get().progress.clone()),
            Entry::Vacant(slot) => {
                let (tx, rx) = watch::channel(Progress::default());
                let purged = Arc::new(AtomicBool::new(false));
                slot.insert(Flight {
                    progress: rx.clone(),
                    purged: Arc::clone(&purged),
                });
                let lead = FlightLead {
                    page: Arc::clone(page),
                    tx,
                    purged,
                    map: Arc::clone(&self.map),
                };
                Joined::Leader(lead, rx)
            }
        }
    }

    /// Tells the fill of `page`, if one is under way, that the page was purged: what it has not
    /// stored yet is not to be kept (see [`FlightLead::purged`]), and the next request starts a
    /// new fill instead of following this one. Call before removing the page.
    pub fn mark_purged(&self, page: &str) {
        if let Some((_, flight)) = self.map.remove(page) {
            flight.purged.store(true, SeqCst);
        }
    }

    /// [`Flights::mark_purged`] for every fill under way.
    pub fn mark_all_purged(&self) {
        self.map.retain(|_, flight| {
            flight.purged.store(true, SeqCst);
            false
        });
    }

    /// Fills under way.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// Held by the one task filling a page. Dropping it ends the flight: the next miss starts a new
/// one, so the leader must store its artifacts in memory before it drops this.
pub struct FlightLead {
    page: Arc<str>,
    tx: watch::Sender<Progress>,
    purged: Arc<AtomicBool>,
    map: Arc<DashMap<Arc<str>, Flight>>,
}

impl FlightLead {
    pub fn page(&self) -> &Arc<str> {
        &self.page
    }

    /// Publishes the outcome for `kind`, unless one was published already.
    pub fn publish(&self, kind: ArtifactKind, outcome: Outcome) {
        self.tx.send_if_modified(|progress| {
            let slot = progress.slot(kind);
            if slot.is_some() {
                return false;
            }
            *slot = Some(outcome);
            true
        });
    }

    pub fn is_published(&self, kind: ArtifactKind) -> bool {
        self.tx.borrow().get(kind).is_some()
    }

    /// Set once the page is purged during this fill. A store checks it after writing and undoes
    /// the write when it is set: the purge sets it before it removes, so either the purge's
    /// removal comes after the write, or the store sees the flag.
    pub fn purged(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.purged)
    }
}

impl Drop for FlightLead {
    /// Ends this flight, not a newer one of the same page (started after a purge).
    fn drop(&mut self) {
        self.map
            .remove_if(&self.page, |_, f| Arc::ptr_eq(&f.purged, &self.purged));
    }
}

/// Waits for the outcome of `kind` in a flight.
pub async fn wait_for(mut rx: watch::Receiver<Progress>, kind: ArtifactKind) -> Outcome {
    match rx.wait_for(|p| p.get(kind).is_some()).await {
        Ok(progress) => progress.get(kind).cloned().expect("checked by wait_for"),
        // The leader went away without an answer (its task panicked or was cancelled).
        Err(_) => Err(RenderError::Unavailable(Arc::from(
            "the render ended without a result",
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn second_join_follows_the_first_until_the_lead_is_dropped() {
        let flights = Flights::default();
        let page: Arc<str> = Arc::from("/a/");
        let Joined::Leader(lead, _) = flights.join(&page) else {
            panic!("first join must lead")
        };
        let Joined::Follower(rx) = flights.join(&page) else {
            panic!("second join must follow")
        };
        lead.publish(
            ArtifactKind::PageData,
            Ok((Arc::new(Content::new("{}")), CacheStatus::Miss)),
        );
        let (artifact, _) = wait_for(rx.clone(), ArtifactKind::PageData).await.unwrap();
        assert_eq!(artifact.identity.bytes, "{}");
        drop(lead);
        assert!(flights.is_empty());
        assert!(wait_for(rx, ArtifactKind::Html).await.is_err());
        assert!(matches!(flights.join(&page), Joined::Leader(..)));
    }

    #[tokio::test]
    async fn first_published_outcome_wins() {
        let flights = Flights::default();
        let Joined::Leader(lead, rx) = flights.join(&Arc::from("/a/")) else {
            unreachable!()
        };
        lead.publish(ArtifactKind::Html, Err(RenderError::failed("first")));
        lead.publish(
            ArtifactKind::Html,
            Ok((Arc::new(Content::new("x")), CacheStatus::Miss)),
        );
        assert_eq!(
            wait_for(rx, ArtifactKind::Html).await.unwrap_err(),
            RenderError::failed("first")
        );
    }
}
