//! Media held by the server: uploads (24 h), downloads of received media
//! (1 h), and the resolution of a message's media source into bytes at send
//! time.

use std::sync::Arc;

use base64::Engine as _;
use sha2::{Digest, Sha256};
use wagate_proto::v1 as pb;

use super::detect::{CheckError, Problem, check_content, normalize_mime};
use super::fetch::display_url_str;
use super::{
    Category, Fetcher, category_of_mime, clean_file_name, decode_base64, detect_mime, human_size,
};
use crate::api::timestamp;
use crate::engine::MediaBlob;
use crate::error::{Code, Error, Reason, Result};
use crate::store::{NewMedia, Store, now_ms};
use crate::validate::{UrlKind, outbound_url};

/// How long an upload stays usable (and its URL valid).
pub const UPLOAD_TTL_MS: i64 = 24 * 60 * 60 * 1000;
/// How long the downloaded media of a message stays available.
pub const DOWNLOAD_TTL_MS: i64 = 60 * 60 * 1000;

/// A stored media file, without its content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MediaRecord {
    pub id: i64,
    pub session_id: i64,
    /// The secret of the public URL, `/media/<token>`.
    pub token: String,
    pub mime_type: String,
    pub file_name: String,
    pub size_bytes: i64,
    /// Lower-case hex.
    pub sha256: String,
    /// For downloaded media: the message it came from.
    pub message_id: Option<i64>,
    pub create_time: i64,
    pub expire_time: i64,
}

/// A file given to UploadMedia.
#[derive(Clone, Debug, Default)]
pub struct UploadInput {
    pub bytes: Vec<u8>,
    pub mime_type: Option<String>,
    pub file_name: Option<String>,
}

#[derive(Clone)]
pub struct MediaService {
    store: Store,
    fetcher: Arc<Fetcher>,
    public_base_url: String,
}

impl MediaService {
    /// `public_base_url` is where clients reach this server's HTTP routes,
    /// e.g. `https://wagate.example.com`.
    pub fn new(store: Store, fetcher: Fetcher, public_base_url: String) -> Self {
        Self {
            store,
            fetcher: Arc::new(fetcher),
            public_base_url: public_base_url.trim_end_matches('/').to_owned(),
        }
    }

    /// Validates and stores an upload for 24 hours. Violations name `content`
    /// and `mime_type`.
    pub async fn upload(&self, session: i64, input: UploadInput) -> Result<MediaRecord> {
        self.upload_checked(session, input, "content").await
    }

    /// [`MediaService::upload`] of base64 text or a data URL (violations name
    /// `base64`). `mime_type`, when set, overrides the data URL's type.
    pub async fn upload_base64(
        &self,
        session: i64,
        text: &str,
        mime_type: Option<String>,
        file_name: Option<String>,
    ) -> Result<MediaRecord> {
        let (bytes, data_url_mime) =
            decode_base64(text).map_err(|err| Error::invalid_field("base64", err))?;
        let mime_type = mime_type.filter(|m| !m.trim().is_empty()).or(data_url_mime);
        let input = UploadInput {
            bytes,
            mime_type,
            file_name,
        };
        self.upload_checked(session, input, "base64").await
    }

    async fn upload_checked(
        &self,
        session: i64,
        input: UploadInput,
        content_field: &str,
    ) -> Result<MediaRecord> {
        let declared = input
            .mime_type
            .as_deref()
            .map(str::trim)
            .filter(|m| !m.is_empty());
        if declared.is_none() && !input.bytes.is_empty() && detect_mime(&input.bytes).is_none() {
            return Err(Error::invalid_field(
                "mime_type",
                "is required: the type of this content cannot be recognised from its bytes \
                 (e.g. set text/plain or text/csv)",
            ));
        }
        // Any file up to the document limit, named consistently with its
        // bytes; the rules of a message type (e.g. images: JPEG or PNG) apply
        // when it is sent, since an upload can be sent as several types.
        let mime = check_content(Category::Document, declared, &input.bytes).map_err(
            |CheckError { problem, message }| match problem {
                Problem::Content => Error::invalid_field(content_field, message),
                Problem::DeclaredType => Error::invalid_field("mime_type", message),
            },
        )?;
        let category = category_of_mime(&mime);
        if input.bytes.len() > category.max_bytes() {
            return Err(Error::invalid_field(
                content_field,
                format!(
                    "is {} ({} bytes); {mime} files are sent as {} and may be at most {}",
                    human_size(input.bytes.len()),
                    input.bytes.len(),
                    category.name(),
                    human_size(category.max_bytes())
                ),
            ));
        }
        let file_name = input
            .file_name
            .as_deref()
            .map(clean_file_name)
            .unwrap_or_default();
        self.insert(
            session,
            None,
            &mime,
            &file_name,
            &input.bytes,
            UPLOAD_TTL_MS,
        )
        .await
    }

    /// Stores the downloaded media of a received message for 1 hour.
    pub async fn store_download(
        &self,
        session: i64,
        message_id: i64,
        blob: &MediaBlob,
    ) -> Result<MediaRecord> {
        let mime = normalize_mime(&blob.mime_type).unwrap_or_else(|_| {
            detect_mime(&blob.bytes)
                .unwrap_or("application/octet-stream")
                .to_owned()
        });
        self.insert(
            session,
            Some(message_id),
            &mime,
            &clean_file_name(&blob.file_name),
            &blob.bytes,
            DOWNLOAD_TTL_MS,
        )
        .await
    }

    async fn insert(
        &self,
        session: i64,
        message_id: Option<i64>,
        mime_type: &str,
        file_name: &str,
        content: &[u8],
        ttl_ms: i64,
    ) -> Result<MediaRecord> {
        // 256 random bits: the URL is the only credential needed to read the file.
        let token =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
        let sha256 = hex::encode(Sha256::digest(content));
        let now = now_ms();
        self.store
            .insert_media(&NewMedia {
                session_id: session,
                token: &token,
                mime_type,
                file_name,
                sha256: &sha256,
                message_id,
                content,
                create_time: now,
                expire_time: now + ttl_ms,
            })
            .await
    }

    /// A stored, unexpired media file of `session` (NOT_FOUND otherwise).
    pub async fn get(&self, session: i64, id: i64) -> Result<MediaRecord> {
        self.store
            .get_media(session, id, now_ms())
            .await?
            .ok_or_else(|| media_not_found(session, id))
    }

    /// Checks a message's media source when the message is accepted: a URL
    /// must be http(s), well formed and not private (unless allowed); it is
    /// not fetched yet. A media name must be an unexpired file of this session.
    /// `field` is the source's request path, e.g. `message.image.source`.
    pub async fn check_source(
        &self,
        session: i64,
        source: &pb::MediaSource,
        field: &str,
    ) -> Result<()> {
        match &source.source {
            None => Err(Error::invalid_field(field, "is required: set uri or media")),
            Some(pb::media_source::Source::Uri(uri)) => {
                let field = format!("{field}.uri");
                if uri.trim().is_empty() {
                    return Err(Error::invalid_field(field, "is required"));
                }
                outbound_url(uri, UrlKind::Media, self.fetcher.allow_private())
                    .map_err(|err| Error::invalid_field(field, err))?;
                Ok(())
            }
            Some(pb::media_source::Source::Media(name)) => {
                let id = parse_media_name(name, session, &format!("{field}.media"))?;
                self.get(session, id).await.map(|_| ())
            }
        }
    }

    /// The bytes of a message's media at send time, fetched or loaded, and
    /// checked against `category` (and `declared_mime`, when given).
    pub async fn resolve(
        &self,
        session: i64,
        source: &pb::MediaSource,
        category: Category,
        declared_mime: Option<&str>,
    ) -> Result<MediaBlob> {
        let declared = declared_mime.map(str::trim).filter(|m| !m.is_empty());
        match &source.source {
            None => Err(Error::invalid_field(
                "source",
                "is required: set uri or media",
            )),
            Some(pb::media_source::Source::Uri(uri)) => {
                let fetched = self.fetcher.fetch(uri, category.max_bytes()).await?;
                // The server's Content-Type only names what magic numbers
                // cannot (e.g. text/csv); it never overrules the bytes.
                let hint = fetched
                    .content_type
                    .as_deref()
                    .filter(|_| declared.is_none() && detect_mime(&fetched.bytes).is_none())
                    .filter(|t| !is_generic_type(t));
                let checked = match hint {
                    Some(hint) => check_content(category, Some(hint), &fetched.bytes)
                        .or_else(|_| check_content(category, None, &fetched.bytes)),
                    None => check_content(category, declared, &fetched.bytes),
                };
                let mime = checked.map_err(|err| {
                    content_refused(&format!("the file at {}", display_url_str(uri)), err)
                })?;
                Ok(MediaBlob {
                    bytes: fetched.bytes,
                    mime_type: mime,
                    file_name: fetched.file_name.unwrap_or_default(),
                })
            }
            Some(pb::media_source::Source::Media(name)) => {
                let id = parse_media_name(name, session, "source.media")?;
                let (record, content) = self
                    .store
                    .get_media_content(session, id, now_ms())
                    .await?
                    .ok_or_else(|| media_not_found(session, id))?;
                let mime = check_content(category, declared.or(Some(&record.mime_type)), &content)
                    .map_err(|err| content_refused(&format!("media {name}"), err))?;
                Ok(MediaBlob {
                    bytes: content.into(),
                    mime_type: mime,
                    file_name: record.file_name,
                })
            }
        }
    }

    /// The public URL of a stored file.
    pub fn url(&self, record: &MediaRecord) -> String {
        format!("{}/media/{}", self.public_base_url, record.token)
    }

    pub fn to_pb(&self, record: &MediaRecord) -> pb::Media {
        pb::Media {
            name: media_name(record.session_id, record.id),
            uri: self.url(record),
            mime_type: record.mime_type.clone(),
            file_name: record.file_name.clone(),
            size_bytes: record.size_bytes,
            sha256: record.sha256.clone(),
            message: record
                .message_id
                .map(|id| format!("sessions/{}/messages/{id}", record.session_id))
                .unwrap_or_default(),
            create_time: Some(timestamp(record.create_time)),
            expire_time: Some(timestamp(record.expire_time)),
        }
    }

    /// Deletes expired files; returns how many.
    pub async fn prune_expired(&self) -> Result<u64> {
        self.store.delete_expired_media(now_ms()).await
    }

    /// The unexpired file behind a public token, with its content.
    pub(super) async fn by_token(&self, token: &str) -> Result<Option<(MediaRecord, Vec<u8>)>> {
        self.store.get_media_by_token(token, now_ms()).await
    }
}

pub fn media_name(session: i64, id: i64) -> String {
    format!("sessions/{session}/media/{id}")
}

/// The id in `sessions/{session}/media/{id}`. A well-formed name of another
/// session is NOT_FOUND, as if it did not exist.
fn parse_media_name(name: &str, session: i64, field: &str) -> Result<i64> {
    let parsed = name
        .strip_prefix("sessions/")
        .and_then(|rest| rest.split_once("/media/"))
        .and_then(|(s, id)| Some((s.parse::<i64>().ok()?, id.parse::<i64>().ok()?)))
        .filter(|(s, id)| *s > 0 && *id > 0);
    match parsed {
        None if name.is_empty() => Err(Error::invalid_field(
            field,
            "is required (sessions/{session}/media/{id})",
        )),
        None => Err(Error::invalid_field(
            field,
            format!("{name:?} is not a media name (expected sessions/{{session}}/media/{{id}})"),
        )),
        Some((s, id)) if s != session => Err(media_not_found(s, id)),
        Some((_, id)) => Ok(id),
    }
}

fn media_not_found(session: i64, id: i64) -> Error {
    Error::not_found(format!(
        "media {} not found (it may have expired)",
        media_name(session, id)
    ))
}

/// Content-Types servers use for "some file".
fn is_generic_type(content_type: &str) -> bool {
    matches!(
        super::mime_essence(content_type).as_str(),
        "application/octet-stream"
            | "binary/octet-stream"
            | "application/binary"
            | "application/unknown"
            | "application/force-download"
            | "application/x-download"
    )
}

/// A file that does not fit the message: permanent, so the send fails.
fn content_refused(what: &str, err: CheckError) -> Error {
    let message = match err.problem {
        Problem::Content => format!("{what} {}", err.message),
        Problem::DeclaredType => format!("the MIME type of {what} {}", err.message),
    };
    Error::new(Code::InvalidArgument, Reason::InvalidArgument, message)
}
