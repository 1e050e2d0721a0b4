//! Server-streaming RPCs over HTTP: newline-delimited JSON (`{"result": …}`
//! per message, a final `{"error": …}` on failure, as grpc-gateway does) or
//! Server-Sent Events on `Accept: text/event-stream` (the message's `cursor`
//! as the event id, so `Last-Event-ID` resumes; comment heartbeats while idle).
//!
//! The HTTP body owns the gRPC stream: when the client disconnects, hyper
//! drops the body, which drops the stream and cancels the call upstream.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, header};
use prost_reflect::{DynamicMessage, Kind, ReflectMessage as _, Value};
use tonic::{Status, Streaming};

use crate::errors::{copy_rate_limit_headers, status_json};
use crate::routes::Binding;

/// The response message field used as the SSE event id.
pub const CURSOR_FIELD: &str = "cursor";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamFormat {
    NdJson,
    ServerSentEvents,
}

impl StreamFormat {
    pub fn from_accept(headers: &HeaderMap) -> Self {
        let wants_sse = headers
            .get_all(header::ACCEPT)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| v.contains("text/event-stream"));
        if wants_sse {
            Self::ServerSentEvents
        } else {
            Self::NdJson
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Self::NdJson => "application/x-ndjson",
            Self::ServerSentEvents => "text/event-stream",
        }
    }
}

struct StreamState {
    binding: Arc<Binding>,
    inner: Streaming<DynamicMessage>,
    format: StreamFormat,
    heartbeat: Duration,
    finished: bool,
}

/// A 200 response whose body relays the gRPC stream.
pub fn stream_response(
    binding: Arc<Binding>,
    response: tonic::Response<Streaming<DynamicMessage>>,
    format: StreamFormat,
    heartbeat: Duration,
) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    // Tell nginx-style proxies not to buffer the stream.
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    copy_rate_limit_headers(response.metadata(), &mut headers);
    let state = StreamState {
        binding,
        inner: response.into_inner(),
        format,
        heartbeat,
        finished: false,
    };
    let body = futures::stream::unfold(state, next_chunk);
    (headers, Body::from_stream(body)).into_response()
}

async fn next_chunk(
    mut state: StreamState,
) -> Option<(Result<Bytes, std::convert::Infallible>, StreamState)> {
    if state.finished {
        return None;
    }
    let next = match state.format {
        StreamFormat::ServerSentEvents => {
            // `Streaming::message` is cancel-safe: a timed-out wait loses nothing.
            match tokio::time::timeout(state.heartbeat, state.inner.message()).await {
                Ok(next) => next,
                Err(_) => return Some((Ok(Bytes::from_static(b": heartbeat\n\n")), state)),
            }
        }
        StreamFormat::NdJson => state.inner.message().await,
    };
    let chunk = match next {
        Ok(Some(message)) => match state
            .binding
            .profile
            .render_response(&state.binding, &message)
        {
            Ok(json) => frame_result(state.format, &message, &json),
            Err(status) => {
                state.finished = true;
                frame_error(state.format, &status)
            }
        },
        Ok(None) => return None,
        Err(status) => {
            state.finished = true;
            frame_error(state.format, &status)
        }
    };
    Some((Ok(chunk), state))
}

fn frame_result(format: StreamFormat, message: &DynamicMessage, json: &[u8]) -> Bytes {
    match format {
        StreamFormat::NdJson => {
            let mut line = Vec::with_capacity(json.len() + 12);
            line.extend_from_slice(b"{\"result\":");
            line.extend_from_slice(json);
            line.extend_from_slice(b"}\n");
            line.into()
        }
        StreamFormat::ServerSentEvents => {
            let mut event = Vec::with_capacity(json.len() + 32);
            if let Some(cursor) = event_cursor(message) {
                event.extend_from_slice(format!("id: {cursor}\n").as_bytes());
            }
            // JSON from serde_json has no raw newlines, so one data line suffices.
            event.extend_from_slice(b"data: ");
            event.extend_from_slice(json);
            event.extend_from_slice(b"\n\n");
            event.into()
        }
    }
}

fn frame_error(format: StreamFormat, status: &Status) -> Bytes {
    let error = status_json(status);
    match format {
        StreamFormat::NdJson => format!("{}\n", serde_json::json!({ "error": error })).into(),
        StreamFormat::ServerSentEvents => format!("event: error\ndata: {error}\n\n").into(),
    }
}

/// The message's int64 `cursor` field, when it has one.
pub fn event_cursor(message: &DynamicMessage) -> Option<i64> {
    let field = message.descriptor().get_field_by_name(CURSOR_FIELD)?;
    if !matches!(field.kind(), Kind::Int64) || field.is_list() {
        return None;
    }
    match message.get_field(&field).as_ref() {
        Value::I64(cursor) => Some(*cursor),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event_message(cursor: i64) -> DynamicMessage {
        let pool =
            prost_reflect::DescriptorPool::decode(wagate_proto::FILE_DESCRIPTOR_SET).unwrap();
        let desc = pool
            .get_message_by_name("wagate.v1.SubscribeEventsResponse")
            .unwrap();
        let mut message = DynamicMessage::new(desc);
        message.set_field_by_name("cursor", Value::I64(cursor));
        message
    }

    #[test]
    fn frames_ndjson_lines_and_sse_events_with_cursor_ids() {
        let message = event_message(42);
        let json = br#"{"cursor":"42"}"#;
        assert_eq!(
            frame_result(StreamFormat::NdJson, &message, json),
            Bytes::from_static(b"{\"result\":{\"cursor\":\"42\"}}\n")
        );
        assert_eq!(
            frame_result(StreamFormat::ServerSentEvents, &message, json),
            Bytes::from_static(b"id: 42\ndata: {\"cursor\":\"42\"}\n\n")
        );
        let error = frame_error(StreamFormat::NdJson, &Status::unavailable("bye"));
        let line: serde_json::Value = serde_json::from_slice(&error).unwrap();
        assert_eq!(line["error"]["code"], 14);
        assert_eq!(line["error"]["message"], "bye");
        let sse = frame_error(StreamFormat::ServerSentEvents, &Status::unavailable("bye"));
        assert!(sse.starts_with(b"event: error\ndata: {"));
    }

    #[test]
    fn accept_header_chooses_the_format() {
        let mut headers = HeaderMap::new();
        assert_eq!(StreamFormat::from_accept(&headers), StreamFormat::NdJson);
        headers.insert(header::ACCEPT, "text/event-stream".parse().unwrap());
        assert_eq!(
            StreamFormat::from_accept(&headers),
            StreamFormat::ServerSentEvents
        );
    }
}
