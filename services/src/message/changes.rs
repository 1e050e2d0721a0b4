//! Changes to a stored message after it was sent or received: edits and
//! deletions for everyone (by its author, here or on another device) and
//! votes in polls this account sent. Each change commits with its events.

use std::time::SystemTime;

use wagate_proto::v1 as pb;
use wagate_proto::v1::message::Content;

use super::model::{MessageRecord, replace_text};
use crate::engine::{MessageChange, PollVote, poll_option_hash};
use crate::error::Result;
use crate::session::model::SessionId;
use crate::store::{MessageRewrite, MessageSelector, NewEvent, Store};

/// Records an edit or deletion of the message `selector` names, with the
/// events `events` drafts from the message as it was. Returns that message,
/// or `None` when it is not stored.
pub async fn record_change(
    store: &Store,
    session: SessionId,
    selector: MessageSelector<'_>,
    change: MessageChange,
    time: SystemTime,
    events: impl FnOnce(&MessageRecord) -> Vec<NewEvent>,
) -> Result<Option<MessageRecord>> {
    let time = crate::api::system_time_ms(time);
    store
        .rewrite_message_with_events(session, selector, |record| {
            Some(match change {
                MessageChange::Edited { new_body } => {
                    // Content is kept only when the session logs it.
                    let payload = record.payload.clone().map(|mut payload| {
                        replace_text(&mut payload, &new_body);
                        payload
                    });
                    MessageRewrite {
                        body: if payload.is_some() {
                            new_body
                        } else {
                            String::new()
                        },
                        payload,
                        edit_time: Some(time),
                        events: events(record),
                        ..MessageRewrite::default()
                    }
                }
                MessageChange::Revoked => MessageRewrite {
                    delete_time: Some(time),
                    clear_media: true,
                    events: events(record),
                    ..MessageRewrite::default()
                },
            })
        })
        .await
}

/// Counts a vote in the poll it is for, with the events `events` drafts
/// from the poll after the vote. Returns whether a stored poll counted it:
/// votes for unknown polls, or polls whose content the session does not
/// log (the options are needed to read a vote), are ignored.
pub async fn record_poll_vote(
    store: &Store,
    session: SessionId,
    vote: &PollVote,
    events: impl FnOnce(&MessageRecord) -> Vec<NewEvent>,
) -> Result<bool> {
    let counted = store
        .rewrite_message_with_events(
            session,
            MessageSelector::WhatsAppId(&vote.poll_id),
            |record| {
                let mut payload = record.payload.clone()?;
                let Some(Content::Poll(poll)) = payload.content.as_mut() else {
                    return None;
                };
                count_vote(poll, &vote.voter, &vote.selected_option_hashes);
                let after = MessageRecord {
                    payload: Some(payload.clone()),
                    ..record.clone()
                };
                Some(MessageRewrite {
                    body: record.body.clone(),
                    payload: Some(payload),
                    events: events(&after),
                    ..MessageRewrite::default()
                })
            },
        )
        .await?;
    if counted.is_none() {
        tracing::debug!(session, poll = %vote.poll_id, "a vote for a poll that is not stored was ignored");
    }
    Ok(counted.is_some())
}

/// Replaces the voter's earlier choice with this one (WhatsApp sends the
/// whole current choice with every vote). Hashes of no option are ignored.
pub fn count_vote(poll: &mut pb::PollContent, voter: &str, selected: &[[u8; 32]]) {
    if poll.results.len() != poll.options.len() {
        poll.results = poll
            .options
            .iter()
            .map(|name| pb::PollOptionResult {
                name: name.clone(),
                voters: Vec::new(),
            })
            .collect();
    }
    for result in &mut poll.results {
        result.voters.retain(|v| v != voter);
        if selected.contains(&poll_option_hash(&result.name)) {
            result.voters.push(voter.to_owned());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn poll() -> pb::PollContent {
        pb::PollContent {
            question: "Lunch?".into(),
            options: vec!["Pizza".into(), "Burger".into(), "Salad".into()],
            multi_select: true,
            results: Vec::new(),
        }
    }

    fn voters(poll: &pb::PollContent) -> Vec<Vec<&str>> {
        poll.results
            .iter()
            .map(|r| r.voters.iter().map(String::as_str).collect())
            .collect()
    }

    #[test]
    fn a_new_vote_replaces_the_voters_earlier_choice() {
        let mut poll = poll();
        let (a, b) = ("1@s.whatsapp.net", "2@s.whatsapp.net");
        count_vote(&mut poll, a, &[poll_option_hash("Pizza")]);
        count_vote(
            &mut poll,
            b,
            &[poll_option_hash("Pizza"), poll_option_hash("Salad")],
        );
        assert_eq!(voters(&poll), vec![vec![a, b], vec![], vec![b]]);
        count_vote(&mut poll, a, &[poll_option_hash("Burger")]);
        assert_eq!(voters(&poll), vec![vec![b], vec![a], vec![b]]);
        // An empty choice withdraws the vote; unknown hashes count for nothing.
        count_vote(&mut poll, b, &[poll_option_hash("Soup")]);
        assert_eq!(voters(&poll), vec![vec![], vec![a], vec![]]);
        let names: Vec<_> = poll.results.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["Pizza", "Burger", "Salad"]);
    }
}
