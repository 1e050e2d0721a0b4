//! wagate as a real process: restart persistence, SIGTERM drain, the generated
//! admin token, a separate simulator process, configuration errors.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use futures::StreamExt;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use wagate_proto::v1 as pb;
use wagate_proto::v1::session_service_client::SessionServiceClient;
use wagate_proto::v1::simulator_service_client::SimulatorServiceClient;
use wagate_tests::process::ProcessServer;
use wagate_tests::{ADMIN_TOKEN, TempDir, TestDb, admin, authed, backends, connect, wait_serving};

use crate::{WAGATE_BIN, create_session, link_by_qr, status_of, wait_status};

const LISTENING: &str = "gRPC server listening";

fn server_env(db: &TestDb, dir: &TempDir) -> HashMap<String, String> {
    HashMap::from([
        ("WAGATE_GRPC_ADDR".into(), "127.0.0.1:0".into()),
        ("WAGATE_DATA_DIR".into(), dir.path().display().to_string()),
        ("WAGATE_DATABASE_URL".into(), db.url.clone()),
        ("WAGATE_ADMIN_TOKEN".into(), ADMIN_TOKEN.into()),
        ("WAGATE_ENGINE".into(), "sim".into()),
        ("WAGATE_METRICS_ADDR".into(), "127.0.0.1:0".into()),
        ("WAGATE_HTTP_ADDR".into(), "127.0.0.1:0".into()),
        ("WAGATE_SHUTDOWN_GRACE".into(), "3s".into()),
        ("WAGATE_RECONNECT_STAGGER".into(), "10ms".into()),
    ])
}

async fn terminate(server: &mut ProcessServer) {
    server.signal("TERM").await;
    assert_eq!(
        server.wait_exit(Duration::from_secs(15)).await,
        Some(0),
        "clean exit on SIGTERM"
    );
}

#[tokio::test]
async fn sessions_survive_a_restart_and_connected_ones_reconnect() {
    for backend in backends() {
        let dir = TempDir::new("restart");
        let db = TestDb::create(backend, dir.path()).await;
        let env = server_env(&db, &dir);

        let mut first = ProcessServer::spawn(WAGATE_BIN, &["serve"], &env, LISTENING).await;
        let channel = connect(first.addr).await;
        wait_serving(channel.clone(), Duration::from_secs(30)).await;
        let mut sessions = SessionServiceClient::new(channel.clone());
        let mut simulator = SimulatorServiceClient::new(channel);
        let linked = create_session(&mut sessions, "+14155550110").await;
        let idle = create_session(&mut sessions, "+14155550111").await;
        let scanned = link_by_qr(&mut sessions, &mut simulator, &linked.name, "+14155550110").await;
        terminate(&mut first).await;

        let mut second = ProcessServer::spawn(WAGATE_BIN, &["serve"], &env, LISTENING).await;
        let channel = connect(second.addr).await;
        wait_serving(channel.clone(), Duration::from_secs(30)).await;
        let mut sessions = SessionServiceClient::new(channel);
        // the linked session reconnects by itself, with no new scan
        wait_status(&sessions, &linked.name, pb::SessionStatus::Connected).await;
        let user = sessions
            .get_session_user(admin(pb::GetSessionUserRequest {
                name: linked.name.clone(),
            }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            user.jid, scanned.device_jid,
            "same linked device after the restart"
        );
        // the other one stays as it was, with its settings and key
        assert_eq!(
            status_of(&mut sessions, &idle.name).await,
            pb::SessionStatus::Disconnected
        );
        let got = sessions
            .get_session(authed(
                &idle.api_key,
                pb::GetSessionRequest {
                    name: idle.name.clone(),
                },
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(got.phone_number, "+14155550111");
        let logs = sessions
            .list_session_logs(admin(pb::ListSessionLogsRequest {
                parent: linked.name.clone(),
                page_size: 100,
                ..Default::default()
            }))
            .await
            .unwrap()
            .into_inner();
        assert!(
            logs.session_logs
                .iter()
                .any(|l| l.r#type == pb::SessionLogType::DeviceLinked as i32),
            "logs kept"
        );
        terminate(&mut second).await;
        db.drop_database().await;
    }
}

#[tokio::test]
async fn sigterm_ends_open_streams_and_exits_zero_within_the_bound() {
    for backend in backends() {
        sigterm_on(backend).await;
    }
}

async fn sigterm_on(backend: wagate_tests::Backend) {
    let dir = TempDir::new("sigterm");
    let db = TestDb::create(backend, dir.path()).await;
    let mut server =
        ProcessServer::spawn(WAGATE_BIN, &["serve"], &server_env(&db, &dir), LISTENING).await;
    let channel = connect(server.addr).await;
    wait_serving(channel.clone(), Duration::from_secs(30)).await;
    let mut health = HealthClient::new(channel);
    let mut watch = health
        .watch(HealthCheckRequest {
            service: "readiness".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        watch.next().await.unwrap().unwrap().status,
        ServingStatus::Serving as i32
    );

    let started = Instant::now();
    server.signal("TERM").await;
    // readiness flips to NOT_SERVING at once, then the stream ends
    let mut statuses = Vec::new();
    while let Some(item) = tokio::time::timeout(Duration::from_secs(10), watch.next())
        .await
        .expect("stream ends in time")
    {
        match item {
            Ok(message) => statuses.push(message.status),
            Err(_) => break,
        }
    }
    assert_eq!(
        statuses.last(),
        Some(&(ServingStatus::NotServing as i32)),
        "{statuses:?}"
    );
    assert_eq!(server.wait_exit(Duration::from_secs(10)).await, Some(0));
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "drained within the 3 s grace bound: {:?}",
        started.elapsed()
    );
    db.drop_database().await;
}

#[tokio::test]
async fn generated_admin_token_is_printed_once_and_kept() {
    for backend in backends() {
        generated_admin_token_on(backend).await;
    }
}

async fn generated_admin_token_on(backend: wagate_tests::Backend) {
    let dir = TempDir::new("admin-token");
    let db = TestDb::create(backend, dir.path()).await;
    let mut env = server_env(&db, &dir);
    env.remove("WAGATE_ADMIN_TOKEN");

    let mut first = ProcessServer::spawn(WAGATE_BIN, &["serve"], &env, LISTENING).await;
    let channel = connect(first.addr).await;
    wait_serving(channel.clone(), Duration::from_secs(30)).await;
    let token = first
        .stdout_lines()
        .iter()
        .find_map(|line| {
            line.trim()
                .strip_prefix("wga_")
                .map(|rest| format!("wga_{rest}"))
        })
        .expect("the generated token is printed on first start");
    let mut sessions = SessionServiceClient::new(channel);
    assert!(
        sessions
            .list_sessions(authed(&token, pb::ListSessionsRequest::default()))
            .await
            .is_ok()
    );
    assert_eq!(
        sessions
            .list_sessions(authed(ADMIN_TOKEN, pb::ListSessionsRequest::default()))
            .await
            .unwrap_err()
            .code(),
        tonic::Code::Unauthenticated
    );
    terminate(&mut first).await;

    let mut second = ProcessServer::spawn(WAGATE_BIN, &["serve"], &env, LISTENING).await;
    let channel = connect(second.addr).await;
    wait_serving(channel.clone(), Duration::from_secs(30)).await;
    let printed = second.stdout_lines();
    assert!(
        !printed.iter().any(|l| l.contains("wga_")),
        "printed only once: {printed:?}"
    );
    let mut sessions = SessionServiceClient::new(channel);
    assert!(
        sessions
            .list_sessions(authed(&token, pb::ListSessionsRequest::default()))
            .await
            .is_ok(),
        "still valid"
    );
    terminate(&mut second).await;
    db.drop_database().await;
}

#[tokio::test]
async fn sessions_link_through_a_separate_simulator_process() {
    let dir = TempDir::new("remote-sim");
    let db = TestDb::create(backends()[0], dir.path()).await;
    let sim_env = HashMap::from([
        (
            "WAGATE_SIMULATOR_ADDR".to_string(),
            "127.0.0.1:0".to_string(),
        ),
        ("WAGATE_DATA_DIR".into(), dir.path().display().to_string()),
        (
            "WAGATE_SIMULATOR_TOKEN".into(),
            "simulator-secret-token".into(),
        ),
    ]);
    let mut sim =
        ProcessServer::spawn(WAGATE_BIN, &["simulator"], &sim_env, "simulator listening").await;
    let mut env = server_env(&db, &dir);
    env.insert(
        "WAGATE_SIMULATOR_TOKEN".into(),
        "simulator-secret-token".into(),
    );
    let url = format!("http://{}", sim.addr);
    let mut server = ProcessServer::spawn(
        WAGATE_BIN,
        &["serve", "--simulator-url", &url],
        &env,
        LISTENING,
    )
    .await;
    let channel = connect(server.addr).await;
    wait_serving(channel.clone(), Duration::from_secs(30)).await;
    let mut sessions = SessionServiceClient::new(channel.clone());
    // the simulator's control API lives on the simulator, not on the server
    let err = SimulatorServiceClient::new(channel)
        .list_accounts(admin(pb::ListAccountsRequest::default()))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unimplemented);
    let mut simulator = SimulatorServiceClient::new(connect(sim.addr).await);
    let err = simulator
        .list_accounts(tonic::Request::new(pb::ListAccountsRequest::default()))
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        tonic::Code::Unauthenticated,
        "the simulator token is required"
    );

    let session = create_session(&mut sessions, "+14155550112").await;
    let connected = sessions
        .connect_session(admin(pb::ConnectSessionRequest {
            name: session.name.clone(),
        }))
        .await
        .unwrap()
        .into_inner();
    let qr = connected.qr_code.expect("QR from the remote network").code;
    simulator
        .scan_qr(authed(
            "simulator-secret-token",
            pb::ScanQrRequest {
                qr_code: qr,
                phone_number: "+14155550112".into(),
            },
        ))
        .await
        .unwrap();
    wait_status(&sessions, &session.name, pb::SessionStatus::Connected).await;
    terminate(&mut server).await;
    terminate(&mut sim).await;
}

#[tokio::test]
async fn configuration_errors_exit_with_a_clear_message() {
    for (var, value, expected) in [
        (
            "WAGATE_GRPC_ADDR",
            "not-an-address",
            "WAGATE_GRPC_ADDR: invalid socket address",
        ),
        (
            "WAGATE_ENGINE",
            "carrier-pigeon",
            "WAGATE_ENGINE: unknown engine",
        ),
        ("WAGATE_DATABASE_URL", "mysql://x", "WAGATE_DATABASE_URL"),
    ] {
        let output = tokio::process::Command::new(WAGATE_BIN)
            .arg("serve")
            .env_clear()
            .env(var, value)
            .output()
            .await
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{var}={value}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expected), "{var}={value}: {stderr}");
    }
}

/// A device of `phone` linked through the remote simulator's network by QR:
/// its credentials and its open connection.
async fn remote_device(
    network: &wagate::engine::sim::remote::RemoteNetwork,
    simulator: &mut SimulatorServiceClient<tonic::transport::Channel>,
    phone: &str,
) -> (
    wagate_proto::wagate::simnet::v1::DeviceCredentials,
    wagate::engine::sim::AttachStream,
) {
    use wagate::engine::sim::SimNetwork;
    use wagate_proto::wagate::simnet::v1::attach_response::Event;
    let mut stream = network.attach(None).await.unwrap();
    let mut credentials = None;
    loop {
        let event = tokio::time::timeout(Duration::from_secs(10), stream.next())
            .await
            .expect("a linking event")
            .expect("an open stream")
            .event;
        match event {
            Some(Event::QrCode(qr)) => {
                simulator
                    .scan_qr(authed(
                        "simulator-secret-token",
                        pb::ScanQrRequest {
                            qr_code: qr.code,
                            phone_number: phone.into(),
                        },
                    ))
                    .await
                    .unwrap();
            }
            Some(Event::Paired(paired)) => credentials = paired.credentials,
            Some(Event::Connected(_)) => return (credentials.expect("paired first"), stream),
            _ => {}
        }
    }
}

#[tokio::test]
async fn groups_work_through_a_separate_simulator_process() {
    use wagate::engine::sim::SimNetwork;
    use wagate::engine::sim::remote::RemoteNetwork;
    use wagate::error::{Code, Reason};
    use wagate_proto::wagate::simnet::v1 as simnet;
    use wagate_proto::wagate::simnet::v1::attach_response::Event;
    use wagate_proto::wagate::simnet::v1::query_request::Query;
    use wagate_proto::wagate::simnet::v1::query_response::Result as Answer;

    let dir = TempDir::new("remote-sim-groups");
    let sim_env = HashMap::from([
        (
            "WAGATE_SIMULATOR_ADDR".to_string(),
            "127.0.0.1:0".to_string(),
        ),
        ("WAGATE_DATA_DIR".into(), dir.path().display().to_string()),
        (
            "WAGATE_SIMULATOR_TOKEN".into(),
            "simulator-secret-token".into(),
        ),
    ]);
    let mut sim =
        ProcessServer::spawn(WAGATE_BIN, &["simulator"], &sim_env, "simulator listening").await;
    let network = RemoteNetwork::new(
        &format!("http://{}", sim.addr),
        Some("simulator-secret-token".into()),
    )
    .unwrap();
    let mut simulator = SimulatorServiceClient::new(connect(sim.addr).await);
    let (alice_credentials, mut alice) =
        remote_device(&network, &mut simulator, "+14155550121").await;
    let (bob_credentials, mut bob) = remote_device(&network, &mut simulator, "+14155550122").await;

    let answer = network
        .query(simnet::QueryRequest {
            credentials: Some(alice_credentials.clone()),
            query: Some(Query::CreateGroup(simnet::CreateGroup {
                subject: "Remote team".into(),
                participants: vec!["14155550122@s.whatsapp.net".into()],
            })),
        })
        .await
        .unwrap()
        .result;
    let Some(Answer::Group(group)) = answer else {
        panic!("expected a group, got {answer:?}");
    };
    assert_eq!(group.subject, "Remote team");
    assert_eq!(group.participants.len(), 2);
    assert_eq!(group.self_role, pb::GroupParticipantRole::Superadmin as i32);

    // Both accounts' devices are told, over the remote link, each with its own role.
    for (stream, role) in [
        (&mut alice, pb::GroupParticipantRole::Superadmin),
        (&mut bob, pb::GroupParticipantRole::Member),
    ] {
        let notification = loop {
            let event = tokio::time::timeout(Duration::from_secs(10), stream.next())
                .await
                .expect("a notification")
                .expect("an open stream")
                .event;
            if let Some(Event::Directory(n)) = event {
                break n;
            }
        };
        match notification.change {
            Some(simnet::notification::Change::Groups(payload)) => {
                assert_eq!(payload.groups[0].jid, group.jid);
                assert_eq!(payload.groups[0].self_role, role as i32);
                assert_eq!(payload.author, "14155550121@s.whatsapp.net");
            }
            other => panic!("expected a groups upsert, got {other:?}"),
        }
    }

    // Errors keep their code and reason across the link.
    let err = network
        .query(simnet::QueryRequest {
            credentials: Some(bob_credentials),
            query: Some(Query::ChangeParticipants(simnet::ChangeParticipants {
                group: group.jid.clone(),
                action: pb::ParticipantChangeType::Remove as i32,
                participants: vec!["14155550121@s.whatsapp.net".into()],
            })),
        })
        .await
        .unwrap_err();
    assert_eq!(
        (err.code, err.reason),
        (Code::PermissionDenied, Reason::NotGroupAdmin)
    );
    drop((alice, bob));
    terminate(&mut sim).await;
}
