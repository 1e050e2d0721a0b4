//! GroupService end to end on the simulated network: creation, the cached
//! metadata, participants with per-participant results, admin-only
//! operations, settings, invites, leaving, group messages, the events the
//! other members receive, and account protection.

use std::time::Duration;

use tonic::transport::Channel;
use wagate_proto::v1 as pb;
use wagate_proto::v1::group_service_client::GroupServiceClient;
use wagate_tests::{admin, backends, error_reason, eventually, violated_fields};

use crate::contacts::{PHONE_NOBODY, wait_event};
use crate::messages::{
    PHONE_A, PHONE_B, PHONE_C, Pair, deliveries, png, send, text, upload, wait_inbound,
    wait_message,
};

pub fn groups(channel: Channel) -> GroupServiceClient<Channel> {
    GroupServiceClient::new(channel)
}

fn jid_of(phone: &str) -> String {
    format!("{}@s.whatsapp.net", phone.trim_start_matches('+'))
}

fn member(phone: &str) -> pb::GroupParticipant {
    pb::GroupParticipant {
        jid: phone.to_owned(),
        ..Default::default()
    }
}

fn role_of(group: &pb::Group, phone: &str) -> Option<pb::GroupParticipantRole> {
    group
        .participants
        .iter()
        .find(|p| p.jid == jid_of(phone) || p.phone_number == phone)
        .map(|p| pb::GroupParticipantRole::try_from(p.role).unwrap())
}

async fn get(client: &mut GroupServiceClient<Channel>, name: &str) -> pb::Group {
    client
        .get_group(admin(pb::GetGroupRequest {
            name: name.to_owned(),
            view: pb::GroupView::Full as i32,
        }))
        .await
        .expect("get group")
        .into_inner()
}

pub async fn create(
    client: &mut GroupServiceClient<Channel>,
    session: &str,
    subject: &str,
    members: &[&str],
) -> pb::Group {
    client
        .create_group(admin(pb::CreateGroupRequest {
            parent: session.to_owned(),
            group: Some(pb::Group {
                subject: subject.to_owned(),
                participants: members.iter().map(|m| member(m)).collect(),
                ..Default::default()
            }),
            request_id: String::new(),
        }))
        .await
        .expect("create group")
        .into_inner()
}

fn in_session(session: &str, group: &pb::Group) -> String {
    format!("{session}/groups/{}", group.jid)
}

async fn change(
    client: &mut GroupServiceClient<Channel>,
    name: &str,
    add: bool,
    phones: &[&str],
) -> Result<Vec<pb::ParticipantResult>, tonic::Status> {
    let participants: Vec<String> = phones.iter().map(|p| p.to_string()).collect();
    if add {
        client
            .add_participants(admin(pb::AddParticipantsRequest {
                parent: name.to_owned(),
                participants,
            }))
            .await
            .map(|r| r.into_inner().results)
    } else {
        client
            .remove_participants(admin(pb::RemoveParticipantsRequest {
                parent: name.to_owned(),
                participants,
            }))
            .await
            .map(|r| r.into_inner().results)
    }
}

/// Waits until the session's group cache is empty (notifications apply
/// asynchronously, in order).
async fn wait_no_groups(client: &GroupServiceClient<Channel>, session: &str) {
    eventually(
        &format!("{session} to list no group"),
        Duration::from_secs(10),
        || {
            let mut client = client.clone();
            let session = session.to_owned();
            async move {
                let page = client
                    .list_groups(admin(pb::ListGroupsRequest {
                        parent: session,
                        ..Default::default()
                    }))
                    .await
                    .unwrap()
                    .into_inner();
                (page.total_size == 0).then_some(())
            }
        },
    )
    .await;
}

#[tokio::test]
async fn groups_end_to_end() {
    for backend in backends() {
        let pair = Pair::start(backend, |config| {
            config.queue.protection_interval = Duration::ZERO;
        })
        .await;
        let channel = pair.server.channel();
        let mut client = groups(channel.clone());

        // A creates a group with B, C and an unregistered number (left out).
        let group = create(
            &mut client,
            &pair.a,
            "Team",
            &[PHONE_B, PHONE_C, PHONE_NOBODY],
        )
        .await;
        assert!(group.jid.ends_with("@g.us"), "{group:?}");
        assert_eq!(group.name, in_session(&pair.a, &group));
        assert_eq!(group.subject, "Team");
        assert_eq!(group.size, 3, "{group:?}");
        assert_eq!(
            role_of(&group, PHONE_A),
            Some(pb::GroupParticipantRole::Superadmin)
        );
        assert_eq!(
            role_of(&group, PHONE_B),
            Some(pb::GroupParticipantRole::Member)
        );
        assert_eq!(group.self_role, pb::GroupParticipantRole::Superadmin as i32);
        assert_eq!(
            group.participants[0].jid,
            jid_of(PHONE_A),
            "super admin first"
        );
        let a_name = in_session(&pair.a, &group);
        let b_name = in_session(&pair.b, &group);

        // B learns of it by event; its cache answers ListGroups and GetGroup.
        wait_event(&channel, &pair.b, "groups.upsert", &group.jid).await;
        let listed = client
            .list_groups(admin(pb::ListGroupsRequest {
                parent: pair.b.clone(),
                ..Default::default()
            }))
            .await
            .expect("list")
            .into_inner();
        assert_eq!(listed.total_size, 1);
        assert_eq!(listed.groups[0].jid, group.jid);
        assert!(listed.groups[0].participants.is_empty(), "BASIC view");
        let seen_by_b = get(&mut client, &b_name).await;
        assert_eq!(seen_by_b.self_role, pb::GroupParticipantRole::Member as i32);

        // A member is not an admin.
        let err = change(&mut client, &b_name, false, &[PHONE_C])
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::PermissionDenied, "{err:?}");
        assert_eq!(error_reason(&err), "NOT_GROUP_ADMIN");
        let err = client
            .update_group_settings(admin(pb::UpdateGroupSettingsRequest {
                group: Some(pb::Group {
                    name: b_name.clone(),
                    announce: true,
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["announce".into()],
                }),
            }))
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::PermissionDenied, "{err:?}");

        // Promote B: B sees the event and its cached group follows.
        let promoted = client
            .update_participants(admin(pb::UpdateParticipantsRequest {
                parent: a_name.clone(),
                action: pb::ParticipantAction::Promote as i32,
                participants: vec![PHONE_B.into(), PHONE_NOBODY.into()],
            }))
            .await
            .expect("promote")
            .into_inner()
            .results;
        assert_eq!(
            promoted.iter().map(|r| r.code).collect::<Vec<_>>(),
            [200, 404],
            "{promoted:?}"
        );
        assert!(promoted[0].success && !promoted[1].success);
        let event = wait_event(
            &channel,
            &pair.b,
            "group-participants.update",
            "\"promote\"",
        )
        .await;
        assert!(event.json.contains(&jid_of(PHONE_B)), "{}", event.json);
        let cached = eventually(
            "B's cache to show B as admin",
            Duration::from_secs(10),
            || {
                let mut client = client.clone();
                let b_name = b_name.clone();
                async move {
                    let group = get(&mut client, &b_name).await;
                    (role_of(&group, PHONE_B) == Some(pb::GroupParticipantRole::Admin))
                        .then_some(group)
                }
            },
        )
        .await;
        assert_eq!(cached.size, 3);

        // Settings: subject and announce, seen by B as groups.update.
        let updated = client
            .update_group_settings(admin(pb::UpdateGroupSettingsRequest {
                group: Some(pb::Group {
                    name: a_name.clone(),
                    subject: "Team 2".into(),
                    announce: true,
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["announce".into(), "subject".into()],
                }),
            }))
            .await
            .expect("settings")
            .into_inner();
        assert_eq!(
            (updated.subject.as_str(), updated.announce),
            ("Team 2", true)
        );
        wait_event(&channel, &pair.b, "groups.update", "Team 2").await;
        eventually(
            "B's cache to show the new subject",
            Duration::from_secs(10),
            || {
                let mut client = client.clone();
                let b_name = b_name.clone();
                async move { (get(&mut client, &b_name).await.subject == "Team 2").then_some(()) }
            },
        )
        .await;

        // A group picture from an uploaded PNG.
        let media = upload(
            &mut pair.messages(),
            &pair.a,
            png(),
            "image/png",
            "team.png",
        )
        .await
        .expect("upload");
        client
            .update_group_settings(admin(pb::UpdateGroupSettingsRequest {
                group: Some(pb::Group {
                    name: a_name.clone(),
                    picture_uri: media.name.clone(),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["picture_uri".into()],
                }),
            }))
            .await
            .expect("picture");
        let picture = client
            .get_group_picture(admin(pb::GetGroupPictureRequest {
                name: b_name.clone(),
                preview: false,
            }))
            .await
            .expect("group picture")
            .into_inner();
        assert!(picture.uri.starts_with("https://"), "{picture:?}");

        // A message to the group reaches B (an admin may write in announce mode).
        let mut messages = pair.messages();
        let sent = send(&mut messages, &pair.a, text(&group.jid, "hello team"))
            .await
            .expect("send");
        let sent = wait_message(&messages, &sent.name, pb::MessageStatus::Delivered).await;
        let inbound = wait_inbound(&messages, &pair.b, &sent.whatsapp_id).await;
        assert_eq!(inbound.chat, group.jid);
        let copies: Vec<_> = deliveries(&mut pair.simulator(), PHONE_A)
            .await
            .into_iter()
            .filter(|d| d.message_id == sent.whatsapp_id && !d.recipient_jid.is_empty())
            .map(|d| d.recipient_jid)
            .collect();
        assert_eq!(
            copies,
            [jid_of(PHONE_B), jid_of(PHONE_C)],
            "one copy per other member"
        );

        // Remove C; removing C again is a per-participant 404.
        let removed = change(&mut client, &a_name, false, &[PHONE_C])
            .await
            .expect("remove");
        assert_eq!(
            (removed[0].code, removed[0].success),
            (200, true),
            "{removed:?}"
        );
        let again = change(&mut client, &a_name, false, &[PHONE_C])
            .await
            .expect("remove again");
        assert_eq!(again[0].code, 404, "{again:?}");
        let added_twice = change(&mut client, &a_name, true, &[PHONE_B])
            .await
            .expect("add member");
        assert_eq!(added_twice[0].code, 409, "{added_twice:?}");

        // Invites: a reset revokes the old code; B rejoins with the new one.
        let link = client
            .get_invite_link(admin(pb::GetInviteLinkRequest {
                name: a_name.clone(),
                reset: false,
            }))
            .await
            .expect("invite link")
            .into_inner();
        assert_eq!(
            link.invite_link,
            format!("https://chat.whatsapp.com/{}", link.invite_code)
        );
        let reset = client
            .get_invite_link(admin(pb::GetInviteLinkRequest {
                name: a_name.clone(),
                reset: true,
            }))
            .await
            .expect("reset")
            .into_inner();
        assert_ne!(reset.invite_code, link.invite_code);
        let removed_b = change(&mut client, &a_name, false, &[PHONE_B])
            .await
            .expect("remove B");
        assert!(removed_b[0].success);
        wait_no_groups(&client, &pair.b).await;
        let err = client
            .get_invite_info(admin(pb::GetInviteInfoRequest {
                parent: pair.b.clone(),
                invite_code: link.invite_code.clone(),
            }))
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::NotFound, "revoked code: {err:?}");
        let preview = client
            .get_invite_info(admin(pb::GetInviteInfoRequest {
                parent: pair.b.clone(),
                invite_code: reset.invite_link.clone(),
            }))
            .await
            .expect("invite info")
            .into_inner();
        assert_eq!(preview.subject, "Team 2");
        let joined = client
            .accept_invite(admin(pb::AcceptInviteRequest {
                parent: pair.b.clone(),
                invite_code: reset.invite_code.clone(),
            }))
            .await
            .expect("join")
            .into_inner();
        assert_eq!(joined.jid, group.jid);
        assert!(!joined.approval_pending);
        let err = client
            .accept_invite(admin(pb::AcceptInviteRequest {
                parent: pair.b.clone(),
                invite_code: reset.invite_code.clone(),
            }))
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::AlreadyExists, "{err:?}");

        // B leaves: A sees the removal; the group is gone from B's list.
        client
            .leave_group(admin(pb::LeaveGroupRequest {
                name: b_name.clone(),
            }))
            .await
            .expect("leave");
        // Notifications of the join may still be landing; the leave's own
        // notification comes after them and settles the cache.
        wait_no_groups(&client, &pair.b).await;
        let err = client
            .leave_group(admin(pb::LeaveGroupRequest {
                name: b_name.clone(),
            }))
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::NotFound, "{err:?}");
        let final_group = eventually("A's cache to drop B", Duration::from_secs(10), || {
            let mut client = client.clone();
            let a_name = a_name.clone();
            async move {
                let group = get(&mut client, &a_name).await;
                role_of(&group, PHONE_B).is_none().then_some(group)
            }
        })
        .await;
        assert_eq!(final_group.size, 1, "{final_group:?}");
        pair.stop().await;
    }
}

#[tokio::test]
async fn group_validation_idempotency_and_protection() {
    let pair = Pair::start(wagate_tests::Backend::Sqlite, |config| {
        config.protection.groups_per_minute = 2;
        config.protection.minute_window = Duration::from_secs(60);
    })
    .await;
    let mut client = groups(pair.server.channel());
    let request = |subject: &str, members: Vec<&str>, key: &str| pb::CreateGroupRequest {
        parent: pair.a.clone(),
        group: Some(pb::Group {
            subject: subject.to_owned(),
            participants: members.into_iter().map(member).collect(),
            ..Default::default()
        }),
        request_id: key.to_owned(),
    };
    let err = client
        .create_group(admin(request(" ", vec!["12ab"], "")))
        .await
        .unwrap_err();
    assert_eq!(
        violated_fields(&err),
        ["group.subject", "group.participants[0]"]
    );
    let err = client
        .create_group(admin(request(&"x".repeat(101), vec![], "")))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&err), ["group.subject"]);

    // The same idempotency key returns the first group without asking again.
    let first = client
        .create_group(admin(request("Once", vec![PHONE_B], "key-1")))
        .await
        .expect("create")
        .into_inner();
    let second = client
        .create_group(admin(request("Once", vec![PHONE_B], "key-1")))
        .await
        .expect("repeat")
        .into_inner();
    assert_eq!(first.jid, second.jid);
    let name = in_session(&pair.a, &first);
    // Cached reads are free; live calls count: one create so far, one more fits.
    for _ in 0..5 {
        get(&mut client, &name).await;
    }
    change(&mut client, &name, true, &[PHONE_C])
        .await
        .expect("second live call");
    let err = change(&mut client, &name, true, &[PHONE_C])
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::ResourceExhausted, "{err:?}");
    assert_eq!(error_reason(&err), "RATE_LIMITED");

    let err = client
        .update_group_settings(admin(pb::UpdateGroupSettingsRequest {
            group: Some(pb::Group {
                name: name.clone(),
                ..Default::default()
            }),
            update_mask: None,
        }))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&err), ["update_mask"]);
    let err = client
        .get_group(admin(pb::GetGroupRequest {
            name: format!("{}/groups/not-a-group", pair.a),
            view: 0,
        }))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&err), ["name"]);
    let err = client
        .accept_invite(admin(pb::AcceptInviteRequest {
            parent: pair.a.clone(),
            invite_code: "https://chat.whatsapp.com/bad code!".into(),
        }))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&err), ["invite_code"]);
    pair.stop().await;
}
