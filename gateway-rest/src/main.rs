//! `wagate-gateway`: the REST/JSON transcoding gateway in front of a wagate
//! gRPC server, and `wagate-gateway bench`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use wagate_gateway::bench::{BenchOptions, default_server_bin};
use wagate_gateway::{CorsOptions, GatewayOptions, JsonOptions, UpstreamTarget};

#[derive(Parser, Debug)]
#[command(
    name = "wagate-gateway",
    version,
    about = "REST/JSON transcoding gateway for the wagate gRPC API"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// The wagate gRPC server, e.g. http://127.0.0.1:50051.
    #[arg(long, env = "WAGATE_GATEWAY_UPSTREAM")]
    upstream: Option<String>,
    /// Address to serve HTTP on.
    #[arg(long, env = "WAGATE_HTTP_ADDR", default_value = "0.0.0.0:8080")]
    listen: SocketAddr,
    /// Largest accepted request body in bytes (larger: 413).
    #[arg(long, env = "WAGATE_GATEWAY_MAX_BODY_BYTES", default_value_t = wagate_gateway::DEFAULT_MAX_BODY_BYTES)]
    max_body_bytes: usize,
    /// Browser origins allowed by CORS, comma-separated (`*` for any); empty: CORS off.
    #[arg(long, env = "WAGATE_GATEWAY_CORS_ORIGINS", value_delimiter = ',')]
    cors_origins: Vec<String>,
    /// Reject unknown JSON fields, enum names and query parameters.
    #[arg(long, env = "WAGATE_GATEWAY_STRICT_JSON")]
    strict_json: bool,
    /// Print fields with default values in responses.
    #[arg(long, env = "WAGATE_GATEWAY_EMIT_UNPOPULATED")]
    emit_unpopulated: bool,
    /// Idle time before an SSE heartbeat comment, e.g. 15s.
    #[arg(long, env = "WAGATE_GATEWAY_SSE_HEARTBEAT", default_value = "15s", value_parser = parse_duration)]
    sse_heartbeat: Duration,
    /// Compatibility APIs to serve next to /v1, comma-separated `name` or
    /// `name=/prefix` (`wasender`, `chatsuite`, `prosendi`, `onsend`,
    /// `saas`), or `none`.
    #[arg(
        long,
        env = "WAGATE_GATEWAY_PROFILES",
        value_delimiter = ',',
        default_value = "wasender"
    )]
    profiles: Vec<String>,
    /// Requests per minute and credential on compatibility endpoints.
    #[arg(long, env = "WAGATE_GATEWAY_PROFILE_RATE_LIMIT", default_value_t = wagate_gateway::DEFAULT_COMPAT_REQUESTS_PER_MINUTE)]
    profile_rate_limit: u32,
    /// Requests one session may have in flight at once on the WasenderAPI
    /// profile (its global concurrent request limit); 0 for no cap.
    #[arg(long, env = "WAGATE_GATEWAY_PROFILE_CONCURRENCY", default_value_t = wagate_gateway::DEFAULT_COMPAT_CONCURRENT_PER_SESSION)]
    profile_concurrency: u32,
    /// Log filter, e.g. info or wagate_gateway=debug.
    #[arg(long, env = "WAGATE_LOG", default_value = "info")]
    log: String,
    /// Log format: pretty or json.
    #[arg(long, env = "WAGATE_LOG_FORMAT", default_value = "pretty")]
    log_format: String,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Throughput of REST through the gateway vs /healthz vs direct gRPC
    /// (starts its own `wagate serve`); writes the `gateway` section of BENCHMARKS.md.
    Bench {
        /// The wagate server binary (default: `wagate` next to this executable).
        #[arg(long)]
        server_bin: Option<PathBuf>,
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
        /// Length of each measurement.
        #[arg(long, default_value = "5s", value_parser = parse_duration)]
        duration: Duration,
        #[arg(long, default_value_t = 3)]
        rounds: usize,
        /// Where to write the section (e.g. BENCHMARKS.md); omit to print only.
        #[arg(long)]
        output: Option<PathBuf>,
    },
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    wagate_gateway::upstream::parse_request_timeout(text)
        .ok_or_else(|| format!("{text:?} is not a duration such as 15s or 500ms"))
}

fn init_logging(filter: &str, format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("wagate-gateway: cannot start the runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(run(cli));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("wagate-gateway: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    if let Some(Command::Bench {
        server_bin,
        concurrency,
        duration,
        rounds,
        output,
    }) = cli.command
    {
        init_logging("warn", "pretty");
        wagate_gateway::bench::run(BenchOptions {
            server_bin: server_bin.unwrap_or_else(default_server_bin),
            concurrency,
            duration,
            rounds,
            output,
        })
        .await?;
        return Ok(());
    }
    init_logging(&cli.log, &cli.log_format);
    let upstream = cli.upstream.ok_or_else(|| {
        anyhow::anyhow!(
            "--upstream (WAGATE_GATEWAY_UPSTREAM) is required, e.g. http://127.0.0.1:50051"
        )
    })?;
    let mut options = GatewayOptions::new(UpstreamTarget::Url(upstream.clone()));
    options.max_body_bytes = cli.max_body_bytes;
    options.json = JsonOptions {
        strict: cli.strict_json,
        emit_unpopulated: cli.emit_unpopulated,
    };
    options.cors = CorsOptions {
        allowed_origins: cli
            .cors_origins
            .into_iter()
            .filter(|o| !o.is_empty())
            .collect(),
        max_age_seconds: 600,
    };
    options.sse_heartbeat = cli.sse_heartbeat;
    options.compat_profiles = cli
        .profiles
        .into_iter()
        .map(|p| p.trim().to_ascii_lowercase())
        .filter(|p| !p.is_empty() && p != "none")
        .collect();
    options.compat_requests_per_minute = cli.profile_rate_limit;
    options.compat_concurrent_per_session = cli.profile_concurrency;
    let listener = tokio::net::TcpListener::bind(cli.listen)
        .await
        .map_err(|err| {
            anyhow::anyhow!("cannot listen on {} (WAGATE_HTTP_ADDR): {err}", cli.listen)
        })?;
    tracing::info!(addr = %listener.local_addr()?, %upstream, "wagate-gateway listening");
    wagate_gateway::serve(listener, options, shutdown_signal()).await
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    tracing::info!("shutting down");
}
