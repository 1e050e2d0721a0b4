//! `wagate-gateway bench`: REST throughput through the gateway vs the
//! gateway's own `/healthz` vs direct gRPC, in the same run, with 64
//! concurrent callers. Starts a real `wagate serve` process (sim engine,
//! embedded SQLite) and the gateway in this process on loopback, and writes
//! the `gateway` section of BENCHMARKS.md.
//!
//! The RPC is SendMessage (accept = durably queued) when the server
//! implements it, else GetSession — the report says which.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use http::Method;
use tokio::process::{Child, Command};
use tonic::transport::{Channel, Endpoint};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use wagate_proto::v1 as pb;
use wagate_proto::v1::message_service_client::MessageServiceClient;
use wagate_proto::v1::session_service_client::SessionServiceClient;

use crate::client::HttpClient;
use crate::{GatewayOptions, UpstreamTarget};

const TOKEN: &str = "bench-admin-token-0123456789abcdef";

pub struct BenchOptions {
    /// The `wagate` server binary.
    pub server_bin: PathBuf,
    pub concurrency: usize,
    /// Length of each measurement.
    pub duration: Duration,
    /// Rounds of the three measurements; the median round is reported.
    pub rounds: usize,
    /// BENCHMARKS.md to write the `gateway` section to.
    pub output: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rpc {
    SendMessage,
    GetSession,
}

impl Rpc {
    fn label(self) -> &'static str {
        match self {
            Rpc::SendMessage => "SendMessage",
            Rpc::GetSession => "GetSession",
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct Measurement {
    pub requests: u64,
    pub errors: u64,
    pub per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

struct ServerProcess {
    child: Child,
    dir: PathBuf,
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs the benchmark and returns the markdown section it wrote.
pub async fn run(options: BenchOptions) -> anyhow::Result<String> {
    let dir = std::env::temp_dir().join(format!("wagate-gateway-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let grpc_addr = format!("127.0.0.1:{}", free_port()?);
    let child = Command::new(&options.server_bin)
        .arg("serve")
        .env("WAGATE_GRPC_ADDR", &grpc_addr)
        .env("WAGATE_DATA_DIR", &dir)
        .env("WAGATE_ADMIN_TOKEN", TOKEN)
        .env("WAGATE_ENGINE", "sim")
        .env("WAGATE_METRICS_ADDR", "off")
        .env("WAGATE_HTTP_ADDR", "off")
        .env("WAGATE_GATEWAY", "false")
        .env("WAGATE_LOG", "warn")
        // Measure the accept path, not the pacing: no per-session rate limit.
        .env("WAGATE_QUEUE_RATE_LIMIT", "1000000000")
        .env("WAGATE_MAX_CONCURRENT_REQUESTS", "4096")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {}", options.server_bin.display()))?;
    let _server = ServerProcess { child, dir };
    let channel = Endpoint::from_shared(format!("http://{grpc_addr}"))?
        .tcp_nodelay(true)
        .connect_lazy();
    wait_serving(channel.clone()).await?;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let http_addr = listener.local_addr()?;
    let gateway = crate::router(GatewayOptions::new(UpstreamTarget::Url(format!(
        "http://{grpc_addr}"
    ))))?;
    let gateway_task = tokio::spawn(async move { axum::serve(listener, gateway).await });

    let session = prepare_session(channel.clone()).await?;
    let client = HttpClient::new();
    let base = format!("http://{http_addr}");
    let rpc = choose_rpc(&client, &base, &session).await?;
    println!(
        "wagate-gateway bench: {} through the gateway vs /healthz vs direct gRPC; {} callers, {:?} per measurement, {} rounds",
        rpc.label(),
        options.concurrency,
        options.duration,
        options.rounds
    );

    let mut rounds = Vec::new();
    for round in 0..options.rounds.max(1) {
        let healthz = measure(options.concurrency, options.duration, {
            let (client, url) = (client.clone(), format!("{base}/healthz"));
            move || {
                let (client, url) = (client.clone(), url.clone());
                async move { rest_ok(&client, Method::GET, &url, "").await }
            }
        })
        .await;
        let rest = measure(options.concurrency, options.duration, {
            let (client, base, session) = (client.clone(), base.clone(), session.clone());
            move || {
                let (client, base, session) = (client.clone(), base.clone(), session.clone());
                async move { rest_call(&client, &base, &session, rpc).await }
            }
        })
        .await;
        let grpc = measure(options.concurrency, options.duration, {
            let (channel, session) = (channel.clone(), session.clone());
            move || {
                let (channel, session) = (channel.clone(), session.clone());
                async move { grpc_call(channel, &session, rpc).await }
            }
        })
        .await;
        println!(
            "round {}: /healthz {:.0}/s, REST {} {:.0}/s, gRPC {} {:.0}/s, REST/gRPC {:.2}",
            round + 1,
            healthz.per_second,
            rpc.label(),
            rest.per_second,
            rpc.label(),
            grpc.per_second,
            rest.per_second / grpc.per_second.max(1.0)
        );
        rounds.push((healthz, rest, grpc));
    }
    gateway_task.abort();
    rounds.sort_by(|a, b| {
        let ratio =
            |r: &(Measurement, Measurement, Measurement)| r.1.per_second / r.2.per_second.max(1.0);
        ratio(a).total_cmp(&ratio(b))
    });
    let (healthz, rest, grpc) = rounds[rounds.len() / 2].clone();
    let section = report(&options, rpc, &healthz, &rest, &grpc);
    println!("{section}");
    if let Some(path) = &options.output {
        write_section(path, "gateway", &section)?;
        println!("wrote the gateway section of {}", path.display());
    }
    Ok(section)
}

fn report(
    options: &BenchOptions,
    rpc: Rpc,
    healthz: &Measurement,
    rest: &Measurement,
    grpc: &Measurement,
) -> String {
    let ratio = rest.per_second / grpc.per_second.max(1.0);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "## REST gateway: transcoding throughput (`wagate-gateway bench`)\n"
    );
    let what = match rpc {
        Rpc::SendMessage => "SendMessage (accepted = durably queued)".to_owned(),
        Rpc::GetSession => "GetSession — SendMessage was not implemented by the server at the time of this run, so a unary session read stands in for it".to_owned(),
    };
    let _ = writeln!(
        out,
        "RPC: {what}. {} concurrent callers, {} s per measurement, median of {} rounds (by REST/gRPC ratio); \
         `wagate serve` (release, sim engine, embedded SQLite) as a separate process, the gateway and the load \
         generator in one process, all on loopback on this machine ({} cores). REST over HTTP/1.1 keep-alive; gRPC over one HTTP/2 channel.\n",
        options.concurrency,
        options.duration.as_secs_f64(),
        options.rounds.max(1),
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0)
    );
    let _ = writeln!(out, "| path | requests/s | p50 | p99 | errors |");
    let _ = writeln!(out, "|---|---|---|---|---|");
    for (label, m) in [
        (
            "gateway `GET /healthz` (HTTP only, no upstream)".to_owned(),
            healthz,
        ),
        (format!("REST {} through the gateway", rpc.label()), rest),
        (format!("direct gRPC {}", rpc.label()), grpc),
    ] {
        let _ = writeln!(
            out,
            "| {label} | {:.0} | {:.2} ms | {:.2} ms | {} |",
            m.per_second, m.p50_ms, m.p99_ms, m.errors
        );
    }
    let _ = writeln!(
        out,
        "\nREST/gRPC throughput ratio: **{ratio:.2}** (transcoding costs {:.0}% of direct gRPC throughput; target < 25%). \
         REST/healthz ratio: {:.2}.",
        (1.0 - ratio) * 100.0,
        rest.per_second / healthz.per_second.max(1.0)
    );
    out
}

async fn measure<F, Fut>(concurrency: usize, duration: Duration, call: F) -> Measurement
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let started = Instant::now();
    let deadline = started + duration;
    let mut workers = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        let call = call.clone();
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(4096);
            let mut errors = 0u64;
            // Bounded by time and by count.
            for _ in 0..10_000_000u64 {
                let sent = Instant::now();
                if sent >= deadline {
                    break;
                }
                if !call().await {
                    errors += 1;
                }
                latencies.push(sent.elapsed().as_micros() as u32);
            }
            (latencies, errors)
        }));
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    for worker in workers {
        if let Ok((mut worker_latencies, worker_errors)) = worker.await {
            latencies.append(&mut worker_latencies);
            errors += worker_errors;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort_unstable();
    let percentile = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .map(|micros| f64::from(*micros) / 1000.0)
            .unwrap_or(0.0)
    };
    Measurement {
        requests: latencies.len() as u64,
        errors,
        per_second: latencies.len() as f64 / elapsed,
        p50_ms: percentile(0.5),
        p99_ms: percentile(0.99),
    }
}

async fn rest_ok(client: &HttpClient, method: Method, url: &str, body: &'static str) -> bool {
    let headers = [
        (
            "authorization",
            concat!("Bearer ", "bench-admin-token-0123456789abcdef"),
        ),
        ("content-type", "application/json"),
    ];
    matches!(client.call(method, url, &headers, body).await, Ok(r) if r.status.is_success())
}

async fn rest_call(client: &HttpClient, base: &str, session: &str, rpc: Rpc) -> bool {
    match rpc {
        Rpc::SendMessage => {
            rest_ok(
                client,
                Method::POST,
                &format!("{base}/v1/{session}/messages"),
                r#"{"message":{"chat":"+14155550199","text":"bench"}}"#,
            )
            .await
        }
        Rpc::GetSession => rest_ok(client, Method::GET, &format!("{base}/v1/{session}"), "").await,
    }
}

async fn grpc_call(channel: Channel, session: &str, rpc: Rpc) -> bool {
    match rpc {
        Rpc::SendMessage => MessageServiceClient::new(channel)
            .send_message(admin(pb::SendMessageRequest {
                parent: session.to_owned(),
                message: Some(pb::Message {
                    chat: "+14155550199".into(),
                    content: Some(pb::message::Content::Text("bench".into())),
                    ..Default::default()
                }),
                ..Default::default()
            }))
            .await
            .is_ok(),
        Rpc::GetSession => SessionServiceClient::new(channel)
            .get_session(admin(pb::GetSessionRequest {
                name: session.to_owned(),
            }))
            .await
            .is_ok(),
    }
}

fn admin<T>(message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {TOKEN}").parse().expect("valid header"),
    );
    request
}

/// Creates a session with account protection off and links it in the simulator.
async fn prepare_session(channel: Channel) -> anyhow::Result<String> {
    let mut sessions = SessionServiceClient::new(channel.clone());
    let session = sessions
        .create_session(admin(pb::CreateSessionRequest {
            session: Some(pb::Session {
                display_name: "bench".into(),
                phone_number: "+14155550100".into(),
                account_protection: Some(false),
                ..Default::default()
            }),
        }))
        .await
        .context("CreateSession")?
        .into_inner();
    let connected = sessions
        .connect_session(admin(pb::ConnectSessionRequest {
            name: session.name.clone(),
        }))
        .await
        .context("ConnectSession")?
        .into_inner();
    if let Some(qr) = connected.qr_code {
        let mut simulator =
            wagate_proto::v1::simulator_service_client::SimulatorServiceClient::new(channel);
        simulator
            .scan_qr(admin(pb::ScanQrRequest {
                qr_code: qr.code,
                phone_number: "+14155550100".into(),
            }))
            .await
            .context("ScanQr")?;
    }
    Ok(session.name)
}

async fn choose_rpc(client: &HttpClient, base: &str, session: &str) -> anyhow::Result<Rpc> {
    // The session may still be connecting after the scan: retry a little.
    for _ in 0..50 {
        if rest_call(client, base, session, Rpc::SendMessage).await {
            return Ok(Rpc::SendMessage);
        }
        let probe = client
            .call(
                Method::POST,
                &format!("{base}/v1/{session}/messages"),
                &[("authorization", &format!("Bearer {TOKEN}"))],
                r#"{"message":{"chat":"+14155550199","text":"probe"}}"#,
            )
            .await?;
        if probe.status.as_u16() == 501 {
            return Ok(Rpc::GetSession);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("SendMessage through the gateway keeps failing; cannot benchmark it")
}

async fn wait_serving(channel: Channel) -> anyhow::Result<()> {
    let mut health = HealthClient::new(channel);
    for _ in 0..600 {
        let status = health
            .check(HealthCheckRequest {
                service: String::new(),
            })
            .await
            .map(|r| r.into_inner().status);
        if status.ok() == Some(ServingStatus::Serving as i32) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("the server did not become SERVING within 30 s")
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Replaces (or appends) the section between `<!-- bench:NAME -->` markers.
pub fn write_section(path: &Path, name: &str, body: &str) -> anyhow::Result<()> {
    let begin = format!("<!-- bench:{name} -->");
    let end = format!("<!-- /bench:{name} -->");
    let existing = std::fs::read_to_string(path).unwrap_or_else(|_| "# Benchmarks\n".to_owned());
    let block = format!("{begin}\n{}\n{end}", body.trim_end());
    let updated = match (existing.find(&begin), existing.find(&end)) {
        (Some(start), Some(stop)) if stop > start => {
            format!(
                "{}{block}{}",
                &existing[..start],
                &existing[stop + end.len()..]
            )
        }
        _ => format!("{}\n{block}\n", existing.trim_end()),
    };
    std::fs::write(path, updated).with_context(|| format!("writing {}", path.display()))
}

/// The `wagate` binary next to this executable (both are built into one target dir).
pub fn default_server_bin() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join("wagate")))
        .unwrap_or_else(|| PathBuf::from("wagate"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_are_replaced_between_markers() {
        let path = std::env::temp_dir().join(format!("bench-md-{}", rand::random::<u64>()));
        std::fs::write(
            &path,
            "# B\n<!-- bench:other -->\nx\n<!-- /bench:other -->\n",
        )
        .unwrap();
        write_section(&path, "gateway", "first").unwrap();
        write_section(&path, "gateway", "second").unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("<!-- bench:other -->\nx\n<!-- /bench:other -->"));
        assert!(text.contains("<!-- bench:gateway -->\nsecond\n<!-- /bench:gateway -->"));
        assert!(!text.contains("first"));
        let _ = std::fs::remove_file(path);
    }
}
