//! The connection of a session to WhatsApp, behind one trait. Implementations:
//! `sim` (the simulated network) now; `whatsapp` (whatsapp-rust) next. Nothing
//! here names either implementation's types.

pub mod directory;
pub mod messaging;
pub mod sim;
pub mod whatsapp;

use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use tokio::sync::mpsc;

pub use self::directory::{DirectoryEvent, GroupSetting, JoinedGroup, ParticipantChange, Picture};
pub use self::messaging::{
    InboundMessage, MediaBlob, MessageChange, OutgoingMessage, PollVote, Quoted, ReceiptKind,
    SendLookup, poll_option_hash,
};
use crate::error::{Error, Result};
use crate::session::model::{LinkedUser, SessionId};
use wagate_proto::v1::{self as pb, MessageKey, PresenceState};

/// What happens on a session's connection, reported by the engine in order.
#[derive(Clone, Debug, PartialEq)]
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
    /// A message arrived (or was sent from another device of the account).
    MessageReceived(Box<InboundMessage>),
    /// Receipts for messages this account sent.
    Receipt {
        chat: String,
        ids: Vec<String>,
        kind: ReceiptKind,
        /// JID of the account that sent the receipt.
        from: String,
        timestamp: SystemTime,
    },
    /// A contact's presence: typing/recording/paused in a chat (`participant`
    /// says who, in groups too), or online/offline (`chat` is the contact).
    Presence {
        chat: String,
        participant: String,
        state: PresenceState,
        last_seen: Option<SystemTime>,
    },
    /// The author edited or deleted an earlier message.
    MessageChanged {
        chat: String,
        whatsapp_id: String,
        change: MessageChange,
        timestamp: SystemTime,
    },
    /// Someone voted in a poll this account sent.
    PollVote(Box<PollVote>),
    /// Contacts or groups changed (see [`DirectoryEvent`]).
    Directory(DirectoryEvent),
    /// A voice or video call: offered to the account, or missed.
    Call(Box<IncomingCall>),
    /// The account read a whole chat on another device (e.g. the phone).
    ChatRead { chat: String },
    /// The account deleted a chat on another device.
    ChatDeleted { chat: String },
}

/// A call to the account.
#[derive(Clone, Debug, PartialEq)]
pub struct IncomingCall {
    pub call_id: String,
    /// JID of the caller (a user JID or LID).
    pub caller: String,
    /// The caller's phone number in E.164 form, when known.
    pub caller_phone_number: String,
    /// JID of the call's creator, needed to reject it.
    pub creator: String,
    pub time: SystemTime,
    pub group_call: bool,
    pub video: bool,
    /// OFFER while it rings; TIMEOUT when it was missed.
    pub status: pb::CallStatus,
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

    /// Sends a message and waits for WhatsApp's acknowledgement; returns its
    /// time. Errors with a transient code (see [`Error::is_transient`]) may be
    /// retried with the same `whatsapp_id`; others are final.
    async fn send_message(&self, message: &OutgoingMessage) -> Result<SystemTime>;

    /// Whether an earlier send of `whatsapp_id` to `chat` reached WhatsApp.
    async fn lookup_sent(&self, _chat: &str, _whatsapp_id: &str) -> Result<SendLookup> {
        Ok(SendLookup::Unknown)
    }

    /// Replaces the text or caption of a message this account sent.
    async fn edit_message(&self, chat: &str, whatsapp_id: &str, new_text: &str) -> Result<()>;

    /// Deletes a message for everyone (`key.from_me` false: another member's
    /// message in a group where this account is admin).
    async fn revoke_message(&self, chat: &str, key: &MessageKey) -> Result<()>;

    /// Sends read receipts for received messages.
    async fn mark_read(&self, keys: &[MessageKey]) -> Result<()>;

    /// Sends a presence: typing/recording/paused in `chat`, or the account's
    /// online state.
    async fn send_presence(&self, presence: PresenceState, chat: Option<&str>) -> Result<()>;

    /// Downloads and decrypts the media of a received message by the
    /// reference the engine gave in [`InboundMessage::media_ref`].
    async fn download_media(&self, media_ref: &str) -> Result<MediaBlob>;

    /// Closes the connection, keeping credentials, and waits until the engine's
    /// work for it has stopped: no event is sent after this returns.
    async fn close(&self);

    /// Declines a ringing call (the session's `auto_reject_calls`).
    async fn reject_call(&self, _call: &IncomingCall) -> Result<()> {
        Err(unsupported("reject calls"))
    }

    // Contacts. JIDs are normalized user JIDs (`<digits>@s.whatsapp.net`)
    // or LIDs (`<id>@lid`), without device suffix.

    /// Whether phone numbers (E.164 digits, no `+`) are on WhatsApp, in the
    /// order asked; `phone_number` of each result is the input.
    async fn check_numbers(&self, _digits: &[String]) -> Result<Vec<pb::PhoneNumberCheck>> {
        Err(unsupported("check numbers on WhatsApp"))
    }

    /// A user's profile picture; `None` when there is none or it is hidden.
    async fn profile_picture(&self, _jid: &str, _preview: bool) -> Result<Option<Picture>> {
        Err(unsupported("fetch profile pictures"))
    }

    /// Blocks or unblocks a user.
    async fn set_blocked(&self, _jid: &str, _blocked: bool) -> Result<()> {
        Err(unsupported("block contacts"))
    }

    /// Saves a contact's names in the account's address book (app state).
    async fn save_contact(
        &self,
        _jid: &str,
        _full_name: &str,
        _first_name: &str,
        _save_on_primary_address_book: bool,
    ) -> Result<()> {
        Err(unsupported("save contacts"))
    }

    // Groups. `group` arguments are group JIDs (`<id>@g.us`); participant
    // arguments are user JIDs or LIDs.

    /// Creates a group with the account as super admin; returns it complete.
    async fn create_group(&self, _subject: &str, _participants: &[String]) -> Result<pb::Group> {
        Err(unsupported("create groups"))
    }

    /// A group's metadata with participants, asked of WhatsApp.
    async fn group_info(&self, _group: &str) -> Result<pb::Group> {
        Err(unsupported("query groups"))
    }

    /// Every group the account is a member of, with participants.
    async fn joined_groups(&self) -> Result<Vec<pb::Group>> {
        Err(unsupported("list groups"))
    }

    /// Adds, removes, promotes or demotes members; one result per input.
    async fn change_participants(
        &self,
        _group: &str,
        _change: ParticipantChange,
        _participants: &[String],
    ) -> Result<Vec<pb::ParticipantResult>> {
        Err(unsupported("change group participants"))
    }

    /// Changes one group setting.
    async fn update_group(&self, _group: &str, _setting: &GroupSetting) -> Result<()> {
        Err(unsupported("change group settings"))
    }

    /// A group's picture; `None` when it has none.
    async fn group_picture(&self, _group: &str, _preview: bool) -> Result<Option<Picture>> {
        Err(unsupported("fetch group pictures"))
    }

    /// The group's invite code (revoked and replaced first with `reset`).
    async fn invite_code(&self, _group: &str, _reset: bool) -> Result<String> {
        Err(unsupported("get invite links"))
    }

    /// Previews the group an invite code leads to.
    async fn invite_info(&self, _code: &str) -> Result<pb::Group> {
        Err(unsupported("preview invites"))
    }

    /// Joins a group with an invite code.
    async fn join_group(&self, _code: &str) -> Result<JoinedGroup> {
        Err(unsupported("join groups"))
    }

    /// Leaves a group.
    async fn leave_group(&self, _group: &str) -> Result<()> {
        Err(unsupported("leave groups"))
    }
}

/// The error of an operation an engine does not offer.
fn unsupported(what: &str) -> Error {
    Error::unimplemented(format!("this engine cannot {what} yet"))
}

/// The error of an engine operation that needs a live, logged-in connection.
pub fn not_connected(what: &str) -> Error {
    Error::precondition(
        crate::error::Reason::SessionNotConnected,
        format!("cannot {what}: the session is not connected to WhatsApp"),
    )
}
