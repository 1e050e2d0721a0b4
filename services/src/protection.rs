//! Account protection (seed 001 "Rate Limits"): per-session limits on the
//! calls WhatsApp watches for abuse — group metadata and participant
//! changes, profile pictures, on-WhatsApp checks — each with a short (per
//! minute) and a long (per day) window. Counted in memory per replica.
//!
//! Each admitted call's figures (the window closest to its limit) travel
//! back as `x-ratelimit-*` response metadata through [`RateHeadersLayer`],
//! a refusal's on the error, so REST clients see the endpoint's own limit.

use std::cell::Cell;
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::config::ProtectionConfig;
use crate::error::{Code, Error, Reason, Result};
use crate::session::model::SessionId;

/// A kind of risky call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RiskyCall {
    /// Group metadata queries and participant changes.
    Groups,
    /// Contact and group pictures.
    Pictures,
    /// On-WhatsApp checks, counted per number.
    NumberChecks,
}

impl RiskyCall {
    fn describe(self) -> &'static str {
        match self {
            RiskyCall::Groups => "group metadata and participant calls",
            RiskyCall::Pictures => "profile picture lookups",
            RiskyCall::NumberChecks => "on-WhatsApp number checks",
        }
    }
}

/// The figures of a protected call's tightest window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateFigures {
    pub limit: u32,
    pub remaining: u32,
    /// Seconds until a slot frees up.
    pub reset_secs: u64,
}

impl RateFigures {
    /// The figures as `x-ratelimit-*` names and values.
    fn pairs(&self) -> [(&'static str, u64); 3] {
        [
            ("x-ratelimit-limit", self.limit.into()),
            ("x-ratelimit-remaining", self.remaining.into()),
            ("x-ratelimit-reset", self.reset_secs),
        ]
    }

    /// `err` carrying the figures as metadata (the gateway's `X-RateLimit-*`).
    pub fn attach_to(&self, err: Error) -> Error {
        self.pairs().into_iter().fold(err, |err, (key, value)| {
            err.with_metadata(key, value.to_string())
        })
    }

    /// The figures as response header values. `remaining` changes with every
    /// call, so it is never indexed: in the HPACK tables it would only evict
    /// entries that do repeat, on both ends of the connection.
    fn header_values(&self) -> impl Iterator<Item = (&'static str, http::HeaderValue)> {
        self.pairs().into_iter().map(|(key, value)| {
            let mut value = http::HeaderValue::from(value);
            value.set_sensitive(key == "x-ratelimit-remaining");
            (key, value)
        })
    }
}

/// Records an admitted call's figures for the response's `x-ratelimit-*`
/// metadata ([`RateHeadersLayer`]).
pub fn record(figures: RateFigures) {
    let _ = FIGURES.try_with(|cell| cell.set(Some(figures)));
}

fn ceil_secs(duration: Duration) -> u64 {
    duration.as_secs() + u64::from(duration.subsec_nanos() > 0)
}

tokio::task_local! {
    /// The figures of the protected calls the current request made.
    static FIGURES: Cell<Option<RateFigures>>;
}

pub struct Protection {
    config: ProtectionConfig,
    used: Mutex<HashMap<(SessionId, RiskyCall), VecDeque<Instant>>>,
}

impl Protection {
    pub fn new(config: ProtectionConfig) -> Self {
        Self {
            config,
            used: Mutex::new(HashMap::new()),
        }
    }

    fn limits(&self, call: RiskyCall) -> [(u32, Duration, &'static str); 2] {
        let c = &self.config;
        let (short, long) = match call {
            RiskyCall::Groups => (c.groups_per_minute, c.groups_per_day),
            RiskyCall::Pictures => (c.pictures_per_minute, c.pictures_per_day),
            RiskyCall::NumberChecks => (c.checks_per_minute, c.checks_per_day),
        };
        [
            (short, c.minute_window, "minute"),
            (long, c.day_window, "day"),
        ]
    }

    /// Counts `count` calls of a kind for the session, or refuses them all
    /// with RESOURCE_EXHAUSTED and the time until they would fit. The
    /// figures of the tightest window are returned (and recorded for the
    /// request's `x-ratelimit-*` metadata); None when no limit applies.
    pub fn admit(
        &self,
        session: SessionId,
        call: RiskyCall,
        count: u32,
    ) -> Result<Option<RateFigures>> {
        let now = Instant::now();
        let limits = self.limits(call);
        let longest = limits.iter().map(|l| l.1).max().unwrap_or_default();
        let mut used = self.used.lock().unwrap_or_else(|p| p.into_inner());
        let log = used.entry((session, call)).or_default();
        while log
            .front()
            .is_some_and(|t| now.duration_since(*t) >= longest)
        {
            log.pop_front();
        }
        for (limit, window, name) in limits {
            if limit == 0 {
                continue;
            }
            let in_window: Vec<&Instant> = log
                .iter()
                .filter(|t| now.duration_since(**t) < window)
                .collect();
            if in_window.len() + count as usize > limit as usize {
                // Enough of the oldest calls must age out for `count` to fit.
                let must_expire = (in_window.len() + count as usize).saturating_sub(limit as usize);
                let wait = in_window
                    .get(must_expire.saturating_sub(1))
                    .map(|t| window.saturating_sub(now.duration_since(**t)))
                    .unwrap_or(window);
                let figures = RateFigures {
                    limit,
                    remaining: 0,
                    reset_secs: ceil_secs(wait).max(1),
                };
                let err = Error::new(
                    Code::ResourceExhausted,
                    Reason::RateLimited,
                    format!(
                        "account protection: at most {limit} {} per {name} ({} s) for a session, to keep the \
                         WhatsApp account safe; retry in {} s",
                        call.describe(),
                        window.as_secs(),
                        wait.as_secs_f64().ceil() as u64
                    ),
                )
                .with_retry_after(wait);
                return Err(figures.attach_to(err));
            }
        }
        log.extend(std::iter::repeat_n(now, count as usize));
        // The window with the fewest calls left speaks for the call.
        let figures = limits
            .iter()
            .filter(|(limit, ..)| *limit > 0)
            .map(|&(limit, window, _)| {
                let in_window: Vec<&Instant> = log
                    .iter()
                    .filter(|t| now.duration_since(**t) < window)
                    .collect();
                let oldest = in_window.first().map_or(now, |t| **t);
                RateFigures {
                    limit,
                    remaining: limit.saturating_sub(in_window.len() as u32),
                    reset_secs: ceil_secs(window.saturating_sub(now.duration_since(oldest))),
                }
            })
            .min_by_key(|f| (f.remaining, std::cmp::Reverse(f.reset_secs)));
        if let Some(figures) = figures {
            record(figures);
        }
        Ok(figures)
    }
}

/// Adds the `x-ratelimit-*` figures of the protected calls a request made
/// to its response (gRPC initial metadata), unless the handler set its own.
#[derive(Clone, Copy, Debug, Default)]
pub struct RateHeadersLayer;

impl<S> tower::Layer<S> for RateHeadersLayer {
    type Service = RateHeaders<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RateHeaders { inner }
    }
}

#[derive(Clone, Debug)]
pub struct RateHeaders<S> {
    inner: S,
}

impl<S, Request, Body> tower::Service<Request> for RateHeaders<S>
where
    S: tower::Service<Request, Response = http::Response<Body>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future =
        Pin<Box<dyn Future<Output = std::result::Result<Self::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<std::result::Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let future = self.inner.call(request);
        Box::pin(FIGURES.scope(Cell::new(None), async move {
            let mut response = future.await?;
            if let Some(figures) = FIGURES.with(Cell::get)
                && !response.headers().contains_key("x-ratelimit-limit")
            {
                for (key, value) in figures.header_values() {
                    response.headers_mut().insert(key, value);
                }
            }
            Ok(response)
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> ProtectionConfig {
        ProtectionConfig {
            groups_per_minute: 2,
            groups_per_day: 3,
            checks_per_minute: 5,
            ..ProtectionConfig::default()
        }
    }

    #[test]
    fn short_window_then_long_window_refuse() {
        let protection = Protection::new(config());
        protection.admit(1, RiskyCall::Groups, 1).unwrap();
        protection.admit(1, RiskyCall::Groups, 1).unwrap();
        let err = protection.admit(1, RiskyCall::Groups, 1).unwrap_err();
        assert_eq!(err.code, Code::ResourceExhausted);
        assert!(err.to_string().contains("at most 2"), "{err}");
        // Other sessions and other kinds are counted apart.
        protection.admit(2, RiskyCall::Groups, 1).unwrap();
        protection.admit(1, RiskyCall::Pictures, 1).unwrap();
    }

    #[test]
    fn figures_follow_the_tightest_window_and_refusals_carry_them() {
        let protection = Protection::new(config());
        // Groups: 2 per minute, 3 per day; the minute is tighter.
        let first = protection.admit(1, RiskyCall::Groups, 1).unwrap().unwrap();
        assert_eq!((first.limit, first.remaining, first.reset_secs), (2, 1, 60));
        let second = protection.admit(1, RiskyCall::Groups, 1).unwrap().unwrap();
        assert_eq!((second.limit, second.remaining), (2, 0));
        let err = protection.admit(1, RiskyCall::Groups, 1).unwrap_err();
        let metadata: HashMap<_, _> = err.metadata.iter().cloned().collect();
        assert_eq!(metadata["x-ratelimit-limit"], "2");
        assert_eq!(metadata["x-ratelimit-remaining"], "0");
        let reset: u64 = metadata["x-ratelimit-reset"].parse().unwrap();
        assert!((1..=60).contains(&reset), "{reset}");
        // No limits: no figures.
        let open = Protection::new(ProtectionConfig {
            pictures_per_minute: 0,
            pictures_per_day: 0,
            ..ProtectionConfig::default()
        });
        assert_eq!(open.admit(1, RiskyCall::Pictures, 1).unwrap(), None);
    }

    #[tokio::test]
    async fn the_layer_puts_a_requests_figures_on_its_response() {
        use tower::{Layer as _, ServiceExt as _};
        let protection = std::sync::Arc::new(Protection::new(config()));
        let inner = tower::service_fn(move |_: ()| {
            let protection = protection.clone();
            async move {
                protection.admit(9, RiskyCall::Groups, 1)?;
                Ok::<_, Error>(http::Response::new(()))
            }
        });
        let service = RateHeadersLayer.layer(inner);
        let response = service.clone().oneshot(()).await.unwrap();
        assert_eq!(response.headers()["x-ratelimit-limit"], "2");
        assert_eq!(response.headers()["x-ratelimit-remaining"], "1");
        let response = service.oneshot(()).await.unwrap();
        assert_eq!(response.headers()["x-ratelimit-remaining"], "0");
    }

    #[test]
    fn counts_many_at_once_and_refuses_all_when_they_do_not_fit() {
        let protection = Protection::new(config());
        protection.admit(1, RiskyCall::NumberChecks, 4).unwrap();
        let err = protection.admit(1, RiskyCall::NumberChecks, 2).unwrap_err();
        assert!(err.to_string().contains("at most 5"), "{err}");
        // The refused call consumed nothing: one more still fits.
        protection.admit(1, RiskyCall::NumberChecks, 1).unwrap();
    }

    #[test]
    fn windows_expire() {
        let protection = Protection::new(ProtectionConfig {
            groups_per_minute: 1,
            minute_window: Duration::from_millis(30),
            ..ProtectionConfig::default()
        });
        protection.admit(1, RiskyCall::Groups, 1).unwrap();
        assert!(protection.admit(1, RiskyCall::Groups, 1).is_err());
        std::thread::sleep(Duration::from_millis(40));
        protection.admit(1, RiskyCall::Groups, 1).unwrap();
    }
}
