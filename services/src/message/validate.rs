//! Validation of messages to send: recipients, content rules per kind and the
//! modifiers. Every problem becomes a field violation naming the request path.

use sha2::{Digest, Sha256};
use wagate_proto::v1 as pb;
use wagate_proto::v1::message::Content;

use super::model::{body_of, chat_type, kind_of, normalize_chat};
use crate::error::FieldViolation;
use crate::validate::phone_digits;

pub const MAX_TEXT_CHARS: usize = 65_536;
pub const MAX_CAPTION_CHARS: usize = 4_096;
pub const MAX_REQUEST_ID_CHARS: usize = 128;
const MAX_FILE_NAME_CHARS: usize = 255;
const MAX_POLL_QUESTION_CHARS: usize = 255;
const MAX_POLL_OPTION_CHARS: usize = 100;
const MAX_MENTIONS: usize = 1_024;

/// A message that passed validation, ready to queue.
#[derive(Clone, Debug)]
pub struct ValidSend {
    pub chat: String,
    /// Content and modifiers, normalized (mention JIDs, the contact's vCard).
    pub payload: pb::Message,
    pub kind: &'static str,
    pub body: String,
    pub request_id: Option<String>,
    /// Identifies the request for idempotency: the same key with another
    /// request is a conflict.
    pub request_hash: Option<String>,
}

struct Checker {
    prefix: String,
    violations: Vec<FieldViolation>,
}

impl Checker {
    fn fail(&mut self, field: &str, description: impl Into<String>) {
        self.violations.push(FieldViolation::new(
            format!("{}{field}", self.prefix),
            description,
        ));
    }

    fn max_chars(&mut self, field: &str, value: &str, max: usize) {
        let count = value.chars().count();
        if count > max {
            self.fail(
                field,
                format!("is {count} characters long; at most {max} are allowed"),
            );
        }
    }

    fn mime(&mut self, field: &str, value: &str) {
        if !value.is_empty() {
            let valid = value.split_once('/').is_some_and(|(a, b)| {
                !a.is_empty() && !b.is_empty() && !value.contains(char::is_whitespace)
            });
            if !valid {
                self.fail(
                    field,
                    format!("{value:?} is not a MIME type like image/png"),
                );
            }
        }
    }

    fn source(&mut self, field: &str, source: &Option<pb::MediaSource>) {
        match source.as_ref().and_then(|s| s.source.as_ref()) {
            None => self.fail(
                field,
                "is required: a `uri` to fetch or an uploaded `media` name",
            ),
            Some(pb::media_source::Source::Uri(uri)) if uri.trim().is_empty() => {
                self.fail(&format!("{field}.uri"), "is empty")
            }
            Some(pb::media_source::Source::Media(name)) if name.trim().is_empty() => {
                self.fail(&format!("{field}.media"), "is empty")
            }
            Some(_) => {}
        }
    }
}

/// The vCard WhatsApp shows for a contact card (as WhatsApp clients write it).
pub fn vcard(full_name: &str, digits: &str, organization: &str) -> String {
    let escape = |s: &str| {
        s.replace('\\', "\\\\")
            .replace('\n', "\\n")
            .replace(',', "\\,")
            .replace(';', "\\;")
    };
    let organization = if organization.is_empty() {
        String::new()
    } else {
        format!("ORG:{}\n", escape(organization))
    };
    format!(
        "BEGIN:VCARD\nVERSION:3.0\nFN:{}\n{organization}TEL;type=CELL;waid={digits}:+{digits}\nEND:VCARD",
        escape(full_name)
    )
}

/// Validates one SendMessage request's message and request id. `prefix` is
/// the path of the request in the call (empty, or `requests[3].`).
pub fn validate_send(
    message: Option<&pb::Message>,
    request_id: &str,
    prefix: &str,
) -> Result<ValidSend, Vec<FieldViolation>> {
    let mut check = Checker {
        prefix: prefix.to_owned(),
        violations: Vec::new(),
    };
    let Some(message) = message else {
        check.fail("message", "is required");
        return Err(check.violations);
    };
    let chat = match normalize_chat(&message.chat) {
        Ok(chat) => chat,
        Err(e) => {
            check.fail("message.chat", e);
            String::new()
        }
    };
    let mut payload = pb::Message {
        content: message.content.clone(),
        reply_to: message.reply_to.clone(),
        view_once: message.view_once,
        ..Default::default()
    };
    match payload.content.as_mut() {
        None => check.fail(
            "message.content",
            "a message needs exactly one content: text, image, video, audio, document, sticker, location, contact, poll or reaction",
        ),
        Some(Content::Text(text)) => {
            if text.trim().is_empty() {
                check.fail("message.text", "is empty");
            }
            check.max_chars("message.text", text, MAX_TEXT_CHARS);
        }
        Some(Content::Image(c)) => {
            check.source("message.image.source", &c.source);
            check.max_chars("message.image.caption", &c.caption, MAX_CAPTION_CHARS);
            check.mime("message.image.mime_type", &c.mime_type);
        }
        Some(Content::Video(c)) => {
            check.source("message.video.source", &c.source);
            check.max_chars("message.video.caption", &c.caption, MAX_CAPTION_CHARS);
            check.mime("message.video.mime_type", &c.mime_type);
        }
        Some(Content::Audio(c)) => {
            check.source("message.audio.source", &c.source);
            check.mime("message.audio.mime_type", &c.mime_type);
        }
        Some(Content::Document(c)) => {
            check.source("message.document.source", &c.source);
            check.max_chars("message.document.caption", &c.caption, MAX_CAPTION_CHARS);
            check.max_chars("message.document.file_name", &c.file_name, MAX_FILE_NAME_CHARS);
            if c.file_name.contains(['/', '\\', '\0']) {
                check.fail("message.document.file_name", "must not contain path separators");
            }
            check.mime("message.document.mime_type", &c.mime_type);
        }
        Some(Content::Sticker(c)) => check.source("message.sticker.source", &c.source),
        Some(Content::Location(c)) => {
            if !c.latitude.is_finite() || !(-90.0..=90.0).contains(&c.latitude) {
                check.fail("message.location.latitude", "must be between -90 and 90");
            }
            if !c.longitude.is_finite() || !(-180.0..=180.0).contains(&c.longitude) {
                check.fail("message.location.longitude", "must be between -180 and 180");
            }
            check.max_chars("message.location.place_name", &c.place_name, 1_000);
            check.max_chars("message.location.address", &c.address, 1_000);
        }
        Some(Content::Contact(c)) => {
            if c.full_name.trim().is_empty() {
                check.fail("message.contact.full_name", "is required");
            }
            check.max_chars("message.contact.full_name", &c.full_name, 256);
            match phone_digits(&c.phone_number) {
                Ok(digits) => c.vcard = vcard(c.full_name.trim(), &digits, &c.organization),
                Err(e) => check.fail("message.contact.phone_number", e),
            }
        }
        Some(Content::Poll(c)) => {
            if c.question.trim().is_empty() {
                check.fail("message.poll.question", "is required");
            }
            check.max_chars("message.poll.question", &c.question, MAX_POLL_QUESTION_CHARS);
            if !(2..=12).contains(&c.options.len()) {
                check.fail(
                    "message.poll.options",
                    format!("has {} options; a poll needs 2 to 12", c.options.len()),
                );
            }
            for (i, option) in c.options.iter().enumerate() {
                let field = format!("message.poll.options[{i}]");
                if option.trim().is_empty() {
                    check.fail(&field, "is empty");
                }
                check.max_chars(&field, option, MAX_POLL_OPTION_CHARS);
                if c.options[..i].iter().any(|o| o.trim() == option.trim()) {
                    check.fail(&field, format!("{option:?} appears twice; options must be distinct"));
                }
            }
            c.results.clear();
        }
        Some(Content::Reaction(c)) => {
            if c.target.as_ref().and_then(|t| t.target.as_ref()).is_none() {
                check.fail("message.reaction.target", "is required: the message reacted to");
            }
            check.max_chars("message.reaction.emoji", &c.emoji, 16);
        }
    }
    if message.view_once
        && !matches!(
            message.content,
            Some(Content::Image(_)) | Some(Content::Video(_)) | Some(Content::Audio(_))
        )
    {
        check.fail(
            "message.view_once",
            "applies only to image, video and audio messages",
        );
    }
    if message.mentions.len() > MAX_MENTIONS {
        check.fail(
            "message.mentions",
            format!("at most {MAX_MENTIONS} mentions"),
        );
    }
    for (i, mention) in message.mentions.iter().enumerate() {
        match normalize_chat(mention) {
            Ok(jid) if chat_type(&jid) == pb::ChatType::Personal => payload.mentions.push(jid),
            Ok(_) => check.fail(
                &format!("message.mentions[{i}]"),
                "must be a user, not a group or channel",
            ),
            Err(e) => check.fail(&format!("message.mentions[{i}]"), e),
        }
    }
    if let Some(reference) = &message.reply_to {
        match &reference.target {
            None => check.fail(
                "message.reply_to",
                "names no message: set `message` or `key`",
            ),
            Some(pb::message_reference::Target::Key(key)) if key.id.is_empty() => {
                check.fail("message.reply_to.key.id", "is required")
            }
            _ => {}
        }
    }
    let request_id = request_id.trim();
    if request_id.chars().count() > MAX_REQUEST_ID_CHARS {
        check.fail(
            "request_id",
            format!("at most {MAX_REQUEST_ID_CHARS} characters"),
        );
    }
    if !check.violations.is_empty() {
        return Err(check.violations);
    }
    let content = payload.content.as_ref().expect("checked above");
    let kind = kind_of(content);
    let body = body_of(&payload);
    let request_hash = (!request_id.is_empty()).then(|| {
        use prost::Message as _;
        let mut hasher = Sha256::new();
        hasher.update(chat.as_bytes());
        hasher.update(payload.encode_to_vec());
        hex::encode(hasher.finalize())
    });
    Ok(ValidSend {
        chat,
        payload,
        kind,
        body,
        request_id: (!request_id.is_empty()).then(|| request_id.to_owned()),
        request_hash,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(chat: &str, text: &str) -> pb::Message {
        pb::Message {
            chat: chat.into(),
            content: Some(Content::Text(text.into())),
            ..Default::default()
        }
    }

    fn fields(result: Result<ValidSend, Vec<FieldViolation>>) -> Vec<String> {
        result
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|v| v.field)
            .collect()
    }

    #[test]
    fn text_messages() {
        let ok = validate_send(Some(&text("+14155550123", "hi")), "", "").unwrap();
        assert_eq!(ok.chat, "14155550123@s.whatsapp.net");
        assert_eq!((ok.kind, ok.body.as_str()), ("text", "hi"));
        assert!(ok.request_hash.is_none());
        assert_eq!(
            fields(validate_send(Some(&text("+14155550123", "  ")), "", "")),
            ["message.text"]
        );
        assert_eq!(
            fields(validate_send(Some(&text("nope", "x")), "", "requests[2].")),
            ["requests[2].message.chat"]
        );
        let long = "x".repeat(MAX_TEXT_CHARS + 1);
        assert_eq!(
            fields(validate_send(Some(&text("+14155550123", &long)), "", "")),
            ["message.text"]
        );
        assert_eq!(fields(validate_send(None, "", "")), ["message"]);
    }

    #[test]
    fn polls_contacts_locations_and_modifiers() {
        let mut poll = text("+14155550123", "");
        poll.content = Some(Content::Poll(pb::PollContent {
            question: "Lunch?".into(),
            options: vec!["Pizza".into(), "Pizza".into()],
            ..Default::default()
        }));
        assert_eq!(
            fields(validate_send(Some(&poll), "", "")),
            ["message.poll.options[1]"]
        );
        poll.content = Some(Content::Poll(pb::PollContent {
            question: "Lunch?".into(),
            options: vec!["Pizza".into()],
            ..Default::default()
        }));
        assert_eq!(
            fields(validate_send(Some(&poll), "", "")),
            ["message.poll.options"]
        );

        let mut card = text("+14155550123", "");
        card.content = Some(Content::Contact(pb::ContactCardContent {
            full_name: "Ada Lovelace".into(),
            phone_number: "+44 20 7946 0958".into(),
            ..Default::default()
        }));
        let ok = validate_send(Some(&card), "", "").unwrap();
        let Some(Content::Contact(c)) = ok.payload.content else {
            panic!()
        };
        assert!(
            c.vcard.contains("FN:Ada Lovelace")
                && c.vcard.contains("waid=442079460958:+442079460958")
        );

        let mut location = text("+14155550123", "");
        location.content = Some(Content::Location(pb::LocationContent {
            latitude: 91.0,
            longitude: 10.0,
            ..Default::default()
        }));
        assert_eq!(
            fields(validate_send(Some(&location), "", "")),
            ["message.location.latitude"]
        );

        let mut once = text("+14155550123", "hi");
        once.view_once = true;
        once.mentions = vec!["+14155550124".into(), "1-2@g.us".into()];
        assert_eq!(
            fields(validate_send(Some(&once), "", "")),
            ["message.view_once", "message.mentions[1]"]
        );

        let mut image = text("+14155550123", "");
        image.content = Some(Content::Image(pb::ImageContent::default()));
        assert_eq!(
            fields(validate_send(Some(&image), "", "")),
            ["message.image.source"]
        );
    }

    #[test]
    fn request_ids_hash_the_request() {
        let a = validate_send(Some(&text("+14155550123", "a")), "key-1", "").unwrap();
        let b = validate_send(Some(&text("14155550123", "a")), "key-1", "").unwrap();
        let c = validate_send(Some(&text("+14155550123", "b")), "key-1", "").unwrap();
        assert_eq!(a.request_hash, b.request_hash);
        assert_ne!(a.request_hash, c.request_hash);
        assert_eq!(
            fields(validate_send(
                Some(&text("+14155550123", "a")),
                &"k".repeat(129),
                ""
            )),
            ["request_id"]
        );
    }
}
