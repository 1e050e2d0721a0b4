//! Conformance checks of `ProtocolStore`: sender-key device tracking, LID
//! mappings, base keys, the device registry, group metadata and tc tokens
//! (the sent-message and pending-inbound buffers are in `messages`).

use whatsapp_rust::wacore::store::traits::{
    DeviceInfo, DeviceListRecord, LidPnMappingEntry, TcTokenEntry,
};

use super::{Backend, sorted};

pub(super) async fn sender_key_devices(b: &dyn Backend) {
    let get =
        |group: &'static str| async move { sorted(b.get_sender_key_devices(group).await.unwrap()) };
    let s = |v: &str| v.to_string();
    assert!(get("g1@g.us").await.is_empty(), "sender key devices: none");
    b.set_sender_key_status("g1@g.us", &[])
        .await
        .expect("sender key devices: empty set");
    b.set_sender_key_status("g1@g.us", &[("d1@lid", true), ("d2@lid", false)])
        .await
        .unwrap();
    assert_eq!(
        get("g1@g.us").await,
        vec![(s("d1@lid"), true), (s("d2@lid"), false)],
        "sender key devices: round trip"
    );
    b.set_sender_key_status(
        "g1@g.us",
        &[("d2@lid", true), ("d3@lid", true), ("d3@lid", false)],
    )
    .await
    .unwrap();
    assert_eq!(
        get("g1@g.us").await,
        vec![
            (s("d1@lid"), true),
            (s("d2@lid"), true),
            (s("d3@lid"), false)
        ],
        "sender key devices: upsert of has_key (last wins in a batch)"
    );
    b.set_sender_key_status("g2@g.us", &[("d1@lid", true), ("d4@lid", true)])
        .await
        .unwrap();
    b.delete_sender_key_device_rows(&[])
        .await
        .expect("sender key devices: empty delete");
    b.delete_sender_key_device_rows(&["d1@lid"]).await.unwrap();
    assert_eq!(
        get("g1@g.us").await,
        vec![(s("d2@lid"), true), (s("d3@lid"), false)],
        "sender key devices: rows of a device deleted in every group (g1)"
    );
    assert_eq!(
        get("g2@g.us").await,
        vec![(s("d4@lid"), true)],
        "sender key devices: ... and in g2"
    );
    b.clear_sender_key_devices("g1@g.us").await.unwrap();
    assert!(
        get("g1@g.us").await.is_empty(),
        "sender key devices: group cleared"
    );
    assert_eq!(
        get("g2@g.us").await.len(),
        1,
        "sender key devices: clearing is per group"
    );
    b.set_sender_key_status("g1@g.us", &[("d5@lid", false)])
        .await
        .unwrap();
    b.clear_all_sender_key_devices().await.unwrap();
    assert!(
        get("g1@g.us").await.is_empty() && get("g2@g.us").await.is_empty(),
        "sender key devices: clear all"
    );
}

pub(super) fn lid_entry(
    lid: &str,
    pn: &str,
    created_at: i64,
    updated_at: i64,
    source: &str,
) -> LidPnMappingEntry {
    LidPnMappingEntry {
        lid: lid.into(),
        phone_number: pn.into(),
        created_at,
        updated_at,
        learning_source: source.into(),
    }
}

fn lid_tuple(e: &LidPnMappingEntry) -> (String, String, i64, i64, String) {
    (
        e.lid.clone(),
        e.phone_number.clone(),
        e.created_at,
        e.updated_at,
        e.learning_source.clone(),
    )
}

pub(super) async fn lid_mappings(b: &dyn Backend) {
    let lid = |l: &'static str| async move {
        b.get_lid_mapping(l).await.unwrap().as_ref().map(lid_tuple)
    };
    let pn = |p: &'static str| async move { b.get_pn_mapping(p).await.unwrap().map(|e| e.lid) };
    assert!(
        lid("100000000000011").await.is_none(),
        "lid mapping: missing LID -> None"
    );
    assert!(
        pn("15552220001").await.is_none(),
        "lid mapping: missing PN -> None"
    );
    assert!(
        b.get_all_lid_mappings().await.unwrap().is_empty(),
        "lid mapping: none"
    );

    let first = lid_entry("100000000000011", "15552220001", 100, 100, "usync");
    b.put_lid_mapping(&first).await.unwrap();
    assert_eq!(
        lid("100000000000011").await,
        Some(lid_tuple(&first)),
        "lid mapping: round trip"
    );
    assert_eq!(
        pn("15552220001").await.as_deref(),
        Some("100000000000011"),
        "lid mapping: by PN"
    );

    b.put_lid_mapping(&lid_entry(
        "100000000000011",
        "15552220001",
        200,
        300,
        "peer_pn_message",
    ))
    .await
    .unwrap();
    assert_eq!(
        lid("100000000000011").await,
        Some(lid_tuple(&lid_entry(
            "100000000000011",
            "15552220001",
            100,
            300,
            "peer_pn_message"
        ))),
        "lid mapping: upsert updates phone/source/updated_at and keeps created_at"
    );

    b.put_lid_mapping(&lid_entry(
        "100000000000012",
        "15552220001",
        400,
        400,
        "usync",
    ))
    .await
    .unwrap();
    b.put_lid_mapping(&lid_entry(
        "100000000000013",
        "15552220001",
        350,
        350,
        "usync",
    ))
    .await
    .unwrap();
    assert_eq!(
        pn("15552220001").await.as_deref(),
        Some("100000000000012"),
        "lid mapping: get_pn_mapping returns the most recently updated LID"
    );

    b.put_lid_mappings(&[])
        .await
        .expect("lid mapping: empty batch");
    b.put_lid_mappings(&[
        lid_entry("100000000000014", "15552220004", 10, 10, "a"),
        lid_entry("100000000000015", "15552220005", 20, 20, "b"),
        lid_entry("100000000000014", "15552220006", 30, 30, "c"),
    ])
    .await
    .unwrap();
    assert_eq!(
        lid("100000000000014").await,
        Some(lid_tuple(&lid_entry(
            "100000000000014",
            "15552220006",
            10,
            30,
            "c"
        ))),
        "lid mapping: a LID repeated in a batch behaves like puts in order"
    );
    assert_eq!(
        pn("15552220005").await.as_deref(),
        Some("100000000000015"),
        "lid mapping: batch"
    );

    // Remapping a LID to another number moves it off the old number.
    b.put_lid_mapping(&lid_entry(
        "100000000000012",
        "15552220009",
        1,
        500,
        "usync",
    ))
    .await
    .unwrap();
    assert_eq!(
        pn("15552220009").await.as_deref(),
        Some("100000000000012"),
        "lid mapping: remapped"
    );
    assert_eq!(
        pn("15552220001").await.as_deref(),
        Some("100000000000013"),
        "lid mapping: the old number falls back to its newest remaining LID"
    );
    let all = sorted(
        b.get_all_lid_mappings()
            .await
            .unwrap()
            .iter()
            .map(lid_tuple)
            .collect(),
    );
    assert_eq!(
        all.iter().map(|e| e.0.as_str()).collect::<Vec<_>>(),
        [
            "100000000000011",
            "100000000000012",
            "100000000000013",
            "100000000000014",
            "100000000000015"
        ],
        "lid mapping: get_all returns every mapping once"
    );
}

pub(super) async fn base_keys(b: &dyn Backend) {
    let (addr, msg) = ("15552220010.0", "3EB0MSG1");
    assert!(
        !b.has_same_base_key(addr, msg, b"k1").await.unwrap(),
        "base key: false when absent"
    );
    b.save_base_key(addr, msg, b"k1").await.unwrap();
    assert!(
        b.has_same_base_key(addr, msg, b"k1").await.unwrap(),
        "base key: same"
    );
    assert!(
        !b.has_same_base_key(addr, msg, b"k2").await.unwrap(),
        "base key: different"
    );
    assert!(
        !b.has_same_base_key(addr, "3EB0MSG2", b"k1").await.unwrap(),
        "base key: per message id"
    );
    b.save_base_key(addr, msg, b"k2").await.unwrap();
    assert!(
        b.has_same_base_key(addr, msg, b"k2").await.unwrap(),
        "base key: upsert"
    );
    assert!(
        !b.has_same_base_key(addr, msg, b"k1").await.unwrap(),
        "base key: old key replaced"
    );
    b.delete_base_key(addr, msg).await.unwrap();
    assert!(
        !b.has_same_base_key(addr, msg, b"k2").await.unwrap(),
        "base key: deleted"
    );
    b.delete_base_key(addr, msg)
        .await
        .expect("base key: deleting a missing key is Ok");
}

pub(super) fn device_list(
    user: &str,
    devices: Vec<DeviceInfo>,
    timestamp: i64,
    phash: Option<&str>,
    raw_id: Option<u32>,
) -> DeviceListRecord {
    DeviceListRecord {
        user: user.into(),
        devices,
        timestamp,
        phash: phash.map(Into::into),
        raw_id,
    }
}

type DeviceListTuple = (
    String,
    Vec<(u32, Option<u32>, bool)>,
    i64,
    Option<String>,
    Option<u32>,
);

fn device_list_tuple(r: &DeviceListRecord) -> DeviceListTuple {
    (
        r.user.clone(),
        r.devices
            .iter()
            .map(|d| (d.device_id, d.key_index, d.is_hosted))
            .collect(),
        r.timestamp,
        r.phash.clone(),
        r.raw_id,
    )
}

pub(super) async fn device_registry(b: &dyn Backend) {
    let get = |u: &'static str| async move {
        b.get_devices(u)
            .await
            .unwrap()
            .as_ref()
            .map(device_list_tuple)
    };
    assert!(
        get("15552220020").await.is_none(),
        "device list: missing -> None"
    );
    let first = device_list(
        "15552220020",
        vec![
            DeviceInfo::new(0, None),
            DeviceInfo::new(1, Some(3)),
            DeviceInfo::new(2, Some(4)).with_hosting(true),
        ],
        1_700_000_000,
        Some("2:abcdef"),
        Some(7),
    );
    b.update_device_list(first.clone()).await.unwrap();
    assert_eq!(
        get("15552220020").await,
        Some(device_list_tuple(&first)),
        "device list: round trip"
    );
    let second = device_list(
        "15552220020",
        vec![DeviceInfo::new(0, None)],
        1_700_000_100,
        None,
        None,
    );
    b.update_device_list(second.clone()).await.unwrap();
    assert_eq!(
        get("15552220020").await,
        Some(device_list_tuple(&second)),
        "device list: upsert by user"
    );

    b.update_device_lists(Vec::new())
        .await
        .expect("device list: empty batch");
    let u2 = device_list(
        "15552220021",
        vec![DeviceInfo::new(0, Some(1))],
        1_700_000_200,
        Some("x"),
        Some(1),
    );
    let u3 = device_list("100000000000021", vec![], 1_700_000_300, None, Some(2));
    let u3b = device_list(
        "100000000000021",
        vec![DeviceInfo::new(5, None)],
        1_700_000_301,
        None,
        None,
    );
    b.update_device_lists(vec![u2.clone(), u3, u3b.clone()])
        .await
        .unwrap();
    assert_eq!(
        get("15552220021").await,
        Some(device_list_tuple(&u2)),
        "device list: batch"
    );
    assert_eq!(
        get("100000000000021").await,
        Some(device_list_tuple(&u3b)),
        "device list: batch, last wins"
    );
    b.delete_devices("15552220020").await.unwrap();
    assert!(get("15552220020").await.is_none(), "device list: deleted");
    assert!(
        get("15552220021").await.is_some(),
        "device list: delete is per user"
    );
    b.delete_devices("15552220020")
        .await
        .expect("device list: deleting a missing user is Ok");
}

pub(super) async fn group_metadata(b: &dyn Backend) {
    let g = "120363000000000002@g.us";
    assert!(
        b.get_group_metadata(g).await.unwrap().is_none(),
        "group metadata: missing -> None"
    );
    b.put_group_metadata(g, b"info-1").await.unwrap();
    assert_eq!(
        b.get_group_metadata(g).await.unwrap(),
        Some(b"info-1".to_vec()),
        "group metadata: round trip"
    );
    b.put_group_metadata(g, b"info-2").await.unwrap();
    assert_eq!(
        b.get_group_metadata(g).await.unwrap(),
        Some(b"info-2".to_vec()),
        "group metadata: upsert"
    );
    b.delete_group_metadata(g).await.unwrap();
    assert!(
        b.get_group_metadata(g).await.unwrap().is_none(),
        "group metadata: deleted"
    );
}

pub(super) fn tc(
    token: &[u8],
    token_timestamp: i64,
    sender_timestamp: Option<i64>,
) -> TcTokenEntry {
    TcTokenEntry {
        token: token.to_vec(),
        token_timestamp,
        sender_timestamp,
    }
}

fn tc_tuple(e: TcTokenEntry) -> (Vec<u8>, i64, Option<i64>) {
    (e.token, e.token_timestamp, e.sender_timestamp)
}

/// (jid, token, token_timestamp, sender_timestamp, expired at cutoffs 1000/1000)
type ExpiryCase = (&'static str, &'static [u8], i64, Option<i64>, bool);

pub(super) async fn tc_tokens(b: &dyn Backend) {
    let get = |j: &'static str| async move { b.get_tc_token(j).await.unwrap().map(tc_tuple) };
    let want = |token: &[u8], ts: i64, sender: Option<i64>| Some((token.to_vec(), ts, sender));
    let (j1, j2, j3) = (
        "100000000000031@lid",
        "100000000000032@lid",
        "100000000000033@lid",
    );
    assert!(get(j1).await.is_none(), "tc token: missing -> None");
    assert!(
        b.get_all_tc_token_jids().await.unwrap().is_empty(),
        "tc token: none"
    );

    b.put_tc_token(j1, &tc(b"t1", 100, Some(50))).await.unwrap();
    assert_eq!(
        get(j1).await,
        want(b"t1", 100, Some(50)),
        "tc token: round trip"
    );
    b.put_tc_token(j1, &tc(b"t2", 200, None)).await.unwrap();
    assert_eq!(
        get(j1).await,
        want(b"t2", 200, None),
        "tc token: put is a full upsert"
    );

    b.store_received_tc_token(j2, b"tA", 100).await.unwrap();
    assert_eq!(
        get(j2).await,
        want(b"tA", 100, None),
        "tc token: received into an empty slot"
    );
    b.store_received_tc_token(j2, b"tB", 90).await.unwrap();
    assert_eq!(
        get(j2).await,
        want(b"tA", 100, None),
        "tc token: a stale received token never wins"
    );
    b.store_received_tc_token(j2, b"tC", 100).await.unwrap();
    assert_eq!(
        get(j2).await,
        want(b"tC", 100, None),
        "tc token: an equally new token wins"
    );
    b.store_received_tc_token(j2, b"tD", 150).await.unwrap();
    assert_eq!(
        get(j2).await,
        want(b"tD", 150, None),
        "tc token: a newer token wins"
    );

    b.touch_tc_token_sender_timestamp(j3, 500).await.unwrap();
    assert_eq!(
        get(j3).await,
        want(b"", 500, Some(500)),
        "tc token: touch inserts a byte-less placeholder"
    );
    b.store_received_tc_token(j3, b"tE", 10).await.unwrap();
    assert_eq!(
        get(j3).await,
        want(b"tE", 10, Some(500)),
        "tc token: a placeholder never blocks a real token, and the sender bucket is preserved"
    );
    b.touch_tc_token_sender_timestamp(j3, 400).await.unwrap();
    assert_eq!(
        get(j3).await,
        want(b"tE", 10, Some(500)),
        "tc token: the sender bucket never regresses"
    );
    b.touch_tc_token_sender_timestamp(j3, 600).await.unwrap();
    assert_eq!(
        get(j3).await,
        want(b"tE", 10, Some(600)),
        "tc token: touch advances and keeps the token"
    );
    b.store_received_tc_token(j3, b"tF", 20).await.unwrap();
    assert_eq!(
        get(j3).await,
        want(b"tF", 20, Some(600)),
        "tc token: received keeps the sender bucket"
    );
    b.touch_tc_token_sender_timestamp(j2, 700).await.unwrap();
    assert_eq!(
        get(j2).await,
        want(b"tD", 150, Some(700)),
        "tc token: touch sets a null sender bucket"
    );

    assert_eq!(
        sorted(b.get_all_tc_token_jids().await.unwrap()),
        vec![j1.to_string(), j2.to_string(), j3.to_string()],
        "tc token: all jids"
    );
    for j in [j1, j2, j3] {
        b.delete_tc_token(j).await.unwrap();
    }
    assert!(get(j1).await.is_none(), "tc token: deleted");
    b.delete_tc_token(j1)
        .await
        .expect("tc token: deleting a missing token is Ok");

    // Two-window expiry at cutoffs (1000, 1000): a row goes only when its
    // received token is expired-or-absent AND its sender bucket is too.
    let rows: [ExpiryCase; 7] = [
        ("e1@lid", b"t", 100, None, true),
        ("e2@lid", b"t", 2000, None, false),
        ("e3@lid", b"", 5000, Some(100), true),
        ("e4@lid", b"", 5000, Some(3000), false),
        ("e5@lid", b"t", 100, Some(3000), false),
        ("e6@lid", b"t", 999, Some(999), true),
        ("e7@lid", b"t", 1000, None, false),
    ];
    for (jid, token, ts, sender, _) in rows {
        b.put_tc_token(jid, &tc(token, ts, sender)).await.unwrap();
    }
    assert_eq!(
        b.delete_expired_tc_tokens(1000, 1000).await.unwrap(),
        3,
        "tc token: expired count"
    );
    assert_eq!(
        b.delete_expired_tc_tokens(1000, 1000).await.unwrap(),
        0,
        "tc token: nothing left to expire"
    );
    for (jid, _, _, _, expired) in rows {
        assert_eq!(
            b.get_tc_token(jid).await.unwrap().is_none(),
            expired,
            "tc token: expiry of {jid}"
        );
        b.delete_tc_token(jid).await.unwrap();
    }
}
