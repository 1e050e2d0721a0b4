//! The message domain's types and the pure rules about them: kinds, bodies,
//! chat addresses, statuses.

use wagate_proto::v1 as pb;
use wagate_proto::v1::message::Content;

use crate::session::model::SessionId;
use crate::validate::phone_digits;

pub use pb::{ChatType, MessageDirection as Direction, MessageStatus as Status};

/// The kind of a content, as stored and as named in errors.
pub fn kind_of(content: &Content) -> &'static str {
    match content {
        Content::Text(_) => "text",
        Content::Image(_) => "image",
        Content::Video(_) => "video",
        Content::Audio(_) => "audio",
        Content::Document(_) => "document",
        Content::Sticker(_) => "sticker",
        Content::Location(_) => "location",
        Content::Contact(_) => "contact",
        Content::Poll(_) => "poll",
        Content::Reaction(_) => "reaction",
    }
}

/// The unified text of a message (seed 001's `messageBody`).
pub fn body_of(message: &pb::Message) -> String {
    match &message.content {
        Some(Content::Text(text)) => text.clone(),
        Some(Content::Image(c)) => c.caption.clone(),
        Some(Content::Video(c)) => c.caption.clone(),
        Some(Content::Document(c)) => c.caption.clone(),
        Some(Content::Location(c)) => [c.place_name.as_str(), c.address.as_str()]
            .iter()
            .filter(|s| !s.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join(", "),
        Some(Content::Contact(c)) => c.full_name.clone(),
        Some(Content::Poll(c)) => c.question.clone(),
        Some(Content::Reaction(c)) => c.emoji.clone(),
        Some(Content::Audio(_)) | Some(Content::Sticker(_)) | None => String::new(),
    }
}

/// Replaces the text, or the caption of a media message (an edit).
pub fn replace_text(message: &mut pb::Message, text: &str) {
    match message.content.as_mut() {
        Some(Content::Text(body)) => *body = text.to_owned(),
        Some(Content::Image(c)) => c.caption = text.to_owned(),
        Some(Content::Video(c)) => c.caption = text.to_owned(),
        Some(Content::Document(c)) => c.caption = text.to_owned(),
        _ => {}
    }
}

/// The media source of a media content.
pub fn media_source(message: &pb::Message) -> Option<pb::MediaSource> {
    match &message.content {
        Some(Content::Image(c)) => c.source.clone(),
        Some(Content::Video(c)) => c.source.clone(),
        Some(Content::Audio(c)) => c.source.clone(),
        Some(Content::Document(c)) => c.source.clone(),
        Some(Content::Sticker(c)) => c.source.clone(),
        _ => None,
    }
}

/// The kind of chat a JID names.
pub fn chat_type(jid: &str) -> ChatType {
    match jid.rsplit_once('@').map(|(_, server)| server) {
        Some("g.us") => ChatType::Group,
        Some("newsletter") => ChatType::Newsletter,
        Some("broadcast") => ChatType::Broadcast,
        _ => ChatType::Personal,
    }
}

/// Normalizes a recipient given as a phone number (E.164, `+` optional),
/// user JID, LID, group JID or channel JID to its JID.
pub fn normalize_chat(input: &str) -> Result<String, String> {
    let input = input.trim();
    if input.is_empty() {
        return Err("is required".into());
    }
    let Some((user, server)) = input.split_once('@') else {
        let digits = phone_digits(input)?;
        return Ok(format!("{digits}@s.whatsapp.net"));
    };
    let digits_only = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    match server {
        "s.whatsapp.net" | "c.us" => {
            let number = user.split(':').next().unwrap_or(user);
            let digits = phone_digits(number)
                .map_err(|e| format!("{input:?} is not a valid user JID: {e}"))?;
            Ok(format!("{digits}@s.whatsapp.net"))
        }
        "lid" if digits_only(user) => Ok(input.to_owned()),
        "g.us" if user.split('-').all(digits_only) && user.split('-').count() <= 2 => {
            Ok(input.to_owned())
        }
        "newsletter" if digits_only(user) => Ok(input.to_owned()),
        "broadcast" if user == "status" => Ok(input.to_owned()),
        _ => Err(format!(
            "{input:?} is not a phone number or a user, LID, group (@g.us) or channel (@newsletter) JID"
        )),
    }
}

/// The account JID of a device JID (`1415…:3@s.whatsapp.net` → `1415…@s.whatsapp.net`).
pub fn account_jid(jid: &str) -> String {
    match jid.split_once('@') {
        Some((user, server)) => match user.split_once(':') {
            Some((account, _device)) => format!("{account}@{server}"),
            None => jid.to_owned(),
        },
        None => jid.to_owned(),
    }
}

/// The phone digits of a phone-number JID, if it is one.
pub fn jid_digits(jid: &str) -> Option<&str> {
    let (user, server) = jid.split_once('@')?;
    (server == "s.whatsapp.net").then(|| user.split(':').next().unwrap_or(user))
}

/// Status as its seed-001 number: 0 error, 1 pending, 2 sent, 3 delivered,
/// 4 read, 5 played.
pub fn seed_status_number(status: Status) -> i32 {
    match status {
        Status::Failed | Status::Cancelled | Status::Unspecified => 0,
        Status::Queued | Status::InProgress => 1,
        Status::Sent => 2,
        Status::Delivered | Status::Received => 3,
        Status::Read => 4,
        Status::Played => 5,
    }
}

/// A stored message.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MessageRecord {
    pub id: i64,
    pub session_id: SessionId,
    pub direction: Direction,
    pub chat: String,
    pub sender: String,
    pub sender_pn: String,
    pub sender_lid: String,
    pub push_name: String,
    pub whatsapp_id: String,
    pub kind: String,
    pub body: String,
    /// Content and modifiers; `None` when not logged or deleted.
    pub payload: Option<pb::Message>,
    pub media_ref: String,
    pub status: Status,
    pub error: Option<Failure>,
    pub attempt_count: i64,
    pub next_attempt_at: i64,
    pub create_time: i64,
    pub send_time: Option<i64>,
    pub deliver_time: Option<i64>,
    pub read_time: Option<i64>,
    pub play_time: Option<i64>,
    pub edit_time: Option<i64>,
    pub delete_time: Option<i64>,
    pub update_time: i64,
}

/// Why a message failed (or its last attempt did).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// google.rpc.Code number.
    pub code: i32,
    pub message: String,
    /// ErrorReason name (e.g. `NOT_ON_WHATSAPP`).
    pub reason: String,
}

impl MessageRecord {
    pub fn key(&self) -> pb::MessageKey {
        let from_me = self.direction == Direction::Outbound;
        let group = chat_type(&self.chat) == ChatType::Group;
        let mut key = pb::MessageKey {
            id: self.whatsapp_id.clone(),
            remote_jid: self.chat.clone(),
            from_me,
            addressing_mode: if self.chat.ends_with("@lid") {
                "lid"
            } else {
                "pn"
            }
            .into(),
            ..Default::default()
        };
        let pn_jid = jid_digits(&self.sender)
            .map(|d| format!("{d}@s.whatsapp.net"))
            .or_else(|| {
                let digits = self.sender_pn.trim_start_matches('+');
                (!digits.is_empty()).then(|| format!("{digits}@s.whatsapp.net"))
            })
            .unwrap_or_default();
        let cleaned = pn_jid.split('@').next().unwrap_or_default().to_owned();
        if group {
            key.participant = self.sender.clone();
            key.participant_pn = pn_jid;
            key.cleaned_participant_pn = cleaned;
            key.participant_lid = self.sender_lid.clone();
        } else if !from_me {
            key.sender_pn = pn_jid;
            key.cleaned_sender_pn = cleaned;
            key.sender_lid = self.sender_lid.clone();
        }
        key
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipients_normalize_to_jids() {
        assert_eq!(
            normalize_chat("+14155550123").unwrap(),
            "14155550123@s.whatsapp.net"
        );
        assert_eq!(
            normalize_chat("14155550123").unwrap(),
            "14155550123@s.whatsapp.net"
        );
        assert_eq!(
            normalize_chat("14155550123@s.whatsapp.net").unwrap(),
            "14155550123@s.whatsapp.net"
        );
        assert_eq!(
            normalize_chat("123456789012345@lid").unwrap(),
            "123456789012345@lid"
        );
        assert_eq!(
            normalize_chat("123456789-987654321@g.us").unwrap(),
            "123456789-987654321@g.us"
        );
        assert_eq!(
            normalize_chat("1203630@newsletter").unwrap(),
            "1203630@newsletter"
        );
        for bad in ["", "abc", "12@example.com", "x@lid", "1-2-3@g.us", "+12"] {
            assert!(normalize_chat(bad).is_err(), "{bad:?} should be refused");
        }
        assert_eq!(chat_type("1-2@g.us"), ChatType::Group);
        assert_eq!(chat_type("1@newsletter"), ChatType::Newsletter);
        assert_eq!(chat_type("1@s.whatsapp.net"), ChatType::Personal);
    }
}
