//! The threads that compress and store generated pages, below everything else the process runs.
//!
//! After a render, its artifacts are compressed (brotli and gzip) and written to the disk tier
//! off the response path. That work is CPU the render threads need: on a 2-core machine during a
//! cold burst, compressing and storing on tokio's blocking pool (one thread per call, ~60 of them)
//! took 1.3 ms of CPU per page against 1.2 ms for the render itself, and the render thread spent
//! a third of its time runnable but not running. Here it runs on threads of its own, so that the
//! render threads and the HTTP threads go first and this takes the CPU they leave:
//!
//! - **Idle-time threads**, one per core, in `SCHED_IDLE` (Linux): they run on a core nothing else
//!   wants, and a thread woken onto that core (a tokio worker with a request, a render thread
//!   called, the client's own process) preempts them at once. In `SCHED_BATCH` at nice +10, as
//!   they were, a woken tokio worker (itself batch: `crate::threads`) waited for the store
//!   thread's time slice to end: on first requests one at a time, each hand-off of a request
//!   (client → tokio → render thread → tokio → client) that overlapped the previous page's store
//!   took 2.6–4× as long (means 433–721 µs against 134–273 µs, 300 requests timed at each
//!   hand-off), and the bench's first request (row 3) had a p50 of 3.41 / 3.72 / 3.76 ms against
//!   2.57 / 3.40 / 2.46 ms in `SCHED_IDLE` (3 interleaved pairs; BENCHMARKS.md, session 13). Nor
//!   does a store thread woken with a job take the CPU of the tokio worker that submitted it
//!   before that worker sends the response (in normal scheduling: 487–505 µs from the HTML to
//!   the response, against 57–69 µs).
//! - **One catch-up thread** in `SCHED_BATCH` at nice +10, which takes the oldest job once it has
//!   waited [`CATCH_UP_AFTER`] (5 ms) for an idle-time thread. `SCHED_IDLE` all but stops while
//!   every core is busy (a cold burst on every render thread, HIT traffic): its weight is 3
//!   against 1,024 for a normal thread, and a thread cannot leave it without privilege. The
//!   catch-up thread keeps what the store threads had before: about a tenth of a contended core,
//!   so that stored pages keep flowing and, through the permits, cold renders too. With a core
//!   free an idle-time thread takes a job within microseconds, and the catch-up thread takes
//!   none. A job an idle-time thread took before the cores filled finishes late; at most one per
//!   idle-time thread is held so.
//!
//! Invariants:
//! - Every job submitted runs exactly once, and its result is handed back; a job whose
//!   submitter went away still runs (a store is never half done). A job that panics hands back
//!   nothing and its thread goes on with the next one.
//! - At most `capacity` ([`StorePool::new`]) jobs wait or run at once: [`StorePool::permit`] is
//!   taken before a render leaves its slot, so rendered-but-unstored pages stay bounded while
//!   the threads fall behind (the render slots wait instead, and past them the render queue's
//!   bound answers 503).
//! - The threads end once the pool is dropped and the jobs already queued have run.
//!
//! When the threads fall behind (as many jobs waiting as there are idle-time threads: the render
//! threads are taking every core), a job is told so ([`Backlog::behind`]); the page cache then
//! stores the page without compressing it, as it does while renders wait for a slot: during a
//! cold burst a visitor waiting for a render goes before bytes saved for later ones. Such a page
//! is compressed later, once the pool is idle ([`StorePool::idle`]) and the page is asked for
//! again (`cache/mod.rs`, `complete`).

use std::collections::VecDeque;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};
use tokio::sync::{oneshot, OwnedSemaphorePermit, Semaphore};

type Job = Box<dyn FnOnce() + Send>;

/// How much lower than the rest of the process the catch-up thread runs (Linux `nice`; the
/// idle-time threads too, where `SCHED_IDLE` is refused).
const NICENESS: i32 = 10;

/// How long a job waits for an idle-time thread before the catch-up thread takes it. With a core
/// free, an idle-time thread takes a job within tens of microseconds; one still waiting after
/// this has found every core busy.
const CATCH_UP_AFTER: Duration = Duration::from_millis(5);

pub struct StorePool {
    queue: Arc<Queue>,
    permits: Arc<Semaphore>,
    capacity: usize,
    backlog: Backlog,
}

/// The jobs no thread has taken yet, oldest first, each with the time it was submitted.
#[derive(Default)]
struct Queue {
    state: Mutex<QueueState>,
    /// Wakes an idle-time thread: a job was submitted, or the pool closed.
    for_idle: Condvar,
    /// Wakes the catch-up thread: a job was submitted to an empty queue, or the pool closed.
    for_catch_up: Condvar,
}

#[derive(Default)]
struct QueueState {
    jobs: VecDeque<(Instant, Job)>,
    closed: bool,
}

impl Queue {
    /// Hands `job` to the threads; gives it back once the pool is closed.
    fn submit(&self, job: Job) -> Result<(), Job> {
        let mut state = self.state.lock();
        if state.closed {
            return Err(job);
        }
        if state.jobs.is_empty() {
            self.for_catch_up.notify_one();
        }
        state.jobs.push_back((Instant::now(), job));
        self.for_idle.notify_one();
        Ok(())
    }

    fn close(&self) {
        self.state.lock().closed = true;
        self.for_idle.notify_all();
        self.for_catch_up.notify_all();
    }

    /// An idle-time thread: takes every job, oldest first; ends once the pool is closed and
    /// nothing is queued.
    fn serve_idle_time(&self) {
        let mut state = self.state.lock();
        loop {
            if let Some((_, job)) = state.jobs.pop_front() {
                drop(state);
                run_caught(job);
                state = self.state.lock();
            } else if state.closed {
                return;
            } else {
                self.for_idle.wait(&mut state);
            }
        }
    }

    /// The catch-up thread: takes the oldest job once it has waited `after`; ends once the pool
    /// is closed and nothing is queued.
    fn serve_catch_up(&self, after: Duration) {
        let mut state = self.state.lock();
        loop {
            match state.jobs.front() {
                Some(&(since, _)) if since.elapsed() >= after => {
                    let (_, job) = state.jobs.pop_front().expect("a job was in front");
                    drop(state);
                    run_caught(job);
                    state = self.state.lock();
                }
                Some(&(since, _)) => {
                    self.for_catch_up.wait_until(&mut state, since + after);
                }
                None if state.closed => return,
                None => self.for_catch_up.wait(&mut state),
            }
        }
    }
}

/// How far behind the store threads are: the jobs submitted that no thread has started yet.
#[derive(Clone)]
pub struct Backlog {
    waiting: Arc<AtomicUsize>,
    /// Behind from this many jobs waiting on (the number of threads: a full round).
    behind_from: usize,
}

impl Backlog {
    /// As many jobs wait as there are store threads: every core is busy with something else.
    pub fn behind(&self) -> bool {
        self.waiting.load(Relaxed) >= self.behind_from
    }
}

/// Room for one page's compressing and storing, held from the end of its render to the end of
/// its store.
pub struct StorePermit(#[allow(dead_code)] OwnedSemaphorePermit);

impl StorePool {
    /// `threads` idle-time threads (at least one) and the catch-up thread, at most `capacity` jobs
    /// in the pool at once.
    pub fn new(threads: usize, capacity: usize) -> Self {
        StorePool::with_catch_up(threads.max(1), capacity, CATCH_UP_AFTER)
    }

    /// `threads` idle-time threads (tests: none at all) and the catch-up thread taking jobs that
    /// waited `after`.
    fn with_catch_up(threads: usize, capacity: usize, after: Duration) -> Self {
        let queue = Arc::new(Queue::default());
        for i in 0..threads {
            let queue = Arc::clone(&queue);
            spawn(format!("gatsby-dsg-store-{i}"), move || {
                crate::threads::idle_this_thread(NICENESS);
                queue.serve_idle_time();
            });
        }
        spawn("gatsby-dsg-catch-up".to_string(), {
            let queue = Arc::clone(&queue);
            move || {
                crate::threads::batch_this_thread_below(NICENESS);
                queue.serve_catch_up(after);
            }
        });
        StorePool {
            queue,
            permits: Arc::new(Semaphore::new(capacity.max(1))),
            capacity: capacity.max(1),
            backlog: Backlog {
                waiting: Arc::new(AtomicUsize::new(0)),
                behind_from: threads.max(1),
            },
        }
    }

    /// The same pool, counted behind from `jobs` waiting on (tests: 0 is always behind).
    #[cfg(test)]
    pub fn behind_from(mut self, jobs: usize) -> Self {
        self.backlog.behind_from = jobs;
        self
    }

    /// One thread per core the process may use.
    pub fn per_core(capacity: usize) -> Self {
        let cores = thread::available_parallelism().map_or(1, |n| n.get());
        StorePool::new(cores, capacity)
    }

    /// Waits for room in the pool.
    pub async fn permit(&self) -> StorePermit {
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .expect("the store pool's semaphore is never closed");
        StorePermit(permit)
    }

    /// Pages waiting to be stored or being stored (permits out).
    pub fn unstored(&self) -> usize {
        self.capacity - self.permits.available_permits()
    }

    /// No page is waiting to be stored or being stored: every permit is back.
    pub fn idle(&self) -> bool {
        self.unstored() == 0
    }

    /// Runs `job` on a store thread and hands back what it returned (`None`: it panicked). The
    /// job is given the pool's [`Backlog`] as it starts. Without a store thread to take it, it
    /// runs on tokio's blocking pool instead.
    pub async fn run<T, F>(&self, _permit: &StorePermit, job: F) -> Option<T>
    where
        T: Send + 'static,
        F: FnOnce(&Backlog) -> T + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let backlog = self.backlog.clone();
        backlog.waiting.fetch_add(1, Relaxed);
        let job: Job = Box::new(move || {
            backlog.waiting.fetch_sub(1, Relaxed);
            let _ = tx.send(job(&backlog));
        });
        if let Err(job) = self.queue.submit(job) {
            let _ = tokio::task::spawn_blocking(job).await;
        }
        rx.await.ok()
    }
}

impl Drop for StorePool {
    fn drop(&mut self) {
        // The threads finish what is queued, then see the pool closed and end.
        self.queue.close();
    }
}

fn spawn(name: String, body: impl FnOnce() + Send + 'static) {
    thread::Builder::new()
        .name(name)
        .spawn(body)
        .expect("the OS lets a process start a thread");
}

/// A panic drops the job's sender: its submitter gets `None`.
fn run_caught(job: Job) {
    let _ = panic::catch_unwind(AssertUnwindSafe(job));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_job_runs_on_a_store_thread_and_hands_back_its_result() {
        let pool = StorePool::new(2, 4);
        let permit = pool.permit().await;
        let name = pool
            .run(&permit, |_| thread::current().name().map(str::to_string))
            .await;
        assert!(name.flatten().unwrap().starts_with("gatsby-dsg-store-"));
    }

    #[tokio::test]
    async fn a_job_that_panics_hands_back_nothing_and_its_thread_takes_the_next() {
        let pool = StorePool::new(1, 2);
        let permit = pool.permit().await;
        let panicked = pool.run(&permit, |_| -> u32 { panic!("a bug in a store job") });
        assert_eq!(panicked.await, None);
        assert_eq!(pool.run(&permit, |_| 7).await, Some(7));
    }

    #[tokio::test]
    async fn no_more_than_capacity_permits_are_out_at_once() {
        let pool = StorePool::new(1, 2);
        let a = pool.permit().await;
        let _b = pool.permit().await;
        let third = tokio::time::timeout(std::time::Duration::from_millis(50), pool.permit());
        assert!(third.await.is_err(), "a third permit beyond capacity 2");
        drop(a);
        let third = tokio::time::timeout(std::time::Duration::from_secs(5), pool.permit());
        assert!(third.await.is_ok(), "a permit once one was given back");
    }

    /// A catch-up thread that never takes a job: the idle-time threads alone.
    const NEVER: Duration = Duration::from_secs(3600);

    #[cfg(target_os = "linux")]
    fn own_scheduling() -> (String, i32, i32) {
        // SAFETY: plain system calls on the calling thread's own id.
        unsafe {
            (
                thread::current().name().unwrap_or("").to_string(),
                libc::sched_getscheduler(0),
                libc::getpriority(
                    libc::PRIO_PROCESS,
                    libc::syscall(libc::SYS_gettid) as libc::id_t,
                ),
            )
        }
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn a_job_runs_in_sched_idle_while_the_pool_keeps_up() {
        let pool = StorePool::with_catch_up(1, 1, NEVER);
        let permit = pool.permit().await;
        let (name, policy, _) = pool.run(&permit, |_| own_scheduling()).await.unwrap();
        assert_eq!(
            (name.as_str(), policy),
            ("gatsby-dsg-store-0", libc::SCHED_IDLE)
        );
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn a_job_left_waiting_runs_on_the_catch_up_thread_in_sched_batch_at_nice_10() {
        // No idle-time thread at all: every job is left waiting.
        let pool = StorePool::with_catch_up(0, 1, Duration::ZERO);
        let permit = pool.permit().await;
        let (_, _, here) = own_scheduling();
        let there = pool.run(&permit, |_| own_scheduling()).await.unwrap();
        assert_eq!(
            (there.0.as_str(), there.1, there.2),
            (
                "gatsby-dsg-catch-up",
                libc::SCHED_BATCH,
                (here + NICENESS).min(19)
            )
        );
    }

    #[tokio::test]
    async fn a_job_does_not_wait_for_a_held_idle_time_thread() {
        let pool = StorePool::new(1, 4);
        let permit = pool.permit().await;
        let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
        let mut held = std::pin::pin!(pool.run(&permit, move |_| go_rx.recv().unwrap()));
        submit(held.as_mut());
        // Whichever thread took the held job, the other runs this one.
        let next = tokio::time::timeout(Duration::from_secs(10), pool.run(&permit, |_| 7));
        assert_eq!(next.await.ok(), Some(Some(7)));
        go_tx.send(()).unwrap();
        assert_eq!(held.await, Some(()));
    }

    #[tokio::test]
    async fn a_job_whose_submitter_went_away_still_runs() {
        let pool = StorePool::new(1, 1);
        let permit = pool.permit().await;
        let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        let job = pool.run(&permit, move |_| {
            go_rx.recv().unwrap();
            done_tx.send("stored").unwrap();
        });
        // The submitter gives up while the job waits on its thread.
        let gave_up = tokio::time::timeout(std::time::Duration::from_millis(20), job).await;
        assert!(gave_up.is_err());
        go_tx.send(()).unwrap();
        let done = done_rx.recv_timeout(std::time::Duration::from_secs(5));
        assert_eq!(done, Ok("stored"));
    }

    /// Polls `job` once: a `run` submits its job on its first poll.
    fn submit<F: std::future::Future>(job: std::pin::Pin<&mut F>) {
        let mut context = std::task::Context::from_waker(std::task::Waker::noop());
        assert!(job.poll(&mut context).is_pending());
    }

    #[tokio::test]
    async fn a_job_is_told_the_threads_are_behind_when_as_many_jobs_wait_as_there_are_threads() {
        let pool = StorePool::with_catch_up(1, 4, NEVER);
        let permit = pool.permit().await;
        // The one thread is held by a first job while two more are submitted behind it.
        let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
        let mut first = std::pin::pin!(pool.run(&permit, move |_| go_rx.recv().unwrap()));
        let mut second = std::pin::pin!(pool.run(&permit, |backlog| backlog.behind()));
        let mut third = std::pin::pin!(pool.run(&permit, |backlog| backlog.behind()));
        submit(first.as_mut());
        submit(second.as_mut());
        submit(third.as_mut());
        go_tx.send(()).unwrap();
        // The second started with the third waiting (one thread's worth); the third with none.
        assert_eq!(first.await, Some(()));
        assert_eq!((second.await, third.await), (Some(true), Some(false)));
    }

    #[tokio::test]
    async fn the_pool_is_idle_only_once_every_permit_is_back() {
        let pool = StorePool::new(1, 2);
        assert!(pool.idle());
        let permit = pool.permit().await;
        assert!(!pool.idle());
        drop(permit);
        assert!(pool.idle());
    }
}
