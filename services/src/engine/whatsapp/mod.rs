//! The `whatsapp` engine: sessions on real WhatsApp through whatsapp-rust, one
//! `Bot` per open session on the shared runtime. The library reconnects by
//! itself after a drop; what it does not report (failed connection attempts)
//! our transport and HTTP hooks report, so every failure reaches the session
//! log. Credentials live in one SQLite file per session (embedded default) or
//! in PostgreSQL tables ([`pg::PgBackend`]) so a session can move replicas.

pub mod calls;
pub mod chats;
pub mod conformance;
pub mod directory;
pub mod events;
pub mod groups;
pub mod messaging;
pub mod pg;
pub mod proxy;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use whatsapp_rust::Client;
use whatsapp_rust::bot::{Bot, BotHandle};
use whatsapp_rust::pair_code::PairCodeOptions;
use whatsapp_rust::store::traits::Backend;
use whatsapp_rust::store::{SqliteStore, SqliteStoreConfig};
use whatsapp_rust::types::events::{Event, EventHandler};
use whatsapp_rust::wacore::store::DevicePropsOverride;

use self::events::{Mapped, Terminal, linked_user};
use self::proxy::{ProxyConfig, WaTransportFactory};
use crate::engine::{
    Connection, Engine, EngineEvent, GroupSetting, JoinedGroup, MediaBlob, OpenOptions,
    OutgoingMessage, PairCode, ParticipantChange, Picture, Resources,
};
use crate::error::{Code, Error, Reason, Result};
use crate::session::model::{LinkedUser, SessionId};
use wagate_proto::v1::{self as pb, MessageKey, PresenceState};

/// How long a stopping client may take to flush before we stop waiting.
const STOP_GRACE: Duration = Duration::from_secs(10);
/// Network errors closer together than this are one failed attempt
/// (the library fetches its version and dials the socket in parallel).
const SAME_ATTEMPT: Duration = Duration::from_secs(2);

/// Where sessions' whatsapp-rust credentials live.
#[derive(Clone)]
pub enum CredentialStore {
    /// One SQLite file per session in this directory (the library's own store).
    Sqlite { dir: PathBuf },
    /// Tables in PostgreSQL, keyed by session.
    Postgres { pool: sqlx::PgPool },
}

impl CredentialStore {
    fn sqlite_path(dir: &std::path::Path, session: SessionId) -> PathBuf {
        dir.join(format!("session-{session}.db"))
    }

    async fn backend(&self, session: SessionId) -> Result<Arc<dyn Backend>> {
        match self {
            CredentialStore::Sqlite { dir } => {
                std::fs::create_dir_all(dir).map_err(|e| {
                    Error::internal(format!("cannot create {}: {e}", dir.display()))
                })?;
                let path = Self::sqlite_path(dir, session);
                // A session's store is small and read mostly at start; a smaller page cache
                // than the library's 512 KiB keeps idle sessions cheap.
                let config = SqliteStoreConfig {
                    cache_size_kib: 128,
                    ..Default::default()
                };
                let store = SqliteStore::with_config(&path.to_string_lossy(), config)
                    .await
                    .map_err(|e| {
                        Error::internal(format!(
                            "cannot open the session store {}: {e}",
                            path.display()
                        ))
                    })?;
                Ok(Arc::new(store))
            }
            CredentialStore::Postgres { pool } => {
                Ok(Arc::new(pg::PgBackend::new(pool.clone(), session)))
            }
        }
    }

    async fn has_linked_device(&self, session: SessionId) -> Result<bool> {
        match self {
            CredentialStore::Sqlite { dir } => {
                if !Self::sqlite_path(dir, session).exists() {
                    return Ok(false);
                }
                let device =
                    self.backend(session).await?.load().await.map_err(|e| {
                        Error::internal(format!("cannot read the session store: {e}"))
                    })?;
                Ok(device.is_some_and(|d| d.pn.is_some()))
            }
            CredentialStore::Postgres { pool } => Ok(pg::has_linked_device(pool, session).await?),
        }
    }

    /// Removes every credential of the session. The session's client must be gone.
    async fn wipe(&self, session: SessionId) -> Result<()> {
        match self {
            CredentialStore::Sqlite { dir } => {
                let path = Self::sqlite_path(dir, session);
                for suffix in ["", "-wal", "-shm", "-journal"] {
                    let file = PathBuf::from(format!("{}{suffix}", path.display()));
                    match std::fs::remove_file(&file) {
                        Ok(()) => {}
                        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
                        Err(err) => {
                            return Err(Error::internal(format!(
                                "cannot remove {}: {err}",
                                file.display()
                            )));
                        }
                    }
                }
                Ok(())
            }
            CredentialStore::Postgres { pool } => Ok(pg::wipe(pool, session).await?),
        }
    }
}

/// Test and deployment knobs of the engine.
#[derive(Clone, Debug, Default)]
pub struct WhatsAppOptions {
    /// WebSocket URL to dial instead of WhatsApp's (tests point it at loopback).
    pub websocket_url: Option<String>,
}

pub struct WhatsAppEngine {
    store: CredentialStore,
    options: WhatsAppOptions,
    /// Live clients, for their resource figures.
    clients: Arc<Mutex<HashMap<SessionId, Arc<Client>>>>,
}

impl WhatsAppEngine {
    pub fn new(store: CredentialStore, options: WhatsAppOptions) -> Self {
        Self {
            store,
            options,
            clients: Arc::default(),
        }
    }
}

/// What reaches a session's supervisor, in order.
enum Signal {
    Library(Arc<Event>),
    NetworkError(String),
}

/// Forwards library events without blocking the library's receive path;
/// server acks also complete the sends waiting for them.
struct Forwarder {
    signals: mpsc::UnboundedSender<Signal>,
    acks: Arc<messaging::AckWaiters>,
}

impl EventHandler for Forwarder {
    fn handle_event(&self, event: Arc<Event>) {
        // Acks matter only to the sends waiting for them (one per stanza sent).
        if let Event::ServerAck(ack) = &*event {
            self.acks.resolve(ack);
            return;
        }
        let _ = self.signals.send(Signal::Library(event));
    }
}

fn identity(client: &Client) -> Option<LinkedUser> {
    let pn = client.pn()?;
    Some(linked_user(&pn, client.lid().as_ref(), &client.push_name()))
}

#[async_trait]
impl Engine for WhatsAppEngine {
    fn name(&self) -> &'static str {
        "whatsapp"
    }

    async fn open(
        &self,
        session: SessionId,
        options: OpenOptions,
        events: mpsc::Sender<EngineEvent>,
    ) -> Result<Box<dyn Connection>> {
        let proxy = options
            .proxy_url
            .as_deref()
            .map(ProxyConfig::parse)
            .transpose()
            .map_err(|e| Error::invalid_field("proxy_url", e))?;
        let backend = self.store.backend(session).await?;
        let (signals, receiver) = mpsc::unbounded_channel();
        let on_error: Arc<dyn Fn(String) + Send + Sync> = {
            let signals = signals.clone();
            Arc::new(move |message: String| {
                let _ = signals.send(Signal::NetworkError(message));
            })
        };
        let mut transport = WaTransportFactory::new(proxy.clone()).on_error(on_error.clone());
        if let Some(url) = &self.options.websocket_url {
            transport = transport.with_url(url.clone());
        }
        let http = proxy::observed_http_client(proxy.as_ref(), Some(on_error));
        let acks = Arc::new(messaging::AckWaiters::default());
        let bot = Bot::builder()
            .with_backend_arc(backend)
            .with_transport_factory(transport)
            .with_http_client(http)
            .with_event_handler(Forwarder {
                signals,
                acks: acks.clone(),
            })
            .with_device_props(DevicePropsOverride::new().with_os("wagate"))
            .build()
            .await
            .map_err(|e| Error::internal(format!("cannot build the WhatsApp client: {e}")))?;
        let client = bot.client();
        let handle = bot.spawn();
        self.clients
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(session, client.clone());
        let cancel = CancellationToken::new();
        let supervisor = Supervisor {
            session,
            client: client.clone(),
            events,
            store: self.store.clone(),
            clients: self.clients.clone(),
        };
        let task = tokio::spawn(supervisor.run(handle, receiver, cancel.clone()));
        Ok(Box::new(WaConnection {
            client,
            acks,
            cancel,
            task: tokio::sync::Mutex::new(Some(task)),
        }))
    }

    async fn has_credentials(&self, session: SessionId) -> Result<bool> {
        self.store.has_linked_device(session).await
    }

    async fn logout(&self, session: SessionId) -> Result<()> {
        // Unlinking needs a live connection (WaConnection::unlink); offline we can only forget.
        self.store.wipe(session).await
    }

    async fn resources(&self, session: SessionId) -> Option<Resources> {
        let client = self
            .clients
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&session)
            .cloned()?;
        let stats = client.stats();
        let memory = client.memory_report().await;
        Some(Resources {
            bytes_sent: stats.bytes_sent,
            bytes_received: stats.bytes_received,
            frames_sent: stats.frames_sent,
            frames_received: stats.frames_received,
            reconnects: stats.reconnects,
            memory_bytes: memory.total_estimated_bytes(),
        })
    }
}

/// Runs one session's client: maps its events, reports failed attempts, and
/// stops it (flushing) when closed or when WhatsApp ends the session.
struct Supervisor {
    session: SessionId,
    client: Arc<Client>,
    events: mpsc::Sender<EngineEvent>,
    store: CredentialStore,
    clients: Arc<Mutex<HashMap<SessionId, Arc<Client>>>>,
}

impl Supervisor {
    async fn run(
        self,
        handle: BotHandle,
        mut signals: mpsc::UnboundedReceiver<Signal>,
        cancel: CancellationToken,
    ) {
        let mut handle = Some(handle);
        let mut last_error: Option<std::time::Instant> = None;
        let terminal = loop {
            let signal = tokio::select! {
                biased;
                _ = cancel.cancelled() => break None,
                signal = signals.recv() => signal,
                _ = async { handle.as_mut().expect("present").await }, if handle.is_some() => {
                    handle = None;
                    // The run loop ended by itself: anything it said last is queued.
                    let mut terminal = None;
                    while let Ok(signal) = signals.try_recv() {
                        if let Some(t) = self.handle(signal, &mut last_error).await {
                            terminal = Some(t);
                            break;
                        }
                    }
                    break Some(terminal.unwrap_or(Terminal::Stopped {
                        reason: "the WhatsApp client stopped".into(),
                    }));
                }
            };
            let Some(signal) = signal else { break None };
            if let Some(terminal) = self.handle(signal, &mut last_error).await {
                break Some(terminal);
            }
        };

        // Stop the client: flush and close the socket, then let the run loop end.
        self.client.disconnect().await;
        if let Some(handle) = handle
            && tokio::time::timeout(STOP_GRACE, handle).await.is_err()
        {
            tracing::warn!(
                session = self.session,
                "WhatsApp client did not stop in time"
            );
        }
        self.clients
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.session);
        let Supervisor {
            session,
            client,
            events,
            store,
            ..
        } = self;
        // The store must be released before a logout wipes it.
        drop(client);
        if let Some(terminal) = terminal {
            if matches!(terminal, Terminal::LoggedOut { .. })
                && let Err(err) = store.wipe(session).await
            {
                tracing::error!(session, error = %err, "could not wipe the credentials after a logout");
            }
            let _ = events.send(terminal.into_event()).await;
        }
    }

    /// Votes come encrypted: opening them needs the client (the mapping of
    /// the batch skips them).
    async fn report_votes(&self, batch: &whatsapp_rust::types::events::MessageBatch) {
        for received in batch {
            let Some(vote) = messaging::polls::encrypted_vote(&received.message, &received.info)
            else {
                continue;
            };
            if let Some(event) = messaging::polls::open_vote(&self.client, vote).await {
                let _ = self.events.send(event).await;
            }
        }
    }

    /// Handles one signal; returns a terminal outcome when the session is over.
    async fn handle(
        &self,
        signal: Signal,
        last_error: &mut Option<std::time::Instant>,
    ) -> Option<Terminal> {
        let event = match signal {
            Signal::Library(event) => {
                if let Event::Messages(batch) = event.as_ref() {
                    self.report_votes(batch).await;
                }
                match events::map(&event, || identity(&self.client), SystemTime::now()) {
                    Mapped::Report(event) => {
                        if matches!(event, EngineEvent::Connected { .. }) {
                            *last_error = None;
                        }
                        event
                    }
                    Mapped::ReportAll(events) => {
                        for event in events {
                            let _ = self.events.send(event).await;
                        }
                        return None;
                    }
                    Mapped::Terminal(terminal) => return Some(terminal),
                    Mapped::Ignore => return None,
                }
            }
            Signal::NetworkError(message) => {
                let now = std::time::Instant::now();
                if last_error.is_some_and(|at| now.duration_since(at) < SAME_ATTEMPT) {
                    return None;
                }
                *last_error = Some(now);
                EngineEvent::ConnectFailed {
                    reason: message,
                    retry_in: None,
                }
            }
        };
        let _ = self.events.send(event).await;
        None
    }
}

struct WaConnection {
    client: Arc<Client>,
    acks: Arc<messaging::AckWaiters>,
    cancel: CancellationToken,
    task: tokio::sync::Mutex<Option<JoinHandle<()>>>,
}

#[async_trait]
impl Connection for WaConnection {
    async fn request_pair_code(&self, phone_number: &str) -> Result<PairCode> {
        self.client
            .wait_for_socket(Duration::from_secs(20))
            .await
            .map_err(|e| {
                Error::unavailable(format!("cannot reach WhatsApp to request a pair code: {e}"))
                    .with_retry_after(Duration::from_secs(5))
            })?;
        let options = PairCodeOptions {
            phone_number: phone_number.to_owned(),
            ..Default::default()
        };
        let code = self.client.pair_with_code(options).await.map_err(|e| {
            Error::whatsapp(
                Code::FailedPrecondition,
                format!("WhatsApp refused the pair code request: {e}"),
            )
        })?;
        let code = if code.len() == 8 {
            format!("{}-{}", &code[..4], &code[4..])
        } else {
            code
        };
        Ok(PairCode {
            code,
            expire_time: SystemTime::now() + Duration::from_secs(180),
        })
    }

    async fn unlink(&self) -> Result<()> {
        if !self.client.is_connected() {
            return Err(Error::precondition(
                Reason::SessionNotConnected,
                "not connected to WhatsApp: the device stays listed on the phone until removed there",
            ));
        }
        self.client.logout().await;
        Ok(())
    }

    async fn send_message(&self, message: &OutgoingMessage) -> Result<SystemTime> {
        messaging::send(&self.client, &self.acks, message).await
    }

    async fn edit_message(&self, chat: &str, whatsapp_id: &str, new_text: &str) -> Result<()> {
        messaging::edit(&self.client, chat, whatsapp_id, new_text).await
    }

    async fn revoke_message(&self, chat: &str, key: &MessageKey) -> Result<()> {
        messaging::revoke(&self.client, chat, key).await
    }

    async fn mark_read(&self, keys: &[MessageKey]) -> Result<()> {
        messaging::mark_read(&self.client, keys).await
    }

    async fn send_presence(&self, presence: PresenceState, chat: Option<&str>) -> Result<()> {
        messaging::send_presence(&self.client, presence, chat).await
    }

    async fn download_media(&self, media_ref: &str) -> Result<MediaBlob> {
        messaging::download_media(&self.client, media_ref).await
    }

    async fn check_numbers(&self, digits: &[String]) -> Result<Vec<pb::PhoneNumberCheck>> {
        directory::check_numbers(&self.client, digits).await
    }

    async fn profile_picture(&self, jid: &str, preview: bool) -> Result<Option<Picture>> {
        directory::profile_picture(&self.client, jid, preview).await
    }

    async fn set_blocked(&self, jid: &str, blocked: bool) -> Result<()> {
        directory::set_blocked(&self.client, jid, blocked).await
    }

    async fn save_contact(
        &self,
        jid: &str,
        full_name: &str,
        first_name: &str,
        save_on_primary_address_book: bool,
    ) -> Result<()> {
        directory::save_contact(
            &self.client,
            jid,
            full_name,
            first_name,
            save_on_primary_address_book,
        )
        .await
    }

    async fn create_group(&self, subject: &str, participants: &[String]) -> Result<pb::Group> {
        groups::create_group(&self.client, subject, participants).await
    }

    async fn group_info(&self, group: &str) -> Result<pb::Group> {
        groups::group_info(&self.client, group).await
    }

    async fn joined_groups(&self) -> Result<Vec<pb::Group>> {
        groups::joined_groups(&self.client).await
    }

    async fn change_participants(
        &self,
        group: &str,
        change: ParticipantChange,
        participants: &[String],
    ) -> Result<Vec<pb::ParticipantResult>> {
        groups::change_participants(&self.client, group, change, participants).await
    }

    async fn update_group(&self, group: &str, setting: &GroupSetting) -> Result<()> {
        groups::update_group(&self.client, group, setting).await
    }

    async fn group_picture(&self, group: &str, preview: bool) -> Result<Option<Picture>> {
        groups::group_picture(&self.client, group, preview).await
    }

    async fn invite_code(&self, group: &str, reset: bool) -> Result<String> {
        groups::invite_code(&self.client, group, reset).await
    }

    async fn invite_info(&self, code: &str) -> Result<pb::Group> {
        groups::invite_info(&self.client, code).await
    }

    async fn join_group(&self, code: &str) -> Result<JoinedGroup> {
        groups::join_group(&self.client, code).await
    }

    async fn leave_group(&self, group: &str) -> Result<()> {
        groups::leave_group(&self.client, group).await
    }

    async fn reject_call(&self, call: &crate::engine::IncomingCall) -> Result<()> {
        directory::connected(&self.client, "reject a call")?;
        let peer: whatsapp_rust::Jid = call
            .caller
            .parse()
            .map_err(|_| Error::internal(format!("unparsable caller {}", call.caller)))?;
        let creator: whatsapp_rust::Jid = call.creator.parse().unwrap_or_else(|_| peer.clone());
        self.client
            .voip()
            .reject_call(&call.call_id, &peer, &creator)
            .await
            .map_err(|e| {
                Error::whatsapp(
                    Code::FailedPrecondition,
                    format!("WhatsApp refused to reject the call: {e}"),
                )
            })
    }

    async fn close(&self) {
        self.cancel.cancel();
        if let Some(task) = self.task.lock().await.take() {
            let _ = task.await;
        }
    }
}
