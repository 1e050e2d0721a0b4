//! The group domain. Group metadata is served from the session's cache
//! (filled on connect, by the session's own calls and by group events) so
//! integrators need not poll WhatsApp; live queries and participant changes
//! count against account protection.

use std::sync::Arc;

use prost::Message as _;
use wagate_proto::v1 as pb;

use crate::engine::{GroupSetting, JoinedGroup, ParticipantChange, Picture};
use crate::error::{Error, Result};
use crate::media::MediaService;
use crate::protection::{Protection, RiskyCall};
use crate::session::SessionManager;
use crate::session::model::SessionId;
use crate::store::{GroupRow, Store};

/// The group domain. Cheap to clone.
#[derive(Clone)]
pub struct Groups {
    store: Store,
    sessions: SessionManager,
    media: MediaService,
    protection: Arc<Protection>,
}

/// A page of cached groups (without resource names).
pub struct GroupPage {
    pub groups: Vec<pb::Group>,
    pub last_jid: Option<String>,
    pub total: i64,
}

/// A setting to change, before its media (a picture) is resolved.
pub enum SettingInput {
    Ready(GroupSetting),
    /// A picture from a URL or an uploaded media name; empty removes it.
    Picture(String),
}

impl Groups {
    pub fn new(
        store: Store,
        sessions: SessionManager,
        media: MediaService,
        protection: Arc<Protection>,
    ) -> Self {
        Self {
            store,
            sessions,
            media,
            protection,
        }
    }

    async fn cache(
        &self,
        session: SessionId,
        group: &pb::Group,
        request_id: Option<&str>,
    ) -> Result<()> {
        self.store
            .put_group(session, &group.jid, &group.encode_to_vec(), request_id)
            .await
    }

    async fn cached(&self, session: SessionId, jid: &str) -> Result<Option<pb::Group>> {
        self.store
            .group(session, jid)
            .await?
            .map(|row| decode(&row))
            .transpose()
    }

    /// Creates a group; a repeated `request_id` returns the group created
    /// the first time.
    pub async fn create(
        &self,
        session: SessionId,
        subject: &str,
        description: &str,
        participants: &[String],
        request_id: Option<&str>,
    ) -> Result<pb::Group> {
        let connection = self
            .sessions
            .require_connection(session, "create a group")
            .await?;
        if let Some(key) = request_id
            && let Some(row) = self.store.group_by_request(session, key).await?
        {
            return decode(&row);
        }
        self.protection.admit(session, RiskyCall::Groups, 1)?;
        let mut group = connection.create_group(subject, participants).await?;
        if !description.is_empty() {
            connection
                .update_group(
                    &group.jid,
                    &GroupSetting::Description(description.to_owned()),
                )
                .await?;
            description.clone_into(&mut group.description);
        }
        self.cache(session, &group, request_id).await?;
        Ok(group)
    }

    pub async fn list(
        &self,
        session: SessionId,
        after_jid: Option<&str>,
        limit: i64,
    ) -> Result<GroupPage> {
        self.sessions.get(session).await?;
        let (rows, total) = self.store.list_groups(session, after_jid, limit).await?;
        let groups = rows.iter().map(decode).collect::<Result<Vec<_>>>()?;
        let last_jid = (groups.len() as i64 == limit)
            .then(|| groups.last().map(|g| g.jid.clone()))
            .flatten();
        Ok(GroupPage {
            groups,
            last_jid,
            total,
        })
    }

    /// A group from the cache, else asked of WhatsApp (and cached).
    pub async fn get(&self, session: SessionId, jid: &str) -> Result<pb::Group> {
        self.sessions.get(session).await?;
        if let Some(group) = self.cached(session, jid).await? {
            return Ok(group);
        }
        let connection = self
            .sessions
            .require_connection(session, "query a group")
            .await?;
        self.protection.admit(session, RiskyCall::Groups, 1)?;
        let group = connection.group_info(jid).await?;
        self.cache(session, &group, None).await?;
        Ok(group)
    }

    /// Adds, removes, promotes or demotes members; the cache follows the
    /// successful ones.
    pub async fn change_participants(
        &self,
        session: SessionId,
        jid: &str,
        change: ParticipantChange,
        participants: &[String],
    ) -> Result<Vec<pb::ParticipantResult>> {
        let connection = self
            .sessions
            .require_connection(session, "change group participants")
            .await?;
        self.protection.admit(session, RiskyCall::Groups, 1)?;
        let results = connection
            .change_participants(jid, change, participants)
            .await?;
        if let Some(mut group) = self.cached(session, jid).await? {
            let done: Vec<String> = results
                .iter()
                .filter(|r| r.success)
                .map(|r| r.jid.clone())
                .collect();
            apply_participant_change(&mut group, change, &done);
            self.cache(session, &group, None).await?;
        }
        Ok(results)
    }

    /// Applies settings in order; stops at the first failure, naming its field.
    pub async fn update_settings(
        &self,
        session: SessionId,
        jid: &str,
        settings: Vec<SettingInput>,
    ) -> Result<pb::Group> {
        let connection = self
            .sessions
            .require_connection(session, "change group settings")
            .await?;
        let mut group = self.get(session, jid).await?;
        for input in settings {
            let setting = match input {
                SettingInput::Ready(setting) => setting,
                SettingInput::Picture(source) => self.picture_setting(session, &source).await?,
            };
            let field = setting.field();
            connection
                .update_group(jid, &setting)
                .await
                .map_err(|mut err| {
                    err.message = format!("group.{field}: {}", err.message);
                    err
                })?;
            apply_setting(&mut group, &setting);
            self.cache(session, &group, None).await?;
        }
        Ok(group)
    }

    async fn picture_setting(&self, session: SessionId, source: &str) -> Result<GroupSetting> {
        if source.is_empty() {
            return Ok(GroupSetting::Picture(None));
        }
        let source = if source.starts_with("sessions/") {
            pb::media_source::Source::Media(source.to_owned())
        } else {
            pb::media_source::Source::Uri(source.to_owned())
        };
        let source = pb::MediaSource {
            source: Some(source),
        };
        let field = "group.picture_uri";
        self.media.check_source(session, &source, field).await?;
        let blob = self
            .media
            .resolve(session, &source, crate::media::Category::Image, None)
            .await
            .map_err(|mut err| {
                err.message = format!("{field}: {}", err.message);
                err
            })?;
        if blob.mime_type != "image/jpeg" && blob.mime_type != "image/png" {
            return Err(Error::invalid_field(
                field,
                format!(
                    "is {}; a group picture must be a JPEG or PNG",
                    blob.mime_type
                ),
            ));
        }
        Ok(GroupSetting::Picture(Some(blob)))
    }

    pub async fn picture(
        &self,
        session: SessionId,
        jid: &str,
        preview: bool,
    ) -> Result<Option<Picture>> {
        let connection = self
            .sessions
            .require_connection(session, "fetch a group picture")
            .await?;
        self.protection.admit(session, RiskyCall::Pictures, 1)?;
        connection.group_picture(jid, preview).await
    }

    pub async fn invite_code(&self, session: SessionId, jid: &str, reset: bool) -> Result<String> {
        let connection = self
            .sessions
            .require_connection(session, "get an invite link")
            .await?;
        connection.invite_code(jid, reset).await
    }

    pub async fn invite_info(&self, session: SessionId, code: &str) -> Result<pb::Group> {
        let connection = self
            .sessions
            .require_connection(session, "preview an invite")
            .await?;
        self.protection.admit(session, RiskyCall::Groups, 1)?;
        connection.invite_info(code).await
    }

    pub async fn join(&self, session: SessionId, code: &str) -> Result<JoinedGroup> {
        let connection = self
            .sessions
            .require_connection(session, "join a group")
            .await?;
        self.protection.admit(session, RiskyCall::Groups, 1)?;
        connection.join_group(code).await
    }

    pub async fn leave(&self, session: SessionId, jid: &str) -> Result<()> {
        let connection = self
            .sessions
            .require_connection(session, "leave a group")
            .await?;
        connection.leave_group(jid).await?;
        self.store.delete_group(session, jid).await
    }
}

/// Names a group (and its participants) for the session; BASIC drops participants.
pub fn named(session: SessionId, mut group: pb::Group, full: bool) -> pb::Group {
    group.name = format!("sessions/{session}/groups/{}", group.jid);
    if full {
        sort_participants(&mut group.participants);
        for p in &mut group.participants {
            p.name = format!("{}/participants/{}", group.name, p.jid);
        }
    } else {
        group.participants.clear();
    }
    group
}

/// Super admins, then admins, then members; by JID within a role.
fn sort_participants(participants: &mut [pb::GroupParticipant]) {
    participants.sort_by(|a, b| b.role.cmp(&a.role).then_with(|| a.jid.cmp(&b.jid)));
}

pub fn decode(row: &GroupRow) -> Result<pb::Group> {
    pb::Group::decode(row.metadata.as_slice())
        .map_err(|e| Error::internal(format!("cached group {} is unreadable: {e}", row.jid)))
}

/// Applies a membership change to a group's participants.
pub fn apply_participant_change(group: &mut pb::Group, change: ParticipantChange, jids: &[String]) {
    let matches = |p: &pb::GroupParticipant, jid: &String| {
        p.jid == *jid || (!p.lid.is_empty() && p.lid == *jid) || {
            let digits = jid.strip_suffix("@s.whatsapp.net");
            digits.is_some_and(|d| p.phone_number.trim_start_matches('+') == d)
        }
    };
    for jid in jids {
        let position = group.participants.iter().position(|p| matches(p, jid));
        match (change, position) {
            (ParticipantChange::Add, None) => group.participants.push(pb::GroupParticipant {
                jid: jid.clone(),
                phone_number: jid
                    .strip_suffix("@s.whatsapp.net")
                    .map(|d| format!("+{d}"))
                    .unwrap_or_default(),
                lid: if jid.ends_with("@lid") {
                    jid.clone()
                } else {
                    String::new()
                },
                role: pb::GroupParticipantRole::Member as i32,
                ..Default::default()
            }),
            (ParticipantChange::Remove, Some(i)) => {
                group.participants.remove(i);
            }
            (ParticipantChange::Promote, Some(i)) => {
                group.participants[i].role = pb::GroupParticipantRole::Admin as i32
            }
            (ParticipantChange::Demote, Some(i)) => {
                group.participants[i].role = pb::GroupParticipantRole::Member as i32
            }
            _ => {}
        }
    }
    group.size = group.participants.len() as i32;
}

/// Applies a setting to a cached group.
pub fn apply_setting(group: &mut pb::Group, setting: &GroupSetting) {
    match setting {
        GroupSetting::Subject(subject) => subject.clone_into(&mut group.subject),
        GroupSetting::Description(text) => text.clone_into(&mut group.description),
        GroupSetting::Announce(on) => group.announce = *on,
        GroupSetting::Restrict(on) => group.restrict = *on,
        GroupSetting::JoinApproval(on) => group.join_approval = *on,
        GroupSetting::MemberAddMode(mode) => group.member_add_mode = *mode as i32,
        // The new URL arrives with the group's update event.
        GroupSetting::Picture(None) => group.picture_uri.clear(),
        GroupSetting::Picture(Some(_)) => {}
    }
}

/// Copies the fields named in `mask` from a partial group (a groups.update).
pub fn apply_update(group: &mut pb::Group, partial: &pb::Group, mask: &[String]) {
    for field in mask {
        match field.as_str() {
            "subject" => partial.subject.clone_into(&mut group.subject),
            "description" => partial.description.clone_into(&mut group.description),
            "announce" => group.announce = partial.announce,
            "restrict" => group.restrict = partial.restrict,
            "join_approval" => group.join_approval = partial.join_approval,
            "member_add_mode" => group.member_add_mode = partial.member_add_mode,
            "picture_uri" => partial.picture_uri.clone_into(&mut group.picture_uri),
            "ephemeral_seconds" => group.ephemeral_seconds = partial.ephemeral_seconds,
            "subject_owner" => partial.subject_owner.clone_into(&mut group.subject_owner),
            "subject_update_time" => group.subject_update_time = partial.subject_update_time,
            _ => {}
        }
    }
    group.update_time = partial.update_time.or(group.update_time);
}
