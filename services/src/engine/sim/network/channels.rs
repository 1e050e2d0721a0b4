//! Channels (newsletters) on the simulated network: accounts administer
//! channels (they may post to them) and follow them (they receive their
//! posts). A post is acknowledged by the server, recorded once as accepted
//! and once per receiving account, and reaches the followers as a message
//! from the channel itself, in the channel's chat. As on WhatsApp there are
//! no delivery or read receipts for channel posts.

use std::collections::BTreeSet;

use super::{Account, State};
use crate::error::{Code, Error, Reason, Result};
use crate::store::Store;

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
