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
        .execute(&self.pool)
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
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn delete_sim_device(&self, device_jid: &str) -> Result<()> {
        sqlx::query("DELETE FROM sim_devices WHERE device_jid = $1")
            .bind(device_jid)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
