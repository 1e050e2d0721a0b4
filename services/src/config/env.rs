//! Settings from `WAGATE_*` environment variables, and the parsers of
//! their values.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::{Config, ConfigError, EngineKind, LogFormat};

impl Config {
    pub(super) fn apply_env(&mut self, var: &str, value: &str) -> Result<(), ConfigError> {
        let err = |message: String| ConfigError::Env {
            var: var.to_owned(),
            message,
        };
        let value = value.trim();
        match var {
            "WAGATE_GRPC_ADDR" => self.grpc_addr = parse_addr(value).map_err(err)?,
            "WAGATE_DATABASE_URL" => self.database_url = value.to_owned(),
            "WAGATE_SIMULATOR_DATABASE_URL" => self.simulator_database_url = value.to_owned(),
            "WAGATE_DATA_DIR" => self.data_dir = PathBuf::from(value),
            "WAGATE_ADMIN_TOKEN" => self.admin_token = non_empty(value),
            "WAGATE_ENGINE" => self.engine = parse_engine(value).map_err(err)?,
            "WAGATE_WHATSAPP_WEBSOCKET_URL" => self.whatsapp_websocket_url = non_empty(value),
            "WAGATE_METRICS_ADDR" => {
                self.metrics_addr = match value {
                    "" | "off" | "none" => None,
                    addr => Some(parse_addr(addr).map_err(err)?),
                }
            }
            "WAGATE_HTTP_ADDR" => {
                self.http_addr = match value {
                    "" | "off" | "none" => None,
                    addr => Some(parse_addr(addr).map_err(err)?),
                }
            }
            "WAGATE_PUBLIC_URL" => self.public_url = non_empty(value.trim_end_matches('/')),
            "WAGATE_GATEWAY" => self.gateway = parse_bool(value).map_err(err)?,
            "WAGATE_GATEWAY_PROFILES" => {
                self.gateway_profiles = value
                    .split(',')
                    .map(|p| p.trim().to_ascii_lowercase())
                    .filter(|p| !p.is_empty() && p != "none")
                    .collect()
            }
            "WAGATE_GATEWAY_PROFILE_CONCURRENCY" => {
                self.gateway_profile_concurrency = parse_number(value).map_err(err)?
            }
            "WAGATE_MAX_UPLOAD_BYTES" => {
                self.max_upload_bytes = parse_number(value).map_err(err)?
            }
            "WAGATE_MEDIA_FETCH_TIMEOUT" => {
                self.media_fetch_timeout = parse_duration(value).map_err(err)?
            }
            "WAGATE_EVENTS_RETENTION" => {
                self.events.retention = parse_duration(value).map_err(err)?
            }
            "WAGATE_EVENTS_MEMORY_EVENTS" => {
                self.events.memory_events = parse_number(value).map_err(err)?
            }
            "WAGATE_EVENTS_POLL_INTERVAL" => {
                self.events.poll_interval = parse_duration(value).map_err(err)?
            }
            "WAGATE_EVENTS_PRUNE_INTERVAL" => {
                self.events.prune_interval = parse_duration(value).map_err(err)?
            }
            "WAGATE_WEBHOOKS_TIMEOUT" => {
                self.webhooks.timeout = parse_duration(value).map_err(err)?
            }
            "WAGATE_WEBHOOKS_RETRY_FOR" => {
                self.webhooks.retry_for = parse_duration(value).map_err(err)?
            }
            "WAGATE_WEBHOOKS_FIRST_RETRY" => {
                self.webhooks.first_retry = parse_duration(value).map_err(err)?
            }
            "WAGATE_WEBHOOKS_MAX_RETRY" => {
                self.webhooks.max_retry = parse_duration(value).map_err(err)?
            }
            "WAGATE_QUEUE_RATE_LIMIT" => {
                self.queue.rate_limit = parse_number(value).map_err(err)?
            }
            "WAGATE_QUEUE_RATE_WINDOW" => {
                self.queue.rate_window = parse_duration(value).map_err(err)?
            }
            "WAGATE_QUEUE_HOURLY_QUOTA" => {
                self.queue.hourly_quota = parse_number(value).map_err(err)?
            }
            "WAGATE_QUEUE_HOUR_WINDOW" => {
                self.queue.hour_window = parse_duration(value).map_err(err)?
            }
            "WAGATE_QUEUE_DAILY_QUOTA" => {
                self.queue.daily_quota = parse_number(value).map_err(err)?
            }
            "WAGATE_QUEUE_DAY_WINDOW" => {
                self.queue.day_window = parse_duration(value).map_err(err)?
            }
            "WAGATE_QUEUE_PROTECTION_INTERVAL" => {
                self.queue.protection_interval = parse_duration(value).map_err(err)?
            }
            "WAGATE_QUEUE_TYPING_DELAY_MIN" => {
                self.queue.typing_delay_min = parse_duration(value).map_err(err)?
            }
            "WAGATE_QUEUE_TYPING_DELAY_MAX" => {
                self.queue.typing_delay_max = parse_duration(value).map_err(err)?
            }
            "WAGATE_QUEUE_MAX_ATTEMPTS" => {
                self.queue.max_attempts = parse_number(value).map_err(err)?
            }
            "WAGATE_QUEUE_RETRY_BACKOFF" => {
                self.queue.retry_backoff = parse_duration(value).map_err(err)?
            }
            "WAGATE_PROTECTION_GROUPS_PER_MINUTE" => {
                self.protection.groups_per_minute = parse_number(value).map_err(err)?
            }
            "WAGATE_PROTECTION_GROUPS_PER_DAY" => {
                self.protection.groups_per_day = parse_number(value).map_err(err)?
            }
            "WAGATE_PROTECTION_PICTURES_PER_MINUTE" => {
                self.protection.pictures_per_minute = parse_number(value).map_err(err)?
            }
            "WAGATE_PROTECTION_PICTURES_PER_DAY" => {
                self.protection.pictures_per_day = parse_number(value).map_err(err)?
            }
            "WAGATE_PROTECTION_CHECKS_PER_MINUTE" => {
                self.protection.checks_per_minute = parse_number(value).map_err(err)?
            }
            "WAGATE_PROTECTION_CHECKS_PER_DAY" => {
                self.protection.checks_per_day = parse_number(value).map_err(err)?
            }
            "WAGATE_PROTECTION_MINUTE_WINDOW" => {
                self.protection.minute_window = parse_duration(value).map_err(err)?
            }
            "WAGATE_PROTECTION_DAY_WINDOW" => {
                self.protection.day_window = parse_duration(value).map_err(err)?
            }
            "WAGATE_SIMULATOR_URL" => self.simulator_url = non_empty(value),
            "WAGATE_SIMULATOR_ADDR" => self.simulator_addr = parse_addr(value).map_err(err)?,
            "WAGATE_SIMULATOR_TOKEN" => self.simulator_token = non_empty(value),
            "WAGATE_LOG_FORMAT" => self.log_format = parse_log_format(value).map_err(err)?,
            "WAGATE_LOG" | "WAGATE_LOG_LEVEL" => self.log_level = value.to_owned(),
            "WAGATE_ALLOW_PRIVATE_URLS" => {
                self.allow_private_urls = parse_bool(value).map_err(err)?
            }
            "WAGATE_SHUTDOWN_GRACE" => self.shutdown_grace = parse_duration(value).map_err(err)?,
            "WAGATE_REQUEST_TIMEOUT" => {
                self.request_timeout = parse_duration(value).map_err(err)?
            }
            "WAGATE_MAX_CONNECTION_AGE" => {
                self.max_connection_age = parse_duration(value).map_err(err)?
            }
            "WAGATE_MAX_CONCURRENT_REQUESTS" => {
                self.max_concurrent_requests = parse_number(value).map_err(err)?
            }
            "WAGATE_MAX_CONCURRENT_REQUESTS_PER_CONNECTION" => {
                self.max_concurrent_requests_per_connection = parse_number(value).map_err(err)?
            }
            "WAGATE_MAX_REQUEST_BYTES" => {
                self.max_request_bytes = parse_number(value).map_err(err)?
            }
            "WAGATE_RECONNECT_STAGGER" => {
                self.reconnect_stagger = parse_duration(value).map_err(err)?
            }
            "WAGATE_CONNECT_WAIT" => self.connect_wait = parse_duration(value).map_err(err)?,
            "WAGATE_DATABASE_MAX_CONNECTIONS" => {
                self.database_max_connections = parse_number(value).map_err(err)?
            }
            "WAGATE_SIM_QR_ROTATION" => {
                self.sim.qr_rotation = parse_duration(value).map_err(err)?
            }
            "WAGATE_SIM_QR_CODES" => self.sim.qr_codes = parse_number(value).map_err(err)?,
            "WAGATE_SIM_PAIR_CODE_TTL" => {
                self.sim.pair_code_ttl = parse_duration(value).map_err(err)?
            }
            // Variables read elsewhere (tests, tools) are not ours to reject.
            _ => {}
        }
        Ok(())
    }
}

fn non_empty(value: &str) -> Option<String> {
    (!value.is_empty()).then(|| value.to_owned())
}

fn parse_addr(value: &str) -> Result<SocketAddr, String> {
    value.parse().map_err(|_| {
        format!("invalid socket address {value:?} (expected host:port, e.g. 0.0.0.0:50051)")
    })
}

pub fn parse_engine(value: &str) -> Result<EngineKind, String> {
    match value {
        "whatsapp" => Ok(EngineKind::Whatsapp),
        "sim" => Ok(EngineKind::Sim),
        _ => Err(format!(
            "unknown engine {value:?} (expected \"whatsapp\" or \"sim\")"
        )),
    }
}

fn parse_log_format(value: &str) -> Result<LogFormat, String> {
    match value {
        "pretty" | "text" => Ok(LogFormat::Pretty),
        "json" => Ok(LogFormat::Json),
        _ => Err(format!(
            "unknown log format {value:?} (expected \"pretty\" or \"json\")"
        )),
    }
}

fn parse_bool(value: &str) -> Result<bool, String> {
    match value.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" | "" => Ok(false),
        _ => Err(format!(
            "invalid boolean {value:?} (expected true or false)"
        )),
    }
}

fn parse_number<T: std::str::FromStr>(value: &str) -> Result<T, String> {
    value
        .parse()
        .map_err(|_| format!("invalid number {value:?}"))
}

/// Parses `250ms`, `20s`, `5m`, `1h` or a plain number of seconds.
pub fn parse_duration(value: &str) -> Result<Duration, String> {
    let value = value.trim();
    let split = value
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(value.len());
    let (number, unit) = value.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("invalid duration {value:?} (expected e.g. 250ms, 20s, 5m, 1h)"))?;
    let seconds = match unit.trim() {
        "ms" => number / 1000.0,
        "" | "s" => number,
        "m" => number * 60.0,
        "h" => number * 3600.0,
        _ => {
            return Err(format!(
                "invalid duration unit in {value:?} (expected ms, s, m or h)"
            ));
        }
    };
    Ok(Duration::from_secs_f64(seconds))
}
