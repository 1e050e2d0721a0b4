//! The accept path: SendMessage calls that arrive together are queued in one
//! transaction (group commit), so concurrency costs one commit, not one each.
//!
//! SQLite: a thread of its own with its own connection writes each batch and
//! commits without waiting for the disk (`synchronous = NORMAL`); a second
//! thread answers the batch's callers after an `fdatasync` of the WAL that
//! started after the commit, so one sync covers every batch committed before
//! it while the writer goes on with the next. Nothing is answered before it
//! is on disk. The writer takes the store's writer connection as its turn, so
//! it never contends with the other writes (which keep `synchronous = FULL`).
//! Plain threads and a prepared statement per row: no async hops per statement.
//!
//! PostgreSQL: a task gathers a batch whenever its connection is free and
//! queues it with one multi-row insert, a statement that commits on its own
//! (one round trip; the commit waits for the WAL flush).

use std::collections::HashMap;
use std::fs::File;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use prost::Message as _;
use rusqlite::OptionalExtension as _;
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool};
use tokio::runtime::Handle;
use tokio::sync::{mpsc, oneshot};

use super::messages::{OUTBOUND, QUEUED, queue_postgres};
use super::{Backend, Store, now_ms};
use crate::error::{Error, Result};
use crate::session::model::SessionId;
use crate::store::{NewOutbound, Queued};

/// Most rows committed in one transaction.
const ACCEPT_BATCH: usize = 256;
/// PostgreSQL batches being written at once. Its cost is mostly per statement
/// and commit (pgbench on 2 cores: ~250 µs of CPU per batch, ~14 µs per row),
/// so one batch at a time, as large as the callers make it, beats
/// overlapping smaller ones: in alternating runs 2 in flight accepted 15-25%
/// less, 3 and 4 less still.
const POSTGRES_IN_FLIGHT: usize = 1;

/// Rows to queue in one transaction, and where their outcome goes.
struct Job {
    rows: Vec<NewOutbound>,
    reply: oneshot::Sender<Result<Vec<Queued>>>,
}

/// Queues sends in group commits; cheap to clone.
#[derive(Clone, Debug)]
pub(super) struct Acceptor {
    jobs: flume::Sender<Job>,
}

impl Acceptor {
    pub(super) fn start(backend: Backend, writer: AnyPool, sqlite_path: Option<&str>) -> Self {
        let (jobs, receiver) = flume::bounded(4 * ACCEPT_BATCH);
        match (backend, sqlite_path) {
            (Backend::Sqlite, Some(path)) => {
                let path = PathBuf::from(path);
                let handle = Handle::current();
                let spawned = std::thread::Builder::new()
                    .name("wagate-accept".into())
                    .spawn(move || SqliteWriter::run(path, writer, handle, receiver));
                if let Err(e) = spawned {
                    // The receiver went with the failed closure: sends fail
                    // with "shutting down" rather than hang.
                    tracing::error!(error = %e, "cannot start the accept thread");
                }
            }
            _ => {
                tokio::spawn(gather_postgres(writer, receiver));
            }
        }
        Self { jobs }
    }

    /// Queues `rows` in one transaction (shared with concurrent calls); the
    /// rows are durable when this returns.
    pub(super) async fn queue(&self, rows: Vec<NewOutbound>) -> Result<Vec<Queued>> {
        let (reply, answer) = oneshot::channel();
        let closed = || Error::unavailable("the server is shutting down");
        self.jobs
            .send_async(Job { rows, reply })
            .await
            .map_err(|_| closed())?;
        answer.await.map_err(|_| closed())?
    }
}

impl Store {
    /// Queues one message in a commit shared with concurrent calls; returns
    /// once it is durable. Request ids make it idempotent.
    pub async fn accept(&self, row: NewOutbound) -> Result<Queued> {
        let mut queued = self.queue_owned(vec![row]).await?;
        queued.pop().ok_or_else(|| Error::internal("no result"))
    }

    /// Queues messages in order in one transaction; durable on return.
    pub async fn queue_messages(&self, rows: &[NewOutbound]) -> Result<Vec<Queued>> {
        self.queue_owned(rows.to_vec()).await
    }

    async fn queue_owned(&self, rows: Vec<NewOutbound>) -> Result<Vec<Queued>> {
        let wanted = rows.len();
        let keys: Vec<_> = rows
            .iter()
            .map(|r| (r.session_id, r.request_id.clone(), r.request_hash.clone()))
            .collect();
        let queued = self.acceptor.queue(rows).await?;
        if queued.len() != wanted {
            return Err(Error::internal("queued a different number of rows"));
        }
        let mut settled = Vec::with_capacity(wanted);
        for (queued, (session, request_id, hash)) in queued.into_iter().zip(keys) {
            settled.push(match (queued, request_id) {
                // Not inserted with a request id: either it was used before
                // (committed, so visible now) or the session cannot send.
                (Queued::NoSender, Some(request_id)) => {
                    match Box::pin(self.find_requested(session, &request_id)).await? {
                        Some((existing, stored_hash)) => Queued::Repeated {
                            existing,
                            same_request: stored_hash == hash,
                        },
                        None => Queued::NoSender,
                    }
                }
                (queued, _) => queued,
            });
        }
        Ok(settled)
    }
}

/// Gathers PostgreSQL batches: a batch is taken only once it can be written
/// (a connection free), so sends arriving meanwhile join it. Each in-flight
/// batch has a connection of its own, outside the pool: the pool checks a
/// connection with a round trip when it lends it and when it takes it back.
async fn gather_postgres(pool: AnyPool, jobs: flume::Receiver<Job>) {
    let (give_back, mut free) = mpsc::channel::<Option<AnyConnection>>(POSTGRES_IN_FLIGHT);
    for _ in 0..POSTGRES_IN_FLIGHT {
        let _ = give_back.try_send(None);
    }
    while let Ok(first) = jobs.recv_async().await {
        let Some(conn) = free.recv().await else {
            return;
        };
        let batch = gather(first, |_| jobs.try_recv().ok());
        let (pool, give_back) = (pool.clone(), give_back.clone());
        tokio::spawn(async move {
            let rows: Vec<&NewOutbound> = batch.iter().flat_map(|j| &j.rows).collect();
            let (conn, written) = write_postgres(conn, &pool, &rows).await;
            match written {
                Ok(queued) => {
                    let _ = give_back.send(conn).await;
                    answer(batch, queued);
                }
                // One bad job (e.g. its session deleted meanwhile) must not
                // fail the others: each on its own then.
                Err(_) if batch.len() > 1 => {
                    let mut conn = conn;
                    for job in batch {
                        let rows: Vec<&NewOutbound> = job.rows.iter().collect();
                        let (used, written) = write_postgres(conn, &pool, &rows).await;
                        conn = used;
                        let _ = job.reply.send(written);
                    }
                    let _ = give_back.send(conn).await;
                }
                Err(err) => {
                    let _ = give_back.send(conn).await;
                    fail(batch, &err);
                }
            }
        });
    }
}

/// Queues `rows` with one statement on `conn` (a new one when `None`): all
/// or none. The connection comes back unless it failed (its state is then
/// unknown).
async fn write_postgres(
    conn: Option<AnyConnection>,
    pool: &AnyPool,
    rows: &[&NewOutbound],
) -> (Option<AnyConnection>, Result<Vec<Queued>>) {
    let mut conn = match conn {
        Some(conn) => conn,
        None => match pool.acquire().await {
            Ok(conn) => conn.detach(),
            Err(err) => return (None, Err(err.into())),
        },
    };
    match queue_postgres(&mut conn, rows).await {
        Ok(queued) => (Some(conn), Ok(queued)),
        Err(err) => (None, Err(err)),
    }
}

/// `first` and whatever `next` yields, up to [`ACCEPT_BATCH`] rows.
fn gather(first: Job, mut next: impl FnMut(usize) -> Option<Job>) -> Vec<Job> {
    let mut count = first.rows.len();
    let mut batch = vec![first];
    while count < ACCEPT_BATCH {
        let Some(job) = next(count) else { break };
        count += job.rows.len();
        batch.push(job);
    }
    batch
}

/// Hands each job its share of `queued`, in order.
fn answer(batch: Vec<Job>, queued: Vec<Queued>) {
    let mut queued = queued.into_iter();
    for job in batch {
        let mine: Vec<Queued> = queued.by_ref().take(job.rows.len()).collect();
        let _ = job.reply.send(Ok(mine));
    }
}

fn fail(batch: Vec<Job>, err: &Error) {
    for job in batch {
        let _ = job.reply.send(Err(err.clone()));
    }
}

/// One row per statement: SQLite runs it in-process, and a prepared
/// statement beats building and parsing a multi-row one. A single-row
/// VALUES insert needs no statement journal inside the transaction (an
/// INSERT ... SELECT would copy each page it touches into one). The sender
/// is the session's linked account, read once per session and batch in the
/// same transaction: no row is queued for a session without one.
const INSERT_ONE: &str = "INSERT INTO messages (session_id, direction, chat, chat_type, sender, kind, \
     body, payload, status, request_id, request_hash, create_time, update_time) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12) \
     ON CONFLICT (session_id, request_id) WHERE request_id IS NOT NULL DO NOTHING";
const SENDER: &str = "SELECT user_jid FROM sessions WHERE id = ?1";

/// Longest the accept path keeps the writer turn while sends keep coming,
/// and how long it keeps it waiting for the next one: taking the turn costs
/// a round trip through the pool, while other writes wait at most this long.
const MAX_HOLD: Duration = Duration::from_millis(5);
const IDLE_RELEASE: Duration = Duration::from_millis(1);

/// A committed batch waiting for the WAL sync.
struct Committed {
    batch: Vec<Job>,
    queued: Vec<Queued>,
}

struct SqliteWriter {
    conn: rusqlite::Connection,
    /// The store's writer pool: holding its connection is the turn to write.
    turn: AnyPool,
    /// The pool's connection while this thread holds the turn, and since when.
    held: Option<(PoolConnection<Any>, Instant)>,
    handle: Handle,
}

impl SqliteWriter {
    fn run(path: PathBuf, turn: AnyPool, handle: Handle, jobs: flume::Receiver<Job>) {
        let (synced, to_sync) = std::sync::mpsc::channel::<Committed>();
        let wal = PathBuf::from(format!("{}-wal", path.display()));
        let syncer = std::thread::Builder::new()
            .name("wagate-wal-sync".into())
            .spawn(move || {
                while let Ok(first) = to_sync.recv() {
                    let mut ready = vec![first];
                    ready.extend(to_sync.try_iter());
                    answer_after_sync(&wal, ready);
                }
            });
        let mut writer = match (syncer, open(&path)) {
            (Ok(_), Ok(conn)) => SqliteWriter {
                conn,
                turn,
                handle,
                held: None,
            },
            (Err(e), _) => return refuse(jobs, Error::internal(format!("no sync thread: {e}"))),
            (_, Err(e)) => return refuse(jobs, Error::from(e)),
        };
        let to_sync = |batch: Vec<Job>, queued: Vec<Queued>| {
            if let Err(std::sync::mpsc::SendError(lost)) = synced.send(Committed { batch, queued })
            {
                fail(lost.batch, &Error::internal("the WAL sync thread stopped"));
            }
        };
        while let Some(first) = writer.next_job(&jobs) {
            let batch = gather(first, |_| jobs.try_recv().ok());
            match writer.write(&batch) {
                Ok(queued) => to_sync(batch, queued),
                // One bad job must not fail the others: each on its own then.
                Err(_) if batch.len() > 1 => {
                    for job in batch {
                        let job = vec![job];
                        match writer.write(&job) {
                            Ok(queued) => to_sync(job, queued),
                            Err(err) => fail(job, &err),
                        }
                    }
                }
                Err(err) => fail(batch, &err),
            }
        }
    }

    /// Inserts the batch's rows in one transaction, at the writer's turn.
    fn write(&mut self, batch: &[Job]) -> Result<Vec<Queued>> {
        if self
            .held
            .as_ref()
            .is_some_and(|(_, since)| since.elapsed() > MAX_HOLD)
        {
            self.release();
        }
        if self.held.is_none() {
            let turn = self.handle.block_on(self.turn.acquire())?;
            self.held = Some((turn, Instant::now()));
        }
        self.insert_all(batch)
    }

    /// Gives the writer connection back so the store's other writes get a turn.
    fn release(&mut self) {
        if let Some((turn, _)) = self.held.take() {
            // The connection goes back to the pool from a task of the runtime.
            let _runtime = self.handle.enter();
            drop(turn);
        }
    }

    /// The next job; the turn is given back if none comes soon.
    fn next_job(&mut self, jobs: &flume::Receiver<Job>) -> Option<Job> {
        if self.held.is_some() {
            match jobs.recv_timeout(IDLE_RELEASE) {
                Ok(job) => return Some(job),
                Err(flume::RecvTimeoutError::Disconnected) => return None,
                Err(flume::RecvTimeoutError::Timeout) => self.release(),
            }
        }
        jobs.recv().ok()
    }

    fn insert_all(&mut self, batch: &[Job]) -> Result<Vec<Queued>> {
        let now = now_ms();
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let mut queued = Vec::with_capacity(batch.iter().map(|j| j.rows.len()).sum());
        {
            let mut insert = tx.prepare_cached(INSERT_ONE)?;
            let mut sender_of = tx.prepare_cached(SENDER)?;
            let mut senders: HashMap<SessionId, String> = HashMap::new();
            for row in batch.iter().flat_map(|j| &j.rows) {
                let sender = match senders.get(&row.session_id) {
                    Some(sender) => sender.clone(),
                    None => {
                        let sender: String = sender_of
                            .query_row([row.session_id], |r| r.get(0))
                            .optional()?
                            .unwrap_or_default();
                        senders.insert(row.session_id, sender.clone());
                        sender
                    }
                };
                let inserted = !sender.is_empty()
                    && insert.execute(rusqlite::params![
                        row.session_id,
                        OUTBOUND,
                        row.chat,
                        row.chat_type,
                        sender,
                        row.kind,
                        row.body,
                        row.payload.encode_to_vec(),
                        QUEUED,
                        row.request_id,
                        row.request_hash,
                        now,
                    ])? == 1;
                queued.push(if inserted {
                    Queued::New(row.queued_record(tx.last_insert_rowid(), sender, now))
                } else {
                    // No linked sender, or a repeated request id: the caller tells which.
                    Queued::NoSender
                });
            }
        }
        // Ends with `synchronous = NORMAL`: durable once the WAL is synced.
        tx.commit()?;
        Ok(queued)
    }
}

impl Drop for SqliteWriter {
    fn drop(&mut self) {
        self.release();
    }
}

fn open(path: &Path) -> rusqlite::Result<rusqlite::Connection> {
    let conn = rusqlite::Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    // NORMAL: a commit writes the WAL without syncing it; `answer_after_sync`
    // syncs before anyone is told. No foreign-key checks: the one insert
    // reads its session in the same statement. The busy timeout covers
    // other processes.
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
         PRAGMA foreign_keys = OFF; PRAGMA busy_timeout = 10000;",
    )?;
    Ok(conn)
}

fn refuse(jobs: flume::Receiver<Job>, err: Error) {
    tracing::error!(error = %err, "the SQLite accept path cannot start");
    while let Ok(job) = jobs.recv() {
        let _ = job.reply.send(Err(err.clone()));
    }
}

/// Answers committed batches once the WAL is synced, or with the error.
fn answer_after_sync(wal: &Path, committed: Vec<Committed>) {
    if committed.is_empty() {
        return;
    }
    let synced = sync_file(wal).map_err(|e| {
        tracing::error!(error = %e, "cannot sync the SQLite WAL to disk");
        // The rows are committed but maybe not durable: the callers get the
        // error (and can resend with their request id), never a false
        // acceptance.
        Error::internal(format!("syncing the database to disk failed: {e}"))
    });
    for Committed { batch, queued } in committed {
        match &synced {
            Ok(()) => answer(batch, queued),
            Err(err) => fail(batch, err),
        }
    }
}

/// Opening the file by path each time follows SQLite if it recreates the WAL.
fn sync_file(path: &Path) -> std::io::Result<()> {
    match File::open(path) {
        Ok(file) => file.sync_data(),
        // No WAL: the last connection closed, which checkpointed it into the
        // database file and synced that.
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::model::{LinkedUser, Settings};
    use sqlx::Row;
    use wagate_proto::v1 as pb;

    struct Scratch(PathBuf);

    impl Scratch {
        fn new(name: &str) -> Self {
            let dir =
                std::env::temp_dir().join(format!("wagate-accept-{name}-{}", std::process::id()));
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

    fn row(session: i64, text: &str) -> NewOutbound {
        NewOutbound {
            session_id: session,
            chat: "15550001111@s.whatsapp.net".into(),
            chat_type: 1,
            kind: "text".into(),
            body: text.into(),
            payload: pb::Message::default(),
            request_id: None,
            request_hash: None,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_sends_are_all_stored_and_other_writes_still_sync_fully() {
        let dir = Scratch::new("concurrent");
        let store = Store::connect(&format!("sqlite://{}/a.db", dir.0.display()), 2)
            .await
            .unwrap();
        store.migrate().await.unwrap();
        let session = store
            .insert_session(&Settings::default(), "hash", "secret")
            .await
            .unwrap();
        let unlinked = store
            .insert_session(&Settings::default(), "hash2", "secret")
            .await
            .unwrap();
        let user = LinkedUser {
            jid: "14155550100:1@s.whatsapp.net".into(),
            ..Default::default()
        };
        store.set_user(session.id, Some(&user)).await.unwrap();

        let mut tasks = Vec::new();
        for i in 0..200 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                store.accept(row(session.id, &format!("m{i}"))).await
            }));
        }
        // Writes of the other kind, meanwhile, take turns with the sends.
        for _ in 0..5 {
            store.set_user(session.id, Some(&user)).await.unwrap();
        }
        let mut ids = std::collections::HashSet::new();
        for (i, task) in tasks.into_iter().enumerate() {
            let Queued::New(record) = task.await.unwrap().unwrap() else {
                panic!("send {i} not queued");
            };
            assert_eq!(record.body, format!("m{i}"));
            assert_eq!(record.sender, user.jid);
            let stored = store.get_message(session.id, record.id).await.unwrap();
            assert_eq!(stored.as_ref(), Some(&record), "answer equals the row");
            assert!(ids.insert(record.id), "ids are distinct");
        }
        // No row for a session without a linked account.
        assert!(matches!(
            store.accept(row(unlinked.id, "x")).await.unwrap(),
            Queued::NoSender
        ));
        // The accept path relaxes only its own connection.
        let mut writer = store.writer.acquire().await.unwrap();
        let synchronous: i64 = sqlx::query("PRAGMA synchronous")
            .fetch_one(&mut *writer)
            .await
            .unwrap()
            .try_get(0)
            .unwrap();
        assert_eq!(synchronous, 2, "FULL");
    }

    #[test]
    fn a_failed_wal_sync_answers_an_error_never_an_acceptance() {
        let dir = Scratch::new("sync-fails");
        let file = dir.0.join("not-a-directory");
        std::fs::write(&file, b"").unwrap();
        let (reply, answer) = oneshot::channel();
        let committed = vec![Committed {
            batch: vec![Job {
                rows: vec![row(1, "m")],
                reply,
            }],
            queued: vec![Queued::NoSender],
        }];
        // Opening `<file>/db-wal` fails with "not a directory".
        answer_after_sync(&file.join("db-wal"), committed);
        let answered = answer.blocking_recv().unwrap();
        assert!(answered.is_err(), "{answered:?}");
    }

    #[test]
    fn without_a_wal_file_there_is_nothing_to_sync() {
        let dir = Scratch::new("no-wal");
        sync_file(&dir.0.join("db-wal")).unwrap();
        std::fs::write(dir.0.join("db-wal"), b"frames").unwrap();
        sync_file(&dir.0.join("db-wal")).unwrap();
    }
}
