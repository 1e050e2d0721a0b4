//! Request/response shaping per binding. The canonical profile is proto3 JSON
//! by the google.api.http rules; a compatibility profile (another product's
//! REST shapes mapped onto the same RPCs) implements [`Profile`] and adds its
//! own [`crate::routes::Binding`]s to the route table.

use axum::response::Response;
use prost_reflect::{DynamicMessage, ReflectMessage as _};
use tonic::Status;

use crate::errors;
use crate::routes::Binding;
use crate::transcode::{self, HttpInput, JsonOptions};

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
