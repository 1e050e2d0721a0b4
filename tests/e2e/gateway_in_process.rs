//! The REST gateway inside `wagate serve`: the HTTP listener serves the API
//! next to media URLs, talks to the server's own gRPC port, carries the
//! server's rate limits out as 429 with headers, and goes away with
//! `gateway = false` (`--no-gateway`).

use std::time::Duration;

use http::Method;
use wagate_gateway::client::{HttpClient, HttpResponse};
use wagate_tests::{ADMIN_TOKEN, TestServer, backends, eventually};

use crate::messages::{PHONE_B, Pair};

async fn call(base: &str, method: Method, path: &str, body: &str) -> HttpResponse {
    let bearer = format!("Bearer {ADMIN_TOKEN}");
    HttpClient::new()
        .call(
            method,
            &format!("{base}{path}"),
            &[
                ("authorization", &bearer),
                ("content-type", "application/json"),
            ],
            body.to_owned(),
        )
        .await
        .unwrap_or_else(|err| panic!("{path}: {err:#}"))
}

#[tokio::test]
async fn serve_runs_the_gateway_on_its_http_port_with_rate_limit_headers() {
    for backend in backends() {
        let pair = Pair::start(backend, |config| {
            config.queue.rate_limit = 2;
            config.queue.rate_window = Duration::from_secs(60);
        })
        .await;
        let base = format!("http://{}", pair.server.http_addr.expect("HTTP listener"));

        let ready = call(&base, Method::GET, "/readyz", "").await;
        assert_eq!(ready.status, 200, "{}", ready.text());
        let listed = call(&base, Method::GET, "/v1/sessions", "").await;
        assert_eq!(listed.status, 200, "{}", listed.text());
        assert_eq!(listed.json()["sessions"].as_array().unwrap().len(), 2);

        let path = format!("/v1/{}/messages", pair.a);
        let body = format!(r#"{{"message": {{"chat": "{PHONE_B}", "text": "over REST"}}}}"#);
        let mut names = Vec::new();
        for _ in 0..2 {
            let sent = call(&base, Method::POST, &path, &body).await;
            assert_eq!(sent.status, 200, "{}", sent.text());
            assert_eq!(sent.header("x-ratelimit-limit"), Some("2"));
            names.push(sent.json()["name"].as_str().unwrap().to_owned());
        }
        let refused = call(&base, Method::POST, &path, &body).await;
        assert_eq!(refused.status, 429, "{}", refused.text());
        let retry_after: u64 = refused
            .header("retry-after")
            .expect("Retry-After")
            .parse()
            .unwrap();
        assert!((1..=60).contains(&retry_after), "{retry_after}");
        assert_eq!(refused.header("x-ratelimit-limit"), Some("2"));
        assert_eq!(refused.header("x-ratelimit-remaining"), Some("0"));
        assert!(refused.header("x-ratelimit-reset").is_some());
        assert_eq!(refused.json()["code"], 8);

        // The accepted message goes out, as seen through the gateway.
        let get = format!("/v1/{}", names[0]);
        eventually(
            "the REST-sent message to be delivered",
            Duration::from_secs(15),
            || {
                let (base, get) = (base.clone(), get.clone());
                async move {
                    let message = call(&base, Method::GET, &get, "").await.json();
                    matches!(
                        message["status"].as_str(),
                        Some("MESSAGE_STATUS_DELIVERED" | "MESSAGE_STATUS_READ")
                    )
                    .then_some(())
                }
            },
        )
        .await;
        pair.stop().await;
    }
}

#[tokio::test]
async fn without_the_gateway_the_http_port_serves_media_only() {
    let server = TestServer::start_with(backends()[0], |config| config.gateway = false).await;
    let base = format!("http://{}", server.http_addr.expect("HTTP listener"));
    for path in ["/v1/sessions", "/healthz", "/openapi.json"] {
        assert_eq!(
            call(&base, Method::GET, path, "").await.status,
            404,
            "{path}"
        );
    }
    // The media route is still there (an unknown token is its own 404 body).
    let media = call(&base, Method::GET, "/media/unknown-token", "").await;
    assert_eq!(media.status, 404);
    assert!(!media.body.is_empty());
    server.stop().await;
}

#[tokio::test]
async fn contacts_and_groups_over_rest() {
    let pair = Pair::start(wagate_tests::Backend::Sqlite, |_| {}).await;
    let base = format!("http://{}", pair.server.http_addr.expect("HTTP listener"));
    let checked = call(
        &base,
        Method::POST,
        &format!("/v1/{}/contacts:checkOnWhatsApp", pair.a),
        &format!(r#"{{"phoneNumbers": ["{PHONE_B}", "+14155550299"]}}"#),
    )
    .await;
    assert_eq!(checked.status, 200, "{}", checked.text());
    let results = checked.json()["results"].as_array().unwrap().clone();
    assert_eq!(results[0]["exists"], true, "{results:?}");
    assert_eq!(results[0]["jid"], "14155550202@s.whatsapp.net");
    assert!(
        results[1].get("exists").is_none_or(|e| e == false),
        "{results:?}"
    );

    let created = call(
        &base,
        Method::POST,
        &format!("/v1/{}/groups", pair.a),
        &format!(r#"{{"subject": "REST team", "participants": [{{"jid": "{PHONE_B}"}}]}}"#),
    )
    .await;
    assert_eq!(created.status, 200, "{}", created.text());
    let group = created.json();
    let name = group["name"].as_str().unwrap().to_owned();
    assert_eq!(group["size"], 2);
    let renamed = call(
        &base,
        Method::PATCH,
        &format!("/v1/{name}?updateMask=subject"),
        r#"{"subject": "Renamed over REST"}"#,
    )
    .await;
    assert_eq!(renamed.status, 200, "{}", renamed.text());
    assert_eq!(renamed.json()["subject"], "Renamed over REST");
    // A member's admin-only call: 403 with the reason.
    let b_group = name.replacen(&pair.a, &pair.b, 1);
    let refused = call(
        &base,
        Method::POST,
        &format!("/v1/{b_group}/participants:remove"),
        r#"{"participants": ["+14155550201"]}"#,
    )
    .await;
    assert_eq!(refused.status, 403, "{}", refused.text());
    assert!(
        refused.text().contains("NOT_GROUP_ADMIN"),
        "{}",
        refused.text()
    );
    let bad = call(
        &base,
        Method::POST,
        &format!("/v1/{}/groups", pair.a),
        r#"{"subject": ""}"#,
    )
    .await;
    assert_eq!(bad.status, 400, "{}", bad.text());
    pair.stop().await;
}
