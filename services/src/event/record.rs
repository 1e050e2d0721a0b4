//! What becomes an event: drafts built from session and message happenings,
//! the session settings that select events for webhooks, and logged events
//! as the API shows them.

use prost::Message as _;
use wagate_proto::v1 as pb;
use wagate_proto::v1::event::Payload;

use crate::api::timestamp;
use crate::message::model::{ChatType, chat_type};
use crate::session::model::Settings;
use crate::store::{EventRow, NewEvent};

/// An event before it is logged.
#[derive(Clone, Debug)]
pub struct EventDraft {
    pub event_type: &'static str,
    pub payload: Payload,
    /// The chat it concerns, for the ignore_groups/channels/broadcasts rules.
    pub chat: Option<String>,
}

impl EventDraft {
    fn new(event_type: &'static str, payload: Payload, chat: Option<&str>) -> Self {
        Self {
            event_type,
            payload,
            chat: chat.map(str::to_owned),
        }
    }
}

/// Whether the session's webhook settings select an event.
pub fn selected_for_webhook(settings: &Settings, event_type: &str, chat: Option<&str>) -> bool {
    if !settings.webhook_events.is_empty()
        && !settings.webhook_events.iter().any(|e| e == event_type)
    {
        return false;
    }
    match chat.map(chat_type) {
        Some(ChatType::Group) => !settings.ignore_groups,
        Some(ChatType::Newsletter) => !settings.ignore_channels,
        Some(ChatType::Broadcast) => !settings.ignore_broadcasts,
        _ => true,
    }
}

/// Drafts ready to append, stamped now. Without settings (a session being
/// deleted) nothing is selected for webhooks.
pub fn to_new_events(
    session_id: i64,
    settings: Option<&Settings>,
    drafts: Vec<EventDraft>,
) -> Vec<NewEvent> {
    let now = crate::store::now_ms();
    drafts
        .into_iter()
        .map(|draft| {
            let webhook = settings.is_some_and(|s| {
                selected_for_webhook(s, draft.event_type, draft.chat.as_deref())
                    && super::json::has_counterpart(
                        s.webhook_format,
                        draft.event_type,
                        &draft.payload,
                    )
            });
            let event = pb::Event {
                r#type: draft.event_type.to_owned(),
                create_time: Some(timestamp(now)),
                payload: Some(draft.payload),
                ..Default::default()
            };
            NewEvent {
                session_id,
                event_type: draft.event_type.to_owned(),
                payload: event.encode_to_vec(),
                webhook,
                create_time: now,
            }
        })
        .collect()
}

/// A logged event as the API shows it, with its webhook JSON.
/// The API form of a logged event (rendered once per row, then cloned).
pub fn event_pb(row: &EventRow) -> pb::Event {
    row.rendered.0.get_or_init(|| render_event(row)).clone()
}

fn render_event(row: &EventRow) -> pb::Event {
    let mut event = pb::Event::decode(row.payload.as_slice()).unwrap_or_default();
    event.name = format!("sessions/{}/events/{}", row.session_id, row.cursor);
    event.cursor = row.cursor;
    event.session = format!("sessions/{}", row.session_id);
    event.r#type = row.event_type.clone();
    event.create_time = Some(timestamp(row.create_time));
    event.json = super::json::render(&event, row.session_id).to_string();
    event
}

pub fn session_status(
    status: pb::SessionStatus,
    previous: pb::SessionStatus,
    reason: &str,
) -> EventDraft {
    EventDraft::new(
        "session.status",
        Payload::SessionStatus(pb::SessionStatusPayload {
            status: status as i32,
            previous_status: previous as i32,
            reason: reason.to_owned(),
        }),
        None,
    )
}

pub fn qr_code(code: &str, expire_time_ms: i64) -> EventDraft {
    EventDraft::new(
        "qrcode.updated",
        Payload::QrCode(pb::QrCodePayload {
            code: code.to_owned(),
            expire_time: Some(timestamp(expire_time_ms)),
        }),
        None,
    )
}

/// A message that arrived: `messages.received`, `messages.upsert` and the
/// `messages-{personal,group,newsletter}.received` of its chat; a reaction
/// is `messages.reaction` instead. Messages the account sent from another
/// device are only `messages.upsert`.
pub fn message_arrived(message: pb::Message) -> Vec<EventDraft> {
    let chat = message.chat.clone();
    if let Some(pb::message::Content::Reaction(reaction)) = &message.content {
        let key = match reaction.target.as_ref().and_then(|t| t.target.as_ref()) {
            Some(pb::message_reference::Target::Key(key)) => Some(key.clone()),
            _ => None,
        };
        return vec![EventDraft::new(
            "messages.reaction",
            Payload::Reaction(pb::ReactionPayload {
                key,
                message: String::new(),
                emoji: reaction.emoji.clone(),
                sender: message.sender.clone(),
                sender_phone_number: message.sender_phone_number.clone(),
                reaction_key: message.key.clone(),
            }),
            Some(&chat),
        )];
    }
    let from_me = message.key.as_ref().is_some_and(|k| k.from_me);
    let payload = || {
        Payload::Message(pb::MessagePayload {
            message: Some(message.clone()),
        })
    };
    let mut drafts = vec![EventDraft::new("messages.upsert", payload(), Some(&chat))];
    if !from_me {
        drafts.insert(
            0,
            EventDraft::new("messages.received", payload(), Some(&chat)),
        );
        let per_chat = match chat_type(&chat) {
            ChatType::Group => Some("messages-group.received"),
            ChatType::Newsletter => Some("messages-newsletter.received"),
            ChatType::Personal => Some("messages-personal.received"),
            ChatType::Broadcast | ChatType::Unspecified => None,
        };
        if let Some(kind) = per_chat {
            drafts.push(EventDraft::new(kind, payload(), Some(&chat)));
        }
    }
    drafts
}

/// A queued message went out (or failed for good): `message.sent`, and its
/// status change; a sent one is also `messages.upsert`.
pub fn message_sent(message: pb::Message) -> Vec<EventDraft> {
    let chat = message.chat.clone();
    let mut drafts = vec![EventDraft::new(
        "message.sent",
        Payload::Message(pb::MessagePayload {
            message: Some(message.clone()),
        }),
        Some(&chat),
    )];
    if message.error.is_none() {
        drafts.push(EventDraft::new(
            "messages.upsert",
            Payload::Message(pb::MessagePayload {
                message: Some(message.clone()),
            }),
            Some(&chat),
        ));
    }
    drafts.push(message_status(&message));
    drafts
}

/// `messages.update`: the message's status now.
pub fn message_status(message: &pb::Message) -> EventDraft {
    EventDraft::new(
        "messages.update",
        Payload::MessageStatus(pb::MessageStatusPayload {
            message: message.name.clone(),
            key: message.key.clone(),
            status: message.status,
            error: message.error.clone(),
        }),
        Some(&message.chat),
    )
}

/// `presence.update`: a contact typing/recording/paused in a chat, or
/// online/offline.
pub fn presence(
    chat: &str,
    participant: &str,
    state: pb::PresenceState,
    last_seen_ms: Option<i64>,
) -> EventDraft {
    EventDraft::new(
        "presence.update",
        Payload::Presence(pb::PresencePayload {
            chat: chat.to_owned(),
            participant: participant.to_owned(),
            presence: state as i32,
            last_seen_time: last_seen_ms.map(timestamp),
        }),
        Some(chat),
    )
}

/// `message-receipt.update`: one group member's receipt.
pub fn member_receipt(
    message: &pb::Message,
    member: &str,
    status: pb::MessageStatus,
    time_ms: i64,
) -> EventDraft {
    EventDraft::new(
        "message-receipt.update",
        Payload::Receipt(pb::ReceiptPayload {
            key: message.key.clone(),
            message: message.name.clone(),
            user_jid: member.to_owned(),
            status: status as i32,
            receipt_time: Some(timestamp(time_ms)),
        }),
        Some(&message.chat),
    )
}

/// `messages.delete`: a message deleted for everyone.
pub fn message_deleted(message: &pb::Message) -> EventDraft {
    EventDraft::new(
        "messages.delete",
        Payload::MessageDelete(pb::MessageDeletePayload {
            keys: message.key.clone().into_iter().collect(),
            messages: vec![message.name.clone()],
        }),
        Some(&message.chat),
    )
}

/// `poll.results`: the whole tally of a poll after someone voted.
pub fn poll_results(poll: &pb::Message, voter: &str) -> EventDraft {
    let results = match &poll.content {
        Some(pb::message::Content::Poll(p)) => p.results.clone(),
        _ => Vec::new(),
    };
    EventDraft::new(
        "poll.results",
        Payload::PollResults(pb::PollResultsPayload {
            key: poll.key.clone(),
            message: poll.name.clone(),
            results,
            voter: voter.to_owned(),
        }),
        Some(&poll.chat),
    )
}

/// `contacts.upsert` (complete contacts) or `contacts.update` (the fields in
/// `update_mask`).
pub fn contacts(contacts: Vec<pb::Contact>, update_mask: Vec<String>) -> EventDraft {
    let event_type = if update_mask.is_empty() {
        "contacts.upsert"
    } else {
        "contacts.update"
    };
    EventDraft::new(
        event_type,
        Payload::Contacts(pb::ContactsPayload {
            contacts,
            update_mask: mask_of(update_mask),
        }),
        None,
    )
}

/// `groups.upsert` (complete groups) or `groups.update` (the fields in
/// `update_mask`).
pub fn groups(groups: Vec<pb::Group>, update_mask: Vec<String>, author: String) -> EventDraft {
    let event_type = if update_mask.is_empty() {
        "groups.upsert"
    } else {
        "groups.update"
    };
    EventDraft::new(
        event_type,
        Payload::Groups(pb::GroupsPayload {
            groups,
            update_mask: mask_of(update_mask),
            author,
        }),
        None,
    )
}

/// `group-participants.update`.
pub fn group_participants(
    session_id: i64,
    group: &str,
    participants: Vec<String>,
    change: crate::engine::ParticipantChange,
    author: String,
) -> EventDraft {
    EventDraft::new(
        "group-participants.update",
        Payload::GroupParticipants(pb::GroupParticipantsPayload {
            group: format!("sessions/{session_id}/groups/{group}"),
            jid: group.to_owned(),
            participants,
            action: change.to_pb() as i32,
            author,
        }),
        None,
    )
}

fn mask_of(paths: Vec<String>) -> Option<prost_types::FieldMask> {
    (!paths.is_empty()).then_some(prost_types::FieldMask { paths })
}

/// `chats.upsert` for a new chat, else `chats.update` of its unread count
/// and last activity.
pub fn chat_changed(chat: &crate::store::ChatState) -> EventDraft {
    let pb_chat = pb::Chat {
        jid: chat.jid.clone(),
        chat_type: chat_type(&chat.jid) as i32,
        display_name: chat.display_name.clone(),
        unread_count: chat.unread_count as i32,
        conversation_time: Some(timestamp(chat.conversation_time)),
        ..Default::default()
    };
    let (event_type, mask) = if chat.created {
        ("chats.upsert", Vec::new())
    } else {
        (
            "chats.update",
            vec!["unread_count".to_owned(), "conversation_time".to_owned()],
        )
    };
    EventDraft::new(
        event_type,
        Payload::Chats(pb::ChatsPayload {
            chats: vec![pb_chat],
            update_mask: mask_of(mask),
        }),
        Some(&chat.jid),
    )
}

/// `call`: a call to the account, and whether it was rejected automatically.
pub fn call(call: &crate::engine::IncomingCall, auto_rejected: bool) -> EventDraft {
    EventDraft::new(
        "call",
        Payload::Call(pb::CallPayload {
            call_id: call.call_id.clone(),
            caller: call.caller.clone(),
            caller_phone_number: call.caller_phone_number.clone(),
            call_time: Some(timestamp(crate::api::system_time_ms(call.time))),
            group_call: call.group_call,
            video: call.video,
            status: call.status as i32,
            auto_rejected,
        }),
        Some(&call.caller),
    )
}

/// `chats.delete` (seed 001 sends the bare ids).
pub fn chat_deleted(jid: &str) -> EventDraft {
    EventDraft::new(
        "chats.delete",
        Payload::Chats(pb::ChatsPayload {
            chats: vec![pb::Chat {
                jid: jid.to_owned(),
                chat_type: chat_type(jid) as i32,
                ..Default::default()
            }],
            update_mask: None,
        }),
        Some(jid),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        Settings {
            display_name: "x".into(),
            phone_number: String::new(),
            account_protection: true,
            log_messages: true,
            webhook_url: String::new(),
            webhook_enabled: false,
            webhook_events: Vec::new(),
            read_incoming_messages: false,
            auto_reject_calls: false,
            ignore_groups: false,
            ignore_channels: false,
            ignore_broadcasts: false,
            proxy_url: String::new(),
            always_online: false,
            ..Default::default()
        }
    }

    #[test]
    fn webhook_selection_follows_event_types_and_ignored_chats() {
        let mut s = settings();
        assert!(selected_for_webhook(
            &s,
            "messages.received",
            Some("1@g.us")
        ));
        s.webhook_events = vec!["session.status".into()];
        assert!(!selected_for_webhook(&s, "messages.received", None));
        assert!(selected_for_webhook(&s, "session.status", None));
        s.webhook_events.clear();
        s.ignore_groups = true;
        s.ignore_channels = true;
        s.ignore_broadcasts = true;
        assert!(!selected_for_webhook(
            &s,
            "messages.received",
            Some("1-2@g.us")
        ));
        assert!(!selected_for_webhook(
            &s,
            "messages.received",
            Some("1@newsletter")
        ));
        assert!(!selected_for_webhook(
            &s,
            "messages.received",
            Some("status@broadcast")
        ));
        assert!(selected_for_webhook(
            &s,
            "messages.received",
            Some("1@s.whatsapp.net")
        ));
    }

    #[test]
    fn an_inbound_message_is_three_events_and_an_own_one_is_an_upsert() {
        let message = |from_me: bool, chat: &str| pb::Message {
            chat: chat.into(),
            key: Some(pb::MessageKey {
                id: "A".into(),
                remote_jid: chat.into(),
                from_me,
                ..Default::default()
            }),
            content: Some(pb::message::Content::Text("hi".into())),
            ..Default::default()
        };
        let types =
            |drafts: Vec<EventDraft>| drafts.iter().map(|d| d.event_type).collect::<Vec<_>>();
        assert_eq!(
            types(message_arrived(message(false, "1@s.whatsapp.net"))),
            [
                "messages.received",
                "messages.upsert",
                "messages-personal.received"
            ]
        );
        assert_eq!(
            types(message_arrived(message(false, "1-2@g.us"))),
            [
                "messages.received",
                "messages.upsert",
                "messages-group.received"
            ]
        );
        assert_eq!(
            types(message_arrived(message(true, "1@s.whatsapp.net"))),
            ["messages.upsert"]
        );
    }
}
