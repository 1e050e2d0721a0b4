//! The SaaS (seed 002) endpoint table, its send-message content (the type
//! detected from which payload object is present) and its response shapes:
//! wagate's own resources under `data`, which the seed leaves open.

use http::Method;
use serde_json::{Value, json};

use crate::profiles::common::int;
use crate::profiles::request::{add_error, set_path};
use crate::profiles::{
    BuildFn, Conv, Endpoint, FieldErrors, FieldMap as F, Inputs, Paging, Reply, Scope, ShapeFn,
};

const SESSION_ID: F = F::path("id", "name", Conv::SessionName);
const CALLER_PARENT: F = F::caller("parent");
const GROUP_NAME: F = F::path("jid", "name", Conv::CallerChild("groups"));
const GROUP_PARENT: F = F::path("jid", "parent", Conv::CallerChild("groups"));

fn row(
    method: Method,
    path: &'static str,
    summary: &'static str,
    rpc: &'static str,
    scope: Scope,
    fields: Vec<F>,
    shape: ShapeFn,
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
        paging: Paging::None,
        shape,
    }
}

fn all(mut endpoint: Endpoint, list: &'static str) -> Endpoint {
    endpoint.paging = Paging::All { list };
    endpoint
}

fn with_build(mut endpoint: Endpoint, build: BuildFn) -> Endpoint {
    endpoint.build = Some(build);
    endpoint
}

/// Every endpoint of seed 002's documentation. Sessions named in the path
/// take either credential (the server checks a session key is that
/// session's); the rest act on the session key's own session.
#[rustfmt::skip]
pub fn endpoints() -> Vec<Endpoint> {
    use Method as M;
    use Scope::{Account, Session};
    // The seed says "Configure a webhook URL per session" without a path:
    // the session's own, as PUT. Its webhooks then use this API's payload.
    let mut webhook = row(M::PUT, "/api/v1/whatsapp-sessions/{id}/webhook",
        "Configure the session's webhook (url, enabled); it then posts this API's payload",
        "wagate.v1.SessionService.UpdateSession", Account,
        vec![
            F::path("id", "session.name", Conv::SessionName),
            F::body("url", "session.webhook_url", Conv::Copy).required(),
            F::body("enabled", "session.webhook_enabled", Conv::Bool),
        ],
        data);
    webhook.update_mask = Some(("update_mask", "session."));
    let webhook = with_build(webhook, saas_webhooks);
    vec![
        // Sessions.
        all(row(M::GET, "/api/v1/whatsapp-sessions", "List all sessions (personal access token)",
            "wagate.v1.SessionService.ListSessions", Account, vec![], data_list), "sessions"),
        with_build(row(M::POST, "/api/v1/whatsapp-sessions", "Create session (personal access token); its webhooks use this API's payload",
            "wagate.v1.SessionService.CreateSession", Account,
            vec![
                F::body("name", "session.display_name", Conv::Copy).required(),
                F::body("phoneNumber", "session.phone_number", Conv::Copy).required(),
                F::body("webhookUrl", "session.webhook_url", Conv::Copy),
                F::body("webhookEnabled", "session.webhook_enabled", Conv::Bool),
            ],
            data), saas_webhooks),
        webhook,
        row(M::GET, "/api/v1/whatsapp-sessions/{id}", "Get session (session key or personal access token)",
            "wagate.v1.SessionService.GetSession", Account, vec![SESSION_ID], data),
        row(M::DELETE, "/api/v1/whatsapp-sessions/{id}", "Delete session",
            "wagate.v1.SessionService.DeleteSession", Account, vec![SESSION_ID], done),
        row(M::POST, "/api/v1/whatsapp-sessions/{id}/connect", "Start connection (answers the first QR code)",
            "wagate.v1.SessionService.ConnectSession", Account, vec![SESSION_ID], data),
        row(M::POST, "/api/v1/whatsapp-sessions/{id}/disconnect", "Disconnect",
            "wagate.v1.SessionService.DisconnectSession", Account, vec![SESSION_ID], data),
        row(M::GET, "/api/v1/whatsapp-sessions/{id}/qrcode", "Get QR code (while waiting for a scan)",
            "wagate.v1.SessionService.GetQrCode", Account, vec![SESSION_ID], data),
        // Messages.
        with_build(row(M::POST, "/api/v1/send-message", "Send a message; the type is detected from the payload",
            "wagate.v1.MessageService.SendMessage", Session,
            vec![
                CALLER_PARENT,
                F::body("to", "message.chat", Conv::Copy).required(),
                F::body("quoted", "message.reply_to.message", Conv::CallerChild("messages")),
                F::body("mentions", "message.mentions", Conv::Copy),
                F::body("viewOnce", "message.view_once", Conv::Bool),
            ],
            sent), content),
        // Contacts.
        all(row(M::GET, "/api/v1/contacts", "List contacts",
            "wagate.v1.ContactService.ListContacts", Session, vec![CALLER_PARENT], data_list), "contacts"),
        row(M::PUT, "/api/v1/contacts", "Upsert contact (phone, fullName)",
            "wagate.v1.ContactService.UpsertContact", Session,
            vec![
                F::body("phone", "contact.name", Conv::CallerChild("contacts")).required(),
                F::body("fullName", "contact.full_name", Conv::Copy),
            ],
            data),
        row(M::GET, "/api/v1/contacts/{phone}", "Get contact",
            "wagate.v1.ContactService.GetContact", Session,
            vec![F::path("phone", "name", Conv::CallerChild("contacts"))], data),
        row(M::GET, "/api/v1/on-whatsapp/{phone}", "Check if number is on WhatsApp",
            "wagate.v1.ContactService.CheckOnWhatsApp", Session,
            vec![CALLER_PARENT, F::path("phone", "phone_numbers", Conv::Singleton)], on_whatsapp),
        // Groups.
        all(row(M::GET, "/api/v1/groups", "List groups",
            "wagate.v1.GroupService.ListGroups", Session, vec![CALLER_PARENT], data_list), "groups"),
        row(M::POST, "/api/v1/groups", "Create group (name, participants)",
            "wagate.v1.GroupService.CreateGroup", Session,
            vec![
                CALLER_PARENT,
                F::body("name", "group.subject", Conv::Copy).required(),
                F::body("participants", "group.participants", Conv::ListOfObjects("jid")),
            ],
            data),
        with_build(row(M::GET, "/api/v1/groups/{jid}", "Get group metadata",
            "wagate.v1.GroupService.GetGroup", Session, vec![GROUP_NAME], data), full_view),
        all(row(M::GET, "/api/v1/groups/{jid}/participants", "List participants",
            "wagate.v1.GroupService.ListParticipants", Session, vec![GROUP_PARENT], data_list), "participants"),
        row(M::POST, "/api/v1/groups/{jid}/participants/add", "Add participants",
            "wagate.v1.GroupService.AddParticipants", Session,
            vec![GROUP_PARENT, F::body("participants", "participants", Conv::Copy).required()], data),
        row(M::POST, "/api/v1/groups/{jid}/participants/remove", "Remove participants",
            "wagate.v1.GroupService.RemoveParticipants", Session,
            vec![GROUP_PARENT, F::body("participants", "participants", Conv::Copy).required()], data),
        row(M::POST, "/api/v1/groups/{jid}/leave", "Leave group",
            "wagate.v1.GroupService.LeaveGroup", Session, vec![GROUP_NAME], done),
    ]
}

/// Sessions created or whose webhook is configured here post seed 002's
/// webhook payload; a webhook configured with a URL is enabled unless
/// `enabled` says otherwise.
fn saas_webhooks(request: &mut Value, inputs: &Inputs) -> Result<(), FieldErrors> {
    set_path(
        request,
        "session.webhook_format",
        json!("WEBHOOK_FORMAT_SAAS"),
    );
    if let Some(Value::String(mask)) = request.get("update_mask") {
        let mut mask = format!("{mask},webhook_format");
        if inputs.body.get("enabled").is_none_or(Value::is_null) {
            set_path(request, "session.webhook_enabled", json!(true));
            mask.push_str(",webhook_enabled");
        }
        set_path(request, "update_mask", json!(mask.trim_start_matches(',')));
    }
    Ok(())
}

fn full_view(request: &mut Value, _: &Inputs) -> Result<(), FieldErrors> {
    set_path(request, "view", json!("GROUP_VIEW_FULL"));
    Ok(())
}

/// A media object (`{"url", "caption", "fileName", "mimetype"}`) → wagate's.
fn media(object: &Value, with_caption: bool) -> Option<Value> {
    let url = object.get("url")?.as_str().filter(|u| !u.is_empty())?;
    let mut media = json!({"source": {"uri": url}});
    for (theirs, ours) in [
        ("caption", "caption"),
        ("fileName", "file_name"),
        ("mimetype", "mime_type"),
    ] {
        if (theirs != "caption" || with_caption)
            && let Some(value) = object.get(theirs).and_then(Value::as_str)
        {
            media[ours] = json!(value);
        }
    }
    Some(media)
}

/// The message type is the payload object present: text, image, video,
/// audio, document, sticker, location, contact or poll.
fn content(request: &mut Value, inputs: &Inputs) -> Result<(), FieldErrors> {
    let body = &inputs.body;
    let object = |name: &str| body.get(name).filter(|v| v.is_object());
    let detected = if let Some(text) = body
        .get("text")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
    {
        Some(("text", Some(json!(text))))
    } else if let Some(o) = object("image") {
        Some(("image", media(o, true)))
    } else if let Some(o) = object("video") {
        Some(("video", media(o, true)))
    } else if let Some(o) = object("audio") {
        Some(("audio", media(o, false)))
    } else if let Some(o) = object("document") {
        Some(("document", media(o, true)))
    } else if let Some(o) = object("sticker") {
        Some(("sticker", media(o, false)))
    } else if let Some(o) = object("location") {
        let mut pin = json!({"latitude": o["latitude"], "longitude": o["longitude"]});
        for (theirs, ours) in [("name", "place_name"), ("address", "address")] {
            if let Some(value) = o.get(theirs).and_then(Value::as_str) {
                pin[ours] = json!(value);
            }
        }
        let valid = o["latitude"].is_number() && o["longitude"].is_number();
        Some(("location", valid.then_some(pin)))
    } else if let Some(o) = object("contact") {
        let card = json!({"full_name": o["fullName"], "phone_number": o["phoneNumber"]});
        let valid = o["fullName"].is_string() && o["phoneNumber"].is_string();
        Some(("contact", valid.then_some(card)))
    } else if let Some(o) = object("poll") {
        let question = o
            .get("question")
            .or(o.get("name"))
            .cloned()
            .unwrap_or_default();
        let poll = json!({
            "question": question,
            "options": o.get("options").cloned().unwrap_or_else(|| json!([])),
            "multi_select": o.get("multiSelect").and_then(Value::as_bool).unwrap_or(false),
        });
        Some(("poll", Some(poll)))
    } else {
        None
    };
    let mut errors = FieldErrors::new();
    match detected {
        Some((kind, Some(value))) => {
            set_path(request, &format!("message.{kind}"), value);
            return Ok(());
        }
        Some((kind, None)) => add_error(
            &mut errors,
            kind,
            format!("The {kind} payload is incomplete."),
        ),
        None => add_error(
            &mut errors,
            "text",
            "No message payload: give text or one of image, video, audio, document, sticker, location, contact, poll.",
        ),
    }
    Err(errors)
}

fn data(response: &Value, _: &Inputs) -> Reply {
    Reply::json(json!({"success": true, "data": response}))
}

fn data_list(page: &Value, _: &Inputs) -> Reply {
    Reply::json(json!({"success": true, "data": page["items"], "total": page["total"]}))
}

fn done(_: &Value, _: &Inputs) -> Reply {
    Reply::json(json!({"success": true}))
}

/// `messageId` (an integer) at the top, as the seed's example reads it.
fn sent(message: &Value, _: &Inputs) -> Reply {
    let status = message["status"].as_str().unwrap_or("");
    Reply::json(json!({
        "success": true,
        "messageId": int(&message["id"]),
        "status": status.strip_prefix("MESSAGE_STATUS_").unwrap_or(status).to_ascii_lowercase(),
        "data": message,
    }))
}

fn on_whatsapp(response: &Value, _: &Inputs) -> Reply {
    let first = response["results"].get(0).cloned().unwrap_or(Value::Null);
    Reply::json(json!({
        "success": true,
        "data": {"exists": first["exists"].as_bool().unwrap_or(false), "result": first},
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(body: Value) -> Result<Value, FieldErrors> {
        let mut request = json!({});
        content(
            &mut request,
            &Inputs {
                body,
                ..Inputs::default()
            },
        )
        .map(|()| request)
    }

    #[test]
    fn the_type_is_detected_from_the_seeds_payloads() {
        assert_eq!(
            build(json!({"to": "1", "text": "Hello from the API!"})).unwrap()["message"]["text"],
            "Hello from the API!"
        );
        assert_eq!(
            build(
                json!({"to": "1", "image": {"url": "https://x.test/a.png", "caption": "Optional"}})
            )
            .unwrap()["message"]["image"],
            json!({"source": {"uri": "https://x.test/a.png"}, "caption": "Optional"})
        );
        assert_eq!(
            build(json!({"to": "1", "location": {"latitude": 37.7749, "longitude": -122.4194, "name": "San Francisco"}}))
                .unwrap()["message"]["location"]["place_name"],
            "San Francisco"
        );
        assert_eq!(
            build(json!({"to": "1", "contact": {"fullName": "John Doe", "phoneNumber": "+1234567890"}})).unwrap()["message"]["contact"],
            json!({"full_name": "John Doe", "phone_number": "+1234567890"})
        );
        assert!(
            build(json!({"to": "1", "image": {}}))
                .unwrap_err()
                .contains_key("image")
        );
        assert!(build(json!({"to": "1"})).unwrap_err().contains_key("text"));
    }
}
