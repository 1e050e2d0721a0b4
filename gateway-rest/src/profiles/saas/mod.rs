//! The generic SaaS API (seed 002): sessions with the personal access token
//! (`X-API-Token`, wagate's admin token), messages, contacts and groups with a
//! session key (`Authorization: Bearer`), its error codes (UNAUTHORIZED,
//! SESSION_NOT_FOUND, SESSION_DISCONNECTED, VALIDATION_ERROR, RATE_LIMITED
//! with `Retry-After`, INTERNAL_ERROR), under the profile's prefix
//! (`/saas/api/v1/send-message` by default). The seed shows no bodies except
//! `messageId`: answers are `{"success": true, "data": <wagate's resource>}`.

mod routes;

use http::StatusCode;
use serde_json::{Value, json};
use tonic::Code;
use tonic_types::StatusExt as _;

use super::{Failure, FieldErrors, Flavor, Scope};

/// The profile's configuration name.
pub const NAME: &str = "saas";
/// Seed 002's paths start with `/api/v1`: its own prefix.
pub const DEFAULT_PREFIX: &str = "/saas";

pub use routes::endpoints;

pub struct Saas;

/// `{"success": false, "error": {"code", "message"}}`, with `fields` when any.
fn error(http: StatusCode, code: &str, message: &str, fields: &FieldErrors) -> (StatusCode, Value) {
    let mut body = json!({"success": false, "error": {"code": code, "message": message}});
    if !fields.is_empty() {
        body["error"]["fields"] = json!(fields);
    }
    (http, body)
}

impl Flavor for Saas {
    fn name(&self) -> &'static str {
        NAME
    }

    fn tag(&self) -> &'static str {
        "SaaS (seed 002)"
    }

    fn auth_header(&self) -> &'static str {
        "`Authorization: Bearer` (session key) or `X-API-Token` (personal access token)"
    }

    fn render_failure(&self, failure: &Failure, _: Scope) -> (StatusCode, Value) {
        let none = FieldErrors::new();
        match failure {
            Failure::Validation(fields) => error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "VALIDATION_ERROR",
                "Invalid request body or params",
                fields,
            ),
            Failure::RateLimited { .. } => error(
                StatusCode::TOO_MANY_REQUESTS,
                "RATE_LIMITED",
                "Too many requests",
                &none,
            ),
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
    let none = FieldErrors::new();
    let reason = status
        .get_details_error_info()
        .map(|info| info.reason)
        .unwrap_or_default();
    let message = status.message();
    let (http, code) = match status.code() {
        Code::Unauthenticated => {
            let message = if had_credential {
                "Invalid auth"
            } else {
                "Missing auth"
            };
            return error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", message, &none);
        }
        Code::InvalidArgument => {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "VALIDATION_ERROR",
                message,
                fields,
            );
        }
        Code::NotFound if reason == "SESSION_NOT_FOUND" => {
            (StatusCode::NOT_FOUND, "SESSION_NOT_FOUND")
        }
        Code::NotFound => (StatusCode::NOT_FOUND, "NOT_FOUND"),
        Code::FailedPrecondition if reason == "SESSION_NOT_CONNECTED" => {
            (StatusCode::CONFLICT, "SESSION_DISCONNECTED")
        }
        Code::FailedPrecondition | Code::AlreadyExists | Code::Aborted => {
            (StatusCode::CONFLICT, "CONFLICT")
        }
        Code::ResourceExhausted => (StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED"),
        Code::PermissionDenied => (StatusCode::FORBIDDEN, "FORBIDDEN"),
        Code::Unimplemented => (StatusCode::NOT_IMPLEMENTED, "NOT_IMPLEMENTED"),
        Code::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "UNAVAILABLE"),
        _ => (StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR"),
    };
    error(http, code, message, &none)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn statuses_become_the_seeds_codes() {
        let render = |status: tonic::Status| {
            let failure = Failure::Status {
                status,
                fields: FieldErrors::new(),
                had_credential: true,
            };
            let (http, body) = Saas.render_failure(&failure, Scope::Session);
            (
                http.as_u16(),
                body["error"]["code"].as_str().unwrap().to_owned(),
            )
        };
        let with_reason = |code, reason: &str| {
            let mut details = tonic_types::ErrorDetails::new();
            details.set_error_info(reason, "wagate.dev", HashMap::new());
            tonic::Status::with_error_details(code, "x", details)
        };
        assert_eq!(
            render(tonic::Status::unauthenticated("x")),
            (401, "UNAUTHORIZED".into())
        );
        assert_eq!(
            render(with_reason(Code::NotFound, "SESSION_NOT_FOUND")),
            (404, "SESSION_NOT_FOUND".into())
        );
        assert_eq!(
            render(with_reason(
                Code::FailedPrecondition,
                "SESSION_NOT_CONNECTED"
            )),
            (409, "SESSION_DISCONNECTED".into())
        );
        assert_eq!(
            render(tonic::Status::internal("x")),
            (500, "INTERNAL_ERROR".into())
        );
        let (http, _) = Saas.render_failure(
            &Failure::RateLimited {
                retry_after: 1,
                limit: 1,
            },
            Scope::Session,
        );
        assert_eq!(http, StatusCode::TOO_MANY_REQUESTS);
    }
}
