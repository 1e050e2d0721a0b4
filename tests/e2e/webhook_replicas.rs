//! Two replicas on one database: each session's webhook is delivered by one
//! replica at a time (a lease), so every event is posted once and in order;
//! when that replica stops, the other takes the session over.

use std::collections::HashSet;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use wagate::event::record::{EventDraft, to_new_events};
use wagate::server::RunningServer;
use wagate_proto::v1 as pb;
use wagate_proto::v1::event::Payload;
use wagate_proto::v1::session_service_client::SessionServiceClient;
use wagate_tests::{TempDir, TestDb, backends, connect, test_config, wait_serving};

use crate::webhooks::{Receiver, enable_webhook_on};

/// Appends `count` presence events for the session, selected for its
/// webhook, straight to the log (as any replica would).
async fn append_events(url: &str, session: i64, count: usize) {
    let store = wagate::store::Store::connect(url, 2).await.unwrap();
    let settings = store.get_session(session).await.unwrap().unwrap().settings;
    for i in 0..count {
        let draft = EventDraft {
            event_type: "presence.update",
            payload: Payload::Presence(pb::PresencePayload {
                chat: format!("{}@s.whatsapp.net", 14155550000u64 + i as u64),
                presence: pb::PresenceState::Composing as i32,
                ..Default::default()
            }),
            chat: None,
        };
        let events = to_new_events(session, Some(&settings), vec![draft]);
        store.append_events(&events).await.unwrap();
    }
    store.close().await;
}

/// The webhook ids posted, in arrival order.
fn posted_ids(receiver: &Receiver) -> Vec<String> {
    receiver
        .received()
        .iter()
        .map(|r| r.header("webhook-id").to_owned())
        .collect()
}

/// Starts a replica on the database at `url`.
async fn replica(url: &str, dir: &TempDir) -> (RunningServer, tonic::transport::Channel) {
    let mut config = test_config(url, dir.path());
    config.allow_private_urls = true;
    let server = wagate::server::start(config, CancellationToken::new())
        .await
        .expect("replica starts");
    let channel = connect(server.grpc_addr).await;
    wait_serving(channel.clone(), Duration::from_secs(30)).await;
    (server, channel)
}

#[tokio::test]
async fn replicas_post_each_event_once_and_take_over_a_stopped_one() {
    for backend in backends() {
        let receiver = Receiver::start(Vec::new()).await;
        let (dir_x, dir_y) = (TempDir::new("replica-x"), TempDir::new("replica-y"));
        let db = TestDb::create(backend, dir_x.path()).await;
        let (x, channel) = replica(&db.url, &dir_x).await;
        let mut sessions = SessionServiceClient::new(channel);
        let session = crate::create_session(&mut sessions, "+14155550311").await;
        enable_webhook_on(sessions, &session.name, &receiver.url, &["presence.update"]).await;
        let id: i64 = session.name["sessions/".len()..].parse().unwrap();
        // X's supervisor (1 s period) takes the lease; then Y starts beside it.
        tokio::time::sleep(Duration::from_millis(2000)).await;
        let (y, _) = replica(&db.url, &dir_y).await;
        tokio::time::sleep(Duration::from_millis(1500)).await;

        append_events(&db.url, id, 60).await;
        receiver
            .wait_for("60 posts", |r| {
                r.iter()
                    .map(|r| r.header("webhook-id"))
                    .collect::<HashSet<_>>()
                    .len()
                    >= 60
            })
            .await;
        // Time for a second poster, were there one, to show itself.
        tokio::time::sleep(Duration::from_millis(2000)).await;
        assert_eq!(posted_ids(&receiver).len(), 60, "each event posted once");

        // X stops (releasing its lease): Y delivers what comes next.
        x.stop().await.expect("X stops");
        append_events(&db.url, id, 40).await;
        receiver
            .wait_for("100 posts", |r| {
                r.iter()
                    .map(|r| r.header("webhook-id"))
                    .collect::<HashSet<_>>()
                    .len()
                    >= 100
            })
            .await;
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let ids = posted_ids(&receiver);
        assert_eq!(ids.len(), 100, "each event posted once: {ids:?}");
        let cursors: Vec<i64> = ids
            .iter()
            .map(|id| {
                id.trim_start_matches(|c: char| !c.is_ascii_digit())
                    .parse()
                    .unwrap()
            })
            .collect();
        assert!(
            cursors.windows(2).all(|w| w[0] < w[1]),
            "in log order: {cursors:?}"
        );
        y.stop().await.expect("Y stops");
        db.drop_database().await;
    }
}
