//! Webhooks: one dispatcher per session with its webhook on takes the
//! selected events from the log into deliveries (in cursor order) and POSTs
//! them oldest first, signed, retrying with exponential backoff and jitter
//! until the endpoint answers 2xx, answers a 4xx other than 408/429, or the
//! retry window ends. Deliveries and attempts are in the store, so a restart
//! resumes where it stopped (at least once: receivers dedupe by `webhook-id`).
//! A failing endpoint holds back only its own session.

pub mod client;
pub mod sign;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use rand::Rng as _;
use serde_json::json;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;

use self::client::{PostOutcome, WebhookClient};
use crate::config::WebhookConfig;
use crate::error::{Error, Reason, Result};
use crate::event::EventLog;
use crate::event::json;
use crate::event::record::event_pb;
use crate::filter::Conditions;
use crate::media::Fetcher;
use crate::session::model::{SessionId, WebhookFormat};
use crate::store::{AttemptOutcome, AttemptRow, DeliveryRow, RecordedAttempt, Store, now_ms};

/// Deliveries created per step from the log.
const TAKE_BATCH: i64 = 256;
/// How often the set of sessions with webhooks is read again (and leases renewed).
const SUPERVISE_EVERY: Duration = Duration::from_secs(1);
/// How long a replica's claim on a session's webhook lasts unless renewed:
/// after a replica dies, another takes its sessions over within this time.
const LEASE_TTL: Duration = Duration::from_secs(10);

/// Where a session's webhook goes.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Target {
    url: String,
    secret: String,
    /// The JSON shape of the bodies.
    format: WebhookFormat,
}

struct Dispatcher {
    target: watch::Sender<Target>,
    stop: CancellationToken,
}

/// The error of a delivery whose event the session's webhook format has no
/// counterpart for (its format changed after the event was logged).
const NO_COUNTERPART: &str = "the event has no counterpart in the session's webhook format";

/// Most attempts recorded in one transaction.
const RECORD_BATCH: usize = 256;

type RecordJob = (RecordedAttempt, oneshot::Sender<Result<()>>);

#[derive(Clone)]
pub struct Webhooks {
    store: Store,
    log: EventLog,
    fetcher: Arc<Fetcher>,
    config: WebhookConfig,
    record: mpsc::Sender<RecordJob>,
    /// This replica's name on webhook leases.
    holder: Arc<str>,
}

impl Webhooks {
    /// Must run inside the Tokio runtime: it starts the attempt recorder.
    pub fn new(store: Store, log: EventLog, allow_private: bool, config: WebhookConfig) -> Self {
        let (record, jobs) = mpsc::channel(RECORD_BATCH);
        tokio::spawn(run_recorder(store.clone(), jobs));
        Self {
            store,
            log,
            fetcher: Arc::new(Fetcher::new(allow_private, config.timeout)),
            config,
            record,
            holder: format!("{:016x}", rand::rng().random::<u64>()).into(),
        }
    }

    /// Records an attempt; returns once it is durable. Attempts of all
    /// sessions share commits.
    async fn record_attempt(&self, recorded: RecordedAttempt) -> Result<()> {
        let (reply, done) = oneshot::channel();
        let stopped = || Error::unavailable("the server is shutting down");
        self.record
            .send((recorded, reply))
            .await
            .map_err(|_| stopped())?;
        done.await.map_err(|_| stopped())?
    }

    /// Runs dispatchers for the sessions whose webhook is on until `stop`.
    pub fn start(&self, stop: CancellationToken) {
        tokio::spawn(self.clone().supervise(stop));
    }

    /// Sessions whose webhook lease this replica holds (taking free or
    /// expired ones): only the holder delivers, so replicas never post a
    /// session's events twice or out of order.
    async fn claim(&self, wanted: &HashMap<SessionId, Target>) -> Result<Vec<SessionId>> {
        let ids: Vec<SessionId> = wanted.keys().copied().collect();
        let now = now_ms();
        self.store
            .claim_webhook_leases(&self.holder, &ids, now, now + LEASE_TTL.as_millis() as i64)
            .await
    }

    async fn supervise(self, stop: CancellationToken) {
        let mut running: HashMap<SessionId, Dispatcher> = HashMap::new();
        loop {
            match self.store.webhook_sessions().await {
                Ok(sessions) => {
                    let mut wanted: HashMap<SessionId, Target> = sessions
                        .into_iter()
                        .map(|(id, url, secret, format)| {
                            (
                                id,
                                Target {
                                    url,
                                    secret,
                                    format,
                                },
                            )
                        })
                        .collect();
                    let held = match self.claim(&wanted).await {
                        Ok(held) => held,
                        Err(err) => {
                            // Unsure what is held: deliver nothing until the next try.
                            tracing::warn!(error = %err, "could not renew webhook leases");
                            Vec::new()
                        }
                    };
                    running.retain(|id, dispatcher| {
                        if wanted.contains_key(id) && held.contains(id) {
                            return true;
                        }
                        dispatcher.stop.cancel();
                        if wanted.contains_key(id) {
                            // Another replica holds it now.
                            return false;
                        }
                        let (store, id) = (self.store.clone(), *id);
                        // Switched off or removed: open deliveries end as FAILED.
                        tokio::spawn(async move {
                            if let Err(err) = store.fail_open_deliveries(id).await {
                                tracing::warn!(session = id, error = %err, "could not close webhook deliveries");
                            }
                        });
                        false
                    });
                    wanted.retain(|id, _| held.contains(id));
                    for (id, target) in wanted {
                        match running.get(&id) {
                            Some(dispatcher) => {
                                dispatcher.target.send_if_modified(|current| {
                                    let changed = *current != target;
                                    *current = target.clone();
                                    changed
                                });
                            }
                            None => {
                                let (target_tx, target_rx) = watch::channel(target);
                                let session_stop = stop.child_token();
                                tokio::spawn(self.clone().dispatch(
                                    id,
                                    target_rx,
                                    session_stop.clone(),
                                ));
                                running.insert(
                                    id,
                                    Dispatcher {
                                        target: target_tx,
                                        stop: session_stop,
                                    },
                                );
                            }
                        }
                    }
                }
                Err(err) => {
                    tracing::warn!(error = %err, "could not read the sessions with webhooks")
                }
            }
            tokio::select! {
                () = stop.cancelled() => break,
                () = tokio::time::sleep(SUPERVISE_EVERY) => {}
            }
        }
        for dispatcher in running.values() {
            dispatcher.stop.cancel();
        }
        if let Err(err) = self.store.release_webhook_leases(&self.holder).await {
            tracing::debug!(error = %err, "could not release webhook leases");
        }
    }

    /// One session's deliveries, in order.
    async fn dispatch(
        self,
        session: SessionId,
        target: watch::Receiver<Target>,
        stop: CancellationToken,
    ) {
        // A webhook switched on now starts with the events from now on.
        if let Err(err) = self
            .store
            .start_webhook_cursor(session, self.log.head())
            .await
        {
            tracing::warn!(session, error = %err, "could not start the webhook cursor");
        }
        let mut client = WebhookClient::new(self.fetcher.clone(), self.config.timeout);
        let mut head = self.log.watch_head();
        loop {
            head.borrow_and_update();
            let wait = match self.step(session, &target, &mut client).await {
                Ok(Some(wait)) => wait,
                Ok(None) => continue,
                Err(err) => {
                    tracing::warn!(session, error = %err, "webhook dispatcher step failed");
                    Duration::from_secs(1)
                }
            };
            tokio::select! {
                () = stop.cancelled() => return,
                _ = head.changed() => {}
                () = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// Delivers the oldest open delivery, or takes new events. `Some(wait)`:
    /// nothing to do before `wait` (or new events).
    async fn step(
        &self,
        session: SessionId,
        target: &watch::Receiver<Target>,
        client: &mut WebhookClient,
    ) -> Result<Option<Duration>> {
        let target = target.borrow().clone();
        let Some(delivery) = self.store.next_open_delivery(session).await? else {
            let taken = self
                .store
                .take_webhook_events(session, &target.url, TAKE_BATCH)
                .await?;
            return Ok((taken == 0).then_some(Duration::from_secs(1)));
        };
        let now = now_ms();
        if delivery.next_attempt_at > now {
            return Ok(Some(Duration::from_millis(
                (delivery.next_attempt_at - now) as u64,
            )));
        }
        self.attempt(&delivery, &target, client).await?;
        Ok(None)
    }

    async fn attempt(
        &self,
        delivery: &DeliveryRow,
        target: &Target,
        client: &mut WebhookClient,
    ) -> Result<()> {
        let attempt_number = delivery.attempt_count + 1;
        let start_time = now_ms();
        let outcome = match self
            .store
            .get_event(delivery.session_id, delivery.cursor)
            .await?
        {
            Some(row) => match json::webhook_body(target.format, &event_pb(&row), row.session_id) {
                Some(body) => {
                    post_signed(client, target, &event_id(row.cursor), Bytes::from(body)).await
                }
                None => PostOutcome {
                    status: 0,
                    error: format!(
                        "{NO_COUNTERPART} ({} webhook format)",
                        target.format.as_str()
                    ),
                    response_body: String::new(),
                    duration: Duration::ZERO,
                },
            },
            None => PostOutcome {
                status: 0,
                error: "the event is no longer in the log (retention)".into(),
                response_body: String::new(),
                duration: Duration::ZERO,
            },
        };
        let next = if outcome.succeeded() {
            AttemptOutcome::Succeeded
        } else if outcome.permanent()
            || outcome.error.contains("no longer in the log")
            || outcome.error.starts_with(NO_COUNTERPART)
        {
            AttemptOutcome::Failed
        } else {
            let delay = self.backoff(attempt_number);
            let next_attempt_at = now_ms() + delay.as_millis() as i64;
            if next_attempt_at > delivery.create_time + self.config.retry_for.as_millis() as i64 {
                AttemptOutcome::Failed
            } else {
                AttemptOutcome::Retry { next_attempt_at }
            }
        };
        if !outcome.succeeded() {
            tracing::info!(session = delivery.session_id, cursor = delivery.cursor, attempt = attempt_number, error = %outcome.error, next = ?next, "webhook delivery failed");
        }
        let attempt = AttemptRow {
            attempt: attempt_number,
            start_time,
            duration_ms: outcome.duration.as_millis() as i64,
            http_status_code: i64::from(outcome.status),
            error: outcome.error,
            response_body: outcome.response_body,
        };
        self.record_attempt(RecordedAttempt {
            delivery: delivery.id,
            uri: target.url.clone(),
            attempt,
            outcome: next,
        })
        .await
    }

    /// `first_retry` doubled per attempt, capped at `max_retry`, ±20 % jitter.
    fn backoff(&self, attempt: i64) -> Duration {
        let exponent = (attempt - 1).clamp(0, 30) as u32;
        let base = self
            .config
            .first_retry
            .saturating_mul(2u32.saturating_pow(exponent))
            .min(self.config.max_retry);
        base.mul_f64(rand::rng().random_range(0.8..1.2))
    }

    /// A new delivery of a logged event (RedeliverEvent).
    pub async fn redeliver(&self, session: SessionId, cursor: i64) -> Result<DeliveryRow> {
        let record = self
            .store
            .get_session(session)
            .await?
            .ok_or_else(|| Error::session_not_found(session))?;
        if record.settings.webhook_url.is_empty() || !record.settings.webhook_enabled {
            return Err(Error::precondition(
                Reason::SessionStateConflict,
                "the session has no webhook URL or its webhook is disabled",
            ));
        }
        let event = self
            .store
            .get_event(session, cursor)
            .await?
            .ok_or_else(|| {
                Error::not_found(format!(
                    "sessions/{session}/events/{cursor} does not exist or has expired"
                ))
            })?;
        self.store
            .create_redelivery(
                session,
                cursor,
                &event.event_type,
                &record.settings.webhook_url,
            )
            .await
    }

    /// POSTs a `webhook.test` event once, to `uri` or the session's URL.
    pub async fn send_test(
        &self,
        session: SessionId,
        uri: Option<String>,
    ) -> Result<(String, PostOutcome, String, i64)> {
        let record = self
            .store
            .get_session(session)
            .await?
            .ok_or_else(|| Error::session_not_found(session))?;
        let url = match uri {
            Some(uri) => crate::validate::outbound_url(
                &uri,
                crate::validate::UrlKind::Webhook,
                self.fetcher.allow_private(),
            )
            .map_err(|e| Error::invalid_field("uri", e))?
            .to_string(),
            None if record.settings.webhook_url.is_empty() => {
                return Err(Error::precondition(
                    Reason::SessionStateConflict,
                    "the session has no webhook URL; set one or pass `uri`",
                ));
            }
            None => record.settings.webhook_url.clone(),
        };
        let now = now_ms();
        let format = record.settings.webhook_format;
        let timestamp = match format {
            WebhookFormat::Wasender => json!(now / 1000),
            WebhookFormat::Saas => json!(crate::event::json_saas::iso(&crate::api::timestamp(now))),
        };
        let body = json!({
            "event": "webhook.test",
            "sessionId": session.to_string(),
            "timestamp": timestamp,
            "data": { "message": "a test webhook from wagate" },
        })
        .to_string();
        let target = Target {
            url: url.clone(),
            secret: record.webhook_secret.clone(),
            format,
        };
        let id = format!("test_{now}");
        let mut client = WebhookClient::new(self.fetcher.clone(), self.config.timeout);
        let outcome = post_signed(&mut client, &target, &id, Bytes::from(body.clone())).await;
        Ok((url, outcome, body, now))
    }

    pub async fn list(
        &self,
        session: Option<SessionId>,
        filter: &Conditions,
        before: Option<i64>,
        limit: i64,
    ) -> Result<(Vec<DeliveryRow>, i64)> {
        if let Some(session) = session
            && self.store.get_session(session).await?.is_none()
        {
            return Err(Error::session_not_found(session));
        }
        self.store
            .list_webhook_deliveries(session, filter, before, limit)
            .await
    }
}

/// The stable id of an event's deliveries (`webhook-id`).
pub fn event_id(cursor: i64) -> String {
    format!("evt_{cursor}")
}

async fn post_signed(
    client: &mut WebhookClient,
    target: &Target,
    id: &str,
    body: Bytes,
) -> PostOutcome {
    let headers = sign::headers(&target.secret, id, now_ms() / 1000, &body);
    client.post(&target.url, &headers, body).await
}

/// Commits recorded attempts in batches: every attempt waiting at the moment
/// of a commit shares it.
async fn run_recorder(store: Store, mut jobs: mpsc::Receiver<RecordJob>) {
    let mut batch = Vec::with_capacity(RECORD_BATCH);
    while jobs.recv_many(&mut batch, RECORD_BATCH).await > 0 {
        let (attempts, replies): (Vec<RecordedAttempt>, Vec<_>) = batch.drain(..).unzip();
        match store.record_webhook_attempts(&attempts).await {
            Ok(()) => replies.into_iter().for_each(|reply| {
                let _ = reply.send(Ok(()));
            }),
            // One bad row (e.g. its session deleted meanwhile) must not fail the others.
            Err(_) => {
                for (attempt, reply) in attempts.iter().zip(replies) {
                    let one = store
                        .record_webhook_attempts(std::slice::from_ref(attempt))
                        .await;
                    let _ = reply.send(one);
                }
            }
        }
    }
}
