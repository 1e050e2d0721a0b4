//! The generated document over the real wagate descriptors.

use std::sync::Arc;

use prost_reflect::DescriptorPool;
use serde_json::Value as Json;

use super::*;
use crate::profile::Canonical;

fn table() -> RouteTable {
    let pool = DescriptorPool::decode(wagate_proto::FILE_DESCRIPTOR_SET).unwrap();
    let mut services: Vec<String> = wagate_proto::PUBLIC_SERVICES
        .iter()
        .map(|s| s.to_string())
        .collect();
    services.push(wagate_proto::SIMULATOR_SERVICE.to_owned());
    RouteTable::from_services(&pool, &services, Arc::new(Canonical::default())).unwrap()
}

fn collect_refs(value: &Json, out: &mut Vec<String>) {
    match value {
        Json::Object(map) => {
            for (key, child) in map {
                if key == "$ref" {
                    out.push(child.as_str().unwrap().to_owned());
                } else {
                    collect_refs(child, out);
                }
            }
        }
        Json::Array(items) => items.iter().for_each(|item| collect_refs(item, out)),
        _ => {}
    }
}

#[test]
fn every_binding_is_an_operation_with_its_path_parameters() {
    let table = table();
    let doc = document(&table);
    assert_eq!(doc["openapi"], "3.1.0");
    for binding in table.bindings() {
        let (path, params) = openapi_path(binding);
        let method = binding.http_method.as_str().to_ascii_lowercase();
        let operation = &doc["paths"][&path][&method];
        assert!(
            operation.is_object(),
            "{binding:?} missing as {method} {path}"
        );
        let declared: Vec<&str> = operation["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["in"] == "path")
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        for (name, _) in &params {
            assert!(path.contains(&format!("{{{name}}}")));
            assert!(
                declared.contains(&name.as_str()),
                "{path}: {name} not declared"
            );
        }
        assert_eq!(declared.len(), params.len(), "{path}");
    }
    let operations: usize = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|item| item.as_object().unwrap().len())
        .sum();
    assert_eq!(
        operations,
        table.bindings().len() + 2,
        "bindings + /healthz + /readyz"
    );
}

#[test]
fn paths_parameters_bodies_and_schemas_are_described() {
    let doc = document(&table());
    let get_message = &doc["paths"]["/v1/sessions/{sessionsId}/messages/{messagesId}"]["get"];
    assert_eq!(get_message["operationId"], "MessageService_GetMessage");
    let connect = &doc["paths"]["/v1/sessions/{sessionsId}:connect"]["post"];
    assert_eq!(connect["tags"][0], "SessionService");
    assert!(
        connect["requestBody"]["content"]["application/json"]["schema"]["$ref"]
            .as_str()
            .unwrap()
            .ends_with("wagate.v1.ConnectSessionRequest")
    );
    let list = &doc["paths"]["/v1/sessions"]["get"];
    let names: Vec<&str> = list["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["pageSize", "pageToken"]);
    let update = &doc["paths"]["/v1/sessions/{sessionsId}"]["patch"];
    let update_params: Vec<&str> = update["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert!(update_params.contains(&"updateMask"), "{update_params:?}");
    assert_eq!(
        update_params,
        vec!["sessionsId", "updateMask"],
        "body fields are not query parameters"
    );
    let subscribe = &doc["paths"]["/v1/sessions/{sessionsId}/events:subscribe"]["get"];
    assert!(subscribe["responses"]["200"]["content"]["text/event-stream"].is_object());
    assert_eq!(
        doc["paths"]["/v1/events:subscribe"]["get"]["operationId"],
        "EventService_SubscribeEvents_2"
    );

    let session = &doc["components"]["schemas"]["wagate.v1.Session"];
    assert!(
        session["description"]
            .as_str()
            .unwrap()
            .contains("linked WhatsApp account")
    );
    assert_eq!(session["properties"]["id"]["type"], "string");
    assert_eq!(session["properties"]["id"]["format"], "int64");
    assert_eq!(session["properties"]["id"]["readOnly"], true);
    assert_eq!(session["properties"]["createTime"]["format"], "date-time");
    assert_eq!(session["properties"]["webhookEvents"]["type"], "array");
    let status = &doc["components"]["schemas"]["wagate.v1.SessionStatus"];
    assert!(
        status["enum"]
            .as_array()
            .unwrap()
            .contains(&Json::from("SESSION_STATUS_CONNECTED"))
    );
    assert!(doc["components"]["schemas"]["google.rpc.Status"].is_object());
    assert!(doc["components"]["schemas"]["google.rpc.BadRequest"].is_object());
    assert_eq!(
        doc["components"]["securitySchemes"]["bearerAuth"]["scheme"],
        "bearer"
    );
    assert_eq!(
        doc["components"]["securitySchemes"]["apiKey"]["name"],
        "X-API-Key"
    );

    let mut refs = Vec::new();
    collect_refs(&doc, &mut refs);
    for reference in refs {
        let pointer = reference.trim_start_matches('#');
        assert!(doc.pointer(pointer).is_some(), "dangling {reference}");
    }
}

#[test]
fn docs_page_is_self_contained_and_lists_every_operation() {
    let doc = document(&table());
    let html = crate::docs_page::render(&doc);
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(!html.contains("<script"), "no scripts");
    assert!(!html.contains("src=\"http"), "no external resources");
    assert!(!html.contains("href=\"http"), "no external links needed");
    for item in doc["paths"].as_object().unwrap().values() {
        for operation in item.as_object().unwrap().values() {
            let id = operation["operationId"].as_str().unwrap();
            assert!(
                html.contains(&format!("id=\"{id}\"")),
                "{id} missing from /docs"
            );
        }
    }
    assert!(html.contains("id=\"schema-wagate.v1.Session\""));
}
