//! Contacts and groups as engines report them. Values use the public API's
//! types (`wagate.v1.Contact`, `Group`, `PhoneNumberCheck`,
//! `ParticipantResult`) with resource names (`name` fields) left empty: the
//! session layer names them, since only it knows the session id.

use wagate_proto::v1 as pb;

use super::MediaBlob;

/// A profile or group picture on WhatsApp's servers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Picture {
    pub uri: String,
    /// WhatsApp's id of the picture; changes when the picture changes.
    pub id: String,
}

/// A change of group membership or roles, asked for or reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParticipantChange {
    Add,
    Remove,
    Promote,
    Demote,
}

impl ParticipantChange {
    pub fn to_pb(self) -> pb::ParticipantChangeType {
        match self {
            ParticipantChange::Add => pb::ParticipantChangeType::Add,
            ParticipantChange::Remove => pb::ParticipantChangeType::Remove,
            ParticipantChange::Promote => pb::ParticipantChangeType::Promote,
            ParticipantChange::Demote => pb::ParticipantChangeType::Demote,
        }
    }
}

/// One group setting to change; each is a separate WhatsApp operation.
#[derive(Clone, Debug, PartialEq)]
pub enum GroupSetting {
    Subject(String),
    Description(String),
    /// Only admins can send.
    Announce(bool),
    /// Only admins can edit subject, description and picture ("locked").
    Restrict(bool),
    /// Admins approve joins through the invite link.
    JoinApproval(bool),
    MemberAddMode(pb::MemberAddMode),
    /// A JPEG or PNG to set; `None` removes the picture.
    Picture(Option<MediaBlob>),
}

impl GroupSetting {
    /// The `wagate.v1.Group` field this setting changes (for update masks).
    pub fn field(&self) -> &'static str {
        match self {
            GroupSetting::Subject(_) => "subject",
            GroupSetting::Description(_) => "description",
            GroupSetting::Announce(_) => "announce",
            GroupSetting::Restrict(_) => "restrict",
            GroupSetting::JoinApproval(_) => "join_approval",
            GroupSetting::MemberAddMode(_) => "member_add_mode",
            GroupSetting::Picture(_) => "picture_uri",
        }
    }
}

/// The outcome of joining a group with an invite code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JoinedGroup {
    /// The group JID.
    pub jid: String,
    /// An admin must approve before the account is a member.
    pub approval_pending: bool,
}

/// What an engine reports about contacts and groups, as part of
/// [`super::EngineEvent`].
#[derive(Clone, Debug, PartialEq)]
pub enum DirectoryEvent {
    /// Contacts learned or changed: address-book sync, push names, pictures,
    /// blocks. `update_mask` empty: the contacts are complete
    /// (`contacts.upsert`); else only the listed fields and the identifying
    /// ones (`jid`, `phone_number`, `lid`) are set (`contacts.update`).
    Contacts {
        contacts: Vec<pb::Contact>,
        update_mask: Vec<String>,
    },
    /// Groups joined, created or changed. `update_mask` empty: complete
    /// groups with participants (`groups.upsert`); else only the listed
    /// fields and `jid` are set (`groups.update`). `author`: who changed it,
    /// when known.
    Groups {
        groups: Vec<pb::Group>,
        update_mask: Vec<String>,
        author: String,
    },
    /// Members of `group` (a JID) were added, removed, promoted or demoted
    /// (`group-participants.update`). Includes the account itself (e.g. it
    /// was added to a group, which also produces a `Groups` upsert).
    Participants {
        group: String,
        participants: Vec<String>,
        change: ParticipantChange,
        author: String,
    },
}
