//! `GET /media/{token}`: the public URL of uploaded and downloaded media.
//! The token is the only credential, so unknown and expired tokens answer the
//! same 404.

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::StatusCode;
use http::header::{
    CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_LENGTH, CONTENT_SECURITY_POLICY, CONTENT_TYPE,
    HeaderValue, X_CONTENT_TYPE_OPTIONS,
};

use super::MediaService;
use crate::error::Code;
use crate::store::now_ms;

pub fn router(service: MediaService) -> Router {
    Router::new()
        .route("/media/{token}", get(serve))
        .with_state(service)
}

async fn serve(State(service): State<MediaService>, Path(token): Path<String>) -> Response {
    serve_token(&service, &token).await
}

/// The response for `GET /media/{token}` (for routers that extract the token themselves).
pub async fn serve_token(service: &MediaService, token: &str) -> Response {
    let token = token.to_owned();
    if !plausible_token(&token) {
        return plain(StatusCode::NOT_FOUND, "media not found or expired\n");
    }
    let (record, content) = match service.by_token(&token).await {
        Ok(Some(found)) => found,
        Ok(None) => return plain(StatusCode::NOT_FOUND, "media not found or expired\n"),
        Err(err) if err.code == Code::Unavailable => {
            return plain(
                StatusCode::SERVICE_UNAVAILABLE,
                "storage unavailable; retry later\n",
            );
        }
        Err(_) => return plain(StatusCode::INTERNAL_SERVER_ERROR, "internal error\n"),
    };
    let max_age = (record.expire_time - now_ms()).max(0) / 1000;
    let content_type = HeaderValue::from_str(&record.mime_type)
        .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"));
    let mut response = Response::new(Body::from(content));
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, content_type);
    headers.insert(CONTENT_LENGTH, HeaderValue::from(record.size_bytes));
    if let Ok(disposition) =
        HeaderValue::from_str(&content_disposition(&record.mime_type, &record.file_name))
    {
        headers.insert(CONTENT_DISPOSITION, disposition);
    }
    if let Ok(cache) = HeaderValue::from_str(&format!("private, max-age={max_age}")) {
        headers.insert(CACHE_CONTROL, cache);
    }
    secure(headers);
    response
}

/// Tokens are 43 URL-safe base64 characters; anything else is not looked up.
fn plausible_token(token: &str) -> bool {
    (16..=128).contains(&token.len())
        && token
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
}

/// `inline` with the file name when known. Types a browser would run as a
/// page (HTML, SVG, XML) are attachments: files are user content served from
/// this server's origin.
fn content_disposition(mime_type: &str, file_name: &str) -> String {
    let essence = super::mime_essence(mime_type);
    let active = essence.contains("html")
        || essence.contains("xml")
        || essence.contains("javascript")
        || essence == "image/svg+xml";
    let kind = if active { "attachment" } else { "inline" };
    if file_name.is_empty() {
        return kind.to_owned();
    }
    let ascii: String = file_name
        .chars()
        .map(|c| {
            if (c.is_ascii_graphic() && c != '"' && c != '\\') || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut encoded = String::new();
    for byte in file_name.bytes() {
        if byte.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    format!("{kind}; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

fn secure(headers: &mut http::HeaderMap) {
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    // No scripts, whatever the file claims to be.
    headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static("sandbox"));
}

fn plain(status: StatusCode, text: &'static str) -> Response {
    let mut response = (status, text).into_response();
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    secure(headers);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dispositions() {
        assert_eq!(content_disposition("image/png", ""), "inline");
        assert_eq!(
            content_disposition("application/pdf", "report.pdf"),
            "inline; filename=\"report.pdf\"; filename*=UTF-8''report.pdf"
        );
        assert_eq!(
            content_disposition("text/plain", "naïve \"x\".txt"),
            "inline; filename=\"na_ve _x_.txt\"; filename*=UTF-8''na%C3%AFve%20%22x%22.txt"
        );
        assert!(content_disposition("text/html", "a.html").starts_with("attachment;"));
        assert!(content_disposition("image/svg+xml", "").starts_with("attachment"));
    }

    #[test]
    fn token_shapes() {
        assert!(plausible_token(
            "abcdefghijklmnopqrstuvwxyz0123456789-_ABCDE"
        ));
        assert!(!plausible_token("short"));
        assert!(!plausible_token("../../../../etc/passwd/xxxxxx"));
    }
}
