//! JSON, path and query parsing over the real wagate descriptors.

use std::sync::Arc;

use http::{HeaderMap, Method};
use prost_reflect::{DescriptorPool, DynamicMessage, ReflectMessage as _, Value};
use tonic::Code;
use tonic_types::StatusExt as _;

use super::*;
use crate::profile::Canonical;
use crate::routes::{Binding, RouteMatch, RouteTable};

fn pool() -> DescriptorPool {
    DescriptorPool::decode(wagate_proto::FILE_DESCRIPTOR_SET).unwrap()
}

fn table() -> RouteTable {
    let services: Vec<String> = wagate_proto::PUBLIC_SERVICES
        .iter()
        .map(|s| s.to_string())
        .collect();
    RouteTable::from_services(&pool(), &services, Arc::new(Canonical::default())).unwrap()
}

/// Builds the request for `method path?query` with `body`.
fn build_with(
    options: &JsonOptions,
    method: Method,
    uri: &str,
    body: &str,
    headers: &HeaderMap,
) -> Result<(Arc<Binding>, DynamicMessage), Status> {
    let (path, query) = uri
        .split_once('?')
        .map_or((uri, None), |(p, q)| (p, Some(q)));
    let RouteMatch::Found(binding, captures) = table().find(&method, path) else {
        panic!("{method} {path} does not route");
    };
    let input = HttpInput {
        captures: &captures,
        query,
        body: body.as_bytes(),
        headers,
    };
    let message = build_request(&binding, &input, options)?;
    Ok((binding, message))
}

fn build(method: Method, uri: &str, body: &str) -> Result<DynamicMessage, Status> {
    build_with(
        &JsonOptions::default(),
        method,
        uri,
        body,
        &HeaderMap::new(),
    )
    .map(|(_, m)| m)
}

fn field(message: &DynamicMessage, path: &str) -> Value {
    let mut current = message.clone();
    let parts: Vec<&str> = path.split('.').collect();
    for (i, part) in parts.iter().enumerate() {
        let value = current
            .get_field_by_name(part)
            .unwrap_or_else(|| panic!("no field {part}"))
            .into_owned();
        if i + 1 == parts.len() {
            return value;
        }
        current = value.as_message().unwrap().clone();
    }
    unreachable!()
}

fn violation_field(status: &Status) -> String {
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    let bad = status
        .get_details_bad_request()
        .expect("BadRequest details");
    bad.field_violations[0].field.clone()
}

#[test]
fn body_field_accepts_camel_and_snake_names_and_every_scalar_kind() {
    let body = r#"{"displayName":"Shop","phone_number":"+14155550123","accountProtection":false,
        "webhookEvents":["messages.received","session.status"],"status":"SESSION_STATUS_CONNECTED",
        "id":"42","createTime":"2026-01-02T03:04:05.500Z","ignore_groups":true,
        "resources":{"bytesSent":123456789012}}"#;
    let message = build(Method::POST, "/v1/sessions", body).unwrap();
    assert_eq!(
        field(&message, "session.display_name"),
        Value::String("Shop".into())
    );
    assert_eq!(
        field(&message, "session.phone_number"),
        Value::String("+14155550123".into())
    );
    assert_eq!(
        field(&message, "session.account_protection"),
        Value::Bool(false)
    );
    assert_eq!(field(&message, "session.ignore_groups"), Value::Bool(true));
    assert_eq!(field(&message, "session.id"), Value::I64(42));
    assert_eq!(field(&message, "session.status"), Value::EnumNumber(2));
    assert_eq!(
        field(&message, "session.webhook_events"),
        Value::List(vec![
            Value::String("messages.received".into()),
            Value::String("session.status".into())
        ])
    );
    assert_eq!(
        field(&message, "session.create_time.seconds"),
        Value::I64(1_767_323_045)
    );
    assert_eq!(
        field(&message, "session.create_time.nanos"),
        Value::I32(500_000_000)
    );
    assert_eq!(
        field(&message, "session.resources.bytes_sent"),
        Value::I64(123_456_789_012)
    );
}

#[test]
fn unknown_fields_are_ignored_by_default_and_rejected_when_strict() {
    let body = r#"{"displayName":"A","bogus":1,"status":"NO_SUCH_STATUS"}"#;
    let lenient = build(Method::POST, "/v1/sessions", body).unwrap();
    assert_eq!(
        field(&lenient, "session.display_name"),
        Value::String("A".into())
    );
    assert_eq!(field(&lenient, "session.status"), Value::EnumNumber(0));
    let strict = JsonOptions {
        strict: true,
        ..Default::default()
    };
    let err = build_with(
        &strict,
        Method::POST,
        "/v1/sessions",
        body,
        &HeaderMap::new(),
    )
    .unwrap_err();
    assert_eq!(violation_field(&err), "session.bogus");
    let err = build_with(
        &strict,
        Method::GET,
        "/v1/sessions?nope=1",
        "",
        &HeaderMap::new(),
    )
    .unwrap_err();
    assert_eq!(violation_field(&err), "nope");
}

#[test]
fn malformed_json_and_wrong_types_name_the_field() {
    let err = build(Method::POST, "/v1/sessions", r#"{"displayName": "x""#).unwrap_err();
    assert_eq!(violation_field(&err), "session");
    let err = build(Method::POST, "/v1/sessions", r#"{"displayName": 5}"#).unwrap_err();
    assert_eq!(violation_field(&err), "session.displayName");
    let err = build(
        Method::POST,
        "/v1/sessions",
        r#"{"createTime": "yesterday"}"#,
    )
    .unwrap_err();
    assert_eq!(violation_field(&err), "session.createTime");
    let err = build(Method::POST, "/v1/sessions", r#"{"id": "4x2"}"#).unwrap_err();
    assert_eq!(violation_field(&err), "session.id");
    let err = build(Method::POST, "/v1/sessions/1:connect", r#"[1,2]"#).unwrap_err();
    assert_eq!(violation_field(&err), "body");
    let err = build(Method::POST, "/v1/sessions", r#"{"a":1} trailing"#).unwrap_err();
    assert_eq!(violation_field(&err), "session");
}

#[test]
fn path_variables_fill_nested_fields_and_win_over_the_body() {
    let message = build(
        Method::PATCH,
        "/v1/sessions/7?updateMask=display_name,webhookUrl",
        r#"{"name":"sessions/99","displayName":"New"}"#,
    )
    .unwrap();
    assert_eq!(
        field(&message, "session.name"),
        Value::String("sessions/7".into())
    );
    assert_eq!(
        field(&message, "session.display_name"),
        Value::String("New".into())
    );
    let Value::Message(mask) = field(&message, "update_mask") else {
        panic!("update_mask is a message")
    };
    assert_eq!(
        mask.get_field_by_name("paths").unwrap().into_owned(),
        Value::List(vec![
            Value::String("display_name".into()),
            Value::String("webhook_url".into())
        ])
    );
    let whole = build(
        Method::POST,
        "/v1/sessions/7:connect",
        r#"{"name":"sessions/9"}"#,
    )
    .unwrap();
    assert_eq!(field(&whole, "name"), Value::String("sessions/7".into()));
}

#[test]
fn query_parameters_fill_scalars_repeated_enums_and_well_known_types() {
    let message = build(
        Method::GET,
        "/v1/sessions/3/events:subscribe?eventTypes=messages.received&event_types=session.status&afterCursor=10&heartbeatInterval=2.5s",
        "",
    )
    .unwrap();
    assert_eq!(
        field(&message, "parent"),
        Value::String("sessions/3".into())
    );
    assert_eq!(
        field(&message, "event_types"),
        Value::List(vec![
            Value::String("messages.received".into()),
            Value::String("session.status".into())
        ])
    );
    assert_eq!(field(&message, "after_cursor"), Value::I64(10));
    assert_eq!(field(&message, "heartbeat_interval.seconds"), Value::I64(2));
    assert_eq!(
        field(&message, "heartbeat_interval.nanos"),
        Value::I32(500_000_000)
    );

    let by_name = build(
        Method::GET,
        "/v1/sessions/1/qr?imageFormat=QR_IMAGE_FORMAT_SVG",
        "",
    )
    .unwrap();
    let by_number = build(Method::GET, "/v1/sessions/1/qr?image_format=1", "").unwrap();
    assert_eq!(field(&by_name, "image_format"), Value::EnumNumber(1));
    assert_eq!(field(&by_number, "image_format"), Value::EnumNumber(1));
    let list = build(
        Method::GET,
        "/v1/sessions?pageSize=5&page_token=abc%20def",
        "",
    )
    .unwrap();
    assert_eq!(field(&list, "page_size"), Value::I32(5));
    assert_eq!(field(&list, "page_token"), Value::String("abc def".into()));
}

#[test]
fn bad_query_and_path_values_name_the_field() {
    let err = build(Method::GET, "/v1/sessions?pageSize=abc", "").unwrap_err();
    assert_eq!(violation_field(&err), "pageSize");
    let err = build(Method::GET, "/v1/sessions/1/qr?imageFormat=PNG", "").unwrap_err();
    assert_eq!(violation_field(&err), "imageFormat");
    let err = build(Method::GET, "/v1/sessions?pageSize=1&page_size=2", "").unwrap_err();
    assert_eq!(violation_field(&err), "page_size");
    let err = build(
        Method::GET,
        "/v1/sessions/3/events:subscribe?heartbeatInterval=soon",
        "",
    )
    .unwrap_err();
    assert_eq!(violation_field(&err), "heartbeatInterval");
    let err = build(
        Method::GET,
        "/v1/sessions/3/events:subscribe?afterCursor=1.5",
        "",
    )
    .unwrap_err();
    assert_eq!(violation_field(&err), "afterCursor");
}

#[test]
fn last_event_id_resumes_after_that_cursor() {
    let mut headers = HeaderMap::new();
    headers.insert("last-event-id", "77".parse().unwrap());
    let (_, message) = build_with(
        &JsonOptions::default(),
        Method::GET,
        "/v1/sessions/3/events:subscribe?afterCursor=5",
        "",
        &headers,
    )
    .unwrap();
    assert_eq!(field(&message, "after_cursor"), Value::I64(77));
    headers.insert("last-event-id", "x".parse().unwrap());
    let err = build_with(
        &JsonOptions::default(),
        Method::GET,
        "/v1/events:subscribe",
        "",
        &headers,
    )
    .unwrap_err();
    assert_eq!(violation_field(&err), "Last-Event-ID");
}

#[test]
fn text_values_of_every_kind() {
    use prost_reflect::Kind;
    assert_eq!(parse_text_value(&Kind::Bool, "true"), Ok(Value::Bool(true)));
    assert!(parse_text_value(&Kind::Bool, "yes").is_err());
    assert_eq!(
        parse_text_value(&Kind::Uint64, "18446744073709551615"),
        Ok(Value::U64(u64::MAX))
    );
    assert!(parse_text_value(&Kind::Uint32, "-1").is_err());
    assert_eq!(parse_text_value(&Kind::Double, "1.5"), Ok(Value::F64(1.5)));
    assert!(matches!(parse_text_value(&Kind::Double, "NaN"), Ok(Value::F64(v)) if v.is_nan()));
    assert_eq!(
        parse_text_value(&Kind::Bytes, "aGk="),
        Ok(Value::Bytes("hi".into()))
    );
    assert_eq!(
        parse_text_value(&Kind::Bytes, "aGk"),
        Ok(Value::Bytes("hi".into()))
    );
    let pool = pool();
    let timestamp = pool
        .get_message_by_name("google.protobuf.Timestamp")
        .unwrap();
    let Ok(Value::Message(ts)) =
        parse_text_value(&Kind::Message(timestamp.clone()), "1970-01-01T00:01:00Z")
    else {
        panic!("timestamp parses")
    };
    assert_eq!(
        ts.get_field_by_name("seconds").unwrap().into_owned(),
        Value::I64(60)
    );
    assert!(parse_text_value(&Kind::Message(timestamp), "tomorrow").is_err());
    let wrapper = pool.get_message_by_name("google.protobuf.Int64Value");
    if let Some(wrapper) = wrapper {
        let Ok(Value::Message(w)) = parse_text_value(&Kind::Message(wrapper), "9") else {
            panic!("wrapper parses")
        };
        assert_eq!(
            w.get_field_by_name("value").unwrap().into_owned(),
            Value::I64(9)
        );
    }
    let session = pool.get_message_by_name("wagate.v1.Session").unwrap();
    assert!(parse_text_value(&Kind::Message(session), "x").is_err());
}

#[test]
fn field_masks_in_json_bodies_accept_snake_case() {
    let pool = pool();
    let desc = pool
        .get_message_by_name("wagate.v1.UpdateSessionRequest")
        .unwrap();
    let message = parse_json(
        desc,
        br#"{"update_mask":"display_name,webhookUrl","session":{"displayName":"x"}}"#,
        "",
        &JsonOptions::default(),
    )
    .unwrap();
    let Value::Message(mask) = field(&message, "update_mask") else {
        panic!()
    };
    assert_eq!(
        mask.get_field_by_name("paths").unwrap().into_owned(),
        Value::List(vec![
            Value::String("display_name".into()),
            Value::String("webhook_url".into())
        ])
    );
    assert_eq!(field_mask_to_camel("a_b.c_d,e"), "aB.cD,e");
}

#[test]
fn responses_render_as_canonical_proto3_json() {
    let pool = pool();
    let session = pool.get_message_by_name("wagate.v1.Session").unwrap();
    let message = DynamicMessage::deserialize(
        session.clone(),
        serde_json::json!({
            "name": "sessions/42", "id": "42", "display_name": "Shop", "status": 2,
            "webhookEnabled": false, "createTime": "2026-01-02T03:04:05Z",
            "accountProtection": false
        }),
    )
    .unwrap();
    let json: serde_json::Value =
        serde_json::from_slice(&render_json(&message, &JsonOptions::default()).unwrap()).unwrap();
    assert_eq!(json["id"], "42", "int64 as a string");
    assert_eq!(json["displayName"], "Shop", "camelCase names");
    assert_eq!(json["status"], "SESSION_STATUS_CONNECTED", "enums by name");
    assert_eq!(
        json["createTime"], "2026-01-02T03:04:05Z",
        "RFC 3339 with Z"
    );
    assert_eq!(
        json["accountProtection"], false,
        "explicit presence is kept"
    );
    assert!(json.get("webhookEnabled").is_none(), "defaults omitted");
    let emit = JsonOptions {
        emit_unpopulated: true,
        ..Default::default()
    };
    let full: serde_json::Value =
        serde_json::from_slice(&render_json(&message, &emit).unwrap()).unwrap();
    assert_eq!(full["webhookEnabled"], false);
    assert_eq!(message.descriptor().full_name(), "wagate.v1.Session");
}
