//! A cap on the requests a session has in flight at once across all of a
//! profile's endpoints (seed 001, "Concurrent Request Limits (Global)"):
//! over it a request is refused at once, never queued; a [`Permit`] holds a
//! slot and frees it when dropped — when the request finishes, fails or is
//! cancelled.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// In-flight requests per session, capped.
#[derive(Debug)]
pub struct Concurrency {
    /// 0: no cap.
    cap: u32,
    in_flight: Mutex<HashMap<i64, u32>>,
}

/// One request's slot of a session; freed on drop.
#[derive(Debug)]
pub struct Permit {
    owner: Arc<Concurrency>,
    session: i64,
}

impl Concurrency {
    /// A cap of `cap` requests per session at once (0: no cap).
    pub fn new(cap: u32) -> Arc<Self> {
        Arc::new(Self {
            cap,
            in_flight: Mutex::new(HashMap::new()),
        })
    }

    /// The cap (0: none).
    pub fn cap(&self) -> u32 {
        self.cap
    }

    /// A slot for one more request of `session`, or None when it already has
    /// `cap` in flight. With no cap every request gets one.
    pub fn try_acquire(self: &Arc<Self>, session: i64) -> Option<Permit> {
        let mut in_flight = self.in_flight.lock().unwrap_or_else(|e| e.into_inner());
        let count = in_flight.entry(session).or_insert(0);
        if self.cap > 0 && *count >= self.cap {
            return None;
        }
        *count += 1;
        Some(Permit {
            owner: self.clone(),
            session,
        })
    }

    /// Requests of `session` in flight now.
    pub fn in_flight(&self, session: i64) -> u32 {
        self.in_flight
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&session)
            .copied()
            .unwrap_or(0)
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut in_flight = self
            .owner
            .in_flight
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(count) = in_flight.get_mut(&self.session) {
            *count = count.saturating_sub(1);
            // Idle sessions take no memory.
            if *count == 0 {
                in_flight.remove(&self.session);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_each_session_and_frees_slots_on_drop() {
        let limit = Concurrency::new(2);
        let a1 = limit.try_acquire(1).unwrap();
        let a2 = limit.try_acquire(1).unwrap();
        assert!(
            limit.try_acquire(1).is_none(),
            "a third request of session 1"
        );
        // Other sessions have their own slots.
        let b1 = limit.try_acquire(2).unwrap();
        assert_eq!((limit.in_flight(1), limit.in_flight(2)), (2, 1));
        drop(a1);
        let a3 = limit.try_acquire(1).expect("a freed slot is reused");
        assert!(limit.try_acquire(1).is_none());
        drop((a2, a3, b1));
        assert_eq!((limit.in_flight(1), limit.in_flight(2)), (0, 0));
        assert!(limit.in_flight.lock().unwrap().is_empty());
    }

    #[test]
    fn a_cancelled_request_frees_its_slot() {
        let limit = Concurrency::new(1);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        runtime.block_on(async {
            let held = limit.clone();
            // A request that never finishes, dropped (cancelled) while pending.
            let pending = async move {
                let _permit = held.try_acquire(7).unwrap();
                std::future::pending::<()>().await;
            };
            let mut pending = Box::pin(pending);
            assert!(futures::poll!(pending.as_mut()).is_pending());
            assert!(limit.try_acquire(7).is_none());
            drop(pending);
            assert!(limit.try_acquire(7).is_some());
        });
    }

    #[test]
    fn zero_means_no_cap() {
        let limit = Concurrency::new(0);
        let permits: Vec<Permit> = (0..100).map(|_| limit.try_acquire(1).unwrap()).collect();
        assert_eq!(limit.in_flight(1), 100);
        drop(permits);
        assert_eq!(limit.in_flight(1), 0);
    }
}
