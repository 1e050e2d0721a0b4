//! The `sim` engine: sessions on the simulated WhatsApp network. The network
//! runs in-process ([`network::Network`]) or in a `wagate simulator` process
//! reached over gRPC ([`remote::RemoteNetwork`]); the engine does not know which.

pub mod control;
mod directory;
pub mod engine;
pub mod link;
pub mod network;
pub mod remote;

use std::pin::Pin;
use std::time::SystemTime;

use async_trait::async_trait;
use futures::Stream;
use wagate_proto::wagate::simnet::v1 as pb;

use crate::engine::PairCode;
use crate::error::Result;

pub use engine::SimEngine;
pub use network::Network;

/// The events of one device connection; the stream ends when the connection does.
pub type AttachStream = Pin<Box<dyn Stream<Item = pb::AttachResponse> + Send>>;

/// What a device can ask of the network.
#[async_trait]
pub trait SimNetwork: Send + Sync + 'static {
    /// Opens a device connection: links a new device without credentials, logs
    /// in with them.
    async fn attach(&self, credentials: Option<pb::DeviceCredentials>) -> Result<AttachStream>;
    /// Asks for a pair code on a linking connection for the number's digits.
    async fn request_pair_code(&self, connection_id: &str, digits: &str) -> Result<PairCode>;
    /// Unlinks the device.
    async fn logout(&self, credentials: &pb::DeviceCredentials) -> Result<()>;
    /// Sends a message; returns the server's acknowledgement time.
    async fn send_message(&self, request: pb::SendMessageRequest) -> Result<SystemTime>;
    /// When the network accepted the device account's message `id`, if it did.
    async fn lookup_message(
        &self,
        credentials: &pb::DeviceCredentials,
        id: &str,
    ) -> Result<Option<SystemTime>>;
    /// Read or played receipts for received messages.
    async fn send_receipt(&self, request: pb::SendReceiptRequest) -> Result<()>;
    /// A presence update.
    async fn send_presence(&self, request: pb::SendPresenceRequest) -> Result<()>;
    /// Stores media; returns its handle.
    async fn upload_media(&self, request: pb::UploadMediaRequest) -> Result<String>;
    /// Fetches media by handle: bytes and MIME type.
    async fn download_media(
        &self,
        credentials: &pb::DeviceCredentials,
        handle: &str,
    ) -> Result<(Vec<u8>, String)>;
    /// A contact or group query of the device's account (number checks,
    /// pictures, blocking, address book, group operations).
    async fn query(&self, request: pb::QueryRequest) -> Result<pb::QueryResponse>;
}

/// Who may call the simulator's services.
#[derive(Clone)]
pub enum Gate {
    /// In-process network on the main port: the admin token.
    Admin(crate::auth::Authenticator),
    /// `wagate simulator`: its own token when configured, else anyone.
    Token(Option<[u8; 32]>),
}

impl Gate {
    pub async fn check(&self, bearer: Option<&str>) -> Result<()> {
        match self {
            Gate::Admin(auth) => auth.authenticate(bearer).await?.require_admin(),
            Gate::Token(None) => Ok(()),
            Gate::Token(Some(expected)) => {
                use subtle::ConstantTimeEq;
                let presented = crate::auth::hash(bearer.unwrap_or_default());
                if bearer.is_some() && bool::from(presented.ct_eq(expected)) {
                    Ok(())
                } else {
                    Err(crate::error::Error::unauthenticated(
                        "the simulator requires `authorization: Bearer <WAGATE_SIMULATOR_TOKEN>`",
                    ))
                }
            }
        }
    }
}
