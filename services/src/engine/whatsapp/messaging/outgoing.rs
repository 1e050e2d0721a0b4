//! Our outgoing content as WhatsApp protobuf messages. Pure (the upload
//! happens before), so every kind and modifier is tested offline.

use std::time::SystemTime;

use wagate_proto::v1 as pb;
use wagate_proto::v1::message::Content;
use whatsapp_rust::buffa::MessageField;
use whatsapp_rust::download::MediaType;
use whatsapp_rust::upload::UploadResponse;
use whatsapp_rust::wacore::proto_helpers::MessageExt;
use whatsapp_rust::waproto::whatsapp as wa;

use crate::engine::{MediaBlob, OutgoingMessage, Quoted};

/// The CDN fields of an uploaded file: what the library's `UploadResponse`
/// holds, as our own type because that one cannot be built outside the library.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UploadedMedia {
    pub url: String,
    pub direct_path: String,
    pub media_key: Vec<u8>,
    pub file_enc_sha256: Vec<u8>,
    pub file_sha256: Vec<u8>,
    pub file_length: u64,
    pub media_key_timestamp: i64,
    /// Seek table for progressive playback (audio and video).
    pub streaming_sidecar: Option<Vec<u8>>,
}

impl From<UploadResponse> for UploadedMedia {
    fn from(upload: UploadResponse) -> Self {
        Self {
            url: upload.url,
            direct_path: upload.direct_path,
            media_key: upload.media_key.to_vec(),
            file_enc_sha256: upload.file_enc_sha256.to_vec(),
            file_sha256: upload.file_sha256.to_vec(),
            file_length: upload.file_length,
            media_key_timestamp: upload.media_key_timestamp,
            streaming_sidecar: upload.streaming_sidecar,
        }
    }
}

/// The library's media type for uploading (and downloading) a content's file.
pub fn media_type_of(content: &Content) -> Option<MediaType> {
    match content {
        Content::Image(_) => Some(MediaType::Image),
        Content::Video(_) => Some(MediaType::Video),
        Content::Audio(_) => Some(MediaType::Audio),
        Content::Document(_) => Some(MediaType::Document),
        Content::Sticker(_) => Some(MediaType::Sticker),
        _ => None,
    }
}

/// The full WhatsApp message for `message`; `upload` holds the CDN fields of
/// its file when it has one.
pub fn build_message(message: &OutgoingMessage, upload: Option<&UploadedMedia>) -> wa::Message {
    let file = message.media.as_ref().zip(upload);
    let mut built = build_content(&message.content, file, message.view_once);
    // Reactions carry no context: they point at their target by key.
    if !matches!(message.content, Content::Reaction(_))
        && let Some(context) = context_info(message)
    {
        built.set_context_info(context);
    }
    built
}

/// ContextInfo for a reply and mentions, `None` when there is neither.
pub fn context_info(message: &OutgoingMessage) -> Option<wa::ContextInfo> {
    if message.reply_to.is_none() && message.mentions.is_empty() {
        return None;
    }
    let mut context = wa::ContextInfo {
        mentioned_jid: message.mentions.iter().map(|m| mention_jid(m)).collect(),
        ..Default::default()
    };
    if let Some(Quoted { key, content }) = &message.reply_to {
        context.stanza_id = Some(key.id.clone());
        // The quoted author: the member in groups, else whoever sent it in the chat.
        context.participant = if !key.participant.is_empty() {
            Some(key.participant.clone())
        } else if !key.from_me {
            Some(key.remote_jid.clone()).filter(|jid| !jid.is_empty())
        } else {
            None
        };
        if !key.remote_jid.is_empty() && key.remote_jid != message.chat {
            context.remote_jid = Some(key.remote_jid.clone());
        }
        if let Some(content) = content {
            // Without the file's CDN fields the quote shows the caption and kind.
            let quoted = build_content(content, None, false);
            context.quoted_message = MessageField::from_box(quoted.prepare_for_quote());
        }
    }
    Some(context)
}

/// A mention as a JID: phone numbers become user JIDs.
fn mention_jid(mention: &str) -> String {
    if mention.contains('@') {
        mention.to_owned()
    } else {
        format!("{}@s.whatsapp.net", digits_of(mention))
    }
}

fn digits_of(phone: &str) -> String {
    phone.chars().filter(char::is_ascii_digit).collect()
}

fn non_empty(text: &str) -> Option<String> {
    (!text.is_empty()).then(|| text.to_owned())
}

/// The MIME type to declare: the resolved file's, else the one given, else
/// the kind's default.
fn mime_of(file: Option<&MediaBlob>, given: &str, default: &str) -> String {
    file.map(|f| f.mime_type.as_str())
        .filter(|m| !m.is_empty())
        .or(Some(given).filter(|m| !m.is_empty()))
        .unwrap_or(default)
        .to_owned()
}

/// One content as a WhatsApp message, without modifiers other than view-once.
pub fn build_content(
    content: &Content,
    file: Option<(&MediaBlob, &UploadedMedia)>,
    view_once: bool,
) -> wa::Message {
    let blob = file.map(|(blob, _)| blob);
    let cdn = file.map(|(_, upload)| upload.clone()).unwrap_or_default();
    let cdn_string = |s: String| non_empty(&s);
    let cdn_bytes = |b: Vec<u8>| (!b.is_empty()).then_some(b);
    let uploaded = file.is_some();
    let length = uploaded.then_some(cdn.file_length);
    let key_time = uploaded.then_some(cdn.media_key_timestamp);
    // The library's modern form: an inline flag, which the send path also
    // announces in the stanza's <meta view_once>.
    let view_once = view_once.then_some(true);
    let mut message = wa::Message::default();
    match content {
        Content::Text(text) => message.conversation = Some(text.clone()),
        Content::Image(image) => {
            message.image_message = MessageField::some(wa::message::ImageMessage {
                url: cdn_string(cdn.url),
                direct_path: cdn_string(cdn.direct_path),
                media_key: cdn_bytes(cdn.media_key),
                file_sha256: cdn_bytes(cdn.file_sha256),
                file_enc_sha256: cdn_bytes(cdn.file_enc_sha256),
                file_length: length,
                media_key_timestamp: key_time,
                mimetype: Some(mime_of(blob, &image.mime_type, "image/jpeg")),
                caption: non_empty(&image.caption),
                view_once,
                ..Default::default()
            })
        }
        Content::Video(video) => {
            message.video_message = MessageField::some(wa::message::VideoMessage {
                url: cdn_string(cdn.url),
                direct_path: cdn_string(cdn.direct_path),
                media_key: cdn_bytes(cdn.media_key),
                file_sha256: cdn_bytes(cdn.file_sha256),
                file_enc_sha256: cdn_bytes(cdn.file_enc_sha256),
                file_length: length,
                media_key_timestamp: key_time,
                streaming_sidecar: cdn.streaming_sidecar,
                mimetype: Some(mime_of(blob, &video.mime_type, "video/mp4")),
                caption: non_empty(&video.caption),
                gif_playback: video.gif_playback.then_some(true),
                view_once,
                ..Default::default()
            })
        }
        Content::Audio(audio) => {
            let mut mime = mime_of(blob, &audio.mime_type, "audio/ogg; codecs=opus");
            // WhatsApp plays voice notes only when the Opus codec is declared.
            if audio.voice_note && mime == "audio/ogg" {
                mime = "audio/ogg; codecs=opus".into();
            }
            message.audio_message = MessageField::some(wa::message::AudioMessage {
                url: cdn_string(cdn.url),
                direct_path: cdn_string(cdn.direct_path),
                media_key: cdn_bytes(cdn.media_key),
                file_sha256: cdn_bytes(cdn.file_sha256),
                file_enc_sha256: cdn_bytes(cdn.file_enc_sha256),
                file_length: length,
                media_key_timestamp: key_time,
                streaming_sidecar: cdn.streaming_sidecar,
                mimetype: Some(mime),
                ptt: audio.voice_note.then_some(true),
                view_once,
                ..Default::default()
            })
        }
        Content::Document(document) => {
            let file_name = non_empty(&document.file_name)
                .or_else(|| blob.and_then(|b| non_empty(&b.file_name)));
            message.document_message = MessageField::some(wa::message::DocumentMessage {
                url: cdn_string(cdn.url),
                direct_path: cdn_string(cdn.direct_path),
                media_key: cdn_bytes(cdn.media_key),
                file_sha256: cdn_bytes(cdn.file_sha256),
                file_enc_sha256: cdn_bytes(cdn.file_enc_sha256),
                file_length: length,
                media_key_timestamp: key_time,
                mimetype: Some(mime_of(
                    blob,
                    &document.mime_type,
                    "application/octet-stream",
                )),
                title: file_name.clone(),
                file_name,
                caption: non_empty(&document.caption),
                ..Default::default()
            })
        }
        Content::Sticker(_) => {
            message.sticker_message = MessageField::some(wa::message::StickerMessage {
                url: cdn_string(cdn.url),
                direct_path: cdn_string(cdn.direct_path),
                media_key: cdn_bytes(cdn.media_key),
                file_sha256: cdn_bytes(cdn.file_sha256),
                file_enc_sha256: cdn_bytes(cdn.file_enc_sha256),
                file_length: length,
                media_key_timestamp: key_time,
                mimetype: Some("image/webp".into()),
                ..Default::default()
            })
        }
        Content::Location(location) => {
            message.location_message = MessageField::some(wa::message::LocationMessage {
                degrees_latitude: Some(location.latitude),
                degrees_longitude: Some(location.longitude),
                name: non_empty(&location.place_name),
                address: non_empty(&location.address),
                ..Default::default()
            })
        }
        Content::Contact(contact) => {
            message.contact_message = MessageField::some(wa::message::ContactMessage {
                display_name: Some(contact.full_name.clone()),
                vcard: Some(vcard(contact)),
                ..Default::default()
            })
        }
        Content::Poll(poll) => message = poll_message(poll),
        Content::Reaction(reaction) => {
            let key = match reaction.target.as_ref().and_then(|t| t.target.as_ref()) {
                Some(pb::message_reference::Target::Key(key)) => Some(key),
                _ => None,
            };
            message.reaction_message = MessageField::some(wa::message::ReactionMessage {
                key: key.map(wa_key).into(),
                text: Some(reaction.emoji.clone()),
                sender_timestamp_ms: Some(crate::api::system_time_ms(SystemTime::now())),
                ..Default::default()
            })
        }
    }
    message
}

/// Our key of a message as WhatsApp's (both from this account's side).
pub fn wa_key(key: &pb::MessageKey) -> wa::MessageKey {
    wa::MessageKey {
        remote_jid: non_empty(&key.remote_jid),
        from_me: Some(key.from_me),
        id: Some(key.id.clone()),
        participant: non_empty(&key.participant),
    }
}

/// How many options a voter may pick.
pub fn selectable_count(poll: &pb::PollContent) -> u32 {
    if poll.multi_select {
        poll.options.len() as u32
    } else {
        1
    }
}

/// A poll as the library's `polls().create` builds it (that helper cannot
/// take our message id or a reply context, so we build the same message):
/// v3 for single choice, v1 for multiple, with a fresh message secret voters
/// derive their vote keys from.
fn poll_message(poll: &pb::PollContent) -> wa::Message {
    let selectable = selectable_count(poll);
    let creation = wa::message::PollCreationMessage {
        name: Some(poll.question.clone()),
        options: poll
            .options
            .iter()
            .map(|name| wa::message::poll_creation_message::Option {
                option_name: Some(name.clone()),
                option_hash: None,
            })
            .collect(),
        selectable_options_count: Some(selectable),
        poll_content_type: Some(wa::message::PollContentType::TEXT),
        ..Default::default()
    };
    let mut message = wa::Message::default();
    if selectable == 1 {
        message.poll_creation_message_v3 = MessageField::some(creation);
    } else {
        message.poll_creation_message = MessageField::some(creation);
    }
    message.message_context_info = MessageField::some(wa::MessageContextInfo {
        message_secret: Some(rand::random::<[u8; 32]>().to_vec()),
        ..Default::default()
    });
    message
}

/// The vCard of a contact card: the one validation built, or built the same way.
pub fn vcard(contact: &pb::ContactCardContent) -> String {
    if !contact.vcard.is_empty() {
        return contact.vcard.clone();
    }
    crate::message::validate::vcard(
        &contact.full_name,
        &digits_of(&contact.phone_number),
        &contact.organization,
    )
}

#[cfg(test)]
#[path = "outgoing_tests.rs"]
mod tests;
