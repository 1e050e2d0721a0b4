use std::time::{Duration, SystemTime};

use wagate_proto::v1 as pb;
use wagate_proto::v1::message::Content;
use whatsapp_rust::buffa::MessageField;
use whatsapp_rust::chrono::DateTime;
use whatsapp_rust::types::events::Receipt;
use whatsapp_rust::types::message::{AddressingMode, MessageInfo, MessageSource};
use whatsapp_rust::types::presence::ReceiptType;
use whatsapp_rust::waproto::whatsapp as wa;
use whatsapp_rust::waproto::whatsapp::message::protocol_message::Type as ProtocolType;

use super::super::media_ref::MediaRef;
use super::*;

const GROUP: &str = "120363000000000001@g.us";
const ALICE_PN: &str = "15557654321@s.whatsapp.net";
const ALICE_LID: &str = "200000000000001@lid";

fn me() -> LinkedUser {
    LinkedUser {
        jid: "15551230000:7@s.whatsapp.net".into(),
        lid: "100000012345678@lid".into(),
        push_name: "Shop".into(),
        phone_number: "+15551230000".into(),
    }
}

fn at() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000)
}

/// Alice writing in a LID-addressed group, from her second device.
fn group_info(id: &str) -> MessageInfo {
    MessageInfo {
        id: id.into(),
        source: MessageSource {
            chat: GROUP.parse().unwrap(),
            sender: "200000000000001:2@lid".parse().unwrap(),
            is_group: true,
            addressing_mode: Some(AddressingMode::Lid),
            sender_alt: Some(ALICE_PN.parse().unwrap()),
            ..Default::default()
        },
        push_name: "Alice".into(),
        timestamp: DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
        ..Default::default()
    }
}

/// Alice writing in a personal chat.
fn direct_info(id: &str) -> MessageInfo {
    MessageInfo {
        id: id.into(),
        source: MessageSource {
            chat: ALICE_PN.parse().unwrap(),
            sender: ALICE_PN.parse().unwrap(),
            ..Default::default()
        },
        push_name: "Alice".into(),
        timestamp: DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
        ..Default::default()
    }
}

fn received(message: &wa::Message, info: &MessageInfo) -> InboundMessage {
    match message_event(message, info, Some(&me())) {
        Some(EngineEvent::MessageReceived(inbound)) => *inbound,
        other => panic!("expected a received message, got {other:?}"),
    }
}

fn content(inbound: &InboundMessage) -> &Content {
    inbound
        .message
        .as_ref()
        .and_then(|m| m.content.as_ref())
        .expect("content")
}

/// direct_path, media_key, file_enc_sha256, file_sha256.
type CdnFields = (
    Option<String>,
    Option<Vec<u8>>,
    Option<Vec<u8>>,
    Option<Vec<u8>>,
);

fn cdn_fields() -> CdnFields {
    (
        Some("/v/t62/xyz".into()),
        Some(vec![1; 32]),
        Some(vec![2; 32]),
        Some(vec![3; 32]),
    )
}

#[test]
fn a_group_text_names_its_author_both_ways() {
    let message = wa::Message {
        conversation: Some("hello all".into()),
        ..Default::default()
    };
    let inbound = received(&message, &group_info("3EB0TEXT"));
    assert_eq!(inbound.whatsapp_id, "3EB0TEXT");
    assert_eq!(inbound.chat, GROUP);
    assert_eq!(inbound.sender, ALICE_LID);
    assert_eq!(inbound.sender_lid, ALICE_LID);
    assert_eq!(inbound.sender_phone_number, "+15557654321");
    assert_eq!(inbound.push_name, "Alice");
    assert!(!inbound.from_me);
    assert_eq!(inbound.timestamp, at());
    assert_eq!(content(&inbound), &Content::Text("hello all".into()));
    assert_eq!(inbound.body, "hello all");
    assert_eq!(inbound.media_ref, "");
}

#[test]
fn replies_and_mentions_come_back_as_modifiers() {
    let message = wa::Message {
        extended_text_message: MessageField::some(wa::message::ExtendedTextMessage {
            text: Some("@15551230000 agreed".into()),
            context_info: MessageField::some(wa::ContextInfo {
                stanza_id: Some("3EB0MINE".into()),
                participant: Some("15551230000@s.whatsapp.net".into()),
                mentioned_jid: vec!["15551230000@s.whatsapp.net".into()],
                quoted_message: MessageField::some(wa::Message {
                    conversation: Some("shall we?".into()),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    let inbound = received(&message, &group_info("3EB0REPLY"));
    let payload = inbound.message.as_ref().unwrap();
    assert_eq!(
        payload.content,
        Some(Content::Text("@15551230000 agreed".into()))
    );
    assert_eq!(
        payload.mentions,
        vec!["15551230000@s.whatsapp.net".to_string()]
    );
    let Some(pb::message_reference::Target::Key(key)) =
        payload.reply_to.as_ref().and_then(|r| r.target.clone())
    else {
        panic!("reply_to")
    };
    assert_eq!(key.id, "3EB0MINE");
    assert_eq!(key.remote_jid, GROUP);
    assert!(key.from_me, "this account wrote the quoted message");
    assert_eq!(key.participant, "15551230000@s.whatsapp.net");

    // In a personal chat the author is implied by from_me.
    let inbound = received(&message, &direct_info("3EB0DM"));
    let Some(pb::message_reference::Target::Key(key)) =
        inbound.message.unwrap().reply_to.and_then(|r| r.target)
    else {
        panic!("reply_to")
    };
    assert!(key.from_me);
    assert_eq!(key.participant, "");
    assert_eq!(key.remote_jid, ALICE_PN);
}

#[test]
fn images_keep_caption_size_view_once_and_a_downloadable_reference() {
    let (direct_path, media_key, enc, sha) = cdn_fields();
    let message = wa::Message {
        image_message: MessageField::some(wa::message::ImageMessage {
            direct_path,
            media_key,
            file_enc_sha256: enc,
            file_sha256: sha,
            file_length: Some(2048),
            mimetype: Some("image/jpeg".into()),
            caption: Some("the view".into()),
            view_once: Some(true),
            ..Default::default()
        }),
        ..Default::default()
    };
    let inbound = received(&message, &direct_info("3EB0IMG"));
    assert_eq!(
        content(&inbound),
        &Content::Image(pb::ImageContent {
            caption: "the view".into(),
            mime_type: "image/jpeg".into(),
            size_bytes: 2048,
            source: None,
        })
    );
    assert!(inbound.message.as_ref().unwrap().view_once);
    assert_eq!(inbound.body, "the view");
    let reference = MediaRef::decode(&inbound.media_ref).unwrap();
    assert_eq!(reference.kind, "image");
    assert_eq!(reference.mime_type, "image/jpeg");
    let params = reference.download_params().unwrap();
    assert_eq!(params.direct_path, "/v/t62/xyz");
    assert_eq!(params.media_key, Some(vec![1; 32]));
    assert_eq!(params.file_length, 2048);
}

#[test]
fn legacy_view_once_wrappers_are_recognised() {
    let message = wa::Message {
        view_once_message_v2: MessageField::some(wa::message::FutureProofMessage {
            message: MessageField::some(wa::Message {
                video_message: MessageField::some(wa::message::VideoMessage {
                    direct_path: Some("/v".into()),
                    seconds: Some(12),
                    gif_playback: Some(true),
                    ..Default::default()
                }),
                ..Default::default()
            }),
        }),
        ..Default::default()
    };
    let inbound = received(&message, &direct_info("3EB0VO"));
    let Content::Video(video) = content(&inbound) else {
        panic!("video")
    };
    assert!(video.gif_playback);
    assert_eq!(video.duration.as_ref().map(|d| d.seconds), Some(12));
    assert!(inbound.message.as_ref().unwrap().view_once);
    assert_eq!(MediaRef::decode(&inbound.media_ref).unwrap().kind, "video");
}

#[test]
fn voice_notes_documents_and_stickers() {
    let (direct_path, media_key, enc, sha) = cdn_fields();
    let audio = wa::Message {
        audio_message: MessageField::some(wa::message::AudioMessage {
            direct_path: direct_path.clone(),
            media_key: media_key.clone(),
            ptt: Some(true),
            seconds: Some(7),
            mimetype: Some("audio/ogg; codecs=opus".into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let inbound = received(&audio, &direct_info("3EB0PTT"));
    let Content::Audio(voice) = content(&inbound) else {
        panic!("audio")
    };
    assert!(voice.voice_note);
    assert_eq!(voice.mime_type, "audio/ogg; codecs=opus");
    assert_eq!(inbound.body, "");

    let document = wa::Message {
        document_with_caption_message: MessageField::some(wa::message::FutureProofMessage {
            message: MessageField::some(wa::Message {
                document_message: MessageField::some(wa::message::DocumentMessage {
                    direct_path: direct_path.clone(),
                    media_key: media_key.clone(),
                    file_enc_sha256: enc,
                    file_sha256: sha,
                    file_length: Some(99),
                    file_name: Some("report.pdf".into()),
                    mimetype: Some("application/pdf".into()),
                    caption: Some("Q3".into()),
                    ..Default::default()
                }),
                ..Default::default()
            }),
        }),
        ..Default::default()
    };
    let inbound = received(&document, &direct_info("3EB0DOC"));
    assert_eq!(
        content(&inbound),
        &Content::Document(pb::DocumentContent {
            file_name: "report.pdf".into(),
            mime_type: "application/pdf".into(),
            caption: "Q3".into(),
            size_bytes: 99,
            source: None,
        })
    );
    let reference = MediaRef::decode(&inbound.media_ref).unwrap();
    assert_eq!(reference.file_name, "report.pdf");
    assert_eq!(reference.kind, "document");

    let sticker = wa::Message {
        sticker_message: MessageField::some(wa::message::StickerMessage {
            direct_path,
            media_key,
            is_animated: Some(true),
            file_length: Some(5000),
            mimetype: Some("image/webp".into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let inbound = received(&sticker, &direct_info("3EB0STK"));
    assert_eq!(
        content(&inbound),
        &Content::Sticker(pb::StickerContent {
            animated: true,
            size_bytes: 5000,
            source: None,
        })
    );
    assert_eq!(
        MediaRef::decode(&inbound.media_ref).unwrap().kind,
        "sticker"
    );
}

#[test]
fn locations_and_contact_cards() {
    let location = wa::Message {
        location_message: MessageField::some(wa::message::LocationMessage {
            degrees_latitude: Some(48.8584),
            degrees_longitude: Some(2.2945),
            name: Some("Eiffel Tower".into()),
            address: Some("Paris".into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let inbound = received(&location, &direct_info("3EB0LOC"));
    assert_eq!(
        content(&inbound),
        &Content::Location(pb::LocationContent {
            latitude: 48.8584,
            longitude: 2.2945,
            place_name: "Eiffel Tower".into(),
            address: "Paris".into(),
        })
    );
    assert_eq!(inbound.body, "Eiffel Tower, Paris");

    let vcard = "BEGIN:VCARD\r\nVERSION:3.0\r\nN:Lovelace;Ada;;;\r\nFN:Ada Lovelace\r\nORG:Analytical Engines;\r\nTEL;type=CELL;type=VOICE;waid=442079460958:+44 20 7946 0958\r\nEND:VCARD";
    let contact = wa::Message {
        contact_message: MessageField::some(wa::message::ContactMessage {
            display_name: Some("Ada".into()),
            vcard: Some(vcard.into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let inbound = received(&contact, &direct_info("3EB0VCF"));
    assert_eq!(
        content(&inbound),
        &Content::Contact(pb::ContactCardContent {
            full_name: "Ada".into(),
            phone_number: "+442079460958".into(),
            organization: "Analytical Engines".into(),
            vcard: vcard.into(),
        })
    );
    assert_eq!(inbound.body, "Ada");

    // A card without waid: the number as written.
    let card = parse_vcard("BEGIN:VCARD\nFN:Bob\nTEL:+1 (555) 000-1111\nEND:VCARD");
    assert_eq!(card.full_name, "Bob");
    assert_eq!(card.phone_number, "+15550001111");
}

#[test]
fn polls_of_every_version() {
    let creation = |count: u32| wa::message::PollCreationMessage {
        name: Some("Lunch?".into()),
        options: ["Pizza", "Sushi"]
            .iter()
            .map(|name| wa::message::poll_creation_message::Option {
                option_name: Some(name.to_string()),
                option_hash: None,
            })
            .collect(),
        selectable_options_count: Some(count),
        ..Default::default()
    };
    let single = wa::Message {
        poll_creation_message_v3: MessageField::some(creation(1)),
        ..Default::default()
    };
    let inbound = received(&single, &group_info("3EB0POLL"));
    assert_eq!(
        content(&inbound),
        &Content::Poll(pb::PollContent {
            question: "Lunch?".into(),
            options: vec!["Pizza".into(), "Sushi".into()],
            multi_select: false,
            results: Vec::new(),
        })
    );
    assert_eq!(inbound.body, "Lunch?");
    for count in [0, 2] {
        let multi = wa::Message {
            poll_creation_message: MessageField::some(creation(count)),
            ..Default::default()
        };
        let Content::Poll(poll) = content(&received(&multi, &group_info("3EB0MULTI"))).clone()
        else {
            panic!("poll")
        };
        assert!(poll.multi_select, "selectable {count}");
    }
}

fn reaction(key: wa::MessageKey) -> wa::Message {
    wa::Message {
        reaction_message: MessageField::some(wa::message::ReactionMessage {
            key: MessageField::some(key),
            text: Some("❤️".into()),
            sender_timestamp_ms: Some(1_800_000_000_000),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn reaction_key(inbound: &InboundMessage) -> pb::MessageKey {
    let Content::Reaction(reaction) = content(inbound) else {
        panic!("reaction")
    };
    assert_eq!(reaction.emoji, "❤️");
    match reaction.target.clone().and_then(|t| t.target) {
        Some(pb::message_reference::Target::Key(key)) => key,
        other => panic!("target {other:?}"),
    }
}

#[test]
fn reaction_targets_are_seen_from_this_account() {
    // Alice, in our personal chat, reacts to our message (not hers).
    let theirs = reaction(wa::MessageKey {
        remote_jid: Some("15551230000@s.whatsapp.net".into()),
        from_me: Some(false),
        id: Some("3EB0OURS".into()),
        ..Default::default()
    });
    let inbound = received(&theirs, &direct_info("3EB0R1"));
    let key = reaction_key(&inbound);
    assert_eq!(key.id, "3EB0OURS");
    assert!(key.from_me);
    assert_eq!(key.remote_jid, ALICE_PN);
    assert_eq!(inbound.body, "❤️");

    // Alice reacts to her own message in the group.
    let own = reaction(wa::MessageKey {
        remote_jid: Some(GROUP.into()),
        from_me: Some(true),
        id: Some("3EB0HERS".into()),
        ..Default::default()
    });
    let key = reaction_key(&received(&own, &group_info("3EB0R2")));
    assert!(!key.from_me);
    assert_eq!(key.participant, ALICE_LID);

    // Alice reacts to a third member's message, and to ours, in the group.
    let member = |participant: &str| {
        reaction(wa::MessageKey {
            remote_jid: Some(GROUP.into()),
            from_me: Some(false),
            id: Some("3EB0X".into()),
            participant: Some(participant.into()),
        })
    };
    let key = reaction_key(&received(
        &member("15559990000@s.whatsapp.net"),
        &group_info("3EB0R3"),
    ));
    assert!(!key.from_me);
    assert_eq!(key.participant, "15559990000@s.whatsapp.net");
    let key = reaction_key(&received(
        &member("100000012345678@lid"),
        &group_info("3EB0R4"),
    ));
    assert!(key.from_me);
}

fn protocol(kind: ProtocolType, edited: Option<wa::Message>) -> wa::Message {
    wa::Message {
        protocol_message: MessageField::some(wa::message::ProtocolMessage {
            key: MessageField::some(wa::MessageKey {
                remote_jid: Some(ALICE_PN.into()),
                from_me: Some(true),
                id: Some("3EB0ORIGINAL".into()),
                ..Default::default()
            }),
            r#type: Some(kind),
            edited_message: edited.into(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[test]
fn edits_and_revocations_change_earlier_messages() {
    let edit = protocol(
        ProtocolType::MessageEdit,
        Some(wa::Message {
            conversation: Some("fixed typo".into()),
            ..Default::default()
        }),
    );
    assert_eq!(
        message_event(&edit, &direct_info("3EB0EDIT"), None),
        Some(EngineEvent::MessageChanged {
            chat: ALICE_PN.into(),
            whatsapp_id: "3EB0ORIGINAL".into(),
            change: MessageChange::Edited {
                new_body: "fixed typo".into()
            },
            timestamp: at(),
        })
    );
    // The history form wraps the protocol message in editedMessage.
    let wrapped = wa::Message {
        edited_message: MessageField::some(wa::message::FutureProofMessage {
            message: MessageField::some(protocol(
                ProtocolType::MessageEdit,
                Some(wa::Message {
                    image_message: MessageField::some(wa::message::ImageMessage {
                        caption: Some("new caption".into()),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
            )),
        }),
        ..Default::default()
    };
    assert!(matches!(
        message_event(&wrapped, &direct_info("3EB0EDIT2"), None),
        Some(EngineEvent::MessageChanged {
            change: MessageChange::Edited { ref new_body },
            ..
        }) if new_body == "new caption"
    ));
    let revoke = protocol(ProtocolType::Revoke, None);
    assert_eq!(
        message_event(&revoke, &group_info("3EB0DEL"), None),
        Some(EngineEvent::MessageChanged {
            chat: GROUP.into(),
            whatsapp_id: "3EB0ORIGINAL".into(),
            change: MessageChange::Revoked,
            timestamp: at(),
        })
    );
    let other = protocol(ProtocolType::EphemeralSetting, None);
    assert_eq!(message_event(&other, &direct_info("3EB0EPH"), None), None);
}

#[test]
fn chatter_statuses_and_unknown_kinds() {
    let key_share = wa::Message {
        sender_key_distribution_message: MessageField::some(Default::default()),
        message_context_info: MessageField::some(Default::default()),
        ..Default::default()
    };
    assert_eq!(
        message_event(&key_share, &group_info("3EB0SKDM"), None),
        None
    );

    let mut status = direct_info("3EB0STATUS");
    status.source.chat = "status@broadcast".parse().unwrap();
    let text = wa::Message {
        conversation: Some("my day".into()),
        ..Default::default()
    };
    assert_eq!(message_event(&text, &status, None), None);

    let event = wa::Message {
        event_message: MessageField::some(wa::message::EventMessage {
            name: Some("Party".into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let inbound = received(&event, &direct_info("3EB0EVT"));
    assert_eq!(inbound.message, None);
    assert_eq!(inbound.body, "");
}

#[test]
fn messages_from_this_accounts_phone() {
    let mut info = direct_info("3EB0PHONE");
    info.source.is_from_me = true;
    info.source.sender = "15551230000:0@s.whatsapp.net".parse().unwrap();
    info.source.sender_alt = Some("100000012345678:0@lid".parse().unwrap());
    let inbound = received(
        &wa::Message {
            conversation: Some("sent from the phone".into()),
            ..Default::default()
        },
        &info,
    );
    assert!(inbound.from_me);
    assert_eq!(inbound.sender, "15551230000@s.whatsapp.net");
    assert_eq!(inbound.sender_phone_number, "+15551230000");
    assert_eq!(inbound.sender_lid, "100000012345678@lid");
}

fn receipt(kind: ReceiptType, from_me: bool) -> Receipt {
    Receipt::builder()
        .source(MessageSource {
            chat: GROUP.parse().unwrap(),
            sender: "15557654321:3@s.whatsapp.net".parse().unwrap(),
            is_from_me: from_me,
            is_group: true,
            ..Default::default()
        })
        .message_ids(vec!["3EB0A".into(), "3EB0B".into()])
        .timestamp(DateTime::from_timestamp(1_800_000_000, 0).unwrap())
        .r#type(kind)
        .offline(false)
        .build()
}

#[test]
fn receipts_we_track() {
    for (kind, ours) in [
        (ReceiptType::Delivered, ReceiptKind::Delivered),
        (ReceiptType::Read, ReceiptKind::Read),
        (ReceiptType::Played, ReceiptKind::Played),
    ] {
        assert_eq!(
            receipt_event(&receipt(kind, false)),
            Some(EngineEvent::Receipt {
                chat: GROUP.into(),
                ids: vec!["3EB0A".into(), "3EB0B".into()],
                kind: ours,
                from: ALICE_PN.into(),
                timestamp: at(),
            })
        );
    }
    assert_eq!(receipt_event(&receipt(ReceiptType::Read, true)), None);
    for kind in [
        ReceiptType::Retry,
        ReceiptType::ReadSelf,
        ReceiptType::Sender,
        ReceiptType::ServerError,
    ] {
        assert_eq!(receipt_event(&receipt(kind, false)), None);
    }
}
