//! Conformance checks of `SignalStore`.

use std::sync::Arc;

use whatsapp_rust::bytes::Bytes;

use super::{Backend, sorted};

pub(super) async fn identities(b: &dyn Backend) {
    let a = "15551110001@s.whatsapp.net";
    assert_eq!(
        b.load_identity(a).await.unwrap(),
        None,
        "identity: missing -> None"
    );
    b.put_identity(a, [1; 32]).await.unwrap();
    assert_eq!(
        b.load_identity(a).await.unwrap(),
        Some([1; 32]),
        "identity: round trip"
    );
    b.put_identity(a, [2; 32]).await.unwrap();
    assert_eq!(
        b.load_identity(a).await.unwrap(),
        Some([2; 32]),
        "identity: put overwrites"
    );
    b.delete_identity(a).await.unwrap();
    assert_eq!(b.load_identity(a).await.unwrap(), None, "identity: deleted");
    b.delete_identity(a)
        .await
        .expect("identity: deleting a missing key is Ok");

    b.put_identities_batch(&[])
        .await
        .expect("identity: empty batch");
    let (x, y) = ("15551110002:3@s.whatsapp.net", "100000000000009@lid");
    b.put_identity(x, [3; 32]).await.unwrap();
    b.put_identities_batch(&[
        (Arc::from(x), [4; 32]),
        (Arc::from(y), [5; 32]),
        (Arc::from(y), [6; 32]),
    ])
    .await
    .expect("identity: batch");
    assert_eq!(
        b.load_identity(x).await.unwrap(),
        Some([4; 32]),
        "identity: batch overwrites"
    );
    assert_eq!(
        b.load_identity(y).await.unwrap(),
        Some([6; 32]),
        "identity: a key repeated in a batch ends as its last value (batch = puts in order)"
    );
    b.delete_identity(x).await.unwrap();
    b.delete_identity(y).await.unwrap();
}

pub(super) async fn signal_sessions(b: &dyn Backend) {
    let a = "15551110003.0@s.whatsapp.net";
    assert!(
        b.get_session(a).await.unwrap().is_none(),
        "session: missing -> None"
    );
    assert!(
        !b.has_session(a).await.unwrap(),
        "session: has_session false when missing"
    );
    b.put_session(a, b"record-1").await.unwrap();
    assert_eq!(
        b.get_session(a).await.unwrap().as_deref(),
        Some(&b"record-1"[..]),
        "session: round trip"
    );
    assert!(
        b.has_session(a).await.unwrap(),
        "session: has_session after put"
    );
    b.put_session(a, b"record-2").await.unwrap();
    assert_eq!(
        b.get_session(a).await.unwrap().as_deref(),
        Some(&b"record-2"[..]),
        "session: overwrite"
    );

    b.put_sessions_batch(&[])
        .await
        .expect("session: empty batch");
    let c = "15551110004:7@s.whatsapp.net";
    b.put_sessions_batch(&[
        (Arc::from(a), Bytes::from_static(b"record-3")),
        (Arc::from(c), Bytes::from_static(b"record-4")),
        (Arc::from(c), Bytes::from_static(b"record-5")),
    ])
    .await
    .expect("session: batch");
    assert_eq!(
        b.get_session(a).await.unwrap().as_deref(),
        Some(&b"record-3"[..]),
        "session: batch overwrites"
    );
    assert_eq!(
        b.get_session(c).await.unwrap().as_deref(),
        Some(&b"record-5"[..]),
        "session: a repeated address in a batch ends as its last value"
    );
    b.delete_session(a).await.unwrap();
    assert!(!b.has_session(a).await.unwrap(), "session: deleted");
    assert!(
        b.get_session(a).await.unwrap().is_none(),
        "session: deleted -> None"
    );
    assert!(
        b.has_session(c).await.unwrap(),
        "session: delete removes only its address"
    );
    b.delete_session(c).await.unwrap();
    b.delete_session(c)
        .await
        .expect("session: deleting a missing session is Ok");
}

pub(super) async fn signal_state_for_user(b: &dyn Backend) {
    let check = |user: &'static str, want: bool, why: &'static str| async move {
        assert_eq!(
            b.has_signal_state_for_user(user).await.unwrap(),
            want,
            "has_signal_state_for_user({user}): {why}"
        );
    };
    check("555000111222", false, "no state yet").await;
    b.put_identity("555000111222@s.whatsapp.net", [7; 32])
        .await
        .unwrap();
    check(
        "555000111222",
        true,
        "an identity of device 0 (user@server)",
    )
    .await;
    check(
        "55500011122",
        false,
        "a prefix of another user is a different user",
    )
    .await;
    check("5550001112223", false, "a longer user is a different user").await;
    b.put_session("555000333:2@lid", b"s").await.unwrap();
    check(
        "555000333",
        true,
        "a session of a companion device (user:dev@server)",
    )
    .await;
    check("55500033", false, "prefix of a user with a device suffix").await;
    b.delete_identity("555000111222@s.whatsapp.net")
        .await
        .unwrap();
    b.delete_session("555000333:2@lid").await.unwrap();
    check("555000111222", false, "identity deleted").await;
    check("555000333", false, "session deleted").await;
}

pub(super) async fn prekeys(b: &dyn Backend) {
    assert_eq!(
        b.get_max_prekey_id().await.unwrap(),
        0,
        "prekey: max id is 0 when none"
    );
    assert!(
        b.load_prekey(1).await.unwrap().is_none(),
        "prekey: missing -> None"
    );
    b.store_prekey(1, b"pk-1", false).await.unwrap();
    assert_eq!(
        b.load_prekey(1).await.unwrap().as_deref(),
        Some(&b"pk-1"[..]),
        "prekey: round trip"
    );
    b.store_prekey(1, b"pk-1b", true).await.unwrap();
    assert_eq!(
        b.load_prekey(1).await.unwrap().as_deref(),
        Some(&b"pk-1b"[..]),
        "prekey: overwrite"
    );

    b.store_prekeys_batch(&[], false)
        .await
        .expect("prekey: empty batch");
    b.store_prekeys_batch(
        &[
            (2, Bytes::from_static(b"pk-2")),
            (3, Bytes::from_static(b"pk-3")),
            (1000, Bytes::from_static(b"pk-1000")),
        ],
        false,
    )
    .await
    .unwrap();
    assert_eq!(b.get_max_prekey_id().await.unwrap(), 1000, "prekey: max id");
    assert!(
        b.load_prekeys_batch(&[]).await.unwrap().is_empty(),
        "prekey: empty batch load"
    );
    let loaded = sorted(
        b.load_prekeys_batch(&[1, 2, 3, 4, 1000])
            .await
            .unwrap()
            .into_iter()
            .map(|(id, r)| (id, r.to_vec()))
            .collect(),
    );
    assert_eq!(
        loaded,
        vec![
            (1, b"pk-1b".to_vec()),
            (2, b"pk-2".to_vec()),
            (3, b"pk-3".to_vec()),
            (1000, b"pk-1000".to_vec())
        ],
        "prekey: batch load returns only existing ids"
    );

    b.remove_prekey(3).await.unwrap();
    assert!(b.load_prekey(3).await.unwrap().is_none(), "prekey: removed");
    b.mark_prekeys_uploaded(&[])
        .await
        .expect("prekey: mark nothing");
    b.mark_prekeys_uploaded(&[2, 3, 4]).await.unwrap();
    assert!(
        b.load_prekey(3).await.unwrap().is_none() && b.load_prekey(4).await.unwrap().is_none(),
        "prekey: mark_prekeys_uploaded must never insert or resurrect a deleted key"
    );
    assert_eq!(
        b.load_prekey(2).await.unwrap().as_deref(),
        Some(&b"pk-2"[..]),
        "prekey: marking keeps the record"
    );
    b.remove_prekey(1000).await.unwrap();
    assert_eq!(
        b.get_max_prekey_id().await.unwrap(),
        2,
        "prekey: max id after removals"
    );
    b.remove_prekey(1000)
        .await
        .expect("prekey: removing a missing key is Ok");
    for id in [1, 2] {
        b.remove_prekey(id).await.unwrap();
    }
    assert_eq!(
        b.get_max_prekey_id().await.unwrap(),
        0,
        "prekey: max id back to 0"
    );
}

pub(super) async fn signed_prekeys(b: &dyn Backend) {
    assert!(
        b.load_signed_prekey(1).await.unwrap().is_none(),
        "signed prekey: missing -> None"
    );
    assert!(
        b.load_all_signed_prekeys().await.unwrap().is_empty(),
        "signed prekey: none"
    );
    b.store_signed_prekey(1, b"spk-1").await.unwrap();
    b.store_signed_prekey(2, b"spk-2").await.unwrap();
    assert_eq!(
        b.load_signed_prekey(1).await.unwrap(),
        Some(b"spk-1".to_vec()),
        "signed prekey: round trip"
    );
    b.store_signed_prekey(1, b"spk-1b").await.unwrap();
    assert_eq!(
        sorted(b.load_all_signed_prekeys().await.unwrap()),
        vec![(1, b"spk-1b".to_vec()), (2, b"spk-2".to_vec())],
        "signed prekey: load all (with overwrite)"
    );
    b.remove_signed_prekey(2).await.unwrap();
    b.remove_signed_prekey(2)
        .await
        .expect("signed prekey: removing a missing key is Ok");
    assert_eq!(
        b.load_all_signed_prekeys().await.unwrap(),
        vec![(1, b"spk-1b".to_vec())],
        "signed prekey: removed"
    );
    b.remove_signed_prekey(1).await.unwrap();
}

pub(super) async fn sender_keys(b: &dyn Backend) {
    let a = "120363000000000001@g.us::15551110005:0@s.whatsapp.net";
    assert!(
        b.get_sender_key(a).await.unwrap().is_none(),
        "sender key: missing -> None"
    );
    b.put_sender_key(a, b"sk-1").await.unwrap();
    assert_eq!(
        b.get_sender_key(a).await.unwrap(),
        Some(b"sk-1".to_vec()),
        "sender key: round trip"
    );
    b.put_sender_key(a, b"sk-2").await.unwrap();
    assert_eq!(
        b.get_sender_key(a).await.unwrap(),
        Some(b"sk-2".to_vec()),
        "sender key: overwrite"
    );
    b.put_sender_keys_batch(&[])
        .await
        .expect("sender key: empty batch");
    let c = "120363000000000001@g.us::15551110006:0@s.whatsapp.net";
    b.put_sender_keys_batch(&[
        (Arc::from(a), Bytes::from_static(b"sk-3")),
        (Arc::from(c), Bytes::from_static(b"sk-4")),
        (Arc::from(c), Bytes::from_static(b"sk-5")),
    ])
    .await
    .unwrap();
    assert_eq!(
        b.get_sender_key(a).await.unwrap(),
        Some(b"sk-3".to_vec()),
        "sender key: batch overwrites"
    );
    assert_eq!(
        b.get_sender_key(c).await.unwrap(),
        Some(b"sk-5".to_vec()),
        "sender key: batch, last wins"
    );
    b.delete_sender_key(a).await.unwrap();
    assert!(
        b.get_sender_key(a).await.unwrap().is_none(),
        "sender key: deleted"
    );
    assert!(
        b.get_sender_key(c).await.unwrap().is_some(),
        "sender key: delete removes only its address"
    );
    b.delete_sender_key(c).await.unwrap();
    b.delete_sender_key(c)
        .await
        .expect("sender key: deleting a missing key is Ok");
}
