//! Content kinds, the status progression, validation, media, edits and deletes.

use std::time::Duration;

use wagate_proto::v1 as pb;
use wagate_proto::v1::message::Content;
use wagate_tests::{admin, backends, error_reason, violated_fields};

use super::*;

#[tokio::test]
async fn a_text_goes_from_queued_to_read_and_a_voice_note_to_played() {
    for backend in backends() {
        let pair = Pair::start(backend, |_| {}).await;
        let mut messages = pair.messages();
        let mut simulator = pair.simulator();

        let queued = send(&mut messages, &pair.a, text(PHONE_B, "hello B"))
            .await
            .unwrap();
        assert_eq!(queued.status, pb::MessageStatus::Queued as i32);
        assert!(queued.id > 0 && queued.name == format!("{}/messages/{}", pair.a, queued.id));
        assert_eq!(queued.chat, "14155550202@s.whatsapp.net");
        assert_eq!(
            (queued.body.as_str(), queued.direction),
            ("hello B", pb::MessageDirection::Outbound as i32)
        );

        // The recipient's phone is online: server ack, then delivered.
        let delivered = wait_message(&messages, &queued.name, pb::MessageStatus::Delivered).await;
        assert!(delivered.whatsapp_id.starts_with("3EB0") && delivered.whatsapp_id.len() == 20);
        assert!(delivered.send_time.is_some() && delivered.deliver_time.is_some());
        assert_eq!(delivered.attempt_count, 1);
        let key = delivered.key.clone().unwrap();
        assert_eq!(
            (key.id.as_str(), key.from_me),
            (delivered.whatsapp_id.as_str(), true)
        );

        // B's session received it, with the sender's identity.
        let inbound = wait_inbound(&messages, &pair.b, &delivered.whatsapp_id).await;
        assert_eq!(inbound.status, pb::MessageStatus::Received as i32);
        assert_eq!(inbound.body, "hello B");
        assert_eq!(inbound.chat, "14155550201@s.whatsapp.net");
        assert_eq!(inbound.sender_phone_number, PHONE_A);
        assert!(inbound.sender_lid.ends_with("@lid"), "{inbound:?}");
        let inbound_key = inbound.key.clone().unwrap();
        assert!(!inbound_key.from_me);
        assert_eq!(inbound_key.cleaned_sender_pn, "14155550201");

        // B reads it: blue ticks for A.
        let marked = messages
            .mark_read(admin(pb::MarkReadRequest {
                parent: pair.b.clone(),
                keys: vec![inbound_key],
            }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(marked.marked_count, 1);
        let read = wait_message(&messages, &queued.name, pb::MessageStatus::Read).await;
        assert!(read.read_time.is_some());
        assert_eq!(
            get(&mut messages, &inbound.name).await.status,
            pb::MessageStatus::Read as i32
        );

        // A voice note, played on B's phone.
        // One Ogg page (27-byte header, one 19-byte segment) holding an Opus header.
        let ogg = [
            b"OggS\x00\x02".as_slice(),
            &[0u8; 20],
            &[1, 19],
            b"OpusHead",
            &[1, 1, 0, 0, 0x80, 0xbb, 0, 0, 0, 0, 0],
        ]
        .concat();
        let media = upload(&mut messages, &pair.a, ogg, "audio/ogg", "")
            .await
            .unwrap();
        let voice = send(
            &mut messages,
            &pair.a,
            content(
                PHONE_B,
                Content::Audio(pb::AudioContent {
                    source: from_media(&media.name),
                    voice_note: true,
                    ..Default::default()
                }),
            ),
        )
        .await
        .unwrap();
        let voice = wait_message(&messages, &voice.name, pb::MessageStatus::Delivered).await;
        simulator
            .inject_receipt(admin(pb::InjectReceiptRequest {
                phone_number: PHONE_B.into(),
                message_id: voice.whatsapp_id.clone(),
                r#type: pb::ReceiptType::Played as i32,
            }))
            .await
            .unwrap();
        let played = wait_message(&messages, &voice.name, pb::MessageStatus::Played).await;
        assert!(played.play_time.is_some());

        // A delivered receipt after PLAYED does not move the status back.
        simulator
            .inject_receipt(admin(pb::InjectReceiptRequest {
                phone_number: PHONE_B.into(),
                message_id: voice.whatsapp_id.clone(),
                r#type: pb::ReceiptType::Delivered as i32,
            }))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(
            get(&mut messages, &voice.name).await.status,
            pb::MessageStatus::Played as i32
        );

        // The network recorded each message once.
        let recorded = deliveries(&mut simulator, PHONE_A).await;
        assert_eq!(recorded.len(), 2, "{recorded:?}");
        assert_eq!(recorded[0].summary, "text: hello B");

        // A phone writes to A: A's session receives it.
        let injected = simulator
            .inject_inbound_message(admin(pb::InjectInboundMessageRequest {
                from_phone_number: PHONE_C.into(),
                to: PHONE_A.into(),
                text: "hi from C".into(),
            }))
            .await
            .unwrap()
            .into_inner();
        let from_c = wait_inbound(&messages, &pair.a, &injected.message_id).await;
        assert_eq!(
            (from_c.body.as_str(), from_c.push_name.as_str()),
            ("hi from C", "Carol")
        );
        pair.stop().await;
    }
}

#[tokio::test]
async fn every_content_kind_and_modifier_is_sent() {
    for backend in backends() {
        let pair = Pair::start(backend, |_| {}).await;
        let mut messages = pair.messages();
        let first = send(&mut messages, &pair.a, text(PHONE_B, "first"))
            .await
            .unwrap();
        let first = wait_message(&messages, &first.name, pb::MessageStatus::Delivered).await;

        let png = upload(&mut messages, &pair.a, png(), "", "dot.png")
            .await
            .unwrap();
        assert_eq!(
            (png.mime_type.as_str(), png.size_bytes),
            ("image/png", super::png().len() as i64)
        );
        let webp = [
            b"RIFF".as_slice(),
            &40u32.to_le_bytes(),
            b"WEBPVP8 ",
            &[0u8; 32],
        ]
        .concat();
        let webp = upload(&mut messages, &pair.a, webp, "image/webp", "")
            .await
            .unwrap();
        let mp4 = [&[0u8, 0, 0, 24][..], b"ftypisom", &[0u8; 16]].concat();
        let mp4 = upload(&mut messages, &pair.a, mp4, "video/mp4", "")
            .await
            .unwrap();
        let pdf = upload(
            &mut messages,
            &pair.a,
            b"%PDF-1.7\n%test\n".to_vec(),
            "application/pdf",
            "report.pdf",
        )
        .await
        .unwrap();

        let mut quoted = text(PHONE_B, "replying to @14155550202");
        quoted.reply_to = Some(pb::MessageReference {
            target: Some(pb::message_reference::Target::Message(first.name.clone())),
        });
        quoted.mentions = vec![PHONE_B.into()];
        let mut once = content(
            PHONE_B,
            Content::Image(pb::ImageContent {
                source: from_media(&png.name),
                caption: "look".into(),
                ..Default::default()
            }),
        );
        once.view_once = true;
        let cases: Vec<(&str, pb::Message)> = vec![
            ("image", once),
            (
                "video",
                content(
                    PHONE_B,
                    Content::Video(pb::VideoContent {
                        source: from_media(&mp4.name),
                        caption: "clip".into(),
                        ..Default::default()
                    }),
                ),
            ),
            (
                "document",
                content(
                    PHONE_B,
                    Content::Document(pb::DocumentContent {
                        source: from_media(&pdf.name),
                        file_name: "q3.pdf".into(),
                        ..Default::default()
                    }),
                ),
            ),
            (
                "sticker",
                content(
                    PHONE_B,
                    Content::Sticker(pb::StickerContent {
                        source: from_media(&webp.name),
                        ..Default::default()
                    }),
                ),
            ),
            (
                "location",
                content(
                    PHONE_B,
                    Content::Location(pb::LocationContent {
                        latitude: 52.52,
                        longitude: 13.405,
                        place_name: "Berlin".into(),
                        address: "Mitte".into(),
                    }),
                ),
            ),
            (
                "contact",
                content(
                    PHONE_B,
                    Content::Contact(pb::ContactCardContent {
                        full_name: "Ada".into(),
                        phone_number: "+442079460958".into(),
                        ..Default::default()
                    }),
                ),
            ),
            (
                "poll",
                content(
                    PHONE_B,
                    Content::Poll(pb::PollContent {
                        question: "Lunch?".into(),
                        options: vec!["Pizza".into(), "Salad".into()],
                        multi_select: true,
                        ..Default::default()
                    }),
                ),
            ),
            (
                "reaction",
                content(
                    PHONE_B,
                    Content::Reaction(pb::ReactionContent {
                        target: Some(pb::MessageReference {
                            target: Some(pb::message_reference::Target::Message(
                                first.name.clone(),
                            )),
                        }),
                        emoji: "👍".into(),
                    }),
                ),
            ),
            ("reply", quoted),
            ("lid", text(&lid_of(&pair, PHONE_B).await, "to a LID")),
        ];
        for (what, message) in cases {
            let queued = send(&mut messages, &pair.a, message)
                .await
                .unwrap_or_else(|e| panic!("{what}: {e:?}"));
            let sent = wait_message(&messages, &queued.name, pb::MessageStatus::Delivered).await;
            let inbound = wait_inbound(&messages, &pair.b, &sent.whatsapp_id).await;
            match what {
                "contact" => {
                    let Some(Content::Contact(card)) = &sent.content else {
                        panic!("{sent:?}")
                    };
                    assert!(card.vcard.contains("waid=442079460958"), "{card:?}");
                }
                "reply" => {
                    let reply = inbound
                        .reply_to
                        .clone()
                        .expect("quote reaches the recipient");
                    let Some(pb::message_reference::Target::Key(key)) = reply.target else {
                        panic!()
                    };
                    assert_eq!(key.id, first.whatsapp_id);
                    assert_eq!(inbound.mentions, ["14155550202@s.whatsapp.net"]);
                }
                "image" => {
                    assert!(inbound.view_once);
                    assert_eq!(inbound.body, "look");
                }
                "poll" => assert_eq!(inbound.body, "Lunch?"),
                "location" => assert_eq!(inbound.body, "Berlin, Mitte"),
                _ => {}
            }
            let Some(kind) = inbound.content.as_ref() else {
                panic!("{what}: no content {inbound:?}")
            };
            let expected = if what == "reply" || what == "lid" {
                "text"
            } else {
                what
            };
            assert_eq!(wagate::message::model::kind_of(kind), expected, "{what}");
        }
        pair.stop().await;
    }
}

async fn lid_of(pair: &Pair, phone: &str) -> String {
    let accounts = pair
        .simulator()
        .list_accounts(admin(pb::ListAccountsRequest::default()))
        .await
        .unwrap()
        .into_inner()
        .accounts;
    accounts
        .into_iter()
        .find(|a| a.phone_number == phone)
        .unwrap()
        .lid
}

#[tokio::test]
async fn bad_messages_are_refused_with_the_field_named() {
    let pair = Pair::start(wagate_tests::Backend::Sqlite, |_| {}).await;
    let mut messages = pair.messages();
    let image = |uri: &str| {
        content(
            PHONE_B,
            Content::Image(pb::ImageContent {
                source: Some(pb::MediaSource {
                    source: Some(pb::media_source::Source::Uri(uri.into())),
                }),
                ..Default::default()
            }),
        )
    };
    let mut once_text = text(PHONE_B, "x");
    once_text.view_once = true;
    let cases: Vec<(pb::Message, &str)> = vec![
        (text("", "x"), "message.chat"),
        (text("not-a-number", "x"), "message.chat"),
        (text("123@example.com", "x"), "message.chat"),
        (text(PHONE_B, ""), "message.text"),
        (text(PHONE_B, &"x".repeat(65_537)), "message.text"),
        (
            pb::Message {
                chat: PHONE_B.into(),
                ..Default::default()
            },
            "message.content",
        ),
        (
            content(
                PHONE_B,
                Content::Poll(pb::PollContent {
                    question: "Q".into(),
                    options: vec!["one".into()],
                    ..Default::default()
                }),
            ),
            "message.poll.options",
        ),
        (
            content(
                PHONE_B,
                Content::Poll(pb::PollContent {
                    question: "Q".into(),
                    options: (0..13).map(|i| i.to_string()).collect(),
                    ..Default::default()
                }),
            ),
            "message.poll.options",
        ),
        (
            content(
                PHONE_B,
                Content::Location(pb::LocationContent {
                    latitude: 0.0,
                    longitude: 181.0,
                    ..Default::default()
                }),
            ),
            "message.location.longitude",
        ),
        (
            content(
                PHONE_B,
                Content::Contact(pb::ContactCardContent {
                    full_name: "A".into(),
                    phone_number: "12".into(),
                    ..Default::default()
                }),
            ),
            "message.contact.phone_number",
        ),
        (
            content(PHONE_B, Content::Image(pb::ImageContent::default())),
            "message.image.source",
        ),
        (
            image("http://127.0.0.1:9/a.png"),
            "message.image.source.uri",
        ),
        (image("ftp://example.com/a.png"), "message.image.source.uri"),
        (once_text, "message.view_once"),
    ];
    for (message, field) in cases {
        let err = send(&mut messages, &pair.a, message).await.unwrap_err();
        assert_eq!(err.code(), tonic::Code::InvalidArgument, "{field}: {err:?}");
        assert!(
            violated_fields(&err).iter().any(|f| f == field),
            "{field}: {:?}",
            violated_fields(&err)
        );
    }

    // Unknown references.
    let missing = content(
        PHONE_B,
        Content::Image(pb::ImageContent {
            source: from_media(&format!("{}/media/999", pair.a)),
            ..Default::default()
        }),
    );
    assert_eq!(
        send(&mut messages, &pair.a, missing)
            .await
            .unwrap_err()
            .code(),
        tonic::Code::NotFound
    );
    let mut reply = text(PHONE_B, "re");
    reply.reply_to = Some(pb::MessageReference {
        target: Some(pb::message_reference::Target::Message(format!(
            "{}/messages/999",
            pair.a
        ))),
    });
    assert_eq!(
        send(&mut messages, &pair.a, reply)
            .await
            .unwrap_err()
            .code(),
        tonic::Code::NotFound
    );

    // A session without a linked account cannot queue.
    let mut sessions = pair.server.sessions();
    let unlinked = crate::create_session(&mut sessions, "+14155550299").await;
    let err = send(&mut messages, &unlinked.name, text(PHONE_B, "x"))
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), error_reason(&err).as_str()),
        (tonic::Code::FailedPrecondition, "SESSION_NOT_CONNECTED")
    );

    // Uploads are checked against their type.
    let err = upload(
        &mut messages,
        &pair.a,
        b"not an image".to_vec(),
        "image/png",
        "",
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument, "{err:?}");
    let err = upload(&mut messages, &pair.a, png(), "video/mp4", "")
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument, "{err:?}");

    // Another session's key cannot send for A.
    let key = sessions
        .regenerate_api_key(admin(pb::RegenerateApiKeyRequest {
            name: pair.b.clone(),
        }))
        .await
        .unwrap()
        .into_inner()
        .api_key;
    let err = messages
        .send_message(wagate_tests::authed(
            &key,
            pb::SendMessageRequest {
                parent: pair.a.clone(),
                message: Some(text(PHONE_B, "x")),
                request_id: String::new(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::PermissionDenied);
    pair.stop().await;
}

#[tokio::test]
async fn media_round_trips_and_edits_and_deletes_reach_the_recipient() {
    for backend in backends() {
        let pair = Pair::start(backend, |_| {}).await;
        let mut messages = pair.messages();
        let http = pair.server.http_addr.expect("HTTP listener");
        let media = upload(&mut messages, &pair.a, png(), "", "dot.png")
            .await
            .unwrap();
        assert!(
            media.uri.starts_with(&format!("http://{http}/media/")),
            "{media:?}"
        );
        assert_eq!(http_get(&media.uri).await, png());

        let sent = send(
            &mut messages,
            &pair.a,
            content(
                PHONE_B,
                Content::Image(pb::ImageContent {
                    source: from_media(&media.name),
                    caption: "dot".into(),
                    ..Default::default()
                }),
            ),
        )
        .await
        .unwrap();
        let sent = wait_message(&messages, &sent.name, pb::MessageStatus::Delivered).await;
        let inbound = wait_inbound(&messages, &pair.b, &sent.whatsapp_id).await;
        let downloaded = messages
            .download_media(admin(pb::DownloadMediaRequest {
                parent: pair.b.clone(),
                message: Some(pb::MessageReference {
                    target: Some(pb::message_reference::Target::Key(
                        inbound.key.clone().unwrap(),
                    )),
                }),
            }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            (downloaded.mime_type.as_str(), downloaded.sha256.as_str()),
            ("image/png", media.sha256.as_str())
        );
        assert_eq!(downloaded.message, inbound.name);
        assert_eq!(http_get(&downloaded.uri).await, png());

        // Edit the caption, then delete the message: B sees both.
        let edited = messages
            .edit_message(admin(pb::EditMessageRequest {
                message: Some(pb::Message {
                    name: sent.name.clone(),
                    content: Some(Content::Image(pb::ImageContent {
                        caption: "dot, edited".into(),
                        ..Default::default()
                    })),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["image.caption".into()],
                }),
            }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(edited.body, "dot, edited");
        assert!(edited.edit_time.is_some());
        wagate_tests::eventually("B sees the edit", Duration::from_secs(10), || {
            let mut messages = messages.clone();
            let name = inbound.name.clone();
            async move { (get(&mut messages, &name).await.body == "dot, edited").then_some(()) }
        })
        .await;
        let err = messages
            .edit_message(admin(pb::EditMessageRequest {
                message: Some(pb::Message {
                    name: sent.name.clone(),
                    content: Some(Content::Text("x".into())),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["text".into()],
                }),
            }))
            .await
            .unwrap_err();
        assert_eq!(
            err.code(),
            tonic::Code::InvalidArgument,
            "wrong mask for an image: {err:?}"
        );

        messages
            .delete_message(admin(pb::DeleteMessageRequest {
                name: sent.name.clone(),
            }))
            .await
            .unwrap();
        let deleted = get(&mut messages, &sent.name).await;
        assert!(
            deleted.delete_time.is_some() && deleted.content.is_none() && deleted.body.is_empty()
        );
        wagate_tests::eventually("B sees the delete", Duration::from_secs(10), || {
            let mut messages = messages.clone();
            let name = inbound.name.clone();
            async move { get(&mut messages, &name).await.delete_time.map(|_| ()) }
        })
        .await;
        let err = messages
            .delete_message(admin(pb::DeleteMessageRequest {
                name: sent.name.clone(),
            }))
            .await
            .unwrap_err();
        assert_eq!(error_reason(&err), "MESSAGE_STATE_CONFLICT");

        // Presence: typing in a chat for a while, and online.
        let typing = messages
            .send_presence(admin(pb::SendPresenceRequest {
                parent: pair.a.clone(),
                presence: pb::PresenceState::Composing as i32,
                chat: PHONE_B.into(),
                duration: Some(prost_types::Duration {
                    seconds: 1,
                    nanos: 0,
                }),
            }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(typing.chat, "14155550202@s.whatsapp.net");
        let err = messages
            .send_presence(admin(pb::SendPresenceRequest {
                parent: pair.a.clone(),
                presence: pb::PresenceState::Composing as i32,
                ..Default::default()
            }))
            .await
            .unwrap_err();
        assert_eq!(violated_fields(&err), ["chat"]);
        messages
            .send_presence(admin(pb::SendPresenceRequest {
                parent: pair.a.clone(),
                presence: pb::PresenceState::Available as i32,
                ..Default::default()
            }))
            .await
            .unwrap();
        pair.stop().await;
    }
}

/// GET over plain HTTP/1.1 on loopback; returns the body of a 200.
pub async fn http_get(url: &str) -> Vec<u8> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url.strip_prefix("http://").expect("http URL");
    let (host, path) = rest.split_once('/').unwrap();
    let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
    stream
        .write_all(
            format!("GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await
        .unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut response))
        .await
        .unwrap()
        .unwrap();
    let split = response.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&response[..split]).to_string();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    response[split + 4..].to_vec()
}
