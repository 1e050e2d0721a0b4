//! The one error type of the domain. It carries a canonical code and the details
//! callers need (field violations, retry hints, a machine-readable reason); it is
//! turned into a `tonic::Status` in exactly one place (`api::status`).

use std::time::Duration;

/// Machine-readable reasons, the names of `wagate.v1.ErrorReason` without prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    InvalidCredentials,
    PermissionDenied,
    InvalidArgument,
    SessionNotFound,
    SessionNotConnected,
    SessionNotWaitingForScan,
    SessionStateConflict,
    NotFound,
    AlreadyExists,
    RateLimited,
    WhatsappError,
    NotReady,
    NotImplemented,
    Internal,
    NotGroupAdmin,
    NotOnWhatsapp,
    MessageStateConflict,
    CursorExpired,
}

impl Reason {
    const ALL: [Reason; 18] = [
        Reason::InvalidCredentials,
        Reason::PermissionDenied,
        Reason::InvalidArgument,
        Reason::SessionNotFound,
        Reason::SessionNotConnected,
        Reason::SessionNotWaitingForScan,
        Reason::SessionStateConflict,
        Reason::NotFound,
        Reason::AlreadyExists,
        Reason::RateLimited,
        Reason::WhatsappError,
        Reason::NotReady,
        Reason::NotImplemented,
        Reason::Internal,
        Reason::NotGroupAdmin,
        Reason::NotOnWhatsapp,
        Reason::MessageStateConflict,
        Reason::CursorExpired,
    ];

    /// The reason named `name` (as in [`Reason::as_str`]).
    pub fn from_name(name: &str) -> Option<Reason> {
        Self::ALL.into_iter().find(|r| r.as_str() == name)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Reason::InvalidCredentials => "INVALID_CREDENTIALS",
            Reason::PermissionDenied => "PERMISSION_DENIED",
            Reason::InvalidArgument => "INVALID_ARGUMENT",
            Reason::SessionNotFound => "SESSION_NOT_FOUND",
            Reason::SessionNotConnected => "SESSION_NOT_CONNECTED",
            Reason::SessionNotWaitingForScan => "SESSION_NOT_WAITING_FOR_SCAN",
            Reason::SessionStateConflict => "SESSION_STATE_CONFLICT",
            Reason::NotFound => "NOT_FOUND",
            Reason::AlreadyExists => "ALREADY_EXISTS",
            Reason::RateLimited => "RATE_LIMITED",
            Reason::WhatsappError => "WHATSAPP_ERROR",
            Reason::NotReady => "NOT_READY",
            Reason::NotImplemented => "NOT_IMPLEMENTED",
            Reason::Internal => "INTERNAL",
            Reason::NotGroupAdmin => "NOT_GROUP_ADMIN",
            Reason::NotOnWhatsapp => "NOT_ON_WHATSAPP",
            Reason::MessageStateConflict => "MESSAGE_STATE_CONFLICT",
            Reason::CursorExpired => "CURSOR_EXPIRED",
        }
    }
}

/// One invalid request field: its path in the request (`session.phone_number`)
/// and what is wrong with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldViolation {
    pub field: String,
    pub description: String,
}

impl FieldViolation {
    pub fn new(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            description: description.into(),
        }
    }
}

/// The canonical code of an error, as in google.rpc.Code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Code {
    InvalidArgument,
    Unauthenticated,
    PermissionDenied,
    NotFound,
    AlreadyExists,
    FailedPrecondition,
    ResourceExhausted,
    Unavailable,
    Unimplemented,
    Internal,
    DeadlineExceeded,
    OutOfRange,
}

impl Code {
    /// The google.rpc.Code number.
    pub fn number(self) -> i32 {
        match self {
            Code::InvalidArgument => 3,
            Code::DeadlineExceeded => 4,
            Code::NotFound => 5,
            Code::AlreadyExists => 6,
            Code::PermissionDenied => 7,
            Code::ResourceExhausted => 8,
            Code::FailedPrecondition => 9,
            Code::OutOfRange => 11,
            Code::Unimplemented => 12,
            Code::Internal => 13,
            Code::Unavailable => 14,
            Code::Unauthenticated => 16,
        }
    }
}

#[derive(Clone, Debug, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    pub code: Code,
    pub reason: Reason,
    pub message: String,
    pub field_violations: Vec<FieldViolation>,
    pub retry_after: Option<Duration>,
    /// Extra key/value pairs for google.rpc.ErrorInfo.metadata.
    pub metadata: Vec<(String, String)>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(code: Code, reason: Reason, message: impl Into<String>) -> Self {
        Self {
            code,
            reason,
            message: message.into(),
            field_violations: Vec::new(),
            retry_after: None,
            metadata: Vec::new(),
        }
    }

    /// INVALID_ARGUMENT with one violation per bad field.
    pub fn invalid(violations: Vec<FieldViolation>) -> Self {
        let message = match violations.as_slice() {
            [one] => format!("invalid {}: {}", one.field, one.description),
            many => format!(
                "invalid request: {}",
                many.iter()
                    .map(|v| format!("{}: {}", v.field, v.description))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        };
        Self {
            field_violations: violations,
            ..Self::new(Code::InvalidArgument, Reason::InvalidArgument, message)
        }
    }

    pub fn invalid_field(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self::invalid(vec![FieldViolation::new(field, description)])
    }

    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::new(Code::Unauthenticated, Reason::InvalidCredentials, message)
    }

    pub fn permission_denied(message: impl Into<String>) -> Self {
        Self::new(Code::PermissionDenied, Reason::PermissionDenied, message)
    }

    pub fn session_not_found(id: i64) -> Self {
        Self::new(
            Code::NotFound,
            Reason::SessionNotFound,
            format!("session sessions/{id} not found"),
        )
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(Code::NotFound, Reason::NotFound, message)
    }

    pub fn already_exists(message: impl Into<String>) -> Self {
        Self::new(Code::AlreadyExists, Reason::AlreadyExists, message)
    }

    pub fn precondition(reason: Reason, message: impl Into<String>) -> Self {
        Self::new(Code::FailedPrecondition, reason, message)
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(Code::Unavailable, Reason::NotReady, message)
    }

    pub fn out_of_range(reason: Reason, message: impl Into<String>) -> Self {
        Self::new(Code::OutOfRange, reason, message)
    }

    pub fn unimplemented(message: impl Into<String>) -> Self {
        Self::new(Code::Unimplemented, Reason::NotImplemented, message)
    }

    /// A failure reported by WhatsApp or the simulated network.
    pub fn whatsapp(code: Code, message: impl Into<String>) -> Self {
        Self::new(code, Reason::WhatsappError, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(Code::Internal, Reason::Internal, message)
    }

    /// Whether retrying the same operation later may succeed (the network, a
    /// dependency or a limit), as opposed to a request that will never work.
    pub fn is_transient(&self) -> bool {
        matches!(
            self.code,
            Code::Unavailable | Code::DeadlineExceeded | Code::ResourceExhausted | Code::Internal
        ) || self.reason == Reason::SessionNotConnected
    }

    pub fn with_metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.push((key.into(), value.into()));
        self
    }

    pub fn with_retry_after(mut self, after: Duration) -> Self {
        self.retry_after = Some(after);
        self
    }
}

/// A database error as callers see it: retryable when the database could not
/// be reached or was busy, internal otherwise (logged, never shown).
fn database_error(err: &dyn std::fmt::Display, transient: bool) -> Error {
    if transient {
        tracing::warn!(error = %err, "database unavailable");
        Error::unavailable("the database is unavailable; retry later")
            .with_retry_after(Duration::from_secs(1))
    } else {
        tracing::error!(error = %err, "database error");
        Error::internal("internal database error")
    }
}

/// The SQLite accept path's own connection (see `store::accept`).
impl From<rusqlite::Error> for Error {
    fn from(err: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode::{DatabaseBusy, DatabaseLocked, DiskFull, SystemIoFailure};
        let transient = matches!(
            err.sqlite_error_code(),
            Some(DatabaseBusy | DatabaseLocked | SystemIoFailure | DiskFull)
        );
        database_error(&err, transient)
    }
}

impl From<sqlx::Error> for Error {
    fn from(err: sqlx::Error) -> Self {
        let transient = matches!(
            err,
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_)
        );
        database_error(&err, transient)
    }
}
