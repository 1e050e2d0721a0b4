//! The OpenAPI 3.1 document, generated from the route table and the
//! descriptors: one operation per binding (path and query parameters, request
//! body, responses), a component schema per message and enum with the proto
//! comments as descriptions, google.rpc.Status error responses, and the
//! bearer / API-key security schemes.

use std::collections::{BTreeMap, HashMap, HashSet};

use prost_reflect::{
    DescriptorPool, EnumDescriptor, FieldDescriptor, Kind, MessageDescriptor, Value,
};
use serde_json::{Map, Value as Json, json};

use crate::routes::template::Segment;
use crate::routes::{Binding, BodyMapping, RouteTable};

/// Schemas of the error details the server sends, always included.
const ERROR_DETAIL_TYPES: [&str; 5] = [
    "google.rpc.Status",
    "google.rpc.ErrorInfo",
    "google.rpc.BadRequest",
    "google.rpc.RetryInfo",
    "google.rpc.QuotaFailure",
];
/// google.api.FieldBehavior numbers.
const FIELD_BEHAVIOR_REQUIRED: i32 = 2;
const FIELD_BEHAVIOR_OUTPUT_ONLY: i32 = 3;
const FIELD_BEHAVIOR_INPUT_ONLY: i32 = 4;
/// Depth to which nested message fields become dotted query parameters.
const MAX_QUERY_DEPTH: usize = 3;

pub fn document(table: &RouteTable) -> Json {
    let Some(first) = table.bindings().first() else {
        return json!({"openapi": "3.1.0", "info": {"title": "wagate API", "version": env!("CARGO_PKG_VERSION")}, "paths": {}});
    };
    let pool = first.rpc.parent_pool().clone();
    let mut generator = Generator {
        comments: Comments::new(&pool),
        field_behavior: pool.get_extension_by_name("google.api.field_behavior"),
        schemas: BTreeMap::new(),
        pending: Vec::new(),
        queued: HashSet::new(),
    };
    let mut paths: BTreeMap<String, Map<String, Json>> = BTreeMap::new();
    let mut tags: BTreeMap<String, String> = BTreeMap::new();
    for binding in table.bindings() {
        let service = binding.rpc.parent_service();
        tags.entry(service.name().to_owned()).or_insert_with(|| {
            generator
                .comments
                .of(service.parent_file().name(), service.path())
        });
        let (path, operation) = match binding.profile.openapi_operation(binding) {
            Some(operation) => {
                if let Some(tag) = operation["tags"][0].as_str() {
                    tags.entry(tag.to_owned()).or_insert_with(|| {
                        format!("The {tag} compatibility API, served on the wagate.v1 RPCs.")
                    });
                }
                (openapi_path(binding).0, operation)
            }
            None => generator.operation(binding),
        };
        let method = binding.http_method.as_str().to_ascii_lowercase();
        let slot = paths.entry(path.clone()).or_default();
        if slot.contains_key(&method) {
            tracing::warn!(
                path,
                method,
                "two bindings share an OpenAPI path; documenting the first"
            );
            continue;
        }
        slot.insert(method, operation);
    }
    for name in ERROR_DETAIL_TYPES {
        if let Some(message) = pool.get_message_by_name(name) {
            generator.queue_message(&message);
        }
    }
    generator.drain();
    paths.insert(
        "/healthz".into(),
        plain_get(
            "Gateway_Healthz",
            "Liveness of the gateway process: always 200.",
        ),
    );
    paths.insert(
        "/readyz".into(),
        plain_get(
            "Gateway_Readyz",
            "Readiness: 200 when the upstream server's gRPC health is SERVING, else 503.",
        ),
    );
    let tag_list: Vec<Json> = tags
        .into_iter()
        .map(|(name, description)| json!({"name": name, "description": description}))
        .chain([json!({"name": "Gateway", "description": "The gateway's own endpoints."})])
        .collect();
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "wagate API",
            "version": env!("CARGO_PKG_VERSION"),
            "summary": "Self-hosted WhatsApp API gateway: REST/JSON transcoding of the wagate.v1 gRPC API.",
            "description": "Every operation is a gRPC method of the wagate.v1 API, reached through its google.api.http binding. \
                Bodies and responses are canonical proto3 JSON (camelCase names; snake_case accepted on input; 64-bit integers as strings; \
                enums by name; RFC 3339 timestamps). Errors are google.rpc.Status JSON with typed details. \
                Authenticate with `Authorization: Bearer <token>`, `X-API-Key` or `X-API-Token` (the admin token or a session's API key). \
                Set a deadline with `X-Request-Timeout` (e.g. `5s`). Server-streaming operations answer newline-delimited JSON, \
                or Server-Sent Events with `Accept: text/event-stream` (resume with `Last-Event-ID`).",
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"}
        },
        "servers": [{"url": "/"}],
        "tags": tag_list,
        "security": [{"bearerAuth": []}, {"apiKey": []}, {"apiToken": []}],
        "paths": paths,
        "components": {
            "schemas": generator.schemas,
            "responses": {
                "Error": {
                    "description": "A google.rpc.Status: `code` (gRPC code), `message`, and `details` (google.rpc.ErrorInfo with domain `wagate.dev`, BadRequest field violations, RetryInfo, QuotaFailure).",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/google.rpc.Status"}}}
                },
                "RateLimited": {
                    "description": "RESOURCE_EXHAUSTED: a rate limit or quota was hit. `Retry-After` says when to retry.",
                    "headers": {
                        "Retry-After": {"description": "Seconds to wait before retrying.", "schema": {"type": "integer"}},
                        "X-RateLimit-Limit": {"description": "Requests allowed in the window.", "schema": {"type": "integer"}},
                        "X-RateLimit-Remaining": {"description": "Requests left in the window.", "schema": {"type": "integer"}},
                        "X-RateLimit-Reset": {"description": "Seconds until the window resets.", "schema": {"type": "integer"}}
                    },
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/google.rpc.Status"}}}
                }
            },
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "description": "The admin token or a session's API key."},
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key", "description": "Same tokens as bearerAuth."},
                "apiToken": {"type": "apiKey", "in": "header", "name": "X-API-Token", "description": "Same tokens as bearerAuth."}
            }
        }
    })
}

fn plain_get(operation_id: &str, summary: &str) -> Map<String, Json> {
    let mut map = Map::new();
    map.insert(
        "get".into(),
        json!({
            "tags": ["Gateway"],
            "summary": summary,
            "operationId": operation_id,
            "security": [],
            "responses": {
                "200": {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}},
                "503": {"description": "Not ready", "content": {"application/json": {"schema": {"type": "object"}}}}
            }
        }),
    );
    map
}

/// OpenAPI path and path parameters of a template: each `*` becomes a
/// parameter named after the literal before it (`sessions/*` → `{sessionsId}`).
pub fn openapi_path(binding: &Binding) -> (String, Vec<(String, String)>) {
    let template = &binding.template;
    let mut names: Vec<Option<(String, String)>> = vec![None; template.segments.len()];
    for variable in &template.variables {
        let field = variable.field_path.join(".");
        let end = variable.end.unwrap_or(template.segments.len());
        let is_plain = end - variable.start == 1;
        #[allow(clippy::needless_range_loop)] // `index - 1` is read too
        for index in variable.start..end {
            if matches!(template.segments[index], Segment::Literal(_)) {
                continue;
            }
            let name = match (
                is_plain,
                index.checked_sub(1).map(|i| &template.segments[i]),
            ) {
                (true, _) => field.clone(),
                (false, Some(Segment::Literal(before))) => format!("{before}Id"),
                _ => format!("{}{index}", field.replace('.', "_")),
            };
            names[index] = Some((name, field.clone()));
        }
    }
    let mut path = String::new();
    let mut params = Vec::new();
    for (segment, name) in template.segments.iter().zip(names) {
        path.push('/');
        match (segment, name) {
            (Segment::Literal(literal), _) => path.push_str(literal),
            (_, Some((name, field))) => {
                path.push_str(&format!("{{{name}}}"));
                params.push((name, field));
            }
            (Segment::Single, None) => path.push('*'),
            (Segment::Multi, None) => path.push_str("**"),
        }
    }
    if let Some(verb) = &template.verb {
        path.push(':');
        path.push_str(verb);
    }
    (path, params)
}

struct Generator {
    comments: Comments,
    field_behavior: Option<prost_reflect::ExtensionDescriptor>,
    schemas: BTreeMap<String, Json>,
    pending: Vec<SchemaSource>,
    queued: HashSet<String>,
}

enum SchemaSource {
    Message(MessageDescriptor),
    Enum(EnumDescriptor),
}

impl Generator {
    fn operation(&mut self, binding: &Binding) -> (String, Json) {
        let rpc = &binding.rpc;
        let service = rpc.parent_service();
        let description = self.comments.of(rpc.parent_file().name(), rpc.path());
        let summary = description
            .split(['\n', '.'])
            .next()
            .unwrap_or(rpc.name())
            .trim()
            .to_owned();
        let (path, path_params) = openapi_path(binding);
        let input = rpc.input();
        let mut parameters = Vec::new();
        for (name, field_path) in &path_params {
            let segments: Vec<String> = field_path.split('.').map(str::to_owned).collect();
            let schema = crate::routes::resolve_field_path(&input, &segments)
                .map(|field| self.scalar_schema(&field))
                .unwrap_or_else(|_| json!({"type": "string"}));
            let pattern = &binding.template.source;
            parameters.push(json!({
                "name": name,
                "in": "path",
                "required": true,
                "description": format!("Part of `{field_path}` in `{pattern}`."),
                "schema": schema
            }));
        }
        let bound: HashSet<String> = binding.path_fields().map(|p| p.join(".")).collect();
        match &binding.body {
            BodyMapping::Whole => {}
            BodyMapping::Field(body_field) => {
                let skip: HashSet<String> = bound
                    .iter()
                    .cloned()
                    .chain([body_field.name().to_owned()])
                    .collect();
                self.query_parameters(&input, "", "", &skip, 0, &mut parameters);
            }
            BodyMapping::None => self.query_parameters(&input, "", "", &bound, 0, &mut parameters),
        }
        let mut operation = Map::new();
        operation.insert("tags".into(), json!([service.name()]));
        operation.insert("summary".into(), json!(summary));
        operation.insert("description".into(), json!(description));
        let suffix = if binding.binding_index > 0 {
            format!("_{}", binding.binding_index + 1)
        } else {
            String::new()
        };
        operation.insert(
            "operationId".into(),
            json!(format!("{}_{}{suffix}", service.name(), rpc.name())),
        );
        operation.insert("parameters".into(), Json::Array(parameters));
        let body_schema = match &binding.body {
            BodyMapping::Whole => Some(self.message_ref(&input)),
            BodyMapping::Field(field) => Some(self.field_schema(field)),
            BodyMapping::None => None,
        };
        if let Some(schema) = body_schema {
            operation.insert(
                "requestBody".into(),
                json!({"required": true, "content": {"application/json": {"schema": schema}}}),
            );
        }
        let output = match &binding.response_body {
            Some(field) => self.field_schema(field),
            None => self.message_ref(&rpc.output()),
        };
        let ok = if binding.is_server_streaming() {
            json!({
                "description": "A stream: newline-delimited JSON objects `{\"result\": …}` and, on failure, a last `{\"error\": google.rpc.Status}`; or, with `Accept: text/event-stream`, Server-Sent Events whose `data` is a result (id = its cursor), an `error` event, and comment heartbeats.",
                "content": {
                    "application/x-ndjson": {"schema": {
                        "type": "object",
                        "properties": {"result": output, "error": {"$ref": "#/components/schemas/google.rpc.Status"}}
                    }},
                    "text/event-stream": {"schema": {"type": "string"}}
                }
            })
        } else {
            json!({"description": "OK", "content": {"application/json": {"schema": output}}})
        };
        operation.insert(
            "responses".into(),
            json!({
                "200": ok,
                "429": {"$ref": "#/components/responses/RateLimited"},
                "default": {"$ref": "#/components/responses/Error"}
            }),
        );
        (path, Json::Object(operation))
    }

    /// Every field not bound by the path or body, by its JSON name, with
    /// nested singular messages as dotted names (`a.b`).
    fn query_parameters(
        &mut self,
        message: &MessageDescriptor,
        proto_prefix: &str,
        json_prefix: &str,
        skip: &HashSet<String>,
        depth: usize,
        out: &mut Vec<Json>,
    ) {
        for field in message.fields() {
            let proto_path = join(proto_prefix, field.name());
            let json_path = join(json_prefix, field.json_name());
            if skip.contains(&proto_path) || self.has_behavior(&field, FIELD_BEHAVIOR_OUTPUT_ONLY) {
                continue;
            }
            if let Kind::Message(inner) = field.kind()
                && !field.is_list()
                && !field.is_map()
                && well_known_schema(&inner).is_none()
            {
                if depth < MAX_QUERY_DEPTH {
                    self.query_parameters(&inner, &proto_path, &json_path, skip, depth + 1, out);
                }
                continue;
            }
            if field.is_map() {
                continue;
            }
            let mut parameter = json!({
                "name": json_path,
                "in": "query",
                "required": false,
                "description": self.comments.of(field.parent_file().name(), field.path()),
                "schema": self.field_schema(&field)
            });
            if field.is_list() {
                parameter["style"] = json!("form");
                parameter["explode"] = json!(true);
            }
            out.push(parameter);
        }
    }

    fn has_behavior(&self, field: &FieldDescriptor, behavior: i32) -> bool {
        let Some(extension) = &self.field_behavior else {
            return false;
        };
        let options = field.options();
        if !options.has_extension(extension) {
            return false;
        }
        match options.get_extension(extension).as_ref() {
            Value::List(values) => values.iter().any(|v| v.as_enum_number() == Some(behavior)),
            _ => false,
        }
    }

    fn message_ref(&mut self, message: &MessageDescriptor) -> Json {
        if let Some(schema) = well_known_schema(message) {
            return schema;
        }
        self.queue_message(message);
        json!({"$ref": format!("#/components/schemas/{}", message.full_name())})
    }

    fn queue_message(&mut self, message: &MessageDescriptor) {
        if self.queued.insert(message.full_name().to_owned()) {
            self.pending.push(SchemaSource::Message(message.clone()));
        }
    }

    fn enum_ref(&mut self, enum_type: &EnumDescriptor) -> Json {
        if self.queued.insert(enum_type.full_name().to_owned()) {
            self.pending.push(SchemaSource::Enum(enum_type.clone()));
        }
        json!({"$ref": format!("#/components/schemas/{}", enum_type.full_name())})
    }

    /// Builds the component schemas of everything referenced so far.
    fn drain(&mut self) {
        while let Some(source) = self.pending.pop() {
            let (name, schema) = match source {
                SchemaSource::Message(message) => (
                    message.full_name().to_owned(),
                    self.message_schema(&message),
                ),
                SchemaSource::Enum(enum_type) => (
                    enum_type.full_name().to_owned(),
                    self.enum_schema(&enum_type),
                ),
            };
            self.schemas.insert(name, schema);
        }
    }

    fn message_schema(&mut self, message: &MessageDescriptor) -> Json {
        let mut properties = Map::new();
        for field in message.fields() {
            let mut schema = self.field_schema(&field);
            let mut description = self.comments.of(field.parent_file().name(), field.path());
            if let Some(oneof) = field.containing_oneof().filter(|o| !o.is_synthetic()) {
                let others: Vec<String> = oneof
                    .fields()
                    .map(|f| format!("`{}`", f.json_name()))
                    .collect();
                description.push_str(&format!(
                    "\n\nOne of {} (oneof `{}`).",
                    others.join(", "),
                    oneof.name()
                ));
            }
            if self.has_behavior(&field, FIELD_BEHAVIOR_REQUIRED) {
                description.push_str("\n\nRequired.");
            }
            let object = schema.as_object_mut().expect("schemas are objects");
            if !description.is_empty() {
                object.insert("description".into(), json!(description.trim()));
            }
            if self.has_behavior(&field, FIELD_BEHAVIOR_OUTPUT_ONLY) {
                object.insert("readOnly".into(), json!(true));
            }
            if self.has_behavior(&field, FIELD_BEHAVIOR_INPUT_ONLY) {
                object.insert("writeOnly".into(), json!(true));
            }
            properties.insert(field.json_name().to_owned(), schema);
        }
        let mut schema = json!({
            "type": "object",
            "properties": properties,
        });
        let description = self
            .comments
            .of(message.parent_file().name(), message.path());
        if !description.is_empty() {
            schema["description"] = json!(description);
        }
        schema
    }

    fn enum_schema(&mut self, enum_type: &EnumDescriptor) -> Json {
        let mut description = self
            .comments
            .of(enum_type.parent_file().name(), enum_type.path());
        let mut names = Vec::new();
        for value in enum_type.values() {
            let comment = self.comments.of(value.parent_file().name(), value.path());
            description.push_str(&format!(
                "\n- `{}` ({}): {}",
                value.name(),
                value.number(),
                comment.replace('\n', " ")
            ));
            names.push(json!(value.name()));
        }
        json!({
            "type": "string",
            "enum": names,
            "description": format!("{}\n\nAccepted on input by name or by number.", description.trim()),
        })
    }

    fn field_schema(&mut self, field: &FieldDescriptor) -> Json {
        if field.is_map() {
            let Kind::Message(entry) = field.kind() else {
                unreachable!("map fields are messages")
            };
            let value = self.scalar_schema(&entry.map_entry_value_field());
            return json!({"type": "object", "additionalProperties": value});
        }
        let item = self.scalar_schema(field);
        if field.is_list() {
            json!({"type": "array", "items": item})
        } else {
            item
        }
    }

    /// The schema of one value of the field (ignoring repetition).
    fn scalar_schema(&mut self, field: &FieldDescriptor) -> Json {
        match field.kind() {
            Kind::Double => json!({"type": "number", "format": "double"}),
            Kind::Float => json!({"type": "number", "format": "float"}),
            Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => {
                json!({"type": "integer", "format": "int32"})
            }
            Kind::Uint32 | Kind::Fixed32 => {
                json!({"type": "integer", "format": "int64", "minimum": 0})
            }
            Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => {
                json!({"type": "string", "format": "int64"})
            }
            Kind::Uint64 | Kind::Fixed64 => json!({"type": "string", "format": "uint64"}),
            Kind::Bool => json!({"type": "boolean"}),
            Kind::String => json!({"type": "string"}),
            Kind::Bytes => json!({"type": "string", "format": "byte", "contentEncoding": "base64"}),
            Kind::Enum(enum_type) => self.enum_ref(&enum_type),
            Kind::Message(message) => self.message_ref(&message),
        }
    }
}

/// Schemas of the well-known types that have a special JSON form.
fn well_known_schema(message: &MessageDescriptor) -> Option<Json> {
    Some(match message.full_name() {
        "google.protobuf.Timestamp" => json!({"type": "string", "format": "date-time"}),
        "google.protobuf.Duration" => {
            json!({"type": "string", "pattern": "^-?[0-9]+(\\.[0-9]{1,9})?s$", "description": "Seconds with an `s` suffix, e.g. `1.5s`."})
        }
        "google.protobuf.FieldMask" => {
            json!({"type": "string", "description": "Comma-separated field paths, e.g. `displayName,webhookUrl` (snake_case accepted)."})
        }
        "google.protobuf.Empty" => json!({"type": "object"}),
        "google.protobuf.Struct" => json!({"type": "object", "additionalProperties": true}),
        "google.protobuf.Value" => json!({}),
        "google.protobuf.ListValue" => json!({"type": "array"}),
        "google.protobuf.Any" => json!({
            "type": "object",
            "properties": {"@type": {"type": "string", "description": "e.g. type.googleapis.com/google.rpc.ErrorInfo"}},
            "required": ["@type"],
            "additionalProperties": true
        }),
        "google.protobuf.BoolValue" => json!({"type": ["boolean", "null"]}),
        "google.protobuf.StringValue" => json!({"type": ["string", "null"]}),
        "google.protobuf.BytesValue" => {
            json!({"type": ["string", "null"], "contentEncoding": "base64"})
        }
        "google.protobuf.Int32Value" | "google.protobuf.UInt32Value" => {
            json!({"type": ["integer", "null"]})
        }
        "google.protobuf.Int64Value" | "google.protobuf.UInt64Value" => {
            json!({"type": ["string", "null"], "format": "int64"})
        }
        "google.protobuf.DoubleValue" | "google.protobuf.FloatValue" => {
            json!({"type": ["number", "null"]})
        }
        _ => return None,
    })
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_owned()
    } else {
        format!("{prefix}.{name}")
    }
}

/// Leading comments of every descriptor, by file and source path.
struct Comments {
    by_location: HashMap<(String, Vec<i32>), String>,
}

impl Comments {
    fn new(pool: &DescriptorPool) -> Self {
        let mut by_location = HashMap::new();
        for file in pool.files() {
            let Some(info) = &file.file_descriptor_proto().source_code_info else {
                continue;
            };
            for location in &info.location {
                if let Some(comment) = &location.leading_comments {
                    let text = comment
                        .lines()
                        .map(|line| line.strip_prefix(' ').unwrap_or(line).trim_end())
                        .collect::<Vec<_>>()
                        .join("\n");
                    by_location.insert(
                        (file.name().to_owned(), location.path.clone()),
                        text.trim().to_owned(),
                    );
                }
            }
        }
        Self { by_location }
    }

    fn of(&self, file: &str, path: &[i32]) -> String {
        self.by_location
            .get(&(file.to_owned(), path.to_vec()))
            .cloned()
            .unwrap_or_default()
    }
}

#[cfg(test)]
#[path = "openapi_tests.rs"]
mod tests;
