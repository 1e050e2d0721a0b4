//! whatsapp-rust storage: the conformance suite against the library's own
//! SqliteStore (the reference) and, with `WAGATE_TEST_DATABASE_URL`, against
//! our PostgreSQL backend; plus wipe / ON DELETE CASCADE of the wa_* tables.

use std::sync::Arc;

use sqlx::AssertSqlSafe;
use wagate::engine::whatsapp::conformance::{self, Backend, SqliteStore};
use wagate::engine::whatsapp::pg::{self, PgBackend};
use wagate::session::model::Settings;
use wagate::store::Store;
use wagate_tests::{Backend as Db, TempDir, TestDb, backends};

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_reference_passes_the_conformance_suite() {
    let dir = TempDir::new("wa-store-sqlite");
    let path = dir.path().join("x.db");
    let store = SqliteStore::new(path.to_str().unwrap())
        .await
        .expect("open SqliteStore");
    conformance::run(Arc::new(store)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_reference_isolates_devices_of_one_file() {
    let dir = TempDir::new("wa-store-sqlite-iso");
    let path = dir.path().join("shared.db");
    let path = path.to_str().unwrap();
    let a = SqliteStore::new_for_device(path, 1).await.unwrap();
    let b = SqliteStore::new_for_device(path, 2).await.unwrap();
    conformance::run_isolation(Arc::new(a), Arc::new(b)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn migrations_apply_on_every_backend() {
    for backend in backends() {
        let dir = TempDir::new("wa-store-migrate");
        let db = TestDb::create(backend, dir.path()).await;
        let store = Store::connect(&db.url, 2).await.expect("connect");
        assert_eq!(
            store.migrate().await.expect("migrate"),
            vec![1, 2],
            "{backend:?}"
        );
        assert!(
            store.migrate().await.unwrap().is_empty(),
            "{backend:?}: idempotent"
        );
        store.close().await;
        db.drop_database().await;
    }
}

/// A migrated PostgreSQL test database with `n` sessions.
struct PgFixture {
    _dir: TempDir,
    db: TestDb,
    store: Store,
    pool: sqlx::PgPool,
    sessions: Vec<i64>,
}

impl PgFixture {
    async fn new(n: usize) -> Option<Self> {
        if !backends().contains(&Db::Postgres) {
            return None;
        }
        let dir = TempDir::new("wa-store-pg");
        let db = TestDb::create(Db::Postgres, dir.path()).await;
        let store = Store::connect(&db.url, 4).await.expect("connect");
        store.migrate().await.expect("migrate");
        let mut sessions = Vec::new();
        for i in 0..n {
            let settings = Settings {
                display_name: format!("wa store {i}"),
                phone_number: format!("+141555501{i:02}"),
                ..Default::default()
            };
            let session = store
                .insert_session(&settings, &format!("hash{i}"), "secret")
                .await
                .expect("insert session");
            sessions.push(session.id);
        }
        let pool = sqlx::PgPool::connect(&db.url).await.expect("PgPool");
        Some(Self {
            _dir: dir,
            db,
            store,
            pool,
            sessions,
        })
    }

    fn backend(&self, i: usize) -> Arc<dyn Backend> {
        Arc::new(PgBackend::new(self.pool.clone(), self.sessions[i]))
    }

    /// Rows of each wa_* table that belong to session `i`.
    async fn rows(&self, i: usize) -> Vec<(&'static str, i64)> {
        let mut counts = Vec::new();
        for table in pg::TABLES {
            let count: i64 = sqlx::query_scalar(AssertSqlSafe(format!(
                "SELECT count(*) FROM {table} WHERE session_id = $1"
            )))
            .bind(self.sessions[i])
            .fetch_one(&self.pool)
            .await
            .unwrap();
            counts.push((*table, count));
        }
        counts
    }

    async fn close(self) {
        self.pool.close().await;
        self.store.close().await;
        self.db.drop_database().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_backend_passes_the_conformance_suite() {
    let Some(fx) = PgFixture::new(3).await else {
        return;
    };
    conformance::run(fx.backend(0)).await;
    conformance::run_isolation(fx.backend(1), fx.backend(2)).await;
    let report = fx.backend(0).resource_report().await;
    assert_eq!(
        report.memory_bytes,
        Some(0),
        "a remote store holds no process memory"
    );
    fx.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_wipe_and_session_delete_remove_every_row() {
    let Some(fx) = PgFixture::new(2).await else {
        return;
    };
    assert!(
        !pg::has_linked_device(&fx.pool, fx.sessions[0])
            .await
            .unwrap()
    );
    for i in 0..2 {
        let backend = fx.backend(i);
        conformance::populate(&*backend).await;
        for (table, count) in fx.rows(i).await {
            assert!(count > 0, "populate must reach {table} (session {i})");
        }
    }
    assert!(
        pg::has_linked_device(&fx.pool, fx.sessions[0])
            .await
            .unwrap()
    );

    pg::wipe(&fx.pool, fx.sessions[0]).await.expect("wipe");
    for (table, count) in fx.rows(0).await {
        assert_eq!(count, 0, "wipe empties {table}");
    }
    for (table, count) in fx.rows(1).await {
        assert!(count > 0, "wipe of one session leaves the other's {table}");
    }
    assert!(
        !pg::has_linked_device(&fx.pool, fx.sessions[0])
            .await
            .unwrap()
    );
    let wiped = fx.backend(0);
    assert!(!wiped.exists().await.unwrap(), "no device after wipe");
    assert!(
        wiped
            .load_identity("15553330001@s.whatsapp.net")
            .await
            .unwrap()
            .is_none()
    );

    // Deleting the session row cascades to its credentials.
    conformance::populate(&*wiped).await;
    assert!(
        fx.store
            .delete_session(fx.sessions[0])
            .await
            .expect("delete session")
    );
    for (table, count) in fx.rows(0).await {
        assert_eq!(count, 0, "deleting the session cascades to {table}");
    }
    for (table, count) in fx.rows(1).await {
        assert!(count > 0, "deleting one session leaves the other's {table}");
    }
    assert!(
        pg::has_linked_device(&fx.pool, fx.sessions[1])
            .await
            .unwrap()
    );
    fx.close().await;
}
