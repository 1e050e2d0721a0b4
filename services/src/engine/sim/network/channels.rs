//! Channels (newsletters) on the simulated network: accounts administer
//! channels (they may post to them) and follow them (they receive their
//! posts). A post is acknowledged by the server, recorded once as accepted
//! and once per receiving account, and reaches the followers as a message
//! from the channel itself, in the channel's chat. As on WhatsApp there are
//! no delivery or read receipts for channel posts.

use std::collections::BTreeSet;
use std::time::SystemTime;

use wagate_proto::wagate::simnet::v1 as pb;

use super::messaging::{Sender, ms_to_time, summary, timestamp};
use super::{Account, Network, State, event};
use crate::error::{Code, Error, Reason, Result};
use crate::store::{SimDeliveryRow, Store};

/// Whether `jid` is a channel JID, `<digits>@newsletter`.
pub fn is_channel_jid(jid: &str) -> bool {
    jid.strip_suffix("@newsletter")
        .is_some_and(|user| !user.is_empty() && user.bytes().all(|b| b.is_ascii_digit()))
}

/// Sorted, without repeats.
pub(super) fn channel_set(jids: &[String]) -> Vec<String> {
    jids.iter()
        .map(|j| j.trim().to_owned())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// Loads who administers and follows which channel into the accounts.
pub(super) async fn load(store: &Store, state: &mut State) -> Result<()> {
    for (jid, digits, admin) in store.sim_channel_members().await? {
        let Some(account) = state.accounts.get_mut(&digits) else {
            continue;
        };
        let list = if admin {
            &mut account.channels
        } else {
            &mut account.followed_channels
        };
        if !list.contains(&jid) {
            list.push(jid);
        }
    }
    for account in state.accounts.values_mut() {
        account.channels.sort();
        account.followed_channels.sort();
    }
    Ok(())
}

impl State {
    /// The accounts (digits) a post by `author` to channel `jid` reaches:
    /// its followers and its other admins. Only an admin may post.
    pub(super) fn channel_recipients(&self, author: &str, jid: &str) -> Result<Vec<String>> {
        let administers = |a: &Account| a.channels.iter().any(|c| c == jid);
        if !self.accounts.values().any(administers) {
            return Err(Error::new(
                Code::NotFound,
                Reason::NotFound,
                format!("channel {jid} does not exist on the simulated network"),
            ));
        }
        if !self.accounts.get(author).is_some_and(administers) {
            return Err(Error::whatsapp(
                Code::FailedPrecondition,
                format!(
                    "not-authorized: {} is not an admin of channel {jid}",
                    super::directory::user_jid(author)
                ),
            ));
        }
        let recipients: BTreeSet<String> = self
            .accounts
            .values()
            .filter(|a| a.digits != author)
            .filter(|a| administers(a) || a.followed_channels.iter().any(|c| c == jid))
            .map(|a| a.digits.clone())
            .collect();
        Ok(recipients.into_iter().collect())
    }
}

impl Network {
    /// An admin's post to a channel: accepted once (a delivery record with no
    /// recipient), then delivered to each receiving account exactly once (a
    /// record per recipient) as a message from the channel, with the author's
    /// other devices getting their copy. No receipts follow. Returns the
    /// acceptance time (the first one for a repeated id).
    pub(super) async fn send_to_channel(
        &self,
        account: &Account,
        sender: &Sender,
        request: &pb::SendMessageRequest,
        recipients: &[String],
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
        // Followers see the post as the channel's, not the admin's.
        let inbound = pb::InboundMessage {
            id: request.id.clone(),
            chat: request.chat.clone(),
            sender: request.chat.clone(),
            sender_lid: String::new(),
            sender_phone_number: String::new(),
            push_name: String::new(),
            from_me: false,
            timestamp: Some(timestamp(now)),
            content: request.content.clone(),
            edit_of: request.edit_of.clone(),
            revoke_of: request.revoke_of.clone(),
        };
        // A repeated id reaches only accounts that have not had it yet (a
        // send interrupted half-way); each gets it exactly once.
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
}
