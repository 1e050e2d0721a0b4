//! SQL for the credentials an engine keeps per session (the sim engine's device
//! credentials; the whatsapp engine keeps its own store).

use super::{Store, now_ms};
use crate::error::Result;
use crate::session::model::SessionId;

impl Store {
    pub async fn engine_credentials(
        &self,
        session: SessionId,
        engine: &str,
    ) -> Result<Option<String>> {
        Ok(sqlx::query_scalar(
            "SELECT data FROM engine_credentials WHERE session_id = $1 AND engine = $2",
        )
        .bind(session)
        .bind(engine)
        .fetch_optional(&self.pool)
        .await?)
    }

    pub async fn put_engine_credentials(
        &self,
        session: SessionId,
        engine: &str,
        data: &str,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO engine_credentials (session_id, engine, data, update_time) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (session_id, engine) DO UPDATE SET data = excluded.data, update_time = excluded.update_time",
        )
        .bind(session)
        .bind(engine)
        .bind(data)
        .bind(now_ms())
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    pub async fn delete_engine_credentials(&self, session: SessionId, engine: &str) -> Result<()> {
        sqlx::query("DELETE FROM engine_credentials WHERE session_id = $1 AND engine = $2")
            .bind(session)
            .bind(engine)
            .execute(&self.writer)
            .await?;
        Ok(())
    }
}
