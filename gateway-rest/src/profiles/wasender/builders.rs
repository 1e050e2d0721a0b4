//! Request parts of WasenderAPI endpoints that a field table cannot say:
//! the content of `send-message` (one of many optional fields), the message
//! key of `messages/read`, both upload forms, and the webhook-shaped body of
//! `decrypt-media`.

use base64::Engine as _;
use serde_json::{Value, json};

use crate::profiles::request::{add_error, body_value, set_path};
use crate::profiles::{FieldErrors, Inputs};

fn text_of<'a>(body: &'a Value, name: &str) -> Option<&'a str> {
    body_value(body, name)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// Message logs list what was sent through the API.
pub fn outbound_only(request: &mut Value, _: &Inputs) -> Result<(), FieldErrors> {
    set_path(request, "filter", json!("direction = OUTBOUND"));
    Ok(())
}

/// Group metadata includes the participants.
pub fn full_view(request: &mut Value, _: &Inputs) -> Result<(), FieldErrors> {
    set_path(request, "view", json!("GROUP_VIEW_FULL"));
    Ok(())
}

/// `send-message`: text, or a media URL (text is its caption), a contact
/// card, a location or a poll.
pub fn message_content(request: &mut Value, inputs: &Inputs) -> Result<(), FieldErrors> {
    let body = &inputs.body;
    let text = text_of(body, "text");
    let caption = json!(text.unwrap_or(""));
    let url = |name: &str| text_of(body, name).map(|u| json!({ "uri": u }));
    let content = if let Some(source) = url("imageUrl") {
        Some(("image", json!({ "source": source, "caption": caption })))
    } else if let Some(source) = url("videoUrl") {
        Some(("video", json!({ "source": source, "caption": caption })))
    } else if let Some(source) = url("documentUrl") {
        let mut document = json!({ "source": source, "caption": caption });
        if let Some(name) = text_of(body, "fileName") {
            document["file_name"] = json!(name);
        }
        Some(("document", document))
    } else if let Some(source) = url("audioUrl") {
        // Seed 001 sends `audioUrl` as a voice note.
        Some(("audio", json!({ "source": source, "voice_note": true })))
    } else if let Some(source) = url("stickerUrl") {
        Some(("sticker", json!({ "source": source })))
    } else if let Some(contact) = body.get("contact").filter(|c| c.is_object()) {
        Some((
            "contact",
            json!({
                "full_name": contact.get("name").or(contact.get("fullName")).cloned().unwrap_or_default(),
                "phone_number": contact.get("phone").or(contact.get("phoneNumber")).cloned().unwrap_or_default(),
            }),
        ))
    } else if let Some(location) = body.get("location").filter(|l| l.is_object()) {
        let mut pin = json!({
            "latitude": location.get("latitude").cloned().unwrap_or_default(),
            "longitude": location.get("longitude").cloned().unwrap_or_default(),
        });
        if let Some(name) = location.get("name") {
            pin["place_name"] = name.clone();
        }
        if let Some(address) = location.get("address") {
            pin["address"] = address.clone();
        }
        Some(("location", pin))
    } else if let Some(poll) = body.get("poll").filter(|p| p.is_object()) {
        Some((
            "poll",
            json!({
                "question": poll.get("question").cloned().unwrap_or_default(),
                "options": poll.get("options").cloned().unwrap_or_else(|| json!([])),
                "multi_select": poll.get("multiSelect").and_then(Value::as_bool).unwrap_or(false),
            }),
        ))
    } else {
        text.map(|t| ("text", json!(t)))
    };
    match content {
        Some((field, value)) => {
            set_path(request, &format!("message.{field}"), value);
            Ok(())
        }
        None => {
            let mut errors = FieldErrors::new();
            add_error(
                &mut errors,
                "text",
                "The text field is required when no media is present.",
            );
            Err(errors)
        }
    }
}

/// `messages/read`: the one message key of the body.
pub fn read_key(request: &mut Value, inputs: &Inputs) -> Result<(), FieldErrors> {
    let body = &inputs.body;
    let mut errors = FieldErrors::new();
    let id = text_of(body, "key.id");
    let remote = text_of(body, "key.remoteJid");
    let from_me = body_value(body, "key.fromMe").and_then(Value::as_bool);
    if id.is_none() {
        add_error(
            &mut errors,
            "key.id",
            "The key.id field is required and must be a non-empty string.",
        );
    }
    if remote.is_none() {
        add_error(
            &mut errors,
            "key.remoteJid",
            "The key.remoteJid field is required and must be a non-empty string.",
        );
    }
    if from_me.is_none() {
        add_error(
            &mut errors,
            "key.fromMe",
            "The key.fromMe field is required and must be a boolean.",
        );
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut key = json!({ "id": id, "remote_jid": remote, "from_me": from_me });
    if let Some(participant) = text_of(body, "key.participant") {
        key["participant"] = json!(participant);
    }
    set_path(request, "keys", json!([key]));
    Ok(())
}

/// `upload`: JSON `{"base64", "mimetype"}` (base64 plain or a data URL), or
/// the raw file with its type in `Content-Type`.
pub fn upload(request: &mut Value, inputs: &Inputs) -> Result<(), FieldErrors> {
    let mut errors = FieldErrors::new();
    let is_json = inputs
        .content_type
        .as_deref()
        .is_some_and(|ct| ct.starts_with("application/json"));
    if is_json {
        match text_of(&inputs.body, "base64") {
            Some(data) => set_path(request, "base64", json!(data)),
            None => add_error(&mut errors, "base64", "The base64 field is required."),
        }
        if let Some(mime) = text_of(&inputs.body, "mimetype") {
            set_path(request, "mime_type", json!(mime));
        }
    } else {
        let mime = inputs
            .content_type
            .as_deref()
            .map(|ct| ct.split(';').next().unwrap_or(ct).trim())
            .filter(|ct| !ct.is_empty());
        match mime {
            Some(mime) => set_path(request, "mime_type", json!(mime)),
            None => add_error(
                &mut errors,
                "Content-Type",
                "The Content-Type header is required and must be the file's MIME type.",
            ),
        }
        if inputs.raw_body.is_empty() {
            add_error(&mut errors, "file", "The request body must hold the file.");
        }
        let encoded = base64::engine::general_purpose::STANDARD.encode(&inputs.raw_body);
        set_path(request, "content", json!(encoded));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

const MEDIA_KINDS: [&str; 5] = [
    "imageMessage",
    "videoMessage",
    "audioMessage",
    "documentMessage",
    "stickerMessage",
];

/// `decrypt-media`: the message as a webhook delivered it; wagate finds its
/// media by the message key (it keeps the media keys of messages it received).
pub fn decrypt_media(request: &mut Value, inputs: &Inputs) -> Result<(), FieldErrors> {
    let mut errors = FieldErrors::new();
    let messages = body_value(&inputs.body, "data.messages");
    // `messages.upsert` delivers a list; the other events one object.
    let entry = match messages {
        Some(Value::Array(items)) => items.first(),
        other => other,
    };
    let Some(entry) = entry else {
        add_error(&mut errors, "data", "The data field is required.");
        return Err(errors);
    };
    let id = text_of(entry, "key.id");
    if id.is_none() {
        add_error(
            &mut errors,
            "data.messages.key.id",
            "The data.messages.key.id field is required.",
        );
    }
    let has_media = entry
        .get("message")
        .and_then(Value::as_object)
        .is_some_and(|m| MEDIA_KINDS.iter().any(|kind| m.contains_key(*kind)));
    if !has_media {
        add_error(
            &mut errors,
            "data.messages.message",
            "No supported media object (image, video, etc.) found in the message.",
        );
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut key = json!({ "id": id });
    if let Some(remote) = text_of(entry, "key.remoteJid") {
        key["remote_jid"] = json!(remote);
    }
    if let Some(from_me) = body_value(entry, "key.fromMe").and_then(Value::as_bool) {
        key["from_me"] = json!(from_me);
    }
    set_path(request, "message.key", key);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(body: Value) -> Inputs {
        Inputs {
            body,
            caller_session: Some(3),
            content_type: Some("application/json".into()),
            ..Default::default()
        }
    }

    #[test]
    fn send_message_content_from_the_seeds_fields() {
        let mut request = json!({});
        message_content(
            &mut request,
            &inputs(json!({"to": "+1", "text": "look", "imageUrl": "https://x/i.png"})),
        )
        .unwrap();
        assert_eq!(
            request["message"]["image"],
            json!({"source": {"uri": "https://x/i.png"}, "caption": "look"})
        );
        let mut request = json!({});
        message_content(
            &mut request,
            &inputs(
                json!({"poll": {"question": "Q?", "options": ["a", "b"], "multiSelect": true}}),
            ),
        )
        .unwrap();
        assert_eq!(request["message"]["poll"]["multi_select"], true);
        let errors = message_content(&mut json!({}), &inputs(json!({"to": "+1"}))).unwrap_err();
        assert_eq!(
            errors["text"],
            vec!["The text field is required when no media is present.".to_owned()]
        );
    }

    #[test]
    fn raw_and_json_uploads() {
        let mut request = json!({});
        let raw = Inputs {
            raw_body: bytes::Bytes::from_static(b"\x89PNG"),
            content_type: Some("image/png; charset=binary".into()),
            ..Default::default()
        };
        upload(&mut request, &raw).unwrap();
        assert_eq!(request["mime_type"], "image/png");
        assert_eq!(request["content"], "iVBORw==");
        let mut request = json!({});
        upload(
            &mut request,
            &inputs(json!({"base64": "data:image/png;base64,iVBORw=="})),
        )
        .unwrap();
        assert_eq!(request["base64"], "data:image/png;base64,iVBORw==");
        assert!(upload(&mut json!({}), &inputs(json!({}))).is_err());
    }

    #[test]
    fn decrypt_media_needs_a_key_and_a_media_object() {
        let mut request = json!({});
        decrypt_media(
            &mut request,
            &inputs(json!({"data": {"messages": {"key": {"id": "ABC"}, "message": {"imageMessage": {"url": "u"}}}}})),
        )
        .unwrap();
        assert_eq!(request["message"]["key"]["id"], "ABC");
        let errors = decrypt_media(
            &mut json!({}),
            &inputs(json!({"data": {"messages": {"key": {"id": "ABC"}, "message": {"conversation": "hi"}}}})),
        )
        .unwrap_err();
        assert!(errors.contains_key("data.messages.message"));
    }
}
