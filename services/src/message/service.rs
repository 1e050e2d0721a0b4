//! The message domain: accepting sends (validated, limited, durably queued in
//! group-committed batches), history, cancel/resend, and the operations that
//! act on WhatsApp at once (edit, delete, read receipts, presence, media).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use wagate_proto::v1 as pb;
use wagate_proto::v1::message::Content;

use super::changes;
use super::convert::message_pb;
use super::limits::Limits;
use super::model::{Direction, MessageRecord, Status, chat_type, normalize_chat};
use super::queue::{Queue, media_of};
use super::validate::ValidSend;
use crate::config::QueueConfig;
use crate::engine::{Connection, MessageChange, not_connected};
use crate::error::{Error, Reason, Result};
use crate::event::record::{message_deleted, to_new_events};
use crate::media::{MediaRecord, MediaService, UploadInput};
use crate::session::SessionManager;
use crate::session::model::{Session, SessionId};
use crate::store::{MessageQuery, MessageSelector, NewOutbound, Queued, Store};

/// Longest chat presence SendPresence keeps up before sending PAUSED.
pub const MAX_PRESENCE: Duration = Duration::from_secs(60);

struct Inner {
    store: Store,
    sessions: SessionManager,
    queue: Queue,
    media: MediaService,
    limits: Limits,
}

/// The message domain. Cheap to clone.
#[derive(Clone)]
pub struct Messages {
    inner: Arc<Inner>,
}

/// A message to look up: by id or by WhatsApp key.
pub enum MessageLookup {
    Id(i64),
    Key(Box<pb::MessageKey>),
}

impl Messages {
    pub fn new(
        store: Store,
        sessions: SessionManager,
        queue: Queue,
        media: MediaService,
        config: QueueConfig,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                sessions,
                queue,
                media,
                limits: Limits::new(config),
            }),
        }
    }

    pub fn media(&self) -> &MediaService {
        &self.inner.media
    }

    /// The session, which must have a linked WhatsApp account to send.
    async fn sending_session(&self, id: SessionId) -> Result<Session> {
        let session = self.inner.sessions.get(id).await?;
        if session.user.is_none() {
            return Err(Error::precondition(
                Reason::SessionNotConnected,
                format!(
                    "session sessions/{id} has no linked WhatsApp account ({}); connect it and scan the QR code first",
                    session.status.as_str()
                ),
            ));
        }
        Ok(session)
    }

    fn connection(&self, id: SessionId, what: &str) -> Result<Arc<dyn Connection>> {
        self.inner
            .sessions
            .connection(id)
            .ok_or_else(|| not_connected(what))
    }

    /// Checks what a send refers to (uploaded media, the quoted message) and
    /// builds the row to queue.
    async fn prepare(
        &self,
        session: SessionId,
        valid: ValidSend,
        prefix: &str,
    ) -> Result<NewOutbound> {
        let mut payload = valid.payload;
        if let Some((source, _, _)) = payload.content.as_ref().and_then(media_of) {
            let field = format!("{prefix}message.{}.source", valid.kind);
            // Boxed: a future that is rarely needed should not make every
            // send's future (moved on each call) that much larger.
            Box::pin(self.inner.media.check_source(session, source, &field)).await?;
        }
        if let Some(reference) = payload.reply_to.take() {
            let field = format!("{prefix}message.reply_to");
            payload.reply_to = Some(
                self.resolved(session, reference, &valid.chat, &field)
                    .await?,
            );
        }
        if let Some(Content::Reaction(reaction)) = payload.content.as_mut()
            && let Some(reference) = reaction.target.take()
        {
            let field = format!("{prefix}message.reaction.target");
            reaction.target = Some(
                self.resolved(session, reference, &valid.chat, &field)
                    .await?,
            );
        }
        Ok(NewOutbound {
            session_id: session,
            chat_type: chat_type(&valid.chat) as i64,
            chat: valid.chat,
            kind: valid.kind.to_owned(),
            body: valid.body,
            payload,
            request_id: valid.request_id,
            request_hash: valid.request_hash,
        })
    }

    /// A reference as the key of the message it names (boxed, like the media
    /// check: most sends have no reference).
    async fn resolved(
        &self,
        session: SessionId,
        reference: pb::MessageReference,
        chat: &str,
        field: &str,
    ) -> Result<pb::MessageReference> {
        let key = Box::pin(self.resolve_reference(session, reference, chat, field)).await?;
        Ok(pb::MessageReference {
            target: Some(pb::message_reference::Target::Key(key)),
        })
    }

    /// The WhatsApp key of a referenced message (which must be known and sent).
    async fn resolve_reference(
        &self,
        session: SessionId,
        reference: pb::MessageReference,
        chat: &str,
        field: &str,
    ) -> Result<pb::MessageKey> {
        match reference.target {
            Some(pb::message_reference::Target::Message(name)) => {
                let (owner, id) = parse_message_name(&name, field)?;
                if owner != session {
                    return Err(Error::invalid_field(
                        field,
                        "refers to a message of another session",
                    ));
                }
                let record = self.get(session, id).await?;
                if record.whatsapp_id.is_empty() {
                    return Err(Error::precondition(
                        Reason::MessageStateConflict,
                        format!(
                            "{name} has not been sent yet, so it cannot be quoted or reacted to"
                        ),
                    ));
                }
                Ok(record.key())
            }
            Some(pb::message_reference::Target::Key(mut key)) => {
                if key.id.is_empty() {
                    return Err(Error::invalid_field(
                        format!("{field}.key.id"),
                        "is required",
                    ));
                }
                key.remote_jid = if key.remote_jid.is_empty() {
                    chat.to_owned()
                } else {
                    normalize_chat(&key.remote_jid)
                        .map_err(|e| Error::invalid_field(format!("{field}.key.remote_jid"), e))?
                };
                Ok(key)
            }
            None => Err(Error::invalid_field(field, "names no message")),
        }
    }

    /// Queues one message; returns once it is durable. The hot path: the
    /// session is checked by the insert itself, which shares a commit with
    /// concurrent sends. The rate-limit figures go to the response metadata.
    pub async fn send(&self, session: SessionId, valid: ValidSend) -> Result<MessageRecord> {
        self.inner.limits.admit_call(session)?;
        self.inner
            .limits
            .check_quotas(&self.inner.store, session, 1)
            .await?;
        let row = self.prepare(session, valid, "").await?;
        let message = match self.inner.store.accept(row).await? {
            Queued::NoSender => {
                // Say why: an unknown session, or one without a linked account.
                Box::pin(self.sending_session(session)).await?;
                return Err(Error::unavailable("the session changed meanwhile; retry"));
            }
            queued => settle_queued(queued)?,
        };
        self.inner.queue.notify(session);
        Ok(message)
    }

    /// Queues many messages in order; each item succeeds or fails on its own.
    pub async fn send_bulk(
        &self,
        session: SessionId,
        items: Vec<std::result::Result<ValidSend, Error>>,
    ) -> Result<Vec<Result<MessageRecord>>> {
        let session = self.sending_session(session).await?;
        self.inner.limits.admit_call(session.id)?;
        let valid_count = items.iter().filter(|i| i.is_ok()).count();
        let over_quota = self
            .inner
            .limits
            .check_quotas(&self.inner.store, session.id, valid_count)
            .await
            .err();
        let mut prepared: Vec<Result<NewOutbound>> = Vec::with_capacity(items.len());
        for (index, item) in items.into_iter().enumerate() {
            prepared.push(match (item, &over_quota) {
                (Err(err), _) => Err(err),
                (Ok(_), Some(quota)) => Err(quota.clone()),
                (Ok(valid), None) => {
                    self.prepare(session.id, valid, &format!("requests[{index}]."))
                        .await
                }
            });
        }
        let rows: Vec<NewOutbound> = prepared
            .iter()
            .filter_map(|p| p.as_ref().ok().cloned())
            .collect();
        let mut queued = self.inner.store.queue_messages(&rows).await?.into_iter();
        let results = prepared
            .into_iter()
            .map(|p| {
                p.and_then(|_| {
                    settle_queued(
                        queued
                            .next()
                            .ok_or_else(|| Error::internal("bulk result missing"))?,
                    )
                })
            })
            .collect();
        self.inner.queue.notify(session.id);
        Ok(results)
    }

    pub async fn get(&self, session: SessionId, id: i64) -> Result<MessageRecord> {
        self.inner.sessions.get(session).await?;
        self.inner
            .store
            .get_message(session, id)
            .await?
            .ok_or_else(|| {
                Error::not_found(format!(
                    "message sessions/{session}/messages/{id} not found"
                ))
            })
    }

    async fn lookup(&self, session: SessionId, lookup: MessageLookup) -> Result<MessageRecord> {
        match lookup {
            MessageLookup::Id(id) => self.get(session, id).await,
            MessageLookup::Key(key) => {
                self.inner.sessions.get(session).await?;
                self.inner
                    .store
                    .find_message(session, &key.id)
                    .await?
                    .ok_or_else(|| {
                        Error::not_found(format!(
                            "no message with WhatsApp id {} in sessions/{session}",
                            key.id
                        ))
                    })
            }
        }
    }

    pub async fn list(
        &self,
        session: SessionId,
        query: &MessageQuery,
        after: Option<i64>,
        limit: i64,
    ) -> Result<(Vec<MessageRecord>, i64)> {
        self.inner.sessions.get(session).await?;
        self.inner
            .store
            .list_messages(session, query, after, limit)
            .await
    }

    pub async fn cancel(&self, session: SessionId, id: i64) -> Result<MessageRecord> {
        let record = self.get(session, id).await?;
        if !self.inner.store.cancel_message(session, id).await? {
            return Err(state_conflict(
                &record,
                "only QUEUED messages can be cancelled",
            ));
        }
        // Read before waking the worker, so the answer shows the message as
        // requeued rather than whatever the worker has made of it since.
        let requeued = self.get(session, id).await?;
        self.inner.queue.notify(session);
        Ok(requeued)
    }

    pub async fn resend(&self, session: SessionId, id: i64) -> Result<MessageRecord> {
        let record = self.get(session, id).await?;
        if !self.inner.store.requeue_message(session, id).await? {
            let why = if record.status == Status::Failed {
                "its content was not logged (log_messages is off), so it cannot be sent again"
            } else {
                "only FAILED messages can be resent"
            };
            return Err(state_conflict(&record, why));
        }
        // Read before waking the worker, so the answer shows the message as
        // requeued rather than whatever the worker has made of it since.
        let requeued = self.get(session, id).await?;
        self.inner.queue.notify(session);
        Ok(requeued)
    }

    /// Replaces the text (`text`) or caption (`image.caption`, ...) of a sent message.
    pub async fn edit(
        &self,
        session: SessionId,
        id: i64,
        path: &str,
        new_text: &str,
    ) -> Result<MessageRecord> {
        let record = self.get(session, id).await?;
        let expected = match record.kind.as_str() {
            "text" => "text",
            "image" => "image.caption",
            "video" => "video.caption",
            "document" => "document.caption",
            other => {
                return Err(state_conflict(
                    &record,
                    &format!("{other} messages cannot be edited"),
                ));
            }
        };
        if path != expected {
            return Err(Error::invalid_field(
                "update_mask",
                format!(
                    "a {} message is edited through `{expected}`, not `{path}`",
                    record.kind
                ),
            ));
        }
        if record.direction != Direction::Outbound
            || record.delete_time.is_some()
            || !is_sent(record.status)
        {
            return Err(state_conflict(
                &record,
                "only sent, not deleted, outbound messages can be edited",
            ));
        }
        let connection = self.connection(session, "edit a message")?;
        connection
            .edit_message(&record.chat, &record.whatsapp_id, new_text)
            .await?;
        let change = MessageChange::Edited {
            new_body: new_text.to_owned(),
        };
        let edited = SystemTime::now();
        changes::record_change(
            &self.inner.store,
            session,
            MessageSelector::Id(id),
            change,
            edited,
            |_| Vec::new(),
        )
        .await?;
        self.get(session, id).await
    }

    /// Deletes a sent message for everyone.
    pub async fn delete(&self, session: SessionId, id: i64) -> Result<()> {
        let record = self.get(session, id).await?;
        if record.delete_time.is_some() {
            return Err(state_conflict(&record, "the message is already deleted"));
        }
        let sent = match record.direction {
            Direction::Outbound => is_sent(record.status),
            _ => !record.whatsapp_id.is_empty(),
        };
        if !sent {
            return Err(state_conflict(
                &record,
                "the message was never sent; use CancelMessage for queued messages",
            ));
        }
        if record.direction == Direction::Inbound && chat_type(&record.chat) != pb::ChatType::Group
        {
            return Err(Error::new(
                crate::error::Code::PermissionDenied,
                Reason::NotGroupAdmin,
                "only your own messages, or other members' messages in groups you administer, can be deleted for everyone",
            ));
        }
        let connection = self.connection(session, "delete a message")?;
        connection
            .revoke_message(&record.chat, &record.key())
            .await?;
        // Deleted here as on the phone: `messages.delete` commits with it.
        let events = self.inner.sessions.events();
        let settings = match events {
            Some(_) => self
                .inner
                .store
                .get_session(session)
                .await?
                .map(|s| s.settings),
            None => None,
        };
        let revoked = SystemTime::now();
        changes::record_change(
            &self.inner.store,
            session,
            MessageSelector::Id(id),
            MessageChange::Revoked,
            revoked,
            |before| match events {
                Some(_) => to_new_events(
                    session,
                    settings.as_ref(),
                    vec![message_deleted(&message_pb(before))],
                ),
                None => Vec::new(),
            },
        )
        .await?;
        if let Some(events) = events {
            events.log().appended_elsewhere();
        }
        Ok(())
    }

    /// Sends read receipts; returns how many stored messages became READ.
    pub async fn mark_read(&self, session: SessionId, keys: Vec<pb::MessageKey>) -> Result<usize> {
        self.inner.sessions.get(session).await?;
        let connection = self.connection(session, "mark messages read")?;
        connection.mark_read(&keys).await?;
        let mut chats: Vec<String> = keys.iter().map(|k| k.remote_jid.clone()).collect();
        chats.sort_unstable();
        chats.dedup();
        let ids: Vec<String> = keys.into_iter().map(|k| k.id).collect();
        let changed = self.inner.store.mark_inbound_read(session, &ids).await?;
        read_chats(
            &self.inner.store,
            self.inner.sessions.events(),
            session,
            &chats,
        )
        .await?;
        Ok(changed as usize)
    }

    /// Sends a presence; chat presences with a duration end with PAUSED.
    pub async fn send_presence(
        &self,
        session: SessionId,
        presence: pb::PresenceState,
        chat: Option<String>,
        duration: Option<Duration>,
    ) -> Result<()> {
        self.inner.sessions.get(session).await?;
        let connection = self.connection(session, "send a presence")?;
        connection.send_presence(presence, chat.as_deref()).await?;
        if let (Some(duration), Some(chat)) = (duration, chat) {
            tokio::spawn(async move {
                tokio::time::sleep(duration).await;
                if let Err(err) = connection
                    .send_presence(pb::PresenceState::Paused, Some(&chat))
                    .await
                {
                    tracing::debug!(error = %err, "could not end a timed presence");
                }
            });
        }
        Ok(())
    }

    pub async fn upload(&self, session: SessionId, input: UploadInput) -> Result<MediaRecord> {
        self.inner.sessions.get(session).await?;
        self.inner.media.upload(session, input).await
    }

    /// An upload given as base64 text or a data URL.
    pub async fn upload_base64(
        &self,
        session: SessionId,
        text: &str,
        mime_type: Option<String>,
        file_name: Option<String>,
    ) -> Result<MediaRecord> {
        self.inner.sessions.get(session).await?;
        self.inner
            .media
            .upload_base64(session, text, mime_type, file_name)
            .await
    }

    /// Downloads the media of a message and keeps it for an hour.
    pub async fn download(&self, session: SessionId, lookup: MessageLookup) -> Result<MediaRecord> {
        let record = self.lookup(session, lookup).await?;
        if !record.media_ref.is_empty() {
            let connection = self.connection(session, "download media")?;
            let blob = connection.download_media(&record.media_ref).await?;
            return self
                .inner
                .media
                .store_download(session, record.id, &blob)
                .await;
        }
        // Outbound media is fetched again from where it was sent from.
        let source = record
            .payload
            .as_ref()
            .and_then(|p| p.content.as_ref())
            .and_then(media_of)
            .map(|(source, category, mime)| (source.clone(), category, mime.to_owned()));
        match source {
            Some((source, category, mime)) => {
                let declared = (!mime.is_empty()).then_some(mime.as_str());
                let blob = self
                    .inner
                    .media
                    .resolve(session, &source, category, declared)
                    .await?;
                self.inner
                    .media
                    .store_download(session, record.id, &blob)
                    .await
            }
            None => Err(Error::invalid_field(
                "message",
                format!("the message has no media (it is a {} message)", record.kind),
            )),
        }
    }
}

fn is_sent(status: Status) -> bool {
    matches!(
        status,
        Status::Sent | Status::Delivered | Status::Read | Status::Played
    )
}

fn state_conflict(record: &MessageRecord, why: &str) -> Error {
    Error::precondition(
        Reason::MessageStateConflict,
        format!(
            "message sessions/{}/messages/{} is {}: {why}",
            record.session_id,
            record.id,
            record
                .status
                .as_str_name()
                .trim_start_matches("MESSAGE_STATUS_")
        ),
    )
}

fn settle_queued(queued: Queued) -> Result<MessageRecord> {
    match queued {
        Queued::NoSender => Err(Error::precondition(
            Reason::SessionNotConnected,
            "the session has no linked WhatsApp account",
        )),
        Queued::New(record) => Ok(record),
        Queued::Repeated {
            existing,
            same_request: true,
        } => Ok(existing),
        Queued::Repeated { existing, .. } => Err(Error::already_exists(format!(
            "request_id was already used for a different request (message sessions/{}/messages/{})",
            existing.session_id, existing.id
        ))),
    }
}

/// `sessions/{s}/messages/{id}` → (s, id).
/// Clears the unread count of chats the session read, logging `chats.update`.
pub async fn read_chats(
    store: &Store,
    events: Option<&crate::event::Events>,
    session: SessionId,
    chats: &[String],
) -> Result<()> {
    let settings = match events {
        Some(_) => store.get_session(session).await?.map(|s| s.settings),
        None => None,
    };
    // The cleared counts and their `chats.update` events commit together.
    let mut tx = store.begin().await?;
    let cleared = tx.clear_unread(session, chats).await?;
    let new_events = match events {
        Some(_) => {
            let drafts = cleared
                .iter()
                .map(crate::event::record::chat_changed)
                .collect();
            to_new_events(session, settings.as_ref(), drafts)
        }
        None => Vec::new(),
    };
    tx.commit_with_events(&new_events).await?;
    if let Some(events) = events
        && !new_events.is_empty()
    {
        events.log().appended_elsewhere();
    }
    Ok(())
}

pub fn parse_message_name(name: &str, field: &str) -> Result<(SessionId, i64)> {
    let parts: Vec<&str> = name.split('/').collect();
    match parts.as_slice() {
        ["sessions", session, "messages", id] => match (session.parse(), id.parse()) {
            (Ok(session), Ok(id)) => Ok((session, id)),
            _ => Err(Error::invalid_field(
                field,
                format!("{name:?} is not a message name like sessions/1/messages/2"),
            )),
        },
        _ => Err(Error::invalid_field(
            field,
            format!("{name:?} is not a message name like sessions/1/messages/2"),
        )),
    }
}
