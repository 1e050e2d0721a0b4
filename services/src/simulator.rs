//! `wagate simulator`: the simulated WhatsApp network as its own process, so
//! several server replicas share one network. Serves the control API
//! (SimulatorService) and the device link the sim engine speaks.

use std::net::SocketAddr;

use anyhow::Context as _;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tonic::transport::server::TcpIncoming;
use wagate_proto::v1::simulator_service_server::SimulatorServiceServer;
use wagate_proto::wagate::simnet::v1::sim_network_service_server::SimNetworkServiceServer;

use crate::config::Config;
use crate::engine::sim::control::ControlService;
use crate::engine::sim::link::LinkService;
use crate::engine::sim::{Gate, Network};
use crate::server::health::HealthStatus;
use crate::store::Store;

pub struct RunningSimulator {
    pub addr: SocketAddr,
    task: JoinHandle<anyhow::Result<()>>,
}

impl RunningSimulator {
    pub async fn wait(self) -> anyhow::Result<()> {
        self.task.await.context("simulator task panicked")?
    }
}

/// Opens the network's store, binds `simulator_addr` and serves until `shutdown`.
pub async fn start(
    config: Config,
    shutdown: CancellationToken,
) -> anyhow::Result<RunningSimulator> {
    let url = config.effective_simulator_database_url();
    let store = Store::connect(&url, config.database_max_connections)
        .await
        .with_context(|| format!("cannot open the simulator database {url}"))?;
    store
        .migrate()
        .await
        .context("simulator database migration failed")?;
    let network = Network::load(store.clone(), config.sim.clone()).await?;
    let gate = Gate::Token(config.simulator_token.as_deref().map(crate::auth::hash));

    let listener = TcpListener::bind(config.simulator_addr)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {} (WAGATE_SIMULATOR_ADDR)",
                config.simulator_addr
            )
        })?;
    let addr = listener.local_addr()?;
    tracing::info!(addr = %addr, "simulator listening");

    let health = HealthStatus::new(&[wagate_proto::SIMULATOR_SERVICE]).await;
    health.set_all(tonic_health::ServingStatus::Serving).await;
    let streams_end = CancellationToken::new();
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(wagate_proto::FILE_DESCRIPTOR_SET)
        .with_service_name(wagate_proto::SIMULATOR_SERVICE)
        .build_v1alpha()?;
    let server = tonic::transport::Server::builder()
        .add_service(health.server(streams_end.clone()))
        .add_service(reflection)
        .add_service(SimulatorServiceServer::new(ControlService::new(
            network.clone(),
            gate.clone(),
        )))
        .add_service(SimNetworkServiceServer::new(LinkService::new(
            network, gate,
        )))
        .serve_with_incoming_shutdown(TcpIncoming::from(listener), {
            let shutdown = shutdown.clone();
            async move {
                shutdown.cancelled().await;
                health
                    .set_all(tonic_health::ServingStatus::NotServing)
                    .await;
                streams_end.cancel();
            }
        });
    let grace = config.shutdown_grace;
    let task = tokio::spawn(async move {
        let server = tokio::spawn(server);
        shutdown.cancelled().await;
        // Device connections are long-lived streams: bound the drain.
        match tokio::time::timeout(grace, server).await {
            Ok(joined) => joined
                .context("simulator server panicked")?
                .context("simulator server failed")?,
            Err(_) => {
                tracing::warn!("device connections still open after the grace period; closing them")
            }
        }
        store.close().await;
        Ok(())
    });
    Ok(RunningSimulator { addr, task })
}
