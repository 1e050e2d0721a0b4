//! ContactService end to end on the simulated network: number checks, LID
//! mappings, the contact store fed by messages and UpsertContact, pictures,
//! blocking, account protection limits and the errors of each RPC.

use std::time::Duration;

use tonic::transport::Channel;
use wagate_proto::v1 as pb;
use wagate_proto::v1::contact_service_client::ContactServiceClient;
use wagate_proto::v1::event_service_client::EventServiceClient;
use wagate_tests::{admin, authed, backends, error_reason, eventually, violated_fields};

use crate::create_session;
use crate::messages::{PHONE_A, PHONE_B, PHONE_C, Pair, deliveries, send, text, wait_message};

/// A number nobody registered on the simulated network.
pub const PHONE_NOBODY: &str = "+14155550299";

fn contacts(channel: Channel) -> ContactServiceClient<Channel> {
    ContactServiceClient::new(channel)
}

fn contact_name(session: &str, id: &str) -> String {
    format!("{session}/contacts/{id}")
}

/// The session's logged events of one type, oldest first.
pub async fn events_of(channel: Channel, session: &str, event_type: &str) -> Vec<pb::Event> {
    EventServiceClient::new(channel)
        .list_events(admin(pb::ListEventsRequest {
            parent: session.to_owned(),
            page_size: 1000,
            filter: format!("type = \"{event_type}\""),
            ..Default::default()
        }))
        .await
        .expect("list events")
        .into_inner()
        .events
}

/// Waits until the session logged an event of `event_type` whose JSON
/// contains `needle`; returns it.
pub async fn wait_event(
    channel: &Channel,
    session: &str,
    event_type: &str,
    needle: &str,
) -> pb::Event {
    eventually(
        &format!("{event_type} with {needle} on {session}"),
        Duration::from_secs(10),
        || {
            let channel = channel.clone();
            async move {
                events_of(channel, session, event_type)
                    .await
                    .into_iter()
                    .find(|e| e.json.contains(needle))
            }
        },
    )
    .await
}

async fn list(
    client: &mut ContactServiceClient<Channel>,
    session: &str,
    filter: &str,
) -> Vec<pb::Contact> {
    client
        .list_contacts(admin(pb::ListContactsRequest {
            parent: session.to_owned(),
            filter: filter.to_owned(),
            ..Default::default()
        }))
        .await
        .expect("list contacts")
        .into_inner()
        .contacts
}

fn jid_of(phone: &str) -> String {
    format!("{}@s.whatsapp.net", phone.trim_start_matches('+'))
}

#[tokio::test]
async fn number_checks_and_lid_mappings() {
    for backend in backends() {
        let pair = Pair::start(backend, |_| {}).await;
        let mut client = contacts(pair.server.channel());
        let checked = client
            .check_on_whats_app(admin(pb::CheckOnWhatsAppRequest {
                parent: pair.a.clone(),
                phone_numbers: vec![PHONE_C.into(), PHONE_NOBODY.into(), "14155550202".into()],
            }))
            .await
            .expect("check")
            .into_inner()
            .results;
        assert_eq!(checked.len(), 3);
        assert_eq!(checked[0].phone_number, PHONE_C, "answered as asked");
        assert!(checked[0].exists);
        assert_eq!(checked[0].jid, jid_of(PHONE_C));
        assert!(checked[0].lid.ends_with("@lid"), "{:?}", checked[0]);
        assert!(!checked[1].exists, "{:?}", checked[1]);
        assert!(checked[1].jid.is_empty() && checked[1].lid.is_empty());
        assert_eq!(checked[2].phone_number, "14155550202");
        assert!(checked[2].exists);
        assert_eq!(checked[2].jid, jid_of(PHONE_B));

        // The LID learned by the check answers both directions from the store.
        let mapping = client
            .get_lid_for_phone(admin(pb::GetLidForPhoneRequest {
                parent: pair.a.clone(),
                phone_number: PHONE_C.into(),
            }))
            .await
            .expect("lid for phone")
            .into_inner();
        assert_eq!(mapping.lid, checked[0].lid);
        assert_eq!(mapping.phone_jid, jid_of(PHONE_C));
        let back = client
            .get_phone_for_lid(admin(pb::GetPhoneForLidRequest {
                parent: pair.a.clone(),
                lid: checked[0].lid.trim_end_matches("@lid").into(),
            }))
            .await
            .expect("phone for lid")
            .into_inner();
        assert_eq!(back.phone_number, PHONE_C);
        assert_eq!(back.lid, checked[0].lid);

        // Another session never checked C: it asks WhatsApp (no mapping yet).
        let from_b = client
            .get_lid_for_phone(admin(pb::GetLidForPhoneRequest {
                parent: pair.b.clone(),
                phone_number: jid_of(PHONE_C),
            }))
            .await
            .expect("lid for phone on B")
            .into_inner();
        assert_eq!(from_b.lid, checked[0].lid);

        // Errors.
        let err = client
            .get_lid_for_phone(admin(pb::GetLidForPhoneRequest {
                parent: pair.a.clone(),
                phone_number: PHONE_NOBODY.into(),
            }))
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::FailedPrecondition, "{err:?}");
        assert_eq!(error_reason(&err), "NOT_ON_WHATSAPP");
        let err = client
            .get_phone_for_lid(admin(pb::GetPhoneForLidRequest {
                parent: pair.a.clone(),
                lid: "999999999999999@lid".into(),
            }))
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::NotFound, "{err:?}");
        let err = client
            .get_phone_for_lid(admin(pb::GetPhoneForLidRequest {
                parent: pair.a.clone(),
                lid: "not-a-lid".into(),
            }))
            .await
            .unwrap_err();
        assert_eq!(violated_fields(&err), ["lid"]);
        let err = client
            .check_on_whats_app(admin(pb::CheckOnWhatsAppRequest {
                parent: pair.a.clone(),
                phone_numbers: vec![PHONE_C.into(), "12ab".into()],
            }))
            .await
            .unwrap_err();
        assert_eq!(violated_fields(&err), ["phone_numbers[1]"]);
        let err = client
            .check_on_whats_app(admin(pb::CheckOnWhatsAppRequest {
                parent: pair.a.clone(),
                phone_numbers: Vec::new(),
            }))
            .await
            .unwrap_err();
        assert_eq!(violated_fields(&err), ["phone_numbers"]);
        pair.stop().await;
    }
}

#[tokio::test]
async fn the_contact_store_learns_from_messages_and_upserts() {
    for backend in backends() {
        let pair = Pair::start(backend, |config| {
            config.queue.protection_interval = Duration::ZERO;
        })
        .await;
        let channel = pair.server.channel();
        let mut client = contacts(channel.clone());
        let mut messages = pair.messages();
        assert!(list(&mut client, &pair.a, "").await.is_empty());

        // B writes to A: A learns B with its push name and LID.
        let sent = send(&mut messages, &pair.b, text(PHONE_A, "hello A"))
            .await
            .expect("send");
        wait_message(&messages, &sent.name, pb::MessageStatus::Delivered).await;
        let learned = eventually("A to learn B", Duration::from_secs(10), || {
            let mut client = client.clone();
            let a = pair.a.clone();
            async move {
                list(&mut client, &a, "")
                    .await
                    .into_iter()
                    .find(|c| c.phone_number == PHONE_B)
            }
        })
        .await;
        assert_eq!(learned.jid, jid_of(PHONE_B));
        assert_eq!(learned.name, contact_name(&pair.a, &jid_of(PHONE_B)));
        assert!(!learned.push_name.is_empty(), "{learned:?}");
        assert!(learned.lid.ends_with("@lid"), "{learned:?}");
        assert!(!learned.in_address_book);
        let upserted = wait_event(&channel, &pair.a, "contacts.upsert", &jid_of(PHONE_B)).await;
        assert!(
            upserted.json.contains(&learned.push_name),
            "{}",
            upserted.json
        );
        // A second message with the same push name adds no event.
        let again = send(&mut messages, &pair.b, text(PHONE_A, "again"))
            .await
            .expect("send");
        wait_message(&messages, &again.name, pb::MessageStatus::Delivered).await;
        assert_eq!(
            events_of(channel.clone(), &pair.a, "contacts.upsert")
                .await
                .len(),
            1
        );
        // The LID of a message sender answers GetPhoneForLid.
        let mapping = client
            .get_phone_for_lid(admin(pb::GetPhoneForLidRequest {
                parent: pair.a.clone(),
                lid: learned.lid.clone(),
            }))
            .await
            .expect("phone of B's LID")
            .into_inner();
        assert_eq!(mapping.phone_number, PHONE_B);

        // UpsertContact saves C in A's address book.
        let saved = client
            .upsert_contact(admin(pb::UpsertContactRequest {
                contact: Some(pb::Contact {
                    name: contact_name(&pair.a, PHONE_C),
                    full_name: "Carol Smith".into(),
                    first_name: "Carol".into(),
                    ..Default::default()
                }),
                ..Default::default()
            }))
            .await
            .expect("upsert")
            .into_inner();
        assert_eq!(saved.jid, jid_of(PHONE_C));
        assert_eq!(saved.full_name, "Carol Smith");
        assert_eq!(saved.first_name, "Carol");
        assert!(saved.in_address_book);
        // Only the masked field changes.
        let renamed = client
            .upsert_contact(admin(pb::UpsertContactRequest {
                contact: Some(pb::Contact {
                    name: contact_name(&pair.a, &jid_of(PHONE_C)),
                    full_name: "Carol Jones".into(),
                    first_name: "ignored".into(),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["full_name".into()],
                }),
                ..Default::default()
            }))
            .await
            .expect("rename")
            .into_inner();
        assert_eq!(
            (renamed.full_name.as_str(), renamed.first_name.as_str()),
            ("Carol Jones", "Carol")
        );
        let got = client
            .get_contact(admin(pb::GetContactRequest {
                name: contact_name(&pair.a, PHONE_C),
            }))
            .await
            .expect("get")
            .into_inner();
        assert_eq!(got.full_name, "Carol Jones");
        let in_book = list(&mut client, &pair.a, "in_address_book = true").await;
        assert_eq!(
            in_book.iter().map(|c| c.jid.as_str()).collect::<Vec<_>>(),
            [jid_of(PHONE_C)]
        );
        assert_eq!(
            list(&mut client, &pair.a, "in_address_book = false")
                .await
                .len(),
            1
        );

        // Paging: one per page, in JID order, total counted.
        let page = client
            .list_contacts(admin(pb::ListContactsRequest {
                parent: pair.a.clone(),
                page_size: 1,
                ..Default::default()
            }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!((page.contacts.len(), page.total_size), (1, 2));
        assert_eq!(page.contacts[0].jid, jid_of(PHONE_B));
        let next = client
            .list_contacts(admin(pb::ListContactsRequest {
                parent: pair.a.clone(),
                page_size: 1,
                page_token: page.next_page_token.clone(),
                ..Default::default()
            }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(next.contacts[0].jid, jid_of(PHONE_C));
        let err = client
            .list_contacts(admin(pb::ListContactsRequest {
                parent: pair.a.clone(),
                page_size: 1,
                page_token: page.next_page_token,
                filter: "blocked = true".into(),
            }))
            .await
            .unwrap_err();
        assert_eq!(violated_fields(&err), ["page_token"]);

        // Errors.
        let err = client
            .get_contact(admin(pb::GetContactRequest {
                name: contact_name(&pair.a, PHONE_NOBODY),
            }))
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::NotFound);
        let err = client
            .get_contact(admin(pb::GetContactRequest {
                name: contact_name(&pair.a, "120363000000000001@g.us"),
            }))
            .await
            .unwrap_err();
        assert_eq!(violated_fields(&err), ["name"]);
        let err = client
            .list_contacts(admin(pb::ListContactsRequest {
                parent: pair.a.clone(),
                filter: "push_name = \"x\"".into(),
                ..Default::default()
            }))
            .await
            .unwrap_err();
        assert_eq!(violated_fields(&err), ["filter"]);
        let err = client
            .upsert_contact(admin(pb::UpsertContactRequest {
                contact: Some(pb::Contact {
                    name: contact_name(&pair.a, PHONE_C),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["push_name".into()],
                }),
                ..Default::default()
            }))
            .await
            .unwrap_err();
        assert_eq!(violated_fields(&err), ["update_mask"]);

        // Logging out forgets the account's contacts and LIDs: another
        // account may link to the session next.
        pair.server
            .sessions()
            .logout_session(admin(pb::LogoutSessionRequest {
                name: pair.a.clone(),
            }))
            .await
            .expect("logout");
        assert!(list(&mut client, &pair.a, "").await.is_empty());
        let err = client
            .get_phone_for_lid(admin(pb::GetPhoneForLidRequest {
                parent: pair.a.clone(),
                lid: learned.lid.clone(),
            }))
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::NotFound);
        pair.stop().await;
    }
}

#[tokio::test]
async fn blocking_pictures_and_access() {
    for backend in backends() {
        let pair = Pair::start(backend, |config| {
            config.queue.protection_interval = Duration::ZERO;
        })
        .await;
        let channel = pair.server.channel();
        let mut client = contacts(channel.clone());
        let mut messages = pair.messages();

        let picture = client
            .get_contact_picture(admin(pb::GetContactPictureRequest {
                name: contact_name(&pair.a, PHONE_B),
                preview: false,
            }))
            .await
            .expect("picture")
            .into_inner();
        assert!(picture.uri.starts_with("https://"), "{picture:?}");
        assert!(!picture.picture_id.is_empty());
        assert_eq!(picture.contact, contact_name(&pair.a, &jid_of(PHONE_B)));
        let err = client
            .get_contact_picture(admin(pb::GetContactPictureRequest {
                name: contact_name(&pair.a, PHONE_NOBODY),
                preview: false,
            }))
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::NotFound, "{err:?}");

        // A blocks B: B's messages are accepted by the server but never reach A.
        let blocked = client
            .block_contact(admin(pb::BlockContactRequest {
                name: contact_name(&pair.a, PHONE_B),
            }))
            .await
            .expect("block")
            .into_inner();
        assert!(blocked.blocked);
        assert_eq!(blocked.jid, jid_of(PHONE_B));
        assert_eq!(
            list(&mut client, &pair.a, "blocked = true").await.len(),
            1,
            "the blocked contact is listed"
        );
        let update = wait_event(&channel, &pair.a, "contacts.update", &jid_of(PHONE_B)).await;
        let payload = match update.payload {
            Some(pb::event::Payload::Contacts(payload)) => payload,
            other => panic!("contacts.update carries {other:?}"),
        };
        assert_eq!(payload.update_mask.unwrap().paths, ["blocked"]);
        assert!(payload.contacts[0].blocked);
        let ignored = send(&mut messages, &pair.b, text(PHONE_A, "you blocked me"))
            .await
            .expect("send");
        wait_message(&messages, &ignored.name, pb::MessageStatus::Sent).await;
        // A's picture is hidden from the account A blocked.
        let a_picture = client
            .get_contact_picture(admin(pb::GetContactPictureRequest {
                name: contact_name(&pair.b, PHONE_A),
                preview: false,
            }))
            .await
            .expect("picture of A from B")
            .into_inner();
        assert!(
            a_picture.uri.is_empty(),
            "A blocked B, so B cannot see A's picture: {a_picture:?}"
        );

        let unblocked = client
            .unblock_contact(admin(pb::UnblockContactRequest {
                name: contact_name(&pair.a, PHONE_B),
            }))
            .await
            .expect("unblock")
            .into_inner();
        assert!(!unblocked.blocked);
        let delivered = send(&mut messages, &pair.b, text(PHONE_A, "unblocked now"))
            .await
            .expect("send");
        wait_message(&messages, &delivered.name, pb::MessageStatus::Delivered).await;
        let to_a: Vec<String> = deliveries(&mut pair.simulator(), PHONE_B)
            .await
            .into_iter()
            .filter(|d| d.to_jid == jid_of(PHONE_A))
            .map(|d| d.summary)
            .collect();
        assert!(to_a.iter().any(|s| s.contains("unblocked now")), "{to_a:?}");
        assert!(
            !to_a.iter().any(|s| s.contains("you blocked me")),
            "{to_a:?}"
        );
        let err = client
            .block_contact(admin(pb::BlockContactRequest {
                name: contact_name(&pair.a, PHONE_NOBODY),
            }))
            .await
            .unwrap_err();
        assert_eq!(error_reason(&err), "NOT_ON_WHATSAPP", "{err:?}");

        // Access: a session key sees only its own session; offline sessions
        // cannot ask WhatsApp.
        let mut sessions = pair.server.sessions();
        let offline = create_session(&mut sessions, "+14155550277").await;
        let err = client
            .list_contacts(authed(
                &offline.api_key,
                pb::ListContactsRequest {
                    parent: pair.a.clone(),
                    ..Default::default()
                },
            ))
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::PermissionDenied);
        let err = client
            .check_on_whats_app(authed(
                &offline.api_key,
                pb::CheckOnWhatsAppRequest {
                    parent: offline.name.clone(),
                    phone_numbers: vec![PHONE_B.into()],
                },
            ))
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::FailedPrecondition);
        assert_eq!(error_reason(&err), "SESSION_NOT_CONNECTED");
        let err = client
            .list_contacts(pb::ListContactsRequest {
                parent: pair.a.clone(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::Unauthenticated);
        pair.stop().await;
    }
}

#[tokio::test]
async fn account_protection_limits_risky_calls() {
    let pair = Pair::start(wagate_tests::Backend::Sqlite, |config| {
        config.protection.checks_per_minute = 3;
        config.protection.pictures_per_minute = 1;
        config.protection.minute_window = Duration::from_secs(2);
    })
    .await;
    let mut client = contacts(pair.server.channel());
    let check = |numbers: Vec<String>| pb::CheckOnWhatsAppRequest {
        parent: pair.a.clone(),
        phone_numbers: numbers,
    };
    client
        .check_on_whats_app(admin(check(vec![PHONE_B.into(), PHONE_C.into()])))
        .await
        .expect("2 of 3");
    // Counted per number: two more do not fit, and nothing is consumed.
    let err = client
        .check_on_whats_app(admin(check(vec![PHONE_B.into(), PHONE_C.into()])))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::ResourceExhausted, "{err:?}");
    assert_eq!(error_reason(&err), "RATE_LIMITED");
    client
        .check_on_whats_app(admin(check(vec![PHONE_B.into()])))
        .await
        .expect("the third fits");
    let picture = |phone: &str| pb::GetContactPictureRequest {
        name: contact_name(&pair.a, phone),
        preview: false,
    };
    client
        .get_contact_picture(admin(picture(PHONE_B)))
        .await
        .expect("one picture");
    let err = client
        .get_contact_picture(admin(picture(PHONE_C)))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::ResourceExhausted);
    // Other sessions have their own allowance; windows end.
    client
        .get_contact_picture(admin(pb::GetContactPictureRequest {
            name: contact_name(&pair.b, PHONE_C),
            preview: false,
        }))
        .await
        .expect("B's own allowance");
    tokio::time::sleep(Duration::from_millis(2100)).await;
    client
        .get_contact_picture(admin(picture(PHONE_C)))
        .await
        .expect("after the window");
    pair.stop().await;
}
