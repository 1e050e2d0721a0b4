//! Recording what engines report about contacts and groups: the session's
//! contact store and group cache follow the events, then the events are
//! drafted for the log (and webhooks).

use prost::Message as _;
use wagate_proto::v1 as pb;

use crate::engine::{Connection, DirectoryEvent, ParticipantChange};
use crate::error::Result;
use crate::event::record::{self, EventDraft};
use crate::group::service::{apply_participant_change, apply_update, decode, named};
use crate::session::model::SessionId;
use crate::store::{ContactPatch, Store, StoreTx};

/// Records one directory event of a session in `tx`; returns the events to
/// log (the caller commits them with it). `store` is for reads outside it.
pub async fn record(
    store: &Store,
    tx: &mut StoreTx,
    session: SessionId,
    event: DirectoryEvent,
) -> Result<Vec<EventDraft>> {
    let draft = match event {
        DirectoryEvent::Contacts {
            contacts,
            update_mask,
        } => {
            let mut named = Vec::with_capacity(contacts.len());
            for mut contact in contacts {
                let change = tx
                    .merge_contact(session, &contact_patch(&contact, &update_mask))
                    .await?;
                if let Some(change) = change {
                    change.after.jid.clone_into(&mut contact.jid);
                }
                contact.name = format!("sessions/{session}/contacts/{}", contact.jid);
                named.push(contact);
            }
            record::contacts(named, update_mask)
        }
        DirectoryEvent::Groups {
            groups,
            update_mask,
            author,
        } => {
            for group in &groups {
                if update_mask.is_empty() {
                    tx.put_group(session, &group.jid, &group.encode_to_vec(), None)
                        .await?;
                } else if let Some(row) = tx.group(session, &group.jid).await? {
                    let mut cached = decode(&row)?;
                    apply_update(&mut cached, group, &update_mask);
                    tx.put_group(session, &group.jid, &cached.encode_to_vec(), None)
                        .await?;
                }
            }
            let full = update_mask.is_empty();
            let named = groups
                .into_iter()
                .map(|g| named(session, g, full))
                .collect();
            record::groups(named, update_mask, author)
        }
        DirectoryEvent::Participants {
            group,
            participants,
            change,
            author,
        } => {
            let me = store
                .get_session(session)
                .await?
                .and_then(|s| s.user)
                .map(|u| (crate::message::model::account_jid(&u.jid), u.lid))
                .unwrap_or_default();
            let self_removed = change == ParticipantChange::Remove
                && participants
                    .iter()
                    .any(|p| *p == me.0 || (!me.1.is_empty() && *p == me.1));
            if self_removed {
                tx.delete_group(session, &group).await?;
            } else if let Some(row) = tx.group(session, &group).await? {
                let mut cached = decode(&row)?;
                apply_participant_change(&mut cached, change, &participants);
                tx.put_group(session, &group, &cached.encode_to_vec(), None)
                    .await?;
            }
            record::group_participants(session, &group, participants, change, author)
        }
    };
    Ok(vec![draft])
}

/// What a reported contact tells: everything for an upsert, the masked
/// fields (and the identifiers) for an update.
fn contact_patch(contact: &pb::Contact, mask: &[String]) -> ContactPatch {
    let wanted = |field: &str| mask.is_empty() || mask.iter().any(|m| m == field);
    let text = |field: &str, value: &String| wanted(field).then(|| value.clone());
    let boolean = |field: &str, value: bool| wanted(field).then_some(value);
    let phone = if contact.phone_number.is_empty() {
        contact
            .jid
            .strip_suffix("@s.whatsapp.net")
            .map(|d| format!("+{d}"))
    } else {
        Some(format!("+{}", contact.phone_number.trim_start_matches('+')))
    };
    let lid = if contact.lid.is_empty() {
        contact.jid.ends_with("@lid").then(|| contact.jid.clone())
    } else {
        Some(contact.lid.clone())
    };
    ContactPatch {
        phone_number: phone,
        lid,
        full_name: text("full_name", &contact.full_name),
        first_name: text("first_name", &contact.first_name),
        push_name: text("push_name", &contact.push_name),
        verified_name: text("verified_name", &contact.verified_name),
        picture_uri: text("picture_uri", &contact.picture_uri),
        about: text("about", &contact.about),
        business: boolean("business", contact.business),
        blocked: boolean("blocked", contact.blocked),
        in_address_book: boolean("in_address_book", contact.in_address_book),
    }
}

/// Learns a message sender's push name and LID mapping; drafts
/// `contacts.upsert` for a new contact and `contacts.update` for a changed
/// push name.
pub async fn learn_sender(
    tx: &mut StoreTx,
    session: SessionId,
    phone_number: &str,
    lid: &str,
    push_name: &str,
) -> Result<Vec<EventDraft>> {
    let patch = ContactPatch {
        phone_number: Some(phone_number.to_owned()).filter(|p| !p.is_empty()),
        lid: Some(lid.to_owned()).filter(|l| !l.is_empty()),
        push_name: Some(push_name.to_owned()).filter(|n| !n.is_empty()),
        ..Default::default()
    };
    let Some(change) = tx.merge_contact(session, &patch).await? else {
        return Ok(Vec::new());
    };
    if !change.changed() {
        return Ok(Vec::new());
    }
    let after = &change.after;
    let contact = pb::Contact {
        name: format!("sessions/{session}/contacts/{}", after.jid),
        jid: after.jid.clone(),
        phone_number: after.phone_number.clone(),
        lid: after.lid.clone(),
        push_name: after.push_name.clone(),
        ..Default::default()
    };
    let mask = if change.before.is_some() {
        vec!["push_name".to_owned()]
    } else {
        Vec::new()
    };
    Ok(vec![record::contacts(vec![contact], mask)])
}

/// Fills the group cache with the account's groups (on connect), so
/// ListGroups and GetGroup answer without asking WhatsApp.
pub async fn sync_groups(
    store: &Store,
    session: SessionId,
    connection: &dyn Connection,
) -> Result<usize> {
    let groups = connection.joined_groups().await?;
    let encoded: Vec<(String, Vec<u8>)> = groups
        .iter()
        .map(|g| (g.jid.clone(), g.encode_to_vec()))
        .collect();
    store.replace_groups(session, &encoded).await?;
    Ok(groups.len())
}
