//! What each engine event does to a session's status and log, with a scripted
//! engine standing in for whatsapp-rust (whose own events are mapped to these
//! in `engine::whatsapp::events`, tested there with constructed library events).

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tokio::sync::mpsc;
use wagate::engine::{
    Connection, Engine, EngineEvent, MediaBlob, OpenOptions, OutgoingMessage, PairCode,
    not_connected,
};
use wagate::error::Result;
use wagate::session::SessionManager;
use wagate::session::manager::ManagerOptions;
use wagate::session::model::{LinkedUser, LogType, Settings, Status};
use wagate::store::Store;
use wagate_proto::v1::{self as pb, MessageKey, PresenceState};
use wagate_tests::{TempDir, TestDb, backends, eventually};

/// Plays a fixed list of events on every open.
struct ScriptedEngine {
    script: Mutex<Vec<EngineEvent>>,
}

struct Idle;

#[async_trait::async_trait]
impl Connection for Idle {
    async fn request_pair_code(&self, _phone: &str) -> Result<PairCode> {
        Ok(PairCode {
            code: "ABCD-EFGH".into(),
            expire_time: SystemTime::now(),
        })
    }
    async fn send_message(&self, _message: &OutgoingMessage) -> Result<SystemTime> {
        Err(not_connected("send"))
    }
    async fn edit_message(&self, _chat: &str, _id: &str, _text: &str) -> Result<()> {
        Err(not_connected("edit"))
    }
    async fn revoke_message(&self, _chat: &str, _key: &MessageKey) -> Result<()> {
        Err(not_connected("revoke"))
    }
    async fn mark_read(&self, _keys: &[MessageKey]) -> Result<()> {
        Err(not_connected("mark read"))
    }
    async fn send_presence(&self, _presence: PresenceState, _chat: Option<&str>) -> Result<()> {
        Err(not_connected("send presence"))
    }
    async fn download_media(&self, _media_ref: &str) -> Result<MediaBlob> {
        Err(not_connected("download"))
    }
    async fn close(&self) {}
}

#[async_trait::async_trait]
impl Engine for ScriptedEngine {
    fn name(&self) -> &'static str {
        "scripted"
    }
    async fn open(
        &self,
        _: i64,
        _: OpenOptions,
        events: mpsc::Sender<EngineEvent>,
    ) -> Result<Box<dyn Connection>> {
        let script = self.script.lock().unwrap().clone();
        tokio::spawn(async move {
            for event in script {
                let _ = events.send(event).await;
            }
        });
        Ok(Box::new(Idle))
    }
    async fn has_credentials(&self, _: i64) -> Result<bool> {
        Ok(false)
    }
    async fn logout(&self, _: i64) -> Result<()> {
        Ok(())
    }
}

fn user() -> Box<LinkedUser> {
    Box::new(LinkedUser {
        jid: "15551234567:7@s.whatsapp.net".into(),
        lid: "100000012345678@lid".into(),
        push_name: "Shop".into(),
        phone_number: "+15551234567".into(),
    })
}

async fn play(
    store: &Store,
    script: Vec<EngineEvent>,
    want: Status,
    reason: &str,
) -> (
    wagate::session::model::Session,
    Vec<(LogType, Status, String)>,
) {
    let engine = Arc::new(ScriptedEngine {
        script: Mutex::new(script),
    });
    let options = ManagerOptions {
        allow_private_urls: false,
        connect_wait: Duration::from_millis(10),
        reconnect_stagger: Duration::ZERO,
    };
    let manager = SessionManager::new(store.clone(), engine, options, None, None);
    let settings = Settings {
        display_name: "Scripted".into(),
        phone_number: "+15551234567".into(),
        ..Default::default()
    };
    let (session, _) = manager.create(settings).await.unwrap();
    manager.connect(session.id).await.unwrap();
    let session = eventually(&format!("status {want:?}"), Duration::from_secs(10), || {
        let manager = manager.clone();
        async move {
            manager
                .get(session.id)
                .await
                .ok()
                .filter(|s| s.status == want && s.status_reason.contains(reason))
        }
    })
    .await;
    // Let the applier finish writing what follows the status change.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let logs = manager.logs(session.id, None, 100).await.unwrap();
    manager.shutdown().await;
    (
        session,
        logs.items
            .into_iter()
            .rev()
            .map(|l| (l.kind, l.status, l.message))
            .collect(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engine_events_become_statuses_and_log_entries() {
    for backend in backends() {
        let dir = TempDir::new("engine-events");
        let db = TestDb::create(backend, dir.path()).await;
        let store = Store::connect(&db.url, 2).await.unwrap();
        store.migrate().await.unwrap();

        // Linking: QR → paired → connected, with a warning in between.
        let (session, logs) = play(
            &store,
            vec![
                EngineEvent::QrCode {
                    code: "2@x".into(),
                    expire_time: SystemTime::now() + Duration::from_secs(60),
                },
                EngineEvent::Warning {
                    message: "pair code failed: rate".into(),
                },
                EngineEvent::Paired { user: user() },
                EngineEvent::Connected { user: user() },
            ],
            Status::Connected,
            "connected",
        )
        .await;
        assert_eq!(
            session.user.as_ref().map(|u| u.jid.as_str()),
            Some("15551234567:7@s.whatsapp.net")
        );
        let kinds: Vec<LogType> = logs.iter().map(|l| l.0).collect();
        for kind in [
            LogType::QrIssued,
            LogType::ConnectionError,
            LogType::DeviceLinked,
        ] {
            assert!(kinds.contains(&kind), "{kind:?} in {logs:?}");
        }
        assert!(logs.iter().any(|l| l.0 == LogType::ConnectionError
            && l.1 == Status::NeedScan
            && l.2.contains("rate")));

        // A drop reconnects; a failed attempt is logged as a connection error.
        let (session, logs) = play(
            &store,
            vec![
                EngineEvent::Connected { user: user() },
                EngineEvent::Disconnected {
                    reason: "connection to WhatsApp lost".into(),
                    retry_in: None,
                },
                EngineEvent::ConnectFailed {
                    reason: "DNS lookup failed".into(),
                    retry_in: Some(Duration::from_secs(2)),
                },
            ],
            Status::Connecting,
            "DNS",
        )
        .await;
        assert!(
            session
                .status_reason
                .contains("DNS lookup failed; retrying in 2000 ms"),
            "{}",
            session.status_reason
        );
        assert!(logs.iter().any(
            |l| l.0 == LogType::StatusChange && l.2.contains("lost; reconnecting with backoff")
        ));
        assert!(
            logs.iter()
                .any(|l| l.0 == LogType::ConnectionError && l.2.contains("DNS"))
        );

        // Terminal: WhatsApp ends the session (ban, replaced, refused): disconnected, not resumed.
        let (session, _) = play(
            &store,
            vec![
                EngineEvent::Connected { user: user() },
                EngineEvent::Stopped {
                    reason: "temporarily banned by WhatsApp".into(),
                },
            ],
            Status::Disconnected,
            "banned",
        )
        .await;
        assert!(session.status_reason.contains("banned"));
        assert!(!session.auto_connect, "not reconnected on restart");

        // Terminal: logged out — user cleared.
        let (session, _) = play(
            &store,
            vec![
                EngineEvent::Connected { user: user() },
                EngineEvent::LoggedOut {
                    reason: "WhatsApp unlinked this device".into(),
                },
            ],
            Status::LoggedOut,
            "unlinked",
        )
        .await;
        assert!(session.user.is_none() && !session.auto_connect);
        assert!(session.status_reason.contains("unlinked"));

        // Terminal: nobody scanned.
        let (session, _) = play(
            &store,
            vec![
                EngineEvent::QrCode {
                    code: "2@y".into(),
                    expire_time: SystemTime::now(),
                },
                EngineEvent::QrCodesExhausted,
            ],
            Status::Expired,
            "",
        )
        .await;
        assert!(session.qr.is_none());
        store.close().await;
        db.drop_database().await;
    }
}

/// Records the calls it is asked to reject.
struct Rejecting(Arc<Mutex<Vec<String>>>);

#[async_trait::async_trait]
impl Connection for Rejecting {
    async fn request_pair_code(&self, phone: &str) -> Result<PairCode> {
        Idle.request_pair_code(phone).await
    }
    async fn send_message(&self, message: &OutgoingMessage) -> Result<SystemTime> {
        Idle.send_message(message).await
    }
    async fn edit_message(&self, chat: &str, id: &str, text: &str) -> Result<()> {
        Idle.edit_message(chat, id, text).await
    }
    async fn revoke_message(&self, chat: &str, key: &MessageKey) -> Result<()> {
        Idle.revoke_message(chat, key).await
    }
    async fn mark_read(&self, keys: &[MessageKey]) -> Result<()> {
        Idle.mark_read(keys).await
    }
    async fn send_presence(&self, presence: PresenceState, chat: Option<&str>) -> Result<()> {
        Idle.send_presence(presence, chat).await
    }
    async fn download_media(&self, media_ref: &str) -> Result<MediaBlob> {
        Idle.download_media(media_ref).await
    }
    async fn reject_call(&self, call: &wagate::engine::IncomingCall) -> Result<()> {
        self.0.lock().unwrap().push(call.call_id.clone());
        Ok(())
    }
    async fn close(&self) {}
}

/// Plays its script once, on a connection that records rejected calls.
struct CallingEngine {
    script: Vec<EngineEvent>,
    rejected: Arc<Mutex<Vec<String>>>,
}

#[async_trait::async_trait]
impl Engine for CallingEngine {
    fn name(&self) -> &'static str {
        "calling"
    }
    async fn open(
        &self,
        _: i64,
        _: OpenOptions,
        events: mpsc::Sender<EngineEvent>,
    ) -> Result<Box<dyn Connection>> {
        let script = self.script.clone();
        tokio::spawn(async move {
            for event in script {
                let _ = events.send(event).await;
            }
        });
        Ok(Box::new(Rejecting(self.rejected.clone())))
    }
    async fn has_credentials(&self, _: i64) -> Result<bool> {
        Ok(false)
    }
    async fn logout(&self, _: i64) -> Result<()> {
        Ok(())
    }
}

fn call(id: &str, status: pb::CallStatus) -> EngineEvent {
    EngineEvent::Call(Box::new(wagate::engine::IncomingCall {
        call_id: id.into(),
        caller: "15557654321@s.whatsapp.net".into(),
        caller_phone_number: "+15557654321".into(),
        creator: "15557654321:2@s.whatsapp.net".into(),
        time: SystemTime::now(),
        group_call: false,
        video: true,
        status,
    }))
}

/// Plays `script` on a session with `settings` and an event log; returns the
/// JSON of the session's events of `types` once `count` of them are logged,
/// and the calls the connection was asked to reject.
async fn logged(
    backend: wagate_tests::Backend,
    settings: Settings,
    script: Vec<EngineEvent>,
    types: &[&str],
    count: usize,
) -> (Vec<serde_json::Value>, Vec<String>) {
    use wagate::event::{EventLog, Events, LogOptions};
    use wagate::store::EventScope;
    let dir = TempDir::new("logged");
    let db = TestDb::create(backend, dir.path()).await;
    let store = Store::connect(&db.url, 2).await.unwrap();
    store.migrate().await.unwrap();
    let stop = tokio_util::sync::CancellationToken::new();
    let log = EventLog::start(store.clone(), LogOptions::default(), stop.clone())
        .await
        .unwrap();
    let events = Events::new(log, store.clone(), stop.clone());
    let rejected = Arc::new(Mutex::new(Vec::new()));
    let engine = Arc::new(CallingEngine {
        script,
        rejected: rejected.clone(),
    });
    let options = ManagerOptions {
        allow_private_urls: false,
        connect_wait: Duration::from_millis(10),
        reconnect_stagger: Duration::ZERO,
    };
    let manager = SessionManager::new(store.clone(), engine, options, None, Some(events));
    let (session, _) = manager.create(settings).await.unwrap();
    manager.connect(session.id).await.unwrap();
    let scope = EventScope {
        sessions: vec![session.id],
        types: types.iter().map(|t| t.to_string()).collect(),
    };
    let rows = eventually(
        &format!("{count} events of {types:?}"),
        Duration::from_secs(10),
        || {
            let store = store.clone();
            let scope = scope.clone();
            async move {
                let rows = store.events_after(0, &scope, 100).await.ok()?;
                (rows.len() >= count).then_some(rows)
            }
        },
    )
    .await;
    let json = rows
        .iter()
        .map(|row| serde_json::from_str(&wagate::event::record::event_pb(row).json).unwrap())
        .collect();
    manager.shutdown().await;
    stop.cancel();
    store.close().await;
    db.drop_database().await;
    let rejected = rejected.lock().unwrap().clone();
    (json, rejected)
}

fn settings(auto_reject_calls: bool) -> Settings {
    Settings {
        display_name: "Logged".into(),
        phone_number: "+15551234567".into(),
        auto_reject_calls,
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_are_logged_and_rejected_when_the_session_says_so() {
    for backend in backends() {
        for auto_reject in [true, false] {
            let script = vec![
                EngineEvent::Connected { user: user() },
                call("RING", pb::CallStatus::Offer),
                call("GONE", pb::CallStatus::Timeout),
            ];
            let (json, rejected) =
                logged(backend, settings(auto_reject), script, &["call"], 2).await;
            assert_eq!(json[0]["event"], "call");
            let offered = &json[0]["data"]["call"];
            assert_eq!(offered["id"], "RING", "{offered}");
            assert_eq!(offered["from"], "15557654321@s.whatsapp.net");
            assert_eq!(offered["isVideo"], true);
            assert_eq!(offered["status"], "offer");
            assert_eq!(json[1]["data"]["call"]["status"], "timeout");
            // Only the ringing call is rejected, and only when the session says so.
            let want: Vec<String> = if auto_reject {
                vec!["RING".into()]
            } else {
                Vec::new()
            };
            assert_eq!(rejected, want);
        }
    }
}

fn inbound(id: &str) -> EngineEvent {
    EngineEvent::MessageReceived(Box::new(wagate::engine::InboundMessage {
        whatsapp_id: id.into(),
        chat: "15557654321@s.whatsapp.net".into(),
        sender: "15557654321@s.whatsapp.net".into(),
        sender_phone_number: "+15557654321".into(),
        sender_lid: String::new(),
        push_name: "Caller".into(),
        from_me: false,
        timestamp: SystemTime::now(),
        message: None,
        body: format!("text {id}"),
        media_ref: String::new(),
    }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chats_read_and_deleted_on_the_phone_are_logged() {
    for backend in backends() {
        let chat = "15557654321@s.whatsapp.net".to_owned();
        let script = vec![
            EngineEvent::Connected { user: user() },
            inbound("M1"),
            inbound("M2"),
            EngineEvent::ChatRead { chat: chat.clone() },
            EngineEvent::ChatDeleted { chat: chat.clone() },
        ];
        let types = ["chats.upsert", "chats.update", "chats.delete"];
        let (json, _) = logged(backend, settings(false), script, &types, 4).await;
        let seen: Vec<(&str, Option<i64>)> = json
            .iter()
            .map(|e| {
                (
                    e["event"].as_str().unwrap(),
                    e["data"][0]["unreadCount"].as_i64(),
                )
            })
            .collect();
        assert_eq!(
            seen,
            [
                ("chats.upsert", Some(1)),
                ("chats.update", Some(2)),
                ("chats.update", Some(0)),
                ("chats.delete", None),
            ]
        );
        assert_eq!(json[0]["data"][0]["name"], "Caller");
        assert_eq!(
            json[3]["data"],
            serde_json::json!([chat]),
            "seed 001: bare ids"
        );
    }
}
