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
use std::time::Duration;

use http::StatusCode;
use prost_reflect::DescriptorPool;
use serde_json::{Value, json};
use tonic::Code;
use tonic_types::StatusExt as _;

use super::{Failure, Flavor, Limiter, Scope, SharedState};
use crate::routes::RouteTable;

/// The profile's configuration name.
pub const NAME: &str = "wasender";

pub use routes::endpoints;

/// Adds the WasenderAPI bindings; `requests_per_minute` is the gateway's
/// request limit per credential on these endpoints.
pub fn install(
    pool: &DescriptorPool,
    routes: &mut RouteTable,
    requests_per_minute: u32,
) -> anyhow::Result<()> {
    let state = Arc::new(SharedState::new(Limiter::new(
        requests_per_minute,
        Duration::from_secs(60),
    )));
    super::install(pool, routes, endpoints(), Arc::new(Wasender), state)
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
