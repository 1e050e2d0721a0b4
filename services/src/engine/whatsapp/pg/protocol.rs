//! `ProtocolStore` and `MsgSecretStore` of [`PgBackend`].

use sqlx::Row;
use whatsapp_rust::async_trait;
use whatsapp_rust::wacore::store::error::{Result, StoreError};
use whatsapp_rust::wacore::store::traits::{
    DeviceInfo, DeviceListRecord, LidPnMappingEntry, MsgSecretEntry, MsgSecretStore,
    PendingInboundKey, PendingInboundRow, ProtocolStore, TcTokenEntry, merge_msg_secret_expiry,
    merge_msg_secret_message_ts,
};

use super::{PgBackend, db, last_per_key, merge_per_key, now_secs};

/// Rows per statement when writing message secrets (history sync can hand
/// over tens of thousands at once).
const MSG_SECRET_CHUNK: usize = 1000;

fn lid_mapping_from_row(row: &sqlx::postgres::PgRow) -> sqlx::Result<LidPnMappingEntry> {
    Ok(LidPnMappingEntry {
        lid: row.try_get("lid")?,
        phone_number: row.try_get("phone_number")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        learning_source: row.try_get("learning_source")?,
    })
}

#[async_trait]
impl ProtocolStore for PgBackend {
    async fn get_sender_key_devices(&self, group_jid: &str) -> Result<Vec<(String, bool)>> {
        sqlx::query_as(
            "SELECT device_jid, has_key FROM wa_sender_key_devices \
             WHERE session_id = $1 AND group_jid = $2 ORDER BY device_jid",
        )
        .bind(self.session_id)
        .bind(group_jid)
        .fetch_all(&self.pool)
        .await
        .map_err(db)
    }

    async fn set_sender_key_status(&self, group_jid: &str, entries: &[(&str, bool)]) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let (jids, has_keys): (Vec<&str>, Vec<bool>) =
            last_per_key(entries.iter().copied(), |e| e.0)
                .into_iter()
                .unzip();
        sqlx::query(
            "INSERT INTO wa_sender_key_devices (session_id, group_jid, device_jid, has_key, updated_at) \
             SELECT $1, $2, device_jid, has_key, $5 FROM UNNEST($3::text[], $4::bool[]) AS t(device_jid, has_key) \
             ON CONFLICT (session_id, group_jid, device_jid) \
             DO UPDATE SET has_key = EXCLUDED.has_key, updated_at = EXCLUDED.updated_at",
        )
        .bind(self.session_id)
        .bind(group_jid)
        .bind(jids)
        .bind(has_keys)
        .bind(now_secs())
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn clear_sender_key_devices(&self, group_jid: &str) -> Result<()> {
        self.exec(
            "DELETE FROM wa_sender_key_devices WHERE session_id = $1 AND group_jid = $2",
            group_jid,
        )
        .await
        .map(drop)
    }

    async fn delete_sender_key_device_rows(&self, device_jids: &[&str]) -> Result<()> {
        if device_jids.is_empty() {
            return Ok(());
        }
        sqlx::query(
            "DELETE FROM wa_sender_key_devices WHERE session_id = $1 AND device_jid = ANY($2)",
        )
        .bind(self.session_id)
        .bind(device_jids)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn clear_all_sender_key_devices(&self) -> Result<()> {
        sqlx::query("DELETE FROM wa_sender_key_devices WHERE session_id = $1")
            .bind(self.session_id)
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn get_lid_mapping(&self, lid: &str) -> Result<Option<LidPnMappingEntry>> {
        let row = sqlx::query(
            "SELECT lid, phone_number, created_at, updated_at, learning_source \
             FROM wa_lid_pn_mapping WHERE session_id = $1 AND lid = $2",
        )
        .bind(self.session_id)
        .bind(lid)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        row.as_ref()
            .map(lid_mapping_from_row)
            .transpose()
            .map_err(db)
    }

    async fn get_pn_mapping(&self, phone: &str) -> Result<Option<LidPnMappingEntry>> {
        let row = sqlx::query(
            "SELECT lid, phone_number, created_at, updated_at, learning_source \
             FROM wa_lid_pn_mapping WHERE session_id = $1 AND phone_number = $2 \
             ORDER BY updated_at DESC, lid DESC LIMIT 1",
        )
        .bind(self.session_id)
        .bind(phone)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        row.as_ref()
            .map(lid_mapping_from_row)
            .transpose()
            .map_err(db)
    }

    async fn put_lid_mapping(&self, entry: &LidPnMappingEntry) -> Result<()> {
        self.put_lid_mappings(std::slice::from_ref(entry)).await
    }

    async fn put_lid_mappings(&self, entries: &[LidPnMappingEntry]) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        // Row by row, the first write of a LID sets created_at and later ones
        // update the rest; a LID repeated in one batch folds the same way.
        let rows = merge_per_key(
            entries.iter().cloned(),
            |e| e.lid.clone(),
            |first, last| LidPnMappingEntry {
                created_at: first.created_at,
                ..last
            },
        );
        sqlx::query(
            "INSERT INTO wa_lid_pn_mapping (session_id, lid, phone_number, created_at, updated_at, learning_source) \
             SELECT $1, * FROM UNNEST($2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::text[]) \
             ON CONFLICT (session_id, lid) DO UPDATE SET phone_number = EXCLUDED.phone_number, \
             updated_at = EXCLUDED.updated_at, learning_source = EXCLUDED.learning_source",
        )
        .bind(self.session_id)
        .bind(rows.iter().map(|e| e.lid.as_str()).collect::<Vec<_>>())
        .bind(rows.iter().map(|e| e.phone_number.as_str()).collect::<Vec<_>>())
        .bind(rows.iter().map(|e| e.created_at).collect::<Vec<_>>())
        .bind(rows.iter().map(|e| e.updated_at).collect::<Vec<_>>())
        .bind(rows.iter().map(|e| e.learning_source.as_str()).collect::<Vec<_>>())
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn get_all_lid_mappings(&self) -> Result<Vec<LidPnMappingEntry>> {
        let rows = sqlx::query(
            "SELECT lid, phone_number, created_at, updated_at, learning_source \
             FROM wa_lid_pn_mapping WHERE session_id = $1 ORDER BY lid",
        )
        .bind(self.session_id)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter()
            .map(lid_mapping_from_row)
            .collect::<sqlx::Result<_>>()
            .map_err(db)
    }

    async fn save_base_key(&self, address: &str, message_id: &str, base_key: &[u8]) -> Result<()> {
        sqlx::query(
            "INSERT INTO wa_base_keys (session_id, address, message_id, base_key, created_at) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (session_id, address, message_id) DO UPDATE SET base_key = EXCLUDED.base_key",
        )
        .bind(self.session_id)
        .bind(address)
        .bind(message_id)
        .bind(base_key)
        .bind(now_secs())
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn has_same_base_key(
        &self,
        address: &str,
        message_id: &str,
        current_base_key: &[u8],
    ) -> Result<bool> {
        sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM wa_base_keys WHERE session_id = $1 \
             AND address = $2 AND message_id = $3 AND base_key = $4)",
        )
        .bind(self.session_id)
        .bind(address)
        .bind(message_id)
        .bind(current_base_key)
        .fetch_one(&self.pool)
        .await
        .map_err(db)
    }

    async fn delete_base_key(&self, address: &str, message_id: &str) -> Result<()> {
        sqlx::query(
            "DELETE FROM wa_base_keys WHERE session_id = $1 AND address = $2 AND message_id = $3",
        )
        .bind(self.session_id)
        .bind(address)
        .bind(message_id)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn update_device_list(&self, record: DeviceListRecord) -> Result<()> {
        self.update_device_lists(vec![record]).await
    }

    async fn update_device_lists(&self, records: Vec<DeviceListRecord>) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        let records = last_per_key(records, |r| r.user.clone());
        let mut users = Vec::with_capacity(records.len());
        let mut devices = Vec::with_capacity(records.len());
        let mut timestamps = Vec::with_capacity(records.len());
        let mut phashes = Vec::with_capacity(records.len());
        let mut raw_ids = Vec::with_capacity(records.len());
        for record in records {
            devices.push(
                serde_json::to_string(&record.devices)
                    .map_err(|e| StoreError::Serialization(Box::new(e)))?,
            );
            users.push(record.user);
            timestamps.push(record.timestamp);
            phashes.push(record.phash);
            raw_ids.push(record.raw_id.map(i64::from));
        }
        sqlx::query(
            "INSERT INTO wa_device_registry (session_id, user_id, devices_json, timestamp, phash, raw_id, updated_at) \
             SELECT $1, user_id, devices_json, timestamp, phash, raw_id, $7 \
             FROM UNNEST($2::text[], $3::text[], $4::bigint[], $5::text[], $6::bigint[]) \
               AS t(user_id, devices_json, timestamp, phash, raw_id) \
             ON CONFLICT (session_id, user_id) DO UPDATE SET devices_json = EXCLUDED.devices_json, \
             timestamp = EXCLUDED.timestamp, phash = EXCLUDED.phash, raw_id = EXCLUDED.raw_id, \
             updated_at = EXCLUDED.updated_at",
        )
        .bind(self.session_id)
        .bind(users)
        .bind(devices)
        .bind(timestamps)
        .bind(phashes)
        .bind(raw_ids)
        .bind(now_secs())
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn get_devices(&self, user: &str) -> Result<Option<DeviceListRecord>> {
        let row: Option<(String, String, i64, Option<String>, Option<i64>)> = sqlx::query_as(
            "SELECT user_id, devices_json, timestamp, phash, raw_id FROM wa_device_registry \
             WHERE session_id = $1 AND user_id = $2",
        )
        .bind(self.session_id)
        .bind(user)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        let Some((user, devices_json, timestamp, phash, raw_id)) = row else {
            return Ok(None);
        };
        let devices: Vec<DeviceInfo> = serde_json::from_str(&devices_json)
            .map_err(|e| StoreError::Serialization(Box::new(e)))?;
        Ok(Some(DeviceListRecord {
            user,
            devices,
            timestamp,
            phash,
            raw_id: raw_id.map(|r| r as u32),
        }))
    }

    async fn delete_devices(&self, user: &str) -> Result<()> {
        self.exec(
            "DELETE FROM wa_device_registry WHERE session_id = $1 AND user_id = $2",
            user,
        )
        .await
        .map(drop)
    }

    async fn get_group_metadata(&self, group_jid: &str) -> Result<Option<Vec<u8>>> {
        self.blob(
            "SELECT info FROM wa_group_metadata WHERE session_id = $1 AND group_jid = $2",
            group_jid,
        )
        .await
    }

    async fn put_group_metadata(&self, group_jid: &str, blob: &[u8]) -> Result<()> {
        sqlx::query(
            "INSERT INTO wa_group_metadata (session_id, group_jid, info, updated_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (session_id, group_jid) DO UPDATE SET info = EXCLUDED.info, updated_at = EXCLUDED.updated_at",
        )
        .bind(self.session_id)
        .bind(group_jid)
        .bind(blob)
        .bind(now_secs())
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn delete_group_metadata(&self, group_jid: &str) -> Result<()> {
        self.exec(
            "DELETE FROM wa_group_metadata WHERE session_id = $1 AND group_jid = $2",
            group_jid,
        )
        .await
        .map(drop)
    }

    async fn get_tc_token(&self, jid: &str) -> Result<Option<TcTokenEntry>> {
        let row: Option<(Vec<u8>, i64, Option<i64>)> = sqlx::query_as(
            "SELECT token, token_timestamp, sender_timestamp FROM wa_tc_tokens \
             WHERE session_id = $1 AND jid = $2",
        )
        .bind(self.session_id)
        .bind(jid)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        Ok(
            row.map(|(token, token_timestamp, sender_timestamp)| TcTokenEntry {
                token,
                token_timestamp,
                sender_timestamp,
            }),
        )
    }

    async fn put_tc_token(&self, jid: &str, entry: &TcTokenEntry) -> Result<()> {
        sqlx::query(
            "INSERT INTO wa_tc_tokens (session_id, jid, token, token_timestamp, sender_timestamp, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (session_id, jid) DO UPDATE SET token = EXCLUDED.token, \
             token_timestamp = EXCLUDED.token_timestamp, sender_timestamp = EXCLUDED.sender_timestamp, \
             updated_at = EXCLUDED.updated_at",
        )
        .bind(self.session_id)
        .bind(jid)
        .bind(&entry.token)
        .bind(entry.token_timestamp)
        .bind(entry.sender_timestamp)
        .bind(now_secs())
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn delete_tc_token(&self, jid: &str) -> Result<()> {
        self.exec(
            "DELETE FROM wa_tc_tokens WHERE session_id = $1 AND jid = $2",
            jid,
        )
        .await
        .map(drop)
    }

    async fn get_all_tc_token_jids(&self) -> Result<Vec<String>> {
        sqlx::query_scalar("SELECT jid FROM wa_tc_tokens WHERE session_id = $1 ORDER BY jid")
            .bind(self.session_id)
            .fetch_all(&self.pool)
            .await
            .map_err(db)
    }

    async fn delete_expired_tc_tokens(&self, token_cutoff: i64, sender_cutoff: i64) -> Result<u32> {
        // Only rows with neither a live received token nor a live sender bucket.
        let result = sqlx::query(
            "DELETE FROM wa_tc_tokens WHERE session_id = $1 \
             AND (octet_length(token) = 0 OR token_timestamp < $2) \
             AND (sender_timestamp IS NULL OR sender_timestamp < $3)",
        )
        .bind(self.session_id)
        .bind(token_cutoff)
        .bind(sender_cutoff)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(result.rows_affected() as u32)
    }

    async fn touch_tc_token_sender_timestamp(
        &self,
        jid: &str,
        sender_timestamp: i64,
    ) -> Result<()> {
        // One upsert: a placeholder when absent, else only advance the sender
        // bucket; the token bytes are never touched.
        sqlx::query(
            "INSERT INTO wa_tc_tokens (session_id, jid, token, token_timestamp, sender_timestamp, updated_at) \
             VALUES ($1, $2, '\\x'::bytea, $3, $3, $4) \
             ON CONFLICT (session_id, jid) DO UPDATE SET \
             sender_timestamp = GREATEST(COALESCE(wa_tc_tokens.sender_timestamp, EXCLUDED.sender_timestamp), \
                                         EXCLUDED.sender_timestamp), \
             updated_at = EXCLUDED.updated_at",
        )
        .bind(self.session_id)
        .bind(jid)
        .bind(sender_timestamp)
        .bind(now_secs())
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn store_received_tc_token(
        &self,
        jid: &str,
        token: &[u8],
        token_timestamp: i64,
    ) -> Result<()> {
        // Newer wins, atomically: the conflict branch runs on the locked current
        // row, and writes only over a placeholder or an older-or-equal token.
        sqlx::query(
            "INSERT INTO wa_tc_tokens (session_id, jid, token, token_timestamp, sender_timestamp, updated_at) \
             VALUES ($1, $2, $3, $4, NULL, $5) \
             ON CONFLICT (session_id, jid) DO UPDATE SET token = EXCLUDED.token, \
             token_timestamp = EXCLUDED.token_timestamp, updated_at = EXCLUDED.updated_at \
             WHERE octet_length(wa_tc_tokens.token) = 0 \
                OR EXCLUDED.token_timestamp >= wa_tc_tokens.token_timestamp",
        )
        .bind(self.session_id)
        .bind(jid)
        .bind(token)
        .bind(token_timestamp)
        .bind(now_secs())
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn store_sent_message(
        &self,
        chat_jid: &str,
        message_id: &str,
        payload: &[u8],
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO wa_sent_messages (session_id, chat_jid, message_id, payload, created_at) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (session_id, chat_jid, message_id) \
             DO UPDATE SET payload = EXCLUDED.payload, created_at = EXCLUDED.created_at",
        )
        .bind(self.session_id)
        .bind(chat_jid)
        .bind(message_id)
        .bind(payload)
        .bind(now_secs())
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn take_sent_message(&self, chat_jid: &str, message_id: &str) -> Result<Option<Vec<u8>>> {
        // Atomic take: of concurrent takers, only the one whose DELETE removes
        // the row gets the payload.
        sqlx::query_scalar(
            "DELETE FROM wa_sent_messages WHERE session_id = $1 AND chat_jid = $2 AND message_id = $3 \
             RETURNING payload",
        )
        .bind(self.session_id)
        .bind(chat_jid)
        .bind(message_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)
    }

    async fn delete_expired_sent_messages(&self, cutoff_timestamp: i64) -> Result<u32> {
        let result =
            sqlx::query("DELETE FROM wa_sent_messages WHERE session_id = $1 AND created_at < $2")
                .bind(self.session_id)
                .bind(cutoff_timestamp)
                .execute(&self.pool)
                .await
                .map_err(db)?;
        Ok(result.rows_affected() as u32)
    }

    async fn store_pending_inbound(
        &self,
        chat: &str,
        sender: &str,
        id: &str,
        message: &[u8],
    ) -> Result<()> {
        self.store_pending_inbound_batch(&[PendingInboundRow {
            chat,
            sender,
            id,
            message,
        }])
        .await
    }

    async fn get_pending_inbound(
        &self,
        chat: &str,
        sender: &str,
        id: &str,
    ) -> Result<Option<Vec<u8>>> {
        sqlx::query_scalar(
            "SELECT message FROM wa_pending_inbound \
             WHERE session_id = $1 AND chat = $2 AND sender = $3 AND id = $4",
        )
        .bind(self.session_id)
        .bind(chat)
        .bind(sender)
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)
    }

    async fn delete_pending_inbound(&self, chat: &str, sender: &str, id: &str) -> Result<()> {
        self.delete_pending_inbound_batch(&[PendingInboundKey { chat, sender, id }])
            .await
    }

    async fn delete_expired_pending_inbound(&self, cutoff_timestamp: i64) -> Result<u32> {
        let result = sqlx::query(
            "DELETE FROM wa_pending_inbound WHERE session_id = $1 AND inserted_at < $2",
        )
        .bind(self.session_id)
        .bind(cutoff_timestamp)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(result.rows_affected() as u32)
    }

    async fn store_pending_inbound_batch(&self, rows: &[PendingInboundRow<'_>]) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let rows = last_per_key(rows.iter(), |r| (r.chat, r.sender, r.id));
        sqlx::query(
            "INSERT INTO wa_pending_inbound (session_id, chat, sender, id, message, inserted_at) \
             SELECT $1, chat, sender, id, message, $6 \
             FROM UNNEST($2::text[], $3::text[], $4::text[], $5::bytea[]) AS t(chat, sender, id, message) \
             ON CONFLICT (session_id, chat, sender, id) \
             DO UPDATE SET message = EXCLUDED.message, inserted_at = EXCLUDED.inserted_at",
        )
        .bind(self.session_id)
        .bind(rows.iter().map(|r| r.chat).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.sender).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.id).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.message).collect::<Vec<_>>())
        .bind(now_secs())
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn delete_pending_inbound_batch(&self, keys: &[PendingInboundKey<'_>]) -> Result<()> {
        if keys.is_empty() {
            return Ok(());
        }
        sqlx::query(
            "DELETE FROM wa_pending_inbound p USING UNNEST($2::text[], $3::text[], $4::text[]) AS k(chat, sender, id) \
             WHERE p.session_id = $1 AND p.chat = k.chat AND p.sender = k.sender AND p.id = k.id",
        )
        .bind(self.session_id)
        .bind(keys.iter().map(|k| k.chat).collect::<Vec<_>>())
        .bind(keys.iter().map(|k| k.sender).collect::<Vec<_>>())
        .bind(keys.iter().map(|k| k.id).collect::<Vec<_>>())
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }
}

#[async_trait]
impl MsgSecretStore for PgBackend {
    async fn put_msg_secret(
        &self,
        chat: &str,
        sender: &str,
        msg_id: &str,
        secret: &[u8; 32],
    ) -> Result<()> {
        self.put_msg_secrets(vec![MsgSecretEntry {
            chat: chat.into(),
            sender: sender.into(),
            msg_id: msg_id.into(),
            secret: *secret,
            expires_at: 0,
            message_ts: 0,
        }])
        .await
        .map(drop)
    }

    async fn put_msg_secrets(&self, entries: Vec<MsgSecretEntry>) -> Result<usize> {
        let written = entries.len();
        if written == 0 {
            return Ok(0);
        }
        // A key repeated in the batch folds with the same rules the upsert
        // applies against the stored row.
        let entries = merge_per_key(
            entries,
            |e| (e.chat.clone(), e.sender.clone(), e.msg_id.clone()),
            |old, new| MsgSecretEntry {
                expires_at: merge_msg_secret_expiry(old.expires_at, new.expires_at),
                message_ts: merge_msg_secret_message_ts(old.message_ts, new.message_ts),
                ..new
            },
        );
        let now = now_secs();
        let mut tx = self.pool.begin().await.map_err(db)?;
        for chunk in entries.chunks(MSG_SECRET_CHUNK) {
            sqlx::query(
                "INSERT INTO wa_msg_secrets AS s (session_id, chat, sender, msg_id, secret, created_at, expires_at, message_ts) \
                 SELECT $1, chat, sender, msg_id, secret, $2, expires_at, message_ts \
                 FROM UNNEST($3::text[], $4::text[], $5::text[], $6::bytea[], $7::bigint[], $8::bigint[]) \
                   AS t(chat, sender, msg_id, secret, expires_at, message_ts) \
                 ON CONFLICT (session_id, chat, sender, msg_id) DO UPDATE SET secret = EXCLUDED.secret, \
                 created_at = EXCLUDED.created_at, \
                 expires_at = CASE WHEN s.expires_at = 0 OR EXCLUDED.expires_at = 0 THEN 0 \
                                   ELSE GREATEST(s.expires_at, EXCLUDED.expires_at) END, \
                 message_ts = GREATEST(s.message_ts, EXCLUDED.message_ts)",
            )
            .bind(self.session_id)
            .bind(now)
            .bind(chunk.iter().map(|e| &*e.chat).collect::<Vec<_>>())
            .bind(chunk.iter().map(|e| &*e.sender).collect::<Vec<_>>())
            .bind(chunk.iter().map(|e| &*e.msg_id).collect::<Vec<_>>())
            .bind(chunk.iter().map(|e| &e.secret[..]).collect::<Vec<_>>())
            .bind(chunk.iter().map(|e| e.expires_at).collect::<Vec<_>>())
            .bind(chunk.iter().map(|e| e.message_ts).collect::<Vec<_>>())
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        }
        tx.commit().await.map_err(db)?;
        Ok(written)
    }

    async fn get_msg_secret(
        &self,
        chat: &str,
        sender: &str,
        msg_id: &str,
    ) -> Result<Option<Vec<u8>>> {
        Ok(self
            .get_msg_secret_with_ts(chat, sender, msg_id)
            .await?
            .map(|(secret, _)| secret))
    }

    async fn get_msg_secret_with_ts(
        &self,
        chat: &str,
        sender: &str,
        msg_id: &str,
    ) -> Result<Option<(Vec<u8>, i64)>> {
        sqlx::query_as(
            "SELECT secret, message_ts FROM wa_msg_secrets \
             WHERE session_id = $1 AND chat = $2 AND sender = $3 AND msg_id = $4",
        )
        .bind(self.session_id)
        .bind(chat)
        .bind(sender)
        .bind(msg_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)
    }

    async fn delete_expired_msg_secrets(&self, cutoff_timestamp: i64) -> Result<u32> {
        let result = sqlx::query(
            "DELETE FROM wa_msg_secrets WHERE session_id = $1 AND expires_at <> 0 AND expires_at <= $2",
        )
        .bind(self.session_id)
        .bind(cutoff_timestamp)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(result.rows_affected() as u32)
    }
}
