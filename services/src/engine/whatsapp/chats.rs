//! Chat actions taken on the account's other devices (app-state sync): a
//! chat read or deleted there.

use whatsapp_rust::Jid;

use super::directory::user_jid;
use crate::engine::EngineEvent;

/// A chat marked read (`read` true) on another device; marking it unread
/// changes nothing we count.
pub fn marked_read(chat: &Jid, read: Option<bool>) -> Option<EngineEvent> {
    (read == Some(true)).then(|| EngineEvent::ChatRead {
        chat: user_jid(chat),
    })
}

pub fn deleted(chat: &Jid) -> EngineEvent {
    EngineEvent::ChatDeleted {
        chat: user_jid(chat),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_deletes_name_the_chat_without_device() {
        let jid: Jid = "15551234567:4@s.whatsapp.net".parse().unwrap();
        assert_eq!(
            marked_read(&jid, Some(true)),
            Some(EngineEvent::ChatRead {
                chat: "15551234567@s.whatsapp.net".into()
            })
        );
        assert_eq!(marked_read(&jid, Some(false)), None);
        assert_eq!(marked_read(&jid, None), None);
        let group: Jid = "120363012345678901@g.us".parse().unwrap();
        assert_eq!(
            deleted(&group),
            EngineEvent::ChatDeleted {
                chat: "120363012345678901@g.us".into()
            }
        );
    }
}
