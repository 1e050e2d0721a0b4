//! The gateway over real HTTP in front of a fake gRPC upstream: streaming
//! (NDJSON, SSE, resume, heartbeats, cancellation), 429 + rate-limit headers,
//! metadata forwarding, deadlines, the status table over the wire, route
//! misses, body limits, CORS, request ids, health endpoints.

mod support;

use std::sync::atomic::Ordering;
use std::time::Duration;

use http::Method;
use tokio_util::sync::CancellationToken;
use wagate_gateway::UpstreamTarget;
use wagate_gateway::client::{HttpClient, next_chunk};

const LIMIT: Duration = Duration::from_secs(10);

async fn read_until(body: &mut wagate_gateway::client::Incoming, needle: &str) -> String {
    let mut text = String::new();
    for _ in 0..200 {
        if text.contains(needle) {
            return text;
        }
        match next_chunk(body, LIMIT).await.expect("chunk in time") {
            Some(chunk) => text.push_str(&String::from_utf8_lossy(&chunk)),
            None => break,
        }
    }
    assert!(text.contains(needle), "{needle:?} not in {text:?}");
    text
}

async fn read_to_end(body: &mut wagate_gateway::client::Incoming) -> String {
    let mut text = String::new();
    for _ in 0..200 {
        match next_chunk(body, LIMIT).await.expect("chunk in time") {
            Some(chunk) => text.push_str(&String::from_utf8_lossy(&chunk)),
            None => return text,
        }
    }
    panic!("stream did not end: {text}");
}

#[tokio::test]
async fn ndjson_stream_relays_results_then_a_final_error() {
    let harness = support::start(|_| {}).await;
    let client = HttpClient::new();
    let request = HttpClient::request(
        Method::GET,
        &format!("{}/v1/sessions/err/events:subscribe", harness.base),
        &[],
        "",
    )
    .unwrap();
    let response = client.send_streaming(request).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/x-ndjson");
    let mut body = response.into_body();
    let text = read_to_end(&mut body).await;
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert_eq!(lines[0]["result"]["cursor"], "1");
    assert_eq!(lines[0]["result"]["event"]["type"], "session.status");
    assert_eq!(lines[1]["result"]["cursor"], "2");
    assert_eq!(lines[2]["error"]["code"], 14);
    assert_eq!(lines[2]["error"]["message"], "server shutting down");

    // A clean end: results only.
    let done = client
        .call(
            Method::GET,
            &format!("{}/v1/sessions/1/events:subscribe", harness.base),
            &[],
            "",
        )
        .await
        .unwrap();
    assert_eq!(done.text().lines().count(), 3);
    assert!(!done.text().contains("\"error\""));

    // An error before the first message is a plain HTTP error.
    let denied = client
        .call(
            Method::GET,
            &format!("{}/v1/sessions/denied/events:subscribe", harness.base),
            &[],
            "",
        )
        .await
        .unwrap();
    assert_eq!(denied.status, 403);
    assert_eq!(denied.json()["code"], 7);
}

#[tokio::test]
async fn sse_uses_cursor_ids_resumes_from_last_event_id_and_sends_heartbeats() {
    let harness = support::start(|_| {}).await;
    let client = HttpClient::new();
    let url = format!("{}/v1/sessions/idle/events:subscribe", harness.base);
    let request =
        HttpClient::request(Method::GET, &url, &[("accept", "text/event-stream")], "").unwrap();
    let response = client.send_streaming(request).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut body = response.into_body();
    let text = read_until(&mut body, ": heartbeat").await;
    assert!(text.starts_with("id: 1\ndata: {"), "{text}");
    assert!(text.contains("\n\nid: 2\ndata: "), "{text}");
    let data: serde_json::Value = serde_json::from_str(
        text.lines()
            .find(|l| l.starts_with("data: "))
            .unwrap()
            .trim_start_matches("data: "),
    )
    .unwrap();
    assert_eq!(data["event"]["name"], "sessions/1/events/1");
    drop(body);

    // Reconnect the way EventSource does: Last-Event-ID becomes after_cursor.
    let request = HttpClient::request(
        Method::GET,
        &url,
        &[("accept", "text/event-stream"), ("last-event-id", "2")],
        "",
    )
    .unwrap();
    let mut body = client.send_streaming(request).await.unwrap().into_body();
    let text = read_until(&mut body, "id: 4").await;
    assert!(text.starts_with("id: 3\n"), "{text}");
    let seen = harness
        .observed
        .last_request
        .lock()
        .unwrap()
        .clone()
        .unwrap();
    assert_eq!(seen.after_cursor, Some(2));

    // An error mid-stream is an `error` event.
    let request = HttpClient::request(
        Method::GET,
        &format!("{}/v1/sessions/err/events:subscribe", harness.base),
        &[("accept", "text/event-stream")],
        "",
    )
    .unwrap();
    let mut body = client.send_streaming(request).await.unwrap().into_body();
    let text = read_to_end(&mut body).await;
    assert!(text.contains("event: error\ndata: {\"code\":14"), "{text}");
}

#[tokio::test]
async fn client_disconnect_cancels_the_upstream_stream() {
    let harness = support::start(|_| {}).await;
    let client = HttpClient::new();
    let request = HttpClient::request(
        Method::GET,
        &format!("{}/v1/sessions/idle/events:subscribe", harness.base),
        &[],
        "",
    )
    .unwrap();
    let response = client.send_streaming(request).await.unwrap();
    let mut body = response.into_body();
    read_until(&mut body, "\"cursor\":\"2\"").await;
    assert!(!harness.observed.stream_cancelled.load(Ordering::SeqCst));
    drop(body);
    drop(client);
    for _ in 0..250 {
        if harness.observed.stream_cancelled.load(Ordering::SeqCst) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the upstream stream was not cancelled after the client went away");
}

#[tokio::test]
async fn resource_exhausted_is_429_with_retry_after_and_rate_limit_headers() {
    let harness = support::start(|_| {}).await;
    let response = HttpClient::new()
        .call(
            Method::GET,
            &format!("{}/v1/sessions/1/events", harness.base),
            &[],
            "",
        )
        .await
        .unwrap();
    assert_eq!(response.status, 429);
    assert_eq!(response.header("retry-after"), Some("3"), "2.3 s rounds up");
    assert_eq!(response.header("x-ratelimit-limit"), Some("256"));
    assert_eq!(response.header("x-ratelimit-remaining"), Some("0"));
    assert_eq!(response.header("x-ratelimit-reset"), Some("3"));
    let body = response.json();
    assert_eq!(body["code"], 8);
    let details = body["details"].as_array().unwrap();
    assert!(
        details
            .iter()
            .any(|d| d["@type"] == "type.googleapis.com/google.rpc.RetryInfo"
                && d["retryDelay"] == "2.300s")
    );
    assert!(
        details
            .iter()
            .any(|d| d["@type"] == "type.googleapis.com/google.rpc.ErrorInfo"
                && d["reason"] == "RATE_LIMITED")
    );
}

#[tokio::test]
async fn credentials_request_id_and_deadline_are_forwarded_as_metadata() {
    let harness = support::start(|_| {}).await;
    let client = HttpClient::new();
    let url = format!("{}/v1/sessions/1/webhookDeliveries", harness.base);
    for (header, value) in [
        ("authorization", "Bearer tok-a"),
        ("x-api-key", "tok-a"),
        ("x-api-token", "tok-a"),
    ] {
        let response = client
            .call(
                Method::GET,
                &url,
                &[
                    (header, value),
                    ("x-request-id", "req-42"),
                    ("x-request-timeout", "5s"),
                ],
                "",
            )
            .await
            .unwrap();
        assert_eq!(response.status, 200, "{}", response.text());
        let echo = response.json()["nextPageToken"]
            .as_str()
            .unwrap()
            .to_owned();
        let parts: Vec<&str> = echo.split('|').collect();
        assert_eq!(parts[0], "Bearer tok-a", "{header}");
        assert_eq!(parts[1], "req-42");
        assert!(
            parts[2].ends_with('m') || parts[2].ends_with('u') || parts[2].ends_with('S'),
            "grpc-timeout {}",
            parts[2]
        );
        assert_eq!(response.header("x-request-id"), Some("req-42"));
        assert_eq!(
            response.header("x-ratelimit-remaining"),
            Some("255"),
            "success metadata too"
        );
        assert_eq!(response.json()["totalSize"], 7);
    }
    let anonymous = client.call(Method::GET, &url, &[], "").await.unwrap();
    let echo = anonymous.json()["nextPageToken"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(echo.starts_with("-|"), "no credentials forwarded: {echo}");
    let generated = anonymous.header("x-request-id").unwrap().to_owned();
    assert_eq!(generated.len(), 32, "a request id is generated");
    assert!(echo.contains(&generated), "and forwarded");
}

#[tokio::test]
async fn deadlines_from_headers_end_slow_calls_with_504() {
    let harness = support::start(|_| {}).await;
    let client = HttpClient::new();
    let url = format!("{}/v1/sessions/1/events/5:redeliver", harness.base);
    for (header, value) in [("x-request-timeout", "200ms"), ("grpc-timeout", "200m")] {
        let response = client
            .call(Method::POST, &url, &[(header, value)], "{}")
            .await
            .unwrap();
        assert_eq!(response.status, 504, "{header}: {}", response.text());
        assert_eq!(response.json()["code"], 4);
    }
    let bad = client
        .call(
            Method::POST,
            &url,
            &[("x-request-timeout", "whenever")],
            "{}",
        )
        .await
        .unwrap();
    assert_eq!(bad.status, 400);
}

#[tokio::test]
async fn every_grpc_code_maps_to_its_http_status_over_the_wire() {
    let harness = support::start(|_| {}).await;
    let client = HttpClient::new();
    let expected = [
        (1, 499),
        (2, 500),
        (3, 400),
        (4, 504),
        (5, 404),
        (6, 409),
        (7, 403),
        (8, 429),
        (9, 400),
        (10, 409),
        (11, 400),
        (12, 501),
        (13, 500),
        (14, 503),
        (15, 500),
        (16, 401),
    ];
    for (code, http) in expected {
        let response = client
            .call(
                Method::POST,
                &format!("{}/v1/sessions/1:testWebhook", harness.base),
                &[("content-type", "application/json")],
                format!("{{\"uri\":\"{code}\"}}"),
            )
            .await
            .unwrap();
        assert_eq!(response.status.as_u16(), http, "gRPC code {code}");
        assert_eq!(response.json()["code"], code);
        assert_eq!(response.json()["message"], format!("code {code}"));
        assert_eq!(response.header("content-type"), Some("application/json"));
    }
}

#[tokio::test]
async fn route_misses_bodies_over_the_limit_and_bad_json() {
    let harness = support::start(|options| options.max_body_bytes = 1024).await;
    let client = HttpClient::new();
    let missing = client
        .call(
            Method::GET,
            &format!("{}/v1/nothing", harness.base),
            &[],
            "",
        )
        .await
        .unwrap();
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json()["details"][0]["reason"], "ROUTE_NOT_FOUND");
    let wrong = client
        .call(
            Method::PUT,
            &format!("{}/v1/sessions/1/events", harness.base),
            &[],
            "",
        )
        .await
        .unwrap();
    assert_eq!(wrong.status, 405);
    assert_eq!(wrong.header("allow"), Some("GET"));

    let url = format!("{}/v1/sessions/1:testWebhook", harness.base);
    let big = format!("{{\"uri\":\"{}\"}}", "x".repeat(2048));
    let too_large = client.call(Method::POST, &url, &[], big).await.unwrap();
    assert_eq!(too_large.status, 413);
    assert_eq!(
        too_large.json()["details"][0]["reason"],
        "REQUEST_BODY_TOO_LARGE"
    );
    let fits = client
        .call(Method::POST, &url, &[], "{\"uri\":\"0\"}")
        .await
        .unwrap();
    assert_eq!(fits.status, 200);

    let malformed = client
        .call(Method::POST, &url, &[], "{\"uri\": ")
        .await
        .unwrap();
    assert_eq!(malformed.status, 400);
    let malformed_body = malformed.json();
    let violations = &malformed_body["details"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["@type"] == "type.googleapis.com/google.rpc.BadRequest")
        .unwrap()["fieldViolations"];
    assert_eq!(violations[0]["field"], "uri", "the value that is cut off");
    let not_json = client.call(Method::POST, &url, &[], "nope").await.unwrap();
    assert_eq!(not_json.status, 400);
    assert!(
        not_json.text().contains("\"field\":\"body\""),
        "{}",
        not_json.text()
    );
    let wrong_type = client
        .call(Method::POST, &url, &[], "{\"uri\": 5}")
        .await
        .unwrap();
    assert_eq!(wrong_type.status, 400);
    assert!(
        wrong_type.text().contains("\"field\":\"uri\""),
        "{}",
        wrong_type.text()
    );
}

#[tokio::test]
async fn cors_follows_the_allow_list() {
    let harness = support::start(|options| {
        options.cors.allowed_origins = vec!["https://app.example".into()];
    })
    .await;
    let client = HttpClient::new();
    let url = format!("{}/v1/sessions/1/webhookDeliveries", harness.base);
    let preflight = client
        .call(
            Method::OPTIONS,
            &url,
            &[
                ("origin", "https://app.example"),
                ("access-control-request-method", "GET"),
            ],
            "",
        )
        .await
        .unwrap();
    assert_eq!(preflight.status, 204);
    assert_eq!(
        preflight.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    assert!(
        preflight
            .header("access-control-allow-headers")
            .unwrap()
            .contains("x-api-key")
    );
    let simple = client
        .call(Method::GET, &url, &[("origin", "https://app.example")], "")
        .await
        .unwrap();
    assert_eq!(
        simple.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    assert!(
        simple
            .header("access-control-expose-headers")
            .unwrap()
            .contains("retry-after")
    );
    let other = client
        .call(Method::GET, &url, &[("origin", "https://evil.example")], "")
        .await
        .unwrap();
    assert_eq!(other.header("access-control-allow-origin"), None);
    let refused = client
        .call(
            Method::OPTIONS,
            &url,
            &[
                ("origin", "https://evil.example"),
                ("access-control-request-method", "GET"),
            ],
            "",
        )
        .await
        .unwrap();
    assert_eq!(refused.status, 403);

    // Off by default: no CORS headers at all.
    let plain = support::start(|_| {}).await;
    let response = client
        .call(
            Method::GET,
            &format!("{}/v1/sessions/1/webhookDeliveries", plain.base),
            &[("origin", "https://app.example")],
            "",
        )
        .await
        .unwrap();
    assert_eq!(response.header("access-control-allow-origin"), None);
}

#[tokio::test]
async fn health_openapi_and_docs_endpoints() {
    let harness = support::start(|_| {}).await;
    let client = HttpClient::new();
    let healthz = client
        .call(Method::GET, &format!("{}/healthz", harness.base), &[], "")
        .await
        .unwrap();
    assert_eq!(healthz.status, 200);
    let readyz = client
        .call(Method::GET, &format!("{}/readyz", harness.base), &[], "")
        .await
        .unwrap();
    assert_eq!(readyz.status, 200, "{}", readyz.text());
    let openapi = client
        .call(
            Method::GET,
            &format!("{}/openapi.json", harness.base),
            &[],
            "",
        )
        .await
        .unwrap();
    assert_eq!(openapi.json()["openapi"], "3.1.0");
    let docs = client
        .call(Method::GET, &format!("{}/docs", harness.base), &[], "")
        .await
        .unwrap();
    assert!(
        docs.header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    assert!(docs.text().contains("SessionService_GetSession"));

    // An upstream that is not there: alive but not ready; API calls are 503.
    let stop = CancellationToken::new();
    let dead_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let base = support::start_gateway(
        UpstreamTarget::Url(format!("http://{dead_port}")),
        |_| {},
        &stop,
    )
    .await;
    let healthz = client
        .call(Method::GET, &format!("{base}/healthz"), &[], "")
        .await
        .unwrap();
    assert_eq!(healthz.status, 200);
    let readyz = client
        .call(Method::GET, &format!("{base}/readyz"), &[], "")
        .await
        .unwrap();
    assert_eq!(readyz.status, 503);
    let call = client
        .call(
            Method::GET,
            &format!("{base}/v1/sessions/1/events"),
            &[],
            "",
        )
        .await
        .unwrap();
    assert_eq!(call.status, 503, "{}", call.text());
    stop.cancel();
    let _ = harness.upstream;
}

/// `wagate serve` merges the gateway's router into its HTTP listener next to
/// `/media/{token}`: both must keep working, and misses stay the gateway's 404.
#[tokio::test]
async fn the_router_merges_next_to_other_routes() {
    let harness = support::start(|_| {}).await;
    let options = wagate_gateway::in_process_options(harness.upstream);
    let app = axum::Router::new()
        .route("/media/{token}", axum::routing::get(|| async { "media" }))
        .merge(wagate_gateway::router(options).unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let client = HttpClient::new();
    let media = client
        .call(Method::GET, &format!("{base}/media/abc"), &[], "")
        .await
        .unwrap();
    assert_eq!(media.text(), "media");
    let api = client
        .call(
            Method::GET,
            &format!("{base}/v1/sessions/1/webhookDeliveries"),
            &[],
            "",
        )
        .await
        .unwrap();
    assert_eq!(api.status, 200, "{}", api.text());
    assert!(api.header("x-request-id").is_some());
    let miss = client
        .call(Method::GET, &format!("{base}/nope"), &[], "")
        .await
        .unwrap();
    assert_eq!(miss.status, 404);
    assert_eq!(miss.json()["details"][0]["reason"], "ROUTE_NOT_FOUND");
    server.abort();
}
