//! GroupService over gRPC: decode, authorize, validate, call the domain
//! (`service`), encode (resource names are added here).

use tonic::{Request, Response, Status};
use wagate_proto::v1 as pb;
use wagate_proto::v1::group_service_server::GroupService;

use super::service::{Groups, SettingInput, named as group_pb};
use crate::api::{
    authorize, authorize_session, decode_text_page_token, encode_text_page_token, page_size,
    session_id,
};
use crate::auth::Authenticator;
use crate::engine::{GroupSetting, ParticipantChange};
use crate::error::{Error, FieldViolation, Result};
use crate::message::model::normalize_chat;
use crate::session::model::SessionId;

const MAX_SUBJECT: usize = 100;
const MAX_DESCRIPTION: usize = 2048;
const MAX_PARTICIPANTS: usize = 50;
const INVITE_PREFIX: &str = "https://chat.whatsapp.com/";

/// The GroupService handler.
pub struct GroupApi {
    groups: Groups,
    auth: Authenticator,
}

impl GroupApi {
    pub fn new(groups: Groups, auth: Authenticator) -> Self {
        Self { groups, auth }
    }
}

/// Parses a group name; the `@g.us` suffix may be omitted.
pub fn parse_group_name(name: &str, field: &str) -> Result<(SessionId, String)> {
    let invalid = || {
        Error::invalid_field(
            field,
            format!("{name:?} is not a group name like sessions/1/groups/120363012345678901@g.us"),
        )
    };
    let rest = name.strip_prefix("sessions/").ok_or_else(invalid)?;
    let (session, group) = rest.split_once("/groups/").ok_or_else(invalid)?;
    let session = session_id(&format!("sessions/{session}"), field)?;
    let group = if group.contains('@') {
        group.to_owned()
    } else {
        format!("{group}@g.us")
    };
    match normalize_chat(&group) {
        Ok(jid) if jid.ends_with("@g.us") => Ok((session, jid)),
        _ => Err(invalid()),
    }
}

/// Participants of a request as JIDs, 1 to 50.
fn participant_jids(inputs: &[String], field: &str) -> Result<Vec<String>> {
    if inputs.is_empty() || inputs.len() > MAX_PARTICIPANTS {
        return Err(Error::invalid_field(
            field,
            format!("has {} entries; give 1 to {MAX_PARTICIPANTS}", inputs.len()),
        ));
    }
    let mut jids = Vec::with_capacity(inputs.len());
    let mut violations = Vec::new();
    for (i, input) in inputs.iter().enumerate() {
        match normalize_chat(input) {
            Ok(jid) if jid.ends_with("@s.whatsapp.net") || jid.ends_with("@lid") => jids.push(jid),
            Ok(_) => violations.push(FieldViolation::new(
                format!("{field}[{i}]"),
                format!("{input:?} is not a user: give a phone number, phone-number JID or LID"),
            )),
            Err(e) => violations.push(FieldViolation::new(format!("{field}[{i}]"), e)),
        }
    }
    if violations.is_empty() {
        Ok(jids)
    } else {
        Err(Error::invalid(violations))
    }
}

/// An invite code from a code or a whole link.
fn invite_code(input: &str) -> Result<String> {
    let code = input.trim();
    let code = code.strip_prefix(INVITE_PREFIX).unwrap_or(code);
    if code.is_empty() || code.len() > 64 || !code.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(Error::invalid_field(
            "invite_code",
            format!("{input:?} is not an invite code or a {INVITE_PREFIX}<code> link"),
        ));
    }
    Ok(code.to_owned())
}

fn check_text(violations: &mut Vec<FieldViolation>, field: &str, value: &str, max: usize) {
    if value.chars().count() > max {
        violations.push(FieldViolation::new(
            field,
            format!("is longer than {max} characters"),
        ));
    }
}

#[tonic::async_trait]
impl GroupService for GroupApi {
    async fn create_group(
        &self,
        request: Request<pb::CreateGroupRequest>,
    ) -> Result<Response<pb::Group>, Status> {
        let session =
            authorize_session(&self.auth, &request, &request.get_ref().parent, "parent").await?;
        let request = request.into_inner();
        let group = request
            .group
            .ok_or_else(|| Error::invalid_field("group", "is required"))?;
        let subject = group.subject.trim();
        let mut violations = Vec::new();
        if subject.is_empty() {
            violations.push(FieldViolation::new("group.subject", "is required"));
        }
        check_text(&mut violations, "group.subject", subject, MAX_SUBJECT);
        check_text(
            &mut violations,
            "group.description",
            &group.description,
            MAX_DESCRIPTION,
        );
        if request.request_id.chars().count() > 128 {
            violations.push(FieldViolation::new(
                "request_id",
                "is longer than 128 characters",
            ));
        }
        let inputs: Vec<String> = group.participants.iter().map(|p| p.jid.clone()).collect();
        let participants = if inputs.is_empty() {
            Vec::new()
        } else {
            match participant_jids(&inputs, "group.participants") {
                Ok(jids) => jids,
                Err(err) => {
                    violations.extend(err.field_violations);
                    Vec::new()
                }
            }
        };
        if !violations.is_empty() {
            return Err(Error::invalid(violations).into());
        }
        let request_id = Some(request.request_id.as_str()).filter(|k| !k.is_empty());
        let created = self
            .groups
            .create(
                session,
                subject,
                &group.description,
                &participants,
                request_id,
            )
            .await?;
        Ok(Response::new(group_pb(session, created, true)))
    }

    async fn list_groups(
        &self,
        request: Request<pb::ListGroupsRequest>,
    ) -> Result<Response<pb::ListGroupsResponse>, Status> {
        let session =
            authorize_session(&self.auth, &request, &request.get_ref().parent, "parent").await?;
        let request = request.into_inner();
        let limit = page_size(request.page_size, 100, 1000)?;
        let after = decode_text_page_token(&request.page_token, "groups")?;
        let full = request.view == pb::GroupView::Full as i32;
        let page = self.groups.list(session, after.as_deref(), limit).await?;
        Ok(Response::new(pb::ListGroupsResponse {
            groups: page
                .groups
                .into_iter()
                .map(|g| group_pb(session, g, full))
                .collect(),
            next_page_token: encode_text_page_token(page.last_jid.as_deref(), "groups"),
            total_size: page.total as i32,
        }))
    }

    async fn get_group(
        &self,
        request: Request<pb::GetGroupRequest>,
    ) -> Result<Response<pb::Group>, Status> {
        let (session, jid) = authorize(&self.auth, &request, || {
            parse_group_name(&request.get_ref().name, "name")
        })
        .await?;
        let basic = request.get_ref().view == pb::GroupView::Basic as i32;
        let group = self.groups.get(session, &jid).await?;
        Ok(Response::new(group_pb(session, group, !basic)))
    }

    async fn list_participants(
        &self,
        request: Request<pb::ListParticipantsRequest>,
    ) -> Result<Response<pb::ListParticipantsResponse>, Status> {
        let (session, jid) = authorize(&self.auth, &request, || {
            parse_group_name(&request.get_ref().parent, "parent")
        })
        .await?;
        let request = request.into_inner();
        let limit = page_size(request.page_size, 256, 1000)? as usize;
        let offset =
            crate::api::decode_query_page_token(&request.page_token, &jid)?.unwrap_or(0) as usize;
        let group = group_pb(session, self.groups.get(session, &jid).await?, true);
        let total = group.participants.len();
        let participants: Vec<_> = group
            .participants
            .into_iter()
            .skip(offset)
            .take(limit)
            .collect();
        let next = offset + participants.len();
        Ok(Response::new(pb::ListParticipantsResponse {
            participants,
            next_page_token: crate::api::encode_query_page_token(
                (next < total).then_some(next as i64),
                &jid,
            ),
            total_size: total as i32,
        }))
    }

    async fn add_participants(
        &self,
        request: Request<pb::AddParticipantsRequest>,
    ) -> Result<Response<pb::AddParticipantsResponse>, Status> {
        let (session, jid) = authorize(&self.auth, &request, || {
            parse_group_name(&request.get_ref().parent, "parent")
        })
        .await?;
        let jids = participant_jids(&request.get_ref().participants, "participants")?;
        let results = self
            .groups
            .change_participants(session, &jid, ParticipantChange::Add, &jids)
            .await?;
        Ok(Response::new(pb::AddParticipantsResponse { results }))
    }

    async fn remove_participants(
        &self,
        request: Request<pb::RemoveParticipantsRequest>,
    ) -> Result<Response<pb::RemoveParticipantsResponse>, Status> {
        let (session, jid) = authorize(&self.auth, &request, || {
            parse_group_name(&request.get_ref().parent, "parent")
        })
        .await?;
        let jids = participant_jids(&request.get_ref().participants, "participants")?;
        let results = self
            .groups
            .change_participants(session, &jid, ParticipantChange::Remove, &jids)
            .await?;
        Ok(Response::new(pb::RemoveParticipantsResponse { results }))
    }

    async fn update_participants(
        &self,
        request: Request<pb::UpdateParticipantsRequest>,
    ) -> Result<Response<pb::UpdateParticipantsResponse>, Status> {
        let (session, jid) = authorize(&self.auth, &request, || {
            parse_group_name(&request.get_ref().parent, "parent")
        })
        .await?;
        let change = match pb::ParticipantAction::try_from(request.get_ref().action) {
            Ok(pb::ParticipantAction::Promote) => ParticipantChange::Promote,
            Ok(pb::ParticipantAction::Demote) => ParticipantChange::Demote,
            _ => {
                return Err(Error::invalid_field(
                    "action",
                    "is required: PARTICIPANT_ACTION_PROMOTE or PARTICIPANT_ACTION_DEMOTE",
                )
                .into());
            }
        };
        let jids = participant_jids(&request.get_ref().participants, "participants")?;
        let results = self
            .groups
            .change_participants(session, &jid, change, &jids)
            .await?;
        Ok(Response::new(pb::UpdateParticipantsResponse { results }))
    }

    async fn update_group_settings(
        &self,
        request: Request<pb::UpdateGroupSettingsRequest>,
    ) -> Result<Response<pb::Group>, Status> {
        let name = request
            .get_ref()
            .group
            .as_ref()
            .map(|g| g.name.clone())
            .ok_or_else(|| Error::invalid_field("group", "is required"))?;
        let (session, jid) = authorize(&self.auth, &request, || {
            parse_group_name(&name, "group.name")
        })
        .await?;
        let request = request.into_inner();
        let group = request.group.unwrap_or_default();
        let paths = request.update_mask.map(|m| m.paths).unwrap_or_default();
        if paths.is_empty() {
            return Err(Error::invalid_field(
                "update_mask",
                "is required: name the settings to change (subject, description, announce, restrict, \
                 join_approval, member_add_mode, picture_uri)",
            )
            .into());
        }
        // Applied in the documented order, whatever the mask's order.
        const ORDER: [&str; 7] = [
            "subject",
            "description",
            "announce",
            "restrict",
            "join_approval",
            "member_add_mode",
            "picture_uri",
        ];
        let mut violations = Vec::new();
        for path in &paths {
            if !ORDER.contains(&path.as_str()) {
                violations.push(FieldViolation::new(
                    "update_mask",
                    format!("{path:?} cannot be changed; use {}", ORDER.join(", ")),
                ));
            }
        }
        let subject = group.subject.trim().to_owned();
        if paths.iter().any(|p| p == "subject") {
            if subject.is_empty() {
                violations.push(FieldViolation::new("group.subject", "must not be empty"));
            }
            check_text(&mut violations, "group.subject", &subject, MAX_SUBJECT);
        }
        check_text(
            &mut violations,
            "group.description",
            &group.description,
            MAX_DESCRIPTION,
        );
        let mode = pb::MemberAddMode::try_from(group.member_add_mode)
            .unwrap_or(pb::MemberAddMode::Unspecified);
        if paths.iter().any(|p| p == "member_add_mode") && mode == pb::MemberAddMode::Unspecified {
            violations.push(FieldViolation::new(
                "group.member_add_mode",
                "is required: MEMBER_ADD_MODE_ADMINS_ONLY or MEMBER_ADD_MODE_ALL_MEMBERS",
            ));
        }
        if !violations.is_empty() {
            return Err(Error::invalid(violations).into());
        }
        let settings = ORDER
            .iter()
            .filter(|field| paths.iter().any(|p| p == *field))
            .map(|field| match *field {
                "subject" => SettingInput::Ready(GroupSetting::Subject(subject.clone())),
                "description" => {
                    SettingInput::Ready(GroupSetting::Description(group.description.clone()))
                }
                "announce" => SettingInput::Ready(GroupSetting::Announce(group.announce)),
                "restrict" => SettingInput::Ready(GroupSetting::Restrict(group.restrict)),
                "join_approval" => {
                    SettingInput::Ready(GroupSetting::JoinApproval(group.join_approval))
                }
                "member_add_mode" => SettingInput::Ready(GroupSetting::MemberAddMode(mode)),
                _ => SettingInput::Picture(group.picture_uri.trim().to_owned()),
            })
            .collect();
        let updated = self.groups.update_settings(session, &jid, settings).await?;
        Ok(Response::new(group_pb(session, updated, true)))
    }

    async fn get_group_picture(
        &self,
        request: Request<pb::GetGroupPictureRequest>,
    ) -> Result<Response<pb::GroupPicture>, Status> {
        let (session, jid) = authorize(&self.auth, &request, || {
            parse_group_name(&request.get_ref().name, "name")
        })
        .await?;
        let preview = request.get_ref().preview;
        let picture = self
            .groups
            .picture(session, &jid, preview)
            .await?
            .unwrap_or_default();
        Ok(Response::new(pb::GroupPicture {
            group: format!("sessions/{session}/groups/{jid}"),
            uri: picture.uri,
            picture_id: picture.id,
            preview,
        }))
    }

    async fn get_invite_link(
        &self,
        request: Request<pb::GetInviteLinkRequest>,
    ) -> Result<Response<pb::GroupInviteLink>, Status> {
        let (session, jid) = authorize(&self.auth, &request, || {
            parse_group_name(&request.get_ref().name, "name")
        })
        .await?;
        let code = self
            .groups
            .invite_code(session, &jid, request.get_ref().reset)
            .await?;
        Ok(Response::new(pb::GroupInviteLink {
            group: format!("sessions/{session}/groups/{jid}"),
            invite_link: format!("{INVITE_PREFIX}{code}"),
            invite_code: code,
        }))
    }

    async fn get_invite_info(
        &self,
        request: Request<pb::GetInviteInfoRequest>,
    ) -> Result<Response<pb::Group>, Status> {
        let session =
            authorize_session(&self.auth, &request, &request.get_ref().parent, "parent").await?;
        let code = invite_code(&request.get_ref().invite_code)?;
        let group = self.groups.invite_info(session, &code).await?;
        Ok(Response::new(group_pb(session, group, true)))
    }

    async fn accept_invite(
        &self,
        request: Request<pb::AcceptInviteRequest>,
    ) -> Result<Response<pb::AcceptInviteResponse>, Status> {
        let session =
            authorize_session(&self.auth, &request, &request.get_ref().parent, "parent").await?;
        let code = invite_code(&request.get_ref().invite_code)?;
        let joined = self.groups.join(session, &code).await?;
        Ok(Response::new(pb::AcceptInviteResponse {
            group: format!("sessions/{session}/groups/{}", joined.jid),
            jid: joined.jid,
            approval_pending: joined.approval_pending,
        }))
    }

    async fn leave_group(
        &self,
        request: Request<pb::LeaveGroupRequest>,
    ) -> Result<Response<pb::LeaveGroupResponse>, Status> {
        let (session, jid) = authorize(&self.auth, &request, || {
            parse_group_name(&request.get_ref().name, "name")
        })
        .await?;
        self.groups.leave(session, &jid).await?;
        Ok(Response::new(pb::LeaveGroupResponse {
            group: format!("sessions/{session}/groups/{jid}"),
        }))
    }
}
