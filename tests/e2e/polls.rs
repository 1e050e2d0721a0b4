//! Poll votes become `poll.results` (seed 001's Poll Results webhook): the
//! whole tally after each vote, a voter's new vote replacing the earlier
//! one, in personal chats and groups; the tally is on the poll message too.
//! Also: deleting a message through the API logs `messages.delete`.

use serde_json::{Value as Json, json};
use wagate_proto::v1 as pb;
use wagate_tests::{admin, backends};

use crate::contacts::{events_of, wait_event};
use crate::groups::{create, groups};
use crate::messages::{PHONE_B, PHONE_C, Pair, content, get, send, text, wait_message};

fn poll(chat: &str) -> pb::Message {
    content(
        chat,
        pb::message::Content::Poll(pb::PollContent {
            question: "Lunch?".into(),
            options: vec!["Pizza".into(), "Burger".into(), "Salad".into()],
            multi_select: true,
            ..Default::default()
        }),
    )
}

fn jid(phone: &str) -> String {
    format!("{}@s.whatsapp.net", phone.trim_start_matches('+'))
}

async fn vote(pair: &Pair, phone: &str, poll: &pb::Message, options: &[&str]) {
    pair.simulator()
        .inject_poll_vote(admin(pb::InjectPollVoteRequest {
            phone_number: phone.into(),
            message_id: poll.whatsapp_id.clone(),
            options: options.iter().map(|o| (*o).to_owned()).collect(),
        }))
        .await
        .expect("vote");
}

fn tally(event: &pb::Event) -> Json {
    let json: Json = serde_json::from_str(&event.json).unwrap();
    json["data"]["pollResult"].clone()
}

#[tokio::test]
async fn votes_in_a_personal_chat_become_poll_results() {
    for backend in backends() {
        let pair = Pair::start(backend, |_| {}).await;
        let channel = pair.server.channel();
        let mut messages = pair.messages();
        let sent = send(&mut messages, &pair.a, poll(PHONE_C))
            .await
            .expect("send poll");
        let sent = wait_message(&messages, &sent.name, pb::MessageStatus::Delivered).await;
        let carol = jid(PHONE_C);

        vote(&pair, PHONE_C, &sent, &["Pizza", "Salad"]).await;
        let first = wait_event(&channel, &pair.a, "poll.results", "Pizza").await;
        let json: Json = serde_json::from_str(&first.json).unwrap();
        assert_eq!(json["event"], "poll.results");
        // Milliseconds, as in the seed's example.
        assert!(
            json["timestamp"].as_i64().unwrap() > 1_700_000_000_000,
            "{json}"
        );
        assert_eq!(
            json["data"]["key"]["id"],
            sent.whatsapp_id.as_str(),
            "{json}"
        );
        assert_eq!(json["data"]["key"]["fromMe"], true, "{json}");
        assert_eq!(json["data"]["key"]["remoteJid"], carol.as_str(), "{json}");
        assert_eq!(
            tally(&first),
            json!([
                { "name": "Pizza", "voters": [carol] },
                { "name": "Burger", "voters": [] },
                { "name": "Salad", "voters": [carol] },
            ])
        );

        // Carol changes her mind: her new choice replaces the old one.
        vote(&pair, PHONE_C, &sent, &["Burger"]).await;
        let second = wait_event(
            &channel,
            &pair.a,
            "poll.results",
            "\"Burger\",\"voters\":[\"",
        )
        .await;
        assert_eq!(
            tally(&second),
            json!([
                { "name": "Pizza", "voters": [] },
                { "name": "Burger", "voters": [carol] },
                { "name": "Salad", "voters": [] },
            ])
        );
        assert!(second.cursor > first.cursor);
        assert_eq!(
            events_of(channel.clone(), &pair.a, "poll.results")
                .await
                .len(),
            2
        );
        let stored = get(&mut messages, &sent.name).await;
        let Some(pb::message::Content::Poll(stored)) = stored.content else {
            panic!("the poll keeps its content: {stored:?}");
        };
        assert_eq!(stored.results[1].voters, vec![carol.clone()]);
        assert!(stored.results[0].voters.is_empty());

        // Only a poll the account received can be voted in.
        let err = pair
            .simulator()
            .inject_poll_vote(admin(pb::InjectPollVoteRequest {
                phone_number: PHONE_B.into(),
                message_id: sent.whatsapp_id.clone(),
                options: vec!["Pizza".into()],
            }))
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::NotFound, "{err:?}");
        pair.stop().await;
    }
}

#[tokio::test]
async fn votes_in_a_group_reach_the_polls_author() {
    for backend in backends() {
        let pair = Pair::start(backend, |_| {}).await;
        let channel = pair.server.channel();
        let mut messages = pair.messages();
        let group = create(
            &mut groups(channel.clone()),
            &pair.a,
            "Lunch club",
            &[PHONE_B, PHONE_C],
        )
        .await;
        let sent = send(&mut messages, &pair.a, poll(&group.jid))
            .await
            .expect("send poll");
        let sent = wait_message(&messages, &sent.name, pb::MessageStatus::Delivered).await;
        vote(&pair, PHONE_C, &sent, &["Salad"]).await;
        vote(&pair, PHONE_B, &sent, &["Salad", "Pizza"]).await;
        let (bob, carol) = (jid(PHONE_B), jid(PHONE_C));
        let both = wait_event(
            &channel,
            &pair.a,
            "poll.results",
            &format!("[\"{carol}\",\"{bob}\"]"),
        )
        .await;
        assert_eq!(
            tally(&both),
            json!([
                { "name": "Pizza", "voters": [bob] },
                { "name": "Burger", "voters": [] },
                { "name": "Salad", "voters": [carol, bob] },
            ])
        );
        let json: Json = serde_json::from_str(&both.json).unwrap();
        assert_eq!(
            json["data"]["key"]["remoteJid"],
            group.jid.as_str(),
            "{json}"
        );
        pair.stop().await;
    }
}

#[tokio::test]
async fn deleting_a_message_through_the_api_logs_messages_delete() {
    for backend in backends() {
        let pair = Pair::start(backend, |_| {}).await;
        let channel = pair.server.channel();
        let mut messages = pair.messages();
        let sent = send(&mut messages, &pair.a, text(PHONE_B, "oops"))
            .await
            .expect("send");
        let sent = wait_message(&messages, &sent.name, pb::MessageStatus::Delivered).await;
        messages
            .delete_message(admin(pb::DeleteMessageRequest {
                name: sent.name.clone(),
            }))
            .await
            .expect("delete");
        let deleted = wait_event(&channel, &pair.a, "messages.delete", &sent.whatsapp_id).await;
        let json: Json = serde_json::from_str(&deleted.json).unwrap();
        assert_eq!(
            json["data"]["keys"][0]["id"],
            sent.whatsapp_id.as_str(),
            "{json}"
        );
        assert!(get(&mut messages, &sent.name).await.delete_time.is_some());
        // B's session sees the deletion as the recipient.
        wait_event(&channel, &pair.b, "messages.delete", &sent.whatsapp_id).await;
        pair.stop().await;
    }
}
