//! Conformance checks of the sent-message and pending-inbound buffers
//! (`ProtocolStore`) and of `MsgSecretStore`.

use std::sync::Arc;

use whatsapp_rust::wacore::store::traits::{MsgSecretEntry, PendingInboundKey, PendingInboundRow};

use super::{Backend, now};

pub(super) async fn sent_messages(backend: &Arc<dyn Backend>) {
    let b = &**backend;
    let chat = "15552220040@s.whatsapp.net";
    assert_eq!(
        b.take_sent_message(chat, "M0").await.unwrap(),
        None,
        "sent message: missing -> None"
    );
    b.store_sent_message(chat, "M1", b"p1").await.unwrap();
    assert_eq!(
        b.take_sent_message(chat, "M1").await.unwrap(),
        Some(b"p1".to_vec()),
        "sent message: take"
    );
    assert_eq!(
        b.take_sent_message(chat, "M1").await.unwrap(),
        None,
        "sent message: a second take gets None"
    );
    b.store_sent_message(chat, "M2", b"p2").await.unwrap();
    b.store_sent_message(chat, "M2", b"p2b").await.unwrap();
    assert_eq!(
        b.take_sent_message("15552220041@s.whatsapp.net", "M2")
            .await
            .unwrap(),
        None,
        "sent message: keyed by chat and id"
    );
    assert_eq!(
        b.take_sent_message(chat, "M2").await.unwrap(),
        Some(b"p2b".to_vec()),
        "sent message: replace"
    );

    b.store_sent_message(chat, "M3", b"p3").await.unwrap();
    b.store_sent_message(chat, "M4", b"p4").await.unwrap();
    assert_eq!(
        b.delete_expired_sent_messages(now() - 3600).await.unwrap(),
        0,
        "sent message: nothing older than an hour ago"
    );
    assert_eq!(
        b.delete_expired_sent_messages(now() + 3600).await.unwrap(),
        2,
        "sent message: both stored before a future cutoff"
    );
    assert_eq!(
        b.take_sent_message(chat, "M3").await.unwrap(),
        None,
        "sent message: expired"
    );

    // Concurrent takes of one message: exactly one gets it.
    for round in 0..5 {
        let id = format!("MC{round}");
        b.store_sent_message(chat, &id, b"payload").await.unwrap();
        let takers: Vec<_> = (0..12)
            .map(|_| {
                let backend = Arc::clone(backend);
                let id = id.clone();
                tokio::spawn(async move { backend.take_sent_message(chat, &id).await })
            })
            .collect();
        let mut winners = 0;
        for taker in takers {
            if let Some(payload) = taker
                .await
                .expect("taker task")
                .expect("concurrent take must not fail")
            {
                assert_eq!(payload, b"payload");
                winners += 1;
            }
        }
        assert_eq!(
            winners, 1,
            "sent message: 12 concurrent takes must yield exactly one Some"
        );
    }
}

pub(super) async fn pending_inbound(b: &dyn Backend) {
    let (chat, s1, s2) = (
        "120363000000000003@g.us",
        "15552220050@s.whatsapp.net",
        "15552220051@s.whatsapp.net",
    );
    assert_eq!(
        b.get_pending_inbound(chat, s1, "I1").await.unwrap(),
        None,
        "pending inbound: missing -> None"
    );
    b.store_pending_inbound(chat, s1, "I1", b"m1")
        .await
        .unwrap();
    assert_eq!(
        b.get_pending_inbound(chat, s1, "I1").await.unwrap(),
        Some(b"m1".to_vec()),
        "pending inbound: round trip"
    );
    b.store_pending_inbound(chat, s1, "I1", b"m1b")
        .await
        .unwrap();
    assert_eq!(
        b.get_pending_inbound(chat, s1, "I1").await.unwrap(),
        Some(b"m1b".to_vec()),
        "pending inbound: replace"
    );
    b.store_pending_inbound(chat, s2, "I1", b"other")
        .await
        .unwrap();
    assert_eq!(
        b.get_pending_inbound(chat, s1, "I1").await.unwrap(),
        Some(b"m1b".to_vec()),
        "pending inbound: keyed by (chat, sender, id)"
    );
    b.delete_pending_inbound(chat, s1, "I1").await.unwrap();
    assert_eq!(
        b.get_pending_inbound(chat, s1, "I1").await.unwrap(),
        None,
        "pending inbound: deleted"
    );
    assert!(
        b.get_pending_inbound(chat, s2, "I1")
            .await
            .unwrap()
            .is_some(),
        "pending inbound: delete is exact"
    );
    b.delete_pending_inbound(chat, s1, "I1")
        .await
        .expect("pending inbound: deleting a missing row is Ok");

    b.store_pending_inbound_batch(&[])
        .await
        .expect("pending inbound: empty batch");
    let row = |id: &'static str, message: &'static [u8]| PendingInboundRow {
        chat,
        sender: s1,
        id,
        message,
    };
    b.store_pending_inbound_batch(&[
        row("B1", b"b1"),
        row("B2", b"b2"),
        row("B3", b"x"),
        row("B3", b"b3"),
    ])
    .await
    .unwrap();
    for (id, m) in [("B1", b"b1"), ("B2", b"b2"), ("B3", b"b3")] {
        assert_eq!(
            b.get_pending_inbound(chat, s1, id).await.unwrap(),
            Some(m.to_vec()),
            "pending inbound: batch {id}"
        );
    }
    b.delete_pending_inbound_batch(&[])
        .await
        .expect("pending inbound: empty batch delete");
    let key = |id: &'static str| PendingInboundKey {
        chat,
        sender: s1,
        id,
    };
    b.delete_pending_inbound_batch(&[key("B1"), key("B2"), key("B9")])
        .await
        .unwrap();
    assert_eq!(
        b.get_pending_inbound(chat, s1, "B1").await.unwrap(),
        None,
        "pending inbound: batch delete"
    );
    assert_eq!(
        b.get_pending_inbound(chat, s1, "B2").await.unwrap(),
        None,
        "pending inbound: batch delete"
    );
    assert!(
        b.get_pending_inbound(chat, s1, "B3")
            .await
            .unwrap()
            .is_some(),
        "pending inbound: batch delete is exact"
    );

    assert_eq!(
        b.delete_expired_pending_inbound(now() - 3600)
            .await
            .unwrap(),
        0,
        "pending inbound: none expired"
    );
    assert_eq!(
        b.delete_expired_pending_inbound(now() + 3600)
            .await
            .unwrap(),
        2,
        "pending inbound: both remaining rows older than a future cutoff"
    );
    assert_eq!(
        b.get_pending_inbound(chat, s1, "B3").await.unwrap(),
        None,
        "pending inbound: expired"
    );
}

pub(super) fn secret(
    chat: &str,
    sender: &str,
    msg_id: &str,
    fill: u8,
    expires_at: i64,
    message_ts: i64,
) -> MsgSecretEntry {
    MsgSecretEntry {
        chat: chat.into(),
        sender: sender.into(),
        msg_id: msg_id.into(),
        secret: [fill; 32],
        expires_at,
        message_ts,
    }
}

pub(super) async fn msg_secrets(b: &dyn Backend) {
    let (c, s) = ("15552220060@s.whatsapp.net", "15552220060@s.whatsapp.net");
    let get = |id: &'static str| async move { b.get_msg_secret_with_ts(c, s, id).await.unwrap() };
    assert_eq!(
        b.get_msg_secret(c, s, "S1").await.unwrap(),
        None,
        "msg secret: missing -> None"
    );
    assert_eq!(
        get("S1").await,
        None,
        "msg secret: missing -> None (with ts)"
    );
    b.put_msg_secret(c, s, "S1", &[1; 32]).await.unwrap();
    assert_eq!(
        b.get_msg_secret(c, s, "S1").await.unwrap(),
        Some(vec![1; 32]),
        "msg secret: round trip"
    );
    assert_eq!(
        get("S1").await,
        Some((vec![1; 32], 0)),
        "msg secret: put_msg_secret has message_ts 0"
    );
    assert_eq!(
        b.put_msg_secrets(Vec::new()).await.unwrap(),
        0,
        "msg secret: empty batch writes 0"
    );

    let written = b
        .put_msg_secrets(vec![
            secret(c, s, "S2", 2, 1000, 500),
            secret(c, s, "S5", 5, 1500, 0),
        ])
        .await
        .unwrap();
    assert_eq!(
        written, 2,
        "msg secret: put_msg_secrets returns the rows written"
    );
    assert_eq!(
        get("S2").await,
        Some((vec![2; 32], 500)),
        "msg secret: batch round trip with message_ts"
    );
    b.put_msg_secrets(vec![secret(c, s, "S2", 3, 2000, 0)])
        .await
        .unwrap();
    assert_eq!(
        get("S2").await,
        Some((vec![3; 32], 500)),
        "msg secret: the new secret wins, a 0 message_ts never clobbers a known one"
    );
    b.put_msg_secrets(vec![secret(c, s, "S2", 3, 1200, 600)])
        .await
        .unwrap();
    assert_eq!(
        get("S2").await,
        Some((vec![3; 32], 600)),
        "msg secret: message_ts = max"
    );
    // Expiry merges: S2 keeps 2000 (max); 0 = never wins both ways.
    b.put_msg_secrets(vec![secret(c, s, "S3", 4, 0, 0)])
        .await
        .unwrap();
    b.put_msg_secrets(vec![secret(c, s, "S3", 4, 5000, 0)])
        .await
        .unwrap();
    b.put_msg_secrets(vec![secret(c, s, "S4", 4, 3000, 0)])
        .await
        .unwrap();
    b.put_msg_secrets(vec![secret(c, s, "S4", 4, 0, 0)])
        .await
        .unwrap();
    let written = b
        .put_msg_secrets(vec![
            secret(c, s, "S6", 6, 100, 10),
            secret(c, s, "S6", 7, 0, 5),
        ])
        .await
        .unwrap();
    assert_eq!(written, 2, "msg secret: rows written counts every entry");
    assert_eq!(
        get("S6").await,
        Some((vec![7; 32], 10)),
        "msg secret: repeated key in a batch merges in order"
    );
    // Scoping by all three columns.
    b.put_msg_secret("120363000000000004@g.us", s, "S1", &[9; 32])
        .await
        .unwrap();
    b.put_msg_secret(c, "15552220061@s.whatsapp.net", "S1", &[8; 32])
        .await
        .unwrap();
    assert_eq!(
        b.get_msg_secret(c, s, "S1").await.unwrap(),
        Some(vec![1; 32]),
        "msg secret: keyed by chat+sender+id"
    );

    assert_eq!(
        b.delete_expired_msg_secrets(1499).await.unwrap(),
        0,
        "msg secret: nothing expires before 1500"
    );
    assert_eq!(
        b.delete_expired_msg_secrets(1500).await.unwrap(),
        1,
        "msg secret: expires_at <= cutoff (S5)"
    );
    assert_eq!(get("S5").await, None, "msg secret: S5 expired");
    assert_eq!(
        b.delete_expired_msg_secrets(1999).await.unwrap(),
        0,
        "msg secret: S2 kept its later deadline 2000"
    );
    assert_eq!(
        b.delete_expired_msg_secrets(2000).await.unwrap(),
        1,
        "msg secret: S2 expires at 2000"
    );
    assert_eq!(
        b.delete_expired_msg_secrets(i64::MAX).await.unwrap(),
        0,
        "msg secret: expires_at 0 never expires (S1, S3, S4, S6: 0 wins on merge)"
    );
    for id in ["S1", "S3", "S4", "S6"] {
        assert!(get(id).await.is_some(), "msg secret: {id} never expires");
    }
}
