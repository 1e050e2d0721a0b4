//! SQL for media files held for sending (uploads) or handed out (downloads).
//! Expired rows are invisible to every read and removed by
//! [`Store::delete_expired_media`].

use sqlx::Row;
use sqlx::any::AnyRow;

use super::Store;
use crate::error::Result;
use crate::media::MediaRecord;

const MEDIA_COLUMNS: &str = "id, session_id, token, mime_type, file_name, size_bytes, sha256, \
    message_id, create_time, expire_time";

/// A media file to store.
pub struct NewMedia<'a> {
    pub session_id: i64,
    pub token: &'a str,
    pub mime_type: &'a str,
    pub file_name: &'a str,
    pub sha256: &'a str,
    pub message_id: Option<i64>,
    pub content: &'a [u8],
    pub create_time: i64,
    pub expire_time: i64,
}

fn media_from_row(row: &AnyRow) -> Result<MediaRecord, sqlx::Error> {
    Ok(MediaRecord {
        id: row.try_get("id")?,
        session_id: row.try_get("session_id")?,
        token: row.try_get("token")?,
        mime_type: row.try_get("mime_type")?,
        file_name: row.try_get("file_name")?,
        size_bytes: row.try_get("size_bytes")?,
        sha256: row.try_get("sha256")?,
        message_id: row.try_get("message_id")?,
        create_time: row.try_get("create_time")?,
        expire_time: row.try_get("expire_time")?,
    })
}

impl Store {
    pub async fn insert_media(&self, media: &NewMedia<'_>) -> Result<MediaRecord> {
        let size_bytes = media.content.len() as i64;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO media (session_id, token, mime_type, file_name, size_bytes, sha256, \
             message_id, content, create_time, expire_time) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
        )
        .bind(media.session_id)
        .bind(media.token)
        .bind(media.mime_type)
        .bind(media.file_name)
        .bind(size_bytes)
        .bind(media.sha256)
        .bind(media.message_id)
        .bind(media.content)
        .bind(media.create_time)
        .bind(media.expire_time)
        .fetch_one(&self.writer)
        .await?;
        Ok(MediaRecord {
            id,
            session_id: media.session_id,
            token: media.token.to_owned(),
            mime_type: media.mime_type.to_owned(),
            file_name: media.file_name.to_owned(),
            size_bytes,
            sha256: media.sha256.to_owned(),
            message_id: media.message_id,
            create_time: media.create_time,
            expire_time: media.expire_time,
        })
    }

    /// A media file of `session_id` that has not expired at `now`, without its content.
    pub async fn get_media(
        &self,
        session_id: i64,
        id: i64,
        now: i64,
    ) -> Result<Option<MediaRecord>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {MEDIA_COLUMNS} FROM media WHERE id = $1 AND session_id = $2 AND expire_time > $3"
        )))
        .bind(id)
        .bind(session_id)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(media_from_row).transpose()?)
    }

    /// [`Store::get_media`] with the content.
    pub async fn get_media_content(
        &self,
        session_id: i64,
        id: i64,
        now: i64,
    ) -> Result<Option<(MediaRecord, Vec<u8>)>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {MEDIA_COLUMNS}, content FROM media \
             WHERE id = $1 AND session_id = $2 AND expire_time > $3"
        )))
        .bind(id)
        .bind(session_id)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(media_with_content).transpose()?)
    }

    /// The media file behind a public token, with its content, unless expired at `now`.
    pub async fn get_media_by_token(
        &self,
        token: &str,
        now: i64,
    ) -> Result<Option<(MediaRecord, Vec<u8>)>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {MEDIA_COLUMNS}, content FROM media WHERE token = $1 AND expire_time > $2"
        )))
        .bind(token)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(media_with_content).transpose()?)
    }

    /// Deletes media expired at `now`; returns how many.
    pub async fn delete_expired_media(&self, now: i64) -> Result<u64> {
        let done = sqlx::query("DELETE FROM media WHERE expire_time <= $1")
            .bind(now)
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected())
    }
}

fn media_with_content(row: &AnyRow) -> Result<(MediaRecord, Vec<u8>), sqlx::Error> {
    Ok((media_from_row(row)?, row.try_get("content")?))
}
