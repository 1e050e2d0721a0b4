//! Conformance checks of `DeviceStore`.

use std::sync::Arc;

use whatsapp_rust::Jid;
use whatsapp_rust::wacore::client_profile::ClientProfile;
use whatsapp_rust::wacore::store::Device;
use whatsapp_rust::wacore::store::device::{CachedNoiseCert, CachedServerCertChain, DEVICE_PROPS};
use whatsapp_rust::waproto::whatsapp as wa;

use super::{Backend, jid, key_pair_bytes};

/// Asserts that `loaded` carries every persisted field of `saved`, and the
/// runtime-only fields restored (not left empty by deserialization).
fn assert_same_device(what: &str, saved: &Device, loaded: &Device) {
    let jid_text = |j: &Option<Jid>| j.as_ref().map(|j| j.to_string());
    assert_eq!(jid_text(&loaded.pn), jid_text(&saved.pn), "{what}: pn");
    assert_eq!(jid_text(&loaded.lid), jid_text(&saved.lid), "{what}: lid");
    assert_eq!(
        loaded.registration_id, saved.registration_id,
        "{what}: registration_id"
    );
    for (name, l, s) in [
        ("noise_key", &loaded.noise_key, &saved.noise_key),
        ("identity_key", &loaded.identity_key, &saved.identity_key),
        (
            "signed_pre_key",
            &loaded.signed_pre_key,
            &saved.signed_pre_key,
        ),
    ] {
        assert_eq!(key_pair_bytes(l), key_pair_bytes(s), "{what}: {name}");
    }
    assert_eq!(
        loaded.signed_pre_key_id, saved.signed_pre_key_id,
        "{what}: signed_pre_key_id"
    );
    assert_eq!(
        loaded.signed_pre_key_signature, saved.signed_pre_key_signature,
        "{what}: signed_pre_key_signature"
    );
    assert_eq!(
        loaded.adv_secret_key, saved.adv_secret_key,
        "{what}: adv_secret_key"
    );
    assert_eq!(loaded.account, saved.account, "{what}: account");
    assert_eq!(loaded.push_name, saved.push_name, "{what}: push_name");
    assert_eq!(
        (
            loaded.app_version_primary,
            loaded.app_version_secondary,
            loaded.app_version_tertiary
        ),
        (
            saved.app_version_primary,
            saved.app_version_secondary,
            saved.app_version_tertiary
        ),
        "{what}: app version"
    );
    assert_eq!(
        loaded.app_version_last_fetched_ms, saved.app_version_last_fetched_ms,
        "{what}: app_version_last_fetched_ms"
    );
    assert_eq!(
        loaded.edge_routing_info, saved.edge_routing_info,
        "{what}: edge_routing_info"
    );
    assert_eq!(loaded.props_hash, saved.props_hash, "{what}: props_hash");
    assert_eq!(
        loaded.next_pre_key_id, saved.next_pre_key_id,
        "{what}: next_pre_key_id"
    );
    assert_eq!(
        loaded.first_unupload_pre_key_id, saved.first_unupload_pre_key_id,
        "{what}: first_unupload_pre_key_id"
    );
    assert_eq!(
        loaded.server_has_prekeys, saved.server_has_prekeys,
        "{what}: server_has_prekeys"
    );
    assert_eq!(loaded.nct_salt, saved.nct_salt, "{what}: nct_salt");
    assert_eq!(
        loaded.server_cert_chain, saved.server_cert_chain,
        "{what}: server_cert_chain"
    );
    assert_eq!(
        loaded.login_counter, saved.login_counter,
        "{what}: login_counter"
    );
    assert_eq!(
        loaded.lid_migrated, saved.lid_migrated,
        "{what}: lid_migrated"
    );
    assert_eq!(
        loaded.last_signed_pre_key_rotation_ms, saved.last_signed_pre_key_rotation_ms,
        "{what}: last_signed_pre_key_rotation_ms"
    );
    assert_eq!(
        loaded.read_receipts_disabled, saved.read_receipts_disabled,
        "{what}: read_receipts_disabled"
    );
    assert!(
        *loaded.device_props == *DEVICE_PROPS,
        "{what}: device_props must be restored to DEVICE_PROPS after load (serde(skip) field)"
    );
    assert_eq!(
        format!("{:?}", loaded.client_profile),
        format!("{:?}", ClientProfile::web()),
        "{what}: client_profile must be restored to ClientProfile::web() after load"
    );
    assert!(
        !loaded.nct_salt_sync_seen,
        "{what}: nct_salt_sync_seen is runtime-only"
    );
}

/// A device with every persisted field set away from its default.
pub(super) fn linked_device(base: &Device) -> Device {
    let mut d = base.clone();
    d.pn = Some(jid("15550001111@s.whatsapp.net"));
    d.lid = Some(jid("100000000000001@lid"));
    d.registration_id = 4242;
    d.signed_pre_key_id = 7;
    d.account = Some(Arc::new(wa::ADVSignedDeviceIdentity {
        details: Some(vec![1, 2, 3]),
        account_signature_key: Some(vec![4; 32]),
        account_signature: Some(vec![5; 64]),
        device_signature: Some(vec![6; 64]),
    }));
    d.push_name = "Conformance".into();
    d.app_version_primary = 2;
    d.app_version_secondary = 3000;
    d.app_version_tertiary = 1_023_456_789;
    d.app_version_last_fetched_ms = 1_700_000_000_000;
    d.edge_routing_info = Some(vec![9, 8, 7]);
    d.props_hash = Some("props-hash".into());
    d.next_pre_key_id = 812;
    d.first_unupload_pre_key_id = 800;
    d.server_has_prekeys = true;
    d.nct_salt = Some(vec![7; 16]);
    d.server_cert_chain = Some(CachedServerCertChain {
        intermediate: CachedNoiseCert {
            key: [0xab; 32],
            not_before: 1_700_000_000,
            not_after: 1_900_000_000,
        },
        leaf: CachedNoiseCert {
            key: [0xcd; 32],
            not_before: 1_700_000_500,
            not_after: 1_899_999_500,
        },
    });
    d.login_counter = 5;
    d.lid_migrated = true;
    d.last_signed_pre_key_rotation_ms = 1_700_000_000_123;
    d.read_receipts_disabled = true;
    d
}

pub(super) async fn device(b: &dyn Backend) {
    assert!(
        !b.exists().await.unwrap(),
        "device: a fresh store has no device (exists() == false)"
    );
    assert!(
        b.load().await.unwrap().is_none(),
        "device: a fresh store loads None"
    );

    b.create().await.expect("device: create");
    assert!(
        b.exists().await.unwrap(),
        "device: exists() must be true after create()"
    );
    let created = b
        .load()
        .await
        .unwrap()
        .expect("device: load() after create() must return the created device");
    assert!(
        created.pn.is_none() && created.lid.is_none(),
        "device: a created device is not linked"
    );
    assert!(
        created.identity_key.public_key.public_key_bytes() != [0u8; 32].as_slice(),
        "device: create() must generate keys"
    );
    assert_same_device(
        "device: load after create",
        &created,
        &b.load().await.unwrap().unwrap(),
    );

    let linked = linked_device(&created);
    b.save(&linked).await.expect("device: save");
    let loaded = b.load().await.unwrap().expect("device: load after save");
    assert_same_device("device: load after save", &linked, &loaded);
    assert!(b.exists().await.unwrap(), "device: exists() after save");

    // save() is an upsert of the single row: everything is replaced,
    // including clearing optional fields.
    let other = Device::new();
    b.save(&other).await.expect("device: second save");
    assert_same_device(
        "device: a second save replaces the row",
        &other,
        &b.load().await.unwrap().unwrap(),
    );
    b.save(&linked).await.expect("device: third save");
    assert_same_device(
        "device: saved again",
        &linked,
        &b.load().await.unwrap().unwrap(),
    );
}
