//! Shared pieces of the gRPC layer: the one mapping from domain errors to
//! `tonic::Status`, credentials from metadata, resource names and timestamps.

pub mod status;

pub use status::status_to_error;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tonic::metadata::MetadataMap;

use crate::error::{Error, Result};
use crate::session::model::SessionId;

/// The bearer token of a request, if it sent one.
pub fn bearer(metadata: &MetadataMap) -> Option<&str> {
    metadata
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(crate::auth::bearer_token)
}

/// Parses `sessions/{id}` from the request field `field`.
pub fn session_id(name: &str, field: &str) -> Result<SessionId> {
    let id = name
        .strip_prefix("sessions/")
        .and_then(|rest| rest.parse::<i64>().ok())
        .filter(|id| *id > 0);
    id.ok_or_else(|| {
        if name.is_empty() {
            Error::invalid_field(field, "is required (sessions/{id})")
        } else {
            Error::invalid_field(
                field,
                format!("{name:?} is not a session name (expected sessions/{{id}})"),
            )
        }
    })
}

/// Authenticates a request and checks that its caller may act on the
/// session of the resource `parse` reads from it; returns what `parse` read.
pub async fn authorize<T, R>(
    auth: &crate::auth::Authenticator,
    request: &tonic::Request<T>,
    parse: impl FnOnce() -> Result<(SessionId, R)>,
) -> Result<(SessionId, R)> {
    let principal = auth.authenticate(bearer(request.metadata())).await?;
    let (session, resource) = parse()?;
    principal.require_session(session)?;
    Ok((session, resource))
}

/// [`authorize`] for a request naming a session (`sessions/{id}`) in `field`.
pub async fn authorize_session<T>(
    auth: &crate::auth::Authenticator,
    request: &tonic::Request<T>,
    name: &str,
    field: &str,
) -> Result<SessionId> {
    authorize(auth, request, || Ok((session_id(name, field)?, ())))
        .await
        .map(|(id, ())| id)
}

pub fn session_name(id: SessionId) -> String {
    format!("sessions/{id}")
}

/// A stored time (Unix milliseconds) as a protobuf Timestamp.
pub fn timestamp(ms: i64) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: ms.div_euclid(1000),
        nanos: (ms.rem_euclid(1000) * 1_000_000) as i32,
    }
}

pub fn system_time_ms(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_millis() as i64
}

/// Page size from a request: `default` when 0, an error outside 0..=max.
pub fn page_size(value: i32, default: i64, max: i64) -> Result<i64> {
    match value {
        0 => Ok(default),
        n if n < 0 => Err(Error::invalid_field("page_size", "must not be negative")),
        n => Ok(i64::from(n).min(max)),
    }
}

/// Page tokens are the list key of the last item returned, opaque to callers.
pub fn decode_page_token(token: &str) -> Result<Option<i64>> {
    if token.is_empty() {
        return Ok(None);
    }
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .map_err(|_| Error::invalid_field("page_token", "is not a token returned by this API"))?;
    let text = String::from_utf8(bytes)
        .map_err(|_| Error::invalid_field("page_token", "is not a token returned by this API"))?;
    text.strip_prefix("k:")
        .and_then(|k| k.parse().ok())
        .map(Some)
        .ok_or_else(|| Error::invalid_field("page_token", "is not a token returned by this API"))
}

pub fn encode_page_token(key: Option<i64>) -> String {
    use base64::Engine as _;
    key.map(|k| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("k:{k}")))
        .unwrap_or_default()
}

/// A page token bound to a query (filter and order): reusing it with another
/// query is an error rather than a silently wrong page.
pub fn encode_query_page_token(key: Option<i64>, query: &str) -> String {
    encode_text_page_token(key.map(|k| k.to_string()).as_deref(), query)
}

pub fn decode_query_page_token(token: &str, query: &str) -> Result<Option<i64>> {
    decode_text_page_token(token, query)?
        .map(|key| {
            key.parse().map_err(|_| {
                Error::invalid_field("page_token", "is not a token returned by this API")
            })
        })
        .transpose()
}

/// A page token holding a text key (e.g. the last JID), bound to a query.
pub fn encode_text_page_token(key: Option<&str>, query: &str) -> String {
    use base64::Engine as _;
    key.map(|k| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(format!("t:{}:{k}", query_fingerprint(query)))
    })
    .unwrap_or_default()
}

pub fn decode_text_page_token(token: &str, query: &str) -> Result<Option<String>> {
    if token.is_empty() {
        return Ok(None);
    }
    use base64::Engine as _;
    let invalid = || Error::invalid_field("page_token", "is not a token returned by this API");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let (fingerprint, key) = text
        .strip_prefix("t:")
        .and_then(|rest| rest.split_once(':'))
        .ok_or_else(invalid)?;
    if fingerprint != query_fingerprint(query) {
        return Err(Error::invalid_field(
            "page_token",
            "belongs to a different filter or order_by; start again without a token",
        ));
    }
    Ok(Some(key.to_owned()))
}

fn query_fingerprint(query: &str) -> String {
    use sha2::Digest as _;
    hex::encode(&sha2::Sha256::digest(query.as_bytes())[..6])
}

/// Runs the domain call, logging unexpected failures once, and converts the error.
pub fn to_status(err: Error) -> tonic::Status {
    err.into()
}
