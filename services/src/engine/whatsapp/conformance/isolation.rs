//! Two stores (two sessions) must never see or change each other's rows.

use whatsapp_rust::bytes::Bytes;
use whatsapp_rust::wacore::appstate::hash::HashState;
use whatsapp_rust::wacore::store::traits::DeviceInfo;

use super::app_state::{mutation, sync_key};
use super::device::linked_device;
use super::messages::secret;
use super::protocol::{device_list, lid_entry, tc};
use super::{Backend, key_pair_bytes};

/// Writes one row through every write path of the store (device included),
/// so that every table of a backend holds data for it.
pub async fn populate(b: &dyn Backend) {
    if !b.exists().await.unwrap() {
        b.create().await.unwrap();
    }
    let device = b.load().await.unwrap().unwrap();
    b.save(&linked_device(&device)).await.unwrap();
    b.put_identity("15553330001@s.whatsapp.net", [1; 32])
        .await
        .unwrap();
    b.put_session("15553330001@s.whatsapp.net", b"session")
        .await
        .unwrap();
    b.store_prekeys_batch(&[(11, Bytes::from_static(b"pk"))], false)
        .await
        .unwrap();
    b.store_signed_prekey(12, b"spk").await.unwrap();
    b.put_sender_key("g@g.us::15553330001@s.whatsapp.net", b"sk")
        .await
        .unwrap();
    b.set_sync_key(&[9, 9], sync_key(9, 1)).await.unwrap();
    b.set_version(
        "regular",
        HashState {
            version: 3,
            ..HashState::default()
        },
    )
    .await
    .unwrap();
    b.put_mutation_macs("regular", 3, &[mutation(5, b"mac")])
        .await
        .unwrap();
    b.set_sender_key_status("g@g.us", &[("15553330001:1@s.whatsapp.net", true)])
        .await
        .unwrap();
    b.put_lid_mapping(&lid_entry("100000000000091", "15553330001", 1, 1, "usync"))
        .await
        .unwrap();
    b.save_base_key("15553330001.0", "BK1", b"base")
        .await
        .unwrap();
    b.update_device_list(device_list(
        "15553330001",
        vec![DeviceInfo::new(0, None)],
        1,
        None,
        None,
    ))
    .await
    .unwrap();
    b.put_group_metadata("g@g.us", b"meta").await.unwrap();
    b.put_tc_token("100000000000091@lid", &tc(b"tok", 1, None))
        .await
        .unwrap();
    b.store_sent_message("15553330001@s.whatsapp.net", "SM1", b"sent")
        .await
        .unwrap();
    b.store_pending_inbound(
        "15553330001@s.whatsapp.net",
        "15553330001@s.whatsapp.net",
        "PI1",
        b"in",
    )
    .await
    .unwrap();
    b.put_msg_secrets(vec![secret(
        "c@s.whatsapp.net",
        "c@s.whatsapp.net",
        "MS1",
        1,
        10,
        1,
    )])
    .await
    .unwrap();
}

/// What [`populate`] wrote is visible through `b` (`present`) or not at all.
async fn assert_populated(b: &dyn Backend, present: bool, what: &str) {
    let pn = "15553330001@s.whatsapp.net";
    let checks = [
        ("identity", b.load_identity(pn).await.unwrap().is_some()),
        ("session", b.has_session(pn).await.unwrap()),
        (
            "signal state",
            b.has_signal_state_for_user("15553330001").await.unwrap(),
        ),
        ("prekey", b.load_prekey(11).await.unwrap().is_some()),
        ("max prekey id", b.get_max_prekey_id().await.unwrap() == 11),
        (
            "signed prekey",
            !b.load_all_signed_prekeys().await.unwrap().is_empty(),
        ),
        (
            "sender key",
            b.get_sender_key("g@g.us::15553330001@s.whatsapp.net")
                .await
                .unwrap()
                .is_some(),
        ),
        ("sync key", b.get_sync_key(&[9, 9]).await.unwrap().is_some()),
        (
            "latest sync key",
            b.get_latest_sync_key_id().await.unwrap().is_some(),
        ),
        (
            "version",
            b.get_version("regular").await.unwrap().version == 3,
        ),
        (
            "mutation mac",
            b.get_mutation_mac("regular", &[5; 32])
                .await
                .unwrap()
                .is_some(),
        ),
        (
            "sender key devices",
            !b.get_sender_key_devices("g@g.us").await.unwrap().is_empty(),
        ),
        (
            "lid mapping",
            b.get_lid_mapping("100000000000091")
                .await
                .unwrap()
                .is_some(),
        ),
        (
            "pn mapping",
            b.get_pn_mapping("15553330001").await.unwrap().is_some(),
        ),
        (
            "all lid mappings",
            !b.get_all_lid_mappings().await.unwrap().is_empty(),
        ),
        (
            "base key",
            b.has_same_base_key("15553330001.0", "BK1", b"base")
                .await
                .unwrap(),
        ),
        (
            "device list",
            b.get_devices("15553330001").await.unwrap().is_some(),
        ),
        (
            "group metadata",
            b.get_group_metadata("g@g.us").await.unwrap().is_some(),
        ),
        (
            "tc token",
            b.get_tc_token("100000000000091@lid")
                .await
                .unwrap()
                .is_some(),
        ),
        (
            "tc token jids",
            !b.get_all_tc_token_jids().await.unwrap().is_empty(),
        ),
        (
            "pending inbound",
            b.get_pending_inbound(pn, pn, "PI1")
                .await
                .unwrap()
                .is_some(),
        ),
        (
            "msg secret",
            b.get_msg_secret("c@s.whatsapp.net", "c@s.whatsapp.net", "MS1")
                .await
                .unwrap()
                .is_some(),
        ),
        (
            "linked device",
            b.load().await.unwrap().is_some_and(|d| d.pn.is_some()),
        ),
    ];
    for (name, seen) in checks {
        assert_eq!(seen, present, "isolation: {what}: {name}");
    }
}

pub(super) async fn isolation(a: &dyn Backend, b: &dyn Backend) {
    for store in [a, b] {
        store.create().await.expect("isolation: create");
    }
    populate(a).await;
    assert_populated(a, true, "writes through a are visible through a").await;
    assert_populated(b, false, "writes through a are invisible through b").await;
    let device_a = a.load().await.unwrap().unwrap();
    let device_b = b.load().await.unwrap().unwrap();
    assert_ne!(
        key_pair_bytes(&device_a.identity_key),
        key_pair_bytes(&device_b.identity_key),
        "isolation: each store has its own device keys"
    );

    // Deletes and sweeps through b leave a's rows alone.
    let pn = "15553330001@s.whatsapp.net";
    b.delete_identity(pn).await.unwrap();
    b.delete_session(pn).await.unwrap();
    b.remove_prekey(11).await.unwrap();
    b.remove_signed_prekey(12).await.unwrap();
    b.delete_sender_key("g@g.us::15553330001@s.whatsapp.net")
        .await
        .unwrap();
    b.delete_mutation_macs("regular", &[vec![5; 32]])
        .await
        .unwrap();
    b.clear_mutation_macs("regular").await.unwrap();
    b.clear_sender_key_devices("g@g.us").await.unwrap();
    b.clear_all_sender_key_devices().await.unwrap();
    b.delete_sender_key_device_rows(&["15553330001:1@s.whatsapp.net"])
        .await
        .unwrap();
    b.delete_base_key("15553330001.0", "BK1").await.unwrap();
    b.delete_devices("15553330001").await.unwrap();
    b.delete_group_metadata("g@g.us").await.unwrap();
    b.delete_tc_token("100000000000091@lid").await.unwrap();
    assert_eq!(
        b.delete_expired_tc_tokens(i64::MAX, i64::MAX)
            .await
            .unwrap(),
        0,
        "isolation: tc sweep of b"
    );
    assert_eq!(
        b.take_sent_message(pn, "SM1").await.unwrap(),
        None,
        "isolation: take through b"
    );
    assert_eq!(
        b.delete_expired_sent_messages(i64::MAX).await.unwrap(),
        0,
        "isolation: sent sweep of b"
    );
    b.delete_pending_inbound(pn, pn, "PI1").await.unwrap();
    assert_eq!(
        b.delete_expired_pending_inbound(i64::MAX).await.unwrap(),
        0,
        "isolation: pending sweep of b"
    );
    assert_eq!(
        b.delete_expired_msg_secrets(i64::MAX).await.unwrap(),
        0,
        "isolation: secret sweep of b"
    );
    assert_populated(a, true, "deletes through b leave a alone").await;

    // Writes of the same keys through b do not change a.
    populate(b).await;
    b.put_identity(pn, [2; 32]).await.unwrap();
    assert_eq!(
        a.load_identity(pn).await.unwrap(),
        Some([1; 32]),
        "isolation: same key, separate values"
    );
    assert_eq!(
        key_pair_bytes(&a.load().await.unwrap().unwrap().identity_key),
        key_pair_bytes(&device_a.identity_key),
        "isolation: saving b's device leaves a's device"
    );
    assert_eq!(
        a.take_sent_message(pn, "SM1").await.unwrap(),
        Some(b"sent".to_vec()),
        "isolation: a's sent message is still there"
    );
    assert_eq!(
        b.take_sent_message(pn, "SM1").await.unwrap(),
        Some(b"sent".to_vec()),
        "isolation: b's own sent message"
    );
}
