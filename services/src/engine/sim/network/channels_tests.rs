//! Channels (newsletters) on the simulated network, against a scratch SQLite
//! store: admins post, followers receive each post exactly once (online or
//! from the mailbox) as a message from the channel, with no receipts; others
//! are refused; and the channels survive a reload.

use wagate_proto::wagate::simnet::v1 as pb;

use super::is_channel_jid;
use super::tests::{A, B, C, D, Device, Scratch, jid, link, register, send};
use crate::error::{Code, Reason};

const CHANNEL: &str = "120363000000000001@newsletter";
const OTHER_CHANNEL: &str = "120363000000000002@newsletter";

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

fn is_message(event: &pb::attach_response::Event) -> bool {
    matches!(event, pb::attach_response::Event::Message(_))
}

fn is_receipt(event: &pb::attach_response::Event) -> bool {
    matches!(event, pb::attach_response::Event::Receipt(_))
}

/// A administers CHANNEL; B and C follow it; D follows another channel.
async fn register_channel_accounts(net: &super::Network) {
    net.register_account_with_channels(A, None, &strings(&[CHANNEL]), &[])
        .await
        .unwrap();
    for follower in [B, C] {
        net.register_account_with_channels(follower, None, &[], &strings(&[CHANNEL]))
            .await
            .unwrap();
    }
    net.register_account_with_channels(D, None, &[], &strings(&[OTHER_CHANNEL]))
        .await
        .unwrap();
}

#[test]
fn channel_jids_are_digits_at_newsletter() {
    assert!(is_channel_jid(CHANNEL));
    for bad in [
        "",
        "@newsletter",
        "12a@newsletter",
        "123@g.us",
        "123@s.whatsapp.net",
        "123",
    ] {
        assert!(!is_channel_jid(bad), "{bad:?}");
    }
}

#[tokio::test]
async fn admin_posts_reach_each_follower_exactly_once() {
    let scratch = Scratch::new();
    let net = scratch.network().await;
    register_channel_accounts(&net).await;
    let mut a1 = link(&net, A).await;
    let mut a2 = link(&net, A).await;
    let mut b = link(&net, B).await;
    let c = link(&net, C).await;
    let c_credentials = c.credentials.clone();
    drop(c);
    let mut d = link(&net, D).await;
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    a1.drain().await;
    a2.drain().await;
    b.drain().await;
    d.drain().await;

    let first = net
        .device_send(send(&a1, "3EB0CHANNEL1", CHANNEL, "news"))
        .await
        .unwrap();
    // The follower sees the channel's post from the channel itself.
    let to_b = b.message().await;
    assert_eq!(
        (
            to_b.chat.as_str(),
            to_b.sender.as_str(),
            to_b.from_me,
            to_b.id.as_str(),
            to_b.sender_phone_number.as_str(),
            to_b.sender_lid.as_str(),
        ),
        (CHANNEL, CHANNEL, false, "3EB0CHANNEL1", "", "")
    );
    // The author's other device gets its copy; the sending device nothing,
    // and no receipts come back for a channel post.
    let own = a2.message().await;
    assert_eq!((own.chat.as_str(), own.from_me), (CHANNEL, true));
    let events = a1.drain().await;
    assert!(
        !events.iter().any(|e| is_message(e) || is_receipt(e)),
        "{events:?}"
    );
    // A non-follower gets nothing.
    assert!(d.drain().await.is_empty());

    // A retry of the same id is acknowledged with the first time and
    // delivers nothing again.
    let again = net
        .device_send(send(&a1, "3EB0CHANNEL1", CHANNEL, "news"))
        .await
        .unwrap();
    let ms =
        |t: std::time::SystemTime| t.duration_since(std::time::UNIX_EPOCH).unwrap().as_millis();
    assert_eq!(ms(again), ms(first));
    assert!(b.drain().await.is_empty());
    assert!(!a2.drain().await.iter().any(is_message));
    let rows = net.deliveries(Some(A), 0, 100).await.unwrap();
    let mut recipients: Vec<(String, String)> = rows
        .iter()
        .filter(|r| r.message_id == "3EB0CHANNEL1")
        .map(|r| (r.to_jid.clone(), r.recipient_jid.clone()))
        .collect();
    recipients.sort();
    assert_eq!(
        recipients,
        vec![
            (CHANNEL.to_owned(), String::new()),
            (CHANNEL.to_owned(), jid(B)),
            (CHANNEL.to_owned(), jid(C)),
        ]
    );

    // C, offline, finds the post on reconnecting, once.
    let mut c = Device::reconnect(&net, c_credentials).await;
    let to_c = c.message().await;
    assert_eq!(
        (to_c.chat.as_str(), to_c.sender.as_str(), to_c.id.as_str()),
        (CHANNEL, CHANNEL, "3EB0CHANNEL1")
    );
    assert!(!c.drain().await.iter().any(is_message));

    // B reading the post sends the admin no receipt.
    net.device_receipt(pb::SendReceiptRequest {
        credentials: Some(b.credentials.clone()),
        chat: CHANNEL.into(),
        participant: String::new(),
        ids: vec!["3EB0CHANNEL1".into()],
        kind: pb::ReceiptKind::Read as i32,
    })
    .await
    .unwrap();
    assert!(!a1.drain().await.iter().any(is_receipt));
}

#[tokio::test]
async fn only_admins_post_and_only_to_existing_channels() {
    let scratch = Scratch::new();
    let net = scratch.network().await;
    register_channel_accounts(&net).await;
    let b = link(&net, B).await;
    let d = link(&net, D).await;

    // A follower is not an admin.
    let err = net
        .device_send(send(&b, "3EB0NOTADMIN", CHANNEL, "hi"))
        .await
        .unwrap_err();
    assert_eq!(
        (err.code, err.reason),
        (Code::FailedPrecondition, Reason::WhatsappError)
    );
    assert!(
        err.message.contains("not-authorized") && err.message.contains("not an admin"),
        "{}",
        err.message
    );
    // A channel nobody administers does not exist.
    let err = net
        .device_send(send(&d, "3EB0NOCHANNEL", OTHER_CHANNEL, "hi"))
        .await
        .unwrap_err();
    assert_eq!((err.code, err.reason), (Code::NotFound, Reason::NotFound));
    let rows = net.deliveries(None, 0, 100).await.unwrap();
    assert!(rows.is_empty(), "{rows:?}");
}

#[tokio::test]
async fn channels_survive_a_reload() {
    let scratch = Scratch::new();
    let net = scratch.network().await;
    register_channel_accounts(&net).await;
    register(&net, &[super::tests::E]).await;
    drop(net);

    let net = scratch.network().await;
    let accounts = net.accounts();
    let ties: Vec<(String, Vec<String>, Vec<String>)> = accounts
        .iter()
        .map(|(a, _)| {
            (
                a.digits.clone(),
                a.channels.clone(),
                a.followed_channels.clone(),
            )
        })
        .collect();
    assert_eq!(
        ties,
        vec![
            (A.to_owned(), strings(&[CHANNEL]), vec![]),
            (B.to_owned(), vec![], strings(&[CHANNEL])),
            (C.to_owned(), vec![], strings(&[CHANNEL])),
            (D.to_owned(), vec![], strings(&[OTHER_CHANNEL])),
            (super::tests::E.to_owned(), vec![], vec![]),
        ]
    );
    // After the reload the admin still posts to its followers, and a
    // follower still cannot post.
    let mut b = link(&net, B).await;
    net.phone_send(A, CHANNEL, "after restart").await.unwrap();
    let to_b = b.message().await;
    assert_eq!(
        (to_b.chat.as_str(), to_b.sender.as_str()),
        (CHANNEL, CHANNEL)
    );
    let err = net.phone_send(B, CHANNEL, "hi").await.unwrap_err();
    assert_eq!(err.reason, Reason::WhatsappError);
}
