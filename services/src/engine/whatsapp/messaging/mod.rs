//! Messages through whatsapp-rust: our content mapped to WhatsApp's protobuf
//! messages and sent, receipts, presence, edits, revocations and media.
//! The mappings are pure ([`outgoing`], [`inbound`]); this module talks to
//! the client.

pub mod errors;
pub mod inbound;
pub mod media_ref;
pub mod outgoing;
pub mod polls;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use tokio::sync::oneshot;
use wagate_proto::v1::{MessageKey, PresenceState};
use whatsapp_rust::features::{ChatStateType, PresenceStatus};
use whatsapp_rust::send::{RevokeType, SendOptions};
use whatsapp_rust::types::events::ServerAck;
use whatsapp_rust::upload::UploadOptions;
use whatsapp_rust::waproto::whatsapp as wa;
use whatsapp_rust::{Client, ErrorChainExt, Jid};

use self::errors::{classify, not_on_whatsapp, refusal};
use self::media_ref::MediaRef;
use self::outgoing::{UploadedMedia, build_message, media_type_of};
use crate::engine::{MediaBlob, OutgoingMessage, not_connected};
use crate::error::{Error, Result};

/// How long a sent message may wait for WhatsApp's acknowledgement.
const ACK_TIMEOUT: Duration = Duration::from_secs(30);

/// What the server said about one sent stanza.
#[derive(Debug)]
struct Ack {
    timestamp: Option<SystemTime>,
    /// The nack code, when WhatsApp refused the stanza.
    error: Option<String>,
}

/// Sends that wait for the server's `<ack>`: the library's send returns once
/// the stanza is written, and reports acks only as `ServerAck` events, which
/// the session's event handler hands to [`AckWaiters::resolve`].
#[derive(Default)]
pub struct AckWaiters {
    pending: Mutex<HashMap<String, (u64, oneshot::Sender<Ack>)>>,
    next_ticket: std::sync::atomic::AtomicU64,
}

/// One registered wait; dropping it forgets the registration.
struct PendingAck<'a> {
    waiters: &'a AckWaiters,
    id: String,
    ticket: u64,
    receiver: oneshot::Receiver<Ack>,
}

impl AckWaiters {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (u64, oneshot::Sender<Ack>)>> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers before sending, since the ack may beat the send's return.
    fn expect(&self, id: &str) -> PendingAck<'_> {
        let ticket = self
            .next_ticket
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (sender, receiver) = oneshot::channel();
        // A retry of the same id replaces an abandoned wait.
        self.lock().insert(id.to_owned(), (ticket, sender));
        PendingAck {
            waiters: self,
            id: id.to_owned(),
            ticket,
            receiver,
        }
    }

    /// Completes the send waiting for this ack, if any. Cheap and
    /// non-blocking: it runs on the library's event dispatch.
    pub fn resolve(&self, ack: &ServerAck) {
        if ack.class.as_deref().is_some_and(|class| class != "message") {
            return;
        }
        let Some((_, sender)) = self.lock().remove(&ack.id) else {
            return;
        };
        let _ = sender.send(Ack {
            timestamp: ack.timestamp.map(SystemTime::from),
            error: ack.error.clone(),
        });
    }
}

impl Drop for PendingAck<'_> {
    fn drop(&mut self) {
        let mut pending = self.waiters.lock();
        if pending
            .get(&self.id)
            .is_some_and(|(t, _)| *t == self.ticket)
        {
            pending.remove(&self.id);
        }
    }
}

impl PendingAck<'_> {
    async fn wait(mut self, timeout: Duration) -> Result<SystemTime> {
        match tokio::time::timeout(timeout, &mut self.receiver).await {
            Ok(Ok(Ack {
                error: Some(code), ..
            })) => Err(refusal("send the message", &code, "")),
            Ok(Ok(Ack { timestamp, .. })) => Ok(timestamp.unwrap_or_else(SystemTime::now)),
            Ok(Err(_)) => Err(Error::unavailable(
                "the send was superseded by a retry of the same message",
            )),
            Err(_) => Err(Error::unavailable(format!(
                "WhatsApp did not acknowledge the message within {} s; resending it with the \
                 same id is safe",
                timeout.as_secs()
            ))),
        }
    }
}

/// A chat or author JID as the library's type.
fn parse_jid(jid: &str) -> Result<Jid> {
    jid.parse::<Jid>()
        .map_err(|e| not_on_whatsapp(format!("{jid:?} is not a WhatsApp address: {e}")))
}

fn require_connection(client: &Client, what: &str) -> Result<()> {
    if client.is_connected() {
        Ok(())
    } else {
        Err(not_connected(what))
    }
}

async fn upload(client: &Client, message: &OutgoingMessage) -> Result<Option<UploadedMedia>> {
    let Some(media_type) = media_type_of(&message.content) else {
        return Ok(None);
    };
    let blob = message
        .media
        .as_ref()
        .ok_or_else(|| Error::internal("a media message reached the engine without its file"))?;
    let response = client
        .upload(blob.bytes.to_vec(), media_type, UploadOptions::new())
        .await
        .map_err(|e| {
            let cause: &(dyn std::error::Error + 'static) = e.as_ref();
            match cause.http_status() {
                Some(status) if (400..500).contains(&status) && status != 408 && status != 429 => {
                    Error::whatsapp(
                        crate::error::Code::FailedPrecondition,
                        format!("WhatsApp refused the upload of the file (HTTP {status}): {e:#}"),
                    )
                }
                _ => Error::unavailable(format!("cannot upload the file to WhatsApp: {e:#}")),
            }
        })?;
    Ok(Some(response.into()))
}

/// Sends with the caller's message id and waits for WhatsApp's ack.
pub async fn send(
    client: &Client,
    acks: &AckWaiters,
    message: &OutgoingMessage,
) -> Result<SystemTime> {
    let to = parse_jid(&message.chat)?;
    require_connection(client, "send the message")?;
    let upload = upload(client, message).await?;
    let built = build_message(message, upload.as_ref());
    let ack = acks.expect(&message.whatsapp_id);
    let options = SendOptions::default().with_message_id(message.whatsapp_id.clone());
    client
        .send_message_with_options(to, built, options)
        .await
        .map_err(|e| classify("send the message", &e))?;
    ack.wait(ACK_TIMEOUT).await
}

/// Replaces the text of a message this account sent. The trait gives only
/// the new text, so the edit is sent as text (what WhatsApp shows for both
/// texts and captions).
pub async fn edit(client: &Client, chat: &str, id: &str, text: &str) -> Result<()> {
    let to = parse_jid(chat)?;
    require_connection(client, "edit the message")?;
    let content = wa::Message {
        conversation: Some(text.to_owned()),
        ..Default::default()
    };
    client
        .edit_message(to, id, content)
        .await
        .map_err(|e| classify("edit the message", &e))?;
    Ok(())
}

/// Deletes a message for everyone: this account's own, or as a group admin
/// another member's (`key.participant` names the author).
pub async fn revoke(client: &Client, chat: &str, key: &MessageKey) -> Result<()> {
    let to = parse_jid(chat)?;
    let revoke_type = if key.from_me {
        RevokeType::Sender
    } else if key.participant.is_empty() {
        return Err(Error::invalid_field(
            "key.participant",
            "is required to delete another member's message",
        ));
    } else {
        RevokeType::Admin {
            original_sender: parse_jid(&key.participant)?,
        }
    };
    require_connection(client, "delete the message")?;
    client
        .revoke_message(to, key.id.clone(), revoke_type)
        .await
        .map_err(|e| classify("delete the message", &e))
}

/// Read receipts grouped per chat and author, as WhatsApp takes them.
pub fn receipt_batches(keys: &[MessageKey]) -> Vec<((String, String), Vec<String>)> {
    let mut batches: Vec<((String, String), Vec<String>)> = Vec::new();
    // Our own messages need no read receipt.
    for key in keys.iter().filter(|k| !k.from_me) {
        let group = (key.remote_jid.clone(), key.participant.clone());
        match batches.iter_mut().find(|(g, _)| *g == group) {
            Some((_, ids)) => ids.push(key.id.clone()),
            None => batches.push((group, vec![key.id.clone()])),
        }
    }
    batches
}

pub async fn mark_read(client: &Client, keys: &[MessageKey]) -> Result<()> {
    let batches = receipt_batches(keys);
    if batches.is_empty() {
        return Ok(());
    }
    require_connection(client, "mark messages read")?;
    for ((chat, participant), ids) in batches {
        let chat = parse_jid(&chat)?;
        let sender = if participant.is_empty() {
            None
        } else {
            Some(parse_jid(&participant)?)
        };
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        client
            .mark_as_read(&chat, sender.as_ref(), &ids)
            .await
            .map_err(|e| classify("mark messages read", e.as_ref()))?;
    }
    Ok(())
}

pub async fn send_presence(
    client: &Client,
    presence: PresenceState,
    chat: Option<&str>,
) -> Result<()> {
    let chat_state = match presence {
        PresenceState::Composing => Some(ChatStateType::Composing),
        PresenceState::Recording => Some(ChatStateType::Recording),
        PresenceState::Paused => Some(ChatStateType::Paused),
        PresenceState::Available | PresenceState::Unavailable => None,
        PresenceState::Unspecified => {
            return Err(Error::invalid_field("presence", "is required"));
        }
    };
    match chat_state {
        Some(state) => {
            let chat = chat
                .filter(|c| !c.is_empty())
                .ok_or_else(|| Error::invalid_field("chat", "is required for typing states"))?;
            let to = parse_jid(chat)?;
            require_connection(client, "send the chat state")?;
            client
                .chatstate()
                .send(&to, state)
                .await
                .map_err(|e| classify("send the chat state", &e))
        }
        None => {
            let status = if presence == PresenceState::Available {
                PresenceStatus::Available
            } else {
                PresenceStatus::Unavailable
            };
            require_connection(client, "send the presence")?;
            client
                .presence()
                .set(status)
                .await
                .map_err(|e| classify("send the presence", &e))
        }
    }
}

pub async fn download_media(client: &Client, media_ref: &str) -> Result<MediaBlob> {
    let reference =
        MediaRef::decode(media_ref).map_err(|e| Error::invalid_field("media_ref", e))?;
    let params = reference
        .download_params()
        .map_err(|e| Error::invalid_field("media_ref", e))?;
    require_connection(client, "download the media")?;
    let bytes = client.download_from_params(&params).await.map_err(|e| {
        let cause: &(dyn std::error::Error + 'static) = e.as_ref();
        match cause.http_status() {
            Some(404 | 410) => Error::not_found(
                "the media is no longer on WhatsApp's servers (media expires after some weeks)",
            ),
            _ if cause
                .downcast_ref::<whatsapp_rust::download::MediaDecryptionError>()
                .is_some() =>
            {
                Error::whatsapp(
                    crate::error::Code::FailedPrecondition,
                    format!("the downloaded media does not decrypt: {e:#}"),
                )
            }
            _ => Error::unavailable(format!("cannot download the media from WhatsApp: {e:#}")),
        }
    })?;
    Ok(MediaBlob {
        bytes: Bytes::from(bytes),
        mime_type: reference.mime_type,
        file_name: reference.file_name,
    })
}

#[cfg(test)]
mod tests {
    use whatsapp_rust::chrono::DateTime;

    use super::*;
    use crate::error::{Code, Reason};

    fn ack(id: &str, class: Option<&str>, error: Option<&str>) -> ServerAck {
        ServerAck::builder()
            .id(id.to_owned())
            .maybe_class(class.map(str::to_owned))
            .maybe_timestamp(DateTime::from_timestamp(1_800_000_000, 0))
            .maybe_error(error.map(str::to_owned))
            .build()
    }

    #[tokio::test]
    async fn a_send_completes_with_the_server_ack_time() {
        let waiters = AckWaiters::default();
        let pending = waiters.expect("3EB0AA");
        waiters.resolve(&ack("3EB0AA", Some("receipt"), None));
        waiters.resolve(&ack("OTHER", Some("message"), None));
        waiters.resolve(&ack("3EB0AA", Some("message"), None));
        let sent = pending.wait(Duration::from_secs(1)).await.unwrap();
        assert_eq!(
            sent,
            SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000)
        );
        assert!(waiters.lock().is_empty());
    }

    #[tokio::test]
    async fn a_nack_fails_the_send_with_whatsapp_code() {
        let waiters = AckWaiters::default();
        let pending = waiters.expect("3EB0AB");
        waiters.resolve(&ack("3EB0AB", None, Some("479")));
        let error = pending.wait(Duration::from_secs(1)).await.unwrap_err();
        assert_eq!(error.code, Code::FailedPrecondition);
        assert!(
            error
                .metadata
                .contains(&("whatsapp_reason".into(), "479".into()))
        );
    }

    #[tokio::test]
    async fn no_ack_is_transient_and_forgotten() {
        let waiters = AckWaiters::default();
        let error = waiters
            .expect("3EB0AC")
            .wait(Duration::from_millis(10))
            .await
            .unwrap_err();
        assert!(error.is_transient());
        assert!(waiters.lock().is_empty());
    }

    #[tokio::test]
    async fn a_retry_supersedes_an_earlier_wait_without_losing_its_own() {
        let waiters = AckWaiters::default();
        let first = waiters.expect("3EB0AD");
        let second = waiters.expect("3EB0AD");
        assert!(first.wait(Duration::from_secs(1)).await.is_err());
        waiters.resolve(&ack("3EB0AD", Some("message"), None));
        assert!(second.wait(Duration::from_secs(1)).await.is_ok());
    }

    #[test]
    fn read_receipts_are_grouped_by_chat_and_author() {
        let key = |id: &str, chat: &str, participant: &str, from_me: bool| MessageKey {
            id: id.into(),
            remote_jid: chat.into(),
            participant: participant.into(),
            from_me,
            ..Default::default()
        };
        let batches = receipt_batches(&[
            key("A", "1555@s.whatsapp.net", "", false),
            key("B", "120363@g.us", "1666@s.whatsapp.net", false),
            key("C", "1555@s.whatsapp.net", "", false),
            key("D", "120363@g.us", "1777@s.whatsapp.net", false),
            key("E", "120363@g.us", "1666@s.whatsapp.net", false),
            key("F", "1555@s.whatsapp.net", "", true),
        ]);
        assert_eq!(
            batches,
            vec![
                (
                    ("1555@s.whatsapp.net".into(), String::new()),
                    vec!["A".to_string(), "C".into()]
                ),
                (
                    ("120363@g.us".into(), "1666@s.whatsapp.net".into()),
                    vec!["B".to_string(), "E".into()]
                ),
                (
                    ("120363@g.us".into(), "1777@s.whatsapp.net".into()),
                    vec!["D".to_string()]
                ),
            ]
        );
    }

    #[test]
    fn bad_addresses_are_not_on_whatsapp() {
        let error = parse_jid("someone@nowhere.example").unwrap_err();
        assert_eq!(error.reason, Reason::NotOnWhatsapp);
        assert!(!error.is_transient());
        assert!(parse_jid("120363000000000001@g.us").is_ok());
    }
}
