//! Seed 001 "Sessions" with the personal access token, and the status, user
//! and key endpoints of a session's API key; the error bodies of seed 001's
//! Authentication and Error Responses pages.

use http::Method;
use serde_json::json;
use wagate_tests::backends;

use super::{
    Api, assert_rate_headers, assert_shape, create_body, expect, session_example, start_server,
    wait_connected,
};

const PHONE: &str = "+14155550601";

#[tokio::test]
async fn session_endpoints_answer_in_the_seeds_shapes() {
    for backend in backends() {
        let server = start_server(backend).await;
        let api = Api::of(&server);

        // Create with the seed's example body.
        let created = api
            .account(
                Method::POST,
                "/api/whatsapp-sessions",
                Some(create_body("Business WhatsApp", PHONE)),
            )
            .await;
        assert_rate_headers(&created);
        let created = expect(&created, 200, "create");
        assert_shape(&created, &session_example(), "create");
        assert_eq!(created["data"]["status"], "disconnected");
        let id = created["data"]["id"].as_i64().unwrap();
        let key = created["data"]["api_key"].as_str().unwrap().to_owned();
        let base = format!("/api/whatsapp-sessions/{id}");

        let listed = expect(
            &api.account(Method::GET, "/api/whatsapp-sessions", None)
                .await,
            200,
            "list",
        );
        assert_shape(
            &listed,
            &json!({"success": true, "data": [{
                "id": 1, "name": "Business WhatsApp", "phone_number": "+1234567890", "status": "connected",
                "account_protection": true, "log_messages": true, "webhook_url": "https://example.com/webhook",
                "webhook_enabled": true, "webhook_events": ["message"],
                "created_at": "2025-04-01T12:00:00Z", "updated_at": "2025-05-08T15:30:00Z"
            }]}),
            "list",
        );
        assert_eq!(listed["data"][0]["id"], id);

        let details = expect(&api.account(Method::GET, &base, None).await, 200, "get");
        assert_shape(&details, &session_example(), "get");
        assert_eq!(details["data"]["name"], "Business WhatsApp");

        // Update: only the fields sent change.
        let updated = expect(
            &api.account(
                Method::PUT,
                &base,
                Some(json!({"name": "Support WhatsApp", "read_incoming_messages": true, "always_online": true})),
            )
            .await,
            200,
            "update",
        );
        assert_shape(&updated, &session_example(), "update");
        assert_eq!(updated["data"]["name"], "Support WhatsApp");
        assert_eq!(updated["data"]["read_incoming_messages"], true);
        assert_eq!(updated["data"]["phone_number"], PHONE);
        assert_eq!(
            updated["data"]["webhook_url"],
            "https://example.com/webhook"
        );

        // Connect: NEED_SCAN with a QR string; QR code endpoint; scan.
        let connect = expect(
            &api.account(Method::POST, &format!("{base}/connect"), None)
                .await,
            200,
            "connect",
        );
        assert_shape(
            &connect,
            &json!({"success": true, "data": {"status": "NEED_SCAN", "qrCode": "2@..."}}),
            "connect",
        );
        assert_eq!(connect["data"]["status"], "NEED_SCAN");
        let qr = expect(
            &api.account(Method::GET, &format!("{base}/qrcode"), None)
                .await,
            200,
            "qrcode",
        );
        assert_shape(
            &qr,
            &json!({"success": true, "data": {"qrCode": "2@..."}}),
            "qrcode",
        );
        let status = expect(
            &api.call(Method::GET, "/api/status", Some(&key), None).await,
            200,
            "status",
        );
        assert_eq!(status, json!({"status": "need_scan"}));
        server
            .simulator()
            .scan_qr(wagate_tests::admin(wagate_proto::v1::ScanQrRequest {
                qr_code: qr["data"]["qrCode"].as_str().unwrap().to_owned(),
                phone_number: PHONE.to_owned(),
            }))
            .await
            .expect("scan");
        wait_connected(&api, &key).await;

        // Seed 001 also writes the header as `Bearer token <key>`.
        let token_form = api
            .call(
                Method::GET,
                "/api/status",
                Some(&format!("token {key}")),
                None,
            )
            .await;
        assert_eq!(
            expect(&token_form, 200, "Bearer token <key>"),
            json!({"status": "connected"})
        );

        // Connecting a connected session changes nothing.
        let again = expect(
            &api.account(Method::POST, &format!("{base}/connect"), None)
                .await,
            200,
            "connect again",
        );
        assert_shape(
            &again,
            &json!({"success": true, "data": {"status": "CONNECTED", "message": "Session already initialized or connecting. No QR code needed."}}),
            "connect again",
        );
        assert_eq!(again["data"]["status"], "CONNECTED");

        let user = expect(
            &api.call(Method::GET, "/api/user", Some(&key), None).await,
            200,
            "user",
        );
        assert_shape(
            &user,
            &json!({"success": true, "data": {"id": "1234567890:42@s.whatsapp.net", "name": "Your WhatsApp Name", "lid": "Your LID"}}),
            "user",
        );
        assert!(
            user["data"]["id"]
                .as_str()
                .unwrap()
                .starts_with("14155550601")
        );

        let restarted = expect(
            &api.account(Method::POST, &format!("{base}/restart"), None)
                .await,
            200,
            "restart",
        );
        assert_eq!(
            restarted,
            json!({"success": true, "message": "WhatsApp session restarted successfully."})
        );
        wait_connected(&api, &key).await;

        // Session logs: Laravel's paginator.
        let logs = expect(
            &api.account(
                Method::GET,
                &format!("{base}/session-logs?per_page=2"),
                None,
            )
            .await,
            200,
            "session logs",
        );
        assert_shape(
            &logs,
            &json!({"success": true, "data": {
                "current_page": 1,
                "data": [{"id": 201, "whatsapp_session_id": 1, "event_type": "session_restarted", "status": "connected", "occurred_at": "2025-09-23T12:00:00.000000Z"}],
                "first_page_url": "/api/whatsapp-sessions/1/session-logs?page=1", "from": 1, "last_page": 3,
                "last_page_url": "/api/whatsapp-sessions/1/session-logs?page=3",
                "next_page_url": "/api/whatsapp-sessions/1/session-logs?page=2",
                "path": "/api/whatsapp-sessions/1/session-logs", "per_page": 2, "prev_page_url": null, "to": 2, "total": 6
            }}),
            "session logs",
        );
        assert_eq!(logs["data"]["data"].as_array().unwrap().len(), 2);
        assert!(logs["data"]["total"].as_i64().unwrap() > 2);
        let second = expect(
            &api.account(
                Method::GET,
                &format!("{base}/session-logs?per_page=2&page=2"),
                None,
            )
            .await,
            200,
            "session logs page 2",
        );
        assert_eq!(second["data"]["current_page"], 2);
        assert_eq!(second["data"]["from"], 3);
        assert_ne!(
            second["data"]["data"][0]["id"],
            logs["data"]["data"][0]["id"]
        );

        // A new key; the old one stops working at once.
        let regenerated = expect(
            &api.account(Method::POST, &format!("{base}/regenerate-key"), None)
                .await,
            200,
            "regenerate",
        );
        assert_shape(
            &regenerated,
            &json!({"success": true, "api_key": "new_whatsapp_api_key_abc456"}),
            "regenerate",
        );
        let old = api.call(Method::GET, "/api/status", Some(&key), None).await;
        assert_eq!(
            expect(&old, 401, "old key"),
            json!({"success": false, "message": "Invalid API key"})
        );
        let key = regenerated["api_key"].as_str().unwrap().to_owned();
        expect(
            &api.call(Method::GET, "/api/status", Some(&key), None).await,
            200,
            "new key",
        );

        let disconnected = expect(
            &api.account(Method::POST, &format!("{base}/disconnect"), None)
                .await,
            200,
            "disconnect",
        );
        assert_eq!(
            disconnected,
            json!({"success": true, "data": {"status": "disconnected", "message": "WhatsApp session disconnected successfully"}})
        );
        // Restart needs a connected session.
        let refused = api
            .account(Method::POST, &format!("{base}/restart"), None)
            .await;
        let refused = expect(&refused, 400, "restart while disconnected");
        assert_eq!(refused["success"], false);
        assert!(refused["error"].is_string(), "{refused}");

        let deleted = api.account(Method::DELETE, &base, None).await;
        assert_eq!(deleted.status, 204, "{}", deleted.text());
        assert!(deleted.body.is_empty());
        let gone = expect(&api.account(Method::GET, &base, None).await, 404, "gone");
        assert_eq!(gone["success"], false);
        assert!(gone["message"].is_string());

        server.stop().await;
    }
}

#[tokio::test]
async fn errors_follow_the_seeds_error_pages() {
    for backend in backends() {
        let server = start_server(backend).await;
        let api = Api::of(&server);

        // Authentication: no key, a wrong key, a wrong personal token.
        let missing = api.call(Method::GET, "/api/status", None, None).await;
        assert_rate_headers(&missing);
        assert_eq!(
            expect(&missing, 401, "no key"),
            json!({"success": false, "message": "API key is required"})
        );
        let wrong = api
            .call(Method::GET, "/api/status", Some("not-a-key"), None)
            .await;
        assert_eq!(
            expect(&wrong, 401, "bad key"),
            json!({"success": false, "message": "Invalid API key"})
        );
        let wrong_token = api
            .call(Method::GET, "/api/whatsapp-sessions", Some("nope"), None)
            .await;
        assert_eq!(expect(&wrong_token, 401, "bad token")["success"], false);
        // Session endpoints need the session's key, not the account token.
        let account_on_session = api.account(Method::GET, "/api/status", None).await;
        assert_eq!(
            expect(&account_on_session, 401, "account token on /api/status")["success"],
            false
        );

        // An unknown path under /api answers in the seed's shape too.
        let unknown = api
            .call(Method::GET, "/api/no-such-endpoint", Some("k"), None)
            .await;
        let unknown = expect(&unknown, 404, "unknown /api path");
        assert_eq!(unknown["success"], false);
        assert!(
            unknown["message"]
                .as_str()
                .unwrap()
                .contains("/api/no-such-endpoint")
        );

        // Validation: every missing required field, by the seed's names.
        let invalid = expect(
            &api.account(
                Method::POST,
                "/api/whatsapp-sessions",
                Some(json!({"name": "x"})),
            )
            .await,
            422,
            "create without fields",
        );
        assert_shape(
            &invalid,
            &json!({"success": false, "message": "Validation failed", "errors": {"phone_number": ["The phone_number field is required."]}}),
            "validation",
        );
        for field in ["phone_number", "account_protection", "log_messages"] {
            assert_eq!(
                invalid["errors"][field][0],
                format!("The {field} field is required."),
                "{invalid}"
            );
        }
        // Server-side validation renamed to the seed's field names.
        let bad_phone = expect(
            &api.account(
                Method::POST,
                "/api/whatsapp-sessions",
                Some(create_body("Shop", "not a phone")),
            )
            .await,
            422,
            "bad phone number",
        );
        assert!(
            bad_phone["errors"]["phone_number"].is_array(),
            "{bad_phone}"
        );
        // An integer session id.
        let not_id = api
            .account(Method::GET, "/api/whatsapp-sessions/abc", None)
            .await;
        assert_eq!(
            expect(&not_id, 422, "bad id")["errors"]["whatsappSession"][0],
            "The whatsappSession field must be an integer."
        );

        server.stop().await;
    }
}

#[tokio::test]
async fn openapi_documents_every_wasender_endpoint() {
    let server = start_server(backends()[0]).await;
    let api = Api::of(&server);
    let document = expect(
        &api.call(Method::GET, "/openapi.json", None, None).await,
        200,
        "openapi",
    );
    let endpoints = wagate_gateway::profiles::wasender::endpoints();
    assert!(endpoints.len() >= 45, "{}", endpoints.len());
    for endpoint in endpoints {
        let method = endpoint.method.as_str().to_ascii_lowercase();
        let operation = &document["paths"][endpoint.path][&method];
        assert_eq!(
            operation["summary"], endpoint.summary,
            "{method} {} in /openapi.json",
            endpoint.path
        );
        assert_eq!(operation["tags"][0], "WasenderAPI");
    }
    // The canonical API stays documented next to it.
    assert!(document["paths"]["/v1/sessions"]["post"].is_object());
    server.stop().await;
}
