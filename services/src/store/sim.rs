//! SQL for the simulated network's durable state: registered accounts and the
//! devices linked to them (so links survive a restart, as on real WhatsApp).

use sqlx::Row;

use super::{Store, now_ms};
use crate::error::Result;

#[derive(Clone, Debug)]
pub struct SimAccountRow {
    pub phone_number: String,
    pub lid: String,
    pub push_name: String,
    pub seq: i64,
    pub create_time: i64,
}

#[derive(Clone, Debug)]
pub struct SimDeviceRow {
    pub device_jid: String,
    pub phone_number: String,
    pub secret_hash: String,
}

impl Store {
    pub async fn sim_accounts(&self) -> Result<Vec<SimAccountRow>> {
        let rows = sqlx::query(
            "SELECT phone_number, lid, push_name, seq, create_time FROM sim_accounts ORDER BY seq",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| {
                Ok::<_, sqlx::Error>(SimAccountRow {
                    phone_number: r.try_get("phone_number")?,
                    lid: r.try_get("lid")?,
                    push_name: r.try_get("push_name")?,
                    seq: r.try_get("seq")?,
                    create_time: r.try_get("create_time")?,
                })
            })
            .collect::<Result<_, _>>()?)
    }

    pub async fn insert_sim_account(&self, account: &SimAccountRow) -> Result<()> {
        sqlx::query(
            "INSERT INTO sim_accounts (phone_number, lid, push_name, seq, create_time) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&account.phone_number)
        .bind(&account.lid)
        .bind(&account.push_name)
        .bind(account.seq)
        .bind(account.create_time)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    pub async fn sim_devices(&self) -> Result<Vec<SimDeviceRow>> {
        let rows = sqlx::query(
            "SELECT device_jid, phone_number, secret_hash FROM sim_devices ORDER BY link_time",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| {
                Ok::<_, sqlx::Error>(SimDeviceRow {
                    device_jid: r.try_get("device_jid")?,
                    phone_number: r.try_get("phone_number")?,
                    secret_hash: r.try_get("secret_hash")?,
                })
            })
            .collect::<Result<_, _>>()?)
    }

    pub async fn insert_sim_device(&self, device: &SimDeviceRow) -> Result<()> {
        sqlx::query("INSERT INTO sim_devices (device_jid, phone_number, secret_hash, link_time) VALUES ($1, $2, $3, $4)")
            .bind(&device.device_jid)
            .bind(&device.phone_number)
            .bind(&device.secret_hash)
            .bind(now_ms())
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    pub async fn delete_sim_device(&self, device_jid: &str) -> Result<()> {
        sqlx::query("DELETE FROM sim_devices WHERE device_jid = $1")
            .bind(device_jid)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// Records a message the network accepted (empty `recipient_jid`) or its
    /// copy to one group member; `None` when the sender's account already
    /// recorded this id for that recipient (nothing must be delivered again).
    pub async fn insert_sim_delivery(&self, delivery: &SimDeliveryRow) -> Result<Option<i64>> {
        let row = sqlx::query(
            "INSERT INTO sim_deliveries (message_id, from_jid, to_jid, recipient_jid, summary, deliver_time) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (from_jid, message_id, recipient_jid) DO NOTHING RETURNING sequence",
        )
        .bind(&delivery.message_id)
        .bind(&delivery.from_jid)
        .bind(&delivery.to_jid)
        .bind(&delivery.recipient_jid)
        .bind(&delivery.summary)
        .bind(delivery.deliver_time)
        .fetch_optional(&self.writer)
        .await?;
        Ok(row.map(|r| r.try_get("sequence")).transpose()?)
    }

    /// The delivery of `message_id` sent by `from_jid`, if the network accepted it.
    pub async fn sim_delivery(
        &self,
        from_jid: &str,
        message_id: &str,
    ) -> Result<Option<SimDeliveryRow>> {
        let row = sqlx::query(
            "SELECT sequence, message_id, from_jid, to_jid, recipient_jid, summary, deliver_time FROM sim_deliveries \
             WHERE from_jid = $1 AND message_id = $2 AND recipient_jid = ''",
        )
        .bind(from_jid)
        .bind(message_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(delivery_row).transpose()?)
    }

    /// Who sent `message_id` to `to_jid`, directly or as a member of a group
    /// (for routing receipts back; `to_jid` of a group copy is the group).
    pub async fn sim_delivery_to(
        &self,
        to_jid: &str,
        message_id: &str,
    ) -> Result<Option<SimDeliveryRow>> {
        let row = sqlx::query(
            "SELECT sequence, message_id, from_jid, to_jid, recipient_jid, summary, deliver_time FROM sim_deliveries \
             WHERE message_id = $2 AND ((to_jid = $1 AND recipient_jid = '') OR recipient_jid = $1) \
             ORDER BY sequence LIMIT 1",
        )
        .bind(to_jid)
        .bind(message_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(delivery_row).transpose()?)
    }

    /// Deliveries in network order after `after_sequence`, optionally from one sender.
    pub async fn sim_deliveries(
        &self,
        from_jid: Option<&str>,
        after_sequence: i64,
        limit: i64,
    ) -> Result<Vec<SimDeliveryRow>> {
        let rows = sqlx::query(
            "SELECT sequence, message_id, from_jid, to_jid, recipient_jid, summary, deliver_time FROM sim_deliveries \
             WHERE sequence > $1 AND ($2 = '' OR from_jid = $2) ORDER BY sequence LIMIT $3",
        )
        .bind(after_sequence)
        .bind(from_jid.unwrap_or_default())
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(delivery_row).collect::<Result<_, _>>()?)
    }

    pub async fn push_sim_mailbox(&self, phone_number: &str, event: &[u8]) -> Result<()> {
        sqlx::query(
            "INSERT INTO sim_mailbox (phone_number, event, create_time) VALUES ($1, $2, $3)",
        )
        .bind(phone_number)
        .bind(event)
        .bind(now_ms())
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// Takes (removes and returns) the account's waiting events, oldest first.
    pub async fn take_sim_mailbox(&self, phone_number: &str) -> Result<Vec<Vec<u8>>> {
        let rows =
            sqlx::query("SELECT id, event FROM sim_mailbox WHERE phone_number = $1 ORDER BY id")
                .bind(phone_number)
                .fetch_all(&self.writer)
                .await?;
        let Some(last) = rows.last() else {
            return Ok(Vec::new());
        };
        let last: i64 = last.try_get("id")?;
        sqlx::query("DELETE FROM sim_mailbox WHERE phone_number = $1 AND id <= $2")
            .bind(phone_number)
            .bind(last)
            .execute(&self.writer)
            .await?;
        Ok(rows
            .iter()
            .map(|r| r.try_get::<Vec<u8>, _>("event"))
            .collect::<Result<_, _>>()?)
    }

    pub async fn insert_sim_media(
        &self,
        handle: &str,
        mime_type: &str,
        content: &[u8],
    ) -> Result<()> {
        sqlx::query("INSERT INTO sim_media (handle, mime_type, content, create_time) VALUES ($1, $2, $3, $4)")
            .bind(handle)
            .bind(mime_type)
            .bind(content)
            .bind(now_ms())
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    pub async fn sim_media(&self, handle: &str) -> Result<Option<(Vec<u8>, String)>> {
        let row = sqlx::query("SELECT content, mime_type FROM sim_media WHERE handle = $1")
            .bind(handle)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row
            .map(|r| Ok::<_, sqlx::Error>((r.try_get("content")?, r.try_get("mime_type")?)))
            .transpose()?)
    }
}

/// One message the simulated network accepted.
#[derive(Clone, Debug)]
pub struct SimDeliveryRow {
    pub sequence: i64,
    pub message_id: String,
    pub from_jid: String,
    pub to_jid: String,
    /// For a group message: the member this copy went to; empty for the
    /// acceptance record (and for personal chats, where `to_jid` is the
    /// recipient).
    pub recipient_jid: String,
    pub summary: String,
    pub deliver_time: i64,
}

fn delivery_row(r: &sqlx::any::AnyRow) -> Result<SimDeliveryRow, sqlx::Error> {
    Ok(SimDeliveryRow {
        sequence: r.try_get("sequence")?,
        message_id: r.try_get("message_id")?,
        from_jid: r.try_get("from_jid")?,
        to_jid: r.try_get("to_jid")?,
        recipient_jid: r.try_get("recipient_jid")?,
        summary: r.try_get("summary")?,
        deliver_time: r.try_get("deliver_time")?,
    })
}
