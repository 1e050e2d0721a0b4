//! `wagate bench events`: live subscribers' throughput and lag while events
//! are appended at a steady rate, webhook delivery throughput across many
//! sessions to a fast loopback receiver, and the server's RSS with a stalled
//! subscriber far behind — on SQLite and PostgreSQL, against a real
//! `wagate serve` process. Events are appended straight into the database by
//! this process, as another replica would (the server's log tailer polls
//! every 2 ms here), so lag includes that hop.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use tonic::transport::{Channel, Endpoint};
use wagate_proto::v1 as pb;
use wagate_proto::v1::event::Payload;
use wagate_proto::v1::event_service_client::EventServiceClient;
use wagate_proto::v1::session_service_client::SessionServiceClient;

use super::{Spawned, authed, rss_kib, spawn_server_with, time_to_serving, today, write_section};
use crate::event::record::{EventDraft, to_new_events};
use crate::store::{NewEvent, Store};

pub struct EventsOptions {
    pub subscribers: usize,
    /// Events appended per second.
    pub rate: u64,
    pub seconds: u64,
    pub webhook_sessions: usize,
    /// Webhook events per session.
    pub webhook_events: i64,
    /// Events behind for the stalled-subscriber RSS figure.
    pub backlog: i64,
    pub postgres_url: Option<String>,
    pub output: PathBuf,
}

struct Figures {
    per_subscriber: f64,
    delivered_all: bool,
    lag_p50_ms: f64,
    lag_p99_ms: f64,
    webhooks_per_second: f64,
    /// Before, half the backlog behind, all of it behind.
    rss_kib: [u64; 3],
}

fn now_ms() -> i64 {
    crate::store::now_ms()
}

fn sample_event(session: i64, webhook: bool) -> NewEvent {
    let draft = EventDraft {
        event_type: "presence.update",
        payload: Payload::Presence(pb::PresencePayload {
            chat: "14155550100@s.whatsapp.net".into(),
            presence: pb::PresenceState::Composing as i32,
            ..Default::default()
        }),
        chat: None,
    };
    let mut event = to_new_events(session, None, vec![draft]).remove(0);
    event.webhook = webhook;
    event
}

async fn create_session(
    channel: Channel,
    number: usize,
    webhook: Option<&str>,
) -> anyhow::Result<i64> {
    let session = SessionServiceClient::new(channel)
        .create_session(authed(pb::CreateSessionRequest {
            session: Some(pb::Session {
                display_name: format!("bench {number}"),
                phone_number: format!("+1415555{number:04}"),
                webhook_url: webhook.unwrap_or_default().into(),
                webhook_enabled: webhook.is_some(),
                ..Default::default()
            }),
        }))
        .await
        .context("create a session")?
        .into_inner();
    Ok(session.name["sessions/".len()..].parse()?)
}

/// A loopback receiver answering 200 at once; counts requests.
async fn start_receiver() -> anyhow::Result<(String, Arc<AtomicU64>)> {
    let count = Arc::new(AtomicU64::new(0));
    let counter = count.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move || {
            counter.fetch_add(1, Ordering::Relaxed);
            async { "ok" }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hook", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok((url, count))
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 * q) as usize).min(sorted.len() - 1)]
}

async fn subscribers_and_lag(
    server: &Spawned,
    store: &Store,
    session: i64,
    options: &EventsOptions,
) -> anyhow::Result<(f64, bool, f64, f64)> {
    let mut channels = Vec::new();
    for _ in 0..4 {
        channels.push(
            Endpoint::from_shared(format!("http://{}", server.addr))?
                .connect()
                .await?,
        );
    }
    let expected = options.rate * options.seconds;
    let mut tasks = Vec::new();
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::channel(options.subscribers);
    for i in 0..options.subscribers {
        let channel = channels[i % channels.len()].clone();
        let ready = ready_tx.clone();
        tasks.push(tokio::spawn(async move {
            let mut stream = EventServiceClient::new(channel)
                .subscribe_events(authed(pb::SubscribeEventsRequest {
                    parent: format!("sessions/{session}"),
                    ..Default::default()
                }))
                .await?
                .into_inner();
            let _ = ready.send(()).await;
            let mut lags = Vec::with_capacity(expected as usize);
            let deadline =
                tokio::time::Instant::now() + Duration::from_secs(options_timeout(expected));
            while (lags.len() as u64) < expected {
                let Ok(item) = tokio::time::timeout_at(deadline, stream.message()).await else {
                    break;
                };
                let Some(item) = item? else { break };
                if let Some(pb::subscribe_events_response::Kind::Event(event)) = item.kind {
                    let created = event
                        .create_time
                        .map_or(0, |t| t.seconds * 1000 + i64::from(t.nanos) / 1_000_000);
                    lags.push((now_ms() - created) as f64);
                }
            }
            anyhow::Ok(lags)
        }));
    }
    drop(ready_tx);
    for _ in 0..options.subscribers {
        ready_rx
            .recv()
            .await
            .context("a subscriber failed to start")?;
    }
    // Steady appends: one batch every 10 ms.
    let per_tick = (options.rate / 100).max(1) as i64;
    let started = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    let mut appended = 0u64;
    while appended < expected {
        tick.tick().await;
        let mut event = sample_event(session, false);
        event.create_time = now_ms();
        let count = per_tick.min((expected - appended) as i64);
        store.append_copies(&event, count).await?;
        appended += count as u64;
    }
    let window = started.elapsed();
    let mut all = Vec::new();
    let mut complete = true;
    let mut rates = Vec::new();
    for task in tasks {
        let lags = task.await??;
        complete &= lags.len() as u64 == expected;
        rates.push(lags.len() as f64 / window.as_secs_f64());
        all.extend(lags);
    }
    all.sort_by(|a, b| a.total_cmp(b));
    let per_subscriber = rates.iter().sum::<f64>() / rates.len().max(1) as f64;
    Ok((
        per_subscriber,
        complete,
        percentile(&all, 0.5),
        percentile(&all, 0.99),
    ))
}

fn options_timeout(expected: u64) -> u64 {
    30 + expected / 1000
}

async fn webhook_throughput(
    channel: Channel,
    store: &Store,
    options: &EventsOptions,
) -> anyhow::Result<f64> {
    let (url, received) = start_receiver().await?;
    let mut sessions = Vec::new();
    for i in 0..options.webhook_sessions {
        sessions.push(create_session(channel.clone(), i + 1, Some(&url)).await?);
    }
    // Dispatchers start within the supervisor's period and begin at the head.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let total = options.webhook_events as u64 * sessions.len() as u64;
    let started = Instant::now();
    for session in &sessions {
        let mut event = sample_event(*session, true);
        event.create_time = now_ms();
        store.append_copies(&event, options.webhook_events).await?;
    }
    let deadline = Instant::now() + Duration::from_secs(300);
    while received.load(Ordering::Relaxed) < total && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let done = received.load(Ordering::Relaxed);
    Ok(done as f64 / started.elapsed().as_secs_f64())
}

/// The server's RSS with one stalled subscriber: before, with half the
/// backlog behind it, and with all of it. Flat = the second half adds nothing.
async fn stalled_rss(
    server: &Spawned,
    channel: Channel,
    store: &Store,
    session: i64,
    backlog: i64,
) -> anyhow::Result<[u64; 3]> {
    let pid = server.child.id().context("server pid")?;
    let head = store.event_head().await?;
    let _stalled = EventServiceClient::new(channel.clone())
        .subscribe_events(authed(pb::SubscribeEventsRequest {
            after_cursor: Some(head),
            ..Default::default()
        }))
        .await?
        .into_inner();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = rss_kib(pid)?;
    let mut written = 0;
    let mut at_half = before;
    for target in [backlog / 2, backlog] {
        while written < target {
            let mut event = sample_event(session, false);
            event.create_time = now_ms();
            let count = 100_000.min(target - written);
            store.append_copies(&event, count).await?;
            written += count;
        }
        wait_until_read(channel.clone(), store.event_head().await?).await?;
        tokio::time::sleep(Duration::from_secs(3)).await;
        if target < backlog {
            at_half = rss_kib(pid)?;
        }
    }
    Ok([before, at_half, rss_kib(pid)?])
}

/// Waits (bounded) until the server has read the log up to `head`.
async fn wait_until_read(channel: Channel, head: i64) -> anyhow::Result<()> {
    let mut events = EventServiceClient::new(channel);
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        let newest = events
            .list_events(authed(pb::ListEventsRequest {
                parent: "sessions/-".into(),
                page_size: 1,
                order_by: "cursor desc".into(),
                filter: format!("cursor > {}", head - 1),
                ..Default::default()
            }))
            .await?
            .into_inner();
        if !newest.events.is_empty() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!("the server did not read the log up to {head} within 120 s")
}

async fn run_backend(
    label: &str,
    database_url: Option<&str>,
    options: &EventsOptions,
) -> anyhow::Result<Figures> {
    let dir = std::env::temp_dir().join(format!(
        "wagate-bench-events-{}-{label}",
        std::process::id()
    ));
    let sqlite_url = format!("sqlite://{}", dir.join("wagate.db").display());
    let url = database_url.unwrap_or(&sqlite_url).to_owned();
    let env = [
        ("WAGATE_ENGINE", "sim"),
        ("WAGATE_DATABASE_URL", url.as_str()),
        ("WAGATE_EVENTS_POLL_INTERVAL", "2ms"),
        ("WAGATE_ALLOW_PRIVATE_URLS", "true"),
    ];
    let (server, started) = spawn_server_with(&dir, &env)?;
    let (_, channel) = time_to_serving(&server, started).await?;
    let store = Store::connect(&url, 4).await?;
    let session = create_session(channel.clone(), 0, None).await?;

    let (per_subscriber, delivered_all, lag_p50_ms, lag_p99_ms) =
        subscribers_and_lag(&server, &store, session, options).await?;
    println!(
        "{label}: {} subscribers, {:.0} events/s each (all delivered: {delivered_all}), lag p50 {lag_p50_ms:.1} ms, p99 {lag_p99_ms:.1} ms",
        options.subscribers, per_subscriber
    );
    let webhooks_per_second = webhook_throughput(channel.clone(), &store, options).await?;
    println!(
        "{label}: webhooks {webhooks_per_second:.0} deliveries/s across {} sessions",
        options.webhook_sessions
    );
    let rss_kib = stalled_rss(&server, channel, &store, session, options.backlog).await?;
    println!(
        "{label}: RSS {} MiB before, {} MiB with a stalled subscriber {} events behind, {} MiB {} behind",
        rss_kib[0] / 1024,
        rss_kib[1] / 1024,
        options.backlog / 2,
        rss_kib[2] / 1024,
        options.backlog
    );
    store.close().await;
    drop(server);
    Ok(Figures {
        per_subscriber,
        delivered_all,
        lag_p50_ms,
        lag_p99_ms,
        webhooks_per_second,
        rss_kib,
    })
}

pub async fn events(options: EventsOptions) -> anyhow::Result<()> {
    let mut rows = vec![("SQLite", run_backend("sqlite", None, &options).await?)];
    if let Some(admin_url) = &options.postgres_url {
        let (base_url, name) = super::scratch_database(admin_url, "events").await?;
        let result = run_backend("postgres", Some(&format!("{base_url}/{name}")), &options).await;
        super::drop_database(admin_url, &name).await;
        rows.push(("PostgreSQL", result?));
    }
    let mut body = format!(
        "## Events: subscribers, webhooks, stalled subscriber (`wagate bench events`)\n\n\
         Measured on {} (release build, 2 cores): a `wagate serve` process; events appended straight into its \
         database by the bench at {} events/s for {} s (as another replica would; the server's tailer polls every \
         2 ms), {} live gRPC subscribers on one session; lag = receipt time − event time (ms resolution). Webhooks: \
         {} sessions × {} events to a loopback receiver answering 200. Stalled subscriber: one subscriber that reads \
         nothing while {} events are appended after its cursor; RSS before, with half of them behind, with all \
         (the in-memory ring of the newest events and SQLite's per-connection page caches fill up to their \
         bounds; flat means the second half adds nothing). Targets: 5,000 events/s per subscriber with p99 \
         lag < 50 ms; ≥ 2,000 webhook deliveries/s; flat RSS.\n\n\
         | Store | events/s per subscriber | all delivered | lag p50 | lag p99 | webhook deliveries/s | RSS before → half behind → all behind |\n\
         |---|---|---|---|---|---|---|\n",
        today(),
        options.rate,
        options.seconds,
        options.subscribers,
        options.webhook_sessions,
        options.webhook_events,
        options.backlog,
    );
    for (label, f) in &rows {
        body.push_str(&format!(
            "| {label} | {:.0} | {} | {:.1} ms | {:.1} ms | {:.0} | {:.1} → {:.1} → {:.1} MiB |\n",
            f.per_subscriber,
            if f.delivered_all { "yes" } else { "no" },
            f.lag_p50_ms,
            f.lag_p99_ms,
            f.webhooks_per_second,
            f.rss_kib[0] as f64 / 1024.0,
            f.rss_kib[1] as f64 / 1024.0,
            f.rss_kib[2] as f64 / 1024.0,
        ));
    }
    body.push('\n');
    write_section(&options.output, "events", &body)?;
    println!("wrote the events section of {}", options.output.display());
    Ok(())
}
