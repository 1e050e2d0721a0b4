//! `wagate bench foundation`: start-up time to health SERVING, idle RSS, and
//! the RSS each idle connected simulated session adds. Runs real `wagate serve`
//! processes (this binary) on loopback and writes its section of BENCHMARKS.md.

pub mod events;
pub mod send;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use std::fmt::Write as _;

use anyhow::{Context as _, bail};
use tokio::process::{Child, Command};
use tonic::transport::{Channel, Endpoint};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use wagate_proto::v1 as pb;
use wagate_proto::v1::session_service_client::SessionServiceClient;
use wagate_proto::v1::simulator_service_client::SimulatorServiceClient;

const TOKEN: &str = "bench-admin-token-0123456789abcdef";

pub struct FoundationOptions {
    pub sessions: usize,
    pub runs: usize,
    pub output: PathBuf,
}

struct Spawned {
    child: Child,
    addr: String,
    dir: PathBuf,
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn spawn_server(dir: &Path) -> anyhow::Result<(Spawned, Instant)> {
    spawn_server_with(dir, &[("WAGATE_ENGINE", "sim")])
}

fn spawn_server_with(dir: &Path, env: &[(&str, &str)]) -> anyhow::Result<(Spawned, Instant)> {
    std::fs::create_dir_all(dir)?;
    let addr = format!("127.0.0.1:{}", free_port()?);
    let exe = std::env::current_exe()?;
    let started = Instant::now();
    let child = Command::new(exe)
        .arg("serve")
        .env("WAGATE_GRPC_ADDR", &addr)
        .env("WAGATE_DATA_DIR", dir)
        .env("WAGATE_ADMIN_TOKEN", TOKEN)
        .env("WAGATE_METRICS_ADDR", "off")
        .env("WAGATE_HTTP_ADDR", "off")
        .env("WAGATE_LOG", "warn")
        .env("WAGATE_CONNECT_WAIT", "10s")
        // Callers' settings last, so they win.
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("spawn wagate serve")?;
    Ok((
        Spawned {
            child,
            addr,
            dir: dir.to_owned(),
        },
        started,
    ))
}

/// Polls health every millisecond from process start until SERVING.
async fn time_to_serving(
    server: &Spawned,
    started: Instant,
) -> anyhow::Result<(Duration, Channel)> {
    let endpoint = Endpoint::from_shared(format!("http://{}", server.addr))?;
    for _ in 0..30_000 {
        if let Ok(channel) = endpoint.connect().await {
            let mut health = HealthClient::new(channel.clone());
            for _ in 0..30_000 {
                let status = health
                    .check(HealthCheckRequest {
                        service: String::new(),
                    })
                    .await;
                if status.map(|r| r.into_inner().status).ok() == Some(ServingStatus::Serving as i32)
                {
                    return Ok((started.elapsed(), channel));
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
        if started.elapsed() > Duration::from_secs(30) {
            break;
        }
    }
    bail!("server did not become SERVING within 30 s")
}

/// CPU time the process's threads have run, from the scheduler's per-thread
/// nanosecond counters (precise where `/proc/{pid}/stat` counts 10 ms ticks).
fn cpu_time(pid: u32) -> anyhow::Result<Duration> {
    let mut total = 0u64;
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))? {
        // A thread may end between listing and reading: it no longer counts.
        let Ok(stat) = std::fs::read_to_string(task?.path().join("schedstat")) else {
            continue;
        };
        total += stat
            .split_whitespace()
            .next()
            .context("empty schedstat")?
            .parse::<u64>()?;
    }
    Ok(Duration::from_nanos(total))
}

fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .context("no VmRSS")?;
    Ok(line
        .split_whitespace()
        .nth(1)
        .context("bad VmRSS")?
        .parse()?)
}

fn authed<T>(message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {TOKEN}").parse().expect("ascii"),
    );
    request
}

async fn link_sessions(channel: Channel, count: usize) -> anyhow::Result<()> {
    let workers = 16;
    let mut tasks = Vec::new();
    for worker in 0..workers {
        let channel = channel.clone();
        tasks.push(tokio::spawn(async move {
            let mut sessions = SessionServiceClient::new(channel.clone());
            let mut simulator = SimulatorServiceClient::new(channel);
            let mut i = worker;
            while i < count {
                let phone = format!("+1555{:07}", i);
                let session = sessions
                    .create_session(authed(pb::CreateSessionRequest {
                        session: Some(pb::Session {
                            display_name: format!("bench {i}"),
                            phone_number: phone.clone(),
                            ..Default::default()
                        }),
                    }))
                    .await?
                    .into_inner();
                let connected = sessions
                    .connect_session(authed(pb::ConnectSessionRequest {
                        name: session.name.clone(),
                    }))
                    .await?
                    .into_inner();
                let qr = connected.qr_code.context("no QR code")?.code;
                simulator
                    .scan_qr(authed(pb::ScanQrRequest {
                        qr_code: qr,
                        phone_number: phone,
                    }))
                    .await?;
                i += workers;
            }
            anyhow::Ok(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    Ok(())
}

async fn count_connected(channel: Channel) -> anyhow::Result<usize> {
    let mut sessions = SessionServiceClient::new(channel);
    let mut token = String::new();
    let mut connected = 0;
    for _ in 0..1000 {
        let page = sessions
            .list_sessions(authed(pb::ListSessionsRequest {
                page_size: 1000,
                page_token: token,
            }))
            .await?
            .into_inner();
        connected += page
            .sessions
            .iter()
            .filter(|s| s.status == pb::SessionStatus::Connected as i32)
            .count();
        token = page.next_page_token;
        if token.is_empty() {
            break;
        }
    }
    Ok(connected)
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    values[values.len() / 2]
}

pub async fn foundation(options: FoundationOptions) -> anyhow::Result<()> {
    let base = std::env::temp_dir().join(format!("wagate-bench-{}", std::process::id()));
    let mut cold = Vec::new();
    let mut warm = Vec::new();
    let mut idle_rss = Vec::new();
    for run in 0..options.runs {
        let dir = base.join(format!("run{run}"));
        // Cold: empty data directory (creates and migrates the database).
        let (server, started) = spawn_server(&dir)?;
        let (elapsed, _) = time_to_serving(&server, started).await?;
        cold.push(elapsed.as_secs_f64() * 1000.0);
        tokio::time::sleep(Duration::from_secs(1)).await;
        idle_rss.push(rss_kib(server.child.id().context("pid")?)? as f64);
        let mut server = server;
        server.child.kill().await?;
        // Warm: the same data directory again.
        let (server, started) = spawn_server(&dir)?;
        let (elapsed, _) = time_to_serving(&server, started).await?;
        warm.push(elapsed.as_secs_f64() * 1000.0);
        drop(server);
        println!(
            "run {run}: cold {:.1} ms, warm {:.1} ms, idle RSS {:.1} MiB",
            cold[run],
            warm[run],
            idle_rss[run] / 1024.0
        );
    }

    let (server, started) = spawn_server(&base.join("sessions"))?;
    let (_, channel) = time_to_serving(&server, started).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let pid = server.child.id().context("pid")?;
    let before = rss_kib(pid)?;
    let link_started = Instant::now();
    link_sessions(channel.clone(), options.sessions).await?;
    for _ in 0..600 {
        if count_connected(channel.clone()).await? == options.sessions {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let connected = count_connected(channel.clone()).await?;
    let link_time = link_started.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = rss_kib(pid)?;
    drop(server);
    let _ = std::fs::remove_dir_all(&base);
    let per_session = (after.saturating_sub(before)) as f64 * 1024.0 / options.sessions as f64;

    let cold_ms = median(&mut cold);
    let warm_ms = median(&mut warm);
    let idle_mib = median(&mut idle_rss) / 1024.0;
    let section = format!(
        "## Foundation: start-up and idle memory (`wagate bench foundation`)\n\n\
         Measured on {date} on this machine (2 cores), {profile} build, embedded SQLite, in-process simulated \
         network; medians of {runs} runs.\n\n\
         | figure | value | target |\n|---|---|---|\n\
         | process start → health SERVING, empty data directory (creates + migrates the database) | {cold_ms:.1} ms | < 300 ms |\n\
         | process start → health SERVING, existing database | {warm_ms:.1} ms | < 300 ms |\n\
         | idle RSS of `wagate serve` | {idle_mib:.1} MiB | < 30 MB |\n\
         | RSS added per idle connected simulated session ({sessions} sessions; {connected} connected) | {per_kib:.1} KiB | < 64 KB |\n\n\
         RSS before the sessions: {before_mib:.1} MiB; after: {after_mib:.1} MiB. Linking {sessions} sessions \
         (create, connect, scan, connected) took {link_s:.1} s with 16 concurrent callers.\n",
        date = crate::bench::today(),
        profile = if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
        runs = options.runs,
        sessions = options.sessions,
        per_kib = per_session / 1024.0,
        before_mib = before as f64 / 1024.0,
        after_mib = after as f64 / 1024.0,
        link_s = link_time.as_secs_f64(),
    );
    println!("\n{section}");
    write_section(&options.output, "foundation", &section)?;
    if connected != options.sessions {
        bail!(
            "only {connected} of {} sessions connected",
            options.sessions
        );
    }
    Ok(())
}

pub struct WhatsappOptions {
    pub sessions: usize,
    /// A PostgreSQL server where the bench may create (and drop) a database.
    pub postgres_url: Option<String>,
    pub output: PathBuf,
}

/// RSS per idle whatsapp-engine session (Bot built and running, WhatsApp
/// unreachable so it waits between retries), with each credential store.
pub async fn whatsapp_sessions(options: WhatsappOptions) -> anyhow::Result<()> {
    let base = std::env::temp_dir().join(format!("wagate-bench-wa-{}", std::process::id()));
    let mut rows = Vec::new();
    let sqlite = measure_whatsapp(&base.join("sqlite"), options.sessions, None).await?;
    rows.push(("SQLite (one file per session)", sqlite));
    if let Some(admin_url) = &options.postgres_url {
        let (base_url, name) = scratch_database(admin_url, "wa").await?;
        let url = format!("{base_url}/{name}");
        let result = measure_whatsapp(&base.join("postgres"), options.sessions, Some(&url)).await;
        drop_database(admin_url, &name).await;
        rows.push(("PostgreSQL (shared tables)", result?));
    }
    let _ = std::fs::remove_dir_all(&base);
    let mut table = String::from(
        "| credential store | RSS before | RSS with sessions | per session | vs ~440 KiB (library's idle SQLite figure) |\n|---|---|---|---|---|\n",
    );
    for (store, (before, after)) in &rows {
        let per = (after.saturating_sub(*before)) as f64 / options.sessions as f64;
        let _ = writeln!(
            table,
            "| {store} | {:.1} MiB | {:.1} MiB | {per:.0} KiB | {:.2}x (target <= 1.5x) |",
            *before as f64 / 1024.0,
            *after as f64 / 1024.0,
            per / 440.0
        );
    }
    let section = format!(
        "## whatsapp engine: memory per idle session (`wagate bench whatsapp-sessions`)\n\n\
         Measured on {date}, {profile} build: {n} sessions connected with the whatsapp engine while WhatsApp is \
         unreachable (each whatsapp-rust Bot built, spawned and waiting between retries), RSS of the whole \
         `wagate serve` process before connecting and after the clients settle.\n\n{table}",
        date = today(),
        profile = if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
        n = options.sessions,
    );
    println!("\n{section}");
    write_section(&options.output, "whatsapp-sessions", &section)
}

/// Returns RSS in KiB before and after `sessions` idle whatsapp sessions.
async fn measure_whatsapp(
    dir: &Path,
    sessions: usize,
    database_url: Option<&str>,
) -> anyhow::Result<(u64, u64)> {
    let mut env = vec![
        ("WAGATE_ENGINE", "whatsapp"),
        ("WAGATE_CONNECT_WAIT", "1ms"),
        ("WAGATE_RECONNECT_STAGGER", "0ms"),
    ];
    if let Some(url) = database_url {
        env.push(("WAGATE_DATABASE_URL", url));
    }
    let (server, started) = spawn_server_with(dir, &env)?;
    let (_, channel) = time_to_serving(&server, started).await?;
    let pid = server.child.id().context("pid")?;
    let mut client = SessionServiceClient::new(channel);
    let mut names = Vec::new();
    for i in 0..sessions {
        let session = client
            .create_session(authed(pb::CreateSessionRequest {
                session: Some(pb::Session {
                    display_name: format!("bench {i}"),
                    phone_number: format!("+1555{i:07}"),
                    ..Default::default()
                }),
            }))
            .await?
            .into_inner();
        names.push(session.name);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = rss_kib(pid)?;
    for name in &names {
        client
            .connect_session(authed(pb::ConnectSessionRequest { name: name.clone() }))
            .await?;
    }
    tokio::time::sleep(Duration::from_secs(8)).await;
    let after = rss_kib(pid)?;
    println!("{} sessions: RSS {before} KiB -> {after} KiB", sessions);
    Ok((before, after))
}

/// Replaces (or appends) the section between `<!-- bench:NAME -->` markers.
pub fn write_section(path: &Path, name: &str, body: &str) -> anyhow::Result<()> {
    let begin = format!("<!-- bench:{name} -->");
    let end = format!("<!-- /bench:{name} -->");
    let existing = std::fs::read_to_string(path).unwrap_or_else(|_| {
        "# Benchmarks\n\nFigures printed and written by `wagate bench …`. Regenerate with the command named in each \
         section (release build). Ratios measured in the same run are what to compare; absolute numbers depend on \
         the machine.\n"
            .to_owned()
    });
    let block = format!("{begin}\n{body}{end}\n");
    let updated = match (existing.find(&begin), existing.find(&end)) {
        (Some(start), Some(stop)) => format!(
            "{}{}{}",
            &existing[..start],
            block,
            &existing[stop + end.len()..].trim_start_matches('\n')
        ),
        _ => format!("{}\n{block}", existing.trim_end()),
    };
    std::fs::write(path, updated).with_context(|| format!("write {}", path.display()))
}

/// Today's date (UTC), YYYY-MM-DD, without a date library.
pub fn today() -> String {
    let days = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() / 86_400)
        .unwrap_or(0) as i64;
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

/// Creates a scratch database on the PostgreSQL server of `admin_url`;
/// returns the server URL (without the database) and the database name.
async fn scratch_database(admin_url: &str, label: &str) -> anyhow::Result<(String, String)> {
    use sqlx::Connection as _;
    let name = format!("wagate_bench_{label}_{}", std::process::id());
    let mut admin = sqlx::PgConnection::connect(admin_url)
        .await
        .context("connect to --postgres-url")?;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await?;
    let (base_url, _) = admin_url
        .rsplit_once('/')
        .context("--postgres-url needs a database path")?;
    Ok((base_url.to_owned(), name))
}

async fn drop_database(admin_url: &str, name: &str) {
    use sqlx::Connection as _;
    if let Ok(mut admin) = sqlx::PgConnection::connect(admin_url).await {
        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
        )))
        .execute(&mut admin)
        .await;
    }
}
