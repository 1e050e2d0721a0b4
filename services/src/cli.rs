//! The command line: `wagate serve`, `wagate simulator`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

use crate::config::{Config, EngineKind, Overrides};

#[derive(Parser)]
#[command(
    name = "wagate",
    version,
    about = "Self-hosted WhatsApp API gateway: gRPC services, durable events, a simulated network"
)]
struct Cli {
    /// TOML configuration file (settings as in README's table; WAGATE_* variables override it).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gRPC server.
    Serve {
        /// Engine that connects sessions to WhatsApp: `whatsapp` (default) or `sim` (the simulated network).
        #[arg(long, value_parser = crate::config::parse_engine)]
        engine: Option<EngineKind>,
        /// Use the `wagate simulator` at this URL instead of an in-process network.
        #[arg(long, value_name = "URL")]
        simulator_url: Option<String>,
        /// Do not run the REST gateway on the HTTP listener (WAGATE_GATEWAY=false).
        #[arg(long)]
        no_gateway: bool,
    },
    /// Run the simulated WhatsApp network as its own process.
    Simulator,
    /// Measure and write BENCHMARKS.md (build with --release for real figures).
    Bench {
        #[command(subcommand)]
        which: BenchCommand,
    },
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Start-up time to health SERVING, idle RSS, RSS per idle connected simulated session.
    Foundation {
        /// Connected simulated sessions to measure memory with.
        #[arg(long, default_value_t = 1000)]
        sessions: usize,
        /// Start-up runs (the median is reported).
        #[arg(long, default_value_t = 5)]
        runs: usize,
        /// File to write the figures into.
        #[arg(long, default_value = "BENCHMARKS.md")]
        output: PathBuf,
    },
    /// SendMessage accept throughput and latency vs the Health/Check ceiling, on SQLite and PostgreSQL.
    Send {
        /// Concurrent callers.
        #[arg(long, default_value_t = 64)]
        callers: usize,
        /// Seconds per measurement.
        #[arg(long, default_value_t = 4)]
        seconds: u64,
        /// Rounds of Health/Check then SendMessage per server (the round with
        /// the median ratio is reported).
        #[arg(long, default_value_t = 3)]
        rounds: usize,
        /// PostgreSQL server URL (with a database path) where a scratch database may be created.
        #[arg(long, value_name = "URL")]
        postgres_url: Option<String>,
        #[arg(long, default_value = "BENCHMARKS.md")]
        output: PathBuf,
    },
    /// Event subscribers' throughput and lag, webhook throughput, RSS with a stalled subscriber.
    Events {
        #[arg(long, default_value_t = 100)]
        subscribers: usize,
        /// Events appended per second.
        #[arg(long, default_value_t = 5000)]
        rate: u64,
        #[arg(long, default_value_t = 5)]
        seconds: u64,
        #[arg(long, default_value_t = 100)]
        webhook_sessions: usize,
        /// Webhook events per session.
        #[arg(long, default_value_t = 200)]
        webhook_events: i64,
        /// Events behind for the stalled-subscriber RSS figure.
        #[arg(long, default_value_t = 1_000_000)]
        backlog: i64,
        #[arg(long, value_name = "URL")]
        postgres_url: Option<String>,
        #[arg(long, default_value = "BENCHMARKS.md")]
        output: PathBuf,
    },
    /// RSS per idle whatsapp-engine session with the SQLite and PostgreSQL credential stores.
    WhatsappSessions {
        #[arg(long, default_value_t = 200)]
        sessions: usize,
        /// PostgreSQL server URL (with a database path) where a scratch database may be created.
        #[arg(long, value_name = "URL")]
        postgres_url: Option<String>,
        #[arg(long, default_value = "BENCHMARKS.md")]
        output: PathBuf,
    },
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let overrides = match &cli.command {
        Command::Serve {
            engine,
            simulator_url,
            no_gateway,
        } => Overrides {
            engine: *engine,
            simulator_url: simulator_url.clone(),
            no_gateway: *no_gateway,
        },
        Command::Simulator | Command::Bench { .. } => Overrides::default(),
    };
    let config = match Config::load(cli.config.as_deref(), &overrides) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("wagate: configuration error: {err}");
            return ExitCode::from(2);
        }
    };
    crate::telemetry::init(config.log_format, &config.log_level);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("wagate: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        let shutdown = CancellationToken::new();
        tokio::spawn(watch_signals(shutdown.clone()));
        match cli.command {
            Command::Serve { .. } => crate::server::start(config, shutdown).await?.wait().await,
            Command::Simulator => {
                crate::simulator::start(config, shutdown)
                    .await?
                    .wait()
                    .await
            }
            Command::Bench {
                which:
                    BenchCommand::Foundation {
                        sessions,
                        runs,
                        output,
                    },
            } => {
                crate::bench::foundation(crate::bench::FoundationOptions {
                    sessions,
                    runs,
                    output,
                })
                .await
            }
            Command::Bench {
                which:
                    BenchCommand::Send {
                        callers,
                        seconds,
                        rounds,
                        postgres_url,
                        output,
                    },
            } => {
                crate::bench::send::send(crate::bench::send::SendOptions {
                    callers,
                    duration: std::time::Duration::from_secs(seconds),
                    rounds: rounds.max(1),
                    postgres_url,
                    output,
                })
                .await
            }
            Command::Bench {
                which:
                    BenchCommand::Events {
                        subscribers,
                        rate,
                        seconds,
                        webhook_sessions,
                        webhook_events,
                        backlog,
                        postgres_url,
                        output,
                    },
            } => {
                crate::bench::events::events(crate::bench::events::EventsOptions {
                    subscribers,
                    rate,
                    seconds,
                    webhook_sessions,
                    webhook_events,
                    backlog,
                    postgres_url,
                    output,
                })
                .await
            }
            Command::Bench {
                which:
                    BenchCommand::WhatsappSessions {
                        sessions,
                        postgres_url,
                        output,
                    },
            } => {
                let options = crate::bench::WhatsappOptions {
                    sessions,
                    postgres_url,
                    output,
                };
                crate::bench::whatsapp_sessions(options).await
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = format!("{err:#}"), "wagate stopped on an error");
            eprintln!("wagate: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// SIGTERM or SIGINT (Ctrl-C) start the ordered shutdown.
async fn watch_signals(shutdown: CancellationToken) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            tracing::error!("cannot install signal handlers");
            return;
        };
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM received"),
            _ = int.recv() => tracing::info!("SIGINT received"),
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
    shutdown.cancel();
}
