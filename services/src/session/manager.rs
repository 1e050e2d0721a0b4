//! The lifecycle of sessions: creating and changing them, and running their
//! connections. Each live connection has one task that applies the engine's
//! events, in order, to the store (status, QR code, linked user, log).
//! Lifecycle calls on one session are serialized, so there are never two
//! connections on one session's credentials.

use crate::event::Events;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::applier::{EventApplier, record_status};
use super::model::{
    LogEntry, LogType, Page, QrCode, Session, SessionId, Settings, Status, WebhookFormat,
};
use super::settings;
use crate::auth;
use crate::engine::{Connection, Engine, OpenOptions, PairCode};
use crate::error::{Error, Reason, Result};
use crate::message::Queue;
use crate::message::queue::Worker;
use crate::store::{StatusChange, Store};

/// How the manager behaves; from the server configuration.
#[derive(Clone, Debug)]
pub struct ManagerOptions {
    pub allow_private_urls: bool,
    /// How long ConnectSession/RestartSession wait for a QR code or the connection.
    pub connect_wait: Duration,
    /// Pause between sessions reconnected at start.
    pub reconnect_stagger: Duration,
}

/// Settings to change: `Some` fields are set, `None` fields are kept.
#[derive(Clone, Debug, Default)]
pub struct SettingsPatch {
    pub display_name: Option<String>,
    pub phone_number: Option<String>,
    pub account_protection: Option<bool>,
    pub log_messages: Option<bool>,
    pub webhook_url: Option<String>,
    pub webhook_enabled: Option<bool>,
    pub webhook_events: Option<Vec<String>>,
    pub read_incoming_messages: Option<bool>,
    pub auto_reject_calls: Option<bool>,
    pub ignore_groups: Option<bool>,
    pub ignore_channels: Option<bool>,
    pub ignore_broadcasts: Option<bool>,
    pub proxy_url: Option<String>,
    pub always_online: Option<bool>,
    pub webhook_format: Option<WebhookFormat>,
    /// Replaces every label (mask path `labels`).
    pub labels: Option<BTreeMap<String, String>>,
    /// Sets (Some) or removes (None) single labels, after `labels` (mask
    /// paths `labels.<key>`).
    pub label_changes: Vec<(String, Option<String>)>,
}

impl SettingsPatch {
    fn apply(self, settings: &mut Settings) {
        fn set<T>(slot: &mut T, value: Option<T>) {
            if let Some(value) = value {
                *slot = value;
            }
        }
        set(&mut settings.display_name, self.display_name);
        set(&mut settings.phone_number, self.phone_number);
        set(&mut settings.account_protection, self.account_protection);
        set(&mut settings.log_messages, self.log_messages);
        set(&mut settings.webhook_url, self.webhook_url);
        set(&mut settings.webhook_enabled, self.webhook_enabled);
        set(&mut settings.webhook_events, self.webhook_events);
        set(
            &mut settings.read_incoming_messages,
            self.read_incoming_messages,
        );
        set(&mut settings.auto_reject_calls, self.auto_reject_calls);
        set(&mut settings.ignore_groups, self.ignore_groups);
        set(&mut settings.ignore_channels, self.ignore_channels);
        set(&mut settings.ignore_broadcasts, self.ignore_broadcasts);
        set(&mut settings.proxy_url, self.proxy_url);
        set(&mut settings.always_online, self.always_online);
        set(&mut settings.webhook_format, self.webhook_format);
        set(&mut settings.labels, self.labels);
        for (key, value) in self.label_changes {
            match value {
                Some(value) => settings.labels.insert(key, value),
                None => settings.labels.remove(&key),
            };
        }
    }
}

/// What ConnectSession reports.
#[derive(Clone, Debug)]
pub struct ConnectOutcome {
    pub status: Status,
    pub qr: Option<QrCode>,
    pub message: String,
}

#[derive(Clone, Debug)]
pub(super) struct LiveState {
    pub(super) status: Status,
    pub(super) qr: Option<QrCode>,
    pub(super) reason: String,
    /// The connection stopped by itself (a final engine event).
    pub(super) ended: bool,
}

pub(super) struct Live {
    pub(super) connection: Arc<dyn Connection>,
    state: watch::Receiver<LiveState>,
    events_task: tokio::sync::Mutex<Option<JoinHandle<()>>>,
    /// The session's outbound queue worker, sending while connected.
    worker: tokio::sync::Mutex<Option<Worker>>,
}

pub(super) struct Inner {
    store: Store,
    engine: Arc<dyn Engine>,
    options: ManagerOptions,
    queue: Option<Queue>,
    events: Option<Events>,
    pub(super) live: Mutex<HashMap<SessionId, Arc<Live>>>,
    locks: Mutex<HashMap<SessionId, Arc<tokio::sync::Mutex<()>>>>,
    shutting_down: CancellationToken,
}

#[derive(Clone)]
pub struct SessionManager {
    inner: Arc<Inner>,
}

impl SessionManager {
    /// `queue`: the outbound message queue whose workers run on live
    /// connections (none in tests of the lifecycle alone).
    pub fn new(
        store: Store,
        engine: Arc<dyn Engine>,
        options: ManagerOptions,
        queue: Option<Queue>,
        events: Option<Events>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                engine,
                options,
                queue,
                events,
                live: Mutex::new(HashMap::new()),
                locks: Mutex::new(HashMap::new()),
                shutting_down: CancellationToken::new(),
            }),
        }
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// Traffic and memory figures of the session's live connection, if any.
    pub async fn resources(&self, id: SessionId) -> Option<crate::engine::Resources> {
        self.live(id)?;
        self.inner.engine.resources(id).await
    }

    /// The event log's service, when events are recorded.
    pub fn events(&self) -> Option<&Events> {
        self.inner.events.as_ref()
    }

    /// The session's live connection, if any.
    pub fn connection(&self, id: SessionId) -> Option<Arc<dyn Connection>> {
        self.live(id).map(|live| live.connection.clone())
    }

    /// The live connection of an existing session, to `what` (named in the
    /// FAILED_PRECONDITION error when the session is not connected).
    pub async fn require_connection(
        &self,
        id: SessionId,
        what: &str,
    ) -> Result<Arc<dyn Connection>> {
        self.get(id).await?;
        self.connection(id)
            .ok_or_else(|| crate::engine::not_connected(what))
    }

    /// Ids of the sessions with a live connection.
    pub fn live_ids(&self) -> Vec<SessionId> {
        let mut ids: Vec<_> = self
            .inner
            .live
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .keys()
            .copied()
            .collect();
        ids.sort_unstable();
        ids
    }

    // --- settings ---

    /// Creates a session; returns it with its API key (shown only now).
    pub async fn create(&self, mut settings: Settings) -> Result<(Session, String)> {
        settings::validate(
            &mut settings,
            "session",
            self.inner.options.allow_private_urls,
        )?;
        let (api_key, api_key_hash) = auth::new_session_key();
        let session = self
            .inner
            .store
            .insert_session(&settings, &api_key_hash, &auth::new_webhook_secret())
            .await?;
        tracing::info!(session = session.id, "session created");
        Ok((session, api_key))
    }

    pub async fn get(&self, id: SessionId) -> Result<Session> {
        self.inner
            .store
            .get_session(id)
            .await?
            .ok_or_else(|| Error::session_not_found(id))
    }

    pub async fn list(&self, after: Option<i64>, limit: i64) -> Result<Page<Session>> {
        self.inner
            .store
            .list_sessions(after.unwrap_or(0), limit)
            .await
    }

    /// Changes settings. A new proxy applies from the next connection.
    pub async fn update(&self, id: SessionId, patch: SettingsPatch) -> Result<Session> {
        let _guard = self.lock(id).await;
        let mut settings = self.get(id).await?.settings;
        patch.apply(&mut settings);
        settings::validate(
            &mut settings,
            "session",
            self.inner.options.allow_private_urls,
        )?;
        self.inner
            .store
            .update_settings(id, &settings)
            .await?
            .ok_or_else(|| Error::session_not_found(id))
    }

    /// Replaces the API key; the old one stops working at once.
    pub async fn regenerate_api_key(&self, id: SessionId) -> Result<String> {
        let (api_key, hash) = auth::new_session_key();
        if !self.inner.store.set_api_key_hash(id, &hash).await? {
            return Err(Error::session_not_found(id));
        }
        Ok(api_key)
    }

    pub async fn logs(
        &self,
        id: SessionId,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Page<LogEntry>> {
        self.get(id).await?;
        self.inner.store.list_logs(id, before, limit).await
    }

    // --- lifecycle ---

    pub async fn connect(&self, id: SessionId) -> Result<ConnectOutcome> {
        let _guard = self.lock(id).await;
        let session = self.get(id).await?;
        if let Some(live) = self.live(id) {
            let state = live.state.borrow().clone();
            let message = match state.status {
                Status::Connected => "session already connected; no QR code needed",
                Status::NeedScan => "session is waiting for a scan",
                _ => "session already connecting",
            };
            return Ok(ConnectOutcome {
                status: state.status,
                qr: state.qr,
                message: message.to_owned(),
            });
        }
        let live = self.open(&session).await?;
        let state = wait_until(&live, self.inner.options.connect_wait, |s| {
            s.status != Status::Connecting
        })
        .await;
        let message = match state.status {
            Status::NeedScan => {
                "scan the QR code with WhatsApp on the phone (Linked devices), or request a pair code"
            }
            Status::Connected => "session connected",
            Status::Connecting => "connecting; poll GetSessionStatus",
            _ => "connection ended",
        };
        let reason = if state.status == Status::Connecting && !state.reason.is_empty() {
            format!("{message} ({})", state.reason)
        } else {
            message.to_owned()
        };
        Ok(ConnectOutcome {
            status: state.status,
            qr: state.qr,
            message: reason,
        })
    }

    /// The QR code to scan, when the session waits for one.
    pub async fn qr_code(&self, id: SessionId) -> Result<QrCode> {
        let session = self.get(id).await?;
        match (session.status, session.qr) {
            (Status::NeedScan, Some(qr)) => Ok(qr),
            (status, _) => Err(Error::precondition(
                Reason::SessionNotWaitingForScan,
                format!(
                    "the session is not waiting for a QR scan (status {}); call ConnectSession first",
                    status.as_str()
                ),
            )),
        }
    }

    /// Links by phone number: returns the code to enter on the phone.
    pub async fn request_pair_code(&self, id: SessionId, phone_digits: &str) -> Result<PairCode> {
        let _guard = self.lock(id).await;
        let session = self.get(id).await?;
        if self.inner.engine.has_credentials(id).await? {
            return Err(Error::precondition(
                Reason::SessionStateConflict,
                "the session is already linked to a WhatsApp account; log it out before linking another",
            ));
        }
        let live = match self.live(id) {
            Some(live) => live,
            None => self.open(&session).await?,
        };
        let state = wait_until(&live, self.inner.options.connect_wait, |s| {
            s.status == Status::NeedScan
        })
        .await;
        if state.status != Status::NeedScan {
            return Err(Error::unavailable(format!(
                "the session could not start linking (status {}: {})",
                state.status.as_str(),
                state.reason
            ))
            .with_retry_after(Duration::from_secs(1)));
        }
        let code = live.connection.request_pair_code(phone_digits).await?;
        self.inner
            .store
            .append_log(
                id,
                LogType::PairCodeIssued,
                Status::NeedScan,
                &format!("pair code issued for +{phone_digits}"),
            )
            .await?;
        Ok(code)
    }

    /// Disconnects and keeps credentials; the session is not reconnected on restart.
    pub async fn disconnect(&self, id: SessionId) -> Result<Session> {
        let _guard = self.lock(id).await;
        let previous = self.get(id).await?.status;
        self.close_live(id).await;
        let store = &self.inner.store;
        store.set_auto_connect(id, false).await?;
        let change = StatusChange {
            status: Status::Disconnected,
            reason: "disconnected on request",
            log: LogType::StatusChange,
        };
        record_status(store, self.inner.events.as_ref(), id, previous, change).await?;
        self.get(id).await
    }

    /// Reconnects a connected session without a new scan.
    pub async fn restart(&self, id: SessionId) -> Result<Session> {
        let _guard = self.lock(id).await;
        let session = self.get(id).await?;
        let connected = self
            .live(id)
            .is_some_and(|live| live.state.borrow().status == Status::Connected);
        if !connected {
            return Err(Error::precondition(
                Reason::SessionNotConnected,
                format!(
                    "the session is not connected (status {}); cannot restart",
                    session.status.as_str()
                ),
            ));
        }
        self.close_live(id).await;
        self.inner
            .store
            .append_log(
                id,
                LogType::SessionRestarted,
                Status::Connecting,
                "restart requested",
            )
            .await?;
        let live = self.open(&session).await?;
        wait_until(&live, self.inner.options.connect_wait, |s| {
            s.status != Status::Connecting
        })
        .await;
        self.get(id).await
    }

    /// Unlinks the device and wipes its credentials.
    pub async fn logout(&self, id: SessionId) -> Result<Session> {
        let _guard = self.lock(id).await;
        let session = self.get(id).await?;
        let live = self.take_live(id);
        let was_live = live.is_some();
        if let Some(live) = live {
            if let Err(err) = live.connection.unlink().await {
                tracing::warn!(session = id, error = %err, "could not unlink the device over its connection");
            }
            close(live).await;
        }
        if !was_live && !self.inner.engine.has_credentials(id).await? {
            return Err(Error::precondition(
                Reason::SessionStateConflict,
                format!(
                    "the session has no linked device to log out (status {})",
                    session.status.as_str()
                ),
            ));
        }
        self.inner.engine.logout(id).await?;
        let store = &self.inner.store;
        store.set_auto_connect(id, false).await?;
        store.set_user(id, None).await?;
        store.forget_directory(id).await?;
        let change = StatusChange {
            status: Status::LoggedOut,
            reason: "logged out on request: device unlinked and credentials wiped",
            log: LogType::StatusChange,
        };
        let events = self.inner.events.as_ref();
        record_status(store, events, id, session.status, change).await?;
        self.get(id).await
    }

    /// Disconnects, unlinks and removes the session with its credentials and logs.
    pub async fn delete(&self, id: SessionId) -> Result<()> {
        let guard_lock = self.lock_handle(id);
        let _guard = guard_lock.lock().await;
        self.get(id).await?;
        self.close_live(id).await;
        if let Err(err) = self.inner.engine.logout(id).await {
            tracing::warn!(session = id, error = %err, "could not unlink the device of a deleted session");
        }
        if !self.inner.store.delete_session(id).await? {
            return Err(Error::session_not_found(id));
        }
        self.inner
            .locks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id);
        tracing::info!(session = id, "session deleted");
        Ok(())
    }

    /// Reconnects, staggered, the sessions that were connected when the server stopped.
    pub async fn resume(&self) -> Result<usize> {
        self.inner.store.mark_stale_sessions_disconnected().await?;
        let ids = self.inner.store.sessions_to_resume().await?;
        let count = ids.len();
        let manager = self.clone();
        tokio::spawn(async move {
            for id in ids {
                if manager.inner.shutting_down.is_cancelled() {
                    return;
                }
                let result = async {
                    let _guard = manager.lock(id).await;
                    if manager.live(id).is_some() || manager.inner.shutting_down.is_cancelled() {
                        return Ok(());
                    }
                    let session = manager.get(id).await?;
                    manager.open(&session).await.map(|_| ())
                }
                .await;
                if let Err(err) = result {
                    tracing::warn!(session = id, error = %err, "could not reconnect session");
                }
                tokio::select! {
                    _ = manager.inner.shutting_down.cancelled() => return,
                    _ = tokio::time::sleep(manager.inner.options.reconnect_stagger) => {}
                }
            }
        });
        Ok(count)
    }

    /// Closes every connection (keeping credentials and auto-reconnect) for shutdown.
    pub async fn shutdown(&self) {
        self.inner.shutting_down.cancel();
        let lives: Vec<(SessionId, Arc<Live>)> = self
            .inner
            .live
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain()
            .collect();
        futures::future::join_all(lives.into_iter().map(|(_, live)| close(live))).await;
    }

    // --- internals ---

    fn lock_handle(&self, id: SessionId) -> Arc<tokio::sync::Mutex<()>> {
        self.inner
            .locks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(id)
            .or_default()
            .clone()
    }

    async fn lock(&self, id: SessionId) -> tokio::sync::OwnedMutexGuard<()> {
        self.lock_handle(id).lock_owned().await
    }

    fn live(&self, id: SessionId) -> Option<Arc<Live>> {
        let live = self
            .inner
            .live
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&id)
            .cloned()?;
        let ended = live.state.borrow().ended;
        (!ended).then_some(live)
    }

    /// Removes the session's connection from the live set, without closing it.
    fn take_live(&self, id: SessionId) -> Option<Arc<Live>> {
        self.inner
            .live
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id)
    }

    /// Closes the session's connection, if any; true when there was one.
    async fn close_live(&self, id: SessionId) -> bool {
        let live = self.take_live(id);
        match live {
            Some(live) => {
                close(live).await;
                true
            }
            None => false,
        }
    }

    /// Opens the session's connection and starts applying its events.
    async fn open(&self, session: &Session) -> Result<Arc<Live>> {
        if self.inner.shutting_down.is_cancelled() {
            return Err(Error::unavailable("the server is shutting down"));
        }
        let id = session.id;
        let store = &self.inner.store;
        store.set_auto_connect(id, true).await?;
        let change = StatusChange {
            status: Status::Connecting,
            reason: "connecting to WhatsApp",
            log: LogType::StatusChange,
        };
        let events = self.inner.events.as_ref();
        record_status(store, events, id, session.status, change).await?;
        let (events_tx, events_rx) = mpsc::channel(64);
        let initial = LiveState {
            status: Status::Connecting,
            qr: None,
            reason: String::new(),
            ended: false,
        };
        let (state_tx, state_rx) = watch::channel(initial);
        let options = OpenOptions {
            proxy_url: Some(session.settings.proxy_url.clone()).filter(|p| !p.is_empty()),
        };
        let connection: Arc<dyn Connection> =
            Arc::from(self.inner.engine.open(id, options, events_tx).await?);
        let (connected_tx, connected_rx) = watch::channel(false);
        let worker = self
            .inner
            .queue
            .as_ref()
            .map(|queue| queue.start(id, connection.clone(), connected_rx));
        let live = Arc::new(Live {
            connection,
            state: state_rx,
            events_task: tokio::sync::Mutex::new(None),
            worker: tokio::sync::Mutex::new(worker),
        });
        let applier = EventApplier {
            id,
            store: store.clone(),
            events: self.inner.events.clone(),
            state: state_tx,
            connected: connected_tx,
            status: Status::Connecting,
            live: std::sync::Weak::new(),
        };
        let task = tokio::spawn(applier.run(
            events_rx,
            Arc::downgrade(&self.inner),
            Arc::downgrade(&live),
        ));
        *live.events_task.lock().await = Some(task);
        self.inner
            .live
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, live.clone());
        Ok(live)
    }
}

async fn close(live: Arc<Live>) {
    stop_worker(&live).await;
    live.connection.close().await;
    // The engine has stopped and dropped its sender: the applier drains and ends.
    if let Some(task) = live.events_task.lock().await.take() {
        let _ = task.await;
    }
}

/// Stops the queue worker first: a message must not go out on a closing connection.
pub(super) async fn stop_worker(live: &Live) {
    let worker = live.worker.lock().await.take();
    if let Some(worker) = worker {
        worker.stop().await;
    }
}

/// Waits until `done` holds for the live state, the connection ends, or `limit` passes.
async fn wait_until(live: &Live, limit: Duration, done: impl Fn(&LiveState) -> bool) -> LiveState {
    let mut state = live.state.clone();
    let _ = tokio::time::timeout(limit, state.wait_for(|s| s.ended || done(s))).await;
    state.borrow().clone()
}
