//! A fake upstream: wagate's generated EventService with scripted behaviour
//! (streams, rate-limit errors, metadata echo, slow calls) plus gRPC health,
//! and the gateway in front of it, both on 127.0.0.1:0.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::Stream;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tonic::{Code, Request, Response, Status};
use tonic_types::{ErrorDetails, StatusExt as _};
use wagate_gateway::{GatewayOptions, UpstreamTarget};
use wagate_proto::v1 as pb;
use wagate_proto::v1::event_service_server::{EventService, EventServiceServer};

/// What the fake saw, for assertions.
#[derive(Default)]
pub struct Observed {
    /// Set when an `sessions/idle` stream's receiver was dropped (the gateway cancelled it).
    pub stream_cancelled: AtomicBool,
    pub last_request: std::sync::Mutex<Option<pb::SubscribeEventsRequest>>,
}

#[derive(Clone)]
pub struct FakeEvents {
    pub observed: Arc<Observed>,
}

fn header(metadata: &tonic::metadata::MetadataMap, name: &str) -> String {
    metadata
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_owned()
}

fn response_event(cursor: i64) -> pb::SubscribeEventsResponse {
    pb::SubscribeEventsResponse {
        cursor,
        kind: Some(pb::subscribe_events_response::Kind::Event(pb::Event {
            name: format!("sessions/1/events/{cursor}"),
            cursor,
            session: "sessions/1".into(),
            r#type: "session.status".into(),
            ..Default::default()
        })),
    }
}

type EventStream = Pin<Box<dyn Stream<Item = Result<pb::SubscribeEventsResponse, Status>> + Send>>;

#[tonic::async_trait]
impl EventService for FakeEvents {
    type SubscribeEventsStream = EventStream;

    /// `sessions/err`: two events then UNAVAILABLE. `sessions/idle`: two
    /// events then silence until cancelled. Otherwise three events after
    /// `after_cursor` (default 0), then the end.
    async fn subscribe_events(
        &self,
        request: Request<pb::SubscribeEventsRequest>,
    ) -> Result<Response<EventStream>, Status> {
        let request = request.into_inner();
        *self.observed.last_request.lock().unwrap() = Some(request.clone());
        if request.parent == "sessions/denied" {
            return Err(Status::permission_denied("not yours"));
        }
        let start = request.after_cursor.unwrap_or(0) + 1;
        let (tx, rx) = mpsc::channel(8);
        let observed = self.observed.clone();
        tokio::spawn(async move {
            let count = if request.parent == "sessions/1" { 3 } else { 2 };
            for cursor in start..start + count {
                if tx.send(Ok(response_event(cursor))).await.is_err() {
                    return;
                }
            }
            if request.parent == "sessions/err" {
                let _ = tx
                    .send(Err(Status::unavailable("server shutting down")))
                    .await;
            } else if request.parent == "sessions/idle" {
                // Bounded: the test fails rather than hangs if the cancel never comes.
                let closed = tokio::time::timeout(Duration::from_secs(20), tx.closed()).await;
                observed
                    .stream_cancelled
                    .store(closed.is_ok(), Ordering::SeqCst);
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    /// RESOURCE_EXHAUSTED with RetryInfo and rate-limit metadata.
    async fn list_events(
        &self,
        _request: Request<pb::ListEventsRequest>,
    ) -> Result<Response<pb::ListEventsResponse>, Status> {
        let mut details = ErrorDetails::new();
        details.set_error_info(
            "RATE_LIMITED",
            "wagate.dev",
            std::collections::HashMap::new(),
        );
        details.set_retry_info(Some(Duration::from_millis(2300)));
        let mut status =
            Status::with_error_details(Code::ResourceExhausted, "rate limited", details);
        status
            .metadata_mut()
            .insert("x-ratelimit-limit", "256".parse().unwrap());
        status
            .metadata_mut()
            .insert("x-ratelimit-remaining", "0".parse().unwrap());
        status
            .metadata_mut()
            .insert("x-ratelimit-reset", "3".parse().unwrap());
        Err(status)
    }

    /// Echoes the forwarded metadata in `next_page_token`, with rate-limit headers.
    async fn list_webhook_deliveries(
        &self,
        request: Request<pb::ListWebhookDeliveriesRequest>,
    ) -> Result<Response<pb::ListWebhookDeliveriesResponse>, Status> {
        let metadata = request.metadata();
        let echo = format!(
            "{}|{}|{}",
            header(metadata, "authorization"),
            header(metadata, "x-request-id"),
            header(metadata, "grpc-timeout")
        );
        let mut response = Response::new(pb::ListWebhookDeliveriesResponse {
            next_page_token: echo,
            total_size: 7,
            ..Default::default()
        });
        response
            .metadata_mut()
            .insert("x-ratelimit-limit", "256".parse().unwrap());
        response
            .metadata_mut()
            .insert("x-ratelimit-remaining", "255".parse().unwrap());
        response
            .metadata_mut()
            .insert("x-ratelimit-reset", "60".parse().unwrap());
        Ok(response)
    }

    /// Slow: for deadline tests.
    async fn redeliver_event(
        &self,
        _request: Request<pb::RedeliverEventRequest>,
    ) -> Result<Response<pb::WebhookDelivery>, Status> {
        tokio::time::sleep(Duration::from_secs(3)).await;
        Ok(Response::new(pb::WebhookDelivery::default()))
    }

    /// Fails with the gRPC code given as `uri` (for the mapping table over HTTP).
    async fn send_test_webhook(
        &self,
        request: Request<pb::SendTestWebhookRequest>,
    ) -> Result<Response<pb::SendTestWebhookResponse>, Status> {
        let code: i32 = request.into_inner().uri.parse().unwrap_or(0);
        if code == 0 {
            return Ok(Response::new(pb::SendTestWebhookResponse::default()));
        }
        Err(Status::new(Code::from_i32(code), format!("code {code}")))
    }
}

pub struct Harness {
    pub base: String,
    pub observed: Arc<Observed>,
    pub upstream: SocketAddr,
    stop: CancellationToken,
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Fake upstream + gateway; `adjust` tunes the gateway's options.
pub async fn start(adjust: impl FnOnce(&mut GatewayOptions)) -> Harness {
    let stop = CancellationToken::new();
    let observed = Arc::new(Observed::default());
    let grpc_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream = grpc_listener.local_addr().unwrap();
    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    health_reporter
        .set_service_status("", tonic_health::ServingStatus::Serving)
        .await;
    let server = tonic::transport::Server::builder()
        .add_service(health_service)
        .add_service(EventServiceServer::new(FakeEvents {
            observed: observed.clone(),
        }))
        .serve_with_incoming_shutdown(
            tokio_stream::wrappers::TcpListenerStream::new(grpc_listener),
            stop.clone().cancelled_owned(),
        );
    tokio::spawn(server);
    let base = start_gateway(
        UpstreamTarget::Url(format!("http://{upstream}")),
        adjust,
        &stop,
    )
    .await;
    Harness {
        base,
        observed,
        upstream,
        stop,
    }
}

/// A gateway in front of `upstream`; returns its base URL.
pub async fn start_gateway(
    upstream: UpstreamTarget,
    adjust: impl FnOnce(&mut GatewayOptions),
    stop: &CancellationToken,
) -> String {
    let mut options = GatewayOptions::new(upstream);
    options.sse_heartbeat = Duration::from_millis(200);
    adjust(&mut options);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = stop.clone();
    tokio::spawn(wagate_gateway::serve(
        listener,
        options,
        stop.cancelled_owned(),
    ));
    format!("http://{addr}")
}
