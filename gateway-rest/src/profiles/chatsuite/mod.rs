//! ChatSuite (seed 003) compatibility: `/api/send`, `/api/send-bulk`,
//! `/api/queue` and `/api/history` with its `X-API-Key` header, its
//! `{"success": …}` bodies and its `{"success": false, "error", "code"}`
//! errors, served on wagate's RPCs under the profile's prefix
//! (`/chatsuite/api/send` by default). The API key is wagate's admin token
//! (ChatSuite keys belong to the account, which owns many devices) or a
//! session's own key; `sessionId` picks the device, else the key's session,
//! else the oldest connected session.

mod routes;

use http::StatusCode;
use serde_json::{Value, json};
use tonic::Code;
use tonic_types::StatusExt as _;

use super::request::required_message;
use super::{Failure, FieldErrors, Flavor, Scope};

/// The profile's configuration name.
pub const NAME: &str = "chatsuite";
/// Seed 003's paths start with `/api`, WasenderAPI's too: its own prefix.
pub const DEFAULT_PREFIX: &str = "/chatsuite";

pub use routes::endpoints;

pub struct ChatSuite;

/// Seed 003's own wording of a missing required field.
fn required_wording(field: &str) -> Option<&'static str> {
    match field {
        "number" => Some("Phone number is required"),
        "message" => Some("Message is required"),
        "messages" => Some("Messages are required"),
        _ => None,
    }
}

fn error(http: StatusCode, code: &str, message: &str) -> (StatusCode, Value) {
    (
        http,
        json!({"success": false, "error": message, "code": code}),
    )
}

/// `VALIDATION_ERROR` naming the first offending field, as seed 003 does.
fn validation(fields: &FieldErrors, fallback: &str) -> (StatusCode, Value) {
    let Some((field, messages)) = fields.iter().next() else {
        return error(StatusCode::BAD_REQUEST, "VALIDATION_ERROR", fallback);
    };
    let message = messages.first().map_or(fallback, String::as_str);
    let message = match required_wording(field) {
        Some(wording) if message == required_message(field) => wording,
        _ => message,
    };
    let (http, mut body) = error(StatusCode::BAD_REQUEST, "VALIDATION_ERROR", message);
    body["field"] = json!(field);
    (http, body)
}

impl Flavor for ChatSuite {
    fn name(&self) -> &'static str {
        NAME
    }

    fn tag(&self) -> &'static str {
        "ChatSuite"
    }

    fn auth_header(&self) -> &'static str {
        "`X-API-Key`"
    }

    fn render_failure(&self, failure: &Failure, _: Scope) -> (StatusCode, Value) {
        match failure {
            Failure::Validation(fields) => validation(fields, "Validation failed"),
            Failure::RateLimited { retry_after, .. } => {
                let (http, mut body) = error(
                    StatusCode::TOO_MANY_REQUESTS,
                    "RATE_LIMITED",
                    "Too many requests",
                );
                body["retryAfter"] = json!(retry_after);
                (http, body)
            }
            Failure::Status {
                status,
                fields,
                had_credential,
            } => status_failure(status, fields, *had_credential),
        }
    }
}

fn status_failure(
    status: &tonic::Status,
    fields: &FieldErrors,
    had_credential: bool,
) -> (StatusCode, Value) {
    let reason = status
        .get_details_error_info()
        .map(|info| info.reason)
        .unwrap_or_default();
    let message = status.message();
    match status.code() {
        Code::Unauthenticated if !had_credential => error(
            StatusCode::UNAUTHORIZED,
            "UNAUTHORIZED",
            "API key is required",
        ),
        Code::Unauthenticated => error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", "Invalid API key"),
        Code::InvalidArgument => validation(fields, message),
        Code::ResourceExhausted => {
            let (http, mut body) = error(StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED", message);
            body["retryAfter"] = json!(crate::errors::retry_after_seconds(status).unwrap_or(60));
            (http, body)
        }
        Code::FailedPrecondition if reason == "SESSION_NOT_CONNECTED" => {
            error(StatusCode::BAD_REQUEST, "DEVICE_NOT_CONNECTED", message)
        }
        Code::FailedPrecondition | Code::OutOfRange => {
            error(StatusCode::BAD_REQUEST, "BAD_REQUEST", message)
        }
        Code::PermissionDenied => error(StatusCode::FORBIDDEN, "FORBIDDEN", message),
        Code::NotFound if reason == "SESSION_NOT_FOUND" => {
            error(StatusCode::NOT_FOUND, "DEVICE_NOT_FOUND", message)
        }
        Code::NotFound => error(StatusCode::NOT_FOUND, "NOT_FOUND", message),
        Code::AlreadyExists | Code::Aborted => error(StatusCode::CONFLICT, "CONFLICT", message),
        Code::Unimplemented => error(StatusCode::NOT_IMPLEMENTED, "NOT_IMPLEMENTED", message),
        Code::Unavailable => error(StatusCode::SERVICE_UNAVAILABLE, "UNAVAILABLE", message),
        Code::DeadlineExceeded => error(StatusCode::GATEWAY_TIMEOUT, "TIMEOUT", message),
        _ => error(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR", message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_take_the_seeds_shape_and_wording() {
        let mut fields = FieldErrors::new();
        fields.insert("number".into(), vec![required_message("number")]);
        let (http, body) = ChatSuite.render_failure(&Failure::Validation(fields), Scope::Account);
        assert_eq!(http, StatusCode::BAD_REQUEST);
        assert_eq!(
            body,
            json!({"success": false, "error": "Phone number is required", "code": "VALIDATION_ERROR", "field": "number"})
        );
        let unauthorized = Failure::Status {
            status: tonic::Status::unauthenticated("bad token"),
            fields: FieldErrors::new(),
            had_credential: true,
        };
        assert_eq!(
            ChatSuite.render_failure(&unauthorized, Scope::Account),
            (
                StatusCode::UNAUTHORIZED,
                json!({"success": false, "error": "Invalid API key", "code": "UNAUTHORIZED"})
            )
        );
        let (http, body) = ChatSuite.render_failure(
            &Failure::RateLimited {
                retry_after: 3,
                limit: 10,
            },
            Scope::Account,
        );
        assert_eq!(http, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(
            (body["code"].as_str(), body["retryAfter"].as_u64()),
            (Some("RATE_LIMITED"), Some(3))
        );
    }
}
