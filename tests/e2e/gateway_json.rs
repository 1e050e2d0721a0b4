//! Canonical proto3 JSON through the gateway and the real server, on every
//! backend: SessionService's create/get/update (field masks)/list/connect/QR/
//! logs/delete cover strings, int64-as-string, int32, bools with presence,
//! enums (by name and number), repeated fields, timestamps, bytes, nested messages.

use http::Method;
use serde_json::Value as Json;
use wagate_tests::backends;

use crate::gateway::{Gateway, error_info};

fn assert_camel_case_keys(value: &Json, at: &str) {
    match value {
        Json::Object(map) => {
            for (key, child) in map {
                assert!(
                    !key.contains('_') || key == "@type",
                    "{at}.{key} is not camelCase"
                );
                assert_camel_case_keys(child, &format!("{at}.{key}"));
            }
        }
        Json::Array(items) => items
            .iter()
            .for_each(|item| assert_camel_case_keys(item, at)),
        _ => {}
    }
}

fn assert_rfc3339_utc(value: &Json, what: &str) {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("{what} missing: {value}"));
    assert!(
        text.ends_with('Z') && text.len() >= 20 && &text[4..5] == "-" && &text[10..11] == "T",
        "{what}: {text}"
    );
}

#[tokio::test]
async fn session_json_round_trips_through_the_gateway() {
    for backend in backends() {
        let gateway = Gateway::start(backend).await;
        // Input: snake_case and camelCase mixed; an explicit false on a field with presence.
        let created = gateway
            .admin(
                Method::POST,
                "/v1/sessions",
                r#"{"display_name":"Shop","phoneNumber":"+14155550110","accountProtection":false,
                    "log_messages":true,"webhookEvents":["messages.received","session.status"],
                    "readIncomingMessages":true,"ignore_groups":true}"#,
            )
            .await;
        assert_eq!(created.status, 200, "{}", created.text());
        assert_eq!(created.header("content-type"), Some("application/json"));
        let session = created.json();
        assert_camel_case_keys(&session, "session");
        let id = session["id"].as_str().expect("int64 id as a JSON string");
        assert!(id.parse::<i64>().is_ok_and(|n| n > 0), "{id}");
        let name = format!("sessions/{id}");
        assert_eq!(session["name"], name.as_str());
        assert_eq!(session["displayName"], "Shop");
        assert_eq!(session["phoneNumber"], "+14155550110");
        assert_eq!(
            session["accountProtection"], false,
            "explicit false is printed (field presence)"
        );
        assert_eq!(session["logMessages"], true);
        assert_eq!(
            session["webhookEvents"],
            serde_json::json!(["messages.received", "session.status"])
        );
        assert_eq!(session["readIncomingMessages"], true);
        assert_eq!(session["ignoreGroups"], true);
        assert!(
            session["status"]
                .as_str()
                .unwrap()
                .starts_with("SESSION_STATUS_"),
            "enum by name"
        );
        assert_rfc3339_utc(&session["createTime"], "createTime");
        assert!(!session["apiKey"].as_str().unwrap().is_empty());
        assert!(
            session.get("alwaysOnline").is_none(),
            "defaults are omitted"
        );

        let fetched = gateway
            .admin(Method::GET, &format!("/v1/{name}"), "")
            .await
            .json();
        for key in [
            "name",
            "id",
            "displayName",
            "phoneNumber",
            "accountProtection",
            "webhookEvents",
            "ignoreGroups",
            "createTime",
            "status",
        ] {
            assert_eq!(fetched[key], session[key], "{backend:?} GetSession {key}");
        }
        assert!(
            fetched.get("apiKey").is_none(),
            "the key is shown only on create"
        );

        // Only the fields in the mask change (snake_case mask).
        let updated = gateway
            .admin(
                Method::PATCH,
                &format!("/v1/{name}?updateMask=display_name,ignore_groups"),
                r#"{"displayName":"Renamed","ignoreGroups":false,"alwaysOnline":true}"#,
            )
            .await;
        assert_eq!(updated.status, 200, "{}", updated.text());
        let updated = updated.json();
        assert_eq!(updated["displayName"], "Renamed");
        assert!(updated.get("ignoreGroups").is_none_or(|v| v == false));
        assert!(
            updated.get("alwaysOnline").is_none(),
            "not in the mask: unchanged"
        );
        // camelCase mask, repeated field replaced.
        let updated = gateway
            .admin(
                Method::PATCH,
                &format!("/v1/{name}?updateMask=webhookEvents"),
                r#"{"webhookEvents":["call"]}"#,
            )
            .await
            .json();
        assert_eq!(updated["webhookEvents"], serde_json::json!(["call"]));
        let stored = gateway
            .admin(Method::GET, &format!("/v1/{name}"), "")
            .await
            .json();
        assert_eq!(stored["displayName"], "Renamed", "{backend:?}: persisted");
        assert_eq!(stored["webhookEvents"], serde_json::json!(["call"]));
        assert_rfc3339_utc(&stored["updateTime"], "updateTime");

        // Paging: int32 as a number, tokens as strings.
        gateway
            .admin(
                Method::POST,
                "/v1/sessions",
                r#"{"displayName":"Two","phoneNumber":"+14155550111"}"#,
            )
            .await;
        let page = gateway
            .admin(Method::GET, "/v1/sessions?pageSize=1", "")
            .await
            .json();
        assert_eq!(page["sessions"].as_array().unwrap().len(), 1);
        assert_eq!(page["totalSize"], 2);
        let token = page["nextPageToken"].as_str().unwrap();
        let next = gateway
            .admin(
                Method::GET,
                &format!("/v1/sessions?page_size=1&pageToken={token}"),
                "",
            )
            .await
            .json();
        assert_eq!(next["sessions"].as_array().unwrap().len(), 1);
        assert_ne!(next["sessions"][0]["id"], page["sessions"][0]["id"]);

        // Connect: nested message with a timestamp; QR image as base64 bytes, enum by name or number.
        let connected = gateway
            .admin(Method::POST, &format!("/v1/{name}:connect"), "{}")
            .await;
        assert_eq!(connected.status, 200, "{}", connected.text());
        let connected = connected.json();
        assert_eq!(connected["status"], "SESSION_STATUS_NEED_SCAN");
        assert!(!connected["qrCode"]["code"].as_str().unwrap().is_empty());
        assert_rfc3339_utc(&connected["qrCode"]["expireTime"], "qrCode.expireTime");
        let by_name = gateway
            .admin(
                Method::GET,
                &format!("/v1/{name}/qr?imageFormat=QR_IMAGE_FORMAT_SVG"),
                "",
            )
            .await
            .json();
        let by_number = gateway
            .admin(Method::GET, &format!("/v1/{name}/qr?image_format=1"), "")
            .await
            .json();
        for qr in [&by_name, &by_number] {
            assert_eq!(qr["imageFormat"], "QR_IMAGE_FORMAT_SVG", "{qr}");
            let image = qr["image"].as_str().unwrap();
            assert!(
                image.len() > 100 && (image.starts_with("PD") || image.starts_with("PH")),
                "base64 SVG: {}",
                &image[..image.len().min(20)]
            );
        }

        let logs = gateway
            .admin(Method::GET, &format!("/v1/{name}/logs?pageSize=50"), "")
            .await
            .json();
        let entries = logs["sessionLogs"].as_array().unwrap();
        assert!(!entries.is_empty());
        for entry in entries {
            assert!(
                entry["type"]
                    .as_str()
                    .unwrap()
                    .starts_with("SESSION_LOG_TYPE_"),
                "{entry}"
            );
            assert!(entry["id"].is_string(), "{entry}");
            assert_rfc3339_utc(&entry["occurTime"], "occurTime");
        }

        let deleted = gateway
            .admin(Method::DELETE, &format!("/v1/{name}"), "")
            .await;
        assert_eq!(deleted.status, 200);
        assert_eq!(deleted.json(), serde_json::json!({}));
        let gone = gateway.admin(Method::GET, &format!("/v1/{name}"), "").await;
        assert_eq!(gone.status, 404);
        assert_eq!(
            error_info(&gone.json()).unwrap()["reason"],
            "SESSION_NOT_FOUND"
        );
        gateway.stop().await;
    }
}
