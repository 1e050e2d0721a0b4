//! Received WhatsApp messages and receipts as our engine events. Pure, so
//! every kind is tested with constructed library values.

use std::time::{Duration, SystemTime};

use wagate_proto::v1 as pb;
use wagate_proto::v1::message::Content;
use whatsapp_rust::Jid;
use whatsapp_rust::buffa::MessageField;
use whatsapp_rust::types::events::Receipt;
use whatsapp_rust::types::message::MessageInfo;
use whatsapp_rust::types::presence::ReceiptType;
use whatsapp_rust::wacore::proto_helpers::MessageExt;
use whatsapp_rust::wacore_binary::{JidExt, Server};
use whatsapp_rust::waproto::whatsapp as wa;
use whatsapp_rust::waproto::whatsapp::message::protocol_message::Type as ProtocolType;

use super::media_ref::{MediaFields, MediaRef};
use crate::engine::{EngineEvent, InboundMessage, MessageChange, ReceiptKind};
use crate::message::model::body_of;
use crate::session::model::LinkedUser;

/// The event for one received message; `None` for what our sessions do not
/// track here (status updates, protocol chatter, key distribution; poll
/// votes are opened by the client, see `polls`).
pub fn message_event(
    message: &wa::Message,
    info: &MessageInfo,
    me: Option<&LinkedUser>,
) -> Option<EngineEvent> {
    if info.source.chat.is_status_broadcast() {
        return None;
    }
    let chat = info.source.chat.to_non_ad().to_string();
    let timestamp = SystemTime::from(info.timestamp);
    let base = message.get_base_message();
    if let Some(protocol) = base.protocol_message.as_option() {
        return change_event(protocol, chat, timestamp);
    }
    let (content, media_ref) = match content_of(base, &info.source, me) {
        Some((content, media_ref)) => (Some(content), media_ref),
        // Checked only here: it copies the message.
        None if is_technical(base) => return None,
        None => (None, None),
    };
    let context = context_of(base);
    let message = content.map(|content| pb::Message {
        content: Some(content),
        reply_to: context.and_then(|c| quoted_reference(c, &chat, me)),
        mentions: context.map(|c| c.mentioned_jid.clone()).unwrap_or_default(),
        view_once: message.is_view_once(),
        ..Default::default()
    });
    let body = match &message {
        Some(message) => body_of(message),
        // A kind we do not model may still have text worth keeping.
        None => base
            .text_content()
            .or_else(|| base.get_caption())
            .unwrap_or_default()
            .to_owned(),
    };
    let (sender_pn, sender_lid) = sender_ids(&info.source.sender, info.source.sender_alt.as_ref());
    Some(EngineEvent::MessageReceived(Box::new(InboundMessage {
        whatsapp_id: info.id.clone(),
        chat,
        sender: info.source.sender.to_non_ad().to_string(),
        sender_phone_number: sender_pn
            .map(|pn| format!("+{}", pn.user))
            .unwrap_or_default(),
        sender_lid: sender_lid.map(|lid| lid.to_string()).unwrap_or_default(),
        push_name: info.push_name.clone(),
        from_me: info.source.is_from_me,
        timestamp,
        message,
        body,
        media_ref: media_ref.map(|r| r.encode()).unwrap_or_default(),
    })))
}

/// An edit or deletion of an earlier message; other protocol messages
/// (history sync, key shares, ephemeral settings) are not ours to report.
fn change_event(
    protocol: &wa::message::ProtocolMessage,
    chat: String,
    timestamp: SystemTime,
) -> Option<EngineEvent> {
    let target = protocol.key.as_option()?.id.clone()?;
    let change = match protocol.r#type? {
        ProtocolType::Revoke => MessageChange::Revoked,
        ProtocolType::MessageEdit => {
            let edited = protocol.edited_message.as_option()?;
            let new_body = edited
                .text_content()
                .or_else(|| edited.get_caption())
                .unwrap_or_default()
                .to_owned();
            MessageChange::Edited { new_body }
        }
        _ => return None,
    };
    Some(EngineEvent::MessageChanged {
        chat,
        whatsapp_id: target,
        change,
        timestamp,
    })
}

/// A message with nothing a person sent: key distribution alone, poll votes
/// (encrypted to the poll's author), pins, keep-in-chat, encrypted reactions.
fn is_technical(base: &wa::Message) -> bool {
    if base.poll_update_message.is_set()
        || base.enc_reaction_message.is_set()
        || base.pin_in_chat_message.is_set()
        || base.keep_in_chat_message.is_set()
        || base.enc_event_response_message.is_set()
    {
        return true;
    }
    let mut rest = base.clone();
    rest.sender_key_distribution_message = MessageField::none();
    rest.fast_ratchet_key_sender_key_distribution_message = MessageField::none();
    rest.message_context_info = MessageField::none();
    rest == wa::Message::default()
}

/// The phone-number and LID JIDs of a sender, from its JID and the
/// library's alternate JID (the other addressing of the same account).
fn sender_ids(sender: &Jid, alt: Option<&Jid>) -> (Option<Jid>, Option<Jid>) {
    let mut pn = None;
    let mut lid = None;
    for jid in std::iter::once(sender).chain(alt) {
        match jid.server {
            Server::Pn if pn.is_none() => pn = Some(jid.to_non_ad()),
            Server::Lid if lid.is_none() => lid = Some(jid.to_non_ad()),
            _ => {}
        }
    }
    (pn, lid)
}

fn text(value: &Option<String>) -> String {
    value.clone().unwrap_or_default()
}

fn size(length: Option<u64>) -> i64 {
    length.unwrap_or_default().min(i64::MAX as u64) as i64
}

fn duration(seconds: Option<u32>) -> Option<prost_types::Duration> {
    seconds
        .filter(|s| *s > 0)
        .map(|s| prost_types::Duration::try_from(Duration::from_secs(s.into())).unwrap_or_default())
}

/// Our content for a message kind we model, with the reference to its file.
pub fn content_of(
    base: &wa::Message,
    source: &whatsapp_rust::types::message::MessageSource,
    me: Option<&LinkedUser>,
) -> Option<(Content, Option<MediaRef>)> {
    macro_rules! media_ref {
        ($m:expr, $kind:literal, $file_name:expr) => {
            MediaRef::of(MediaFields {
                kind: $kind,
                direct_path: $m.direct_path.as_deref(),
                media_key: $m.media_key.as_deref(),
                file_enc_sha256: $m.file_enc_sha256.as_deref(),
                file_sha256: $m.file_sha256.as_deref(),
                file_length: $m.file_length,
                mime_type: $m.mimetype.as_deref(),
                file_name: $file_name,
            })
        };
    }
    if let Some(text) = base.conversation.as_ref().filter(|t| !t.is_empty()) {
        return Some((Content::Text(text.clone()), None));
    }
    if let Some(extended) = base.extended_text_message.as_option() {
        return Some((Content::Text(text(&extended.text)), None));
    }
    if let Some(m) = base.image_message.as_option() {
        let content = pb::ImageContent {
            caption: text(&m.caption),
            mime_type: text(&m.mimetype),
            size_bytes: size(m.file_length),
            ..Default::default()
        };
        return Some((Content::Image(content), media_ref!(m, "image", None)));
    }
    if let Some(m) = base.video_message.as_option() {
        let content = pb::VideoContent {
            caption: text(&m.caption),
            mime_type: text(&m.mimetype),
            gif_playback: m.gif_playback.unwrap_or_default(),
            size_bytes: size(m.file_length),
            duration: duration(m.seconds),
            ..Default::default()
        };
        return Some((Content::Video(content), media_ref!(m, "video", None)));
    }
    if let Some(m) = base.audio_message.as_option() {
        let content = pb::AudioContent {
            voice_note: m.ptt.unwrap_or_default(),
            mime_type: text(&m.mimetype),
            size_bytes: size(m.file_length),
            duration: duration(m.seconds),
            ..Default::default()
        };
        return Some((Content::Audio(content), media_ref!(m, "audio", None)));
    }
    if let Some(m) = base.document_message.as_option() {
        let content = pb::DocumentContent {
            file_name: text(&m.file_name),
            mime_type: text(&m.mimetype),
            caption: text(&m.caption),
            size_bytes: size(m.file_length),
            ..Default::default()
        };
        let file_name = m.file_name.as_deref();
        return Some((
            Content::Document(content),
            media_ref!(m, "document", file_name),
        ));
    }
    if let Some(m) = base.sticker_message.as_option() {
        let content = pb::StickerContent {
            animated: m.is_animated.unwrap_or_default(),
            size_bytes: size(m.file_length),
            ..Default::default()
        };
        return Some((Content::Sticker(content), media_ref!(m, "sticker", None)));
    }
    if let Some(m) = base.location_message.as_option() {
        let content = pb::LocationContent {
            latitude: m.degrees_latitude.unwrap_or_default(),
            longitude: m.degrees_longitude.unwrap_or_default(),
            place_name: text(&m.name),
            address: text(&m.address),
        };
        return Some((Content::Location(content), None));
    }
    if let Some(m) = base.contact_message.as_option() {
        let vcard = text(&m.vcard);
        let card = parse_vcard(&vcard);
        let content = pb::ContactCardContent {
            full_name: m
                .display_name
                .clone()
                .filter(|n| !n.is_empty())
                .unwrap_or(card.full_name),
            phone_number: card.phone_number,
            organization: card.organization,
            vcard,
        };
        return Some((Content::Contact(content), None));
    }
    let poll = [
        &base.poll_creation_message,
        &base.poll_creation_message_v2,
        &base.poll_creation_message_v3,
    ]
    .into_iter()
    .find_map(|p| p.as_option());
    if let Some(m) = poll {
        let options: Vec<String> = m.options.iter().map(|o| text(&o.option_name)).collect();
        // 0 means "any number" to WhatsApp.
        let multi_select = m.selectable_options_count.unwrap_or(1) != 1;
        let content = pb::PollContent {
            question: text(&m.name),
            options,
            multi_select,
            ..Default::default()
        };
        return Some((Content::Poll(content), None));
    }
    if let Some(m) = base.reaction_message.as_option() {
        let key = m.key.as_option()?;
        let content = pb::ReactionContent {
            target: Some(pb::MessageReference {
                target: Some(pb::message_reference::Target::Key(reaction_target(
                    key, source, me,
                ))),
            }),
            emoji: text(&m.text),
        };
        return Some((Content::Reaction(content), None));
    }
    None
}

/// A reaction's target key is written from the reactor's side; ours says
/// whether this account wrote the target.
fn reaction_target(
    key: &wa::MessageKey,
    source: &whatsapp_rust::types::message::MessageSource,
    me: Option<&LinkedUser>,
) -> pb::MessageKey {
    let participant = text(&key.participant);
    let from_me = if key.from_me.unwrap_or_default() {
        // The reactor reacted to their own message.
        source.is_from_me
    } else if !participant.is_empty() {
        is_me(&participant, me)
    } else {
        // In a personal chat the other side's message is ours.
        !source.is_from_me
    };
    let participant = if key.from_me.unwrap_or_default() && source.is_group {
        source.sender.to_non_ad().to_string()
    } else {
        participant
    };
    pb::MessageKey {
        id: text(&key.id),
        remote_jid: source.chat.to_non_ad().to_string(),
        from_me,
        participant,
        ..Default::default()
    }
}

/// Whether a JID names this account (by phone number or LID).
fn is_me(jid: &str, me: Option<&LinkedUser>) -> bool {
    let Some(me) = me else { return false };
    let Ok(jid) = jid.parse::<Jid>() else {
        return false;
    };
    [me.jid.as_str(), me.lid.as_str()]
        .into_iter()
        .filter_map(|own| own.parse::<Jid>().ok())
        .any(|own| own.user == jid.user && own.server == jid.server)
}

/// The ContextInfo of whichever content field the message has.
fn context_of(base: &wa::Message) -> Option<&wa::ContextInfo> {
    macro_rules! first_context {
        ($($field:ident),+ $(,)?) => {
            $(
                if let Some(m) = base.$field.as_option() {
                    return m.context_info.as_option();
                }
            )+
        };
    }
    first_context!(
        extended_text_message,
        image_message,
        video_message,
        audio_message,
        document_message,
        sticker_message,
        location_message,
        contact_message,
        poll_creation_message,
        poll_creation_message_v2,
        poll_creation_message_v3,
    );
    None
}

fn quoted_reference(
    context: &wa::ContextInfo,
    chat: &str,
    me: Option<&LinkedUser>,
) -> Option<pb::MessageReference> {
    let id = context.stanza_id.clone().filter(|id| !id.is_empty())?;
    let participant = text(&context.participant);
    let remote_jid = context
        .remote_jid
        .clone()
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| chat.to_owned());
    let group = remote_jid.ends_with("@g.us");
    Some(pb::MessageReference {
        target: Some(pb::message_reference::Target::Key(pb::MessageKey {
            id,
            from_me: is_me(&participant, me),
            // Only group keys name the author; in a personal chat it is implied.
            participant: if group { participant } else { String::new() },
            remote_jid,
            ..Default::default()
        })),
    })
}

/// What a vCard says about a contact.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct VcardContact {
    pub full_name: String,
    pub phone_number: String,
    pub organization: String,
}

/// Reads the name, first phone number (E.164, from `waid` when present) and
/// organization of a vCard.
pub fn parse_vcard(vcard: &str) -> VcardContact {
    let mut contact = VcardContact::default();
    for line in vcard.lines() {
        let Some((name, value)) = line.trim_end_matches('\r').split_once(':') else {
            continue;
        };
        let mut params = name.split(';');
        let property = params.next().unwrap_or_default().to_ascii_uppercase();
        match property.as_str() {
            "FN" if contact.full_name.is_empty() => contact.full_name = unescape_vcard(value),
            "ORG" if contact.organization.is_empty() => {
                contact.organization = unescape_vcard(value.trim_end_matches(';'))
            }
            "TEL" if contact.phone_number.is_empty() => {
                let waid = params.find_map(|p| {
                    p.split_once('=')
                        .filter(|(k, _)| k.eq_ignore_ascii_case("waid"))
                        .map(|(_, v)| v.to_owned())
                });
                let digits: String = waid
                    .unwrap_or_else(|| value.to_owned())
                    .chars()
                    .filter(char::is_ascii_digit)
                    .collect();
                if !digits.is_empty() {
                    contact.phone_number = format!("+{digits}");
                }
            }
            _ => {}
        }
    }
    contact
}

fn unescape_vcard(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') | Some('N') => out.push('\n'),
                Some(other) => out.push(other),
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The event for a receipt on messages this account sent; `None` for kinds
/// we do not track (retries, our own devices' receipts, server errors).
pub fn receipt_event(receipt: &Receipt) -> Option<EngineEvent> {
    let kind = match receipt.r#type {
        ReceiptType::Delivered => ReceiptKind::Delivered,
        ReceiptType::Read => ReceiptKind::Read,
        ReceiptType::Played => ReceiptKind::Played,
        _ => return None,
    };
    // Our other devices confirm what they got; that is no delivery to the chat.
    if receipt.source.is_from_me || receipt.message_ids.is_empty() {
        return None;
    }
    Some(EngineEvent::Receipt {
        chat: receipt.source.chat.to_non_ad().to_string(),
        ids: receipt.message_ids.clone(),
        kind,
        from: receipt.source.sender.to_non_ad().to_string(),
        timestamp: SystemTime::from(receipt.timestamp),
    })
}

#[cfg(test)]
#[path = "inbound_tests.rs"]
mod tests;
