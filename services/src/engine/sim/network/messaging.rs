//! Messages on the simulated network: sending between accounts (idempotent by
//! message id, recorded durably so tests can assert exactly-once), receipts,
//! presence, media, mailboxes for accounts whose devices are offline, and the
//! faults tests inject.

use std::time::{Duration, SystemTime};

use prost::Message as _;
use rand::RngCore;
use wagate_proto::v1 as api;
use wagate_proto::wagate::simnet::v1 as pb;

use super::{Network, State, constant_time_eq, event};
use crate::auth::hash_hex;
use crate::error::{Code, Error, Reason, Result};
use crate::store::SimDeliveryRow;

/// How long a push to a busy device waits before the event goes to the mailbox.
const PUSH_WAIT: Duration = Duration::from_secs(5);

/// A fault injected for an account's sends.
#[derive(Clone, Debug)]
pub(super) struct Fault {
    pub kind: FaultKind,
    /// Sends left to affect; `None` until cleared.
    pub remaining: Option<u32>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultKind {
    TransientFailure,
    PermanentFailure,
    Latency(Duration),
    DisconnectOnSend,
}

/// Who a message to many accounts goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Audience {
    Group,
    Channel,
}

/// Who is sending: an account, and the device (when a linked device sends).
pub(super) struct Sender {
    pub digits: String,
    pub device_jid: Option<String>,
}

/// Where a message goes.
enum Target {
    /// A personal chat with this account.
    Peer(Peer),
    /// A group: its other members (digits).
    Group(Vec<String>),
    /// A channel (newsletter) the sender administers: the accounts its posts
    /// reach (digits).
    Channel(Vec<String>),
}

/// The other party of a personal chat.
pub(super) struct Peer {
    pub digits: String,
}

pub(super) fn timestamp(time: SystemTime) -> prost_types::Timestamp {
    prost_types::Timestamp::from(time)
}

pub(super) fn ms_to_time(ms: i64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64)
}

/// A message of its own, not a change to another (edit, revocation, vote):
/// recipients acknowledge it with receipts.
fn is_new_message(request: &pb::SendMessageRequest) -> bool {
    request.edit_of.is_empty() && request.revoke_of.is_empty() && request.poll_vote.is_none()
}

/// A one-line description of a message for the delivery record.
pub(super) fn summary(request: &pb::SendMessageRequest) -> String {
    if !request.revoke_of.is_empty() {
        return format!("revoke: {}", request.revoke_of);
    }
    if let Some(vote) = &request.poll_vote {
        return format!(
            "vote: {} ({} options)",
            vote.poll_id,
            vote.selected_option_hashes.len()
        );
    }
    let prefix = if request.edit_of.is_empty() {
        String::new()
    } else {
        format!("edit of {}: ", request.edit_of)
    };
    use api::message::Content;
    let content = request.content.as_ref().and_then(|m| m.content.as_ref());
    let text = match content {
        Some(Content::Text(text)) => format!("text: {text}"),
        Some(Content::Image(c)) => format!("image: {}", c.caption),
        Some(Content::Video(c)) => format!("video: {}", c.caption),
        Some(Content::Audio(c)) => format!("audio: voice_note={}", c.voice_note),
        Some(Content::Document(c)) => format!("document: {}", c.file_name),
        Some(Content::Sticker(_)) => "sticker".to_owned(),
        Some(Content::Location(c)) => format!("location: {},{}", c.latitude, c.longitude),
        Some(Content::Contact(c)) => format!("contact: {}", c.full_name),
        Some(Content::Poll(c)) => format!("poll: {}", c.question),
        Some(Content::Reaction(c)) => format!("reaction: {}", c.emoji),
        None => "empty".to_owned(),
    };
    prefix + &text
}

impl State {
    pub(super) fn device_account(&self, credentials: &pb::DeviceCredentials) -> Result<String> {
        self.devices
            .get(&credentials.device_jid)
            .filter(|d| constant_time_eq(&d.secret_hash, &hash_hex(&credentials.secret)))
            .map(|d| d.digits.clone())
            .ok_or_else(|| {
                Error::precondition(
                    Reason::SessionNotConnected,
                    "the device is not linked to the simulated network",
                )
            })
    }

    /// The account a user JID, LID or phone number names.
    pub(super) fn peer(&self, jid: &str) -> Result<Peer> {
        let (user, server) = jid.split_once('@').unwrap_or((jid, "s.whatsapp.net"));
        let digits = match server {
            "s.whatsapp.net" | "c.us" => {
                let user = user.split(':').next().unwrap_or(user);
                self.accounts.get(user).map(|a| a.digits.clone())
            }
            "lid" => self
                .accounts
                .values()
                .find(|a| a.lid == jid)
                .map(|a| a.digits.clone()),
            "g.us" => {
                return Err(Error::new(
                    Code::NotFound,
                    Reason::NotFound,
                    format!("group {jid} does not exist on the simulated network"),
                ));
            }
            "newsletter" => {
                return Err(Error::new(
                    Code::NotFound,
                    Reason::NotFound,
                    format!("{jid} is a channel, not an account"),
                ));
            }
            _ => None,
        };
        digits.map(|digits| Peer { digits }).ok_or_else(|| {
            Error::new(
                Code::NotFound,
                Reason::NotOnWhatsapp,
                format!("{jid} is not on WhatsApp"),
            )
        })
    }

    /// Applies the account's faults to one send, consuming counted ones.
    fn take_faults(&mut self, digits: &str) -> Vec<FaultKind> {
        let Some(faults) = self.faults.get_mut(digits) else {
            return Vec::new();
        };
        let kinds = faults.iter().map(|f| f.kind).collect();
        for fault in faults.iter_mut() {
            if let Some(left) = &mut fault.remaining {
                *left = left.saturating_sub(1);
            }
        }
        faults.retain(|f| f.remaining != Some(0));
        kinds
    }

    fn online_devices(
        &self,
        digits: &str,
    ) -> Vec<(String, tokio::sync::mpsc::Sender<pb::AttachResponse>)> {
        self.online
            .iter()
            .filter(|(jid, _)| self.devices.get(*jid).is_some_and(|d| d.digits == digits))
            .map(|(jid, o)| (jid.clone(), o.tx.clone()))
            .collect()
    }

    fn has_devices(&self, digits: &str) -> bool {
        self.devices.values().any(|d| d.digits == digits)
    }
}

impl Network {
    /// A message from a linked device.
    pub async fn device_send(&self, request: pb::SendMessageRequest) -> Result<SystemTime> {
        let credentials = request.credentials.clone().unwrap_or_default();
        let digits = self.state().device_account(&credentials)?;
        let sender = Sender {
            digits,
            device_jid: Some(credentials.device_jid),
        };
        self.send_from(sender, request).await
    }

    /// A message typed on a simulated phone (InjectInboundMessage).
    pub async fn phone_send(&self, from_digits: &str, to: &str, text: &str) -> Result<String> {
        let request = pb::SendMessageRequest {
            chat: to.to_owned(),
            content: Some(api::Message {
                content: Some(api::message::Content::Text(text.to_owned())),
                ..Default::default()
            }),
            ..Default::default()
        };
        self.send_from_phone(from_digits, request).await
    }

    /// A vote tapped on a simulated phone (InjectPollVote) in a poll the
    /// account received: it goes to the poll's chat (its author, or the group).
    pub async fn phone_vote(
        &self,
        digits: &str,
        poll_id: &str,
        options: &[String],
    ) -> Result<String> {
        let voter = format!("{digits}@s.whatsapp.net");
        let lid = self.state().accounts.get(digits).map(|a| a.lid.clone());
        let store = &self.inner.store;
        let mut poll = store.sim_delivery_to(&voter, poll_id).await?;
        if let (None, Some(lid)) = (&poll, lid.filter(|l| !l.is_empty())) {
            poll = store.sim_delivery_to(&lid, poll_id).await?;
        }
        let poll = poll.ok_or_else(|| {
            Error::not_found(format!("+{digits} received no message with id {poll_id}"))
        })?;
        let request = pb::SendMessageRequest {
            chat: if poll.to_jid.ends_with("@g.us") {
                poll.to_jid
            } else {
                poll.from_jid
            },
            poll_vote: Some(pb::PollVote {
                poll_id: poll_id.to_owned(),
                selected_option_hashes: options
                    .iter()
                    .map(|o| crate::engine::poll_option_hash(o).to_vec())
                    .collect(),
            }),
            ..Default::default()
        };
        self.send_from_phone(digits, request).await
    }

    async fn send_from_phone(
        &self,
        from_digits: &str,
        request: pb::SendMessageRequest,
    ) -> Result<String> {
        let id = new_message_id();
        let request = pb::SendMessageRequest {
            id: id.clone(),
            ..request
        };
        let sender = Sender {
            digits: from_digits.to_owned(),
            device_jid: None,
        };
        self.send_from(sender, request).await?;
        Ok(id)
    }

    async fn send_from(
        &self,
        sender: Sender,
        request: pb::SendMessageRequest,
    ) -> Result<SystemTime> {
        if request.id.is_empty() {
            return Err(Error::invalid_field("id", "a message needs an id"));
        }
        let (faults, peer, account) = {
            let mut state = self.state();
            let account =
                state.accounts.get(&sender.digits).cloned().ok_or_else(|| {
                    Error::not_found(format!("+{} is not registered", sender.digits))
                })?;
            let faults = state.take_faults(&sender.digits);
            let peer = if request.chat.ends_with("@g.us") {
                None
            } else if request.chat.ends_with("@newsletter") {
                Some(
                    state
                        .channel_recipients(&sender.digits, &request.chat)
                        .map(Target::Channel),
                )
            } else {
                Some(state.peer(&request.chat).map(Target::Peer))
            };
            (faults, peer, account)
        };
        let target = match peer {
            Some(peer) => peer,
            None => self
                .group_recipients(&sender.digits, &request.chat)
                .map(Target::Group),
        };
        let mut disconnect = false;
        for fault in faults {
            match fault {
                FaultKind::Latency(latency) => tokio::time::sleep(latency).await,
                FaultKind::TransientFailure => {
                    return Err(Error::unavailable(
                        "simulated transient send failure (injected fault)",
                    ));
                }
                FaultKind::PermanentFailure => {
                    return Err(Error::whatsapp(
                        Code::FailedPrecondition,
                        "simulated permanent send failure (injected fault)",
                    ));
                }
                FaultKind::DisconnectOnSend => disconnect = true,
            }
        }
        let peer = match target? {
            Target::Peer(peer) => peer,
            Target::Group(members) => {
                let now = self
                    .fan_out(&account, &sender, &request, &members, Audience::Group)
                    .await?;
                return self.acknowledge(&account, disconnect, now);
            }
            Target::Channel(recipients) => {
                let now = self
                    .fan_out(&account, &sender, &request, &recipients, Audience::Channel)
                    .await?;
                return self.acknowledge(&account, disconnect, now);
            }
        };
        let now = SystemTime::now();
        // A message to an account that blocked the sender is acknowledged by
        // the server and goes no further: no delivery, no receipt.
        if self.state().has_blocked(&peer.digits, &account.digits) {
            return self.acknowledge(&account, disconnect, now);
        }
        let delivery = SimDeliveryRow {
            sequence: 0,
            message_id: request.id.clone(),
            from_jid: account.jid(),
            to_jid: request.chat.clone(),
            recipient_jid: String::new(),
            summary: summary(&request),
            deliver_time: crate::api::system_time_ms(now),
        };
        let store = &self.inner.store;
        if store.insert_sim_delivery(&delivery).await?.is_none() {
            // Already accepted: WhatsApp drops a repeated id, so deliver nothing again.
            let first = store
                .sim_delivery(&delivery.from_jid, &delivery.message_id)
                .await?
                .ok_or_else(|| Error::internal("delivery vanished"))?;
            return Ok(ms_to_time(first.deliver_time));
        }
        let recipient = self.state().accounts.get(&peer.digits).cloned();
        if let Some(recipient) = recipient {
            let inbound = pb::InboundMessage {
                id: request.id.clone(),
                chat: account.jid(),
                sender: account.jid(),
                sender_lid: account.lid.clone(),
                sender_phone_number: format!("+{}", account.digits),
                push_name: account.push_name.clone(),
                from_me: false,
                timestamp: Some(timestamp(now)),
                content: request.content.clone(),
                edit_of: request.edit_of.clone(),
                revoke_of: request.revoke_of.clone(),
                poll_vote: request.poll_vote.clone(),
            };
            self.push(
                &recipient.digits,
                None,
                event(pb::attach_response::Event::Message(Box::new(
                    inbound.clone(),
                ))),
            )
            .await?;
            // The account's other devices see what it sent, as on WhatsApp.
            let own_copy = pb::InboundMessage {
                chat: recipient.jid(),
                from_me: true,
                ..inbound
            };
            self.push(
                &account.digits,
                Some(sender.device_jid.as_deref().unwrap_or("")),
                event(pb::attach_response::Event::Message(Box::new(own_copy))),
            )
            .await?;
            // The recipient's phone is always online: delivered at once.
            if is_new_message(&request) {
                let receipt = pb::Receipt {
                    chat: request.chat.clone(),
                    ids: vec![request.id.clone()],
                    from: recipient.jid(),
                    kind: pb::ReceiptKind::Delivered as i32,
                    timestamp: Some(timestamp(SystemTime::now())),
                };
                self.push(
                    &account.digits,
                    None,
                    event(pb::attach_response::Event::Receipt(receipt)),
                )
                .await?;
            }
        }
        self.acknowledge(&account, disconnect, now)
    }

    /// A message to many accounts — a group's other members (`Audience::
    /// Group`), a channel's followers (`Audience::Channel`): accepted once
    /// (a delivery record with no recipient), then delivered to each
    /// recipient exactly once (a record per recipient; a repeated id reaches
    /// only those a half-done send missed), with the author's other devices
    /// getting their copy. Group members send delivered receipts; channel
    /// posts get none and come from the channel itself. Returns the
    /// acceptance time (the first one for a repeated id).
    pub(super) async fn fan_out(
        &self,
        account: &super::Account,
        sender: &Sender,
        request: &pb::SendMessageRequest,
        recipients: &[String],
        audience: Audience,
    ) -> Result<SystemTime> {
        let now = SystemTime::now();
        let accepted = SimDeliveryRow {
            sequence: 0,
            message_id: request.id.clone(),
            from_jid: account.jid(),
            to_jid: request.chat.clone(),
            recipient_jid: String::new(),
            summary: summary(request),
            deliver_time: crate::api::system_time_ms(now),
        };
        let store = &self.inner.store;
        let first_time = store.insert_sim_delivery(&accepted).await?.is_some();
        let now = if first_time {
            now
        } else {
            let first = store
                .sim_delivery(&accepted.from_jid, &accepted.message_id)
                .await?
                .ok_or_else(|| Error::internal("delivery vanished"))?;
            ms_to_time(first.deliver_time)
        };
        let author = match audience {
            Audience::Group => pb::InboundMessage {
                sender: account.jid(),
                sender_lid: account.lid.clone(),
                sender_phone_number: format!("+{}", account.digits),
                push_name: account.push_name.clone(),
                ..Default::default()
            },
            // Followers see the post as the channel's, not the admin's.
            Audience::Channel => pb::InboundMessage {
                sender: request.chat.clone(),
                ..Default::default()
            },
        };
        let inbound = pb::InboundMessage {
            id: request.id.clone(),
            chat: request.chat.clone(),
            from_me: false,
            timestamp: Some(timestamp(now)),
            content: request.content.clone(),
            edit_of: request.edit_of.clone(),
            revoke_of: request.revoke_of.clone(),
            poll_vote: request.poll_vote.clone(),
            ..author
        };
        let receipts = audience == Audience::Group && is_new_message(request);
        for digits in recipients {
            let copy = SimDeliveryRow {
                recipient_jid: super::directory::user_jid(digits),
                ..accepted.clone()
            };
            if store.insert_sim_delivery(&copy).await?.is_none() {
                continue;
            }
            self.push(
                digits,
                None,
                event(pb::attach_response::Event::Message(Box::new(
                    inbound.clone(),
                ))),
            )
            .await?;
            if receipts {
                let receipt = pb::Receipt {
                    chat: request.chat.clone(),
                    ids: vec![request.id.clone()],
                    from: copy.recipient_jid.clone(),
                    kind: pb::ReceiptKind::Delivered as i32,
                    timestamp: Some(timestamp(SystemTime::now())),
                };
                self.push(
                    &account.digits,
                    None,
                    event(pb::attach_response::Event::Receipt(receipt)),
                )
                .await?;
            }
        }
        if first_time {
            let own_copy = pb::InboundMessage {
                from_me: true,
                ..inbound
            };
            self.push(
                &account.digits,
                Some(sender.device_jid.as_deref().unwrap_or("")),
                event(pb::attach_response::Event::Message(Box::new(own_copy))),
            )
            .await?;
        }
        Ok(now)
    }

    /// The server's acknowledgement of an accepted message, unless a
    /// disconnect fault drops it.
    fn acknowledge(
        &self,
        account: &super::Account,
        disconnect: bool,
        now: SystemTime,
    ) -> Result<SystemTime> {
        if disconnect {
            // Accepted, but the acknowledgement never reaches the device.
            self.disconnect(&account.digits, None)?;
            return Err(Error::unavailable(
                "the connection dropped before the server acknowledged the message (injected fault)",
            ));
        }
        Ok(now)
    }

    /// Hands an event to the account's online devices (except `skip`), or
    /// keeps it in the account's mailbox when none is online.
    pub(super) async fn push(
        &self,
        digits: &str,
        skip: Option<&str>,
        message: pb::AttachResponse,
    ) -> Result<()> {
        let (targets, has_devices) = {
            let state = self.state();
            (state.online_devices(digits), state.has_devices(digits))
        };
        let targets: Vec<_> = targets
            .into_iter()
            .filter(|(jid, _)| Some(jid.as_str()) != skip)
            .collect();
        let mut delivered = false;
        for (_, tx) in targets {
            if tx.send_timeout(message.clone(), PUSH_WAIT).await.is_ok() {
                delivered = true;
            }
        }
        let sender_only = skip.is_some();
        if !delivered && has_devices && !sender_only {
            self.inner
                .store
                .push_sim_mailbox(digits, &message.encode_to_vec())
                .await?;
        }
        Ok(())
    }

    /// Sends what waited in the account's mailbox to a device that just connected.
    pub(super) fn drain_mailbox(
        &self,
        digits: String,
        tx: tokio::sync::mpsc::Sender<pb::AttachResponse>,
    ) {
        let network = self.clone();
        tokio::spawn(async move {
            let events = match network.inner.store.take_sim_mailbox(&digits).await {
                Ok(events) => events,
                Err(err) => {
                    tracing::warn!(error = %err, "simulated network: cannot read a mailbox");
                    return;
                }
            };
            for bytes in events {
                let Ok(message) = pb::AttachResponse::decode(bytes.as_slice()) else {
                    continue;
                };
                if tx.send(message).await.is_err() {
                    return;
                }
            }
        });
    }

    pub async fn device_lookup(
        &self,
        credentials: &pb::DeviceCredentials,
        id: &str,
    ) -> Result<Option<SystemTime>> {
        let digits = self.state().device_account(credentials)?;
        let jid = format!("{digits}@s.whatsapp.net");
        Ok(self
            .inner
            .store
            .sim_delivery(&jid, id)
            .await?
            .map(|d| ms_to_time(d.deliver_time)))
    }

    /// Read or played receipts from a device for messages it received.
    pub async fn device_receipt(&self, request: pb::SendReceiptRequest) -> Result<()> {
        let credentials = request.credentials.clone().unwrap_or_default();
        let digits = self.state().device_account(&credentials)?;
        let kind = pb::ReceiptKind::try_from(request.kind).unwrap_or(pb::ReceiptKind::Read);
        self.receipt_from(&digits, &request.ids, kind).await
    }

    /// A receipt typed on a simulated phone (InjectReceipt).
    pub async fn phone_receipt(&self, digits: &str, id: &str, kind: pb::ReceiptKind) -> Result<()> {
        if !self.state().accounts.contains_key(digits) {
            return Err(Error::not_found(format!("+{digits} is not registered")));
        }
        self.receipt_from(digits, &[id.to_owned()], kind).await
    }

    async fn receipt_from(
        &self,
        digits: &str,
        ids: &[String],
        kind: pb::ReceiptKind,
    ) -> Result<()> {
        let reader = format!("{digits}@s.whatsapp.net");
        let lid = self
            .state()
            .accounts
            .get(digits)
            .map(|a| a.lid.clone())
            .unwrap_or_default();
        let mut found = 0;
        for id in ids {
            let mut delivery = self.inner.store.sim_delivery_to(&reader, id).await?;
            if delivery.is_none() && !lid.is_empty() {
                delivery = self.inner.store.sim_delivery_to(&lid, id).await?;
            }
            let Some(delivery) = delivery else { continue };
            found += 1;
            // Channel posts get no receipts on WhatsApp (only view counts).
            if delivery.to_jid.ends_with("@newsletter") {
                continue;
            }
            let sender_digits = delivery
                .from_jid
                .split('@')
                .next()
                .unwrap_or_default()
                .to_owned();
            let receipt = pb::Receipt {
                chat: delivery.to_jid.clone(),
                ids: vec![id.clone()],
                from: reader.clone(),
                kind: kind as i32,
                timestamp: Some(timestamp(SystemTime::now())),
            };
            self.push(
                &sender_digits,
                None,
                event(pb::attach_response::Event::Receipt(receipt)),
            )
            .await?;
        }
        if found == 0 && !ids.is_empty() {
            return Err(Error::not_found(format!(
                "+{digits} received no message with id {}",
                ids.join(", ")
            )));
        }
        Ok(())
    }

    /// A chat presence reaches the peer's online devices (presence is
    /// ephemeral: nothing waits in a mailbox); an account-wide one
    /// (available/unavailable) is accepted and goes nowhere, as the simulator
    /// models no presence subscriptions.
    pub async fn device_presence(&self, request: pb::SendPresenceRequest) -> Result<()> {
        let credentials = request.credentials.clone().unwrap_or_default();
        let (sender, targets, chat) = {
            let state = self.state();
            let digits = state.device_account(&credentials)?;
            if request.chat.is_empty() {
                return Ok(());
            }
            let sender = state
                .accounts
                .get(&digits)
                .map(|a| a.jid())
                .ok_or_else(|| Error::not_found(format!("+{digits} is not registered")))?;
            if request.chat.ends_with("@g.us") {
                // In a group: the other members see it, in the group's chat.
                let group = state.member_group(&digits, &request.chat)?;
                let targets = group
                    .members
                    .iter()
                    .filter(|m| m.digits != digits)
                    .flat_map(|m| state.online_devices(&m.digits))
                    .collect();
                (sender, targets, request.chat.clone())
            } else {
                let peer = state.peer(&request.chat)?;
                (sender.clone(), state.online_devices(&peer.digits), sender)
            }
        };
        let presence = event(pb::attach_response::Event::Presence(pb::Presence {
            chat,
            from: sender,
            presence: request.presence,
        }));
        for (_, tx) in targets {
            let _ = tx.send_timeout(presence.clone(), PUSH_WAIT).await;
        }
        Ok(())
    }

    pub async fn device_upload(&self, request: pb::UploadMediaRequest) -> Result<String> {
        let credentials = request.credentials.clone().unwrap_or_default();
        self.state().device_account(&credentials)?;
        let mut handle = [0u8; 16];
        rand::rng().fill_bytes(&mut handle);
        let handle = hex::encode(handle);
        self.inner
            .store
            .insert_sim_media(&handle, &request.mime_type, &request.content)
            .await?;
        Ok(handle)
    }

    pub async fn device_download(
        &self,
        credentials: &pb::DeviceCredentials,
        handle: &str,
    ) -> Result<(Vec<u8>, String)> {
        self.state().device_account(credentials)?;
        self.inner.store.sim_media(handle).await?.ok_or_else(|| {
            Error::whatsapp(
                Code::FailedPrecondition,
                "the media is no longer on the server",
            )
        })
    }

    pub fn inject_fault(&self, digits: &str, kind: Option<FaultKind>, count: u32) -> Result<()> {
        let mut state = self.state();
        if !state.accounts.contains_key(digits) {
            return Err(Error::not_found(format!("+{digits} is not registered")));
        }
        match kind {
            None => {
                state.faults.remove(digits);
            }
            Some(kind) => state
                .faults
                .entry(digits.to_owned())
                .or_default()
                .push(Fault {
                    kind,
                    remaining: (count > 0).then_some(count),
                }),
        }
        Ok(())
    }

    /// What the network accepted, in order.
    pub async fn deliveries(
        &self,
        from_digits: Option<&str>,
        after_sequence: i64,
        limit: i64,
    ) -> Result<Vec<SimDeliveryRow>> {
        let from = from_digits.map(|d| format!("{d}@s.whatsapp.net"));
        self.inner
            .store
            .sim_deliveries(from.as_deref(), after_sequence, limit)
            .await
    }
}

/// A WhatsApp-shaped message id: `3EB0` and 16 upper-case hex digits.
pub fn new_message_id() -> String {
    let mut bytes = [0u8; 8];
    rand::rng().fill_bytes(&mut bytes);
    format!("3EB0{}", hex::encode_upper(bytes))
}
