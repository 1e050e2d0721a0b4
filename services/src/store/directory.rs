//! SQL for what a session knows of its contacts, LID mappings and groups.

use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use super::{FilterValue, Store, flag, now_ms, query};
use crate::error::Result;
use crate::session::model::SessionId;

/// A stored contact.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContactRow {
    /// Phone-number JID when known, else the LID.
    pub jid: String,
    /// E.164 with `+`, or empty.
    pub phone_number: String,
    pub lid: String,
    pub full_name: String,
    pub first_name: String,
    pub push_name: String,
    pub verified_name: String,
    pub picture_uri: String,
    pub about: String,
    pub business: bool,
    pub blocked: bool,
    pub in_address_book: bool,
    pub create_time: i64,
    pub update_time: i64,
}

/// What is learned about a contact: `None` leaves a field as stored.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContactPatch {
    /// E.164 with `+`.
    pub phone_number: Option<String>,
    pub lid: Option<String>,
    pub full_name: Option<String>,
    pub first_name: Option<String>,
    pub push_name: Option<String>,
    pub verified_name: Option<String>,
    pub picture_uri: Option<String>,
    pub about: Option<String>,
    pub business: Option<bool>,
    pub blocked: Option<bool>,
    pub in_address_book: Option<bool>,
}

impl ContactPatch {
    /// The JID the contact is stored under: phone-number JID when known.
    fn jid(&self) -> Option<String> {
        match (&self.phone_number, &self.lid) {
            (Some(phone), _) if !phone.is_empty() => {
                Some(format!("{}@s.whatsapp.net", phone.trim_start_matches('+')))
            }
            (_, Some(lid)) if !lid.is_empty() => Some(lid.clone()),
            _ => None,
        }
    }

    fn apply(&self, row: &mut ContactRow) {
        let text = |field: &mut String, value: &Option<String>| {
            if let Some(value) = value
                && !value.is_empty()
            {
                value.clone_into(field);
            }
        };
        text(&mut row.phone_number, &self.phone_number);
        text(&mut row.lid, &self.lid);
        // Names and pictures may be cleared, identifiers may not.
        let clearable = |field: &mut String, value: &Option<String>| {
            if let Some(value) = value {
                value.clone_into(field);
            }
        };
        clearable(&mut row.full_name, &self.full_name);
        clearable(&mut row.first_name, &self.first_name);
        text(&mut row.push_name, &self.push_name);
        text(&mut row.verified_name, &self.verified_name);
        clearable(&mut row.picture_uri, &self.picture_uri);
        clearable(&mut row.about, &self.about);
        let boolean = |field: &mut bool, value: Option<bool>| {
            if let Some(value) = value {
                *field = value;
            }
        };
        boolean(&mut row.business, self.business);
        boolean(&mut row.blocked, self.blocked);
        boolean(&mut row.in_address_book, self.in_address_book);
    }
}

/// A contact after a change: what it was (if known) and what it is.
pub struct ContactChange {
    pub before: Option<ContactRow>,
    pub after: ContactRow,
}

impl ContactChange {
    pub fn changed(&self) -> bool {
        self.before.as_ref().is_none_or(|before| {
            let mut before = before.clone();
            before.update_time = self.after.update_time;
            before != self.after
        })
    }
}

/// A cached group: its encoded `wagate.v1.Group`.
pub struct GroupRow {
    pub jid: String,
    pub metadata: Vec<u8>,
    pub update_time: i64,
}

const CONTACT_COLUMNS: &str = "jid, phone_number, lid, full_name, first_name, push_name, verified_name, \
    picture_uri, about, business, blocked, in_address_book, create_time, update_time";

fn contact_from_row(row: &AnyRow) -> Result<ContactRow, sqlx::Error> {
    let get_flag = |name: &str| row.try_get::<i64, _>(name).map(|v| v != 0);
    Ok(ContactRow {
        jid: row.try_get("jid")?,
        phone_number: row.try_get("phone_number")?,
        lid: row.try_get("lid")?,
        full_name: row.try_get("full_name")?,
        first_name: row.try_get("first_name")?,
        push_name: row.try_get("push_name")?,
        verified_name: row.try_get("verified_name")?,
        picture_uri: row.try_get("picture_uri")?,
        about: row.try_get("about")?,
        business: get_flag("business")?,
        blocked: get_flag("blocked")?,
        in_address_book: get_flag("in_address_book")?,
        create_time: row.try_get("create_time")?,
        update_time: row.try_get("update_time")?,
    })
}

impl Store {
    /// Merges what was learned about a contact (found by phone-number JID or
    /// LID) into the store. A contact first known by LID moves to its
    /// phone-number JID once the number is learned. `None` when the patch
    /// names neither a number nor a LID.
    pub async fn merge_contact(
        &self,
        session: SessionId,
        patch: &ContactPatch,
    ) -> Result<Option<ContactChange>> {
        let mut tx = self.begin().await?;
        let change = tx.merge_contact(session, patch).await?;
        tx.commit().await?;
        Ok(change)
    }

    /// A contact by phone-number JID or LID.
    pub async fn contact(&self, session: SessionId, jid: &str) -> Result<Option<ContactRow>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {CONTACT_COLUMNS} FROM contacts WHERE session_id = $1 AND (jid = $2 OR (lid <> '' AND lid = $2)) \
             ORDER BY CASE WHEN jid = $2 THEN 0 ELSE 1 END LIMIT 1"
        )))
        .bind(session)
        .bind(jid)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|row| contact_from_row(&row)).transpose()?)
    }

    /// A page of contacts ordered by JID, after `after_jid`, matching
    /// `conditions` (SQL with `?` per value); and how many match in all.
    pub async fn list_contacts(
        &self,
        session: SessionId,
        conditions: &[String],
        values: &[FilterValue],
        after_jid: Option<&str>,
        limit: i64,
    ) -> Result<(Vec<ContactRow>, i64)> {
        let mut all_conditions = vec!["session_id = ?".to_owned()];
        all_conditions.extend(conditions.iter().cloned());
        let mut all_values = vec![FilterValue::Int(session)];
        all_values.extend(values.iter().cloned());
        let filter = query::where_clause(&all_conditions);
        let total: i64 = query::bind_values(
            format!("SELECT COUNT(*) AS n FROM contacts {filter}"),
            &all_values,
        )
        .fetch_one(&self.pool)
        .await?
        .try_get("n")?;
        if let Some(after) = after_jid {
            all_conditions.push("jid > ?".to_owned());
            all_values.push(FilterValue::Text(after.to_owned()));
        }
        let sql = format!(
            "SELECT {CONTACT_COLUMNS} FROM contacts {} ORDER BY jid LIMIT {limit}",
            query::where_clause(&all_conditions)
        );
        let rows = query::bind_values(sql, &all_values)
            .fetch_all(&self.pool)
            .await?;
        let contacts = rows
            .iter()
            .map(contact_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        Ok((contacts, total))
    }

    /// Records that `lid` stands for `phone_number` (E.164 with `+`).
    pub async fn put_lid_mapping(
        &self,
        session: SessionId,
        lid: &str,
        phone_number: &str,
    ) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        put_lid_mapping(&mut tx, session, lid, phone_number, now_ms()).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The LID of a phone number (E.164 with `+`), if known.
    pub async fn lid_for_phone(
        &self,
        session: SessionId,
        phone_number: &str,
    ) -> Result<Option<String>> {
        Ok(sqlx::query_scalar(
            "SELECT lid FROM lid_mappings WHERE session_id = $1 AND phone_number = $2 \
             ORDER BY update_time DESC LIMIT 1",
        )
        .bind(session)
        .bind(phone_number)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// The phone number (E.164 with `+`) behind a LID, if known.
    pub async fn phone_for_lid(&self, session: SessionId, lid: &str) -> Result<Option<String>> {
        Ok(sqlx::query_scalar(
            "SELECT phone_number FROM lid_mappings WHERE session_id = $1 AND lid = $2",
        )
        .bind(session)
        .bind(lid)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Caches a group's metadata (encoded `wagate.v1.Group`).
    pub async fn put_group(
        &self,
        session: SessionId,
        jid: &str,
        metadata: &[u8],
        request_id: Option<&str>,
    ) -> Result<()> {
        let mut conn = self.writer.acquire().await?;
        put_group(&mut conn, session, jid, metadata, request_id).await
    }

    /// A cached group by JID.
    pub async fn group(&self, session: SessionId, jid: &str) -> Result<Option<GroupRow>> {
        let mut conn = self.pool.acquire().await?;
        group(&mut conn, session, jid).await
    }

    /// The group CreateGroup made with this idempotency key, if any.
    pub async fn group_by_request(
        &self,
        session: SessionId,
        request_id: &str,
    ) -> Result<Option<GroupRow>> {
        let row = sqlx::query(
            "SELECT jid, metadata, update_time FROM group_cache WHERE session_id = $1 AND request_id = $2",
        )
        .bind(session)
        .bind(request_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|row| group_from_row(&row)).transpose()?)
    }

    /// A page of cached groups ordered by JID, after `after_jid`; and the total.
    pub async fn list_groups(
        &self,
        session: SessionId,
        after_jid: Option<&str>,
        limit: i64,
    ) -> Result<(Vec<GroupRow>, i64)> {
        let total: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM group_cache WHERE session_id = $1")
                .bind(session)
                .fetch_one(&self.pool)
                .await?;
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT jid, metadata, update_time FROM group_cache WHERE session_id = $1 AND jid > $2 \
             ORDER BY jid LIMIT {limit}"
        )))
        .bind(session)
        .bind(after_jid.unwrap_or(""))
        .fetch_all(&self.pool)
        .await?;
        let groups = rows
            .iter()
            .map(group_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        Ok((groups, total))
    }

    /// Forgets what the session knew of its account's contacts, LIDs, groups
    /// and chats (the device was logged out; another account may link next).
    pub async fn forget_directory(&self, session: SessionId) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        for table in ["contacts", "lid_mappings", "group_cache", "chats"] {
            sqlx::query(AssertSqlSafe(format!(
                "DELETE FROM {table} WHERE session_id = $1"
            )))
            .bind(session)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Forgets a group the account left or was removed from.
    pub async fn delete_group(&self, session: SessionId, jid: &str) -> Result<()> {
        let mut conn = self.writer.acquire().await?;
        delete_group(&mut conn, session, jid).await
    }

    /// Replaces the cached groups with the account's current ones (sync at
    /// connect): groups no longer joined are dropped.
    pub async fn replace_groups(
        &self,
        session: SessionId,
        groups: &[(String, Vec<u8>)],
    ) -> Result<()> {
        let now = now_ms();
        let mut tx = self.writer.begin().await?;
        let cached: Vec<String> =
            sqlx::query_scalar("SELECT jid FROM group_cache WHERE session_id = $1")
                .bind(session)
                .fetch_all(&mut *tx)
                .await?;
        for jid in cached
            .iter()
            .filter(|jid| !groups.iter().any(|(j, _)| j == *jid))
        {
            sqlx::query("DELETE FROM group_cache WHERE session_id = $1 AND jid = $2")
                .bind(session)
                .bind(jid)
                .execute(&mut *tx)
                .await?;
        }
        for (jid, metadata) in groups {
            sqlx::query(
                "INSERT INTO group_cache (session_id, jid, metadata, update_time) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (session_id, jid) DO UPDATE SET metadata = excluded.metadata, \
                 update_time = excluded.update_time",
            )
            .bind(session)
            .bind(jid)
            .bind(metadata.as_slice())
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

fn group_from_row(row: &AnyRow) -> Result<GroupRow, sqlx::Error> {
    Ok(GroupRow {
        jid: row.try_get("jid")?,
        metadata: row.try_get("metadata")?,
        update_time: row.try_get("update_time")?,
    })
}

async fn put_lid_mapping(
    tx: &mut sqlx::AnyConnection,
    session: SessionId,
    lid: &str,
    phone_number: &str,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO lid_mappings (session_id, lid, phone_number, update_time) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (session_id, lid) DO UPDATE SET phone_number = excluded.phone_number, \
         update_time = excluded.update_time",
    )
    .bind(session)
    .bind(lid)
    .bind(phone_number)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// See [`Store::merge_contact`].
pub(super) async fn merge_contact(
    tx: &mut sqlx::AnyConnection,
    session: SessionId,
    patch: &ContactPatch,
) -> Result<Option<ContactChange>> {
    let Some(jid) = patch.jid() else {
        return Ok(None);
    };
    let lid = patch.lid.clone().unwrap_or_default();
    let now = now_ms();
    let existing = sqlx::query(AssertSqlSafe(format!(
        "SELECT {CONTACT_COLUMNS} FROM contacts WHERE session_id = $1 AND (jid = $2 OR (lid <> '' AND lid = $3)) \
         ORDER BY CASE WHEN jid = $2 THEN 0 ELSE 1 END LIMIT 1"
    )))
    .bind(session)
    .bind(&jid)
    .bind(&lid)
    .fetch_optional(&mut *tx)
    .await?
    .map(|row| contact_from_row(&row))
    .transpose()?;
    let mut after = existing.clone().unwrap_or(ContactRow {
        jid: jid.clone(),
        create_time: now,
        ..Default::default()
    });
    patch.apply(&mut after);
    after.jid = if after.phone_number.is_empty() {
        after.jid
    } else {
        jid.clone()
    };
    after.update_time = now;
    if let Some(before) = &existing
        && before.jid != after.jid
    {
        sqlx::query("DELETE FROM contacts WHERE session_id = $1 AND jid = $2")
            .bind(session)
            .bind(&before.jid)
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query(
        "INSERT INTO contacts (session_id, jid, phone_number, lid, full_name, first_name, push_name, \
         verified_name, picture_uri, about, business, blocked, in_address_book, create_time, update_time) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) \
         ON CONFLICT (session_id, jid) DO UPDATE SET phone_number = excluded.phone_number, lid = excluded.lid, \
         full_name = excluded.full_name, first_name = excluded.first_name, push_name = excluded.push_name, \
         verified_name = excluded.verified_name, picture_uri = excluded.picture_uri, about = excluded.about, \
         business = excluded.business, blocked = excluded.blocked, in_address_book = excluded.in_address_book, \
         update_time = excluded.update_time",
    )
    .bind(session)
    .bind(&after.jid)
    .bind(&after.phone_number)
    .bind(&after.lid)
    .bind(&after.full_name)
    .bind(&after.first_name)
    .bind(&after.push_name)
    .bind(&after.verified_name)
    .bind(&after.picture_uri)
    .bind(&after.about)
    .bind(flag(after.business))
    .bind(flag(after.blocked))
    .bind(flag(after.in_address_book))
    .bind(after.create_time)
    .bind(after.update_time)
    .execute(&mut *tx)
    .await?;
    if !after.lid.is_empty() && !after.phone_number.is_empty() {
        put_lid_mapping(tx, session, &after.lid, &after.phone_number, now).await?;
    }
    Ok(Some(ContactChange {
        before: existing,
        after,
    }))
}

/// See [`Store::put_group`].
pub(super) async fn put_group(
    tx: &mut sqlx::AnyConnection,
    session: SessionId,
    jid: &str,
    metadata: &[u8],
    request_id: Option<&str>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO group_cache (session_id, jid, metadata, request_id, update_time) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (session_id, jid) DO UPDATE SET metadata = excluded.metadata, \
         request_id = COALESCE(group_cache.request_id, excluded.request_id), update_time = excluded.update_time",
    )
    .bind(session)
    .bind(jid)
    .bind(metadata)
    .bind(request_id)
    .bind(now_ms())
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// See [`Store::group`].
pub(super) async fn group(
    conn: &mut sqlx::AnyConnection,
    session: SessionId,
    jid: &str,
) -> Result<Option<GroupRow>> {
    let row = sqlx::query(
        "SELECT jid, metadata, update_time FROM group_cache WHERE session_id = $1 AND jid = $2",
    )
    .bind(session)
    .bind(jid)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(|row| group_from_row(&row)).transpose()?)
}

/// See [`Store::delete_group`].
pub(super) async fn delete_group(
    conn: &mut sqlx::AnyConnection,
    session: SessionId,
    jid: &str,
) -> Result<()> {
    sqlx::query("DELETE FROM group_cache WHERE session_id = $1 AND jid = $2")
        .bind(session)
        .bind(jid)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
