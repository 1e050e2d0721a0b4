//! Cross-cutting HTTP behaviour around every gateway route: the request id
//! (taken from `X-Request-Id` or generated, echoed, logged, forwarded), CORS
//! by allow-list (off unless origins are configured), and one log line per
//! request.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};

/// The request's id, as an extension for handlers.
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Which browser origins may call the API. Empty: CORS off (no headers, and
/// preflight requests are not answered specially).
#[derive(Clone, Debug, Default)]
pub struct CorsOptions {
    /// Exact origins such as `https://app.example.com`, or `*` for any.
    pub allowed_origins: Vec<String>,
    /// How long browsers may cache a preflight answer.
    pub max_age_seconds: u32,
}

impl CorsOptions {
    fn allows(&self, origin: &str) -> bool {
        self.allowed_origins
            .iter()
            .any(|allowed| allowed == "*" || allowed.eq_ignore_ascii_case(origin))
    }
}

const CORS_ALLOW_HEADERS: &str = "authorization, content-type, x-api-key, x-api-token, x-request-id, \
     x-request-timeout, grpc-timeout, last-event-id";
const CORS_EXPOSE_HEADERS: &str =
    "x-request-id, retry-after, x-ratelimit-limit, x-ratelimit-remaining, x-ratelimit-reset";
const CORS_ALLOW_METHODS: &str = "GET, POST, PUT, PATCH, DELETE";

pub struct LayerState {
    pub cors: CorsOptions,
}

pub async fn around_request(
    State(state): State<Arc<LayerState>>,
    mut request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let request_id = request
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|id| is_acceptable_request_id(id))
        .map(str::to_owned)
        .unwrap_or_else(new_request_id);
    let origin = request
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let method = request.method().clone();
    let path = request.uri().path().to_owned();

    let cors_on = !state.cors.allowed_origins.is_empty();
    let allowed_origin = origin.filter(|o| cors_on && state.cors.allows(o));
    let is_preflight = cors_on
        && method == Method::OPTIONS
        && request
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);

    let mut response = if is_preflight {
        preflight(allowed_origin.is_some(), state.cors.max_age_seconds)
    } else {
        request
            .extensions_mut()
            .insert(RequestId(request_id.clone()));
        next.run(request).await
    };

    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        headers.insert(REQUEST_ID_HEADER, value);
    }
    if let Some(origin) = &allowed_origin {
        add_cors_headers(headers, origin, &state.cors);
    }
    let status = response.status();
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    if status.is_server_error() {
        tracing::warn!(request_id, %method, path, status = status.as_u16(), elapsed_ms, "request failed");
    } else {
        tracing::debug!(request_id, %method, path, status = status.as_u16(), elapsed_ms, "request");
    }
    response
}

fn preflight(allowed: bool, max_age: u32) -> Response {
    let mut response = Response::new(axum::body::Body::empty());
    if allowed {
        *response.status_mut() = StatusCode::NO_CONTENT;
        let headers = response.headers_mut();
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static(CORS_ALLOW_METHODS),
        );
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static(CORS_ALLOW_HEADERS),
        );
        headers.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from(max_age));
    } else {
        *response.status_mut() = StatusCode::FORBIDDEN;
    }
    response
}

fn add_cors_headers(headers: &mut HeaderMap, origin: &str, cors: &CorsOptions) {
    let any = cors.allowed_origins.iter().any(|o| o == "*");
    let value = if any {
        HeaderValue::from_static("*")
    } else {
        match HeaderValue::from_str(origin) {
            Ok(value) => value,
            Err(_) => return,
        }
    };
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
    headers.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(CORS_EXPOSE_HEADERS),
    );
    if !any {
        headers.append(header::VARY, HeaderValue::from_static("origin"));
    }
}

fn is_acceptable_request_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_graphic())
}

fn new_request_id() -> String {
    format!("{:032x}", rand::random::<u128>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_validated_or_generated() {
        assert!(is_acceptable_request_id("abc-123"));
        assert!(!is_acceptable_request_id(""));
        assert!(!is_acceptable_request_id("has space"));
        assert!(!is_acceptable_request_id(&"x".repeat(129)));
        let id = new_request_id();
        assert_eq!(id.len(), 32);
        assert_ne!(id, new_request_id());
    }

    #[test]
    fn cors_allow_list() {
        let cors = CorsOptions {
            allowed_origins: vec!["https://app.example".into()],
            max_age_seconds: 600,
        };
        assert!(cors.allows("https://app.example"));
        assert!(!cors.allows("https://evil.example"));
        let any = CorsOptions {
            allowed_origins: vec!["*".into()],
            max_age_seconds: 600,
        };
        assert!(any.allows("https://whatever"));
    }
}
