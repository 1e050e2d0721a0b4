//! The event log: appends (serialized across replicas on PostgreSQL so the
//! cursor order is the commit order), reads after a cursor, history pages and
//! pruning.

use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use super::query::{bind_values, where_clause};
use super::{Backend, FilterValue, Store};
use crate::error::Result;
use crate::filter::Conditions;
use crate::session::model::SessionId;

/// Advisory lock held by every append transaction on PostgreSQL: sequence
/// values are taken and committed in one order, so a reader that has seen
/// cursor N has seen every committed cursor below N.
const PG_APPEND_LOCK: i64 = 0x7761_6761_7465_7601;

/// An event to append.
#[derive(Clone, Debug)]
pub struct NewEvent {
    pub session_id: SessionId,
    pub event_type: String,
    /// Encoded wagate.v1.Event.
    pub payload: Vec<u8>,
    /// Selected by the session's webhook settings.
    pub webhook: bool,
    pub create_time: i64,
}

/// A logged event.
#[derive(Clone, Debug, PartialEq)]
pub struct EventRow {
    pub cursor: i64,
    pub session_id: SessionId,
    pub event_type: String,
    pub payload: Vec<u8>,
    pub webhook: bool,
    pub create_time: i64,
    /// The API form, built once on first use and shared by every reader
    /// (a hundred subscribers would otherwise decode and render it a hundred times).
    pub rendered: RenderedEvent,
}

/// A cache beside the row; rows are equal whether or not it is filled.
#[derive(Clone, Debug, Default)]
pub struct RenderedEvent(pub std::sync::OnceLock<wagate_proto::v1::Event>);

impl PartialEq for RenderedEvent {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

const COLUMNS: &str = "cursor, session_id, type, payload, webhook, create_time";

fn event_from_row(row: &AnyRow) -> Result<EventRow, sqlx::Error> {
    Ok(EventRow {
        cursor: row.try_get("cursor")?,
        session_id: row.try_get("session_id")?,
        event_type: row.try_get("type")?,
        payload: row.try_get("payload")?,
        webhook: row.try_get::<i64, _>("webhook")? != 0,
        create_time: row.try_get("create_time")?,
        rendered: RenderedEvent::default(),
    })
}

/// Which events a read covers.
#[derive(Clone, Debug, Default)]
pub struct EventScope {
    /// Only these sessions; empty: all.
    pub sessions: Vec<SessionId>,
    /// Only these types; empty: all.
    pub types: Vec<String>,
}

impl EventScope {
    fn conditions(&self) -> Conditions {
        let mut out = Conditions::default();
        if !self.sessions.is_empty() {
            out.conditions.push(format!(
                "session_id IN ({})",
                vec!["?"; self.sessions.len()].join(", ")
            ));
            out.values
                .extend(self.sessions.iter().map(|s| FilterValue::Int(*s)));
        }
        if !self.types.is_empty() {
            out.conditions.push(format!(
                "type IN ({})",
                vec!["?"; self.types.len()].join(", ")
            ));
            out.values
                .extend(self.types.iter().cloned().map(FilterValue::Text));
        }
        out
    }
}

impl Store {
    /// Appends events in one transaction; returns their cursors, in order.
    pub async fn append_events(&self, batch: &[NewEvent]) -> Result<Vec<i64>> {
        let mut tx = self.writer.begin().await?;
        let cursors = self.append_in(&mut tx, batch).await?;
        tx.commit().await?;
        Ok(cursors)
    }

    /// Appends events inside the caller's transaction, so they commit with
    /// the change they describe. On PostgreSQL appends are serialized (an
    /// advisory lock held to commit) so cursors become visible in order.
    pub(super) async fn append_in(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        batch: &[NewEvent],
    ) -> Result<Vec<i64>> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(PG_APPEND_LOCK)
                .execute(&mut **tx)
                .await?;
        }
        let mut cursors = Vec::with_capacity(batch.len());
        for event in batch {
            let row = sqlx::query(
                "INSERT INTO events (session_id, type, payload, webhook, create_time) \
                 VALUES ($1, $2, $3, $4, $5) RETURNING cursor",
            )
            .bind(event.session_id)
            .bind(&event.event_type)
            .bind(&event.payload)
            .bind(i64::from(event.webhook))
            .bind(event.create_time)
            .fetch_one(&mut **tx)
            .await?;
            cursors.push(row.try_get("cursor")?);
        }
        Ok(cursors)
    }

    /// Appends `count` copies of one event in a single statement, as another
    /// replica's appends would arrive (benchmarks and load tests).
    pub async fn append_copies(&self, event: &NewEvent, count: i64) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        let sql = match self.backend {
            Backend::Postgres => {
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind(PG_APPEND_LOCK)
                    .execute(&mut *tx)
                    .await?;
                "INSERT INTO events (session_id, type, payload, webhook, create_time) \
                 SELECT $1, $2, $3, $4, $5 FROM generate_series(1, $6)"
            }
            Backend::Sqlite => {
                "INSERT INTO events (session_id, type, payload, webhook, create_time) \
                 WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $6) \
                 SELECT $1, $2, $3, $4, $5 FROM n"
            }
        };
        sqlx::query(sql)
            .bind(event.session_id)
            .bind(&event.event_type)
            .bind(&event.payload)
            .bind(i64::from(event.webhook))
            .bind(event.create_time)
            .bind(count)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Events after `after` in cursor order, at most `limit`.
    pub async fn events_after(
        &self,
        after: i64,
        scope: &EventScope,
        limit: i64,
    ) -> Result<Vec<EventRow>> {
        let mut conditions = scope.conditions();
        conditions.conditions.insert(0, "cursor > ?".into());
        conditions.values.insert(0, FilterValue::Int(after));
        let query = bind_values(
            format!(
                "SELECT {COLUMNS} FROM events WHERE {} ORDER BY cursor LIMIT ?",
                conditions.conditions.join(" AND ")
            ),
            &conditions.values,
        );
        let rows = query.bind(limit).fetch_all(&self.pool).await?;
        Ok(rows.iter().map(event_from_row).collect::<Result<_, _>>()?)
    }

    /// The newest cursor in the log (0 when empty).
    pub async fn event_head(&self) -> Result<i64> {
        let row = sqlx::query("SELECT COALESCE(MAX(cursor), 0) AS head FROM events")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("head")?)
    }

    /// The newest cursor pruning removed (0 when nothing was pruned).
    pub async fn events_pruned_through(&self) -> Result<i64> {
        let row = sqlx::query("SELECT pruned_through FROM event_log_state WHERE id = 1")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("pruned_through")?)
    }

    pub async fn get_event(&self, session: SessionId, cursor: i64) -> Result<Option<EventRow>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM events WHERE session_id = $1 AND cursor = $2"
        )))
        .bind(session)
        .bind(cursor)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(event_from_row).transpose()?)
    }

    /// A page of history: `filter` conditions, after the cursor `after` in the
    /// page's order; returns the page and the total matching.
    pub async fn list_events(
        &self,
        session: Option<SessionId>,
        filter: &Conditions,
        after: Option<i64>,
        newest_first: bool,
        limit: i64,
    ) -> Result<(Vec<EventRow>, i64)> {
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
                "SELECT COUNT(*) AS n FROM events {}",
                where_clause(&conditions.conditions)
            ),
            &conditions.values,
        )
        .fetch_one(&self.pool)
        .await?
        .try_get("n")?;
        let (cmp, order) = if newest_first {
            ("<", "DESC")
        } else {
            (">", "ASC")
        };
        if let Some(after) = after {
            conditions.conditions.push(format!("cursor {cmp} ?"));
            conditions.values.push(FilterValue::Int(after));
        }
        let rows = bind_values(
            format!(
                "SELECT {COLUMNS} FROM events {} ORDER BY cursor {order} LIMIT ?",
                where_clause(&conditions.conditions)
            ),
            &conditions.values,
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok((
            rows.iter().map(event_from_row).collect::<Result<_, _>>()?,
            total,
        ))
    }

    /// Deletes events created before `before` (Unix ms) and records the
    /// newest cursor removed. Returns how many were removed.
    pub async fn prune_events(&self, before: i64) -> Result<u64> {
        let mut tx = self.writer.begin().await?;
        let newest: Option<i64> =
            sqlx::query("SELECT MAX(cursor) AS newest FROM events WHERE create_time < $1")
                .bind(before)
                .fetch_one(&mut *tx)
                .await?
                .try_get("newest")?;
        let Some(newest) = newest else {
            return Ok(0);
        };
        let removed = sqlx::query("DELETE FROM events WHERE cursor <= $1")
            .bind(newest)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        sqlx::query(
            "UPDATE event_log_state SET pruned_through = $1 WHERE id = 1 AND pruned_through < $1",
        )
        .bind(newest)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(removed)
    }
}
