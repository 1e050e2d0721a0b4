//! The OnSend (seed 000) compatibility profile end to end: a real server with
//! its in-process gateway on the simulated network, `/onsend/api/v1/status`
//! and `/onsend/api/v1/send` called with a device's token and the seed's
//! example bodies, the answers checked against its example responses, up to
//! the message being sent on the network.

use std::time::Duration;

use http::Method;
use serde_json::{Value, json};
use wagate_gateway::client::HttpResponse;
use wagate_tests::{ADMIN_TOKEN, TestServer, backends};

use crate::compat_wasender::{Api, assert_rate_headers, assert_shape, expect, linked_session};
use crate::messages::{png, wait_sent};

const PHONE_A: &str = "+60123456711";
const PHONE_B: &str = "+60123456712";
const PHONE_C: &str = "+60123456713";

async fn onsend(
    api: &Api,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> HttpResponse {
    let response = api
        .call(method, &format!("/onsend/api/v1{path}"), token, body)
        .await;
    assert_rate_headers(&response);
    response
}

fn status_example() -> Value {
    json!({"name": "Samsung A32", "phone_number": "60123456789", "status": "connected"})
}

fn sent_example() -> Value {
    json!({"success": true, "message": "The message has been sent successfully.", "message_id": 38})
}

/// Sends `body` with `token`; checks the seed's success shape; the id.
async fn send(api: &Api, token: &str, body: Value) -> i64 {
    let sent = expect(
        &onsend(api, Method::POST, "/send", Some(token), Some(body.clone())).await,
        200,
        &format!("send {body}"),
    );
    assert_shape(&sent, &sent_example(), "send");
    assert_eq!(sent["success"], true);
    sent["message_id"].as_i64().expect("integer message_id")
}

#[tokio::test]
async fn onsend_endpoints_answer_in_the_seeds_shapes_and_messages_are_sent() {
    for backend in backends() {
        let server = TestServer::start_with(backend, |config| {
            config.allow_private_urls = true;
            config.queue.protection_interval = Duration::ZERO;
            config.gateway_profiles = vec!["wasender".to_owned(), "onsend".to_owned()];
        })
        .await;
        let api = Api::of(&server);

        let anonymous = expect(
            &onsend(&api, Method::GET, "/status", None, None).await,
            401,
            "no token",
        );
        assert_eq!(anonymous, json!({"message": "Unauthenticated."}));
        let wrong = expect(
            &onsend(&api, Method::GET, "/status", Some("nope"), None).await,
            401,
            "bad token",
        );
        assert_eq!(wrong, json!({"message": "Unauthenticated."}));

        // A device never linked: not_connected, no phone number, cannot send.
        let created = expect(
            &api.account(Method::POST, "/api/whatsapp-sessions",
                Some(json!({"name": "iphone 12", "phone_number": PHONE_C, "account_protection": false, "log_messages": true})))
                .await,
            200,
            "create C",
        );
        let key_c = created["data"]["api_key"].as_str().unwrap().to_owned();
        let unlinked = expect(
            &onsend(&api, Method::GET, "/status", Some(&key_c), None).await,
            200,
            "C's status",
        );
        assert_eq!(
            unlinked,
            json!({"name": "iphone 12", "phone_number": null, "status": "not_connected"})
        );
        let refused = onsend(
            &api,
            Method::POST,
            "/send",
            Some(&key_c),
            Some(json!({"phone_number": "60123456789", "message": "Hello world"})),
        )
        .await;
        assert_eq!(
            expect(&refused, 400, "send from C"),
            json!({"message": "This device is not connected."})
        );

        let (a, key_a) = linked_session(&api, &server, PHONE_A).await;
        let (_b, _key_b) = linked_session(&api, &server, PHONE_B).await;
        let connected = expect(
            &onsend(&api, Method::GET, "/status", Some(&key_a), None).await,
            200,
            "A's status",
        );
        assert_shape(&connected, &status_example(), "status");
        assert_eq!(connected["status"], "connected");
        assert_eq!(connected["phone_number"], PHONE_A.trim_start_matches('+'));

        // The seed's examples, to B's number; media from the server's own URL.
        let to = PHONE_B.trim_start_matches('+');
        let text = send(
            &api,
            &key_a,
            json!({"phone_number": to, "message": "Hello world"}),
        )
        .await;
        let uploaded = expect(
            &api.raw(
                Method::POST,
                "/api/upload",
                Some(&key_a),
                "image/png",
                png(),
            )
            .await,
            200,
            "upload",
        );
        let logo = uploaded["publicUrl"].as_str().unwrap();
        let image = send(
            &api,
            &key_a,
            json!({"phone_number": to, "message": "Logo", "type": "image", "url": logo}),
        )
        .await;
        let document = send(
            &api,
            &key_a,
            json!({"phone_number": to, "type": "document", "url": logo,
            "mimetype": "image/png", "filename": "logo.png"}),
        )
        .await;
        for id in [text, image, document] {
            wait_sent(&server, a, id).await;
        }
        // The video and invoice examples as the seed writes them: accepted
        // (their example.com files fail later, as the message's status).
        send(&api, &key_a, json!({"phone_number": "60123456789", "message": "My video", "type": "video", "url": "https://example.com/myvideo.mp4"})).await;
        send(&api, &key_a, json!({"phone_number": "60123456789", "type": "document", "url": "https://example.com/invoice.pdf",
            "mimetype": "application/pdf", "filename": "invoice.pdf"})).await;

        // The seed's validation example: four errors, Laravel's summary.
        let invalid = expect(
            &onsend(
                &api,
                Method::POST,
                "/send",
                Some(&key_a),
                Some(json!({"message": 5, "type": "image", "mimetype": 7})),
            )
            .await,
            422,
            "invalid send",
        );
        assert_shape(
            &invalid,
            &json!({"message": "x", "errors": {"phone_number": ["x"], "message": ["x"], "url": ["x"], "mimetype": ["x"]}}),
            "validation",
        );
        assert!(
            invalid["message"]
                .as_str()
                .unwrap()
                .ends_with("(and 3 more errors)"),
            "{invalid}"
        );
        let bad_type = expect(
            &onsend(
                &api,
                Method::POST,
                "/send",
                Some(&key_a),
                Some(json!({"phone_number": to, "type": "sticker"})),
            )
            .await,
            422,
            "unknown type",
        );
        assert!(bad_type["errors"]["type"].is_array(), "{bad_type}");
        // The account token names no device here.
        let account = onsend(&api, Method::GET, "/status", Some(ADMIN_TOKEN), None).await;
        assert_eq!(account.status.as_u16(), 401, "{}", account.text());
    }
}
