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
        let applied = store.migrate().await.expect("migrate");
        assert!(
            applied.starts_with(&[1, 2]),
            "{backend:?}: applied {applied:?}"
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

/// The blob columns use the SQLite store's encodings: blobs written by the
/// library's SqliteStore, copied into our tables, read back the same.
#[tokio::test(flavor = "multi_thread")]
async fn postgres_reads_blobs_written_by_the_sqlite_store() {
    use sqlx::Connection;
    use wagate::engine::whatsapp::conformance::HashState;

    let Some(fx) = PgFixture::new(1).await else {
        return;
    };
    let dir = TempDir::new("wa-store-blobs");
    let path = dir.path().join("x.db");
    let sqlite: Arc<dyn Backend> =
        Arc::new(SqliteStore::new(path.to_str().unwrap()).await.unwrap());
    conformance::populate(&*sqlite).await;
    let mut state = HashState {
        version: 42,
        mac_mismatch_fatal: true,
        ..Default::default()
    };
    state.hash[3] = 7;
    state.index_value_map.insert("idx".into(), vec![1, 2, 3]);
    sqlite
        .set_version("regular_high", state.clone())
        .await
        .unwrap();
    let written = sqlite.load().await.unwrap().unwrap();

    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    let version: Vec<u8> =
        sqlx::query_scalar("SELECT state_data FROM app_state_versions WHERE name = 'regular_high'")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    let (key_id, key_data): (Vec<u8>, Vec<u8>) =
        sqlx::query_as("SELECT key_id, key_data FROM app_state_keys")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    let chain: Vec<u8> = sqlx::query_scalar("SELECT server_cert_chain FROM device")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();

    let pg = fx.backend(0);
    conformance::populate(&*pg).await;
    let session = fx.sessions[0];
    for (sql, blob) in [
        (
            "UPDATE wa_app_state_versions SET state_data = $2 WHERE session_id = $1",
            &version,
        ),
        (
            "UPDATE wa_device SET server_cert_chain = $2 WHERE session_id = $1",
            &chain,
        ),
    ] {
        sqlx::query(sql)
            .bind(session)
            .bind(blob)
            .execute(&fx.pool)
            .await
            .unwrap();
    }
    sqlx::query("UPDATE wa_app_state_keys SET key_id = $2, key_data = $3 WHERE session_id = $1")
        .bind(session)
        .bind(&key_id)
        .bind(&key_data)
        .execute(&fx.pool)
        .await
        .unwrap();
    sqlx::query("UPDATE wa_app_state_versions SET name = 'regular_high' WHERE session_id = $1")
        .bind(session)
        .execute(&fx.pool)
        .await
        .unwrap();

    let got = pg.get_version("regular_high").await.unwrap();
    assert_eq!(
        (
            got.version,
            got.hash,
            got.index_value_map,
            got.mac_mismatch_fatal
        ),
        (42, state.hash, state.index_value_map, true),
        "hash state written by SqliteStore"
    );
    let key = pg
        .get_sync_key(&key_id)
        .await
        .unwrap()
        .expect("sync key written by SqliteStore");
    let want = sqlite.get_sync_key(&key_id).await.unwrap().unwrap();
    assert_eq!(
        (key.key_data, key.fingerprint, key.timestamp),
        (want.key_data, want.fingerprint, want.timestamp)
    );
    assert_eq!(
        pg.load().await.unwrap().unwrap().server_cert_chain,
        written.server_cert_chain,
        "server cert chain written by SqliteStore"
    );
    assert!(written.server_cert_chain.is_some());
    fx.close().await;
}
