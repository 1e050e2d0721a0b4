//! Prosendi (seed 004) compatibility: `/api/whatsapp/devices` (devices are
//! wagate sessions), `/api/whatsapp/send` and `/send-bulk`, with its
//! `X-API-Key` header and error codes, under the profile's prefix
//! (`/prosendi/api/whatsapp/send` by default). The API key is wagate's admin
//! token (Prosendi keys belong to the company) or, for sends, a session's own
//! key. The seed shows no bodies, only their fields, so the envelope is
//! `{"success": true, "data": …}` and errors `{"success": false, "error":
//! {"code", "message"}}` with its codes.

mod routes;

use http::StatusCode;
use serde_json::{Value, json};
use tonic::Code;
use tonic_types::StatusExt as _;

use super::{Failure, FieldErrors, Flavor, Scope};

/// The profile's configuration name.
pub const NAME: &str = "prosendi";
/// Seed 004's paths start with `/api`, WasenderAPI's too: its own prefix.
pub const DEFAULT_PREFIX: &str = "/prosendi";

pub use routes::endpoints;

pub struct Prosendi;

/// A failure body: `{"success": false, "error": {"code", "message"}}`.
pub fn error(http: StatusCode, code: &str, message: &str) -> (StatusCode, Value) {
    (
        http,
        json!({"success": false, "error": {"code": code, "message": message}}),
    )
}

/// 422 with the field errors; a bad recipient is seed 004's
/// `invalid_phone_number`, anything else `validation_error`.
fn validation(fields: &FieldErrors, message: &str) -> (StatusCode, Value) {
    let code = if fields.keys().any(|f| f.ends_with("recipient")) {
        "invalid_phone_number"
    } else {
        "validation_error"
    };
    let (http, mut body) = error(StatusCode::UNPROCESSABLE_ENTITY, code, message);
    body["errors"] = json!(fields);
    (http, body)
}

impl Flavor for Prosendi {
    fn name(&self) -> &'static str {
        NAME
    }

    fn tag(&self) -> &'static str {
        "Prosendi"
    }

    fn auth_header(&self) -> &'static str {
        "`X-API-Key`"
    }

    fn render_failure(&self, failure: &Failure, _: Scope) -> (StatusCode, Value) {
        match failure {
            Failure::Validation(fields) => validation(fields, "The given data was invalid."),
            Failure::RateLimited { retry_after, .. } => {
                let (http, mut body) = error(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate_limited",
                    "Too many requests",
                );
                body["retry_after"] = json!(retry_after);
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
            "invalid_api_key",
            "API key is required",
        ),
        Code::Unauthenticated => error(
            StatusCode::UNAUTHORIZED,
            "invalid_api_key",
            "Invalid API key",
        ),
        Code::InvalidArgument => validation(fields, message),
        // The server's send quota and rate limits.
        Code::ResourceExhausted => {
            let (http, mut body) = error(StatusCode::TOO_MANY_REQUESTS, "quota_exceeded", message);
            body["retry_after"] = json!(crate::errors::retry_after_seconds(status).unwrap_or(60));
            (http, body)
        }
        Code::FailedPrecondition if reason == "SESSION_NOT_CONNECTED" => {
            error(StatusCode::SERVICE_UNAVAILABLE, "device_not_ready", message)
        }
        Code::FailedPrecondition | Code::OutOfRange | Code::AlreadyExists | Code::Aborted => {
            error(StatusCode::BAD_REQUEST, "bad_request", message)
        }
        Code::PermissionDenied => error(StatusCode::FORBIDDEN, "forbidden", message),
        Code::NotFound if reason == "SESSION_NOT_FOUND" => {
            error(StatusCode::NOT_FOUND, "device_not_found", message)
        }
        Code::NotFound => error(StatusCode::NOT_FOUND, "not_found", message),
        Code::Unimplemented => error(StatusCode::NOT_IMPLEMENTED, "not_implemented", message),
        Code::Unavailable => error(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message),
        _ => error(StatusCode::INTERNAL_SERVER_ERROR, "server_error", message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_use_the_seeds_codes() {
        let mut fields = FieldErrors::new();
        fields.insert("recipient".into(), vec!["bad".into()]);
        let (http, body) = Prosendi.render_failure(&Failure::Validation(fields), Scope::Account);
        assert_eq!(http, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(body["error"]["code"], "invalid_phone_number");
        let mut details = tonic_types::ErrorDetails::new();
        details.set_error_info(
            "SESSION_NOT_FOUND",
            "wagate.dev",
            std::collections::HashMap::new(),
        );
        let missing = Failure::Status {
            status: tonic::Status::with_error_details(Code::NotFound, "no session 9", details),
            fields: FieldErrors::new(),
            had_credential: true,
        };
        assert_eq!(
            Prosendi.render_failure(&missing, Scope::Account),
            (
                StatusCode::NOT_FOUND,
                json!({"success": false, "error": {"code": "device_not_found", "message": "no session 9"}})
            )
        );
    }
}
