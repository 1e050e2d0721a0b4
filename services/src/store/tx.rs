//! A write transaction that domain code drives: several store changes, then
//! the events describing them, committed together (a crash keeps all or
//! none). Dropping it without committing rolls everything back.

use super::{ChatState, ContactChange, ContactPatch, GroupRow, NewEvent, Store};
use crate::error::Result;
use crate::session::model::{QrCode, SessionId};

pub struct StoreTx {
    tx: sqlx::Transaction<'static, sqlx::Any>,
    store: Store,
}

impl Store {
    /// Starts a write transaction (on SQLite it holds the single writer).
    pub async fn begin(&self) -> Result<StoreTx> {
        Ok(StoreTx {
            tx: self.writer.begin().await?,
            store: self.clone(),
        })
    }
}

impl StoreTx {
    pub async fn commit(self) -> Result<()> {
        self.tx.commit().await?;
        Ok(())
    }

    /// Appends the events and commits; returns their cursors.
    pub async fn commit_with_events(mut self, events: &[NewEvent]) -> Result<Vec<i64>> {
        let cursors = self.store.append_in(&mut self.tx, events).await?;
        self.tx.commit().await?;
        Ok(cursors)
    }

    pub async fn set_qr(&mut self, session: SessionId, qr: &QrCode) -> Result<()> {
        super::sessions::set_qr(&mut self.tx, session, qr).await
    }

    pub async fn merge_contact(
        &mut self,
        session: SessionId,
        patch: &ContactPatch,
    ) -> Result<Option<ContactChange>> {
        super::directory::merge_contact(&mut self.tx, session, patch).await
    }

    pub async fn group(&mut self, session: SessionId, jid: &str) -> Result<Option<GroupRow>> {
        super::directory::group(&mut self.tx, session, jid).await
    }

    pub async fn put_group(
        &mut self,
        session: SessionId,
        jid: &str,
        metadata: &[u8],
        request_id: Option<&str>,
    ) -> Result<()> {
        super::directory::put_group(&mut self.tx, session, jid, metadata, request_id).await
    }

    pub async fn delete_group(&mut self, session: SessionId, jid: &str) -> Result<()> {
        super::directory::delete_group(&mut self.tx, session, jid).await
    }

    pub async fn clear_unread(
        &mut self,
        session: SessionId,
        jids: &[String],
    ) -> Result<Vec<ChatState>> {
        super::chats::clear_unread(&mut self.tx, session, jids).await
    }

    pub async fn delete_chat(&mut self, session: SessionId, jid: &str) -> Result<()> {
        super::chats::delete_chat(&mut self.tx, session, jid).await
    }
}
