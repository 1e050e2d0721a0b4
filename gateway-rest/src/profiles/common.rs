//! Small pieces several profiles' tables share: media content from a URL,
//! proto3 JSON values as the products print them.

use serde_json::{Value, json};

/// The media kind of a URL without one, by its file extension; anything
/// else is sent as a document.
pub fn media_kind_of(url: &str) -> &'static str {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let extension = path.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    match extension.as_deref() {
        Some("jpg" | "jpeg" | "png" | "webp" | "gif") => "image",
        Some("mp4" | "3gp" | "mov") => "video",
        Some("mp3" | "ogg" | "opus" | "amr" | "m4a" | "aac") => "audio",
        _ => "document",
    }
}

/// `image`/`video`/`audio`/`document` content for `Message.<kind>` fetching
/// `url`, with `caption` (not for audio, which has none) and, for documents,
/// the URL's file name. Err: audio with a caption (refused, not dropped).
pub fn media_content(kind: &str, url: &str, caption: Option<&str>) -> Result<Value, &'static str> {
    let mut media = json!({"source": {"uri": url}});
    match (kind, caption) {
        ("audio", Some(_)) => {
            return Err("Audio messages carry no caption: send the text as its own message");
        }
        (_, Some(caption)) => media["caption"] = json!(caption),
        (_, None) => {}
    }
    if kind == "document" {
        let path = url.split(['?', '#']).next().unwrap_or(url);
        if let Some(name) = path
            .rsplit('/')
            .next()
            .filter(|n| !n.is_empty() && !n.contains(':'))
        {
            media["file_name"] = json!(name);
        }
    }
    Ok(media)
}

/// The media of a message's content: (URL or null, kind or null).
pub fn media_of(message: &Value) -> (Value, Value) {
    for kind in ["image", "video", "audio", "document"] {
        if let Some(content) = message.get(kind).filter(|c| c.is_object()) {
            return (text_or_null(&content["source"]["uri"]), json!(kind));
        }
    }
    (Value::Null, Value::Null)
}

/// An int64 (a JSON string in proto3 JSON) as a JSON number.
pub fn int(value: &Value) -> Value {
    match value {
        Value::String(s) => s.parse::<i64>().map_or(Value::Null, Value::from),
        Value::Number(_) => value.clone(),
        _ => Value::Null,
    }
}

/// A string, or null when empty or absent.
pub fn text_or_null(value: &Value) -> Value {
    value
        .as_str()
        .filter(|s| !s.is_empty())
        .map_or(Value::Null, |s| json!(s))
}

/// The session id of a resource name (`sessions/7/messages/9` → 7).
pub fn session_id_of(name: &Value) -> Option<i64> {
    name.as_str()?.split('/').nth(1)?.parse().ok()
}

/// A user JID's phone number (`923001234567@s.whatsapp.net` →
/// `923001234567`); other chats (groups) as they are.
pub fn number_of(chat: &Value) -> Value {
    let chat = chat.as_str().unwrap_or("");
    json!(chat.strip_suffix("@s.whatsapp.net").unwrap_or(chat))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_from_urls() {
        assert_eq!(media_kind_of("https://x.test/a.JPG?v=1"), "image");
        assert_eq!(media_kind_of("https://x.test/media/abc"), "document");
        assert_eq!(
            media_content(
                "document",
                "https://x.test/files/invoice.pdf",
                Some("Invoice")
            )
            .unwrap(),
            json!({"source": {"uri": "https://x.test/files/invoice.pdf"}, "caption": "Invoice", "file_name": "invoice.pdf"})
        );
        assert!(media_content("audio", "https://x.test/a.mp3", Some("x")).is_err());
        assert_eq!(session_id_of(&json!("sessions/7/messages/9")), Some(7));
    }
}
