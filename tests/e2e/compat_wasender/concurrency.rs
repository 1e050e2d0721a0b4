//! Seed 001's global concurrent request limit: a session may have only so
//! many requests in progress at once across all endpoints; one more is
//! refused at once with 429 (`{"message", "retry_after"}`), and accepted
//! again once one finishes. The gateway runs in-process in front of a fake
//! upstream whose ListGroups for session 1 waits until the test lets it
//! answer, so "in flight" is a state the test controls, not a timing.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use http::Method;
use serde_json::json;
use tokio::sync::{Notify, Semaphore};
use tonic::codegen::{BoxFuture, Service};
use tonic::server::{Grpc, NamedService, UnaryService};
use tonic::{Request, Response, Status};
use wagate_gateway::client::{HttpClient, HttpResponse};
use wagate_proto::wagate::v1::{GetSessionRequest, ListGroupsRequest, ListGroupsResponse, Session};

use super::{assert_shape, expect};

/// The cap under test.
const CAP: u32 = 3;
/// Upper bound on any wait of this test (a hang fails instead of blocking).
const BOUND: Duration = Duration::from_secs(20);

/// What the fake upstream shares with the test.
struct Gate {
    /// Permits to answer a held ListGroups of session 1.
    release: Semaphore,
    /// ListGroups calls of session 1 received so far.
    arrived: AtomicUsize,
    arrival: Notify,
}

impl Gate {
    fn new() -> Self {
        Self {
            release: Semaphore::new(0),
            arrived: AtomicUsize::new(0),
            arrival: Notify::new(),
        }
    }

    /// Waits (bounded) until `count` held calls have reached the upstream.
    async fn arrived(&self, count: usize) {
        tokio::time::timeout(BOUND, async {
            loop {
                let notified = self.arrival.notified();
                if self.arrived.load(Ordering::SeqCst) >= count {
                    return;
                }
                notified.await;
            }
        })
        .await
        .unwrap_or_else(|_| panic!("{count} requests never reached the upstream"));
    }
}

/// `key-<n>` is the API key of session n.
fn session_of<T>(request: &Request<T>) -> Result<i64, Status> {
    request
        .metadata()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer key-"))
        .and_then(|id| id.parse().ok())
        .ok_or_else(|| Status::unauthenticated("unknown key"))
}

#[derive(Clone)]
struct FakeSessions;

impl NamedService for FakeSessions {
    const NAME: &'static str = "wagate.v1.SessionService";
}

impl UnaryService<GetSessionRequest> for FakeSessions {
    type Response = Session;
    type Future = BoxFuture<Response<Session>, Status>;

    fn call(&mut self, request: Request<GetSessionRequest>) -> Self::Future {
        Box::pin(async move {
            let id = session_of(&request)?;
            Ok(Response::new(Session {
                id,
                name: format!("sessions/{id}"),
                ..Default::default()
            }))
        })
    }
}

#[derive(Clone)]
struct FakeGroups(Arc<Gate>);

impl NamedService for FakeGroups {
    const NAME: &'static str = "wagate.v1.GroupService";
}

impl UnaryService<ListGroupsRequest> for FakeGroups {
    type Response = ListGroupsResponse;
    type Future = BoxFuture<Response<ListGroupsResponse>, Status>;

    fn call(&mut self, request: Request<ListGroupsRequest>) -> Self::Future {
        let gate = self.0.clone();
        Box::pin(async move {
            if request.get_ref().parent == "sessions/1" {
                gate.arrived.fetch_add(1, Ordering::SeqCst);
                gate.arrival.notify_waiters();
                gate.release
                    .acquire()
                    .await
                    .map_err(|_| Status::unavailable("closed"))?
                    .forget();
            }
            let mut response = Response::new(ListGroupsResponse::default());
            if request.get_ref().parent == "sessions/2" {
                // A server-side window's figures, as account protection sends them.
                for (key, value) in [
                    ("x-ratelimit-limit", "10"),
                    ("x-ratelimit-remaining", "9"),
                    ("x-ratelimit-reset", "60"),
                ] {
                    response.metadata_mut().insert(key, value.parse().unwrap());
                }
            }
            Ok(response)
        })
    }
}

/// One RPC of each fake service, served as generated servers do.
macro_rules! serve_unary {
    ($service:ty, $path:literal, $req:ty, $resp:ty) => {
        impl Service<http::Request<tonic::body::Body>> for $service {
            type Response = http::Response<tonic::body::Body>;
            type Error = Infallible;
            type Future = BoxFuture<Self::Response, Infallible>;

            fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
                Poll::Ready(Ok(()))
            }

            fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
                let service = self.clone();
                Box::pin(async move {
                    if request.uri().path() != $path {
                        return Ok(Status::unimplemented("not faked").into_http());
                    }
                    let mut grpc = Grpc::new(tonic_prost::ProstCodec::<$resp, $req>::default());
                    Ok(grpc.unary(service, request).await)
                })
            }
        }
    };
}

serve_unary!(
    FakeSessions,
    "/wagate.v1.SessionService/GetSession",
    GetSessionRequest,
    Session
);
serve_unary!(
    FakeGroups,
    "/wagate.v1.GroupService/ListGroups",
    ListGroupsRequest,
    ListGroupsResponse
);

async fn get_groups(base: &str, key: &str) -> HttpResponse {
    let bearer = format!("Bearer {key}");
    tokio::time::timeout(
        BOUND,
        HttpClient::new().call(
            Method::GET,
            &format!("{base}/api/groups"),
            &[("authorization", &bearer)],
            Vec::new(),
        ),
    )
    .await
    .expect("a request that should answer never did")
    .expect("GET /api/groups")
}

#[tokio::test]
async fn a_session_over_its_concurrency_cap_is_refused_at_once_until_a_request_finishes() {
    let gate = Arc::new(Gate::new());
    let upstream = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream_addr = upstream.local_addr().unwrap();
    let fake = tonic::transport::Server::builder()
        .add_service(FakeSessions)
        .add_service(FakeGroups(gate.clone()))
        .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(upstream));
    let fake = tokio::spawn(fake);

    let mut options = wagate_gateway::GatewayOptions::new(wagate_gateway::UpstreamTarget::Url(
        format!("http://{upstream_addr}"),
    ));
    options.compat_concurrent_per_session = CAP;
    let router = wagate_gateway::router(options).expect("gateway");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let gateway = tokio::spawn(async move { axum::serve(listener, router).await });

    // CAP requests of session 1 held in flight.
    let mut held = tokio::task::JoinSet::new();
    for _ in 0..CAP {
        let base = base.clone();
        held.spawn(async move { get_groups(&base, "key-1").await });
    }
    gate.arrived(CAP as usize).await;

    // One more is refused at once, in the seed's shape, with Retry-After.
    let refused = get_groups(&base, "key-1").await;
    let body = expect(&refused, 429, "a request over the concurrency cap");
    assert_shape(
        &body,
        &json!({"message": "Too many concurrent requests", "retry_after": 1}),
        "429",
    );
    assert!(
        body["message"].as_str().unwrap().contains("at most 3"),
        "{body}"
    );
    assert_eq!(body["retry_after"], 1);
    assert_eq!(refused.header("retry-after"), Some("1"));
    // Another session has its own slots.
    let other = get_groups(&base, "key-2").await;
    expect(&other, 200, "another session's request");
    // A listed page's rate figures from the server win over the gateway's window.
    assert_eq!(other.header("x-ratelimit-limit"), Some("10"));
    assert_eq!(other.header("x-ratelimit-remaining"), Some("9"));

    // One held request finishes: its slot serves the next request.
    gate.release.add_permits(1);
    let finished = tokio::time::timeout(BOUND, held.join_next())
        .await
        .expect("the released request to answer")
        .expect("a held request")
        .expect("the request task");
    expect(&finished, 200, "the released request");
    {
        let base = base.clone();
        held.spawn(async move { get_groups(&base, "key-1").await });
    }
    gate.arrived(CAP as usize + 1).await;
    // Full again.
    let refused = get_groups(&base, "key-1").await;
    expect(&refused, 429, "over the cap again");

    // Everything answers once the upstream does; then the slots are free.
    gate.release.add_permits(1000);
    while let Some(done) = tokio::time::timeout(BOUND, held.join_next())
        .await
        .expect("the held requests to answer")
    {
        expect(&done.expect("the request task"), 200, "a held request");
    }
    let after = get_groups(&base, "key-1").await;
    let body = expect(&after, 200, "a request once the session is idle");
    assert_eq!(body["success"], true, "{body}");

    gateway.abort();
    fake.abort();
}
