//! SQL for sessions, their lifecycle log, API keys and admin tokens.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Store, flag, now_ms};
use crate::error::{Error, Result};
use crate::session::model::{
    LinkedUser, LogEntry, LogType, Page, QrCode, Session, SessionId, Settings, Status,
    WebhookFormat,
};

const SESSION_COLUMNS: &str = "id, display_name, phone_number, status, status_reason, status_time, \
    account_protection, log_messages, webhook_url, webhook_enabled, webhook_events, read_incoming_messages, \
    auto_reject_calls, ignore_groups, ignore_channels, ignore_broadcasts, proxy_url, always_online, \
    webhook_secret, user_jid, user_lid, user_push_name, user_phone_number, qr_code, qr_expire_time, \
    auto_connect, create_time, update_time, webhook_format, labels";

fn labels_json(settings: &Settings) -> String {
    serde_json::to_string(&settings.labels).unwrap_or_else(|_| "{}".into())
}

fn session_from_row(row: &AnyRow) -> Result<Session, sqlx::Error> {
    let get_flag = |name: &str| row.try_get::<i64, _>(name).map(|v| v != 0);
    let status_text: String = row.try_get("status")?;
    let events_json: String = row.try_get("webhook_events")?;
    let labels_json: String = row.try_get("labels")?;
    let webhook_format: String = row.try_get("webhook_format")?;
    let user_jid: String = row.try_get("user_jid")?;
    let qr_code: String = row.try_get("qr_code")?;
    Ok(Session {
        id: row.try_get("id")?,
        settings: Settings {
            display_name: row.try_get("display_name")?,
            phone_number: row.try_get("phone_number")?,
            account_protection: get_flag("account_protection")?,
            log_messages: get_flag("log_messages")?,
            webhook_url: row.try_get("webhook_url")?,
            webhook_enabled: get_flag("webhook_enabled")?,
            webhook_events: serde_json::from_str(&events_json).unwrap_or_default(),
            read_incoming_messages: get_flag("read_incoming_messages")?,
            auto_reject_calls: get_flag("auto_reject_calls")?,
            ignore_groups: get_flag("ignore_groups")?,
            ignore_channels: get_flag("ignore_channels")?,
            ignore_broadcasts: get_flag("ignore_broadcasts")?,
            proxy_url: row.try_get("proxy_url")?,
            always_online: get_flag("always_online")?,
            webhook_format: WebhookFormat::parse(&webhook_format),
            labels: serde_json::from_str(&labels_json).unwrap_or_default(),
        },
        status: Status::parse(&status_text).unwrap_or(Status::Disconnected),
        status_reason: row.try_get("status_reason")?,
        status_time: row.try_get("status_time")?,
        webhook_secret: row.try_get("webhook_secret")?,
        user: (!user_jid.is_empty())
            .then(|| -> Result<LinkedUser, sqlx::Error> {
                Ok(LinkedUser {
                    jid: user_jid.clone(),
                    lid: row.try_get("user_lid")?,
                    push_name: row.try_get("user_push_name")?,
                    phone_number: row.try_get("user_phone_number")?,
                })
            })
            .transpose()?,
        qr: (!qr_code.is_empty())
            .then(|| -> Result<QrCode, sqlx::Error> {
                Ok(QrCode {
                    code: qr_code.clone(),
                    expire_time: row.try_get("qr_expire_time")?,
                })
            })
            .transpose()?,
        auto_connect: get_flag("auto_connect")?,
        create_time: row.try_get("create_time")?,
        update_time: row.try_get("update_time")?,
    })
}

fn log_from_row(row: &AnyRow) -> Result<LogEntry, sqlx::Error> {
    let kind: String = row.try_get("type")?;
    let status: String = row.try_get("status")?;
    Ok(LogEntry {
        id: row.try_get("id")?,
        session_id: row.try_get("session_id")?,
        kind: LogType::parse(&kind).unwrap_or(LogType::StatusChange),
        status: Status::parse(&status).unwrap_or(Status::Disconnected),
        message: row.try_get("message")?,
        occur_time: row.try_get("occur_time")?,
    })
}

/// A status change to record, with the log entry that explains it.
pub struct StatusChange<'a> {
    pub status: Status,
    pub reason: &'a str,
    pub log: LogType,
}

impl Store {
    pub async fn insert_session(
        &self,
        settings: &Settings,
        api_key_hash: &str,
        webhook_secret: &str,
    ) -> Result<Session> {
        let now = now_ms();
        let mut tx = self.writer.begin().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO sessions (display_name, phone_number, status, status_time, account_protection, \
             log_messages, webhook_url, webhook_enabled, webhook_events, read_incoming_messages, auto_reject_calls, \
             ignore_groups, ignore_channels, ignore_broadcasts, proxy_url, always_online, api_key_hash, \
             webhook_secret, webhook_format, labels, create_time, update_time) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $4, $4) \
             RETURNING id",
        )
        .bind(&settings.display_name)
        .bind(&settings.phone_number)
        .bind(Status::Disconnected.as_str())
        .bind(now)
        .bind(flag(settings.account_protection))
        .bind(flag(settings.log_messages))
        .bind(&settings.webhook_url)
        .bind(flag(settings.webhook_enabled))
        .bind(serde_json::to_string(&settings.webhook_events).unwrap_or_else(|_| "[]".into()))
        .bind(flag(settings.read_incoming_messages))
        .bind(flag(settings.auto_reject_calls))
        .bind(flag(settings.ignore_groups))
        .bind(flag(settings.ignore_channels))
        .bind(flag(settings.ignore_broadcasts))
        .bind(&settings.proxy_url)
        .bind(flag(settings.always_online))
        .bind(api_key_hash)
        .bind(webhook_secret)
        .bind(settings.webhook_format.as_str())
        .bind(labels_json(settings))
        .fetch_one(&mut *tx)
        .await?;
        insert_log(
            &mut tx,
            id,
            LogType::StatusChange,
            Status::Disconnected,
            "session created",
            now,
        )
        .await?;
        tx.commit().await?;
        self.get_session(id)
            .await?
            .ok_or_else(|| Error::internal("created session vanished"))
    }

    pub async fn get_session(&self, id: SessionId) -> Result<Option<Session>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {SESSION_COLUMNS} FROM sessions WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(session_from_row).transpose()?)
    }

    /// Sessions with ids greater than `after`, in id order.
    pub async fn list_sessions(&self, after: i64, limit: i64) -> Result<Page<Session>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {SESSION_COLUMNS} FROM sessions WHERE id > $1 ORDER BY id LIMIT $2"
        )))
        .bind(after)
        .bind(limit + 1)
        .fetch_all(&self.pool)
        .await?;
        let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sessions")
            .fetch_one(&self.pool)
            .await?;
        let mut items = rows
            .iter()
            .map(session_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        let next = if items.len() as i64 > limit {
            items.truncate(limit as usize);
            items.last().map(|s| s.id)
        } else {
            None
        };
        Ok(Page { items, next, total })
    }

    /// Ids of the sessions to reconnect when the server starts.
    pub async fn sessions_to_resume(&self) -> Result<Vec<SessionId>> {
        Ok(
            sqlx::query_scalar("SELECT id FROM sessions WHERE auto_connect = 1 ORDER BY id")
                .fetch_all(&self.pool)
                .await?,
        )
    }

    /// Sessions left in a live status by a server that stopped while they were
    /// not meant to reconnect: they are disconnected now.
    pub async fn mark_stale_sessions_disconnected(&self) -> Result<u64> {
        let stale: Vec<i64> = sqlx::query_scalar(
            "SELECT id FROM sessions WHERE auto_connect = 0 AND status IN ('connecting', 'connected', 'need_scan')",
        )
        .fetch_all(&self.writer)
        .await?;
        for id in &stale {
            self.record_status(
                *id,
                StatusChange {
                    status: Status::Disconnected,
                    reason: "server restarted",
                    log: LogType::StatusChange,
                },
            )
            .await?;
        }
        Ok(stale.len() as u64)
    }

    pub async fn update_settings(
        &self,
        id: SessionId,
        settings: &Settings,
    ) -> Result<Option<Session>> {
        let now = now_ms();
        let mut tx = self.writer.begin().await?;
        let changed = sqlx::query(
            "UPDATE sessions SET display_name = $1, phone_number = $2, account_protection = $3, log_messages = $4, \
             webhook_url = $5, webhook_enabled = $6, webhook_events = $7, read_incoming_messages = $8, \
             auto_reject_calls = $9, ignore_groups = $10, ignore_channels = $11, ignore_broadcasts = $12, \
             proxy_url = $13, always_online = $14, update_time = $15, webhook_format = $17, labels = $18 \
             WHERE id = $16",
        )
        .bind(&settings.display_name)
        .bind(&settings.phone_number)
        .bind(flag(settings.account_protection))
        .bind(flag(settings.log_messages))
        .bind(&settings.webhook_url)
        .bind(flag(settings.webhook_enabled))
        .bind(serde_json::to_string(&settings.webhook_events).unwrap_or_else(|_| "[]".into()))
        .bind(flag(settings.read_incoming_messages))
        .bind(flag(settings.auto_reject_calls))
        .bind(flag(settings.ignore_groups))
        .bind(flag(settings.ignore_channels))
        .bind(flag(settings.ignore_broadcasts))
        .bind(&settings.proxy_url)
        .bind(flag(settings.always_online))
        .bind(now)
        .bind(id)
        .bind(settings.webhook_format.as_str())
        .bind(labels_json(settings))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed == 0 {
            return Ok(None);
        }
        log_at_current_status(
            &mut tx,
            id,
            LogType::SettingsUpdated,
            "settings updated",
            now,
        )
        .await?;
        tx.commit().await?;
        self.get_session(id).await
    }

    /// Number of sessions per status.
    pub async fn count_sessions_by_status(&self) -> Result<Vec<(Status, i64)>> {
        let rows = sqlx::query("SELECT status, COUNT(*) AS n FROM sessions GROUP BY status")
            .fetch_all(&self.pool)
            .await?;
        let mut counts = Vec::new();
        for row in rows {
            let status: String = row.try_get("status")?;
            if let Some(status) = Status::parse(&status) {
                counts.push((status, row.try_get("n")?));
            }
        }
        Ok(counts)
    }

    pub async fn delete_session(&self, id: SessionId) -> Result<bool> {
        let done = sqlx::query("DELETE FROM sessions WHERE id = $1")
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Records a status change and its log entry in one transaction. Leaving a
    /// scan-waiting status clears the QR code.
    pub async fn record_status(&self, id: SessionId, change: StatusChange<'_>) -> Result<()> {
        self.record_status_with_events(id, change, &[]).await
    }

    /// [`Store::record_status`] with the events describing the change, in
    /// the same transaction: a crash keeps both or neither.
    pub async fn record_status_with_events(
        &self,
        id: SessionId,
        change: StatusChange<'_>,
        events: &[super::NewEvent],
    ) -> Result<()> {
        let now = now_ms();
        let mut tx = self.writer.begin().await?;
        let clear_qr = change.status != Status::NeedScan;
        sqlx::query(
            "UPDATE sessions SET status = $1, status_reason = $2, status_time = $3, update_time = $3, \
             qr_code = CASE WHEN $4 = 1 THEN '' ELSE qr_code END, \
             qr_expire_time = CASE WHEN $4 = 1 THEN 0 ELSE qr_expire_time END WHERE id = $5",
        )
        .bind(change.status.as_str())
        .bind(change.reason)
        .bind(now)
        .bind(flag(clear_qr))
        .bind(id)
        .execute(&mut *tx)
        .await?;
        insert_log(&mut tx, id, change.log, change.status, change.reason, now).await?;
        self.append_in(&mut tx, events).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Appends a log entry without changing the status.
    pub async fn append_log(
        &self,
        id: SessionId,
        kind: LogType,
        status: Status,
        message: &str,
    ) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        insert_log(&mut tx, id, kind, status, message, now_ms()).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Stores the QR code now shown and moves the session to need_scan.
    pub async fn set_qr(&self, id: SessionId, qr: &QrCode) -> Result<()> {
        let mut tx = self.begin().await?;
        tx.set_qr(id, qr).await?;
        tx.commit().await
    }

    pub async fn set_user(&self, id: SessionId, user: Option<&LinkedUser>) -> Result<()> {
        let empty = LinkedUser::default();
        let user = user.unwrap_or(&empty);
        sqlx::query(
            "UPDATE sessions SET user_jid = $1, user_lid = $2, user_push_name = $3, user_phone_number = $4, \
             update_time = $5 WHERE id = $6",
        )
        .bind(&user.jid)
        .bind(&user.lid)
        .bind(&user.push_name)
        .bind(&user.phone_number)
        .bind(now_ms())
        .bind(id)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    pub async fn set_auto_connect(&self, id: SessionId, auto_connect: bool) -> Result<()> {
        sqlx::query("UPDATE sessions SET auto_connect = $1 WHERE id = $2")
            .bind(flag(auto_connect))
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    pub async fn list_logs(
        &self,
        id: SessionId,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Page<LogEntry>> {
        let rows = sqlx::query(
            "SELECT id, session_id, type, status, message, occur_time FROM session_logs \
             WHERE session_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3",
        )
        .bind(id)
        .bind(before.unwrap_or(i64::MAX))
        .bind(limit + 1)
        .fetch_all(&self.pool)
        .await?;
        let total: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM session_logs WHERE session_id = $1")
                .bind(id)
                .fetch_one(&self.pool)
                .await?;
        let mut items = rows
            .iter()
            .map(log_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        let next = if items.len() as i64 > limit {
            items.truncate(limit as usize);
            items.last().map(|e| e.id)
        } else {
            None
        };
        Ok(Page { items, next, total })
    }

    // --- credentials of callers ---

    pub async fn session_id_by_api_key_hash(
        &self,
        hash: &str,
    ) -> Result<Option<(SessionId, String)>> {
        let row = sqlx::query("SELECT id, api_key_hash FROM sessions WHERE api_key_hash = $1")
            .bind(hash)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row
            .map(|r| Ok::<_, sqlx::Error>((r.try_get("id")?, r.try_get("api_key_hash")?)))
            .transpose()?)
    }

    pub async fn set_api_key_hash(&self, id: SessionId, hash: &str) -> Result<bool> {
        let now = now_ms();
        let mut tx = self.writer.begin().await?;
        let changed =
            sqlx::query("UPDATE sessions SET api_key_hash = $1, update_time = $2 WHERE id = $3")
                .bind(hash)
                .bind(now)
                .bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        if changed == 0 {
            return Ok(false);
        }
        log_at_current_status(
            &mut tx,
            id,
            LogType::ApiKeyRegenerated,
            "API key regenerated",
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    pub async fn admin_token_hashes(&self) -> Result<Vec<String>> {
        Ok(
            sqlx::query_scalar("SELECT token_hash FROM admin_tokens ORDER BY id")
                .fetch_all(&self.pool)
                .await?,
        )
    }

    pub async fn insert_admin_token_hash(&self, hash: &str) -> Result<()> {
        sqlx::query("INSERT INTO admin_tokens (token_hash, create_time) VALUES ($1, $2)")
            .bind(hash)
            .bind(now_ms())
            .execute(&self.writer)
            .await?;
        Ok(())
    }
}

/// Logs an entry with the session's current status, in one statement.
async fn log_at_current_status(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    id: SessionId,
    kind: LogType,
    message: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO session_logs (session_id, type, status, message, occur_time) \
         SELECT id, $2, status, $3, $4 FROM sessions WHERE id = $1",
    )
    .bind(id)
    .bind(kind.as_str())
    .bind(message)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn insert_log(
    tx: &mut sqlx::AnyConnection,
    id: SessionId,
    kind: LogType,
    status: Status,
    message: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO session_logs (session_id, type, status, message, occur_time) VALUES ($1, $2, $3, $4, $5)")
        .bind(id)
        .bind(kind.as_str())
        .bind(status.as_str())
        .bind(message)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// See [`Store::set_qr`]: the session waits for a scan of this code.
pub(super) async fn set_qr(tx: &mut sqlx::AnyConnection, id: SessionId, qr: &QrCode) -> Result<()> {
    let now = now_ms();
    sqlx::query(
        "UPDATE sessions SET status = $1, status_reason = $2, status_time = $3, update_time = $3, \
         qr_code = $4, qr_expire_time = $5 WHERE id = $6",
    )
    .bind(Status::NeedScan.as_str())
    .bind("waiting for a QR scan or pair code")
    .bind(now)
    .bind(&qr.code)
    .bind(qr.expire_time)
    .bind(id)
    .execute(&mut *tx)
    .await?;
    insert_log(
        tx,
        id,
        LogType::QrIssued,
        Status::NeedScan,
        "new QR code issued",
        now,
    )
    .await?;
    Ok(())
}
