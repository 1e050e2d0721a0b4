//! The event domain: recording drafts for a session, subscriptions that
//! replay from a cursor and then follow the log live (with heartbeats, ending
//! on shutdown or when their session is deleted), and history pages.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::log::EventLog;
use super::record::{EventDraft, to_new_events};
use crate::error::{Error, Result};
use crate::filter::Conditions;
use crate::session::model::SessionId;
use crate::store::{EventRow, EventScope, Store};

/// Events a subscription reads per step.
const READ_BATCH: usize = 256;
/// Items buffered per subscription between the reader and the transport:
/// a slow subscriber stops its reader here instead of growing a queue.
const STREAM_BUFFER: usize = 32;

/// One item of a subscription.
#[derive(Clone, Debug)]
pub enum StreamItem {
    Event(Arc<EventRow>),
    /// Every matching event up to `cursor` was sent; `head` is the log's newest.
    Heartbeat {
        cursor: i64,
        head: i64,
    },
}

/// A subscription request, validated.
#[derive(Clone, Debug)]
pub struct Subscription {
    pub scope: EventScope,
    /// Replay after this cursor; `None`: live only.
    pub after: Option<i64>,
    pub heartbeat: Duration,
    /// End the stream with NOT_FOUND when this session is deleted.
    pub session: Option<SessionId>,
}

#[derive(Clone)]
pub struct Events {
    log: EventLog,
    store: Store,
    /// Cancelled when the server shuts down: streams end with UNAVAILABLE.
    streams_end: CancellationToken,
    /// Per session: held while a message status changes and its events are
    /// logged, so the queue's acks and the engine's receipts log in order.
    status_locks: Arc<std::sync::Mutex<HashMap<SessionId, Arc<tokio::sync::Mutex<()>>>>>,
}

impl Events {
    pub fn new(log: EventLog, store: Store, streams_end: CancellationToken) -> Self {
        Self {
            log,
            store,
            streams_end,
            status_locks: Arc::default(),
        }
    }

    /// Serializes a session's message status changes with their events.
    pub async fn status_lock(&self, session: SessionId) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = self
            .status_locks
            .lock()
            .expect("status locks")
            .entry(session)
            .or_default()
            .clone();
        lock.lock_owned().await
    }

    pub fn log(&self) -> &EventLog {
        &self.log
    }

    /// Logs drafts for a session, selected for its webhook by its current
    /// settings. Returns once they are durable.
    pub async fn record(&self, session: SessionId, drafts: Vec<EventDraft>) -> Result<Vec<i64>> {
        if drafts.is_empty() {
            return Ok(Vec::new());
        }
        let settings = self.store.get_session(session).await?.map(|s| s.settings);
        self.log
            .append(to_new_events(session, settings.as_ref(), drafts))
            .await
    }

    /// Starts a subscription; items arrive on the returned channel.
    pub async fn subscribe(
        &self,
        subscription: Subscription,
    ) -> Result<mpsc::Receiver<Result<StreamItem>>> {
        let start = match subscription.after {
            Some(after) => {
                self.log.check_resume(after).await?;
                after
            }
            None => self.log.head(),
        };
        let (tx, rx) = mpsc::channel(STREAM_BUFFER);
        tokio::spawn(follow(self.clone(), subscription, start, tx));
        Ok(rx)
    }

    /// A page of history; returns the events and the total matching.
    pub async fn list(
        &self,
        session: Option<SessionId>,
        filter: &Conditions,
        after: Option<i64>,
        newest_first: bool,
        limit: i64,
    ) -> Result<(Vec<EventRow>, i64)> {
        if let Some(session) = session
            && self.store.get_session(session).await?.is_none()
        {
            return Err(Error::session_not_found(session));
        }
        self.store
            .list_events(session, filter, after, newest_first, limit)
            .await
    }

    pub async fn get(&self, session: SessionId, cursor: i64) -> Result<EventRow> {
        self.store.get_event(session, cursor).await?.ok_or_else(|| {
            Error::not_found(format!(
                "sessions/{session}/events/{cursor} does not exist or has expired"
            ))
        })
    }
}

/// Replays then follows the log for one subscriber.
async fn follow(
    events: Events,
    subscription: Subscription,
    mut position: i64,
    tx: mpsc::Sender<Result<StreamItem>>,
) {
    let log = &events.log;
    let mut head = log.watch_head();
    let mut last_sent = Instant::now();
    loop {
        head.borrow_and_update();
        let batch = match log.read(position, &subscription.scope, READ_BATCH).await {
            Ok(batch) => batch,
            Err(err) => {
                let _ = tx.send(Err(err)).await;
                return;
            }
        };
        let sent_any = !batch.events.is_empty();
        for event in batch.events {
            let cursor = event.cursor;
            tokio::select! {
                sent = tx.send(Ok(StreamItem::Event(event))) => if sent.is_err() { return },
                () = events.streams_end.cancelled() => return end_on_shutdown(&tx, position).await,
            }
            position = cursor;
        }
        position = position.max(batch.scanned_through);
        if sent_any {
            last_sent = Instant::now();
        }
        if position < log.head() {
            continue;
        }
        let idle = subscription.heartbeat.saturating_sub(last_sent.elapsed());
        tokio::select! {
            () = events.streams_end.cancelled() => return end_on_shutdown(&tx, position).await,
            () = tx.closed() => return,
            changed = head.changed() => if changed.is_err() { return },
            () = tokio::time::sleep(idle) => {
                if let Some(session) = subscription.session {
                    match events.store.get_session(session).await {
                        Ok(Some(_)) => {}
                        Ok(None) => {
                            let _ = tx.send(Err(Error::session_not_found(session))).await;
                            return;
                        }
                        Err(err) => tracing::debug!(error = %err, "checking a subscribed session"),
                    }
                }
                let beat = StreamItem::Heartbeat { cursor: position, head: log.head() };
                if tx.send(Ok(beat)).await.is_err() {
                    return;
                }
                last_sent = Instant::now();
            }
        }
    }
}

async fn end_on_shutdown(tx: &mpsc::Sender<Result<StreamItem>>, position: i64) {
    let _ = tx
        .send(Err(Error::unavailable(format!(
            "the server is shutting down; resume with after_cursor {position}"
        ))))
        .await;
}
