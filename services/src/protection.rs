//! Account protection (seed 001 "Rate Limits"): per-session limits on the
//! calls WhatsApp watches for abuse — group metadata and participant
//! changes, profile pictures, on-WhatsApp checks — each with a short (per
//! minute) and a long (per day) window. Counted in memory per replica.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
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
    /// with RESOURCE_EXHAUSTED and the time until they would fit.
    pub fn admit(&self, session: SessionId, call: RiskyCall, count: u32) -> Result<()> {
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
                return Err(Error::new(
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
                .with_retry_after(wait));
            }
        }
        log.extend(std::iter::repeat_n(now, count as usize));
        Ok(())
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
