//! A server process killed (SIGKILL) in the middle of sending a queue of
//! 1,000 messages loses none and sends none twice: the simulated network's
//! delivery record shows each exactly once, in order.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use wagate_proto::v1 as pb;
use wagate_proto::v1::message_service_client::MessageServiceClient;
use wagate_proto::v1::session_service_client::SessionServiceClient;
use wagate_proto::v1::simulator_service_client::SimulatorServiceClient;
use wagate_tests::process::{sim_server_env, spawn_serving};
use wagate_tests::{TempDir, TestDb, admin, backends};

use super::{PHONE_A, PHONE_C, deliveries, text};
use crate::{WAGATE_BIN, create_session, link_by_qr};

const COUNT: usize = 1_000;

#[tokio::test]
async fn a_killed_server_loses_and_duplicates_nothing() {
    for backend in backends() {
        let dir = TempDir::new("crash");
        let db = TestDb::create(backend, dir.path()).await;
        let env = sim_server_env(
            &db.url,
            dir.path(),
            &[("WAGATE_QUEUE_PROTECTION_INTERVAL", "0s")],
        );
        let (mut first, channel) = spawn_serving(WAGATE_BIN, &env).await;
        let mut sessions = SessionServiceClient::new(channel.clone());
        let mut simulator = SimulatorServiceClient::new(channel.clone());
        let mut messages = MessageServiceClient::new(channel.clone());
        let a = create_session(&mut sessions, PHONE_A).await.name;
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

        let requests = (0..COUNT)
            .map(|i| pb::SendMessageRequest {
                parent: String::new(),
                message: Some(text(PHONE_C, &format!("m{i:04}"))),
                request_id: String::new(),
            })
            .collect();
        let queued = messages
            .send_bulk(admin(pb::SendBulkRequest {
                parent: a.clone(),
                requests,
            }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(queued.queued_count as usize, COUNT);

        // Kill it while it is sending.
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut delivered_before = 0;
        while Instant::now() < deadline {
            delivered_before = deliveries(&mut simulator, PHONE_A).await.len();
            if delivered_before >= 50 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        first.signal("KILL").await;
        first.wait_exit(Duration::from_secs(10)).await;
        assert!(
            delivered_before > 0 && delivered_before < COUNT,
            "killed mid-queue ({delivered_before} delivered)"
        );

        // Restart: the session reconnects and the queue resumes.
        let (mut second, channel) = spawn_serving(WAGATE_BIN, &env).await;
        let mut simulator = SimulatorServiceClient::new(channel.clone());
        let deadline = Instant::now() + Duration::from_secs(180);
        let mut recorded = Vec::new();
        while Instant::now() < deadline {
            recorded = deliveries(&mut simulator, PHONE_A).await;
            if recorded.len() >= COUNT {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let summaries: Vec<String> = recorded.iter().map(|d| d.summary.clone()).collect();
        let expected: Vec<String> = (0..COUNT).map(|i| format!("text: m{i:04}")).collect();
        assert_eq!(summaries.len(), COUNT, "every accepted message delivered");
        assert_eq!(summaries, expected, "exactly once, in order");
        let ids: HashSet<&str> = recorded.iter().map(|d| d.message_id.as_str()).collect();
        assert_eq!(ids.len(), COUNT);

        // And the server agrees: nothing left in the queue, all sent.
        let mut messages = MessageServiceClient::new(channel);
        let pending = messages
            .list_messages(admin(pb::ListMessagesRequest {
                parent: a.clone(),
                filter: "(status = QUEUED OR status = IN_PROGRESS)".into(),
                ..Default::default()
            }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(pending.total_size, 0, "{:?}", pending.messages.first());
        second.signal("TERM").await;
        second.wait_exit(Duration::from_secs(15)).await;
        db.drop_database().await;
    }
}
