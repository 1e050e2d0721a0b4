//! Votes in polls. WhatsApp encrypts each vote to the poll's author with a
//! key derived from the poll's message secret (which the library keeps when
//! it sends a poll we built with one), the poll id and both JIDs. Finding
//! the vote in a message is pure ([`encrypted_vote`]); opening it needs the
//! client ([`open_vote`]).

use std::time::SystemTime;

use whatsapp_rust::features::PollVoteCiphertext;
use whatsapp_rust::types::message::MessageInfo;
use whatsapp_rust::wacore::proto_helpers::MessageExt;
use whatsapp_rust::waproto::whatsapp as wa;
use whatsapp_rust::{Client, Jid};

use crate::engine::{EngineEvent, PollVote};

/// A vote as it arrives: still encrypted.
#[derive(Clone, Debug, PartialEq)]
pub struct EncryptedVote {
    /// The chat as this account sees it.
    pub chat: String,
    pub poll_id: String,
    pub poll_creator: Jid,
    pub voter: Jid,
    pub enc_payload: Vec<u8>,
    pub enc_iv: Vec<u8>,
    pub timestamp: SystemTime,
}

/// The vote a received message carries, if it is one. The poll's key is
/// written from the voter's side: `from_me` when the voter made the poll,
/// the group author in `participant`, else the author is the voter's chat.
pub fn encrypted_vote(message: &wa::Message, info: &MessageInfo) -> Option<EncryptedVote> {
    let update = message.get_base_message().poll_update_message.as_option()?;
    let key = update.poll_creation_message_key.as_option()?;
    let vote = update.vote.as_option()?;
    let voter = info.source.sender.to_non_ad();
    let poll_creator = if key.from_me == Some(true) {
        voter.clone()
    } else {
        let author = key
            .participant
            .as_deref()
            .filter(|p| !p.is_empty())
            .or(key.remote_jid.as_deref())?;
        author.parse::<Jid>().ok()?.to_non_ad()
    };
    Some(EncryptedVote {
        chat: info.source.chat.to_non_ad().to_string(),
        poll_id: key.id.clone()?,
        poll_creator,
        voter,
        enc_payload: vote.enc_payload.clone()?,
        enc_iv: vote.enc_iv.clone()?,
        timestamp: SystemTime::from(info.timestamp),
    })
}

/// Where the library may have filed the poll's secret: under its author as
/// the vote names it, or under either of this account's identities.
pub fn secret_owners(vote: &EncryptedVote, own: &[Option<Jid>]) -> Vec<String> {
    let mut owners = vec![vote.poll_creator.to_non_ad().to_string()];
    for jid in own.iter().flatten() {
        let jid = jid.to_non_ad().to_string();
        if !owners.contains(&jid) {
            owners.push(jid);
        }
    }
    owners
}

/// Decrypts a vote into the option hashes chosen. `None` (logged) when the
/// poll's secret is unknown (a poll sent before this device was linked, or
/// by another client) or the vote does not open.
pub async fn open_vote(client: &Client, vote: EncryptedVote) -> Option<EngineEvent> {
    let backend = client.persistence_manager().backend();
    let mut secret = None;
    for owner in secret_owners(&vote, &[client.pn(), client.lid()]) {
        match backend
            .get_msg_secret(&vote.chat, &owner, &vote.poll_id)
            .await
        {
            Ok(Some(found)) => {
                secret = Some(found);
                break;
            }
            Ok(None) => {}
            Err(err) => tracing::debug!(error = %err, "could not read a poll's secret"),
        }
    }
    let Some(secret) = secret else {
        tracing::debug!(poll = %vote.poll_id, "a vote for a poll whose secret is unknown was ignored");
        return None;
    };
    let ciphertext = PollVoteCiphertext {
        enc_payload: &vote.enc_payload,
        enc_iv: &vote.enc_iv,
    };
    let hashes = client
        .polls()
        .decrypt_vote(
            ciphertext,
            &secret,
            &vote.poll_id,
            &vote.poll_creator,
            &vote.voter,
        )
        .await;
    match hashes {
        Ok(hashes) => Some(poll_vote_event(vote, &hashes)),
        Err(err) => {
            tracing::warn!(poll = %vote.poll_id, error = %err, "a poll vote did not decrypt");
            None
        }
    }
}

/// The engine event for a decrypted vote; hashes of the wrong size name no option.
pub fn poll_vote_event(vote: EncryptedVote, hashes: &[Vec<u8>]) -> EngineEvent {
    EngineEvent::PollVote(Box::new(PollVote {
        chat: vote.chat,
        poll_id: vote.poll_id,
        voter: vote.voter.to_string(),
        selected_option_hashes: hashes
            .iter()
            .filter_map(|h| <[u8; 32]>::try_from(h.as_slice()).ok())
            .collect(),
        timestamp: vote.timestamp,
    }))
}

#[cfg(test)]
#[path = "polls_tests.rs"]
mod tests;
