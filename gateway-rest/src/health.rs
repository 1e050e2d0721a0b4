//! `/healthz` (the gateway process is alive: always 200) and `/readyz` (the
//! upstream server's overall `grpc.health.v1.Health/Check` is SERVING).

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::upstream::Upstream;

const READY_CHECK_TIMEOUT: Duration = Duration::from_secs(2);

pub async fn healthz() -> Response {
    Json(serde_json::json!({ "status": "ok" })).into_response()
}

pub async fn readyz(State(upstream): State<Arc<Upstream>>) -> Response {
    let mut client = HealthClient::new(upstream.channel());
    let mut request = tonic::Request::new(HealthCheckRequest {
        service: String::new(),
    });
    request.set_timeout(READY_CHECK_TIMEOUT);
    let check = tokio::time::timeout(READY_CHECK_TIMEOUT, client.check(request)).await;
    let (ready, upstream_status) = match check {
        Ok(Ok(response)) => {
            let status = ServingStatus::try_from(response.into_inner().status)
                .unwrap_or(ServingStatus::Unknown);
            (
                status == ServingStatus::Serving,
                status.as_str_name().to_owned(),
            )
        }
        Ok(Err(status)) => (false, format!("health check failed: {}", status.message())),
        Err(_) => (false, "health check timed out".to_owned()),
    };
    let code = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        code,
        Json(serde_json::json!({ "ready": ready, "upstream": upstream_status })),
    )
        .into_response()
}
