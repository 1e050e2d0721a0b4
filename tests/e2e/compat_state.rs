//! What the compatibility profiles keep on sessions, end to end on both
//! backends: the webhook format (a session whose webhook is configured
//! through `/saas` posts seed 002's payload, signed as every webhook, with
//! its five event names only) and labels (AIP-122 rules, field-level errors,
//! `labels.<key>` masks, kept across a store reopen), which Prosendi's
//! set-default uses so a send without `device_id` goes out from the default
//! device instead of the oldest.

use std::time::Duration;

use http::Method;
use serde_json::{Value, json};
use wagate::session::model::{Settings, WebhookFormat};
use wagate::store::Store;
use wagate_gateway::client::{HttpClient, HttpResponse};
use wagate_proto::v1 as pb;
use wagate_tests::{
    ADMIN_TOKEN, TempDir, TestDb, TestServer, admin, backends, eventually, violated_fields,
};

use crate::compat_wasender::expect;
use crate::messages::{PHONE_A, PHONE_B, Pair, send, text, wait_sent};
use crate::webhooks::{Received, Receiver, unix_now, verify_standard};
use crate::{create_session, link_by_qr, wait_status};

const SAAS_EVENTS: [&str; 5] = [
    "message.received",
    "message.sent",
    "session.connected",
    "session.disconnected",
    "presence.update",
];

async fn call(
    server: &TestServer,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> HttpResponse {
    let mut all = vec![("content-type", "application/json")];
    all.extend_from_slice(headers);
    let url = format!("http://{}{path}", server.http_addr.expect("HTTP listener"));
    let body = body.map(|b| b.to_string()).unwrap_or_default().into_bytes();
    HttpClient::new()
        .call(method.clone(), &url, &all, body)
        .await
        .unwrap_or_else(|err| panic!("{method} {path}: {err:#}"))
}

async fn get_session(server: &TestServer, name: &str) -> pb::Session {
    server
        .sessions()
        .get_session(admin(pb::GetSessionRequest { name: name.into() }))
        .await
        .expect("get session")
        .into_inner()
}

fn id_of(name: &str) -> i64 {
    name.trim_start_matches("sessions/").parse().unwrap()
}

/// The received bodies of events of `name`.
fn bodies(received: &[Received], name: &str) -> Vec<Value> {
    received
        .iter()
        .map(|r| r.json())
        .filter(|b| b["event"] == name)
        .collect()
}

/// Seed 002's envelope: exactly event, sessionId, timestamp (ISO-8601 UTC to
/// the second, near now) and data (an object).
fn assert_saas_envelope(body: &Value, session_id: i64) {
    let keys: Vec<&str> = body
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys.len(), 4, "{body}");
    assert!(
        SAAS_EVENTS.contains(&body["event"].as_str().unwrap()),
        "{body}"
    );
    assert_eq!(body["sessionId"], session_id.to_string(), "{body}");
    assert!(body["data"].is_object(), "{body}");
    let stamp = body["timestamp"].as_str().expect("timestamp string");
    assert!(
        stamp.len() == 20 && stamp.ends_with('Z') && stamp.as_bytes()[10] == b'T',
        "timestamp {stamp} is not ISO-8601 UTC like 2024-01-15T12:00:00Z"
    );
    let parsed: prost_types::Timestamp = stamp.parse().expect("RFC 3339 timestamp");
    assert!((parsed.seconds - unix_now()).abs() < 300, "{stamp}");
}

#[tokio::test]
async fn a_saas_session_posts_seed_002_webhooks_signed() {
    for backend in backends() {
        let pair = Pair::start(backend, |config| {
            config.allow_private_urls = true;
            config.queue.protection_interval = Duration::ZERO;
            config.webhooks.first_retry = Duration::from_millis(100);
            config.gateway_profiles = vec!["saas".to_owned()];
        })
        .await;
        let server = &pair.server;
        let receiver = Receiver::start(Vec::new()).await;
        let pat = [("x-api-token", ADMIN_TOKEN)];

        // Created through /saas: the SaaS format, over gRPC too.
        let created = expect(
            &call(
                server,
                Method::POST,
                "/saas/api/v1/whatsapp-sessions",
                &pat,
                Some(json!({"name": "Shop", "phoneNumber": "+14155550977"})),
            )
            .await,
            200,
            "create through /saas",
        );
        let name = created["data"]["name"].as_str().unwrap();
        assert_eq!(
            get_session(server, name).await.webhook_format,
            pb::WebhookFormat::Saas as i32
        );
        // Sessions created over gRPC keep seed 001's format by default.
        assert_eq!(
            get_session(server, &pair.a).await.webhook_format,
            pb::WebhookFormat::Wasender as i32
        );

        // A's webhook configured through /saas: on, in the SaaS format.
        let a_id = id_of(&pair.a);
        let configured = expect(
            &call(
                server,
                Method::PUT,
                &format!("/saas/api/v1/whatsapp-sessions/{a_id}/webhook"),
                &pat,
                Some(json!({"url": receiver.url})),
            )
            .await,
            200,
            "configure the webhook",
        );
        assert_eq!(configured["data"]["webhookEnabled"], true, "{configured}");
        assert_eq!(configured["data"]["webhookFormat"], "WEBHOOK_FORMAT_SAAS");
        let secret = get_session(server, &pair.a).await.webhook_secret;
        tokio::time::sleep(Duration::from_millis(1500)).await;

        // Outgoing, delivered to WhatsApp: message.sent.
        let mut messages = pair.messages();
        let out = send(&mut messages, &pair.a, text(PHONE_B, "saas out"))
            .await
            .expect("send");
        wait_sent(server, a_id, out.id).await;
        // Incoming: message.received.
        send(&mut messages, &pair.b, text(PHONE_A, "saas in"))
            .await
            .expect("send back");
        // Disconnect and connect again: session.disconnected, session.connected.
        let mut sessions = server.sessions();
        sessions
            .disconnect_session(admin(pb::DisconnectSessionRequest {
                name: pair.a.clone(),
            }))
            .await
            .expect("disconnect");
        wait_status(&sessions, &pair.a, pb::SessionStatus::Disconnected).await;
        sessions
            .connect_session(admin(pb::ConnectSessionRequest {
                name: pair.a.clone(),
            }))
            .await
            .expect("connect again");
        let got = receiver
            .wait_for("the four SaaS events", |r| {
                [
                    "message.sent",
                    "message.received",
                    "session.disconnected",
                    "session.connected",
                ]
                .iter()
                .all(|name| !bodies(r, name).is_empty())
            })
            .await;

        for request in &got {
            let body: Value = request.json();
            assert_saas_envelope(&body, a_id);
            // Signed as every webhook: seed 001's header and Standard Webhooks.
            assert_eq!(request.header("x-webhook-signature"), secret);
            verify_standard(&secret, request, unix_now()).expect("valid signature");
        }
        let sent = &bodies(&got, "message.sent")[0];
        assert_eq!(sent["data"]["messageId"], out.id.to_string(), "{sent}");
        assert_eq!(sent["data"]["text"], "saas out");
        assert_eq!(sent["data"]["fromMe"], true);
        assert_eq!(sent["data"]["type"], "text");
        let received = &bodies(&got, "message.received")[0];
        assert_eq!(received["data"]["text"], "saas in", "{received}");
        assert_eq!(received["data"]["fromMe"], false);
        assert!(
            received["data"]["from"]
                .as_str()
                .unwrap()
                .contains(PHONE_B.trim_start_matches('+')),
            "{received}"
        );
        assert_eq!(
            bodies(&got, "session.disconnected")[0]["data"]["status"],
            "disconnected"
        );
        // Nothing of seed 001's shapes reached a SaaS-format session.
        tokio::time::sleep(Duration::from_millis(500)).await;
        for request in receiver.received() {
            let body: Value = request.json();
            assert!(
                SAAS_EVENTS.contains(&body["event"].as_str().unwrap())
                    && body.get("cursor").is_none(),
                "{body}"
            );
        }
        pair.stop().await;
    }
}

#[tokio::test]
async fn format_and_labels_round_trip_over_grpc_and_bad_labels_are_field_errors() {
    for backend in backends() {
        let server = TestServer::start(backend).await;
        let mut sessions = server.sessions();
        let created = sessions
            .create_session(admin(pb::CreateSessionRequest {
                session: Some(pb::Session {
                    display_name: "Labelled".into(),
                    phone_number: "+14155550978".into(),
                    webhook_format: pb::WebhookFormat::Saas as i32,
                    labels: [("team", "sales"), ("region", "eu-west")]
                        .into_iter()
                        .map(|(k, v)| (k.to_owned(), v.to_owned()))
                        .collect(),
                    ..Default::default()
                }),
            }))
            .await
            .expect("create")
            .into_inner();
        assert_eq!(created.webhook_format, pb::WebhookFormat::Saas as i32);
        assert_eq!(created.labels["team"], "sales");
        let got = get_session(&server, &created.name).await;
        assert_eq!(got.webhook_format, pb::WebhookFormat::Saas as i32);
        assert_eq!(got.labels, created.labels);

        // `labels.<key>` sets one key, removes another; the format changes back.
        let update = |labels: &[(&str, &str)], paths: &[&str]| pb::UpdateSessionRequest {
            session: Some(pb::Session {
                name: created.name.clone(),
                webhook_format: pb::WebhookFormat::Wasender as i32,
                labels: labels
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: paths.iter().map(|p| (*p).to_owned()).collect(),
            }),
        };
        let updated = sessions
            .update_session(admin(update(
                &[("tier", "gold")],
                &["labels.tier", "labels.region", "webhook_format"],
            )))
            .await
            .expect("update labels")
            .into_inner();
        assert_eq!(updated.webhook_format, pb::WebhookFormat::Wasender as i32);
        let mut keys: Vec<&str> = updated.labels.keys().map(String::as_str).collect();
        keys.sort();
        assert_eq!(keys, ["team", "tier"], "{:?}", updated.labels);
        assert_eq!(
            get_session(&server, &created.name).await.labels,
            updated.labels
        );

        // Bad keys and values: INVALID_ARGUMENT naming each label.
        let long = "v".repeat(64);
        let refused = sessions
            .update_session(admin(update(
                &[("Team", "x"), ("ok", "Not Allowed"), ("size", &long)],
                &["labels"],
            )))
            .await
            .expect_err("bad labels");
        assert_eq!(refused.code(), tonic::Code::InvalidArgument);
        let mut fields = violated_fields(&refused);
        fields.sort();
        assert_eq!(
            fields,
            [
                "session.labels.Team",
                "session.labels.ok",
                "session.labels.size"
            ]
        );
        let refused = sessions
            .create_session(admin(pb::CreateSessionRequest {
                session: Some(pb::Session {
                    display_name: "Bad".into(),
                    phone_number: "+14155550979".into(),
                    labels: [("9lives".to_owned(), String::new())].into(),
                    ..Default::default()
                }),
            }))
            .await
            .expect_err("bad label on create");
        assert_eq!(violated_fields(&refused), ["session.labels.9lives"]);
        // Nothing changed by the refused update.
        assert_eq!(
            get_session(&server, &created.name).await.labels,
            updated.labels
        );
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn labels_and_format_are_kept_across_a_store_reopen() {
    for backend in backends() {
        let dir = TempDir::new("labels-reopen");
        let db = TestDb::create(backend, dir.path()).await;
        let settings = Settings {
            display_name: "Kept".into(),
            phone_number: "+14155550980".into(),
            webhook_format: WebhookFormat::Saas,
            labels: [("prosendi-default".to_owned(), "1733000000000".to_owned())].into(),
            ..Default::default()
        };
        let id = {
            let store = Store::connect(&db.url, 2).await.expect("connect");
            store.migrate().await.expect("migrate");
            store
                .insert_session(&settings, "reopen-hash", "secret")
                .await
                .expect("insert")
                .id
        };
        let store = Store::connect(&db.url, 2).await.expect("reconnect");
        let session = store.get_session(id).await.unwrap().expect("session");
        assert_eq!(session.settings.webhook_format, WebhookFormat::Saas);
        assert_eq!(session.settings.labels, settings.labels);
        db.drop_database().await;
    }
}

/// `/prosendi/api/whatsapp{path}` with the company key.
async fn prosendi(server: &TestServer, method: Method, path: &str, body: Option<Value>) -> Value {
    let response = call(
        server,
        method,
        &format!("/prosendi/api/whatsapp{path}"),
        &[("x-api-key", ADMIN_TOKEN)],
        body,
    )
    .await;
    expect(&response, 200, path)
}

#[tokio::test]
async fn prosendi_set_default_is_kept_and_sends_without_device_id_use_it() {
    for backend in backends() {
        let server = TestServer::start_with(backend, |config| {
            config.allow_private_urls = true;
            config.queue.protection_interval = Duration::ZERO;
            config.gateway_profiles = vec!["prosendi".to_owned()];
        })
        .await;
        let mut sessions = server.sessions();
        let mut simulator = server.simulator();
        let mut ids = Vec::new();
        for phone in ["+14155550981", "+14155550982", "+14155550983"] {
            let name = create_session(&mut sessions, phone).await.name;
            link_by_qr(&mut sessions, &mut simulator, &name, phone).await;
            ids.push(id_of(&name));
        }
        let (oldest, second, third) = (ids[0], ids[1], ids[2]);
        let defaults = |devices: &Value| -> Vec<i64> {
            devices["data"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|d| d["is_default"] == true)
                .map(|d| d["id"].as_i64().unwrap())
                .collect()
        };
        let server_ref = &server;
        let send_without_device = move || async move {
            let sent = prosendi(
                server_ref,
                Method::POST,
                "/send",
                Some(json!({"recipient": "+14155550981", "message": "from the default"})),
            )
            .await;
            (
                sent["data"]["device_id"].as_i64().unwrap(),
                sent["data"]["message_id"].as_i64().unwrap(),
            )
        };
        // No default set: the oldest connected device, as before.
        let devices = prosendi(&server, Method::GET, "/devices", None).await;
        assert_eq!(defaults(&devices), [oldest]);
        assert_eq!(send_without_device().await.0, oldest);

        // set-default: kept, listed, used by sends without device_id.
        let set = prosendi(
            &server,
            Method::POST,
            &format!("/devices/{third}/set-default"),
            None,
        )
        .await;
        assert_eq!(set["data"]["id"], third);
        assert_eq!(set["data"]["is_default"], true);
        let devices = prosendi(&server, Method::GET, "/devices", None).await;
        assert_eq!(defaults(&devices), [third], "{devices}");
        let (device, message) = send_without_device().await;
        assert_eq!(device, third);
        wait_sent(&server, third, message).await;
        // Another default replaces it: exactly one default at a time.
        prosendi(
            &server,
            Method::POST,
            &format!("/devices/{second}/set-default"),
            None,
        )
        .await;
        let devices = prosendi(&server, Method::GET, "/devices", None).await;
        assert_eq!(defaults(&devices), [second], "{devices}");
        assert_eq!(send_without_device().await.0, second);
        // Stored on the session as a label, visible over gRPC.
        let labels = get_session(&server, &format!("sessions/{second}"))
            .await
            .labels;
        assert!(labels.contains_key("prosendi-default"), "{labels:?}");
        // An explicit device_id still wins.
        let chosen = prosendi(
            &server,
            Method::POST,
            "/send",
            Some(json!({"recipient": "+14155550982", "message": "chosen", "device_id": oldest})),
        )
        .await;
        assert_eq!(chosen["data"]["device_id"], oldest);
        // The default device deleted: the most recent remaining mark (the
        // previous default) is the default again.
        prosendi(&server, Method::DELETE, &format!("/devices/{second}"), None).await;
        let devices = prosendi(&server, Method::GET, "/devices", None).await;
        assert_eq!(defaults(&devices), [third], "{devices}");
        let _ = eventually(
            "a send to pick the next default",
            Duration::from_secs(5),
            || async { (send_without_device().await.0 == third).then_some(()) },
        )
        .await;
        server.stop().await;
    }
}
