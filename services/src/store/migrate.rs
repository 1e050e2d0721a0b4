//! Applies the migrations under `migrations/<backend>/` in order, once each.
//! A small runner of our own: sqlx's `Migrator` internals are not a stable API.

use sqlx::{AssertSqlSafe, Executor};

use super::{Backend, Store, now_ms};

struct Migration {
    version: i64,
    description: &'static str,
    sqlite: &'static str,
    postgres: &'static str,
}

/// Every migration, oldest first. Add new ones at the end, for both dialects.
const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        description: "foundation",
        sqlite: include_str!("../../../migrations/sqlite/0001_foundation.sql"),
        postgres: include_str!("../../../migrations/postgres/0001_foundation.sql"),
    },
    Migration {
        version: 2,
        description: "whatsapp store",
        sqlite: include_str!("../../../migrations/sqlite/0002_whatsapp_store.sql"),
        postgres: include_str!("../../../migrations/postgres/0002_whatsapp_store.sql"),
    },
    Migration {
        version: 3,
        description: "messages",
        sqlite: include_str!("../../../migrations/sqlite/0003_messages.sql"),
        postgres: include_str!("../../../migrations/postgres/0003_messages.sql"),
    },
    Migration {
        version: 4,
        description: "events",
        sqlite: include_str!("../../../migrations/sqlite/0004_events.sql"),
        postgres: include_str!("../../../migrations/postgres/0004_events.sql"),
    },
    Migration {
        version: 5,
        description: "lookup indexes",
        sqlite: include_str!("../../../migrations/sqlite/0005_lookup_indexes.sql"),
        postgres: include_str!("../../../migrations/postgres/0005_lookup_indexes.sql"),
    },
    Migration {
        version: 6,
        description: "sim directory",
        sqlite: include_str!("../../../migrations/sqlite/0006_sim_directory.sql"),
        postgres: include_str!("../../../migrations/postgres/0006_sim_directory.sql"),
    },
    Migration {
        version: 7,
        description: "contacts and groups",
        sqlite: include_str!("../../../migrations/sqlite/0007_contacts_groups.sql"),
        postgres: include_str!("../../../migrations/postgres/0007_contacts_groups.sql"),
    },
    Migration {
        version: 8,
        description: "webhook leases",
        sqlite: include_str!("../../../migrations/sqlite/0008_webhook_leases.sql"),
        postgres: include_str!("../../../migrations/postgres/0008_webhook_leases.sql"),
    },
    Migration {
        version: 9,
        description: "sim channels",
        sqlite: include_str!("../../../migrations/sqlite/0009_sim_channels.sql"),
        postgres: include_str!("../../../migrations/postgres/0009_sim_channels.sql"),
    },
    Migration {
        version: 10,
        description: "chats",
        sqlite: include_str!("../../../migrations/sqlite/0010_chats.sql"),
        postgres: include_str!("../../../migrations/postgres/0010_chats.sql"),
    },
    Migration {
        version: 11,
        description: "session labels and webhook format",
        sqlite: include_str!("../../../migrations/sqlite/0011_session_labels_webhook_format.sql"),
        postgres: include_str!(
            "../../../migrations/postgres/0011_session_labels_webhook_format.sql"
        ),
    },
    Migration {
        version: 12,
        description: "partial request id index",
        sqlite: include_str!("../../../migrations/sqlite/0012_partial_request_index.sql"),
        postgres: include_str!("../../../migrations/postgres/0012_partial_request_index.sql"),
    },
];

/// Arbitrary constant naming our advisory lock, so replicas starting together
/// migrate one at a time.
const PG_MIGRATION_LOCK: i64 = 0x7761_6761_7465;

impl Store {
    /// Brings the schema up to date. Safe to run from several replicas at once.
    pub async fn migrate(&self) -> Result<Vec<i64>, sqlx::Error> {
        let mut conn = self.writer.acquire().await?;
        if self.backend == Backend::Postgres {
            conn.execute(AssertSqlSafe(format!(
                "SELECT 1 FROM pg_advisory_lock({PG_MIGRATION_LOCK})"
            )))
            .await?;
        }
        let result = async {
            conn.execute(
                "CREATE TABLE IF NOT EXISTS wagate_migrations (\
                 version BIGINT PRIMARY KEY, description TEXT NOT NULL, applied_time BIGINT NOT NULL)",
            )
            .await?;
            let mut applied = Vec::new();
            for migration in MIGRATIONS {
                let done: Option<i64> = sqlx::query_scalar("SELECT version FROM wagate_migrations WHERE version = $1")
                    .bind(migration.version)
                    .fetch_optional(&mut *conn)
                    .await?;
                if done.is_some() {
                    continue;
                }
                let sql = match self.backend {
                    Backend::Sqlite => migration.sqlite,
                    Backend::Postgres => migration.postgres,
                };
                let mut tx = sqlx::Connection::begin(&mut *conn).await?;
                sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut *tx).await?;
                sqlx::query("INSERT INTO wagate_migrations (version, description, applied_time) VALUES ($1, $2, $3)")
                    .bind(migration.version)
                    .bind(migration.description)
                    .bind(now_ms())
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                tracing::info!(version = migration.version, description = migration.description, "applied migration");
                applied.push(migration.version);
            }
            Ok::<_, sqlx::Error>(applied)
        }
        .await;
        if self.backend == Backend::Postgres {
            conn.execute(AssertSqlSafe(format!(
                "SELECT 1 FROM pg_advisory_unlock({PG_MIGRATION_LOCK})"
            )))
            .await?;
        }
        result
    }
}
