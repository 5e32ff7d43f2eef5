//! Where a deferred page's artifact comes from: memory, else disk, else one shared render.

pub mod disk;
pub mod flight;
pub mod memory;

use std::sync::Arc;
use std::time::Duration;

use hyper::header::HeaderValue;
use tokio::time::timeout;
use tokio_util::task::TaskTracker;

use crate::artifact::ArtifactKind;
use crate::content::Content;
use crate::pages::DeferredPage;
use crate::render::{RenderError, Renderer};
use crate::respond::headers::{HIT, MISS};
use crate::stats::Stats;
use disk::DiskCache;
use flight::{FlightLead, Flights, Joined, Outcome};
use memory::{MemoryCache, PageKey};

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

/// An artifact the fill obtained, and whether it still has to be compressed or written to disk.
struct Obtained {
    kind: ArtifactKind,
    content: Arc<Content>,
    on_disk: bool,
}

pub struct PageCache {
    pub memory: MemoryCache<PageKey>,
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
        memory: MemoryCache<PageKey>,
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
        if let Some(content) = self.memory.get(&(Arc::clone(&page.path), kind)) {
            return Ok((content, CacheOutcome::Hit));
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

    /// Fills still running (renders, compression and disk writes).
    pub fn fills_in_flight(&self) -> usize {
        self.flights.len()
    }

    /// Waits for every fill started so far to finish.
    pub async fn drain(&self) {
        self.tasks.close();
        self.tasks.wait().await;
        self.tasks.reopen();
    }

    /// The leader's work: publish what memory or disk already has, render what is missing; then,
    /// off the response path, compress what was obtained without its variants and store it.
    async fn fill(&self, lead: FlightLead) {
        let page = Arc::clone(lead.page());
        let mut obtained = Vec::new();
        for kind in ArtifactKind::ALL {
            // Memory again: a flight that ended between our miss and our join stored it there.
            if let Some(content) = self.memory.get(&(Arc::clone(&page), kind)) {
                lead.publish(kind, Ok((content, CacheOutcome::Hit)));
            } else if let Some(content) = self.read_disk(&page, kind).await {
                lead.publish(kind, Ok((Arc::clone(&content), CacheOutcome::Hit)));
                obtained.push(Obtained {
                    kind,
                    content,
                    on_disk: true,
                });
            }
        }
        if !ArtifactKind::ALL.iter().all(|&k| lead.is_published(k)) {
            let failed = self.render(&lead, &mut obtained).await;
            if failed {
                // A failure is never cached: the next request must start a new render.
                drop(lead);
                self.complete(&page, obtained).await;
                return;
            }
        }
        // The flight lasts until the artifacts are complete: one the memory tier did not keep
        // (larger than its bound, or already evicted) is still found here meanwhile.
        self.complete(&page, obtained).await;
        drop(lead);
    }

    async fn read_disk(&self, page: &Arc<str>, kind: ArtifactKind) -> Option<Arc<Content>> {
        let content = Arc::new(self.disk.as_ref()?.read(page, kind).await?);
        self.memory
            .insert((Arc::clone(page), kind), Arc::clone(&content));
        Some(content)
    }

    /// Adds the compressed variants an artifact lacks (memory then serves them) and writes to disk
    /// what is not there yet.
    async fn complete(&self, page: &Arc<str>, obtained: Vec<Obtained>) {
        for Obtained {
            kind,
            content,
            on_disk,
        } in obtained
        {
            let mut content = content;
            if !content.has_encodings() {
                let plain = Arc::clone(&content);
                if let Ok(compressed) =
                    tokio::task::spawn_blocking(move || plain.compressed()).await
                {
                    if compressed.has_encodings() {
                        content = Arc::new(compressed);
                        self.memory
                            .insert((Arc::clone(page), kind), Arc::clone(&content));
                    }
                }
            } else if on_disk {
                continue;
            }
            let Some(disk) = &self.disk else { continue };
            if let Err(e) = disk.write(page, kind, &content).await {
                Stats::incr(&self.stats.disk_write_failures);
                eprintln!(
                    "gatsby-dsg: could not store {} of {page} on disk (served from memory): {e}",
                    kind.name()
                );
            }
        }
    }

    /// Renders the page and publishes each artifact not published yet, adding it to `obtained`.
    /// Returns whether any artifact failed.
    async fn render(&self, lead: &FlightLead, obtained: &mut Vec<Obtained>) -> bool {
        let page = lead.page();
        Stats::incr(&self.stats.renders);
        let both = [ArtifactKind::PageData, ArtifactKind::Html];
        let rendered = match timeout(self.render_timeout, self.renderer.render(page)).await {
            Ok(Ok(rendered)) => rendered,
            Ok(Err(error)) => return self.fail(lead, &both, error),
            Err(_) => return self.fail(lead, &both, RenderError::TimedOut(self.render_timeout)),
        };

        if !lead.is_published(ArtifactKind::PageData) {
            self.store_rendered(lead, ArtifactKind::PageData, rendered.page_data, obtained);
        }
        if lead.is_published(ArtifactKind::Html) {
            return false;
        }
        match timeout(self.render_timeout, rendered.html).await {
            Ok(Ok(html)) => {
                self.store_rendered(lead, ArtifactKind::Html, html, obtained);
                false
            }
            Ok(Err(error)) => self.fail(lead, &[ArtifactKind::Html], error),
            Err(_) => self.fail(
                lead,
                &[ArtifactKind::Html],
                RenderError::TimedOut(self.render_timeout),
            ),
        }
    }

    /// Memory first, then the waiters: a request arriving after the flight ends finds it there.
    fn store_rendered(
        &self,
        lead: &FlightLead,
        kind: ArtifactKind,
        body: bytes::Bytes,
        obtained: &mut Vec<Obtained>,
    ) {
        let content = Arc::new(Content::new(body));
        self.memory
            .insert((Arc::clone(lead.page()), kind), Arc::clone(&content));
        lead.publish(kind, Ok((Arc::clone(&content), CacheOutcome::Miss)));
        obtained.push(Obtained {
            kind,
            content,
            on_disk: false,
        });
    }

    /// Logs a failed render once (not once per waiting request) and answers its waiters with it.
    /// Nothing of the failed artifact is stored: the next request renders again.
    fn fail(&self, lead: &FlightLead, kinds: &[ArtifactKind], error: RenderError) -> bool {
        Stats::incr(&self.stats.render_failures);
        let what: Vec<&str> = kinds
            .iter()
            .filter(|k| !lead.is_published(**k))
            .map(|k| k.name())
            .collect();
        eprintln!(
            "gatsby-dsg: {} of {} not generated: {error}",
            what.join(" and "),
            lead.page()
        );
        for &kind in kinds {
            lead.publish(kind, Err(error.clone()));
        }
        true
    }
}
