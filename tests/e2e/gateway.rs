//! The REST gateway (`wagate-gateway`'s library, as the standalone binary runs
//! it) in front of a real in-process server: every binding of the descriptor
//! set reaches the server, errors and auth headers over HTTP, size limits.
//! JSON round trips are in `gateway_json`, the OpenAPI check in `gateway_openapi`.

use std::time::Duration;

use http::Method;
use prost_reflect::{DescriptorPool, DynamicMessage, ReflectMessage as _, Value};
use serde_json::Value as Json;
use tokio_util::sync::CancellationToken;
use wagate_gateway::client::{HttpClient, HttpResponse};
use wagate_gateway::{GatewayOptions, UpstreamTarget};
use wagate_tests::{ADMIN_TOKEN, TestServer, backends};

/// A real server with the gateway in front of it, on loopback.
pub struct Gateway {
    pub server: TestServer,
    pub base: String,
    pub client: HttpClient,
    stop: CancellationToken,
}

impl Gateway {
    pub async fn start(backend: wagate_tests::Backend) -> Self {
        Self::start_with(backend, |_| {}).await
    }

    pub async fn start_with(
        backend: wagate_tests::Backend,
        adjust: impl FnOnce(&mut GatewayOptions),
    ) -> Self {
        let server = TestServer::start(backend).await;
        let mut options =
            GatewayOptions::new(UpstreamTarget::Url(format!("http://{}", server.addr)));
        adjust(&mut options);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let stop = CancellationToken::new();
        tokio::spawn(wagate_gateway::serve(
            listener,
            options,
            stop.clone().cancelled_owned(),
        ));
        Self {
            server,
            base,
            client: HttpClient::new(),
            stop,
        }
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> HttpResponse {
        let response = self
            .client
            .call(
                method,
                &format!("{}{path}", self.base),
                headers,
                body.to_owned(),
            )
            .await;
        response.unwrap_or_else(|err| panic!("{path}: {err:#}"))
    }

    /// As the admin, with a JSON body.
    pub async fn admin(&self, method: Method, path: &str, body: &str) -> HttpResponse {
        let bearer = format!("Bearer {ADMIN_TOKEN}");
        self.call(
            method,
            path,
            &[
                ("authorization", &bearer),
                ("content-type", "application/json"),
            ],
            body,
        )
        .await
    }

    pub async fn stop(self) {
        self.stop.cancel();
        self.server.stop().await;
    }
}

/// The google.rpc.ErrorInfo detail of an error body.
pub fn error_info(body: &Json) -> Option<&Json> {
    body["details"]
        .as_array()?
        .iter()
        .find(|d| d["@type"] == "type.googleapis.com/google.rpc.ErrorInfo")
}

/// Field paths of the google.rpc.BadRequest detail of an error body.
pub fn violated_fields(body: &Json) -> Vec<String> {
    body["details"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|d| d["@type"] == "type.googleapis.com/google.rpc.BadRequest")
        .flat_map(|d| d["fieldViolations"].as_array().cloned().unwrap_or_default())
        .map(|v| v["field"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// One HTTP binding read straight from the descriptor set (independently of
/// the gateway's own table, so a binding the gateway fails to route shows up).
struct DescribedBinding {
    rpc: String,
    method: Method,
    path: String,
    has_body: bool,
    streaming: bool,
}

fn described_bindings(pool: &DescriptorPool) -> Vec<DescribedBinding> {
    let http_rule = pool
        .get_extension_by_name("google.api.http")
        .expect("google.api.http");
    let mut services: Vec<&str> = wagate_proto::PUBLIC_SERVICES.to_vec();
    services.push(wagate_proto::SIMULATOR_SERVICE);
    let mut out = Vec::new();
    for service in services {
        for method in pool.get_service_by_name(service).unwrap().methods() {
            let options = method.options();
            assert!(
                options.has_extension(&http_rule),
                "{} has no google.api.http binding",
                method.full_name()
            );
            let Value::Message(rule) = options.get_extension(&http_rule).into_owned() else {
                panic!("HttpRule")
            };
            let mut rules = vec![rule.clone()];
            if let Some(Value::List(more)) = rule
                .get_field_by_name("additional_bindings")
                .map(|v| v.into_owned())
            {
                rules.extend(more.into_iter().filter_map(|v| v.as_message().cloned()));
            }
            for rule in rules {
                let (verb, template) = http_pattern(&rule);
                out.push(DescribedBinding {
                    rpc: method.full_name().to_owned(),
                    method: verb,
                    path: template,
                    has_body: !rule
                        .get_field_by_name("body")
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default()
                        .is_empty(),
                    streaming: method.is_server_streaming(),
                });
            }
        }
    }
    out
}

fn http_pattern(rule: &DynamicMessage) -> (Method, String) {
    for verb in ["get", "put", "post", "delete", "patch"] {
        let field = rule.descriptor().get_field_by_name(verb).unwrap();
        if rule.has_field(&field) {
            let path = rule.get_field(&field).as_str().unwrap().to_owned();
            return (
                Method::from_bytes(verb.to_uppercase().as_bytes()).unwrap(),
                path,
            );
        }
    }
    panic!("no HTTP verb in {rule:?}")
}

/// A concrete URL for a template: `{name=sessions/*/messages/*}` →
/// `sessions/<id>/messages/x1`, `{name}` → `x1`.
fn concrete_path(template: &str, session_id: &str) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = rest[open..].find('}').unwrap() + open;
        let inner = &rest[open + 1..close];
        let pattern = inner.split_once('=').map_or("*", |(_, p)| p);
        let mut previous = "";
        let parts: Vec<String> = pattern
            .split('/')
            .map(|segment| {
                let value = match segment {
                    "*" | "**" if previous == "sessions" => session_id.to_owned(),
                    "*" | "**" => "x1".to_owned(),
                    literal => literal.to_owned(),
                };
                previous = segment;
                value
            })
            .collect();
        out.push_str(&parts.join("/"));
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    out
}

#[test]
fn concrete_paths_fill_every_variable() {
    assert_eq!(
        concrete_path("/v1/{name=sessions/*}:connect", "7"),
        "/v1/sessions/7:connect"
    );
    assert_eq!(
        concrete_path("/v1/{message.name=sessions/*/messages/*}", "7"),
        "/v1/sessions/7/messages/x1"
    );
    assert_eq!(
        concrete_path("/v1/events:subscribe", "7"),
        "/v1/events:subscribe"
    );
    assert_eq!(concrete_path("/v1/{name}/x", "7"), "/v1/x1/x");
}

#[tokio::test]
async fn every_binding_in_the_descriptor_set_reaches_the_server() {
    let pool = DescriptorPool::decode(wagate_proto::FILE_DESCRIPTOR_SET).unwrap();
    let server_reasons: Vec<String> = pool
        .get_enum_by_name("wagate.v1.ErrorReason")
        .unwrap()
        .values()
        .map(|v| v.name().trim_start_matches("ERROR_REASON_").to_owned())
        .collect();
    let bindings = described_bindings(&pool);
    assert!(
        bindings.len() > 60,
        "only {} bindings found",
        bindings.len()
    );
    for backend in backends() {
        let gateway = Gateway::start(backend).await;
        let created = gateway
            .admin(
                Method::POST,
                "/v1/sessions",
                r#"{"displayName":"Reach","phoneNumber":"+14155550101"}"#,
            )
            .await;
        assert_eq!(created.status, 200, "{}", created.text());
        let session_id = created.json()["id"].as_str().unwrap().to_owned();
        // Destructive bindings last, so the others see a live session.
        let mut ordered: Vec<&DescribedBinding> = bindings.iter().collect();
        ordered.sort_by_key(|b| b.method == Method::DELETE || b.rpc.ends_with("LogoutSession"));
        let mut reached = 0;
        for binding in ordered {
            let path = concrete_path(&binding.path, &session_id);
            let body = if binding.has_body { "{}" } else { "" };
            let what = format!("{backend:?} {} {path} ({})", binding.method, binding.rpc);
            let response = if binding.streaming {
                // Only the status line and first bytes: a live stream does not end.
                let bearer = format!("Bearer {ADMIN_TOKEN}");
                let request = HttpClient::request(
                    binding.method.clone(),
                    &format!("{}{path}", gateway.base),
                    &[("authorization", &bearer)],
                    body.to_owned(),
                )
                .unwrap();
                let streamed = gateway.client.send_streaming(request).await.unwrap();
                let status = streamed.status();
                let headers = streamed.headers().clone();
                // 200 comes only after the server's handler accepted the call;
                // an error is one JSON body.
                let mut incoming = streamed.into_body();
                let first = if status.is_success() {
                    Default::default()
                } else {
                    wagate_gateway::client::next_chunk(&mut incoming, Duration::from_secs(10))
                        .await
                        .unwrap_or_else(|err| panic!("{what}: {err:#}"))
                        .unwrap_or_default()
                };
                HttpResponse {
                    status,
                    headers,
                    body: first,
                }
            } else {
                gateway.admin(binding.method.clone(), &path, body).await
            };
            let json = response.json();
            if response.status.is_success() {
                reached += 1;
                continue;
            }
            let info = error_info(&json).unwrap_or_else(|| {
                panic!(
                    "{what}: {} without ErrorInfo: {}",
                    response.status,
                    response.text()
                )
            });
            assert_ne!(
                info["metadata"]["origin"],
                "gateway",
                "{what}: the gateway answered itself: {}",
                response.text()
            );
            assert_eq!(info["domain"], "wagate.dev", "{what}");
            let reason = info["reason"].as_str().unwrap_or_default();
            assert!(
                server_reasons.iter().any(|r| r == reason),
                "{what}: {reason} is not a server reason"
            );
            if response.status == 501 {
                assert_eq!(reason, "NOT_IMPLEMENTED", "{what}");
                assert!(
                    json["message"]
                        .as_str()
                        .unwrap()
                        .contains("not implemented"),
                    "{what}: {json}"
                );
            }
            reached += 1;
        }
        assert_eq!(reached, bindings.len());
        gateway.stop().await;
    }
}

#[tokio::test]
async fn server_errors_become_http_statuses_with_google_rpc_status_bodies() {
    for backend in backends() {
        let gateway = Gateway::start(backend).await;
        let missing = gateway.admin(Method::GET, "/v1/sessions/999999", "").await;
        assert_eq!(missing.status, 404);
        let body = missing.json();
        assert_eq!(body["code"], 5);
        assert_eq!(error_info(&body).unwrap()["reason"], "SESSION_NOT_FOUND");

        let invalid = gateway.admin(Method::POST, "/v1/sessions", "{}").await;
        assert_eq!(invalid.status, 400);
        let fields = violated_fields(&invalid.json());
        assert!(
            fields.iter().any(|f| f.contains("display_name")),
            "{fields:?}"
        );

        let bad_name = gateway.admin(Method::GET, "/v1/sessions/abc", "").await;
        assert_eq!(bad_name.status, 400);
        assert_eq!(violated_fields(&bad_name.json()), vec!["name".to_owned()]);

        let anonymous = gateway.call(Method::GET, "/v1/sessions", &[], "").await;
        assert_eq!(anonymous.status, 401);
        assert_eq!(
            error_info(&anonymous.json()).unwrap()["reason"],
            "INVALID_CREDENTIALS"
        );

        // Malformed input is refused by the gateway, naming the field.
        let malformed = gateway
            .admin(Method::POST, "/v1/sessions", r#"{"displayName": "x""#)
            .await;
        assert_eq!(malformed.status, 400);
        assert_eq!(
            violated_fields(&malformed.json()),
            vec!["session".to_owned()]
        );
        let wrong_type = gateway
            .admin(Method::POST, "/v1/sessions", r#"{"displayName": 5}"#)
            .await;
        assert_eq!(
            violated_fields(&wrong_type.json()),
            vec!["session.displayName".to_owned()]
        );
        let bad_query = gateway
            .admin(Method::GET, "/v1/sessions?pageSize=lots", "")
            .await;
        assert_eq!(bad_query.status, 400);
        assert_eq!(
            violated_fields(&bad_query.json()),
            vec!["pageSize".to_owned()]
        );
        let bad_enum = gateway
            .admin(Method::GET, "/v1/sessions/1/qr?imageFormat=GIF", "")
            .await;
        assert_eq!(
            violated_fields(&bad_enum.json()),
            vec!["imageFormat".to_owned()]
        );
        gateway.stop().await;
    }
}

#[tokio::test]
async fn all_three_credential_headers_reach_the_server() {
    for backend in backends() {
        let gateway = Gateway::start(backend).await;
        let created = gateway
            .admin(
                Method::POST,
                "/v1/sessions",
                r#"{"displayName":"Keys","phoneNumber":"+14155550102"}"#,
            )
            .await;
        let session = created.json();
        let (name, key) = (
            session["name"].as_str().unwrap(),
            session["apiKey"].as_str().unwrap(),
        );
        let other = gateway
            .admin(
                Method::POST,
                "/v1/sessions",
                r#"{"displayName":"Other","phoneNumber":"+14155550103"}"#,
            )
            .await
            .json();
        let bearer_key = format!("Bearer {key}");
        let bearer_admin = format!("Bearer {ADMIN_TOKEN}");
        for headers in [
            vec![("authorization", bearer_key.as_str())],
            vec![("x-api-key", key)],
            vec![("x-api-token", key)],
            vec![("authorization", bearer_admin.as_str())],
            vec![("x-api-key", ADMIN_TOKEN)],
            vec![("x-api-token", ADMIN_TOKEN)],
        ] {
            let own = gateway
                .call(Method::GET, &format!("/v1/{name}"), &headers, "")
                .await;
            assert_eq!(own.status, 200, "{headers:?}: {}", own.text());
            assert_eq!(own.json()["name"], name);
        }
        let foreign = gateway
            .call(
                Method::GET,
                &format!("/v1/{}", other["name"].as_str().unwrap()),
                &[("x-api-key", key)],
                "",
            )
            .await;
        assert_eq!(foreign.status, 403);
        assert_eq!(
            error_info(&foreign.json()).unwrap()["reason"],
            "PERMISSION_DENIED"
        );
        let wrong = gateway
            .call(
                Method::GET,
                &format!("/v1/{name}"),
                &[("x-api-token", "nope")],
                "",
            )
            .await;
        assert_eq!(wrong.status, 401);
        gateway.stop().await;
    }
}

#[tokio::test]
async fn bodies_over_the_limit_are_413_and_unknown_fields_follow_the_mode() {
    let backend = backends()[0];
    let gateway = Gateway::start_with(backend, |options| options.max_body_bytes = 16 * 1024).await;
    let huge = format!(
        r#"{{"displayName":"{}","phoneNumber":"+14155550104"}}"#,
        "x".repeat(20 * 1024)
    );
    let refused = gateway.admin(Method::POST, "/v1/sessions", &huge).await;
    assert_eq!(refused.status, 413);
    assert_eq!(
        error_info(&refused.json()).unwrap()["reason"],
        "REQUEST_BODY_TOO_LARGE"
    );
    let lenient = gateway
        .admin(
            Method::POST,
            "/v1/sessions",
            r#"{"displayName":"Ok","phoneNumber":"+14155550104","favouriteColour":"green"}"#,
        )
        .await;
    assert_eq!(
        lenient.status,
        200,
        "unknown fields are ignored by default: {}",
        lenient.text()
    );
    gateway.stop().await;

    let strict = Gateway::start_with(backend, |options| options.json.strict = true).await;
    let refused = strict
        .admin(
            Method::POST,
            "/v1/sessions",
            r#"{"displayName":"No","phoneNumber":"+14155550105","favouriteColour":"green"}"#,
        )
        .await;
    assert_eq!(refused.status, 400);
    assert_eq!(
        violated_fields(&refused.json()),
        vec!["session.favouriteColour".to_owned()]
    );
    strict.stop().await;
}
