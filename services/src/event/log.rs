//! The event log: appends are group-committed to the store; one tailer per
//! process reads committed events in cursor order into a bounded ring that
//! live readers share. A reader behind the ring reads pages from the store,
//! so a slow subscriber lags on the log instead of holding memory.

use std::collections::VecDeque;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::sync::{Notify, mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;

use crate::error::{Error, Reason, Result};
use crate::store::{EventRow, EventScope, NewEvent, Store};

/// Largest number of events one append transaction carries.
const APPEND_BATCH: usize = 1024;
/// Rows the tailer reads per query.
const TAIL_PAGE: i64 = 1024;

#[derive(Clone, Debug)]
pub struct LogOptions {
    /// Events kept in memory for live readers.
    pub ring_capacity: usize,
    /// How often the tailer looks for events other replicas appended.
    pub poll_interval: Duration,
}

impl Default for LogOptions {
    fn default() -> Self {
        Self {
            ring_capacity: 16_384,
            poll_interval: Duration::from_millis(250),
        }
    }
}

struct AppendJob {
    events: Vec<NewEvent>,
    reply: oneshot::Sender<Result<Vec<i64>>>,
}

/// The newest events, in cursor order; holds every event after `floor`.
struct Ring {
    events: VecDeque<Arc<EventRow>>,
    floor: i64,
    capacity: usize,
}

impl Ring {
    fn push(&mut self, event: EventRow) {
        if self.events.len() == self.capacity
            && let Some(oldest) = self.events.pop_front()
        {
            self.floor = oldest.cursor;
        }
        self.events.push_back(Arc::new(event));
    }
}

struct Inner {
    store: Store,
    appends: mpsc::Sender<AppendJob>,
    ring: RwLock<Ring>,
    /// The newest cursor the tailer has read.
    head: watch::Sender<i64>,
    appended: Notify,
}

/// Events read after a position, and how far the read looked: every event
/// in scope up to `scanned_through` is in `events`.
pub struct ReadBatch {
    pub events: Vec<Arc<EventRow>>,
    pub scanned_through: i64,
}

#[derive(Clone)]
pub struct EventLog {
    inner: Arc<Inner>,
}

impl EventLog {
    /// Starts the appender and the tailer; both stop with `stop`.
    pub async fn start(store: Store, options: LogOptions, stop: CancellationToken) -> Result<Self> {
        let head = store.event_head().await?;
        let (appends, jobs) = mpsc::channel(APPEND_BATCH);
        let inner = Arc::new(Inner {
            store,
            appends,
            ring: RwLock::new(Ring {
                events: VecDeque::new(),
                floor: head,
                capacity: options.ring_capacity.max(1),
            }),
            head: watch::Sender::new(head),
            appended: Notify::new(),
        });
        tokio::spawn(run_appender(inner.clone(), jobs));
        tokio::spawn(run_tailer(inner.clone(), options.poll_interval, stop));
        Ok(Self { inner })
    }

    /// Appends events; returns their cursors once they are durable.
    pub async fn append(&self, events: Vec<NewEvent>) -> Result<Vec<i64>> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let (reply, answer) = oneshot::channel();
        let gone = || Error::unavailable("the server is shutting down");
        self.inner
            .appends
            .send(AppendJob { events, reply })
            .await
            .map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }

    /// Tells the tailer that events were committed outside the appender
    /// (with the change they describe), so it reads them now rather than at
    /// its next poll.
    pub fn appended_elsewhere(&self) {
        self.inner.appended.notify_one();
    }

    /// The newest cursor read from the log.
    pub fn head(&self) -> i64 {
        *self.inner.head.borrow()
    }

    /// Changes of the head, for readers waiting for new events.
    pub fn watch_head(&self) -> watch::Receiver<i64> {
        self.inner.head.subscribe()
    }

    /// Checks that reading after `after` neither skips pruned events nor
    /// starts beyond the log.
    pub async fn check_resume(&self, after: i64) -> Result<()> {
        let head = self.inner.store.event_head().await?.max(self.head());
        if after > head {
            return Err(Error::out_of_range(
                Reason::CursorExpired,
                format!("after_cursor {after} is beyond the newest event ({head})"),
            ));
        }
        let pruned = self.inner.store.events_pruned_through().await?;
        if after > 0 && after < pruned {
            return Err(Error::out_of_range(
                Reason::CursorExpired,
                format!(
                    "events up to cursor {pruned} were pruned (retention); resume from {pruned} or later"
                ),
            ));
        }
        Ok(())
    }

    /// Up to `limit` events in `scope` after `after`: from memory when the
    /// ring still holds that position, else from the store.
    pub async fn read(&self, after: i64, scope: &EventScope, limit: usize) -> Result<ReadBatch> {
        if let Some(batch) = self.read_ring(after, scope, limit) {
            return Ok(batch);
        }
        // Everything up to `head` was committed before the query starts.
        let head = self.head();
        let rows = self
            .inner
            .store
            .events_after(after, scope, limit as i64)
            .await?;
        // Pruning may have passed this reader since it resumed: then the page
        // would silently skip events, so the reader learns it instead.
        if after > 0 {
            let pruned = self.inner.store.events_pruned_through().await?;
            if pruned > after {
                return Err(Error::out_of_range(
                    Reason::CursorExpired,
                    format!(
                        "events after cursor {after} up to {pruned} were pruned (retention) while this reader was behind"
                    ),
                ));
            }
        }
        let full = rows.len() == limit;
        let last = rows.last().map(|r| r.cursor);
        let scanned_through = match (full, last) {
            (true, Some(last)) => last,
            (_, last) => last.unwrap_or(after).max(head),
        };
        Ok(ReadBatch {
            events: rows.into_iter().map(Arc::new).collect(),
            scanned_through,
        })
    }

    fn read_ring(&self, after: i64, scope: &EventScope, limit: usize) -> Option<ReadBatch> {
        let ring = self.inner.ring.read().expect("event ring lock");
        if after < ring.floor {
            return None;
        }
        let start = ring.events.partition_point(|e| e.cursor <= after);
        let mut events = Vec::new();
        let mut scanned_through = ring
            .events
            .back()
            .map_or(ring.floor, |e| e.cursor)
            .max(after);
        for event in ring.events.range(start..) {
            if in_scope(scope, event) {
                if events.len() == limit {
                    scanned_through = events.last().map_or(after, |e: &Arc<EventRow>| e.cursor);
                    break;
                }
                events.push(event.clone());
            }
        }
        Some(ReadBatch {
            events,
            scanned_through,
        })
    }
}

fn in_scope(scope: &EventScope, event: &EventRow) -> bool {
    (scope.sessions.is_empty() || scope.sessions.contains(&event.session_id))
        && (scope.types.is_empty() || scope.types.contains(&event.event_type))
}

/// Commits appends in batches: every append waiting at the moment of a
/// commit shares it.
async fn run_appender(inner: Arc<Inner>, mut jobs: mpsc::Receiver<AppendJob>) {
    let mut batch: Vec<AppendJob> = Vec::new();
    while let Some(job) = jobs.recv().await {
        let mut count = job.events.len();
        batch.push(job);
        while count < APPEND_BATCH {
            match jobs.try_recv() {
                Ok(job) => {
                    count += job.events.len();
                    batch.push(job);
                }
                Err(_) => break,
            }
        }
        let rows: Vec<NewEvent> = batch.iter().flat_map(|j| j.events.clone()).collect();
        match inner.store.append_events(&rows).await {
            Ok(cursors) => {
                let mut cursors = cursors.into_iter();
                for job in batch.drain(..) {
                    let mine: Vec<i64> = cursors.by_ref().take(job.events.len()).collect();
                    let _ = job.reply.send(Ok(mine));
                }
            }
            Err(err) => {
                tracing::warn!(error = %err, events = rows.len(), "appending events failed");
                for job in batch.drain(..) {
                    let _ = job.reply.send(Err(err.clone()));
                }
            }
        }
        inner.appended.notify_one();
    }
}

/// Reads committed events in cursor order into the ring and moves the head.
async fn run_tailer(inner: Arc<Inner>, poll_interval: Duration, stop: CancellationToken) {
    let mut tail = *inner.head.borrow();
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = inner.appended.notified() => {}
            _ = tokio::time::sleep(poll_interval) => {}
        }
        loop {
            let rows = match inner
                .store
                .events_after(tail, &EventScope::default(), TAIL_PAGE)
                .await
            {
                Ok(rows) => rows,
                Err(err) => {
                    tracing::warn!(error = %err, "reading the event log failed; retrying");
                    break;
                }
            };
            let Some(last) = rows.last().map(|r| r.cursor) else {
                break;
            };
            let full = rows.len() as i64 == TAIL_PAGE;
            {
                let mut ring = inner.ring.write().expect("event ring lock");
                for row in rows {
                    ring.push(row);
                }
            }
            tail = last;
            inner.head.send_replace(tail);
            if !full {
                break;
            }
        }
    }
}
