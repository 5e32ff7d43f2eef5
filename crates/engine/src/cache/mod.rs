//! Where a deferred page's artifact comes from: memory, else disk, else one shared render.

pub mod disk;
pub mod flight;
pub mod gate;
pub mod memory;
pub mod shared;
mod status;
pub mod store_pool;

use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering::{Relaxed, SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tokio::time::timeout;
use tokio_util::task::TaskTracker;

use crate::artifact::ArtifactKind;
use crate::content::Content;
use crate::metrics::Metrics;
use crate::pages::DeferredPage;
use crate::render::{RenderError, Renderer};
use disk::{DiskCache, DiskDelta};
use flight::{FlightLead, Flights, Joined, Outcome};
use gate::{Priority, RenderGate};
use memory::{MemoryCache, PageKey};
use shared::{PurgeMessage, RenderLock, SharedCache};
pub use status::CacheStatus;
use store_pool::{StorePermit, StorePool};

/// How a fill treats what is stored already.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FillMode {
    /// Serve what memory or disk has; render only what is missing.
    Fill,
    /// Render again and replace what is stored (expired artifacts); on failure keep the old.
    Refresh,
    /// As `Fill`, and compress what memory has uncompressed (stored while renders waited):
    /// now, whatever the load.
    Compress,
}

/// When `complete` compresses what it stores.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Compression {
    /// Unless the render threads need the CPU now (every slot taken, renders queued) or the store
    /// threads are behind: then the page is compressed later.
    UnlessBusy,
    Always,
}

/// An artifact the fill obtained, and where from: `complete` stores it where it is not yet.
struct Obtained {
    kind: ArtifactKind,
    content: Arc<Content>,
    origin: Origin,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Origin {
    /// Rendered here: stored nowhere yet but memory.
    Rendered,
    /// Read from this build's directory.
    Disk,
    /// Taken from Redis (another instance's render).
    Shared,
    /// Found in memory uncompressed: stored already wherever it goes.
    Memory,
}

impl Origin {
    /// Still to be written to the disk tier (whole, not only its variants).
    fn unstored(self) -> bool {
        matches!(self, Origin::Rendered | Origin::Shared)
    }
}

/// The artifacts a render is to store and publish: those nobody published yet, or both to
/// refresh an expired page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Wanted {
    Both,
    PageData,
    Html,
}

impl Wanted {
    fn unpublished(lead: &FlightLead) -> Self {
        match (
            lead.is_published(ArtifactKind::PageData),
            lead.is_published(ArtifactKind::Html),
        ) {
            (false, false) => Wanted::Both,
            (false, true) => Wanted::PageData,
            // (true, true) does not render; `fill` checks.
            (true, _) => Wanted::Html,
        }
    }

    fn includes(self, kind: ArtifactKind) -> bool {
        match self {
            Wanted::Both => true,
            Wanted::PageData => kind == ArtifactKind::PageData,
            Wanted::Html => kind == ArtifactKind::Html,
        }
    }

    /// The artifact the render is to deliver first, `asked` being the one the leading request
    /// waits for: the page-data when it is all the render is to deliver, or when it was asked for
    /// and is wanted; the HTML otherwise.
    fn first(self, asked: ArtifactKind) -> ArtifactKind {
        match (self, asked) {
            (Wanted::Both, ArtifactKind::PageData) | (Wanted::PageData, _) => {
                ArtifactKind::PageData
            }
            _ => ArtifactKind::Html,
        }
    }
}

/// How a render went: its artifacts are stored and published, or its waiters got the error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rendered {
    Stored,
    /// Logged once and published to every waiter; nothing of it is stored.
    Failed,
}

/// What the shared tier said about a page no local tier has.
enum SharedOutcome {
    /// Every missing artifact came from Redis (rendered by another instance).
    Filled,
    /// Render here: with the cluster-wide lock, or without one when Redis cannot be used.
    Render(Option<RenderLock>),
}

/// How the page cache behaves.
#[derive(Clone, Debug)]
pub struct CachePolicy {
    pub render_timeout: Duration,
    /// Artifacts older than this are served `STALE` while one background render refreshes them.
    pub revalidate_after: Option<Duration>,
    pub render_slots: usize,
    pub max_queued_renders: usize,
}

/// Pages rendered but not yet compressed and stored, at most: past it, a finished render keeps
/// its slot until one is stored (see `cache/store_pool.rs`).
pub const MAX_UNSTORED_PAGES: usize = 512;

pub struct PageCache {
    pub memory: MemoryCache<PageKey>,
    pub disk: Option<Arc<DiskCache>>,
    shared: Option<Arc<SharedCache>>,
    flights: Flights,
    renderer: Arc<dyn Renderer>,
    policy: CachePolicy,
    gate: RenderGate,
    metrics: Arc<Metrics>,
    /// The first disk failure is logged; more are only counted until a write succeeds again.
    disk_failing: Mutex<bool>,
    /// Compresses and stores what renders produced, below the render threads' priority.
    store: StorePool,
    /// Fills run detached from the request that started them (a client that goes away does not
    /// cancel a render others wait for); `close()` waits for them through this.
    tasks: TaskTracker,
}

impl PageCache {
    pub fn new(
        memory: MemoryCache<PageKey>,
        disk: Option<Arc<DiskCache>>,
        renderer: Arc<dyn Renderer>,
        policy: CachePolicy,
        metrics: Arc<Metrics>,
    ) -> Self {
        PageCache {
            memory,
            disk,
            shared: None,
            flights: Flights::default(),
            renderer,
            gate: RenderGate::new(policy.render_slots, policy.max_queued_renders),
            policy,
            metrics,
            disk_failing: Mutex::new(false),
            store: StorePool::per_core(MAX_UNSTORED_PAGES),
            tasks: TaskTracker::new(),
        }
    }

    /// Shares artifacts with other instances through Redis.
    pub fn with_shared(mut self, shared: Arc<SharedCache>) -> Self {
        self.shared = Some(shared);
        self
    }

    /// How many renderers would take a render now (see [`Renderer::renderers_ready`]).
    pub fn renderers_ready(&self) -> usize {
        self.renderer.renderers_ready()
    }

    /// With a shared tier: whether Redis answers a `PING` now (bounded by its call timeout).
    pub async fn shared_tier_reachable(&self) -> Option<bool> {
        match &self.shared {
            Some(shared) => Some(shared.ping().await.is_ok()),
            None => None,
        }
    }

    /// The page's artifact of `kind`, rendering the page if no tier has it.
    pub async fn get(self: &Arc<Self>, page: &Arc<DeferredPage>, kind: ArtifactKind) -> Outcome {
        if let Some(content) = self.memory.get(&(Arc::clone(&page.path), kind)) {
            if self.expired(&content) {
                self.refresh(page);
                return Ok((content, CacheStatus::Stale));
            }
            if content.wants_compression() {
                self.compress_later(page);
            }
            return Ok((content, CacheStatus::Hit));
        }
        let rx = match self.flights.join(&page.path) {
            Joined::Follower(rx) => rx,
            Joined::Leader(lead, rx) => {
                let this = Arc::clone(self);
                self.tasks.spawn(async move {
                    this.fill(lead, FillMode::Fill, Priority::Live, kind).await
                });
                rx
            }
        };
        flight::wait_for(rx, kind).await
    }

    /// Renders the page unless both artifacts are stored already (warm-up). Warm renders wait
    /// while live renders are queued. Returns whether the page now has both artifacts.
    pub async fn warm(self: &Arc<Self>, page: &Arc<DeferredPage>) -> Result<bool, RenderError> {
        let rx = match self.flights.join(&page.path) {
            Joined::Follower(rx) => rx,
            Joined::Leader(lead, rx) => {
                let this = Arc::clone(self);
                self.tasks.spawn(async move {
                    this.fill(lead, FillMode::Fill, Priority::Warm, ArtifactKind::Html)
                        .await
                });
                rx
            }
        };
        let page_data = flight::wait_for(rx.clone(), ArtifactKind::PageData).await?;
        let html = flight::wait_for(rx, ArtifactKind::Html).await?;
        Ok(page_data.1 == CacheStatus::Miss || html.1 == CacheStatus::Miss)
    }

    /// Purges here, in Redis, and (through Redis) on every other instance.
    pub async fn purge_everywhere(&self, pages: Vec<Arc<str>>) -> usize {
        let removed = self.purge(pages.iter().cloned()).await;
        if let Some(shared) = &self.shared {
            let message = PurgeMessage::Pages(pages.iter().map(|p| p.to_string()).collect());
            if let Err(e) = shared.purge(message).await {
                eprintln!(
                    "gatsby-dsg: purged here only; Redis could not tell the other instances: {e}"
                );
            }
        }
        removed
    }

    /// Purges everything here, in Redis and on every other instance.
    pub async fn purge_all_everywhere(&self) -> std::io::Result<usize> {
        let removed = self.purge_all().await?;
        if let Some(shared) = &self.shared {
            if let Err(e) = shared.purge(PurgeMessage::All).await {
                eprintln!(
                    "gatsby-dsg: purged here only; Redis could not tell the other instances: {e}"
                );
            }
        }
        Ok(removed)
    }

    /// Removes the pages' artifacts from memory and disk; the next request renders them again.
    /// Returns how many artifacts were removed.
    pub async fn purge(&self, pages: impl IntoIterator<Item = Arc<str>>) -> usize {
        let mut removed = 0;
        for page in pages {
            // Before removing: a fill of it still storing undoes its store (FlightLead::purged).
            self.flights.mark_purged(&page);
            let in_memory = ArtifactKind::ALL.map(|k| self.memory.remove(&(Arc::clone(&page), k)));
            let on_disk = match self.disk.clone() {
                Some(disk) => {
                    let path = Arc::clone(&page);
                    tokio::task::spawn_blocking(move || {
                        ArtifactKind::ALL.map(|kind| disk.remove(&path, kind))
                    })
                    .await
                    .unwrap_or_default()
                }
                None => Default::default(),
            };
            for (in_memory, delta) in in_memory.into_iter().zip(on_disk) {
                self.record_disk(delta);
                removed += usize::from(in_memory || delta.entries < 0);
            }
        }
        removed
    }

    /// Removes every artifact of this build.
    pub async fn purge_all(&self) -> std::io::Result<usize> {
        self.flights.mark_all_purged();
        let removed = self.memory.len();
        self.memory.clear();
        let on_disk = self.metrics.disk_entries.swap(0, Relaxed).max(0) as usize;
        self.metrics.disk_bytes.store(0, Relaxed);
        if let Some(disk) = &self.disk {
            disk.clear().await?;
        }
        Ok(removed.max(on_disk))
    }

    /// Renders in flight: pages being generated, from the render through compression and storing
    /// (one flight each). The one meaning of `renders_in_flight` in `stats()`, `/__dsg/health`
    /// and the metrics.
    pub fn renders_in_flight(&self) -> usize {
        self.flights.len()
    }

    pub fn renders_queued(&self) -> usize {
        self.gate.queued()
    }

    /// Waits for every fill started so far to finish.
    pub async fn drain(&self) {
        self.tasks.close();
        self.tasks.wait().await;
        self.tasks.reopen();
    }

    fn expired(&self, content: &Content) -> bool {
        self.policy
            .revalidate_after
            .is_some_and(|ttl| content.created.elapsed().unwrap_or_default() > ttl)
    }

    /// Compresses a page stored uncompressed (renders waited, or the store threads were behind)
    /// once the store threads are idle: one background fill, unless a fill of it is under way.
    /// Until then it is served as it is.
    fn compress_later(self: &Arc<Self>, page: &Arc<DeferredPage>) {
        if !self.store.idle() {
            return;
        }
        if let Joined::Leader(lead, _) = self.flights.join(&page.path) {
            let this = Arc::clone(self);
            self.tasks.spawn(async move {
                this.fill(lead, FillMode::Compress, Priority::Live, ArtifactKind::Html)
                    .await
            });
        }
    }

    /// Starts one background render of an expired page, unless a fill of it is under way.
    fn refresh(self: &Arc<Self>, page: &Arc<DeferredPage>) {
        if let Joined::Leader(lead, _) = self.flights.join(&page.path) {
            let this = Arc::clone(self);
            self.tasks.spawn(async move {
                this.fill(lead, FillMode::Refresh, Priority::Live, ArtifactKind::Html)
                    .await
            });
        }
    }

    /// The leader's work: publish what memory or disk already has, render what is missing (or
    /// everything, to refresh); then, off the response path, compress what was obtained without
    /// its variants (to compress later: what memory has uncompressed too) and store it. `asked`:
    /// the artifact the request that started it waits for (the HTML for warm-up and refresh,
    /// which want both).
    async fn fill(
        &self,
        lead: FlightLead,
        mode: FillMode,
        priority: Priority,
        asked: ArtifactKind,
    ) {
        let page = Arc::clone(lead.page());
        let purged = lead.purged();
        // A page compressed later, or a warm-up (its pages are meant to be ready): whatever the
        // load.
        let compression = match (mode, priority) {
            (FillMode::Compress, _) | (_, Priority::Warm) => Compression::Always,
            _ => Compression::UnlessBusy,
        };
        let mut obtained = Vec::new();
        let mut expired = mode == FillMode::Refresh;
        if mode != FillMode::Refresh {
            let mut missing = Vec::new();
            for kind in ArtifactKind::ALL {
                // Memory again: a flight that ended between our miss and our join stored it.
                match self.memory.get(&(Arc::clone(&page), kind)) {
                    Some(content) => {
                        if mode == FillMode::Compress && content.wants_compression() {
                            obtained.push(Obtained {
                                kind,
                                content: Arc::clone(&content),
                                origin: Origin::Memory,
                            });
                        }
                        lead.publish(kind, Ok((content, CacheStatus::Hit)))
                    }
                    None => missing.push(kind),
                }
            }
            for (kind, content) in self.read_disk(&page, missing).await {
                let stale = self.expired(&content);
                expired |= stale;
                let outcome = if stale {
                    CacheStatus::Stale
                } else {
                    CacheStatus::Hit
                };
                lead.publish(kind, Ok((Arc::clone(&content), outcome)));
                obtained.push(Obtained {
                    kind,
                    content,
                    origin: Origin::Disk,
                });
            }
        }
        let mut lock = None;
        let complete = ArtifactKind::ALL.iter().all(|&k| lead.is_published(k));
        if !complete || expired {
            if let Some(shared) = &self.shared {
                match self
                    .fill_from_shared(shared, &lead, expired, &mut obtained)
                    .await
                {
                    SharedOutcome::Filled => {
                        self.complete(&page, &purged, obtained, compression, None, None)
                            .await;
                        return;
                    }
                    SharedOutcome::Render(taken) => lock = taken,
                }
            }
        }
        let complete = ArtifactKind::ALL.iter().all(|&k| lead.is_published(k));
        if !complete || expired {
            // Everything is rendered again on refresh; otherwise what nobody published yet.
            let wanted = if expired {
                obtained.clear();
                Wanted::Both
            } else {
                Wanted::unpublished(&lead)
            };
            let first = wanted.first(asked);
            let (rendered, permit) = self
                .render(&lead, wanted, first, priority, &mut obtained)
                .await;
            if rendered == Rendered::Failed {
                // A failure is never cached: the next request must start a new render.
                drop(lead);
                self.complete(&page, &purged, obtained, compression, lock, permit)
                    .await;
                return;
            }
            // The flight lasts until the artifacts are complete: one the memory tier did not
            // keep (larger than its bound, or already evicted) is still found here meanwhile.
            self.complete(&page, &purged, obtained, compression, lock, permit)
                .await;
            drop(lead);
            return;
        }
        self.complete(&page, &purged, obtained, compression, lock, None)
            .await;
        drop(lead);
    }

    /// Takes from Redis what no local tier had (everything, to refresh), waiting while another
    /// instance renders it; or says to render here. Only artifacts that are not expired are taken:
    /// an expired page is refreshed by one instance, whose render the others take, so a page is
    /// rendered once in the whole cluster both the first time and on every revalidation. Redis is
    /// read again once the lock is taken (its previous owner may have stored the page just
    /// before releasing it). Bounded by the render timeout, and by Redis's own timeouts.
    async fn fill_from_shared(
        &self,
        shared: &Arc<SharedCache>,
        lead: &FlightLead,
        refresh: bool,
        obtained: &mut Vec<Obtained>,
    ) -> SharedOutcome {
        let page = Arc::clone(lead.page());
        let deadline = Instant::now() + self.policy.render_timeout;
        let wanted: Vec<ArtifactKind> = ArtifactKind::ALL
            .into_iter()
            .filter(|&k| refresh || !lead.is_published(k))
            .collect();
        let mut waited = false;
        let mut lock = None;
        loop {
            let mut found = Vec::new();
            for &kind in &wanted {
                match shared.get(&page, kind).await {
                    Ok(Some(content)) if !self.expired(&content) => {
                        found.push((kind, Arc::new(content)))
                    }
                    Ok(_) => break,
                    Err(_) => return SharedOutcome::Render(lock),
                }
            }
            if found.len() == wanted.len() {
                // Another instance's render (or an earlier one): MISS for those who waited on it.
                let outcome = if waited {
                    CacheStatus::Miss
                } else {
                    CacheStatus::Hit
                };
                // What it replaces (expired copies read from disk) is not to be stored again.
                obtained.retain(|o| !wanted.contains(&o.kind));
                for (kind, content) in found {
                    self.memory
                        .insert((Arc::clone(&page), kind), Arc::clone(&content));
                    lead.publish(kind, Ok((Arc::clone(&content), outcome)));
                    obtained.push(Obtained {
                        kind,
                        content,
                        origin: Origin::Shared,
                    });
                }
                return SharedOutcome::Filled;
            }
            if lock.is_some() {
                return SharedOutcome::Render(lock);
            }
            match shared.try_lock(&page).await {
                Ok(Some(taken)) => lock = Some(taken),
                Ok(None) if Instant::now() < deadline => {
                    waited = true;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                // Redis unusable, or the other instance takes too long: render here.
                _ => return SharedOutcome::Render(None),
            }
        }
    }

    /// What the disk tier holds of `kinds`, read in one trip to the blocking pool (each thread
    /// hand-off costs a wake-up: on the first request of a page, two of them were ~0.2 ms here).
    /// What is surely not stored ([`DiskCache::may_hold`]: one `stat` here) makes no trip: a
    /// page's first request goes from the memory tier to its render without leaving this thread.
    async fn read_disk(
        &self,
        page: &Arc<str>,
        kinds: Vec<ArtifactKind>,
    ) -> Vec<(ArtifactKind, Arc<Content>)> {
        let Some(disk) = self.disk.clone() else {
            return Vec::new();
        };
        let kinds: Vec<ArtifactKind> = kinds
            .into_iter()
            .filter(|&kind| disk.may_hold(page, kind))
            .collect();
        if kinds.is_empty() {
            return Vec::new();
        }
        let path = Arc::clone(page);
        let found = tokio::task::spawn_blocking(move || {
            kinds
                .into_iter()
                .filter_map(|kind| Some((kind, Arc::new(disk.read(&path, kind)?))))
                .collect::<Vec<_>>()
        })
        .await
        .unwrap_or_default();
        for (kind, content) in &found {
            self.memory
                .insert((Arc::clone(page), *kind), Arc::clone(content));
        }
        found
    }

    /// Adds the compressed variants an artifact lacks (memory then serves them) and stores it on
    /// disk, then in Redis, where it is not yet; releases the render lock after that. Compressing
    /// and the disk writes run as one job on the store threads (`permit`: the room a render took
    /// before it left its slot; taken here otherwise). While the render threads have all they
    /// can do (every render slot taken, or renders queued: a cold burst) or the store threads are
    /// behind ([`store_pool::Backlog::behind`]), an artifact is stored without compressing it,
    /// and compressed once the store threads are idle and it is asked for again
    /// ([`FillMode::Compress`], whatever the load): a visitor waiting for a render goes before
    /// bytes saved for later ones, and a page asked for once is never compressed. Disk first:
    /// this instance's own copy never waits on Redis (see [`RenderLock::put`]). A page purged
    /// meanwhile (`purged`) keeps nothing of this fill: what was written is removed again, and
    /// nothing is sent to Redis.
    async fn complete(
        &self,
        page: &Arc<str>,
        purged: &Arc<AtomicBool>,
        obtained: Vec<Obtained>,
        compression: Compression,
        lock: Option<RenderLock>,
        permit: Option<StorePermit>,
    ) {
        let disk = self.disk.clone();
        let work = obtained
            .iter()
            .any(|o| o.content.wants_compression() || (disk.is_some() && o.origin.unstored()));
        let mut obtained = obtained;
        // Taken as the render ends: renders waiting or every slot taken.
        let renders_busy = self.gate.busy();
        if work {
            // The requests this fill just answered go first: woken on this worker, they write
            // their responses before the store job is handed over (measured, one first request
            // at a time: 57–69 µs from the HTML to the response without this, 23–24 with it).
            tokio::task::yield_now().await;
            let room = match permit {
                Some(room) => room,
                None => self.store.permit().await,
            };
            let (page_path, was_purged) = (Arc::clone(page), Arc::clone(purged));
            let stored = self
                .store
                .run(&room, move |backlog| {
                    let compress = match compression {
                        Compression::Always => true,
                        Compression::UnlessBusy => !renders_busy && !backlog.behind(),
                    };
                    let (mut compressed, mut writes) = (Vec::new(), Vec::new());
                    for o in &mut obtained {
                        let now = compress && o.content.wants_compression();
                        if now {
                            o.content = Arc::new(o.content.compressed());
                        }
                        compressed.push(now);
                        let Some(disk) = disk.as_ref() else { continue };
                        let write = if o.origin.unstored() {
                            disk.write(&page_path, o.kind, &o.content)
                        } else if now && o.content.has_encodings() {
                            disk.write_variants(&page_path, o.kind, &o.content)
                        } else {
                            continue;
                        };
                        writes.push(write);
                        if was_purged.load(SeqCst) {
                            writes.push(Ok(disk.remove(&page_path, o.kind)));
                        }
                    }
                    (obtained, compressed, writes)
                })
                .await;
            drop(room);
            let Some((done, compressed, writes)) = stored else {
                eprintln!(
                    "gatsby-dsg: {page} was not stored (its store job panicked); it is served \
                     from memory and rendered again once evicted"
                );
                drop(lock);
                return;
            };
            obtained = done;
            // Compressed now (or found not worth it): memory serves that from now on.
            for (o, _) in obtained.iter().zip(compressed).filter(|(_, now)| *now) {
                let key = (Arc::clone(page), o.kind);
                self.memory.insert(key.clone(), Arc::clone(&o.content));
                if purged.load(SeqCst) {
                    self.memory.remove(&key);
                }
            }
            for result in writes {
                self.record_disk_write(result);
            }
        }
        // Not what Redis gave, nor what memory had: stored there already, and a later copy from
        // another instance must not be replaced by this one.
        let kept = obtained.iter().filter(|o| {
            !matches!(o.origin, Origin::Shared | Origin::Memory) && !purged.load(SeqCst)
        });
        for o in kept {
            if let Some(redis) = &self.shared {
                // Under the page's lock, others wait for this store: it is tried again.
                let _ = match &lock {
                    Some(lock) => lock.put(o.kind, &o.content).await,
                    None => redis.put(page, o.kind, &o.content).await,
                };
            }
        }
        drop(lock);
    }

    fn record_disk_write(&self, result: std::io::Result<DiskDelta>) {
        match result {
            Ok(delta) => {
                self.record_disk(delta);
                *self.disk_failing.lock() = false;
            }
            Err(e) => {
                self.metrics.disk_write_failures.inc();
                let first = !std::mem::replace(&mut *self.disk_failing.lock(), true);
                if let Some(disk) = self.disk.as_ref().filter(|_| first) {
                    eprintln!(
                        "gatsby-dsg: cannot store pages on disk under {} ({e}); serving them \
                         from memory, further failures are counted in disk_write_failures",
                        disk.dir().display()
                    );
                }
            }
        }
    }

    fn record_disk(&self, delta: DiskDelta) {
        self.metrics.disk_entries.fetch_add(delta.entries, Relaxed);
        self.metrics.disk_bytes.fetch_add(delta.bytes, Relaxed);
    }

    /// Renders the page; stores and publishes the `wanted` artifacts, adding them to `obtained`.
    /// A render that produced something leaves its slot only once the store threads have room
    /// for it (the permit returned).
    async fn render(
        &self,
        lead: &FlightLead,
        wanted: Wanted,
        first: ArtifactKind,
        priority: Priority,
        obtained: &mut Vec<Obtained>,
    ) -> (Rendered, Option<StorePermit>) {
        let both = [ArtifactKind::PageData, ArtifactKind::Html];
        self.metrics.renders_queued.inc();
        let slot = self.gate.enter(priority).await;
        self.metrics.renders_queued.dec();
        let Ok(_slot) = slot else {
            self.metrics.render_rejections.inc();
            for kind in both {
                lead.publish(kind, Err(RenderError::Overloaded));
            }
            return (Rendered::Failed, None);
        };
        self.metrics.renders.inc();
        let started = Instant::now();
        let rendered = self.render_in_slot(lead, wanted, first, obtained).await;
        self.metrics.record_render(started.elapsed());
        let permit = match obtained.is_empty() {
            true => None,
            false => Some(self.store.permit().await),
        };
        (rendered, permit)
    }

    async fn render_in_slot(
        &self,
        lead: &FlightLead,
        wanted: Wanted,
        first: ArtifactKind,
        obtained: &mut Vec<Obtained>,
    ) -> Rendered {
        let both = [ArtifactKind::PageData, ArtifactKind::Html];
        let limit = self.policy.render_timeout;
        let rendered = match timeout(limit, self.renderer.render(lead.page(), first)).await {
            Ok(Ok(rendered)) => rendered,
            Ok(Err(error)) => return self.fail(lead, &both, error),
            Err(_) => return self.fail(lead, &both, RenderError::TimedOut(limit)),
        };
        if wanted.includes(ArtifactKind::PageData) {
            self.store_rendered(lead, ArtifactKind::PageData, rendered.page_data, obtained);
        }
        if !wanted.includes(ArtifactKind::Html) {
            return Rendered::Stored;
        }
        match timeout(limit, rendered.html).await {
            Ok(Ok(html)) => {
                self.store_rendered(lead, ArtifactKind::Html, html, obtained);
                Rendered::Stored
            }
            Ok(Err(error)) => self.fail(lead, &[ArtifactKind::Html], error),
            Err(_) => self.fail(lead, &[ArtifactKind::Html], RenderError::TimedOut(limit)),
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
        lead.publish(kind, Ok((Arc::clone(&content), CacheStatus::Miss)));
        obtained.push(Obtained {
            kind,
            content,
            origin: Origin::Rendered,
        });
    }

    /// Logs a failed render once (not once per waiting request) and answers its waiters with it.
    /// Nothing of the failed artifact is stored: the next request renders again (an expired
    /// artifact being refreshed stays in memory and keeps being served).
    fn fail(&self, lead: &FlightLead, kinds: &[ArtifactKind], error: RenderError) -> Rendered {
        self.metrics.render_failures.inc();
        let what: Vec<&str> = kinds.iter().map(|k| k.name()).collect();
        eprintln!(
            "gatsby-dsg: {} of {} not generated: {error}",
            what.join(" and "),
            lead.page()
        );
        for &kind in kinds {
            lead.publish(kind, Err(error.clone()));
        }
        Rendered::Failed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::RenderedPage;
    use futures_util::future::BoxFuture;
    use std::sync::atomic::AtomicUsize;

    /// Renders every page at once, counting the renders.
    #[derive(Default)]
    struct Counting(AtomicUsize);

    impl Renderer for Counting {
        fn render(
            &self,
            page: &str,
            _: ArtifactKind,
        ) -> BoxFuture<'static, Result<RenderedPage, RenderError>> {
            self.0.fetch_add(1, Relaxed);
            let body = format!("<p>{page}</p>").repeat(200);
            Box::pin(async move {
                Ok(RenderedPage {
                    page_data: bytes::Bytes::from_static(b"{}"),
                    html: Box::pin(async move { Ok(bytes::Bytes::from(body)) }),
                })
            })
        }
    }

    /// Renders `/held-N/` (N < 2) once `release[N]` is notified, every other page at once.
    #[derive(Default)]
    struct Holding {
        release: [Arc<tokio::sync::Notify>; 2],
    }

    impl Renderer for Holding {
        fn render(
            &self,
            page: &str,
            _: ArtifactKind,
        ) -> BoxFuture<'static, Result<RenderedPage, RenderError>> {
            let held = page
                .strip_prefix("/held-")
                .and_then(|n| n.trim_end_matches('/').parse::<usize>().ok())
                .map(|n| Arc::clone(&self.release[n]));
            let body = format!("<p>{page}</p>").repeat(200);
            Box::pin(async move {
                if let Some(release) = held {
                    release.notified().await;
                }
                Ok(RenderedPage {
                    page_data: bytes::Bytes::from_static(b"{}"),
                    html: Box::pin(async move { Ok(bytes::Bytes::from(body)) }),
                })
            })
        }
    }

    fn page(path: &str) -> Arc<DeferredPage> {
        Arc::new(DeferredPage {
            path: Arc::from(path),
            match_path: None,
        })
    }

    /// A page cache with one render slot and room for one page on one store thread.
    fn one_slot_one_store_room(
        renderer: &Arc<Counting>,
        disk: Option<Arc<DiskCache>>,
    ) -> Arc<PageCache> {
        one_slot(renderer, disk, StorePool::new(1, 1))
    }

    /// A page cache with one render slot and the given store threads.
    fn one_slot(
        renderer: &Arc<Counting>,
        disk: Option<Arc<DiskCache>>,
        store: StorePool,
    ) -> Arc<PageCache> {
        slots(1, Arc::clone(renderer) as Arc<dyn Renderer>, disk, store)
    }

    fn slots(
        render_slots: usize,
        renderer: Arc<dyn Renderer>,
        disk: Option<Arc<DiskCache>>,
        store: StorePool,
    ) -> Arc<PageCache> {
        let mut cache = PageCache::new(
            MemoryCache::new(1 << 20),
            disk,
            renderer,
            CachePolicy {
                render_timeout: Duration::from_secs(5),
                revalidate_after: None,
                render_slots,
                max_queued_renders: 8,
            },
            Arc::new(Metrics::default()),
        );
        cache.store = store;
        Arc::new(cache)
    }

    fn disk_in(root: &tempfile::TempDir) -> Arc<DiskCache> {
        let build = crate::build_id::BuildId::from_parts(["b"]);
        Arc::new(DiskCache::open(root.path(), &build).unwrap())
    }

    fn in_memory(cache: &PageCache, path: &str, kind: ArtifactKind) -> Option<Arc<Content>> {
        cache.memory.get(&(Arc::from(path), kind))
    }

    /// A request of `path`'s HTML on a task of its own; resolves to how it was answered.
    fn spawn_get(
        cache: &Arc<PageCache>,
        path: &'static str,
    ) -> tokio::task::JoinHandle<Result<CacheStatus, RenderError>> {
        let cache = Arc::clone(cache);
        tokio::spawn(async move {
            cache
                .get(&page(path), ArtifactKind::Html)
                .await
                .map(|o| o.1)
        })
    }

    /// Lets the other tasks run until `done`.
    async fn until(mut done: impl FnMut() -> bool) {
        while !done() {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test]
    async fn a_render_is_answered_at_once_but_keeps_its_slot_until_the_store_threads_have_room() {
        let renderer = Arc::new(Counting::default());
        let cache = one_slot_one_store_room(&renderer, None);
        // The store threads' only room, taken: what renders produced cannot be stored now.
        let room = cache.store.permit().await;

        let a = cache.get(&page("/a/"), ArtifactKind::Html).await;
        assert_eq!(
            a.unwrap().1,
            CacheStatus::Miss,
            "answered before it is stored"
        );
        let page_b = page("/b/");
        let b = cache.get(&page_b, ArtifactKind::Html);
        tokio::pin!(b);
        let early = tokio::time::timeout(Duration::from_millis(200), &mut b).await;
        assert!(early.is_err(), "/b/ rendered while /a/ held the only slot");
        assert_eq!(renderer.0.load(Relaxed), 1);

        drop(room);
        let b = tokio::time::timeout(Duration::from_secs(5), b).await;
        assert_eq!(
            b.expect("/b/ once /a/ was stored").unwrap().1,
            CacheStatus::Miss
        );
        assert_eq!(renderer.0.load(Relaxed), 2);
        cache.drain().await;
        // Stored once there was room: /b/, rendered with nothing waiting, is compressed in
        // memory; /a/'s store found /b/ rendering and left it uncompressed (compressed later).
        let stored = |path| in_memory(&cache, path, ArtifactKind::Html).unwrap();
        assert!(stored("/b/").has_encodings());
        assert!(stored("/a/").wants_compression());
    }

    #[tokio::test]
    async fn a_page_purged_while_its_store_waits_keeps_nothing_of_that_render() {
        let renderer = Arc::new(Counting::default());
        let root = tempfile::tempdir().unwrap();
        let disk = disk_in(&root);
        let cache = one_slot_one_store_room(&renderer, Some(Arc::clone(&disk)));
        let room = cache.store.permit().await;
        let a = page("/a/");
        assert_eq!(
            cache.get(&a, ArtifactKind::Html).await.unwrap().1,
            CacheStatus::Miss
        );

        // Purged while its render waits to be stored; then the store threads get room.
        cache.purge([Arc::from("/a/")]).await;
        drop(room);
        cache.drain().await;
        for kind in ArtifactKind::ALL {
            assert!(
                disk.read("/a/", kind).is_none(),
                "{kind:?} stored after the purge"
            );
            assert!(cache.memory.get(&(Arc::from("/a/"), kind)).is_none());
        }
        // The next request renders the page again.
        assert_eq!(
            cache.get(&a, ArtifactKind::Html).await.unwrap().1,
            CacheStatus::Miss
        );
        assert_eq!(renderer.0.load(Relaxed), 2);
    }

    #[tokio::test]
    async fn a_page_stored_while_the_store_threads_are_behind_is_compressed_when_asked_for_once_they_are_idle(
    ) {
        let renderer = Arc::new(Counting::default());
        let root = tempfile::tempdir().unwrap();
        let disk = disk_in(&root);
        // Behind from 0 jobs waiting: every store job finds the threads behind.
        let store = StorePool::new(1, 4).behind_from(0);
        let cache = one_slot(&renderer, Some(Arc::clone(&disk)), store);
        let a = page("/a/");
        assert_eq!(
            cache.get(&a, ArtifactKind::Html).await.unwrap().1,
            CacheStatus::Miss
        );
        cache.drain().await;
        let stored = disk
            .read("/a/", ArtifactKind::Html)
            .expect("stored uncompressed");
        assert!(!stored.has_encodings());
        assert!(!in_memory(&cache, "/a/", ArtifactKind::Html)
            .unwrap()
            .has_encodings());

        // Asked for again with the store threads idle: served as it is, compressed meanwhile.
        let hit = cache.get(&a, ArtifactKind::Html).await.unwrap();
        assert_eq!((hit.1, hit.0.has_encodings()), (CacheStatus::Hit, false));
        cache.drain().await;
        assert!(in_memory(&cache, "/a/", ArtifactKind::Html)
            .unwrap()
            .has_encodings());
        let stored = disk.read("/a/", ArtifactKind::Html).unwrap();
        assert!(stored.brotli.is_some() && stored.gzip.is_some());
        assert_eq!(
            renderer.0.load(Relaxed),
            1,
            "compressed, not rendered again"
        );
    }

    #[tokio::test]
    async fn a_page_read_from_disk_without_its_variants_gets_them_in_memory_and_on_disk() {
        let renderer = Arc::new(Counting::default());
        let root = tempfile::tempdir().unwrap();
        let disk = disk_in(&root);
        // Stored uncompressed by an earlier process (its store threads were behind).
        let body = "<p>stored before</p>".repeat(200);
        disk.write("/a/", ArtifactKind::Html, &Content::new(body.clone()))
            .unwrap();
        disk.write("/a/", ArtifactKind::PageData, &Content::new("{}"))
            .unwrap();
        let cache = one_slot(&renderer, Some(Arc::clone(&disk)), StorePool::new(1, 4));
        let hit = cache.get(&page("/a/"), ArtifactKind::Html).await.unwrap();
        assert_eq!(
            (hit.1, &hit.0.identity.bytes[..]),
            (CacheStatus::Hit, body.as_bytes())
        );
        cache.drain().await;
        assert!(in_memory(&cache, "/a/", ArtifactKind::Html)
            .unwrap()
            .has_encodings());
        let stored = disk.read("/a/", ArtifactKind::Html).unwrap();
        assert!(stored.brotli.is_some() && stored.gzip.is_some());
        assert_eq!(renderer.0.load(Relaxed), 0);
    }

    #[test]
    fn a_page_never_stored_is_rendered_without_a_trip_to_the_blocking_pool() {
        // A runtime whose one blocking thread is held: whatever is sent to the pool waits.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .max_blocking_threads(1)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let (release, held) = std::sync::mpsc::channel::<()>();
            let (taken, on_pool) = tokio::sync::oneshot::channel();
            let holder = tokio::task::spawn_blocking(move || {
                let _ = taken.send(());
                let _ = held.recv();
            });
            on_pool.await.unwrap();
            let renderer = Arc::new(Counting::default());
            let root = tempfile::tempdir().unwrap();
            let disk = disk_in(&root);
            disk.write(
                "/stored/",
                ArtifactKind::Html,
                &Content::new("<p>stored</p>"),
            )
            .unwrap();
            disk.write("/stored/", ArtifactKind::PageData, &Content::new("{}"))
                .unwrap();
            let cache = one_slot(&renderer, Some(disk), StorePool::new(1, 4));

            let first = tokio::time::timeout(
                Duration::from_secs(5),
                cache.get(&page("/a/"), ArtifactKind::Html),
            )
            .await;
            assert_eq!(
                first
                    .expect("the miss waited for the blocking pool")
                    .unwrap()
                    .1,
                CacheStatus::Miss
            );
            // A stored page is still read from disk, on the pool, once it has a thread.
            let stored = spawn_get(&cache, "/stored/");
            release.send(()).unwrap();
            holder.await.unwrap();
            assert_eq!(stored.await.unwrap().unwrap(), CacheStatus::Hit);
            assert_eq!(renderer.0.load(Relaxed), 1);
            cache.drain().await;
        });
    }

    #[tokio::test]
    async fn a_page_purged_while_its_later_compression_waits_keeps_nothing() {
        let renderer = Arc::new(Counting::default());
        let root = tempfile::tempdir().unwrap();
        let disk = disk_in(&root);
        let cache = one_slot(
            &renderer,
            Some(Arc::clone(&disk)),
            StorePool::new(1, 2).behind_from(0),
        );
        let a = page("/a/");
        cache.get(&a, ArtifactKind::Html).await.unwrap();
        cache.drain().await;

        // The HIT starts the compression; the one store thread is held before it gets there.
        cache.get(&a, ArtifactKind::Html).await.unwrap();
        let room = cache.store.permit().await;
        let (go, held) = std::sync::mpsc::channel::<()>();
        let holder = cache.store.run(&room, move |_| held.recv().ok());
        let mut holder = Box::pin(holder);
        let _ = tokio::time::timeout(Duration::ZERO, &mut holder).await;
        for _ in 0..1000 {
            if cache.store.unstored() == 2 {
                break;
            }
            tokio::task::yield_now().await;
        }
        assert_eq!(
            cache.store.unstored(),
            2,
            "the compression waits behind the held thread"
        );

        cache.purge([Arc::from("/a/")]).await;
        go.send(()).unwrap();
        holder.await;
        drop(room);
        cache.drain().await;
        for kind in ArtifactKind::ALL {
            assert!(
                disk.read("/a/", kind).is_none(),
                "{kind:?} on disk after the purge"
            );
            assert!(
                in_memory(&cache, "/a/", kind).is_none(),
                "{kind:?} in memory after the purge"
            );
        }
        let variant = disk
            .file_path("/a/", ArtifactKind::Html)
            .unwrap()
            .with_extension("html.br");
        assert!(!variant.exists());
    }

    #[tokio::test]
    async fn a_page_rendered_while_every_render_slot_is_taken_is_stored_uncompressed() {
        let renderer = Arc::new(Holding::default());
        // Never behind: only the render slots decide here.
        let store = StorePool::new(1, 4).behind_from(usize::MAX);
        let cache = slots(2, Arc::clone(&renderer) as Arc<dyn Renderer>, None, store);
        // Both slots held; /a/ waits for one.
        let (held_0, held_1) = (spawn_get(&cache, "/held-0/"), spawn_get(&cache, "/held-1/"));
        until(|| cache.renders_in_flight() >= 2).await;
        let a = spawn_get(&cache, "/a/");
        until(|| cache.renders_queued() > 0).await;
        // /held-0/ ends with /held-1/ rendering and /a/ taking its slot: stored uncompressed.
        renderer.release[0].notify_one();
        assert_eq!(held_0.await.unwrap().unwrap(), CacheStatus::Miss);
        assert_eq!(a.await.unwrap().unwrap(), CacheStatus::Miss);
        // /held-1/ ends with no other render: compressed as usual.
        renderer.release[1].notify_one();
        assert_eq!(held_1.await.unwrap().unwrap(), CacheStatus::Miss);
        cache.drain().await;
        let compressed = |path| {
            in_memory(&cache, path, ArtifactKind::Html)
                .unwrap()
                .has_encodings()
        };
        assert!(!compressed("/held-0/"), "compressed while renders waited");
        assert!(compressed("/held-1/"));
    }

    #[tokio::test]
    async fn a_warmed_page_is_compressed_even_while_every_render_slot_is_taken() {
        let renderer = Arc::new(Holding::default());
        let store = StorePool::new(1, 4).behind_from(usize::MAX);
        let cache = slots(2, Arc::clone(&renderer) as Arc<dyn Renderer>, None, store);
        let live = spawn_get(&cache, "/held-0/");
        until(|| cache.renders_in_flight() >= 1).await;
        // A warm-up render takes the other slot, then a live request waits for one.
        let warm = {
            let cache = Arc::clone(&cache);
            tokio::spawn(async move { cache.warm(&page("/held-1/")).await })
        };
        until(|| cache.gate.busy()).await;
        let waiting = spawn_get(&cache, "/c/");
        until(|| cache.renders_queued() > 0).await;
        renderer.release[1].notify_one();
        assert_eq!(warm.await.unwrap(), Ok(true));
        assert_eq!(waiting.await.unwrap(), Ok(CacheStatus::Miss));
        renderer.release[0].notify_one();
        live.await.unwrap().unwrap();
        cache.drain().await;
        let warmed = in_memory(&cache, "/held-1/", ArtifactKind::Html).unwrap();
        assert!(warmed.has_encodings(), "a warm-up stored uncompressed");
    }

    /// Renders every page at once, recording the artifact each render was asked for first.
    #[derive(Default)]
    struct RecordingFirst(Mutex<Vec<(String, ArtifactKind)>>);

    impl Renderer for RecordingFirst {
        fn render(
            &self,
            page: &str,
            first: ArtifactKind,
        ) -> BoxFuture<'static, Result<RenderedPage, RenderError>> {
            self.0.lock().push((page.to_string(), first));
            Box::pin(async move {
                Ok(RenderedPage {
                    page_data: bytes::Bytes::from_static(b"{}"),
                    html: Box::pin(async move { Ok(bytes::Bytes::from_static(b"<p>page</p>")) }),
                })
            })
        }
    }

    #[tokio::test]
    async fn a_render_is_asked_first_for_what_its_leading_request_waits_for() {
        let renderer = Arc::new(RecordingFirst::default());
        let cache = slots(
            2,
            Arc::clone(&renderer) as Arc<dyn Renderer>,
            None,
            StorePool::new(1, 4),
        );
        cache
            .get(&page("/visited/"), ArtifactKind::Html)
            .await
            .unwrap();
        cache
            .get(&page("/navigated/"), ArtifactKind::PageData)
            .await
            .unwrap();
        assert_eq!(cache.warm(&page("/warmed/")).await, Ok(true));
        cache.drain().await;
        assert_eq!(
            *renderer.0.lock(),
            [
                ("/visited/".to_string(), ArtifactKind::Html),
                ("/navigated/".to_string(), ArtifactKind::PageData),
                ("/warmed/".to_string(), ArtifactKind::Html),
            ]
        );
    }

    #[test]
    fn a_render_wanting_only_the_page_data_delivers_it_first_and_one_wanting_the_html_delivers_that(
    ) {
        use ArtifactKind::{Html, PageData};
        let first = |wanted: Wanted, asked| wanted.first(asked);
        assert_eq!(
            [
                first(Wanted::Both, Html),
                first(Wanted::Both, PageData),
                first(Wanted::PageData, Html),
                first(Wanted::PageData, PageData),
                first(Wanted::Html, Html),
                first(Wanted::Html, PageData),
            ],
            [Html, PageData, PageData, PageData, Html, Html]
        );
    }
}
