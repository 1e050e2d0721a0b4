//! `wagate bench send`: SendMessage accept throughput and latency with
//! concurrent callers, against the server's own `grpc.health.v1.Health/Check`
//! throughput measured in the same run (the ceiling), on SQLite and PostgreSQL.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;
use wagate_proto::v1 as pb;
use wagate_proto::v1::message_service_client::MessageServiceClient;
use wagate_proto::v1::simulator_service_client::SimulatorServiceClient;

use super::{authed, link_sessions, spawn_server_with, time_to_serving, today, write_section};

pub struct SendOptions {
    pub callers: usize,
    pub duration: Duration,
    /// Rounds of ceiling then accept on each server; the median ratio counts.
    pub rounds: usize,
    pub postgres_url: Option<String>,
    pub output: PathBuf,
}

/// Calls per second and latency percentiles of one measurement, and the
/// server's CPU time per call (robust where the machine is shared: it does
/// not count time the server waited for the CPU).
struct Figures {
    per_second: f64,
    p50: Duration,
    p99: Duration,
    server_cpu_per_call: Duration,
    /// The same for this process, the callers (they share the machine).
    client_cpu_per_call: Duration,
}

/// Runs `call` from `callers` tasks over a few shared connections for `duration`.
async fn measure<F, Fut>(
    server_pid: u32,
    channels: &[Channel],
    callers: usize,
    duration: Duration,
    call: F,
) -> anyhow::Result<Figures>
where
    F: Fn(Channel, usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send,
{
    let call = Arc::new(call);
    let cpu_before = super::cpu_time(server_pid)?;
    let client_cpu_before = super::cpu_time(std::process::id())?;
    let deadline = Instant::now() + duration;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for caller in 0..callers {
        let channel = channels[caller % channels.len()].clone();
        let call = call.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut n = 0;
            while Instant::now() < deadline {
                let begin = Instant::now();
                call(channel.clone(), caller * 1_000_000 + n).await?;
                latencies.push(begin.elapsed());
                n += 1;
            }
            anyhow::Ok(latencies)
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await??);
    }
    let elapsed = started.elapsed();
    let server_cpu = super::cpu_time(server_pid)?.saturating_sub(cpu_before);
    let client_cpu = super::cpu_time(std::process::id())?.saturating_sub(client_cpu_before);
    all.sort();
    let at = |q: f64| all[((all.len() as f64 * q) as usize).min(all.len() - 1)];
    Ok(Figures {
        per_second: all.len() as f64 / elapsed.as_secs_f64(),
        p50: at(0.50),
        p99: at(0.99),
        server_cpu_per_call: server_cpu / all.len().max(1) as u32,
        client_cpu_per_call: client_cpu / all.len().max(1) as u32,
    })
}

/// What the session's queue worker does while the callers send.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Worker {
    /// Default account protection: one message out per 5 s, so the
    /// measurement is the accept path alone (a deployment's default).
    Paced,
    /// Protection off: the worker sends as fast as the network takes
    /// messages, each send a few more writes on the same database.
    Draining,
}

impl Worker {
    fn describe(self) -> &'static str {
        match self {
            Worker::Paced => "paced (1 per 5 s, default)",
            Worker::Draining => "draining at full speed",
        }
    }
}

/// One server's figures: the round with the median ratio, and every round's ratio.
struct Measured {
    ceiling: Figures,
    accept: Figures,
    ratios: Vec<f64>,
}

async fn run_backend(
    label: &str,
    database_url: Option<&str>,
    options: &SendOptions,
    worker: Worker,
) -> anyhow::Result<Measured> {
    let tag = match worker {
        Worker::Paced => "paced",
        Worker::Draining => "draining",
    };
    let dir = std::env::temp_dir().join(format!(
        "wagate-bench-send-{}-{label}-{tag}",
        std::process::id()
    ));
    let protection = match worker {
        Worker::Paced => "5s",
        Worker::Draining => "0s",
    };
    // The per-session API rate limit (256/min by default) would refuse most calls.
    let mut env = vec![
        ("WAGATE_ENGINE", "sim"),
        ("WAGATE_QUEUE_PROTECTION_INTERVAL", protection),
        ("WAGATE_QUEUE_RATE_LIMIT", "1000000000"),
    ];
    if let Some(url) = database_url {
        env.push(("WAGATE_DATABASE_URL", url));
    }
    let (server, started) = spawn_server_with(&dir, &env)?;
    let (_, channel) = time_to_serving(&server, started).await?;
    link_sessions(channel.clone(), 1).await?;
    SimulatorServiceClient::new(channel.clone())
        .register_account(authed(pb::RegisterAccountRequest {
            account: Some(pb::SimAccount {
                phone_number: "+15559990000".into(),
                ..Default::default()
            }),
        }))
        .await
        .context("register the recipient")?;
    // Four HTTP/2 connections shared by the callers, as a client pool would.
    let mut channels = Vec::new();
    for _ in 0..4 {
        channels.push(
            tonic::transport::Endpoint::from_shared(format!("http://{}", server.addr))?
                .connect()
                .await?,
        );
    }
    let pid = server.child.id().context("server pid")?;
    // Rounds alternate ceiling and accept, so a slow spell of this shared
    // machine lowers one round's pair rather than one side of the ratio.
    let mut rounds = Vec::new();
    for _ in 0..options.rounds {
        let ceiling = measure(
            pid,
            &channels,
            options.callers,
            options.duration,
            |channel, _| async move {
                HealthClient::new(channel)
                    .check(HealthCheckRequest {
                        service: String::new(),
                    })
                    .await?;
                Ok(())
            },
        )
        .await?;
        let accept = measure(
            pid,
            &channels,
            options.callers,
            options.duration,
            |channel, n| async move {
                MessageServiceClient::new(channel)
                    .send_message(authed(pb::SendMessageRequest {
                        parent: "sessions/1".into(),
                        message: Some(pb::Message {
                            chat: "+15559990000".into(),
                            content: Some(pb::message::Content::Text(format!("bench {n}"))),
                            ..Default::default()
                        }),
                        request_id: String::new(),
                    }))
                    .await?;
                Ok(())
            },
        )
        .await?;
        println!(
            "{label} (worker {worker}): Health/Check {:.0}/s (p50 {:?}, p99 {:?}, CPU/call server {:?}, client {:?}); SendMessage accepted {:.0}/s (p50 {:?}, p99 {:?}, CPU/call server {:?}, client {:?}); ratio {:.2}",
            ceiling.per_second,
            ceiling.p50,
            ceiling.p99,
            ceiling.server_cpu_per_call,
            ceiling.client_cpu_per_call,
            accept.per_second,
            accept.p50,
            accept.p99,
            accept.server_cpu_per_call,
            accept.client_cpu_per_call,
            accept.per_second / ceiling.per_second,
            worker = worker.describe(),
        );
        rounds.push((ceiling, accept));
    }
    let ratio = |(c, a): &(Figures, Figures)| a.per_second / c.per_second;
    rounds.sort_by(|x, y| ratio(x).total_cmp(&ratio(y)));
    let ratios = rounds.iter().map(ratio).collect();
    let (ceiling, accept) = rounds.swap_remove(rounds.len() / 2);
    drop(server);
    Ok(Measured {
        ceiling,
        accept,
        ratios,
    })
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

pub async fn send(options: SendOptions) -> anyhow::Result<()> {
    let mut rows = Vec::new();
    for worker in [Worker::Paced, Worker::Draining] {
        rows.push((
            "SQLite",
            worker,
            run_backend("sqlite", None, &options, worker).await?,
        ));
        if let Some(admin_url) = &options.postgres_url {
            let (base_url, name) = super::scratch_database(admin_url, "send").await?;
            let url = format!("{base_url}/{name}");
            let result = run_backend("postgres", Some(&url), &options, worker).await;
            super::drop_database(admin_url, &name).await;
            rows.push(("PostgreSQL", worker, result?));
        }
    }
    let mut body = format!(
        "## Send accept throughput\n\n`wagate bench send{}` (release build), {} on {}: {} concurrent callers over 4 HTTP/2 \
         connections for {} s per measurement, one linked simulated session sending text to one recipient. Each server \
         runs {} rounds of Health/Check then SendMessage; the table shows the round with the median ratio, and every \
         round's ratio (this machine is shared, and a slow spell lowers a whole round). Each row is its own \
         server: with the queue worker paced by the default account protection (the accept path alone), and with \
         protection off so the worker sends concurrently at full speed (its writes share the database). The ceiling \
         is the same server's `grpc.health.v1.Health/Check` in the same run. CPU per call is a process's CPU time \
         during the measurement divided by the calls, for the server and for the bench client (which shares the \
         machine's cores, so a costlier call on either side lowers both figures). \
         Target: accept throughput at least half of the ceiling, p99 under 20 ms.\n\n\
         | Store | Queue worker | Health/Check (ceiling) | SendMessage accepted | Accept / ceiling | Rounds' ratios | Accept p50 | Accept p99 | Server CPU per call: Check / Send | Client CPU per call: Check / Send |\n\
         |---|---|---|---|---|---|---|---|---|---|\n",
        if options.postgres_url.is_some() {
            " --postgres-url …"
        } else {
            ""
        },
        today(),
        std::env::consts::ARCH,
        options.callers,
        options.duration.as_secs(),
        options.rounds,
    );
    for (label, worker, measured) in &rows {
        let Measured {
            ceiling,
            accept,
            ratios,
        } = measured;
        let ratios: Vec<String> = ratios.iter().map(|r| format!("{r:.2}")).collect();
        body.push_str(&format!(
            "| {label} | {} | {:.0}/s | {:.0}/s | {:.2} | {} | {} | {} | {:.0} µs / {:.0} µs | {:.0} µs / {:.0} µs |\n",
            worker.describe(),
            ceiling.per_second,
            accept.per_second,
            accept.per_second / ceiling.per_second,
            ratios.join(", "),
            ms(accept.p50),
            ms(accept.p99),
            ceiling.server_cpu_per_call.as_secs_f64() * 1e6,
            accept.server_cpu_per_call.as_secs_f64() * 1e6,
            ceiling.client_cpu_per_call.as_secs_f64() * 1e6,
            accept.client_cpu_per_call.as_secs_f64() * 1e6,
        ));
    }
    body.push('\n');
    write_section(&options.output, "send", &body)?;
    println!("wrote the send section of {}", options.output.display());
    Ok(())
}
