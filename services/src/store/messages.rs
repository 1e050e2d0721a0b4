//! SQL for messages: the outbound queue (accepted in group-committed batches),
//! status changes from the worker and from receipts, inbound messages, history
//! queries.

use std::collections::{HashMap, VecDeque};

use prost::Message as _;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AssertSqlSafe, Row};
use wagate_proto::v1 as pb;

use super::query::{bind_values, where_clause};
use super::{Store, now_ms};
use crate::error::Result;
use crate::message::model::{Direction, Failure, MessageRecord, Status};
use crate::session::model::SessionId;

pub(super) const COLUMNS: &str = "id, session_id, direction, chat, sender, sender_pn, sender_lid, push_name, \
    whatsapp_id, kind, body, payload, media_ref, status, error_code, error_message, error_reason, \
    attempt_count, next_attempt_at, create_time, send_time, deliver_time, read_time, play_time, \
    edit_time, delete_time, update_time";

pub(super) const QUEUED: i64 = Status::Queued as i64;
const IN_PROGRESS: i64 = Status::InProgress as i64;
/// Repeats the predicate of the partial index `messages_whatsapp`: a lookup by
/// WhatsApp id uses that index only when its WHERE states it literally.
const HAS_WHATSAPP_ID: &str = "whatsapp_id <> ''";
const SENT: i64 = Status::Sent as i64;
const PLAYED: i64 = Status::Played as i64;
const FAILED: i64 = Status::Failed as i64;
const CANCELLED: i64 = Status::Cancelled as i64;
const RECEIVED: i64 = Status::Received as i64;
const READ: i64 = Status::Read as i64;
pub(super) const OUTBOUND: i64 = Direction::Outbound as i64;
const INBOUND: i64 = Direction::Inbound as i64;

pub(super) fn record_from_row(row: &AnyRow) -> Result<MessageRecord, sqlx::Error> {
    let payload: Option<Vec<u8>> = row.try_get("payload")?;
    let error_code: i64 = row.try_get("error_code")?;
    let direction: i64 = row.try_get("direction")?;
    let status: i64 = row.try_get("status")?;
    Ok(MessageRecord {
        id: row.try_get("id")?,
        session_id: row.try_get("session_id")?,
        direction: Direction::try_from(direction as i32).unwrap_or(Direction::Unspecified),
        chat: row.try_get("chat")?,
        sender: row.try_get("sender")?,
        sender_pn: row.try_get("sender_pn")?,
        sender_lid: row.try_get("sender_lid")?,
        push_name: row.try_get("push_name")?,
        whatsapp_id: row.try_get("whatsapp_id")?,
        kind: row.try_get("kind")?,
        body: row.try_get("body")?,
        payload: payload.and_then(|bytes| pb::Message::decode(bytes.as_slice()).ok()),
        media_ref: row.try_get("media_ref")?,
        status: Status::try_from(status as i32).unwrap_or(Status::Unspecified),
        error: (error_code != 0)
            .then(|| -> Result<Failure, sqlx::Error> {
                Ok(Failure {
                    code: error_code as i32,
                    message: row.try_get("error_message")?,
                    reason: row.try_get("error_reason")?,
                })
            })
            .transpose()?,
        attempt_count: row.try_get("attempt_count")?,
        next_attempt_at: row.try_get("next_attempt_at")?,
        create_time: row.try_get("create_time")?,
        send_time: row.try_get("send_time")?,
        deliver_time: row.try_get("deliver_time")?,
        read_time: row.try_get("read_time")?,
        play_time: row.try_get("play_time")?,
        edit_time: row.try_get("edit_time")?,
        delete_time: row.try_get("delete_time")?,
        update_time: row.try_get("update_time")?,
    })
}

/// An outbound message to queue.
#[derive(Clone, Debug)]
pub struct NewOutbound {
    pub session_id: SessionId,
    pub chat: String,
    pub chat_type: i64,
    pub kind: String,
    pub body: String,
    pub payload: pb::Message,
    pub request_id: Option<String>,
    pub request_hash: Option<String>,
}

/// What queuing one message did.
#[derive(Clone, Debug)]
pub enum Queued {
    New(MessageRecord),
    /// The request id was used before: the message queued then, and whether
    /// the earlier request was the same.
    Repeated {
        existing: MessageRecord,
        same_request: bool,
    },
    /// Not queued: the session does not exist or has no linked account.
    NoSender,
}

/// One comparison of a ListMessages filter, as SQL with its bound values.
#[derive(Clone, Debug)]
pub enum FilterValue {
    Int(i64),
    Text(String),
}

/// A ListMessages query: SQL conditions over `messages` with `?` marking
/// each value, in order.
#[derive(Clone, Debug, Default)]
pub struct MessageQuery {
    pub conditions: Vec<String>,
    pub values: Vec<FilterValue>,
    pub oldest_first: bool,
}

/// Inserts a batch with one PostgreSQL statement. Returns, per input row,
/// the record when it was inserted. (SQLite's accept path inserts row by row
/// on its own connection: see `accept`.)
async fn insert_outbound_rows(
    conn: &mut AnyConnection,
    batch: &[&NewOutbound],
    now: i64,
) -> Result<Vec<Option<MessageRecord>>> {
    // The VALUES columns after `ord`, with their types.
    const COLUMNS_IN: [(&str, &str); 8] = [
        ("session_id", "bigint"),
        ("chat", "text"),
        ("chat_type", "bigint"),
        ("kind", "text"),
        ("body", "text"),
        ("payload", "bytea"),
        ("request_id", "text"),
        ("request_hash", "text"),
    ];
    let mut values = String::new();
    for row in 0..batch.len() {
        let first = 2 + row * COLUMNS_IN.len();
        let placeholders: Vec<String> = COLUMNS_IN
            .iter()
            .enumerate()
            .map(|(i, (_, cast))| format!("${}::{cast}", first + i))
            .collect();
        if row > 0 {
            values.push_str(", ");
        }
        values.push_str(&format!("({row}, {})", placeholders.join(", ")));
    }
    let columns = COLUMNS_IN.map(|(name, _)| name).join(", ");
    // Ids follow `ord`, so within a session the inserted rows keep the batch's order.
    let sql = format!(
        "INSERT INTO messages (session_id, direction, chat, chat_type, sender, kind, body, payload, \
         status, request_id, request_hash, create_time, update_time) \
         SELECT s.id, {OUTBOUND}, v.chat, v.chat_type, s.user_jid, v.kind, v.body, v.payload, {QUEUED}, \
         v.request_id, v.request_hash, $1, $1 \
         FROM (VALUES {values}) AS v(ord, {columns}) \
         JOIN sessions s ON s.id = v.session_id AND s.user_jid <> '' ORDER BY v.ord \
         ON CONFLICT (session_id, request_id) WHERE request_id IS NOT NULL DO NOTHING \
         RETURNING id, session_id, sender, request_id"
    );
    let mut query = sqlx::query(AssertSqlSafe(sql)).bind(now);
    for message in batch {
        query = query
            .bind(message.session_id)
            .bind(&message.chat)
            .bind(message.chat_type)
            .bind(&message.kind)
            .bind(&message.body)
            .bind(message.payload.encode_to_vec())
            .bind(message.request_id.as_deref())
            .bind(message.request_hash.as_deref());
    }
    let mut rows = query.fetch_all(&mut *conn).await?;
    rows.sort_by_key(|row| row.try_get::<i64, _>("id").unwrap_or_default());
    // Match rows back: by request id when there is one, else in id order per
    // session. Only the id and sender come back (decoding whole rows costs
    // more than the insert); the rest is the input, as the row holds it.
    let mut by_request = HashMap::new();
    let mut anonymous: HashMap<SessionId, VecDeque<(i64, String)>> = HashMap::new();
    for row in &rows {
        let inserted = (row.try_get::<i64, _>("id")?, row.try_get("sender")?);
        let session: SessionId = row.try_get("session_id")?;
        match row.try_get::<Option<String>, _>("request_id")? {
            Some(request_id) => {
                by_request.insert((session, request_id), inserted);
            }
            None => anonymous.entry(session).or_default().push_back(inserted),
        }
    }
    Ok(batch
        .iter()
        .map(|message| {
            let inserted = match &message.request_id {
                Some(request_id) => by_request.remove(&(message.session_id, request_id.clone())),
                None => anonymous
                    .get_mut(&message.session_id)
                    .and_then(|rows| rows.pop_front()),
            };
            inserted.map(|(id, sender)| message.queued_record(id, sender, now))
        })
        .collect())
}

/// Queues a batch on a PostgreSQL `conn` with one statement, which commits
/// on its own (one round trip). Rows left out answer `NoSender`: a repeated
/// request id or a session without a linked account, which the caller tells
/// apart.
pub(super) async fn queue_postgres(
    conn: &mut AnyConnection,
    batch: &[&NewOutbound],
) -> Result<Vec<Queued>> {
    let inserted = insert_outbound_rows(conn, batch, now_ms()).await?;
    Ok(inserted
        .into_iter()
        .map(|row| row.map_or(Queued::NoSender, Queued::New))
        .collect())
}

impl NewOutbound {
    /// The row just inserted for this message, as stored.
    pub(super) fn queued_record(&self, id: i64, sender: String, now: i64) -> MessageRecord {
        MessageRecord {
            id,
            session_id: self.session_id,
            direction: Direction::Outbound,
            chat: self.chat.clone(),
            sender,
            kind: self.kind.clone(),
            body: self.body.clone(),
            payload: Some(self.payload.clone()),
            status: Status::Queued,
            create_time: now,
            update_time: now,
            // Columns the insert leaves at their defaults.
            ..MessageRecord::default()
        }
    }
}

impl Store {
    /// The message queued earlier with this request id, and that request's hash.
    pub(super) async fn find_requested(
        &self,
        session: SessionId,
        request_id: &str,
    ) -> Result<Option<(MessageRecord, Option<String>)>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS}, request_hash FROM messages WHERE session_id = $1 AND request_id = $2"
        )))
        .bind(session)
        .bind(request_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row
            .map(|row| -> Result<_, sqlx::Error> {
                Ok((record_from_row(&row)?, row.try_get("request_hash")?))
            })
            .transpose()?)
    }

    pub async fn get_message(&self, session: SessionId, id: i64) -> Result<Option<MessageRecord>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM messages WHERE session_id = $1 AND id = $2"
        )))
        .bind(session)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(record_from_row).transpose()?)
    }

    /// The message with this WhatsApp id in the session (outbound first).
    pub async fn find_message(
        &self,
        session: SessionId,
        whatsapp_id: &str,
    ) -> Result<Option<MessageRecord>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM messages WHERE session_id = $1 AND whatsapp_id = $2 \
             AND {HAS_WHATSAPP_ID} ORDER BY direction DESC LIMIT 1"
        )))
        .bind(session)
        .bind(whatsapp_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(record_from_row).transpose()?)
    }

    /// A page of messages matching `query` after the key `after` (an id), and the total.
    pub async fn list_messages(
        &self,
        session: SessionId,
        query: &MessageQuery,
        after: Option<i64>,
        limit: i64,
    ) -> Result<(Vec<MessageRecord>, i64)> {
        let mut conditions = vec!["session_id = ?".to_owned()];
        conditions.extend(query.conditions.iter().cloned());
        let mut values = vec![FilterValue::Int(session)];
        values.extend(query.values.iter().cloned());
        let total: i64 = bind_values(
            format!(
                "SELECT COUNT(*) AS n FROM messages {}",
                where_clause(&conditions)
            ),
            &values,
        )
        .fetch_one(&self.pool)
        .await?
        .try_get("n")?;

        let (cmp, order) = if query.oldest_first {
            (">", "ASC")
        } else {
            ("<", "DESC")
        };
        if let Some(after) = after {
            conditions.push(format!("id {cmp} ?"));
            values.push(FilterValue::Int(after));
        }
        let page = bind_values(
            format!(
                "SELECT {COLUMNS} FROM messages {} ORDER BY id {order} LIMIT ?",
                where_clause(&conditions)
            ),
            &values,
        );
        let rows = page.bind(limit).fetch_all(&self.pool).await?;
        let records = rows
            .iter()
            .map(record_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        Ok((records, total))
    }

    /// The oldest unsettled outbound message of the session: the queue's head.
    pub async fn queue_head(&self, session: SessionId) -> Result<Option<MessageRecord>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            // Statuses as literals: only then can the planner use the partial
            // index `messages_queue` instead of scanning the session's history.
            "SELECT {COLUMNS} FROM messages WHERE session_id = $1 AND status IN ({QUEUED}, {IN_PROGRESS}) \
             ORDER BY id LIMIT 1"
        )))
        .bind(session)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(record_from_row).transpose()?)
    }

    /// Takes the message for an attempt: IN_PROGRESS with its WhatsApp id,
    /// stored before anything goes on the wire. False when it was settled meanwhile.
    pub async fn claim_message(&self, id: i64, whatsapp_id: &str) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE messages SET status = $1, whatsapp_id = $2, attempt_count = attempt_count + 1, \
             update_time = $3 WHERE id = $4 AND status IN ($5, $1)",
        )
        .bind(IN_PROGRESS)
        .bind(whatsapp_id)
        .bind(now_ms())
        .bind(id)
        .bind(QUEUED)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// WhatsApp acknowledged the message; its content is dropped when not
    /// logged. `events` (message.sent and its companions) commit with it.
    pub async fn mark_sent(
        &self,
        id: i64,
        send_time: i64,
        keep_content: bool,
        events: &[super::NewEvent],
    ) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        sqlx::query(
            "UPDATE messages SET status = CASE WHEN status < $1 THEN $1 ELSE status END, \
             send_time = COALESCE(send_time, $2), error_code = 0, error_message = '', error_reason = '', \
             payload = CASE WHEN $3 = 1 THEN payload ELSE NULL END, \
             body = CASE WHEN $3 = 1 THEN body ELSE '' END, update_time = $4 \
             WHERE id = $5 AND status BETWEEN $6 AND $7",
        )
        .bind(SENT)
        .bind(send_time)
        .bind(i64::from(keep_content))
        .bind(now_ms())
        .bind(id)
        .bind(QUEUED)
        .bind(PLAYED)
        .execute(&mut *tx)
        .await?;
        self.append_in(&mut tx, events).await?;
        tx.commit().await?;
        Ok(())
    }

    /// A transient failure: back in the queue until `next_attempt_at`.
    pub async fn mark_retry(&self, id: i64, failure: &Failure, next_attempt_at: i64) -> Result<()> {
        sqlx::query(
            "UPDATE messages SET status = $1, error_code = $2, error_message = $3, error_reason = $4, \
             next_attempt_at = $5, update_time = $6 WHERE id = $7 AND status IN ($1, $8)",
        )
        .bind(QUEUED)
        .bind(i64::from(failure.code))
        .bind(&failure.message)
        .bind(&failure.reason)
        .bind(next_attempt_at)
        .bind(now_ms())
        .bind(id)
        .bind(IN_PROGRESS)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// The message failed for good; `events` commit with it.
    pub async fn mark_failed(
        &self,
        id: i64,
        failure: &Failure,
        keep_content: bool,
        events: &[super::NewEvent],
    ) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        sqlx::query(
            "UPDATE messages SET status = $1, error_code = $2, error_message = $3, error_reason = $4, \
             payload = CASE WHEN $5 = 1 THEN payload ELSE NULL END, \
             body = CASE WHEN $5 = 1 THEN body ELSE '' END, update_time = $6 \
             WHERE id = $7 AND status IN ($8, $9)",
        )
        .bind(FAILED)
        .bind(i64::from(failure.code))
        .bind(&failure.message)
        .bind(&failure.reason)
        .bind(i64::from(keep_content))
        .bind(now_ms())
        .bind(id)
        .bind(QUEUED)
        .bind(IN_PROGRESS)
        .execute(&mut *tx)
        .await?;
        self.append_in(&mut tx, events).await?;
        tx.commit().await?;
        Ok(())
    }

    /// QUEUED → CANCELLED; false when the message was not QUEUED.
    pub async fn cancel_message(&self, session: SessionId, id: i64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE messages SET status = $1, update_time = $2 WHERE session_id = $3 AND id = $4 AND status = $5",
        )
        .bind(CANCELLED)
        .bind(now_ms())
        .bind(session)
        .bind(id)
        .bind(QUEUED)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// FAILED (with content) → QUEUED; false otherwise.
    pub async fn requeue_message(&self, session: SessionId, id: i64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE messages SET status = $1, error_code = 0, error_message = '', error_reason = '', \
             next_attempt_at = 0, update_time = $2 \
             WHERE session_id = $3 AND id = $4 AND status = $5 AND payload IS NOT NULL",
        )
        .bind(QUEUED)
        .bind(now_ms())
        .bind(session)
        .bind(id)
        .bind(FAILED)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Applies a receipt to the session's outbound messages with these
    /// WhatsApp ids (a status only moves forward) and, in the same
    /// transaction, the events `events` drafts from each message's status
    /// before and its record after.
    pub async fn apply_receipt_with_events(
        &self,
        session: SessionId,
        whatsapp_ids: &[String],
        status: Status,
        time: i64,
        events: impl FnOnce(&[(Status, MessageRecord)]) -> Vec<super::NewEvent>,
    ) -> Result<()> {
        let column = match status {
            Status::Delivered => "deliver_time",
            Status::Read => "read_time",
            Status::Played => "play_time",
            _ => return Ok(()),
        };
        let find = format!(
            "SELECT {COLUMNS} FROM messages WHERE session_id = $1 AND whatsapp_id = $2 \
             AND {HAS_WHATSAPP_ID} ORDER BY direction DESC LIMIT 1"
        );
        let mut tx = self.writer.begin().await?;
        let mut changes = Vec::new();
        for id in whatsapp_ids {
            let before = sqlx::query(AssertSqlSafe(find.clone()))
                .bind(session)
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?
                .as_ref()
                .map(record_from_row)
                .transpose()?;
            let Some(before) = before else { continue };
            sqlx::query(AssertSqlSafe(format!(
                "UPDATE messages SET status = CASE WHEN status < $1 THEN $1 ELSE status END, \
                 {column} = COALESCE({column}, $2), send_time = COALESCE(send_time, $2), update_time = $3 \
                 WHERE session_id = $4 AND whatsapp_id = $5 AND {HAS_WHATSAPP_ID} AND direction = $6 \
                 AND status BETWEEN $7 AND $8"
            )))
            .bind(status as i64)
            .bind(time)
            .bind(now_ms())
            .bind(session)
            .bind(id)
            .bind(OUTBOUND)
            // A QUEUED message with this id was attempted: a receipt proves it went out.
            .bind(QUEUED)
            .bind(PLAYED)
            .execute(&mut *tx)
            .await?;
            let after = sqlx::query(AssertSqlSafe(find.clone()))
                .bind(session)
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?
                .as_ref()
                .map(record_from_row)
                .transpose()?;
            if let Some(after) = after {
                changes.push((before.status, after));
            }
        }
        self.append_in(&mut tx, &events(&changes)).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records a received message; `None` when it was recorded before.
    /// Stores a received message and, in the same transaction, the events
    /// `events` drafts for it (given its id): a crash never keeps one without
    /// the other. `None` when the message was already stored.
    /// The message also counts in its chat; `events` sees the chat after it.
    pub async fn insert_inbound_with_events(
        &self,
        record: &MessageRecord,
        events: impl FnOnce(i64, &super::ChatState) -> Vec<super::NewEvent>,
    ) -> Result<Option<i64>> {
        let mut tx = self.writer.begin().await?;
        let Some(id) = insert_inbound(&mut tx, record).await? else {
            return Ok(None);
        };
        let from_me = record.direction == crate::message::model::Direction::Outbound;
        // A personal chat is named after the other person; groups by their subject elsewhere.
        let name = if from_me || record.chat.ends_with("@g.us") {
            ""
        } else {
            record.push_name.as_str()
        };
        let time = record.send_time.unwrap_or(record.create_time);
        let chat = super::chats::touch_chat(
            &mut tx,
            record.session_id,
            &record.chat,
            name,
            from_me,
            time,
        )
        .await?;
        self.append_in(&mut tx, &events(id, &chat)).await?;
        tx.commit().await?;
        Ok(Some(id))
    }

    pub async fn insert_inbound(&self, record: &MessageRecord) -> Result<Option<i64>> {
        let mut tx = self.writer.begin().await?;
        let id = insert_inbound(&mut tx, record).await?;
        tx.commit().await?;
        Ok(id)
    }
}

async fn insert_inbound(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    record: &MessageRecord,
) -> Result<Option<i64>> {
    {
        let row = sqlx::query(
            "INSERT INTO messages (session_id, direction, chat, chat_type, sender, sender_pn, sender_lid, \
             push_name, whatsapp_id, kind, body, payload, media_ref, status, create_time, send_time, update_time) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $15) \
             ON CONFLICT DO NOTHING RETURNING id",
        )
        .bind(record.session_id)
        .bind(record.direction as i64)
        .bind(&record.chat)
        .bind(crate::message::model::chat_type(&record.chat) as i64)
        .bind(&record.sender)
        .bind(&record.sender_pn)
        .bind(&record.sender_lid)
        .bind(&record.push_name)
        .bind(&record.whatsapp_id)
        .bind(&record.kind)
        .bind(&record.body)
        .bind(record.payload.as_ref().map(|p| p.encode_to_vec()))
        .bind(&record.media_ref)
        .bind(record.status as i64)
        .bind(record.create_time)
        .bind(record.send_time)
        .fetch_optional(&mut **tx)
        .await?;
        Ok(row.map(|r| r.try_get("id")).transpose()?)
    }
}

impl Store {
    /// Inbound messages marked read by this session.
    pub async fn mark_inbound_read(
        &self,
        session: SessionId,
        whatsapp_ids: &[String],
    ) -> Result<u64> {
        let mut changed = 0;
        let now = now_ms();
        for id in whatsapp_ids {
            let done = sqlx::query(AssertSqlSafe(format!(
                "UPDATE messages SET status = $1, read_time = COALESCE(read_time, $2), update_time = $2 \
                 WHERE session_id = $3 AND whatsapp_id = $4 AND {HAS_WHATSAPP_ID} AND direction = $5 \
                 AND status = $6"
            )))
            .bind(READ)
            .bind(now)
            .bind(session)
            .bind(id)
            .bind(INBOUND)
            .bind(RECEIVED)
            .execute(&self.writer)
            .await?;
            changed += done.rows_affected();
        }
        Ok(changed)
    }

    /// Outbound messages accepted for the session since `since` (quotas).
    pub async fn count_outbound_since(&self, session: SessionId, since: i64) -> Result<i64> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM messages WHERE session_id = $1 AND direction = $2 AND create_time >= $3",
        )
        .bind(session)
        .bind(OUTBOUND)
        .bind(since)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get("n")?)
    }

    /// Ids of sessions with unsettled outbound messages.
    pub async fn sessions_with_queue(&self) -> Result<Vec<SessionId>> {
        // Literal statuses, for the partial index `messages_queue`.
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT DISTINCT session_id FROM messages WHERE status IN ({QUEUED}, {IN_PROGRESS})"
        )))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| r.try_get("session_id"))
            .collect::<Result<_, _>>()?)
    }
}
