//! MessageService end to end on the simulated network: every content kind,
//! the status progression from acks and receipts, validation, limits and
//! pacing, idempotency, cancel/resend, history, edits, deletes and media.

mod crash;
mod kinds;
mod queue;

use std::time::Duration;

use tonic::transport::Channel;
use wagate_proto::v1 as pb;
use wagate_proto::v1::message_service_client::MessageServiceClient;
use wagate_proto::v1::simulator_service_client::SimulatorServiceClient;
use wagate_tests::{TestServer, admin, eventually};

use crate::{create_session, link_by_qr};

pub const PHONE_A: &str = "+14155550201";
pub const PHONE_B: &str = "+14155550202";
/// A phone on the network with no session linked to it.
pub const PHONE_C: &str = "+14155550203";

/// A server with sessions A and B linked to their phones, and phone C registered.
pub struct Pair {
    pub server: TestServer,
    pub a: String,
    pub b: String,
}

impl Pair {
    pub async fn start(
        backend: wagate_tests::Backend,
        adjust: impl FnOnce(&mut wagate::config::Config),
    ) -> Self {
        let server = TestServer::start_with(backend, adjust).await;
        let mut sessions = server.sessions();
        let mut simulator = server.simulator();
        let a = create_session(&mut sessions, PHONE_A).await.name;
        let b = create_session(&mut sessions, PHONE_B).await.name;
        link_by_qr(&mut sessions, &mut simulator, &a, PHONE_A).await;
        link_by_qr(&mut sessions, &mut simulator, &b, PHONE_B).await;
        simulator
            .register_account(admin(pb::RegisterAccountRequest {
                account: Some(pb::SimAccount {
                    phone_number: PHONE_C.into(),
                    push_name: "Carol".into(),
                    ..Default::default()
                }),
            }))
            .await
            .expect("register C");
        Self { server, a, b }
    }

    pub fn messages(&self) -> MessageServiceClient<Channel> {
        self.server.messages()
    }

    pub fn simulator(&self) -> SimulatorServiceClient<Channel> {
        self.server.simulator()
    }

    pub async fn stop(self) {
        self.server.stop().await;
    }
}

pub fn text(chat: &str, body: &str) -> pb::Message {
    content(chat, pb::message::Content::Text(body.into()))
}

pub fn content(chat: &str, content: pb::message::Content) -> pb::Message {
    pb::Message {
        chat: chat.into(),
        content: Some(content),
        ..Default::default()
    }
}

pub async fn send(
    messages: &mut MessageServiceClient<Channel>,
    parent: &str,
    message: pb::Message,
) -> Result<pb::Message, tonic::Status> {
    messages
        .send_message(admin(pb::SendMessageRequest {
            parent: parent.into(),
            message: Some(message),
            request_id: String::new(),
        }))
        .await
        .map(|r| r.into_inner())
}

pub async fn get(messages: &mut MessageServiceClient<Channel>, name: &str) -> pb::Message {
    messages
        .get_message(admin(pb::GetMessageRequest { name: name.into() }))
        .await
        .expect("get message")
        .into_inner()
}

/// Waits until the message reaches `status` (bounded).
pub async fn wait_message(
    messages: &MessageServiceClient<Channel>,
    name: &str,
    status: pb::MessageStatus,
) -> pb::Message {
    eventually(
        &format!("{name} {status:?}"),
        Duration::from_secs(20),
        || {
            let mut messages = messages.clone();
            let name = name.to_owned();
            async move {
                let message = get(&mut messages, &name).await;
                (message.status == status as i32).then_some(message)
            }
        },
    )
    .await
}

/// Waits until message `id` of session `session` went out: SENT, or a
/// receipt past it (bounded).
pub async fn wait_sent(server: &TestServer, session: i64, id: i64) {
    let messages = server.messages();
    let name = format!("sessions/{session}/messages/{id}");
    eventually(
        &format!("{name} to be sent"),
        Duration::from_secs(20),
        || {
            let mut messages = messages.clone();
            let name = name.clone();
            async move {
                let status = get(&mut messages, &name).await.status;
                [
                    pb::MessageStatus::Sent,
                    pb::MessageStatus::Delivered,
                    pb::MessageStatus::Read,
                ]
                .contains(&pb::MessageStatus::try_from(status).ok()?)
                .then_some(())
            }
        },
    )
    .await
}

/// Lists a session's messages matching `filter`, oldest first (one page).
pub async fn list(
    messages: &mut MessageServiceClient<Channel>,
    parent: &str,
    filter: &str,
) -> Vec<pb::Message> {
    messages
        .list_messages(admin(pb::ListMessagesRequest {
            parent: parent.into(),
            page_size: 1000,
            filter: filter.into(),
            order_by: "create_time".into(),
            ..Default::default()
        }))
        .await
        .expect("list messages")
        .into_inner()
        .messages
}

/// Waits until `parent` has an inbound message with this WhatsApp id.
pub async fn wait_inbound(
    messages: &MessageServiceClient<Channel>,
    parent: &str,
    whatsapp_id: &str,
) -> pb::Message {
    let filter = format!("direction = INBOUND AND whatsapp_id = \"{whatsapp_id}\"");
    eventually(
        &format!("inbound {whatsapp_id} on {parent}"),
        Duration::from_secs(20),
        || {
            let mut messages = messages.clone();
            let filter = filter.clone();
            let parent = parent.to_owned();
            async move {
                list(&mut messages, &parent, &filter)
                    .await
                    .into_iter()
                    .next()
            }
        },
    )
    .await
}

/// Deliveries the network recorded from a phone.
pub async fn deliveries(
    simulator: &mut SimulatorServiceClient<Channel>,
    from: &str,
) -> Vec<pb::Delivery> {
    let mut all = Vec::new();
    let mut token = String::new();
    for _ in 0..100 {
        let page = simulator
            .list_deliveries(admin(pb::ListDeliveriesRequest {
                from_phone_number: from.into(),
                page_size: 10_000,
                page_token: token,
            }))
            .await
            .expect("list deliveries")
            .into_inner();
        all.extend(page.deliveries);
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    all
}

/// A small valid PNG (8-byte signature and an IHDR chunk).
pub fn png() -> Vec<u8> {
    let mut bytes = vec![0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];
    bytes.extend_from_slice(&[
        0, 0, 0, 13, b'I', b'H', b'D', b'R', 0, 0, 0, 1, 0, 0, 0, 1, 8, 2, 0, 0, 0,
    ]);
    bytes.extend_from_slice(&[0x90, 0x77, 0x53, 0xDE]);
    bytes
}

pub async fn upload(
    messages: &mut MessageServiceClient<Channel>,
    parent: &str,
    bytes: Vec<u8>,
    mime: &str,
    file_name: &str,
) -> Result<pb::Media, tonic::Status> {
    messages
        .upload_media(admin(pb::UploadMediaRequest {
            parent: parent.into(),
            data: Some(pb::upload_media_request::Data::Content(bytes)),
            mime_type: mime.into(),
            file_name: file_name.into(),
        }))
        .await
        .map(|r| r.into_inner())
}

pub fn from_media(name: &str) -> Option<pb::MediaSource> {
    Some(pb::MediaSource {
        source: Some(pb::media_source::Source::Media(name.into())),
    })
}
