use std::time::{Duration, SystemTime};

use whatsapp_rust::buffa::MessageField;
use whatsapp_rust::chrono::DateTime;
use whatsapp_rust::types::message::{AddressingMode, MessageInfo, MessageSource};
use whatsapp_rust::wacore::poll;

use super::*;
use crate::engine::poll_option_hash;

const ME_PN: &str = "15551230000@s.whatsapp.net";
const ME_LID: &str = "100000012345678@lid";
const ALICE_PN: &str = "15557654321@s.whatsapp.net";
const GROUP: &str = "120363000000000001@g.us";
const SECRET: [u8; 32] = [7; 32];

fn info(chat: &str, sender: &str) -> MessageInfo {
    MessageInfo {
        id: "VOTE1".into(),
        source: MessageSource {
            chat: chat.parse().unwrap(),
            sender: sender.parse().unwrap(),
            is_group: chat.ends_with("@g.us"),
            addressing_mode: chat.ends_with("@g.us").then_some(AddressingMode::Lid),
            ..Default::default()
        },
        timestamp: DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
        ..Default::default()
    }
}

/// A vote as Alice's phone builds it: encrypted with the poll's secret for
/// `creator`, the poll's key as Alice sees the poll.
fn vote_message(key: wa::MessageKey, creator: &str, voter: &str, options: &[&str]) -> wa::Message {
    let hashes: Vec<Vec<u8>> = options
        .iter()
        .map(|o| poll_option_hash(o).to_vec())
        .collect();
    let (enc_payload, iv) =
        poll::encrypt_poll_vote_with_secret(&hashes, &SECRET, "POLL1", creator, voter).unwrap();
    wa::Message {
        poll_update_message: MessageField::some(wa::message::PollUpdateMessage {
            poll_creation_message_key: MessageField::some(key),
            vote: MessageField::some(wa::message::PollEncValue {
                enc_payload: Some(enc_payload),
                enc_iv: Some(iv.to_vec()),
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn open(vote: &EncryptedVote) -> Vec<Vec<u8>> {
    poll::decrypt_poll_vote_with_secret(
        PollVoteCiphertext {
            enc_payload: &vote.enc_payload,
            enc_iv: &vote.enc_iv,
        },
        &SECRET,
        &vote.poll_id,
        &vote.poll_creator.to_string(),
        &vote.voter.to_string(),
    )
    .unwrap()
}

#[test]
fn a_personal_vote_names_this_account_as_the_author_and_opens_to_the_options() {
    let key = wa::MessageKey {
        remote_jid: Some(ME_PN.into()),
        from_me: Some(false),
        id: Some("POLL1".into()),
        participant: None,
    };
    let message = vote_message(key, ME_PN, ALICE_PN, &["Pizza", "Salad"]);
    let vote = encrypted_vote(&message, &info(ALICE_PN, "15557654321:3@s.whatsapp.net")).unwrap();
    assert_eq!(vote.chat, ALICE_PN);
    assert_eq!(vote.poll_id, "POLL1");
    assert_eq!(vote.poll_creator.to_string(), ME_PN);
    assert_eq!(vote.voter.to_string(), ALICE_PN);
    assert_eq!(
        vote.timestamp,
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000)
    );
    let hashes = open(&vote);
    let EngineEvent::PollVote(event) = poll_vote_event(vote, &hashes) else {
        panic!("not a vote");
    };
    assert_eq!(
        event.selected_option_hashes,
        vec![poll_option_hash("Pizza"), poll_option_hash("Salad")]
    );
    assert_eq!(event.voter, ALICE_PN);
}

#[test]
fn a_group_vote_names_the_author_in_participant_and_the_voter_without_device() {
    let key = wa::MessageKey {
        remote_jid: Some(GROUP.into()),
        from_me: Some(false),
        id: Some("POLL1".into()),
        participant: Some(ME_LID.into()),
    };
    let voter = "200000000000001@lid";
    let message = vote_message(key, ME_LID, voter, &["Burger"]);
    let vote = encrypted_vote(&message, &info(GROUP, "200000000000001:2@lid")).unwrap();
    assert_eq!(vote.chat, GROUP);
    assert_eq!(vote.poll_creator.to_string(), ME_LID);
    assert_eq!(vote.voter.to_string(), voter);
    assert_eq!(open(&vote), vec![poll_option_hash("Burger").to_vec()]);
    // The secret is looked up under the author, then this account's identities.
    let owners = secret_owners(
        &vote,
        &[
            Some("15551230000:7@s.whatsapp.net".parse().unwrap()),
            Some(ME_LID.parse().unwrap()),
        ],
    );
    assert_eq!(owners, vec![ME_LID.to_owned(), ME_PN.to_owned()]);
}

#[test]
fn a_vote_on_ones_own_poll_from_the_phone_and_non_votes() {
    let key = wa::MessageKey {
        remote_jid: Some(ALICE_PN.into()),
        from_me: Some(true),
        id: Some("POLL1".into()),
        participant: None,
    };
    let message = vote_message(key, ME_PN, ME_PN, &[]);
    let vote = encrypted_vote(&message, &info(ALICE_PN, "15551230000:0@s.whatsapp.net")).unwrap();
    assert_eq!(vote.poll_creator.to_string(), ME_PN);
    assert!(open(&vote).is_empty(), "an empty choice withdraws the vote");
    let text = wa::Message {
        conversation: Some("hi".into()),
        ..Default::default()
    };
    assert_eq!(encrypted_vote(&text, &info(ALICE_PN, ALICE_PN)), None);
}
