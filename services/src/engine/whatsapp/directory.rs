//! Contacts through whatsapp-rust: number checks, profile pictures, blocking,
//! address-book saves, and the contact events the library reports. The
//! mappings from library values to ours are pure functions (tested in
//! `directory_tests.rs`); the async functions at the end talk to the client.
//! Shared by [`super::groups`]: JID helpers, the account's identity and the
//! classification of library errors for directory operations.

use std::error::Error as StdError;

use wagate_proto::v1 as pb;
use whatsapp_rust::features::{AppStateError, BlockingError, ContactError};
use whatsapp_rust::types::events::{
    BusinessStatusUpdate, BusinessUpdateType, ContactUpdate, PictureUpdate, PushNameUpdate,
    UserAboutUpdate,
};
use whatsapp_rust::wacore::iq::usync::IsOnWhatsAppResult;
use whatsapp_rust::wacore_binary::{JidExt, NodeRef};
use whatsapp_rust::{Client, ErrorChainExt, IqError, Jid};

use super::messaging::errors::{classify as classify_send, not_on_whatsapp, refusal};
use crate::engine::{DirectoryEvent, Picture, not_connected};
use crate::error::{Code, Error, Reason, Result};
use crate::session::model::LinkedUser;

// ---------------------------------------------------------------------------
// JIDs

/// A user JID as our API shows it: without device suffix.
pub fn user_jid(jid: &Jid) -> String {
    jid.to_non_ad().to_string()
}

/// `+digits` for a phone-number JID, empty otherwise.
pub fn phone_of(jid: &Jid) -> String {
    if jid.is_pn() {
        format!("+{}", jid.user)
    } else {
        String::new()
    }
}

/// The phone number and LID known for a user, from the JID an event or
/// result names it by and, when given, its counterpart (a LID for a phone
/// JID or the other way round).
pub fn identity(jid: &Jid, alt: Option<&Jid>) -> (String, String) {
    let mut phone = String::new();
    let mut lid = String::new();
    for candidate in std::iter::once(jid).chain(alt) {
        if candidate.is_pn() && phone.is_empty() {
            phone = phone_of(candidate);
        } else if candidate.is_lid() && lid.is_empty() {
            lid = user_jid(candidate);
        }
    }
    (phone, lid)
}

/// A contact with only its identifying fields set: `jid` is the phone JID
/// when known, else the LID (as the contact API names contacts).
pub fn contact_identity(jid: &Jid, alt: Option<&Jid>) -> pb::Contact {
    let (phone_number, lid) = identity(jid, alt);
    let jid = match (jid.is_pn(), alt.filter(|a| a.is_pn())) {
        (false, Some(pn)) => user_jid(pn),
        _ => user_jid(jid),
    };
    pb::Contact {
        jid,
        phone_number,
        lid,
        ..Default::default()
    }
}

/// A user JID or LID from our API (`<digits>@s.whatsapp.net`, `<id>@lid`).
pub fn parse_user(jid: &str) -> Result<Jid> {
    let parsed: Jid = jid
        .parse()
        .map_err(|e| not_on_whatsapp(format!("{jid:?} is not a WhatsApp address: {e}")))?;
    if !(parsed.is_pn() || parsed.is_lid()) {
        return Err(Error::invalid_field(
            "jid",
            format!("{jid:?} is not a user JID (<digits>@s.whatsapp.net or <id>@lid)"),
        ));
    }
    Ok(parsed.to_non_ad())
}

/// A group JID from our API (`<id>@g.us`).
pub fn parse_group(jid: &str) -> Result<Jid> {
    let parsed: Jid = jid
        .parse()
        .map_err(|e| Error::invalid_field("group", format!("{jid:?} is not a group JID: {e}")))?;
    if !parsed.is_group() {
        return Err(Error::invalid_field(
            "group",
            format!("{jid:?} is not a group JID (<id>@g.us)"),
        ));
    }
    Ok(parsed)
}

/// The linked account, to recognise it among group participants.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Me {
    /// The account's phone number digits.
    pub phone_user: Option<String>,
    /// The account's LID user part.
    pub lid_user: Option<String>,
}

impl Me {
    pub fn from_jids(pn: Option<&Jid>, lid: Option<&Jid>) -> Self {
        Me {
            phone_user: pn.map(|j| j.user.to_string()),
            lid_user: lid.map(|j| j.user.to_string()),
        }
    }

    pub fn from_linked(user: &LinkedUser) -> Self {
        let user_of = |jid: &str| {
            jid.parse::<Jid>()
                .ok()
                .map(|j| j.user.to_string())
                .filter(|u| !u.is_empty())
        };
        Me {
            phone_user: user_of(&user.jid),
            lid_user: user_of(&user.lid),
        }
    }

    pub fn of(client: &Client) -> Self {
        Me::from_jids(client.pn().as_ref(), client.lid().as_ref())
    }

    /// Whether `jid` (phone JID or LID, any device) is the account.
    pub fn is(&self, jid: &Jid) -> bool {
        let user = jid.user.as_str();
        (jid.is_pn() && self.phone_user.as_deref() == Some(user))
            || (jid.is_lid() && self.lid_user.as_deref() == Some(user))
    }
}

// ---------------------------------------------------------------------------
// Errors

/// What a directory operation acts on, to read WhatsApp's refusals right.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// A user: a 404 means the user is not on WhatsApp.
    Contact,
    /// Reading a group: a 404 means no such group (or not a member).
    GroupRead,
    /// Changing a group: 401/403 mean the account is not an admin.
    GroupAdmin,
    /// An invite code: 404/410 mean the code is unknown or was reset.
    Invite,
    /// Creating a group: WhatsApp's refusals as they are.
    Create,
}

/// Classifies a library failure of the directory operation `what`.
pub fn classify(what: &str, target: Target, error: &(dyn StdError + 'static)) -> Error {
    if ErrorChainExt::sources(error)
        .any(|cause| matches!(cause.downcast_ref::<IqError>(), Some(IqError::NotConnected)))
    {
        return not_connected(what);
    }
    if let Some(rejection) = error.server_rejection() {
        let code = rejection.code;
        let text = if rejection.text.is_empty() {
            error.to_string()
        } else {
            rejection.text.to_owned()
        };
        let mapped = match (target, code) {
            (Target::GroupAdmin, 401 | 403) => Some(Error::new(
                Code::PermissionDenied,
                Reason::NotGroupAdmin,
                format!("cannot {what}: the account is not an admin of the group ({code} {text})"),
            )),
            (Target::GroupRead | Target::GroupAdmin, 404) => Some(Error::not_found(format!(
                "cannot {what}: WhatsApp knows no such group, or the account is not a member \
                 ({code} {text})"
            ))),
            (Target::GroupRead, 401 | 403) => Some(Error::whatsapp(
                Code::FailedPrecondition,
                format!("cannot {what}: the account is not a member of the group ({code} {text})"),
            )),
            (Target::Invite, 404 | 410) => Some(Error::not_found(format!(
                "cannot {what}: the invite code is unknown or was reset ({code} {text})"
            ))),
            (Target::Invite, 304 | 409) => Some(Error::already_exists(format!(
                "cannot {what}: the account is already a member of the group ({code} {text})"
            ))),
            _ => None,
        };
        return match mapped {
            Some(error) => error.with_metadata("whatsapp_reason", code.to_string()),
            None => refusal(what, &code.to_string(), &text),
        };
    }
    if let Some(message) = invalid_request(error) {
        let field = match target {
            Target::Contact => "jid",
            Target::Invite => "invite_code",
            Target::GroupRead | Target::GroupAdmin | Target::Create => "group",
        };
        return Error::invalid_field(field, format!("cannot {what}: {message}"));
    }
    classify_send(what, error)
}

/// Requests the library refused before asking WhatsApp.
fn invalid_request(error: &(dyn StdError + 'static)) -> Option<String> {
    ErrorChainExt::sources(error).find_map(|cause| {
        if let Some(whatsapp_rust::features::GroupError::InvalidRequest(message)) =
            cause.downcast_ref()
        {
            return Some(message.clone());
        }
        if let Some(ContactError::InvalidJid(message)) = cause.downcast_ref() {
            return Some(message.clone());
        }
        if let Some(AppStateError::InvalidRequest(message)) = cause.downcast_ref() {
            return Some(message.clone());
        }
        None
    })
}

/// Blocking needs the LID <-> phone mapping of the user; without one the
/// library refuses, which in practice means the number is not on WhatsApp
/// (or never seen by this account).
pub fn classify_blocking(what: &str, error: &BlockingError) -> Error {
    match error {
        BlockingError::InvalidJid(message) => Error::new(
            Code::FailedPrecondition,
            Reason::NotOnWhatsapp,
            format!(
                "cannot {what}: {message} (check the number with CheckOnWhatsApp first; it may \
                 not be on WhatsApp)"
            ),
        ),
        other => classify(what, Target::Contact, other),
    }
}

fn require_connection(client: &Client, what: &str) -> Result<()> {
    if client.is_connected() {
        Ok(())
    } else {
        Err(not_connected(what))
    }
}

pub(super) fn connected(client: &Client, what: &str) -> Result<()> {
    require_connection(client, what)
}

// ---------------------------------------------------------------------------
// Library values -> ours

/// One result per number asked, in order; numbers the server left out of
/// its answer do not exist.
pub fn number_checks(
    digits: &[String],
    results: &[IsOnWhatsAppResult],
) -> Vec<pb::PhoneNumberCheck> {
    digits
        .iter()
        .map(|number| {
            let found = results.iter().find(|r| {
                (r.jid.is_pn() && r.jid.user == number.as_str())
                    || r.pn_jid
                        .as_ref()
                        .is_some_and(|pn| pn.user == number.as_str())
            });
            match found {
                Some(r) if r.is_registered && r.contact_error.is_none() => {
                    let pn = if r.jid.is_pn() {
                        Some(r.jid.clone())
                    } else {
                        r.pn_jid.clone()
                    };
                    let lid = if r.jid.is_lid() {
                        Some(r.jid.clone())
                    } else {
                        r.lid.clone()
                    };
                    pb::PhoneNumberCheck {
                        phone_number: number.clone(),
                        exists: true,
                        jid: pn
                            .map(|j| user_jid(&j))
                            .unwrap_or_else(|| user_jid(&Jid::pn(number.as_str()))),
                        lid: lid.map(|j| user_jid(&j)).unwrap_or_default(),
                        business: r.is_business,
                    }
                }
                _ => pb::PhoneNumberCheck {
                    phone_number: number.clone(),
                    ..Default::default()
                },
            }
        })
        .collect()
}

pub fn picture(picture: Option<whatsapp_rust::features::ProfilePicture>) -> Option<Picture> {
    picture.filter(|p| !p.url.is_empty()).map(|p| Picture {
        uri: p.url,
        id: p.id,
    })
}

fn contacts_update(contacts: Vec<pb::Contact>, fields: &[&str]) -> DirectoryEvent {
    DirectoryEvent::Contacts {
        contacts,
        update_mask: fields.iter().map(|f| (*f).to_owned()).collect(),
    }
}

/// A contact's new push name (seen on an incoming message).
pub fn push_name_event(update: &PushNameUpdate) -> DirectoryEvent {
    let alt = update.message.source.sender_alt.as_ref();
    let mut contact = contact_identity(&update.jid, alt);
    contact.push_name = update.new_push_name.clone();
    contacts_update(vec![contact], &["push_name"])
}

/// An address-book entry synced from the account's app state (the phone
/// saved or renamed a contact).
pub fn contact_action_event(update: &ContactUpdate) -> DirectoryEvent {
    let action = &update.action;
    let alt = [action.pn_jid.as_deref(), action.lid_jid.as_deref()]
        .into_iter()
        .flatten()
        .filter_map(|j| j.parse::<Jid>().ok())
        .find(|j| j.is_pn() != update.jid.is_pn());
    let mut contact = contact_identity(&update.jid, alt.as_ref());
    contact.full_name = action.full_name.clone().unwrap_or_default();
    contact.first_name = action.first_name.clone().unwrap_or_default();
    contact.in_address_book = true;
    contacts_update(
        vec![contact],
        &["full_name", "first_name", "in_address_book"],
    )
}

pub fn about_event(update: &UserAboutUpdate) -> DirectoryEvent {
    let mut contact = contact_identity(&update.jid, None);
    contact.about = update.status.clone();
    contacts_update(vec![contact], &["about"])
}

/// A user's picture changed. The notification carries only the picture's
/// id, not its URL: the last seen URL is cleared (GetContactPicture fetches
/// the new one).
pub fn contact_picture_event(update: &PictureUpdate) -> DirectoryEvent {
    contacts_update(vec![contact_identity(&update.jid, None)], &["picture_uri"])
}

pub fn business_event(update: &BusinessStatusUpdate) -> Option<DirectoryEvent> {
    let mut contact = contact_identity(&update.jid, None);
    match update.update_type {
        BusinessUpdateType::VerifiedNameChanged => {
            contact.verified_name = update.verified_name.clone().unwrap_or_default();
            contact.business = true;
        }
        BusinessUpdateType::RemovedAsBusiness => {}
        _ => return None,
    }
    Some(contacts_update(
        vec![contact],
        &["verified_name", "business"],
    ))
}

/// A `<notification type="blocklist">` (another device of the account
/// blocked or unblocked someone): `<item jid=".." action="block|unblock"/>`
/// children. The library passes these on undecoded.
pub fn blocklist_event(node: &NodeRef<'_>) -> Option<DirectoryEvent> {
    if node.attrs().optional_string("type").as_deref() != Some("blocklist") {
        return None;
    }
    let contacts: Vec<pb::Contact> = node
        .get_children_by_tag("item")
        .filter_map(|item| {
            let mut attrs = item.attrs();
            let jid = attrs.optional_jid("jid")?;
            let pn = attrs.optional_jid("pn_jid");
            let blocked = match attrs.optional_string("action").as_deref() {
                Some("block") => true,
                Some("unblock") => false,
                _ => return None,
            };
            let mut contact = contact_identity(&jid, pn.as_ref());
            contact.blocked = blocked;
            Some(contact)
        })
        .collect();
    if contacts.is_empty() {
        return None;
    }
    Some(contacts_update(contacts, &["blocked"]))
}

// ---------------------------------------------------------------------------
// Calls

pub async fn check_numbers(
    client: &Client,
    digits: &[String],
) -> Result<Vec<pb::PhoneNumberCheck>> {
    let what = "check numbers on WhatsApp";
    let jids: Vec<Jid> = digits.iter().map(|d| Jid::pn(d.as_str())).collect();
    require_connection(client, what)?;
    let results = client
        .contacts()
        .is_on_whatsapp(&jids)
        .await
        .map_err(|e| classify(what, Target::Contact, &e))?;
    Ok(number_checks(digits, &results))
}

pub async fn profile_picture(client: &Client, jid: &str, preview: bool) -> Result<Option<Picture>> {
    let what = "fetch the profile picture";
    let jid = parse_user(jid)?;
    require_connection(client, what)?;
    let found = client
        .contacts()
        .get_profile_picture(&jid, preview)
        .await
        .map_err(|e| classify(what, Target::Contact, &e))?;
    Ok(picture(found))
}

pub async fn set_blocked(client: &Client, jid: &str, blocked: bool) -> Result<()> {
    let jid = parse_user(jid)?;
    let what = if blocked {
        "block the contact"
    } else {
        "unblock the contact"
    };
    require_connection(client, what)?;
    let blocking = client.blocking();
    let result = if blocked {
        blocking.block(&jid).await
    } else {
        blocking.unblock(&jid).await
    };
    result.map_err(|e| classify_blocking(what, &e))
}

pub async fn save_contact(
    client: &Client,
    jid: &str,
    full_name: &str,
    first_name: &str,
    save_on_primary_address_book: bool,
) -> Result<()> {
    let what = "save the contact";
    let jid = parse_user(jid)?;
    if !jid.is_pn() {
        return Err(Error::invalid_field(
            "contact",
            "WhatsApp saves address-book contacts by phone number; give a phone number, not a LID",
        ));
    }
    let some = |s: &str| (!s.is_empty()).then(|| s.to_owned());
    require_connection(client, what)?;
    client
        .chat_actions()
        .save_contact(
            &jid,
            some(full_name),
            some(first_name),
            save_on_primary_address_book,
        )
        .await
        .map_err(|e| classify(what, Target::Contact, &e))
}

#[cfg(test)]
#[path = "directory_tests.rs"]
mod tests;
