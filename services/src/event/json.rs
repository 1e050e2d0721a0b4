//! Events as webhook JSON, in the shapes of seed 001's Webhooks pages:
//! `{"event", "sessionId", "cursor", "timestamp", "data"}` with `data` per
//! event type (`key`, `messageBody`, `message`, the cleaned phone-number and
//! LID fields, seed 001's numeric message statuses, …).

use serde_json::{Map, Value, json};
use wagate_proto::v1 as pb;
use wagate_proto::v1::event::Payload;

use crate::session::model::WebhookFormat;

/// A session's webhook body for a logged event (`event_pb`'s form, whose
/// `json` is the seed-001 body) in the session's format; None when the format
/// has no such event (see `json_saas`).
pub fn webhook_body(format: WebhookFormat, event: &pb::Event, session_id: i64) -> Option<String> {
    match format {
        WebhookFormat::Wasender if !event.json.is_empty() => Some(event.json.clone()),
        WebhookFormat::Wasender => Some(render(event, session_id).to_string()),
        WebhookFormat::Saas => super::json_saas::render(event, session_id).map(|v| v.to_string()),
    }
}

/// Whether a session in `format` gets webhooks of this event at all.
pub fn has_counterpart(format: WebhookFormat, event_type: &str, payload: &Payload) -> bool {
    match format {
        WebhookFormat::Wasender => true,
        WebhookFormat::Saas => super::json_saas::event_name(event_type, Some(payload)).is_some(),
    }
}

/// The webhook body of an event.
pub fn render(event: &pb::Event, session_id: i64) -> Value {
    json!({
        "event": event.r#type,
        "sessionId": session_id.to_string(),
        "cursor": event.cursor.to_string(),
        "timestamp": timestamp(event),
        "data": data(event),
    })
}

/// Seconds, except for the event types whose seed-001 examples carry
/// milliseconds (integrations parse them as such).
fn timestamp(event: &pb::Event) -> i64 {
    let time = event.create_time.unwrap_or_default();
    match event.r#type.as_str() {
        "messages.update" | "message-receipt.update" | "poll.results" => {
            time.seconds * 1000 + i64::from(time.nanos / 1_000_000)
        }
        _ => time.seconds,
    }
}

fn data(event: &pb::Event) -> Value {
    let Some(payload) = &event.payload else {
        return Value::Null;
    };
    match payload {
        Payload::Message(m) => {
            let message = m.message.clone().unwrap_or_default();
            match event.r#type.as_str() {
                "messages.upsert" => json!({ "messages": [message_entry(&message)] }),
                "message.sent" => sent(&message),
                _ => json!({ "messages": message_entry(&message) }),
            }
        }
        Payload::MessageStatus(s) => json!({
            "update": { "status": seed_status(s.status) },
            "key": short_key(s.key.as_ref()),
        }),
        Payload::MessageDelete(d) => json!({
            "keys": d.keys.iter().map(|k| short_key(Some(k))).collect::<Vec<_>>(),
        }),
        Payload::Reaction(r) => json!([{
            "key": short_key(r.key.as_ref()),
            "reaction": {
                "text": r.emoji,
                "key": short_key(r.reaction_key.as_ref().or(r.key.as_ref())),
            },
        }]),
        Payload::Receipt(r) => {
            let mut key = short_key(r.key.as_ref());
            key["participant"] = json!(r.user_jid);
            let time = r.receipt_time.as_ref().map_or(0, |t| t.seconds);
            let stamp = if r.status == pb::MessageStatus::Read as i32
                || r.status == pb::MessageStatus::Played as i32
            {
                "readTimestamp"
            } else {
                "receiptTimestamp"
            };
            json!({ "message": { "key": key, "receipt": { "userJid": r.user_jid, stamp: time } } })
        }
        Payload::PollResults(p) => json!({
            "key": short_key(p.key.as_ref()),
            "pollResult": p.results.iter()
                .map(|r| json!({ "name": r.name, "voters": r.voters }))
                .collect::<Vec<_>>(),
        }),
        Payload::SessionStatus(s) => json!({ "status": session_status(s.status) }),
        Payload::QrCode(q) => json!({ "qr": q.code }),
        Payload::Contacts(c) => Value::Array(
            c.contacts
                .iter()
                .map(|contact| {
                    let mut out = Map::new();
                    out.insert("jid".into(), json!(contact.jid));
                    let optional = [
                        ("name", &contact.full_name),
                        ("notify", &contact.push_name),
                        ("verifiedName", &contact.verified_name),
                        ("status", &contact.about),
                        ("imgUrl", &contact.picture_uri),
                    ];
                    for (name, value) in optional {
                        if !value.is_empty() {
                            out.insert(name.into(), json!(value));
                        }
                    }
                    Value::Object(out)
                })
                .collect(),
        ),
        Payload::Groups(g) => Value::Array(g.groups.iter().map(group).collect()),
        Payload::GroupParticipants(p) => json!({
            "jid": p.jid,
            "participants": p.participants,
            "action": match pb::ParticipantChangeType::try_from(p.action) {
                Ok(pb::ParticipantChangeType::Add) => "add",
                Ok(pb::ParticipantChangeType::Remove) => "remove",
                Ok(pb::ParticipantChangeType::Promote) => "promote",
                Ok(pb::ParticipantChangeType::Demote) => "demote",
                _ => "unknown",
            },
        }),
        Payload::Chats(c) if event.r#type == "chats.delete" => {
            Value::Array(c.chats.iter().map(|chat| json!(chat.jid)).collect())
        }
        Payload::Chats(c) => Value::Array(
            c.chats
                .iter()
                .map(|chat| {
                    let mut out = json!({
                        "id": chat.jid,
                        "unreadCount": chat.unread_count,
                        "conversationTimestamp": chat.conversation_time.as_ref().map_or(0, |t| t.seconds),
                    });
                    if !chat.display_name.is_empty() {
                        out["name"] = json!(chat.display_name);
                    }
                    out
                })
                .collect(),
        ),
        Payload::Call(c) => json!({ "call": {
            "id": c.call_id,
            "from": c.caller,
            "date": c.call_time.as_ref().map(rfc3339).unwrap_or_default(),
            "isGroup": c.group_call,
            "isVideo": c.video,
            "status": match pb::CallStatus::try_from(c.status) {
                Ok(pb::CallStatus::Offer) => "offer",
                Ok(pb::CallStatus::Ringing) => "ringing",
                Ok(pb::CallStatus::Accept) => "accept",
                Ok(pb::CallStatus::Reject) => "reject",
                Ok(pb::CallStatus::Timeout) => "timeout",
                Ok(pb::CallStatus::Terminate) => "terminate",
                _ => "unknown",
            },
        }}),
        Payload::Presence(p) => {
            let who = if p.participant.is_empty() {
                &p.chat
            } else {
                &p.participant
            };
            let mut presence = json!({ "lastKnownPresence": presence_name(p.presence) });
            if let Some(seen) = &p.last_seen_time {
                presence["lastSeen"] = json!(seen.seconds);
            }
            json!({ "id": p.chat, "presences": { who.clone(): presence } })
        }
    }
}

/// seed 001's message status numbers: 0 ERROR, 1 PENDING, 2 SENT,
/// 3 DELIVERED, 4 READ, 5 PLAYED.
pub fn seed_status(status: i32) -> i32 {
    match pb::MessageStatus::try_from(status) {
        Ok(pb::MessageStatus::Failed | pb::MessageStatus::Cancelled) => 0,
        Ok(pb::MessageStatus::Queued | pb::MessageStatus::InProgress) => 1,
        Ok(pb::MessageStatus::Sent) => 2,
        Ok(pb::MessageStatus::Delivered) => 3,
        Ok(pb::MessageStatus::Read) => 4,
        Ok(pb::MessageStatus::Played) => 5,
        _ => 1,
    }
}

pub(super) fn session_status(status: i32) -> &'static str {
    match pb::SessionStatus::try_from(status) {
        Ok(pb::SessionStatus::Connected) => "connected",
        Ok(pb::SessionStatus::Connecting) => "connecting",
        Ok(pb::SessionStatus::Disconnected) => "disconnected",
        Ok(pb::SessionStatus::NeedScan) => "need_scan",
        Ok(pb::SessionStatus::LoggedOut) => "logged_out",
        Ok(pb::SessionStatus::Expired) => "expired",
        _ => "unknown",
    }
}

pub(super) fn presence_name(presence: i32) -> &'static str {
    match pb::PresenceState::try_from(presence) {
        Ok(pb::PresenceState::Available) => "available",
        Ok(pb::PresenceState::Unavailable) => "unavailable",
        Ok(pb::PresenceState::Composing) => "composing",
        Ok(pb::PresenceState::Recording) => "recording",
        Ok(pb::PresenceState::Paused) => "paused",
        _ => "unavailable",
    }
}

fn rfc3339(time: &prost_types::Timestamp) -> String {
    time.to_string()
}

fn group(group: &pb::Group) -> Value {
    let mut out = json!({ "jid": group.jid });
    if !group.subject.is_empty() {
        out["subject"] = json!(group.subject);
    }
    if let Some(created) = &group.create_time {
        out["creation"] = json!(created.seconds);
    }
    if !group.owner.is_empty() {
        out["owner"] = json!(group.owner);
    }
    if !group.description.is_empty() {
        out["desc"] = json!(group.description);
    }
    out["announce"] = json!(group.announce);
    out["restrict"] = json!(group.restrict);
    if !group.participants.is_empty() {
        out["participants"] = group
            .participants
            .iter()
            .map(|p| {
                let role = pb::GroupParticipantRole::try_from(p.role);
                let super_admin = role == Ok(pb::GroupParticipantRole::Superadmin);
                let admin = super_admin || role == Ok(pb::GroupParticipantRole::Admin);
                json!({ "jid": p.jid, "isAdmin": admin, "isSuperAdmin": super_admin })
            })
            .collect();
    }
    out
}

/// `{id, fromMe, remoteJid}` (+ `participant` in groups).
fn short_key(key: Option<&pb::MessageKey>) -> Value {
    let key = key.cloned().unwrap_or_default();
    let mut out = json!({ "id": key.id, "fromMe": key.from_me, "remoteJid": key.remote_jid });
    if !key.participant.is_empty() {
        out["participant"] = json!(key.participant);
    }
    out
}

/// The full key of a message event, with the sender's phone-number and LID
/// fields as seed 001 shows them.
fn full_key(message: &pb::Message) -> Value {
    let key = message.key.clone().unwrap_or_default();
    let mut out = Map::new();
    out.insert("id".into(), json!(key.id));
    out.insert("fromMe".into(), json!(key.from_me));
    out.insert("remoteJid".into(), json!(key.remote_jid));
    let fields = [
        ("participant", &key.participant),
        ("addressingMode", &key.addressing_mode),
        ("senderPn", &key.sender_pn),
        ("cleanedSenderPn", &key.cleaned_sender_pn),
        ("senderLid", &key.sender_lid),
        ("participantPn", &key.participant_pn),
        ("cleanedParticipantPn", &key.cleaned_participant_pn),
        ("participantLid", &key.participant_lid),
    ];
    for (name, value) in fields {
        if !value.is_empty() {
            out.insert(name.into(), json!(value));
        }
    }
    Value::Object(out)
}

fn message_entry(message: &pb::Message) -> Value {
    let mut out = json!({
        "key": full_key(message),
        "messageBody": message.body,
        "message": wa_message(message),
    });
    if !message.push_name.is_empty() {
        out["pushName"] = json!(message.push_name);
    }
    if let Some(sent) = &message.send_time {
        out["messageTimestamp"] = json!(sent.seconds);
    }
    out
}

fn sent(message: &pb::Message) -> Value {
    match &message.error {
        Some(error) => json!({
            "success": false,
            "error": error.message,
            "key": short_key(message.key.as_ref()),
            "msgId": message.id,
        }),
        None => json!({
            "key": short_key(message.key.as_ref()),
            "message": wa_message(message),
            "success": true,
            "msgId": message.id,
        }),
    }
}

/// The message content in WhatsApp's own JSON names (`conversation`,
/// `imageMessage`, …), as seed 001's `message` field carries it.
fn wa_message(message: &pb::Message) -> Value {
    use pb::message::Content;
    let Some(content) = &message.content else {
        return if message.body.is_empty() {
            json!({})
        } else {
            json!({ "conversation": message.body })
        };
    };
    let media = |mime: &str, size: i64| {
        let mut out = json!({ "mimetype": mime });
        if size > 0 {
            out["fileLength"] = json!(size.to_string());
        }
        out
    };
    match content {
        Content::Text(text) => json!({ "conversation": text }),
        Content::Image(i) => {
            let mut m = media(&i.mime_type, i.size_bytes);
            m["caption"] = json!(i.caption);
            m["viewOnce"] = json!(message.view_once);
            json!({ "imageMessage": m })
        }
        Content::Video(v) => {
            let mut m = media(&v.mime_type, v.size_bytes);
            m["caption"] = json!(v.caption);
            m["gifPlayback"] = json!(v.gif_playback);
            m["viewOnce"] = json!(message.view_once);
            json!({ "videoMessage": m })
        }
        Content::Audio(a) => {
            let mut m = media(&a.mime_type, a.size_bytes);
            m["ptt"] = json!(a.voice_note);
            if let Some(d) = &a.duration {
                m["seconds"] = json!(d.seconds);
            }
            json!({ "audioMessage": m })
        }
        Content::Document(d) => {
            let mut m = media(&d.mime_type, d.size_bytes);
            m["fileName"] = json!(d.file_name);
            if !d.caption.is_empty() {
                m["caption"] = json!(d.caption);
            }
            json!({ "documentMessage": m })
        }
        Content::Sticker(s) => {
            let mut m = media("image/webp", s.size_bytes);
            m["isAnimated"] = json!(s.animated);
            json!({ "stickerMessage": m })
        }
        Content::Location(l) => json!({ "locationMessage": {
            "degreesLatitude": l.latitude,
            "degreesLongitude": l.longitude,
            "name": l.place_name,
            "address": l.address,
        }}),
        Content::Contact(c) => json!({ "contactMessage": {
            "displayName": c.full_name,
            "vcard": c.vcard,
        }}),
        Content::Poll(p) => json!({ "pollCreationMessage": {
            "name": p.question,
            "options": p.options.iter().map(|o| json!({ "optionName": o })).collect::<Vec<_>>(),
            "selectableOptionsCount": if p.multi_select { p.options.len() } else { 1 },
        }}),
        Content::Reaction(r) => {
            let key = match r.target.as_ref().and_then(|t| t.target.as_ref()) {
                Some(pb::message_reference::Target::Key(key)) => short_key(Some(key)),
                _ => json!({}),
            };
            json!({ "reactionMessage": { "text": r.emoji, "key": key } })
        }
    }
}

#[cfg(test)]
#[path = "json_tests.rs"]
mod tests;
