//! Webhooks end to end with a real HTTP receiver on loopback: both signature
//! schemes verified independently (and a replay refused by its timestamp),
//! a receiver that is down then up gets everything in order, a 4xx is not
//! retried, RedeliverEvent and SendTestWebhook, ListWebhookDeliveries; a
//! hanging endpoint holds back only its own session; ignored chat kinds are
//! logged but not posted.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::Value as Json;
use sha2::Sha256;
use tonic::transport::Channel;
use wagate_proto::v1 as pb;
use wagate_proto::v1::event_service_client::EventServiceClient;
use wagate_proto::v1::session_service_client::SessionServiceClient;
use wagate_tests::{admin, backends, eventually};

use crate::messages::{PHONE_A, PHONE_B, PHONE_C, Pair, send, text};
use crate::{WAGATE_BIN, create_session, link_by_qr};

/// A request the receiver got.
#[derive(Clone, Debug)]
pub(crate) struct Received {
    headers: HeaderMap,
    body: Bytes,
    /// The status the receiver answered.
    answered: u16,
}

impl Received {
    pub(crate) fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    pub(crate) fn json(&self) -> Json {
        serde_json::from_slice(&self.body).expect("JSON body")
    }
}

#[derive(Default)]
struct ReceiverState {
    received: Vec<Received>,
    /// Statuses to answer, in order; then 200.
    script: Vec<u16>,
}

/// An HTTP receiver on 127.0.0.1 that records requests.
pub(crate) struct Receiver {
    pub(crate) url: String,
    state: Arc<Mutex<ReceiverState>>,
}

impl Receiver {
    pub(crate) async fn start(script: Vec<u16>) -> Self {
        let state = Arc::new(Mutex::new(ReceiverState {
            received: Vec::new(),
            script,
        }));
        let handler_state = state.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                let state = handler_state.clone();
                async move {
                    let mut state = state.lock().unwrap();
                    let status = if state.script.is_empty() {
                        200
                    } else {
                        state.script.remove(0)
                    };
                    state.received.push(Received {
                        headers,
                        body,
                        answered: status,
                    });
                    (StatusCode::from_u16(status).unwrap(), "ok")
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { url, state }
    }

    pub(crate) fn received(&self) -> Vec<Received> {
        self.state.lock().unwrap().received.clone()
    }

    /// Waits until a request matching `done` arrived (bounded).
    pub(crate) async fn wait_for(
        &self,
        what: &str,
        done: impl Fn(&[Received]) -> bool,
    ) -> Vec<Received> {
        eventually(what, Duration::from_secs(20), || {
            let received = self.received();
            let finished = done(&received);
            async move { finished.then_some(received) }
        })
        .await
    }
}

/// Standard Webhooks verification as a receiver would write it, with a
/// 5-minute tolerance; `now` is the receiver's clock (Unix seconds).
pub(crate) fn verify_standard(secret: &str, request: &Received, now: i64) -> Result<(), String> {
    let id = request.header("webhook-id");
    let timestamp: i64 = request
        .header("webhook-timestamp")
        .parse()
        .map_err(|_| "no timestamp")?;
    if (now - timestamp).abs() > 300 {
        return Err(format!("timestamp {timestamp} outside the tolerance"));
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(&request.body);
    let expected = format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    );
    let presented = request.header("webhook-signature");
    if presented.split(' ').any(|s| s == expected) {
        Ok(())
    } else {
        Err(format!("signature {presented} != {expected}"))
    }
}

pub(crate) fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Points a session's webhook at `url` (all events, or `events`); returns its secret.
async fn enable_webhook(pair: &Pair, session: &str, url: &str, events: &[&str]) -> String {
    enable_webhook_on(pair.server.sessions(), session, url, events).await
}

/// [`enable_webhook`] through any server's SessionService.
pub(crate) async fn enable_webhook_on(
    mut sessions: SessionServiceClient<Channel>,
    session: &str,
    url: &str,
    events: &[&str],
) -> String {
    let updated = sessions
        .update_session(admin(pb::UpdateSessionRequest {
            session: Some(pb::Session {
                name: session.into(),
                webhook_url: url.into(),
                webhook_enabled: true,
                webhook_events: events.iter().map(|e| (*e).to_owned()).collect(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec![
                    "webhook_url".into(),
                    "webhook_enabled".into(),
                    "webhook_events".into(),
                ],
            }),
        }))
        .await
        .expect("enable the webhook")
        .into_inner();
    updated.webhook_secret
}

async fn start_pair(backend: wagate_tests::Backend) -> Pair {
    Pair::start(backend, |config| {
        config.allow_private_urls = true;
        config.queue.protection_interval = Duration::ZERO;
        config.webhooks.first_retry = Duration::from_millis(100);
        config.webhooks.max_retry = Duration::from_millis(300);
        config.webhooks.timeout = Duration::from_secs(2);
    })
    .await
}

/// A session's webhook deliveries matching `filter` (the first page).
async fn list_deliveries(
    mut events: EventServiceClient<tonic::transport::Channel>,
    parent: String,
    filter: &str,
) -> pb::ListWebhookDeliveriesResponse {
    events
        .list_webhook_deliveries(admin(pb::ListWebhookDeliveriesRequest {
            parent,
            filter: filter.into(),
            ..Default::default()
        }))
        .await
        .expect("list webhook deliveries")
        .into_inner()
}

/// A sends B `count` texts, "{prefix} 0", "{prefix} 1", …, in order.
async fn send_numbered(pair: &Pair, prefix: &str, count: usize) {
    let mut messages = pair.messages();
    for i in 0..count {
        send(
            &mut messages,
            &pair.a,
            text(PHONE_B, &format!("{prefix} {i}")),
        )
        .await
        .expect("send");
    }
}

/// Lets the supervisor (1 s period) start the session's dispatcher.
async fn let_dispatcher_start() {
    tokio::time::sleep(Duration::from_millis(1500)).await;
}

#[tokio::test]
async fn webhooks_are_signed_both_ways_and_replays_fail_verification() {
    let pair = start_pair(backends()[0]).await;
    let receiver = Receiver::start(Vec::new()).await;
    let secret = enable_webhook(&pair, &pair.b, &receiver.url, &["messages.received"]).await;
    assert!(!secret.is_empty());
    let_dispatcher_start().await;
    let mut messages = pair.messages();
    send(&mut messages, &pair.a, text(PHONE_B, "signed hello"))
        .await
        .unwrap();
    let got = receiver
        .wait_for("the messages.received webhook", |r| !r.is_empty())
        .await;
    let request = &got[0];
    let body = request.json();
    assert_eq!(body["event"], "messages.received");
    assert_eq!(body["data"]["messages"]["messageBody"], "signed hello");
    assert_eq!(request.header("content-type"), "application/json");
    // Seed 001: the header carries the secret.
    assert_eq!(request.header("x-webhook-signature"), secret);
    // Standard Webhooks: HMAC over id, timestamp and body.
    assert_eq!(
        request.header("webhook-id"),
        format!("evt_{}", body["cursor"].as_str().unwrap())
    );
    verify_standard(&secret, request, unix_now()).expect("valid signature");
    // A replay ten minutes later is refused by the tolerance; a forged
    // timestamp breaks the signature; another secret does not verify.
    assert!(verify_standard(&secret, request, unix_now() + 600).is_err());
    let mut forged = request.clone();
    forged.headers.insert(
        "webhook-timestamp",
        (unix_now() + 1).to_string().parse().unwrap(),
    );
    assert!(verify_standard(&secret, &forged, unix_now()).is_err());
    assert!(verify_standard("not-the-secret", request, unix_now()).is_err());
    // Only the selected type was delivered.
    assert!(
        receiver
            .received()
            .iter()
            .all(|r| r.json()["event"] == "messages.received")
    );
    pair.stop().await;
}

#[tokio::test]
async fn a_receiver_down_then_up_gets_everything_in_order_and_4xx_is_not_retried() {
    for backend in backends() {
        let pair = start_pair(backend).await;
        // Down for the first four requests (503 ×3, then 429), then up.
        let receiver = Receiver::start(vec![503, 503, 503, 429]).await;
        enable_webhook(&pair, &pair.a, &receiver.url, &["message.sent"]).await;
        let_dispatcher_start().await;
        let mut messages = pair.messages();
        send_numbered(&pair, "ordered", 5).await;
        let got = receiver
            .wait_for("five message.sent webhooks", |r| {
                r.iter()
                    .filter(|r| !r.header("webhook-id").is_empty())
                    .count()
                    >= 9
            })
            .await;
        // Successful deliveries, in order, each once after its retries.
        let mut delivered: Vec<String> = Vec::new();
        for request in &got {
            let body = request.json();
            let text = body["data"]["message"]["conversation"]
                .as_str()
                .unwrap()
                .to_owned();
            if delivered.last() != Some(&text) {
                delivered.push(text);
            }
        }
        assert_eq!(
            delivered,
            (0..5).map(|i| format!("ordered {i}")).collect::<Vec<_>>(),
            "retries must not reorder a session's webhooks"
        );
        let cursors: Vec<i64> = got
            .iter()
            .map(|r| r.json()["cursor"].as_str().unwrap().parse().unwrap())
            .collect();
        assert!(cursors.windows(2).all(|w| w[0] <= w[1]), "{cursors:?}");

        let mut events = EventServiceClient::new(pair.server.channel());
        let deliveries = eventually("the deliveries to settle", Duration::from_secs(10), || {
            let events = events.clone();
            let parent = pair.a.clone();
            async move {
                let list = list_deliveries(events, parent, "").await;
                (list.webhook_deliveries.len() == 5
                    && list
                        .webhook_deliveries
                        .iter()
                        .all(|d| d.state == pb::WebhookDeliveryState::Succeeded as i32))
                .then_some(list)
            }
        })
        .await;
        let first = deliveries.webhook_deliveries.last().unwrap();
        let codes: Vec<i32> = first.attempts.iter().map(|a| a.http_status_code).collect();
        assert_eq!(codes, [503, 503, 503, 429, 200], "{first:?}");
        assert_eq!(first.attempt_count, 5);

        // A 400 ends the delivery at once.
        receiver.state.lock().unwrap().script = vec![400];
        send(&mut messages, &pair.a, text(PHONE_B, "refused"))
            .await
            .unwrap();
        let failed = eventually(
            "the 400 to fail the delivery",
            Duration::from_secs(10),
            || {
                let events = events.clone();
                let parent = pair.a.clone();
                async move {
                    list_deliveries(events, parent, "state = FAILED")
                        .await
                        .webhook_deliveries
                        .into_iter()
                        .next()
                }
            },
        )
        .await;
        assert_eq!(failed.attempt_count, 1);
        assert_eq!(failed.attempts[0].http_status_code, 400);

        // RedeliverEvent queues it again; this time the receiver accepts.
        let again = events
            .redeliver_event(admin(pb::RedeliverEventRequest {
                name: failed.event.clone(),
            }))
            .await
            .unwrap()
            .into_inner();
        assert!(again.redelivery);
        assert_eq!(again.cursor, failed.cursor);
        receiver
            .wait_for("the redelivery", |r| {
                r.iter()
                    .filter(|r| r.header("webhook-id") == format!("evt_{}", failed.cursor))
                    .count()
                    == 2
            })
            .await;

        // SendTestWebhook: once, reported in the response.
        let test = events
            .send_test_webhook(admin(pb::SendTestWebhookRequest {
                parent: pair.a.clone(),
                uri: String::new(),
            }))
            .await
            .unwrap()
            .into_inner();
        assert!(test.success, "{test:?}");
        assert_eq!(test.attempt.unwrap().http_status_code, 200);
        let test_body: Json = serde_json::from_str(&test.json).unwrap();
        assert_eq!(test_body["event"], "webhook.test");
        let unreachable = events
            .send_test_webhook(admin(pb::SendTestWebhookRequest {
                parent: pair.a.clone(),
                uri: "http://127.0.0.1:9/hook".into(),
            }))
            .await
            .unwrap()
            .into_inner();
        assert!(!unreachable.success);
        assert!(!unreachable.attempt.unwrap().error.is_empty());
        pair.stop().await;
    }
}

/// A server process killed while a session's webhook is failing and
/// retrying, then restarted with the receiver up: every event the session
/// logged is delivered, in cursor order, none lost.
#[tokio::test]
async fn deliveries_survive_a_killed_server() {
    use wagate_proto::v1::message_service_client::MessageServiceClient;
    use wagate_proto::v1::session_service_client::SessionServiceClient;
    use wagate_proto::v1::simulator_service_client::SimulatorServiceClient;
    use wagate_tests::process::{sim_server_env, spawn_serving};
    use wagate_tests::{TempDir, TestDb};

    for backend in backends() {
        let dir = TempDir::new("webhook-crash");
        let db = TestDb::create(backend, dir.path()).await;
        let env = sim_server_env(
            &db.url,
            dir.path(),
            &[
                ("WAGATE_ALLOW_PRIVATE_URLS", "true"),
                ("WAGATE_QUEUE_PROTECTION_INTERVAL", "0s"),
                ("WAGATE_WEBHOOKS_FIRST_RETRY", "100ms"),
                ("WAGATE_WEBHOOKS_MAX_RETRY", "300ms"),
            ],
        );
        let start = || spawn_serving(WAGATE_BIN, &env);
        // The receiver is down (503) until told otherwise.
        let receiver = Receiver::start(vec![503; 100_000]).await;
        let (mut first, channel) = start().await;
        let mut sessions = SessionServiceClient::new(channel.clone());
        let mut simulator = SimulatorServiceClient::new(channel.clone());
        let a = create_session(&mut sessions, PHONE_A).await.name;
        sessions
            .update_session(admin(pb::UpdateSessionRequest {
                session: Some(pb::Session {
                    name: a.clone(),
                    webhook_url: receiver.url.clone(),
                    webhook_enabled: true,
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["webhook_url".into(), "webhook_enabled".into()],
                }),
            }))
            .await
            .unwrap();
        let_dispatcher_start().await;
        link_by_qr(&mut sessions, &mut simulator, &a, PHONE_A).await;
        simulator
            .register_account(admin(pb::RegisterAccountRequest {
                account: Some(pb::SimAccount {
                    phone_number: PHONE_C.into(),
                    ..Default::default()
                }),
            }))
            .await
            .unwrap();
        let mut messages = MessageServiceClient::new(channel.clone());
        for i in 0..5 {
            send(&mut messages, &a, text(PHONE_C, &format!("crash {i}")))
                .await
                .unwrap();
        }
        receiver
            .wait_for("failing attempts before the kill", |r| r.len() >= 6)
            .await;
        first.signal("KILL").await;
        first.wait_exit(Duration::from_secs(10)).await;
        assert!(
            receiver.received().iter().all(|r| r.answered == 503),
            "nothing was accepted before the kill"
        );

        // Up again, restarted: everything the session logged arrives.
        receiver.state.lock().unwrap().script.clear();
        let (mut second, channel) = start().await;
        let events = EventServiceClient::new(channel);
        let logged: Vec<i64> = eventually("every event delivered", Duration::from_secs(60), || {
            let mut events = events.clone();
            let (a, received) = (a.clone(), receiver.received());
            async move {
                let logged: Vec<i64> = events
                    .list_events(admin(pb::ListEventsRequest {
                        parent: a,
                        page_size: 1000,
                        ..Default::default()
                    }))
                    .await
                    .ok()?
                    .into_inner()
                    .events
                    .iter()
                    .map(|e| e.cursor)
                    .collect();
                let accepted: std::collections::HashSet<String> = received
                    .iter()
                    .filter(|r| r.answered == 200)
                    .map(|r| r.header("webhook-id").to_owned())
                    .collect();
                logged
                    .iter()
                    .all(|c| accepted.contains(&format!("evt_{c}")))
                    .then_some(logged)
            }
        })
        .await;
        assert!(logged.len() >= 10, "{logged:?}");
        // In cursor order: the first acceptance of each event comes in order.
        let mut first_accepted: Vec<i64> = Vec::new();
        for request in receiver.received().iter().filter(|r| r.answered == 200) {
            let cursor: i64 = request.header("webhook-id")[4..].parse().unwrap();
            if !first_accepted.contains(&cursor) {
                first_accepted.push(cursor);
            }
        }
        assert!(
            first_accepted.windows(2).all(|w| w[0] < w[1]),
            "{first_accepted:?}"
        );
        second.signal("TERM").await;
        second.wait_exit(Duration::from_secs(15)).await;
        db.drop_database().await;
    }
}

/// A session whose endpoint never answers: its attempts time out and retry,
/// while another session's webhook keeps delivering. Were dispatch shared,
/// the hanging endpoint would hold the other session's events forever.
#[tokio::test]
async fn a_hanging_endpoint_times_out_without_delaying_other_sessions() {
    let pair = Pair::start(backends()[0], |config| {
        config.allow_private_urls = true;
        config.queue.protection_interval = Duration::ZERO;
        config.webhooks.first_retry = Duration::from_millis(100);
        config.webhooks.max_retry = Duration::from_millis(300);
        config.webhooks.timeout = Duration::from_millis(500);
    })
    .await;
    let hanging = axum::Router::new().route(
        "/hook",
        axum::routing::post(std::future::pending::<StatusCode>),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hanging_url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, hanging).await });
    let receiver = Receiver::start(Vec::new()).await;
    enable_webhook(&pair, &pair.a, &hanging_url, &[]).await;
    enable_webhook(&pair, &pair.b, &receiver.url, &["messages.received"]).await;
    let_dispatcher_start().await;

    send_numbered(&pair, "while A hangs", 3).await;
    let got = receiver
        .wait_for("B's three messages", |r| r.len() >= 3)
        .await;
    let bodies: Vec<String> = got
        .iter()
        .map(|r| {
            r.json()["data"]["messages"]["messageBody"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    assert_eq!(
        bodies,
        ["while A hangs 0", "while A hangs 1", "while A hangs 2"]
    );

    // A's first delivery is still open, its attempts ended by the timeout.
    let events = EventServiceClient::new(pair.server.channel());
    let stuck = eventually("A's attempts to time out", Duration::from_secs(10), || {
        let events = events.clone();
        let parent = pair.a.clone();
        async move {
            let list = list_deliveries(events, parent, "").await;
            list.webhook_deliveries
                .into_iter()
                .find(|d| d.attempt_count >= 2)
        }
    })
    .await;
    assert_ne!(stuck.state, pb::WebhookDeliveryState::Succeeded as i32);
    assert!(
        stuck
            .attempts
            .iter()
            .all(|a| a.error.contains("no answer within 500 ms")),
        "{stuck:?}"
    );
    pair.stop().await;
}

/// Session settings choose what the webhook gets: with ignore_groups and
/// ignore_channels the events of group and channel chats are logged (and
/// visible to subscribers) but never POSTed; a personal chat's are.
#[tokio::test]
async fn ignored_chat_kinds_are_logged_but_not_posted() {
    let pair = start_pair(backends()[0]).await;
    let receiver = Receiver::start(Vec::new()).await;
    enable_webhook(&pair, &pair.a, &receiver.url, &[]).await;
    pair.server
        .sessions()
        .update_session(admin(pb::UpdateSessionRequest {
            session: Some(pb::Session {
                name: pair.a.clone(),
                ignore_groups: true,
                ignore_channels: true,
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["ignore_groups".into(), "ignore_channels".into()],
            }),
        }))
        .await
        .expect("ignore groups and channels");
    let_dispatcher_start().await;

    // Neither the group nor the channel exists on the simulated network: the
    // sends fail, and their status events carry those chats.
    const GROUP: &str = "120363000000000001@g.us";
    const CHANNEL: &str = "120363000000000002@newsletter";
    let mut messages = pair.messages();
    let mut ignored = Vec::new();
    for chat in [GROUP, CHANNEL] {
        let queued = send(&mut messages, &pair.a, text(chat, "not for the webhook"))
            .await
            .expect("queued");
        crate::messages::wait_message(&messages, &queued.name, pb::MessageStatus::Failed).await;
        ignored.push(queued.name);
    }
    send(&mut messages, &pair.a, text(PHONE_B, "for the webhook"))
        .await
        .unwrap();
    let got = receiver
        .wait_for("the personal message's message.sent", |r| {
            r.iter().any(|r| {
                r.json()["event"] == "message.sent"
                    && r.body.windows(15).any(|w| w == b"for the webhook")
            })
        })
        .await;
    // The status events of the failed sends were logged…
    let mut events = EventServiceClient::new(pair.server.channel());
    let logged = events
        .list_events(admin(pb::ListEventsRequest {
            parent: pair.a.clone(),
            page_size: 1000,
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner()
        .events;
    for name in &ignored {
        assert!(
            logged.iter().any(|e| e.json.contains(name.as_str())
                || matches!(&e.payload, Some(pb::event::Payload::MessageStatus(s)) if &s.message == name)),
            "{name} has no logged event"
        );
    }
    // …but none reached the receiver, which got the personal chat's.
    for request in &got {
        let body = String::from_utf8_lossy(&request.body);
        assert!(
            !body.contains(GROUP) && !body.contains(CHANNEL),
            "ignored chat posted: {body}"
        );
    }
    pair.stop().await;
}
