//! SQL for the session's chats (unread counts, last activity).

use sqlx::Row;

use super::now_ms;
use crate::error::Result;
use crate::session::model::SessionId;

/// A chat after a message or a read changed it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChatState {
    pub jid: String,
    pub display_name: String,
    pub unread_count: i64,
    /// Unix ms of the last message.
    pub conversation_time: i64,
    /// The chat was new.
    pub created: bool,
}

/// Records a message in its chat inside the caller's transaction: a
/// received message adds one unread, one the account sent (from another
/// device) clears them, as the phone does.
pub(super) async fn touch_chat(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    session: SessionId,
    jid: &str,
    display_name: &str,
    from_me: bool,
    time: i64,
) -> Result<ChatState> {
    let existing = sqlx::query(
        "SELECT display_name, unread_count, conversation_time FROM chats WHERE session_id = $1 AND jid = $2",
    )
    .bind(session)
    .bind(jid)
    .fetch_optional(&mut **tx)
    .await?;
    let (name, unread, last): (String, i64, i64) = match &existing {
        Some(row) => (
            row.try_get("display_name")?,
            row.try_get("unread_count")?,
            row.try_get("conversation_time")?,
        ),
        None => (String::new(), 0, 0),
    };
    let state = ChatState {
        jid: jid.to_owned(),
        display_name: if display_name.is_empty() {
            name
        } else {
            display_name.to_owned()
        },
        unread_count: if from_me { 0 } else { unread + 1 },
        conversation_time: last.max(time),
        created: existing.is_none(),
    };
    let now = now_ms();
    sqlx::query(
        "INSERT INTO chats (session_id, jid, display_name, unread_count, conversation_time, create_time, update_time) \
         VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (session_id, jid) DO UPDATE SET \
         display_name = excluded.display_name, unread_count = excluded.unread_count, \
         conversation_time = excluded.conversation_time, update_time = excluded.update_time",
    )
    .bind(session)
    .bind(jid)
    .bind(&state.display_name)
    .bind(state.unread_count)
    .bind(state.conversation_time)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(state)
}

/// Clears the unread count of chats the session read; returns the chats
/// that had unread messages.
pub(super) async fn clear_unread(
    tx: &mut sqlx::AnyConnection,
    session: SessionId,
    jids: &[String],
) -> Result<Vec<ChatState>> {
    let mut cleared = Vec::new();
    for jid in jids {
        let row = sqlx::query(
            "UPDATE chats SET unread_count = 0, update_time = $1 \
             WHERE session_id = $2 AND jid = $3 AND unread_count > 0 \
             RETURNING display_name, conversation_time",
        )
        .bind(now_ms())
        .bind(session)
        .bind(jid)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(row) = row {
            cleared.push(ChatState {
                jid: jid.clone(),
                display_name: row.try_get("display_name")?,
                unread_count: 0,
                conversation_time: row.try_get("conversation_time")?,
                created: false,
            });
        }
    }
    Ok(cleared)
}

/// Forgets a chat deleted on the account's phone.
pub(super) async fn delete_chat(
    conn: &mut sqlx::AnyConnection,
    session: SessionId,
    jid: &str,
) -> Result<()> {
    sqlx::query("DELETE FROM chats WHERE session_id = $1 AND jid = $2")
        .bind(session)
        .bind(jid)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
