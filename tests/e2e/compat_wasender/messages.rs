//! Seed 001 "Messages": every send-message form with the seed's example
//! bodies, the webhook the recipient gets in the seed's format (signed with
//! `X-Webhook-Signature`), message info, logs, edit, delete, mark read,
//! presence, upload in both forms, decrypt-media, and the 422 / 429 bodies.

use std::time::Duration;

use base64::Engine as _;
use http::Method;
use serde_json::{Value, json};
use wagate_tests::{backends, eventually};

use super::{
    Api, Hooks, assert_rate_headers, assert_shape, expect, expect_seed_429, linked_session,
    start_server,
};
use crate::messages::png;

const PHONE_A: &str = "+14155550611";
const PHONE_B: &str = "+14155550612";

fn sent_example() -> Value {
    json!({"success": true, "data": {"msgId": 100000, "jid": "+123456789", "status": "in_progress"}})
}

/// Sends `body` from `key` and checks the seed's send response; returns msgId.
async fn send(api: &Api, key: &str, body: Value) -> i64 {
    let response = api
        .call(
            Method::POST,
            "/api/send-message",
            Some(key),
            Some(body.clone()),
        )
        .await;
    assert_rate_headers(&response);
    let sent = expect(&response, 200, &format!("send {body}"));
    assert_shape(&sent, &sent_example(), "send");
    assert_eq!(sent["data"]["status"], "in_progress");
    sent["data"]["msgId"].as_i64().expect("integer msgId")
}

/// The bytes at a media URL the server handed out.
async fn fetch(url: &str) -> Vec<u8> {
    let response = wagate_gateway::client::HttpClient::new()
        .call(Method::GET, url, &[], Vec::new())
        .await
        .unwrap_or_else(|err| panic!("GET {url}: {err:#}"));
    assert_eq!(response.status, 200, "GET {url}");
    response.body.to_vec()
}

#[tokio::test]
async fn message_endpoints_answer_in_the_seeds_shapes_and_webhooks_follow() {
    for backend in backends() {
        let server = start_server(backend).await;
        let api = Api::of(&server);
        let (a, key_a) = linked_session(&api, &server, PHONE_A).await;
        let (b, key_b) = linked_session(&api, &server, PHONE_B).await;
        let hooks = Hooks::start().await;
        let webhook = expect(
            &api.account(
                Method::PUT,
                &format!("/api/whatsapp-sessions/{b}"),
                Some(json!({"webhook_url": hooks.url, "webhook_enabled": true, "webhook_events": ["messages.received"]})),
            )
            .await,
            200,
            "set B's webhook",
        );
        let secret = webhook["data"]["webhook_secret"]
            .as_str()
            .unwrap()
            .to_owned();
        // B's webhook dispatcher starts within a supervisor period (1 s) and
        // delivers the events from then on: ping until one arrives.
        let mut ping = 0;
        eventually("B's webhook to deliver", Duration::from_secs(20), || {
            ping += 1;
            let (api, key_a, hooks) = (&api, &key_a, &hooks);
            let text = format!("ping {ping}");
            async move {
                send(api, key_a, json!({"to": PHONE_B, "text": text})).await;
                tokio::time::sleep(Duration::from_millis(500)).await;
                hooks.any().then_some(())
            }
        })
        .await;

        // Getting started: a text message, received by B's webhook.
        let text_id = send(
            &api,
            &key_a,
            json!({"to": PHONE_B.trim_start_matches('+'), "text": "Hello from WasenderAPI!"}),
        )
        .await;
        let (headers, received) = hooks
            .wait_for("messages.received of the text", |body| {
                body["data"]["messages"]["messageBody"] == "Hello from WasenderAPI!"
            })
            .await;
        assert_eq!(headers["x-webhook-signature"], secret.as_str());
        assert!(
            headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/json")
        );
        assert_shape(
            &received,
            &json!({"event": "messages.received", "timestamp": 1633456789, "data": {"messages": {
                "key": {"id": "3EB0X123456789", "fromMe": false, "remoteJid": "123456789@lid", "cleanedSenderPn": "5551234567"},
                "messageBody": "Hello! This is a test.",
                "message": {"conversation": "Hello! This is a test."}
            }}}),
            "webhook",
        );
        assert_eq!(received["event"], "messages.received");
        assert_eq!(
            received["data"]["messages"]["key"]["cleanedSenderPn"],
            PHONE_A.trim_start_matches('+')
        );

        // Message info, once WhatsApp has it.
        let info_path = format!("/api/messages/{text_id}/info");
        let info = eventually("the text to be sent", Duration::from_secs(15), || async {
            let info = api
                .call(Method::GET, &info_path, Some(&key_a), None)
                .await
                .json();
            (info["data"]["status"].as_i64() >= Some(2)).then_some(info)
        })
        .await;
        assert_shape(
            &info,
            &json!({"success": true, "data": {
                "remoteJid": "123456789@s.whatsapp.net", "id": "EN82FV0387IVR54JTE2R1", "msgId": 100000,
                "key": {"id": "EN82FV0387IVR54JTE2R1", "fromMe": true, "remoteJid": "123456789@s.whatsapp.net"},
                "message": {"conversation": "quoted"}, "messageTimestamp": "1751297488", "status": 2
            }}),
            "info",
        );
        assert_eq!(info["data"]["msgId"], text_id);
        // Another session's key cannot see it.
        let foreign = api.call(Method::GET, &info_path, Some(&key_b), None).await;
        assert!(
            matches!(foreign.status.as_u16(), 403 | 404),
            "{}",
            foreign.text()
        );

        // Message logs (personal access token), Laravel's paginator.
        let logs = expect(
            &api.account(
                Method::GET,
                &format!("/api/whatsapp-sessions/{a}/message-logs"),
                None,
            )
            .await,
            200,
            "message logs",
        );
        assert_shape(
            &logs,
            &json!({"success": true, "data": {
                "current_page": 1,
                "data": [{"id": "1001", "whatsapp_session_id": "501", "to": "+155501001234",
                          "content": "{\"text\":\"x\"}", "status": "sent", "failed_reason": null,
                          "created_at": "2023-10-27 10:30:15", "updated_at": "2023-10-27 10:30:17"}],
                "first_page_url": "/api/x?page=1", "from": 1, "last_page": 5, "last_page_url": "/api/x?page=5",
                "next_page_url": null, "path": "/api/x", "per_page": 10, "prev_page_url": null, "to": 3, "total": 15
            }}),
            "message logs",
        );
        let logged: Value =
            serde_json::from_str(logs["data"]["data"][0]["content"].as_str().unwrap()).unwrap();
        assert_eq!(logged["text"], "Hello from WasenderAPI!");

        // Every content kind, with the seed's example bodies.
        let to = PHONE_B;
        let upload = expect(
            &api.raw(
                Method::POST,
                "/api/upload",
                Some(&key_a),
                "image/png",
                png(),
            )
            .await,
            200,
            "raw upload",
        );
        assert_shape(
            &upload,
            &json!({"success": true, "publicUrl": "https://wasenderapi.com/media/a.jpg"}),
            "upload",
        );
        let image_url = upload["publicUrl"].as_str().unwrap().to_owned();
        assert_eq!(
            fetch(&image_url).await,
            png(),
            "the uploaded file at its URL"
        );
        let encoded = base64::engine::general_purpose::STANDARD.encode(png());
        for body in [
            json!({"base64": format!("data:image/png;base64,{encoded}")}),
            json!({"mimetype": "image/png", "base64": encoded}),
        ] {
            let uploaded = expect(
                &api.call(Method::POST, "/api/upload", Some(&key_a), Some(body))
                    .await,
                200,
                "JSON upload",
            );
            assert!(uploaded["publicUrl"].as_str().unwrap().starts_with("http"));
        }
        let mismatch = expect(
            &api.raw(
                Method::POST,
                "/api/upload",
                Some(&key_a),
                "image/png",
                b"not a png".to_vec(),
            )
            .await,
            422,
            "upload that is not what it claims",
        );
        assert_eq!(mismatch["success"], false);

        let image_id = send(
            &api,
            &key_a,
            json!({"to": to, "text": "Check out this image!", "imageUrl": image_url}),
        )
        .await;
        for body in [
            json!({"to": to, "text": "A video", "videoUrl": image_url.replace("png", "mp4")}),
            json!({"to": to, "text": "Here is the document", "documentUrl": image_url, "fileName": "report.png"}),
            json!({"to": to, "contact": {"name": "John Doe", "phone": "+14155550613"}}),
            json!({"to": to, "location": {"latitude": 37.7749, "longitude": -122.4194, "name": "San Francisco", "address": "California, USA"}}),
            json!({"to": to, "poll": {"question": "What is your favorite color?", "options": ["Red", "Blue", "Green"], "multiSelect": false}}),
            json!({"to": to, "text": "This is a reply", "replyTo": text_id}),
            json!({"to": to, "text": "Hello @14155550612", "mentions": ["14155550612@s.whatsapp.net"]}),
            json!({"to": to, "viewOnce": true, "imageUrl": image_url}),
            json!({"to": to, "audioUrl": image_url.replace("png", "ogg")}),
            json!({"to": to, "stickerUrl": image_url.replace("png", "webp")}),
        ] {
            send(&api, &key_a, body).await;
        }

        // The image reaches B's webhook; B decrypts it with the webhook's body.
        let (_, image_hook) = hooks
            .wait_for("messages.received of the image", |body| {
                body["data"]["messages"]["message"]["imageMessage"].is_object()
            })
            .await;
        let decrypted = expect(
            &api.call(
                Method::POST,
                "/api/decrypt-media",
                Some(&key_b),
                Some(json!({"data": {"messages": image_hook["data"]["messages"].clone()}})),
            )
            .await,
            200,
            "decrypt-media",
        );
        assert_shape(
            &decrypted,
            &json!({"success": true, "publicUrl": "https://www.wasenderapi.com/api/decrypted-media/X"}),
            "decrypt",
        );
        let decrypted_url = decrypted["publicUrl"].as_str().unwrap();
        assert_eq!(fetch(decrypted_url).await, png(), "the decrypted image");
        let no_media = expect(
            &api.call(
                Method::POST,
                "/api/decrypt-media",
                Some(&key_b),
                Some(json!({"data": {"messages": received["data"]["messages"].clone()}})),
            )
            .await,
            422,
            "decrypt a text",
        );
        assert_eq!(no_media["success"], false);

        // B marks the text read with the key its webhook delivered.
        let key = &received["data"]["messages"]["key"];
        let read = expect(
            &api.call(
                Method::POST,
                "/api/messages/read",
                Some(&key_b),
                Some(json!({"key": {"id": key["id"], "remoteJid": key["remoteJid"], "fromMe": false}})),
            )
            .await,
            200,
            "mark read",
        );
        assert_eq!(read, json!({"success": true, "data": {"status": "read"}}));

        let presence = expect(
            &api.call(
                Method::POST,
                "/api/send-presence-update",
                Some(&key_b),
                Some(json!({"jid": key["remoteJid"], "type": "composing", "delayMs": 3000})),
            )
            .await,
            200,
            "presence",
        );
        assert_shape(
            &presence,
            &json!({"success": true, "data": {"jid": "123456789@whatsapp.net", "type": "composing"}}),
            "presence",
        );
        assert_eq!(presence["data"]["type"], "composing");

        // Edit, then delete, the text.
        let edited = expect(
            &api.call(
                Method::PUT,
                &format!("/api/messages/{text_id}"),
                Some(&key_a),
                Some(json!({"text": "updated"})),
            )
            .await,
            200,
            "edit",
        );
        assert_shape(
            &edited,
            &json!({"success": true, "data": {
                "remoteJid": "123456789@s.whatsapp.net", "id": "EN82FV0387IVR54JTE2R1", "msgId": 100000,
                "key": {"id": "EN82", "fromMe": true, "remoteJid": "123456789@s.whatsapp.net"},
                "message": {"protocolMessage": {"key": {"id": "EN82", "fromMe": true, "remoteJid": "1@s.whatsapp.net"},
                    "type": 14, "timestampMs": 1_751_302_295_563_i64, "editedMessage": {"extendedTextMessage": {"text": "updated"}}}},
                "messageTimestamp": "1751297488", "status": 1
            }}),
            "edit",
        );
        assert_eq!(
            edited["data"]["message"]["protocolMessage"]["editedMessage"]["extendedTextMessage"]["text"],
            "updated"
        );
        let deleted = expect(
            &api.call(
                Method::DELETE,
                &format!("/api/messages/{text_id}"),
                Some(&key_a),
                None,
            )
            .await,
            200,
            "delete",
        );
        assert_eq!(
            deleted,
            json!({"success": true, "message": "Message deleted successfully."})
        );

        // Resend is for failed messages only.
        let resend = expect(
            &api.call(
                Method::POST,
                &format!("/api/messages/{image_id}/resend"),
                Some(&key_a),
                None,
            )
            .await,
            400,
            "resend a sent message",
        );
        assert_eq!(resend["success"], false);
        assert!(resend["error"].is_string());

        // Validation: the seed's own example.
        let invalid = expect(
            &api.call(
                Method::POST,
                "/api/send-message",
                Some(&key_a),
                Some(json!({})),
            )
            .await,
            422,
            "empty send",
        );
        assert_eq!(
            invalid,
            json!({"success": false, "message": "Validation failed", "errors": {
                "to": ["The to field is required."],
                "text": ["The text field is required when no media is present."]
            }})
        );

        // A number not on WhatsApp fails for good: logged as failed with the
        // reason; resend queues it again.
        let failing = send(
            &api,
            &key_a,
            json!({"to": "+14155550699", "text": "anyone?"}),
        )
        .await;
        let failing_info = format!("/api/messages/{failing}/info");
        eventually("the send to fail", Duration::from_secs(15), || async {
            let info = api
                .call(Method::GET, &failing_info, Some(&key_a), None)
                .await
                .json();
            (info["data"]["status"] == 0).then_some(())
        })
        .await;
        let logs = expect(
            &api.account(
                Method::GET,
                &format!("/api/whatsapp-sessions/{a}/message-logs?per_page=1"),
                None,
            )
            .await,
            200,
            "message logs after a failure",
        );
        let newest = &logs["data"]["data"][0];
        assert_eq!(newest["id"], failing.to_string());
        assert_eq!(newest["status"], "failed");
        assert!(
            newest["failed_reason"]
                .as_str()
                .is_some_and(|r| !r.is_empty()),
            "{newest}"
        );
        assert_eq!(logs["data"]["per_page"], 1);
        assert!(logs["data"]["next_page_url"].is_string(), "{logs}");
        let resent = expect(
            &api.call(
                Method::POST,
                &format!("/api/messages/{failing}/resend"),
                Some(&key_a),
                None,
            )
            .await,
            200,
            "resend a failed message",
        );
        assert_eq!(
            resent,
            json!({"success": true, "message": "Message resend initiated successfully."})
        );
        server.stop().await;
    }
}

#[tokio::test]
async fn a_send_over_the_rate_limit_is_429_with_retry_after() {
    for backend in backends() {
        let server = wagate_tests::TestServer::start_with(backend, |config| {
            config.queue.protection_interval = Duration::ZERO;
            config.queue.rate_limit = 1;
            config.queue.rate_window = Duration::from_secs(60);
        })
        .await;
        let api = Api::of(&server);
        let (_, key) = linked_session(&api, &server, PHONE_A).await;
        send(&api, &key, json!({"to": PHONE_B, "text": "one"})).await;
        let refused = api
            .call(
                Method::POST,
                "/api/send-message",
                Some(&key),
                Some(json!({"to": PHONE_B, "text": "two"})),
            )
            .await;
        assert_rate_headers(&refused);
        assert_eq!(refused.header("x-ratelimit-remaining"), Some("0"));
        assert_eq!(refused.header("x-ratelimit-limit"), Some("1"));
        expect_seed_429(
            &refused,
            "You are on a free trial. You can only send 1 message every 1 minute.",
            60,
            "second send",
        );
        server.stop().await;
    }
}

#[tokio::test]
async fn the_gateways_request_window_answers_429_in_the_seeds_shape() {
    let server = start_server(backends()[0]).await;
    let mut options = wagate_gateway::GatewayOptions::new(wagate_gateway::UpstreamTarget::Url(
        format!("http://{}", server.addr),
    ));
    options.compat_requests_per_minute = 2;
    let router = wagate_gateway::router(options).expect("gateway");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    let client = wagate_gateway::client::HttpClient::new();
    let bearer = format!("Bearer {}", wagate_tests::ADMIN_TOKEN);
    let url = format!("{base}/api/whatsapp-sessions");
    let headers = [("authorization", bearer.as_str())];
    let list = || client.call(Method::GET, &url, &headers, Vec::new());
    let first = list().await.unwrap();
    assert_eq!(first.status, 200, "{}", first.text());
    assert_eq!(first.header("x-ratelimit-limit"), Some("2"));
    assert_eq!(first.header("x-ratelimit-remaining"), Some("1"));
    list().await.unwrap();
    let refused = list().await.unwrap();
    assert_rate_headers(&refused);
    assert_eq!(refused.header("x-ratelimit-remaining"), Some("0"));
    expect_seed_429(
        &refused,
        "You are on a free trial.",
        60,
        "third request in the window",
    );
    server.stop().await;
}
