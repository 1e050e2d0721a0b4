//! The Prosendi (seed 004) compatibility profile end to end: a real server
//! with its in-process gateway on the simulated network, every endpoint of
//! the seed's guide under `/prosendi/api/whatsapp/…` called with `X-API-Key`
//! and the seed's example bodies — devices created, linked by their QR code,
//! renamed, deleted; sends and bulk sends — the answers checked against the
//! fields the seed names, up to the message being sent on the network.

use std::time::Duration;

use http::Method;
use serde_json::{Value, json};
use wagate_gateway::client::{HttpClient, HttpResponse};
use wagate_tests::{ADMIN_TOKEN, TestServer, backends, eventually};

use crate::compat_wasender::{assert_rate_headers, assert_shape, expect};
use crate::messages::{png, wait_sent};

const PHONE_A: &str = "+14155550811";
const PHONE_B: &str = "+14155550812";

/// The REST gateway of a test server, called as a Prosendi client would.
struct Prosendi {
    http: String,
    client: HttpClient,
}

impl Prosendi {
    fn of(server: &TestServer) -> Self {
        Self {
            http: format!("http://{}", server.http_addr.expect("HTTP listener")),
            client: HttpClient::new(),
        }
    }

    /// A call of `/prosendi/api/whatsapp{path}` with `X-API-Key: <key>`;
    /// every answer carries the rate-limit headers.
    async fn call(
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
        let url = format!("{}/prosendi/api/whatsapp{path}", self.http);
        let response = self
            .client
            .call(method.clone(), &url, &headers, body)
            .await
            .unwrap_or_else(|err| panic!("{method} {path}: {err:#}"));
        assert_rate_headers(&response);
        response
    }

    async fn admin(&self, method: Method, path: &str, body: Option<Value>) -> HttpResponse {
        self.call(method, path, Some(ADMIN_TOKEN), body).await
    }

    /// A device created and linked to `phone` through the seed's flow:
    /// create, get the QR code, scan it, poll the status.
    async fn linked_device(&self, server: &TestServer, name: &str, phone: &str) -> i64 {
        let created = expect(
            &self
                .admin(
                    Method::POST,
                    "/devices",
                    Some(json!({"name": name, "phone_number": phone})),
                )
                .await,
            201,
            "create device",
        );
        assert_shape(&created, &device_example(), "created device");
        assert_eq!(created["data"]["name"], name);
        let id = created["data"]["id"].as_i64().unwrap();
        let qr = expect(
            &self
                .admin(Method::GET, &format!("/devices/{id}/qr"), None)
                .await,
            200,
            "qr",
        );
        assert_shape(
            &qr,
            &json!({"success": true, "data": {"qr_code": "2@abc", "device_status": "qr_ready"}}),
            "qr",
        );
        assert_eq!(qr["data"]["device_status"], "qr_ready");
        server
            .simulator()
            .scan_qr(wagate_tests::admin(wagate_proto::v1::ScanQrRequest {
                qr_code: qr["data"]["qr_code"].as_str().unwrap().to_owned(),
                phone_number: phone.to_owned(),
            }))
            .await
            .expect("scan");
        let status = eventually(
            "the device to be authenticated",
            Duration::from_secs(15),
            || async {
                let status = self
                    .admin(Method::GET, &format!("/devices/{id}/status"), None)
                    .await
                    .json();
                (status["data"]["status"] == "authenticated").then_some(status)
            },
        )
        .await;
        assert_shape(
            &status,
            &json!({"success": true, "data": {"status": "authenticated", "phone_number": "+1"}}),
            "status",
        );
        assert_eq!(
            status["data"]["phone_number"]
                .as_str()
                .map(|p| p.trim_start_matches('+')),
            Some(phone.trim_start_matches('+'))
        );
        id
    }
}

/// A device as the seed names its fields (id, name, status, phone_number).
fn device_example() -> Value {
    json!({"success": true, "data": {"id": 1, "name": "My WhatsApp Device", "status": "pending", "phone_number": null}})
}

fn sent_example() -> Value {
    json!({"success": true, "data": {"chat_id": "22370123456@s.whatsapp.net", "message_id": 1, "device_id": 1, "quota": null}})
}

fn error_example() -> Value {
    json!({"success": false, "error": {"code": "invalid_api_key", "message": "Invalid API key"}})
}

/// A loopback file server: `GET /photo.png` answers a PNG.
async fn media_server() -> String {
    let app = axum::Router::new().route(
        "/photo.png",
        axum::routing::get(|| async { ([("content-type", "image/png")], png()) }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/photo.png", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

#[tokio::test]
async fn prosendi_endpoints_answer_with_the_seeds_fields_and_messages_are_sent() {
    for backend in backends() {
        let server = TestServer::start_with(backend, |config| {
            config.allow_private_urls = true;
            config.queue.protection_interval = Duration::ZERO;
            config.gateway_profiles = vec!["prosendi".to_owned()];
        })
        .await;
        let api = Prosendi::of(&server);

        // Authentication errors in the seed's codes.
        let missing = expect(
            &api.call(Method::GET, "/devices", None, None).await,
            401,
            "no key",
        );
        assert_eq!(missing["error"]["code"], "invalid_api_key");
        let wrong = expect(
            &api.call(Method::GET, "/devices", Some("nope"), None).await,
            401,
            "bad key",
        );
        assert_eq!(wrong, error_example());

        // The seed's create body lacks the phone number wagate sessions need:
        // refused with the field named, not created half-way.
        let refused = expect(
            &api.admin(
                Method::POST,
                "/devices",
                Some(json!({"name": "My WhatsApp Device"})),
            )
            .await,
            422,
            "create without phone_number",
        );
        assert_eq!(refused["error"]["code"], "validation_error");
        assert!(refused["errors"]["phone_number"].is_array(), "{refused}");

        // Sends need an authenticated device.
        let not_ready = expect(
            &api.admin(
                Method::POST,
                "/send",
                Some(json!({"recipient": PHONE_B, "message": "Hello World"})),
            )
            .await,
            503,
            "send without devices",
        );
        assert_eq!(not_ready["error"]["code"], "device_not_ready");

        let a = api
            .linked_device(&server, "My WhatsApp Device", PHONE_A)
            .await;
        let b = api.linked_device(&server, "Second device", PHONE_B).await;
        let devices = expect(
            &api.admin(Method::GET, "/devices", None).await,
            200,
            "devices",
        );
        assert_shape(
            &devices,
            &json!({"success": true, "data": [device_example()["data"].clone()]}),
            "devices",
        );
        let defaults: Vec<(i64, bool)> = devices["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                (
                    d["id"].as_i64().unwrap(),
                    d["is_default"].as_bool().unwrap(),
                )
            })
            .collect();
        assert_eq!(defaults.len(), 2);
        assert!(
            defaults.contains(&(a, true)) && defaults.contains(&(b, false)),
            "{defaults:?}"
        );

        // set-default (covered in compat_state) on an unknown device: 404.
        let unknown = expect(
            &api.admin(Method::POST, "/devices/999999/set-default", None)
                .await,
            404,
            "unknown device",
        );
        assert_eq!(unknown["error"]["code"], "device_not_found");

        // Update: the name; is_active is refused rather than ignored.
        let renamed = expect(
            &api.admin(
                Method::PUT,
                &format!("/devices/{b}"),
                Some(json!({"name": "Sales"})),
            )
            .await,
            200,
            "rename",
        );
        assert_eq!(
            (
                renamed["data"]["id"].as_i64(),
                renamed["data"]["name"].as_str()
            ),
            (Some(b), Some("Sales"))
        );
        let inactive = expect(
            &api.admin(
                Method::PUT,
                &format!("/devices/{b}"),
                Some(json!({"is_active": false})),
            )
            .await,
            422,
            "is_active",
        );
        assert!(inactive["errors"]["is_active"].is_array(), "{inactive}");

        // The seed's send: the device defaults to the oldest authenticated one.
        let sent = expect(
            &api.admin(
                Method::POST,
                "/send",
                Some(json!({"recipient": PHONE_B, "message": "Hello World"})),
            )
            .await,
            200,
            "send",
        );
        assert_shape(&sent, &sent_example(), "send");
        assert_eq!(sent["data"]["device_id"], a);
        wait_sent(&server, a, sent["data"]["message_id"].as_i64().unwrap()).await;
        // Its full body, device_id and is_group included.
        let chosen = expect(
            &api.admin(
                Method::POST,
                "/send",
                Some(json!({"recipient": PHONE_A, "message": "Your message", "is_group": false, "device_id": b})),
            )
            .await,
            200,
            "send from a chosen device",
        );
        assert_eq!(chosen["data"]["device_id"], b);
        wait_sent(&server, b, chosen["data"]["message_id"].as_i64().unwrap()).await;
        // Media by URL with the message as caption.
        let photo = expect(
            &api.admin(
                Method::POST,
                "/send",
                Some(json!({"recipient": PHONE_B, "message": "Here is the photo", "media_url": media_server().await})),
            )
            .await,
            200,
            "send media",
        );
        wait_sent(&server, a, photo["data"]["message_id"].as_i64().unwrap()).await;

        // Send errors: no recipient, an unknown device.
        let invalid = expect(
            &api.admin(Method::POST, "/send", Some(json!({"message": "Hello"})))
                .await,
            422,
            "no recipient",
        );
        assert_eq!(invalid["error"]["code"], "invalid_phone_number");
        assert!(invalid["errors"]["recipient"].is_array(), "{invalid}");
        let no_device = expect(
            &api.admin(
                Method::POST,
                "/send",
                Some(json!({"recipient": PHONE_B, "message": "x", "device_id": 999999})),
            )
            .await,
            404,
            "unknown device_id",
        );
        assert_eq!(no_device["error"]["code"], "device_not_found");

        // The seed's bulk example, from device B.
        let bulk = expect(
            &api.admin(
                Method::POST,
                "/send-bulk",
                Some(json!({
                    "messages": [
                        { "recipient": "+22370123456", "message": "Hello" },
                        { "recipient": "+22370987654", "message": "Caption", "media_url": "https://example.com/photo.jpg" }
                    ],
                    "device_id": b
                })),
            )
            .await,
            200,
            "bulk",
        );
        assert_shape(
            &bulk,
            &json!({"success": true, "data": {"device_id": 1, "total": 2, "queued": 2, "failed": 0,
                "results": [{"index": 0, "message_id": 1, "chat_id": "x", "error": null}]}}),
            "bulk",
        );
        assert_eq!(
            (
                bulk["data"]["device_id"].as_i64(),
                bulk["data"]["queued"].as_i64()
            ),
            (Some(b), Some(2))
        );
        let bulk_invalid = expect(
            &api.admin(
                Method::POST,
                "/send-bulk",
                Some(json!({"messages": [{"message": "x"}]})),
            )
            .await,
            422,
            "bulk item without recipient",
        );
        assert!(
            bulk_invalid["errors"]["messages.0.recipient"].is_array(),
            "{bulk_invalid}"
        );

        // Delete: the device and its session are gone.
        let deleted = expect(
            &api.admin(Method::DELETE, &format!("/devices/{b}"), None)
                .await,
            200,
            "delete",
        );
        assert_eq!(deleted["success"], true);
        let gone = expect(
            &api.admin(Method::GET, &format!("/devices/{b}/status"), None)
                .await,
            404,
            "deleted device",
        );
        assert_eq!(gone["error"]["code"], "device_not_found");
    }
}
