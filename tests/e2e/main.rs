//! End-to-end tests: real wagate servers over real gRPC, on SQLite and (with
//! `WAGATE_TEST_DATABASE_URL`) PostgreSQL. One binary, one module per area.

mod auth;
mod channels;
mod chats;
mod compat_chatsuite;
mod compat_onsend;
mod compat_openapi;
mod compat_prosendi;
mod compat_saas;
mod compat_state;
mod compat_wasender;
mod contacts;
mod engine_events;
mod events;
mod gateway;
mod gateway_events;
mod gateway_in_process;
mod gateway_json;
mod gateway_openapi;
mod groups;
mod health;
mod lifecycle;
mod linking;
mod messages;
mod polls;
mod polyglot;
mod process;
mod python;
mod store;
mod validation;
mod wa_proxy;
mod wa_store;
mod webhook_replicas;
mod webhooks;
mod whatsapp;

use std::time::Duration;

use tonic::transport::Channel;
use wagate_proto::v1 as pb;
use wagate_proto::v1::session_service_client::SessionServiceClient;
use wagate_proto::v1::simulator_service_client::SimulatorServiceClient;
use wagate_tests::{admin, eventually};

/// Path of the server binary built for these tests.
pub const WAGATE_BIN: &str = env!("CARGO_BIN_EXE_wagate-under-test");

pub async fn create_session(
    sessions: &mut SessionServiceClient<Channel>,
    phone: &str,
) -> pb::Session {
    sessions
        .create_session(admin(pb::CreateSessionRequest {
            session: Some(pb::Session {
                display_name: format!("Test {phone}"),
                phone_number: phone.to_owned(),
                ..Default::default()
            }),
        }))
        .await
        .expect("create session")
        .into_inner()
}

pub async fn status_of(
    sessions: &mut SessionServiceClient<Channel>,
    name: &str,
) -> pb::SessionStatus {
    let info = sessions
        .get_session_status(admin(pb::GetSessionStatusRequest {
            name: name.to_owned(),
        }))
        .await
        .expect("get status")
        .into_inner();
    pb::SessionStatus::try_from(info.status).unwrap()
}

pub async fn wait_status(
    sessions: &SessionServiceClient<Channel>,
    name: &str,
    want: pb::SessionStatus,
) {
    eventually(
        &format!("{name} to be {want:?}"),
        Duration::from_secs(15),
        || {
            let mut sessions = sessions.clone();
            let name = name.to_owned();
            async move { (status_of(&mut sessions, &name).await == want).then_some(()) }
        },
    )
    .await
}

/// Connects a new session and scans its QR code with `phone` in the simulator.
pub async fn link_by_qr(
    sessions: &mut SessionServiceClient<Channel>,
    simulator: &mut SimulatorServiceClient<Channel>,
    name: &str,
    phone: &str,
) -> pb::ScanQrResponse {
    let connected = sessions
        .connect_session(admin(pb::ConnectSessionRequest {
            name: name.to_owned(),
        }))
        .await
        .expect("connect")
        .into_inner();
    assert_eq!(
        connected.status,
        pb::SessionStatus::NeedScan as i32,
        "{connected:?}"
    );
    let qr = connected.qr_code.expect("QR code in connect response").code;
    let scanned = simulator
        .scan_qr(admin(pb::ScanQrRequest {
            qr_code: qr,
            phone_number: phone.to_owned(),
        }))
        .await
        .expect("scan")
        .into_inner();
    wait_status(sessions, name, pb::SessionStatus::Connected).await;
    scanned
}
