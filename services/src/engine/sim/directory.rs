//! The `sim` engine's contacts and groups: engine operations as network
//! queries (`SimNetwork::query`), and network notifications as
//! [`EngineEvent::Directory`] events.

use wagate_proto::v1 as api;
use wagate_proto::wagate::simnet::v1 as pb;

use super::SimNetwork;
use crate::engine::EngineEvent;
use crate::engine::directory::{
    DirectoryEvent, GroupSetting, JoinedGroup, ParticipantChange, Picture,
};
use crate::error::{Error, Result};

use pb::query_request::Query;
use pb::query_response::Result as Answer;

/// A network notification as an engine event.
pub(super) fn event(notification: pb::Notification) -> Option<EngineEvent> {
    use pb::notification::Change;
    let paths = |mask: Option<prost_types::FieldMask>| mask.map(|m| m.paths).unwrap_or_default();
    let event = match notification.change? {
        Change::Contacts(payload) => DirectoryEvent::Contacts {
            contacts: payload.contacts,
            update_mask: paths(payload.update_mask),
        },
        Change::Groups(payload) => DirectoryEvent::Groups {
            groups: payload.groups,
            update_mask: paths(payload.update_mask),
            author: payload.author,
        },
        Change::Participants(payload) => DirectoryEvent::Participants {
            group: payload.jid,
            participants: payload.participants,
            change: match api::ParticipantChangeType::try_from(payload.action).ok()? {
                api::ParticipantChangeType::Add => ParticipantChange::Add,
                api::ParticipantChangeType::Remove => ParticipantChange::Remove,
                api::ParticipantChangeType::Promote => ParticipantChange::Promote,
                api::ParticipantChangeType::Demote => ParticipantChange::Demote,
                api::ParticipantChangeType::Unspecified => return None,
            },
            author: payload.author,
        },
    };
    Some(EngineEvent::Directory(event))
}

/// Asks the network one query as the device.
pub(super) async fn query(
    network: &dyn SimNetwork,
    credentials: pb::DeviceCredentials,
    query: Query,
) -> Result<Answer> {
    network
        .query(pb::QueryRequest {
            credentials: Some(credentials),
            query: Some(query),
        })
        .await?
        .result
        .ok_or_else(|| Error::internal("the simulated network answered a query with nothing"))
}

fn unexpected(answer: &Answer) -> Error {
    Error::internal(format!(
        "the simulated network answered a query unexpectedly: {answer:?}"
    ))
}

pub(super) fn expect_done(answer: Answer) -> Result<()> {
    match answer {
        Answer::Done(_) => Ok(()),
        other => Err(unexpected(&other)),
    }
}

pub(super) fn expect_group(answer: Answer) -> Result<api::Group> {
    match answer {
        Answer::Group(group) => Ok(group),
        other => Err(unexpected(&other)),
    }
}

pub(super) fn expect_groups(answer: Answer) -> Result<Vec<api::Group>> {
    match answer {
        Answer::Groups(list) => Ok(list.groups),
        other => Err(unexpected(&other)),
    }
}

pub(super) fn expect_checks(answer: Answer) -> Result<Vec<api::PhoneNumberCheck>> {
    match answer {
        Answer::CheckNumbers(list) => Ok(list.results),
        other => Err(unexpected(&other)),
    }
}

pub(super) fn expect_picture(answer: Answer) -> Result<Option<Picture>> {
    match answer {
        Answer::Picture(picture) => Ok(picture.found.then_some(Picture {
            uri: picture.uri,
            id: picture.id,
        })),
        other => Err(unexpected(&other)),
    }
}

pub(super) fn expect_results(answer: Answer) -> Result<Vec<api::ParticipantResult>> {
    match answer {
        Answer::Participants(list) => Ok(list.results),
        other => Err(unexpected(&other)),
    }
}

pub(super) fn expect_invite_code(answer: Answer) -> Result<String> {
    match answer {
        Answer::InviteCode(code) => Ok(code.code),
        other => Err(unexpected(&other)),
    }
}

pub(super) fn expect_joined(answer: Answer) -> Result<JoinedGroup> {
    match answer {
        Answer::Joined(joined) => Ok(JoinedGroup {
            jid: joined.jid,
            approval_pending: joined.approval_pending,
        }),
        other => Err(unexpected(&other)),
    }
}

pub(super) fn change_query(
    group: &str,
    change: ParticipantChange,
    participants: &[String],
) -> Query {
    Query::ChangeParticipants(pb::ChangeParticipants {
        group: group.to_owned(),
        action: change.to_pb() as i32,
        participants: participants.to_vec(),
    })
}

pub(super) fn update_query(group: &str, setting: &GroupSetting) -> Query {
    use pb::update_group::Setting;
    let setting = match setting {
        GroupSetting::Subject(v) => Setting::Subject(v.clone()),
        GroupSetting::Description(v) => Setting::Description(v.clone()),
        GroupSetting::Announce(on) => Setting::Announce(*on),
        GroupSetting::Restrict(on) => Setting::Restrict(*on),
        GroupSetting::JoinApproval(on) => Setting::JoinApproval(*on),
        GroupSetting::MemberAddMode(mode) => Setting::MemberAddMode(*mode as i32),
        GroupSetting::Picture(blob) => Setting::Picture(pb::PictureUpload {
            content: blob.as_ref().map(|b| b.bytes.to_vec()).unwrap_or_default(),
            mime_type: blob
                .as_ref()
                .map(|b| b.mime_type.clone())
                .unwrap_or_default(),
        }),
    };
    Query::UpdateGroup(pb::UpdateGroup {
        group: group.to_owned(),
        setting: Some(setting),
    })
}
