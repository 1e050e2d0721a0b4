//! The whatsapp engine up to the network edge: no real WhatsApp is reachable
//! here, so connections fail — visibly, with backoff, without spinning or
//! leaking — and proxies see the attempt.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wagate::config::EngineKind;
use wagate_proto::v1 as pb;
use wagate_tests::{TestServer, admin, backends, eventually};

use crate::{create_session, status_of};

async fn whatsapp_server(backend: wagate_tests::Backend, allow_private: bool) -> TestServer {
    TestServer::start_with(backend, |config| {
        config.engine = EngineKind::Whatsapp;
        config.connect_wait = Duration::from_millis(500);
        config.allow_private_urls = allow_private;
    })
    .await
}

async fn connection_errors(server: &TestServer, name: &str) -> Vec<String> {
    let request = pb::ListSessionLogsRequest {
        parent: name.to_owned(),
        page_size: 1000,
        ..Default::default()
    };
    let logs = server
        .sessions()
        .list_session_logs(admin(request))
        .await
        .unwrap()
        .into_inner();
    logs.session_logs
        .into_iter()
        .filter(|l| l.r#type == pb::SessionLogType::ConnectionError as i32)
        .map(|l| l.message)
        .collect()
}

/// CPU time (user + system) a process has used so far.
fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    Duration::from_millis(ticks * 10)
}

/// A plain HTTP/1.1 GET on loopback; returns the whole response.
async fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut response))
        .await
        .unwrap()
        .unwrap();
    String::from_utf8_lossy(&response).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_connect_fails_visibly_retries_and_stays_idle() {
    for backend in backends() {
        let server = whatsapp_server(backend, false).await;
        let mut sessions = server.sessions();
        let session = create_session(&mut sessions, "+14155550120").await;
        let connected = sessions
            .connect_session(admin(pb::ConnectSessionRequest {
                name: session.name.clone(),
            }))
            .await
            .unwrap();
        assert_eq!(
            connected.into_inner().status,
            pb::SessionStatus::Connecting as i32
        );

        // The failure reaches the log and the status, again and again (the library retries).
        let errors = eventually(
            "two failed attempts in the log",
            Duration::from_secs(20),
            || async {
                let errors = connection_errors(&server, &session.name).await;
                (errors.len() >= 2).then_some(errors)
            },
        )
        .await;
        assert!(
            errors.iter().all(|e| e.contains("web.whatsapp.com")),
            "{errors:?}"
        );
        assert_eq!(
            status_of(&mut sessions, &session.name).await,
            pb::SessionStatus::Connecting
        );
        let got = sessions
            .get_session(admin(pb::GetSessionRequest {
                name: session.name.clone(),
            }))
            .await
            .unwrap()
            .into_inner();
        assert!(
            got.status_reason.contains("web.whatsapp.com"),
            "{}",
            got.status_reason
        );
        let resources = got.resources.expect("figures of the live client");
        assert_eq!(resources.bytes_received, 0);
        let metrics = http_get(server.metrics_addr.expect("metrics enabled"), "/metrics").await;
        assert!(metrics.starts_with("HTTP/1.1 200"), "{metrics}");
        assert!(
            metrics.contains("wagate_sessions{status=\"connecting\"} 1"),
            "{metrics}"
        );
        assert!(
            metrics.contains(&format!(
                "wagate_session_bytes_sent_total{{session=\"{}\"}} ",
                got.id
            )),
            "{metrics}"
        );
        assert!(
            metrics.contains(&format!(
                "wagate_session_memory_bytes{{session=\"{}\"}} ",
                got.id
            )),
            "{metrics}"
        );

        // No device was ever linked: logout has nothing to unlink; disconnect stops the client.
        let disconnected = sessions
            .disconnect_session(admin(pb::DisconnectSessionRequest {
                name: session.name.clone(),
            }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(disconnected.status, pb::SessionStatus::Disconnected as i32);
        let got = sessions
            .get_session(admin(pb::GetSessionRequest {
                name: session.name.clone(),
            }))
            .await
            .unwrap()
            .into_inner();
        assert!(got.resources.is_none());
        let err = sessions
            .logout_session(admin(pb::LogoutSessionRequest {
                name: session.name.clone(),
            }))
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::FailedPrecondition);
        server.stop().await;
    }
}

/// A real server process: building, restarting and deleting whatsapp clients in
/// a loop leaves its task count (from /metrics) and open files where they were.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn building_and_deleting_clients_in_a_loop_leaks_nothing() {
    use wagate_tests::process::ProcessServer;
    let dir = wagate_tests::TempDir::new("wa-leak");
    let metrics_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let metrics_addr: std::net::SocketAddr = format!("127.0.0.1:{metrics_port}").parse().unwrap();
    let env = std::collections::HashMap::from([
        ("WAGATE_GRPC_ADDR".to_string(), "127.0.0.1:0".to_string()),
        ("WAGATE_DATA_DIR".into(), dir.path().display().to_string()),
        (
            "WAGATE_ADMIN_TOKEN".into(),
            wagate_tests::ADMIN_TOKEN.into(),
        ),
        ("WAGATE_METRICS_ADDR".into(), metrics_addr.to_string()),
        ("WAGATE_HTTP_ADDR".into(), "off".into()),
        ("WAGATE_CONNECT_WAIT".into(), "10ms".into()),
        ("WAGATE_SHUTDOWN_GRACE".into(), "3s".into()),
    ]);
    let mut server =
        ProcessServer::spawn(crate::WAGATE_BIN, &["serve"], &env, "gRPC server listening").await;
    let channel = wagate_tests::connect(server.addr).await;
    wagate_tests::wait_serving(channel.clone(), Duration::from_secs(30)).await;
    let sessions = wagate_proto::v1::session_service_client::SessionServiceClient::new(channel);
    let pid = server.child.id().unwrap();
    let tasks = || async move {
        let metrics = http_get(metrics_addr, "/metrics").await;
        let line = metrics
            .lines()
            .find(|l| l.starts_with("wagate_runtime_alive_tasks "))
            .expect("task gauge");
        line.rsplit(' ').next().unwrap().parse::<i64>().unwrap()
    };
    let fds = move || {
        std::fs::read_dir(format!("/proc/{pid}/fd"))
            .unwrap()
            .count() as i64
    };
    let cycle = |i: usize| {
        let mut sessions = sessions.clone();
        async move {
            let session = create_session(&mut sessions, &format!("+1415555{:04}", 3000 + i)).await;
            let name = session.name;
            sessions
                .connect_session(admin(pb::ConnectSessionRequest { name: name.clone() }))
                .await
                .unwrap();
            sessions
                .disconnect_session(admin(pb::DisconnectSessionRequest { name: name.clone() }))
                .await
                .unwrap();
            sessions
                .connect_session(admin(pb::ConnectSessionRequest { name: name.clone() }))
                .await
                .unwrap();
            sessions
                .delete_session(admin(pb::DeleteSessionRequest { name }))
                .await
                .unwrap();
        }
    };
    // Warm up lazily created pools (database connections, the library's shared threads).
    for i in 0..3 {
        cycle(i).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (tasks_before, fds_before) = (tasks().await, fds());
    for i in 3..23 {
        cycle(i).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (tasks_after, fds_after) = (tasks().await, fds());
    assert!(
        tasks_after <= tasks_before + 2,
        "tasks grew from {tasks_before} to {tasks_after} over 20 cycles"
    );
    assert!(
        fds_after <= fds_before + 2,
        "open files grew from {fds_before} to {fds_after} over 20 cycles"
    );
    let files = std::fs::read_dir(dir.path().join("whatsapp"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(files, 0, "deleted sessions leave no credential files");
    server.signal("TERM").await;
    assert_eq!(server.wait_exit(Duration::from_secs(15)).await, Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_clients_build_and_shut_down_offline() {
    let server = whatsapp_server(backends()[0], false).await;
    let mut sessions = server.sessions();
    let mut names = Vec::new();
    for i in 0..40 {
        names.push(
            create_session(&mut sessions, &format!("+1415556{:04}", i))
                .await
                .name,
        );
    }
    let connects = names.iter().map(|name| {
        let mut sessions = sessions.clone();
        let name = name.clone();
        async move {
            sessions
                .connect_session(admin(pb::ConnectSessionRequest { name }))
                .await
                .map(|r| r.into_inner().status)
        }
    });
    for status in futures::future::join_all(connects).await {
        assert_eq!(status.unwrap(), pb::SessionStatus::Connecting as i32);
    }
    let started = std::time::Instant::now();
    server.stop().await;
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "40 clients stopped in {:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_proxy_carries_the_websocket_attempt() {
    let server = whatsapp_server(backends()[0], true).await;
    // A loopback SOCKS5 proxy that records the destination and refuses (0x02: not allowed).
    let (proxy, seen) =
        crate::wa_proxy::socks5_proxy(false, crate::wa_proxy::SocksMode::Refuse(2)).await;
    let port = proxy.port();
    let mut sessions = server.sessions();
    let session = sessions
        .create_session(admin(pb::CreateSessionRequest {
            session: Some(pb::Session {
                display_name: "Proxied".into(),
                phone_number: "+14155550121".into(),
                proxy_url: format!("socks5://127.0.0.1:{port}"),
                ..Default::default()
            }),
        }))
        .await
        .unwrap()
        .into_inner();
    sessions
        .connect_session(admin(pb::ConnectSessionRequest {
            name: session.name.clone(),
        }))
        .await
        .unwrap();
    eventually(
        "the proxy to see the WebSocket attempt",
        Duration::from_secs(20),
        || {
            let seen = crate::wa_proxy::snapshot(&seen);
            async move {
                seen.iter()
                    .any(|s| s.atyp == 3 && s.host == "web.whatsapp.com" && s.port == 443)
                    .then_some(())
            }
        },
    )
    .await;
    let errors = eventually(
        "the refusal in the log",
        Duration::from_secs(20),
        || async {
            let errors = connection_errors(&server, &session.name).await;
            (!errors.is_empty()).then_some(errors)
        },
    )
    .await;
    assert!(
        errors
            .iter()
            .any(|e| e.contains(&format!("127.0.0.1:{port}"))),
        "the log names the proxy: {errors:?}"
    );
    server.stop().await;
}

/// A real `wagate serve` process (default engine) with sessions retrying
/// offline: between retries it uses next to no CPU.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retrying_offline_sessions_leave_the_process_idle() {
    use wagate_tests::process::ProcessServer;
    let dir = wagate_tests::TempDir::new("wa-idle");
    let env = std::collections::HashMap::from([
        ("WAGATE_GRPC_ADDR".to_string(), "127.0.0.1:0".to_string()),
        ("WAGATE_DATA_DIR".into(), dir.path().display().to_string()),
        (
            "WAGATE_ADMIN_TOKEN".into(),
            wagate_tests::ADMIN_TOKEN.into(),
        ),
        ("WAGATE_METRICS_ADDR".into(), "off".into()),
        ("WAGATE_HTTP_ADDR".into(), "off".into()),
        ("WAGATE_CONNECT_WAIT".into(), "10ms".into()),
        ("WAGATE_SHUTDOWN_GRACE".into(), "3s".into()),
    ]);
    let mut server =
        ProcessServer::spawn(crate::WAGATE_BIN, &["serve"], &env, "gRPC server listening").await;
    let channel = wagate_tests::connect(server.addr).await;
    wagate_tests::wait_serving(channel.clone(), Duration::from_secs(30)).await;
    let mut sessions = wagate_proto::v1::session_service_client::SessionServiceClient::new(channel);
    for i in 0..10 {
        let session = create_session(&mut sessions, &format!("+1415557{i:04}")).await;
        sessions
            .connect_session(admin(pb::ConnectSessionRequest { name: session.name }))
            .await
            .unwrap();
    }
    // Let the first attempts fail, then watch a quiet stretch of backoff.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let pid = server.child.id().unwrap();
    let before = cpu_time(pid);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let used = cpu_time(pid) - before;
    assert!(
        used < Duration::from_millis(300),
        "10 retrying sessions used {used:?} of CPU in 3 s"
    );
    server.signal("TERM").await;
    assert_eq!(server.wait_exit(Duration::from_secs(15)).await, Some(0));
}
