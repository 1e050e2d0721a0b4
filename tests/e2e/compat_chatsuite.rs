//! The ChatSuite (seed 003) compatibility profile end to end: a real server
//! with its in-process gateway on the simulated network, every documented
//! endpoint under `/chatsuite/api/…` called with `X-API-Key` and the seed's
//! example request bodies, the answers checked against its example responses
//! (field names, JSON types, envelopes, status codes), up to the message
//! being sent on the network and listed in the history.

use std::time::{Duration, SystemTime};

use http::Method;
use serde_json::{Value, json};
use wagate_gateway::client::{HttpClient, HttpResponse};
use wagate_tests::{ADMIN_TOKEN, Backend, TestServer, backends, eventually};

use crate::compat_wasender::{Api, assert_rate_headers, assert_shape, expect, linked_session};
use crate::messages::png;

const PHONE_A: &str = "+14155550711";
const PHONE_B: &str = "+14155550712";

/// The REST gateway of a test server, called as a ChatSuite client would.
struct ChatSuite {
    base: String,
    client: HttpClient,
}

impl ChatSuite {
    fn of(server: &TestServer, prefix: &str) -> Self {
        Self {
            base: format!(
                "http://{}{prefix}/api",
                server.http_addr.expect("HTTP listener")
            ),
            client: HttpClient::new(),
        }
    }

    /// A call with `X-API-Key: <key>` (none when `key` is None); every
    /// endpoint's answer carries the rate-limit headers.
    async fn call(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> HttpResponse {
        let response = self.request(method, path, key, body).await;
        assert_rate_headers(&response);
        response
    }

    async fn request(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> HttpResponse {
        let mut headers = vec![("content-type", "application/json")];
        if let Some(key) = key {
            headers.push(("x-api-key", key));
        }
        let body = body.map(|b| b.to_string()).unwrap_or_default().into_bytes();
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

    async fn send(&self, key: &str, body: Value) -> Value {
        let response = self
            .call(Method::POST, "/send", Some(key), Some(body.clone()))
            .await;
        let sent = expect(&response, 200, &format!("send {body}"));
        assert_shape(&sent, &success_example(), "send");
        assert_eq!(sent["message"], "Message queued successfully");
        assert!(
            ["pending", "processing", "sent"].contains(&sent["status"].as_str().unwrap()),
            "{sent}"
        );
        sent
    }
}

/// Seed 003's "Success Response".
fn success_example() -> Value {
    json!({"success": true, "message": "Message queued successfully", "queueId": 12345,
        "status": "pending", "estimatedDelivery": "5-20 seconds"})
}

/// Seed 003's "Error Response" and "Validation Error Response".
fn error_example() -> Value {
    json!({"success": false, "error": "Invalid API key", "code": "UNAUTHORIZED"})
}

fn validation_example() -> Value {
    json!({"success": false, "error": "Phone number is required", "code": "VALIDATION_ERROR", "field": "number"})
}

/// The list shape of `/queue` and `/history` (seed 003 shows none; ours).
fn list_example() -> Value {
    json!({"success": true, "count": 1, "messages": [{
        "queueId": 12345, "number": "923001234567", "message": "Hello", "mediaUrl": null, "mediaType": null,
        "status": "pending", "sessionId": "1", "attempts": 0, "error": null, "createdAt": "2026-01-01T00:00:00Z",
        "sentAt": null
    }]})
}

fn today() -> String {
    prost_types::Timestamp::from(SystemTime::now()).to_string()[..10].to_owned()
}

async fn start(backend: Backend, profiles: &[&str]) -> TestServer {
    let profiles: Vec<String> = profiles.iter().map(|p| p.to_string()).collect();
    TestServer::start_with(backend, move |config| {
        config.allow_private_urls = true;
        config.queue.protection_interval = Duration::ZERO;
        config.gateway_profiles = profiles;
    })
    .await
}

/// The history's row for `queue_id` once it is `status`.
async fn history_row(api: &ChatSuite, queue_id: &Value, status: &str) -> Value {
    let path = format!("/history?startDate={0}&endDate={0}", today());
    eventually(
        &format!("message {queue_id} to be {status} in the history"),
        Duration::from_secs(20),
        || async {
            let history = expect(
                &api.call(Method::GET, &path, Some(ADMIN_TOKEN), None).await,
                200,
                "history",
            );
            assert_shape(&history, &list_example(), "history");
            let rows = history["messages"].as_array().cloned().unwrap_or_default();
            rows.into_iter()
                .find(|row| row["queueId"] == *queue_id && row["status"] == status)
        },
    )
    .await
}

#[tokio::test]
async fn chatsuite_endpoints_answer_in_the_seeds_shapes_and_messages_are_sent() {
    for backend in backends() {
        let server = start(backend, &["wasender", "chatsuite"]).await;
        let api = ChatSuite::of(&server, "/chatsuite");
        let wasender = Api::of(&server);
        let b_number = PHONE_B.trim_start_matches('+');

        // Errors in the seed's shapes, before any device is connected.
        let missing_key = api.call(Method::GET, "/queue", None, None).await;
        let body = expect(&missing_key, 401, "no API key");
        assert_shape(&body, &error_example(), "no key");
        assert_eq!(
            (body["code"].as_str(), body["error"].as_str()),
            (Some("UNAUTHORIZED"), Some("API key is required"))
        );
        let wrong_key = expect(
            &api.call(Method::GET, "/queue", Some("nope"), None).await,
            401,
            "bad key",
        );
        assert_eq!(wrong_key, error_example());
        let no_device = expect(
            &api.call(
                Method::POST,
                "/send",
                Some(ADMIN_TOKEN),
                Some(json!({"number": b_number, "message": "hi"})),
            )
            .await,
            400,
            "send with no connected device",
        );
        assert_shape(&no_device, &error_example(), "no device");
        assert_eq!(no_device["code"], "DEVICE_NOT_CONNECTED");
        let unknown = expect(
            &api.request(Method::GET, "/nothing-here", Some(ADMIN_TOKEN), None)
                .await,
            404,
            "unknown path",
        );
        assert_eq!(
            (unknown["success"].as_bool(), unknown["code"].as_str()),
            (Some(false), Some("NOT_FOUND"))
        );

        let (a, _key_a) = linked_session(&wasender, &server, PHONE_A).await;
        let (b, key_b) = linked_session(&wasender, &server, PHONE_B).await;

        // Validation errors name the field, in the seed's words.
        let invalid = expect(
            &api.call(
                Method::POST,
                "/send",
                Some(ADMIN_TOKEN),
                Some(json!({"message": "Hello"})),
            )
            .await,
            400,
            "send without number",
        );
        assert_eq!(invalid, validation_example());
        let bad_device = expect(
            &api.call(
                Method::POST,
                "/send",
                Some(ADMIN_TOKEN),
                Some(json!({"number": b_number, "message": "x", "sessionId": "abc"})),
            )
            .await,
            400,
            "sessionId that is no id",
        );
        assert_eq!(
            (bad_device["code"].as_str(), bad_device["field"].as_str()),
            (Some("VALIDATION_ERROR"), Some("sessionId"))
        );
        let gone = expect(
            &api.call(
                Method::POST,
                "/send",
                Some(ADMIN_TOKEN),
                Some(json!({"number": b_number, "message": "x", "sessionId": "999999"})),
            )
            .await,
            404,
            "unknown sessionId",
        );
        assert_shape(&gone, &error_example(), "unknown device");

        // The seed's single message: the device is auto-selected (the oldest
        // connected one, A) with the account key.
        let sent = api
            .send(ADMIN_TOKEN, json!({"number": b_number, "message": "Hello! Your order #12345 has been shipped."}))
            .await;
        assert_eq!(sent["sessionId"], a.to_string());
        // A session's own key sends from its session; sessionId picks one.
        let from_b = api
            .send(
                &key_b,
                json!({"number": PHONE_A.trim_start_matches('+'), "message": "Hello from B"}),
            )
            .await;
        assert_eq!(from_b["sessionId"], b.to_string());
        let chosen = api
            .send(ADMIN_TOKEN, json!({"number": PHONE_A.trim_start_matches('+'), "message": "Chosen device", "sessionId": b.to_string()}))
            .await;
        assert_eq!(chosen["sessionId"], b.to_string());

        // The seed's media example, the file on the server's own media URL.
        let uploaded = expect(
            &wasender
                .raw(
                    Method::POST,
                    "/api/upload",
                    Some(&key_b),
                    "image/png",
                    png(),
                )
                .await,
            200,
            "upload",
        );
        let media_url = uploaded["publicUrl"].as_str().unwrap().to_owned();
        let with_media = api
            .send(
                ADMIN_TOKEN,
                json!({"number": b_number, "message": "Here is your invoice", "mediaUrl": media_url, "mediaType": "document"}),
            )
            .await;

        // The seed's bulk example; its numbers are not on the network, so
        // they are queued and fail later (history lists failures too).
        let bulk_body = json!({"messages": [
            {"number": "923001234567", "message": "Hello User 1"},
            {"number": "923009876543", "message": "Hello User 2"}
        ]});
        let bulk = expect(
            &api.call(
                Method::POST,
                "/send-bulk",
                Some(ADMIN_TOKEN),
                Some(bulk_body),
            )
            .await,
            200,
            "bulk",
        );
        assert_shape(
            &bulk,
            &json!({"success": true, "message": "Bulk messages queued", "queued": 50, "failed": 0, "queueIds": [12345]}),
            "bulk",
        );
        assert_eq!(
            (bulk["queued"].as_i64(), bulk["failed"].as_i64()),
            (Some(2), Some(0))
        );
        assert_eq!(bulk["queueIds"].as_array().unwrap().len(), 2);
        let bulk_invalid = expect(
            &api.call(
                Method::POST,
                "/send-bulk",
                Some(ADMIN_TOKEN),
                Some(json!({"messages": [{"message": "no number"}]})),
            )
            .await,
            400,
            "bulk item without number",
        );
        assert_eq!(bulk_invalid["field"], "messages.0.number");
        let bulk_empty = expect(
            &api.call(
                Method::POST,
                "/send-bulk",
                Some(ADMIN_TOKEN),
                Some(json!({})),
            )
            .await,
            400,
            "no messages",
        );
        assert_eq!(bulk_empty["field"], "messages");

        // The queue lists what waits or is being sent, in the list shape.
        let queue = expect(
            &api.call(Method::GET, "/queue", Some(ADMIN_TOKEN), None)
                .await,
            200,
            "queue",
        );
        assert_shape(&queue, &list_example(), "queue");
        for row in queue["messages"].as_array().unwrap() {
            assert!(
                ["pending", "processing"].contains(&row["status"].as_str().unwrap()),
                "{row}"
            );
        }

        // Sent on the network: in the history as sent, with the content.
        let row = history_row(&api, &sent["queueId"], "sent").await;
        assert_eq!(
            (row["number"].as_str(), row["message"].as_str()),
            (
                Some(b_number),
                Some("Hello! Your order #12345 has been shipped.")
            )
        );
        let media_row = history_row(&api, &with_media["queueId"], "sent").await;
        assert_eq!(
            (
                media_row["mediaType"].as_str(),
                media_row["mediaUrl"].as_str()
            ),
            (Some("document"), Some(media_url.as_str()))
        );
        // sessionId picks the device whose history is listed.
        let b_id = b.to_string();
        let b_rows = eventually(
            "B's message in B's history",
            Duration::from_secs(20),
            || async {
                let history = expect(
                    &api.call(
                        Method::GET,
                        &format!("/history?sessionId={b}"),
                        Some(ADMIN_TOKEN),
                        None,
                    )
                    .await,
                    200,
                    "B's history",
                );
                let rows = history["messages"].as_array().cloned().unwrap_or_default();
                rows.iter()
                    .any(|row| row["queueId"] == from_b["queueId"])
                    .then_some(rows)
            },
        )
        .await;
        assert!(
            b_rows.iter().all(|row| row["sessionId"] == b_id.as_str()),
            "{b_rows:?}"
        );

        // Date filters: a past day lists nothing; a malformed date is refused.
        let past = expect(
            &api.call(
                Method::GET,
                "/history?startDate=2000-01-01&endDate=2000-01-02",
                Some(ADMIN_TOKEN),
                None,
            )
            .await,
            200,
            "history of a past day",
        );
        assert_eq!(
            (
                past["count"].as_i64(),
                past["messages"].as_array().map(Vec::len)
            ),
            (Some(0), Some(0))
        );
        let bad_date = expect(
            &api.call(
                Method::GET,
                "/history?startDate=01/02/2026",
                Some(ADMIN_TOKEN),
                None,
            )
            .await,
            400,
            "bad date",
        );
        assert_eq!(
            (bad_date["code"].as_str(), bad_date["field"].as_str()),
            (Some("VALIDATION_ERROR"), Some("startDate"))
        );
    }
}

#[tokio::test]
async fn chatsuite_prefix_is_configurable() {
    let server = start(Backend::Sqlite, &["chatsuite=/cs"]).await;
    let moved = ChatSuite::of(&server, "/cs");
    let body = expect(
        &moved.call(Method::GET, "/queue", None, None).await,
        401,
        "no key under /cs",
    );
    assert_eq!(body["code"], "UNAUTHORIZED");
    let default = ChatSuite::of(&server, "/chatsuite");
    let response = default
        .client
        .call(
            Method::GET,
            &format!("{}/queue", default.base),
            &[],
            Vec::new(),
        )
        .await
        .unwrap();
    assert_eq!(
        response.status.as_u16(),
        404,
        "the default prefix is not served: {}",
        response.text()
    );
}

#[tokio::test]
async fn chatsuite_queue_lists_a_paced_message_as_pending() {
    let server = TestServer::start_with(Backend::Sqlite, |config| {
        config.queue.protection_interval = Duration::from_secs(60);
        config.gateway_profiles = vec!["wasender".to_owned(), "chatsuite".to_owned()];
    })
    .await;
    let api = ChatSuite::of(&server, "/chatsuite");
    let wasender = Api::of(&server);
    let (a, _) = linked_session(&wasender, &server, PHONE_A).await;
    // Account protection spaces a session's sends: the second one waits.
    expect(
        &wasender
            .account(
                Method::PUT,
                &format!("/api/whatsapp-sessions/{a}"),
                Some(json!({"account_protection": true})),
            )
            .await,
        200,
        "protect A",
    );
    let to = PHONE_B.trim_start_matches('+');
    api.send(ADMIN_TOKEN, json!({"number": to, "message": "one"}))
        .await;
    let second = api
        .send(ADMIN_TOKEN, json!({"number": to, "message": "two"}))
        .await;
    let row = eventually(
        "the second message to wait in the queue",
        Duration::from_secs(10),
        || async {
            let queue = expect(
                &api.call(Method::GET, "/queue", Some(ADMIN_TOKEN), None)
                    .await,
                200,
                "queue",
            );
            assert_shape(&queue, &list_example(), "queue");
            let rows = queue["messages"].as_array().cloned().unwrap_or_default();
            rows.into_iter()
                .find(|row| row["queueId"] == second["queueId"] && row["status"] == "pending")
        },
    )
    .await;
    assert_eq!(
        (row["number"].as_str(), row["message"].as_str()),
        (Some(to), Some("two"))
    );
    assert_eq!(row["sessionId"], a.to_string());
}
