use std::sync::Arc;
use std::time::{Duration, SystemTime};

use whatsapp_rust::anyhow::anyhow;
use whatsapp_rust::chrono::DateTime;
use whatsapp_rust::client::ClientError;
use whatsapp_rust::features::{GroupError, ProfilePicture};
use whatsapp_rust::types::events::Event;
use whatsapp_rust::types::message::{MessageInfo, MessageSource};
use whatsapp_rust::wacore::iq::spec::IqSpec;
use whatsapp_rust::wacore::iq::usync::{IsOnWhatsAppQueryType, IsOnWhatsAppSpec, IsOnWhatsAppUser};
use whatsapp_rust::waproto::whatsapp as wa;
use whatsapp_rust::{NodeBuilder, OwnedNodeRef};

use super::*;
use crate::engine::EngineEvent;
use crate::engine::whatsapp::events::{Mapped, map};

fn now() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000)
}

fn me() -> Option<LinkedUser> {
    Some(LinkedUser {
        jid: "15551234567:7@s.whatsapp.net".into(),
        lid: "100000012345678@lid".into(),
        push_name: "Shop".into(),
        phone_number: "+15551234567".into(),
    })
}

/// What `map` reports for a contacts.update, or a panic.
fn contacts_update(event: &Event) -> (Vec<pb::Contact>, Vec<String>) {
    match map(event, me, now()) {
        Mapped::Report(EngineEvent::Directory(DirectoryEvent::Contacts {
            contacts,
            update_mask,
        })) => (contacts, update_mask),
        other => panic!("expected a contacts event, got {other:?}"),
    }
}

fn mask(fields: &[&str]) -> Vec<String> {
    fields.iter().map(|f| (*f).to_owned()).collect()
}

fn server_error(code: u16, text: &str) -> IqError {
    IqError::ServerError {
        code,
        text: text.into(),
        error_type: None,
        backoff: None,
    }
}

// -- number checks -----------------------------------------------------------

#[test]
fn number_checks_answer_every_number_in_the_order_asked() {
    let spec = IsOnWhatsAppSpec::new(
        ["15550001111", "15550002222", "15550003333"]
            .iter()
            .map(|d| IsOnWhatsAppUser {
                jid: Jid::pn(*d),
                known_lid: None,
            })
            .collect(),
        "sid",
        IsOnWhatsAppQueryType::Pn,
    );
    // The server answers out of order and leaves 15550003333 out.
    let user = |jid: &str, kind: &str, lid: Option<&str>, business: bool| {
        let mut children = vec![NodeBuilder::new("contact").attr("type", kind).build()];
        if let Some(lid) = lid {
            children.push(NodeBuilder::new("lid").attr("val", lid).build());
        }
        if business {
            children.push(NodeBuilder::new("business").build());
        }
        NodeBuilder::new("user")
            .attr("jid", jid)
            .children(children)
            .build()
    };
    let response = NodeBuilder::new("iq")
        .attr("type", "result")
        .children([NodeBuilder::new("usync")
            .children([NodeBuilder::new("list")
                .children([
                    user("15550002222@s.whatsapp.net", "out", None, false),
                    user(
                        "15550001111@s.whatsapp.net",
                        "in",
                        Some("200000000000001@lid"),
                        true,
                    ),
                ])
                .build()])
            .build()])
        .build();
    let results = spec.parse_response(&response.as_node_ref()).unwrap();
    let digits: Vec<String> = ["15550001111", "15550002222", "15550003333"]
        .iter()
        .map(|d| (*d).to_owned())
        .collect();

    assert_eq!(
        number_checks(&digits, &results),
        vec![
            pb::PhoneNumberCheck {
                phone_number: "15550001111".into(),
                exists: true,
                jid: "15550001111@s.whatsapp.net".into(),
                lid: "200000000000001@lid".into(),
                business: true,
            },
            pb::PhoneNumberCheck {
                phone_number: "15550002222".into(),
                ..Default::default()
            },
            pb::PhoneNumberCheck {
                phone_number: "15550003333".into(),
                ..Default::default()
            },
        ]
    );
}

#[test]
fn pictures_without_url_are_none() {
    let found = ProfilePicture {
        id: "1712345678".into(),
        url: "https://pps.whatsapp.net/v/t61/abc.jpg".into(),
        direct_path: None,
        hash: None,
    };
    assert_eq!(
        picture(Some(found.clone())),
        Some(Picture {
            uri: "https://pps.whatsapp.net/v/t61/abc.jpg".into(),
            id: "1712345678".into(),
        })
    );
    assert_eq!(
        picture(Some(ProfilePicture {
            url: String::new(),
            ..found
        })),
        None
    );
    assert_eq!(picture(None), None);
}

// -- contact events ----------------------------------------------------------

#[test]
fn push_names_update_the_contact_with_both_identities() {
    let event = Event::PushNameUpdate(
        PushNameUpdate::builder()
            .jid("200000000000002@lid".parse().unwrap())
            .message(Box::new(MessageInfo {
                source: MessageSource {
                    chat: "200000000000002@lid".parse().unwrap(),
                    sender: "200000000000002:4@lid".parse().unwrap(),
                    sender_alt: Some("15550002222:4@s.whatsapp.net".parse().unwrap()),
                    ..Default::default()
                },
                ..Default::default()
            }))
            .old_push_name("Old".to_string())
            .new_push_name("Alice".to_string())
            .build(),
    );
    let (contacts, fields) = contacts_update(&event);
    assert_eq!(fields, mask(&["push_name"]));
    assert_eq!(
        contacts,
        vec![pb::Contact {
            jid: "15550002222@s.whatsapp.net".into(),
            phone_number: "+15550002222".into(),
            lid: "200000000000002@lid".into(),
            push_name: "Alice".into(),
            ..Default::default()
        }]
    );
}

#[test]
fn address_book_syncs_update_names_and_membership() {
    let event = Event::ContactUpdate(
        ContactUpdate::builder()
            .jid("15550003333@s.whatsapp.net".parse().unwrap())
            .timestamp(DateTime::from_timestamp(1_800_000_000, 0).unwrap())
            .action(Box::new(wa::sync_action_value::ContactAction {
                full_name: Some("Bob Builder".into()),
                first_name: Some("Bob".into()),
                lid_jid: Some("200000000000003@lid".into()),
                ..Default::default()
            }))
            .from_full_sync(false)
            .build(),
    );
    let (contacts, fields) = contacts_update(&event);
    assert_eq!(
        fields,
        mask(&["full_name", "first_name", "in_address_book"])
    );
    assert_eq!(
        contacts,
        vec![pb::Contact {
            jid: "15550003333@s.whatsapp.net".into(),
            phone_number: "+15550003333".into(),
            lid: "200000000000003@lid".into(),
            full_name: "Bob Builder".into(),
            first_name: "Bob".into(),
            in_address_book: true,
            ..Default::default()
        }]
    );
}

#[test]
fn about_texts_pictures_and_business_names_are_contact_updates() {
    let about = Event::UserAboutUpdate(
        UserAboutUpdate::builder()
            .jid("15550004444@s.whatsapp.net".parse().unwrap())
            .status("At the gym".to_string())
            .timestamp(DateTime::from_timestamp(1_800_000_000, 0).unwrap())
            .build(),
    );
    let (contacts, fields) = contacts_update(&about);
    assert_eq!(fields, mask(&["about"]));
    assert_eq!(contacts[0].about, "At the gym");
    assert_eq!(contacts[0].jid, "15550004444@s.whatsapp.net");

    let picture = Event::PictureUpdate(
        PictureUpdate::builder()
            .jid("15550004444@s.whatsapp.net".parse().unwrap())
            .timestamp(DateTime::from_timestamp(1_800_000_000, 0).unwrap())
            .removed(false)
            .picture_id("99".to_string())
            .build(),
    );
    let (contacts, fields) = contacts_update(&picture);
    assert_eq!(fields, mask(&["picture_uri"]));
    assert_eq!(
        contacts,
        vec![pb::Contact {
            jid: "15550004444@s.whatsapp.net".into(),
            phone_number: "+15550004444".into(),
            ..Default::default()
        }]
    );

    let business = |kind, name: Option<&str>| {
        Event::BusinessStatusUpdate(
            BusinessStatusUpdate::builder()
                .jid("15550005555@s.whatsapp.net".parse().unwrap())
                .update_type(kind)
                .timestamp(DateTime::from_timestamp(1_800_000_000, 0).unwrap())
                .maybe_verified_name(name.map(str::to_owned))
                .product_ids(Vec::new())
                .collection_ids(Vec::new())
                .subscriptions(Vec::new())
                .build(),
        )
    };
    let (contacts, fields) = contacts_update(&business(
        BusinessUpdateType::VerifiedNameChanged,
        Some("Bob's Shop"),
    ));
    assert_eq!(fields, mask(&["verified_name", "business"]));
    assert_eq!(contacts[0].verified_name, "Bob's Shop");
    assert!(contacts[0].business);
    let (contacts, _) = contacts_update(&business(BusinessUpdateType::RemovedAsBusiness, None));
    assert_eq!(contacts[0].verified_name, "");
    assert!(!contacts[0].business);
    assert_eq!(
        map(
            &business(BusinessUpdateType::ProductsUpdated, None),
            me,
            now()
        ),
        Mapped::Ignore
    );
}

fn notification(node: whatsapp_rust::wacore_binary::Node) -> Event {
    let mut bytes = whatsapp_rust::wacore_binary::marshal::marshal(&node).unwrap();
    // marshal() prepends a format byte that OwnedNodeRef does not expect.
    bytes.remove(0);
    Event::Notification(Arc::new(OwnedNodeRef::new(bytes).unwrap()))
}

#[test]
fn blocklist_notifications_update_blocked() {
    let event = notification(
        NodeBuilder::new("notification")
            .attr("type", "blocklist")
            .attr("from", "s.whatsapp.net")
            .children([
                NodeBuilder::new("item")
                    .attr("jid", "200000000000006@lid")
                    .attr("pn_jid", "15550006666@s.whatsapp.net")
                    .attr("action", "block")
                    .build(),
                NodeBuilder::new("item")
                    .attr("jid", "15550007777@s.whatsapp.net")
                    .attr("action", "unblock")
                    .build(),
                NodeBuilder::new("item")
                    .attr("jid", "15550008888@s.whatsapp.net")
                    .attr("action", "something-else")
                    .build(),
            ])
            .build(),
    );
    let (contacts, fields) = contacts_update(&event);
    assert_eq!(fields, mask(&["blocked"]));
    assert_eq!(
        contacts,
        vec![
            pb::Contact {
                jid: "15550006666@s.whatsapp.net".into(),
                phone_number: "+15550006666".into(),
                lid: "200000000000006@lid".into(),
                blocked: true,
                ..Default::default()
            },
            pb::Contact {
                jid: "15550007777@s.whatsapp.net".into(),
                phone_number: "+15550007777".into(),
                blocked: false,
                ..Default::default()
            },
        ]
    );
    let other = notification(
        NodeBuilder::new("notification")
            .attr("type", "something")
            .children([NodeBuilder::new("item")
                .attr("jid", "15550007777@s.whatsapp.net")
                .attr("action", "block")
                .build()])
            .build(),
    );
    assert_eq!(map(&other, me, now()), Mapped::Ignore);
}

// -- JIDs and identity ---------------------------------------------------------

#[test]
fn user_addresses_lose_their_device_and_groups_are_refused() {
    assert_eq!(
        parse_user("15550001111:3@s.whatsapp.net").unwrap(),
        Jid::pn("15550001111")
    );
    assert_eq!(
        parse_user("200000000000001@lid").unwrap(),
        Jid::lid("200000000000001")
    );
    assert_eq!(
        parse_user("120363000000000001@g.us").unwrap_err().code,
        Code::InvalidArgument
    );
    assert_eq!(
        parse_group("15550001111@s.whatsapp.net").unwrap_err().code,
        Code::InvalidArgument
    );
    assert!(parse_group("120363000000000001@g.us").is_ok());
}

#[test]
fn the_account_is_recognised_by_phone_or_lid() {
    let me = Me::from_linked(&me().unwrap());
    assert_eq!(me.phone_user.as_deref(), Some("15551234567"));
    assert_eq!(me.lid_user.as_deref(), Some("100000012345678"));
    assert!(me.is(&"15551234567:2@s.whatsapp.net".parse().unwrap()));
    assert!(me.is(&Jid::lid("100000012345678")));
    assert!(!me.is(&Jid::lid("15551234567")));
    assert!(!me.is(&Jid::pn("15550001111")));
}

// -- errors ------------------------------------------------------------------

#[test]
fn admin_refusals_are_permission_denied() {
    for code in [401, 403] {
        let error = classify(
            "add group participants",
            Target::GroupAdmin,
            &GroupError::Iq(server_error(code, "not-authorized")),
        );
        assert_eq!(
            (error.code, error.reason),
            (Code::PermissionDenied, Reason::NotGroupAdmin),
            "{code}"
        );
        assert!(error.message.contains("not an admin"), "{}", error.message);
        assert!(
            error
                .metadata
                .contains(&("whatsapp_reason".into(), code.to_string()))
        );
    }
    // Reading a group is not an admin operation.
    let error = classify(
        "query the group",
        Target::GroupRead,
        &GroupError::Iq(server_error(403, "forbidden")),
    );
    assert_eq!(
        (error.code, error.reason),
        (Code::FailedPrecondition, Reason::WhatsappError)
    );
}

#[test]
fn missing_items_are_not_found_by_target() {
    let not_found = |target| {
        classify(
            "act",
            target,
            &GroupError::Iq(server_error(404, "item-not-found")),
        )
    };
    let group = not_found(Target::GroupRead);
    assert_eq!(
        (group.code, group.reason),
        (Code::NotFound, Reason::NotFound)
    );
    assert!(group.message.contains("no such group"), "{}", group.message);
    let admin = not_found(Target::GroupAdmin);
    assert_eq!(
        (admin.code, admin.reason),
        (Code::NotFound, Reason::NotFound)
    );
    let contact = not_found(Target::Contact);
    assert_eq!(
        (contact.code, contact.reason),
        (Code::NotFound, Reason::NotOnWhatsapp)
    );
    let invite = classify(
        "join the group",
        Target::Invite,
        &GroupError::Iq(server_error(410, "gone")),
    );
    assert_eq!(
        (invite.code, invite.reason),
        (Code::NotFound, Reason::NotFound)
    );
    assert!(invite.message.contains("reset"), "{}", invite.message);
    // Creating a group is not an admin operation on an existing one.
    let create = classify(
        "create the group",
        Target::Create,
        &GroupError::Iq(server_error(403, "forbidden")),
    );
    assert_eq!(
        (create.code, create.reason),
        (Code::FailedPrecondition, Reason::WhatsappError)
    );
    let member = classify(
        "join the group",
        Target::Invite,
        &GroupError::Iq(server_error(304, "")),
    );
    assert_eq!(member.code, Code::AlreadyExists);
}

#[test]
fn other_refusals_keep_whatsapp_text_and_transient_ones_retry() {
    let error = classify(
        "change the group's subject",
        Target::GroupAdmin,
        &GroupError::Iq(server_error(406, "not-acceptable")),
    );
    assert_eq!(
        (error.code, error.reason),
        (Code::FailedPrecondition, Reason::WhatsappError)
    );
    assert!(
        error.message.contains("406 not-acceptable"),
        "{}",
        error.message
    );
    assert!(!error.is_transient());
    let limited = classify(
        "check numbers",
        Target::Contact,
        &ContactError::Iq(server_error(429, "rate-overlimit")),
    );
    assert_eq!(limited.reason, Reason::RateLimited);
    assert!(limited.is_transient());
    let timeout = classify(
        "list the groups",
        Target::GroupRead,
        &GroupError::Iq(IqError::Timeout),
    );
    assert_eq!(timeout.code, Code::Unavailable);
}

#[test]
fn a_missing_connection_is_not_connected() {
    let error = classify(
        "list the groups",
        Target::GroupRead,
        &GroupError::Iq(IqError::NotConnected),
    );
    assert_eq!(
        (error.code, error.reason),
        (Code::FailedPrecondition, Reason::SessionNotConnected)
    );
    let error = classify(
        "save the contact",
        Target::Contact,
        &AppStateError::Internal(anyhow!(ClientError::NotConnected)),
    );
    assert_eq!(error.reason, Reason::SessionNotConnected, "{error:?}");
}

#[test]
fn requests_the_library_refuses_are_invalid_arguments() {
    let error = classify(
        "join the group",
        Target::Invite,
        &GroupError::InvalidRequest("invalid or empty invite code".into()),
    );
    assert_eq!(error.code, Code::InvalidArgument);
    assert!(error.message.contains("invite code"), "{}", error.message);
    assert_eq!(error.field_violations[0].field, "invite_code");
    let error = classify(
        "save the contact",
        Target::Contact,
        &AppStateError::InvalidRequest("contact id must be a bare phone-number JID".into()),
    );
    assert_eq!(error.code, Code::InvalidArgument);
}

#[test]
fn blocking_an_unknown_user_is_not_on_whatsapp() {
    let error = classify_blocking(
        "block the contact",
        &BlockingError::InvalidJid("no LID↔PN mapping for provided jid".into()),
    );
    assert_eq!(
        (error.code, error.reason),
        (Code::FailedPrecondition, Reason::NotOnWhatsapp)
    );
    let error = classify_blocking(
        "block the contact",
        &BlockingError::Iq(server_error(500, "internal-server-error")),
    );
    assert_eq!(error.code, Code::Unavailable);
}
