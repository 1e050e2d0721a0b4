//! WasenderAPI response shapes of sessions and messages, from our canonical
//! proto3 JSON (camelCase, defaults printed, int64 as strings, enum names,
//! RFC 3339 times) to seed 001's example responses.

use serde_json::{Map, Value, json};

use crate::profiles::{Inputs, Reply};

/// `{"success": true, "data": …}`.
pub fn data(value: Value) -> Reply {
    Reply::json(json!({"success": true, "data": value}))
}

/// `{"success": true, "message": …}` (endpoints that answer a sentence).
pub fn done(message: &str) -> Reply {
    Reply::json(json!({"success": true, "message": message}))
}

/// An int64 (a JSON string in proto3 JSON) as a JSON number.
pub fn int(value: &Value) -> Value {
    match value {
        Value::String(s) => s.parse::<i64>().map(Value::from).unwrap_or(Value::Null),
        Value::Number(_) => value.clone(),
        _ => Value::Null,
    }
}

/// A string, or null when empty or absent (seed 001 prints null for unset).
pub fn text_or_null(value: &Value) -> Value {
    match value.as_str() {
        Some(s) if !s.is_empty() => json!(s),
        _ => Value::Null,
    }
}

/// `SESSION_STATUS_NEED_SCAN` → `need_scan`.
pub fn lower_enum(value: &Value, prefix: &str) -> String {
    value
        .as_str()
        .unwrap_or("")
        .strip_prefix(prefix)
        .unwrap_or("")
        .to_ascii_lowercase()
}

/// `2026-12-01T09:42:18.123Z` → `2026-12-01T09:42:18Z`.
fn iso_seconds(value: &Value) -> Value {
    match value.as_str().filter(|s| s.len() >= 19) {
        Some(s) => json!(format!("{}Z", &s[..19])),
        None => Value::Null,
    }
}

/// → `2026-12-01 09:42:18` (seed 001's message logs).
fn sql_time(value: &Value) -> Value {
    match value.as_str().filter(|s| s.len() >= 19) {
        Some(s) => json!(s[..19].replace('T', " ")),
        None => Value::Null,
    }
}

/// → `2026-12-01T09:42:18.123000Z` (seed 001's session logs).
fn micros_time(value: &Value) -> Value {
    let Some(s) = value.as_str().filter(|s| s.len() >= 19) else {
        return Value::Null;
    };
    let fraction: String = s[19..]
        .strip_prefix('.')
        .unwrap_or("")
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    json!(format!("{}.{:0<6}Z", &s[..19], fraction))
}

/// Seconds since the Unix epoch of an RFC 3339 UTC time (proto3 JSON
/// timestamps are always UTC with a `Z`).
pub fn epoch_seconds(value: &Value) -> Value {
    let Some(s) = value.as_str().filter(|s| s.len() >= 19) else {
        return Value::Null;
    };
    let number = |range: std::ops::Range<usize>| s.get(range)?.parse::<i64>().ok();
    let (Some(y), Some(mo), Some(d), Some(h), Some(mi), Some(se)) = (
        number(0..4),
        number(5..7),
        number(8..10),
        number(11..13),
        number(14..16),
        number(17..19),
    ) else {
        return Value::Null;
    };
    // Days from civil (Howard Hinnant's algorithm).
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    json!(days * 86_400 + h * 3600 + mi * 60 + se)
}

/// A session as seed 001 shows it.
fn session_json(s: &Value) -> Value {
    let events = s["webhookEvents"].as_array().filter(|e| !e.is_empty());
    json!({
        "id": int(&s["id"]),
        "name": s["displayName"],
        "phone_number": s["phoneNumber"],
        "status": lower_enum(&s["status"], "SESSION_STATUS_"),
        "account_protection": s["accountProtection"].as_bool().unwrap_or(true),
        "log_messages": s["logMessages"].as_bool().unwrap_or(true),
        "read_incoming_messages": s["readIncomingMessages"],
        "webhook_url": text_or_null(&s["webhookUrl"]),
        "webhook_enabled": s["webhookEnabled"],
        "webhook_events": events.map(|e| Value::Array(e.clone())).unwrap_or(Value::Null),
        "auto_reject_calls": s["autoRejectCalls"],
        "ignore_groups": s["ignoreGroups"],
        "ignore_channels": s["ignoreChannels"],
        "ignore_broadcasts": s["ignoreBroadcasts"],
        "always_online": s["alwaysOnline"],
        "proxy_url": text_or_null(&s["proxyUrl"]),
        // The key is shown once (create, regenerate-key); wagate keeps only its hash.
        "api_key": text_or_null(&s["apiKey"]),
        "webhook_secret": text_or_null(&s["webhookSecret"]),
        "created_at": iso_seconds(&s["createTime"]),
        "updated_at": iso_seconds(&s["updateTime"]),
    })
}

pub fn session(response: &Value, _: &Inputs) -> Reply {
    data(session_json(response))
}

pub fn session_list(page: &Value, _: &Inputs) -> Reply {
    let sessions: Vec<Value> = items(page).iter().map(session_json).collect();
    data(Value::Array(sessions))
}

pub fn no_content(_: &Value, _: &Inputs) -> Reply {
    Reply::no_content()
}

pub fn connect(response: &Value, _: &Inputs) -> Reply {
    let status = lower_enum(&response["status"], "SESSION_STATUS_").to_ascii_uppercase();
    let code = response["qrCode"]["code"].as_str().unwrap_or("");
    if status == "NEED_SCAN" && !code.is_empty() {
        return data(json!({"status": status, "qrCode": code}));
    }
    let message = match response["message"].as_str() {
        Some(m) if !m.is_empty() => m,
        _ => "Session already initialized or connecting. No QR code needed.",
    };
    data(json!({"status": status, "message": message}))
}

pub fn qr_code(response: &Value, _: &Inputs) -> Reply {
    data(json!({"qrCode": response["code"]}))
}

pub fn disconnected(response: &Value, _: &Inputs) -> Reply {
    data(json!({
        "status": lower_enum(&response["status"], "SESSION_STATUS_"),
        "message": "WhatsApp session disconnected successfully",
    }))
}

pub fn restarted(_: &Value, _: &Inputs) -> Reply {
    done("WhatsApp session restarted successfully.")
}

pub fn api_key(response: &Value, _: &Inputs) -> Reply {
    Reply::json(json!({"success": true, "api_key": response["apiKey"]}))
}

/// `GET /api/status` answers the bare status, without an envelope.
pub fn status(response: &Value, _: &Inputs) -> Reply {
    Reply::json(json!({"status": lower_enum(&response["status"], "SESSION_STATUS_")}))
}

pub fn user(response: &Value, _: &Inputs) -> Reply {
    data(json!({
        "id": response["jid"],
        "name": response["pushName"],
        "lid": response["lid"],
    }))
}

pub fn presence(response: &Value, inputs: &Inputs) -> Reply {
    let jid = match response["chat"].as_str() {
        Some(chat) if !chat.is_empty() => json!(chat),
        _ => inputs.body["jid"].clone(),
    };
    data(json!({
        "jid": jid,
        "type": lower_enum(&response["presence"], "PRESENCE_STATE_"),
    }))
}

/// Seed 001's status words: `in_progress` until WhatsApp has the message.
fn status_word(status: &Value) -> &'static str {
    match status.as_str().unwrap_or("") {
        "MESSAGE_STATUS_QUEUED" | "MESSAGE_STATUS_IN_PROGRESS" => "in_progress",
        "MESSAGE_STATUS_SENT" => "sent",
        "MESSAGE_STATUS_DELIVERED" => "delivered",
        "MESSAGE_STATUS_READ" => "read",
        "MESSAGE_STATUS_PLAYED" => "played",
        "MESSAGE_STATUS_FAILED" => "failed",
        "MESSAGE_STATUS_CANCELLED" => "cancelled",
        "MESSAGE_STATUS_RECEIVED" => "received",
        _ => "in_progress",
    }
}

/// Seed 001's status numbers: 0 ERROR … 5 PLAYED.
fn status_number(status: &Value) -> i64 {
    match status.as_str().unwrap_or("") {
        "MESSAGE_STATUS_FAILED" | "MESSAGE_STATUS_CANCELLED" => 0,
        "MESSAGE_STATUS_SENT" => 2,
        "MESSAGE_STATUS_DELIVERED" | "MESSAGE_STATUS_RECEIVED" => 3,
        "MESSAGE_STATUS_READ" => 4,
        "MESSAGE_STATUS_PLAYED" => 5,
        _ => 1,
    }
}

pub fn sent(response: &Value, _: &Inputs) -> Reply {
    data(json!({
        "msgId": int(&response["id"]),
        "jid": response["chat"],
        "status": status_word(&response["status"]),
    }))
}

pub fn resent(_: &Value, _: &Inputs) -> Reply {
    done("Message resend initiated successfully.")
}

pub fn deleted(_: &Value, _: &Inputs) -> Reply {
    done("Message deleted successfully.")
}

pub fn marked_read(_: &Value, _: &Inputs) -> Reply {
    data(json!({"status": "read"}))
}

pub fn public_url(response: &Value, _: &Inputs) -> Reply {
    Reply::json(json!({"success": true, "publicUrl": response["uri"]}))
}

fn short_key(message: &Value) -> Value {
    json!({
        "id": message["key"]["id"],
        "fromMe": message["key"]["fromMe"],
        "remoteJid": message["key"]["remoteJid"],
    })
}

fn media_of(content: &Value, with_caption: bool) -> Value {
    let mut out = json!({
        "url": content["source"]["uri"],
        "mimetype": content["mimeType"],
    });
    if with_caption {
        out["caption"] = content["caption"].clone();
    }
    out
}

/// The content in WhatsApp's names (`conversation`, `imageMessage`, …).
fn wa_message(message: &Value) -> Value {
    let quoted = message["replyTo"].is_object();
    if let Some(text) = message["text"].as_str().filter(|t| !t.is_empty()) {
        return if quoted {
            json!({"extendedTextMessage": {"text": text, "contextInfo": {"stanzaId": message["replyTo"]["key"]["id"]}}})
        } else {
            json!({"conversation": text})
        };
    }
    let kinds = [
        ("image", "imageMessage", true),
        ("video", "videoMessage", true),
        ("audio", "audioMessage", false),
        ("document", "documentMessage", true),
        ("sticker", "stickerMessage", false),
    ];
    for (field, name, caption) in kinds {
        if message[field].is_object() {
            let mut media = media_of(&message[field], caption);
            if field == "document" {
                media["fileName"] = message[field]["fileName"].clone();
            }
            return json!({ name: media });
        }
    }
    if message["location"].is_object() {
        let l = &message["location"];
        return json!({"locationMessage": {"degreesLatitude": l["latitude"], "degreesLongitude": l["longitude"], "name": l["placeName"], "address": l["address"]}});
    }
    if message["contact"].is_object() {
        let c = &message["contact"];
        return json!({"contactMessage": {"displayName": c["fullName"], "vcard": c["vcard"]}});
    }
    if message["poll"].is_object() {
        let p = &message["poll"];
        let options: Vec<Value> = p["options"]
            .as_array()
            .map(|o| o.iter().map(|name| json!({"optionName": name})).collect())
            .unwrap_or_default();
        return json!({"pollCreationMessage": {"name": p["question"], "options": options, "selectableOptionsCount": if p["multiSelect"].as_bool() == Some(true) { 0 } else { 1 }}});
    }
    match message["body"].as_str().filter(|b| !b.is_empty()) {
        Some(body) => json!({"conversation": body}),
        None => json!({}),
    }
}

/// When WhatsApp took the message, else when we accepted it, as a string of
/// seconds (seed 001's `messageTimestamp`).
fn message_timestamp(message: &Value) -> Value {
    let time = if message["sendTime"].is_string() {
        &message["sendTime"]
    } else {
        &message["createTime"]
    };
    match epoch_seconds(time) {
        Value::Number(n) => json!(n.to_string()),
        _ => Value::Null,
    }
}

pub fn message_info(message: &Value, _: &Inputs) -> Reply {
    data(json!({
        "remoteJid": message["key"]["remoteJid"],
        "id": message["whatsappId"],
        "msgId": int(&message["id"]),
        "key": short_key(message),
        "message": wa_message(message),
        "messageTimestamp": message_timestamp(message),
        "status": status_number(&message["status"]),
    }))
}

pub fn edited(message: &Value, _: &Inputs) -> Reply {
    let edit_ms = match epoch_seconds(&message["editTime"]) {
        Value::Number(n) => json!(n.as_i64().unwrap_or(0) * 1000),
        _ => Value::Null,
    };
    data(json!({
        "remoteJid": message["key"]["remoteJid"],
        "id": message["whatsappId"],
        "msgId": int(&message["id"]),
        "key": short_key(message),
        "message": {
            "protocolMessage": {
                "key": short_key(message),
                // WhatsApp's MESSAGE_EDIT protocol message type.
                "type": 14,
                "timestampMs": edit_ms,
                "editedMessage": {"extendedTextMessage": {"text": message["text"]}},
            }
        },
        "messageTimestamp": message_timestamp(message),
        "status": status_number(&message["status"]),
    }))
}

pub fn items(page: &Value) -> Vec<Value> {
    page["items"].as_array().cloned().unwrap_or_default()
}

/// Laravel's paginator object around `rows`, as seed 001's logs show it.
fn paginated(page: &Value, rows: Vec<Value>, path: String) -> Reply {
    let current = page["page"].as_u64().unwrap_or(1);
    let size = page["size"].as_u64().unwrap_or(10);
    let last = page["lastPage"].as_u64().unwrap_or(1);
    let count = rows.len() as u64;
    let from = (current - 1) * size + 1;
    let url = |n: u64| json!(format!("{path}?page={n}"));
    data(json!({
        "current_page": current,
        "data": rows,
        "first_page_url": url(1),
        "from": if count == 0 { Value::Null } else { json!(from) },
        "last_page": last,
        "last_page_url": url(last),
        "next_page_url": if current < last { url(current + 1) } else { Value::Null },
        "path": path,
        "per_page": size,
        "prev_page_url": if current > 1 { url(current - 1) } else { Value::Null },
        "to": if count == 0 { Value::Null } else { json!(from + count - 1) },
        "total": page["total"],
    }))
}

fn session_path(inputs: &Inputs, tail: &str) -> String {
    let id = inputs
        .path
        .get("whatsappSession")
        .map(String::as_str)
        .unwrap_or("");
    format!("/api/whatsapp-sessions/{id}/{tail}")
}

/// The content as seed 001's message logs keep it: a JSON string.
fn logged_content(message: &Value) -> Value {
    let mut content = Map::new();
    if let Some(text) = message["text"].as_str().filter(|t| !t.is_empty()) {
        content.insert("text".into(), json!(text));
    }
    for (field, key) in [
        ("image", "imageUrl"),
        ("video", "videoUrl"),
        ("audio", "audioUrl"),
        ("document", "documentUrl"),
        ("sticker", "stickerUrl"),
    ] {
        if message[field].is_object() {
            content.insert(key.into(), message[field]["source"]["uri"].clone());
            if let Some(caption) = message[field]["caption"].as_str().filter(|c| !c.is_empty()) {
                content.insert("text".into(), json!(caption));
            }
        }
    }
    for field in ["location", "contact", "poll"] {
        if message[field].is_object() {
            content.insert(field.into(), message[field].clone());
        }
    }
    if content.is_empty() {
        // Not logged (log_messages off) or deleted.
        Value::Null
    } else {
        json!(Value::Object(content).to_string())
    }
}

pub fn message_logs(page: &Value, inputs: &Inputs) -> Reply {
    let session = inputs
        .path
        .get("whatsappSession")
        .cloned()
        .unwrap_or_default();
    let rows = items(page)
        .iter()
        .map(|m| {
            let content = logged_content(m);
            json!({
                "id": m["id"],
                "whatsapp_session_id": session,
                "to": if content.is_null() { Value::Null } else { m["chat"].clone() },
                "content": content,
                "status": status_word(&m["status"]),
                "failed_reason": text_or_null(&m["error"]["message"]),
                "created_at": sql_time(&m["createTime"]),
                "updated_at": sql_time(&m["updateTime"]),
            })
        })
        .collect();
    paginated(page, rows, session_path(inputs, "message-logs"))
}

pub fn session_logs(page: &Value, inputs: &Inputs) -> Reply {
    let session = inputs
        .path
        .get("whatsappSession")
        .and_then(|s| s.parse::<i64>().ok());
    let rows = items(page)
        .iter()
        .map(|log| {
            json!({
                "id": int(&log["id"]),
                "whatsapp_session_id": session,
                "event_type": lower_enum(&log["type"], "SESSION_LOG_TYPE_"),
                "status": lower_enum(&log["status"], "SESSION_STATUS_"),
                "occurred_at": micros_time(&log["occurTime"]),
            })
        })
        .collect();
    paginated(page, rows, session_path(inputs, "session-logs"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_in_the_seeds_formats() {
        let t = json!("2025-09-23T12:00:00.5Z");
        assert_eq!(iso_seconds(&t), json!("2025-09-23T12:00:00Z"));
        assert_eq!(sql_time(&t), json!("2025-09-23 12:00:00"));
        assert_eq!(micros_time(&t), json!("2025-09-23T12:00:00.500000Z"));
        assert_eq!(
            micros_time(&json!("2025-09-23T12:00:00Z")),
            json!("2025-09-23T12:00:00.000000Z")
        );
        assert_eq!(
            epoch_seconds(&json!("2023-03-15T13:20:00Z")),
            json!(1678886400)
        );
        assert_eq!(epoch_seconds(&json!("1970-01-01T00:00:00Z")), json!(0));
        assert_eq!(epoch_seconds(&json!("")), Value::Null);
    }

    #[test]
    fn statuses_in_words_and_numbers() {
        assert_eq!(status_word(&json!("MESSAGE_STATUS_QUEUED")), "in_progress");
        assert_eq!(status_number(&json!("MESSAGE_STATUS_FAILED")), 0);
        assert_eq!(status_number(&json!("MESSAGE_STATUS_PLAYED")), 5);
        assert_eq!(
            lower_enum(&json!("SESSION_STATUS_NEED_SCAN"), "SESSION_STATUS_"),
            "need_scan"
        );
    }
}
