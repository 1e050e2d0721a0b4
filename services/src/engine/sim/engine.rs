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
use wagate_proto::wagate::simnet::v1::query_request::Query;

use super::{SimNetwork, directory};
use crate::engine::directory::{GroupSetting, JoinedGroup, ParticipantChange, Picture};
use crate::engine::{
    Connection, Engine, EngineEvent, InboundMessage, MediaBlob, MessageChange, OpenOptions,
    OutgoingMessage, PairCode, PollVote, ReceiptKind, SendLookup, not_connected,
};
use crate::error::{Code, Error, Reason, Result};
use crate::session::model::{LinkedUser, SessionId};
use crate::store::Store;
use wagate_proto::v1 as api;

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
        let online = Arc::new(Mutex::new(None));
        let device = DeviceTask {
            online: online.clone(),
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
            online,
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
    /// The device's credentials while it is logged in.
    online: Arc<Mutex<Option<pb::DeviceCredentials>>>,
}

/// Media content in a network message points at the network's media store.
const MEDIA_URI_PREFIX: &str = "simnet-media:";

fn picture(jid: &str, preview: bool) -> Query {
    Query::GetPicture(pb::GetPicture {
        jid: jid.to_owned(),
        preview,
    })
}

impl SimConnection {
    /// Asks the network a contact or group query as this device.
    async fn query(&self, what: &str, query: Query) -> Result<pb::query_response::Result> {
        let credentials = self.credentials(what)?;
        directory::query(self.network.as_ref(), credentials, query).await
    }

    fn credentials(&self, what: &str) -> Result<pb::DeviceCredentials> {
        self.online
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .ok_or_else(|| not_connected(what))
    }

    /// The content as the network carries it: media uploaded, sources replaced by handles.
    async fn network_content(
        &self,
        credentials: &pb::DeviceCredentials,
        message: &OutgoingMessage,
    ) -> Result<api::Message> {
        use api::message::Content;
        let mut content = message.content.clone();
        if let Some(blob) = &message.media {
            let handle = self
                .network
                .upload_media(pb::UploadMediaRequest {
                    credentials: Some(credentials.clone()),
                    content: blob.bytes.to_vec(),
                    mime_type: blob.mime_type.clone(),
                })
                .await?;
            let source = Some(api::MediaSource {
                source: Some(api::media_source::Source::Uri(format!(
                    "{MEDIA_URI_PREFIX}{handle}"
                ))),
            });
            let size = blob.bytes.len() as i64;
            let mime = blob.mime_type.clone();
            match &mut content {
                Content::Image(c) => (c.source, c.size_bytes, c.mime_type) = (source, size, mime),
                Content::Video(c) => (c.source, c.size_bytes, c.mime_type) = (source, size, mime),
                Content::Audio(c) => (c.source, c.size_bytes, c.mime_type) = (source, size, mime),
                Content::Document(c) => {
                    (c.source, c.size_bytes, c.mime_type) = (source, size, mime);
                    if c.file_name.is_empty() {
                        c.file_name = blob.file_name.clone();
                    }
                }
                Content::Sticker(c) => (c.source, c.size_bytes) = (source, size),
                _ => {}
            }
        }
        Ok(api::Message {
            content: Some(content),
            reply_to: message.reply_to.as_ref().map(|q| api::MessageReference {
                target: Some(api::message_reference::Target::Key(q.key.clone())),
            }),
            mentions: message.mentions.clone(),
            view_once: message.view_once,
            ..Default::default()
        })
    }

    async fn send_request(&self, request: pb::SendMessageRequest) -> Result<SystemTime> {
        self.network.send_message(request).await
    }
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

    async fn send_message(&self, message: &OutgoingMessage) -> Result<SystemTime> {
        let credentials = self.credentials("send a message")?;
        let content = self.network_content(&credentials, message).await?;
        self.send_request(pb::SendMessageRequest {
            credentials: Some(credentials),
            id: message.whatsapp_id.clone(),
            chat: message.chat.clone(),
            content: Some(content),
            ..Default::default()
        })
        .await
    }

    async fn lookup_sent(&self, _chat: &str, whatsapp_id: &str) -> Result<SendLookup> {
        let credentials = self.credentials("look up a message")?;
        Ok(
            match self
                .network
                .lookup_message(&credentials, whatsapp_id)
                .await?
            {
                Some(time) => SendLookup::Accepted(time),
                None => SendLookup::NotAccepted,
            },
        )
    }

    async fn edit_message(&self, chat: &str, whatsapp_id: &str, new_text: &str) -> Result<()> {
        let credentials = self.credentials("edit a message")?;
        self.send_request(pb::SendMessageRequest {
            credentials: Some(credentials),
            id: super::network::new_message_id(),
            chat: chat.to_owned(),
            content: Some(api::Message {
                content: Some(api::message::Content::Text(new_text.to_owned())),
                ..Default::default()
            }),
            edit_of: whatsapp_id.to_owned(),
            ..Default::default()
        })
        .await
        .map(|_| ())
    }

    async fn revoke_message(&self, chat: &str, key: &api::MessageKey) -> Result<()> {
        let credentials = self.credentials("delete a message")?;
        self.send_request(pb::SendMessageRequest {
            credentials: Some(credentials),
            id: super::network::new_message_id(),
            chat: chat.to_owned(),
            revoke_of: key.id.clone(),
            ..Default::default()
        })
        .await
        .map(|_| ())
    }

    async fn mark_read(&self, keys: &[api::MessageKey]) -> Result<()> {
        let credentials = self.credentials("mark messages read")?;
        let mut by_chat: Vec<(String, String, Vec<String>)> = Vec::new();
        for key in keys {
            match by_chat.iter_mut().find(|(chat, participant, _)| {
                *chat == key.remote_jid && *participant == key.participant
            }) {
                Some((_, _, ids)) => ids.push(key.id.clone()),
                None => by_chat.push((
                    key.remote_jid.clone(),
                    key.participant.clone(),
                    vec![key.id.clone()],
                )),
            }
        }
        for (chat, participant, ids) in by_chat {
            self.network
                .send_receipt(pb::SendReceiptRequest {
                    credentials: Some(credentials.clone()),
                    chat,
                    participant,
                    ids,
                    kind: pb::ReceiptKind::Read as i32,
                })
                .await?;
        }
        Ok(())
    }

    async fn send_presence(&self, presence: api::PresenceState, chat: Option<&str>) -> Result<()> {
        let credentials = self.credentials("send a presence")?;
        self.network
            .send_presence(pb::SendPresenceRequest {
                credentials: Some(credentials),
                presence: presence as i32,
                chat: chat.unwrap_or_default().to_owned(),
            })
            .await
    }

    async fn download_media(&self, media_ref: &str) -> Result<MediaBlob> {
        let credentials = self.credentials("download media")?;
        let handle = media_ref
            .strip_prefix(MEDIA_URI_PREFIX)
            .unwrap_or(media_ref);
        let (bytes, mime_type) = self.network.download_media(&credentials, handle).await?;
        Ok(MediaBlob {
            bytes: bytes.into(),
            mime_type,
            file_name: String::new(),
        })
    }

    async fn check_numbers(&self, digits: &[String]) -> Result<Vec<api::PhoneNumberCheck>> {
        let query = Query::CheckNumbers(pb::CheckNumbers {
            phone_numbers: digits.to_vec(),
        });
        directory::expect_checks(self.query("check numbers on WhatsApp", query).await?)
    }

    async fn profile_picture(&self, jid: &str, preview: bool) -> Result<Option<Picture>> {
        directory::expect_picture(
            self.query("fetch profile pictures", picture(jid, preview))
                .await?,
        )
    }

    async fn set_blocked(&self, jid: &str, blocked: bool) -> Result<()> {
        let query = Query::SetBlocked(pb::SetBlocked {
            jid: jid.to_owned(),
            blocked,
        });
        directory::expect_done(self.query("block contacts", query).await?)
    }

    async fn save_contact(
        &self,
        jid: &str,
        full_name: &str,
        first_name: &str,
        _save_on_primary_address_book: bool,
    ) -> Result<()> {
        let query = Query::SaveContact(pb::SaveContact {
            jid: jid.to_owned(),
            full_name: full_name.to_owned(),
            first_name: first_name.to_owned(),
        });
        directory::expect_done(self.query("save contacts", query).await?)
    }

    async fn create_group(&self, subject: &str, participants: &[String]) -> Result<api::Group> {
        let query = Query::CreateGroup(pb::CreateGroup {
            subject: subject.to_owned(),
            participants: participants.to_vec(),
        });
        directory::expect_group(self.query("create groups", query).await?)
    }

    async fn group_info(&self, group: &str) -> Result<api::Group> {
        let query = Query::GetGroup(pb::GetGroup {
            jid: group.to_owned(),
        });
        directory::expect_group(self.query("query groups", query).await?)
    }

    async fn joined_groups(&self) -> Result<Vec<api::Group>> {
        let query = Query::ListGroups(pb::ListGroups {});
        directory::expect_groups(self.query("list groups", query).await?)
    }

    async fn change_participants(
        &self,
        group: &str,
        change: ParticipantChange,
        participants: &[String],
    ) -> Result<Vec<api::ParticipantResult>> {
        let query = directory::change_query(group, change, participants);
        directory::expect_results(self.query("change group participants", query).await?)
    }

    async fn update_group(&self, group: &str, setting: &GroupSetting) -> Result<()> {
        let query = directory::update_query(group, setting);
        directory::expect_done(self.query("change group settings", query).await?)
    }

    async fn group_picture(&self, group: &str, preview: bool) -> Result<Option<Picture>> {
        directory::expect_picture(
            self.query("fetch group pictures", picture(group, preview))
                .await?,
        )
    }

    async fn invite_code(&self, group: &str, reset: bool) -> Result<String> {
        let query = Query::GetInviteCode(pb::GetInviteCode {
            group: group.to_owned(),
            reset,
        });
        directory::expect_invite_code(self.query("get invite links", query).await?)
    }

    async fn invite_info(&self, code: &str) -> Result<api::Group> {
        let query = Query::GetInviteInfo(pb::GetInviteInfo {
            code: code.to_owned(),
        });
        directory::expect_group(self.query("preview invites", query).await?)
    }

    async fn join_group(&self, code: &str) -> Result<JoinedGroup> {
        let query = Query::JoinGroup(pb::JoinGroup {
            code: code.to_owned(),
        });
        directory::expect_joined(self.query("join groups", query).await?)
    }

    async fn leave_group(&self, group: &str) -> Result<()> {
        let query = Query::LeaveGroup(pb::LeaveGroup {
            group: group.to_owned(),
        });
        directory::expect_done(self.query("leave groups", query).await?)
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
    online: Arc<Mutex<Option<pb::DeviceCredentials>>>,
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
        let mut stream = match self.network.attach(credentials.clone()).await {
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
                    *self.online.lock().unwrap_or_else(|p| p.into_inner()) =
                        Some(credentials.clone());
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
                    if credentials.is_some() {
                        *self.online.lock().unwrap_or_else(|p| p.into_inner()) =
                            credentials.clone();
                    }
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
                E::Message(message) => inbound_event(*message),
                E::Receipt(receipt) => receipt_event(receipt),
                E::Directory(notification) => match super::directory::event(*notification) {
                    Some(event) => event,
                    None => continue,
                },
                E::Presence(presence) => EngineEvent::Presence {
                    chat: presence.chat,
                    participant: presence.from,
                    state: api::PresenceState::try_from(presence.presence)
                        .unwrap_or(api::PresenceState::Unspecified),
                    last_seen: None,
                },
            };
            if !self.emit(mapped).await {
                return Ended::Stop;
            }
        }
        *self.linking_id.lock().unwrap_or_else(|p| p.into_inner()) = None;
        *self.online.lock().unwrap_or_else(|p| p.into_inner()) = None;
        Ended::Retry {
            reason: "the connection to the simulated network closed".into(),
            was_connected: connected,
        }
    }
}

fn time_of(timestamp: Option<prost_types::Timestamp>) -> SystemTime {
    timestamp
        .and_then(|t| SystemTime::try_from(t).ok())
        .unwrap_or_else(SystemTime::now)
}

fn inbound_event(message: pb::InboundMessage) -> EngineEvent {
    let timestamp = time_of(message.timestamp);
    if let Some(vote) = message.poll_vote {
        return EngineEvent::PollVote(Box::new(PollVote {
            chat: message.chat,
            poll_id: vote.poll_id,
            voter: message.sender,
            // A hash of the wrong length names no option.
            selected_option_hashes: vote
                .selected_option_hashes
                .iter()
                .filter_map(|h| <[u8; 32]>::try_from(h.as_slice()).ok())
                .collect(),
            timestamp,
        }));
    }
    if !message.revoke_of.is_empty() || !message.edit_of.is_empty() {
        let (whatsapp_id, change) = if message.revoke_of.is_empty() {
            let new_body = message
                .content
                .as_ref()
                .map(crate::message::model::body_of)
                .unwrap_or_default();
            (message.edit_of, MessageChange::Edited { new_body })
        } else {
            (message.revoke_of, MessageChange::Revoked)
        };
        return EngineEvent::MessageChanged {
            chat: message.chat,
            whatsapp_id,
            change,
            timestamp,
        };
    }
    let media_ref = message
        .content
        .as_ref()
        .and_then(crate::message::model::media_source)
        .and_then(|source| match source.source {
            Some(api::media_source::Source::Uri(uri)) if uri.starts_with(MEDIA_URI_PREFIX) => {
                Some(uri)
            }
            _ => None,
        })
        .unwrap_or_default();
    let body = message
        .content
        .as_ref()
        .map(crate::message::model::body_of)
        .unwrap_or_default();
    EngineEvent::MessageReceived(Box::new(InboundMessage {
        whatsapp_id: message.id,
        chat: message.chat,
        sender: message.sender,
        sender_phone_number: message.sender_phone_number,
        sender_lid: message.sender_lid,
        push_name: message.push_name,
        from_me: message.from_me,
        timestamp,
        message: message.content,
        body,
        media_ref,
    }))
}

fn receipt_event(receipt: pb::Receipt) -> EngineEvent {
    let kind = match pb::ReceiptKind::try_from(receipt.kind) {
        Ok(pb::ReceiptKind::Read) => ReceiptKind::Read,
        Ok(pb::ReceiptKind::Played) => ReceiptKind::Played,
        _ => ReceiptKind::Delivered,
    };
    EngineEvent::Receipt {
        chat: receipt.chat,
        ids: receipt.ids,
        kind,
        from: receipt.from,
        timestamp: time_of(receipt.timestamp),
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
