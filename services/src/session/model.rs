//! The session domain's types, independent of transport and storage.

use std::collections::BTreeMap;

pub type SessionId = i64;

/// A session's connection status (seed 001's names).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    Connecting,
    Connected,
    Disconnected,
    NeedScan,
    LoggedOut,
    Expired,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Connecting => "connecting",
            Status::Connected => "connected",
            Status::Disconnected => "disconnected",
            Status::NeedScan => "need_scan",
            Status::LoggedOut => "logged_out",
            Status::Expired => "expired",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "connecting" => Status::Connecting,
            "connected" => Status::Connected,
            "disconnected" => Status::Disconnected,
            "need_scan" => Status::NeedScan,
            "logged_out" => Status::LoggedOut,
            "expired" => Status::Expired,
            _ => return None,
        })
    }

    /// Statuses in which a connection runtime is (or should be) alive.
    pub fn is_live(self) -> bool {
        matches!(
            self,
            Status::Connecting | Status::Connected | Status::NeedScan
        )
    }
}

/// Everything a user sets on a session (seed 001's Create/Update Session).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Settings {
    pub display_name: String,
    pub phone_number: String,
    pub account_protection: bool,
    pub log_messages: bool,
    pub webhook_url: String,
    pub webhook_enabled: bool,
    pub webhook_events: Vec<String>,
    pub read_incoming_messages: bool,
    pub auto_reject_calls: bool,
    pub ignore_groups: bool,
    pub ignore_channels: bool,
    pub ignore_broadcasts: bool,
    pub proxy_url: String,
    pub always_online: bool,
    /// The JSON shape of webhook bodies.
    pub webhook_format: WebhookFormat,
    /// AIP-122 labels (compatibility profiles keep their marks here).
    pub labels: BTreeMap<String, String>,
}

/// The JSON shape of a session's webhook bodies.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum WebhookFormat {
    /// Seed 001 (WasenderAPI): every event type.
    #[default]
    Wasender,
    /// Seed 002 (the generic SaaS): its five event names, ISO-8601 times.
    Saas,
}

impl WebhookFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookFormat::Wasender => "wasender",
            WebhookFormat::Saas => "saas",
        }
    }

    /// Unknown stored names read as the default.
    pub fn parse(text: &str) -> Self {
        match text {
            "saas" => WebhookFormat::Saas,
            _ => WebhookFormat::Wasender,
        }
    }
}

/// The WhatsApp account a session is linked to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LinkedUser {
    pub jid: String,
    pub lid: String,
    pub push_name: String,
    pub phone_number: String,
}

/// A QR code currently shown by a session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QrCode {
    pub code: String,
    /// Unix milliseconds.
    pub expire_time: i64,
}

#[derive(Clone, Debug)]
pub struct Session {
    pub id: SessionId,
    pub settings: Settings,
    pub status: Status,
    pub status_reason: String,
    /// Unix milliseconds of the last status change.
    pub status_time: i64,
    pub webhook_secret: String,
    pub user: Option<LinkedUser>,
    pub qr: Option<QrCode>,
    /// Reconnect this session when the server starts.
    pub auto_connect: bool,
    pub create_time: i64,
    pub update_time: i64,
}

/// What a session log entry records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogType {
    StatusChange,
    QrIssued,
    PairCodeIssued,
    SessionRestarted,
    DeviceLinked,
    ConnectionError,
    SettingsUpdated,
    ApiKeyRegenerated,
}

impl LogType {
    pub fn as_str(self) -> &'static str {
        match self {
            LogType::StatusChange => "status_change",
            LogType::QrIssued => "qr_issued",
            LogType::PairCodeIssued => "pair_code_issued",
            LogType::SessionRestarted => "session_restarted",
            LogType::DeviceLinked => "device_linked",
            LogType::ConnectionError => "connection_error",
            LogType::SettingsUpdated => "settings_updated",
            LogType::ApiKeyRegenerated => "api_key_regenerated",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "status_change" => LogType::StatusChange,
            "qr_issued" => LogType::QrIssued,
            "pair_code_issued" => LogType::PairCodeIssued,
            "session_restarted" => LogType::SessionRestarted,
            "device_linked" => LogType::DeviceLinked,
            "connection_error" => LogType::ConnectionError,
            "settings_updated" => LogType::SettingsUpdated,
            "api_key_regenerated" => LogType::ApiKeyRegenerated,
            _ => return None,
        })
    }
}

#[derive(Clone, Debug)]
pub struct LogEntry {
    pub id: i64,
    pub session_id: SessionId,
    pub kind: LogType,
    pub status: Status,
    pub message: String,
    pub occur_time: i64,
}

/// One page of a list, with the total count.
#[derive(Clone, Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Cursor for the next page (the last item's key), if there are more.
    pub next: Option<i64>,
    pub total: i64,
}

/// A status as the API shows it.
pub fn status_pb(status: Status) -> wagate_proto::v1::SessionStatus {
    match status {
        Status::Connecting => wagate_proto::v1::SessionStatus::Connecting,
        Status::Connected => wagate_proto::v1::SessionStatus::Connected,
        Status::Disconnected => wagate_proto::v1::SessionStatus::Disconnected,
        Status::NeedScan => wagate_proto::v1::SessionStatus::NeedScan,
        Status::LoggedOut => wagate_proto::v1::SessionStatus::LoggedOut,
        Status::Expired => wagate_proto::v1::SessionStatus::Expired,
    }
}
