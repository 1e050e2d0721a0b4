//! Dynamic gRPC calls to the upstream server: a tonic codec over
//! `prost_reflect::DynamicMessage` (so any RPC in the descriptor set can be
//! called without generated code), and the metadata taken from HTTP headers.

use std::time::{Duration, Instant};

use http::HeaderMap;
use prost::Message as _;
use prost_reflect::{DynamicMessage, MessageDescriptor, MethodDescriptor};
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::metadata::{MetadataMap, MetadataValue};
use tonic::transport::Channel;
use tonic::{Code, Status, Streaming};

use crate::errors::bad_field;
use crate::routes::Binding;

/// Encodes any request message; decodes responses of one message type.
#[derive(Clone)]
pub struct DynamicCodec {
    response: MessageDescriptor,
}

impl DynamicCodec {
    pub fn new(response: MessageDescriptor) -> Self {
        Self { response }
    }
}

impl Codec for DynamicCodec {
    type Encode = DynamicMessage;
    type Decode = DynamicMessage;
    type Encoder = DynamicEncoder;
    type Decoder = DynamicDecoder;

    fn encoder(&mut self) -> Self::Encoder {
        DynamicEncoder
    }

    fn decoder(&mut self) -> Self::Decoder {
        DynamicDecoder(self.response.clone())
    }
}

pub struct DynamicEncoder;

impl Encoder for DynamicEncoder {
    type Item = DynamicMessage;
    type Error = Status;

    fn encode(&mut self, item: DynamicMessage, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        item.encode(dst)
            .map_err(|err| Status::internal(format!("encoding the request: {err}")))
    }
}

pub struct DynamicDecoder(MessageDescriptor);

impl Decoder for DynamicDecoder {
    type Item = DynamicMessage;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<DynamicMessage>, Status> {
        DynamicMessage::decode(self.0.clone(), src)
            .map(Some)
            .map_err(|err| Status::internal(format!("decoding the response: {err}")))
    }
}

/// What an HTTP request contributes to the gRPC call besides the message.
#[derive(Clone, Debug, Default)]
pub struct CallMetadata {
    pub metadata: MetadataMap,
    pub timeout: Option<Duration>,
}

/// Header names the gateway reads credentials from, in order of precedence.
pub const AUTH_HEADERS: [&str; 3] = ["authorization", "x-api-key", "x-api-token"];

impl CallMetadata {
    /// `Authorization: Bearer`, `X-API-Key` or `X-API-Token` → `authorization:
    /// Bearer <token>`; `X-Request-Id` → `x-request-id`; `X-Request-Timeout`
    /// or `grpc-timeout` → the call's deadline.
    pub fn from_headers(headers: &HeaderMap, request_id: &str) -> Result<Self, Status> {
        let mut metadata = MetadataMap::new();
        if let Some(token) = bearer_from_headers(headers)? {
            let value = MetadataValue::try_from(format!("Bearer {token}"))
                .map_err(|_| bad_field("Authorization", "is not a valid header value"))?;
            metadata.insert("authorization", value);
        }
        if let Ok(value) = MetadataValue::try_from(request_id) {
            metadata.insert("x-request-id", value);
        }
        let timeout = match (
            headers.get("x-request-timeout"),
            headers.get("grpc-timeout"),
        ) {
            (Some(value), _) => Some(
                value
                    .to_str()
                    .ok()
                    .and_then(parse_request_timeout)
                    .ok_or_else(|| {
                        bad_field(
                            "X-Request-Timeout",
                            "is not a duration such as 5s, 1500ms or 2.5",
                        )
                    })?,
            ),
            (None, Some(value)) => Some(
                value
                    .to_str()
                    .ok()
                    .and_then(parse_grpc_timeout)
                    .ok_or_else(|| {
                        bad_field("grpc-timeout", "is not a gRPC timeout such as 5S or 100m")
                    })?,
            ),
            (None, None) => None,
        };
        Ok(Self { metadata, timeout })
    }
}

fn bearer_from_headers(headers: &HeaderMap) -> Result<Option<String>, Status> {
    for name in AUTH_HEADERS {
        let Some(value) = headers.get(name) else {
            continue;
        };
        let text = value
            .to_str()
            .map_err(|_| bad_field(name, "is not a valid header value"))?
            .trim();
        let token = if name == "authorization" {
            match text.split_once(' ') {
                Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
                // Other schemes are forwarded untouched for the server to refuse.
                _ => text,
            }
        } else {
            text
        };
        if !token.is_empty() {
            return Ok(Some(token.to_owned()));
        }
    }
    Ok(None)
}

/// `5`, `2.5` (seconds), `1500ms`, `5s`, `1m`.
pub fn parse_request_timeout(text: &str) -> Option<Duration> {
    let text = text.trim();
    let (number, scale) = if let Some(n) = text.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix('m') {
        (n, 60.0)
    } else {
        (text, 1.0)
    };
    let seconds: f64 = number.trim().parse().ok()?;
    let seconds = seconds * scale;
    (seconds.is_finite() && seconds > 0.0 && seconds < 86_400.0 * 365.0)
        .then(|| Duration::from_secs_f64(seconds))
}

/// gRPC's `grpc-timeout` form: up to 8 digits and a unit (H, M, S, m, u, n).
pub fn parse_grpc_timeout(text: &str) -> Option<Duration> {
    let (digits, unit) = text.split_at(text.len().checked_sub(1)?);
    if digits.is_empty() || digits.len() > 8 {
        return None;
    }
    let value: u64 = digits.parse().ok()?;
    let duration = match unit {
        "H" => Duration::from_secs(value * 3600),
        "M" => Duration::from_secs(value * 60),
        "S" => Duration::from_secs(value),
        "m" => Duration::from_millis(value),
        "u" => Duration::from_micros(value),
        "n" => Duration::from_nanos(value),
        _ => return None,
    };
    (!duration.is_zero()).then_some(duration)
}

/// The upstream gRPC server.
#[derive(Clone)]
pub struct Upstream {
    channel: Channel,
    max_response_bytes: usize,
}

impl Upstream {
    pub fn new(channel: Channel, max_response_bytes: usize) -> Self {
        Self {
            channel,
            max_response_bytes,
        }
    }

    pub fn channel(&self) -> Channel {
        self.channel.clone()
    }

    fn request(message: DynamicMessage, call: CallMetadata) -> tonic::Request<DynamicMessage> {
        let mut request = tonic::Request::new(message);
        *request.metadata_mut() = call.metadata;
        if let Some(timeout) = call.timeout {
            request.set_timeout(timeout);
        }
        request
    }

    fn client(&self) -> tonic::client::Grpc<Channel> {
        tonic::client::Grpc::new(self.channel.clone())
            .max_decoding_message_size(self.max_response_bytes)
    }

    pub async fn unary(
        &self,
        binding: &Binding,
        message: DynamicMessage,
        call: CallMetadata,
    ) -> Result<tonic::Response<DynamicMessage>, Status> {
        self.call(&binding.rpc, message, call).await
    }

    /// A unary call of any RPC in the descriptor pool (compatibility profiles
    /// make several per request).
    pub async fn call(
        &self,
        rpc: &MethodDescriptor,
        message: DynamicMessage,
        call: CallMetadata,
    ) -> Result<tonic::Response<DynamicMessage>, Status> {
        let deadline = call.timeout.map(|t| Instant::now() + t);
        let mut client = self.client();
        client.ready().await.map_err(unavailable)?;
        let path = http::uri::PathAndQuery::try_from(format!(
            "/{}/{}",
            rpc.parent_service().full_name(),
            rpc.name()
        ))
        .map_err(|err| Status::internal(format!("bad gRPC path: {err}")))?;
        let result = client
            .unary(
                Self::request(message, call),
                path,
                DynamicCodec::new(rpc.output()),
            )
            .await;
        result.map_err(|status| deadline_status(status, deadline))
    }

    pub async fn server_streaming(
        &self,
        binding: &Binding,
        message: DynamicMessage,
        call: CallMetadata,
    ) -> Result<tonic::Response<Streaming<DynamicMessage>>, Status> {
        let deadline = call.timeout.map(|t| Instant::now() + t);
        let mut client = self.client();
        client.ready().await.map_err(unavailable)?;
        let path = grpc_path(binding)?;
        client
            .server_streaming(
                Self::request(message, call),
                path,
                DynamicCodec::new(binding.rpc.output()),
            )
            .await
            .map_err(|status| deadline_status(status, deadline))
    }
}

fn grpc_path(binding: &Binding) -> Result<http::uri::PathAndQuery, Status> {
    http::uri::PathAndQuery::try_from(binding.grpc_path())
        .map_err(|err| Status::internal(format!("bad gRPC path: {err}")))
}

fn unavailable(err: tonic::transport::Error) -> Status {
    Status::unavailable(format!("the upstream gRPC server is not reachable: {err}"))
}

/// tonic reports its own client-side deadline as CANCELLED ("Timeout
/// expired"); over HTTP that is a 504, not a 499 (the client did not go away).
fn deadline_status(status: Status, deadline: Option<Instant>) -> Status {
    match deadline {
        Some(deadline) if status.code() == Code::Cancelled && Instant::now() >= deadline => {
            Status::deadline_exceeded(format!("deadline exceeded: {}", status.message()))
        }
        _ => status,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        map
    }

    fn auth(pairs: &[(&str, &str)]) -> Option<String> {
        CallMetadata::from_headers(&headers(pairs), "rid")
            .unwrap()
            .metadata
            .get("authorization")
            .map(|v| v.to_str().unwrap().to_owned())
    }

    #[test]
    fn all_three_credential_headers_become_bearer_metadata() {
        assert_eq!(
            auth(&[("authorization", "Bearer abc")]).as_deref(),
            Some("Bearer abc")
        );
        assert_eq!(
            auth(&[("authorization", "bearer  abc")]).as_deref(),
            Some("Bearer abc")
        );
        assert_eq!(auth(&[("x-api-key", "k1")]).as_deref(), Some("Bearer k1"));
        assert_eq!(auth(&[("x-api-token", "t1")]).as_deref(), Some("Bearer t1"));
        assert_eq!(
            auth(&[("x-api-token", "t1"), ("authorization", "Bearer a")]).as_deref(),
            Some("Bearer a")
        );
        assert_eq!(auth(&[]), None);
    }

    #[test]
    fn request_id_and_timeouts() {
        let call = CallMetadata::from_headers(&headers(&[("x-request-timeout", "1500ms")]), "r-1")
            .unwrap();
        assert_eq!(call.metadata.get("x-request-id").unwrap(), "r-1");
        assert_eq!(call.timeout, Some(Duration::from_millis(1500)));
        assert_eq!(parse_request_timeout("2"), Some(Duration::from_secs(2)));
        assert_eq!(
            parse_request_timeout("2.5s"),
            Some(Duration::from_millis(2500))
        );
        assert_eq!(parse_request_timeout("1m"), Some(Duration::from_secs(60)));
        assert_eq!(parse_request_timeout("-1"), None);
        assert_eq!(parse_request_timeout("soon"), None);
        assert_eq!(parse_grpc_timeout("100m"), Some(Duration::from_millis(100)));
        assert_eq!(parse_grpc_timeout("5S"), Some(Duration::from_secs(5)));
        assert_eq!(parse_grpc_timeout("123456789S"), None);
        assert_eq!(parse_grpc_timeout("5x"), None);
        let bad = CallMetadata::from_headers(&headers(&[("x-request-timeout", "later")]), "r")
            .unwrap_err();
        assert_eq!(bad.code(), Code::InvalidArgument);
        assert!(
            bad.message().contains("X-Request-Timeout"),
            "{}",
            bad.message()
        );
    }

    #[test]
    fn client_side_deadline_is_deadline_exceeded() {
        let past = Some(Instant::now() - Duration::from_millis(1));
        let mapped = deadline_status(Status::cancelled("Timeout expired"), past);
        assert_eq!(mapped.code(), Code::DeadlineExceeded);
        let untouched = deadline_status(Status::cancelled("client went away"), None);
        assert_eq!(untouched.code(), Code::Cancelled);
    }
}
