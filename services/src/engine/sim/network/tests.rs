//! Groups on the simulated network, against a scratch SQLite store: group
//! permissions and per-participant codes, settings, invites, leaving, group
//! message fan-out and notifications to online and offline devices; and the
//! helpers the contact tests share.

use std::path::PathBuf;
use std::time::Duration;

use futures::StreamExt;
use wagate_proto::v1 as api;
use wagate_proto::wagate::simnet::v1 as pb;

use super::{Network, SimNetwork};
use crate::config::SimConfig;
use crate::engine::directory::ParticipantChange;
use crate::error::{Code, Reason};
use crate::store::Store;

use api::GroupParticipantRole as Role;
use pb::notification::Change;

pub(super) const A: &str = "14155550101";
pub(super) const B: &str = "14155550102";
pub(super) const C: &str = "14155550103";
pub(super) const D: &str = "14155550104";
pub(super) const E: &str = "14155550105";
pub(super) const UNREGISTERED: &str = "14155550199";

pub(super) fn jid(digits: &str) -> String {
    format!("{digits}@s.whatsapp.net")
}

pub(super) struct Scratch {
    dir: PathBuf,
    url: String,
}

impl Scratch {
    pub(super) fn new() -> Self {
        let dir = std::env::temp_dir().join(format!(
            "wagate-simdir-{}-{:016x}",
            std::process::id(),
            rand::random::<u64>()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let url = format!("sqlite://{}", dir.join("wagate.db").display());
        Self { dir, url }
    }

    pub(super) async fn network(&self) -> Network {
        let store = Store::connect(&self.url, 4).await.unwrap();
        store.migrate().await.unwrap();
        Network::load(store, SimConfig::default()).await.unwrap()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub(super) async fn register(net: &Network, digits: &[&str]) {
    for d in digits {
        net.register_account(d, None).await.unwrap();
    }
}

/// A linked, online device of `digits`.
pub(super) struct Device {
    pub(super) credentials: pb::DeviceCredentials,
    pub(super) stream: super::AttachStream,
}

pub(super) async fn link(net: &Network, digits: &str) -> Device {
    let mut stream = net.attach(None).await.unwrap();
    let conn = loop {
        match next(&mut stream).await {
            pb::attach_response::Event::Linking(l) => break l.connection_id,
            _ => continue,
        }
    };
    let code = net.request_pair_code(&conn, digits).await.unwrap();
    net.enter_pair_code(digits, &code.code).await.unwrap();
    let credentials = loop {
        if let pb::attach_response::Event::Paired(p) = next(&mut stream).await {
            break p.credentials.unwrap();
        }
    };
    loop {
        if let pb::attach_response::Event::Connected(_) = next(&mut stream).await {
            break;
        }
    }
    Device {
        credentials,
        stream,
    }
}

impl Device {
    /// Logs in again (after its stream was dropped).
    pub(super) async fn reconnect(net: &Network, credentials: pb::DeviceCredentials) -> Device {
        let stream = net.attach(Some(credentials.clone())).await.unwrap();
        let mut device = Device {
            credentials,
            stream,
        };
        match next(&mut device.stream).await {
            pb::attach_response::Event::Connected(_) => {}
            other => panic!("expected Connected, got {other:?}"),
        }
        device
    }

    /// The next directory notification (skipping messages and receipts).
    pub(super) async fn change(&mut self) -> Change {
        loop {
            if let pb::attach_response::Event::Directory(n) = next(&mut self.stream).await {
                return n.change.unwrap();
            }
        }
    }

    /// The next message.
    pub(super) async fn message(&mut self) -> pb::InboundMessage {
        loop {
            if let pb::attach_response::Event::Message(m) = next(&mut self.stream).await {
                return *m;
            }
        }
    }

    /// Every event that arrives within a short while.
    pub(super) async fn drain(&mut self) -> Vec<pb::attach_response::Event> {
        let mut events = Vec::new();
        while let Ok(Some(item)) =
            tokio::time::timeout(Duration::from_millis(300), self.stream.next()).await
        {
            events.extend(item.event);
        }
        events
    }
}

pub(super) async fn next(stream: &mut super::AttachStream) -> pb::attach_response::Event {
    tokio::time::timeout(Duration::from_secs(5), stream.next())
        .await
        .expect("an event within 5 s")
        .expect("the stream is open")
        .event
        .unwrap()
}

pub(super) fn codes(results: &[api::ParticipantResult]) -> Vec<(String, i32, bool)> {
    results
        .iter()
        .map(|r| (r.jid.clone(), r.code, r.success))
        .collect()
}

pub(super) fn roles(group: &api::Group) -> Vec<(String, i32)> {
    group
        .participants
        .iter()
        .map(|p| (p.jid.clone(), p.role))
        .collect()
}

fn participants_event(change: Change) -> api::GroupParticipantsPayload {
    match change {
        Change::Participants(p) => p,
        other => panic!("expected a participants change, got {other:?}"),
    }
}

fn groups_event(change: Change) -> api::GroupsPayload {
    match change {
        Change::Groups(p) => p,
        other => panic!("expected a groups change, got {other:?}"),
    }
}

pub(super) fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

#[tokio::test]
async fn create_and_change_participants_follow_whatsapp_rules() {
    let scratch = Scratch::new();
    let net = scratch.network().await;
    register(&net, &[A, B, C, D, E]).await;
    net.set_blocked(D, &jid(A), true).await.unwrap();

    let err = net.create_group(A, "  ", &[]).await.unwrap_err();
    assert_eq!(err.code, Code::InvalidArgument);

    let group = net
        .create_group(A, "Team", &[jid(B), jid(UNREGISTERED), jid(D), jid(A)])
        .await
        .unwrap();
    assert!(group.jid.starts_with("120363") && group.jid.ends_with("@g.us"));
    assert_eq!(group.jid.len(), "120363".len() + 12 + "@g.us".len());
    // The unregistered number and D (who blocked A) are left out.
    assert_eq!(
        roles(&group),
        vec![
            (jid(A), Role::Superadmin as i32),
            (jid(B), Role::Member as i32)
        ]
    );
    assert_eq!(group.size, 2);
    assert_eq!(group.owner, jid(A));
    assert_eq!(group.self_role, Role::Superadmin as i32);
    assert_eq!(group.member_add_mode, api::MemberAddMode::AdminsOnly as i32);
    let g = group.jid.clone();
    assert_eq!(
        net.group_info(B, &g).unwrap().self_role,
        Role::Member as i32
    );

    // A member may not add while only admins may.
    let err = net
        .change_participants(B, &g, ParticipantChange::Add, &[jid(C)])
        .await
        .unwrap_err();
    assert_eq!(
        (err.code, err.reason),
        (Code::PermissionDenied, Reason::NotGroupAdmin)
    );
    assert!(
        err.message.starts_with("not-authorized:"),
        "{}",
        err.message
    );
    assert!(err.message.contains(&jid(B)) && err.message.contains(&g));
    assert!(net.group_info(C, &g).is_err(), "C was not added");

    // A non-member sees nothing of the group.
    let err = net
        .change_participants(E, &g, ParticipantChange::Add, &[jid(C)])
        .await
        .unwrap_err();
    assert_eq!(err.code, Code::NotFound);
    assert_eq!(net.group_info(E, &g).unwrap_err().code, Code::NotFound);

    let results = net
        .change_participants(
            A,
            &g,
            ParticipantChange::Add,
            &[jid(B), jid(C), jid(UNREGISTERED), jid(D)],
        )
        .await
        .unwrap();
    assert_eq!(
        codes(&results),
        vec![
            (jid(B), 409, false),
            (jid(C), 200, true),
            (UNREGISTERED.to_owned() + "@s.whatsapp.net", 404, false),
            (jid(D), 403, false),
        ]
    );
    assert_eq!(results[1].reason, "added");
    assert_eq!(results[3].reason, "not-authorized");

    // Promote and demote: 200, 409 for the same role again, 404 for non-members.
    let results = net
        .change_participants(A, &g, ParticipantChange::Promote, &[jid(B), jid(E)])
        .await
        .unwrap();
    assert_eq!(
        codes(&results),
        vec![(jid(B), 200, true), (jid(E), 404, false)]
    );
    let results = net
        .change_participants(A, &g, ParticipantChange::Promote, &[jid(B)])
        .await
        .unwrap();
    assert_eq!(codes(&results), vec![(jid(B), 409, false)]);
    let results = net
        .change_participants(A, &g, ParticipantChange::Demote, &[jid(C)])
        .await
        .unwrap();
    assert_eq!(codes(&results), vec![(jid(C), 409, false)]);
    // C (a member) may not promote; B (now an admin) may remove C but not
    // the super admin.
    let err = net
        .change_participants(C, &g, ParticipantChange::Promote, &[jid(C)])
        .await
        .unwrap_err();
    assert_eq!(err.reason, Reason::NotGroupAdmin);
    let results = net
        .change_participants(B, &g, ParticipantChange::Remove, &[jid(A), jid(C)])
        .await
        .unwrap();
    assert_eq!(
        codes(&results),
        vec![(jid(A), 403, false), (jid(C), 200, true)]
    );
    assert_eq!(results[1].reason, "removed");
    let results = net
        .change_participants(B, &g, ParticipantChange::Remove, &[jid(C)])
        .await
        .unwrap();
    assert_eq!(codes(&results), vec![(jid(C), 404, false)]);
    assert_eq!(
        roles(&net.group_info(A, &g).unwrap()),
        vec![
            (jid(A), Role::Superadmin as i32),
            (jid(B), Role::Admin as i32)
        ]
    );

    // With member_add_mode ALL_MEMBERS a plain member may add.
    let results = net
        .change_participants(A, &g, ParticipantChange::Add, &[jid(C)])
        .await
        .unwrap();
    assert_eq!(codes(&results), vec![(jid(C), 200, true)]);
    net.update_group(
        A,
        &g,
        pb::update_group::Setting::MemberAddMode(api::MemberAddMode::AllMembers as i32),
    )
    .await
    .unwrap();
    let results = net
        .change_participants(C, &g, ParticipantChange::Add, &[jid(E)])
        .await
        .unwrap();
    assert_eq!(codes(&results), vec![(jid(E), 200, true)]);
    // ...but still not remove.
    let err = net
        .change_participants(C, &g, ParticipantChange::Remove, &[jid(E)])
        .await
        .unwrap_err();
    assert_eq!(err.reason, Reason::NotGroupAdmin);
}

#[tokio::test]
async fn settings_respect_admin_rules_and_restrict() {
    let scratch = Scratch::new();
    let net = scratch.network().await;
    register(&net, &[A, B]).await;
    let g = net.create_group(A, "Team", &[jid(B)]).await.unwrap().jid;
    use pb::update_group::Setting;

    // Any member may change the subject while the group is not restricted.
    net.update_group(B, &g, Setting::Subject("Renamed".into()))
        .await
        .unwrap();
    let info = net.group_info(A, &g).unwrap();
    assert_eq!(
        (info.subject.as_str(), info.subject_owner.as_str()),
        ("Renamed", jid(B).as_str())
    );
    // Announce, restrict and the like are admin-only.
    for setting in [
        Setting::Announce(true),
        Setting::Restrict(true),
        Setting::JoinApproval(true),
    ] {
        let err = net.update_group(B, &g, setting).await.unwrap_err();
        assert_eq!(
            (err.code, err.reason),
            (Code::PermissionDenied, Reason::NotGroupAdmin)
        );
    }
    net.update_group(A, &g, Setting::Restrict(true))
        .await
        .unwrap();
    let err = net
        .update_group(B, &g, Setting::Description("no".into()))
        .await
        .unwrap_err();
    assert_eq!(err.reason, Reason::NotGroupAdmin);
    net.update_group(A, &g, Setting::Description("About".into()))
        .await
        .unwrap();

    // Pictures: set, fetch, remove.
    assert_eq!(net.picture(A, &g, false).unwrap(), None);
    let png = pb::PictureUpload {
        content: vec![0x89, b'P', b'N', b'G'],
        mime_type: "image/png".into(),
    };
    net.update_group(A, &g, Setting::Picture(png))
        .await
        .unwrap();
    let picture = net.picture(B, &g, false).unwrap().expect("a picture");
    assert!(
        picture.uri.starts_with("https://pps.sim.wagate.invalid/"),
        "{}",
        picture.uri
    );
    let preview = net.picture(B, &g, true).unwrap().unwrap();
    assert_ne!(preview.uri, picture.uri);
    assert_eq!(preview.id, picture.id);
    assert_eq!(net.group_info(A, &g).unwrap().picture_uri, picture.uri);
    net.update_group(A, &g, Setting::Picture(pb::PictureUpload::default()))
        .await
        .unwrap();
    assert_eq!(net.picture(B, &g, false).unwrap(), None);
    let info = net.group_info(B, &g).unwrap();
    assert!(info.restrict && !info.announce);
    assert_eq!(info.description, "About");
    assert_eq!(info.picture_uri, "");
}

#[tokio::test]
async fn invites_reset_join_and_approval() {
    let scratch = Scratch::new();
    let net = scratch.network().await;
    register(&net, &[A, B, C, D]).await;
    let g = net.create_group(A, "Club", &[jid(B)]).await.unwrap().jid;

    let err = net.invite_code(B, &g, false).await.unwrap_err();
    assert_eq!(err.reason, Reason::NotGroupAdmin);
    let first = net.invite_code(A, &g, false).await.unwrap();
    assert_eq!(first.len(), 22);
    assert!(first.chars().all(|c| c.is_ascii_alphanumeric()));
    assert_eq!(net.invite_code(A, &g, false).await.unwrap(), first);
    let second = net.invite_code(A, &g, true).await.unwrap();
    assert_ne!(second, first);

    // The revoked code leads nowhere.
    assert_eq!(
        net.join_group(C, &first).await.unwrap_err().code,
        Code::NotFound
    );
    assert_eq!(net.invite_info(C, &first).unwrap_err().code, Code::NotFound);

    let preview = net.invite_info(C, &second).unwrap();
    assert_eq!(
        (preview.jid.as_str(), preview.subject.as_str(), preview.size),
        (g.as_str(), "Club", 2)
    );
    assert_eq!(preview.owner, jid(A));
    assert_eq!(preview.participants.len(), 2);
    assert!(net.group_info(C, &g).is_err(), "previewing does not join");

    assert_eq!(
        net.join_group(C, &second).await.unwrap(),
        (g.clone(), false)
    );
    assert_eq!(
        net.group_info(C, &g).unwrap().self_role,
        Role::Member as i32
    );
    let err = net.join_group(C, &second).await.unwrap_err();
    assert_eq!(err.code, Code::AlreadyExists);

    net.update_group(A, &g, pb::update_group::Setting::JoinApproval(true))
        .await
        .unwrap();
    assert_eq!(net.join_group(D, &second).await.unwrap(), (g.clone(), true));
    assert_eq!(net.group_info(D, &g).unwrap_err().code, Code::NotFound);
    assert_eq!(net.state().groups[&g].pending, vec![D.to_owned()]);
    // Asking again keeps one pending request.
    assert_eq!(net.join_group(D, &second).await.unwrap(), (g.clone(), true));
    assert_eq!(net.state().groups[&g].pending, vec![D.to_owned()]);
    // An admin adding D settles the request.
    net.change_participants(A, &g, ParticipantChange::Add, &[jid(D)])
        .await
        .unwrap();
    assert!(net.state().groups[&g].pending.is_empty());
}

#[tokio::test]
async fn leaving_hands_admin_to_the_longest_standing_member() {
    let scratch = Scratch::new();
    let net = scratch.network().await;
    register(&net, &[A, B, C]).await;
    let mut b = link(&net, B).await;
    let g = net
        .create_group(A, "Team", &[jid(B), jid(C)])
        .await
        .unwrap()
        .jid;
    assert!(matches!(b.change().await, Change::Groups(p) if p.update_mask.is_none()));

    net.leave_group(A, &g).await.unwrap();
    let info = net.group_info(B, &g).unwrap();
    assert_eq!(
        roles(&info),
        vec![(jid(B), Role::Admin as i32), (jid(C), Role::Member as i32)]
    );
    assert_eq!(net.group_info(A, &g).unwrap_err().code, Code::NotFound);
    assert_eq!(
        net.leave_group(A, &g).await.unwrap_err().code,
        Code::NotFound
    );

    let left = participants_event(b.change().await);
    assert_eq!(left.jid, g);
    assert_eq!(left.participants, vec![jid(A)]);
    assert_eq!(left.action, api::ParticipantChangeType::Remove as i32);
    assert_eq!(left.author, jid(A));
    let promoted = participants_event(b.change().await);
    assert_eq!(promoted.participants, vec![jid(B)]);
    assert_eq!(promoted.action, api::ParticipantChangeType::Promote as i32);

    // With another admin left, nobody is promoted.
    net.change_participants(B, &g, ParticipantChange::Add, &[jid(A)])
        .await
        .unwrap();
    net.change_participants(B, &g, ParticipantChange::Promote, &[jid(A)])
        .await
        .unwrap();
    net.leave_group(B, &g).await.unwrap();
    assert_eq!(
        roles(&net.group_info(C, &g).unwrap()),
        vec![(jid(C), Role::Member as i32), (jid(A), Role::Admin as i32)]
    );
}

#[tokio::test]
async fn group_events_reach_every_member_online_or_from_the_mailbox() {
    let scratch = Scratch::new();
    let net = scratch.network().await;
    register(&net, &[A, B, C]).await;
    let mut a = link(&net, A).await;
    let mut b = link(&net, B).await;
    let c = link(&net, C).await;
    let c_credentials = c.credentials.clone();
    drop(c); // C's only device goes offline.
    tokio::time::sleep(Duration::from_millis(50)).await;

    let g = net
        .create_group(A, "Team", &[jid(B), jid(C)])
        .await
        .unwrap()
        .jid;
    let created = groups_event(a.change().await);
    assert_eq!(created.update_mask, None);
    assert_eq!(created.author, jid(A));
    assert_eq!(created.groups[0].self_role, Role::Superadmin as i32);
    assert_eq!(created.groups[0].participants.len(), 3);
    let created_b = groups_event(b.change().await);
    assert_eq!(created_b.groups[0].self_role, Role::Member as i32);

    net.update_group(A, &g, pb::update_group::Setting::Announce(true))
        .await
        .unwrap();
    for device in [&mut a, &mut b] {
        let update = groups_event(device.change().await);
        assert_eq!(update.update_mask.unwrap().paths, strings(&["announce"]));
        assert_eq!(update.groups[0].jid, g);
        assert!(update.groups[0].announce);
        assert_eq!(update.groups[0].subject, "", "only changed fields are set");
        assert_eq!(update.author, jid(A));
    }

    net.change_participants(A, &g, ParticipantChange::Remove, &[jid(B)])
        .await
        .unwrap();
    for device in [&mut a, &mut b] {
        let removed = participants_event(device.change().await);
        assert_eq!(
            (removed.participants, removed.action, removed.author),
            (
                vec![jid(B)],
                api::ParticipantChangeType::Remove as i32,
                jid(A)
            )
        );
    }

    // C was offline throughout: everything waits in its mailbox, in order.
    let mut c = Device::reconnect(&net, c_credentials).await;
    let created_c = groups_event(c.change().await);
    assert_eq!(created_c.groups[0].jid, g);
    assert_eq!(created_c.groups[0].self_role, Role::Member as i32);
    let update = groups_event(c.change().await);
    assert_eq!(update.update_mask.unwrap().paths, strings(&["announce"]));
    let removed = participants_event(c.change().await);
    assert_eq!(removed.participants, vec![jid(B)]);
    assert!(c.drain().await.is_empty(), "nothing more for C");
    // B, no longer a member, hears nothing of later changes.
    net.update_group(A, &g, pb::update_group::Setting::Subject("Later".into()))
        .await
        .unwrap();
    assert!(
        !b.drain()
            .await
            .iter()
            .any(|e| matches!(e, pb::attach_response::Event::Directory(_)))
    );
}

pub(super) fn send(device: &Device, id: &str, chat: &str, text: &str) -> pb::SendMessageRequest {
    pb::SendMessageRequest {
        credentials: Some(device.credentials.clone()),
        id: id.to_owned(),
        chat: chat.to_owned(),
        content: Some(api::Message {
            content: Some(api::message::Content::Text(text.to_owned())),
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[tokio::test]
async fn group_messages_reach_each_member_exactly_once() {
    let scratch = Scratch::new();
    let net = scratch.network().await;
    register(&net, &[A, B, C, D]).await;
    let mut a1 = link(&net, A).await;
    let mut a2 = link(&net, A).await;
    let mut b = link(&net, B).await;
    let c = link(&net, C).await;
    let c_credentials = c.credentials.clone();
    drop(c);
    let d = link(&net, D).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let g = net
        .create_group(A, "Team", &[jid(B), jid(C)])
        .await
        .unwrap()
        .jid;
    a1.drain().await;
    a2.drain().await;
    b.drain().await;

    let first = net
        .device_send(send(&a1, "3EB0GROUP1", &g, "hello"))
        .await
        .unwrap();
    let to_b = b.message().await;
    assert_eq!(
        (
            to_b.chat.as_str(),
            to_b.sender.as_str(),
            to_b.from_me,
            to_b.id.as_str()
        ),
        (g.as_str(), jid(A).as_str(), false, "3EB0GROUP1")
    );
    let own = a2.message().await;
    assert_eq!((own.chat.as_str(), own.from_me), (g.as_str(), true));
    // The sending device gets no copy, only delivered receipts per member.
    let events = a1.drain().await;
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, pb::attach_response::Event::Message(_)))
    );
    let mut receipt_from: Vec<String> = events
        .iter()
        .filter_map(|e| match e {
            pb::attach_response::Event::Receipt(r) => {
                assert_eq!(r.chat, g);
                Some(r.from.clone())
            }
            _ => None,
        })
        .collect();
    receipt_from.sort();
    assert_eq!(receipt_from, vec![jid(B), jid(C)]);

    // A retry of the same id is acknowledged with the first time and
    // delivers nothing again.
    let again = net
        .device_send(send(&a1, "3EB0GROUP1", &g, "hello"))
        .await
        .unwrap();
    assert_eq!(
        again
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis(),
        first
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis()
    );
    assert!(b.drain().await.is_empty());
    let rows = net.deliveries(Some(A), 0, 100).await.unwrap();
    let mut recipients: Vec<(String, String)> = rows
        .iter()
        .filter(|r| r.message_id == "3EB0GROUP1")
        .map(|r| (r.to_jid.clone(), r.recipient_jid.clone()))
        .collect();
    recipients.sort();
    assert_eq!(
        recipients,
        vec![
            (g.clone(), String::new()),
            (g.clone(), jid(B)),
            (g.clone(), jid(C))
        ]
    );

    // C, offline, finds the message on reconnecting.
    let mut c = Device::reconnect(&net, c_credentials).await;
    let to_c = c.message().await;
    assert_eq!(
        (to_c.chat.as_str(), to_c.id.as_str()),
        (g.as_str(), "3EB0GROUP1")
    );

    // B reads it: A learns that B did, in the group's chat.
    net.device_receipt(pb::SendReceiptRequest {
        credentials: Some(b.credentials.clone()),
        chat: g.clone(),
        participant: jid(A),
        ids: vec!["3EB0GROUP1".into()],
        kind: pb::ReceiptKind::Read as i32,
    })
    .await
    .unwrap();
    let read = loop {
        if let pb::attach_response::Event::Receipt(r) = next(&mut a1.stream).await {
            break r;
        }
    };
    assert_eq!(
        (read.chat.as_str(), read.from.as_str(), read.kind),
        (g.as_str(), jid(B).as_str(), pb::ReceiptKind::Read as i32)
    );

    // A non-member cannot send to the group.
    let err = net
        .device_send(send(&d, "3EB0NOTMEMBER", &g, "hi"))
        .await
        .unwrap_err();
    assert_eq!(
        (err.code, err.reason),
        (Code::FailedPrecondition, Reason::WhatsappError)
    );
    assert!(err.message.contains("not a participant"), "{}", err.message);
    // In an announcement group only admins can.
    net.update_group(A, &g, pb::update_group::Setting::Announce(true))
        .await
        .unwrap();
    let err = net
        .device_send(send(&b, "3EB0ANNOUNCE", &g, "hi"))
        .await
        .unwrap_err();
    assert_eq!(
        (err.code, err.reason),
        (Code::FailedPrecondition, Reason::WhatsappError)
    );
    net.device_send(send(&a1, "3EB0ADMIN", &g, "news"))
        .await
        .unwrap();
    let rows = net.deliveries(None, 0, 100).await.unwrap();
    assert!(
        !rows
            .iter()
            .any(|r| r.message_id == "3EB0NOTMEMBER" || r.message_id == "3EB0ANNOUNCE")
    );
    assert_eq!(
        rows.iter().filter(|r| r.message_id == "3EB0ADMIN").count(),
        3
    );
}
