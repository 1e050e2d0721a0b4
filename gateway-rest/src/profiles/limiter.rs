//! The gateway's own request limit per credential for compatibility APIs
//! (the products promise `X-RateLimit-*` headers on every response; sends
//! also carry the server's send-rate headers, which take precedence).
//! A fixed window per credential, enforced: over the limit is a 429.

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher as _;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Windows kept before old ones are swept (bounds memory with many keys).
const SWEEP_AT: usize = 10_000;

pub struct Limiter {
    limit: u32,
    window: Duration,
    // Keyed by a keyed hash of the credential, not the credential itself.
    hasher: RandomState,
    windows: Mutex<HashMap<u64, (Instant, u32)>>,
}

/// The state of a credential's window after counting one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateState {
    pub allowed: bool,
    pub limit: u32,
    pub remaining: u32,
    /// Seconds until the window resets.
    pub reset_secs: u64,
}

impl Limiter {
    pub fn new(limit: u32, window: Duration) -> Self {
        Self {
            limit: limit.max(1),
            window,
            hasher: RandomState::new(),
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one request of `credential` (empty: anonymous, one shared window).
    pub fn check(&self, credential: &str) -> RateState {
        self.check_at(credential, Instant::now())
    }

    fn check_at(&self, credential: &str, now: Instant) -> RateState {
        let key = self.hasher.hash_one(credential);
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        if windows.len() >= SWEEP_AT {
            let window = self.window;
            windows.retain(|_, (start, _)| now.duration_since(*start) < window);
        }
        let entry = windows.entry(key).or_insert((now, 0));
        if now.duration_since(entry.0) >= self.window {
            *entry = (now, 0);
        }
        let left = self.window.saturating_sub(now.duration_since(entry.0));
        let reset_secs = left.as_secs() + u64::from(left.subsec_nanos() > 0);
        if entry.1 >= self.limit {
            return RateState {
                allowed: false,
                limit: self.limit,
                remaining: 0,
                reset_secs,
            };
        }
        entry.1 += 1;
        RateState {
            allowed: true,
            limit: self.limit,
            remaining: self.limit - entry.1,
            reset_secs,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_credential_refuses_over_the_limit_and_resets() {
        let limiter = Limiter::new(2, Duration::from_secs(60));
        let start = Instant::now();
        let first = limiter.check_at("a", start);
        assert!(first.allowed);
        assert_eq!((first.limit, first.remaining, first.reset_secs), (2, 1, 60));
        assert_eq!(limiter.check_at("a", start).remaining, 0);
        let refused = limiter.check_at("a", start + Duration::from_secs(10));
        assert!(!refused.allowed);
        assert_eq!(refused.reset_secs, 50);
        // Another credential has its own window.
        assert!(limiter.check_at("b", start).allowed);
        // A new window after the old one ends.
        let later = limiter.check_at("a", start + Duration::from_secs(61));
        assert!(later.allowed);
        assert_eq!(later.remaining, 1);
    }
}
