//! Conformance checks of `AppSyncStore`.

use std::collections::HashMap;

use whatsapp_rust::wacore::appstate::hash::HashState;
use whatsapp_rust::wacore::appstate::processor::AppStateMutationMAC;
use whatsapp_rust::wacore::store::traits::AppStateSyncKey;

use super::Backend;

pub(super) fn sync_key(fill: u8, timestamp: i64) -> AppStateSyncKey {
    AppStateSyncKey {
        key_data: vec![fill; 32],
        fingerprint: vec![fill, 1, 2],
        timestamp,
    }
}

pub(super) async fn sync_keys(b: &dyn Backend) {
    assert!(
        b.get_sync_key(&[0, 0, 0, 1]).await.unwrap().is_none(),
        "sync key: missing -> None"
    );
    assert_eq!(
        b.get_latest_sync_key_id().await.unwrap(),
        None,
        "sync key: no latest when none"
    );
    b.set_sync_key(&[0, 0, 0, 1], sync_key(1, 100))
        .await
        .unwrap();
    let got = b
        .get_sync_key(&[0, 0, 0, 1])
        .await
        .unwrap()
        .expect("sync key: round trip");
    assert_eq!(
        (got.key_data, got.fingerprint, got.timestamp),
        (vec![1; 32], vec![1, 1, 2], 100),
        "sync key: fields"
    );
    b.set_sync_key(&[0, 0, 0, 1], sync_key(2, 200))
        .await
        .unwrap();
    let got = b.get_sync_key(&[0, 0, 0, 1]).await.unwrap().unwrap();
    assert_eq!(
        (got.key_data, got.timestamp),
        (vec![2; 32], 200),
        "sync key: overwrite"
    );
    b.set_sync_key(&[0, 0, 0, 3], sync_key(3, 50))
        .await
        .unwrap();
    b.set_sync_key(&[0, 0, 0, 2], sync_key(4, 300))
        .await
        .unwrap();
    assert_eq!(
        b.get_latest_sync_key_id().await.unwrap(),
        Some(vec![0, 0, 0, 3]),
        "sync key: latest is the highest key id"
    );
    // The reference treats key material that is not a 32-byte master key as
    // corrupt: absent on read, skipped as "latest".
    b.set_sync_key(
        &[0, 0, 0, 9],
        AppStateSyncKey {
            key_data: vec![1; 16],
            ..sync_key(0, 1)
        },
    )
    .await
    .unwrap();
    assert!(
        b.get_sync_key(&[0, 0, 0, 9]).await.unwrap().is_none(),
        "sync key: bad key_data reads as absent"
    );
    assert_eq!(
        b.get_latest_sync_key_id().await.unwrap(),
        Some(vec![0, 0, 0, 3]),
        "sync key: latest skips undecodable keys"
    );
}

fn mac(fill: u8) -> [u8; 32] {
    [fill; 32]
}

pub(super) fn mutation(index: u8, value: &[u8]) -> AppStateMutationMAC {
    AppStateMutationMAC {
        index_mac: mac(index).to_vec(),
        value_mac: value.to_vec(),
    }
}

pub(super) async fn versions_and_macs(b: &dyn Backend) {
    let missing = b
        .get_version("never-synced")
        .await
        .expect("version: missing is not an error");
    assert_eq!(
        missing.version, 0,
        "version: missing -> HashState::default()"
    );
    assert_eq!(missing.hash, [0; 128], "version: default hash");
    assert!(
        missing.index_value_map.is_empty() && !missing.mac_mismatch_fatal,
        "version: default"
    );

    let mut state = HashState {
        version: 5,
        mac_mismatch_fatal: true,
        ..HashState::default()
    };
    state.hash[0] = 0xff;
    state.hash[127] = 0x11;
    state.index_value_map.insert("idx-a".into(), vec![1, 2, 3]);
    state.index_value_map.insert("idx-b".into(), vec![]);
    b.set_version("regular", state.clone()).await.unwrap();
    let got = b.get_version("regular").await.unwrap();
    assert_eq!(
        (
            got.version,
            got.hash,
            &got.index_value_map,
            got.mac_mismatch_fatal
        ),
        (5, state.hash, &state.index_value_map, true),
        "version: round trip"
    );
    state.version = 6;
    state.index_value_map.clear();
    state.mac_mismatch_fatal = false;
    b.set_version("regular", state.clone()).await.unwrap();
    let got = b.get_version("regular").await.unwrap();
    assert!(
        got.version == 6 && got.index_value_map.is_empty() && !got.mac_mismatch_fatal,
        "version: overwrite"
    );
    assert_eq!(
        b.get_version("regular_low").await.unwrap().version,
        0,
        "version: per collection"
    );

    let (name, other) = ("regular_high", "critical_block");
    assert!(
        b.get_mutation_mac(name, &mac(1)).await.unwrap().is_none(),
        "mac: missing -> None"
    );
    b.put_mutation_macs(name, 1, &[])
        .await
        .expect("mac: empty put");
    b.put_mutation_macs(
        name,
        1,
        &[mutation(1, b"v1"), mutation(2, b"v2"), mutation(3, b"v3")],
    )
    .await
    .unwrap();
    b.put_mutation_macs(other, 1, &[mutation(1, b"other")])
        .await
        .unwrap();
    assert_eq!(
        b.get_mutation_mac(name, &mac(2)).await.unwrap(),
        Some(b"v2".to_vec()),
        "mac: round trip"
    );
    b.put_mutation_macs(
        name,
        2,
        &[mutation(1, b"v1b"), mutation(4, b"x"), mutation(4, b"v4")],
    )
    .await
    .unwrap();
    assert_eq!(
        b.get_mutation_mac(name, &mac(1)).await.unwrap(),
        Some(b"v1b".to_vec()),
        "mac: upsert"
    );
    assert_eq!(
        b.get_mutation_mac(name, &mac(4)).await.unwrap(),
        Some(b"v4".to_vec()),
        "mac: batch, last wins"
    );
    assert_eq!(
        b.get_mutation_mac(other, &mac(1)).await.unwrap(),
        Some(b"other".to_vec()),
        "mac: collections are independent"
    );
    assert!(
        b.get_mutation_macs(name, &[]).await.unwrap().is_empty(),
        "mac: empty batch get"
    );
    let got = b
        .get_mutation_macs(name, &[mac(1), mac(3), mac(9)])
        .await
        .unwrap();
    let want: HashMap<[u8; 32], Vec<u8>> =
        HashMap::from([(mac(1), b"v1b".to_vec()), (mac(3), b"v3".to_vec())]);
    assert_eq!(got, want, "mac: batch get returns only the existing ones");

    b.delete_mutation_macs(name, &[])
        .await
        .expect("mac: empty delete");
    b.delete_mutation_macs(name, &[mac(1).to_vec(), mac(9).to_vec()])
        .await
        .unwrap();
    assert!(
        b.get_mutation_mac(name, &mac(1)).await.unwrap().is_none(),
        "mac: deleted"
    );
    assert!(
        b.get_mutation_mac(name, &mac(2)).await.unwrap().is_some(),
        "mac: delete is selective"
    );
    assert!(
        b.get_mutation_mac(other, &mac(1)).await.unwrap().is_some(),
        "mac: delete is per collection"
    );
    b.clear_mutation_macs(name).await.unwrap();
    assert!(
        b.get_mutation_macs(name, &[mac(2), mac(3), mac(4)])
            .await
            .unwrap()
            .is_empty(),
        "mac: clear removes the collection's MACs"
    );
    assert!(
        b.get_mutation_mac(other, &mac(1)).await.unwrap().is_some(),
        "mac: clear is per collection"
    );
    b.clear_mutation_macs(other).await.unwrap();
}
