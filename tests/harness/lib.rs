//! Test harness: real wagate servers on 127.0.0.1:0 (in-process or as child
//! processes), fresh databases on SQLite and — when `WAGATE_TEST_DATABASE_URL`
//! is set — PostgreSQL, and authenticated gRPC clients.

pub mod db;
pub mod process;

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;
use wagate::config::{Config, EngineKind, Overrides};
use wagate::server::RunningServer;
use wagate_proto::v1::message_service_client::MessageServiceClient;
use wagate_proto::v1::session_service_client::SessionServiceClient;
use wagate_proto::v1::simulator_service_client::SimulatorServiceClient;

pub use db::{Backend, TestDb, backends};

/// The admin token every test server is configured with.
pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789abcdef";

/// A directory removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(label: &str) -> Self {
        let path = std::env::temp_dir().join(format!(
            "wagate-{label}-{}-{:016x}",
            std::process::id(),
            rand::random::<u64>()
        ));
        std::fs::create_dir_all(&path).expect("create temp dir");
        Self(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A configuration for tests: loopback on port 0, fast simulated QR codes.
pub fn test_config(database_url: &str, data_dir: &Path) -> Config {
    let mut config = Config::load_from(None, &[], &Overrides::default()).expect("default config");
    config.grpc_addr = "127.0.0.1:0".parse().unwrap();
    config.simulator_addr = "127.0.0.1:0".parse().unwrap();
    config.metrics_addr = Some("127.0.0.1:0".parse().unwrap());
    config.http_addr = Some("127.0.0.1:0".parse().unwrap());
    config.database_url = database_url.to_owned();
    config.data_dir = data_dir.to_owned();
    config.admin_token = Some(ADMIN_TOKEN.to_owned());
    config.engine = EngineKind::Sim;
    config.shutdown_grace = Duration::from_secs(5);
    config.reconnect_stagger = Duration::from_millis(10);
    config.connect_wait = Duration::from_secs(5);
    config.database_max_connections = 4;
    config.sim.qr_rotation = Duration::from_secs(20);
    // Account protection's 5 s between sends would only slow the tests down;
    // the pacing test sets its own interval.
    config.queue.protection_interval = Duration::ZERO;
    config.queue.retry_backoff = Duration::from_millis(50);
    config
}

/// A wagate server running in this process on a fresh database.
pub struct TestServer {
    pub addr: std::net::SocketAddr,
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// The HTTP listener (media URLs, REST gateway).
    pub http_addr: Option<std::net::SocketAddr>,
    pub backend: Backend,
    server: Option<RunningServer>,
    pub db: TestDb,
    pub data_dir: TempDir,
    channel: Channel,
}

impl TestServer {
    pub async fn start(backend: Backend) -> Self {
        Self::start_with(backend, |_| {}).await
    }

    /// Starts with a configuration adjusted by `adjust`, and waits for SERVING.
    pub async fn start_with(backend: Backend, adjust: impl FnOnce(&mut Config)) -> Self {
        let data_dir = TempDir::new("server");
        let db = TestDb::create(backend, data_dir.path()).await;
        let mut config = test_config(&db.url, data_dir.path());
        adjust(&mut config);
        let server = wagate::server::start(config, CancellationToken::new())
            .await
            .expect("server starts");
        let addr = server.grpc_addr;
        let metrics_addr = server.metrics_addr;
        let http_addr = server.http_addr;
        let channel = connect(addr).await;
        wait_serving(channel.clone(), Duration::from_secs(30)).await;
        Self {
            addr,
            metrics_addr,
            http_addr,
            backend,
            server: Some(server),
            db,
            data_dir,
            channel,
        }
    }

    pub fn channel(&self) -> Channel {
        self.channel.clone()
    }

    pub fn sessions(&self) -> SessionServiceClient<Channel> {
        SessionServiceClient::new(self.channel())
    }

    pub fn messages(&self) -> MessageServiceClient<Channel> {
        MessageServiceClient::new(self.channel())
            .max_decoding_message_size(64 * 1024 * 1024)
            .max_encoding_message_size(64 * 1024 * 1024)
    }

    pub fn simulator(&self) -> SimulatorServiceClient<Channel> {
        SimulatorServiceClient::new(self.channel())
    }

    /// Ordered shutdown, then the database is dropped.
    pub async fn stop(mut self) {
        if let Some(server) = self.server.take() {
            server.stop().await.expect("clean shutdown");
        }
        self.db.drop_database().await;
    }
}

pub async fn connect(addr: std::net::SocketAddr) -> Channel {
    tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await
        .expect("connect to server")
}

/// Polls the overall health until SERVING (bounded).
pub async fn wait_serving(channel: Channel, limit: Duration) {
    let mut health = HealthClient::new(channel);
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let status = health
            .check(HealthCheckRequest {
                service: String::new(),
            })
            .await
            .map(|r| r.into_inner().status);
        if status.as_ref().ok()
            == Some(&(tonic_health::pb::health_check_response::ServingStatus::Serving as i32))
        {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "server not SERVING after {limit:?}: {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// A request carrying `authorization: Bearer <token>`.
pub fn authed<T>(token: &str, message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    request
}

/// A request as the admin.
pub fn admin<T>(message: T) -> tonic::Request<T> {
    authed(ADMIN_TOKEN, message)
}

/// Polls `probe` until it returns `Some` (bounded by count and time).
pub async fn eventually<T, F, Fut>(what: &str, limit: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    for _ in 0..10_000 {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("gave up waiting for {what}");
}

/// The field paths of a status's google.rpc.BadRequest details.
pub fn violated_fields(status: &tonic::Status) -> Vec<String> {
    use tonic_types::StatusExt;
    status
        .get_details_bad_request()
        .map(|bad| bad.field_violations.into_iter().map(|v| v.field).collect())
        .unwrap_or_default()
}

/// The reason of a status's google.rpc.ErrorInfo details.
pub fn error_reason(status: &tonic::Status) -> String {
    use tonic_types::StatusExt;
    status
        .get_details_error_info()
        .map(|info| info.reason)
        .unwrap_or_default()
}
