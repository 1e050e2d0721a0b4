//! The one place where a gRPC status becomes an HTTP response: status code by
//! grpc-gateway's table, a `google.rpc.Status` JSON body with its details
//! (`@type` Any JSON decoded from `grpc-status-details-bin`), `Retry-After`
//! from RetryInfo, and the server's rate-limit metadata as headers.
//!
//! Errors the gateway raises itself (bad JSON, unknown route, body too large)
//! are built as `tonic::Status` too, so they take the same path.

use std::collections::HashMap;
use std::sync::LazyLock;
use std::time::Duration;

use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use prost::Message as _;
use prost_reflect::{DescriptorPool, DynamicMessage, SerializeOptions};
use tonic::metadata::MetadataMap;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// google.rpc.ErrorInfo domain of the errors the gateway raises itself (the
/// server's domain: clients handle one), marked with metadata `origin: gateway`.
pub const ERROR_DOMAIN: &str = "wagate.dev";
pub const ORIGIN_METADATA: (&str, &str) = ("origin", "gateway");

fn gateway_metadata() -> HashMap<String, String> {
    HashMap::from([(ORIGIN_METADATA.0.to_owned(), ORIGIN_METADATA.1.to_owned())])
}

/// The server's rate-limit metadata keys, forwarded as the same HTTP headers.
pub const RATE_LIMIT_HEADERS: [&str; 3] = [
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
];

/// google.rpc types (Status and the error details) to render `details` with.
static STATUS_POOL: LazyLock<DescriptorPool> = LazyLock::new(|| {
    DescriptorPool::decode(wagate_proto::FILE_DESCRIPTOR_SET)
        .expect("wagate-proto's descriptor set decodes")
});

/// grpc-gateway v2's `HTTPStatusFromCode` (CANCELLED is 499, "client closed
/// request", as in google/rpc/code.proto; grpc-gateway v1 used 408).
pub fn http_status(code: Code) -> StatusCode {
    let numeric = match code {
        Code::Ok => 200,
        Code::Cancelled => 499,
        Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange => 400,
        Code::Unauthenticated => 401,
        Code::PermissionDenied => 403,
        Code::NotFound => 404,
        Code::AlreadyExists | Code::Aborted => 409,
        Code::ResourceExhausted => 429,
        Code::Unimplemented => 501,
        Code::Unavailable => 503,
        Code::DeadlineExceeded => 504,
        Code::Unknown | Code::Internal | Code::DataLoss => 500,
    };
    StatusCode::from_u16(numeric).expect("valid HTTP status")
}

/// The complete HTTP error response for `status`.
pub fn error_response(status: &Status) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    copy_rate_limit_headers(status.metadata(), &mut headers);
    if let Some(seconds) = retry_after_seconds(status) {
        headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    (
        http_status(status.code()),
        headers,
        status_json(status).to_string(),
    )
        .into_response()
}

/// `google.rpc.Status` as canonical JSON: `code`, `message` and `details`
/// (each an Any with `@type`). Details of types the gateway does not know are
/// dropped rather than failing the whole body.
pub fn status_json(status: &Status) -> serde_json::Value {
    let mut details = Vec::new();
    if !status.details().is_empty() {
        match tonic_types::pb::Status::decode(status.details()) {
            Ok(decoded) => {
                for any in decoded.details {
                    if let Some(json) = any_json(&any) {
                        details.push(json);
                    }
                }
            }
            Err(err) => tracing::debug!(error = %err, "undecodable grpc-status-details-bin"),
        }
    }
    serde_json::json!({
        "code": status.code() as i32,
        "message": status.message(),
        "details": details,
    })
}

fn any_json(any: &prost_types::Any) -> Option<serde_json::Value> {
    let name = any.type_url.rsplit('/').next()?;
    let desc = STATUS_POOL.get_message_by_name(name)?;
    let message = DynamicMessage::decode(desc, any.value.as_slice()).ok()?;
    let mut json = message
        .serialize_with_options(serde_json::value::Serializer, &SerializeOptions::new())
        .ok()?;
    json.as_object_mut()?.insert(
        "@type".to_owned(),
        serde_json::Value::String(any.type_url.clone()),
    );
    // `@type` first reads better; serde_json keeps insertion order only with
    // `preserve_order`, so rebuild the object with it in front.
    let object = json.as_object()?;
    let mut ordered = serde_json::Map::with_capacity(object.len());
    ordered.insert("@type".to_owned(), object["@type"].clone());
    for (key, value) in object {
        if key != "@type" {
            ordered.insert(key.clone(), value.clone());
        }
    }
    Some(serde_json::Value::Object(ordered))
}

/// `Retry-After` seconds from a RetryInfo detail, rounded up.
pub fn retry_after_seconds(status: &Status) -> Option<u64> {
    if status.code() != Code::ResourceExhausted && status.code() != Code::Unavailable {
        return None;
    }
    let delay = status.get_details_retry_info()?.retry_delay?;
    Some(ceil_seconds(delay))
}

fn ceil_seconds(delay: Duration) -> u64 {
    delay.as_secs() + u64::from(delay.subsec_nanos() > 0)
}

/// Copies `x-ratelimit-*` metadata (from headers or trailers) to HTTP headers.
pub fn copy_rate_limit_headers(metadata: &MetadataMap, headers: &mut HeaderMap) {
    for key in RATE_LIMIT_HEADERS {
        if let Some(value) = metadata.get(key)
            && let Ok(value) = HeaderValue::from_bytes(value.as_bytes())
        {
            headers.insert(HeaderName::from_static(key), value);
        }
    }
}

/// INVALID_ARGUMENT with a BadRequest violation naming `field` (and an
/// ErrorInfo), for input the gateway cannot transcode.
pub fn bad_field(field: &str, description: impl Into<String>) -> Status {
    let description = description.into();
    let mut details = ErrorDetails::new();
    details.set_error_info("INVALID_ARGUMENT", ERROR_DOMAIN, gateway_metadata());
    details.add_bad_request_violation(field.to_owned(), description.clone());
    let message = if field.is_empty() {
        description
    } else {
        format!("{field}: {description}")
    };
    Status::with_error_details(Code::InvalidArgument, message, details)
}

/// A gateway-side error with an ErrorInfo reason (no field).
pub fn gateway_error(code: Code, reason: &str, message: impl Into<String>) -> Status {
    let mut details = ErrorDetails::new();
    details.set_error_info(reason, ERROR_DOMAIN, gateway_metadata());
    Status::with_error_details(code, message.into(), details)
}

/// Statuses for failures that are HTTP-only and have no gRPC code of their
/// own: the HTTP status is chosen here, the body stays a google.rpc.Status.
pub fn http_only_error(http: StatusCode, code: Code, reason: &str, message: &str) -> Response {
    let mut response = error_response(&gateway_error(code, reason, message));
    *response.status_mut() = http;
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_maps_by_grpc_gateways_table() {
        let table = [
            (Code::Ok, 200),
            (Code::Cancelled, 499),
            (Code::Unknown, 500),
            (Code::InvalidArgument, 400),
            (Code::DeadlineExceeded, 504),
            (Code::NotFound, 404),
            (Code::AlreadyExists, 409),
            (Code::PermissionDenied, 403),
            (Code::ResourceExhausted, 429),
            (Code::FailedPrecondition, 400),
            (Code::Aborted, 409),
            (Code::OutOfRange, 400),
            (Code::Unimplemented, 501),
            (Code::Internal, 500),
            (Code::Unavailable, 503),
            (Code::DataLoss, 500),
            (Code::Unauthenticated, 401),
        ];
        assert_eq!(table.len(), 17, "all 17 gRPC codes");
        for (code, http) in table {
            assert_eq!(http_status(code).as_u16(), http, "{code:?}");
            let response = error_response(&Status::new(code, "x"));
            assert_eq!(response.status().as_u16(), http, "{code:?}");
        }
    }

    #[test]
    fn body_is_google_rpc_status_with_typed_details() {
        let mut details = ErrorDetails::new();
        details.set_error_info("SESSION_NOT_FOUND", "wagate.dev", HashMap::new());
        details.add_bad_request_violation("name", "is required");
        details.set_retry_info(Some(Duration::from_millis(1500)));
        let status = Status::with_error_details(Code::NotFound, "no such session", details);
        let json = status_json(&status);
        assert_eq!(json["code"], 5);
        assert_eq!(json["message"], "no such session");
        let details = json["details"].as_array().unwrap();
        let by_type = |t: &str| {
            details
                .iter()
                .find(|d| d["@type"] == format!("type.googleapis.com/google.rpc.{t}"))
                .unwrap_or_else(|| panic!("{t} in {json}"))
                .clone()
        };
        assert_eq!(by_type("ErrorInfo")["reason"], "SESSION_NOT_FOUND");
        assert_eq!(by_type("ErrorInfo")["domain"], "wagate.dev");
        assert_eq!(by_type("BadRequest")["fieldViolations"][0]["field"], "name");
        assert_eq!(by_type("RetryInfo")["retryDelay"], "1.500s");
    }

    #[test]
    fn resource_exhausted_with_retry_info_sets_retry_after_rounded_up() {
        let mut details = ErrorDetails::new();
        details.set_retry_info(Some(Duration::from_millis(2100)));
        let mut status = Status::with_error_details(Code::ResourceExhausted, "slow down", details);
        status
            .metadata_mut()
            .insert("x-ratelimit-limit", "10".parse().unwrap());
        status
            .metadata_mut()
            .insert("x-ratelimit-remaining", "0".parse().unwrap());
        status
            .metadata_mut()
            .insert("x-ratelimit-reset", "3".parse().unwrap());
        let response = error_response(&status);
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        let headers = response.headers();
        assert_eq!(headers["retry-after"], "3");
        assert_eq!(headers["x-ratelimit-limit"], "10");
        assert_eq!(headers["x-ratelimit-remaining"], "0");
        assert_eq!(headers["x-ratelimit-reset"], "3");
        assert_eq!(ceil_seconds(Duration::from_secs(4)), 4);
        assert_eq!(ceil_seconds(Duration::ZERO), 0);
    }

    #[test]
    fn unknown_detail_types_are_dropped_not_fatal() {
        let any = prost_types::Any {
            type_url: "type.googleapis.com/example.Unknown".into(),
            value: vec![1, 2, 3],
        };
        let proto = tonic_types::pb::Status {
            code: 13,
            message: "boom".into(),
            details: vec![any],
        };
        let status = Status::with_details(Code::Internal, "boom", proto.encode_to_vec().into());
        let json = status_json(&status);
        assert_eq!(json["details"], serde_json::json!([]));
        assert_eq!(json["code"], 13);
    }

    #[test]
    fn bad_field_names_the_field() {
        let json = status_json(&bad_field("session.createTime", "not a timestamp"));
        assert_eq!(json["code"], 3);
        let violation = json["details"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["@type"] == "type.googleapis.com/google.rpc.BadRequest")
            .unwrap();
        assert_eq!(
            violation["fieldViolations"][0]["field"],
            "session.createTime"
        );
    }
}
