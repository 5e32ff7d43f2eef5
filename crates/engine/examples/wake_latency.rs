//! How long a parked thread takes to run once another thread wakes it, on this machine: the cost
//! of every hand-off between threads on a first request (client → tokio → render thread → tokio
//! → client) that the engine called in-process does not pay.
//!
//! Thread A idles `idle_us` (a sleep, as the server's threads idle between first requests one at
//! a time), stamps the time and writes an eventfd; thread B, blocked reading it, stamps the time
//! it runs. A and B are pinned to the CPUs given (the same one, or two). Prints the p50, p90 and
//! mean of B's stamp minus A's over 2,000 wake-ups.
//!
//! ```text
//! cargo run --release --target x86_64-unknown-linux-gnu -p gatsby-dsg-engine \
//!     --example wake_latency -- 1000 0 1
//! ```
//!
//! Measured on the 2-core Firecracker VM of BENCHMARKS.md (session 14): A and B on different
//! vCPUs, p50 44.4 / 45.0 / 47.0 / 49.9 µs after 0.1 / 0.3 / 1 / 3 ms idle (the other vCPU halted
//! and woken by an interrupt through the hypervisor); on the same vCPU 1.6–2.6 µs.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const WAKE_UPS: usize = 2_000;

fn pin_to(cpu: usize) {
    // SAFETY: a zeroed cpu_set_t is an empty set; CPU_SET writes within it; sched_setaffinity
    // reads it for the calling thread (pid 0).
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        if libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &set) != 0 {
            panic!(
                "cannot pin to CPU {cpu}: {}",
                std::io::Error::last_os_error()
            );
        }
    }
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| {
            a.parse()
                .expect("usage: wake_latency <idle µs> <cpu A> <cpu B>")
        })
        .collect();
    let [idle_us, cpu_a, cpu_b] = args[..] else {
        panic!("usage: wake_latency <idle µs> <cpu A> <cpu B>");
    };
    // A semaphore eventfd: every write is one read, however late B runs.
    // SAFETY: eventfd takes no pointers.
    let efd = unsafe { libc::eventfd(0, libc::EFD_SEMAPHORE) };
    assert!(efd >= 0, "eventfd: {}", std::io::Error::last_os_error());
    let epoch = Instant::now();
    let sent = Arc::new(AtomicU64::new(0));
    let waker_sent = Arc::clone(&sent);
    let woken = std::thread::spawn(move || {
        pin_to(cpu_b);
        let mut latencies = Vec::with_capacity(WAKE_UPS);
        for _ in 0..WAKE_UPS {
            let mut value = 0u64;
            // SAFETY: reads 8 bytes into `value`.
            let read = unsafe { libc::read(efd, (&raw mut value).cast(), 8) };
            assert_eq!(read, 8);
            let now = epoch.elapsed().as_nanos() as u64;
            // A late wake-up (past the next idle) reads the next stamp: counted short, never negative.
            latencies.push(now.saturating_sub(sent.load(Ordering::SeqCst)));
        }
        latencies
    });
    pin_to(cpu_a);
    for _ in 0..WAKE_UPS {
        std::thread::sleep(Duration::from_micros(idle_us as u64));
        waker_sent.store(epoch.elapsed().as_nanos() as u64, Ordering::SeqCst);
        let one = 1u64;
        // SAFETY: writes the 8 bytes of `one`.
        let written = unsafe { libc::write(efd, (&raw const one).cast(), 8) };
        assert_eq!(written, 8);
    }
    let mut latencies = woken.join().expect("the woken thread");
    latencies.sort_unstable();
    let us = |ns: u64| ns as f64 / 1_000.0;
    let mean = latencies.iter().sum::<u64>() as f64 / latencies.len() as f64 / 1_000.0;
    println!(
        "idle {idle_us} µs, A on CPU {cpu_a}, B on CPU {cpu_b}: p50 {:.1} µs, p90 {:.1} µs, mean {mean:.1} µs",
        us(latencies[latencies.len() / 2]),
        us(latencies[latencies.len() * 9 / 10]),
    );
}
