//! Health (NOT_SERVING until the database is ready), reflection, and the RPCs
//! that later issues implement.

use std::time::Duration;

use futures::StreamExt;
use tokio_util::sync::CancellationToken;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use wagate_proto::v1 as pb;
use wagate_tests::{TempDir, TestServer, admin, backends, connect, error_reason, test_config};

async fn check(health: &mut HealthClient<tonic::transport::Channel>, service: &str) -> i32 {
    health
        .check(HealthCheckRequest {
            service: service.into(),
        })
        .await
        .expect("health check")
        .into_inner()
        .status
}

#[tokio::test]
async fn health_is_not_serving_until_the_database_is_ready() {
    let dir = TempDir::new("health");
    // The database directory cannot be created while a file stands in its way.
    let blocker = dir.path().join("blocked");
    std::fs::write(&blocker, b"not a directory").unwrap();
    let url = format!("sqlite://{}", blocker.join("wagate.db").display());
    let server = wagate::server::start(test_config(&url, dir.path()), CancellationToken::new())
        .await
        .unwrap();
    let channel = connect(server.grpc_addr).await;
    let mut health = HealthClient::new(channel.clone());

    let not_serving = ServingStatus::NotServing as i32;
    for name in [
        "",
        "readiness",
        "wagate.v1.SessionService",
        "wagate.v1.EventService",
    ] {
        assert_eq!(
            check(&mut health, name).await,
            not_serving,
            "{name:?} before the database is ready"
        );
    }
    assert_eq!(
        check(&mut health, "liveness").await,
        ServingStatus::Serving as i32,
        "liveness ignores the database"
    );
    let err = wagate_proto::v1::session_service_client::SessionServiceClient::new(channel.clone())
        .get_session(admin(pb::GetSessionRequest {
            name: "sessions/1".into(),
        }))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unavailable);
    assert_eq!(error_reason(&err), "NOT_READY");

    let mut watch = health
        .watch(HealthCheckRequest {
            service: "readiness".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(watch.next().await.unwrap().unwrap().status, not_serving);
    std::fs::remove_file(&blocker).unwrap();
    let serving = tokio::time::timeout(Duration::from_secs(15), watch.next())
        .await
        .expect("SERVING in time");
    assert_eq!(
        serving.unwrap().unwrap().status,
        ServingStatus::Serving as i32
    );
    for name in [
        "",
        "readiness",
        "wagate.v1.SessionService",
        "wagate.v1.SimulatorService",
    ] {
        assert_eq!(
            check(&mut health, name).await,
            ServingStatus::Serving as i32,
            "{name:?} once ready"
        );
    }
    let err = health
        .check(HealthCheckRequest {
            service: "no.such.Service".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::NotFound);

    // shutdown: the watch stream ends after a last NOT_SERVING
    server.stop().await.unwrap();
    let mut last = None;
    while let Some(item) = tokio::time::timeout(Duration::from_secs(10), watch.next())
        .await
        .expect("stream ends")
    {
        match item {
            Ok(message) => last = Some(message.status),
            Err(_) => break,
        }
    }
    assert_eq!(last, Some(not_serving));
}

/// PostgreSQL: the server starts against a port where nothing listens yet; a
/// relay to the real database opens there later.
#[tokio::test]
async fn health_waits_for_an_unreachable_postgres() {
    if !backends().contains(&wagate_tests::Backend::Postgres) {
        return;
    }
    let dir = TempDir::new("health-pg");
    let db = wagate_tests::TestDb::create(wagate_tests::Backend::Postgres, dir.path()).await;
    let real: url::Url = db.url.parse().unwrap();
    let real_addr = format!(
        "{}:{}",
        real.host_str().unwrap(),
        real.port().unwrap_or(5432)
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut relayed = real.clone();
    relayed.set_host(Some("127.0.0.1")).unwrap();
    relayed.set_port(Some(port)).unwrap();
    let config = test_config(relayed.as_str(), dir.path());
    let server = wagate::server::start(config, CancellationToken::new())
        .await
        .unwrap();
    let mut health = HealthClient::new(connect(server.grpc_addr).await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        check(&mut health, "readiness").await,
        ServingStatus::NotServing as i32
    );
    assert_eq!(
        check(&mut health, "liveness").await,
        ServingStatus::Serving as i32
    );

    // The database becomes reachable: a relay on the port the server dials.
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    let relay = tokio::spawn(async move {
        for _ in 0..1000 {
            let Ok((mut inbound, _)) = listener.accept().await else {
                return;
            };
            let real_addr = real_addr.clone();
            tokio::spawn(async move {
                if let Ok(mut outbound) = tokio::net::TcpStream::connect(&real_addr).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
    wagate_tests::wait_serving(connect(server.grpc_addr).await, Duration::from_secs(20)).await;
    assert_eq!(
        check(&mut health, "readiness").await,
        ServingStatus::Serving as i32
    );
    server.stop().await.unwrap();
    relay.abort();
    db.drop_database().await;
}

#[tokio::test]
async fn reflection_lists_the_public_services() {
    let server = TestServer::start(backends()[0]).await;
    let expected = [
        "wagate.v1.SessionService",
        "wagate.v1.MessageService",
        "wagate.v1.ContactService",
        "wagate.v1.GroupService",
        "wagate.v1.EventService",
        "wagate.v1.SimulatorService",
        "grpc.health.v1.Health",
    ];
    {
        use tonic_reflection::pb::v1::ServerReflectionRequest;
        use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
        use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
        use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
        let mut client = ServerReflectionClient::new(server.channel());
        let requests = vec![
            ServerReflectionRequest {
                host: String::new(),
                message_request: Some(MessageRequest::ListServices(String::new())),
            },
            ServerReflectionRequest {
                host: String::new(),
                message_request: Some(MessageRequest::FileContainingSymbol(
                    "wagate.v1.SessionService".into(),
                )),
            },
        ];
        let mut responses = client
            .server_reflection_info(futures::stream::iter(requests))
            .await
            .unwrap()
            .into_inner();
        let Some(MessageResponse::ListServicesResponse(list)) =
            responses.next().await.unwrap().unwrap().message_response
        else {
            panic!("expected a service list");
        };
        let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
        for name in expected {
            assert!(
                names.contains(&name.to_string()),
                "v1 lists {name}: {names:?}"
            );
        }
        assert!(
            !names.iter().any(|n| n.contains("simnet")),
            "the internal device link is not listed: {names:?}"
        );
        let Some(MessageResponse::FileDescriptorResponse(files)) =
            responses.next().await.unwrap().unwrap().message_response
        else {
            panic!("expected file descriptors");
        };
        assert!(!files.file_descriptor_proto.is_empty());
    }
    {
        use tonic_reflection::pb::v1alpha::ServerReflectionRequest;
        use tonic_reflection::pb::v1alpha::server_reflection_client::ServerReflectionClient;
        use tonic_reflection::pb::v1alpha::server_reflection_request::MessageRequest;
        use tonic_reflection::pb::v1alpha::server_reflection_response::MessageResponse;
        let mut client = ServerReflectionClient::new(server.channel());
        let request = ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::ListServices(String::new())),
        };
        let mut responses = client
            .server_reflection_info(futures::stream::iter(vec![request]))
            .await
            .unwrap()
            .into_inner();
        let Some(MessageResponse::ListServicesResponse(list)) =
            responses.next().await.unwrap().unwrap().message_response
        else {
            panic!("expected a service list");
        };
        let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
        for name in expected {
            assert!(
                names.contains(&name.to_string()),
                "v1alpha lists {name}: {names:?}"
            );
        }
    }
    server.stop().await;
}
