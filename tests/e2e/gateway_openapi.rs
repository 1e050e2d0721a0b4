//! The gateway's `/openapi.json` validates against the OpenAPI 3.1 schema
//! (openapi-spec-validator, Python) and has an operation for every binding.
//! Skipped (with a notice) when the Python package is missing, unless
//! WAGATE_REQUIRE_POLYGLOT=1 (CI).

use std::sync::Arc;

use http::Method;
use prost_reflect::DescriptorPool;
use wagate_gateway::{Canonical, RouteTable};
use wagate_tests::backends;

use crate::gateway::Gateway;
use crate::python::{python_has, validate_openapi};

#[tokio::test]
async fn openapi_document_validates_and_describes_every_binding() {
    if !python_has(
        "openapi_spec_validator",
        "openapi_document_validates_and_describes_every_binding",
    ) {
        return;
    }
    let gateway = Gateway::start(backends()[0]).await;
    let document = gateway.call(Method::GET, "/openapi.json", &[], "").await;
    assert_eq!(document.status, 200);
    assert_eq!(document.header("content-type"), Some("application/json"));

    let pool = DescriptorPool::decode(wagate_proto::FILE_DESCRIPTOR_SET).unwrap();
    let mut services: Vec<String> = wagate_proto::PUBLIC_SERVICES
        .iter()
        .map(|s| s.to_string())
        .collect();
    services.push(wagate_proto::SIMULATOR_SERVICE.to_owned());
    let table =
        RouteTable::from_services(&pool, &services, Arc::new(Canonical::default())).unwrap();
    let expected: Vec<serde_json::Value> = table
        .bindings()
        .iter()
        .map(|binding| {
            let (path, _) = wagate_gateway::openapi::openapi_path(binding);
            serde_json::json!({"method": binding.http_method.as_str().to_ascii_lowercase(), "path": path})
        })
        .collect();
    assert!(expected.len() > 60);

    validate_openapi(&document.body, &expected).await;

    let docs = gateway.call(Method::GET, "/docs", &[], "").await;
    assert_eq!(docs.status, 200);
    assert!(!docs.text().contains("<script"));
    gateway.stop().await;
}
