//! PostgreSQL backend for whatsapp-rust: one session's Signal keys, app-state
//! sync state, protocol caches and device credentials in the `wa_*` tables
//! (migrations/postgres/0002_whatsapp_store.sql), keyed by wagate's session id,
//! so a session can resume on any replica without a new scan.
//!
//! Semantics follow the library's SQLite store (the reference): same upsert
//! rules, same blob encodings, times in Unix seconds. Every batch method is a
//! single statement over `UNNEST`ed arrays (atomic on its own) or one
//! transaction, and the "atomic" methods are single conditional statements.
//! PostgreSQL rejects an upsert that touches the same row twice, so batches are
//! first reduced to one row per key with the sequential outcome (last wins, or
//! the merge rule where the trait defines one).

mod device;
mod protocol;
mod wire;

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::hash::Hash;
use std::sync::Arc;

use whatsapp_rust::async_trait;
use whatsapp_rust::bytes::Bytes;
use whatsapp_rust::wacore::appstate::hash::HashState;
use whatsapp_rust::wacore::appstate::processor::AppStateMutationMAC;
use whatsapp_rust::wacore::store::error::{Result, StoreError};
use whatsapp_rust::wacore::store::traits::{AppStateSyncKey, AppSyncStore, SignalStore};

pub use device::has_linked_device;

/// whatsapp-rust storage of one wagate session in PostgreSQL.
#[derive(Clone, Debug)]
pub struct PgBackend {
    pool: sqlx::PgPool,
    session_id: i64,
}

impl PgBackend {
    pub fn new(pool: sqlx::PgPool, session_id: i64) -> Self {
        Self { pool, session_id }
    }

    pub fn session_id(&self) -> i64 {
        self.session_id
    }
}

/// Every table of the store (all keyed by session_id first).
pub const TABLES: &[&str] = &[
    "wa_identities",
    "wa_signal_sessions",
    "wa_prekeys",
    "wa_signed_prekeys",
    "wa_sender_keys",
    "wa_app_state_keys",
    "wa_app_state_versions",
    "wa_app_state_mutation_macs",
    "wa_device",
    "wa_lid_pn_mapping",
    "wa_base_keys",
    "wa_device_registry",
    "wa_sender_key_devices",
    "wa_tc_tokens",
    "wa_sent_messages",
    "wa_pending_inbound",
    "wa_msg_secrets",
    "wa_group_metadata",
];

/// Deletes everything whatsapp-rust stored for a session (logout, re-link),
/// in one transaction. The session row itself stays.
pub async fn wipe(pool: &sqlx::PgPool, session_id: i64) -> sqlx::Result<()> {
    let mut tx = pool.begin().await?;
    for table in TABLES {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM {table} WHERE session_id = $1"
        )))
        .bind(session_id)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await
}

fn db(e: sqlx::Error) -> StoreError {
    StoreError::Database(Box::new(e))
}

fn now_secs() -> i64 {
    whatsapp_rust::wacore::time::now_secs()
}

/// One item per key, in first-seen order, each the last one given for its key:
/// what applying the batch row by row would leave behind.
fn last_per_key<T, K: Eq + Hash>(
    items: impl IntoIterator<Item = T>,
    key: impl Fn(&T) -> K,
) -> Vec<T> {
    merge_per_key(items, key, |_, new| new)
}

/// One item per key, in first-seen order, folding repeats with `merge(old, new)`.
fn merge_per_key<T, K: Eq + Hash>(
    items: impl IntoIterator<Item = T>,
    key: impl Fn(&T) -> K,
    merge: impl Fn(T, T) -> T,
) -> Vec<T> {
    let mut slots: HashMap<K, usize> = HashMap::new();
    let mut out: Vec<Option<T>> = Vec::new();
    for item in items {
        match slots.entry(key(&item)) {
            Entry::Occupied(slot) => {
                let old = out[*slot.get()].take().expect("slot filled");
                out[*slot.get()] = Some(merge(old, item));
            }
            Entry::Vacant(slot) => {
                slot.insert(out.len());
                out.push(Some(item));
            }
        }
    }
    out.into_iter().flatten().collect()
}

/// Bounds `[low, high)` of the addresses that start with `prefix` under the
/// columns' "C" (bytewise) collation, so a prefix match can use the key index
/// without LIKE-escaping `prefix`. `prefix` ends with an ASCII separator.
fn prefix_range(prefix: String) -> (String, String) {
    let mut high = prefix.clone();
    let last = high.pop().expect("non-empty prefix");
    debug_assert!(last.is_ascii() && last != '\u{7f}');
    high.push(char::from(last as u8 + 1));
    (prefix, high)
}

const UPSERT_IDENTITIES: &str = "INSERT INTO wa_identities (session_id, address, key) \
     SELECT $1, address, key FROM UNNEST($2::text[], $3::bytea[]) AS t(address, key) \
     ON CONFLICT (session_id, address) DO UPDATE SET key = EXCLUDED.key";
const UPSERT_SESSIONS: &str = "INSERT INTO wa_signal_sessions (session_id, address, record) \
     SELECT $1, address, record FROM UNNEST($2::text[], $3::bytea[]) AS t(address, record) \
     ON CONFLICT (session_id, address) DO UPDATE SET record = EXCLUDED.record";
const UPSERT_SENDER_KEYS: &str = "INSERT INTO wa_sender_keys (session_id, address, record) \
     SELECT $1, address, record FROM UNNEST($2::text[], $3::bytea[]) AS t(address, record) \
     ON CONFLICT (session_id, address) DO UPDATE SET record = EXCLUDED.record";
const UPSERT_PREKEYS: &str = "INSERT INTO wa_prekeys (session_id, id, key, uploaded) \
     SELECT $1, id, key, $4 FROM UNNEST($2::bigint[], $3::bytea[]) AS t(id, key) \
     ON CONFLICT (session_id, id) DO UPDATE SET key = EXCLUDED.key, uploaded = EXCLUDED.uploaded";

impl PgBackend {
    /// Upserts `(address, blob)` rows with one of the statements above.
    async fn upsert_blobs(&self, sql: &'static str, rows: Vec<(&str, &[u8])>) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let (keys, blobs): (Vec<&str>, Vec<&[u8]>) =
            last_per_key(rows, |r| r.0).into_iter().unzip();
        sqlx::query(sql)
            .bind(self.session_id)
            .bind(keys)
            .bind(blobs)
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn blob(&self, sql: &'static str, key: &str) -> Result<Option<Vec<u8>>> {
        sqlx::query_scalar(sql)
            .bind(self.session_id)
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)
    }

    async fn exec(&self, sql: &'static str, key: &str) -> Result<u64> {
        sqlx::query(sql)
            .bind(self.session_id)
            .bind(key)
            .execute(&self.pool)
            .await
            .map(|r| r.rows_affected())
            .map_err(db)
    }

    async fn exec_id(&self, sql: &'static str, id: u32) -> Result<()> {
        sqlx::query(sql)
            .bind(self.session_id)
            .bind(i64::from(id))
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(())
    }
}

#[async_trait]
impl SignalStore for PgBackend {
    async fn put_identity(&self, address: &str, key: [u8; 32]) -> Result<()> {
        self.upsert_blobs(UPSERT_IDENTITIES, vec![(address, &key[..])])
            .await
    }

    async fn put_identities_batch(&self, identities: &[(Arc<str>, [u8; 32])]) -> Result<()> {
        let rows = identities.iter().map(|(a, k)| (&**a, &k[..])).collect();
        self.upsert_blobs(UPSERT_IDENTITIES, rows).await
    }

    async fn load_identity(&self, address: &str) -> Result<Option<[u8; 32]>> {
        let sql = "SELECT key FROM wa_identities WHERE session_id = $1 AND address = $2";
        match self.blob(sql, address).await? {
            None => Ok(None),
            Some(key) => key.try_into().map(Some).map_err(|key: Vec<u8>| {
                StoreError::Validation(format!(
                    "identity key for '{address}' has invalid length {} (expected 32)",
                    key.len()
                ))
            }),
        }
    }

    async fn delete_identity(&self, address: &str) -> Result<()> {
        self.exec(
            "DELETE FROM wa_identities WHERE session_id = $1 AND address = $2",
            address,
        )
        .await
        .map(drop)
    }

    async fn get_session(&self, address: &str) -> Result<Option<Bytes>> {
        let sql = "SELECT record FROM wa_signal_sessions WHERE session_id = $1 AND address = $2";
        Ok(self.blob(sql, address).await?.map(Bytes::from))
    }

    async fn put_session(&self, address: &str, session: &[u8]) -> Result<()> {
        self.upsert_blobs(UPSERT_SESSIONS, vec![(address, session)])
            .await
    }

    async fn put_sessions_batch(&self, sessions: &[(Arc<str>, Bytes)]) -> Result<()> {
        let rows = sessions.iter().map(|(a, r)| (&**a, &r[..])).collect();
        self.upsert_blobs(UPSERT_SESSIONS, rows).await
    }

    async fn delete_session(&self, address: &str) -> Result<()> {
        self.exec(
            "DELETE FROM wa_signal_sessions WHERE session_id = $1 AND address = $2",
            address,
        )
        .await
        .map(drop)
    }

    async fn has_session(&self, address: &str) -> Result<bool> {
        sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM wa_signal_sessions WHERE session_id = $1 AND address = $2)",
        )
        .bind(self.session_id)
        .bind(address)
        .fetch_one(&self.pool)
        .await
        .map_err(db)
    }

    async fn has_signal_state_for_user(&self, user: &str) -> Result<bool> {
        // Addresses are `user@server` (device 0) or `user:device@server`.
        let (at_low, at_high) = prefix_range(format!("{user}@"));
        let (dev_low, dev_high) = prefix_range(format!("{user}:"));
        sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM wa_signal_sessions WHERE session_id = $1 \
               AND ((address >= $2 AND address < $3) OR (address >= $4 AND address < $5))) \
             OR EXISTS (SELECT 1 FROM wa_identities WHERE session_id = $1 \
               AND ((address >= $2 AND address < $3) OR (address >= $4 AND address < $5)))",
        )
        .bind(self.session_id)
        .bind(at_low)
        .bind(at_high)
        .bind(dev_low)
        .bind(dev_high)
        .fetch_one(&self.pool)
        .await
        .map_err(db)
    }

    async fn store_prekey(&self, id: u32, record: &[u8], uploaded: bool) -> Result<()> {
        self.store_prekeys_batch(&[(id, Bytes::copy_from_slice(record))], uploaded)
            .await
    }

    async fn store_prekeys_batch(&self, keys: &[(u32, Bytes)], uploaded: bool) -> Result<()> {
        if keys.is_empty() {
            return Ok(());
        }
        let (ids, records): (Vec<i64>, Vec<&[u8]>) =
            last_per_key(keys.iter().map(|(id, r)| (i64::from(*id), &r[..])), |r| r.0)
                .into_iter()
                .unzip();
        sqlx::query(UPSERT_PREKEYS)
            .bind(self.session_id)
            .bind(ids)
            .bind(records)
            .bind(uploaded)
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn load_prekey(&self, id: u32) -> Result<Option<Bytes>> {
        let key: Option<Vec<u8>> =
            sqlx::query_scalar("SELECT key FROM wa_prekeys WHERE session_id = $1 AND id = $2")
                .bind(self.session_id)
                .bind(i64::from(id))
                .fetch_optional(&self.pool)
                .await
                .map_err(db)?;
        Ok(key.map(Bytes::from))
    }

    async fn load_prekeys_batch(&self, ids: &[u32]) -> Result<Vec<(u32, Bytes)>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<i64> = ids.iter().map(|&id| i64::from(id)).collect();
        let rows: Vec<(i64, Vec<u8>)> = sqlx::query_as(
            "SELECT id, key FROM wa_prekeys WHERE session_id = $1 AND id = ANY($2) ORDER BY id",
        )
        .bind(self.session_id)
        .bind(ids)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        Ok(rows
            .into_iter()
            .map(|(id, key)| (id as u32, Bytes::from(key)))
            .collect())
    }

    async fn mark_prekeys_uploaded(&self, ids: &[u32]) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        // UPDATE only: a key consumed since the upload snapshot stays deleted.
        let ids: Vec<i64> = ids.iter().map(|&id| i64::from(id)).collect();
        sqlx::query("UPDATE wa_prekeys SET uploaded = TRUE WHERE session_id = $1 AND id = ANY($2)")
            .bind(self.session_id)
            .bind(ids)
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn remove_prekey(&self, id: u32) -> Result<()> {
        self.exec_id(
            "DELETE FROM wa_prekeys WHERE session_id = $1 AND id = $2",
            id,
        )
        .await
    }

    async fn get_max_prekey_id(&self) -> Result<u32> {
        let max: i64 =
            sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM wa_prekeys WHERE session_id = $1")
                .bind(self.session_id)
                .fetch_one(&self.pool)
                .await
                .map_err(db)?;
        Ok(max as u32)
    }

    async fn store_signed_prekey(&self, id: u32, record: &[u8]) -> Result<()> {
        sqlx::query(
            "INSERT INTO wa_signed_prekeys (session_id, id, record) VALUES ($1, $2, $3) \
             ON CONFLICT (session_id, id) DO UPDATE SET record = EXCLUDED.record",
        )
        .bind(self.session_id)
        .bind(i64::from(id))
        .bind(record)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn load_signed_prekey(&self, id: u32) -> Result<Option<Vec<u8>>> {
        sqlx::query_scalar("SELECT record FROM wa_signed_prekeys WHERE session_id = $1 AND id = $2")
            .bind(self.session_id)
            .bind(i64::from(id))
            .fetch_optional(&self.pool)
            .await
            .map_err(db)
    }

    async fn load_all_signed_prekeys(&self) -> Result<Vec<(u32, Vec<u8>)>> {
        let rows: Vec<(i64, Vec<u8>)> = sqlx::query_as(
            "SELECT id, record FROM wa_signed_prekeys WHERE session_id = $1 ORDER BY id",
        )
        .bind(self.session_id)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        Ok(rows.into_iter().map(|(id, r)| (id as u32, r)).collect())
    }

    async fn remove_signed_prekey(&self, id: u32) -> Result<()> {
        self.exec_id(
            "DELETE FROM wa_signed_prekeys WHERE session_id = $1 AND id = $2",
            id,
        )
        .await
    }

    async fn put_sender_key(&self, address: &str, record: &[u8]) -> Result<()> {
        self.upsert_blobs(UPSERT_SENDER_KEYS, vec![(address, record)])
            .await
    }

    async fn put_sender_keys_batch(&self, sender_keys: &[(Arc<str>, Bytes)]) -> Result<()> {
        let rows = sender_keys.iter().map(|(a, r)| (&**a, &r[..])).collect();
        self.upsert_blobs(UPSERT_SENDER_KEYS, rows).await
    }

    async fn get_sender_key(&self, address: &str) -> Result<Option<Vec<u8>>> {
        self.blob(
            "SELECT record FROM wa_sender_keys WHERE session_id = $1 AND address = $2",
            address,
        )
        .await
    }

    async fn delete_sender_key(&self, address: &str) -> Result<()> {
        self.exec(
            "DELETE FROM wa_sender_keys WHERE session_id = $1 AND address = $2",
            address,
        )
        .await
        .map(drop)
    }
}

#[async_trait]
impl AppSyncStore for PgBackend {
    async fn get_sync_key(&self, key_id: &[u8]) -> Result<Option<AppStateSyncKey>> {
        let data: Option<Vec<u8>> = sqlx::query_scalar(
            "SELECT key_data FROM wa_app_state_keys WHERE session_id = $1 AND key_id = $2",
        )
        .bind(self.session_id)
        .bind(key_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        // An undecodable blob reads as absent: the key is then re-requested and
        // the next set overwrites it (the SQLite store's self-healing rule).
        Ok(data.and_then(|data| match wire::decode_sync_key(&data) {
            Ok(key) => Some(key),
            Err(e) => {
                tracing::warn!(error = %e, "undecodable app-state sync key; treating as absent");
                None
            }
        }))
    }

    async fn set_sync_key(&self, key_id: &[u8], key: AppStateSyncKey) -> Result<()> {
        sqlx::query(
            "INSERT INTO wa_app_state_keys (session_id, key_id, key_data) VALUES ($1, $2, $3) \
             ON CONFLICT (session_id, key_id) DO UPDATE SET key_data = EXCLUDED.key_data",
        )
        .bind(self.session_id)
        .bind(key_id)
        .bind(wire::encode_sync_key(&key))
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn get_version(&self, name: &str) -> Result<HashState> {
        let sql =
            "SELECT state_data FROM wa_app_state_versions WHERE session_id = $1 AND name = $2";
        let Some(data) = self.blob(sql, name).await? else {
            return Ok(HashState::default());
        };
        // Undecodable resets the collection, which then re-syncs from version 0.
        Ok(wire::decode_hash_state(&data).unwrap_or_else(|e| {
            tracing::warn!(error = %e, collection = name, "undecodable app-state version; resetting");
            HashState::default()
        }))
    }

    async fn set_version(&self, name: &str, state: HashState) -> Result<()> {
        sqlx::query(
            "INSERT INTO wa_app_state_versions (session_id, name, state_data) VALUES ($1, $2, $3) \
             ON CONFLICT (session_id, name) DO UPDATE SET state_data = EXCLUDED.state_data",
        )
        .bind(self.session_id)
        .bind(name)
        .bind(wire::encode_hash_state(&state))
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn put_mutation_macs(
        &self,
        name: &str,
        version: u64,
        mutations: &[AppStateMutationMAC],
    ) -> Result<()> {
        if mutations.is_empty() {
            return Ok(());
        }
        let rows = mutations
            .iter()
            .map(|m| (&m.index_mac[..], &m.value_mac[..]));
        let (index_macs, value_macs): (Vec<&[u8]>, Vec<&[u8]>) =
            last_per_key(rows, |r| r.0).into_iter().unzip();
        sqlx::query(
            "INSERT INTO wa_app_state_mutation_macs (session_id, name, index_mac, version, value_mac) \
             SELECT $1, $2, index_mac, $3, value_mac FROM UNNEST($4::bytea[], $5::bytea[]) AS t(index_mac, value_mac) \
             ON CONFLICT (session_id, name, index_mac) \
             DO UPDATE SET version = EXCLUDED.version, value_mac = EXCLUDED.value_mac",
        )
        .bind(self.session_id)
        .bind(name)
        .bind(version as i64)
        .bind(index_macs)
        .bind(value_macs)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn get_mutation_mac(&self, name: &str, index_mac: &[u8]) -> Result<Option<Vec<u8>>> {
        sqlx::query_scalar(
            "SELECT value_mac FROM wa_app_state_mutation_macs \
             WHERE session_id = $1 AND name = $2 AND index_mac = $3",
        )
        .bind(self.session_id)
        .bind(name)
        .bind(index_mac)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)
    }

    async fn get_mutation_macs(
        &self,
        name: &str,
        index_macs: &[[u8; 32]],
    ) -> Result<HashMap<[u8; 32], Vec<u8>>> {
        if index_macs.is_empty() {
            return Ok(HashMap::new());
        }
        let keys: Vec<&[u8]> = index_macs.iter().map(|m| &m[..]).collect();
        let rows: Vec<(Vec<u8>, Vec<u8>)> = sqlx::query_as(
            "SELECT index_mac, value_mac FROM wa_app_state_mutation_macs \
             WHERE session_id = $1 AND name = $2 AND index_mac = ANY($3)",
        )
        .bind(self.session_id)
        .bind(name)
        .bind(keys)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        Ok(rows
            .into_iter()
            .filter_map(|(k, v)| <[u8; 32]>::try_from(k.as_slice()).ok().map(|k| (k, v)))
            .collect())
    }

    async fn delete_mutation_macs(&self, name: &str, index_macs: &[Vec<u8>]) -> Result<()> {
        if index_macs.is_empty() {
            return Ok(());
        }
        sqlx::query(
            "DELETE FROM wa_app_state_mutation_macs \
             WHERE session_id = $1 AND name = $2 AND index_mac = ANY($3)",
        )
        .bind(self.session_id)
        .bind(name)
        .bind(index_macs)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn clear_mutation_macs(&self, name: &str) -> Result<()> {
        self.exec(
            "DELETE FROM wa_app_state_mutation_macs WHERE session_id = $1 AND name = $2",
            name,
        )
        .await
        .map(drop)
    }

    async fn get_latest_sync_key_id(&self) -> Result<Option<Vec<u8>>> {
        // The highest key id whose blob decodes, so outbound patches use a usable key.
        let rows: Vec<(Vec<u8>, Vec<u8>)> = sqlx::query_as(
            "SELECT key_id, key_data FROM wa_app_state_keys WHERE session_id = $1 ORDER BY key_id DESC",
        )
        .bind(self.session_id)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        Ok(rows
            .into_iter()
            .find(|(_, data)| wire::decode_sync_key(data).is_ok())
            .map(|(key_id, _)| key_id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_keep_one_row_per_key() {
        let rows = vec![("a", 1), ("b", 2), ("a", 3)];
        assert_eq!(
            last_per_key(rows.clone(), |r| r.0),
            vec![("a", 3), ("b", 2)]
        );
        assert_eq!(
            merge_per_key(rows, |r| r.0, |old, new| (old.0, old.1 + new.1)),
            vec![("a", 4), ("b", 2)]
        );
    }

    #[test]
    fn prefix_range_bounds_the_prefix() {
        assert_eq!(prefix_range("123@".into()), ("123@".into(), "123A".into()));
        assert_eq!(prefix_range("123:".into()), ("123:".into(), "123;".into()));
    }
}
