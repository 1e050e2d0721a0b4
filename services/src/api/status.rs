//! The one place where a domain [`Error`] becomes a `tonic::Status` (with
//! google.rpc ErrorInfo, BadRequest, RetryInfo details), and back for the
//! simulator's gRPC client.

use std::collections::HashMap;

use tonic::Status;
use tonic_types::{ErrorDetails, StatusExt};

use crate::error::{Code, Error, Reason};

pub const ERROR_DOMAIN: &str = "wagate.dev";

fn grpc_code(code: Code) -> tonic::Code {
    match code {
        Code::InvalidArgument => tonic::Code::InvalidArgument,
        Code::Unauthenticated => tonic::Code::Unauthenticated,
        Code::PermissionDenied => tonic::Code::PermissionDenied,
        Code::NotFound => tonic::Code::NotFound,
        Code::AlreadyExists => tonic::Code::AlreadyExists,
        Code::FailedPrecondition => tonic::Code::FailedPrecondition,
        Code::ResourceExhausted => tonic::Code::ResourceExhausted,
        Code::Unavailable => tonic::Code::Unavailable,
        Code::Unimplemented => tonic::Code::Unimplemented,
        Code::OutOfRange => tonic::Code::OutOfRange,
        Code::Internal => tonic::Code::Internal,
        Code::DeadlineExceeded => tonic::Code::DeadlineExceeded,
    }
}

impl From<Error> for Status {
    fn from(err: Error) -> Self {
        let mut details = ErrorDetails::new();
        let metadata: HashMap<String, String> = err.metadata.iter().cloned().collect();
        details.set_error_info(err.reason.as_str(), ERROR_DOMAIN, metadata);
        if !err.field_violations.is_empty() {
            for violation in &err.field_violations {
                details.add_bad_request_violation(
                    violation.field.clone(),
                    violation.description.clone(),
                );
            }
        }
        if let Some(after) = err.retry_after {
            details.set_retry_info(Some(after));
        }
        let mut status = Status::with_error_details(grpc_code(err.code), err.message, details);
        // Rate-limit figures also travel as plain metadata, which the REST
        // gateway turns into `X-RateLimit-*` headers.
        for (key, value) in &err.metadata {
            if key.starts_with("x-ratelimit-")
                && let (Ok(key), Ok(value)) = (
                    tonic::metadata::MetadataKey::from_bytes(key.as_bytes()),
                    value.parse(),
                )
            {
                status.metadata_mut().insert(key, value);
            }
        }
        status
    }
}

/// Rebuilds a domain error from a status returned by a wagate peer (the
/// simulator), keeping its code and reason.
pub fn status_to_error(status: &Status) -> Error {
    let code = match status.code() {
        tonic::Code::InvalidArgument => Code::InvalidArgument,
        tonic::Code::Unauthenticated => Code::Unauthenticated,
        tonic::Code::PermissionDenied => Code::PermissionDenied,
        tonic::Code::NotFound => Code::NotFound,
        tonic::Code::AlreadyExists => Code::AlreadyExists,
        tonic::Code::FailedPrecondition => Code::FailedPrecondition,
        tonic::Code::ResourceExhausted => Code::ResourceExhausted,
        tonic::Code::Unimplemented => Code::Unimplemented,
        tonic::Code::OutOfRange => Code::OutOfRange,
        tonic::Code::DeadlineExceeded => Code::DeadlineExceeded,
        tonic::Code::Unavailable | tonic::Code::Cancelled | tonic::Code::Aborted => {
            Code::Unavailable
        }
        _ => Code::Internal,
    };
    use tonic_types::StatusExt;
    let known = status
        .get_details_error_info()
        .filter(|info| info.domain == ERROR_DOMAIN)
        .and_then(|info| Reason::from_name(&info.reason));
    let reason = match code {
        _ if known.is_some() => known.unwrap_or(Reason::Internal),
        Code::NotFound => Reason::NotFound,
        Code::AlreadyExists => Reason::AlreadyExists,
        Code::Unavailable => Reason::NotReady,
        Code::InvalidArgument => Reason::InvalidArgument,
        _ => Reason::WhatsappError,
    };
    Error::new(code, reason, status.message().to_owned())
}
