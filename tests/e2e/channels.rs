//! Channels (newsletters) end to end on the simulated network: accounts
//! registered with the channels they administer and follow, an admin's post
//! through MessageService reaching a follower's session once as
//! `messages-newsletter.received`, and a follower refused when it posts.

use serde_json::Value as Json;
use wagate_proto::v1 as pb;
use wagate_tests::{TestServer, admin, backends, violated_fields};

use crate::contacts::wait_event;
use crate::messages::{PHONE_A, PHONE_B, deliveries, send, text, wait_inbound, wait_message};
use crate::{create_session, link_by_qr};

const CHANNEL: &str = "120363000000000077@newsletter";

fn register(phone: &str, channels: &[&str], followed: &[&str]) -> pb::RegisterAccountRequest {
    pb::RegisterAccountRequest {
        account: Some(pb::SimAccount {
            phone_number: phone.into(),
            channels: channels.iter().map(|c| (*c).to_owned()).collect(),
            followed_channels: followed.iter().map(|c| (*c).to_owned()).collect(),
            ..Default::default()
        }),
    }
}

#[tokio::test]
async fn admins_post_to_channels_and_followers_receive_them() {
    for backend in backends() {
        let server = TestServer::start(backend).await;
        let mut simulator = server.simulator();

        // Channel JIDs are checked at registration.
        let err = simulator
            .register_account(admin(register(PHONE_A, &["123@g.us"], &[])))
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::InvalidArgument, "{backend:?}");
        assert_eq!(violated_fields(&err), ["account.channels[0]"]);
        let err = simulator
            .register_account(admin(register(PHONE_A, &[], &[CHANNEL, "x@newsletter"])))
            .await
            .unwrap_err();
        assert_eq!(violated_fields(&err), ["account.followed_channels[1]"]);

        // A administers the channel; B follows it.
        let a_account = simulator
            .register_account(admin(register(PHONE_A, &[CHANNEL], &[])))
            .await
            .expect("register A")
            .into_inner();
        assert_eq!(a_account.channels, [CHANNEL]);
        simulator
            .register_account(admin(register(PHONE_B, &[], &[CHANNEL])))
            .await
            .expect("register B");
        let listed = simulator
            .list_accounts(admin(pb::ListAccountsRequest::default()))
            .await
            .unwrap()
            .into_inner()
            .accounts;
        let ties: Vec<_> = listed
            .iter()
            .map(|a| {
                (
                    a.phone_number.as_str(),
                    a.channels.clone(),
                    a.followed_channels.clone(),
                )
            })
            .collect();
        assert_eq!(
            ties,
            [
                (PHONE_A, vec![CHANNEL.to_owned()], vec![]),
                (PHONE_B, vec![], vec![CHANNEL.to_owned()]),
            ],
            "{backend:?}"
        );

        // Sessions link to the registered accounts.
        let mut sessions = server.sessions();
        let a = create_session(&mut sessions, PHONE_A).await.name;
        let b = create_session(&mut sessions, PHONE_B).await.name;
        link_by_qr(&mut sessions, &mut simulator, &a, PHONE_A).await;
        link_by_qr(&mut sessions, &mut simulator, &b, PHONE_B).await;

        // A posts to its channel: the server acknowledges it.
        let mut messages = server.messages();
        let posted = send(&mut messages, &a, text(CHANNEL, "channel news"))
            .await
            .expect("send");
        let posted = wait_message(&messages, &posted.name, pb::MessageStatus::Sent).await;
        // B's session receives it in the channel's chat, from the channel.
        let inbound = wait_inbound(&messages, &b, &posted.whatsapp_id).await;
        assert_eq!(inbound.chat, CHANNEL, "{backend:?}");
        let event = wait_event(
            &server.channel(),
            &b,
            "messages-newsletter.received",
            &posted.whatsapp_id,
        )
        .await;
        let json: Json = serde_json::from_str(&event.json).unwrap();
        let key = &json["data"]["messages"]["key"];
        assert_eq!(key["remoteJid"], CHANNEL, "{json}");
        assert_eq!(key["fromMe"], false, "{json}");
        assert!(key.get("participant").is_none(), "{json}");
        // The network recorded the post once, and one copy to B.
        let copies: Vec<_> = deliveries(&mut simulator, PHONE_A)
            .await
            .into_iter()
            .filter(|d| d.message_id == posted.whatsapp_id)
            .map(|d| (d.to_jid, d.recipient_jid))
            .collect();
        let b_jid = format!("{}@s.whatsapp.net", PHONE_B.trim_start_matches('+'));
        assert_eq!(
            copies,
            [
                (CHANNEL.to_owned(), String::new()),
                (CHANNEL.to_owned(), b_jid)
            ],
            "{backend:?}"
        );
        // Channel posts get no delivery receipts: the post stays SENT.
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let still = crate::messages::get(&mut messages, &posted.name).await;
        assert_eq!(still.status, pb::MessageStatus::Sent as i32, "{backend:?}");

        // B follows the channel but is not an admin: its post fails for good.
        let refused = send(&mut messages, &b, text(CHANNEL, "from a follower"))
            .await
            .expect("queued");
        let failed = wait_message(&messages, &refused.name, pb::MessageStatus::Failed).await;
        let error = failed.error.expect("failure details");
        assert_eq!(
            error.code,
            tonic::Code::FailedPrecondition as i32,
            "{error:?}"
        );
        assert!(error.message.contains("not an admin"), "{error:?}");
        let from_b = deliveries(&mut simulator, PHONE_B).await;
        assert!(from_b.is_empty(), "{backend:?}: {from_b:?}");
        server.stop().await;
    }
}
