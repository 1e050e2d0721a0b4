//! What engines send and receive as messages. Content uses the public API's
//! message types (`wagate.v1.Message` content and modifiers) so nothing is
//! translated twice; engines map it to their wire format.

use std::time::SystemTime;

use bytes::Bytes;
use wagate_proto::v1 as pb;

/// The bytes of a media file, resolved before the engine sends it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MediaBlob {
    pub bytes: Bytes,
    pub mime_type: String,
    pub file_name: String,
}

/// A message quoted by a reply: its key and, when logged, its content.
#[derive(Clone, Debug, PartialEq)]
pub struct Quoted {
    pub key: pb::MessageKey,
    pub content: Option<pb::message::Content>,
}

/// A message to send. `whatsapp_id` is chosen (and stored) before the first
/// attempt and kept across retries, so a repeated send is recognised.
#[derive(Clone, Debug, PartialEq)]
pub struct OutgoingMessage {
    pub whatsapp_id: String,
    /// Normalized JID of the chat.
    pub chat: String,
    pub content: pb::message::Content,
    /// The file of a media content (image, video, audio, document, sticker).
    pub media: Option<MediaBlob>,
    pub reply_to: Option<Quoted>,
    /// JIDs.
    pub mentions: Vec<String>,
    pub view_once: bool,
}

/// Whether an earlier send reached WhatsApp: asked before retrying a message
/// whose outcome is unknown (e.g. after a crash).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendLookup {
    /// WhatsApp acknowledged it at this time.
    Accepted(SystemTime),
    /// WhatsApp never got it.
    NotAccepted,
    /// The engine cannot tell; resending with the same id is safe because
    /// recipients drop a repeated message id.
    Unknown,
}

/// A receipt kind, in the order messages progress.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReceiptKind {
    Delivered,
    Read,
    Played,
}

/// A message received by (or sent from another device of) the session's account.
#[derive(Clone, Debug, PartialEq)]
pub struct InboundMessage {
    pub whatsapp_id: String,
    /// JID of the chat (the other user, group or channel).
    pub chat: String,
    /// JID of the author.
    pub sender: String,
    pub sender_phone_number: String,
    pub sender_lid: String,
    pub push_name: String,
    /// Sent by this account from another device (e.g. the phone).
    pub from_me: bool,
    pub timestamp: SystemTime,
    /// Content and modifiers (`reply_to`, `mentions`, `view_once`); `None`
    /// for kinds the API does not model (then `body` may still hold text).
    pub message: Option<pb::Message>,
    pub body: String,
    /// The engine's reference to the message's media, for DownloadMedia.
    pub media_ref: String,
}

/// A vote in a poll: the voter's whole current choice (an empty choice
/// withdraws the vote). Options are named by their SHA-256 hashes, as
/// WhatsApp carries them; only the poll's author can map them to names.
#[derive(Clone, Debug, PartialEq)]
pub struct PollVote {
    /// The chat the poll was sent to.
    pub chat: String,
    /// WhatsApp id of the poll message.
    pub poll_id: String,
    /// JID of the voter.
    pub voter: String,
    pub selected_option_hashes: Vec<[u8; 32]>,
    pub timestamp: SystemTime,
}

/// The hash WhatsApp names a poll option by in votes.
pub fn poll_option_hash(name: &str) -> [u8; 32] {
    use sha2::Digest as _;
    sha2::Sha256::digest(name.as_bytes()).into()
}

/// A change to an earlier message made by its author.
#[derive(Clone, Debug, PartialEq)]
pub enum MessageChange {
    /// The text or caption was edited.
    Edited { new_body: String },
    /// Deleted for everyone.
    Revoked,
}
