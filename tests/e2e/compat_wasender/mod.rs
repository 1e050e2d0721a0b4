//! The WasenderAPI (seed 001) compatibility profile end to end: a real server
//! with its in-process gateway on the simulated network, every documented
//! `/api/…` endpoint called with the seed's example request bodies, and the
//! answers checked against the seed's example responses (field names, JSON
//! types, nesting, envelopes, status codes), up to the webhook a send causes.

mod concurrency;
mod directory;
mod messages;
mod protection;
mod python;
mod sessions;

use std::time::Duration;

use http::Method;
use serde_json::{Value, json};
use wagate_gateway::client::{HttpClient, HttpResponse};
use wagate_tests::{ADMIN_TOKEN, TestServer};

/// The REST gateway of a test server, called as a WasenderAPI client would.
pub struct Api {
    base: String,
    client: HttpClient,
}

impl Api {
    pub fn of(server: &TestServer) -> Self {
        Self {
            base: format!("http://{}", server.http_addr.expect("HTTP listener")),
            client: HttpClient::new(),
        }
    }

    /// A JSON call with `Authorization: Bearer <token>` (none when `token` is None).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> HttpResponse {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        self.raw(method, path, token, "application/json", body.into_bytes())
            .await
    }

    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        content_type: &str,
        body: Vec<u8>,
    ) -> HttpResponse {
        let bearer = token.map(|t| format!("Bearer {t}"));
        let mut headers = vec![("content-type", content_type)];
        if let Some(bearer) = &bearer {
            headers.push(("authorization", bearer));
        }
        self.client
            .call(
                method.clone(),
                &format!("{}{path}", self.base),
                &headers,
                body,
            )
            .await
            .unwrap_or_else(|err| panic!("{method} {path}: {err:#}"))
    }

    /// A call with the personal access token (our admin token).
    pub async fn account(&self, method: Method, path: &str, body: Option<Value>) -> HttpResponse {
        self.call(method, path, Some(ADMIN_TOKEN), body).await
    }
}

/// The answer's JSON after checking its status code.
pub fn expect(response: &HttpResponse, status: u16, what: &str) -> Value {
    assert_eq!(
        response.status.as_u16(),
        status,
        "{what}: {}",
        response.text()
    );
    response.json()
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Checks `actual` against a seed example: every key of the example is
/// present with the same JSON type, recursively (array items against the
/// example's first item). A null on either side stands for "nullable".
pub fn assert_shape(actual: &Value, example: &Value, at: &str) {
    match (example, actual) {
        (Value::Null, _) | (_, Value::Null) => {}
        (Value::Object(want), Value::Object(have)) => {
            for (key, value) in want {
                let inner = have
                    .get(key)
                    .unwrap_or_else(|| panic!("{at}.{key} is missing in {actual}"));
                assert_shape(inner, value, &format!("{at}.{key}"));
            }
        }
        (Value::Array(want), Value::Array(have)) => {
            if let Some(first) = want.first() {
                for (i, item) in have.iter().enumerate() {
                    assert_shape(item, first, &format!("{at}[{i}]"));
                }
            }
        }
        _ => assert_eq!(
            kind(actual),
            kind(example),
            "{at}: {actual} does not have the type of the seed's {example}"
        ),
    }
}

/// `X-RateLimit-Limit/Remaining/Reset` are integers on every answer.
pub fn assert_rate_headers(response: &HttpResponse) {
    for name in [
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
    ] {
        let value = response
            .header(name)
            .unwrap_or_else(|| panic!("{name} missing: {:?}", response.headers));
        assert!(value.parse::<u64>().is_ok(), "{name}: {value}");
    }
}

/// A 429 in seed 001's shape (`{"message", "retry_after"}`, the example's
/// message) whose `retry_after` is 1 to `max_wait` seconds and matches the
/// `Retry-After` header. Returns `retry_after`.
pub fn expect_seed_429(
    response: &HttpResponse,
    example_message: &str,
    max_wait: u64,
    what: &str,
) -> u64 {
    let body = expect(response, 429, what);
    assert_shape(
        &body,
        &json!({"message": example_message, "retry_after": max_wait}),
        "429",
    );
    let retry_after = body["retry_after"].as_u64().unwrap();
    assert!(
        (1..=max_wait).contains(&retry_after),
        "{what}: retry_after {retry_after}"
    );
    assert_eq!(
        response.header("retry-after"),
        Some(retry_after.to_string().as_str()),
        "{what}"
    );
    retry_after
}

/// Seed 001's session-creation example body, with `phone`.
pub fn create_body(name: &str, phone: &str) -> Value {
    json!({
        "name": name,
        "phone_number": phone,
        "account_protection": true,
        "log_messages": true,
        "webhook_url": "https://example.com/webhook",
        "webhook_enabled": true,
        "webhook_events": ["messages.received", "session.status", "messages.update"],
    })
}

/// Seed 001's session example (the Create / Get details responses).
pub fn session_example() -> Value {
    json!({ "success": true, "data": {
        "id": 1, "name": "Business WhatsApp", "phone_number": "+1234567890", "status": "connected",
        "account_protection": true, "log_messages": true, "read_incoming_messages": false,
        "webhook_url": "https://example.com/webhook", "webhook_enabled": true,
        "webhook_events": ["messages.received", "session.status", "messages.update"],
        "api_key": "75075a7bf6417bff59e76fb7205382c2dc74cf1769e76f382c2dc74cf176c0bf",
        "webhook_secret": "fb61be92ddb7935e0cedcec58e470f6c",
        "created_at": "2025-04-01T12:00:00Z", "updated_at": "2025-05-08T15:30:00Z"
    }})
}

/// A server for these tests: loopback webhooks allowed, no pacing.
pub async fn start_server(backend: wagate_tests::Backend) -> TestServer {
    TestServer::start_with(backend, |config| {
        config.allow_private_urls = true;
        config.queue.protection_interval = Duration::ZERO;
        config.webhooks.first_retry = Duration::from_millis(100);
        config.webhooks.max_retry = Duration::from_millis(300);
    })
    .await
}

/// A session created, connected and linked to `phone` through `/api`;
/// returns its id and API key.
pub async fn linked_session(api: &Api, server: &TestServer, phone: &str) -> (i64, String) {
    let body = json!({
        "name": format!("Session {phone}"),
        "phone_number": phone,
        "account_protection": false,
        "log_messages": true,
    });
    let created = expect(
        &api.account(Method::POST, "/api/whatsapp-sessions", Some(body))
            .await,
        200,
        "create",
    );
    let id = created["data"]["id"].as_i64().expect("integer id");
    let key = created["data"]["api_key"].as_str().unwrap().to_owned();
    let connected = expect(
        &api.account(
            Method::POST,
            &format!("/api/whatsapp-sessions/{id}/connect"),
            None,
        )
        .await,
        200,
        "connect",
    );
    let qr = connected["data"]["qrCode"]
        .as_str()
        .expect("QR code")
        .to_owned();
    server
        .simulator()
        .scan_qr(wagate_tests::admin(wagate_proto::v1::ScanQrRequest {
            qr_code: qr,
            phone_number: phone.to_owned(),
        }))
        .await
        .expect("scan");
    wait_connected(api, &key).await;
    (id, key)
}

pub async fn wait_connected(api: &Api, key: &str) {
    wagate_tests::eventually(
        "the session to be connected",
        Duration::from_secs(15),
        || async {
            let status = api
                .call(Method::GET, "/api/status", Some(key), None)
                .await
                .json();
            (status["status"] == "connected").then_some(())
        },
    )
    .await
}

/// A webhook receiver on loopback that records every request.
pub struct Hooks {
    pub url: String,
    seen: std::sync::Arc<std::sync::Mutex<Vec<(http::HeaderMap, Value)>>>,
}

impl Hooks {
    pub async fn start() -> Self {
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let store = seen.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: http::HeaderMap, body: axum::body::Bytes| {
                let store = store.clone();
                async move {
                    let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    store.lock().unwrap().push((headers, json));
                    "ok"
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { url, seen }
    }

    /// Whether any request arrived.
    pub fn any(&self) -> bool {
        !self.seen.lock().unwrap().is_empty()
    }

    /// The first request whose body satisfies `matches` (waits, bounded).
    pub async fn wait_for(
        &self,
        what: &str,
        matches: impl Fn(&Value) -> bool,
    ) -> (http::HeaderMap, Value) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let seen = self.seen.lock().unwrap().clone();
            if let Some(found) = seen.iter().find(|(_, body)| matches(body)) {
                return found.clone();
            }
            let bodies: Vec<&Value> = seen.iter().map(|(_, body)| body).collect();
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {what}; received: {bodies:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
