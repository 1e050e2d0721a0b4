//! Contacts on the simulated network, against a scratch SQLite store:
//! blocking (pictures hidden, messages dropped), number checks, the address
//! book, and contacts and groups surviving a reload.

use wagate_proto::v1 as api;
use wagate_proto::wagate::simnet::v1 as pb;

use super::tests::{
    A, B, C, D, Scratch, UNREGISTERED, codes, jid, link, register, roles, send, strings,
};
use crate::engine::directory::ParticipantChange;
use crate::error::{Code, Reason};

use api::GroupParticipantRole as Role;
use pb::notification::Change;

#[tokio::test]
async fn blocking_hides_pictures_and_drops_messages() {
    let scratch = Scratch::new();
    let net = scratch.network().await;
    register(&net, &[A, B, C]).await;
    let mut a = link(&net, A).await;
    let mut b = link(&net, B).await;

    let err = net
        .set_blocked(B, &jid(UNREGISTERED), true)
        .await
        .unwrap_err();
    assert_eq!(
        (err.code, err.reason),
        (Code::FailedPrecondition, Reason::NotOnWhatsapp)
    );

    let before = net
        .picture(A, &jid(B), false)
        .unwrap()
        .expect("B has a picture");
    assert_eq!(
        before.uri,
        format!("https://pps.sim.wagate.invalid/v/{B}.jpg")
    );
    assert_ne!(
        net.picture(A, &jid(B), true).unwrap().unwrap().uri,
        before.uri
    );
    let err = net.picture(A, &jid(UNREGISTERED), false).unwrap_err();
    assert_eq!(err.code, Code::NotFound);

    net.set_blocked(B, &jid(A), true).await.unwrap();
    let update = match b.change().await {
        Change::Contacts(p) => p,
        other => panic!("expected contacts, got {other:?}"),
    };
    assert_eq!(update.update_mask.unwrap().paths, strings(&["blocked"]));
    let contact = &update.contacts[0];
    assert_eq!(
        (
            contact.jid.as_str(),
            contact.phone_number.as_str(),
            contact.blocked
        ),
        (jid(A).as_str(), format!("+{A}").as_str(), true)
    );
    assert!(!contact.lid.is_empty());

    // B's picture is hidden from A only.
    assert_eq!(net.picture(A, &jid(B), false).unwrap(), None);
    assert_eq!(
        net.picture(C, &jid(B), false).unwrap().unwrap().uri,
        before.uri
    );

    // A's message is acknowledged but never reaches B.
    net.device_send(send(&a, "3EB0BLOCKED", &jid(B), "hello?"))
        .await
        .unwrap();
    assert!(
        !b.drain()
            .await
            .iter()
            .any(|e| matches!(e, pb::attach_response::Event::Message(_)))
    );
    assert!(
        !a.drain()
            .await
            .iter()
            .any(|e| matches!(e, pb::attach_response::Event::Receipt(_))),
        "no delivered receipt from a blocker"
    );
    let rows = net.deliveries(Some(A), 0, 100).await.unwrap();
    assert!(rows.iter().all(|r| r.message_id != "3EB0BLOCKED"));
    net.set_blocked(B, &jid(A), false).await.unwrap();
    let update = match b.change().await {
        Change::Contacts(p) => p,
        other => panic!("expected contacts, got {other:?}"),
    };
    assert!(!update.contacts[0].blocked);
    net.device_send(send(&a, "3EB0UNBLOCKED", &jid(B), "now?"))
        .await
        .unwrap();
    assert_eq!(b.message().await.id, "3EB0UNBLOCKED");
}

#[tokio::test]
async fn check_numbers_and_save_contact() {
    let scratch = Scratch::new();
    let net = scratch.network().await;
    register(&net, &[A, B]).await;
    let mut a = link(&net, A).await;
    let checks = net.check_numbers(&strings(&[B, UNREGISTERED]));
    assert!(checks[0].exists && !checks[0].business);
    assert_eq!(checks[0].jid, jid(B));
    assert!(checks[0].lid.ends_with("@lid"));
    assert_eq!(checks[0].phone_number, B);
    assert_eq!(
        checks[1],
        api::PhoneNumberCheck {
            phone_number: UNREGISTERED.into(),
            ..Default::default()
        }
    );

    net.save_contact(A, &jid(B), "Bob Builder", "Bob")
        .await
        .unwrap();
    let upsert = match a.change().await {
        Change::Contacts(p) => p,
        other => panic!("expected contacts, got {other:?}"),
    };
    assert_eq!(upsert.update_mask, None);
    let contact = &upsert.contacts[0];
    assert_eq!(
        (
            contact.jid.as_str(),
            contact.full_name.as_str(),
            contact.first_name.as_str(),
            contact.push_name.as_str(),
            contact.in_address_book
        ),
        (
            jid(B).as_str(),
            "Bob Builder",
            "Bob",
            format!("Sim +{B}").as_str(),
            true
        )
    );
    let err = net
        .save_contact(A, &jid(UNREGISTERED), "Nobody", "")
        .await
        .unwrap_err();
    assert_eq!(err.reason, Reason::NotOnWhatsapp);
}

#[tokio::test]
async fn contacts_and_groups_survive_a_reload() {
    let scratch = Scratch::new();
    let (g, code, info) = {
        let net = scratch.network().await;
        register(&net, &[A, B, C, D]).await;
        let g = net.create_group(A, "Durable", &[jid(B)]).await.unwrap().jid;
        net.change_participants(A, &g, ParticipantChange::Promote, &[jid(B)])
            .await
            .unwrap();
        net.update_group(A, &g, pb::update_group::Setting::Restrict(true))
            .await
            .unwrap();
        let code = net.invite_code(A, &g, false).await.unwrap();
        net.set_blocked(C, &jid(A), true).await.unwrap();
        net.save_contact(A, &jid(B), "Bob Builder", "Bob")
            .await
            .unwrap();
        let info = net.group_info(A, &g).unwrap();
        (g, code, info)
    };

    let net = scratch.network().await;
    assert_eq!(net.group_info(A, &g).unwrap(), info);
    assert_eq!(
        roles(&info),
        vec![
            (jid(A), Role::Superadmin as i32),
            (jid(B), Role::Admin as i32)
        ]
    );
    // The invite code still works, the block still holds.
    assert_eq!(net.invite_code(A, &g, false).await.unwrap(), code);
    assert_eq!(net.join_group(D, &code).await.unwrap(), (g.clone(), false));
    let results = net
        .change_participants(A, &g, ParticipantChange::Add, &[jid(C)])
        .await
        .unwrap();
    assert_eq!(codes(&results), vec![(jid(C), 403, false)]);
    assert_eq!(net.picture(A, &jid(C), false).unwrap(), None);
    // A newly linked device of A receives the saved address book.
    let mut a = link(&net, A).await;
    let synced = match a.change().await {
        Change::Contacts(p) => p,
        other => panic!("expected contacts, got {other:?}"),
    };
    assert_eq!(synced.contacts.len(), 1);
    assert_eq!(
        (
            synced.contacts[0].jid.as_str(),
            synced.contacts[0].full_name.as_str()
        ),
        (jid(B).as_str(), "Bob Builder")
    );
    // A group created after the reload gets a fresh JID.
    let other = net.create_group(A, "Second", &[]).await.unwrap();
    assert_ne!(other.jid, g);
    assert_eq!(net.joined_groups(A).len(), 2);
}
