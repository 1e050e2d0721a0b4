//! The outbound queue's workers: one per live session, sending its messages
//! in order. A message is marked IN_PROGRESS with its WhatsApp id before it
//! goes on the wire, so after a crash the worker first asks the engine whether
//! that id reached WhatsApp (and resends the same id only if not, which
//! recipients would drop as a duplicate anyway): nothing is lost or sent twice.

use super::convert::message_pb;
use crate::event::{Events, record};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::Rng;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use wagate_proto::v1 as pb;
use wagate_proto::v1::message::Content;

use super::model::{Failure, MessageRecord, Status};
use crate::config::QueueConfig;
use crate::engine::sim::network::new_message_id;
use crate::engine::{Connection, MediaBlob, OutgoingMessage, Quoted, SendLookup};
use crate::error::{Error, Reason, Result};
use crate::media::{Category, MediaService};
use crate::session::model::SessionId;
use crate::store::{NewEvent, Store, now_ms};

/// How often an idle worker looks at the store anyway (messages queued
/// through another replica).
const IDLE_POLL: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(300);

struct Inner {
    store: Store,
    media: MediaService,
    config: QueueConfig,
    events: Option<Events>,
    wakeups: Mutex<HashMap<SessionId, Arc<Notify>>>,
}

/// Starts and wakes the per-session workers. Cheap to clone.
#[derive(Clone)]
pub struct Queue {
    inner: Arc<Inner>,
}

/// A running worker; stop it before closing its connection.
pub struct Worker {
    cancel: CancellationToken,
    task: JoinHandle<()>,
}

impl Worker {
    pub async fn stop(self) {
        self.cancel.cancel();
        let _ = self.task.await;
    }
}

impl Queue {
    pub fn new(
        store: Store,
        media: MediaService,
        config: QueueConfig,
        events: Option<Events>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                events,
                store,
                media,
                config,
                wakeups: Mutex::new(HashMap::new()),
            }),
        }
    }

    fn wakeup(&self, session: SessionId) -> Arc<Notify> {
        self.inner
            .wakeups
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(session)
            .or_default()
            .clone()
    }

    /// New work for the session's worker (a message queued, requeued or cancelled).
    pub fn notify(&self, session: SessionId) {
        self.wakeup(session).notify_one();
    }

    /// Starts the session's worker on a live connection. It sends while
    /// `connected` is true and waits otherwise.
    pub fn start(
        &self,
        session: SessionId,
        connection: Arc<dyn Connection>,
        connected: watch::Receiver<bool>,
    ) -> Worker {
        let cancel = CancellationToken::new();
        let worker = SessionWorker {
            session,
            inner: self.inner.clone(),
            wakeup: self.wakeup(session),
            connection,
            connected,
            last_send: None,
        };
        let task = tokio::spawn(worker.run(cancel.clone()));
        Worker { cancel, task }
    }
}

struct SessionWorker {
    session: SessionId,
    inner: Arc<Inner>,
    wakeup: Arc<Notify>,
    connection: Arc<dyn Connection>,
    connected: watch::Receiver<bool>,
    last_send: Option<tokio::time::Instant>,
}

/// What to do after looking at the queue.
enum Next {
    /// Go on with the next message at once.
    Continue,
    /// Nothing to do before this long (or a wakeup).
    Wait(Duration),
}

fn failure_of(err: &Error) -> Failure {
    Failure {
        code: err.code.number(),
        message: err.message.clone(),
        reason: err.reason.as_str().to_owned(),
    }
}

impl SessionWorker {
    async fn run(mut self, cancel: CancellationToken) {
        loop {
            if !*self.connected.borrow() {
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    changed = self.connected.wait_for(|c| *c) => if changed.is_err() { return },
                }
            }
            let next = tokio::select! {
                _ = cancel.cancelled() => return,
                next = self.step() => next,
            };
            let wait = match next {
                Ok(Next::Continue) => continue,
                Ok(Next::Wait(wait)) => wait,
                Err(err) => {
                    tracing::warn!(session = self.session, error = %err, "message queue: cannot read the queue; retrying");
                    Duration::from_secs(1)
                }
            };
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = self.wakeup.notified() => {}
                _ = tokio::time::sleep(wait) => {}
                _ = self.connected.changed() => {}
            }
        }
    }

    /// Handles the head of the queue once.
    async fn step(&mut self) -> Result<Next> {
        let store = &self.inner.store;
        let Some(message) = store.queue_head(self.session).await? else {
            return Ok(Next::Wait(IDLE_POLL));
        };
        let now = now_ms();
        if message.status == Status::Queued && message.next_attempt_at > now {
            let wait = Duration::from_millis((message.next_attempt_at - now) as u64);
            return Ok(Next::Wait(wait.min(IDLE_POLL)));
        }
        let session = store
            .get_session(self.session)
            .await?
            .ok_or_else(|| Error::session_not_found(self.session))?;
        let log_content = session.settings.log_messages;

        // An attempt whose outcome is unknown (a crash, a dropped connection)
        // is reconciled before anything is sent again.
        if !message.whatsapp_id.is_empty() {
            match self
                .connection
                .lookup_sent(&message.chat, &message.whatsapp_id)
                .await
            {
                Ok(SendLookup::Accepted(time)) => {
                    tracing::info!(
                        session = self.session,
                        message = message.id,
                        "message queue: an earlier attempt reached WhatsApp; not sending it again"
                    );
                    let send_time = crate::api::system_time_ms(time);
                    self.settle_sent(&message, &message.whatsapp_id, send_time, log_content)
                        .await?;
                    return Ok(Next::Continue);
                }
                Ok(SendLookup::NotAccepted | SendLookup::Unknown) => {}
                Err(err) => return self.settle_error(&message, err, log_content).await,
            }
        }

        self.pace(&session.settings, &message).await;
        let whatsapp_id = if message.whatsapp_id.is_empty() {
            new_message_id()
        } else {
            message.whatsapp_id.clone()
        };
        if !store.claim_message(message.id, &whatsapp_id).await? {
            return Ok(Next::Continue); // cancelled meanwhile
        }
        let outgoing = match self.prepare(&message, whatsapp_id).await {
            Ok(outgoing) => outgoing,
            Err(err) => return self.settle_error(&message, err, log_content).await,
        };
        let result = self.connection.send_message(&outgoing).await;
        self.last_send = Some(tokio::time::Instant::now());
        match result {
            Ok(time) => {
                let send_time = crate::api::system_time_ms(time);
                self.settle_sent(&message, &outgoing.whatsapp_id, send_time, log_content)
                    .await?;
                Ok(Next::Continue)
            }
            Err(err) => self.settle_error(&message, err, log_content).await,
        }
    }

    /// Account protection, and the optional human-like pause with typing shown.
    async fn pace(&self, settings: &crate::session::model::Settings, message: &MessageRecord) {
        let config = &self.inner.config;
        if settings.account_protection
            && let Some(last) = self.last_send
        {
            tokio::time::sleep_until(last + config.protection_interval).await;
        }
        if !config.typing_delay_max.is_zero() {
            let delay = rand::rng().random_range(config.typing_delay_min..=config.typing_delay_max);
            let voice = matches!(
                message.payload.as_ref().and_then(|p| p.content.as_ref()),
                Some(Content::Audio(a)) if a.voice_note
            );
            let presence = if voice {
                pb::PresenceState::Recording
            } else {
                pb::PresenceState::Composing
            };
            // Showing "typing…" is cosmetic: a failure must not hold the message.
            let _ = self
                .connection
                .send_presence(presence, Some(&message.chat))
                .await;
            tokio::time::sleep(delay).await;
            let _ = self
                .connection
                .send_presence(pb::PresenceState::Paused, Some(&message.chat))
                .await;
        }
    }

    /// The message as the engine sends it: media bytes and the quoted message resolved.
    async fn prepare(
        &self,
        message: &MessageRecord,
        whatsapp_id: String,
    ) -> Result<OutgoingMessage> {
        let payload = message.payload.clone().ok_or_else(|| {
            Error::precondition(
                Reason::MessageStateConflict,
                "the message content is no longer stored",
            )
        })?;
        let content = payload
            .content
            .clone()
            .ok_or_else(|| Error::internal("a queued message has no content"))?;
        let media = match media_of(&content) {
            Some((source, category, mime)) => {
                Some(self.resolve_media(source, category, mime).await?)
            }
            None => None,
        };
        let reply_to = match payload.reply_to.as_ref().and_then(|r| r.target.as_ref()) {
            Some(pb::message_reference::Target::Key(key)) => {
                let quoted = self.inner.store.find_message(self.session, &key.id).await?;
                Some(Quoted {
                    key: key.clone(),
                    content: quoted.and_then(|q| q.payload).and_then(|p| p.content),
                })
            }
            _ => None,
        };
        Ok(OutgoingMessage {
            whatsapp_id,
            chat: message.chat.clone(),
            content,
            media,
            reply_to,
            mentions: payload.mentions.clone(),
            view_once: payload.view_once,
        })
    }

    async fn resolve_media(
        &self,
        source: &pb::MediaSource,
        category: Category,
        mime: &str,
    ) -> Result<MediaBlob> {
        let declared = (!mime.is_empty()).then_some(mime);
        self.inner
            .media
            .resolve(self.session, source, category, declared)
            .await
    }

    /// A failed attempt: retry later when it may work, fail for good otherwise.
    async fn settle_error(
        &self,
        message: &MessageRecord,
        err: Error,
        log_content: bool,
    ) -> Result<Next> {
        let store = &self.inner.store;
        let failure = failure_of(&err);
        let attempts = message.attempt_count.max(0) as u32 + 1;
        let not_connected = err.reason == Reason::SessionNotConnected;
        if err.is_transient() && (not_connected || attempts < self.inner.config.max_attempts) {
            // A dropped connection is not the message's fault: it does not use up attempts.
            let delay = if not_connected {
                Duration::from_millis(500)
            } else {
                backoff(self.inner.config.retry_backoff, attempts)
            };
            tracing::info!(session = self.session, message = message.id, error = %err, retry_in = ?delay, "message queue: send failed; will retry");
            store
                .mark_retry(message.id, &failure, now_ms() + delay.as_millis() as i64)
                .await?;
            return Ok(Next::Wait(delay.min(IDLE_POLL)));
        }
        let failure = if err.is_transient() {
            Failure {
                message: format!("gave up after {attempts} attempts: {}", err.message),
                ..failure
            }
        } else {
            failure
        };
        tracing::info!(session = self.session, message = message.id, error = %failure.message, "message queue: message failed");
        let mut failed = message.clone();
        failed.status = Status::Failed;
        failed.error = Some(failure.clone());
        let events = self
            .new_events(record::message_sent(message_pb(&failed)))
            .await?;
        store
            .mark_failed(message.id, &failure, log_content, &events)
            .await?;
        self.appended(&events);
        Ok(Next::Continue)
    }

    /// Records a message WhatsApp accepted, with `message.sent` and its
    /// companions. A receipt may have come first (it logged SENT then): the
    /// status lock orders the two, and SENT is logged once.
    async fn settle_sent(
        &self,
        message: &MessageRecord,
        whatsapp_id: &str,
        send_time: i64,
        log_content: bool,
    ) -> Result<()> {
        let store = &self.inner.store;
        let _order = match &self.inner.events {
            Some(events) => Some(events.status_lock(self.session).await),
            None => None,
        };
        let before = store.get_message(self.session, message.id).await?;
        let mut sent = message.clone();
        sent.status = Status::Sent;
        sent.whatsapp_id = whatsapp_id.to_owned();
        sent.send_time = Some(send_time);
        sent.error = None;
        let mut drafts = record::message_sent(message_pb(&sent));
        if before.is_some_and(|b| {
            matches!(
                b.status,
                Status::Sent | Status::Delivered | Status::Read | Status::Played
            )
        }) {
            drafts.retain(|d| d.event_type != "messages.update");
        }
        let events = self.new_events(drafts).await?;
        store
            .mark_sent(message.id, send_time, log_content, &events)
            .await?;
        self.appended(&events);
        Ok(())
    }

    /// Drafts as log rows (selected for the webhook by the session's
    /// settings), to commit with the change they describe; none without an
    /// event log.
    async fn new_events(&self, drafts: Vec<record::EventDraft>) -> Result<Vec<NewEvent>> {
        if self.inner.events.is_none() {
            return Ok(Vec::new());
        }
        let settings = self
            .inner
            .store
            .get_session(self.session)
            .await?
            .map(|s| s.settings);
        Ok(record::to_new_events(
            self.session,
            settings.as_ref(),
            drafts,
        ))
    }

    /// Tells the log's tailer about events committed with a change.
    fn appended(&self, events: &[NewEvent]) {
        if let (false, Some(log)) = (events.is_empty(), &self.inner.events) {
            log.log().appended_elsewhere();
        }
    }
}

/// The media source, category and declared MIME type of a media content.
pub fn media_of(content: &Content) -> Option<(&pb::MediaSource, Category, &str)> {
    match content {
        Content::Image(c) => Some((c.source.as_ref()?, Category::Image, c.mime_type.as_str())),
        Content::Video(c) => Some((c.source.as_ref()?, Category::Video, c.mime_type.as_str())),
        Content::Audio(c) => Some((c.source.as_ref()?, Category::Audio, c.mime_type.as_str())),
        Content::Document(c) => {
            Some((c.source.as_ref()?, Category::Document, c.mime_type.as_str()))
        }
        Content::Sticker(c) => Some((c.source.as_ref()?, Category::Sticker, "image/webp")),
        _ => None,
    }
}

/// Exponential backoff with ±20% jitter.
fn backoff(first: Duration, attempts: u32) -> Duration {
    let base = first
        .saturating_mul(1u32 << attempts.saturating_sub(1).min(16))
        .min(MAX_BACKOFF);
    base.mul_f64(rand::rng().random_range(0.8..1.2))
}
