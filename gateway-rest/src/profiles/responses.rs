//! The OpenAPI responses of a compatibility endpoint, generated from its
//! declaration rather than written per endpoint: the success body is what
//! the endpoint's shape function makes of a sample response of its RPC
//! (every repeated or nested message given one default item, so lists show
//! their items), and the error bodies are what the profile's [`Flavor`]
//! renders for the failures an endpoint can meet. JSON schemas are inferred
//! from those bodies.

use std::collections::BTreeMap;
use std::time::Duration;

use http::StatusCode;
use prost_reflect::{DynamicMessage, Kind, MessageDescriptor, Value as ProtoValue};
use serde_json::{Map, Value, json};
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt as _};

use super::engine::page_json;
use super::{Endpoint, Failure, FieldErrors, Flavor, From, Inputs, Paging, Reply, Scope};
use crate::transcode::{self, JsonOptions};

/// How deep sample messages are filled in (recursive messages stop here).
const SAMPLE_DEPTH: usize = 4;

/// The `responses` object of an endpoint's operation.
pub fn responses(endpoint: &Endpoint, flavor: &dyn Flavor, output: &MessageDescriptor) -> Value {
    let mut responses = Map::new();
    match success(endpoint, output) {
        Some(Reply {
            status,
            body: Some(body),
        }) => {
            responses.insert(
                status.as_u16().to_string(),
                json!({
                    "description": status.canonical_reason().unwrap_or("OK"),
                    "content": {"application/json": {"schema": schema_of(&body)}},
                }),
            );
        }
        Some(Reply { status, body: None }) => {
            responses.insert(
                status.as_u16().to_string(),
                json!({"description": status.canonical_reason().unwrap_or("No Content")}),
            );
        }
        None => {
            responses.insert(
                "200".to_owned(),
                json!({"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}}),
            );
        }
    }
    // Error bodies by status: several failures may share one status.
    let mut errors: BTreeMap<u16, (StatusCode, Vec<Value>)> = BTreeMap::new();
    for failure in failures(endpoint) {
        let (status, body) = flavor.render_failure(&failure, endpoint.scope);
        if status.is_success() {
            continue;
        }
        let bodies = &mut errors
            .entry(status.as_u16())
            .or_insert((status, Vec::new()))
            .1;
        if !bodies.contains(&body) {
            bodies.push(body);
        }
    }
    for (code, (status, bodies)) in errors {
        let mut schemas: Vec<Value> = Vec::new();
        for body in &bodies {
            let schema = schema_of(body);
            if !schemas.contains(&schema) {
                schemas.push(schema);
            }
        }
        let schema = if schemas.len() == 1 {
            schemas.remove(0)
        } else {
            json!({"anyOf": schemas})
        };
        responses.insert(
            code.to_string(),
            json!({
                "description": status.canonical_reason().unwrap_or("Error"),
                "content": {"application/json": {"schema": schema, "example": bodies[0]}},
            }),
        );
    }
    // The engine puts the rate-limit figures on every answer.
    for (code, response) in responses.iter_mut() {
        response["headers"] = rate_headers(code == "429");
    }
    Value::Object(responses)
}

/// `X-RateLimit-*` (and on 429 `Retry-After`) as OpenAPI header objects.
fn rate_headers(limited: bool) -> Value {
    let integer =
        |description: &str| json!({"description": description, "schema": {"type": "integer"}});
    let mut headers = json!({
        "X-RateLimit-Limit": integer("Requests allowed in the current window (the endpoint's own window where the server keeps one, else the gateway's per-credential window)."),
        "X-RateLimit-Remaining": integer("Requests left in the current window."),
        "X-RateLimit-Reset": integer("Seconds until the window resets."),
    });
    if limited {
        headers["Retry-After"] = integer("Seconds to wait before retrying.");
    }
    headers
}

/// The endpoint's answer to a sample response of its RPC (None: the shape
/// function could not make one).
fn success(endpoint: &Endpoint, output: &MessageDescriptor) -> Option<Reply> {
    let json = match endpoint.paging {
        Paging::None => render(&sample(output, 0))?,
        Paging::All { list } | Paging::Pages { list, .. } => {
            let item = output
                .fields()
                .find(|f| f.json_name() == list || f.name() == list)
                .and_then(|f| match f.kind() {
                    Kind::Message(message) => render(&sample(&message, 1)),
                    _ => None,
                })
                .unwrap_or(Value::Null);
            page_json(vec![item], 1, 1, 1)
        }
    };
    let inputs = Inputs {
        caller_session: Some(1),
        ..Inputs::default()
    };
    let shape = endpoint.shape;
    // A shape function is written for real responses; one that cannot take
    // a sample leaves the endpoint with a plain object schema.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| shape(&json, &inputs))).ok()
}

/// A message with every non-oneof message field set to a sample and every
/// repeated message field given one sample item (down to [`SAMPLE_DEPTH`]).
fn sample(message: &MessageDescriptor, depth: usize) -> DynamicMessage {
    let mut out = DynamicMessage::new(message.clone());
    if depth >= SAMPLE_DEPTH {
        return out;
    }
    for field in message.fields() {
        if field.containing_oneof().is_some() || field.is_map() {
            continue;
        }
        let Kind::Message(inner) = field.kind() else {
            continue;
        };
        if inner.full_name().starts_with("google.protobuf.") {
            continue;
        }
        let value = ProtoValue::Message(sample(&inner, depth + 1));
        if field.is_list() {
            out.set_field(&field, ProtoValue::List(vec![value]));
        } else {
            out.set_field(&field, value);
        }
    }
    out
}

fn render(message: &DynamicMessage) -> Option<Value> {
    let options = JsonOptions {
        strict: false,
        emit_unpopulated: true,
    };
    let bytes = transcode::render_json(message, &options).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// The failures an endpoint can meet, as the engine hands them to its flavor.
fn failures(endpoint: &Endpoint) -> Vec<Failure> {
    let status = |status: Status| Failure::Status {
        status,
        fields: FieldErrors::new(),
        had_credential: true,
    };
    let with_details = |code: Code, message: &str, details: ErrorDetails| {
        status(Status::with_error_details(code, message, details))
    };
    let mut failures = vec![
        Failure::Status {
            status: Status::unauthenticated("no credential"),
            fields: FieldErrors::new(),
            had_credential: false,
        },
        status(Status::unauthenticated("invalid credential")),
        status(Status::permission_denied("not allowed")),
        status(Status::not_found("Not found")),
        Failure::RateLimited {
            retry_after: 60,
            limit: 60,
        },
    ];
    let mut retry = ErrorDetails::new();
    retry.set_retry_info(Some(Duration::from_secs(5)));
    failures.push(with_details(
        Code::ResourceExhausted,
        "Too many requests",
        retry,
    ));
    if endpoint.scope != Scope::Account {
        let mut details = ErrorDetails::new();
        details.set_error_info(
            "SESSION_NOT_CONNECTED",
            "wagate.dev",
            std::collections::HashMap::new(),
        );
        failures.push(with_details(
            Code::FailedPrecondition,
            "not connected",
            details,
        ));
    }
    let inputs: Vec<&str> = endpoint
        .fields
        .iter()
        .filter(|f| matches!(f.from, From::Body | From::Query | From::Path))
        .map(|f| f.seed)
        .collect();
    if let Some(first) = inputs.first() {
        let mut errors = FieldErrors::new();
        errors.insert(
            (*first).to_owned(),
            vec![format!("The {first} field is required.")],
        );
        failures.push(Failure::Validation(errors.clone()));
        let mut bad = ErrorDetails::new();
        bad.add_bad_request_violation(*first, "invalid");
        failures.push(Failure::Status {
            status: Status::with_error_details(Code::InvalidArgument, "invalid", bad),
            fields: errors,
            had_credential: true,
        });
    } else if endpoint.build.is_some() {
        failures.push(Failure::Validation(FieldErrors::new()));
    }
    failures.push(status(Status::unavailable("Service unavailable")));
    failures.push(status(Status::internal("Internal error")));
    failures
}

/// A JSON schema for `value`: types, object properties, array items (from
/// the first item). A null says nothing about the type (it may be nullable).
pub fn schema_of(value: &Value) -> Value {
    match value {
        Value::Null => json!({}),
        Value::Bool(_) => json!({"type": "boolean"}),
        Value::Number(n) if n.is_i64() || n.is_u64() => json!({"type": "integer"}),
        Value::Number(_) => json!({"type": "number"}),
        Value::String(_) => json!({"type": "string"}),
        Value::Array(items) => json!({
            "type": "array",
            "items": items.first().map(schema_of).unwrap_or_else(|| json!({})),
        }),
        Value::Object(map) => {
            let properties: Map<String, Value> = map
                .iter()
                .map(|(key, value)| (key.clone(), schema_of(value)))
                .collect();
            json!({"type": "object", "properties": properties})
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemas_follow_the_values() {
        assert_eq!(
            schema_of(&json!({"success": true, "data": [{"id": 1, "x": null}]})),
            json!({"type": "object", "properties": {
                "success": {"type": "boolean"},
                "data": {"type": "array", "items": {"type": "object", "properties": {
                    "id": {"type": "integer"}, "x": {}
                }}}
            }})
        );
        assert_eq!(schema_of(&json!(1.5)), json!({"type": "number"}));
    }
}

#[cfg(test)]
mod document_tests {
    use std::sync::Arc;

    use prost_reflect::DescriptorPool;
    use serde_json::{Value, json};

    use crate::profile::Canonical;
    use crate::profiles::{KNOWN_PROFILES, ProfileLimits, install_named};
    use crate::routes::RouteTable;

    fn document() -> Value {
        let pool = DescriptorPool::decode(wagate_proto::FILE_DESCRIPTOR_SET).unwrap();
        let mut table =
            RouteTable::from_services(&pool, &[], Arc::new(Canonical::default())).unwrap();
        let names: Vec<String> = KNOWN_PROFILES.iter().map(|n| n.to_string()).collect();
        let limits = ProfileLimits {
            requests_per_minute: 60,
            concurrent_per_session: 5,
        };
        install_named(&pool, &mut table, &names, &limits).unwrap();
        crate::openapi::document(&table)
    }

    fn schema<'a>(doc: &'a Value, method: &str, path: &str, status: &str) -> &'a Value {
        let response = &doc["paths"][path][method]["responses"][status];
        assert!(
            response.is_object(),
            "{method} {path}: no {status} response"
        );
        &response["content"]["application/json"]["schema"]
    }

    #[test]
    fn profile_operations_describe_their_success_and_error_bodies() {
        let doc = document();
        // WasenderAPI: the envelope around the shaped data, its error shapes.
        let sent = schema(&doc, "post", "/api/send-message", "200");
        assert_eq!(sent["properties"]["success"], json!({"type": "boolean"}));
        assert_eq!(
            sent["properties"]["data"]["properties"]["msgId"],
            json!({"type": "integer"})
        );
        let groups = schema(&doc, "get", "/api/groups", "200");
        assert_eq!(
            groups["properties"]["data"]["items"]["properties"]["jid"],
            json!({"type": "string"})
        );
        let limited = schema(&doc, "post", "/api/send-message", "429");
        assert_eq!(
            limited["properties"]["retry_after"],
            json!({"type": "integer"})
        );
        let invalid = schema(&doc, "post", "/api/send-message", "422");
        assert_eq!(invalid["properties"]["errors"]["type"], "object");
        let unauthenticated = schema(&doc, "post", "/api/send-message", "401");
        assert_eq!(
            unauthenticated["properties"]["message"],
            json!({"type": "string"})
        );
        // Every profile operation has a success response and error bodies.
        let mut operations = 0;
        for (path, item) in doc["paths"].as_object().unwrap() {
            if path.starts_with("/v1/") || path.ends_with("z") {
                continue;
            }
            for (method, operation) in item.as_object().unwrap() {
                operations += 1;
                let responses = operation["responses"].as_object().unwrap();
                assert!(
                    responses.keys().any(|c| c.starts_with('2')),
                    "{method} {path}"
                );
                assert!(responses.contains_key("401"), "{method} {path}");
                assert!(responses.contains_key("500"), "{method} {path}");
            }
        }
        assert!(operations > 50, "{operations}");
        let headers = &doc["paths"]["/api/send-message"]["post"]["responses"]["429"]["headers"];
        assert_eq!(headers["Retry-After"]["schema"]["type"], "integer");
        assert_eq!(
            headers["X-RateLimit-Remaining"]["schema"]["type"],
            "integer"
        );
        // The other products' own bodies.
        assert_eq!(
            schema(&doc, "post", "/chatsuite/api/send", "429")["properties"]["retryAfter"],
            json!({"type": "integer"})
        );
        assert_eq!(
            schema(&doc, "post", "/prosendi/api/whatsapp/send", "404")["properties"]["error"]["properties"]
                ["code"],
            json!({"type": "string"})
        );
        assert_eq!(
            schema(&doc, "post", "/onsend/api/v1/send", "200")["properties"]["message_id"],
            json!({"type": "integer"})
        );
    }
}
