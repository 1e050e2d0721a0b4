//! What the engine reports about messages, recorded in the store: received
//! messages (content only when the session logs it) and receipts. Later
//! changes to a message are in `changes`.

use std::time::SystemTime;

use super::model::{Direction, MessageRecord, Status, body_of, kind_of};
use crate::engine::{InboundMessage, ReceiptKind};
use crate::error::Result;
use crate::session::model::SessionId;
use crate::store::Store;

fn ms(time: SystemTime) -> i64 {
    crate::api::system_time_ms(time)
}

/// Records a received message; returns it with its id and full content
/// (for its events, whatever `log_content` kept), or `None` when it was
/// recorded before (WhatsApp may deliver a message again after a reconnect).
/// Stores a received message with the events `events` drafts for it (in one
/// transaction); `None` when it was stored before.
pub async fn record_message(
    store: &Store,
    session: SessionId,
    log_content: bool,
    message: InboundMessage,
    events: impl FnOnce(&MessageRecord, &crate::store::ChatState) -> Vec<crate::store::NewEvent>,
) -> Result<Option<MessageRecord>> {
    let kind = message
        .message
        .as_ref()
        .and_then(|m| m.content.as_ref())
        .map(kind_of)
        .unwrap_or("unknown");
    let body = match &message.message {
        Some(m) if message.body.is_empty() => body_of(m),
        _ => message.body.clone(),
    };
    let direction = if message.from_me {
        Direction::Outbound
    } else {
        Direction::Inbound
    };
    let now = crate::store::now_ms();
    let record = MessageRecord {
        id: 0,
        session_id: session,
        direction,
        chat: message.chat,
        sender: message.sender,
        sender_pn: message.sender_phone_number,
        sender_lid: message.sender_lid,
        push_name: message.push_name,
        whatsapp_id: message.whatsapp_id,
        kind: kind.to_owned(),
        body,
        payload: message.message,
        media_ref: message.media_ref,
        // A message sent from the phone is already on WhatsApp.
        status: if message.from_me {
            Status::Sent
        } else {
            Status::Received
        },
        create_time: now,
        send_time: Some(ms(message.timestamp)),
        update_time: now,
        ..MessageRecord::default()
    };
    let stored = MessageRecord {
        body: if log_content {
            record.body.clone()
        } else {
            String::new()
        },
        payload: if log_content {
            record.payload.clone()
        } else {
            None
        },
        ..record.clone()
    };
    Ok(store
        .insert_inbound_with_events(&stored, |id, chat| {
            events(
                &MessageRecord {
                    id,
                    ..record.clone()
                },
                chat,
            )
        })
        .await?
        .map(|id| MessageRecord { id, ..record }))
}

/// Applies a receipt and, in the same transaction, the events `events`
/// drafts from each stored message it is about (its status before, the
/// message now).
pub async fn record_receipt(
    store: &Store,
    session: SessionId,
    ids: &[String],
    kind: ReceiptKind,
    time: SystemTime,
    events: impl FnOnce(&[(Status, MessageRecord)]) -> Vec<crate::store::NewEvent>,
) -> Result<()> {
    store
        .apply_receipt_with_events(session, ids, receipt_status(kind), ms(time), events)
        .await
}

pub fn receipt_status(kind: ReceiptKind) -> Status {
    match kind {
        ReceiptKind::Delivered => Status::Delivered,
        ReceiptKind::Read => Status::Read,
        ReceiptKind::Played => Status::Played,
    }
}
