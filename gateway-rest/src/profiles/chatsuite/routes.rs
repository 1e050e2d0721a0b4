//! The ChatSuite endpoint table (seed 003's API documentation), the request
//! parts a table cannot say (message content from `mediaUrl`/`mediaType`,
//! the bulk list, the queue and history filters) and its response shapes.

use http::Method;
use serde_json::{Value, json};

use crate::profiles::common::{
    int, media_content, media_kind_of, media_of, number_of, session_id_of, text_or_null,
};
use crate::profiles::request::{add_error, body_value, required_message, set_path};
use crate::profiles::{
    BuildFn, Conv, Endpoint, FieldErrors, FieldMap as F, Inputs, Paging, Reply, Scope, ShapeFn,
};

/// The request field that picks a device; absent: the key's session or the
/// oldest connected one.
const DEVICE: Scope = Scope::Device("sessionId", None);
const PARENT: F = F::caller("parent");
/// Seed 003's send limits: at most this many items per bulk request.
const MAX_BULK: usize = 1000;

fn row(
    method: Method,
    path: &'static str,
    summary: &'static str,
    rpc: &'static str,
    fields: Vec<F>,
    build: BuildFn,
    shape: ShapeFn,
) -> Endpoint {
    let paging = if method == Method::GET {
        Paging::All { list: "messages" }
    } else {
        Paging::None
    };
    Endpoint {
        method,
        path,
        summary,
        rpc,
        scope: DEVICE,
        fields,
        build: Some(build),
        update_mask: None,
        paging,
        shape,
    }
}

/// Every endpoint of seed 003's API documentation.
#[rustfmt::skip]
pub fn endpoints() -> Vec<Endpoint> {
    vec![
        row(Method::POST, "/api/send", "Send WhatsApp Message (text, or media by URL with the message as caption)",
            "wagate.v1.MessageService.SendMessage",
            vec![PARENT, F::body("number", "message.chat", Conv::Copy).required()],
            single_content, queued),
        row(Method::POST, "/api/send-bulk", "Send Bulk Messages",
            "wagate.v1.MessageService.SendBulk", vec![PARENT], bulk_requests, bulk_queued),
        row(Method::GET, "/api/queue", "Get Queue Status (messages waiting or being sent)",
            "wagate.v1.MessageService.ListMessages", vec![PARENT], queue_filter, message_list),
        row(Method::GET, "/api/history", "Get Message History (sent and failed; startDate and endDate as YYYY-MM-DD)",
            "wagate.v1.MessageService.ListMessages",
            vec![PARENT], history_filter, message_list),
    ]
}

fn text_of<'a>(value: &'a Value, name: &str) -> Option<&'a str> {
    body_value(value, name)
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
}

/// A message's content from one send item (`message`, `mediaUrl`,
/// `mediaType`), errors under `prefix` + the seed's field names.
fn content(item: &Value, prefix: &str, errors: &mut FieldErrors) -> Option<(&'static str, Value)> {
    let text = text_of(item, "message");
    let Some(url) = text_of(item, "mediaUrl") else {
        if text.is_none() {
            let field = format!("{prefix}message");
            add_error(errors, &field, required_message(&field));
        }
        return text.map(|t| ("text", json!(t)));
    };
    let kind = match text_of(item, "mediaType") {
        None => media_kind_of(url),
        Some("image") => "image",
        Some("video") => "video",
        Some("audio") => "audio",
        Some("document") => "document",
        Some(other) => {
            add_error(
                errors,
                &format!("{prefix}mediaType"),
                format!("mediaType must be image, video, audio or document, not {other:?}"),
            );
            return None;
        }
    };
    match media_content(kind, url, text) {
        Ok(media) => Some((kind, media)),
        Err(why) => {
            add_error(errors, &format!("{prefix}message"), why);
            None
        }
    }
}

fn single_content(request: &mut Value, inputs: &Inputs) -> Result<(), FieldErrors> {
    let mut errors = FieldErrors::new();
    match content(&inputs.body, "", &mut errors) {
        Some((field, value)) if errors.is_empty() => {
            set_path(request, &format!("message.{field}"), value);
            Ok(())
        }
        _ => Err(errors),
    }
}

/// `messages` → SendBulk items on the request's device.
fn bulk_requests(request: &mut Value, inputs: &Inputs) -> Result<(), FieldErrors> {
    let mut errors = FieldErrors::new();
    let parent = request["parent"].clone();
    let items = match inputs.body.get("messages") {
        Some(Value::Array(items)) if !items.is_empty() && items.len() <= MAX_BULK => items,
        Some(Value::Array(items)) if !items.is_empty() => {
            add_error(
                &mut errors,
                "messages",
                format!("At most {MAX_BULK} messages per request"),
            );
            return Err(errors);
        }
        _ => {
            add_error(&mut errors, "messages", required_message("messages"));
            return Err(errors);
        }
    };
    let mut requests = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let prefix = format!("messages.{index}.");
        let Some(number) = text_of(item, "number") else {
            let field = format!("{prefix}number");
            add_error(&mut errors, &field, required_message(&field));
            continue;
        };
        if let Some((field, value)) = content(item, &prefix, &mut errors) {
            requests.push(json!({"parent": parent, "message": {"chat": number, field: value}}));
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    set_path(request, "requests", Value::Array(requests));
    Ok(())
}

fn queue_filter(request: &mut Value, _: &Inputs) -> Result<(), FieldErrors> {
    set_path(
        request,
        "filter",
        json!("direction = OUTBOUND AND (status = QUEUED OR status = IN_PROGRESS)"),
    );
    // The queue in its sending order.
    set_path(request, "order_by", json!("create_time"));
    Ok(())
}

/// `YYYY-MM-DD` → Some(date), anything else → None.
fn date(text: &str) -> Option<&str> {
    let bytes = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| bytes[range].iter().all(u8::is_ascii_digit);
    let valid = bytes.len() == 10
        && digits(0..4)
        && bytes[4] == b'-'
        && digits(5..7)
        && bytes[7] == b'-'
        && digits(8..10)
        && (1..=12).contains(&text[5..7].parse::<u8>().unwrap_or(0))
        && (1..=31).contains(&text[8..10].parse::<u8>().unwrap_or(0));
    valid.then_some(text)
}

fn history_filter(request: &mut Value, inputs: &Inputs) -> Result<(), FieldErrors> {
    let mut errors = FieldErrors::new();
    let mut filter = String::from(
        "direction = OUTBOUND AND (status = SENT OR status = DELIVERED OR status = READ OR status = PLAYED OR status = FAILED)",
    );
    for (name, op, time) in [
        ("startDate", ">=", "00:00:00Z"),
        ("endDate", "<=", "23:59:59.999999999Z"),
    ] {
        let Some(text) = inputs.query.get(name).filter(|t| !t.is_empty()) else {
            continue;
        };
        match date(text) {
            Some(day) => filter.push_str(&format!(" AND create_time {op} \"{day}T{time}\"")),
            None => add_error(
                &mut errors,
                name,
                format!("{name} must be a date as YYYY-MM-DD"),
            ),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    set_path(request, "filter", json!(filter));
    Ok(())
}

/// Seed 003's status codes: pending, processing, sent, failed, cancelled
/// (delivered and read messages were sent).
fn status_code(status: &Value) -> &'static str {
    match status.as_str().unwrap_or("") {
        "MESSAGE_STATUS_QUEUED" => "pending",
        "MESSAGE_STATUS_IN_PROGRESS" => "processing",
        "MESSAGE_STATUS_FAILED" => "failed",
        "MESSAGE_STATUS_CANCELLED" => "cancelled",
        _ => "sent",
    }
}

/// When the message is due to be (re)tried, as seed 003's
/// `estimatedDelivery` text: the server's own next-attempt time, not a guess.
fn estimated_delivery(message: &Value) -> Value {
    let due = message["nextAttemptTime"].as_str().and_then(|t| {
        let at = std::time::SystemTime::try_from(t.parse::<prost_types::Timestamp>().ok()?).ok()?;
        Some(
            at.duration_since(std::time::SystemTime::now())
                .ok()?
                .as_secs(),
        )
    });
    json!(match due {
        Some(seconds) if seconds > 0 => format!("{seconds} seconds"),
        _ => "now".to_owned(),
    })
}

/// Seed 003 prints device ids as strings.
fn device_of(message: &Value) -> Value {
    json!(
        session_id_of(&message["name"])
            .map(|id| id.to_string())
            .unwrap_or_default()
    )
}

fn queued(message: &Value, _: &Inputs) -> Reply {
    Reply::json(json!({
        "success": true,
        "message": "Message queued successfully",
        "queueId": int(&message["id"]),
        "status": status_code(&message["status"]),
        "estimatedDelivery": estimated_delivery(message),
        "sessionId": device_of(message),
    }))
}

fn bulk_queued(response: &Value, _: &Inputs) -> Reply {
    let results = response["results"].as_array().cloned().unwrap_or_default();
    let queue_ids: Vec<Value> = results
        .iter()
        .filter_map(|r| r.get("message").filter(|m| m.is_object()))
        .map(|m| int(&m["id"]))
        .collect();
    let errors: Vec<Value> = results
        .iter()
        .filter_map(|r| {
            let error = r.get("error").filter(|e| e.is_object())?;
            Some(json!({"index": r["index"], "error": error["message"]}))
        })
        .collect();
    Reply::json(json!({
        "success": true,
        "message": "Bulk messages queued",
        "queued": response["queuedCount"],
        "failed": response["failedCount"],
        "queueIds": queue_ids,
        "errors": errors,
    }))
}

fn message_row(message: &Value) -> Value {
    let (media_url, media_type) = media_of(message);
    json!({
        "queueId": int(&message["id"]),
        "number": number_of(&message["chat"]),
        "message": text_or_null(&message["body"]),
        "mediaUrl": media_url,
        "mediaType": media_type,
        "status": status_code(&message["status"]),
        "sessionId": device_of(message),
        "attempts": message["attemptCount"],
        "error": text_or_null(&message["error"]["message"]),
        "createdAt": text_or_null(&message["createTime"]),
        "sentAt": text_or_null(&message["sendTime"]),
    })
}

fn message_list(page: &Value, _: &Inputs) -> Reply {
    let rows: Vec<Value> = page["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(message_row)
        .collect();
    Reply::json(json!({"success": true, "count": rows.len(), "messages": rows}))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(body: Value) -> Inputs {
        Inputs {
            body,
            ..Inputs::default()
        }
    }

    #[test]
    fn media_type_comes_from_the_field_or_the_url() {
        let mut request = json!({});
        single_content(
            &mut request,
            &inputs(
                json!({"number": "923001234567", "message": "Here is your invoice",
                "mediaUrl": "https://example.com/invoice.pdf", "mediaType": "document"}),
            ),
        )
        .unwrap();
        assert_eq!(
            request["message"]["document"],
            json!({"source": {"uri": "https://example.com/invoice.pdf"}, "caption": "Here is your invoice", "file_name": "invoice.pdf"})
        );
        let errors = single_content(
            &mut json!({}),
            &inputs(json!({"mediaUrl": "https://x.test/a", "mediaType": "gif"})),
        )
        .unwrap_err();
        assert!(errors.contains_key("mediaType"), "{errors:?}");
        let errors = single_content(&mut json!({}), &inputs(json!({"number": "1"}))).unwrap_err();
        assert_eq!(errors["message"], vec![required_message("message")]);
    }

    #[test]
    fn bulk_items_are_checked_by_index_and_history_dates_by_format() {
        let errors = bulk_requests(
            &mut json!({"parent": "sessions/1"}),
            &inputs(json!({"messages": [{"number": "1", "message": "a"}, {"message": "b"}]})),
        )
        .unwrap_err();
        assert!(errors.contains_key("messages.1.number"), "{errors:?}");
        let mut request = json!({});
        let mut history = Inputs::default();
        history
            .query
            .insert("startDate".into(), "2026-01-02".into());
        history_filter(&mut request, &history).unwrap();
        assert!(
            request["filter"]
                .as_str()
                .unwrap()
                .ends_with("create_time >= \"2026-01-02T00:00:00Z\"")
        );
        history.query.insert("endDate".into(), "2026-13-01".into());
        assert!(
            history_filter(&mut json!({}), &history)
                .unwrap_err()
                .contains_key("endDate")
        );
    }
}
