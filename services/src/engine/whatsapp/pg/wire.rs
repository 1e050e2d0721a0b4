//! Encoding of the BYTEA columns that hold structured values: app-state hash
//! states, app-state sync keys and the cached server certificate chain.
//!
//! The messages are field-for-field the ones the library's SQLite store writes
//! (`whatsapp-rust-sqlite-storage`'s `proto/wire.proto`: same field numbers,
//! proto3 semantics), so a row moved between the two backends decodes the same.
//! Derived with prost here because the SQLite crate keeps its codec private.

use std::collections::HashMap;

use prost::Message as _;
use whatsapp_rust::wacore::appstate::hash::HashState;
use whatsapp_rust::wacore::store::device::{CachedNoiseCert, CachedServerCertChain};
use whatsapp_rust::wacore::store::error::{Result, StoreError};
use whatsapp_rust::wacore::store::traits::AppStateSyncKey;

/// App-state master keys are 32 bytes; anything else is treated as corrupt.
const APP_STATE_KEY_LEN: usize = 32;

#[derive(Clone, PartialEq, prost::Message)]
struct NoiseCert {
    #[prost(bytes = "vec", tag = "1")]
    key: Vec<u8>,
    #[prost(int64, tag = "2")]
    not_before: i64,
    #[prost(int64, tag = "3")]
    not_after: i64,
}

#[derive(Clone, PartialEq, prost::Message)]
struct ServerCertChain {
    #[prost(message, optional, tag = "1")]
    intermediate: Option<NoiseCert>,
    #[prost(message, optional, tag = "2")]
    leaf: Option<NoiseCert>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct AppStateSyncKeyWire {
    #[prost(bytes = "vec", tag = "1")]
    key_data: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    fingerprint: Vec<u8>,
    #[prost(int64, tag = "3")]
    timestamp: i64,
}

#[derive(Clone, PartialEq, prost::Message)]
struct HashStateWire {
    #[prost(uint64, tag = "1")]
    version: u64,
    #[prost(bytes = "vec", tag = "2")]
    hash: Vec<u8>,
    #[prost(map = "string, bytes", tag = "3")]
    index_value_map: HashMap<String, Vec<u8>>,
    #[prost(bool, tag = "4")]
    mac_mismatch_fatal: bool,
}

fn invalid(what: &str, detail: impl std::fmt::Display) -> StoreError {
    StoreError::Serialization(format!("{what}: {detail}").into())
}

pub(super) fn encode_hash_state(state: &HashState) -> Vec<u8> {
    HashStateWire {
        version: state.version,
        hash: state.hash.to_vec(),
        index_value_map: state.index_value_map.clone(),
        mac_mismatch_fatal: state.mac_mismatch_fatal,
    }
    .encode_to_vec()
}

pub(super) fn decode_hash_state(bytes: &[u8]) -> Result<HashState> {
    let wire = HashStateWire::decode(bytes).map_err(|e| invalid("hash state", e))?;
    let len = wire.hash.len();
    let hash: [u8; 128] = wire
        .hash
        .try_into()
        .map_err(|_| invalid("hash state", format_args!("hash is {len} bytes, not 128")))?;
    Ok(HashState {
        version: wire.version,
        hash,
        index_value_map: wire.index_value_map,
        mac_mismatch_fatal: wire.mac_mismatch_fatal,
    })
}

pub(super) fn encode_sync_key(key: &AppStateSyncKey) -> Vec<u8> {
    AppStateSyncKeyWire {
        key_data: key.key_data.clone(),
        fingerprint: key.fingerprint.clone(),
        timestamp: key.timestamp,
    }
    .encode_to_vec()
}

pub(super) fn decode_sync_key(bytes: &[u8]) -> Result<AppStateSyncKey> {
    let wire = AppStateSyncKeyWire::decode(bytes).map_err(|e| invalid("sync key", e))?;
    if wire.key_data.len() != APP_STATE_KEY_LEN {
        return Err(invalid(
            "sync key",
            format_args!("key data is {} bytes, not 32", wire.key_data.len()),
        ));
    }
    Ok(AppStateSyncKey {
        key_data: wire.key_data,
        fingerprint: wire.fingerprint,
        timestamp: wire.timestamp,
    })
}

fn noise_cert_to_wire(cert: &CachedNoiseCert) -> NoiseCert {
    NoiseCert {
        key: cert.key.to_vec(),
        not_before: cert.not_before,
        not_after: cert.not_after,
    }
}

fn noise_cert_from_wire(cert: Option<NoiseCert>) -> Result<CachedNoiseCert> {
    let cert = cert.ok_or_else(|| invalid("server cert chain", "missing certificate"))?;
    let len = cert.key.len();
    Ok(CachedNoiseCert {
        key: cert
            .key
            .try_into()
            .map_err(|_| invalid("server cert chain", format_args!("key is {len} bytes")))?,
        not_before: cert.not_before,
        not_after: cert.not_after,
    })
}

pub(super) fn encode_cert_chain(chain: &CachedServerCertChain) -> Vec<u8> {
    ServerCertChain {
        intermediate: Some(noise_cert_to_wire(&chain.intermediate)),
        leaf: Some(noise_cert_to_wire(&chain.leaf)),
    }
    .encode_to_vec()
}

pub(super) fn decode_cert_chain(bytes: &[u8]) -> Result<CachedServerCertChain> {
    let wire = ServerCertChain::decode(bytes).map_err(|e| invalid("server cert chain", e))?;
    Ok(CachedServerCertChain {
        intermediate: noise_cert_from_wire(wire.intermediate)?,
        leaf: noise_cert_from_wire(wire.leaf)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_state_round_trips() {
        let mut state = HashState {
            version: 7,
            mac_mismatch_fatal: true,
            ..HashState::default()
        };
        state.hash[0] = 1;
        state.hash[127] = 2;
        state.index_value_map.insert("a".into(), vec![1, 2]);
        let back = decode_hash_state(&encode_hash_state(&state)).unwrap();
        assert_eq!(back.version, 7);
        assert_eq!(back.hash, state.hash);
        assert_eq!(back.index_value_map, state.index_value_map);
        assert!(back.mac_mismatch_fatal);
        assert!(decode_hash_state(b"\x12\x01\x00").is_err(), "short hash");
    }

    #[test]
    fn sync_key_and_cert_chain_round_trip() {
        let key = AppStateSyncKey {
            key_data: vec![3; 32],
            fingerprint: vec![4, 5],
            timestamp: 99,
        };
        let back = decode_sync_key(&encode_sync_key(&key)).unwrap();
        assert_eq!(
            (back.key_data, back.fingerprint, back.timestamp),
            (key.key_data, key.fingerprint, 99)
        );
        let chain = CachedServerCertChain {
            intermediate: CachedNoiseCert {
                key: [1; 32],
                not_before: 1,
                not_after: 2,
            },
            leaf: CachedNoiseCert {
                key: [2; 32],
                not_before: 3,
                not_after: 4,
            },
        };
        assert_eq!(
            decode_cert_chain(&encode_cert_chain(&chain)).unwrap(),
            chain
        );
    }
}
