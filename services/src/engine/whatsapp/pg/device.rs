//! `DeviceStore` of [`PgBackend`]: the linked device's credentials, one row
//! per session with a column per persisted field (as the SQLite store does).

use std::sync::Arc;

use sqlx::Row;
use sqlx::postgres::{PgArguments, PgRow};
use whatsapp_rust::async_trait;
use whatsapp_rust::wacore::client_profile::ClientProfile;
use whatsapp_rust::wacore::libsignal::protocol::{KeyPair, PrivateKey, PublicKey};
use whatsapp_rust::wacore::stats::StorageResourceReport;
use whatsapp_rust::wacore::store::Device;
use whatsapp_rust::wacore::store::device::{DEVICE_PROPS, account_serde};
use whatsapp_rust::wacore::store::error::{Result, StoreError};
use whatsapp_rust::wacore::store::traits::DeviceStore;

use super::{PgBackend, db, now_secs, wire};

/// The device id `create` reports: one device per session, like a
/// single-account SQLite store.
const DEVICE_ID: i32 = 1;

/// Whether the session has a device that completed pairing (has a phone JID).
pub async fn has_linked_device(pool: &sqlx::PgPool, session_id: i64) -> sqlx::Result<bool> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM wa_device WHERE session_id = $1 AND pn IS NOT NULL AND pn <> '')",
    )
    .bind(session_id)
    .fetch_one(pool)
    .await
}

macro_rules! insert_device {
    () => {
        "INSERT INTO wa_device (session_id, pn, lid, registration_id, noise_key, identity_key, \
         signed_pre_key, signed_pre_key_id, signed_pre_key_signature, adv_secret_key, account, \
         push_name, app_version_primary, app_version_secondary, app_version_tertiary, \
         app_version_last_fetched_ms, edge_routing_info, props_hash, next_pre_key_id, \
         first_unupload_pre_key_id, server_has_prekeys, nct_salt, server_cert_chain, login_counter, \
         lid_migrated, last_signed_pre_key_rotation_ms, read_receipts_disabled, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, \
         $19, $20, $21, $22, $23, $24, $25, $26, $27, $28)"
    };
}

/// A second replica racing the first start must not replace the keys.
const CREATE_DEVICE: &str = concat!(insert_device!(), " ON CONFLICT (session_id) DO NOTHING");

const SAVE_DEVICE: &str = concat!(
    insert_device!(),
    " ON CONFLICT (session_id) DO UPDATE SET pn = EXCLUDED.pn, lid = EXCLUDED.lid, \
     registration_id = EXCLUDED.registration_id, noise_key = EXCLUDED.noise_key, \
     identity_key = EXCLUDED.identity_key, signed_pre_key = EXCLUDED.signed_pre_key, \
     signed_pre_key_id = EXCLUDED.signed_pre_key_id, \
     signed_pre_key_signature = EXCLUDED.signed_pre_key_signature, \
     adv_secret_key = EXCLUDED.adv_secret_key, account = EXCLUDED.account, \
     push_name = EXCLUDED.push_name, app_version_primary = EXCLUDED.app_version_primary, \
     app_version_secondary = EXCLUDED.app_version_secondary, \
     app_version_tertiary = EXCLUDED.app_version_tertiary, \
     app_version_last_fetched_ms = EXCLUDED.app_version_last_fetched_ms, \
     edge_routing_info = EXCLUDED.edge_routing_info, props_hash = EXCLUDED.props_hash, \
     next_pre_key_id = EXCLUDED.next_pre_key_id, \
     first_unupload_pre_key_id = EXCLUDED.first_unupload_pre_key_id, \
     server_has_prekeys = EXCLUDED.server_has_prekeys, nct_salt = EXCLUDED.nct_salt, \
     server_cert_chain = EXCLUDED.server_cert_chain, login_counter = EXCLUDED.login_counter, \
     lid_migrated = EXCLUDED.lid_migrated, \
     last_signed_pre_key_rotation_ms = EXCLUDED.last_signed_pre_key_rotation_ms, \
     read_receipts_disabled = EXCLUDED.read_receipts_disabled, updated_at = EXCLUDED.updated_at"
);

/// `private(32) || public(32)`, the SQLite store's encoding.
fn key_pair_bytes(pair: &KeyPair) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(64);
    bytes.extend_from_slice(pair.private_key.serialize());
    bytes.extend_from_slice(pair.public_key.public_key_bytes());
    bytes
}

fn key_pair_from(bytes: &[u8]) -> Result<KeyPair> {
    if bytes.len() != 64 {
        return Err(StoreError::Validation(format!(
            "invalid key pair length {}",
            bytes.len()
        )));
    }
    let private_key = PrivateKey::deserialize(&bytes[..32])
        .map_err(|e| StoreError::Serialization(Box::new(e)))?;
    let public_key = PublicKey::from_djb_public_key_bytes(&bytes[32..])
        .map_err(|e| StoreError::Serialization(Box::new(e)))?;
    Ok(KeyPair::new(public_key, private_key))
}

fn bind_device<'q>(
    query: sqlx::query::Query<'q, sqlx::Postgres, PgArguments>,
    session_id: i64,
    d: &Device,
) -> sqlx::query::Query<'q, sqlx::Postgres, PgArguments> {
    query
        .bind(session_id)
        .bind(d.pn.as_ref().map(|j| j.to_string()))
        .bind(d.lid.as_ref().map(|j| j.to_string()))
        .bind(i64::from(d.registration_id))
        .bind(key_pair_bytes(&d.noise_key))
        .bind(key_pair_bytes(&d.identity_key))
        .bind(key_pair_bytes(&d.signed_pre_key))
        .bind(i64::from(d.signed_pre_key_id))
        .bind(&d.signed_pre_key_signature[..])
        .bind(&d.adv_secret_key[..])
        .bind(d.account.as_deref().map(account_serde::to_bytes))
        .bind(d.push_name.clone())
        .bind(i64::from(d.app_version_primary))
        .bind(i64::from(d.app_version_secondary))
        .bind(i64::from(d.app_version_tertiary))
        .bind(d.app_version_last_fetched_ms)
        .bind(d.edge_routing_info.clone())
        .bind(d.props_hash.clone())
        .bind(i64::from(d.next_pre_key_id))
        .bind(i64::from(d.first_unupload_pre_key_id))
        .bind(d.server_has_prekeys)
        .bind(d.nct_salt.clone())
        .bind(d.server_cert_chain.as_ref().map(wire::encode_cert_chain))
        .bind(i64::from(d.login_counter))
        .bind(d.lid_migrated)
        .bind(d.last_signed_pre_key_rotation_ms)
        .bind(d.read_receipts_disabled)
        .bind(now_secs())
}

fn device_from_row(session_id: i64, row: &PgRow) -> Result<Device> {
    let get_u32 = |name: &str| -> Result<u32> {
        let value: i64 = row.try_get(name).map_err(db)?;
        u32::try_from(value)
            .map_err(|_| StoreError::Validation(format!("device {name} out of range: {value}")))
    };
    let bytes = |name: &str| -> Result<Vec<u8>> { row.try_get(name).map_err(db) };
    let jid = |name: &str| -> Result<_> {
        let text: Option<String> = row.try_get(name).map_err(db)?;
        Ok(text.filter(|t| !t.is_empty()).and_then(|t| t.parse().ok()))
    };
    let signed_pre_key_signature: [u8; 64] = bytes("signed_pre_key_signature")?
        .try_into()
        .map_err(|_| StoreError::Validation("invalid signed_pre_key_signature length".into()))?;
    let adv_secret_key: [u8; 32] = bytes("adv_secret_key")?
        .try_into()
        .map_err(|_| StoreError::Validation("invalid adv_secret_key length".into()))?;
    let account: Option<Vec<u8>> = row.try_get("account").map_err(db)?;
    let account = account
        .map(|data| {
            account_serde::from_bytes(&data).map_err(|e| StoreError::Serialization(Box::new(e)))
        })
        .transpose()?;
    let cert_chain: Option<Vec<u8>> = row.try_get("server_cert_chain").map_err(db)?;
    let login_counter: i64 = row.try_get("login_counter").map_err(db)?;
    Ok(Device {
        pn: jid("pn")?,
        lid: jid("lid")?,
        registration_id: get_u32("registration_id")?,
        noise_key: key_pair_from(&bytes("noise_key")?)?,
        identity_key: key_pair_from(&bytes("identity_key")?)?,
        signed_pre_key: key_pair_from(&bytes("signed_pre_key")?)?,
        signed_pre_key_id: get_u32("signed_pre_key_id")?,
        signed_pre_key_signature,
        adv_secret_key,
        account: account.map(Arc::new),
        push_name: row.try_get("push_name").map_err(db)?,
        app_version_primary: get_u32("app_version_primary")?,
        app_version_secondary: get_u32("app_version_secondary")?,
        app_version_tertiary: get_u32("app_version_tertiary")?,
        app_version_last_fetched_ms: row.try_get("app_version_last_fetched_ms").map_err(db)?,
        // Not persisted (serde(skip) in Device): restored exactly as the
        // SQLite store does, never left empty.
        device_props: Arc::new(DEVICE_PROPS.clone()),
        client_profile: ClientProfile::web(),
        edge_routing_info: row.try_get("edge_routing_info").map_err(db)?,
        props_hash: row.try_get("props_hash").map_err(db)?,
        next_pre_key_id: get_u32("next_pre_key_id")?,
        first_unupload_pre_key_id: get_u32("first_unupload_pre_key_id")?,
        server_has_prekeys: row.try_get("server_has_prekeys").map_err(db)?,
        nct_salt: row.try_get("nct_salt").map_err(db)?,
        nct_salt_sync_seen: false,
        // A cache: a corrupt blob degrades to None (one XX handshake) rather
        // than blocking start-up.
        server_cert_chain: cert_chain.and_then(|bytes| match wire::decode_cert_chain(&bytes) {
            Ok(chain) => Some(chain),
            Err(e) => {
                tracing::warn!(session_id, error = %e, "undecodable server cert chain; dropping it");
                None
            }
        }),
        login_counter: i32::try_from(login_counter).unwrap_or(i32::MAX),
        lid_migrated: row.try_get("lid_migrated").map_err(db)?,
        last_signed_pre_key_rotation_ms: row.try_get("last_signed_pre_key_rotation_ms").map_err(db)?,
        read_receipts_disabled: row.try_get("read_receipts_disabled").map_err(db)?,
    })
}

#[async_trait]
impl DeviceStore for PgBackend {
    async fn save(&self, device: &Device) -> Result<()> {
        bind_device(sqlx::query(SAVE_DEVICE), self.session_id, device)
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn load(&self) -> Result<Option<Device>> {
        let row = sqlx::query("SELECT * FROM wa_device WHERE session_id = $1")
            .bind(self.session_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        row.map(|row| device_from_row(self.session_id, &row))
            .transpose()
    }

    async fn exists(&self) -> Result<bool> {
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM wa_device WHERE session_id = $1)")
            .bind(self.session_id)
            .fetch_one(&self.pool)
            .await
            .map_err(db)
    }

    async fn create(&self) -> Result<i32> {
        bind_device(sqlx::query(CREATE_DEVICE), self.session_id, &Device::new())
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(DEVICE_ID)
    }

    async fn resource_report(&self) -> StorageResourceReport {
        // The data lives in the database server, not in this process.
        StorageResourceReport {
            memory_bytes: Some(0),
            ..Default::default()
        }
    }
}
