//! Every event type's JSON against seed 001's webhook example: each field
//! path of the example exists in ours with the same JSON kind (extra fields
//! are allowed; arrays are compared by their first element).

use serde_json::{Value, json};
use wagate_proto::v1 as pb;
use wagate_proto::v1::event::Payload;

use super::render;

/// Paths of `seed` missing from `ours` or of another kind.
fn shape_mismatches(seed: &Value, ours: &Value, path: &str, out: &mut Vec<String>) {
    let kind = |v: &Value| match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    if kind(seed) != kind(ours) {
        out.push(format!(
            "{path}: seed {} vs ours {}",
            kind(seed),
            kind(ours)
        ));
        return;
    }
    match (seed, ours) {
        (Value::Object(seed), Value::Object(ours)) => {
            for (key, value) in seed {
                match ours.get(key) {
                    Some(mine) => shape_mismatches(value, mine, &format!("{path}.{key}"), out),
                    None => out.push(format!("{path}.{key}: missing")),
                }
            }
        }
        (Value::Array(seed), Value::Array(ours)) => {
            if let (Some(s), Some(o)) = (seed.first(), ours.first()) {
                shape_mismatches(s, o, &format!("{path}[0]"), out);
            }
        }
        _ => {}
    }
}

fn check(event_type: &str, payload: Payload, seed: Value) {
    let event = pb::Event {
        cursor: 42,
        r#type: event_type.into(),
        create_time: Some(prost_types::Timestamp {
            seconds: 1_633_456_789,
            nanos: 250_000_000,
        }),
        payload: Some(payload),
        ..Default::default()
    };
    let ours = render(&event, 7);
    let mut problems = Vec::new();
    shape_mismatches(&seed, &ours, "", &mut problems);
    assert!(
        problems.is_empty(),
        "{event_type}: {problems:?}\nours: {ours:#}"
    );
    assert_eq!(ours["sessionId"], "7");
    assert_eq!(ours["cursor"], "42");
    // The seed's unit: milliseconds where its example has 13 digits.
    let seed_ms = seed["timestamp"]
        .as_i64()
        .is_some_and(|t| t > 100_000_000_000);
    let expected: i64 = if seed_ms {
        1_633_456_789_250
    } else {
        1_633_456_789
    };
    assert_eq!(ours["timestamp"], expected, "{event_type}");
}

fn key(id: &str, from_me: bool, remote: &str) -> pb::MessageKey {
    pb::MessageKey {
        id: id.into(),
        remote_jid: remote.into(),
        from_me,
        ..Default::default()
    }
}

fn inbound_personal() -> pb::Message {
    pb::Message {
        name: "sessions/7/messages/1".into(),
        chat: "1234567890@s.whatsapp.net".into(),
        key: Some(pb::MessageKey {
            addressing_mode: "pn".into(),
            sender_pn: "1234567890@s.whatsapp.net".into(),
            cleaned_sender_pn: "1234567890".into(),
            sender_lid: "555555555@lid".into(),
            ..key("3EB0X123456789", false, "1234567890@s.whatsapp.net")
        }),
        body: "Hello, I have a question".into(),
        content: Some(pb::message::Content::Text(
            "Hello, I have a question".into(),
        )),
        ..Default::default()
    }
}

fn message_payload(message: pb::Message) -> Payload {
    Payload::Message(pb::MessagePayload {
        message: Some(message),
    })
}

#[test]
fn message_events_match_the_seed() {
    let received = json!({ "event": "messages.received", "timestamp": 1, "data": { "messages": {
        "key": { "id": "3EB0X123456789", "fromMe": false, "remoteJid": "1234567890@s.whatsapp.net",
                 "addressingMode": "pn", "senderPn": "1234567890@s.whatsapp.net",
                 "cleanedSenderPn": "1234567890", "senderLid": "555555555@lid" },
        "messageBody": "Hello, I have a question",
        "message": { "conversation": "Hello, I have a question" } } } });
    check(
        "messages.received",
        message_payload(inbound_personal()),
        received.clone(),
    );
    let mut personal = received.clone();
    personal["event"] = json!("messages-personal.received");
    check(
        "messages-personal.received",
        message_payload(inbound_personal()),
        personal,
    );

    let mut upsert = received.clone();
    upsert["event"] = json!("messages.upsert");
    upsert["data"]["messages"] = json!([received["data"]["messages"].clone()]);
    check(
        "messages.upsert",
        message_payload(inbound_personal()),
        upsert,
    );

    let group = pb::Message {
        chat: "123456789-987654321@g.us".into(),
        key: Some(pb::MessageKey {
            participant: "123456789@lid".into(),
            participant_pn: "123456789@s.whatsapp.net".into(),
            cleaned_participant_pn: "123456789".into(),
            participant_lid: "123456789@lid".into(),
            addressing_mode: "lid".into(),
            ..key("message-id-group-456", false, "123456789-987654321@g.us")
        }),
        body: "Hey everyone".into(),
        content: Some(pb::message::Content::Text("Hey everyone".into())),
        ..Default::default()
    };
    check(
        "messages-group.received",
        message_payload(group),
        json!({ "event": "messages-group.received", "timestamp": 1, "data": { "messages": {
            "key": { "id": "x", "fromMe": false, "remoteJid": "x@g.us", "participant": "x@lid",
                     "participantPn": "x", "cleanedParticipantPn": "x", "participantLid": "x",
                     "addressingMode": "lid" },
            "messageBody": "x", "message": { "conversation": "x" } } } }),
    );
    let newsletter = pb::Message {
        chat: "1-2@newsletter".into(),
        key: Some(key("n-1", false, "1-2@newsletter")),
        body: "Hey Good News!".into(),
        content: Some(pb::message::Content::Text("Hey Good News!".into())),
        ..Default::default()
    };
    check(
        "messages-newsletter.received",
        message_payload(newsletter),
        json!({ "event": "messages-newsletter.received", "timestamp": 1, "data": { "messages": {
            "key": { "id": "x", "fromMe": false, "remoteJid": "x@newsletter" },
            "messageBody": "x", "message": { "conversation": "x" } } } }),
    );
}

#[test]
fn sent_update_delete_reaction_receipt_and_poll_match_the_seed() {
    let sent = pb::Message {
        key: Some(key("message-id-456", true, "1987654321@s.whatsapp.net")),
        content: Some(pb::message::Content::Text("This is my reply.".into())),
        status: pb::MessageStatus::Sent as i32,
        ..Default::default()
    };
    check(
        "message.sent",
        message_payload(sent.clone()),
        json!({ "event": "message.sent", "timestamp": 1, "data": {
            "key": { "id": "x", "fromMe": true, "remoteJid": "x" },
            "message": { "conversation": "x" }, "success": true } }),
    );
    let failed = pb::Message {
        error: Some(wagate_proto::google::rpc::Status {
            code: 3,
            message: "Failed to send message: invalid WhatsApp number".into(),
            details: Vec::new(),
        }),
        status: pb::MessageStatus::Failed as i32,
        ..sent
    };
    check(
        "message.sent",
        message_payload(failed),
        json!({ "event": "message.sent", "timestamp": 1,
                "data": { "success": false, "error": "x" } }),
    );
    check(
        "messages.update",
        Payload::MessageStatus(pb::MessageStatusPayload {
            key: Some(key("34874643876", false, "123456789@s.whatsapp.net")),
            status: pb::MessageStatus::Delivered as i32,
            ..Default::default()
        }),
        json!({ "event": "messages.update", "sessionId": "x", "timestamp": 1_747_775_431_467_i64, "data": {
            "update": { "status": 2 },
            "key": { "remoteJid": "x", "id": "x", "fromMe": false } } }),
    );
    check(
        "messages.delete",
        Payload::MessageDelete(pb::MessageDeletePayload {
            keys: vec![key("message-id-789", false, "1234567890@s.whatsapp.net")],
            messages: Vec::new(),
        }),
        json!({ "event": "messages.delete", "timestamp": 1, "data": {
            "keys": [ { "id": "x", "fromMe": false, "remoteJid": "x" } ] } }),
    );
    check(
        "messages.reaction",
        Payload::Reaction(pb::ReactionPayload {
            key: Some(key("message-id-123", false, "1234567890@s.whatsapp.net")),
            emoji: "👍".into(),
            ..Default::default()
        }),
        json!({ "event": "messages.reaction", "timestamp": 1, "data": [ {
            "key": { "id": "x", "fromMe": false, "remoteJid": "x" },
            "reaction": { "text": "x", "key": { "id": "x", "fromMe": false, "remoteJid": "x" } } } ] }),
    );
    let receipt = |status: pb::MessageStatus| {
        Payload::Receipt(pb::ReceiptPayload {
            key: Some(key("m", true, "group@g.us")),
            user_jid: "member@s.whatsapp.net".into(),
            status: status as i32,
            receipt_time: Some(prost_types::Timestamp {
                seconds: 1_234_567_890,
                nanos: 0,
            }),
            ..Default::default()
        })
    };
    check(
        "message-receipt.update",
        receipt(pb::MessageStatus::Delivered),
        json!({ "event": "message-receipt.update", "sessionId": "x", "timestamp": 1_747_775_431_467_i64, "data": {
            "message": { "key": { "remoteJid": "x", "id": "x", "fromMe": true, "participant": "x" },
                         "receipt": { "userJid": "x", "receiptTimestamp": 1 } } } }),
    );
    check(
        "message-receipt.update",
        receipt(pb::MessageStatus::Read),
        json!({ "event": "message-receipt.update", "sessionId": "x", "timestamp": 1_747_775_431_467_i64, "data": {
            "message": { "key": { "remoteJid": "x", "id": "x", "fromMe": true, "participant": "x" },
                         "receipt": { "userJid": "x", "readTimestamp": 1 } } } }),
    );
    check(
        "poll.results",
        Payload::PollResults(pb::PollResultsPayload {
            key: Some(key(
                "FZNABLUGNI0F3QIJSWPW7H",
                true,
                "123456789@s.whatsapp.net",
            )),
            results: vec![pb::PollOptionResult {
                name: "Pizza".into(),
                voters: vec!["123456789@s.whatsapp.net".into()],
            }],
            ..Default::default()
        }),
        json!({ "event": "poll.results", "sessionId": "x", "timestamp": 1_747_775_431_467_i64, "data": {
            "key": { "remoteJid": "x", "fromMe": true, "id": "x" },
            "pollResult": [ { "name": "Pizza", "voters": [ "x" ] } ] } }),
    );
}

#[test]
fn session_contact_group_chat_and_call_events_match_the_seed() {
    check(
        "session.status",
        Payload::SessionStatus(pb::SessionStatusPayload {
            status: pb::SessionStatus::Connected as i32,
            ..Default::default()
        }),
        json!({ "event": "session.status", "sessionId": "x", "data": { "status": "connected" } }),
    );
    check(
        "qrcode.updated",
        Payload::QrCode(pb::QrCodePayload {
            code: "2@67576ghf".into(),
            expire_time: None,
        }),
        json!({ "event": "qrcode.updated", "sessionId": "x", "data": { "qr": "x" } }),
    );
    check(
        "contacts.upsert",
        Payload::Contacts(pb::ContactsPayload {
            contacts: vec![pb::Contact {
                jid: "1234567890".into(),
                full_name: "Contact Name".into(),
                push_name: "Contact Display Name".into(),
                verified_name: "Verified Business Name".into(),
                about: "Hey there! I am using WhatsApp.".into(),
                ..Default::default()
            }],
            update_mask: None,
        }),
        json!({ "event": "contacts.upsert", "timestamp": 1, "data": [ {
            "jid": "x", "name": "x", "notify": "x", "verifiedName": "x", "status": "x" } ] }),
    );
    check(
        "contacts.update",
        Payload::Contacts(pb::ContactsPayload {
            contacts: vec![pb::Contact {
                jid: "1234567890".into(),
                picture_uri: "https://pps.whatsapp.net/v/x.jpg".into(),
                ..Default::default()
            }],
            update_mask: None,
        }),
        json!({ "event": "contacts.update", "timestamp": 1, "data": [ { "jid": "x", "imgUrl": "x" } ] }),
    );
    let group = pb::Group {
        jid: "123456789-987654321@g.us".into(),
        subject: "Group Name".into(),
        create_time: Some(prost_types::Timestamp {
            seconds: 1_633_456_700,
            nanos: 0,
        }),
        owner: "1234567890".into(),
        description: "Group description".into(),
        participants: vec![pb::GroupParticipant {
            jid: "1234567890".into(),
            role: pb::GroupParticipantRole::Superadmin as i32,
            ..Default::default()
        }],
        ..Default::default()
    };
    check(
        "groups.upsert",
        Payload::Groups(pb::GroupsPayload {
            groups: vec![group.clone()],
            ..Default::default()
        }),
        json!({ "event": "groups.upsert", "timestamp": 1, "data": [ {
            "jid": "x", "subject": "x", "creation": 1, "owner": "x", "desc": "x",
            "participants": [ { "jid": "x", "isAdmin": true, "isSuperAdmin": true } ] } ] }),
    );
    check(
        "groups.update",
        Payload::Groups(pb::GroupsPayload {
            groups: vec![pb::Group {
                jid: group.jid.clone(),
                announce: true,
                ..Default::default()
            }],
            ..Default::default()
        }),
        json!({ "event": "groups.update", "timestamp": 1, "data": [
            { "jid": "x", "announce": true, "restrict": false } ] }),
    );
    check(
        "group-participants.update",
        Payload::GroupParticipants(pb::GroupParticipantsPayload {
            jid: group.jid,
            participants: vec!["1234567890".into()],
            action: pb::ParticipantChangeType::Add as i32,
            ..Default::default()
        }),
        json!({ "event": "group-participants.update", "timestamp": 1, "data": {
            "jid": "x", "participants": [ "x" ], "action": "add" } }),
    );
    let chat = pb::Chat {
        jid: "1234567890".into(),
        display_name: "Contact Name".into(),
        unread_count: 2,
        conversation_time: Some(prost_types::Timestamp {
            seconds: 1_633_456_789,
            nanos: 0,
        }),
        ..Default::default()
    };
    let chats = |chat: pb::Chat| {
        Payload::Chats(pb::ChatsPayload {
            chats: vec![chat],
            update_mask: None,
        })
    };
    check(
        "chats.upsert",
        chats(chat.clone()),
        json!({ "event": "chats.upsert", "timestamp": 1, "data": [ {
            "id": "x", "name": "x", "conversationTimestamp": 1, "unreadCount": 2 } ] }),
    );
    check(
        "chats.update",
        chats(chat.clone()),
        json!({ "event": "chats.update", "timestamp": 1, "data": [ {
            "id": "x", "unreadCount": 0, "conversationTimestamp": 1 } ] }),
    );
    check(
        "chats.delete",
        chats(chat),
        json!({ "event": "chats.delete", "timestamp": 1, "data": [ "1234567890" ] }),
    );
    check(
        "call",
        Payload::Call(pb::CallPayload {
            call_id: "3EB025832E521B2F7E11".into(),
            caller: "1234567890@s.whatsapp.net".into(),
            call_time: Some(prost_types::Timestamp {
                seconds: 1_758_576_840,
                nanos: 0,
            }),
            video: true,
            status: pb::CallStatus::Offer as i32,
            ..Default::default()
        }),
        json!({ "event": "call", "timestamp": 1, "data": { "call": {
            "id": "x", "from": "x", "date": "2025-09-22T21:34:00.000Z", "isGroup": false,
            "isVideo": true, "status": "offer" } } }),
    );
}

#[test]
fn the_shape_check_catches_missing_and_mistyped_fields() {
    let mut problems = Vec::new();
    shape_mismatches(
        &json!({ "a": { "b": 1, "c": "x" }, "d": [ { "e": true } ] }),
        &json!({ "a": { "b": "1" }, "d": [ { "e": 1 } ] }),
        "",
        &mut problems,
    );
    assert_eq!(
        problems,
        [
            ".a.b: seed number vs ours string",
            ".a.c: missing",
            ".d[0].e: seed bool vs ours number"
        ]
    );
}

#[test]
fn seed_status_numbers() {
    use super::seed_status;
    let n = |s: pb::MessageStatus| seed_status(s as i32);
    assert_eq!(
        [
            n(pb::MessageStatus::Failed),
            n(pb::MessageStatus::Queued),
            n(pb::MessageStatus::Sent),
            n(pb::MessageStatus::Delivered),
            n(pb::MessageStatus::Read),
            n(pb::MessageStatus::Played)
        ],
        [0, 1, 2, 3, 4, 5]
    );
}
