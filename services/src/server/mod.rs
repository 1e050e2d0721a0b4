//! Ordered start-up and shutdown of `wagate serve`:
//! bind → health NOT_SERVING (liveness SERVING) and reflection → database
//! reachable → migrated → auth, engine, sessions → health SERVING; on the
//! shutdown signal: health NOT_SERVING → streams ended → drain (bounded) →
//! connections closed → database closed.

mod deferred;
pub mod health;
pub mod http;
pub mod metrics;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tonic::transport::server::TcpIncoming;
use tonic_health::ServingStatus;
use wagate_proto::v1::contact_service_server::ContactServiceServer;
use wagate_proto::v1::event_service_server::EventServiceServer;
use wagate_proto::v1::group_service_server::GroupServiceServer;
use wagate_proto::v1::message_service_server::MessageServiceServer;
use wagate_proto::v1::session_service_server::SessionServiceServer;
use wagate_proto::v1::simulator_service_server::SimulatorServiceServer;

use self::deferred::Deferred;
use self::health::HealthStatus;
use crate::auth::{AdminToken, Authenticator};
use crate::config::{Config, EngineKind};
use crate::engine::Engine;
use crate::engine::sim::{self, Gate, Network, SimEngine};
use crate::engine::whatsapp::{CredentialStore, WhatsAppEngine, WhatsAppOptions};
use crate::media::{Fetcher, MediaService};
use crate::session::SessionManager;
use crate::session::grpc::SessionApi;
use crate::session::manager::ManagerOptions;
use crate::store::{Backend, Store};
use crate::{contact, event, group, message};

/// A running server.
pub struct RunningServer {
    pub grpc_addr: SocketAddr,
    /// Where `GET /metrics` is served, when enabled.
    pub metrics_addr: Option<SocketAddr>,
    /// The HTTP listener (media URLs, REST gateway), when enabled.
    pub http_addr: Option<SocketAddr>,
    shutdown: CancellationToken,
    task: JoinHandle<anyhow::Result<()>>,
}

impl RunningServer {
    /// Triggers the ordered shutdown.
    pub fn trigger_shutdown(&self) {
        self.shutdown.cancel();
    }

    /// Waits until the server has stopped (after a shutdown or a fatal error).
    pub async fn wait(self) -> anyhow::Result<()> {
        self.task.await.context("server task panicked")?
    }

    pub async fn stop(self) -> anyhow::Result<()> {
        self.trigger_shutdown();
        self.wait().await
    }
}

struct Services {
    session: Deferred<SessionServiceServer<SessionApi>>,
    message: Deferred<MessageServiceServer<message::grpc::MessageApi>>,
    contact: Deferred<ContactServiceServer<contact::grpc::ContactApi>>,
    group: Deferred<GroupServiceServer<group::grpc::GroupApi>>,
    event: Deferred<EventServiceServer<event::grpc::EventApi>>,
    media: http::MediaSlot,
    public_url: String,
    simulator: Option<Deferred<SimulatorServiceServer<sim::control::ControlService>>>,
}

/// Binds the gRPC port and starts the server in the background; the returned
/// handle knows the bound address. `shutdown` starts the ordered shutdown.
pub async fn start(config: Config, shutdown: CancellationToken) -> anyhow::Result<RunningServer> {
    let listener = TcpListener::bind(config.grpc_addr)
        .await
        .with_context(|| format!("cannot listen on {} (WAGATE_GRPC_ADDR)", config.grpc_addr))?;
    let grpc_addr = listener.local_addr()?;
    tracing::info!(addr = %grpc_addr, "gRPC server listening");
    let metrics_slot = metrics::Slot::default();
    let metrics_addr = match config.metrics_addr {
        Some(addr) => {
            let metrics_listener = TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr} (WAGATE_METRICS_ADDR)"))?;
            let bound = metrics_listener.local_addr()?;
            tracing::info!(addr = %bound, "metrics listening");
            metrics::serve(metrics_listener, metrics_slot.clone(), shutdown.clone());
            Some(bound)
        }
        None => None,
    };
    let media = http::MediaSlot::default();
    let http_addr = match config.http_addr {
        Some(addr) => {
            let http_listener = TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr} (WAGATE_HTTP_ADDR)"))?;
            let bound = http_listener.local_addr()?;
            let gateway = if config.gateway {
                let mut options = wagate_gateway::in_process_options(grpc_addr);
                options.compat_profiles = config.gateway_profiles.clone();
                options.compat_concurrent_per_session = config.gateway_profile_concurrency;
                Some(wagate_gateway::router(options).context("building the REST gateway")?)
            } else {
                None
            };
            tracing::info!(addr = %bound, gateway = config.gateway, "HTTP listening (media URLs, REST gateway)");
            http::serve(http_listener, media.clone(), gateway, shutdown.clone());
            Some(bound)
        }
        None => None,
    };
    let public_url = public_url(&config, http_addr);
    let task = tokio::spawn(run(
        config,
        listener,
        shutdown.clone(),
        metrics_slot,
        media,
        public_url,
    ));
    Ok(RunningServer {
        grpc_addr,
        metrics_addr,
        http_addr,
        shutdown,
        task,
    })
}

/// The base of media URLs: the configured public URL, else the HTTP listener.
fn public_url(config: &Config, http_addr: Option<SocketAddr>) -> String {
    if let Some(url) = &config.public_url {
        return url.clone();
    }
    match http_addr {
        Some(addr) if addr.ip().is_unspecified() => format!("http://127.0.0.1:{}", addr.port()),
        Some(addr) => format!("http://{addr}"),
        None => String::new(),
    }
}

async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: CancellationToken,
    metrics_slot: metrics::Slot,
    media: http::MediaSlot,
    public_url: String,
) -> anyhow::Result<()> {
    let in_process_sim = config.engine == EngineKind::Sim && config.simulator_url.is_none();
    let mut health_names: Vec<&str> = wagate_proto::PUBLIC_SERVICES.to_vec();
    if in_process_sim {
        health_names.push(wagate_proto::SIMULATOR_SERVICE);
    }
    let health = HealthStatus::new(&health_names).await;
    let streams_end = CancellationToken::new();

    let services = Services {
        session: Deferred::new(),
        message: Deferred::new(),
        contact: Deferred::new(),
        group: Deferred::new(),
        event: Deferred::new(),
        media,
        public_url,
        simulator: in_process_sim.then(Deferred::new),
    };
    let server_task = tokio::spawn(serve_grpc(
        &config,
        listener,
        &services,
        health.server(streams_end.clone()),
        shutdown.clone(),
    )?);

    // Dependencies, in order. A shutdown while waiting for the database skips the rest.
    let ready = tokio::select! {
        _ = shutdown.cancelled() => None,
        ready = bring_up(&config, &services, streams_end.clone()) => Some(ready?),
    };
    if let Some((_, manager)) = &ready {
        let _ = metrics_slot.set(manager.clone());
        health.set_all(ServingStatus::Serving).await;
        tracing::info!("wagate is ready: health SERVING");
    }

    shutdown.cancelled().await;
    tracing::info!("shutting down: health NOT_SERVING, ending streams, draining requests");
    health.set_all(ServingStatus::NotServing).await;
    streams_end.cancel();
    match tokio::time::timeout(config.shutdown_grace, server_task).await {
        Ok(joined) => joined.context("gRPC server task panicked")??,
        Err(_) => {
            tracing::warn!(grace = ?config.shutdown_grace, "requests still open after the grace period; closing them")
        }
    }
    if let Some((store, manager)) = ready {
        manager.shutdown().await;
        store.close().await;
    }
    tracing::info!("shutdown complete");
    Ok(())
}

/// Connects the database (retrying until it answers), migrates, and starts the
/// domain; then makes the services live.
async fn bring_up(
    config: &Config,
    services: &Services,
    streams_end: CancellationToken,
) -> anyhow::Result<(Store, SessionManager)> {
    let store = connect_store(config).await;
    let applied = store.migrate().await.context("database migration failed")?;
    tracing::info!(backend = ?store.backend(), applied = applied.len(), "database ready");

    let (auth, admin) = Authenticator::init(store.clone(), config.admin_token.as_deref()).await?;
    if let AdminToken::Generated(token) = &admin {
        // Shown once, on standard output rather than in the logs; only its hash is stored.
        println!(
            "\nwagate: generated the admin token (shown only this once; store it safely):\n\n    {token}\n\n\
             Use it as `authorization: Bearer <token>`. Set WAGATE_ADMIN_TOKEN to choose your own.\n"
        );
    }

    let engine: Arc<dyn Engine> = match config.engine {
        EngineKind::Sim => {
            let network: Arc<dyn sim::SimNetwork> = match &config.simulator_url {
                Some(url) => {
                    tracing::info!(%url, "sim engine: using the simulator at this address");
                    Arc::new(sim::remote::RemoteNetwork::new(
                        url,
                        config.simulator_token.clone(),
                    )?)
                }
                None => {
                    let network = Network::load(store.clone(), config.sim.clone()).await?;
                    if let Some(slot) = &services.simulator {
                        slot.set(SimulatorServiceServer::new(
                            sim::control::ControlService::new(
                                network.clone(),
                                Gate::Admin(auth.clone()),
                            ),
                        ));
                    }
                    tracing::info!("sim engine: simulated WhatsApp network running in-process");
                    Arc::new(network)
                }
            };
            Arc::new(SimEngine::new(network, store.clone()))
        }
        EngineKind::Whatsapp => {
            if let Some(url) = &config.whatsapp_websocket_url {
                crate::engine::whatsapp::proxy::check_websocket_url(url)
                    .map_err(|e| anyhow::anyhow!("WAGATE_WHATSAPP_WEBSOCKET_URL: {e}"))?;
            }
            let credentials = match store.backend() {
                Backend::Sqlite => CredentialStore::Sqlite {
                    dir: config.data_dir.join("whatsapp"),
                },
                Backend::Postgres => {
                    let pool = sqlx::postgres::PgPoolOptions::new()
                        .max_connections(config.database_max_connections)
                        .connect(&config.effective_database_url())
                        .await
                        .context("connecting the WhatsApp credential store to PostgreSQL")?;
                    CredentialStore::Postgres { pool }
                }
            };
            tracing::info!("whatsapp engine: sessions connect to WhatsApp through whatsapp-rust");
            let options = WhatsAppOptions {
                websocket_url: config.whatsapp_websocket_url.clone(),
            };
            Arc::new(WhatsAppEngine::new(credentials, options))
        }
    };

    let media = MediaService::new(
        store.clone(),
        Fetcher::new(config.allow_private_urls, config.media_fetch_timeout),
        services.public_url.clone(),
    );
    services.media.set(media.clone());
    spawn_media_pruning(media.clone());
    let log = event::EventLog::start(
        store.clone(),
        config.events.log_options(),
        streams_end.clone(),
    )
    .await
    .context("starting the event log")?;
    spawn_event_pruning(store.clone(), &config.events);
    let webhooks = crate::webhook::Webhooks::new(
        store.clone(),
        log.clone(),
        config.allow_private_urls,
        config.webhooks.clone(),
    );
    webhooks.start(streams_end.clone());
    let events = event::Events::new(log, store.clone(), streams_end);
    let queue = message::Queue::new(
        store.clone(),
        media.clone(),
        config.queue.clone(),
        Some(events.clone()),
    );
    let manager = SessionManager::new(
        store.clone(),
        engine,
        ManagerOptions {
            allow_private_urls: config.allow_private_urls,
            connect_wait: config.connect_wait,
            reconnect_stagger: config.reconnect_stagger,
        },
        Some(queue.clone()),
        Some(events.clone()),
    );
    let protection = std::sync::Arc::new(crate::protection::Protection::new(
        config.protection.clone(),
    ));
    let contacts =
        contact::service::Contacts::new(store.clone(), manager.clone(), protection.clone());
    let groups =
        group::service::Groups::new(store.clone(), manager.clone(), media.clone(), protection);
    let messages = message::Messages::new(
        store.clone(),
        manager.clone(),
        queue,
        media,
        config.queue.clone(),
    );
    let resumed = manager.resume().await?;
    if resumed > 0 {
        tracing::info!(
            sessions = resumed,
            "reconnecting, in the background, the sessions that were connected before"
        );
    }
    services.session.set(
        SessionServiceServer::new(SessionApi::new(manager.clone(), auth.clone()))
            .max_decoding_message_size(config.max_request_bytes),
    );
    services.message.set(
        MessageServiceServer::new(message::grpc::MessageApi::new(messages, auth.clone()))
            .max_decoding_message_size(config.max_upload_bytes.max(config.max_request_bytes))
            .max_encoding_message_size(config.max_upload_bytes.max(config.max_request_bytes)),
    );
    services.contact.set(
        ContactServiceServer::new(contact::grpc::ContactApi::new(contacts, auth.clone()))
            .max_decoding_message_size(config.max_request_bytes),
    );
    services.group.set(
        GroupServiceServer::new(group::grpc::GroupApi::new(groups, auth.clone()))
            .max_decoding_message_size(config.max_request_bytes),
    );
    services.event.set(
        EventServiceServer::new(event::grpc::EventApi::new(auth.clone(), events, webhooks))
            .max_decoding_message_size(config.max_request_bytes),
    );
    Ok((store, manager))
}

/// Drops events older than the retention every `prune_interval`.
fn spawn_event_pruning(store: Store, config: &crate::config::EventsConfig) {
    let (retention, every) = (config.retention, config.prune_interval);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            let before = crate::store::now_ms() - retention.as_millis() as i64;
            match store.prune_events(before).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(events = n, "events past their retention removed"),
                Err(err) => tracing::warn!(error = %err, "could not prune events"),
            }
        }
    });
}

/// Drops expired uploads and downloads every few minutes.
fn spawn_media_pruning(media: MediaService) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(300));
        loop {
            tick.tick().await;
            match media.prune_expired().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(files = n, "expired media removed"),
                Err(err) => tracing::warn!(error = %err, "could not prune expired media"),
            }
        }
    });
}

async fn connect_store(config: &Config) -> Store {
    let url = config.effective_database_url();
    let mut delay = Duration::from_millis(250);
    loop {
        match Store::connect(&url, config.database_max_connections).await {
            Ok(store) => match store.ping().await {
                Ok(()) => return store,
                Err(err) => tracing::warn!(error = %err, "database not answering yet"),
            },
            Err(err) => {
                tracing::warn!(error = %err, retry_in = ?delay, "cannot reach the database yet; health stays NOT_SERVING")
            }
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}

/// Builds the gRPC router (health, reflection, the public services and, with the
/// in-process network, the simulator) and serves until `shutdown`.
fn serve_grpc(
    config: &Config,
    listener: TcpListener,
    services: &Services,
    health: tonic_health::pb::health_server::HealthServer<health::DrainingHealth>,
    shutdown: CancellationToken,
) -> anyhow::Result<
    impl std::future::Future<Output = Result<(), tonic::transport::Error>> + Send + 'static,
> {
    let mut reflection_names: Vec<&str> = wagate_proto::PUBLIC_SERVICES.to_vec();
    reflection_names.extend([
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection",
    ]);
    if services.simulator.is_some() {
        reflection_names.push(wagate_proto::SIMULATOR_SERVICE);
    }
    let reflection = || {
        reflection_names.iter().fold(
            tonic_reflection::server::Builder::configure()
                .register_encoded_file_descriptor_set(wagate_proto::FILE_DESCRIPTOR_SET)
                .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET),
            |builder, name| builder.with_service_name(*name),
        )
    };
    let reflection_v1 = reflection().build_v1().context("building reflection v1")?;
    let reflection_v1alpha = reflection()
        .build_v1alpha()
        .context("building reflection v1alpha")?;

    let router = tonic::transport::Server::builder()
        .timeout(config.request_timeout)
        .concurrency_limit_per_connection(config.max_concurrent_requests_per_connection)
        .max_connection_age(config.max_connection_age)
        .http2_keepalive_interval(Some(Duration::from_secs(30)))
        .http2_keepalive_timeout(Some(Duration::from_secs(10)))
        .layer(tower::limit::GlobalConcurrencyLimitLayer::new(
            config.max_concurrent_requests,
        ))
        // Account protection's figures as `x-ratelimit-*` metadata.
        .layer(crate::protection::RateHeadersLayer)
        .add_service(health)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(services.session.clone())
        .add_service(services.message.clone())
        .add_service(services.contact.clone())
        .add_service(services.group.clone())
        .add_service(services.event.clone())
        .add_optional_service(services.simulator.clone());
    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
    Ok(router.serve_with_incoming_shutdown(incoming, shutdown.cancelled_owned()))
}
