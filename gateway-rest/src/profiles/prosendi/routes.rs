//! The Prosendi endpoint table (seed 004's integration guide), the request
//! parts a table cannot say (recipients, media URLs, the bulk list) and its
//! response shapes. Devices are sessions; a device's id is the session's.

use http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::profiles::common::{int, media_content, media_kind_of, session_id_of, text_or_null};
use crate::profiles::engine::default_mark;
use crate::profiles::request::{add_error, body_value, required_message, set_path};
use crate::profiles::{
    BuildFn, Conv, Endpoint, FieldErrors, FieldMap as F, Inputs, Paging, Reply, Scope, ShapeFn,
};

/// Sends: `device_id` picks the device, else the key's session, else the
/// default device, else the oldest connected one.
const DEVICE: Scope = Scope::Device("device_id", Some(DEFAULT_LABEL));
/// The session label marking the company's default device: its value is
/// when it was set (Unix milliseconds); the most recent mark is the default,
/// so setting one needs no write to the other devices.
pub const DEFAULT_LABEL: &str = "prosendi-default";
const DEVICE_NAME: F = F::path("id", "name", Conv::SessionName);
/// Seed 004's bulk limit is not documented; SendBulk's is 1,000.
const MAX_BULK: usize = 1000;

fn row(
    method: Method,
    path: &'static str,
    summary: &'static str,
    rpc: &'static str,
    scope: Scope,
    fields: Vec<F>,
    shape: ShapeFn,
) -> Endpoint {
    Endpoint {
        method,
        path,
        summary,
        rpc,
        scope,
        fields,
        build: None,
        update_mask: None,
        paging: Paging::None,
        shape,
    }
}

fn with_build(mut endpoint: Endpoint, build: BuildFn) -> Endpoint {
    endpoint.build = Some(build);
    endpoint
}

/// Every endpoint of seed 004's guide.
#[rustfmt::skip]
pub fn endpoints() -> Vec<Endpoint> {
    use Method as M;
    use Scope::Account;
    let mut list = row(M::GET, "/api/whatsapp/devices", "List devices (status: pending, qr_ready, authenticated, disconnected, error)",
        "wagate.v1.SessionService.ListSessions", Account, vec![], device_list);
    list.paging = Paging::All { list: "sessions" };
    let mut update = row(M::PUT, "/api/whatsapp/devices/{id}", "Update a device's name (is_active is not supported)",
        "wagate.v1.SessionService.UpdateSession", Account,
        vec![F::path("id", "session.name", Conv::SessionName), F::body("name", "session.display_name", Conv::Copy)],
        device);
    update.update_mask = Some(("update_mask", "session."));
    let set_default = row(M::POST, "/api/whatsapp/devices/{id}/set-default",
        "Set the company's default device: sends without device_id use it (label prosendi-default)",
        "wagate.v1.SessionService.UpdateSession", Account,
        vec![F::path("id", "session.name", Conv::SessionName)], set_default);
    vec![
        list,
        row(M::POST, "/api/whatsapp/devices", "Create a device (wagate sessions also need phone_number)",
            "wagate.v1.SessionService.CreateSession", Account,
            vec![
                F::body("name", "session.display_name", Conv::Copy).required(),
                F::body("phone_number", "session.phone_number", Conv::Copy).required(),
            ],
            device_created),
        row(M::GET, "/api/whatsapp/devices/{id}/qr", "Get the QR code to link a device (starts connecting it)",
            "wagate.v1.SessionService.ConnectSession", Account, vec![DEVICE_NAME], qr),
        row(M::GET, "/api/whatsapp/devices/{id}/status", "Get a device's status and phone number",
            "wagate.v1.SessionService.GetSession", Account, vec![DEVICE_NAME], status),
        with_build(set_default, mark_default),
        with_build(update, refuse_is_active),
        row(M::DELETE, "/api/whatsapp/devices/{id}", "Delete a device and its session",
            "wagate.v1.SessionService.DeleteSession", Account, vec![DEVICE_NAME], deleted),
        with_build(row(M::POST, "/api/whatsapp/send", "Send a message (text, or media by URL with the message as caption)",
            "wagate.v1.MessageService.SendMessage", DEVICE,
            vec![F::caller("parent"), F::body("recipient", "message.chat", Conv::Copy).required()],
            sent), single_send),
        with_build(row(M::POST, "/api/whatsapp/send-bulk", "Send several messages from one device",
            "wagate.v1.MessageService.SendBulk", DEVICE, vec![F::caller("parent")], bulk_sent), bulk_send),
    ]
}

fn text_of<'a>(value: &'a Value, name: &str) -> Option<&'a str> {
    body_value(value, name)
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
}

/// A group recipient given as its id alone gets the group server.
fn chat_of(item: &Value, recipient: &str) -> String {
    let is_group = item.get("is_group").and_then(Value::as_bool) == Some(true);
    if is_group && !recipient.contains('@') {
        format!("{recipient}@g.us")
    } else {
        recipient.to_owned()
    }
}

/// One item (`recipient`, `message`, `media_url`, `is_group`) → a Message,
/// errors under `prefix` + the seed's field names.
fn message_of(item: &Value, prefix: &str, errors: &mut FieldErrors) -> Option<Value> {
    let field = |name: &str| format!("{prefix}{name}");
    let Some(recipient) = text_of(item, "recipient") else {
        add_error(
            errors,
            &field("recipient"),
            required_message(&field("recipient")),
        );
        return None;
    };
    let text = text_of(item, "message");
    let mut message = json!({"chat": chat_of(item, recipient)});
    match (text_of(item, "media_url"), text) {
        (Some(url), caption) => {
            let kind = media_kind_of(url);
            match media_content(kind, url, caption) {
                Ok(media) => message[kind] = media,
                Err(why) => {
                    add_error(errors, &field("message"), why);
                    return None;
                }
            }
        }
        (None, Some(text)) => message["text"] = json!(text),
        (None, None) => {
            add_error(
                errors,
                &field("message"),
                "The message field is required when media_url is omitted.",
            );
            return None;
        }
    }
    Some(message)
}

fn single_send(request: &mut Value, inputs: &Inputs) -> Result<(), FieldErrors> {
    let mut errors = FieldErrors::new();
    match message_of(&inputs.body, "", &mut errors) {
        Some(message) if errors.is_empty() => {
            set_path(request, "message", message);
            Ok(())
        }
        _ => Err(errors),
    }
}

fn bulk_send(request: &mut Value, inputs: &Inputs) -> Result<(), FieldErrors> {
    let mut errors = FieldErrors::new();
    let parent = request["parent"].clone();
    let items = match inputs.body.get("messages") {
        Some(Value::Array(items)) if !items.is_empty() && items.len() <= MAX_BULK => items,
        _ => {
            add_error(
                &mut errors,
                "messages",
                format!("The messages field must list 1 to {MAX_BULK} messages."),
            );
            return Err(errors);
        }
    };
    let requests: Vec<Value> = items
        .iter()
        .enumerate()
        .filter_map(|(i, item)| message_of(item, &format!("messages.{i}."), &mut errors))
        .map(|message| json!({"parent": parent, "message": message}))
        .collect();
    if !errors.is_empty() {
        return Err(errors);
    }
    set_path(request, "requests", Value::Array(requests));
    Ok(())
}

/// wagate sessions cannot be switched off; refusing beats ignoring it.
fn refuse_is_active(_: &mut Value, inputs: &Inputs) -> Result<(), FieldErrors> {
    if inputs.body.get("is_active").is_none_or(Value::is_null) {
        return Ok(());
    }
    let mut errors = FieldErrors::new();
    add_error(
        &mut errors,
        "is_active",
        "is_active is not supported: devices cannot be deactivated here; disconnect or delete the device instead.",
    );
    Err(errors)
}

/// Seed 004's device statuses.
fn device_status(status: &Value) -> &'static str {
    match status.as_str().unwrap_or("") {
        "SESSION_STATUS_CONNECTED" => "authenticated",
        "SESSION_STATUS_NEED_SCAN" => "qr_ready",
        "SESSION_STATUS_CONNECTING" | "SESSION_STATUS_UNSPECIFIED" => "pending",
        "SESSION_STATUS_DISCONNECTED" | "SESSION_STATUS_LOGGED_OUT" => "disconnected",
        _ => "error",
    }
}

fn data(value: Value) -> Reply {
    Reply::json(json!({"success": true, "data": value}))
}

fn device_json(session: &Value) -> Value {
    json!({
        "id": int(&session["id"]),
        "name": session["displayName"],
        "phone_number": text_or_null(&session["phoneNumber"]),
        "status": device_status(&session["status"]),
        "status_reason": text_or_null(&session["statusReason"]),
        "created_at": text_or_null(&session["createTime"]),
        "updated_at": text_or_null(&session["updateTime"]),
    })
}

fn device(session: &Value, _: &Inputs) -> Reply {
    data(device_json(session))
}

fn device_created(session: &Value, _: &Inputs) -> Reply {
    Reply {
        status: StatusCode::CREATED,
        body: Some(json!({"success": true, "data": device_json(session)})),
    }
}

/// `is_default` marks the device a send without `device_id` uses with the
/// company key: the one set as default last, else the oldest connected one.
fn device_list(page: &Value, _: &Inputs) -> Reply {
    let sessions = page["items"].as_array().cloned().unwrap_or_default();
    let marked = sessions
        .iter()
        .filter_map(|s| default_mark(s, DEFAULT_LABEL))
        .max()
        .map(|(_, id)| id);
    let default = marked.or_else(|| {
        sessions
            .iter()
            .filter(|s| s["status"] == "SESSION_STATUS_CONNECTED")
            .filter_map(|s| int(&s["id"]).as_i64())
            .min()
    });
    let devices: Vec<Value> = sessions
        .iter()
        .map(|s| {
            let mut device = device_json(s);
            device["is_default"] = json!(default.is_some() && int(&s["id"]).as_i64() == default);
            device
        })
        .collect();
    data(json!(devices))
}

fn qr(response: &Value, _: &Inputs) -> Reply {
    data(json!({
        "qr_code": text_or_null(&response["qrCode"]["code"]),
        "device_status": device_status(&response["status"]),
    }))
}

fn status(session: &Value, _: &Inputs) -> Reply {
    let connected = session["status"] == "SESSION_STATUS_CONNECTED";
    let linked = text_or_null(&session["user"]["phoneNumber"]);
    let phone = match (connected, linked) {
        (true, Value::Null) => text_or_null(&session["phoneNumber"]),
        (true, linked) => linked,
        (false, _) => Value::Null,
    };
    data(json!({
        "id": int(&session["id"]),
        "status": device_status(&session["status"]),
        "phone_number": phone,
    }))
}

/// Marks the device as default: its `prosendi-default` label becomes now
/// (only that label changes; an unknown device is 404).
fn mark_default(request: &mut Value, _: &Inputs) -> Result<(), FieldErrors> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    set_path(
        request,
        "session.labels",
        json!({ DEFAULT_LABEL: now.to_string() }),
    );
    set_path(
        request,
        "update_mask",
        json!(format!("labels.{DEFAULT_LABEL}")),
    );
    Ok(())
}

fn set_default(session: &Value, _: &Inputs) -> Reply {
    let mut device = device_json(session);
    device["is_default"] = json!(true);
    Reply::json(json!({"success": true, "message": "Default device updated", "data": device}))
}

fn deleted(_: &Value, _: &Inputs) -> Reply {
    Reply::json(json!({"success": true, "message": "Device deleted"}))
}

fn message_status(status: &Value) -> String {
    let name = status.as_str().unwrap_or("");
    name.strip_prefix("MESSAGE_STATUS_")
        .unwrap_or(name)
        .to_ascii_lowercase()
}

/// Quotas are not modelled by wagate: `quota` is null (the server's send
/// limits arrive as `X-RateLimit-*` headers and 429 `quota_exceeded`).
fn sent(message: &Value, _: &Inputs) -> Reply {
    data(json!({
        "message_id": int(&message["id"]),
        "chat_id": message["chat"],
        "device_id": session_id_of(&message["name"]),
        "status": message_status(&message["status"]),
        "quota": null,
    }))
}

fn bulk_sent(response: &Value, inputs: &Inputs) -> Reply {
    let results: Vec<Value> = response["results"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            let message = r.get("message").filter(|m| m.is_object());
            json!({
                "index": r["index"],
                "message_id": message.map_or(Value::Null, |m| int(&m["id"])),
                "chat_id": message.map_or(Value::Null, |m| m["chat"].clone()),
                "error": text_or_null(&r["error"]["message"]),
            })
        })
        .collect();
    data(json!({
        "device_id": inputs.caller_session,
        "total": results.len(),
        "queued": response["queuedCount"],
        "failed": response["failedCount"],
        "results": results,
        "quota": null,
    }))
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
    fn sends_take_the_seeds_fields() {
        let mut request = json!({});
        single_send(
            &mut request,
            &inputs(json!({"recipient": "120363000000000001", "message": "Hi", "is_group": true})),
        )
        .unwrap();
        assert_eq!(
            request["message"],
            json!({"chat": "120363000000000001@g.us", "text": "Hi"})
        );
        let mut request = json!({});
        single_send(
            &mut request,
            &inputs(
                json!({"recipient": "+22370123456", "message": "Check out this document",
                "media_url": "https://example.com/files/invoice.pdf"}),
            ),
        )
        .unwrap();
        assert_eq!(
            request["message"]["document"]["caption"],
            "Check out this document"
        );
        let errors = bulk_send(
            &mut json!({"parent": "sessions/1"}),
            &inputs(json!({"messages": [{"recipient": "+1"}]})),
        )
        .unwrap_err();
        assert!(errors.contains_key("messages.0.message"), "{errors:?}");
        assert!(refuse_is_active(&mut json!({}), &inputs(json!({"is_active": false}))).is_err());
        assert!(refuse_is_active(&mut json!({}), &inputs(json!({"name": "x"}))).is_ok());
    }
}
