//! Persistence on SQLite (embedded default) or PostgreSQL through sqlx's Any
//! driver: one set of queries where the dialects agree, per-dialect migrations.
//! All SQL of the server lives in this module's files.

mod accept;
mod chats;
mod credentials;
mod directory;
mod events;
mod media;
mod message_changes;
mod messages;
mod migrate;
mod query;
mod sessions;
mod sim;
mod sim_directory;
mod tx;
mod webhooks;

use std::path::Path;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Connection, Executor};

pub use chats::ChatState;
pub use directory::{ContactChange, ContactPatch, ContactRow, GroupRow};
pub use events::{EventRow, EventScope, NewEvent};
pub use media::NewMedia;
pub use message_changes::{MessageRewrite, MessageSelector};
pub use messages::{FilterValue, MessageQuery, NewOutbound, Queued};
pub use sessions::StatusChange;
pub use sim::{SimAccountRow, SimDeliveryRow, SimDeviceRow};
pub use sim_directory::SimSavedContact;
pub use tx::StoreTx;
pub use webhooks::{AttemptOutcome, AttemptRow, DeliveryRow, RecordedAttempt};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone, Debug)]
pub struct Store {
    /// Reads. On SQLite these connections are read-only, so a write sent here
    /// by mistake fails loudly instead of contending with the writer.
    pool: AnyPool,
    /// Writes (and reads that must see a write's own transaction). On
    /// PostgreSQL the same pool as `pool`; on SQLite a single connection.
    writer: AnyPool,
    backend: Backend,
    /// Queues sends in group commits (see `accept`).
    acceptor: accept::Acceptor,
}

impl Store {
    /// Opens the database (creating the SQLite file and its directory when
    /// missing). Does not migrate: call [`Store::migrate`].
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self, sqlx::Error> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            Backend::Postgres
        };
        let url = match backend {
            Backend::Sqlite => prepare_sqlite_url(url)?,
            Backend::Postgres => url.to_owned(),
        };
        let options = AnyConnectOptions::from_str(&url)?;
        // One direct connection first, so an unreachable server reports its real
        // error (e.g. connection refused) quickly instead of a pool timeout.
        let probe = tokio::time::timeout(
            Duration::from_secs(5),
            sqlx::AnyConnection::connect_with(&options),
        )
        .await
        .map_err(|_| sqlx::Error::PoolTimedOut)??;
        probe.close().await?;
        let (pool, writer) = match backend {
            Backend::Postgres => {
                let pool = open_pool(&options, backend, max_connections, Access::ReadWrite).await?;
                (pool.clone(), pool)
            }
            // SQLite takes one writer at a time; concurrent writers on separate
            // connections wait in its busy handler, which sleeps in growing steps
            // and caps throughput far below the disk. One writer connection turns
            // that into an in-process queue, while readers keep their own
            // connections (WAL lets them run beside the writer).
            Backend::Sqlite => {
                let writer = open_pool(&options, backend, 1, Access::ReadWrite).await?;
                let readers =
                    open_pool(&options, backend, max_connections.max(1), Access::ReadOnly).await?;
                (readers, writer)
            }
        };
        let sqlite_file = (backend == Backend::Sqlite).then(|| sqlite_path(&url));
        let acceptor = accept::Acceptor::start(backend, writer.clone(), sqlite_file);
        Ok(Self {
            pool,
            writer,
            backend,
            acceptor,
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(|_| ())
    }

    pub async fn close(&self) {
        self.pool.close().await;
        self.writer.close().await;
    }
}

/// A pooled connection idle longer than this is checked before use.
const IDLE_BEFORE_PING: Duration = Duration::from_secs(30);

#[derive(Clone, Copy, PartialEq, Eq)]
enum Access {
    ReadOnly,
    ReadWrite,
}

async fn open_pool(
    options: &AnyConnectOptions,
    backend: Backend,
    max_connections: u32,
    access: Access,
) -> Result<AnyPool, sqlx::Error> {
    AnyPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(10))
        // sqlx pings every connection it lends by default: a round trip (to
        // PostgreSQL, or to the SQLite thread) per query. Only a connection
        // idle for a while may have been dropped by the server meanwhile.
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for > IDLE_BEFORE_PING {
                    conn.ping().await?;
                }
                Ok(true)
            })
        })
        .after_connect(move |conn, _meta| {
            Box::pin(async move {
                if backend == Backend::Sqlite {
                    // WAL lets readers run beside the writer; FULL keeps every
                    // committed transaction across a power loss; the busy
                    // timeout makes writers of other processes wait instead
                    // of failing.
                    conn.execute(
                        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
                         PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000;",
                    )
                    .await?;
                    if access == Access::ReadOnly {
                        // Small page caches: the OS caches the file for all
                        // readers, and many connections × the 2 MiB default
                        // would make memory grow with the history read.
                        conn.execute("PRAGMA query_only = ON; PRAGMA cache_size = -512;")
                            .await?;
                    }
                }
                Ok(())
            })
        })
        .connect_with(options.clone())
        .await
}

/// The file path of a `sqlite://path?…` URL.
fn sqlite_path(url: &str) -> &str {
    let rest = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    rest.split_once('?').map_or(rest, |(path, _)| path)
}

/// Turns `sqlite://path` into a URL that creates the file, and creates its directory.
fn prepare_sqlite_url(url: &str) -> Result<String, sqlx::Error> {
    let path = sqlite_path(url);
    let query = url.split_once('?').map_or("", |(_, query)| query);
    // Each connection to `:memory:` is its own empty database; readers and
    // the writer would never see each other's data.
    if path == ":memory:" || query.split('&').any(|p| p == "mode=memory") {
        return Err(sqlx::Error::Configuration(
            "an in-memory SQLite database is not supported: give a file path, e.g. sqlite://data/wagate.db"
                .into(),
        ));
    }
    if let Some(parent) = Path::new(path)
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
    {
        std::fs::create_dir_all(parent).map_err(sqlx::Error::Io)?;
    }
    let mut params: Vec<&str> = query.split('&').filter(|p| !p.is_empty()).collect();
    if !params.iter().any(|p| p.starts_with("mode=")) {
        params.push("mode=rwc");
    }
    Ok(format!("sqlite://{path}?{}", params.join("&")))
}

/// Now, in Unix milliseconds (the unit of every stored time).
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn flag(value: bool) -> i64 {
    i64::from(value)
}

#[cfg(test)]
mod tests {
    use super::prepare_sqlite_url;

    #[test]
    fn sqlite_urls_create_files_and_refuse_memory() {
        let dir = std::env::temp_dir().join(format!("wagate-url-{}", std::process::id()));
        let url = format!("sqlite://{}/nested/w.db", dir.display());
        let prepared = prepare_sqlite_url(&url).unwrap();
        assert!(prepared.ends_with("/nested/w.db?mode=rwc"), "{prepared}");
        assert!(dir.join("nested").is_dir());
        let kept = prepare_sqlite_url(&format!("{url}?mode=ro")).unwrap();
        assert!(kept.ends_with("?mode=ro"), "{kept}");
        for memory in [
            "sqlite::memory:",
            "sqlite://:memory:",
            "sqlite://x.db?mode=memory",
        ] {
            let err = prepare_sqlite_url(memory).unwrap_err().to_string();
            assert!(err.contains("in-memory SQLite"), "{memory}: {err}");
        }
        std::fs::remove_dir_all(dir).unwrap();
    }
}
