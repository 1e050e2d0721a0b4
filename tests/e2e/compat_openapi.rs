//! `/openapi.json` with every compatibility profile switched on: valid
//! OpenAPI 3.1 (Python openapi-spec-validator) with an operation for every
//! endpoint of every profile under its prefix, and unique operation ids.

use std::time::Duration;

use http::Method;
use wagate_gateway::client::HttpClient;
use wagate_gateway::profiles::{self, Endpoint};
use wagate_tests::{TempDir, TestServer, backends};

#[tokio::test]
async fn openapi_documents_every_profile_under_its_prefix() {
    let available = std::process::Command::new("python3")
        .args(["-c", "import openapi_spec_validator"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !available {
        assert!(
            std::env::var("WAGATE_REQUIRE_POLYGLOT").as_deref() != Ok("1"),
            "WAGATE_REQUIRE_POLYGLOT=1 but python3 lacks openapi-spec-validator"
        );
        eprintln!(
            "SKIPPED openapi_documents_every_profile_under_its_prefix: no openapi-spec-validator"
        );
        return;
    }
    let server = TestServer::start_with(backends()[0], |config| {
        config.gateway_profiles = profiles::KNOWN_PROFILES
            .iter()
            .map(|p| p.to_string())
            .collect();
    })
    .await;
    let url = format!(
        "http://{}/openapi.json",
        server.http_addr.expect("HTTP listener")
    );
    let document = HttpClient::new()
        .call(Method::GET, &url, &[], Vec::new())
        .await
        .unwrap();
    assert_eq!(document.status, 200);

    let tables: [(&str, Vec<Endpoint>); 5] = [
        ("", profiles::wasender::endpoints()),
        ("/chatsuite", profiles::chatsuite::endpoints()),
        ("/prosendi", profiles::prosendi::endpoints()),
        ("/onsend", profiles::onsend::endpoints()),
        ("/saas", profiles::saas::endpoints()),
    ];
    assert_eq!(
        tables.len(),
        profiles::KNOWN_PROFILES.len(),
        "a profile is missing here"
    );
    let expected: Vec<serde_json::Value> = tables
        .iter()
        .flat_map(|(prefix, endpoints)| {
            endpoints.iter().map(move |e| {
                serde_json::json!({"method": e.method.as_str().to_ascii_lowercase(), "path": format!("{prefix}{}", e.path)})
            })
        })
        .collect();

    let dir = TempDir::new("compat-openapi");
    let document_path = dir.path().join("openapi.json");
    let expected_path = dir.path().join("expected.json");
    std::fs::write(&document_path, &document.body).unwrap();
    std::fs::write(&expected_path, serde_json::to_vec(&expected).unwrap()).unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/python/validate_openapi.py");
    let child = tokio::process::Command::new("python3")
        .arg(script)
        .arg(&document_path)
        .arg(&expected_path)
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(120), child)
        .await
        .expect("python finishes")
        .expect("run python");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("openapi ok"),
        "OpenAPI validation failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
