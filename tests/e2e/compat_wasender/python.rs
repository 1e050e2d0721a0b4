//! The seed-001 getting-started flow from Python with `requests` only
//! (tests/python/wasender_getting_started.py) against a real server and its
//! in-process gateway. Skipped (with a notice) when `requests` is missing,
//! unless WAGATE_REQUIRE_POLYGLOT=1 (CI).

use wagate_tests::{ADMIN_TOKEN, backends};

use super::start_server;
use crate::python::{python_has, run_python};

#[tokio::test]
async fn python_requests_client_follows_the_getting_started_flow() {
    if !python_has(
        "requests",
        "python_requests_client_follows_the_getting_started_flow",
    ) {
        return;
    }
    let server = start_server(backends()[0]).await;
    let base = format!("http://{}", server.http_addr.expect("HTTP listener"));
    let stdout = run_python(
        "wasender_getting_started.py",
        &[],
        &[
            ("WAGATE_BASE_URL", &base),
            ("WAGATE_ADMIN_TOKEN", ADMIN_TOKEN),
        ],
    )
    .await;
    assert!(stdout.contains("1 passed, 0 failed"), "{stdout}");
    server.stop().await;
}
