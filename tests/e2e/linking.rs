//! Linking details: pair codes, QR rotation and expiry, QR images.

use std::time::Duration;

use wagate_proto::v1 as pb;
use wagate_tests::{TestServer, admin, backends, error_reason, eventually};

use crate::{create_session, wait_status};

#[tokio::test]
async fn pair_code_links_the_right_phone_only() {
    for backend in backends() {
        let server = TestServer::start(backend).await;
        let mut sessions = server.sessions();
        let mut simulator = server.simulator();
        let session = create_session(&mut sessions, "+14155550103").await;
        let name = session.name.clone();

        let code = sessions
            .request_pair_code(admin(pb::RequestPairCodeRequest {
                name: name.clone(),
                phone_number: String::new(),
            }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(code.pair_code.len(), 9, "XXXX-XXXX: {}", code.pair_code);
        assert_eq!(&code.pair_code[4..5], "-");
        assert_eq!(
            crate::status_of(&mut sessions, &name).await,
            pb::SessionStatus::NeedScan
        );

        // another phone cannot use the code
        let err = simulator
            .enter_pair_code(admin(pb::EnterPairCodeRequest {
                phone_number: "+14155550999".into(),
                pair_code: code.pair_code.clone(),
            }))
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::NotFound);
        // a wrong code fails
        let err = simulator
            .enter_pair_code(admin(pb::EnterPairCodeRequest {
                phone_number: "+14155550103".into(),
                pair_code: "AAAA-AAAA".into(),
            }))
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::NotFound);
        // the right phone links it (the dash is optional)
        let linked = simulator
            .enter_pair_code(admin(pb::EnterPairCodeRequest {
                phone_number: "+1 415 555 0103".into(),
                pair_code: code.pair_code.replace('-', "").to_lowercase(),
            }))
            .await
            .unwrap()
            .into_inner();
        assert!(linked.device_jid.starts_with("14155550103:"));
        wait_status(&sessions, &name, pb::SessionStatus::Connected).await;
        let logs = sessions
            .list_session_logs(admin(pb::ListSessionLogsRequest {
                parent: name.clone(),
                page_size: 100,
                ..Default::default()
            }))
            .await
            .unwrap()
            .into_inner();
        assert!(
            logs.session_logs
                .iter()
                .any(|l| l.r#type == pb::SessionLogType::PairCodeIssued as i32)
        );

        // a linked session cannot ask for another pair code
        let err = sessions
            .request_pair_code(admin(pb::RequestPairCodeRequest {
                name: name.clone(),
                phone_number: String::new(),
            }))
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::FailedPrecondition);
        assert_eq!(error_reason(&err), "SESSION_STATE_CONFLICT");
        server.stop().await;
    }
}

#[tokio::test]
async fn qr_codes_rotate_then_expire() {
    for backend in backends() {
        let server = TestServer::start_with(backend, |config| {
            config.sim.qr_rotation = Duration::from_millis(400);
            config.sim.qr_codes = 3;
        })
        .await;
        let mut sessions = server.sessions();
        let mut simulator = server.simulator();
        let session = create_session(&mut sessions, "+14155550104").await;
        let name = session.name.clone();

        // not waiting for a scan yet
        let err = sessions
            .get_qr_code(admin(pb::GetQrCodeRequest {
                name: name.clone(),
                image_format: 0,
            }))
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::FailedPrecondition);
        assert_eq!(error_reason(&err), "SESSION_NOT_WAITING_FOR_SCAN");

        let first = sessions
            .connect_session(admin(pb::ConnectSessionRequest { name: name.clone() }))
            .await
            .unwrap()
            .into_inner();
        let first = first.qr_code.unwrap();
        assert!(first.code.starts_with("2@"), "{}", first.code);
        let second = eventually("the QR code to rotate", Duration::from_secs(5), || {
            let mut sessions = sessions.clone();
            let (name, first) = (name.clone(), first.code.clone());
            async move {
                let qr = sessions
                    .get_qr_code(admin(pb::GetQrCodeRequest {
                        name,
                        image_format: 0,
                    }))
                    .await
                    .ok()?
                    .into_inner();
                (qr.code != first).then_some(qr)
            }
        })
        .await;
        assert!(second.expire_time.is_some());
        // the replaced code no longer links anything
        let err = simulator
            .scan_qr(admin(pb::ScanQrRequest {
                qr_code: first.code.clone(),
                phone_number: "+14155550104".into(),
            }))
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::NotFound);

        // nobody scans: after the last code the session expires
        wait_status(&sessions, &name, pb::SessionStatus::Expired).await;
        let err = sessions
            .get_qr_code(admin(pb::GetQrCodeRequest {
                name: name.clone(),
                image_format: 0,
            }))
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::FailedPrecondition);
        let got = sessions
            .get_session(admin(pb::GetSessionRequest { name: name.clone() }))
            .await
            .unwrap()
            .into_inner();
        assert!(
            got.status_reason.contains("expired"),
            "{}",
            got.status_reason
        );

        // connecting again starts over with a fresh code, shown as an SVG when asked
        let again = sessions
            .connect_session(admin(pb::ConnectSessionRequest { name: name.clone() }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(again.status, pb::SessionStatus::NeedScan as i32);
        let svg = sessions
            .get_qr_code(admin(pb::GetQrCodeRequest {
                name: name.clone(),
                image_format: pb::QrImageFormat::Svg as i32,
            }))
            .await
            .unwrap()
            .into_inner();
        let text = String::from_utf8(svg.image).unwrap();
        assert!(text.contains("<svg"), "SVG image");
        simulator
            .scan_qr(admin(pb::ScanQrRequest {
                qr_code: svg.code,
                phone_number: "+14155550104".into(),
            }))
            .await
            .unwrap();
        wait_status(&sessions, &name, pb::SessionStatus::Connected).await;
        server.stop().await;
    }
}
