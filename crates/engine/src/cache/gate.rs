//! The render queue: at most `slots` renders run at once (Gatsby's engine is one JS thread; more
//! in flight only interleaves them), at most `max_queued` wait for a slot; past that a render is
//! refused at once (503) instead of holding memory and a connection without bound. Warm-up
//! renders take a slot only while no live render is waiting.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{Semaphore, SemaphorePermit};

pub struct RenderGate {
    slots: Semaphore,
    queued: AtomicUsize,
    max_queued: usize,
}

/// Why a render did not get a slot.
#[derive(Debug, PartialEq, Eq)]
pub struct QueueFull;

/// Whose render: live requests go first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Priority {
    Live,
    Warm,
}

/// Decrements the queue count however the wait ends (a cancelled wait included).
struct Queued<'a>(&'a AtomicUsize);

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl RenderGate {
    pub fn new(slots: usize, max_queued: usize) -> Self {
        RenderGate {
            slots: Semaphore::new(slots.max(1)),
            queued: AtomicUsize::new(0),
            max_queued,
        }
    }

    pub async fn enter(&self, priority: Priority) -> Result<SemaphorePermit<'_>, QueueFull> {
        if priority == Priority::Warm {
            // Yield to live requests: wait while any live render waits for a slot.
            loop {
                if self.queued() == 0 {
                    if let Ok(permit) = self.slots.try_acquire() {
                        return Ok(permit);
                    }
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
        if let Ok(permit) = self.slots.try_acquire() {
            return Ok(permit);
        }
        if self.queued.fetch_add(1, Ordering::SeqCst) >= self.max_queued {
            self.queued.fetch_sub(1, Ordering::SeqCst);
            return Err(QueueFull);
        }
        let _queued = Queued(&self.queued);
        Ok(self
            .slots
            .acquire()
            .await
            .expect("the semaphore is never closed"))
    }

    /// Live renders waiting for a slot.
    pub fn queued(&self) -> usize {
        self.queued.load(Ordering::SeqCst)
    }

    /// Every slot is taken, or a render waits for one: the render threads have all they can do.
    pub fn busy(&self) -> bool {
        self.slots.available_permits() == 0 || self.queued() > 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn renders_past_the_queue_bound_are_refused() {
        let gate = RenderGate::new(1, 1);
        let _running = gate.enter(Priority::Live).await.unwrap();
        let waiting = gate.enter(Priority::Live);
        tokio::pin!(waiting);
        // Poll once so it queues.
        assert!(futures_util::poll!(&mut waiting).is_pending());
        assert_eq!(gate.queued(), 1);
        assert_eq!(gate.enter(Priority::Live).await.unwrap_err(), QueueFull);
        drop(_running);
        assert!(waiting.await.is_ok());
        assert_eq!(gate.queued(), 0);
    }

    #[tokio::test]
    async fn the_gate_is_busy_while_every_slot_is_taken() {
        let gate = RenderGate::new(2, 4);
        let one = gate.enter(Priority::Live).await.unwrap();
        assert!(!gate.busy(), "a slot is free");
        let two = gate.enter(Priority::Live).await.unwrap();
        assert!(gate.busy());
        drop((one, two));
        assert!(!gate.busy());
    }

    #[tokio::test]
    async fn live_render_overtakes_a_warm_render_that_waited_first() {
        use std::sync::{Arc, Mutex};
        let gate = Arc::new(RenderGate::new(1, 10));
        let order = Arc::new(Mutex::new(Vec::new()));
        let running = gate.enter(Priority::Live).await.unwrap();
        let task = |priority, name| {
            let (gate, order) = (gate.clone(), order.clone());
            tokio::spawn(async move {
                let _slot = gate.enter(priority).await.unwrap();
                order.lock().unwrap().push(name);
                tokio::time::sleep(Duration::from_millis(10)).await;
            })
        };
        let warm = task(Priority::Warm, "warm");
        tokio::time::sleep(Duration::from_millis(20)).await; // the warm render is waiting first
        let live = task(Priority::Live, "live");
        while gate.queued() == 0 {
            tokio::task::yield_now().await;
        }
        drop(running);
        live.await.unwrap();
        warm.await.unwrap();
        assert_eq!(*order.lock().unwrap(), ["live", "warm"]);
    }
}
