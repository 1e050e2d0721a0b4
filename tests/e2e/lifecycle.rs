//! The whole session lifecycle through the simulated network.

use std::time::Duration;
use wagate_proto::v1 as pb;

use wagate_tests::{TestServer, admin, backends, error_reason, eventually};

use crate::{create_session, link_by_qr, status_of, wait_status};

#[tokio::test]
async fn full_lifecycle_through_the_simulator() {
    for backend in backends() {
        let server = TestServer::start(backend).await;
        let mut sessions = server.sessions();
        let mut simulator = server.simulator();
        let session = create_session(&mut sessions, "+14155550101").await;
        assert_eq!(session.name, format!("sessions/{}", session.id));
        assert_eq!(session.status, pb::SessionStatus::Disconnected as i32);
        assert!(
            session.api_key.starts_with("wgs_"),
            "API key shown on create"
        );
        assert_eq!(session.webhook_secret.len(), 32);
        assert_eq!(
            session.account_protection,
            Some(true),
            "account protection defaults to on"
        );
        let name = session.name.clone();

        // connect → QR → scan → connected
        let scanned = link_by_qr(&mut sessions, &mut simulator, &name, "+14155550101").await;
        assert!(
            scanned.device_jid.starts_with("14155550101:"),
            "{scanned:?}"
        );
        let user = sessions
            .get_session_user(admin(pb::GetSessionUserRequest { name: name.clone() }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(user.jid, scanned.device_jid);
        assert!(user.lid.ends_with("@lid"), "{user:?}");
        assert_eq!(user.phone_number, "+14155550101");
        let got = sessions
            .get_session(admin(pb::GetSessionRequest { name: name.clone() }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(got.api_key, "", "the API key is never shown again");
        assert_eq!(
            got.user.as_ref().map(|u| u.jid.as_str()),
            Some(scanned.device_jid.as_str())
        );

        // connecting again changes nothing
        let again = sessions
            .connect_session(admin(pb::ConnectSessionRequest { name: name.clone() }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(again.status, pb::SessionStatus::Connected as i32);
        assert!(again.qr_code.is_none());

        // restart → connected again, no scan
        let restarted = sessions
            .restart_session(admin(pb::RestartSessionRequest { name: name.clone() }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            restarted.status,
            pb::SessionStatus::Connected as i32,
            "{restarted:?}"
        );

        // disconnect keeps credentials; connect again needs no scan
        let disconnected = sessions
            .disconnect_session(admin(pb::DisconnectSessionRequest { name: name.clone() }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(disconnected.status, pb::SessionStatus::Disconnected as i32);
        let err = sessions
            .restart_session(admin(pb::RestartSessionRequest { name: name.clone() }))
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::FailedPrecondition);
        assert_eq!(error_reason(&err), "SESSION_NOT_CONNECTED");
        let reconnected = sessions
            .connect_session(admin(pb::ConnectSessionRequest { name: name.clone() }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            reconnected.status,
            pb::SessionStatus::Connected as i32,
            "{reconnected:?}"
        );

        // logout unlinks and wipes credentials
        let logged_out = sessions
            .logout_session(admin(pb::LogoutSessionRequest { name: name.clone() }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(logged_out.status, pb::SessionStatus::LoggedOut as i32);
        assert!(logged_out.user.is_none());
        let accounts = simulator
            .list_accounts(admin(pb::ListAccountsRequest::default()))
            .await
            .unwrap()
            .into_inner();
        let account = accounts
            .accounts
            .iter()
            .find(|a| a.phone_number == "+14155550101")
            .unwrap();
        assert!(
            account.linked_devices.is_empty(),
            "device unlinked on the phone: {account:?}"
        );
        let err = sessions
            .get_session_user(admin(pb::GetSessionUserRequest { name: name.clone() }))
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::FailedPrecondition);
        // a new connect needs a new scan
        let fresh = sessions
            .connect_session(admin(pb::ConnectSessionRequest { name: name.clone() }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(fresh.status, pb::SessionStatus::NeedScan as i32);
        assert!(fresh.qr_code.is_some());

        // the log tells the story, newest first
        let logs = sessions
            .list_session_logs(admin(pb::ListSessionLogsRequest {
                parent: name.clone(),
                page_size: 1000,
                ..Default::default()
            }))
            .await
            .unwrap()
            .into_inner();
        let kinds: Vec<i32> = logs.session_logs.iter().rev().map(|l| l.r#type).collect();
        for expected in [
            pb::SessionLogType::QrIssued,
            pb::SessionLogType::DeviceLinked,
            pb::SessionLogType::SessionRestarted,
        ] {
            assert!(
                kinds.contains(&(expected as i32)),
                "log lacks {expected:?}: {kinds:?}"
            );
        }
        let statuses: Vec<i32> = logs.session_logs.iter().rev().map(|l| l.status).collect();
        let order = [
            pb::SessionStatus::Disconnected,
            pb::SessionStatus::Connecting,
            pb::SessionStatus::NeedScan,
            pb::SessionStatus::Connected,
            pb::SessionStatus::Disconnected,
            pb::SessionStatus::Connected,
            pb::SessionStatus::LoggedOut,
        ];
        let mut at = 0;
        for status in &statuses {
            if at < order.len() && *status == order[at] as i32 {
                at += 1;
            }
        }
        assert_eq!(at, order.len(), "log statuses out of order: {statuses:?}");
        assert!(
            logs.session_logs.windows(2).all(|w| w[0].id > w[1].id),
            "newest first"
        );

        // pagination of logs is stable and complete
        let mut seen = Vec::new();
        let mut token = String::new();
        for _ in 0..100 {
            let page = sessions
                .list_session_logs(admin(pb::ListSessionLogsRequest {
                    parent: name.clone(),
                    page_size: 3,
                    page_token: token.clone(),
                }))
                .await
                .unwrap()
                .into_inner();
            assert!(page.session_logs.len() <= 3);
            seen.extend(page.session_logs.iter().map(|l| l.id));
            token = page.next_page_token;
            if token.is_empty() {
                break;
            }
        }
        assert_eq!(
            seen,
            logs.session_logs.iter().map(|l| l.id).collect::<Vec<_>>()
        );

        // delete removes it
        sessions
            .delete_session(admin(pb::DeleteSessionRequest { name: name.clone() }))
            .await
            .unwrap();
        let err = sessions
            .get_session(admin(pb::GetSessionRequest { name: name.clone() }))
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::NotFound);
        assert_eq!(error_reason(&err), "SESSION_NOT_FOUND");
        server.stop().await;
    }
}

#[tokio::test]
async fn network_drops_reconnect_and_phone_logout_logs_out() {
    for backend in backends() {
        let server = TestServer::start(backend).await;
        let mut sessions = server.sessions();
        let mut simulator = server.simulator();
        let session = create_session(&mut sessions, "+14155550102").await;
        link_by_qr(&mut sessions, &mut simulator, &session.name, "+14155550102").await;

        let dropped = simulator
            .inject_disconnect(admin(pb::InjectDisconnectRequest {
                phone_number: "+14155550102".into(),
                ..Default::default()
            }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(dropped.disconnected_count, 1);
        // the engine notices the drop and reconnects by itself with its stored credentials
        eventually(
            "a reconnect after the drop",
            Duration::from_secs(15),
            || {
                let mut sessions = sessions.clone();
                let name = session.name.clone();
                async move {
                    let request = pb::ListSessionLogsRequest {
                        parent: name,
                        page_size: 100,
                        ..Default::default()
                    };
                    let logs = sessions
                        .list_session_logs(admin(request))
                        .await
                        .ok()?
                        .into_inner()
                        .session_logs;
                    // newest first: a connected entry after the "reconnecting" one
                    let dropped = logs.iter().position(|l| {
                        l.status == pb::SessionStatus::Connecting as i32
                            && l.message.contains("reconnecting")
                    })?;
                    logs[..dropped]
                        .iter()
                        .any(|l| l.status == pb::SessionStatus::Connected as i32)
                        .then_some(())
                }
            },
        )
        .await;
        assert_eq!(
            status_of(&mut sessions, &session.name).await,
            pb::SessionStatus::Connected
        );

        let unlinked = simulator
            .inject_logout(admin(pb::InjectLogoutRequest {
                phone_number: "+14155550102".into(),
                ..Default::default()
            }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(unlinked.unlinked_count, 1);
        wait_status(&sessions, &session.name, pb::SessionStatus::LoggedOut).await;
        let got = sessions
            .get_session(admin(pb::GetSessionRequest {
                name: session.name.clone(),
            }))
            .await
            .unwrap()
            .into_inner();
        assert!(
            got.status_reason.contains("removed from the phone"),
            "{}",
            got.status_reason
        );
        // credentials are gone: connecting starts linking again
        let fresh = sessions
            .connect_session(admin(pb::ConnectSessionRequest {
                name: session.name.clone(),
            }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(fresh.status, pb::SessionStatus::NeedScan as i32);
        assert_eq!(
            status_of(&mut sessions, &session.name).await,
            pb::SessionStatus::NeedScan
        );
        server.stop().await;
    }
}
