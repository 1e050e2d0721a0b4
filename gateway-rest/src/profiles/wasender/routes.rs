//! The WasenderAPI endpoint table: one row per endpoint of seed 001's API
//! reference — path, method, RPC, request fields, paging and response shape.

use http::Method;

use super::builders;
use super::directory as dir;
use super::shapes;
use crate::profiles::{Conv, Endpoint, FieldMap as F, Paging, Scope};

/// `rpc!(SessionService, GetSession)` → `"wagate.v1.SessionService.GetSession"`.
macro_rules! rpc {
    ($service:ident, $method:ident) => {
        concat!("wagate.v1.", stringify!($service), ".", stringify!($method))
    };
}

/// Session settings by their seed 001 names (create and update).
macro_rules! session_settings {
    ($($extra:expr),* $(,)?) => {
        vec![
            $($extra,)*
            F::body("webhook_url", "session.webhook_url", Conv::Copy),
            F::body("webhook_enabled", "session.webhook_enabled", Conv::Bool),
            F::body("webhook_events", "session.webhook_events", Conv::Copy),
            F::body("read_incoming_messages", "session.read_incoming_messages", Conv::Bool),
            F::body("auto_reject_calls", "session.auto_reject_calls", Conv::Bool),
            F::body("ignore_groups", "session.ignore_groups", Conv::Bool),
            F::body("ignore_channels", "session.ignore_channels", Conv::Bool),
            F::body("ignore_broadcasts", "session.ignore_broadcasts", Conv::Bool),
            F::body("proxy_url", "session.proxy_url", Conv::Copy),
            F::body("always_online", "session.always_online", Conv::Bool),
        ]
    };
}

const SESSION_ID: F = F::path("whatsappSession", "name", Conv::SessionName);
const CALLER_PARENT: F = F::caller("parent");
const CALLER_NAME: F = F::caller("name");
const GROUP_NAME: F = F::path("groupJid", "name", Conv::CallerChild("groups"));
const GROUP_PARENT: F = F::path("groupJid", "parent", Conv::CallerChild("groups"));
const CONTACT_NAME: F = F::path("contactPhoneNumber", "name", Conv::CallerChild("contacts"));
const MESSAGE_NAME: F = F::path("msgId", "name", Conv::CallerChild("messages"));

#[allow(clippy::too_many_arguments)]
fn row(
    method: Method,
    path: &'static str,
    summary: &'static str,
    rpc: &'static str,
    scope: Scope,
    fields: Vec<F>,
    paging: Paging,
    shape: crate::profiles::ShapeFn,
) -> Endpoint {
    Endpoint {
        method,
        path,
        summary,
        rpc,
        scope,
        fields,
        build: None,
        update_mask: None,
        paging,
        shape,
    }
}

fn with_build(mut endpoint: Endpoint, build: crate::profiles::BuildFn) -> Endpoint {
    endpoint.build = Some(build);
    endpoint
}

fn with_mask(mut endpoint: Endpoint, field: &'static str, prefix: &'static str) -> Endpoint {
    endpoint.update_mask = Some((field, prefix));
    endpoint
}

/// Every endpoint of seed 001's API reference.
#[rustfmt::skip]
pub fn endpoints() -> Vec<Endpoint> {
    use Method as M;
    use Paging::None as One;
    use Scope::{Account, Session};
    let logs = |list| Paging::Pages {
        list,
        page: "page",
        size: "per_page",
        default_size: 10,
        switch: None,
    };
    let switchable = |list| Paging::Pages {
        list,
        page: "page",
        size: "limit",
        default_size: 20,
        switch: Some("paginated"),
    };
    vec![
        // Sessions: personal access token.
        row(M::GET, "/api/whatsapp-sessions", "Get all WhatsApp sessions",
            rpc!(SessionService, ListSessions), Account, vec![], Paging::All { list: "sessions" }, shapes::session_list),
        row(M::POST, "/api/whatsapp-sessions", "Create WhatsApp session",
            rpc!(SessionService, CreateSession), Account,
            session_settings![
                F::body("name", "session.display_name", Conv::Copy).required(),
                F::body("phone_number", "session.phone_number", Conv::Copy).required(),
                F::body("account_protection", "session.account_protection", Conv::Bool).required(),
                F::body("log_messages", "session.log_messages", Conv::Bool).required(),
            ],
            One, shapes::session),
        row(M::GET, "/api/whatsapp-sessions/{whatsappSession}", "Get WhatsApp session details",
            rpc!(SessionService, GetSession), Account, vec![SESSION_ID], One, shapes::session),
        with_mask(row(M::PUT, "/api/whatsapp-sessions/{whatsappSession}", "Update WhatsApp session",
            rpc!(SessionService, UpdateSession), Account,
            session_settings![
                F::path("whatsappSession", "session.name", Conv::SessionName),
                F::body("name", "session.display_name", Conv::Copy),
                F::body("phone_number", "session.phone_number", Conv::Copy),
                F::body("account_protection", "session.account_protection", Conv::Bool),
                F::body("log_messages", "session.log_messages", Conv::Bool),
            ],
            One, shapes::session), "update_mask", "session."),
        row(M::DELETE, "/api/whatsapp-sessions/{whatsappSession}", "Delete WhatsApp session",
            rpc!(SessionService, DeleteSession), Account, vec![SESSION_ID], One, shapes::no_content),
        row(M::POST, "/api/whatsapp-sessions/{whatsappSession}/connect", "Connect WhatsApp session",
            rpc!(SessionService, ConnectSession), Account, vec![SESSION_ID], One, shapes::connect),
        row(M::GET, "/api/whatsapp-sessions/{whatsappSession}/qrcode", "Get WhatsApp session QR code",
            rpc!(SessionService, GetQrCode), Account, vec![SESSION_ID], One, shapes::qr_code),
        row(M::POST, "/api/whatsapp-sessions/{whatsappSession}/disconnect", "Disconnect WhatsApp session",
            rpc!(SessionService, DisconnectSession), Account, vec![SESSION_ID], One, shapes::disconnected),
        row(M::POST, "/api/whatsapp-sessions/{whatsappSession}/restart", "Restart WhatsApp session",
            rpc!(SessionService, RestartSession), Account, vec![SESSION_ID], One, shapes::restarted),
        row(M::POST, "/api/whatsapp-sessions/{whatsappSession}/regenerate-key", "Regenerate API key",
            rpc!(SessionService, RegenerateApiKey), Account, vec![SESSION_ID], One, shapes::api_key),
        // Message logs: the messages sent through the API, newest first.
        with_build(row(M::GET, "/api/whatsapp-sessions/{whatsappSession}/message-logs", "Get message logs",
            rpc!(MessageService, ListMessages), Account,
            vec![F::path("whatsappSession", "parent", Conv::SessionName)],
            logs("messages"), shapes::message_logs), builders::outbound_only),
        row(M::GET, "/api/whatsapp-sessions/{whatsappSession}/session-logs", "Get session logs",
            rpc!(SessionService, ListSessionLogs), Account,
            vec![F::path("whatsappSession", "parent", Conv::SessionName)],
            logs("sessionLogs"), shapes::session_logs),
        // The session of the API key.
        row(M::GET, "/api/status", "Get WhatsApp session status",
            rpc!(SessionService, GetSessionStatus), Session, vec![CALLER_NAME], One, shapes::status),
        row(M::GET, "/api/user", "Get session user info",
            rpc!(SessionService, GetSessionUser), Session, vec![CALLER_NAME], One, shapes::user),
        row(M::GET, "/api/on-whatsapp/{phone_number}", "Check if a number is on WhatsApp",
            rpc!(ContactService, CheckOnWhatsApp), Session,
            vec![CALLER_PARENT, F::path("phone_number", "phone_numbers", Conv::Singleton)],
            One, dir::on_whatsapp),
        row(M::POST, "/api/send-presence-update", "Send presence update",
            rpc!(MessageService, SendPresence), Session,
            vec![
                CALLER_PARENT,
                F::body("jid", "chat", Conv::Copy).required(),
                F::body("type", "presence", Conv::EnumPrefix("PRESENCE_STATE_")).required(),
                F::body("delayMs", "duration", Conv::MillisToDuration),
            ],
            One, shapes::presence),
        // Messages.
        with_build(row(M::POST, "/api/send-message", "Send a message (text, media, contact, location, poll, quoted, mentions, view once)",
            rpc!(MessageService, SendMessage), Session,
            vec![
                CALLER_PARENT,
                F::body("to", "message.chat", Conv::Copy).required(),
                F::body("replyTo", "message.reply_to.message", Conv::CallerChild("messages")),
                F::body("mentions", "message.mentions", Conv::Copy),
                F::body("viewOnce", "message.view_once", Conv::Bool),
            ],
            One, shapes::sent), builders::message_content),
        row(M::POST, "/api/messages/{message}/resend", "Resend failed message",
            rpc!(MessageService, ResendMessage), Session,
            vec![F::path("message", "name", Conv::CallerChild("messages"))], One, shapes::resent),
        with_mask(row(M::PUT, "/api/messages/{msgId}", "Edit a message",
            rpc!(MessageService, EditMessage), Session,
            vec![
                F::path("msgId", "message.name", Conv::CallerChild("messages")),
                F::body("text", "message.text", Conv::Copy).required(),
            ],
            One, shapes::edited), "update_mask", "message."),
        row(M::GET, "/api/messages/{msgId}/info", "Get message info",
            rpc!(MessageService, GetMessage), Session, vec![MESSAGE_NAME], One, shapes::message_info),
        row(M::DELETE, "/api/messages/{msgId}", "Delete a message",
            rpc!(MessageService, DeleteMessage), Session, vec![MESSAGE_NAME], One, shapes::deleted),
        with_build(row(M::POST, "/api/messages/read", "Mark message as read",
            rpc!(MessageService, MarkRead), Session, vec![CALLER_PARENT], One, shapes::marked_read),
            builders::read_key),
        with_build(row(M::POST, "/api/upload", "Upload media file (raw bytes or JSON base64 / data URL)",
            rpc!(MessageService, UploadMedia), Session, vec![CALLER_PARENT], One, shapes::public_url),
            builders::upload),
        with_build(row(M::POST, "/api/decrypt-media", "Decrypt media file",
            rpc!(MessageService, DownloadMedia), Session, vec![CALLER_PARENT], One, shapes::public_url),
            builders::decrypt_media),
        // Contacts.
        row(M::GET, "/api/contacts", "Get all contacts",
            rpc!(ContactService, ListContacts), Session, vec![CALLER_PARENT], switchable("contacts"), dir::contact_list),
        row(M::PUT, "/api/contacts", "Create or update contact",
            rpc!(ContactService, UpsertContact), Session,
            vec![
                F::body("jid", "contact.name", Conv::CallerChild("contacts")).required(),
                F::body("fullName", "contact.full_name", Conv::Copy),
                F::body("saveOnPrimaryAddressbook", "save_on_primary_address_book", Conv::Bool),
            ],
            One, dir::contact_saved),
        row(M::GET, "/api/contacts/{contactPhoneNumber}", "Get contact info",
            rpc!(ContactService, GetContact), Session, vec![CONTACT_NAME], One, dir::contact_info),
        row(M::GET, "/api/contacts/{contactPhoneNumber}/picture", "Get contact profile picture",
            rpc!(ContactService, GetContactPicture), Session, vec![CONTACT_NAME], One, dir::picture),
        row(M::POST, "/api/contacts/{contactPhoneNumber}/block", "Block contact",
            rpc!(ContactService, BlockContact), Session, vec![CONTACT_NAME], One, dir::blocked),
        row(M::POST, "/api/contacts/{contactPhoneNumber}/unblock", "Unblock contact",
            rpc!(ContactService, UnblockContact), Session, vec![CONTACT_NAME], One, dir::unblocked),
        row(M::GET, "/api/lid-from-pn/{pn}", "Get LID from phone number",
            rpc!(ContactService, GetLidForPhone), Session,
            vec![CALLER_PARENT, F::path("pn", "phone_number", Conv::Copy)], One, dir::lid),
        row(M::GET, "/api/pn-from-lid/{lid}", "Get phone number from LID",
            rpc!(ContactService, GetPhoneForLid), Session,
            vec![CALLER_PARENT, F::path("lid", "lid", Conv::Copy)], One, dir::pn),
        // Groups.
        row(M::POST, "/api/groups", "Create a new group",
            rpc!(GroupService, CreateGroup), Session,
            vec![
                CALLER_PARENT,
                F::body("name", "group.subject", Conv::Copy).required(),
                F::body("participants", "group.participants", Conv::ListOfObjects("jid")),
            ],
            One, dir::group_created),
        row(M::GET, "/api/groups", "Get all groups",
            rpc!(GroupService, ListGroups), Session, vec![CALLER_PARENT], switchable("groups"), dir::group_list),
        with_build(row(M::GET, "/api/groups/{groupJid}/metadata", "Get group metadata",
            rpc!(GroupService, GetGroup), Session, vec![GROUP_NAME], One, dir::group_metadata),
            builders::full_view),
        row(M::GET, "/api/groups/{groupJid}/participants", "Get group participants",
            rpc!(GroupService, ListParticipants), Session, vec![GROUP_PARENT],
            Paging::All { list: "participants" }, dir::participants),
        row(M::POST, "/api/groups/{groupJid}/participants/add", "Add group participants",
            rpc!(GroupService, AddParticipants), Session,
            vec![GROUP_PARENT, F::body("participants", "participants", Conv::Copy).required()],
            One, dir::participants_added),
        row(M::POST, "/api/groups/{groupJid}/participants/remove", "Remove group participants",
            rpc!(GroupService, RemoveParticipants), Session,
            vec![GROUP_PARENT, F::body("participants", "participants", Conv::Copy).required()],
            One, dir::participants_removed),
        row(M::PUT, "/api/groups/{groupJid}/participants/update", "Update group participants (promote or demote)",
            rpc!(GroupService, UpdateParticipants), Session,
            vec![
                GROUP_PARENT,
                F::body("action", "action", Conv::EnumPrefix("PARTICIPANT_ACTION_")).required(),
                F::body("participants", "participants", Conv::Copy).required(),
            ],
            One, dir::participants_updated),
        with_mask(row(M::PUT, "/api/groups/{groupJid}/settings", "Update group settings",
            rpc!(GroupService, UpdateGroupSettings), Session,
            vec![
                F::path("groupJid", "group.name", Conv::CallerChild("groups")),
                F::body("subject", "group.subject", Conv::Copy),
                F::body("description", "group.description", Conv::Copy),
                F::body("announce", "group.announce", Conv::Bool),
                F::body("restrict", "group.restrict", Conv::Bool),
                F::body("joinApproval", "group.join_approval", Conv::Bool),
                F::body("memberAdd", "group.member_add_mode",
                    Conv::BoolToEnum("MEMBER_ADD_MODE_ALL_MEMBERS", "MEMBER_ADD_MODE_ADMINS_ONLY")),
                F::body("profilePicUrl", "group.picture_uri", Conv::Copy),
            ],
            One, dir::group_settings), "update_mask", "group."),
        row(M::GET, "/api/groups/{groupJid}/picture", "Get group profile picture",
            rpc!(GroupService, GetGroupPicture), Session, vec![GROUP_NAME], One, dir::picture),
        row(M::GET, "/api/groups/{groupJid}/invite-link", "Get group invite link",
            rpc!(GroupService, GetInviteLink), Session, vec![GROUP_NAME], One, dir::invite_link),
        row(M::GET, "/api/groups/invite/{inviteCode}", "Get group invite info",
            rpc!(GroupService, GetInviteInfo), Session,
            vec![CALLER_PARENT, F::path("inviteCode", "invite_code", Conv::Copy)], One, dir::invite_info),
        row(M::POST, "/api/groups/invite/accept", "Accept group invite",
            rpc!(GroupService, AcceptInvite), Session,
            vec![CALLER_PARENT, F::body("code", "invite_code", Conv::Copy).required()], One, dir::invite_accepted),
        row(M::POST, "/api/groups/{groupJid}/leave", "Leave group",
            rpc!(GroupService, LeaveGroup), Session, vec![GROUP_NAME], One, dir::left),
    ]
}
