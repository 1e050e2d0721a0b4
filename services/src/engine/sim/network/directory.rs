//! Contacts on the simulated network: number checks, profile pictures, block
//! lists and address books; the `Query` dispatch (WhatsApp's IQ stanzas) for
//! contacts and groups; and the notifications that announce their changes to
//! the accounts' devices.

use prost_types::FieldMask;
use wagate_proto::v1 as api;
use wagate_proto::wagate::simnet::v1 as pb;

use super::groups::SimGroup;
use super::{Network, State, event};
use crate::engine::directory::ParticipantChange;
use crate::error::{Code, Error, Reason, Result};
use crate::store::{SimSavedContact, Store};

/// The host of the fake picture URLs (`.invalid`: never resolves).
pub(super) const PICTURE_HOST: &str = "https://pps.sim.wagate.invalid";

/// Names an account saved for a contact.
#[derive(Clone, Debug, Default)]
pub(super) struct SavedName {
    pub full_name: String,
    pub first_name: String,
}

pub(super) fn user_jid(digits: &str) -> String {
    format!("{digits}@s.whatsapp.net")
}

/// The digits of a user JID as stored (`<digits>@s.whatsapp.net`).
fn jid_digits(jid: &str) -> &str {
    jid.split('@').next().unwrap_or(jid)
}

/// Loads block lists, address books and groups into `state`.
pub(super) async fn load(store: &Store, state: &mut State) -> Result<()> {
    for (digits, blocked) in store.sim_blocks().await? {
        state
            .blocks
            .entry(digits)
            .or_default()
            .insert(jid_digits(&blocked).to_owned());
    }
    for saved in store.sim_address_book().await? {
        state
            .address_book
            .entry(saved.phone_number)
            .or_default()
            .insert(
                jid_digits(&saved.contact_jid).to_owned(),
                SavedName {
                    full_name: saved.full_name,
                    first_name: saved.first_name,
                },
            );
    }
    for (jid, encoded) in store.sim_groups().await? {
        let group: SimGroup = serde_json::from_str(&encoded)
            .map_err(|e| Error::internal(format!("corrupt simulated group {jid}: {e}")))?;
        state.groups.insert(jid, group);
    }
    Ok(())
}

impl State {
    /// The registered account a user JID, LID or digits name, if any.
    pub(super) fn account_digits(&self, jid: &str) -> Option<String> {
        if jid.ends_with("@g.us") {
            return None;
        }
        let jid = jid.trim().trim_start_matches('+');
        self.peer(jid).ok().map(|p| p.digits)
    }

    /// Whether `by` blocked `whom` (both digits).
    pub(super) fn has_blocked(&self, by: &str, whom: &str) -> bool {
        self.blocks.get(by).is_some_and(|b| b.contains(whom))
    }

    /// The identifying fields of an account as a contact.
    pub(super) fn contact_ids(&self, digits: &str) -> api::Contact {
        api::Contact {
            jid: user_jid(digits),
            phone_number: format!("+{digits}"),
            lid: self
                .accounts
                .get(digits)
                .map(|a| a.lid.clone())
                .unwrap_or_default(),
            ..Default::default()
        }
    }

    /// An account's profile picture as `viewer` sees it.
    fn profile_picture(
        &self,
        viewer: &str,
        digits: &str,
        preview: bool,
    ) -> Option<pb::PictureResult> {
        let account = self.accounts.get(digits)?;
        if self.has_blocked(digits, viewer) {
            return None;
        }
        let suffix = if preview { "?type=preview" } else { "" };
        Some(pb::PictureResult {
            found: true,
            uri: format!("{PICTURE_HOST}/v/{digits}.jpg{suffix}"),
            id: (account.create_time / 1000).to_string(),
        })
    }
}

fn done() -> pb::query_response::Result {
    pb::query_response::Result::Done(pb::Done {})
}

/// A notification of a contacts change.
pub(super) fn contacts_notification(
    contacts: Vec<api::Contact>,
    update_mask: &[&str],
) -> pb::notification::Change {
    pb::notification::Change::Contacts(api::ContactsPayload {
        contacts,
        update_mask: mask(update_mask),
    })
}

pub(super) fn mask(paths: &[&str]) -> Option<FieldMask> {
    (!paths.is_empty()).then(|| FieldMask {
        paths: paths.iter().map(|p| (*p).to_owned()).collect(),
    })
}

pub(super) fn change_from_pb(action: i32) -> Result<ParticipantChange> {
    match api::ParticipantChangeType::try_from(action) {
        Ok(api::ParticipantChangeType::Add) => Ok(ParticipantChange::Add),
        Ok(api::ParticipantChangeType::Remove) => Ok(ParticipantChange::Remove),
        Ok(api::ParticipantChangeType::Promote) => Ok(ParticipantChange::Promote),
        Ok(api::ParticipantChangeType::Demote) => Ok(ParticipantChange::Demote),
        _ => Err(Error::invalid_field("action", "unknown participant change")),
    }
}

impl Network {
    /// A contact or group query from a linked device.
    pub async fn device_query(&self, request: pb::QueryRequest) -> Result<pb::QueryResponse> {
        use pb::query_request::Query;
        use pb::query_response::Result as Answer;
        let credentials = request.credentials.clone().unwrap_or_default();
        let digits = self.state().device_account(&credentials)?;
        let query = request
            .query
            .ok_or_else(|| Error::invalid_field("query", "a query is required"))?;
        let answer = match query {
            Query::CheckNumbers(q) => Answer::CheckNumbers(pb::CheckNumbersResult {
                results: self.check_numbers(&q.phone_numbers),
            }),
            Query::GetPicture(q) => Answer::Picture(
                self.picture(&digits, &q.jid, q.preview)?
                    .unwrap_or_default(),
            ),
            Query::SetBlocked(q) => {
                self.set_blocked(&digits, &q.jid, q.blocked).await?;
                done()
            }
            Query::SaveContact(q) => {
                self.save_contact(&digits, &q.jid, &q.full_name, &q.first_name)
                    .await?;
                done()
            }
            Query::CreateGroup(q) => Answer::Group(
                self.create_group(&digits, &q.subject, &q.participants)
                    .await?,
            ),
            Query::GetGroup(q) => Answer::Group(self.group_info(&digits, &q.jid)?),
            Query::ListGroups(_) => Answer::Groups(pb::GroupList {
                groups: self.joined_groups(&digits),
            }),
            Query::ChangeParticipants(q) => {
                let change = change_from_pb(q.action)?;
                Answer::Participants(pb::ParticipantResults {
                    results: self
                        .change_participants(&digits, &q.group, change, &q.participants)
                        .await?,
                })
            }
            Query::UpdateGroup(q) => {
                let setting = q
                    .setting
                    .ok_or_else(|| Error::invalid_field("setting", "a setting is required"))?;
                self.update_group(&digits, &q.group, setting).await?;
                done()
            }
            Query::GetInviteCode(q) => Answer::InviteCode(pb::InviteCode {
                code: self.invite_code(&digits, &q.group, q.reset).await?,
            }),
            Query::GetInviteInfo(q) => Answer::Group(self.invite_info(&digits, &q.code)?),
            Query::JoinGroup(q) => {
                let (jid, approval_pending) = self.join_group(&digits, &q.code).await?;
                Answer::Joined(pb::JoinResult {
                    jid,
                    approval_pending,
                })
            }
            Query::LeaveGroup(q) => {
                self.leave_group(&digits, &q.group).await?;
                done()
            }
        };
        Ok(pb::QueryResponse {
            result: Some(answer),
        })
    }

    /// Whether numbers (E.164 digits) are registered, in the order asked.
    pub fn check_numbers(&self, numbers: &[String]) -> Vec<api::PhoneNumberCheck> {
        let state = self.state();
        numbers
            .iter()
            .map(|number| {
                let digits: String = number.chars().filter(char::is_ascii_digit).collect();
                match state.accounts.get(&digits) {
                    Some(account) => api::PhoneNumberCheck {
                        phone_number: number.clone(),
                        exists: true,
                        jid: account.jid(),
                        lid: account.lid.clone(),
                        business: false,
                    },
                    None => api::PhoneNumberCheck {
                        phone_number: number.clone(),
                        ..Default::default()
                    },
                }
            })
            .collect()
    }

    /// A profile picture (user JID or LID) or group picture (group JID) as
    /// `viewer` sees it; `None` when there is none or it is hidden.
    pub fn picture(
        &self,
        viewer: &str,
        jid: &str,
        preview: bool,
    ) -> Result<Option<pb::PictureResult>> {
        let state = self.state();
        if jid.ends_with("@g.us") {
            let group = state.member_group(viewer, jid)?;
            return Ok(group.picture(preview));
        }
        let digits = state.account_digits(jid).ok_or_else(|| {
            Error::new(
                Code::NotFound,
                Reason::NotFound,
                format!("item-not-found: {jid} is not on WhatsApp"),
            )
        })?;
        Ok(state.profile_picture(viewer, &digits, preview))
    }

    /// Blocks or unblocks an account; announced to the blocker's devices as
    /// a `contacts.update` of `blocked`.
    pub async fn set_blocked(&self, digits: &str, jid: &str, blocked: bool) -> Result<()> {
        let order = self.inner.directory.lock().await;
        let target = self.state().account_digits(jid).ok_or_else(|| {
            Error::precondition(Reason::NotOnWhatsapp, format!("{jid} is not on WhatsApp"))
        })?;
        if target == digits {
            return Err(Error::invalid_field(
                "jid",
                "an account cannot block itself",
            ));
        }
        self.inner
            .store
            .set_sim_block(digits, &user_jid(&target), blocked)
            .await?;
        let contact = {
            let mut state = self.state();
            let list = state.blocks.entry(digits.to_owned()).or_default();
            if blocked {
                list.insert(target.clone());
            } else {
                list.remove(&target);
            }
            api::Contact {
                blocked,
                ..state.contact_ids(&target)
            }
        };
        drop(order);
        self.notify(digits, contacts_notification(vec![contact], &["blocked"]))
            .await
    }

    /// Saves names for an account in `digits`' address book; announced to
    /// its devices as a complete `contacts.upsert`.
    pub async fn save_contact(
        &self,
        digits: &str,
        jid: &str,
        full_name: &str,
        first_name: &str,
    ) -> Result<()> {
        let order = self.inner.directory.lock().await;
        let target = self.state().account_digits(jid).ok_or_else(|| {
            Error::precondition(Reason::NotOnWhatsapp, format!("{jid} is not on WhatsApp"))
        })?;
        self.inner
            .store
            .save_sim_contact(&SimSavedContact {
                phone_number: digits.to_owned(),
                contact_jid: user_jid(&target),
                full_name: full_name.to_owned(),
                first_name: first_name.to_owned(),
            })
            .await?;
        let contact = {
            let mut state = self.state();
            state
                .address_book
                .entry(digits.to_owned())
                .or_default()
                .insert(
                    target.clone(),
                    SavedName {
                        full_name: full_name.to_owned(),
                        first_name: first_name.to_owned(),
                    },
                );
            api::Contact {
                full_name: full_name.to_owned(),
                first_name: first_name.to_owned(),
                push_name: state
                    .accounts
                    .get(&target)
                    .map(|a| a.push_name.clone())
                    .unwrap_or_default(),
                blocked: state.has_blocked(digits, &target),
                in_address_book: true,
                ..state.contact_ids(&target)
            }
        };
        drop(order);
        self.notify(digits, contacts_notification(vec![contact], &[]))
            .await
    }

    /// The account's address book as complete contacts, ordered by JID, for
    /// a newly linked device (WhatsApp's app-state sync); `None` when empty.
    pub(super) fn address_book_sync(&self, digits: &str) -> Option<pb::AttachResponse> {
        let state = self.state();
        let book = state.address_book.get(digits).filter(|b| !b.is_empty())?;
        let mut contacts: Vec<api::Contact> = book
            .iter()
            .map(|(contact, saved)| api::Contact {
                full_name: saved.full_name.clone(),
                first_name: saved.first_name.clone(),
                push_name: state
                    .accounts
                    .get(contact)
                    .map(|a| a.push_name.clone())
                    .unwrap_or_default(),
                blocked: state.has_blocked(digits, contact),
                in_address_book: true,
                ..state.contact_ids(contact)
            })
            .collect();
        contacts.sort_by(|a, b| a.jid.cmp(&b.jid));
        let notification = pb::Notification {
            change: Some(contacts_notification(contacts, &[])),
        };
        Some(event(pb::attach_response::Event::Directory(Box::new(
            notification,
        ))))
    }

    /// Hands a notification to the account's online devices, or to its
    /// mailbox when none is online.
    pub(super) async fn notify(
        &self,
        digits: &str,
        change: pb::notification::Change,
    ) -> Result<()> {
        let notification = pb::Notification {
            change: Some(change),
        };
        self.push(
            digits,
            None,
            event(pb::attach_response::Event::Directory(Box::new(
                notification,
            ))),
        )
        .await
    }
}
