//! `/openapi.json` with every compatibility profile switched on: valid
//! OpenAPI 3.1 (Python openapi-spec-validator) with an operation for every
//! endpoint of every profile under its prefix, unique operation ids, and
//! response schemas (success envelope, error bodies) generated from the
//! endpoint tables.

use http::Method;
use wagate_gateway::client::HttpClient;
use wagate_gateway::profiles::{self, Endpoint};
use wagate_tests::{TestServer, backends};

use crate::python::{python_has, validate_openapi};

#[tokio::test]
async fn openapi_documents_every_profile_under_its_prefix() {
    if !python_has(
        "openapi_spec_validator",
        "openapi_documents_every_profile_under_its_prefix",
    ) {
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

    validate_openapi(&document.body, &expected).await;

    // Responses with their bodies' schemas, as each product answers.
    let json = document.json();
    let schema = |method: &str, path: &str, status: &str| {
        let response = &json["paths"][path][method]["responses"][status];
        assert!(
            response.is_object(),
            "{method} {path}: no {status} response"
        );
        response["content"]["application/json"]["schema"].clone()
    };
    let sent = schema("post", "/api/send-message", "200");
    assert_eq!(sent["properties"]["success"]["type"], "boolean");
    assert_eq!(
        sent["properties"]["data"]["properties"]["msgId"]["type"],
        "integer"
    );
    let limited = schema("get", "/api/groups/{groupJid}/metadata", "429");
    assert_eq!(limited["properties"]["retry_after"]["type"], "integer");
    assert_eq!(limited["properties"]["message"]["type"], "string");
    let invalid = schema("post", "/api/send-message", "422");
    assert_eq!(invalid["properties"]["errors"]["type"], "object");
    assert_eq!(
        schema("get", "/api/groups", "200")["properties"]["data"]["type"],
        "array"
    );
    assert_eq!(
        schema("post", "/chatsuite/api/send", "401")["properties"]["code"]["type"],
        "string"
    );
    assert_eq!(
        schema("post", "/saas/api/v1/send-message", "404")["properties"]["error"]["type"],
        "object"
    );
}
