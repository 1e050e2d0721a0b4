//! Group commit for SQLite's accept path: the commit that queues a batch of
//! sends writes its WAL frames without waiting for the disk, and the batch's
//! callers are answered after one `fdatasync` of the WAL that covers every
//! commit finished before it started. The single writer connection goes on to
//! the next batch while the disk syncs, so sends are not limited to one
//! batch per disk flush; nothing is answered before it is on disk.
//!
//! Every other write keeps `synchronous = FULL` (the commit itself syncs):
//! only the accept path's transaction relaxes it, and restores it before the
//! connection is used again (or closes the connection if it cannot).

use std::fs::File;
use std::io::ErrorKind;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyPool, Executor};

use crate::error::{Error, Result};

/// Counts commits whose WAL frames are written and syncs them in groups.
#[derive(Debug)]
pub(super) struct WalSync {
    wal_path: PathBuf,
    /// Commits that returned (their frames are in the WAL file, maybe only in
    /// the OS cache).
    written: AtomicU64,
    /// The highest commit known to be on disk; the lock makes syncs take turns,
    /// so callers that arrive during a sync share the next one.
    synced: tokio::sync::Mutex<u64>,
}

impl WalSync {
    /// For the database file at `db_path` (its WAL is `<db_path>-wal`).
    pub(super) fn new(db_path: &str) -> Self {
        Self {
            wal_path: PathBuf::from(format!("{db_path}-wal")),
            written: AtomicU64::new(0),
            synced: tokio::sync::Mutex::new(0),
        }
    }

    /// Records a commit that just returned; sync through the number returned.
    fn committed(&self) -> u64 {
        self.written.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// Returns once commit `seq` is on disk.
    async fn sync_through(&self, seq: u64) -> Result<()> {
        let mut synced = self.synced.lock().await;
        if *synced >= seq {
            return Ok(());
        }
        // Every commit counted by now wrote its frames before this sync starts.
        let target = self.written.load(Ordering::SeqCst);
        let path = self.wal_path.clone();
        tokio::task::spawn_blocking(move || sync_file(&path))
            .await
            .map_err(|e| Error::internal(format!("syncing the database: {e}")))?
            .map_err(|e| {
                tracing::error!(error = %e, "cannot sync the SQLite WAL to disk");
                Error::internal(format!("syncing the database to disk failed: {e}"))
            })?;
        *synced = target;
        Ok(())
    }
}

/// Opening the file by path each time follows SQLite if it recreates the WAL.
fn sync_file(path: &std::path::Path) -> std::io::Result<()> {
    match File::open(path) {
        Ok(file) => file.sync_data(),
        // No WAL: the last connection closed, which checkpointed it into the
        // database file and synced that.
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// What a caller must await before answering that a write is durable.
#[must_use]
pub struct Durability(Option<(Arc<WalSync>, u64)>);

impl Durability {
    /// The commit synced the disk itself.
    pub(super) fn done() -> Self {
        Self(None)
    }

    pub async fn wait(self) -> Result<()> {
        match self.0 {
            Some((wal, seq)) => wal.sync_through(seq).await,
            None => Ok(()),
        }
    }
}

/// The SQLite writer connection with `synchronous = NORMAL` for one
/// transaction. Put back as it was with [`RelaxedWriter::finish`]; dropped
/// without that (an error, a cancelled task), it closes the connection rather
/// than return one that does not sync its commits to the pool.
pub(super) struct RelaxedWriter {
    conn: Option<PoolConnection<Any>>,
}

pub(super) const RELAXED_BEGIN: &str = "PRAGMA synchronous = NORMAL; BEGIN";

impl RelaxedWriter {
    pub(super) async fn acquire(writer: &AnyPool) -> Result<Self> {
        Ok(Self {
            conn: Some(writer.acquire().await?),
        })
    }

    pub(super) fn conn(&mut self) -> &mut PoolConnection<Any> {
        self.conn.as_mut().expect("present until finished")
    }

    /// Restores `synchronous = FULL` and counts the commit for `wal`.
    pub(super) async fn finish(mut self, wal: &Arc<WalSync>) -> Durability {
        let seq = wal.committed();
        if let Some(mut conn) = self.conn.take()
            && conn.execute("PRAGMA synchronous = FULL").await.is_err()
        {
            conn.close_on_drop();
        }
        Durability(Some((wal.clone(), seq)))
    }
}

impl Drop for RelaxedWriter {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.as_mut() {
            conn.close_on_drop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::model::{LinkedUser, Settings};
    use crate::store::{NewOutbound, Queued, Store};
    use sqlx::Row;
    use wagate_proto::v1 as pb;

    struct Scratch(PathBuf);

    impl Scratch {
        fn new(name: &str) -> Self {
            let dir = std::env::temp_dir()
                .join(format!("wagate-durability-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            Self(dir)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    async fn synchronous(writer: &AnyPool) -> i64 {
        let mut conn = writer.acquire().await.unwrap();
        sqlx::query("PRAGMA synchronous")
            .fetch_one(&mut *conn)
            .await
            .unwrap()
            .try_get(0)
            .unwrap()
    }

    const FULL: i64 = 2;

    #[tokio::test]
    async fn accepted_rows_are_answered_after_the_sync_and_the_writer_syncs_again() {
        let dir = Scratch::new("accept");
        let store = Store::connect(&format!("sqlite://{}/w.db", dir.0.display()), 2)
            .await
            .unwrap();
        store.migrate().await.unwrap();
        let session = store
            .insert_session(&Settings::default(), "hash", "secret")
            .await
            .unwrap();
        let user = LinkedUser {
            jid: "14155550100:1@s.whatsapp.net".into(),
            ..Default::default()
        };
        store.set_user(session.id, Some(&user)).await.unwrap();
        let row = |text: &str| NewOutbound {
            session_id: session.id,
            chat: "15550001111@s.whatsapp.net".into(),
            chat_type: 1,
            kind: "text".into(),
            body: text.into(),
            payload: pb::Message::default(),
            request_id: None,
            request_hash: None,
        };
        assert_eq!(synchronous(&store.writer).await, FULL);
        let turn = store.queue_turn().await.unwrap();
        let (queued, durability) = turn.queue(&[row("one"), row("two")]).await.unwrap();
        let wal = store.wal.clone().unwrap();
        assert_eq!(
            *wal.synced.lock().await,
            0,
            "not synced before it is awaited"
        );
        durability.wait().await.unwrap();
        assert_eq!(*wal.synced.lock().await, 1);
        // The relaxed setting ended with the accept transaction.
        assert_eq!(synchronous(&store.writer).await, FULL);
        for queued in queued {
            let Queued::New(record) = queued else {
                panic!("not queued: {queued:?}")
            };
            let stored = store.get_message(session.id, record.id).await.unwrap();
            assert_eq!(stored.map(|m| m.body), Some(record.body));
        }
    }

    #[tokio::test]
    async fn a_relaxed_writer_dropped_unfinished_never_returns_to_the_pool() {
        let dir = Scratch::new("drop");
        let store = Store::connect(&format!("sqlite://{}/w.db", dir.0.display()), 2)
            .await
            .unwrap();
        let mut writer = RelaxedWriter::acquire(&store.writer).await.unwrap();
        writer
            .conn()
            .execute("PRAGMA synchronous = NORMAL")
            .await
            .unwrap();
        drop(writer); // e.g. the insert failed
        assert_eq!(synchronous(&store.writer).await, FULL);
    }

    #[tokio::test]
    async fn one_sync_covers_every_commit_finished_before_it() {
        let dir = Scratch::new("group");
        let db = dir.0.join("w.db");
        std::fs::write(format!("{}-wal", db.display()), b"frames").unwrap();
        let wal = WalSync::new(&db.display().to_string());
        let first = wal.committed();
        let _second = wal.committed();
        let third = wal.committed();
        wal.sync_through(first).await.unwrap();
        assert_eq!(
            *wal.synced.lock().await,
            third,
            "the later commits rode along"
        );
        wal.sync_through(third).await.unwrap();
        assert_eq!(*wal.synced.lock().await, third);
        // Without a WAL file (checkpointed away on close) there is nothing to sync.
        std::fs::remove_file(format!("{}-wal", db.display())).unwrap();
        let later = wal.committed();
        wal.sync_through(later).await.unwrap();
        assert_eq!(*wal.synced.lock().await, later);
    }
}
