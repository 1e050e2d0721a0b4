//! The device side of the simulated network: one background task per open
//! session that links or logs in, maps network events to engine events, keeps
//! the device credentials in the store and reconnects with backoff.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use futures::StreamExt;
use rand::Rng;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use wagate_proto::wagate::simnet::v1 as pb;

use super::SimNetwork;
use crate::engine::{Connection, Engine, EngineEvent, OpenOptions, PairCode};
use crate::error::{Code, Error, Reason, Result};
use crate::session::model::{LinkedUser, SessionId};
use crate::store::Store;

const ENGINE_NAME: &str = "sim";
const BACKOFF_FIRST: Duration = Duration::from_millis(250);
const BACKOFF_MAX: Duration = Duration::from_secs(30);

#[derive(Serialize, Deserialize)]
struct StoredCredentials {
    device_jid: String,
    secret: String,
}

pub struct SimEngine {
    network: Arc<dyn SimNetwork>,
    store: Store,
}

impl SimEngine {
    pub fn new(network: Arc<dyn SimNetwork>, store: Store) -> Self {
        Self { network, store }
    }

    async fn credentials(&self, session: SessionId) -> Result<Option<pb::DeviceCredentials>> {
        load_credentials(&self.store, session).await
    }
}

async fn load_credentials(
    store: &Store,
    session: SessionId,
) -> Result<Option<pb::DeviceCredentials>> {
    let Some(text) = store.engine_credentials(session, ENGINE_NAME).await? else {
        return Ok(None);
    };
    let stored: StoredCredentials = serde_json::from_str(&text)
        .map_err(|e| Error::internal(format!("corrupt sim credentials: {e}")))?;
    Ok(Some(pb::DeviceCredentials {
        device_jid: stored.device_jid,
        secret: stored.secret,
    }))
}

#[async_trait]
impl Engine for SimEngine {
    fn name(&self) -> &'static str {
        ENGINE_NAME
    }

    async fn open(
        &self,
        session: SessionId,
        _options: OpenOptions,
        events: mpsc::Sender<EngineEvent>,
    ) -> Result<Box<dyn Connection>> {
        let cancel = CancellationToken::new();
        let linking_id = Arc::new(Mutex::new(None));
        let device = DeviceTask {
            session,
            network: self.network.clone(),
            store: self.store.clone(),
            events,
            cancel: cancel.clone(),
            linking_id: linking_id.clone(),
        };
        let task = tokio::spawn(device.run());
        Ok(Box::new(SimConnection {
            network: self.network.clone(),
            cancel,
            task: tokio::sync::Mutex::new(Some(task)),
            linking_id,
        }))
    }

    async fn has_credentials(&self, session: SessionId) -> Result<bool> {
        Ok(self.credentials(session).await?.is_some())
    }

    async fn logout(&self, session: SessionId) -> Result<()> {
        if let Some(credentials) = self.credentials(session).await? {
            match self.network.logout(&credentials).await {
                Ok(()) => {}
                // Already unlinked from the phone: nothing left to undo there.
                Err(err) if err.code == Code::NotFound => {}
                Err(err) => {
                    tracing::warn!(session, error = %err, "could not unlink the device on the network; wiping credentials anyway")
                }
            }
        }
        self.store
            .delete_engine_credentials(session, ENGINE_NAME)
            .await
    }
}

struct SimConnection {
    network: Arc<dyn SimNetwork>,
    cancel: CancellationToken,
    task: tokio::sync::Mutex<Option<JoinHandle<()>>>,
    linking_id: Arc<Mutex<Option<String>>>,
}

#[async_trait]
impl Connection for SimConnection {
    async fn request_pair_code(&self, phone_digits: &str) -> Result<PairCode> {
        let id = self
            .linking_id
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let id = id.ok_or_else(|| {
            Error::precondition(
                Reason::SessionStateConflict,
                "the session is not linking a new device",
            )
        })?;
        self.network.request_pair_code(&id, phone_digits).await
    }

    async fn close(&self) {
        self.cancel.cancel();
        if let Some(task) = self.task.lock().await.take() {
            let _ = task.await;
        }
    }
}

struct DeviceTask {
    session: SessionId,
    network: Arc<dyn SimNetwork>,
    store: Store,
    events: mpsc::Sender<EngineEvent>,
    cancel: CancellationToken,
    linking_id: Arc<Mutex<Option<String>>>,
}

/// Why a connection attempt ended.
enum Ended {
    /// Final: do not reconnect.
    Stop,
    /// The connection dropped or could not open; reconnect after a pause.
    Retry { reason: String, was_connected: bool },
}

impl DeviceTask {
    async fn run(self) {
        let mut failures: u32 = 0;
        loop {
            let ended = tokio::select! {
                _ = self.cancel.cancelled() => return,
                ended = self.connect_once(&mut failures) => ended,
            };
            let (reason, was_connected) = match ended {
                Ended::Stop => return,
                Ended::Retry {
                    reason,
                    was_connected,
                } => (reason, was_connected),
            };
            failures = failures.saturating_add(1);
            let retry_in = backoff(failures);
            let event = if was_connected {
                EngineEvent::Disconnected {
                    reason,
                    retry_in: Some(retry_in),
                }
            } else {
                EngineEvent::ConnectFailed {
                    reason,
                    retry_in: Some(retry_in),
                }
            };
            if !self.emit(event).await {
                return;
            }
            tokio::select! {
                _ = self.cancel.cancelled() => return,
                _ = tokio::time::sleep(retry_in) => {}
            }
            if !self
                .emit(EngineEvent::Connecting {
                    reason: "reconnecting".into(),
                })
                .await
            {
                return;
            }
        }
    }

    async fn emit(&self, event: EngineEvent) -> bool {
        self.events.send(event).await.is_ok()
    }

    async fn connect_once(&self, failures: &mut u32) -> Ended {
        let credentials = match load_credentials(&self.store, self.session).await {
            Ok(c) => c,
            Err(err) => {
                return Ended::Retry {
                    reason: err.message,
                    was_connected: false,
                };
            }
        };
        let mut stream = match self.network.attach(credentials).await {
            Ok(stream) => stream,
            Err(err) => {
                return Ended::Retry {
                    reason: format!("cannot reach the simulated network: {}", err.message),
                    was_connected: false,
                };
            }
        };
        let mut connected = false;
        while let Some(message) = stream.next().await {
            let Some(event) = message.event else { continue };
            use pb::attach_response::Event as E;
            let mapped = match event {
                E::Linking(linking) => {
                    *self.linking_id.lock().unwrap_or_else(|p| p.into_inner()) =
                        Some(linking.connection_id);
                    continue;
                }
                E::QrCode(qr) => EngineEvent::QrCode {
                    code: qr.code,
                    expire_time: qr
                        .expire_time
                        .and_then(|t| SystemTime::try_from(t).ok())
                        .unwrap_or_else(SystemTime::now),
                },
                E::QrCodesExhausted(_) => {
                    self.emit(EngineEvent::QrCodesExhausted).await;
                    return Ended::Stop;
                }
                E::Paired(paired) => {
                    let Some(credentials) = paired.credentials else {
                        continue;
                    };
                    let stored = StoredCredentials {
                        device_jid: credentials.device_jid.clone(),
                        secret: credentials.secret,
                    };
                    let text = serde_json::to_string(&stored).unwrap_or_default();
                    if let Err(err) = self
                        .store
                        .put_engine_credentials(self.session, ENGINE_NAME, &text)
                        .await
                    {
                        tracing::error!(session = self.session, error = %err, "could not store the linked device's credentials");
                    }
                    *self.linking_id.lock().unwrap_or_else(|p| p.into_inner()) = None;
                    EngineEvent::Paired {
                        user: linked_user(&credentials.device_jid, paired.account.as_ref()),
                    }
                }
                E::Connected(c) => {
                    connected = true;
                    *failures = 0;
                    EngineEvent::Connected {
                        user: linked_user(&c.device_jid, c.account.as_ref()),
                    }
                }
                E::LoggedOut(logged_out) => {
                    if let Err(err) = self
                        .store
                        .delete_engine_credentials(self.session, ENGINE_NAME)
                        .await
                    {
                        tracing::error!(session = self.session, error = %err, "could not wipe credentials after logout");
                    }
                    self.emit(EngineEvent::LoggedOut {
                        reason: logged_out.reason,
                    })
                    .await;
                    return Ended::Stop;
                }
            };
            if !self.emit(mapped).await {
                return Ended::Stop;
            }
        }
        *self.linking_id.lock().unwrap_or_else(|p| p.into_inner()) = None;
        Ended::Retry {
            reason: "the connection to the simulated network closed".into(),
            was_connected: connected,
        }
    }
}

fn linked_user(device_jid: &str, account: Option<&pb::Account>) -> Box<LinkedUser> {
    let account = account.cloned().unwrap_or_default();
    Box::new(LinkedUser {
        jid: device_jid.to_owned(),
        lid: account.lid,
        push_name: account.push_name,
        phone_number: account.phone_number,
    })
}

/// Exponential backoff with ±20% jitter, from 250 ms up to 30 s.
fn backoff(failures: u32) -> Duration {
    let base = BACKOFF_FIRST
        .saturating_mul(1u32 << failures.saturating_sub(1).min(16))
        .min(BACKOFF_MAX);
    base.mul_f64(rand::rng().random_range(0.8..1.2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_caps() {
        assert!(backoff(1) <= Duration::from_millis(300));
        assert!(backoff(3) >= Duration::from_millis(800));
        assert!(backoff(40) <= Duration::from_secs(36));
    }
}
