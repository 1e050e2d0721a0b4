//! SubscribeEvents through the REST gateway in front of a real server, with
//! real logged events: Server-Sent Events whose ids are the cursors (so an
//! EventSource resumes with Last-Event-ID), and NDJSON resumed by afterCursor.
//! Each replays exactly the events after the given cursor, in order.

use std::time::Duration;

use http::Method;
use serde_json::Value as Json;
use wagate_gateway::client::{HttpClient, Incoming, next_chunk};
use wagate_proto::v1 as pb;
use wagate_proto::v1::event_service_client::EventServiceClient;
use wagate_proto::v1::simulator_service_client::SimulatorServiceClient;
use wagate_tests::{ADMIN_TOKEN, admin, backends, eventually};

use crate::gateway::Gateway;
use crate::{create_session, link_by_qr};

/// Reads the body until `needle` appears (bounded in chunks and time).
async fn read_until(body: &mut Incoming, needle: &str) -> String {
    let mut text = String::new();
    for _ in 0..2_000 {
        if text.contains(needle) {
            return text;
        }
        match next_chunk(body, Duration::from_secs(10))
            .await
            .expect("chunk in time")
        {
            Some(chunk) => text.push_str(&String::from_utf8_lossy(&chunk)),
            None => break,
        }
    }
    panic!("{needle:?} not in {text:?}");
}

#[tokio::test]
async fn event_streams_resume_from_real_cursors_over_sse_and_ndjson() {
    let gateway = Gateway::start(backends()[0]).await;
    let mut sessions = gateway.server.sessions();
    let mut simulator = SimulatorServiceClient::new(gateway.server.channel());
    // Two linked sessions: status and QR events from both.
    for phone in ["+14155550401", "+14155550402"] {
        let session = create_session(&mut sessions, phone).await;
        link_by_qr(&mut sessions, &mut simulator, &session.name, phone).await;
    }
    let events = EventServiceClient::new(gateway.server.channel());
    let cursors: Vec<i64> = eventually("events logged", Duration::from_secs(10), || {
        let mut events = events.clone();
        async move {
            let page = events
                .list_events(admin(pb::ListEventsRequest {
                    parent: "sessions/-".into(),
                    page_size: 1000,
                    ..Default::default()
                }))
                .await
                .unwrap()
                .into_inner();
            let cursors: Vec<i64> = page.events.iter().map(|e| e.cursor).collect();
            (cursors.len() >= 6).then_some(cursors)
        }
    })
    .await;
    let middle = cursors[cursors.len() / 2];
    let head = *cursors.last().unwrap();
    let expected: Vec<i64> = cursors.iter().copied().filter(|c| *c > middle).collect();
    let bearer = format!("Bearer {ADMIN_TOKEN}");
    let client = HttpClient::new();
    let url = format!("{}/v1/events:subscribe", gateway.base);

    // SSE, reconnecting as EventSource does after seeing `middle`.
    let request = HttpClient::request(
        Method::GET,
        &url,
        &[
            ("authorization", &bearer),
            ("accept", "text/event-stream"),
            ("last-event-id", &middle.to_string()),
        ],
        "",
    )
    .unwrap();
    let response = client.send_streaming(request).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let text = read_until(&mut response.into_body(), &format!("id: {head}\n")).await;
    let ids: Vec<i64> = text
        .lines()
        .filter_map(|l| l.strip_prefix("id: "))
        .map(|id| id.parse().unwrap())
        .collect();
    assert_eq!(ids, expected, "SSE ids after {middle}");
    let first_data: Json =
        serde_json::from_str(text.lines().find_map(|l| l.strip_prefix("data: ")).unwrap()).unwrap();
    assert_eq!(
        first_data["event"]["cursor"],
        expected[0].to_string(),
        "{first_data}"
    );

    // NDJSON from the same cursor: `{"result": …}` lines, same events.
    let request = HttpClient::request(
        Method::GET,
        &format!("{url}?afterCursor={middle}"),
        &[("authorization", &bearer)],
        "",
    )
    .unwrap();
    let response = client.send_streaming(request).await.unwrap();
    assert_eq!(response.status(), 200);
    let mut body = response.into_body();
    let mut text = read_until(&mut body, &format!("\"cursor\":\"{head}\"")).await;
    // Finish the line the head's cursor is on.
    for _ in 0..100 {
        if text.ends_with('\n') {
            break;
        }
        let chunk = next_chunk(&mut body, Duration::from_secs(10))
            .await
            .expect("chunk in time")
            .expect("stream open");
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    let mut seen = Vec::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        let value: Json = serde_json::from_str(line).unwrap_or_else(|e| panic!("{line}: {e}"));
        let result = &value["result"];
        assert!(result.is_object(), "{line}");
        if let Some(cursor) = result["event"]["cursor"].as_str() {
            seen.push(cursor.parse::<i64>().unwrap());
        }
    }
    assert_eq!(seen, expected, "NDJSON events after {middle}");
    gateway.stop().await;
}
