//! The threads that compress and store generated pages, below everything else the process runs.
//!
//! After a render, its artifacts are compressed (brotli and gzip) and written to the disk tier
//! off the response path. That work is CPU the render threads need: on a 2-core machine during a
//! cold burst, compressing and storing on tokio's blocking pool (one thread per call, ~60 of them)
//! took 1.3 ms of CPU per page against 1.2 ms for the render itself, and the render thread spent
//! a third of its time runnable but not running. Here it runs on a few threads of their own (one
//! per core), at a lower priority (nice +10 and `SCHED_BATCH` on Linux: a store thread woken with a
//! job never preempts the thread that woke it), so the render threads and the HTTP threads go
//! first and this takes the CPU they leave.
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
//! When the threads fall behind (as many jobs waiting as there are threads: the render threads
//! are taking every core), a job is told so ([`Backlog::behind`]); the page cache then stores the
//! page without compressing it, as it does while renders wait for a slot: during a cold burst a
//! visitor waiting for a render goes before bytes saved for later ones. Such a page is
//! compressed later, once the pool is idle ([`StorePool::idle`]) and the page is asked for again
//! (`cache/mod.rs`, `complete`).

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread;

use parking_lot::Mutex;
use tokio::sync::{oneshot, OwnedSemaphorePermit, Semaphore};

type Job = Box<dyn FnOnce() + Send>;

/// How much lower than the rest of the process the store threads run (Linux `nice`).
const NICENESS: i32 = 10;

pub struct StorePool {
    sender: Mutex<Option<mpsc::Sender<Job>>>,
    permits: Arc<Semaphore>,
    capacity: usize,
    backlog: Backlog,
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
    /// `threads` threads (at least one), at most `capacity` jobs in the pool at once.
    pub fn new(threads: usize, capacity: usize) -> Self {
        let (sender, receiver) = mpsc::channel::<Job>();
        let receiver = Arc::new(Mutex::new(receiver));
        let threads = threads.max(1);
        let backlog = Backlog {
            waiting: Arc::new(AtomicUsize::new(0)),
            behind_from: threads,
        };
        for i in 0..threads {
            let receiver = Arc::clone(&receiver);
            thread::Builder::new()
                .name(format!("gatsby-dsg-store-{i}"))
                .spawn(move || {
                    lower_this_threads_priority();
                    loop {
                        // The lock is held only while taking one job.
                        let job = receiver.lock().recv();
                        match job {
                            // A panic drops the job's sender: its submitter gets `None`.
                            Ok(job) => {
                                let _ = panic::catch_unwind(AssertUnwindSafe(job));
                            }
                            Err(_) => return,
                        }
                    }
                })
                .expect("the OS lets a process start a thread");
        }
        StorePool {
            sender: Mutex::new(Some(sender)),
            permits: Arc::new(Semaphore::new(capacity.max(1))),
            capacity: capacity.max(1),
            backlog,
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
        let refused = match &*self.sender.lock() {
            Some(sender) => sender.send(job).err().map(|e| e.0),
            None => Some(job),
        };
        if let Some(job) = refused {
            let _ = tokio::task::spawn_blocking(job).await;
        }
        rx.await.ok()
    }
}

impl Drop for StorePool {
    fn drop(&mut self) {
        // The threads finish what is queued, then see the channel closed and end.
        self.sender.lock().take();
    }
}

/// `SCHED_BATCH` at nice +10 for the calling thread (Linux threads each have their own policy
/// and niceness: `crate::threads`). Batch, as every thread of the server, because a store thread
/// woken with a job must not preempt the thread that woke it: measured on the first requests of
/// a page one at a time, the store thread took the CPU of the tokio worker that had just
/// submitted its job, before that worker sent the response (487–505 µs from the HTML to the
/// response, against 57–69 µs in batch). First requests one at a time, 3 interleaved pairs:
/// 173–252 → 199–310 per second (−0.7 to −0.8 ms each). Nice +10 below the rest: not
/// `SCHED_IDLE`, measured no faster here, and it would all but stop storing (and so, through the
/// permits, cold renders) while anything else, such as HIT traffic, keeps every core busy; at nice
/// +10 the store threads still get about a tenth of a contended core. Raising one's own niceness
/// needs no privilege; where it fails, the thread runs at normal priority.
fn lower_this_threads_priority() {
    crate::threads::batch_this_thread_below(NICENESS);
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

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn store_threads_run_below_the_priority_of_the_rest_of_the_process() {
        let pool = StorePool::new(1, 1);
        let permit = pool.permit().await;
        let here = unsafe {
            libc::getpriority(
                libc::PRIO_PROCESS,
                libc::syscall(libc::SYS_gettid) as libc::id_t,
            )
        };
        let there = pool
            .run(&permit, |_| unsafe {
                libc::getpriority(
                    libc::PRIO_PROCESS,
                    libc::syscall(libc::SYS_gettid) as libc::id_t,
                )
            })
            .await;
        assert_eq!(there, Some((here + NICENESS).min(19)));
        let policy = pool
            .run(&permit, |_| unsafe { libc::sched_getscheduler(0) })
            .await;
        assert_eq!(policy, Some(libc::SCHED_BATCH));
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
        let pool = StorePool::new(1, 4);
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
