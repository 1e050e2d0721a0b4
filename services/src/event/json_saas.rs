//! Events as webhook JSON in seed 002's (the generic SaaS) shape:
//! `{"event", "sessionId", "timestamp" (ISO-8601 UTC), "data"}` with its five
//! event names. Our events map onto them as follows; the rest have no
//! counterpart and are not delivered to sessions in this format:
//!
//! | seed 002            | wagate event                                   |
//! |---------------------|------------------------------------------------|
//! | message.received    | `messages.received` (an incoming message)      |
//! | message.sent        | `message.sent` that succeeded (outgoing message handed to WhatsApp) |
//! | session.connected   | `session.status` to CONNECTED                  |
//! | session.disconnected| `session.status` to DISCONNECTED, LOGGED_OUT or EXPIRED |
//! | presence.update     | `presence.update`                              |

use serde_json::{Value, json};
use wagate_proto::v1 as pb;
use wagate_proto::v1::event::Payload;

use super::json::{presence_name, session_status};

/// The seed-002 name of an event, or None when it has no counterpart.
pub fn event_name(event_type: &str, payload: Option<&Payload>) -> Option<&'static str> {
    match (event_type, payload) {
        ("messages.received", Some(Payload::Message(_))) => Some("message.received"),
        ("message.sent", Some(Payload::Message(m)))
            if m.message.as_ref().is_some_and(|m| m.error.is_none()) =>
        {
            Some("message.sent")
        }
        ("session.status", Some(Payload::SessionStatus(s))) => {
            match pb::SessionStatus::try_from(s.status) {
                Ok(pb::SessionStatus::Connected) => Some("session.connected"),
                Ok(
                    pb::SessionStatus::Disconnected
                    | pb::SessionStatus::LoggedOut
                    | pb::SessionStatus::Expired,
                ) => Some("session.disconnected"),
                _ => None,
            }
        }
        ("presence.update", Some(Payload::Presence(_))) => Some("presence.update"),
        _ => None,
    }
}

/// The webhook body of an event, or None when seed 002 has no such event.
pub fn render(event: &pb::Event, session_id: i64) -> Option<Value> {
    let name = event_name(&event.r#type, event.payload.as_ref())?;
    let data = match event.payload.as_ref()? {
        Payload::Message(m) => message(&m.message.clone().unwrap_or_default()),
        Payload::SessionStatus(s) => json!({
            "status": session_status(s.status),
            "previousStatus": session_status(s.previous_status),
            "reason": s.reason,
        }),
        Payload::Presence(p) => {
            let who = if p.participant.is_empty() {
                &p.chat
            } else {
                &p.participant
            };
            let mut data = json!({
                "chatId": p.chat,
                "participant": who,
                "presence": presence_name(p.presence),
            });
            if let Some(seen) = &p.last_seen_time {
                data["lastSeen"] = json!(iso(seen));
            }
            data
        }
        _ => return None,
    };
    Some(json!({
        "event": name,
        "sessionId": session_id.to_string(),
        "timestamp": iso(&event.create_time.unwrap_or_default()),
        "data": data,
    }))
}

/// ISO-8601 UTC to the second, as the seed shows it (`2024-01-15T12:00:00Z`).
pub fn iso(time: &prost_types::Timestamp) -> String {
    prost_types::Timestamp {
        seconds: time.seconds,
        nanos: 0,
    }
    .to_string()
}

fn message(m: &pb::Message) -> Value {
    let key = m.key.clone().unwrap_or_default();
    let incoming = m.direction != pb::MessageDirection::Outbound as i32;
    let mut data = json!({
        "messageId": m.id.to_string(),
        "whatsappId": key.id,
        "chatId": m.chat,
        "fromMe": key.from_me || !incoming,
        "type": content_type(m),
        "text": m.body,
        "isGroup": m.chat.ends_with("@g.us"),
    });
    if incoming {
        let from = if m.sender_phone_number.is_empty() {
            &m.sender
        } else {
            &m.sender_phone_number
        };
        data["from"] = json!(from);
        if !m.push_name.is_empty() {
            data["pushName"] = json!(m.push_name);
        }
    } else {
        data["to"] = json!(m.chat);
        data["status"] = json!("sent");
    }
    if let Some(time) = m.send_time.as_ref().or(m.create_time.as_ref()) {
        data["timestamp"] = json!(iso(time));
    }
    data
}

fn content_type(m: &pb::Message) -> &'static str {
    use pb::message::Content;
    match &m.content {
        Some(Content::Text(_)) | None => "text",
        Some(Content::Image(_)) => "image",
        Some(Content::Video(_)) => "video",
        Some(Content::Audio(_)) => "audio",
        Some(Content::Document(_)) => "document",
        Some(Content::Sticker(_)) => "sticker",
        Some(Content::Location(_)) => "location",
        Some(Content::Contact(_)) => "contact",
        Some(Content::Poll(_)) => "poll",
        Some(Content::Reaction(_)) => "reaction",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(event_type: &str, payload: Payload) -> pb::Event {
        pb::Event {
            r#type: event_type.into(),
            create_time: Some(prost_types::Timestamp {
                seconds: 1_705_320_000,
                nanos: 123_000_000,
            }),
            payload: Some(payload),
            ..Default::default()
        }
    }

    fn status(to: pb::SessionStatus) -> Payload {
        Payload::SessionStatus(pb::SessionStatusPayload {
            status: to as i32,
            previous_status: pb::SessionStatus::Connecting as i32,
            reason: String::new(),
        })
    }

    #[test]
    fn maps_our_events_onto_the_seeds_five() {
        let inbound = pb::Message {
            id: 7,
            chat: "15551230000@s.whatsapp.net".into(),
            sender_phone_number: "+15551230000".into(),
            direction: pb::MessageDirection::Inbound as i32,
            content: Some(pb::message::Content::Text("hi".into())),
            body: "hi".into(),
            ..Default::default()
        };
        let body = render(
            &event(
                "messages.received",
                Payload::Message(pb::MessagePayload {
                    message: Some(inbound.clone()),
                }),
            ),
            3,
        )
        .unwrap();
        assert_eq!(body["event"], "message.received");
        assert_eq!(body["sessionId"], "3");
        assert_eq!(body["timestamp"], "2024-01-15T12:00:00Z");
        assert_eq!(body["data"]["text"], "hi");
        assert_eq!(body["data"]["from"], "+15551230000");
        assert_eq!(body["data"]["fromMe"], false);
        assert!(body.get("cursor").is_none());

        let outgoing = pb::Message {
            direction: pb::MessageDirection::Outbound as i32,
            ..inbound
        };
        let sent = |message: pb::Message| {
            render(
                &event(
                    "message.sent",
                    Payload::Message(pb::MessagePayload {
                        message: Some(message),
                    }),
                ),
                3,
            )
        };
        let body = sent(outgoing.clone()).unwrap();
        assert_eq!(body["event"], "message.sent");
        assert_eq!(body["data"]["fromMe"], true);
        assert_eq!(body["data"]["to"], "15551230000@s.whatsapp.net");
        let failed = pb::Message {
            error: Some(Default::default()),
            ..outgoing
        };
        assert!(sent(failed).is_none());

        let connected = render(
            &event("session.status", status(pb::SessionStatus::Connected)),
            3,
        );
        assert_eq!(connected.unwrap()["event"], "session.connected");
        let gone = render(
            &event("session.status", status(pb::SessionStatus::LoggedOut)),
            3,
        );
        assert_eq!(gone.unwrap()["event"], "session.disconnected");
        assert!(
            render(
                &event("session.status", status(pb::SessionStatus::NeedScan)),
                3
            )
            .is_none()
        );

        let presence = render(
            &event(
                "presence.update",
                Payload::Presence(pb::PresencePayload {
                    chat: "1@s.whatsapp.net".into(),
                    presence: pb::PresenceState::Composing as i32,
                    ..Default::default()
                }),
            ),
            3,
        )
        .unwrap();
        assert_eq!(presence["event"], "presence.update");
        assert_eq!(presence["data"]["presence"], "composing");
        assert_eq!(presence["data"]["participant"], "1@s.whatsapp.net");

        let qr = event(
            "qrcode.updated",
            Payload::QrCode(pb::QrCodePayload::default()),
        );
        assert!(render(&qr, 3).is_none());
    }
}
