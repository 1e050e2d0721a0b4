//! Recording what engines report about contacts and groups: the session's
//! contact and group stores are updated, then the events are drafted.

use crate::engine::DirectoryEvent;
use crate::error::Result;
use crate::event::record::{self, EventDraft};
use crate::session::model::SessionId;
use crate::store::Store;

/// Records one directory event of a session; returns the events to log.
pub async fn record(
    _store: &Store,
    session: SessionId,
    event: DirectoryEvent,
) -> Result<Vec<EventDraft>> {
    let draft = match event {
        DirectoryEvent::Contacts {
            contacts,
            update_mask,
        } => record::contacts(contacts, update_mask),
        DirectoryEvent::Groups {
            groups,
            update_mask,
            author,
        } => record::groups(groups, update_mask, author),
        DirectoryEvent::Participants {
            group,
            participants,
            change,
            author,
        } => record::group_participants(session, &group, participants, change, author),
    };
    Ok(vec![draft])
}
