//! The generic SaaS API (seed 002) compatibility profile end to end: a real
//! server with its in-process gateway on the simulated network, every
//! endpoint the seed lists under `/saas/api/v1/…` — sessions with the
//! personal access token in `X-API-Token`, messages, contacts and groups with
//! the session key as `Authorization: Bearer` — with the seed's payload
//! examples, its error codes and `Retry-After`, up to the message being sent.

use std::time::Duration;

use http::Method;
use serde_json::{Value, json};
use wagate_gateway::client::{HttpClient, HttpResponse};
use wagate_tests::{ADMIN_TOKEN, Backend, TestServer, backends, eventually};

use crate::compat_wasender::{assert_rate_headers, assert_shape, expect};
use crate::messages::{png, wait_sent};

const PHONE_A: &str = "+14155550911";
const PHONE_B: &str = "+14155550912";
const PHONE_C: &str = "+14155550913";

/// Who calls: the personal access token, a session key, or nobody.
enum Auth<'a> {
    Pat,
    Key(&'a str),
    None,
}

struct Saas {
    base: String,
    client: HttpClient,
}

impl Saas {
    fn of(server: &TestServer) -> Self {
        Self {
            base: format!(
                "http://{}/saas/api/v1",
                server.http_addr.expect("HTTP listener")
            ),
            client: HttpClient::new(),
        }
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        auth: Auth<'_>,
        body: Option<Value>,
    ) -> HttpResponse {
        let bearer;
        let mut headers = vec![("content-type", "application/json")];
        match auth {
            Auth::Pat => headers.push(("x-api-token", ADMIN_TOKEN)),
            Auth::Key(key) => {
                bearer = format!("Bearer {key}");
                headers.push(("authorization", &bearer));
            }
            Auth::None => {}
        }
        let body = body.map(|b| b.to_string()).unwrap_or_default().into_bytes();
        let response = self
            .client
            .call(
                method.clone(),
                &format!("{}{path}", self.base),
                &headers,
                body,
            )
            .await
            .unwrap_or_else(|err| panic!("{method} {path}: {err:#}"));
        assert_rate_headers(&response);
        response
    }

    /// A session created with the PAT; (id, session key).
    async fn create(&self, name: &str, phone: &str) -> (i64, String) {
        let created = expect(
            &self
                .call(
                    Method::POST,
                    "/whatsapp-sessions",
                    Auth::Pat,
                    Some(json!({"name": name, "phoneNumber": phone})),
                )
                .await,
            200,
            "create session",
        );
        assert_shape(
            &created,
            &json!({"success": true, "data": {"id": "1", "apiKey": "k", "status": "x"}}),
            "create",
        );
        (
            created["data"]["id"].as_str().unwrap().parse().unwrap(),
            created["data"]["apiKey"].as_str().unwrap().to_owned(),
        )
    }

    /// Connect, read the QR code, scan it, wait for CONNECTED.
    async fn link(&self, server: &TestServer, id: i64, key: &str, phone: &str) {
        let connected = expect(
            &self
                .call(
                    Method::POST,
                    &format!("/whatsapp-sessions/{id}/connect"),
                    Auth::Pat,
                    None,
                )
                .await,
            200,
            "connect",
        );
        assert_eq!(connected["data"]["status"], "SESSION_STATUS_NEED_SCAN");
        let qr = expect(
            &self
                .call(
                    Method::GET,
                    &format!("/whatsapp-sessions/{id}/qrcode"),
                    Auth::Pat,
                    None,
                )
                .await,
            200,
            "qrcode",
        );
        let code = qr["data"]["code"].as_str().expect("QR code").to_owned();
        server
            .simulator()
            .scan_qr(wagate_tests::admin(wagate_proto::v1::ScanQrRequest {
                qr_code: code,
                phone_number: phone.to_owned(),
            }))
            .await
            .expect("scan");
        eventually(
            "the session to be connected",
            Duration::from_secs(15),
            || async {
                let session = self
                    .call(
                        Method::GET,
                        &format!("/whatsapp-sessions/{id}"),
                        Auth::Key(key),
                        None,
                    )
                    .await
                    .json();
                (session["data"]["status"] == "SESSION_STATUS_CONNECTED").then_some(())
            },
        )
        .await;
    }

    async fn send(&self, key: &str, body: Value) -> i64 {
        let sent = expect(
            &self
                .call(
                    Method::POST,
                    "/send-message",
                    Auth::Key(key),
                    Some(body.clone()),
                )
                .await,
            200,
            &format!("send {body}"),
        );
        sent["messageId"]
            .as_i64()
            .expect("integer messageId (the seed reads data.messageId)")
    }
}

fn error_code(body: &Value) -> &str {
    body["error"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no error code in {body}"))
}

#[tokio::test]
async fn saas_endpoints_answer_with_the_seeds_codes_and_messages_are_sent() {
    for backend in backends() {
        let server = TestServer::start_with(backend, |config| {
            config.allow_private_urls = true;
            config.queue.protection_interval = Duration::ZERO;
            config.gateway_profiles = vec!["wasender".to_owned(), "saas".to_owned()];
        })
        .await;
        let api = Saas::of(&server);

        let anonymous = expect(
            &api.call(Method::GET, "/whatsapp-sessions", Auth::None, None)
                .await,
            401,
            "no auth",
        );
        assert_eq!(
            anonymous,
            json!({"success": false, "error": {"code": "UNAUTHORIZED", "message": "Missing auth"}})
        );
        let wrong = expect(
            &api.call(Method::GET, "/contacts", Auth::Key("nope"), None)
                .await,
            401,
            "bad key",
        );
        assert_eq!(error_code(&wrong), "UNAUTHORIZED");

        // Sessions.
        let (a, key_a) = api.create("Shop", PHONE_A).await;
        let (b, key_b) = api.create("Support", PHONE_B).await;
        let (c, key_c) = api.create("Spare", PHONE_C).await;
        api.link(&server, a, &key_a, PHONE_A).await;
        api.link(&server, b, &key_b, PHONE_B).await;
        let listed = expect(
            &api.call(Method::GET, "/whatsapp-sessions", Auth::Pat, None)
                .await,
            200,
            "list",
        );
        assert_eq!(listed["data"].as_array().map(Vec::len), Some(3), "{listed}");
        let missing = expect(
            &api.call(Method::GET, "/whatsapp-sessions/999999", Auth::Pat, None)
                .await,
            404,
            "unknown session",
        );
        assert_eq!(error_code(&missing), "SESSION_NOT_FOUND");
        let not_waiting = expect(
            &api.call(
                Method::GET,
                &format!("/whatsapp-sessions/{a}/qrcode"),
                Auth::Pat,
                None,
            )
            .await,
            409,
            "QR of a connected session",
        );
        assert_eq!(error_code(&not_waiting), "CONFLICT");

        // A session not connected cannot send: SESSION_DISCONNECTED (409).
        let disconnected = expect(
            &api.call(
                Method::POST,
                "/send-message",
                Auth::Key(&key_c),
                Some(json!({"to": PHONE_B, "text": "x"})),
            )
            .await,
            409,
            "send from an unconnected session",
        );
        assert_eq!(error_code(&disconnected), "SESSION_DISCONNECTED");

        // Messages: the seed's payloads, the type detected from each.
        let to = PHONE_B.trim_start_matches('+');
        let text = api
            .send(&key_a, json!({"to": to, "text": "Hello from the API!"}))
            .await;
        let upload = expect(
            &api.client
                .call(
                    Method::POST,
                    &format!("{}/api/upload", api.base.replace("/saas/api/v1", "")),
                    &[
                        ("content-type", "image/png"),
                        ("authorization", &format!("Bearer {key_a}")),
                    ],
                    png(),
                )
                .await
                .unwrap(),
            200,
            "upload",
        );
        let image_url = upload["publicUrl"].as_str().unwrap();
        let image = api
            .send(
                &key_a,
                json!({"to": to, "image": {"url": image_url, "caption": "Optional"}}),
            )
            .await;
        let location = api
            .send(&key_a, json!({"to": to, "location": {"latitude": 37.7749, "longitude": -122.4194, "name": "San Francisco"}}))
            .await;
        let contact = api.send(&key_a, json!({"to": to, "contact": {"fullName": "John Doe", "phoneNumber": "+1234567890"}})).await;
        let quoted = api
            .send(
                &key_a,
                json!({"to": to, "text": "About that", "quoted": text, "mentions": [PHONE_B]}),
            )
            .await;
        for id in [text, image, location, contact, quoted] {
            wait_sent(&server, a, id).await;
        }
        let invalid = expect(
            &api.call(
                Method::POST,
                "/send-message",
                Auth::Key(&key_a),
                Some(json!({"text": "no recipient"})),
            )
            .await,
            422,
            "no to",
        );
        assert_eq!(error_code(&invalid), "VALIDATION_ERROR");
        assert!(invalid["error"]["fields"]["to"].is_array(), "{invalid}");
        let empty = expect(
            &api.call(
                Method::POST,
                "/send-message",
                Auth::Key(&key_a),
                Some(json!({"to": to})),
            )
            .await,
            422,
            "no payload",
        );
        assert_eq!(error_code(&empty), "VALIDATION_ERROR");

        // Contacts.
        let saved = expect(
            &api.call(
                Method::PUT,
                "/contacts",
                Auth::Key(&key_a),
                Some(json!({"phone": to, "fullName": "Bee"})),
            )
            .await,
            200,
            "upsert contact",
        );
        assert_eq!(saved["data"]["fullName"], "Bee");
        let contacts = expect(
            &api.call(Method::GET, "/contacts", Auth::Key(&key_a), None)
                .await,
            200,
            "contacts",
        );
        assert!(
            contacts["data"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["fullName"] == "Bee"),
            "{contacts}"
        );
        let one = expect(
            &api.call(
                Method::GET,
                &format!("/contacts/{to}"),
                Auth::Key(&key_a),
                None,
            )
            .await,
            200,
            "contact",
        );
        assert_eq!(one["data"]["fullName"], "Bee");
        let on = expect(
            &api.call(
                Method::GET,
                &format!("/on-whatsapp/{to}"),
                Auth::Key(&key_a),
                None,
            )
            .await,
            200,
            "on-whatsapp",
        );
        assert_eq!(on["data"]["exists"], true);
        let off = expect(
            &api.call(
                Method::GET,
                "/on-whatsapp/19995550000",
                Auth::Key(&key_a),
                None,
            )
            .await,
            200,
            "not on WhatsApp",
        );
        assert_eq!(off["data"]["exists"], false);

        // Groups.
        let group = expect(
            &api.call(
                Method::POST,
                "/groups",
                Auth::Key(&key_a),
                Some(json!({"name": "Team", "participants": [PHONE_B]})),
            )
            .await,
            200,
            "create group",
        );
        let jid = group["data"]["jid"].as_str().expect("group jid").to_owned();
        let groups = expect(
            &api.call(Method::GET, "/groups", Auth::Key(&key_a), None)
                .await,
            200,
            "groups",
        );
        assert!(
            groups["data"]
                .as_array()
                .unwrap()
                .iter()
                .any(|g| g["jid"] == jid.as_str()),
            "{groups}"
        );
        let metadata = expect(
            &api.call(
                Method::GET,
                &format!("/groups/{jid}"),
                Auth::Key(&key_a),
                None,
            )
            .await,
            200,
            "group",
        );
        assert_eq!(metadata["data"]["subject"], "Team");
        let participants = expect(
            &api.call(
                Method::GET,
                &format!("/groups/{jid}/participants"),
                Auth::Key(&key_a),
                None,
            )
            .await,
            200,
            "participants",
        );
        assert_eq!(
            participants["data"].as_array().map(Vec::len),
            Some(2),
            "{participants}"
        );
        for action in ["remove", "add"] {
            let changed = expect(
                &api.call(
                    Method::POST,
                    &format!("/groups/{jid}/participants/{action}"),
                    Auth::Key(&key_a),
                    Some(json!({"participants": [PHONE_B]})),
                )
                .await,
                200,
                action,
            );
            assert_eq!(changed["success"], true);
        }
        let left = expect(
            &api.call(
                Method::POST,
                &format!("/groups/{jid}/leave"),
                Auth::Key(&key_b),
                None,
            )
            .await,
            200,
            "B leaves",
        );
        assert_eq!(left, json!({"success": true}));

        // Disconnect and delete.
        let stopped = expect(
            &api.call(
                Method::POST,
                &format!("/whatsapp-sessions/{b}/disconnect"),
                Auth::Pat,
                None,
            )
            .await,
            200,
            "disconnect",
        );
        assert_eq!(stopped["data"]["status"], "SESSION_STATUS_DISCONNECTED");
        expect(
            &api.call(
                Method::DELETE,
                &format!("/whatsapp-sessions/{c}"),
                Auth::Pat,
                None,
            )
            .await,
            200,
            "delete",
        );
        let gone = expect(
            &api.call(
                Method::GET,
                &format!("/whatsapp-sessions/{c}"),
                Auth::Pat,
                None,
            )
            .await,
            404,
            "deleted",
        );
        assert_eq!(error_code(&gone), "SESSION_NOT_FOUND");
    }
}

#[tokio::test]
async fn saas_send_over_the_session_limit_is_rate_limited_with_retry_after() {
    let server = TestServer::start_with(Backend::Sqlite, |config| {
        config.queue.protection_interval = Duration::ZERO;
        config.queue.rate_limit = 1;
        config.queue.rate_window = Duration::from_secs(60);
        config.gateway_profiles = vec!["saas".to_owned()];
    })
    .await;
    let api = Saas::of(&server);
    let (a, key) = api.create("Shop", PHONE_A).await;
    api.link(&server, a, &key, PHONE_A).await;
    api.send(&key, json!({"to": PHONE_B, "text": "one"})).await;
    let refused = api
        .call(
            Method::POST,
            "/send-message",
            Auth::Key(&key),
            Some(json!({"to": PHONE_B, "text": "two"})),
        )
        .await;
    let body = expect(&refused, 429, "second send");
    assert_eq!(error_code(&body), "RATE_LIMITED");
    let retry_after: u64 = refused
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
}
