//! Where a deferred page's artifact comes from: memory, else disk, else one shared render.

pub mod disk;
pub mod flight;
pub mod memory;

use std::sync::Arc;
use std::time::Duration;

use hyper::header::HeaderValue;
use tokio::time::timeout;
use tokio_util::task::TaskTracker;

use crate::artifact::{Artifact, ArtifactKind};
use crate::pages::DeferredPage;
use crate::render::{RenderError, Renderer};
use crate::respond::headers::{HIT, MISS};
use crate::stats::Stats;
use disk::DiskCache;
use flight::{FlightLead, Flights, Joined, Outcome};
use memory::MemoryCache;

/// Whether a response was served from stored artifacts or had to wait for a render.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheOutcome {
    Hit,
    Miss,
}

impl CacheOutcome {
    pub fn header_value(self) -> HeaderValue {
        match self {
            CacheOutcome::Hit => HIT,
            CacheOutcome::Miss => MISS,
        }
    }
}

pub struct PageCache {
    pub memory: MemoryCache,
    pub disk: Option<DiskCache>,
    flights: Flights,
    renderer: Arc<dyn Renderer>,
    render_timeout: Duration,
    stats: Arc<Stats>,
    /// Fills run detached from the request that started them (a client that goes away does not
    /// cancel a render others wait for); `close()` waits for them through this.
    tasks: TaskTracker,
}

impl PageCache {
    pub fn new(
        memory: MemoryCache,
        disk: Option<DiskCache>,
        renderer: Arc<dyn Renderer>,
        render_timeout: Duration,
        stats: Arc<Stats>,
    ) -> Self {
        PageCache {
            memory,
            disk,
            flights: Flights::default(),
            renderer,
            render_timeout,
            stats,
            tasks: TaskTracker::new(),
        }
    }

    /// The page's artifact of `kind`, rendering the page if no tier has it.
    pub async fn get(self: &Arc<Self>, page: &Arc<DeferredPage>, kind: ArtifactKind) -> Outcome {
        if let Some(artifact) = self.memory.get(&page.path, kind) {
            return Ok((artifact, CacheOutcome::Hit));
        }
        let rx = match self.flights.join(&page.path) {
            Joined::Follower(rx) => rx,
            Joined::Leader(lead, rx) => {
                let this = Arc::clone(self);
                self.tasks.spawn(async move { this.fill(lead).await });
                rx
            }
        };
        flight::wait_for(rx, kind).await
    }

    /// Fills still running (renders and their disk writes).
    pub fn fills_in_flight(&self) -> usize {
        self.flights.len()
    }

    /// Waits for every fill started so far to finish, and refuses none started later.
    pub async fn drain(&self) {
        self.tasks.close();
        self.tasks.wait().await;
        self.tasks.reopen();
    }

    /// The leader's work: publish what memory or disk already has, render what is missing,
    /// store the result in memory (then end the flight), then on disk.
    async fn fill(&self, lead: FlightLead) {
        let page = Arc::clone(lead.page());
        for kind in ArtifactKind::ALL {
            // Memory again: a flight that ended between our miss and our join stored it there.
            let stored = match self.memory.get(&page, kind) {
                Some(artifact) => Some(artifact),
                None => self.read_disk(&page, kind).await,
            };
            if let Some(artifact) = stored {
                lead.publish(kind, Ok((artifact, CacheOutcome::Hit)));
            }
        }
        if ArtifactKind::ALL.iter().all(|&k| lead.is_published(k)) {
            return;
        }

        let (rendered, failed) = self.render(&lead).await;
        if failed {
            // A failure is never cached: the next request must start a new render.
            drop(lead);
        }
        // Otherwise the flight lasts until the disk write is done: an artifact the memory tier did
        // not keep (larger than its bound, or already evicted) is then still found here.
        if let Some(disk) = &self.disk {
            for (kind, artifact) in rendered {
                if let Err(e) = disk.write(&page, kind, artifact.body.clone()).await {
                    Stats::incr(&self.stats.disk_write_failures);
                    eprintln!(
                        "gatsby-dsg: could not store {} of {page} on disk (served from memory): {e}",
                        kind.name()
                    );
                }
            }
        }
    }

    async fn read_disk(&self, page: &Arc<str>, kind: ArtifactKind) -> Option<Arc<Artifact>> {
        let body = self.disk.as_ref()?.read(page, kind).await?;
        let artifact = Arc::new(Artifact::new(body));
        self.memory.insert(page, kind, Arc::clone(&artifact));
        Some(artifact)
    }

    /// Renders the page and publishes each artifact not published yet; returns those to store,
    /// and whether any artifact failed.
    async fn render(&self, lead: &FlightLead) -> (Vec<(ArtifactKind, Arc<Artifact>)>, bool) {
        let page = lead.page();
        Stats::incr(&self.stats.renders);
        let mut fresh = Vec::new();
        let rendered = match timeout(self.render_timeout, self.renderer.render(page)).await {
            Ok(Ok(rendered)) => rendered,
            Ok(Err(error)) => {
                return self.fail(
                    lead,
                    &[ArtifactKind::PageData, ArtifactKind::Html],
                    error,
                    fresh,
                )
            }
            Err(_) => {
                let error = RenderError::TimedOut(self.render_timeout);
                return self.fail(
                    lead,
                    &[ArtifactKind::PageData, ArtifactKind::Html],
                    error,
                    fresh,
                );
            }
        };

        if !lead.is_published(ArtifactKind::PageData) {
            let artifact = Arc::new(Artifact::new(rendered.page_data));
            self.memory
                .insert(page, ArtifactKind::PageData, Arc::clone(&artifact));
            lead.publish(
                ArtifactKind::PageData,
                Ok((Arc::clone(&artifact), CacheOutcome::Miss)),
            );
            fresh.push((ArtifactKind::PageData, artifact));
        }
        if lead.is_published(ArtifactKind::Html) {
            return (fresh, false);
        }
        match timeout(self.render_timeout, rendered.html).await {
            Ok(Ok(html)) => {
                let artifact = Arc::new(Artifact::new(html));
                self.memory
                    .insert(page, ArtifactKind::Html, Arc::clone(&artifact));
                lead.publish(
                    ArtifactKind::Html,
                    Ok((Arc::clone(&artifact), CacheOutcome::Miss)),
                );
                fresh.push((ArtifactKind::Html, artifact));
                (fresh, false)
            }
            Ok(Err(error)) => self.fail(lead, &[ArtifactKind::Html], error, fresh),
            Err(_) => self.fail(
                lead,
                &[ArtifactKind::Html],
                RenderError::TimedOut(self.render_timeout),
                fresh,
            ),
        }
    }

    /// Logs a failed render once (not once per waiting request) and answers its waiters with it.
    /// Nothing of the failed artifact is stored: the next request renders again.
    fn fail(
        &self,
        lead: &FlightLead,
        kinds: &[ArtifactKind],
        error: RenderError,
        fresh: Vec<(ArtifactKind, Arc<Artifact>)>,
    ) -> (Vec<(ArtifactKind, Arc<Artifact>)>, bool) {
        Stats::incr(&self.stats.render_failures);
        let what: Vec<&str> = kinds.iter().map(|k| k.name()).collect();
        eprintln!(
            "gatsby-dsg: {} of {} not generated: {error}",
            what.join(" and "),
            lead.page()
        );
        for &kind in kinds {
            lead.publish(kind, Err(error.clone()));
        }
        (fresh, true)
    }
}
