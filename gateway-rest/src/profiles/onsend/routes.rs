//! The OnSend endpoint table (seed 000's API reference), the message content
//! a table cannot say (`type` with `url`, `mimetype`, `filename`) and its
//! response shapes.

use http::Method;
use serde_json::{Value, json};

use crate::profiles::common::int;
use crate::profiles::request::{add_error, body_value, set_path};
use crate::profiles::{Conv, Endpoint, FieldErrors, FieldMap as F, Inputs, Paging, Reply, Scope};

/// Both endpoints of seed 000's reference; the device is the token's session.
pub fn endpoints() -> Vec<Endpoint> {
    vec![
        Endpoint {
            method: Method::GET,
            path: "/api/v1/status",
            summary: "Device status (connected, not_connected, connecting, disconnected, logged_out)",
            rpc: "wagate.v1.SessionService.GetSession",
            scope: Scope::Session,
            fields: vec![F::caller("name")],
            build: None,
            update_mask: None,
            paging: Paging::None,
            shape: status,
        },
        Endpoint {
            method: Method::POST,
            path: "/api/v1/send",
            summary: "Send a text, image, video or document message",
            rpc: "wagate.v1.MessageService.SendMessage",
            scope: Scope::Session,
            fields: vec![
                F::caller("parent"),
                // Mapped for the server's violations; presence is checked
                // by `content` in seed 000's words.
                F::body("phone_number", "message.chat", Conv::Copy),
            ],
            build: Some(content),
            update_mask: None,
            paging: Paging::None,
            shape: sent,
        },
    ]
}

fn text_of<'a>(body: &'a Value, name: &str) -> Option<&'a str> {
    body_value(body, name)
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
}

/// A field that, when present, must be a string (Laravel's `string` rule).
fn string_or_error<'a>(body: &'a Value, name: &str, errors: &mut FieldErrors) -> Option<&'a str> {
    match body_value(body, name) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.as_str()).filter(|s| !s.trim().is_empty()),
        Some(_) => {
            add_error(
                errors,
                name,
                format!("The {} field must be a string.", name.replace('_', " ")),
            );
            None
        }
    }
}

/// `type` (text by default) with `message`, `url`, `mimetype`, `filename`
/// → the message content, validated by seed 000's rules.
fn content(request: &mut Value, inputs: &Inputs) -> Result<(), FieldErrors> {
    let body = &inputs.body;
    let mut errors = FieldErrors::new();
    if text_of(body, "phone_number").is_none()
        && !body_value(body, "phone_number").is_some_and(Value::is_number)
    {
        add_error(
            &mut errors,
            "phone_number",
            "The phone number field is required.",
        );
    }
    let text = string_or_error(body, "message", &mut errors);
    let url = string_or_error(body, "url", &mut errors);
    let mimetype = string_or_error(body, "mimetype", &mut errors);
    let filename = string_or_error(body, "filename", &mut errors);
    let kind = text_of(body, "type").unwrap_or("text");
    let content = match kind {
        "text" => {
            if text.is_none() {
                add_error(
                    &mut errors,
                    "message",
                    "The message field is required when type is text.",
                );
            }
            text.map(|t| json!(t))
        }
        "image" | "video" | "document" => {
            if url.is_none() {
                add_error(
                    &mut errors,
                    "url",
                    format!("The url field is required when type is {kind}."),
                );
            }
            if kind == "document" && mimetype.is_none() {
                add_error(
                    &mut errors,
                    "mimetype",
                    "The mimetype field is required when type is document.",
                );
            }
            url.map(|url| {
                let mut media = json!({"source": {"uri": url}});
                if let Some(caption) = text {
                    media["caption"] = json!(caption);
                }
                if let Some(mimetype) = mimetype {
                    media["mime_type"] = json!(mimetype);
                }
                if let (Some(name), "document") = (filename, kind) {
                    media["file_name"] = json!(name);
                }
                media
            })
        }
        _ => {
            add_error(&mut errors, "type", "The selected type is invalid.");
            None
        }
    };
    match content {
        Some(content) if errors.is_empty() => {
            if let Some(Value::Number(n)) = body_value(body, "phone_number") {
                set_path(request, "message.chat", json!(n.to_string()));
            }
            set_path(request, &format!("message.{kind}"), content);
            Ok(())
        }
        _ => Err(errors),
    }
}

/// Seed 000's device statuses; a device never linked (no account yet) is
/// `not_connected` rather than `disconnected`.
fn status_name(status: &Value, linked: bool) -> &'static str {
    match status.as_str().unwrap_or("") {
        "SESSION_STATUS_CONNECTED" => "connected",
        "SESSION_STATUS_CONNECTING" => "connecting",
        "SESSION_STATUS_DISCONNECTED" if linked => "disconnected",
        "SESSION_STATUS_LOGGED_OUT" | "SESSION_STATUS_EXPIRED" => "logged_out",
        _ => "not_connected",
    }
}

/// `phone_number`: the linked account's number (digits, as seed 000 prints
/// it); null for a device not linked.
fn status(session: &Value, _: &Inputs) -> Reply {
    let linked = session["user"]["phoneNumber"]
        .as_str()
        .filter(|p| !p.is_empty());
    let name = status_name(&session["status"], linked.is_some());
    Reply::json(json!({
        "name": session["displayName"],
        "phone_number": linked.map_or(Value::Null, |p| json!(p.trim_start_matches('+'))),
        "status": name,
    }))
}

/// The server queues the message; `success` is true once it is accepted, and
/// `message_id` tracks it (a later failure is the message's status).
fn sent(message: &Value, _: &Inputs) -> Reply {
    Reply::json(json!({
        "success": true,
        "message": "The message has been queued for sending.",
        "message_id": int(&message["id"]),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(body: Value) -> Result<Value, FieldErrors> {
        let mut request = json!({});
        content(
            &mut request,
            &Inputs {
                body,
                ..Inputs::default()
            },
        )
        .map(|()| request)
    }

    #[test]
    fn the_seeds_bodies_become_message_content() {
        assert_eq!(
            build(json!({"phone_number": "60123456789", "message": "Hello world"})).unwrap(),
            json!({"message": {"text": "Hello world"}})
        );
        assert_eq!(
            build(json!({"phone_number": "60123456789", "type": "document", "url": "https://example.com/invoice.pdf",
                "mimetype": "application/pdf", "filename": "invoice.pdf"}))
            .unwrap()["message"]["document"],
            json!({"source": {"uri": "https://example.com/invoice.pdf"}, "mime_type": "application/pdf", "file_name": "invoice.pdf"})
        );
        let errors =
            build(json!({"phone_number": "1", "type": "image", "message": 5})).unwrap_err();
        assert_eq!(
            errors["url"],
            vec!["The url field is required when type is image.".to_owned()]
        );
        assert_eq!(
            errors["message"],
            vec!["The message field must be a string.".to_owned()]
        );
        assert!(
            build(json!({"message": "x"}))
                .unwrap_err()
                .contains_key("phone_number")
        );
    }
}
