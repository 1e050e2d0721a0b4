//! Groups on the simulated network, as WhatsApp runs them: creation, roles,
//! participant changes with per-participant status codes, settings, invite
//! codes with join approval, leaving with admin hand-over, and the
//! notifications each change sends to the members.

use rand::Rng;
use serde::{Deserialize, Serialize};
use wagate_proto::v1 as api;
use wagate_proto::wagate::simnet::v1 as pb;

use super::directory::{PICTURE_HOST, mask, user_jid};
use super::{Network, State};
use crate::engine::directory::ParticipantChange;
use crate::error::{Code, Error, Reason, Result};
use crate::store::now_ms;

use api::GroupParticipantRole as Role;

const INVITE_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const SUBJECT_MAX: usize = 100;
const DESCRIPTION_MAX: usize = 2048;

/// One member: the account's digits and its role (`GroupParticipantRole`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct Member {
    pub digits: String,
    pub role: i32,
}

/// A group's whole state, stored as JSON.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct SimGroup {
    pub jid: String,
    pub subject: String,
    pub description: String,
    /// Creator's digits.
    pub owner: String,
    pub create_time: i64,
    pub subject_owner: String,
    pub subject_time: i64,
    /// In the order they joined (longest-standing first).
    pub members: Vec<Member>,
    pub announce: bool,
    pub restrict: bool,
    pub join_approval: bool,
    pub member_add_mode: i32,
    /// Empty when the group has no picture.
    pub picture_id: String,
    /// Empty until an admin asks for one.
    pub invite_code: String,
    /// Digits of accounts waiting for an admin to approve their join request.
    pub pending: Vec<String>,
    pub update_time: i64,
}

fn is_admin(role: i32) -> bool {
    role == Role::Admin as i32 || role == Role::Superadmin as i32
}

fn ts(ms: i64) -> Option<prost_types::Timestamp> {
    Some(prost_types::Timestamp {
        seconds: ms.div_euclid(1000),
        nanos: (ms.rem_euclid(1000) * 1_000_000) as i32,
    })
}

fn result(jid: String, code: i32, reason: &str) -> api::ParticipantResult {
    api::ParticipantResult {
        jid,
        code,
        reason: reason.to_owned(),
        success: code == 200,
    }
}

fn not_admin(digits: &str, group: &str) -> Error {
    Error::new(
        Code::PermissionDenied,
        Reason::NotGroupAdmin,
        format!(
            "not-authorized: {} is not an admin of {group}",
            user_jid(digits)
        ),
    )
}

impl SimGroup {
    pub fn role_of(&self, digits: &str) -> Option<i32> {
        self.members
            .iter()
            .find(|m| m.digits == digits)
            .map(|m| m.role)
    }

    pub fn is_admin(&self, digits: &str) -> bool {
        self.role_of(digits).is_some_and(is_admin)
    }

    pub fn member_digits(&self) -> Vec<String> {
        self.members.iter().map(|m| m.digits.clone()).collect()
    }

    pub fn picture(&self, preview: bool) -> Option<pb::PictureResult> {
        (!self.picture_id.is_empty()).then(|| pb::PictureResult {
            found: true,
            uri: self.picture_uri(preview),
            id: self.picture_id.clone(),
        })
    }

    fn picture_uri(&self, preview: bool) -> String {
        if self.picture_id.is_empty() {
            return String::new();
        }
        let user = self.jid.split('@').next().unwrap_or_default();
        let suffix = if preview { "?type=preview" } else { "" };
        format!("{PICTURE_HOST}/v/g/{user}/{}.jpg{suffix}", self.picture_id)
    }

    /// The group with participants as `viewer` (digits) sees it.
    pub fn to_pb(&self, state: &State, viewer: &str) -> api::Group {
        api::Group {
            jid: self.jid.clone(),
            subject: self.subject.clone(),
            description: self.description.clone(),
            owner: user_jid(&self.owner),
            create_time: ts(self.create_time),
            subject_owner: user_jid(&self.subject_owner),
            subject_update_time: ts(self.subject_time),
            size: self.members.len() as i32,
            participants: self
                .members
                .iter()
                .map(|m| api::GroupParticipant {
                    jid: user_jid(&m.digits),
                    phone_number: format!("+{}", m.digits),
                    lid: state
                        .accounts
                        .get(&m.digits)
                        .map(|a| a.lid.clone())
                        .unwrap_or_default(),
                    role: m.role,
                    ..Default::default()
                })
                .collect(),
            announce: self.announce,
            restrict: self.restrict,
            join_approval: self.join_approval,
            member_add_mode: self.member_add_mode,
            picture_uri: self.picture_uri(false),
            ephemeral_seconds: 0,
            self_role: self.role_of(viewer).unwrap_or(Role::Unspecified as i32),
            update_time: ts(self.update_time),
            ..Default::default()
        }
    }

    /// If no admin is left, the longest-standing member becomes one; returns it.
    fn hand_over_admin(&mut self) -> Option<String> {
        if self.members.iter().any(|m| is_admin(m.role)) {
            return None;
        }
        let first = self.members.first_mut()?;
        first.role = Role::Admin as i32;
        Some(first.digits.clone())
    }
}

impl State {
    /// The group `jid` if `digits` is a member, else NOT_FOUND (as WhatsApp
    /// answers non-members).
    pub(super) fn member_group(&self, digits: &str, jid: &str) -> Result<&SimGroup> {
        self.groups
            .get(jid)
            .filter(|g| g.role_of(digits).is_some())
            .ok_or_else(|| {
                Error::new(
                    Code::NotFound,
                    Reason::NotFound,
                    format!(
                        "item-not-found: group {jid} does not exist or {} is not a participant",
                        user_jid(digits)
                    ),
                )
            })
    }

    fn group_by_code(&self, code: &str) -> Result<&SimGroup> {
        let code = code
            .trim()
            .trim_start_matches("https://chat.whatsapp.com/")
            .trim_start_matches("chat.whatsapp.com/");
        self.groups
            .values()
            .find(|g| !code.is_empty() && g.invite_code == code)
            .ok_or_else(|| {
                Error::new(
                    Code::NotFound,
                    Reason::NotFound,
                    "item-not-found: the invite code is invalid or was revoked",
                )
            })
    }
}

/// Notifications to send after a change: (recipient digits, change).
type Outbox = Vec<(String, pb::notification::Change)>;

fn participants_change(
    group: &str,
    participants: Vec<String>,
    change: ParticipantChange,
    author: &str,
) -> pb::notification::Change {
    pb::notification::Change::Participants(api::GroupParticipantsPayload {
        group: String::new(),
        jid: group.to_owned(),
        participants,
        action: change.to_pb() as i32,
        author: author.to_owned(),
    })
}

fn upsert(group: api::Group, author: &str) -> pb::notification::Change {
    pb::notification::Change::Groups(api::GroupsPayload {
        groups: vec![group],
        update_mask: None,
        author: author.to_owned(),
    })
}

fn random_group_jid() -> String {
    let mut rng = rand::rng();
    format!(
        "120363{:012}@g.us",
        rng.random_range(0..1_000_000_000_000u64)
    )
}

fn random_invite_code() -> String {
    let mut rng = rand::rng();
    (0..22)
        .map(|_| INVITE_ALPHABET[rng.random_range(0..INVITE_ALPHABET.len())] as char)
        .collect()
}

fn subject(value: &str) -> Result<String> {
    let value = value.trim();
    if value.is_empty() {
        return Err(Error::invalid_field("subject", "a group needs a subject"));
    }
    if value.chars().count() > SUBJECT_MAX {
        return Err(Error::invalid_field(
            "subject",
            format!("a group subject has at most {SUBJECT_MAX} characters"),
        ));
    }
    Ok(value.to_owned())
}

impl Network {
    /// Stores the group, then (with the change order released, so a device
    /// that reacts to a notification with a query cannot hold it up) sends
    /// the notifications.
    async fn commit(
        &self,
        order: tokio::sync::MutexGuard<'_, ()>,
        group: SimGroup,
        outbox: Outbox,
    ) -> Result<()> {
        let encoded = serde_json::to_string(&group)
            .map_err(|e| Error::internal(format!("cannot encode a group: {e}")))?;
        self.inner.store.put_sim_group(&group.jid, &encoded).await?;
        self.state().groups.insert(group.jid.clone(), group);
        drop(order);
        for (digits, change) in outbox {
            self.notify(&digits, change).await?;
        }
        Ok(())
    }

    /// Creates a group with `creator` as super admin and the registered
    /// participants who have not blocked the creator as members.
    pub async fn create_group(
        &self,
        creator: &str,
        subject_text: &str,
        participants: &[String],
    ) -> Result<api::Group> {
        let subject = subject(subject_text)?;
        let order = self.inner.directory.lock().await;
        let now = now_ms();
        let (group, outbox, created) = {
            let state = self.state();
            let mut jid = random_group_jid();
            while state.groups.contains_key(&jid) {
                jid = random_group_jid();
            }
            let mut members = vec![Member {
                digits: creator.to_owned(),
                role: Role::Superadmin as i32,
            }];
            for participant in participants {
                let Some(digits) = state.account_digits(participant) else {
                    continue;
                };
                if members.iter().any(|m| m.digits == digits) || state.has_blocked(&digits, creator)
                {
                    continue;
                }
                members.push(Member {
                    digits,
                    role: Role::Member as i32,
                });
            }
            let group = SimGroup {
                jid,
                subject,
                description: String::new(),
                owner: creator.to_owned(),
                create_time: now,
                subject_owner: creator.to_owned(),
                subject_time: now,
                members,
                announce: false,
                restrict: false,
                join_approval: false,
                member_add_mode: api::MemberAddMode::AdminsOnly as i32,
                picture_id: String::new(),
                invite_code: String::new(),
                pending: Vec::new(),
                update_time: now,
            };
            let author = user_jid(creator);
            let outbox: Outbox = group
                .members
                .iter()
                .map(|m| {
                    (
                        m.digits.clone(),
                        upsert(group.to_pb(&state, &m.digits), &author),
                    )
                })
                .collect();
            let created = group.to_pb(&state, creator);
            (group, outbox, created)
        };
        self.commit(order, group, outbox).await?;
        Ok(created)
    }

    /// A group as its member `digits` sees it.
    pub fn group_info(&self, digits: &str, jid: &str) -> Result<api::Group> {
        let state = self.state();
        Ok(state.member_group(digits, jid)?.to_pb(&state, digits))
    }

    /// The groups `digits` is a member of, oldest first.
    pub fn joined_groups(&self, digits: &str) -> Vec<api::Group> {
        let state = self.state();
        let mut groups: Vec<&SimGroup> = state
            .groups
            .values()
            .filter(|g| g.role_of(digits).is_some())
            .collect();
        groups.sort_by(|a, b| (a.create_time, &a.jid).cmp(&(b.create_time, &b.jid)));
        groups.iter().map(|g| g.to_pb(&state, digits)).collect()
    }

    /// Adds, removes, promotes or demotes members; one result per input.
    pub async fn change_participants(
        &self,
        actor: &str,
        jid: &str,
        change: ParticipantChange,
        participants: &[String],
    ) -> Result<Vec<api::ParticipantResult>> {
        let order = self.inner.directory.lock().await;
        let (group, outbox, results) = {
            let state = self.state();
            let mut group = state.member_group(actor, jid)?.clone();
            let allowed = group.is_admin(actor)
                || (change == ParticipantChange::Add
                    && group.member_add_mode == api::MemberAddMode::AllMembers as i32);
            if !allowed {
                return Err(not_admin(actor, jid));
            }
            let mut results = Vec::new();
            let mut changed: Vec<String> = Vec::new();
            for input in participants {
                let Some(digits) = state.account_digits(input) else {
                    results.push(result(input.clone(), 404, "item-not-found"));
                    continue;
                };
                let target = user_jid(&digits);
                let role = group.role_of(&digits);
                let (code, reason) = match (change, role) {
                    (ParticipantChange::Add, Some(_)) => (409, "conflict"),
                    (ParticipantChange::Add, None) if state.has_blocked(&digits, actor) => {
                        (403, "not-authorized")
                    }
                    (ParticipantChange::Add, None) => {
                        group.members.push(Member {
                            digits: digits.clone(),
                            role: Role::Member as i32,
                        });
                        group.pending.retain(|p| *p != digits);
                        (200, "added")
                    }
                    (_, None) => (404, "item-not-found"),
                    (ParticipantChange::Remove, Some(role)) => {
                        if role == Role::Superadmin as i32 || digits == group.owner {
                            (403, "not-authorized")
                        } else {
                            group.members.retain(|m| m.digits != digits);
                            (200, "removed")
                        }
                    }
                    (ParticipantChange::Promote, Some(role)) if is_admin(role) => (409, "conflict"),
                    (ParticipantChange::Demote, Some(role)) if !is_admin(role) => (409, "conflict"),
                    (ParticipantChange::Demote, Some(role)) if role == Role::Superadmin as i32 => {
                        (403, "not-authorized")
                    }
                    (ParticipantChange::Promote | ParticipantChange::Demote, Some(_)) => {
                        let promote = change == ParticipantChange::Promote;
                        if let Some(m) = group.members.iter_mut().find(|m| m.digits == digits) {
                            m.role = if promote { Role::Admin } else { Role::Member } as i32;
                        }
                        (200, if promote { "promoted" } else { "demoted" })
                    }
                };
                if code == 200 {
                    changed.push(digits);
                }
                results.push(result(target, code, reason));
            }
            if changed.is_empty() {
                return Ok(results);
            }
            let author = user_jid(actor);
            let handed_over = match change {
                ParticipantChange::Remove => group.hand_over_admin(),
                _ => None,
            };
            group.update_time = now_ms();
            let mut outbox = Outbox::new();
            // Members after the change, and the removed ones, learn of it.
            let mut audience = group.member_digits();
            if change == ParticipantChange::Remove {
                audience.extend(changed.iter().cloned());
            }
            let jids: Vec<String> = changed.iter().map(|d| user_jid(d)).collect();
            for digits in &audience {
                outbox.push((
                    digits.clone(),
                    participants_change(jid, jids.clone(), change, &author),
                ));
            }
            if let Some(admin) = handed_over {
                for digits in group.member_digits() {
                    outbox.push((
                        digits,
                        participants_change(
                            jid,
                            vec![user_jid(&admin)],
                            ParticipantChange::Promote,
                            "",
                        ),
                    ));
                }
            }
            if change == ParticipantChange::Add {
                for digits in &changed {
                    outbox.push((digits.clone(), upsert(group.to_pb(&state, digits), &author)));
                }
            }
            (group, outbox, results)
        };
        self.commit(order, group, outbox).await?;
        Ok(results)
    }

    /// Changes one setting; announced to the members as a `groups.update`.
    pub async fn update_group(
        &self,
        actor: &str,
        jid: &str,
        setting: pb::update_group::Setting,
    ) -> Result<()> {
        use pb::update_group::Setting;
        let order = self.inner.directory.lock().await;
        let (group, outbox) = {
            let state = self.state();
            let mut group = state.member_group(actor, jid)?.clone();
            let metadata = matches!(
                setting,
                Setting::Subject(_) | Setting::Description(_) | Setting::Picture(_)
            );
            if !group.is_admin(actor) && (!metadata || group.restrict) {
                return Err(not_admin(actor, jid));
            }
            let now = now_ms();
            let mut changed = api::Group {
                jid: jid.to_owned(),
                ..Default::default()
            };
            let field = match setting {
                Setting::Subject(value) => {
                    group.subject = subject(&value)?;
                    group.subject_owner = actor.to_owned();
                    group.subject_time = now;
                    changed.subject = group.subject.clone();
                    "subject"
                }
                Setting::Description(value) => {
                    if value.chars().count() > DESCRIPTION_MAX {
                        return Err(Error::invalid_field(
                            "description",
                            format!("a group description has at most {DESCRIPTION_MAX} characters"),
                        ));
                    }
                    group.description = value.clone();
                    changed.description = value;
                    "description"
                }
                Setting::Announce(on) => {
                    group.announce = on;
                    changed.announce = on;
                    "announce"
                }
                Setting::Restrict(on) => {
                    group.restrict = on;
                    changed.restrict = on;
                    "restrict"
                }
                Setting::JoinApproval(on) => {
                    group.join_approval = on;
                    changed.join_approval = on;
                    "join_approval"
                }
                Setting::MemberAddMode(mode) => {
                    let mode = api::MemberAddMode::try_from(mode)
                        .ok()
                        .filter(|m| *m != api::MemberAddMode::Unspecified)
                        .ok_or_else(|| {
                            Error::invalid_field("member_add_mode", "unknown member add mode")
                        })?;
                    group.member_add_mode = mode as i32;
                    changed.member_add_mode = mode as i32;
                    "member_add_mode"
                }
                Setting::Picture(upload) => {
                    if upload.content.is_empty() {
                        group.picture_id.clear();
                    } else if !matches!(upload.mime_type.as_str(), "image/jpeg" | "image/png") {
                        return Err(Error::invalid_field(
                            "picture",
                            "a group picture must be a JPEG or PNG",
                        ));
                    } else {
                        group.picture_id = rand::rng()
                            .random_range(1_000_000_000u64..10_000_000_000)
                            .to_string();
                    }
                    changed.picture_uri = group.picture_uri(false);
                    "picture_uri"
                }
            };
            group.update_time = now;
            let author = user_jid(actor);
            let outbox: Outbox = group
                .member_digits()
                .into_iter()
                .map(|digits| {
                    let change = pb::notification::Change::Groups(api::GroupsPayload {
                        groups: vec![changed.clone()],
                        update_mask: mask(&[field]),
                        author: author.clone(),
                    });
                    (digits, change)
                })
                .collect();
            (group, outbox)
        };
        self.commit(order, group, outbox).await
    }

    /// The group's invite code (admins only); `reset` revokes the old one.
    pub async fn invite_code(&self, actor: &str, jid: &str, reset: bool) -> Result<String> {
        let order = self.inner.directory.lock().await;
        let group = {
            let state = self.state();
            let group = state.member_group(actor, jid)?;
            if !group.is_admin(actor) {
                return Err(not_admin(actor, jid));
            }
            if !group.invite_code.is_empty() && !reset {
                return Ok(group.invite_code.clone());
            }
            let mut group = group.clone();
            group.invite_code = random_invite_code();
            group
        };
        let code = group.invite_code.clone();
        self.commit(order, group, Outbox::new()).await?;
        Ok(code)
    }

    /// Previews the group an invite code leads to, without joining.
    pub fn invite_info(&self, viewer: &str, code: &str) -> Result<api::Group> {
        let state = self.state();
        Ok(state.group_by_code(code)?.to_pb(&state, viewer))
    }

    /// Joins with an invite code: `(group JID, approval pending)`.
    pub async fn join_group(&self, digits: &str, code: &str) -> Result<(String, bool)> {
        let order = self.inner.directory.lock().await;
        let (group, outbox, pending) = {
            let state = self.state();
            let mut group = state.group_by_code(code)?.clone();
            if group.role_of(digits).is_some() {
                return Err(Error::already_exists(format!(
                    "conflict: {} is already a participant of {}",
                    user_jid(digits),
                    group.jid
                )));
            }
            let author = user_jid(digits);
            let mut outbox = Outbox::new();
            if group.join_approval {
                if !group.pending.iter().any(|p| p == digits) {
                    group.pending.push(digits.to_owned());
                }
            } else {
                group.members.push(Member {
                    digits: digits.to_owned(),
                    role: Role::Member as i32,
                });
                group.update_time = now_ms();
                for member in group.member_digits() {
                    outbox.push((
                        member,
                        participants_change(
                            &group.jid,
                            vec![author.clone()],
                            ParticipantChange::Add,
                            &author,
                        ),
                    ));
                }
                outbox.push((
                    digits.to_owned(),
                    upsert(group.to_pb(&state, digits), &author),
                ));
            }
            let pending = group.join_approval;
            (group, outbox, pending)
        };
        let jid = group.jid.clone();
        self.commit(order, group, outbox).await?;
        Ok((jid, pending))
    }

    /// Leaves a group; if no admin is left, the longest-standing member
    /// becomes one.
    pub async fn leave_group(&self, digits: &str, jid: &str) -> Result<()> {
        let order = self.inner.directory.lock().await;
        let (group, outbox) = {
            let state = self.state();
            let mut group = state.member_group(digits, jid)?.clone();
            group.members.retain(|m| m.digits != digits);
            let handed_over = group.hand_over_admin();
            group.update_time = now_ms();
            let author = user_jid(digits);
            let mut outbox = Outbox::new();
            let mut audience = group.member_digits();
            audience.push(digits.to_owned());
            for member in audience {
                outbox.push((
                    member,
                    participants_change(
                        jid,
                        vec![author.clone()],
                        ParticipantChange::Remove,
                        &author,
                    ),
                ));
            }
            if let Some(admin) = handed_over {
                for member in group.member_digits() {
                    outbox.push((
                        member,
                        participants_change(
                            jid,
                            vec![user_jid(&admin)],
                            ParticipantChange::Promote,
                            "",
                        ),
                    ));
                }
            }
            (group, outbox)
        };
        self.commit(order, group, outbox).await
    }

    /// Who a member's message to a group reaches: the other members, or an
    /// error when the author may not send there.
    pub(super) fn group_recipients(&self, author: &str, jid: &str) -> Result<Vec<String>> {
        let state = self.state();
        let group = state.groups.get(jid).ok_or_else(|| {
            Error::new(
                Code::NotFound,
                Reason::NotFound,
                format!("group {jid} does not exist on the simulated network"),
            )
        })?;
        let Some(role) = group.role_of(author) else {
            return Err(Error::whatsapp(
                Code::FailedPrecondition,
                format!(
                    "not-authorized: {} is not a participant of {jid}",
                    user_jid(author)
                ),
            ));
        };
        if group.announce && !is_admin(role) {
            return Err(Error::whatsapp(
                Code::FailedPrecondition,
                format!(
                    "not-authorized: only admins can send messages to {jid} (announcement group)"
                ),
            ));
        }
        Ok(group
            .members
            .iter()
            .filter(|m| m.digits != author)
            .map(|m| m.digits.clone())
            .collect())
    }
}
