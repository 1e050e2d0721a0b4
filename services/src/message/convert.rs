//! Stored messages as the API shows them (used by the gRPC handler and by
//! the events that carry messages).

use wagate_proto::v1 as pb;

use super::model::{MessageRecord, Status as MessageStatus, chat_type};
use crate::api::timestamp;

fn opt_time(ms: Option<i64>) -> Option<prost_types::Timestamp> {
    ms.map(timestamp)
}

/// A stored message as the API shows it.
pub fn message_pb(record: &MessageRecord) -> pb::Message {
    let payload = record.payload.clone().unwrap_or_default();
    let error = record.error.as_ref().map(|failure| {
        let info = wagate_proto::google::rpc::ErrorInfo {
            reason: failure.reason.clone(),
            domain: crate::api::status::ERROR_DOMAIN.to_owned(),
            metadata: [("whatsapp_reason".to_owned(), failure.message.clone())].into(),
        };
        pb_status(failure.code, &failure.message, info)
    });
    pb::Message {
        name: format!("sessions/{}/messages/{}", record.session_id, record.id),
        id: record.id,
        whatsapp_id: record.whatsapp_id.clone(),
        key: (!record.whatsapp_id.is_empty()).then(|| record.key()),
        direction: record.direction as i32,
        chat: record.chat.clone(),
        chat_type: chat_type(&record.chat) as i32,
        sender: super::model::account_jid(&record.sender),
        sender_phone_number: if record.sender_pn.is_empty() {
            super::model::jid_digits(&record.sender)
                .map(|d| format!("+{d}"))
                .unwrap_or_default()
        } else {
            record.sender_pn.clone()
        },
        sender_lid: record.sender_lid.clone(),
        push_name: record.push_name.clone(),
        content: payload.content,
        body: record.body.clone(),
        reply_to: payload.reply_to,
        mentions: payload.mentions,
        view_once: payload.view_once,
        status: record.status as i32,
        error,
        attempt_count: record.attempt_count as i32,
        next_attempt_time: (record.status == MessageStatus::Queued && record.next_attempt_at > 0)
            .then(|| timestamp(record.next_attempt_at)),
        create_time: Some(timestamp(record.create_time)),
        send_time: opt_time(record.send_time),
        deliver_time: opt_time(record.deliver_time),
        read_time: opt_time(record.read_time),
        play_time: opt_time(record.play_time),
        edit_time: opt_time(record.edit_time),
        delete_time: opt_time(record.delete_time),
        update_time: Some(timestamp(record.update_time)),
    }
}

/// A google.rpc.Status with an ErrorInfo detail.
fn pb_status(
    code: i32,
    message: &str,
    detail: wagate_proto::google::rpc::ErrorInfo,
) -> wagate_proto::google::rpc::Status {
    use prost::Message as _;
    wagate_proto::google::rpc::Status {
        code,
        message: message.to_owned(),
        details: vec![prost_types::Any {
            type_url: "type.googleapis.com/google.rpc.ErrorInfo".into(),
            value: detail.encode_to_vec(),
        }],
    }
}
