//! How the server's own threads are scheduled beside the render threads (Linux; elsewhere nothing
//! changes). Gatsby's engine renders on one JS thread per render worker, and during a cold burst
//! that thread is what limits renders/s. A thread woken onto its core (a tokio worker handed a
//! response to write, the access log, a store thread as it then was) preempted it: on the 2-core
//! bench machine, 3,000 cold renders at 50 clients cost the render thread 5,200–6,100 involuntary
//! context switches. So every thread the server starts runs in `SCHED_BATCH`: the same share of
//! the CPU as before (its niceness is unchanged), but once woken it waits for an idle core or for
//! the running thread's time slice to end, instead of preempting it. Measured, three interleaved
//! pairs on tmpfs with the tokio workers and the access log thread switched (BENCHMARKS.md,
//! session 8): 455 / 432 / 480 → 521 / 547 / 562 renders/s, the render thread's involuntary
//! switches down to 1,700–2,200; HITs of a stored page during such a burst (wrk, 4 connections)
//! p50 210–310 → 197–201 µs, p99 5.7–25 → 5.1–5.2 ms: no slower, as a core is idle or about to
//! be whenever a request arrives. No privilege is needed to enter `SCHED_BATCH`; where the call
//! fails the thread keeps its policy. The store threads go lower still, into `SCHED_IDLE`
//! ([`idle_this_thread`]; why: `cache/store_pool.rs`).

/// Puts the calling thread in `SCHED_BATCH` at its present niceness.
pub fn batch_this_thread() {
    #[cfg(target_os = "linux")]
    // SAFETY: a plain system call on the calling thread (pid 0: this thread).
    unsafe {
        let batch = libc::sched_param { sched_priority: 0 };
        libc::sched_setscheduler(0, libc::SCHED_BATCH, &batch);
    }
}

/// [`batch_this_thread`], and `niceness` lower than it was (the store threads: below the rest).
pub fn batch_this_thread_below(niceness: i32) {
    batch_this_thread();
    #[cfg(target_os = "linux")]
    // SAFETY: plain system calls on the calling thread's own id.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        let now = libc::getpriority(libc::PRIO_PROCESS, tid);
        libc::setpriority(libc::PRIO_PROCESS, tid, now + niceness);
    }
    #[cfg(not(target_os = "linux"))]
    let _ = niceness;
}

/// Puts the calling thread in `SCHED_IDLE`: it runs only on a core nothing else wants, and any
/// other thread woken onto its core preempts it at once. Entering it needs no privilege; leaving
/// it does (a thread that could raise its own priority back), so a thread in it stays there.
/// Where the call fails, or off Linux, it is [`batch_this_thread_below`] `fallback` instead.
pub fn idle_this_thread(fallback: i32) {
    #[cfg(target_os = "linux")]
    // SAFETY: a plain system call on the calling thread (pid 0: this thread).
    let idle = unsafe {
        let idle = libc::sched_param { sched_priority: 0 };
        libc::sched_setscheduler(0, libc::SCHED_IDLE, &idle) == 0
    };
    #[cfg(not(target_os = "linux"))]
    let idle = false;
    if !idle {
        batch_this_thread_below(fallback);
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    fn own_niceness() -> i32 {
        // SAFETY: plain system calls on the calling thread's own id.
        unsafe {
            libc::getpriority(
                libc::PRIO_PROCESS,
                libc::syscall(libc::SYS_gettid) as libc::id_t,
            )
        }
    }

    #[test]
    fn a_batched_thread_is_in_sched_batch_at_its_niceness() {
        let (policy, before, after) = std::thread::spawn(|| {
            let before = own_niceness();
            batch_this_thread();
            // SAFETY: a plain system call on the calling thread.
            (
                unsafe { libc::sched_getscheduler(0) },
                before,
                own_niceness(),
            )
        })
        .join()
        .unwrap();
        assert_eq!((policy, after), (libc::SCHED_BATCH, before));
    }

    #[test]
    fn a_thread_batched_below_the_rest_is_also_less_nice() {
        let (policy, before, after) = std::thread::spawn(|| {
            let before = own_niceness();
            batch_this_thread_below(3);
            // SAFETY: a plain system call on the calling thread.
            (
                unsafe { libc::sched_getscheduler(0) },
                before,
                own_niceness(),
            )
        })
        .join()
        .unwrap();
        assert_eq!((policy, after), (libc::SCHED_BATCH, (before + 3).min(19)));
    }

    #[test]
    fn an_idled_thread_is_in_sched_idle() {
        let policy = std::thread::spawn(|| {
            idle_this_thread(3);
            // SAFETY: a plain system call on the calling thread.
            unsafe { libc::sched_getscheduler(0) }
        })
        .join()
        .unwrap();
        assert_eq!(policy, libc::SCHED_IDLE);
    }
}
