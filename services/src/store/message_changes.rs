//! Changes to a stored message after the fact (edits, deletions for
//! everyone, poll tallies), each committed with the events describing it.

use prost::Message as _;
use sqlx::AssertSqlSafe;
use wagate_proto::v1 as pb;

use super::messages::{COLUMNS, record_from_row};
use super::{NewEvent, Store, now_ms};
use crate::error::Result;
use crate::message::model::MessageRecord;
use crate::session::model::SessionId;

/// Which message of a session.
#[derive(Clone, Copy, Debug)]
pub enum MessageSelector<'a> {
    /// Our numeric id.
    Id(i64),
    /// The WhatsApp id (the outbound message first when both directions share it).
    WhatsAppId(&'a str),
}

/// What a change writes to a message, and the events it commits with.
#[derive(Clone, Debug, Default)]
pub struct MessageRewrite {
    pub body: String,
    /// The new content; `None` drops it (not logged, or deleted).
    pub payload: Option<pb::Message>,
    pub edit_time: Option<i64>,
    pub delete_time: Option<i64>,
    /// Forget the media reference (deleted for everyone).
    pub clear_media: bool,
    pub events: Vec<NewEvent>,
}

impl Store {
    /// Reads a message and writes what `change` makes of it, with its
    /// events, in one transaction (a crash keeps both or neither). Returns
    /// the message as it was, or `None` when it is not stored or `change`
    /// declined.
    pub async fn rewrite_message_with_events(
        &self,
        session: SessionId,
        selector: MessageSelector<'_>,
        change: impl FnOnce(&MessageRecord) -> Option<MessageRewrite>,
    ) -> Result<Option<MessageRecord>> {
        let mut tx = self.writer.begin().await?;
        let find = match selector {
            MessageSelector::Id(id) => sqlx::query(AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM messages WHERE session_id = $1 AND id = $2"
            )))
            .bind(session)
            .bind(id),
            MessageSelector::WhatsAppId(whatsapp_id) => sqlx::query(AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM messages WHERE session_id = $1 AND whatsapp_id = $2 \
                 AND whatsapp_id <> '' ORDER BY direction DESC LIMIT 1"
            )))
            .bind(session)
            .bind(whatsapp_id),
        };
        let Some(before) = find
            .fetch_optional(&mut *tx)
            .await?
            .as_ref()
            .map(record_from_row)
            .transpose()?
        else {
            return Ok(None);
        };
        let Some(rewrite) = change(&before) else {
            return Ok(None);
        };
        sqlx::query(
            "UPDATE messages SET body = $1, payload = $2, \
             media_ref = CASE WHEN $3 = 1 THEN '' ELSE media_ref END, \
             edit_time = COALESCE($4, edit_time), delete_time = COALESCE(delete_time, $5), \
             update_time = $6 WHERE id = $7",
        )
        .bind(&rewrite.body)
        .bind(rewrite.payload.as_ref().map(|p| p.encode_to_vec()))
        .bind(i64::from(rewrite.clear_media))
        .bind(rewrite.edit_time)
        .bind(rewrite.delete_time)
        .bind(now_ms())
        .bind(before.id)
        .execute(&mut *tx)
        .await?;
        self.append_in(&mut tx, &rewrite.events).await?;
        tx.commit().await?;
        Ok(Some(before))
    }
}
