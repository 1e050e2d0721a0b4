//! Request/response shaping per binding. The canonical profile is proto3 JSON
//! by the google.api.http rules; a compatibility profile (another product's
//! REST shapes mapped onto the same RPCs) implements [`Profile`] and adds its
//! own [`crate::routes::Binding`]s to the route table — the table-driven ones
//! in [`crate::profiles`] serve their requests themselves ([`Profile::serve`]).

use std::sync::Arc;

use axum::response::Response;
use futures::future::BoxFuture;
use prost_reflect::{DynamicMessage, ReflectMessage as _};
use tonic::Status;

use crate::errors;
use crate::routes::{Binding, Captures};
use crate::transcode::{self, HttpInput, JsonOptions};
use crate::upstream::Upstream;

pub trait Profile: Send + Sync + 'static {
    /// Short name for logs, e.g. `canonical`.
    fn name(&self) -> &str;

    /// Builds the gRPC request message from the matched HTTP request.
    fn build_request(
        &self,
        binding: &Binding,
        input: &HttpInput<'_>,
    ) -> Result<DynamicMessage, Status>;

    /// Renders one response message (or one stream item) as JSON.
    fn render_response(
        &self,
        binding: &Binding,
        response: &DynamicMessage,
    ) -> Result<Vec<u8>, Status>;

    /// Renders an error. The default is the google.rpc.Status mapping.
    fn render_error(&self, status: &Status) -> Response {
        errors::error_response(status)
    }

    /// Whether the profile serves its requests itself with [`Profile::serve`]
    /// (several RPCs per request, look-ups before the call, paging) instead of
    /// the one-call flow of build_request → RPC → render_response.
    fn serves_itself(&self) -> bool {
        false
    }

    /// Serves a whole request; called only when [`Profile::serves_itself`].
    fn serve(self: Arc<Self>, request: ServeRequest) -> BoxFuture<'static, Response> {
        let _ = request;
        Box::pin(async {
            errors::error_response(&Status::internal(
                "this profile does not serve requests itself",
            ))
        })
    }

    /// The OpenAPI operation of a binding, when the profile documents its own
    /// (the canonical profile's operations come from the proto descriptors).
    fn openapi_operation(&self, binding: &Binding) -> Option<serde_json::Value> {
        let _ = binding;
        None
    }
}

/// Everything a self-serving profile gets of a matched request.
pub struct ServeRequest {
    pub binding: Arc<Binding>,
    pub captures: Captures,
    pub query: Option<String>,
    pub headers: http::HeaderMap,
    pub body: bytes::Bytes,
    pub upstream: Upstream,
    pub request_id: String,
}

/// Canonical proto3 JSON by the `google.api.http` annotations.
#[derive(Clone, Debug, Default)]
pub struct Canonical {
    pub json: JsonOptions,
}

impl Profile for Canonical {
    fn name(&self) -> &str {
        "canonical"
    }

    fn build_request(
        &self,
        binding: &Binding,
        input: &HttpInput<'_>,
    ) -> Result<DynamicMessage, Status> {
        transcode::build_request(binding, input, &self.json)
    }

    fn render_response(
        &self,
        binding: &Binding,
        response: &DynamicMessage,
    ) -> Result<Vec<u8>, Status> {
        match &binding.response_body {
            Some(field) => {
                let value = response.get_field(field);
                // A message field renders as itself; anything else through its JSON value.
                match value.as_message() {
                    Some(inner) => transcode::render_json(inner, &self.json),
                    None => {
                        let mut wrapper = DynamicMessage::new(response.descriptor());
                        wrapper.set_field(field, value.into_owned());
                        let json: serde_json::Value =
                            serde_json::from_slice(&transcode::render_json(&wrapper, &self.json)?)
                                .map_err(|err| Status::internal(err.to_string()))?;
                        let inner = json.get(field.json_name()).cloned().unwrap_or_default();
                        Ok(inner.to_string().into_bytes())
                    }
                }
            }
            None => transcode::render_json(response, &self.json),
        }
    }
}
