//! A Python client generated with grpcio-tools from `proto/` drives the real
//! server: create → connect → scan → status. Skipped (with a notice) when the
//! Python packages are missing, unless WAGATE_REQUIRE_POLYGLOT=1 (CI).

use wagate_tests::{ADMIN_TOKEN, TestServer, backends};

use crate::python::{python_has, run_python};

#[tokio::test]
async fn python_client_links_a_session() {
    if !python_has(
        "grpc, grpc_tools, google.protobuf",
        "python_client_links_a_session",
    ) {
        return;
    }
    let server = TestServer::start(backends()[0]).await;
    let addr = server.addr.to_string();
    let stdout = run_python(
        "session_flow.py",
        &[],
        &[("WAGATE_ADDR", &addr), ("WAGATE_ADMIN_TOKEN", ADMIN_TOKEN)],
    )
    .await;
    assert!(stdout.contains("1 passed, 0 failed"), "{stdout}");
    server.stop().await;
}
