//! Groups through whatsapp-rust: metadata, membership, settings, pictures,
//! invites, and the group notifications the library reports. The mappings
//! from library values to ours are pure functions (tested in
//! `groups_tests.rs`); the async functions at the end talk to the client.

use wagate_proto::v1 as pb;
use whatsapp_rust::features::{
    GroupCreateOptions, GroupDescription, GroupMetadata, GroupParticipantOptions, GroupSubject,
    JoinGroupResult, MemberAddMode, MembershipApprovalMode, ParticipantChangeResponse,
    ParticipantType, PictureType, PreviousDescription,
};
use whatsapp_rust::types::events::{GroupUpdate, PictureUpdate};
use whatsapp_rust::wacore::iq::groups::GroupInfoResponse;
use whatsapp_rust::wacore::protocol::ProtocolNode;
use whatsapp_rust::wacore::stanza::groups::{GroupNotificationAction, GroupParticipantInfo};
use whatsapp_rust::{Client, Jid};

use super::directory::{
    Me, Target, classify, connected, parse_group, parse_user, phone_of, user_jid,
};
use crate::engine::{
    DirectoryEvent, GroupSetting, JoinedGroup, MediaBlob, ParticipantChange, Picture,
};
use crate::error::{Error, Result};

// ---------------------------------------------------------------------------
// Library values -> ours

fn seconds(s: u64) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: s as i64,
        nanos: 0,
    }
}

pub fn role(kind: ParticipantType) -> pb::GroupParticipantRole {
    match kind {
        ParticipantType::Member => pb::GroupParticipantRole::Member,
        ParticipantType::Admin => pb::GroupParticipantRole::Admin,
        ParticipantType::SuperAdmin => pb::GroupParticipantRole::Superadmin,
    }
}

pub fn member_add_mode(mode: Option<MemberAddMode>) -> pb::MemberAddMode {
    match mode {
        Some(MemberAddMode::AdminAdd) => pb::MemberAddMode::AdminsOnly,
        Some(MemberAddMode::AllMemberAdd) => pb::MemberAddMode::AllMembers,
        None => pb::MemberAddMode::Unspecified,
    }
}

/// A member as the group reports it (`jid` a phone JID or a LID), with the
/// phone number and LID filled from whichever the library gives.
pub fn participant(
    jid: &Jid,
    phone: Option<&Jid>,
    lid: Option<&Jid>,
    role: pb::GroupParticipantRole,
) -> pb::GroupParticipant {
    let phone_number = [Some(jid), phone]
        .into_iter()
        .flatten()
        .map(phone_of)
        .find(|p| !p.is_empty())
        .unwrap_or_default();
    let lid = [Some(jid), lid]
        .into_iter()
        .flatten()
        .find(|j| j.is_lid())
        .map(user_jid)
        .unwrap_or_default();
    pb::GroupParticipant {
        jid: user_jid(jid),
        phone_number,
        lid,
        role: role.into(),
        ..Default::default()
    }
}

/// A person named by a JID and maybe its phone-number counterpart, as our
/// API names people: the phone JID when known.
fn person(jid: Option<&Jid>, pn: Option<&Jid>) -> String {
    pn.or(jid).map(user_jid).unwrap_or_default()
}

/// A complete group (with participants) from the library's metadata.
pub fn group(meta: &GroupMetadata, me: &Me) -> pb::Group {
    let participants: Vec<pb::GroupParticipant> = meta
        .participants
        .iter()
        .map(|p| {
            participant(
                &p.jid,
                p.phone_number.as_ref(),
                p.lid.as_ref(),
                role(p.participant_type),
            )
        })
        .collect();
    let self_role = meta
        .participants
        .iter()
        .find(|p| {
            me.is(&p.jid)
                || p.phone_number.as_ref().is_some_and(|j| me.is(j))
                || p.lid.as_ref().is_some_and(|j| me.is(j))
        })
        .map(|p| role(p.participant_type))
        .unwrap_or(pb::GroupParticipantRole::Unspecified);
    let size = meta
        .size
        .map(|s| s as i32)
        .unwrap_or(participants.len() as i32);
    pb::Group {
        jid: meta.id.to_string(),
        subject: meta.subject.clone(),
        description: meta.description.clone().unwrap_or_default(),
        owner: person(meta.creator.as_ref(), meta.creator_pn.as_ref()),
        create_time: meta.creation_time.map(seconds),
        subject_owner: person(meta.subject_owner.as_ref(), meta.subject_owner_pn.as_ref()),
        subject_update_time: meta.subject_time.map(seconds),
        size,
        participants,
        announce: meta.is_announcement,
        restrict: meta.is_locked,
        join_approval: meta.membership_approval,
        member_add_mode: member_add_mode(meta.member_add_mode).into(),
        ephemeral_seconds: meta
            .ephemeral
            .and_then(|e| e.expiration)
            .unwrap_or_default() as i32,
        community: meta
            .parent_group_jid
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        community_parent: meta.is_parent_group,
        self_role: self_role.into(),
        ..Default::default()
    }
}

/// XMPP's condition names for the codes WhatsApp answers per participant.
fn participant_reason(code: i32, change: ParticipantChange) -> &'static str {
    match code {
        200 => match change {
            ParticipantChange::Add => "added",
            ParticipantChange::Remove => "removed",
            ParticipantChange::Promote => "promoted",
            ParticipantChange::Demote => "demoted",
        },
        400 => "bad-request",
        401 => "not-authorized",
        403 => "forbidden",
        404 => "item-not-found",
        406 => "not-acceptable",
        408 => "recently-left",
        409 => "conflict",
        500 => "internal-server-error",
        _ => "error",
    }
}

/// One result per participant asked, in the order asked. WhatsApp may name
/// a participant by its LID when asked by phone number (or the reverse), so
/// results are matched on either; a participant missing from the answer is
/// reported as not changed.
pub fn participant_results(
    asked: &[Jid],
    change: ParticipantChange,
    answers: &[ParticipantChangeResponse],
) -> Vec<pb::ParticipantResult> {
    let names = |answer: &ParticipantChangeResponse, jid: &Jid| {
        answer.jid.user == jid.user && answer.jid.server == jid.server
            || answer
                .phone_number
                .as_ref()
                .is_some_and(|pn| pn.user == jid.user && pn.server == jid.server)
    };
    asked
        .iter()
        .enumerate()
        .map(|(i, jid)| {
            let answer = answers.iter().find(|a| names(a, jid)).or_else(|| {
                // Same count and nothing matched by name: the answer is in order.
                (answers.len() == asked.len()
                    && !answers.iter().any(|a| asked.iter().any(|j| names(a, j))))
                .then(|| &answers[i])
            });
            let Some(answer) = answer else {
                return pb::ParticipantResult {
                    jid: user_jid(jid),
                    code: 0,
                    reason: "no-answer".into(),
                    success: false,
                };
            };
            let code = match &answer.error {
                None => 200,
                Some(error) => error.trim().parse::<i32>().unwrap_or(0),
            };
            let reason = answer
                .status
                .clone()
                .filter(|s| !s.is_empty() && code != 200)
                .unwrap_or_else(|| participant_reason(code, change).to_owned());
            pb::ParticipantResult {
                jid: user_jid(&answer.jid),
                code,
                reason,
                success: answer.is_ok(),
            }
        })
        .collect()
}

/// The code of an invite link (the library answers with the whole link).
pub fn code_of_link(link: &str) -> String {
    link.trim()
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_owned()
}

pub fn joined(result: &JoinGroupResult) -> JoinedGroup {
    JoinedGroup {
        jid: result.group_jid().to_string(),
        approval_pending: matches!(result, JoinGroupResult::PendingApproval(_)),
    }
}

/// The picture bytes WhatsApp takes for a group: JPEG only (the engine has
/// no image conversion).
pub fn picture_bytes(blob: &MediaBlob) -> Result<Vec<u8>> {
    if blob.bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Ok(blob.bytes.to_vec())
    } else {
        Err(Error::invalid_field(
            "picture_uri",
            format!(
                "the whatsapp engine sets group pictures from JPEG files only (got {})",
                if blob.mime_type.is_empty() {
                    "an unknown type"
                } else {
                    blob.mime_type.as_str()
                }
            ),
        ))
    }
}

fn notified(participants: &[GroupParticipantInfo]) -> Vec<String> {
    participants.iter().map(|p| user_jid(&p.jid)).collect()
}

fn group_update(jid: &Jid, group: pb::Group, fields: &[&str], author: String) -> DirectoryEvent {
    DirectoryEvent::Groups {
        groups: vec![pb::Group {
            jid: jid.to_string(),
            ..group
        }],
        update_mask: fields.iter().map(|f| (*f).to_owned()).collect(),
        author,
    }
}

/// One group notification action. `me` recognises the account in a group
/// the account joined (for `self_role`).
pub fn group_event(update: &GroupUpdate, me: &Me) -> Option<DirectoryEvent> {
    let author = person(update.participant.as_ref(), update.participant_pn.as_ref());
    let jid = &update.group_jid;
    let changed =
        |group: pb::Group, fields: &[&str]| Some(group_update(jid, group, fields, author.clone()));
    let members = |participants: &[GroupParticipantInfo], change: ParticipantChange| {
        (!participants.is_empty()).then(|| DirectoryEvent::Participants {
            group: jid.to_string(),
            participants: notified(participants),
            change,
            author: author.clone(),
        })
    };
    match &update.action {
        GroupNotificationAction::Add { participants, .. } => {
            members(participants, ParticipantChange::Add)
        }
        GroupNotificationAction::Remove { participants, .. } => {
            members(participants, ParticipantChange::Remove)
        }
        GroupNotificationAction::Promote { participants } => {
            members(participants, ParticipantChange::Promote)
        }
        GroupNotificationAction::Demote { participants } => {
            members(participants, ParticipantChange::Demote)
        }
        GroupNotificationAction::Subject {
            subject,
            subject_owner,
            subject_time,
        } => changed(
            pb::Group {
                subject: subject.clone(),
                subject_owner: subject_owner
                    .as_ref()
                    .map(user_jid)
                    .unwrap_or_else(|| author.clone()),
                subject_update_time: Some(
                    subject_time
                        .map(seconds)
                        .unwrap_or_else(|| seconds(update.timestamp.timestamp().max(0) as u64)),
                ),
                ..Default::default()
            },
            &["subject", "subject_owner", "subject_update_time"],
        ),
        GroupNotificationAction::Description { description, .. } => changed(
            pb::Group {
                description: description.clone().unwrap_or_default(),
                ..Default::default()
            },
            &["description"],
        ),
        GroupNotificationAction::Locked { .. } | GroupNotificationAction::Unlocked => changed(
            pb::Group {
                restrict: matches!(update.action, GroupNotificationAction::Locked { .. }),
                ..Default::default()
            },
            &["restrict"],
        ),
        GroupNotificationAction::Announce | GroupNotificationAction::NotAnnounce => changed(
            pb::Group {
                announce: matches!(update.action, GroupNotificationAction::Announce),
                ..Default::default()
            },
            &["announce"],
        ),
        GroupNotificationAction::Ephemeral { expiration, .. } => changed(
            pb::Group {
                ephemeral_seconds: *expiration as i32,
                ..Default::default()
            },
            &["ephemeral_seconds"],
        ),
        GroupNotificationAction::MembershipApprovalMode { enabled } => changed(
            pb::Group {
                join_approval: *enabled,
                ..Default::default()
            },
            &["join_approval"],
        ),
        GroupNotificationAction::MemberAddMode { mode } => {
            let mode = match mode.as_str() {
                "admin_add" => pb::MemberAddMode::AdminsOnly,
                "all_member_add" => pb::MemberAddMode::AllMembers,
                _ => return None,
            };
            changed(
                pb::Group {
                    member_add_mode: mode.into(),
                    ..Default::default()
                },
                &["member_add_mode"],
            )
        }
        // The account created or was added to a group: the notification
        // carries the whole group.
        GroupNotificationAction::Create { raw } => {
            let node = raw.as_node_ref();
            let info = node
                .get_optional_child("group")
                .and_then(|g| GroupInfoResponse::try_from_node_ref(g).ok())?;
            let group = group(&GroupMetadata::from(info), me);
            Some(DirectoryEvent::Groups {
                groups: vec![group],
                update_mask: Vec::new(),
                author,
            })
        }
        _ => None,
    }
}

/// A group's picture changed; the notification carries no URL, so the last
/// seen one is cleared (GetGroupPicture fetches the new one).
pub fn group_picture_event(update: &PictureUpdate) -> DirectoryEvent {
    group_update(
        &update.jid,
        pb::Group::default(),
        &["picture_uri"],
        update.author.as_ref().map(user_jid).unwrap_or_default(),
    )
}

// ---------------------------------------------------------------------------
// Calls

pub async fn create_group(client: &Client, subject: &str, members: &[String]) -> Result<pb::Group> {
    let what = "create the group";
    let subject =
        GroupSubject::new(subject).map_err(|e| Error::invalid_field("subject", e.to_string()))?;
    let participants = members
        .iter()
        .map(|m| parse_user(m).map(GroupParticipantOptions::new))
        .collect::<Result<Vec<_>>>()?;
    connected(client, what)?;
    let options = GroupCreateOptions::new(subject.into_string()).with_participants(participants);
    let created = client
        .groups()
        .create_group(options)
        .await
        .map_err(|e| classify(what, Target::Create, &e))?;
    Ok(group(&created.metadata, &Me::of(client)))
}

pub async fn group_info(client: &Client, jid: &str) -> Result<pb::Group> {
    let what = "query the group";
    let jid = parse_group(jid)?;
    connected(client, what)?;
    let meta = client
        .groups()
        .get_metadata(&jid)
        .await
        .map_err(|e| classify(what, Target::GroupRead, &e))?;
    Ok(group(&meta, &Me::of(client)))
}

pub async fn joined_groups(client: &Client) -> Result<Vec<pb::Group>> {
    let what = "list the groups";
    connected(client, what)?;
    let groups = client
        .groups()
        .get_participating()
        .await
        .map_err(|e| classify(what, Target::GroupRead, &e))?;
    let me = Me::of(client);
    let mut groups: Vec<pb::Group> = groups.values().map(|meta| group(meta, &me)).collect();
    groups.sort_by(|a, b| a.jid.cmp(&b.jid));
    Ok(groups)
}

pub async fn change_participants(
    client: &Client,
    jid: &str,
    change: ParticipantChange,
    participants: &[String],
) -> Result<Vec<pb::ParticipantResult>> {
    let what = match change {
        ParticipantChange::Add => "add group participants",
        ParticipantChange::Remove => "remove group participants",
        ParticipantChange::Promote => "promote group participants",
        ParticipantChange::Demote => "demote group participants",
    };
    let group = parse_group(jid)?;
    let asked = participants
        .iter()
        .map(|p| parse_user(p))
        .collect::<Result<Vec<_>>>()?;
    connected(client, what)?;
    let groups = client.groups();
    let answers = match change {
        ParticipantChange::Add => groups.add_participants(group, &asked).await,
        ParticipantChange::Remove => groups.remove_participants(group, &asked).await,
        ParticipantChange::Promote => groups.promote_participants(group, &asked).await,
        ParticipantChange::Demote => groups.demote_participants(group, &asked).await,
    }
    .map_err(|e| classify(what, Target::GroupAdmin, &e))?;
    Ok(participant_results(&asked, change, &answers))
}

pub async fn update_group(client: &Client, jid: &str, setting: &GroupSetting) -> Result<()> {
    let what = format!("change the group's {}", setting.field());
    let group = parse_group(jid)?;
    let groups = client.groups();
    let admin = |e: whatsapp_rust::features::GroupError| classify(&what, Target::GroupAdmin, &e);
    match setting {
        GroupSetting::Subject(subject) => {
            let subject = GroupSubject::new(subject.as_str())
                .map_err(|e| Error::invalid_field("subject", e.to_string()))?;
            connected(client, &what)?;
            groups.set_subject(group, subject).await.map_err(admin)
        }
        GroupSetting::Description(text) => {
            let description = if text.is_empty() {
                None
            } else {
                Some(
                    GroupDescription::new(text.as_str())
                        .map_err(|e| Error::invalid_field("description", e.to_string()))?,
                )
            };
            connected(client, &what)?;
            groups
                .set_description(group, description, PreviousDescription::Resolve)
                .await
                .map_err(|e| match e {
                    whatsapp_rust::features::GroupError::DescriptionConflict => {
                        Error::unavailable(format!(
                            "cannot {what}: another device changed the description at the same \
                             time; retry"
                        ))
                    }
                    other => admin(other),
                })
        }
        GroupSetting::Announce(on) => {
            connected(client, &what)?;
            groups.set_announce(group, *on).await.map_err(admin)
        }
        GroupSetting::Restrict(on) => {
            connected(client, &what)?;
            groups.set_locked(group, *on).await.map_err(admin)
        }
        GroupSetting::JoinApproval(on) => {
            let mode = if *on {
                MembershipApprovalMode::On
            } else {
                MembershipApprovalMode::Off
            };
            connected(client, &what)?;
            groups
                .set_membership_approval(group, mode)
                .await
                .map_err(admin)
        }
        GroupSetting::MemberAddMode(mode) => {
            let mode = match mode {
                pb::MemberAddMode::AdminsOnly => MemberAddMode::AdminAdd,
                pb::MemberAddMode::AllMembers => MemberAddMode::AllMemberAdd,
                pb::MemberAddMode::Unspecified => {
                    return Err(Error::invalid_field("member_add_mode", "is required"));
                }
            };
            connected(client, &what)?;
            groups.set_member_add_mode(group, mode).await.map_err(admin)
        }
        GroupSetting::Picture(Some(blob)) => {
            let bytes = picture_bytes(blob)?;
            connected(client, &what)?;
            groups
                .set_profile_picture(group, bytes)
                .await
                .map(|_| ())
                .map_err(admin)
        }
        GroupSetting::Picture(None) => {
            connected(client, &what)?;
            groups
                .remove_profile_picture(group)
                .await
                .map(|_| ())
                .map_err(admin)
        }
    }
}

pub async fn group_picture(client: &Client, jid: &str, preview: bool) -> Result<Option<Picture>> {
    let what = "fetch the group picture";
    let group = parse_group(jid)?;
    connected(client, what)?;
    let kind = if preview {
        PictureType::Preview
    } else {
        PictureType::Image
    };
    let pictures = client
        .groups()
        .get_profile_pictures(vec![group.clone()], kind)
        .await
        .map_err(|e| classify(what, Target::GroupRead, &e))?;
    Ok(pictures
        .into_iter()
        .find(|p| p.group_jid == group)
        .and_then(|p| {
            p.url.filter(|u| !u.is_empty()).map(|uri| Picture {
                uri,
                id: p.photo_id.unwrap_or_default(),
            })
        }))
}

pub async fn invite_code(client: &Client, jid: &str, reset: bool) -> Result<String> {
    let what = if reset {
        "reset the invite link"
    } else {
        "get the invite link"
    };
    let group = parse_group(jid)?;
    connected(client, what)?;
    client
        .groups()
        .get_invite_link(group, reset)
        .await
        .map(|link| code_of_link(&link))
        .map_err(|e| classify(what, Target::GroupAdmin, &e))
}

pub async fn invite_info(client: &Client, code: &str) -> Result<pb::Group> {
    let what = "preview the invite";
    connected(client, what)?;
    let meta = client
        .groups()
        .get_invite_info(code)
        .await
        .map_err(|e| classify(what, Target::Invite, &e))?;
    Ok(group(&meta, &Me::of(client)))
}

pub async fn join_group(client: &Client, code: &str) -> Result<JoinedGroup> {
    let what = "join the group";
    connected(client, what)?;
    let result = client
        .groups()
        .join_with_invite_code(code)
        .await
        .map_err(|e| classify(what, Target::Invite, &e))?;
    Ok(joined(&result))
}

pub async fn leave_group(client: &Client, jid: &str) -> Result<()> {
    let what = "leave the group";
    let group = parse_group(jid)?;
    connected(client, what)?;
    client
        .groups()
        .leave(group)
        .await
        .map_err(|e| classify(what, Target::GroupRead, &e))
}

#[cfg(test)]
#[path = "groups_tests.rs"]
mod tests;
