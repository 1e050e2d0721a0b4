//! The seed-001 getting-started flow from Python with `requests` only
//! (tests/python/wasender_getting_started.py) against a real server and its
//! in-process gateway. Skipped (with a notice) when `requests` is missing,
//! unless WAGATE_REQUIRE_POLYGLOT=1 (CI).

use std::time::Duration;

use wagate_tests::{ADMIN_TOKEN, backends};

use super::start_server;

#[tokio::test]
async fn python_requests_client_follows_the_getting_started_flow() {
    let available = std::process::Command::new("python3")
        .args(["-c", "import requests"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !available {
        assert!(
            std::env::var("WAGATE_REQUIRE_POLYGLOT").as_deref() != Ok("1"),
            "WAGATE_REQUIRE_POLYGLOT=1 but python3 lacks requests (pip install -r tests/python/requirements.txt)"
        );
        eprintln!(
            "SKIPPED python_requests_client_follows_the_getting_started_flow: pip install -r tests/python/requirements.txt to run it"
        );
        return;
    }
    let server = start_server(backends()[0]).await;
    let base = format!("http://{}", server.http_addr.expect("HTTP listener"));
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/python/wasender_getting_started.py"
    );
    let child = tokio::process::Command::new("python3")
        .arg(script)
        .env("WAGATE_BASE_URL", &base)
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
