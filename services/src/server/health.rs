//! grpc.health.v1.Health with the statuses Kubernetes probes need, and watch
//! streams that end (after a last NOT_SERVING) when the server shuts down.

use std::pin::Pin;

use futures::{Stream, StreamExt};
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};
use tonic_health::ServingStatus;
use tonic_health::pb::health_server::{Health, HealthServer};
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse, health_check_response};
use tonic_health::server::{HealthReporter, HealthService};

/// Health name probed by Kubernetes readiness: SERVING once dependencies are ready.
pub const READINESS: &str = "readiness";
/// Health name probed by Kubernetes liveness: SERVING while the process runs.
pub const LIVENESS: &str = "liveness";

#[derive(Clone)]
pub struct HealthStatus {
    reporter: HealthReporter,
    names: Vec<String>,
}

impl HealthStatus {
    /// A reporter with every name NOT_SERVING except liveness.
    pub async fn new(service_names: &[&str]) -> Self {
        let reporter = HealthReporter::new();
        let mut names = vec![String::new(), READINESS.to_owned()];
        names.extend(service_names.iter().map(|n| n.to_string()));
        for name in &names {
            reporter
                .set_service_status(name, ServingStatus::NotServing)
                .await;
        }
        reporter
            .set_service_status(LIVENESS, ServingStatus::Serving)
            .await;
        Self { reporter, names }
    }

    pub async fn set_all(&self, status: ServingStatus) {
        for name in &self.names {
            self.reporter.set_service_status(name, status).await;
        }
    }

    pub fn server(&self, shutdown: CancellationToken) -> HealthServer<DrainingHealth> {
        HealthServer::new(DrainingHealth {
            inner: HealthService::from_health_reporter(self.reporter.clone()),
            shutdown,
        })
    }
}

pub struct DrainingHealth {
    inner: HealthService,
    shutdown: CancellationToken,
}

type WatchStream = Pin<Box<dyn Stream<Item = Result<HealthCheckResponse, Status>> + Send>>;

#[tonic::async_trait]
impl Health for DrainingHealth {
    async fn check(
        &self,
        request: Request<HealthCheckRequest>,
    ) -> Result<Response<HealthCheckResponse>, Status> {
        self.inner.check(request).await
    }

    type WatchStream = WatchStream;

    async fn watch(
        &self,
        request: Request<HealthCheckRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        let stream = self.inner.watch(request).await?.into_inner();
        let last = HealthCheckResponse {
            status: health_check_response::ServingStatus::NotServing as i32,
        };
        let stream = stream
            .take_until(self.shutdown.clone().cancelled_owned())
            .chain(futures::stream::once(async move { Ok(last) }));
        Ok(Response::new(Box::pin(stream)))
    }
}
