//! Applying one connection's engine events, in order: status changes, QR
//! codes, the linked user, received messages, receipts, edits and deletions,
//! presence — each recorded in the store and logged as events.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};

use super::manager::{Inner, Live, LiveState, stop_worker};
use super::model::{LinkedUser, LogType, QrCode, SessionId, Status};
use crate::engine::EngineEvent;
use crate::error::Result;
use crate::event::Events;
use crate::event::record::{self, EventDraft};
use crate::message::convert::message_pb;
use crate::message::model::Status as MessageStatus;
use crate::session::model::status_pb;
use crate::store::{MessageSelector, StatusChange, Store};

/// Applies one connection's engine events to the store, in order.
pub(super) struct EventApplier {
    pub(super) id: SessionId,
    pub(super) store: Store,
    pub(super) events: Option<Events>,
    pub(super) state: watch::Sender<LiveState>,
    /// Whether the queue worker may send.
    pub(super) connected: watch::Sender<bool>,
    pub(super) status: Status,
    pub(super) live: std::sync::Weak<Live>,
}

impl EventApplier {
    pub(super) async fn run(
        mut self,
        mut events: mpsc::Receiver<EngineEvent>,
        manager: std::sync::Weak<Inner>,
        live: std::sync::Weak<Live>,
    ) {
        self.live = live.clone();
        while let Some(event) = events.recv().await {
            let is_final = event.is_final();
            if let Err(err) = self.apply(event).await {
                tracing::error!(session = self.id, error = %err, "could not record a session event");
            }
            if is_final {
                self.state.send_modify(|s| s.ended = true);
                // Forget the finished connection unless a newer one replaced it.
                if let (Some(manager), Some(live)) = (manager.upgrade(), live.upgrade()) {
                    {
                        let mut map = manager.live.lock().unwrap_or_else(|p| p.into_inner());
                        if map
                            .get(&self.id)
                            .is_some_and(|current| Arc::ptr_eq(current, &live))
                        {
                            map.remove(&self.id);
                        }
                    }
                    stop_worker(&live).await;
                }
                break;
            }
        }
    }

    /// The session's settings, which select its events for webhooks.
    async fn settings(&self) -> Result<Option<crate::session::model::Settings>> {
        Ok(self.store.get_session(self.id).await?.map(|s| s.settings))
    }

    /// Drafts ready to commit with a state change; none when events are off.
    fn new_events(
        &self,
        settings: Option<&crate::session::model::Settings>,
        drafts: Vec<EventDraft>,
    ) -> Vec<crate::store::NewEvent> {
        match &self.events {
            Some(_) => record::to_new_events(self.id, settings, drafts),
            None => Vec::new(),
        }
    }

    /// Wakes the event log's tailer after events committed with a state change.
    fn appended_elsewhere(&self) {
        if let Some(events) = &self.events {
            events.log().appended_elsewhere();
        }
    }

    async fn emit(&self, drafts: Vec<EventDraft>) {
        emit(self.events.as_ref(), self.id, drafts).await;
    }

    async fn set_status(&mut self, status: Status, reason: &str, log: LogType) -> Result<()> {
        let change = StatusChange {
            status,
            reason,
            log,
        };
        record_status(
            &self.store,
            self.events.as_ref(),
            self.id,
            self.status,
            change,
        )
        .await?;
        self.status = status;
        self.connected.send_replace(status == Status::Connected);
        self.state.send_modify(|s| {
            s.status = status;
            s.reason = reason.to_owned();
            if status != Status::NeedScan {
                s.qr = None;
            }
        });
        Ok(())
    }

    async fn apply(&mut self, event: EngineEvent) -> Result<()> {
        let id = self.id;
        match event {
            EngineEvent::Connecting { reason } => {
                if self.status != Status::Connecting {
                    self.set_status(Status::Connecting, &reason, LogType::StatusChange)
                        .await?;
                }
            }
            EngineEvent::QrCode { code, expire_time } => {
                let qr = QrCode {
                    code,
                    expire_time: crate::api::system_time_ms(expire_time),
                };
                let mut drafts = Vec::with_capacity(2);
                if self.status != Status::NeedScan {
                    drafts.push(record::session_status(
                        status_pb(Status::NeedScan),
                        status_pb(self.status),
                        "waiting for a QR scan or pair code",
                    ));
                }
                drafts.push(record::qr_code(&qr.code, qr.expire_time));
                // The code and its events commit together.
                let settings = self.settings().await?;
                let mut tx = self.store.begin().await?;
                tx.set_qr(id, &qr).await?;
                tx.commit_with_events(&self.new_events(settings.as_ref(), drafts))
                    .await?;
                self.appended_elsewhere();
                self.status = Status::NeedScan;
                self.state.send_modify(|s| {
                    s.status = Status::NeedScan;
                    s.reason = "waiting for a QR scan or pair code".into();
                    s.qr = Some(qr);
                });
            }
            EngineEvent::QrCodesExhausted => {
                self.store.set_auto_connect(id, false).await?;
                let reason =
                    "nobody scanned the QR code before it expired; connect again for a new one";
                self.set_status(Status::Expired, reason, LogType::StatusChange)
                    .await?;
            }
            EngineEvent::Paired { user } => {
                self.store.set_user(id, Some(&user)).await?;
                let message = format!("device {} linked to {}", user.jid, user.phone_number);
                self.store
                    .append_log(id, LogType::DeviceLinked, self.status, &message)
                    .await?;
            }
            EngineEvent::Connected { user } => {
                self.store.set_user(id, Some(&user)).await?;
                self.sync_groups();
                self.set_status(
                    Status::Connected,
                    &connected_reason(&user),
                    LogType::StatusChange,
                )
                .await?;
            }
            EngineEvent::Disconnected { reason, retry_in } => {
                let reason = format!("{reason}; reconnecting{}", after(retry_in));
                self.set_status(Status::Connecting, &reason, LogType::StatusChange)
                    .await?;
            }
            EngineEvent::ConnectFailed { reason, retry_in } => {
                let reason = format!("{reason}; retrying{}", after(retry_in));
                self.set_status(Status::Connecting, &reason, LogType::ConnectionError)
                    .await?;
            }
            EngineEvent::Warning { message } => {
                self.store
                    .append_log(id, LogType::ConnectionError, self.status, &message)
                    .await?;
            }
            EngineEvent::Stopped { reason } => {
                self.store.set_auto_connect(id, false).await?;
                self.set_status(Status::Disconnected, &reason, LogType::ConnectionError)
                    .await?;
            }
            EngineEvent::MessageReceived(message) => {
                let log = self.store.get_session(id).await?.map(|s| s.settings);
                let log_content = log.as_ref().is_some_and(|s| s.log_messages);
                let auto_read = log.as_ref().is_some_and(|s| s.read_incoming_messages);
                let key = (!message.from_me).then(|| wagate_proto::v1::MessageKey {
                    id: message.whatsapp_id.clone(),
                    remote_jid: message.chat.clone(),
                    participant: if message.chat.ends_with("@g.us") {
                        message.sender.clone()
                    } else {
                        String::new()
                    },
                    ..Default::default()
                });
                if !message.from_me {
                    let phone = match message.sender_phone_number.trim_start_matches('+') {
                        "" => String::new(),
                        digits => format!("+{digits}"),
                    };
                    let mut tx = self.store.begin().await?;
                    let learned = crate::contact::directory::learn_sender(
                        &mut tx,
                        id,
                        &phone,
                        &message.sender_lid,
                        &message.push_name,
                    )
                    .await?;
                    tx.commit_with_events(&self.new_events(log.as_ref(), learned))
                        .await?;
                    self.appended_elsewhere();
                }
                // The message and its events commit together: a crash never
                // keeps one without the other.
                let recorded = crate::message::inbound::record_message(
                    &self.store,
                    id,
                    log_content,
                    *message,
                    |record, chat| {
                        let mut drafts = record::message_arrived(message_pb(record));
                        drafts.push(record::chat_changed(chat));
                        record::to_new_events(id, log.as_ref(), drafts)
                    },
                )
                .await?;
                if recorded.is_some()
                    && let Some(events) = &self.events
                {
                    events.log().appended_elsewhere();
                }
                if let (true, Some(_), Some(key), Some(live)) =
                    (auto_read, recorded, key, self.live.upgrade())
                {
                    match live.connection.mark_read(std::slice::from_ref(&key)).await {
                        Ok(()) => {
                            self.store.mark_inbound_read(id, &[key.id]).await?;
                            crate::message::service::read_chats(
                                &self.store,
                                self.events.as_ref(),
                                id,
                                &[key.remote_jid],
                            )
                            .await?;
                        }
                        Err(err) => {
                            tracing::debug!(session = id, error = %err, "could not mark a message read")
                        }
                    }
                }
            }
            EngineEvent::Receipt {
                chat,
                ids,
                kind,
                from,
                timestamp,
            } => {
                // Ordered with the queue's acks (see Queue::settle_sent).
                let _order = match &self.events {
                    Some(events) => Some(events.status_lock(id).await),
                    None => None,
                };
                let settings = self.settings().await?;
                let status = crate::message::inbound::receipt_status(kind);
                let group = chat.ends_with("@g.us") && !from.is_empty();
                let drafts_of =
                    |changes: &[(MessageStatus, crate::message::model::MessageRecord)]| {
                        let mut drafts = Vec::new();
                        for (before, stored) in changes {
                            let message = message_pb(stored);
                            if group {
                                let time = crate::api::system_time_ms(timestamp);
                                drafts.push(record::member_receipt(&message, &from, status, time));
                            }
                            if *before == stored.status {
                                continue;
                            }
                            // The receipt overtook the queue's ack: SENT first, once.
                            if matches!(before, MessageStatus::Queued | MessageStatus::InProgress) {
                                let mut sent = message.clone();
                                sent.status = MessageStatus::Sent as i32;
                                drafts.push(record::message_status(&sent));
                            }
                            drafts.push(record::message_status(&message));
                        }
                        match &self.events {
                            Some(_) => record::to_new_events(id, settings.as_ref(), drafts),
                            None => Vec::new(),
                        }
                    };
                // The receipt and its events commit together.
                crate::message::inbound::record_receipt(
                    &self.store,
                    id,
                    &ids,
                    kind,
                    timestamp,
                    drafts_of,
                )
                .await?;
                self.appended_elsewhere();
            }
            EngineEvent::Presence {
                chat,
                participant,
                state,
                last_seen,
            } => {
                let last_seen = last_seen.map(crate::api::system_time_ms);
                self.emit(vec![record::presence(
                    &chat,
                    &participant,
                    state,
                    last_seen,
                )])
                .await;
            }
            EngineEvent::MessageChanged {
                whatsapp_id,
                change,
                timestamp,
                ..
            } => {
                let revoked = matches!(change, crate::engine::MessageChange::Revoked);
                let settings = self.settings().await?;
                crate::message::changes::record_change(
                    &self.store,
                    id,
                    MessageSelector::WhatsAppId(&whatsapp_id),
                    change,
                    timestamp,
                    |before| {
                        let drafts = match revoked {
                            true => vec![record::message_deleted(&message_pb(before))],
                            false => Vec::new(),
                        };
                        self.new_events(settings.as_ref(), drafts)
                    },
                )
                .await?;
                self.appended_elsewhere();
            }
            EngineEvent::PollVote(vote) => {
                let settings = self.settings().await?;
                crate::message::changes::record_poll_vote(&self.store, id, &vote, |poll| {
                    let drafts = vec![record::poll_results(&message_pb(poll), &vote.voter)];
                    self.new_events(settings.as_ref(), drafts)
                })
                .await?;
                self.appended_elsewhere();
            }
            EngineEvent::ChatRead { chat } => {
                crate::message::service::read_chats(&self.store, self.events.as_ref(), id, &[chat])
                    .await?;
            }
            EngineEvent::ChatDeleted { chat } => {
                let settings = self.settings().await?;
                let mut tx = self.store.begin().await?;
                tx.delete_chat(id, &chat).await?;
                let drafts = vec![record::chat_deleted(&chat)];
                tx.commit_with_events(&self.new_events(settings.as_ref(), drafts))
                    .await?;
                self.appended_elsewhere();
            }
            EngineEvent::Call(call) => {
                let drafts = self.answer_call(&call).await?;
                self.emit(drafts).await;
            }
            EngineEvent::Directory(change) => {
                let settings = self.settings().await?;
                let mut tx = self.store.begin().await?;
                let drafts =
                    crate::contact::directory::record(&self.store, &mut tx, id, change).await?;
                tx.commit_with_events(&self.new_events(settings.as_ref(), drafts))
                    .await?;
                self.appended_elsewhere();
            }
            EngineEvent::LoggedOut { reason } => {
                self.store.set_auto_connect(id, false).await?;
                self.store.set_user(id, None).await?;
                self.store.forget_directory(id).await?;
                self.set_status(
                    Status::LoggedOut,
                    &format!("logged out: {reason}"),
                    LogType::StatusChange,
                )
                .await?;
            }
        }
        Ok(())
    }
}

impl EventApplier {
    /// Rejects a ringing call when the session's `auto_reject_calls` is on
    /// (seed 001); the `call` event says whether it was.
    async fn answer_call(&self, call: &crate::engine::IncomingCall) -> Result<Vec<EventDraft>> {
        let reject = call.status == wagate_proto::v1::CallStatus::Offer
            && self
                .store
                .get_session(self.id)
                .await?
                .is_some_and(|s| s.settings.auto_reject_calls);
        let mut rejected = false;
        if reject && let Some(live) = self.live.upgrade() {
            match live.connection.reject_call(call).await {
                Ok(()) => rejected = true,
                Err(err) => {
                    tracing::warn!(session = self.id, error = %err, "could not reject a call")
                }
            }
        }
        Ok(vec![record::call(call, rejected)])
    }

    /// Refreshes the group cache in the background once connected: one
    /// query, as WhatsApp clients make at login.
    fn sync_groups(&self) {
        let (Some(live), store, id) = (self.live.upgrade(), self.store.clone(), self.id) else {
            return;
        };
        tokio::spawn(async move {
            match crate::contact::directory::sync_groups(&store, id, live.connection.as_ref()).await
            {
                Ok(count) => tracing::debug!(session = id, groups = count, "group cache refreshed"),
                Err(err) => {
                    tracing::debug!(session = id, error = %err, "could not refresh the group cache")
                }
            }
        });
    }
}

fn after(retry_in: Option<Duration>) -> String {
    retry_in
        .map(|d| format!(" in {} ms", d.as_millis()))
        .unwrap_or_else(|| " with backoff".to_owned())
}

fn connected_reason(user: &LinkedUser) -> String {
    format!("connected as {}", user.jid)
}

/// Records a status change and, when the status is new, its `session.status` event.
pub(super) async fn record_status(
    store: &Store,
    events: Option<&Events>,
    id: SessionId,
    previous: Status,
    change: StatusChange<'_>,
) -> Result<()> {
    let status = change.status;
    let mut logged = Vec::new();
    if status != previous && events.is_some() {
        let draft = record::session_status(status_pb(status), status_pb(previous), change.reason);
        let settings = store.get_session(id).await?.map(|s| s.settings);
        logged = record::to_new_events(id, settings.as_ref(), vec![draft]);
    }
    // The status and its event commit together.
    store.record_status_with_events(id, change, &logged).await?;
    if let (false, Some(events)) = (logged.is_empty(), events) {
        events.log().appended_elsewhere();
    }
    Ok(())
}

/// Logs events; a failure is logged, not raised: the change itself is recorded.
async fn emit(events: Option<&Events>, id: SessionId, drafts: Vec<EventDraft>) {
    if let Some(events) = events
        && let Err(err) = events.record(id, drafts).await
    {
        tracing::warn!(session = id, error = %err, "could not log session events");
    }
}
