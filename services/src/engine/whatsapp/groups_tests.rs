use std::time::{Duration, SystemTime};

use bytes::Bytes;
use whatsapp_rust::NodeBuilder;
use whatsapp_rust::chrono::DateTime;
use whatsapp_rust::features::{GroupEphemeralSettings, GroupParticipant};
use whatsapp_rust::types::events::Event;
use whatsapp_rust::wacore::stanza::groups::GroupParticipantType;

use super::*;
use crate::engine::EngineEvent;
use crate::engine::whatsapp::events::{Mapped, map};
use crate::error::Code;
use crate::session::model::LinkedUser;

const GROUP: &str = "120363000000000001@g.us";

fn now() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000)
}

/// The account: phone 15551234567, LID 100000012345678.
fn linked() -> Option<LinkedUser> {
    Some(LinkedUser {
        jid: "15551234567:7@s.whatsapp.net".into(),
        lid: "100000012345678@lid".into(),
        push_name: "Shop".into(),
        phone_number: "+15551234567".into(),
    })
}

fn me() -> Me {
    Me::from_linked(&linked().unwrap())
}

fn jid(s: &str) -> Jid {
    s.parse().unwrap()
}

fn member(id: &str, pn: Option<&str>, kind: ParticipantType) -> GroupParticipant {
    GroupParticipant {
        jid: jid(id),
        phone_number: pn.map(jid),
        lid: None,
        username: None,
        participant_type: kind,
        details: None,
    }
}

// -- metadata ----------------------------------------------------------------

/// A LID-addressed group: members named by LID with their phone numbers.
fn metadata() -> GroupMetadata {
    GroupMetadata {
        id: jid(GROUP),
        subject: "Shop team".into(),
        participants: vec![
            member(
                "100000012345678@lid",
                Some("15551234567@s.whatsapp.net"),
                ParticipantType::Admin,
            ),
            member(
                "200000000000001@lid",
                Some("15550001111@s.whatsapp.net"),
                ParticipantType::SuperAdmin,
            ),
            member("200000000000002@lid", None, ParticipantType::Member),
        ],
        creator: Some(jid("200000000000001@lid")),
        creator_pn: Some(jid("15550001111@s.whatsapp.net")),
        creation_time: Some(1_700_000_000),
        subject_time: Some(1_700_000_100),
        subject_owner: Some(jid("200000000000001@lid")),
        description: Some("Orders and stock".into()),
        description_id: Some("DESC1".into()),
        is_locked: true,
        is_announcement: false,
        ephemeral: Some(GroupEphemeralSettings {
            expiration: Some(604_800),
            trigger: None,
        }),
        membership_approval: true,
        member_add_mode: Some(MemberAddMode::AllMemberAdd),
        size: Some(3),
        parent_group_jid: Some(jid("120363000000000099@g.us")),
        ..Default::default()
    }
}

#[test]
fn metadata_becomes_a_complete_group() {
    assert_eq!(
        group(&metadata(), &me()),
        pb::Group {
            jid: GROUP.into(),
            subject: "Shop team".into(),
            description: "Orders and stock".into(),
            owner: "15550001111@s.whatsapp.net".into(),
            create_time: Some(prost_types::Timestamp {
                seconds: 1_700_000_000,
                nanos: 0
            }),
            subject_owner: "200000000000001@lid".into(),
            subject_update_time: Some(prost_types::Timestamp {
                seconds: 1_700_000_100,
                nanos: 0
            }),
            size: 3,
            participants: vec![
                pb::GroupParticipant {
                    jid: "100000012345678@lid".into(),
                    phone_number: "+15551234567".into(),
                    lid: "100000012345678@lid".into(),
                    role: pb::GroupParticipantRole::Admin.into(),
                    ..Default::default()
                },
                pb::GroupParticipant {
                    jid: "200000000000001@lid".into(),
                    phone_number: "+15550001111".into(),
                    lid: "200000000000001@lid".into(),
                    role: pb::GroupParticipantRole::Superadmin.into(),
                    ..Default::default()
                },
                pb::GroupParticipant {
                    jid: "200000000000002@lid".into(),
                    phone_number: String::new(),
                    lid: "200000000000002@lid".into(),
                    role: pb::GroupParticipantRole::Member.into(),
                    ..Default::default()
                },
            ],
            announce: false,
            restrict: true,
            join_approval: true,
            member_add_mode: pb::MemberAddMode::AllMembers.into(),
            ephemeral_seconds: 604_800,
            community: "120363000000000099@g.us".into(),
            community_parent: false,
            self_role: pb::GroupParticipantRole::Admin.into(),
            ..Default::default()
        }
    );
}

#[test]
fn phone_addressed_members_and_unknown_settings() {
    let meta = GroupMetadata {
        id: jid(GROUP),
        subject: "Old style".into(),
        participants: vec![
            GroupParticipant {
                lid: Some(jid("200000000000003@lid")),
                ..member(
                    "15550003333:2@s.whatsapp.net",
                    None,
                    ParticipantType::Member,
                )
            },
            member("15550004444@s.whatsapp.net", None, ParticipantType::Admin),
        ],
        is_announcement: true,
        member_add_mode: None,
        ..Default::default()
    };
    let group = group(&meta, &me());
    assert_eq!(
        group.participants[0],
        pb::GroupParticipant {
            jid: "15550003333@s.whatsapp.net".into(),
            phone_number: "+15550003333".into(),
            lid: "200000000000003@lid".into(),
            role: pb::GroupParticipantRole::Member.into(),
            ..Default::default()
        }
    );
    // No size from the server: the participants are counted.
    assert_eq!(group.size, 2);
    assert!(group.announce);
    assert_eq!(group.member_add_mode, pb::MemberAddMode::Unspecified as i32);
    // The account is not a member (e.g. an invite preview).
    assert_eq!(
        group.self_role,
        pb::GroupParticipantRole::Unspecified as i32
    );
    assert_eq!(group.owner, "");
    assert_eq!(group.create_time, None);
}

// -- participant changes -------------------------------------------------------

fn answer(jid: &str, error: Option<&str>, phone: Option<&str>) -> ParticipantChangeResponse {
    let mut node = NodeBuilder::new("participant").attr("jid", jid);
    if let Some(error) = error {
        node = node.attr("error", error);
    }
    if let Some(phone) = phone {
        node = node.attr("phone_number", phone);
    }
    ParticipantChangeResponse::try_from_node(&node.build()).unwrap()
}

#[test]
fn participant_results_follow_the_request_with_whatsapp_codes() {
    let asked = [
        jid("15550001111@s.whatsapp.net"),
        jid("15550002222@s.whatsapp.net"),
        jid("15550003333@s.whatsapp.net"),
        jid("15550004444@s.whatsapp.net"),
        jid("15550005555@s.whatsapp.net"),
    ];
    // Out of order, one named by LID with its phone number, one missing.
    let answers = [
        answer("15550003333@s.whatsapp.net", Some("408"), None),
        answer(
            "200000000000001@lid",
            None,
            Some("15550001111@s.whatsapp.net"),
        ),
        answer("15550002222@s.whatsapp.net", Some("403"), None),
        answer("15550004444@s.whatsapp.net", Some("409"), None),
    ];
    let result = |jid: &str, code: i32, reason: &str, success: bool| pb::ParticipantResult {
        jid: jid.into(),
        code,
        reason: reason.into(),
        success,
    };
    assert_eq!(
        participant_results(&asked, ParticipantChange::Add, &answers),
        vec![
            result("200000000000001@lid", 200, "added", true),
            result("15550002222@s.whatsapp.net", 403, "forbidden", false),
            result("15550003333@s.whatsapp.net", 408, "recently-left", false),
            result("15550004444@s.whatsapp.net", 409, "conflict", false),
            result("15550005555@s.whatsapp.net", 0, "no-answer", false),
        ]
    );
    let removed = participant_results(
        &asked[..1],
        ParticipantChange::Remove,
        &[answer("15550001111@s.whatsapp.net", None, None)],
    );
    assert_eq!(removed[0].reason, "removed");
    let promoted = participant_results(
        &asked[..2],
        ParticipantChange::Promote,
        &[
            answer("15550001111@s.whatsapp.net", None, None),
            answer("15550002222@s.whatsapp.net", Some("404"), None),
        ],
    );
    assert_eq!(
        promoted,
        vec![
            result("15550001111@s.whatsapp.net", 200, "promoted", true),
            result("15550002222@s.whatsapp.net", 404, "item-not-found", false),
        ]
    );
    let demoted = participant_results(
        &asked[..1],
        ParticipantChange::Demote,
        &[answer("15550001111@s.whatsapp.net", None, None)],
    );
    assert_eq!(demoted[0].reason, "demoted");
}

#[test]
fn unnamed_answers_of_the_same_count_are_taken_in_order() {
    let asked = [jid("200000000000007@lid")];
    let answers = [answer("15550007777@s.whatsapp.net", Some("401"), None)];
    assert_eq!(
        participant_results(&asked, ParticipantChange::Remove, &answers),
        vec![pb::ParticipantResult {
            jid: "15550007777@s.whatsapp.net".into(),
            code: 401,
            reason: "not-authorized".into(),
            success: false,
        }]
    );
}

// -- invites and pictures --------------------------------------------------------

#[test]
fn joins_invite_links_and_pictures() {
    assert_eq!(
        joined(&JoinGroupResult::Joined(jid(GROUP))),
        JoinedGroup {
            jid: GROUP.into(),
            approval_pending: false
        }
    );
    assert_eq!(
        joined(&JoinGroupResult::PendingApproval(jid(GROUP))),
        JoinedGroup {
            jid: GROUP.into(),
            approval_pending: true
        }
    );
    assert_eq!(
        code_of_link("https://chat.whatsapp.com/AbCdEf123456"),
        "AbCdEf123456"
    );
    assert_eq!(code_of_link("AbCdEf123456"), "AbCdEf123456");

    let blob = |bytes: &'static [u8], mime: &str| MediaBlob {
        bytes: Bytes::from_static(bytes),
        mime_type: mime.into(),
        file_name: String::new(),
    };
    assert_eq!(
        picture_bytes(&blob(b"\xFF\xD8\xFF\xE0jpeg", "image/jpeg")).unwrap(),
        b"\xFF\xD8\xFF\xE0jpeg".to_vec()
    );
    let error = picture_bytes(&blob(b"\x89PNG\r\n\x1a\n", "image/png")).unwrap_err();
    assert_eq!(error.code, Code::InvalidArgument);
    assert!(error.message.contains("image/png"), "{}", error.message);
}

// -- notifications ---------------------------------------------------------------

fn update(action: GroupNotificationAction) -> Event {
    Event::GroupUpdate(
        GroupUpdate::builder()
            .group_jid(jid(GROUP))
            .participant(jid("200000000000001@lid"))
            .participant_pn(jid("15550001111@s.whatsapp.net"))
            .timestamp(DateTime::from_timestamp(1_800_000_000, 0).unwrap())
            .is_lid_addressing_mode(true)
            .action(action)
            .build(),
    )
}

fn info(id: &str, phone: Option<&str>) -> GroupParticipantInfo {
    GroupParticipantInfo {
        jid: jid(id),
        phone_number: phone.map(jid),
        display_name: None,
        r#type: Some(GroupParticipantType::Participant),
        lid: None,
        username: None,
        join_time: None,
        group_history_sent_state: None,
    }
}

fn mapped(event: &Event) -> DirectoryEvent {
    match map(event, linked, now()) {
        Mapped::Report(EngineEvent::Directory(event)) => event,
        other => panic!("expected a directory event, got {other:?}"),
    }
}

/// The author of every notification in these tests, by phone number.
const AUTHOR: &str = "15550001111@s.whatsapp.net";

#[test]
fn membership_notifications_become_participant_events() {
    let members = vec![
        info("200000000000002@lid", Some("15550002222@s.whatsapp.net")),
        info("200000000000003@lid", None),
    ];
    let expect = |change| DirectoryEvent::Participants {
        group: GROUP.into(),
        participants: vec!["200000000000002@lid".into(), "200000000000003@lid".into()],
        change,
        author: AUTHOR.into(),
    };
    assert_eq!(
        mapped(&update(GroupNotificationAction::Add {
            participants: members.clone(),
            reason: None,
        })),
        expect(ParticipantChange::Add)
    );
    assert_eq!(
        mapped(&update(GroupNotificationAction::Remove {
            participants: members.clone(),
            reason: None,
        })),
        expect(ParticipantChange::Remove)
    );
    assert_eq!(
        mapped(&update(GroupNotificationAction::Promote {
            participants: members.clone(),
        })),
        expect(ParticipantChange::Promote)
    );
    assert_eq!(
        mapped(&update(GroupNotificationAction::Demote {
            participants: members,
        })),
        expect(ParticipantChange::Demote)
    );
}

#[test]
fn joins_through_links_and_leaves_name_the_member_as_author() {
    // Someone leaving: the author is the member itself.
    let leave = Event::GroupUpdate(
        GroupUpdate::builder()
            .group_jid(jid(GROUP))
            .participant(jid("15550002222@s.whatsapp.net"))
            .timestamp(DateTime::from_timestamp(1_800_000_000, 0).unwrap())
            .is_lid_addressing_mode(false)
            .action(GroupNotificationAction::Remove {
                participants: vec![info("15550002222@s.whatsapp.net", None)],
                reason: None,
            })
            .build(),
    );
    assert_eq!(
        mapped(&leave),
        DirectoryEvent::Participants {
            group: GROUP.into(),
            participants: vec!["15550002222@s.whatsapp.net".into()],
            change: ParticipantChange::Remove,
            author: "15550002222@s.whatsapp.net".into(),
        }
    );
    let join = Event::GroupUpdate(
        GroupUpdate::builder()
            .group_jid(jid(GROUP))
            .participant(jid("15550003333@s.whatsapp.net"))
            .timestamp(DateTime::from_timestamp(1_800_000_000, 0).unwrap())
            .is_lid_addressing_mode(false)
            .action(GroupNotificationAction::Add {
                participants: vec![info("15550003333@s.whatsapp.net", None)],
                reason: Some("invite".into()),
            })
            .build(),
    );
    assert!(matches!(
        mapped(&join),
        DirectoryEvent::Participants { change: ParticipantChange::Add, ref author, .. }
            if author == "15550003333@s.whatsapp.net"
    ));
    // An empty list reports nothing.
    assert_eq!(
        map(
            &update(GroupNotificationAction::Add {
                participants: Vec::new(),
                reason: None
            }),
            linked,
            now()
        ),
        Mapped::Ignore
    );
}

fn changed(action: GroupNotificationAction) -> (pb::Group, Vec<String>) {
    match mapped(&update(action)) {
        DirectoryEvent::Groups {
            mut groups,
            update_mask,
            author,
        } => {
            assert_eq!(author, AUTHOR);
            assert_eq!(groups.len(), 1);
            let group = groups.remove(0);
            assert_eq!(group.jid, GROUP);
            (group, update_mask)
        }
        other => panic!("expected a groups event, got {other:?}"),
    }
}

fn mask(fields: &[&str]) -> Vec<String> {
    fields.iter().map(|f| (*f).to_owned()).collect()
}

#[test]
fn info_notifications_become_group_updates() {
    let (group, fields) = changed(GroupNotificationAction::Subject {
        subject: "New name".into(),
        subject_owner: Some(jid("15550001111:5@s.whatsapp.net")),
        subject_time: Some(1_800_000_000),
    });
    assert_eq!(
        fields,
        mask(&["subject", "subject_owner", "subject_update_time"])
    );
    assert_eq!(
        (group.subject.as_str(), group.subject_owner.as_str()),
        ("New name", "15550001111@s.whatsapp.net")
    );
    assert_eq!(group.subject_update_time.unwrap().seconds, 1_800_000_000);

    let (group, fields) = changed(GroupNotificationAction::Description {
        id: "D2".into(),
        description: Some("Now with prices".into()),
    });
    assert_eq!(fields, mask(&["description"]));
    assert_eq!(group.description, "Now with prices");
    let (group, _) = changed(GroupNotificationAction::Description {
        id: "D3".into(),
        description: None,
    });
    assert_eq!(group.description, "");
}

#[test]
fn setting_notifications_become_group_updates() {
    let (group, fields) = changed(GroupNotificationAction::Locked { threshold: None });
    assert_eq!((fields, group.restrict), (mask(&["restrict"]), true));
    let (group, fields) = changed(GroupNotificationAction::Unlocked);
    assert_eq!((fields, group.restrict), (mask(&["restrict"]), false));
    let (group, fields) = changed(GroupNotificationAction::Announce);
    assert_eq!((fields, group.announce), (mask(&["announce"]), true));
    let (group, fields) = changed(GroupNotificationAction::NotAnnounce);
    assert_eq!((fields, group.announce), (mask(&["announce"]), false));
    let (group, fields) =
        changed(GroupNotificationAction::MembershipApprovalMode { enabled: true });
    assert_eq!(
        (fields, group.join_approval),
        (mask(&["join_approval"]), true)
    );
    let (group, fields) = changed(GroupNotificationAction::Ephemeral {
        expiration: 86_400,
        trigger: None,
    });
    assert_eq!(
        (fields, group.ephemeral_seconds),
        (mask(&["ephemeral_seconds"]), 86_400)
    );
    let (group, fields) = changed(GroupNotificationAction::MemberAddMode {
        mode: "admin_add".into(),
    });
    assert_eq!(
        (fields, group.member_add_mode),
        (
            mask(&["member_add_mode"]),
            pb::MemberAddMode::AdminsOnly as i32
        )
    );
    let (group, _) = changed(GroupNotificationAction::MemberAddMode {
        mode: "all_member_add".into(),
    });
    assert_eq!(group.member_add_mode, pb::MemberAddMode::AllMembers as i32);
    assert_eq!(
        map(
            &update(GroupNotificationAction::MemberAddMode {
                mode: "someday_add".into()
            }),
            linked,
            now()
        ),
        Mapped::Ignore
    );
    assert_eq!(
        map(
            &update(GroupNotificationAction::RevokeInvite),
            linked,
            now()
        ),
        Mapped::Ignore
    );
}

#[test]
fn a_group_created_or_joined_is_a_complete_upsert() {
    let raw = NodeBuilder::new("create")
        .attr("reason", "invite")
        .children([NodeBuilder::new("group")
            .attr("id", "120363000000000001")
            .attr("subject", "Shop team")
            .attr("creator", "15550001111@s.whatsapp.net")
            .attr("creation", "1700000000")
            .attr("s_t", "1700000100")
            .attr("s_o", "15550001111@s.whatsapp.net")
            .children([
                NodeBuilder::new("participant")
                    .attr("jid", "15550001111@s.whatsapp.net")
                    .attr("type", "superadmin")
                    .build(),
                NodeBuilder::new("participant")
                    .attr("jid", "15551234567@s.whatsapp.net")
                    .build(),
                NodeBuilder::new("announcement").build(),
            ])
            .build()])
        .build();
    let event = mapped(&update(GroupNotificationAction::Create { raw }));
    let DirectoryEvent::Groups {
        groups,
        update_mask,
        author,
    } = event
    else {
        panic!("expected a groups upsert, got {event:?}")
    };
    assert!(update_mask.is_empty());
    assert_eq!(author, AUTHOR);
    assert_eq!(groups.len(), 1);
    let group = &groups[0];
    assert_eq!(group.jid, GROUP);
    assert_eq!(group.subject, "Shop team");
    assert_eq!(group.owner, "15550001111@s.whatsapp.net");
    assert_eq!(group.create_time.unwrap().seconds, 1_700_000_000);
    assert!(group.announce);
    assert_eq!(
        group
            .participants
            .iter()
            .map(|p| (p.jid.as_str(), p.role))
            .collect::<Vec<_>>(),
        vec![
            (
                "15550001111@s.whatsapp.net",
                pb::GroupParticipantRole::Superadmin as i32
            ),
            (
                "15551234567@s.whatsapp.net",
                pb::GroupParticipantRole::Member as i32
            ),
        ]
    );
    assert_eq!(group.self_role, pb::GroupParticipantRole::Member as i32);
    assert_eq!(group.size, 2);

    // A create without its group says nothing usable.
    let empty = update(GroupNotificationAction::Create {
        raw: NodeBuilder::new("create").build(),
    });
    assert_eq!(map(&empty, linked, now()), Mapped::Ignore);
}

#[test]
fn group_picture_changes_clear_the_picture_uri() {
    let event = Event::PictureUpdate(
        PictureUpdate::builder()
            .jid(jid(GROUP))
            .author(jid("15550001111:3@s.whatsapp.net"))
            .timestamp(DateTime::from_timestamp(1_800_000_000, 0).unwrap())
            .removed(false)
            .picture_id("42".to_string())
            .build(),
    );
    assert_eq!(
        mapped(&event),
        DirectoryEvent::Groups {
            groups: vec![pb::Group {
                jid: GROUP.into(),
                ..Default::default()
            }],
            update_mask: mask(&["picture_uri"]),
            author: AUTHOR.into(),
        }
    );
}
