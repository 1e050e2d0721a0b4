//! The transcoding handler: route lookup → request message → gRPC call →
//! JSON (or a stream). Every failure goes through the binding's profile (by
//! default the one status → HTTP mapping in `errors`).

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use tonic::{Code, Status};

use crate::errors::{self, copy_rate_limit_headers};
use crate::http_layer::RequestId;
use crate::profile::ServeRequest;
use crate::routes::{Binding, RouteMatch, RouteTable};
use crate::streaming::{StreamFormat, stream_response};
use crate::transcode::HttpInput;
use crate::upstream::{CallMetadata, Upstream};

/// ErrorInfo reasons of the gateway's own route misses (tests tell them apart
/// from the server's NOT_FOUND by these).
pub const REASON_ROUTE_NOT_FOUND: &str = "ROUTE_NOT_FOUND";
pub const REASON_METHOD_NOT_ALLOWED: &str = "METHOD_NOT_ALLOWED";
pub const REASON_BODY_TOO_LARGE: &str = "REQUEST_BODY_TOO_LARGE";

pub struct Transcoder {
    pub table: RouteTable,
    pub upstream: Upstream,
    pub max_body_bytes: usize,
    pub sse_heartbeat: Duration,
}

pub async fn transcode(State(gateway): State<Arc<Transcoder>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let request_id = parts
        .extensions
        .get::<RequestId>()
        .map(|id| id.0.clone())
        .unwrap_or_default();
    let (binding, captures) = match gateway.table.find(&parts.method, parts.uri.path()) {
        RouteMatch::Found(binding, captures) => (binding, captures),
        RouteMatch::NotFound => {
            if let Some(profile) = gateway.table.self_serving_profile_for(parts.uri.path()) {
                return profile.render_error(&Status::not_found(format!(
                    "no API route for {} {}",
                    parts.method,
                    parts.uri.path()
                )));
            }
            return errors::http_only_error(
                StatusCode::NOT_FOUND,
                Code::NotFound,
                REASON_ROUTE_NOT_FOUND,
                &format!("no API route for {} {}", parts.method, parts.uri.path()),
            );
        }
        RouteMatch::MethodNotAllowed(allowed) => {
            let mut response = errors::http_only_error(
                StatusCode::METHOD_NOT_ALLOWED,
                Code::Unimplemented,
                REASON_METHOD_NOT_ALLOWED,
                &format!("{} is not allowed on {}", parts.method, parts.uri.path()),
            );
            let allow: Vec<&str> = allowed.iter().map(|m| m.as_str()).collect();
            if let Ok(value) = HeaderValue::from_str(&allow.join(", ")) {
                response.headers_mut().insert(header::ALLOW, value);
            }
            return response;
        }
    };
    let body = match read_body(&parts.headers, body, gateway.max_body_bytes).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    if binding.profile.serves_itself() {
        let profile = binding.profile.clone();
        return profile
            .serve(ServeRequest {
                binding,
                captures,
                query: parts.uri.query().map(str::to_owned),
                headers: parts.headers,
                body,
                upstream: gateway.upstream.clone(),
                request_id,
            })
            .await;
    }
    let input = HttpInput {
        captures: &captures,
        query: parts.uri.query(),
        body: &body,
        headers: &parts.headers,
    };
    let prepared = binding
        .profile
        .build_request(&binding, &input)
        .and_then(|message| {
            Ok((
                message,
                CallMetadata::from_headers(&parts.headers, &request_id)?,
            ))
        });
    let (message, call) = match prepared {
        Ok(prepared) => prepared,
        Err(status) => return binding.profile.render_error(&status),
    };
    if binding.is_server_streaming() {
        let format = StreamFormat::from_accept(&parts.headers);
        return match gateway
            .upstream
            .server_streaming(&binding, message, call)
            .await
        {
            Ok(stream) => stream_response(binding, stream, format, gateway.sse_heartbeat),
            Err(status) => binding.profile.render_error(&status),
        };
    }
    match gateway.upstream.unary(&binding, message, call).await {
        Ok(response) => unary_response(&binding, response),
        Err(status) => binding.profile.render_error(&status),
    }
}

fn unary_response(
    binding: &Binding,
    response: tonic::Response<prost_reflect::DynamicMessage>,
) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    copy_rate_limit_headers(response.metadata(), &mut headers);
    match binding.profile.render_response(binding, response.get_ref()) {
        Ok(json) => (headers, json).into_response(),
        Err(status) => binding.profile.render_error(&status),
    }
}

/// Reads the body up to `limit` bytes; larger bodies get 413 (checked from
/// `Content-Length` first so a large upload is refused before it is read).
async fn read_body(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<bytes::Bytes, Response> {
    let too_large = || {
        errors::http_only_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            Code::InvalidArgument,
            REASON_BODY_TOO_LARGE,
            &format!("the request body is larger than {limit} bytes"),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(too_large());
    }
    match axum::body::to_bytes(body, limit).await {
        Ok(bytes) => Ok(bytes),
        Err(err) => {
            let is_limit = std::error::Error::source(&err)
                .is_some_and(|source| source.is::<http_body_util::LengthLimitError>())
                || err.to_string().contains("length limit");
            if is_limit {
                Err(too_large())
            } else {
                Err(errors::error_response(&Status::new(
                    Code::InvalidArgument,
                    format!("cannot read the request body: {err}"),
                )))
            }
        }
    }
}
