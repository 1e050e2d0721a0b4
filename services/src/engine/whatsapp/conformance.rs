//! Conformance suite for whatsapp-rust storage backends, written from the
//! contracts of the five storage traits (`SignalStore`, `AppSyncStore`,
//! `ProtocolStore`, `MsgSecretStore`, `DeviceStore`). It passes against the
//! library's own `SqliteStore` (the reference) and must pass against ours
//! ([`super::pg::PgBackend`]). Every check panics with the rule it verifies.
//!
//! [`run`] expects a fresh, empty store of one account; [`run_isolation`] two
//! fresh stores that must not see each other (two sessions).

mod app_state;
mod device;
mod isolation;
mod messages;
mod protocol;
mod signal;

use std::sync::Arc;

use whatsapp_rust::Jid;
use whatsapp_rust::wacore::libsignal::protocol::KeyPair;

pub use isolation::populate;
/// The library's SQLite store, the reference backend.
pub use whatsapp_rust::store::SqliteStore;
/// The store trait object every backend is used through.
pub use whatsapp_rust::store::traits::Backend;
/// App-state hash state, for tests that write one directly.
pub use whatsapp_rust::wacore::appstate::hash::HashState;

/// Runs every contract check against a fresh, empty store.
pub async fn run(backend: Arc<dyn Backend>) {
    let b = &*backend;
    // Device first: the engine always ensures the device row before anything
    // else (and the SQLite store's LID mapping table references it).
    device::device(b).await;
    signal::identities(b).await;
    signal::signal_sessions(b).await;
    signal::signal_state_for_user(b).await;
    signal::prekeys(b).await;
    signal::signed_prekeys(b).await;
    signal::sender_keys(b).await;
    app_state::sync_keys(b).await;
    app_state::versions_and_macs(b).await;
    protocol::sender_key_devices(b).await;
    protocol::lid_mappings(b).await;
    protocol::base_keys(b).await;
    protocol::device_registry(b).await;
    protocol::group_metadata(b).await;
    protocol::tc_tokens(b).await;
    messages::sent_messages(&backend).await;
    messages::pending_inbound(b).await;
    messages::msg_secrets(b).await;
    let _ = b.resource_report().await;
    b.snapshot_db("conformance", None)
        .await
        .expect("snapshot_db must not fail");
}

/// Checks that two fresh stores (two sessions) never see or change each
/// other's rows.
pub async fn run_isolation(a: Arc<dyn Backend>, b: Arc<dyn Backend>) {
    isolation::isolation(&*a, &*b).await;
}

fn jid(s: &str) -> Jid {
    s.parse().unwrap_or_else(|e| panic!("parse JID {s}: {e:?}"))
}

fn key_pair_bytes(pair: &KeyPair) -> Vec<u8> {
    let mut bytes = pair.private_key.serialize().to_vec();
    bytes.extend_from_slice(pair.public_key.public_key_bytes());
    bytes
}

fn sorted<T: Ord>(mut v: Vec<T>) -> Vec<T> {
    v.sort();
    v
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs() as i64
}
