//! Limits on queuing messages, checked when a send is accepted: the per-session
//! rate limit (API calls per window, kept in memory per replica) and the
//! optional hourly and daily quotas (messages, counted in the store so they
//! hold across restarts and replicas).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::config::QueueConfig;
use crate::error::{Code, Error, Reason, Result};
use crate::protection::{RateFigures, record};
use crate::session::model::SessionId;
use crate::store::{Store, now_ms};

pub struct Limits {
    config: QueueConfig,
    calls: Mutex<HashMap<SessionId, VecDeque<Instant>>>,
}

fn rate_limited(message: String, retry_after: Duration) -> Error {
    Error::new(Code::ResourceExhausted, Reason::RateLimited, message).with_retry_after(retry_after)
}

impl Limits {
    pub fn new(config: QueueConfig) -> Self {
        Self {
            config,
            calls: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one send call against the session's rate limit; the figures
    /// go to the response's `x-ratelimit-*` metadata.
    pub fn admit_call(&self, session: SessionId) -> Result<RateFigures> {
        let now = Instant::now();
        let window = self.config.rate_window;
        let limit = self.config.rate_limit;
        let mut calls = self.calls.lock().unwrap_or_else(|p| p.into_inner());
        let log = calls.entry(session).or_default();
        while log
            .front()
            .is_some_and(|t| now.duration_since(*t) >= window)
        {
            log.pop_front();
        }
        let reset = |log: &VecDeque<Instant>| {
            log.front()
                .map(|first| window.saturating_sub(now.duration_since(*first)))
                .unwrap_or(window)
        };
        if log.len() >= limit as usize {
            let wait = reset(log);
            let status = RateFigures {
                limit,
                remaining: 0,
                reset_secs: wait.as_secs_f64().ceil() as u64,
            };
            let err = rate_limited(
                format!(
                    "rate limit reached: at most {limit} send requests per {} s for a session; retry in {} s",
                    window.as_secs(),
                    status.reset_secs
                ),
                wait,
            );
            return Err(status.attach_to(err));
        }
        log.push_back(now);
        let figures = RateFigures {
            limit,
            remaining: limit - log.len() as u32,
            reset_secs: reset(log).as_secs_f64().ceil() as u64,
        };
        record(figures);
        Ok(figures)
    }

    /// Checks that `count` more messages fit the session's hourly and daily quotas.
    pub async fn check_quotas(
        &self,
        store: &Store,
        session: SessionId,
        count: usize,
    ) -> Result<()> {
        let quotas = [
            (self.config.hourly_quota, self.config.hour_window, "hourly"),
            (self.config.daily_quota, self.config.day_window, "daily"),
        ];
        for (quota, window, name) in quotas {
            if quota == 0 {
                continue;
            }
            let since = now_ms() - window.as_millis() as i64;
            let used = Box::pin(store.count_outbound_since(session, since)).await?;
            if used + count as i64 > i64::from(quota) {
                let err = rate_limited(
                    format!(
                        "{name} quota reached: {used} of {quota} messages queued in the last {} s",
                        window.as_secs()
                    ),
                    // The oldest message in the window ages out within the window at most.
                    window.min(Duration::from_secs(3600)),
                )
                .with_metadata("quota", name)
                .with_metadata("quota_limit", quota.to_string())
                .with_metadata("quota_used", used.to_string());
                return Err(err);
            }
        }
        Ok(())
    }

    /// Forgets a session's counters (deleted session).
    pub fn forget(&self, session: SessionId) {
        self.calls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&session);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_admits_the_limit_then_refuses_with_retry_info() {
        let limits = Limits::new(QueueConfig {
            rate_limit: 3,
            rate_window: Duration::from_secs(60),
            ..QueueConfig::default()
        });
        let remaining: Vec<u32> = (0..3)
            .map(|_| limits.admit_call(1).unwrap().remaining)
            .collect();
        assert_eq!(remaining, [2, 1, 0]);
        let refused = limits.admit_call(1).unwrap_err();
        assert_eq!(refused.code, Code::ResourceExhausted);
        assert!(
            refused
                .retry_after
                .is_some_and(|d| d <= Duration::from_secs(60))
        );
        assert!(
            refused
                .metadata
                .contains(&("x-ratelimit-remaining".into(), "0".into()))
        );
        // Other sessions have their own window.
        assert_eq!(limits.admit_call(2).unwrap().remaining, 2);
    }
}
