//! HTTP request → gRPC request message, and message → canonical proto3 JSON.
//!
//! The body (by the binding's `body` mapping) is parsed first, then query
//! parameters fill the remaining fields, then path variables are set (they win).
//! Errors are INVALID_ARGUMENT with a BadRequest violation naming the field.

use std::collections::HashSet;

use base64::Engine as _;
use prost_reflect::{
    DeserializeOptions, DynamicMessage, FieldDescriptor, Kind, MessageDescriptor,
    ReflectMessage as _, SerializeOptions, Value,
};
use tonic::Status;

use crate::errors::bad_field;
use crate::routes::{Binding, BodyMapping, Captures};

/// JSON behaviour of the canonical profile.
#[derive(Clone, Debug, Default)]
pub struct JsonOptions {
    /// Reject unknown JSON fields, unknown enum names and unknown query
    /// parameters (default: ignore them, as proto3 JSON parsers do by default).
    pub strict: bool,
    /// Print fields that have their default value (default: omit them, as
    /// canonical proto3 JSON does).
    pub emit_unpopulated: bool,
}

impl JsonOptions {
    pub fn serialize_options(&self) -> SerializeOptions {
        SerializeOptions::new().skip_default_fields(!self.emit_unpopulated)
    }

    fn deserialize_options(&self) -> DeserializeOptions {
        DeserializeOptions::new().deny_unknown_fields(self.strict)
    }
}

/// The parts of an HTTP request a profile builds the gRPC request from.
pub struct HttpInput<'a> {
    pub captures: &'a Captures,
    pub query: Option<&'a str>,
    pub body: &'a [u8],
    pub headers: &'a http::HeaderMap,
}

/// The request field a `Last-Event-ID` header resumes from (SSE reconnects).
pub const RESUME_FIELD: &str = "after_cursor";

pub fn build_request(
    binding: &Binding,
    input: &HttpInput<'_>,
    options: &JsonOptions,
) -> Result<DynamicMessage, Status> {
    let descriptor = binding.rpc.input();
    let body = trim_ascii(input.body);
    let mut message = match &binding.body {
        BodyMapping::Whole if !body.is_empty() => parse_json(descriptor, body, "", options)?,
        BodyMapping::Field(field) if !body.is_empty() => {
            let mut message = DynamicMessage::new(descriptor);
            let value = parse_json_field(field, body, options)?;
            message.set_field(field, value);
            message
        }
        _ => DynamicMessage::new(descriptor),
    };
    if let Some(query) = input.query
        && !matches!(binding.body, BodyMapping::Whole)
    {
        apply_query(&mut message, binding, query, options)?;
    }
    for (field_path, raw) in input.captures {
        set_path_value(&mut message, field_path, raw, false)?;
    }
    if let Some(last_event_id) = input.headers.get("last-event-id")
        && let Some(field) = message.descriptor().get_field_by_name(RESUME_FIELD)
        && matches!(field.kind(), Kind::Int64)
    {
        let raw = last_event_id
            .to_str()
            .map_err(|_| bad_field("Last-Event-ID", "is not text"))?;
        let cursor = raw
            .trim()
            .parse::<i64>()
            .map_err(|_| bad_field("Last-Event-ID", format!("{raw:?} is not an event cursor")))?;
        message.set_field(&field, Value::I64(cursor));
    }
    Ok(message)
}

/// Canonical proto3 JSON of `message`.
pub fn render_json(message: &DynamicMessage, options: &JsonOptions) -> Result<Vec<u8>, Status> {
    let mut out = Vec::with_capacity(256);
    let mut serializer = serde_json::Serializer::new(&mut out);
    message
        .serialize_with_options(&mut serializer, &options.serialize_options())
        .map_err(|err| Status::internal(format!("cannot render the response as JSON: {err}")))?;
    Ok(out)
}

fn trim_ascii(bytes: &[u8]) -> &[u8] {
    bytes.trim_ascii()
}

/// Parses a JSON object into `descriptor`; `prefix` names where it sits in the
/// request (for error messages), e.g. `session`.
pub fn parse_json(
    descriptor: MessageDescriptor,
    body: &[u8],
    prefix: &str,
    options: &JsonOptions,
) -> Result<DynamicMessage, Status> {
    let deserialize_options = options.deserialize_options();
    let mut track = serde_path_to_error::Track::new();
    let result = if contains_field_mask(&descriptor, &mut HashSet::new()) {
        // FieldMask paths are accepted in snake_case too: normalise them first.
        let mut value: serde_json::Value = serde_json::from_slice(body)
            .map_err(|err| bad_field(or_body(prefix), format!("malformed JSON: {err}")))?;
        normalize_field_masks(&mut value, &descriptor);
        DynamicMessage::deserialize_with_options(
            descriptor,
            serde_path_to_error::Deserializer::new(value, &mut track),
            &deserialize_options,
        )
        .map_err(|err| err.to_string())
    } else {
        let mut de = serde_json::Deserializer::from_slice(body);
        DynamicMessage::deserialize_with_options(
            descriptor,
            serde_path_to_error::Deserializer::new(&mut de, &mut track),
            &deserialize_options,
        )
        .and_then(|message| de.end().map(|()| message))
        .map_err(|err| err.to_string())
    };
    result.map_err(|why| {
        let mut path = track.path().to_string();
        if path == "." || path == "?" {
            path.clear();
        }
        // The unknown field itself is the one to name, not its parent object.
        if let Some(name) = why
            .strip_prefix("unrecognized field name '")
            .and_then(|rest| rest.split('\'').next())
        {
            path = join(&path, name);
        }
        bad_field(or_body(&join(prefix, &path)), why)
    })
}

fn or_body(field: &str) -> &str {
    if field.is_empty() { "body" } else { field }
}

fn join(prefix: &str, rest: &str) -> String {
    match (prefix.is_empty(), rest.is_empty()) {
        (true, _) => rest.to_owned(),
        (_, true) => prefix.to_owned(),
        _ => format!("{prefix}.{rest}"),
    }
}

/// `body: "field"`: the body is the value of that one field.
fn parse_json_field(
    field: &FieldDescriptor,
    body: &[u8],
    options: &JsonOptions,
) -> Result<Value, Status> {
    if let Kind::Message(inner) = field.kind()
        && !field.is_list()
        && !field.is_map()
    {
        return parse_json(inner, body, field.name(), options).map(Value::Message);
    }
    // Scalars, lists and maps: parse as `{"field": <body>}` of the parent.
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|err| bad_field(field.name(), format!("malformed JSON: {err}")))?;
    let wrapped = serde_json::json!({ field.name(): value }).to_string();
    let parent = parse_json(
        field.parent_message().clone(),
        wrapped.as_bytes(),
        "",
        options,
    )?;
    Ok(parent.get_field(field).into_owned())
}

fn contains_field_mask(descriptor: &MessageDescriptor, seen: &mut HashSet<String>) -> bool {
    if !seen.insert(descriptor.full_name().to_owned()) {
        return false;
    }
    descriptor.fields().any(|field| match field.kind() {
        Kind::Message(inner) if inner.full_name() == "google.protobuf.FieldMask" => true,
        Kind::Message(inner) if !inner.full_name().starts_with("google.protobuf.") => {
            contains_field_mask(&inner, seen)
        }
        _ => false,
    })
}

fn normalize_field_masks(value: &mut serde_json::Value, descriptor: &MessageDescriptor) {
    let Some(object) = value.as_object_mut() else {
        return;
    };
    for (key, child) in object.iter_mut() {
        let Some(field) = find_field(descriptor, key) else {
            continue;
        };
        let Kind::Message(inner) = field.kind() else {
            continue;
        };
        if inner.full_name() == "google.protobuf.FieldMask" {
            if let Some(mask) = child.as_str() {
                *child = serde_json::Value::String(field_mask_to_camel(mask));
            }
        } else if field.is_map() {
            if let (Some(entries), Kind::Message(value_type)) =
                (child.as_object_mut(), inner.map_entry_value_field().kind())
            {
                entries
                    .values_mut()
                    .for_each(|v| normalize_field_masks(v, &value_type));
            }
        } else if let Some(items) = child.as_array_mut() {
            items
                .iter_mut()
                .for_each(|item| normalize_field_masks(item, &inner));
        } else {
            normalize_field_masks(child, &inner);
        }
    }
}

/// `display_name,user.push_name` → `displayName,user.pushName`; camelCase
/// paths pass unchanged (the JSON form of a FieldMask is camelCase).
pub fn field_mask_to_camel(mask: &str) -> String {
    let mut out = String::with_capacity(mask.len());
    let mut upper_next = false;
    for c in mask.chars() {
        if c == '_' {
            upper_next = true;
        } else if upper_next {
            out.push(c.to_ascii_uppercase());
            upper_next = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// A field by proto name or JSON (camelCase) name.
pub fn find_field(descriptor: &MessageDescriptor, name: &str) -> Option<FieldDescriptor> {
    descriptor
        .get_field_by_name(name)
        .or_else(|| descriptor.get_field_by_json_name(name))
}

fn apply_query(
    message: &mut DynamicMessage,
    binding: &Binding,
    query: &str,
    options: &JsonOptions,
) -> Result<(), Status> {
    let descriptor = message.descriptor();
    let mut seen_singular: HashSet<String> = HashSet::new();
    for (key, raw) in url::form_urlencoded::parse(query.as_bytes()) {
        let Some(path) = resolve_query_key(&descriptor, &key) else {
            if options.strict {
                return Err(bad_field(&key, "is not a field of the request"));
            }
            continue;
        };
        let bound_by_path = binding
            .path_fields()
            .any(|bound| path.len() >= bound.len() && path[..bound.len()] == *bound);
        let bound_by_body = matches!(&binding.body, BodyMapping::Field(f) if f.name() == path[0]);
        if bound_by_path || bound_by_body {
            if options.strict {
                return Err(bad_field(
                    &key,
                    "is set by the path or the body, not the query",
                ));
            }
            continue;
        }
        let leaf = crate::routes::resolve_field_path(&descriptor, &path)
            .map_err(|err| bad_field(&key, err.to_string()))?;
        if !leaf.is_list() && !seen_singular.insert(path.join(".")) {
            return Err(bad_field(&key, "is given more than once"));
        }
        set_path_value(message, &path, &raw, true).map_err(|status| {
            // Name the parameter as the client wrote it.
            if key.as_ref() != path.join(".") {
                rename_violation(status, &key)
            } else {
                status
            }
        })?;
    }
    Ok(())
}

fn rename_violation(status: Status, field: &str) -> Status {
    let description = status
        .message()
        .split_once(": ")
        .map(|(_, why)| why.to_owned())
        .unwrap_or_else(|| status.message().to_owned());
    bad_field(field, description)
}

/// Resolves `a.b` (JSON or proto names) to proto field names.
fn resolve_query_key(descriptor: &MessageDescriptor, key: &str) -> Option<Vec<String>> {
    let mut current = descriptor.clone();
    let mut path = Vec::new();
    let segments: Vec<&str> = key.split('.').collect();
    for (i, segment) in segments.iter().enumerate() {
        let field = find_field(&current, segment)?;
        path.push(field.name().to_owned());
        if i + 1 < segments.len() {
            match field.kind() {
                Kind::Message(inner) if !field.is_list() && !field.is_map() => current = inner,
                _ => return None,
            }
        }
    }
    Some(path)
}

/// Sets `path` (proto names, through singular messages) from a text value;
/// `append` adds to repeated fields instead of replacing them.
fn set_path_value(
    message: &mut DynamicMessage,
    path: &[String],
    raw: &str,
    append: bool,
) -> Result<(), Status> {
    let name = path.join(".");
    let mut current = message;
    for (i, segment) in path.iter().enumerate() {
        let field = current
            .descriptor()
            .get_field_by_name(segment)
            .ok_or_else(|| bad_field(&name, "is not a field of the request"))?;
        if i + 1 == path.len() {
            if field.is_map() {
                return Err(bad_field(&name, "map fields cannot be set from the URL"));
            }
            let value =
                parse_text_value(&field.kind(), raw).map_err(|why| bad_field(&name, why))?;
            if field.is_list() {
                if append {
                    if let Value::List(list) = current.get_field_mut(&field) {
                        list.push(value);
                    }
                } else {
                    current.set_field(&field, Value::List(vec![value]));
                }
            } else {
                current.set_field(&field, value);
            }
            return Ok(());
        }
        current = match current.get_field_mut(&field) {
            Value::Message(inner) => inner,
            _ => return Err(bad_field(&name, "does not name a nested field")),
        };
    }
    Err(bad_field(&name, "empty field path"))
}

/// Parses a path or query value by the field's type: numbers, booleans,
/// enums by name or number, base64 bytes, and the well-known types that have a
/// string JSON form (Timestamp, Duration, FieldMask, wrappers).
pub fn parse_text_value(kind: &Kind, raw: &str) -> Result<Value, String> {
    let number = |what: &str| format!("{raw:?} is not {what}");
    Ok(match kind {
        Kind::String => Value::String(raw.to_owned()),
        Kind::Bool => match raw {
            "true" | "1" => Value::Bool(true),
            "false" | "0" => Value::Bool(false),
            _ => return Err(number("a boolean (true or false)")),
        },
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => {
            Value::I32(raw.parse().map_err(|_| number("a 32-bit integer"))?)
        }
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => {
            Value::I64(raw.parse().map_err(|_| number("a 64-bit integer"))?)
        }
        Kind::Uint32 | Kind::Fixed32 => Value::U32(
            raw.parse()
                .map_err(|_| number("an unsigned 32-bit integer"))?,
        ),
        Kind::Uint64 | Kind::Fixed64 => Value::U64(
            raw.parse()
                .map_err(|_| number("an unsigned 64-bit integer"))?,
        ),
        Kind::Double => Value::F64(parse_float(raw).ok_or_else(|| number("a number"))?),
        Kind::Float => Value::F32(parse_float(raw).ok_or_else(|| number("a number"))? as f32),
        Kind::Bytes => Value::Bytes(decode_base64(raw).ok_or_else(|| number("base64"))?.into()),
        Kind::Enum(enum_type) => {
            let by_name = enum_type.get_value_by_name(raw);
            let by_number = raw.parse::<i32>().ok().and_then(|n| enum_type.get_value(n));
            match by_name.or(by_number) {
                Some(value) => Value::EnumNumber(value.number()),
                None => {
                    return Err(format!(
                        "{raw:?} is not a value of {} (names: {})",
                        enum_type.full_name(),
                        enum_type
                            .values()
                            .map(|v| v.name().to_owned())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
            }
        }
        Kind::Message(message_type) => parse_well_known(message_type, raw)?,
    })
}

fn parse_well_known(message_type: &MessageDescriptor, raw: &str) -> Result<Value, String> {
    let name = message_type.full_name();
    let from_json_string = |text: String| {
        DynamicMessage::deserialize(message_type.clone(), serde_json::Value::String(text))
            .map(Value::Message)
            .map_err(|err| format!("{raw:?} is not a valid {name}: {err}"))
    };
    match name {
        "google.protobuf.Timestamp" | "google.protobuf.Duration" => {
            from_json_string(raw.to_owned())
        }
        "google.protobuf.FieldMask" => from_json_string(field_mask_to_camel(raw)),
        "google.protobuf.DoubleValue"
        | "google.protobuf.FloatValue"
        | "google.protobuf.Int64Value"
        | "google.protobuf.UInt64Value"
        | "google.protobuf.Int32Value"
        | "google.protobuf.UInt32Value"
        | "google.protobuf.BoolValue"
        | "google.protobuf.StringValue"
        | "google.protobuf.BytesValue" => {
            let field = message_type
                .get_field_by_name("value")
                .ok_or_else(|| format!("{name} has no value field"))?;
            let mut wrapper = DynamicMessage::new(message_type.clone());
            wrapper.set_field(&field, parse_text_value(&field.kind(), raw)?);
            Ok(Value::Message(wrapper))
        }
        _ => Err(format!(
            "is a message ({name}); set its fields one by one, e.g. field.subfield=value"
        )),
    }
}

fn parse_float(raw: &str) -> Option<f64> {
    match raw {
        "NaN" => Some(f64::NAN),
        "Infinity" => Some(f64::INFINITY),
        "-Infinity" => Some(f64::NEG_INFINITY),
        _ => raw.parse().ok().filter(|v: &f64| v.is_finite()),
    }
}

fn decode_base64(raw: &str) -> Option<Vec<u8>> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
        .iter()
        .find_map(|engine| engine.decode(raw).ok())
}

#[cfg(test)]
#[path = "transcode_tests.rs"]
mod tests;
