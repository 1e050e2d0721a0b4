//! EventService end to end: the log records session and message happenings
//! on both engines' shared paths (here the simulator); subscriptions replay
//! from any cursor with no gap and no duplicate, then go live; filters,
//! auth, heartbeats, shutdown; ListEvents pages; the webhook JSON shapes.

use std::time::Duration;

use serde_json::Value as Json;
use tonic::transport::Channel;
use wagate_proto::v1 as pb;
use wagate_proto::v1::event_service_client::EventServiceClient;
use wagate_tests::{admin, authed, backends, error_reason, eventually, violated_fields};

use crate::create_session;
use crate::messages::{PHONE_A, PHONE_B, Pair, send, text, wait_message};

fn events_client(channel: Channel) -> EventServiceClient<Channel> {
    EventServiceClient::new(channel)
}

/// Every logged event (admin, all sessions), oldest first, through pages.
async fn all_events(client: &mut EventServiceClient<Channel>) -> Vec<pb::Event> {
    let mut out = Vec::new();
    let mut token = String::new();
    for _ in 0..100 {
        let page = client
            .list_events(admin(pb::ListEventsRequest {
                parent: "sessions/-".into(),
                page_size: 7,
                page_token: token,
                ..Default::default()
            }))
            .await
            .expect("list events")
            .into_inner();
        out.extend(page.events);
        if page.next_page_token.is_empty() {
            return out;
        }
        token = page.next_page_token;
    }
    panic!("more than 100 pages of events");
}

/// Reads events from a subscription until one has cursor `until` (bounded).
async fn read_until(
    stream: &mut tonic::Streaming<pb::SubscribeEventsResponse>,
    until: i64,
) -> Vec<pb::Event> {
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while got.last().is_none_or(|e: &pb::Event| e.cursor < until) {
        let next = tokio::time::timeout_at(deadline, stream.message())
            .await
            .unwrap_or_else(|_| panic!("no event up to cursor {until}; got {}", got.len()))
            .expect("stream item")
            .expect("stream open");
        if let Some(pb::subscribe_events_response::Kind::Event(event)) = next.kind {
            assert_eq!(next.cursor, event.cursor);
            got.push(event);
        }
    }
    got
}

fn subscribe_request(after: Option<i64>) -> pb::SubscribeEventsRequest {
    pb::SubscribeEventsRequest {
        after_cursor: after,
        ..Default::default()
    }
}

async fn exchange_messages(pair: &Pair, count: usize) {
    let mut messages = pair.messages();
    let mut last = None;
    for i in 0..count {
        last = Some(
            send(&mut messages, &pair.a, text(PHONE_B, &format!("event {i}")))
                .await
                .expect("send"),
        );
    }
    if let Some(last) = last {
        wait_message(&messages, &last.name, pb::MessageStatus::Delivered).await;
    }
}

#[tokio::test]
async fn subscriptions_replay_from_any_cursor_without_gaps_then_go_live() {
    for backend in backends() {
        let pair = Pair::start(backend, |config| {
            config.queue.protection_interval = Duration::ZERO;
        })
        .await;
        exchange_messages(&pair, 3).await;
        let mut client = events_client(pair.server.channel());
        // Delivery receipts may still be landing: wait until the log is still.
        let all = eventually("the log to settle", Duration::from_secs(10), || {
            let mut client = client.clone();
            async move {
                let first = all_events(&mut client).await;
                tokio::time::sleep(Duration::from_millis(300)).await;
                let second = all_events(&mut client).await;
                (first.len() == second.len()).then_some(second)
            }
        })
        .await;
        let cursors: Vec<i64> = all.iter().map(|e| e.cursor).collect();
        assert!(cursors.windows(2).all(|w| w[0] < w[1]), "{cursors:?}");
        let types: Vec<&str> = all.iter().map(|e| e.r#type.as_str()).collect();
        for expected in [
            "session.status",
            "qrcode.updated",
            "message.sent",
            "messages.upsert",
            "messages.update",
            "messages.received",
            "messages-personal.received",
        ] {
            assert!(
                types.contains(&expected),
                "{expected} missing from {types:?}"
            );
        }
        let head = *cursors.last().unwrap();

        // Replays from the start, the middle and the end: exactly the suffix.
        for after in [0, cursors[cursors.len() / 2], head] {
            let mut stream = client
                .subscribe_events(admin(subscribe_request(Some(after))))
                .await
                .expect("subscribe")
                .into_inner();
            let expected: Vec<i64> = cursors.iter().copied().filter(|c| *c > after).collect();
            if !expected.is_empty() {
                let got: Vec<i64> = read_until(&mut stream, head)
                    .await
                    .iter()
                    .map(|e| e.cursor)
                    .collect();
                assert_eq!(got, expected, "replay after {after}");
            }
            if after == head {
                // Live: a new message's events arrive on the open stream.
                exchange_messages(&pair, 1).await;
                let live = read_until(&mut stream, head + 1).await;
                assert!(live.iter().all(|e| e.cursor > head));
            }
        }

        // Filters: one session and one type.
        let mut stream = client
            .subscribe_events(admin(pb::SubscribeEventsRequest {
                parent: pair.b.clone(),
                event_types: vec!["messages.received".into()],
                after_cursor: Some(0),
                ..Default::default()
            }))
            .await
            .unwrap()
            .into_inner();
        let received: Vec<&pb::Event> = all
            .iter()
            .filter(|e| e.session == pair.b && e.r#type == "messages.received")
            .collect();
        assert_eq!(received.len(), 3);
        let got = read_until(&mut stream, received[2].cursor).await;
        assert!(
            got.iter()
                .all(|e| e.session == pair.b && e.r#type == "messages.received"),
            "{got:?}"
        );
        assert_eq!(got.len(), 3);
        pair.stop().await;
    }
}

#[tokio::test]
async fn retention_prunes_old_events_and_resuming_before_them_is_refused() {
    for backend in backends() {
        let pair = Pair::start(backend, |config| {
            config.queue.protection_interval = Duration::ZERO;
            config.events.retention = Duration::from_secs(3);
            config.events.prune_interval = Duration::from_millis(200);
        })
        .await;
        let mut client = events_client(pair.server.channel());
        exchange_messages(&pair, 1).await;
        let first = all_events(&mut client).await;
        let oldest = first.first().expect("events were logged").cursor;
        let newest_old = first.last().unwrap().cursor;

        // Past the retention, the old events leave the log.
        eventually("old events pruned", Duration::from_secs(15), || {
            let mut client = client.clone();
            async move {
                let now = all_events(&mut client).await;
                now.iter().all(|e| e.cursor > newest_old).then_some(())
            }
        })
        .await;
        exchange_messages(&pair, 1).await;
        let retained = all_events(&mut client).await;
        let first_retained = retained.first().expect("new events").cursor;
        assert!(first_retained > newest_old);

        // Resuming inside the pruned range would skip events: refused.
        let expired = client
            .subscribe_events(admin(subscribe_request(Some(oldest))))
            .await
            .unwrap_err();
        assert_eq!(expired.code(), tonic::Code::OutOfRange, "{backend:?}");
        assert_eq!(error_reason(&expired), "CURSOR_EXPIRED");
        assert!(
            expired.message().contains("pruned"),
            "{}",
            expired.message()
        );

        // Resuming right before the oldest retained event replays all of them.
        let mut stream = client
            .subscribe_events(admin(subscribe_request(Some(first_retained - 1))))
            .await
            .expect("resume at the retention edge")
            .into_inner();
        let head = retained.last().unwrap().cursor;
        let got: Vec<i64> = read_until(&mut stream, head)
            .await
            .iter()
            .map(|e| e.cursor)
            .collect();
        let expected: Vec<i64> = retained.iter().map(|e| e.cursor).collect();
        assert_eq!(got, expected, "{backend:?}");
        pair.stop().await;
    }
}

#[tokio::test]
async fn a_chat_presence_reaches_the_other_session_as_presence_update() {
    let pair = Pair::start(backends()[0], |_| {}).await;
    let mut client = events_client(pair.server.channel());
    let head = all_events(&mut client).await.last().map_or(0, |e| e.cursor);
    let mut stream = client
        .subscribe_events(admin(pb::SubscribeEventsRequest {
            parent: pair.b.clone(),
            event_types: vec!["presence.update".into()],
            after_cursor: Some(head),
            ..Default::default()
        }))
        .await
        .expect("subscribe")
        .into_inner();
    let mut messages = pair.messages();
    for state in [pb::PresenceState::Recording, pb::PresenceState::Paused] {
        messages
            .send_presence(admin(pb::SendPresenceRequest {
                parent: pair.a.clone(),
                presence: state as i32,
                chat: PHONE_B.into(),
                duration: None,
            }))
            .await
            .expect("send presence");
    }
    let a_jid = format!("{}@s.whatsapp.net", PHONE_A.trim_start_matches('+'));
    let mut seen = Vec::new();
    for _ in 0..2 {
        let item = tokio::time::timeout(Duration::from_secs(10), stream.message())
            .await
            .expect("presence in time")
            .unwrap()
            .unwrap();
        if let Some(pb::subscribe_events_response::Kind::Event(event)) = item.kind {
            assert_eq!(event.r#type, "presence.update");
            let Some(pb::event::Payload::Presence(presence)) = &event.payload else {
                panic!("{event:?}");
            };
            assert_eq!(presence.chat, a_jid);
            let json: Json = serde_json::from_str(&event.json).unwrap();
            assert_eq!(json["event"], "presence.update");
            assert_eq!(json["data"]["id"], a_jid.as_str());
            seen.push(json["data"]["presences"][&a_jid]["lastKnownPresence"].clone());
        }
    }
    assert_eq!(seen, [Json::from("recording"), Json::from("paused")]);
    pair.stop().await;
}

#[tokio::test]
async fn event_json_follows_the_webhook_shapes() {
    let pair = Pair::start(backends()[0], |config| {
        config.queue.protection_interval = Duration::ZERO;
    })
    .await;
    exchange_messages(&pair, 1).await;
    let mut client = events_client(pair.server.channel());
    let all = all_events(&mut client).await;
    let json_of = |session: &str, kind: &str| -> Json {
        let event = all
            .iter()
            .find(|e| e.session == session && e.r#type == kind)
            .unwrap_or_else(|| panic!("no {kind} on {session}"));
        let json: Json = serde_json::from_str(&event.json).unwrap();
        assert_eq!(json["event"], kind);
        assert_eq!(json["cursor"], event.cursor.to_string());
        assert_eq!(
            json["sessionId"],
            session.trim_start_matches("sessions/"),
            "{json}"
        );
        assert!(json["timestamp"].as_i64().unwrap() > 1_700_000_000);
        json
    };
    let phone_a = PHONE_A.trim_start_matches('+');
    let received = json_of(&pair.b, "messages.received");
    let data = &received["data"]["messages"];
    assert_eq!(data["key"]["fromMe"], false);
    assert_eq!(
        data["key"]["remoteJid"],
        format!("{phone_a}@s.whatsapp.net")
    );
    assert_eq!(data["key"]["cleanedSenderPn"], phone_a);
    assert_eq!(data["messageBody"], "event 0");
    assert_eq!(data["message"]["conversation"], "event 0");
    let upsert = json_of(&pair.b, "messages.upsert");
    assert_eq!(upsert["data"]["messages"][0]["messageBody"], "event 0");
    let personal = json_of(&pair.b, "messages-personal.received");
    assert_eq!(personal["data"]["messages"]["key"]["id"], data["key"]["id"]);

    let sent = json_of(&pair.a, "message.sent");
    assert_eq!(sent["data"]["success"], true);
    assert_eq!(sent["data"]["key"]["fromMe"], true);
    assert_eq!(sent["data"]["key"]["id"], data["key"]["id"]);
    assert_eq!(sent["data"]["message"]["conversation"], "event 0");
    let updates: Vec<Json> = all
        .iter()
        .filter(|e| e.session == pair.a && e.r#type == "messages.update")
        .map(|e| serde_json::from_str(&e.json).unwrap())
        .collect();
    let statuses: Vec<i64> = updates
        .iter()
        .map(|u| u["data"]["update"]["status"].as_i64().unwrap())
        .collect();
    // seed 001's numbers: 2 SENT, then 3 DELIVERED.
    assert_eq!(statuses, [2, 3], "{updates:?}");
    assert_eq!(updates[1]["data"]["key"]["id"], data["key"]["id"]);

    let status = json_of(&pair.a, "session.status");
    assert!(status["data"]["status"].is_string());
    let qr = json_of(&pair.a, "qrcode.updated");
    assert!(!qr["data"]["qr"].as_str().unwrap().is_empty());
    pair.stop().await;
}

#[tokio::test]
async fn subscriptions_check_auth_input_heartbeat_and_end_on_shutdown() {
    let pair = Pair::start(backends()[0], |_| {}).await;
    let mut client = events_client(pair.server.channel());
    let mut sessions = pair.server.sessions();
    let other = create_session(&mut sessions, "+14155550299").await;
    let key = other.api_key.clone();

    let denied = client
        .subscribe_events(authed(
            &key,
            pb::SubscribeEventsRequest {
                parent: pair.a.clone(),
                ..Default::default()
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), tonic::Code::PermissionDenied);
    let all_sessions = client
        .subscribe_events(authed(&key, pb::SubscribeEventsRequest::default()))
        .await
        .unwrap_err();
    assert_eq!(all_sessions.code(), tonic::Code::PermissionDenied);
    let unknown_type = client
        .subscribe_events(admin(pb::SubscribeEventsRequest {
            event_types: vec!["messages.nope".into()],
            ..Default::default()
        }))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&unknown_type), ["event_types[0]"]);
    let beyond = client
        .subscribe_events(admin(subscribe_request(Some(1_000_000))))
        .await
        .unwrap_err();
    assert_eq!(beyond.code(), tonic::Code::OutOfRange);
    assert_eq!(error_reason(&beyond), "CURSOR_EXPIRED");
    let list_denied = client
        .list_events(authed(
            &key,
            pb::ListEventsRequest {
                parent: "sessions/-".into(),
                ..Default::default()
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(list_denied.code(), tonic::Code::PermissionDenied);
    let bad_filter = client
        .list_events(admin(pb::ListEventsRequest {
            parent: "sessions/-".into(),
            filter: "colour = red".into(),
            ..Default::default()
        }))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&bad_filter), ["filter"]);

    // A session key sees its own session; an idle stream gets heartbeats.
    let mut own = client
        .subscribe_events(authed(
            &key,
            pb::SubscribeEventsRequest {
                parent: other.name.clone(),
                heartbeat_interval: Some(prost_types::Duration {
                    seconds: 1,
                    nanos: 0,
                }),
                ..Default::default()
            },
        ))
        .await
        .expect("own session")
        .into_inner();
    let beat = tokio::time::timeout(Duration::from_secs(5), own.message())
        .await
        .expect("a heartbeat within 5 s")
        .unwrap()
        .unwrap();
    let Some(pb::subscribe_events_response::Kind::Heartbeat(heartbeat)) = beat.kind else {
        panic!("{beat:?}")
    };
    assert!(heartbeat.head_cursor >= beat.cursor);

    // Filtered by type with a history page.
    let statuses = client
        .list_events(admin(pb::ListEventsRequest {
            parent: pair.a.clone(),
            filter: r#"type = "session.status" AND cursor > 0"#.into(),
            order_by: "cursor desc".into(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(statuses.total_size >= 2, "{statuses:?}");
    assert!(statuses.events.iter().all(|e| e.r#type == "session.status"));
    assert!(
        statuses
            .events
            .windows(2)
            .all(|w| w[0].cursor > w[1].cursor)
    );

    // Shutdown ends open streams with UNAVAILABLE.
    let mut live = client
        .subscribe_events(admin(subscribe_request(None)))
        .await
        .unwrap()
        .into_inner();
    let server = pair.server;
    let stopping = tokio::spawn(server.stop());
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match live.message().await {
                Ok(Some(_)) => continue,
                Ok(None) => return None,
                Err(status) => return Some(status),
            }
        }
    })
    .await
    .expect("the stream ends on shutdown");
    if let Some(status) = ended {
        assert_eq!(status.code(), tonic::Code::Unavailable, "{status:?}");
    }
    stopping.await.unwrap();
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .expect("VmRSS")
}

/// A subscriber that reads nothing while 200,000 events pile up after its
/// cursor (appended as another replica would) costs the server a bounded
/// amount of memory: it lags on the log instead of buffering. It can then
/// still read them all, in order.
#[tokio::test]
async fn a_stalled_subscriber_lags_on_the_log_without_growing_memory() {
    use wagate::event::record::{EventDraft, to_new_events};
    use wagate_proto::v1::event::Payload;
    use wagate_tests::process::{sim_server_env, spawn_serving};
    use wagate_tests::{TempDir, TestDb};

    const BACKLOG: i64 = 200_000;
    for backend in backends() {
        let dir = TempDir::new("stalled");
        let db = TestDb::create(backend, dir.path()).await;
        let env = sim_server_env(
            &db.url,
            dir.path(),
            &[
                ("WAGATE_EVENTS_MEMORY_EVENTS", "4096"),
                ("WAGATE_EVENTS_POLL_INTERVAL", "50ms"),
            ],
        );
        let (mut server, channel) = spawn_serving(crate::WAGATE_BIN, &env).await;
        let pid = server.child.id().unwrap();
        let session = create_session(
            &mut wagate_proto::v1::session_service_client::SessionServiceClient::new(
                channel.clone(),
            ),
            "+14155550301",
        )
        .await;
        let session_id: i64 = session.name["sessions/".len()..].parse().unwrap();
        let mut client = events_client(channel.clone());
        let mut stalled = client
            .subscribe_events(admin(subscribe_request(Some(0))))
            .await
            .unwrap()
            .into_inner();
        let baseline = rss_kib(pid);

        // The backlog, written to the database directly (like another replica).
        let store = wagate::store::Store::connect(&db.url, 2).await.unwrap();
        let draft = EventDraft {
            event_type: "presence.update",
            payload: Payload::Presence(pb::PresencePayload {
                chat: format!("{}@s.whatsapp.net", "1".repeat(400)),
                presence: pb::PresenceState::Composing as i32,
                ..Default::default()
            }),
            chat: None,
        };
        let event = to_new_events(session_id, None, vec![draft]).remove(0);
        for _ in 0..4 {
            store.append_copies(&event, BACKLOG / 4).await.unwrap();
        }
        store.close().await;
        // The server has read up to the head (its heartbeat would say so;
        // ListEvents is enough).
        let head = eventually(
            "the server to see the backlog",
            Duration::from_secs(30),
            || {
                let mut client = client.clone();
                async move {
                    let page = client
                        .list_events(admin(pb::ListEventsRequest {
                            parent: "sessions/-".into(),
                            page_size: 1,
                            order_by: "cursor desc".into(),
                            ..Default::default()
                        }))
                        .await
                        .ok()?
                        .into_inner();
                    (page.total_size as i64 >= BACKLOG).then(|| page.events[0].cursor)
                }
            },
        )
        .await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        let grown_kib = rss_kib(pid).saturating_sub(baseline);
        eprintln!("RSS {baseline} KiB before, +{grown_kib} KiB with {BACKLOG} events behind");
        // Buffering the backlog would take hundreds of MiB (each event
        // carries ~0.5 KiB of payload and ~1 KiB of JSON).
        assert!(
            grown_kib < 40 * 1024,
            "RSS grew by {grown_kib} KiB with a stalled subscriber {BACKLOG} events behind"
        );

        // Still whole and in order.
        let mut previous = 0;
        for _ in 0..5_000 {
            let item = stalled.message().await.unwrap().unwrap();
            if let Some(pb::subscribe_events_response::Kind::Event(event)) = item.kind {
                assert!(event.cursor > previous, "{} after {previous}", event.cursor);
                previous = event.cursor;
            }
        }
        assert!(previous < head);
        drop(stalled);
        server.signal("TERM").await;
        server.wait_exit(Duration::from_secs(15)).await;
        db.drop_database().await;
    }
}
