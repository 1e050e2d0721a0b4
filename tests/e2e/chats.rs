//! Chat events: a new chat is `chats.upsert`, each further message a
//! `chats.update` of its unread count and last activity, and reading it
//! clears the count — in seed 001's JSON shapes.

use serde_json::Value as Json;
use wagate_proto::v1 as pb;
use wagate_tests::{admin, backends};

use crate::contacts::{events_of, wait_event};
use crate::messages::{PHONE_A, PHONE_B, Pair, send, text, wait_inbound, wait_message};

fn data(event: &pb::Event) -> Json {
    let json: Json = serde_json::from_str(&event.json).unwrap();
    json["data"][0].clone()
}

#[tokio::test]
async fn chats_count_unread_messages_until_read() {
    for backend in backends() {
        let pair = Pair::start(backend, |_| {}).await;
        let channel = pair.server.channel();
        let mut messages = pair.messages();
        let b_chat = format!("{}@s.whatsapp.net", PHONE_B.trim_start_matches('+'));
        let mut last = None;
        for body in ["one", "two"] {
            let sent = send(&mut messages, &pair.b, text(PHONE_A, body))
                .await
                .expect("send");
            last = Some(wait_message(&messages, &sent.name, pb::MessageStatus::Delivered).await);
        }
        let last = last.unwrap();
        let created = wait_event(&channel, &pair.a, "chats.upsert", &b_chat).await;
        let chat = data(&created);
        assert_eq!(chat["id"], b_chat.as_str(), "{chat}");
        assert_eq!(chat["unreadCount"], 1, "{chat}");
        assert!(
            chat["name"].as_str().is_some_and(|n| !n.is_empty()),
            "named after B: {chat}"
        );
        assert!(chat["conversationTimestamp"].as_i64().unwrap() > 1_700_000_000);
        let updated = wait_event(&channel, &pair.a, "chats.update", "\"unreadCount\":2").await;
        assert_eq!(data(&updated)["id"], b_chat.as_str());
        assert_eq!(
            events_of(channel.clone(), &pair.a, "chats.upsert")
                .await
                .len(),
            1
        );

        // A reads the last message: the chat's count drops to zero.
        let inbound = wait_inbound(&messages, &pair.a, &last.whatsapp_id).await;
        messages
            .mark_read(admin(pb::MarkReadRequest {
                parent: pair.a.clone(),
                keys: vec![inbound.key.unwrap()],
            }))
            .await
            .expect("mark read");
        let read = wait_event(&channel, &pair.a, "chats.update", "\"unreadCount\":0").await;
        assert_eq!(data(&read)["id"], b_chat.as_str());
        pair.stop().await;
    }
}
