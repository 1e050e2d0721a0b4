//! SQL for the simulated network's contacts, groups and channels: block
//! lists, address books, groups (each stored whole, as JSON the network
//! encodes) and channel admins and followers.

use sqlx::Row;

use super::{SimAccountRow, Store, now_ms};
use crate::error::Result;

/// A name an account saved for another account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimSavedContact {
    pub phone_number: String,
    pub contact_jid: String,
    pub full_name: String,
    pub first_name: String,
}

impl Store {
    /// Every block: (blocking account's digits, blocked JID).
    pub async fn sim_blocks(&self) -> Result<Vec<(String, String)>> {
        let rows = sqlx::query("SELECT phone_number, blocked_jid FROM sim_blocks")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .iter()
            .map(|r| Ok::<_, sqlx::Error>((r.try_get("phone_number")?, r.try_get("blocked_jid")?)))
            .collect::<Result<_, _>>()?)
    }

    /// Blocks or unblocks `blocked_jid` for the account; idempotent.
    pub async fn set_sim_block(
        &self,
        phone_number: &str,
        blocked_jid: &str,
        blocked: bool,
    ) -> Result<()> {
        let query = if blocked {
            sqlx::query(
                "INSERT INTO sim_blocks (phone_number, blocked_jid, create_time) VALUES ($1, $2, $3) \
                 ON CONFLICT (phone_number, blocked_jid) DO NOTHING",
            )
            .bind(phone_number)
            .bind(blocked_jid)
            .bind(now_ms())
        } else {
            sqlx::query("DELETE FROM sim_blocks WHERE phone_number = $1 AND blocked_jid = $2")
                .bind(phone_number)
                .bind(blocked_jid)
        };
        query.execute(&self.writer).await?;
        Ok(())
    }

    /// Every saved contact of every account.
    pub async fn sim_address_book(&self) -> Result<Vec<SimSavedContact>> {
        let rows = sqlx::query(
            "SELECT phone_number, contact_jid, full_name, first_name FROM sim_address_book",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| {
                Ok::<_, sqlx::Error>(SimSavedContact {
                    phone_number: r.try_get("phone_number")?,
                    contact_jid: r.try_get("contact_jid")?,
                    full_name: r.try_get("full_name")?,
                    first_name: r.try_get("first_name")?,
                })
            })
            .collect::<Result<_, _>>()?)
    }

    /// Saves (or renames) a contact in the account's address book.
    pub async fn save_sim_contact(&self, contact: &SimSavedContact) -> Result<()> {
        sqlx::query(
            "INSERT INTO sim_address_book (phone_number, contact_jid, full_name, first_name, update_time) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (phone_number, contact_jid) \
             DO UPDATE SET full_name = excluded.full_name, first_name = excluded.first_name, \
             update_time = excluded.update_time",
        )
        .bind(&contact.phone_number)
        .bind(&contact.contact_jid)
        .bind(&contact.full_name)
        .bind(&contact.first_name)
        .bind(now_ms())
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// Every group: (JID, encoded state).
    pub async fn sim_groups(&self) -> Result<Vec<(String, String)>> {
        let rows = sqlx::query("SELECT jid, state FROM sim_groups")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .iter()
            .map(|r| Ok::<_, sqlx::Error>((r.try_get("jid")?, r.try_get("state")?)))
            .collect::<Result<_, _>>()?)
    }

    /// Creates or replaces a group's stored state.
    pub async fn put_sim_group(&self, jid: &str, state: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO sim_groups (jid, state, update_time) VALUES ($1, $2, $3) \
             ON CONFLICT (jid) DO UPDATE SET state = excluded.state, update_time = excluded.update_time",
        )
        .bind(jid)
        .bind(state)
        .bind(now_ms())
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// Every account's ties to channels (newsletters): (channel JID, the
    /// account's digits, whether it administers the channel rather than
    /// follows it).
    pub async fn sim_channel_members(&self) -> Result<Vec<(String, String, bool)>> {
        let rows = sqlx::query(
            "SELECT channel_jid, phone_number, role FROM sim_channel_members \
             ORDER BY channel_jid, phone_number, role",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| {
                Ok::<_, sqlx::Error>((
                    r.try_get("channel_jid")?,
                    r.try_get("phone_number")?,
                    r.try_get::<String, _>("role")? == "admin",
                ))
            })
            .collect::<Result<_, _>>()?)
    }

    /// Registers an account with the channels (JIDs) it administers and
    /// follows, all or nothing.
    pub async fn insert_sim_account_with_channels(
        &self,
        account: &SimAccountRow,
        admin_of: &[String],
        follows: &[String],
    ) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        sqlx::query(
            "INSERT INTO sim_accounts (phone_number, lid, push_name, seq, create_time) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&account.phone_number)
        .bind(&account.lid)
        .bind(&account.push_name)
        .bind(account.seq)
        .bind(account.create_time)
        .execute(&mut *tx)
        .await?;
        let ties = admin_of
            .iter()
            .map(|jid| (jid, "admin"))
            .chain(follows.iter().map(|jid| (jid, "follower")));
        for (channel_jid, role) in ties {
            sqlx::query(
                "INSERT INTO sim_channel_members (channel_jid, phone_number, role, create_time) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (channel_jid, phone_number, role) DO NOTHING",
            )
            .bind(channel_jid)
            .bind(&account.phone_number)
            .bind(role)
            .bind(account.create_time)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
