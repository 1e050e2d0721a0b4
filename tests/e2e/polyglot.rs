//! A Python client generated with grpcio-tools from `proto/` drives the real
//! server: create → connect → scan → status. Skipped (with a notice) when the
//! Python packages are missing, unless WAGATE_REQUIRE_POLYGLOT=1 (CI).

use std::time::Duration;

use wagate_tests::{ADMIN_TOKEN, TestServer, backends};

#[tokio::test]
async fn python_client_links_a_session() {
    let available = std::process::Command::new("python3")
        .args(["-c", "import grpc, grpc_tools, google.protobuf"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !available {
        assert!(
            std::env::var("WAGATE_REQUIRE_POLYGLOT").as_deref() != Ok("1"),
            "WAGATE_REQUIRE_POLYGLOT=1 but python3 lacks grpcio/grpcio-tools (pip install -r tests/python/requirements.txt)"
        );
        eprintln!(
            "SKIPPED python_client_links_a_session: pip install -r tests/python/requirements.txt to run it"
        );
        return;
    }
    let server = TestServer::start(backends()[0]).await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/python/session_flow.py");
    let child = tokio::process::Command::new("python3")
        .arg(script)
        .env("WAGATE_ADDR", server.addr.to_string())
        .env("WAGATE_ADMIN_TOKEN", ADMIN_TOKEN)
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(120), child)
        .await
        .expect("python finishes")
        .expect("run python");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "python client failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("1 passed, 0 failed"), "{stdout}");
    server.stop().await;
}
