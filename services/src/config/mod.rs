//! Layered configuration: built-in defaults, then an optional TOML file
//! (`--config`), then `WAGATE_*` environment variables, then command-line flags.
//! Everything is validated once at start with messages that name the setting.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EngineKind {
    /// Real WhatsApp through whatsapp-rust (the default).
    Whatsapp,
    /// The simulated WhatsApp network.
    Sim,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable; colours when writing to a terminal.
    Pretty,
    /// One JSON object per line.
    Json,
}

/// Settings of the simulated WhatsApp network.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SimConfig {
    /// How long each QR code is shown before it is replaced.
    #[serde(with = "duration_serde")]
    pub qr_rotation: Duration,
    /// How many QR codes are shown before linking gives up (the session expires).
    pub qr_codes: u32,
    /// How long a pair code stays valid.
    #[serde(with = "duration_serde")]
    pub pair_code_ttl: Duration,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            qr_rotation: Duration::from_secs(20),
            qr_codes: 6,
            pair_code_ttl: Duration::from_secs(180),
        }
    }
}

/// The event log.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EventsConfig {
    /// How long events are kept (then pruned).
    #[serde(with = "duration_serde")]
    pub retention: Duration,
    /// Newest events kept in memory for live subscribers.
    pub memory_events: usize,
    /// How often the log is read for events other replicas appended.
    #[serde(with = "duration_serde")]
    pub poll_interval: Duration,
    /// How often events past the retention are removed.
    #[serde(with = "duration_serde")]
    pub prune_interval: Duration,
}

impl Default for EventsConfig {
    fn default() -> Self {
        Self {
            retention: Duration::from_secs(7 * 86_400),
            memory_events: 16_384,
            poll_interval: Duration::from_millis(250),
            prune_interval: Duration::from_secs(300),
        }
    }
}

impl EventsConfig {
    pub fn log_options(&self) -> crate::event::LogOptions {
        crate::event::LogOptions {
            ring_capacity: self.memory_events,
            poll_interval: self.poll_interval,
        }
    }
}

/// Webhook delivery.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookConfig {
    /// Time allowed for one POST (connect, send, answer).
    #[serde(with = "duration_serde")]
    pub timeout: Duration,
    /// How long a delivery is retried before it is FAILED.
    #[serde(with = "duration_serde")]
    pub retry_for: Duration,
    /// First retry delay; doubles per attempt with jitter, up to `max_retry`.
    #[serde(with = "duration_serde")]
    pub first_retry: Duration,
    #[serde(with = "duration_serde")]
    pub max_retry: Duration,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(10),
            retry_for: Duration::from_secs(24 * 3600),
            first_retry: Duration::from_secs(5),
            max_retry: Duration::from_secs(3600),
        }
    }
}

/// Pacing, limits and retries of the outbound message queue.
/// Account protection (seed 001 "Rate Limits"): per-session limits on the
/// calls WhatsApp watches; 0 turns a limit off.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProtectionConfig {
    /// Group metadata queries and participant changes.
    pub groups_per_minute: u32,
    pub groups_per_day: u32,
    /// Contact and group picture lookups.
    pub pictures_per_minute: u32,
    pub pictures_per_day: u32,
    /// On-WhatsApp checks, per number.
    pub checks_per_minute: u32,
    pub checks_per_day: u32,
    /// The windows (shortened in tests).
    #[serde(with = "duration_serde")]
    pub minute_window: Duration,
    #[serde(with = "duration_serde")]
    pub day_window: Duration,
}

impl Default for ProtectionConfig {
    fn default() -> Self {
        Self {
            groups_per_minute: 10,
            groups_per_day: 500,
            pictures_per_minute: 60,
            pictures_per_day: 1_000,
            checks_per_minute: 60,
            checks_per_day: 1_000,
            minute_window: Duration::from_secs(60),
            day_window: Duration::from_secs(86_400),
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QueueConfig {
    /// Messages a session may queue per `rate_window` (seed 001: 256 a minute).
    pub rate_limit: u32,
    #[serde(with = "duration_serde")]
    pub rate_window: Duration,
    /// Messages a session may queue per `hour_window`; 0 turns the quota off
    /// (seed 003 uses 100).
    pub hourly_quota: u32,
    #[serde(with = "duration_serde")]
    pub hour_window: Duration,
    /// Messages a session may queue per `day_window`; 0 turns it off (seed 003: 1,000).
    pub daily_quota: u32,
    #[serde(with = "duration_serde")]
    pub day_window: Duration,
    /// With a session's account protection on: the least time between two sends.
    #[serde(with = "duration_serde")]
    pub protection_interval: Duration,
    /// Human-like pause (with typing or recording shown) before each message,
    /// drawn between min and max; zero max turns it off (seed 003: 5–20 s).
    #[serde(with = "duration_serde")]
    pub typing_delay_min: Duration,
    #[serde(with = "duration_serde")]
    pub typing_delay_max: Duration,
    /// Attempts before a message fails for good on transient errors.
    pub max_attempts: u32,
    /// First retry delay; doubles per attempt (with jitter) up to 5 minutes.
    #[serde(with = "duration_serde")]
    pub retry_backoff: Duration,
}

impl Default for QueueConfig {
    fn default() -> Self {
        Self {
            rate_limit: 256,
            rate_window: Duration::from_secs(60),
            hourly_quota: 0,
            hour_window: Duration::from_secs(3600),
            daily_quota: 0,
            day_window: Duration::from_secs(86_400),
            protection_interval: Duration::from_secs(5),
            typing_delay_min: Duration::ZERO,
            typing_delay_max: Duration::ZERO,
            max_attempts: 8,
            retry_backoff: Duration::from_secs(2),
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// gRPC listen address of `wagate serve`.
    pub grpc_addr: SocketAddr,
    /// `sqlite://…` or `postgres://…`; empty means `sqlite://<data_dir>/wagate.db`.
    pub database_url: String,
    /// Database of `wagate simulator`; empty means `sqlite://<data_dir>/simulator.db`.
    pub simulator_database_url: String,
    /// Where the embedded database and per-session files live.
    pub data_dir: PathBuf,
    /// The admin (account-level) token. Generated on first start when unset.
    pub admin_token: Option<String>,
    pub engine: EngineKind,
    /// WebSocket URL the whatsapp engine dials instead of WhatsApp's own
    /// (a test double, a mirror); unset for WhatsApp.
    pub whatsapp_websocket_url: Option<String>,
    /// Address of a `wagate simulator` to use with the sim engine; when unset
    /// the network runs in-process.
    pub simulator_url: Option<String>,
    /// Prometheus metrics endpoint (`GET /metrics`); unset to turn it off.
    pub metrics_addr: Option<SocketAddr>,
    /// HTTP listener of `wagate serve`: media URLs and the REST gateway; unset
    /// to turn it off.
    pub http_addr: Option<SocketAddr>,
    /// Base URL clients reach the HTTP listener at (media URLs are built on
    /// it); defaults to `http://<http_addr>`.
    pub public_url: Option<String>,
    /// Run the REST gateway in-process on the HTTP listener.
    pub gateway: bool,
    /// Compatibility APIs the gateway serves next to `/v1`: `wasender`
    /// (WasenderAPI on `/api`, the default), `chatsuite`, `prosendi`,
    /// `onsend`, `saas` (each under its own prefix; `name=/prefix` moves
    /// one); empty for none.
    pub gateway_profiles: Vec<String>,
    /// Requests one session may have in flight at once on the WasenderAPI
    /// profile (seed 001's global concurrent request limit); over it: 429.
    /// 0 for no cap.
    pub gateway_profile_concurrency: u32,
    /// Largest UploadMedia request (gRPC), above `max_request_bytes` so
    /// 100 MB documents fit.
    pub max_upload_bytes: usize,
    /// Total time to fetch a media URL.
    #[serde(with = "duration_serde")]
    pub media_fetch_timeout: Duration,
    pub queue: QueueConfig,
    pub protection: ProtectionConfig,
    pub events: EventsConfig,
    pub webhooks: WebhookConfig,
    /// Listen address of `wagate simulator`.
    pub simulator_addr: SocketAddr,
    /// Token `wagate simulator` requires from its callers, if any.
    pub simulator_token: Option<String>,
    pub log_format: LogFormat,
    /// tracing filter, e.g. `info` or `wagate=debug,info`.
    pub log_level: String,
    /// Let URLs the server calls (webhooks, proxies, media) point at private,
    /// loopback or bare-IP hosts. For development only.
    pub allow_private_urls: bool,
    /// Upper bound on draining open requests at shutdown.
    #[serde(with = "duration_serde")]
    pub shutdown_grace: Duration,
    /// Deadline of a unary request (clients may ask for less with grpc-timeout).
    #[serde(with = "duration_serde")]
    pub request_timeout: Duration,
    /// Connections are closed gracefully after this age so clients rebalance.
    #[serde(with = "duration_serde")]
    pub max_connection_age: Duration,
    /// Requests served at once across all connections.
    pub max_concurrent_requests: usize,
    /// Requests served at once on one connection.
    pub max_concurrent_requests_per_connection: usize,
    /// Largest accepted request message.
    pub max_request_bytes: usize,
    /// Pause between sessions reconnected at start.
    #[serde(with = "duration_serde")]
    pub reconnect_stagger: Duration,
    /// How long ConnectSession waits for the first QR code or the connection.
    #[serde(with = "duration_serde")]
    pub connect_wait: Duration,
    /// Database pool size.
    pub database_max_connections: u32,
    pub sim: SimConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            grpc_addr: "0.0.0.0:50051".parse().expect("valid default"),
            database_url: String::new(),
            simulator_database_url: String::new(),
            data_dir: PathBuf::from("data"),
            admin_token: None,
            engine: EngineKind::Whatsapp,
            whatsapp_websocket_url: None,
            metrics_addr: Some("0.0.0.0:9090".parse().expect("valid default")),
            http_addr: Some("0.0.0.0:8080".parse().expect("valid default")),
            public_url: None,
            gateway: true,
            gateway_profiles: vec!["wasender".to_owned()],
            gateway_profile_concurrency: wagate_gateway::DEFAULT_COMPAT_CONCURRENT_PER_SESSION,
            max_upload_bytes: 140 * 1024 * 1024,
            media_fetch_timeout: Duration::from_secs(60),
            queue: QueueConfig::default(),
            protection: ProtectionConfig::default(),
            events: EventsConfig::default(),
            webhooks: WebhookConfig::default(),
            simulator_url: None,
            simulator_addr: "0.0.0.0:50052".parse().expect("valid default"),
            simulator_token: None,
            log_format: LogFormat::Pretty,
            log_level: "info".to_owned(),
            allow_private_urls: false,
            shutdown_grace: Duration::from_secs(20),
            request_timeout: Duration::from_secs(30),
            max_connection_age: Duration::from_secs(300),
            max_concurrent_requests: 1024,
            max_concurrent_requests_per_connection: 256,
            max_request_bytes: 8 * 1024 * 1024,
            reconnect_stagger: Duration::from_millis(100),
            connect_wait: Duration::from_secs(5),
            database_max_connections: 16,
            sim: SimConfig::default(),
        }
    }
}

/// Command-line overrides (highest precedence).
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    pub engine: Option<EngineKind>,
    pub simulator_url: Option<String>,
    /// `--no-gateway`: the HTTP listener serves media URLs only.
    pub no_gateway: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid config file {path}: {message}")]
    File { path: PathBuf, message: String },
    #[error("{var}: {message}")]
    Env { var: String, message: String },
    #[error("invalid setting {setting}: {message}")]
    Invalid {
        setting: &'static str,
        message: String,
    },
}

mod env;

pub use env::{parse_duration, parse_engine};

impl Config {
    /// Loads defaults, then `file`, then the process environment, then `overrides`.
    pub fn load(
        file: Option<&std::path::Path>,
        overrides: &Overrides,
    ) -> Result<Self, ConfigError> {
        let vars: Vec<(String, String)> = std::env::vars()
            .filter(|(k, _)| k.starts_with("WAGATE_"))
            .collect();
        Self::load_from(file, &vars, overrides)
    }

    pub fn load_from(
        file: Option<&std::path::Path>,
        env: &[(String, String)],
        overrides: &Overrides,
    ) -> Result<Self, ConfigError> {
        let mut config = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.to_owned(),
                    source,
                })?;
                toml::from_str(&text).map_err(|err| ConfigError::File {
                    path: path.to_owned(),
                    message: err.to_string(),
                })?
            }
            None => Config::default(),
        };
        for (var, value) in env {
            config.apply_env(var, value)?;
        }
        if let Some(engine) = overrides.engine {
            config.engine = engine;
        }
        if let Some(url) = &overrides.simulator_url {
            config.simulator_url = Some(url.clone());
        }
        if overrides.no_gateway {
            config.gateway = false;
        }
        config.validate()?;
        Ok(config)
    }

    /// The database URL to use, with the embedded default filled in.
    pub fn effective_database_url(&self) -> String {
        self.or_embedded(&self.database_url, "wagate.db")
    }

    /// The simulator's database URL, with the embedded default filled in.
    pub fn effective_simulator_database_url(&self) -> String {
        self.or_embedded(&self.simulator_database_url, "simulator.db")
    }

    fn or_embedded(&self, url: &str, file: &str) -> String {
        if url.is_empty() {
            format!("sqlite://{}", self.data_dir.join(file).display())
        } else {
            url.to_owned()
        }
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |setting, message: &str| {
            Err(ConfigError::Invalid {
                setting,
                message: message.to_owned(),
            })
        };
        let is_database_url = |url: &str| {
            url.is_empty()
                || url.starts_with("sqlite:")
                || url.starts_with("postgres://")
                || url.starts_with("postgresql://")
        };
        if !is_database_url(&self.database_url) {
            return invalid(
                "database_url (WAGATE_DATABASE_URL)",
                "must start with sqlite:, postgres:// or postgresql://",
            );
        }
        if !is_database_url(&self.simulator_database_url) {
            return invalid(
                "simulator_database_url (WAGATE_SIMULATOR_DATABASE_URL)",
                "must start with sqlite:, postgres:// or postgresql://",
            );
        }
        if let Some(url) = &self.simulator_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return invalid(
                "simulator_url (WAGATE_SIMULATOR_URL)",
                "must be an http:// or https:// URL",
            );
        }
        if let Some(token) = &self.admin_token
            && token.len() < 16
        {
            return invalid(
                "admin_token (WAGATE_ADMIN_TOKEN)",
                "must be at least 16 characters",
            );
        }
        if self.max_concurrent_requests == 0 || self.max_concurrent_requests_per_connection == 0 {
            return invalid("max_concurrent_requests", "must be at least 1");
        }
        if self.max_request_bytes < 64 * 1024 {
            return invalid(
                "max_request_bytes (WAGATE_MAX_REQUEST_BYTES)",
                "must be at least 65536",
            );
        }
        if self.database_max_connections == 0 {
            return invalid("database_max_connections", "must be at least 1");
        }
        if self.queue.rate_limit == 0 || self.queue.rate_window.is_zero() {
            return invalid(
                "queue.rate_limit (WAGATE_QUEUE_RATE_LIMIT)",
                "must be at least 1 per a non-zero queue.rate_window",
            );
        }
        if self.protection.minute_window.is_zero() || self.protection.day_window.is_zero() {
            return invalid(
                "protection.minute_window / protection.day_window",
                "must not be zero",
            );
        }
        if self.queue.typing_delay_min > self.queue.typing_delay_max {
            return invalid(
                "queue.typing_delay_min (WAGATE_QUEUE_TYPING_DELAY_MIN)",
                "must not exceed queue.typing_delay_max",
            );
        }
        if self.queue.max_attempts == 0 {
            return invalid(
                "queue.max_attempts (WAGATE_QUEUE_MAX_ATTEMPTS)",
                "must be at least 1",
            );
        }
        if let Some(url) = &self.public_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return invalid("public_url (WAGATE_PUBLIC_URL)", "must be an http(s) URL");
        }
        if self.sim.qr_codes == 0 {
            return invalid("sim.qr_codes (WAGATE_SIM_QR_CODES)", "must be at least 1");
        }
        if self.sim.qr_rotation < Duration::from_millis(100) {
            return invalid(
                "sim.qr_rotation (WAGATE_SIM_QR_ROTATION)",
                "must be at least 100ms",
            );
        }
        for (name, value) in [
            (
                "events.poll_interval (WAGATE_EVENTS_POLL_INTERVAL)",
                self.events.poll_interval,
            ),
            (
                "events.prune_interval (WAGATE_EVENTS_PRUNE_INTERVAL)",
                self.events.prune_interval,
            ),
            (
                "events.retention (WAGATE_EVENTS_RETENTION)",
                self.events.retention,
            ),
        ] {
            if value.is_zero() {
                return invalid(name, "must be greater than zero");
            }
        }
        if self.request_timeout.is_zero() || self.shutdown_grace.is_zero() {
            return invalid(
                "request_timeout/shutdown_grace",
                "must be greater than zero",
            );
        }
        Ok(())
    }
}

mod duration_serde {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Seconds(u64),
            Text(String),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Seconds(s) => Ok(Duration::from_secs(s)),
            Raw::Text(text) => super::parse_duration(&text).map_err(serde::de::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_are_valid() {
        let config = Config::load_from(None, &[], &Overrides::default()).unwrap();
        assert_eq!(config.grpc_addr.to_string(), "0.0.0.0:50051");
        assert_eq!(config.engine, EngineKind::Whatsapp);
    }

    #[test]
    fn the_gateway_runs_unless_switched_off() {
        assert!(
            Config::load_from(None, &[], &Overrides::default())
                .unwrap()
                .gateway
        );
        let off = |vars: &[(&str, &str)], no_gateway| {
            !Config::load_from(
                None,
                &env(vars),
                &Overrides {
                    no_gateway,
                    ..Default::default()
                },
            )
            .unwrap()
            .gateway
        };
        assert!(off(&[("WAGATE_GATEWAY", "false")], false));
        // The flag wins over the environment.
        assert!(off(&[("WAGATE_GATEWAY", "true")], true));
    }

    #[test]
    fn compatibility_profiles_default_to_wasender_and_can_be_switched_off() {
        let profiles = |vars: &[(&str, &str)]| {
            Config::load_from(None, &env(vars), &Overrides::default())
                .unwrap()
                .gateway_profiles
        };
        assert_eq!(profiles(&[]), vec!["wasender".to_owned()]);
        assert!(profiles(&[("WAGATE_GATEWAY_PROFILES", "none")]).is_empty());
        assert!(profiles(&[("WAGATE_GATEWAY_PROFILES", "")]).is_empty());
        assert_eq!(
            profiles(&[("WAGATE_GATEWAY_PROFILES", " Wasender ")]),
            vec!["wasender".to_owned()]
        );
    }

    #[test]
    fn the_wasender_concurrency_cap_defaults_to_ten_and_is_configurable() {
        let cap = |vars: &[(&str, &str)]| {
            Config::load_from(None, &env(vars), &Overrides::default())
                .map(|c| c.gateway_profile_concurrency)
        };
        assert_eq!(cap(&[]).unwrap(), 10);
        assert_eq!(
            cap(&[("WAGATE_GATEWAY_PROFILE_CONCURRENCY", "3")]).unwrap(),
            3
        );
        assert_eq!(
            cap(&[("WAGATE_GATEWAY_PROFILE_CONCURRENCY", "0")]).unwrap(),
            0
        );
        let err = cap(&[("WAGATE_GATEWAY_PROFILE_CONCURRENCY", "many")]).unwrap_err();
        assert!(
            format!("{err:#}").contains("WAGATE_GATEWAY_PROFILE_CONCURRENCY"),
            "{err:#}"
        );
    }

    #[test]
    fn file_then_env_then_flags() {
        let dir = std::env::temp_dir().join(format!("wagate-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("wagate.toml");
        std::fs::write(
            &path,
            "grpc_addr = \"127.0.0.1:1\"\nshutdown_grace = \"3s\"\n[sim]\nqr_codes = 2\n",
        )
        .unwrap();
        let config = Config::load_from(
            Some(&path),
            &env(&[
                ("WAGATE_GRPC_ADDR", "127.0.0.1:2"),
                ("WAGATE_SIM_QR_ROTATION", "250ms"),
            ]),
            &Overrides {
                simulator_url: Some("http://127.0.0.1:9".into()),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(config.grpc_addr.to_string(), "127.0.0.1:2");
        assert_eq!(config.shutdown_grace, Duration::from_secs(3));
        assert_eq!(config.sim.qr_codes, 2);
        assert_eq!(config.sim.qr_rotation, Duration::from_millis(250));
        assert_eq!(config.simulator_url.as_deref(), Some("http://127.0.0.1:9"));
    }

    #[test]
    fn errors_name_the_setting() {
        let err = Config::load_from(
            None,
            &env(&[("WAGATE_GRPC_ADDR", "nope")]),
            &Overrides::default(),
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("WAGATE_GRPC_ADDR: invalid socket address"),
            "{err}"
        );
        let err = Config::load_from(
            None,
            &env(&[("WAGATE_DATABASE_URL", "mysql://x")]),
            &Overrides::default(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("WAGATE_DATABASE_URL"), "{err}");
        let err = Config::load_from(
            None,
            &env(&[("WAGATE_SHUTDOWN_GRACE", "5 fortnights")]),
            &Overrides::default(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("WAGATE_SHUTDOWN_GRACE"), "{err}");
        let dir = std::env::temp_dir().join(format!("wagate-config-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("bad.toml");
        std::fs::write(&path, "no_such_setting = 1\n").unwrap();
        let err = Config::load_from(Some(&path), &[], &Overrides::default()).unwrap_err();
        assert!(err.to_string().contains("no_such_setting"), "{err}");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("7").unwrap(), Duration::from_secs(7));
        assert!(parse_duration("x").is_err());
    }
}
