use bytes::Bytes;
use wagate_proto::v1 as pb;
use wagate_proto::v1::message::Content;

use super::*;

fn outgoing(content: Content) -> OutgoingMessage {
    OutgoingMessage {
        whatsapp_id: "3EB0C0FFEE".into(),
        chat: "15551230000@s.whatsapp.net".into(),
        content,
        media: None,
        reply_to: None,
        mentions: Vec::new(),
        view_once: false,
    }
}

fn with_file(mut message: OutgoingMessage, mime: &str, name: &str) -> OutgoingMessage {
    message.media = Some(MediaBlob {
        bytes: Bytes::from_static(b"file"),
        mime_type: mime.into(),
        file_name: name.into(),
    });
    message
}

fn uploaded() -> UploadedMedia {
    UploadedMedia {
        url: "https://mmg.whatsapp.net/v/t62/abc".into(),
        direct_path: "/v/t62/abc".into(),
        media_key: vec![1; 32],
        file_enc_sha256: vec![2; 32],
        file_sha256: vec![3; 32],
        file_length: 4096,
        media_key_timestamp: 1_800_000_000,
        streaming_sidecar: Some(vec![9; 10]),
    }
}

fn key(id: &str, chat: &str, from_me: bool, participant: &str) -> pb::MessageKey {
    pb::MessageKey {
        id: id.into(),
        remote_jid: chat.into(),
        from_me,
        participant: participant.into(),
        ..Default::default()
    }
}

#[test]
fn plain_text_is_a_conversation() {
    let built = build_message(&outgoing(Content::Text("hello".into())), None);
    assert_eq!(built.conversation.as_deref(), Some("hello"));
    assert!(built.extended_text_message.is_unset());
}

#[test]
fn text_with_mentions_and_a_quote_is_extended_text() {
    let mut message = outgoing(Content::Text("hi @15557654321".into()));
    message.mentions = vec![
        "15557654321@s.whatsapp.net".into(),
        "+1 555 000 1111".into(),
    ];
    message.reply_to = Some(Quoted {
        key: key("3EB0QUOTED", "15551230000@s.whatsapp.net", false, ""),
        content: Some(Content::Text("the question".into())),
    });
    let built = build_message(&message, None);
    assert_eq!(built.conversation, None);
    let extended = built.extended_text_message.as_option().unwrap();
    assert_eq!(extended.text.as_deref(), Some("hi @15557654321"));
    let context = extended.context_info.as_option().unwrap();
    assert_eq!(
        context.mentioned_jid,
        vec![
            "15557654321@s.whatsapp.net".to_string(),
            "15550001111@s.whatsapp.net".into()
        ]
    );
    assert_eq!(context.stanza_id.as_deref(), Some("3EB0QUOTED"));
    // The other side of a personal chat wrote the quoted message.
    assert_eq!(
        context.participant.as_deref(),
        Some("15551230000@s.whatsapp.net")
    );
    assert_eq!(context.remote_jid, None);
    let quoted = context.quoted_message.as_option().unwrap();
    assert_eq!(quoted.conversation.as_deref(), Some("the question"));
}

#[test]
fn quoting_own_or_group_messages_names_the_right_author() {
    let mut message = outgoing(Content::Text("yes".into()));
    message.reply_to = Some(Quoted {
        key: key("OWN", "15551230000@s.whatsapp.net", true, ""),
        content: None,
    });
    let built = build_message(&message, None);
    let context = built
        .extended_text_message
        .as_option()
        .unwrap()
        .context_info
        .as_option()
        .unwrap();
    assert_eq!(context.participant, None);
    assert!(context.quoted_message.is_unset());

    let mut message = outgoing(Content::Text("yes".into()));
    message.chat = "120363000000000001@g.us".into();
    message.reply_to = Some(Quoted {
        key: key(
            "MEMBER",
            "120363000000000001@g.us",
            false,
            "15557654321@s.whatsapp.net",
        ),
        content: Some(Content::Image(pb::ImageContent {
            caption: "look".into(),
            ..Default::default()
        })),
    });
    let built = build_message(&message, None);
    let context = built
        .extended_text_message
        .as_option()
        .unwrap()
        .context_info
        .as_option()
        .unwrap();
    assert_eq!(
        context.participant.as_deref(),
        Some("15557654321@s.whatsapp.net")
    );
    let quoted = context.quoted_message.as_option().unwrap();
    let image = quoted.image_message.as_option().unwrap();
    assert_eq!(image.caption.as_deref(), Some("look"));
    assert_eq!(image.direct_path, None, "a quote carries no file");
}

#[test]
fn images_carry_the_upload_caption_and_view_once() {
    let mut message = with_file(
        outgoing(Content::Image(pb::ImageContent {
            caption: "sunset".into(),
            ..Default::default()
        })),
        "image/png",
        "a.png",
    );
    message.view_once = true;
    message.mentions = vec!["15557654321@s.whatsapp.net".into()];
    let built = build_message(&message, Some(&uploaded()));
    let image = built.image_message.as_option().unwrap();
    assert_eq!(
        image.url.as_deref(),
        Some("https://mmg.whatsapp.net/v/t62/abc")
    );
    assert_eq!(image.direct_path.as_deref(), Some("/v/t62/abc"));
    assert_eq!(image.media_key, Some(vec![1; 32]));
    assert_eq!(image.file_enc_sha256, Some(vec![2; 32]));
    assert_eq!(image.file_sha256, Some(vec![3; 32]));
    assert_eq!(image.file_length, Some(4096));
    assert_eq!(image.media_key_timestamp, Some(1_800_000_000));
    assert_eq!(image.mimetype.as_deref(), Some("image/png"));
    assert_eq!(image.caption.as_deref(), Some("sunset"));
    assert_eq!(image.view_once, Some(true));
    assert!(built.is_view_once());
    let context = image.context_info.as_option().unwrap();
    assert_eq!(
        context.mentioned_jid,
        vec!["15557654321@s.whatsapp.net".to_string()]
    );
}

#[test]
fn videos_keep_gif_playback_and_the_sidecar() {
    let message = with_file(
        outgoing(Content::Video(pb::VideoContent {
            caption: "loop".into(),
            gif_playback: true,
            ..Default::default()
        })),
        "video/mp4",
        "v.mp4",
    );
    let built = build_message(&message, Some(&uploaded()));
    let video = built.video_message.as_option().unwrap();
    assert_eq!(video.gif_playback, Some(true));
    assert_eq!(video.streaming_sidecar, Some(vec![9; 10]));
    assert_eq!(video.caption.as_deref(), Some("loop"));
    assert_eq!(video.view_once, None);
    assert!(!built.is_view_once());
}

#[test]
fn voice_notes_are_ptt_with_the_opus_codec() {
    let message = with_file(
        outgoing(Content::Audio(pb::AudioContent {
            voice_note: true,
            ..Default::default()
        })),
        "audio/ogg",
        "note.ogg",
    );
    let built = build_message(&message, Some(&uploaded()));
    let audio = built.audio_message.as_option().unwrap();
    assert_eq!(audio.ptt, Some(true));
    assert_eq!(audio.mimetype.as_deref(), Some("audio/ogg; codecs=opus"));
    assert_eq!(audio.direct_path.as_deref(), Some("/v/t62/abc"));

    let music = with_file(
        outgoing(Content::Audio(pb::AudioContent::default())),
        "audio/mpeg",
        "song.mp3",
    );
    let built = build_message(&music, Some(&uploaded()));
    let audio = built.audio_message.as_option().unwrap();
    assert_eq!(audio.ptt, None);
    assert_eq!(audio.mimetype.as_deref(), Some("audio/mpeg"));
}

#[test]
fn documents_carry_name_mime_and_caption() {
    let message = with_file(
        outgoing(Content::Document(pb::DocumentContent {
            caption: "the contract".into(),
            ..Default::default()
        })),
        "application/pdf",
        "contract.pdf",
    );
    let built = build_message(&message, Some(&uploaded()));
    let document = built.document_message.as_option().unwrap();
    assert_eq!(document.file_name.as_deref(), Some("contract.pdf"));
    assert_eq!(document.mimetype.as_deref(), Some("application/pdf"));
    assert_eq!(document.caption.as_deref(), Some("the contract"));
    assert_eq!(document.file_length, Some(4096));

    let named = with_file(
        outgoing(Content::Document(pb::DocumentContent {
            file_name: "Q3.pdf".into(),
            ..Default::default()
        })),
        "",
        "upload.bin",
    );
    let built = build_message(&named, Some(&uploaded()));
    let document = built.document_message.as_option().unwrap();
    assert_eq!(document.file_name.as_deref(), Some("Q3.pdf"));
    assert_eq!(
        document.mimetype.as_deref(),
        Some("application/octet-stream")
    );
}

#[test]
fn stickers_are_webp() {
    let message = with_file(
        outgoing(Content::Sticker(pb::StickerContent::default())),
        "image/webp",
        "s.webp",
    );
    let built = build_message(&message, Some(&uploaded()));
    let sticker = built.sticker_message.as_option().unwrap();
    assert_eq!(sticker.mimetype.as_deref(), Some("image/webp"));
    assert_eq!(sticker.media_key, Some(vec![1; 32]));
}

#[test]
fn media_kinds_upload_as_their_type() {
    assert!(matches!(
        media_type_of(&Content::Image(Default::default())),
        Some(MediaType::Image)
    ));
    assert!(matches!(
        media_type_of(&Content::Sticker(Default::default())),
        Some(MediaType::Sticker)
    ));
    assert!(matches!(
        media_type_of(&Content::Document(Default::default())),
        Some(MediaType::Document)
    ));
    assert!(media_type_of(&Content::Text("x".into())).is_none());
}

#[test]
fn locations_carry_coordinates_and_names() {
    let built = build_message(
        &outgoing(Content::Location(pb::LocationContent {
            latitude: 52.52,
            longitude: 13.405,
            place_name: "Berlin".into(),
            address: String::new(),
        })),
        None,
    );
    let location = built.location_message.as_option().unwrap();
    assert_eq!(location.degrees_latitude, Some(52.52));
    assert_eq!(location.degrees_longitude, Some(13.405));
    assert_eq!(location.name.as_deref(), Some("Berlin"));
    assert_eq!(location.address, None);
}

#[test]
fn contact_cards_are_vcards() {
    let card = pb::ContactCardContent {
        full_name: "Ada Lovelace".into(),
        phone_number: "+44 20 7946 0958".into(),
        ..Default::default()
    };
    assert_eq!(
        vcard(&card),
        "BEGIN:VCARD\nVERSION:3.0\nFN:Ada Lovelace\nTEL;type=CELL;waid=442079460958:+442079460958\nEND:VCARD"
    );
    let built = build_message(&outgoing(Content::Contact(card.clone())), None);
    let contact = built.contact_message.as_option().unwrap();
    assert_eq!(contact.display_name.as_deref(), Some("Ada Lovelace"));
    assert_eq!(contact.vcard.as_deref(), Some(vcard(&card).as_str()));

    let with_org = pb::ContactCardContent {
        full_name: "Smith; John".into(),
        phone_number: "15550001111".into(),
        organization: "ACME, Inc.".into(),
        ..Default::default()
    };
    let text = vcard(&with_org);
    assert!(text.contains("FN:Smith\\; John\n"), "{text}");
    assert!(text.contains("ORG:ACME\\, Inc.\n"), "{text}");
    // What we write, we read back.
    let read = super::super::inbound::parse_vcard(&text);
    assert_eq!(read.full_name, "Smith; John");
    assert_eq!(read.organization, "ACME, Inc.");
    assert_eq!(read.phone_number, "+15550001111");
}

#[test]
fn polls_pick_the_version_and_count_by_multi_select() {
    let single = pb::PollContent {
        question: "Lunch?".into(),
        options: vec!["Pizza".into(), "Sushi".into(), "Salad".into()],
        multi_select: false,
        ..Default::default()
    };
    assert_eq!(selectable_count(&single), 1);
    let built = build_message(&outgoing(Content::Poll(single.clone())), None);
    let poll = built.poll_creation_message_v3.as_option().unwrap();
    assert!(built.poll_creation_message.is_unset());
    assert_eq!(poll.name.as_deref(), Some("Lunch?"));
    let names: Vec<_> = poll
        .options
        .iter()
        .map(|o| o.option_name.clone().unwrap())
        .collect();
    assert_eq!(names, single.options);
    assert_eq!(poll.selectable_options_count, Some(1));
    let secret = built
        .message_context_info
        .as_option()
        .and_then(|c| c.message_secret.clone())
        .unwrap();
    assert_eq!(secret.len(), 32);

    let multi = pb::PollContent {
        multi_select: true,
        ..single
    };
    assert_eq!(selectable_count(&multi), 3);
    let mut message = outgoing(Content::Poll(multi));
    message.mentions = vec!["15557654321@s.whatsapp.net".into()];
    let built = build_message(&message, None);
    let poll = built.poll_creation_message.as_option().unwrap();
    assert_eq!(poll.selectable_options_count, Some(3));
    assert!(poll.context_info.is_set());
}

#[test]
fn reactions_point_at_their_target_without_context() {
    let target = key(
        "3EB0TARGET",
        "120363000000000001@g.us",
        false,
        "15557654321@s.whatsapp.net",
    );
    let mut message = outgoing(Content::Reaction(pb::ReactionContent {
        target: Some(pb::MessageReference {
            target: Some(pb::message_reference::Target::Key(target)),
        }),
        emoji: "👍".into(),
    }));
    message.mentions = vec!["15557654321@s.whatsapp.net".into()];
    let built = build_message(&message, None);
    let reaction = built.reaction_message.as_option().unwrap();
    assert_eq!(reaction.text.as_deref(), Some("👍"));
    let key = reaction.key.as_option().unwrap();
    assert_eq!(key.id.as_deref(), Some("3EB0TARGET"));
    assert_eq!(key.remote_jid.as_deref(), Some("120363000000000001@g.us"));
    assert_eq!(key.from_me, Some(false));
    assert_eq!(
        key.participant.as_deref(),
        Some("15557654321@s.whatsapp.net")
    );
    assert!(reaction.sender_timestamp_ms.unwrap() > 0);
    assert!(built.extended_text_message.is_unset());
}
