//! The contact domain: answers from the session's contact store where it can,
//! asks WhatsApp (through the session's connection) where it must, and keeps
//! what it learns. Risky calls count against account protection.

use std::sync::Arc;

use wagate_proto::v1 as pb;

use crate::error::{Error, Reason, Result};
use crate::filter::Conditions;
use crate::protection::{Protection, RiskyCall};
use crate::session::SessionManager;
use crate::session::model::SessionId;
use crate::store::{ContactPatch, ContactRow, Store};

/// A contact as named in a request: a phone-number JID or a LID.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContactId(pub String);

impl ContactId {
    pub fn is_lid(&self) -> bool {
        self.0.ends_with("@lid")
    }

    /// E.164 with `+`, for a phone-number JID.
    pub fn phone_number(&self) -> Option<String> {
        self.0
            .strip_suffix("@s.whatsapp.net")
            .map(|digits| format!("+{digits}"))
    }
}

/// The contact domain. Cheap to clone.
#[derive(Clone)]
pub struct Contacts {
    store: Store,
    sessions: SessionManager,
    protection: Arc<Protection>,
}

/// A page of contacts.
pub struct ContactPage {
    pub contacts: Vec<ContactRow>,
    pub last_jid: Option<String>,
    pub total: i64,
}

impl Contacts {
    pub fn new(store: Store, sessions: SessionManager, protection: Arc<Protection>) -> Self {
        Self {
            store,
            sessions,
            protection,
        }
    }

    pub async fn list(
        &self,
        session: SessionId,
        filter: &Conditions,
        after_jid: Option<&str>,
        limit: i64,
    ) -> Result<ContactPage> {
        self.sessions.get(session).await?;
        let (contacts, total) = self
            .store
            .list_contacts(
                session,
                &filter.conditions,
                &filter.values,
                after_jid,
                limit,
            )
            .await?;
        let last_jid = (contacts.len() as i64 == limit)
            .then(|| contacts.last().map(|c| c.jid.clone()))
            .flatten();
        Ok(ContactPage {
            contacts,
            last_jid,
            total,
        })
    }

    pub async fn get(&self, session: SessionId, id: &ContactId) -> Result<ContactRow> {
        self.sessions.get(session).await?;
        self.store
            .contact(session, &id.0)
            .await?
            .ok_or_else(|| unknown_contact(session, id))
    }

    /// Saves the names in the account's address book, then in the store.
    pub async fn upsert(
        &self,
        session: SessionId,
        id: &ContactId,
        full_name: Option<String>,
        first_name: Option<String>,
        save_on_primary_address_book: bool,
    ) -> Result<ContactRow> {
        let connection = self
            .sessions
            .require_connection(session, "save a contact")
            .await?;
        let current = self.store.contact(session, &id.0).await?;
        let full = full_name
            .clone()
            .or_else(|| current.as_ref().map(|c| c.full_name.clone()))
            .unwrap_or_default();
        let first = first_name
            .clone()
            .or_else(|| current.as_ref().map(|c| c.first_name.clone()))
            .unwrap_or_default();
        connection
            .save_contact(&id.0, &full, &first, save_on_primary_address_book)
            .await?;
        let patch = ContactPatch {
            full_name,
            first_name,
            in_address_book: Some(true),
            ..identity(id)
        };
        self.merge(session, &patch).await
    }

    /// A fresh profile picture URL; `None` when there is none or it is hidden.
    pub async fn picture(
        &self,
        session: SessionId,
        id: &ContactId,
        preview: bool,
    ) -> Result<Option<crate::engine::Picture>> {
        let connection = self
            .sessions
            .require_connection(session, "fetch a profile picture")
            .await?;
        self.protection.admit(session, RiskyCall::Pictures, 1)?;
        let picture = connection.profile_picture(&id.0, preview).await?;
        if !preview && self.store.contact(session, &id.0).await?.is_some() {
            let patch = ContactPatch {
                picture_uri: Some(picture.as_ref().map(|p| p.uri.clone()).unwrap_or_default()),
                ..identity(id)
            };
            self.store.merge_contact(session, &patch).await?;
        }
        Ok(picture)
    }

    pub async fn set_blocked(
        &self,
        session: SessionId,
        id: &ContactId,
        blocked: bool,
    ) -> Result<ContactRow> {
        let connection = self
            .sessions
            .require_connection(session, if blocked { "block" } else { "unblock" })
            .await?;
        connection.set_blocked(&id.0, blocked).await?;
        let patch = ContactPatch {
            blocked: Some(blocked),
            ..identity(id)
        };
        self.merge(session, &patch).await
    }

    /// Asks WhatsApp whether numbers (E.164 digits) are registered; keeps the
    /// LID mappings it learns.
    pub async fn check(
        &self,
        session: SessionId,
        digits: &[String],
    ) -> Result<Vec<pb::PhoneNumberCheck>> {
        let connection = self
            .sessions
            .require_connection(session, "check numbers")
            .await?;
        self.protection
            .admit(session, RiskyCall::NumberChecks, digits.len() as u32)?;
        let results = connection.check_numbers(digits).await?;
        for result in &results {
            if result.exists && !result.lid.is_empty() {
                let phone = format!("+{}", result.phone_number.trim_start_matches('+'));
                self.store
                    .put_lid_mapping(session, &result.lid, &phone)
                    .await?;
            }
        }
        Ok(results)
    }

    /// The LID of a phone number: from the store, else asked of WhatsApp.
    pub async fn lid_for_phone(&self, session: SessionId, digits: &str) -> Result<String> {
        self.sessions.get(session).await?;
        let phone = format!("+{digits}");
        if let Some(lid) = self.store.lid_for_phone(session, &phone).await? {
            return Ok(lid);
        }
        let result = self
            .check(session, &[digits.to_owned()])
            .await?
            .into_iter()
            .next();
        match result {
            Some(r) if r.exists && !r.lid.is_empty() => Ok(r.lid),
            Some(r) if r.exists => Err(Error::not_found(format!(
                "WhatsApp returned no LID for {phone}"
            ))),
            _ => Err(not_on_whatsapp(&phone)),
        }
    }

    /// The phone number (E.164 with `+`) behind a LID, from the store.
    pub async fn phone_for_lid(&self, session: SessionId, lid: &str) -> Result<String> {
        self.sessions.get(session).await?;
        self.store.phone_for_lid(session, lid).await?.ok_or_else(|| {
            Error::not_found(format!(
                "the phone number of {lid} is not known to sessions/{session}; it is learned from messages, \
                 contacts and number checks"
            ))
        })
    }

    async fn merge(&self, session: SessionId, patch: &ContactPatch) -> Result<ContactRow> {
        let change = self.store.merge_contact(session, patch).await?;
        change
            .map(|c| c.after)
            .ok_or_else(|| Error::internal("a contact without a JID"))
    }
}

/// The identifying fields of a patch for `id`.
fn identity(id: &ContactId) -> ContactPatch {
    if id.is_lid() {
        ContactPatch {
            lid: Some(id.0.clone()),
            ..Default::default()
        }
    } else {
        ContactPatch {
            phone_number: id.phone_number(),
            ..Default::default()
        }
    }
}

fn unknown_contact(session: SessionId, id: &ContactId) -> Error {
    Error::not_found(format!(
        "sessions/{session} knows no contact {}; contacts are learned from address-book sync, messages and \
         UpsertContact",
        id.0
    ))
}

pub fn not_on_whatsapp(phone: &str) -> Error {
    Error::precondition(Reason::NotOnWhatsapp, format!("{phone} is not on WhatsApp"))
}
