//! WasenderAPI (seed 001) compatibility: its `/api/…` endpoints, envelopes
//! (`{"success": true, "data": …}`), error bodies and status codes, served on
//! wagate's RPCs. A WasenderAPI client changes only its base URL and tokens:
//! the personal access token is wagate's admin token, the session API key is
//! the session's own key.

mod builders;
mod directory;
mod routes;
mod shapes;

use std::sync::Arc;

use http::StatusCode;
use prost_reflect::DescriptorPool;
use serde_json::{Value, json};
use tonic::Code;
use tonic_types::StatusExt as _;

use super::{Failure, Flavor, ProfileLimits, Scope};
use crate::routes::RouteTable;

/// The profile's configuration name.
pub const NAME: &str = "wasender";
/// Seed 001's paths start with `/api` already: no prefix of its own.
pub const DEFAULT_PREFIX: &str = "";

pub use routes::endpoints;

/// Adds the WasenderAPI bindings with the gateway's request limit per
/// credential and its global cap on a session's requests in flight.
pub fn install(
    pool: &DescriptorPool,
    routes: &mut RouteTable,
    prefix: &str,
    limits: &ProfileLimits,
) -> anyhow::Result<()> {
    let state =
        Arc::new(super::per_minute_window(limits).with_concurrency(limits.concurrent_per_session));
    super::install(pool, routes, prefix, endpoints(), Arc::new(Wasender), state)
}

/// The message seed 001 answers when a send needs a connected session.
pub const NOT_CONNECTED: &str =
    "Your Whatsapp Session is not connected please connect your session first.";

pub struct Wasender;

impl Flavor for Wasender {
    fn name(&self) -> &'static str {
        NAME
    }

    fn tag(&self) -> &'static str {
        "WasenderAPI"
    }

    fn render_failure(&self, failure: &Failure, scope: Scope) -> (StatusCode, Value) {
        match failure {
            Failure::Validation(errors) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                json!({"success": false, "message": "Validation failed", "errors": errors}),
            ),
            Failure::RateLimited { retry_after, limit } => (
                StatusCode::TOO_MANY_REQUESTS,
                json!({
                    "message": format!("Too many requests. You can make {limit} requests per minute."),
                    "retry_after": retry_after,
                }),
            ),
            Failure::Status {
                status,
                fields,
                had_credential,
            } => status_failure(status, fields, *had_credential, scope),
        }
    }
}

fn status_failure(
    status: &tonic::Status,
    fields: &super::FieldErrors,
    had_credential: bool,
    scope: Scope,
) -> (StatusCode, Value) {
    // Seed 001 words some failures its own way; the rest carry our message in
    // both of the keys its pages use (`message` and `error`).
    let plain = |http: StatusCode, message: &str| {
        (
            http,
            json!({"success": false, "message": message, "error": message}),
        )
    };
    let reason = status
        .get_details_error_info()
        .map(|info| info.reason)
        .unwrap_or_default();
    match status.code() {
        Code::Unauthenticated => {
            let message = if !had_credential {
                "API key is required"
            } else if status.message().starts_with("this endpoint needs") {
                status.message()
            } else if scope == Scope::Account {
                "Invalid personal access token"
            } else {
                "Invalid API key"
            };
            (
                StatusCode::UNAUTHORIZED,
                json!({"success": false, "message": message}),
            )
        }
        Code::InvalidArgument => {
            let mut body = json!({"success": false, "message": status.message()});
            if !fields.is_empty() {
                body["errors"] = json!(fields);
            }
            (StatusCode::UNPROCESSABLE_ENTITY, body)
        }
        Code::ResourceExhausted => {
            let retry_after = crate::errors::retry_after_seconds(status).unwrap_or(60);
            (
                StatusCode::TOO_MANY_REQUESTS,
                json!({"message": status.message(), "retry_after": retry_after}),
            )
        }
        Code::FailedPrecondition if reason == "SESSION_NOT_CONNECTED" => {
            plain(StatusCode::BAD_REQUEST, NOT_CONNECTED)
        }
        Code::FailedPrecondition | Code::OutOfRange => {
            plain(StatusCode::BAD_REQUEST, status.message())
        }
        Code::PermissionDenied => plain(StatusCode::FORBIDDEN, status.message()),
        Code::NotFound => plain(StatusCode::NOT_FOUND, status.message()),
        Code::AlreadyExists | Code::Aborted => plain(StatusCode::CONFLICT, status.message()),
        Code::Unimplemented => plain(StatusCode::NOT_IMPLEMENTED, status.message()),
        Code::Unavailable => plain(StatusCode::SERVICE_UNAVAILABLE, status.message()),
        Code::DeadlineExceeded => plain(StatusCode::GATEWAY_TIMEOUT, status.message()),
        _ => plain(StatusCode::INTERNAL_SERVER_ERROR, status.message()),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use tonic_types::ErrorDetails;

    use super::*;
    use crate::profiles::FieldErrors;

    fn render(status: tonic::Status, had_credential: bool, scope: Scope) -> (u16, Value) {
        let (http, body) = Wasender.render_failure(
            &Failure::Status {
                status,
                fields: FieldErrors::new(),
                had_credential,
            },
            scope,
        );
        (http.as_u16(), body)
    }

    #[test]
    fn statuses_become_the_seeds_error_bodies() {
        assert_eq!(
            render(tonic::Status::unauthenticated("x"), false, Scope::Session),
            (
                401,
                json!({"success": false, "message": "API key is required"})
            )
        );
        assert_eq!(
            render(tonic::Status::unauthenticated("x"), true, Scope::Session),
            (401, json!({"success": false, "message": "Invalid API key"}))
        );
        assert_eq!(
            render(
                tonic::Status::not_found("no such message"),
                true,
                Scope::Session
            ),
            (
                404,
                json!({"success": false, "message": "no such message", "error": "no such message"})
            )
        );
        assert_eq!(
            render(tonic::Status::already_exists("dup"), true, Scope::Session).0,
            409
        );
        assert_eq!(
            render(tonic::Status::unimplemented("no"), true, Scope::Session).0,
            501
        );
        let mut details = ErrorDetails::new();
        details.set_error_info("SESSION_NOT_CONNECTED", "wagate.dev", HashMap::new());
        let not_connected =
            tonic::Status::with_error_details(Code::FailedPrecondition, "not connected", details);
        assert_eq!(
            render(not_connected, true, Scope::Session).1["message"],
            NOT_CONNECTED
        );
    }

    #[test]
    fn rate_limits_carry_retry_after_and_validation_lists_fields() {
        let mut details = ErrorDetails::new();
        details.set_retry_info(Some(std::time::Duration::from_millis(4200)));
        let limited =
            tonic::Status::with_error_details(Code::ResourceExhausted, "slow down", details);
        assert_eq!(
            render(limited, true, Scope::Session),
            (429, json!({"message": "slow down", "retry_after": 5}))
        );
        let (http, body) = Wasender.render_failure(
            &Failure::RateLimited {
                retry_after: 7,
                limit: 600,
            },
            Scope::Session,
        );
        assert_eq!(http, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(body["retry_after"], 7);
        let mut errors = FieldErrors::new();
        errors.insert("to".into(), vec!["The to field is required.".into()]);
        let (http, body) = Wasender.render_failure(&Failure::Validation(errors), Scope::Session);
        assert_eq!(http, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            body,
            json!({"success": false, "message": "Validation failed", "errors": {"to": ["The to field is required."]}})
        );
    }
}
