//! Webhook deliveries: taking selected events from the log into deliveries
//! (in cursor order, per session), the head-of-line open delivery, attempts,
//! history pages.

use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use super::query::{bind_values, where_clause};
use super::{FilterValue, Store, now_ms};
use crate::error::Result;
use crate::filter::Conditions;
use crate::session::model::{SessionId, WebhookFormat};

/// wagate.v1.WebhookDeliveryState numbers.
pub const PENDING: i64 = 1;
pub const RETRYING: i64 = 2;
pub const SUCCEEDED: i64 = 3;
pub const FAILED: i64 = 4;

#[derive(Clone, Debug, PartialEq)]
pub struct DeliveryRow {
    pub id: i64,
    pub session_id: SessionId,
    pub cursor: i64,
    pub event_type: String,
    pub uri: String,
    pub state: i64,
    pub attempt_count: i64,
    pub next_attempt_at: i64,
    pub redelivery: bool,
    pub create_time: i64,
    pub complete_time: Option<i64>,
    pub attempts: Vec<AttemptRow>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct AttemptRow {
    pub attempt: i64,
    pub start_time: i64,
    pub duration_ms: i64,
    pub http_status_code: i64,
    pub error: String,
    pub response_body: String,
}

/// An attempt to record: on which delivery, to which URI, and its outcome.
#[derive(Clone, Debug)]
pub struct RecordedAttempt {
    pub delivery: i64,
    pub uri: String,
    pub attempt: AttemptRow,
    pub outcome: AttemptOutcome,
}

/// Where a delivery goes after an attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttemptOutcome {
    Succeeded,
    Retry { next_attempt_at: i64 },
    Failed,
}

const COLUMNS: &str = "id, session_id, cursor, event_type, uri, state, attempt_count, \
    next_attempt_at, redelivery, create_time, complete_time";

fn delivery_from_row(row: &AnyRow) -> Result<DeliveryRow, sqlx::Error> {
    Ok(DeliveryRow {
        id: row.try_get("id")?,
        session_id: row.try_get("session_id")?,
        cursor: row.try_get("cursor")?,
        event_type: row.try_get("event_type")?,
        uri: row.try_get("uri")?,
        state: row.try_get("state")?,
        attempt_count: row.try_get("attempt_count")?,
        next_attempt_at: row.try_get("next_attempt_at")?,
        redelivery: row.try_get::<i64, _>("redelivery")? != 0,
        create_time: row.try_get("create_time")?,
        complete_time: row.try_get("complete_time")?,
        attempts: Vec::new(),
    })
}

impl Store {
    /// Starts a session's webhook at `cursor` unless it was started before.
    /// Takes or renews, for `holder`, the webhook leases of `sessions` that
    /// are free, expired or already its own, until `expire_time`; returns
    /// the sessions `holder` holds now.
    pub async fn claim_webhook_leases(
        &self,
        holder: &str,
        sessions: &[SessionId],
        now: i64,
        expire_time: i64,
    ) -> Result<Vec<SessionId>> {
        for chunk in sessions.chunks(200) {
            let rows: Vec<String> = (0..chunk.len())
                .map(|i| format!("(${}, ${}, ${})", 3 * i + 1, 3 * i + 2, 3 * i + 3))
                .collect();
            let now_param = 3 * chunk.len() + 1;
            let sql = format!(
                "INSERT INTO webhook_leases (session_id, holder, expire_time) VALUES {} \
                 ON CONFLICT (session_id) DO UPDATE SET holder = excluded.holder, expire_time = excluded.expire_time \
                 WHERE webhook_leases.holder = excluded.holder OR webhook_leases.expire_time < ${now_param}",
                rows.join(", ")
            );
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for session in chunk {
                query = query.bind(*session).bind(holder).bind(expire_time);
            }
            query.bind(now).execute(&self.writer).await?;
        }
        Ok(sqlx::query_scalar(
            "SELECT session_id FROM webhook_leases WHERE holder = $1 AND expire_time >= $2",
        )
        .bind(holder)
        .bind(now)
        .fetch_all(&self.writer)
        .await?)
    }

    /// Gives up `holder`'s leases (at shutdown) so other replicas take over at once.
    pub async fn release_webhook_leases(&self, holder: &str) -> Result<()> {
        sqlx::query("DELETE FROM webhook_leases WHERE holder = $1")
            .bind(holder)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    pub async fn start_webhook_cursor(&self, session: SessionId, cursor: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO webhook_cursors (session_id, cursor) VALUES ($1, $2) \
             ON CONFLICT (session_id) DO NOTHING",
        )
        .bind(session)
        .bind(cursor)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// Turns the next selected events after the session's webhook cursor into
    /// PENDING deliveries to `uri` and moves the cursor past them, in one
    /// transaction. Returns how many were queued.
    pub async fn take_webhook_events(
        &self,
        session: SessionId,
        uri: &str,
        limit: i64,
    ) -> Result<usize> {
        let mut tx = self.writer.begin().await?;
        let cursor: i64 = sqlx::query("SELECT cursor FROM webhook_cursors WHERE session_id = $1")
            .bind(session)
            .fetch_optional(&mut *tx)
            .await?
            .map(|row| row.try_get("cursor"))
            .transpose()?
            .unwrap_or(0);
        // The batch's last cursor, then the whole batch in one statement.
        let batch = sqlx::query(
            "SELECT COUNT(*) AS n, MAX(cursor) AS last FROM (SELECT cursor FROM events \
             WHERE session_id = $1 AND webhook = 1 AND cursor > $2 ORDER BY cursor LIMIT $3) AS b",
        )
        .bind(session)
        .bind(cursor)
        .bind(limit)
        .fetch_one(&mut *tx)
        .await?;
        let (count, last): (i64, Option<i64>) = (batch.try_get("n")?, batch.try_get("last")?);
        let Some(last) = last else {
            return Ok(0);
        };
        sqlx::query(
            "INSERT INTO webhook_deliveries (session_id, cursor, event_type, uri, state, \
             next_attempt_at, create_time) SELECT session_id, cursor, type, $1, $2, $3, $3 FROM events \
             WHERE session_id = $4 AND webhook = 1 AND cursor > $5 AND cursor <= $6 ORDER BY cursor",
        )
        .bind(uri)
        .bind(PENDING)
        .bind(now_ms())
        .bind(session)
        .bind(cursor)
        .bind(last)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE webhook_cursors SET cursor = $1 WHERE session_id = $2")
            .bind(last)
            .bind(session)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(count as usize)
    }

    /// The oldest open (PENDING or RETRYING) delivery of a session.
    pub async fn next_open_delivery(&self, session: SessionId) -> Result<Option<DeliveryRow>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            // Literal states, for the partial index `webhook_deliveries_open`.
            "SELECT {COLUMNS} FROM webhook_deliveries WHERE session_id = $1 \
             AND state IN ({PENDING}, {RETRYING}) ORDER BY id LIMIT 1"
        )))
        .bind(session)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(delivery_from_row).transpose()?)
    }

    /// Records attempts and their deliveries' new states, in one transaction
    /// (dispatchers of many sessions share a commit).
    pub async fn record_webhook_attempts(&self, batch: &[RecordedAttempt]) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        let now = now_ms();
        for recorded in batch {
            let attempt = &recorded.attempt;
            sqlx::query(
                "INSERT INTO webhook_attempts (delivery_id, attempt, start_time, duration_ms, \
                 http_status_code, error, response_body) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(recorded.delivery)
            .bind(attempt.attempt)
            .bind(attempt.start_time)
            .bind(attempt.duration_ms)
            .bind(attempt.http_status_code)
            .bind(&attempt.error)
            .bind(&attempt.response_body)
            .execute(&mut *tx)
            .await?;
            let (state, next, complete) = match recorded.outcome {
                AttemptOutcome::Succeeded => (SUCCEEDED, 0, Some(now)),
                AttemptOutcome::Failed => (FAILED, 0, Some(now)),
                AttemptOutcome::Retry { next_attempt_at } => (RETRYING, next_attempt_at, None),
            };
            sqlx::query(
                "UPDATE webhook_deliveries SET state = $1, attempt_count = $2, next_attempt_at = $3, \
                 complete_time = $4, uri = $5 WHERE id = $6",
            )
            .bind(state)
            .bind(attempt.attempt)
            .bind(next)
            .bind(complete)
            .bind(&recorded.uri)
            .bind(recorded.delivery)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Ends every open delivery of a session (its webhook was disabled or
    /// removed).
    pub async fn fail_open_deliveries(&self, session: SessionId) -> Result<u64> {
        Ok(sqlx::query(AssertSqlSafe(format!(
            "UPDATE webhook_deliveries SET state = $1, complete_time = $2 \
             WHERE session_id = $3 AND state IN ({PENDING}, {RETRYING})"
        )))
        .bind(FAILED)
        .bind(now_ms())
        .bind(session)
        .execute(&self.writer)
        .await?
        .rows_affected())
    }

    /// A new PENDING delivery of a logged event (RedeliverEvent).
    pub async fn create_redelivery(
        &self,
        session: SessionId,
        cursor: i64,
        event_type: &str,
        uri: &str,
    ) -> Result<DeliveryRow> {
        let now = now_ms();
        let row = sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO webhook_deliveries (session_id, cursor, event_type, uri, state, \
             next_attempt_at, redelivery, create_time) VALUES ($1, $2, $3, $4, $5, $6, 1, $6) \
             RETURNING {COLUMNS}"
        )))
        .bind(session)
        .bind(cursor)
        .bind(event_type)
        .bind(uri)
        .bind(PENDING)
        .bind(now)
        .fetch_one(&self.writer)
        .await?;
        Ok(delivery_from_row(&row)?)
    }

    /// Sessions whose webhook is on, with their URL and secret.
    pub async fn webhook_sessions(
        &self,
    ) -> Result<Vec<(SessionId, String, String, WebhookFormat)>> {
        let rows = sqlx::query(
            "SELECT id, webhook_url, webhook_secret, webhook_format FROM sessions \
             WHERE webhook_enabled = 1 AND webhook_url <> ''",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let format: String = row.try_get("webhook_format")?;
                Ok((
                    row.try_get("id")?,
                    row.try_get("webhook_url")?,
                    row.try_get("webhook_secret")?,
                    WebhookFormat::parse(&format),
                ))
            })
            .collect()
    }

    /// A page of deliveries, newest first, with their attempts; and the total.
    pub async fn list_webhook_deliveries(
        &self,
        session: Option<SessionId>,
        filter: &Conditions,
        before: Option<i64>,
        limit: i64,
    ) -> Result<(Vec<DeliveryRow>, i64)> {
        let mut conditions = Conditions::default();
        if let Some(session) = session {
            conditions.conditions.push("session_id = ?".into());
            conditions.values.push(FilterValue::Int(session));
        }
        conditions
            .conditions
            .extend(filter.conditions.iter().cloned());
        conditions.values.extend(filter.values.iter().cloned());
        let total: i64 = bind_values(
            format!(
                "SELECT COUNT(*) AS n FROM webhook_deliveries {}",
                where_clause(&conditions.conditions)
            ),
            &conditions.values,
        )
        .fetch_one(&self.pool)
        .await?
        .try_get("n")?;
        if let Some(before) = before {
            conditions.conditions.push("id < ?".into());
            conditions.values.push(FilterValue::Int(before));
        }
        let rows = bind_values(
            format!(
                "SELECT {COLUMNS} FROM webhook_deliveries {} ORDER BY id DESC LIMIT ?",
                where_clause(&conditions.conditions)
            ),
            &conditions.values,
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let mut deliveries: Vec<DeliveryRow> = rows
            .iter()
            .map(delivery_from_row)
            .collect::<Result<_, _>>()?;
        for delivery in &mut deliveries {
            delivery.attempts = self.webhook_attempts(delivery.id).await?;
        }
        Ok((deliveries, total))
    }

    async fn webhook_attempts(&self, delivery: i64) -> Result<Vec<AttemptRow>> {
        let rows = sqlx::query(
            "SELECT attempt, start_time, duration_ms, http_status_code, error, response_body \
             FROM webhook_attempts WHERE delivery_id = $1 ORDER BY attempt",
        )
        .bind(delivery)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(AttemptRow {
                    attempt: row.try_get("attempt")?,
                    start_time: row.try_get("start_time")?,
                    duration_ms: row.try_get("duration_ms")?,
                    http_status_code: row.try_get("http_status_code")?,
                    error: row.try_get("error")?,
                    response_body: row.try_get("response_body")?,
                })
            })
            .collect()
    }
}
