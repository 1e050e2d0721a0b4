//! OnSend (seed 000) compatibility: `GET /api/v1/status` and
//! `POST /api/v1/send` with the device's token as `Authorization: Bearer`
//! (the session's API key), its status names and its Laravel-style errors
//! (`{"message"}`, validation `errors` per field), under the profile's prefix
//! (`/onsend/api/v1/send` by default).

mod routes;

use http::StatusCode;
use serde_json::{Value, json};
use tonic::Code;
use tonic_types::StatusExt as _;

use super::{Failure, FieldErrors, Flavor, Scope};

/// The profile's configuration name.
pub const NAME: &str = "onsend";
/// Seed 000's paths start with `/api`, WasenderAPI's too: its own prefix.
pub const DEFAULT_PREFIX: &str = "/onsend";

pub use routes::endpoints;

/// Seed 000's answer when the device cannot send.
pub const NOT_CONNECTED: &str = "This device is not connected.";

pub struct OnSend;

fn message(http: StatusCode, text: &str) -> (StatusCode, Value) {
    (http, json!({ "message": text }))
}

/// Laravel's 422: the first error, "(and N more errors)", and all of them.
fn validation(fields: &FieldErrors, fallback: &str) -> (StatusCode, Value) {
    let all: Vec<&String> = fields.values().flatten().collect();
    let text = match all.split_first() {
        None => fallback.to_owned(),
        Some((first, [])) => (*first).clone(),
        Some((first, rest)) => {
            let more = rest.len();
            let noun = if more == 1 { "error" } else { "errors" };
            format!("{first} (and {more} more {noun})")
        }
    };
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        json!({"message": text, "errors": fields}),
    )
}

impl Flavor for OnSend {
    fn name(&self) -> &'static str {
        NAME
    }

    fn tag(&self) -> &'static str {
        "OnSend"
    }

    fn render_failure(&self, failure: &Failure, _: Scope) -> (StatusCode, Value) {
        match failure {
            Failure::Validation(fields) => validation(fields, "The given data was invalid."),
            Failure::RateLimited { .. } => {
                message(StatusCode::TOO_MANY_REQUESTS, "Too Many Attempts.")
            }
            Failure::Status { status, fields, .. } => status_failure(status, fields),
        }
    }
}

fn status_failure(status: &tonic::Status, fields: &FieldErrors) -> (StatusCode, Value) {
    let reason = status
        .get_details_error_info()
        .map(|info| info.reason)
        .unwrap_or_default();
    let text = status.message();
    match status.code() {
        Code::Unauthenticated => message(StatusCode::UNAUTHORIZED, "Unauthenticated."),
        Code::InvalidArgument => validation(fields, text),
        Code::ResourceExhausted => message(StatusCode::TOO_MANY_REQUESTS, "Too Many Attempts."),
        Code::FailedPrecondition if reason == "SESSION_NOT_CONNECTED" => {
            message(StatusCode::BAD_REQUEST, NOT_CONNECTED)
        }
        Code::FailedPrecondition | Code::OutOfRange | Code::AlreadyExists | Code::Aborted => {
            message(StatusCode::BAD_REQUEST, text)
        }
        Code::PermissionDenied => message(StatusCode::FORBIDDEN, text),
        Code::NotFound => message(StatusCode::NOT_FOUND, text),
        Code::Unimplemented => message(StatusCode::NOT_IMPLEMENTED, text),
        Code::Unavailable => message(StatusCode::SERVICE_UNAVAILABLE, text),
        _ => message(StatusCode::INTERNAL_SERVER_ERROR, text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_errors_read_like_laravels() {
        let mut fields = FieldErrors::new();
        fields.insert(
            "phone_number".into(),
            vec!["The phone number field is required.".into()],
        );
        fields.insert(
            "url".into(),
            vec!["The url field is required when type is image.".into()],
        );
        let (http, body) = OnSend.render_failure(&Failure::Validation(fields), Scope::Session);
        assert_eq!(http, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            body["message"],
            "The phone number field is required. (and 1 more error)"
        );
        assert_eq!(
            body["errors"]["url"][0],
            "The url field is required when type is image."
        );
        let (http, body) = OnSend.render_failure(
            &Failure::RateLimited {
                retry_after: 1,
                limit: 1,
            },
            Scope::Session,
        );
        assert_eq!(
            (http, body),
            (
                StatusCode::TOO_MANY_REQUESTS,
                json!({"message": "Too Many Attempts."})
            )
        );
    }
}
