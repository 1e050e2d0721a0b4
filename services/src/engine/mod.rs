//! The connection of a session to WhatsApp, behind one trait. Implementations:
//! `sim` (the simulated network) now; `whatsapp` (whatsapp-rust) next. Nothing
//! here names either implementation's types.

pub mod sim;
pub mod whatsapp;

use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use tokio::sync::mpsc;

use crate::error::Result;
use crate::session::model::{LinkedUser, SessionId};

/// What happens on a session's connection, reported by the engine in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EngineEvent {
    /// Trying to reach WhatsApp (first attempt or reconnecting).
    Connecting { reason: String },
    /// A new QR code to show; replaces the previous one.
    QrCode {
        code: String,
        expire_time: SystemTime,
    },
    /// Nobody linked the device before the QR codes ran out. Final.
    QrCodesExhausted,
    /// A device was linked to an account.
    Paired { user: Box<LinkedUser> },
    /// Logged in and online.
    Connected { user: Box<LinkedUser> },
    /// The connection dropped; the engine retries (after `retry_in` when known).
    Disconnected {
        reason: String,
        retry_in: Option<Duration>,
    },
    /// A connection attempt failed; the engine retries (after `retry_in` when known).
    ConnectFailed {
        reason: String,
        retry_in: Option<Duration>,
    },
    /// Something worth a line in the session log that changes no status
    /// (e.g. a pairing attempt that failed).
    Warning { message: String },
    /// The device is not (or no longer) linked; its credentials are gone. Final.
    LoggedOut { reason: String },
    /// WhatsApp ended the connection for good (stream replaced, temporary ban,
    /// refused, client outdated); credentials are kept. Final.
    Stopped { reason: String },
}

impl EngineEvent {
    /// After a final event the engine stops the connection by itself.
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            EngineEvent::QrCodesExhausted
                | EngineEvent::LoggedOut { .. }
                | EngineEvent::Stopped { .. }
        )
    }
}

/// A pair code to enter on the phone.
#[derive(Clone, Debug)]
pub struct PairCode {
    pub code: String,
    pub expire_time: SystemTime,
}

/// Traffic and memory figures of a live session, from the engine.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Resources {
    pub bytes_sent: u64,
    pub bytes_received: u64,
    pub frames_sent: u64,
    pub frames_received: u64,
    pub reconnects: u64,
    /// The engine's own estimate of the memory it holds for the session.
    pub memory_bytes: u64,
}

/// How to open a connection.
#[derive(Clone, Debug, Default)]
pub struct OpenOptions {
    /// Proxy for the session's traffic (`http`, `https` or `socks5` URL), if any.
    pub proxy_url: Option<String>,
}

#[async_trait]
pub trait Engine: Send + Sync + 'static {
    /// Short name, e.g. "sim".
    fn name(&self) -> &'static str;

    /// Opens the session's connection in the background: it links a new device
    /// or logs in with stored credentials, and reconnects by itself until closed
    /// or a final event. Events are sent on `events` in order; the engine waits
    /// when the channel is full rather than dropping one.
    async fn open(
        &self,
        session: SessionId,
        options: OpenOptions,
        events: mpsc::Sender<EngineEvent>,
    ) -> Result<Box<dyn Connection>>;

    /// Whether the session has a linked device's credentials.
    async fn has_credentials(&self, session: SessionId) -> Result<bool>;

    /// Unlinks the session's device from its account (best effort when
    /// WhatsApp cannot be reached) and wipes its credentials. The session's
    /// connection must be closed first.
    async fn logout(&self, session: SessionId) -> Result<()>;

    /// Traffic and memory figures of the session's live connection, if any.
    async fn resources(&self, _session: SessionId) -> Option<Resources> {
        None
    }
}

/// A session's open connection.
#[async_trait]
pub trait Connection: Send + Sync {
    /// Asks for a pair code to link the account of `phone_number` (E.164
    /// digits); the connection must be linking a new device.
    async fn request_pair_code(&self, phone_number: &str) -> Result<PairCode>;

    /// Unlinks the device from its account over this live connection (what
    /// the phone's "Log out" does), before the connection is closed. Engines
    /// that can unlink offline do it in [`Engine::logout`] instead.
    async fn unlink(&self) -> Result<()> {
        Ok(())
    }

    /// Closes the connection, keeping credentials, and waits until the engine's
    /// work for it has stopped: no event is sent after this returns.
    async fn close(&self);
}
