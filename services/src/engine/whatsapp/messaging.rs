//! Messages through whatsapp-rust: our content mapped to WhatsApp's protobuf
//! messages and sent, receipts, presence, edits, revocations and media.

use std::time::SystemTime;

use whatsapp_rust::Client;
use wagate_proto::v1::{MessageKey, PresenceState};

use crate::engine::{MediaBlob, OutgoingMessage};
use crate::error::{Error, Result};

fn not_yet(what: &str) -> Error {
    Error::unimplemented(format!(
        "{what} is not implemented for the whatsapp engine yet; the sim engine supports it"
    ))
}

pub async fn send(_client: &Client, _message: &OutgoingMessage) -> Result<SystemTime> {
    Err(not_yet("sending messages"))
}

pub async fn edit(_client: &Client, _chat: &str, _id: &str, _text: &str) -> Result<()> {
    Err(not_yet("editing messages"))
}

pub async fn revoke(_client: &Client, _chat: &str, _key: &MessageKey) -> Result<()> {
    Err(not_yet("deleting messages"))
}

pub async fn mark_read(_client: &Client, _keys: &[MessageKey]) -> Result<()> {
    Err(not_yet("marking messages read"))
}

pub async fn send_presence(
    _client: &Client,
    _presence: PresenceState,
    _chat: Option<&str>,
) -> Result<()> {
    Err(not_yet("sending presence"))
}

pub async fn download_media(_client: &Client, _media_ref: &str) -> Result<MediaBlob> {
    Err(not_yet("downloading media"))
}
