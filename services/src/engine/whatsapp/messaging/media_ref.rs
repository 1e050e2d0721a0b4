//! The reference to a received message's media that DownloadMedia takes: the
//! fields the library needs to fetch and decrypt the file, as JSON (binary
//! fields in base64), so nothing but the stored reference is needed later.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use whatsapp_rust::download::{DownloadParams, MediaType};

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaRef {
    /// `image`, `video`, `audio`, `document` or `sticker`.
    pub kind: String,
    pub direct_path: String,
    /// Absent for channel media, which is not encrypted.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub media_key: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub file_enc_sha256: String,
    pub file_sha256: String,
    pub file_length: u64,
    #[serde(default)]
    pub mime_type: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub file_name: String,
}

/// The CDN fields of one received media message.
pub struct MediaFields<'a> {
    pub kind: &'static str,
    pub direct_path: Option<&'a str>,
    pub media_key: Option<&'a [u8]>,
    pub file_enc_sha256: Option<&'a [u8]>,
    pub file_sha256: Option<&'a [u8]>,
    pub file_length: Option<u64>,
    pub mime_type: Option<&'a str>,
    pub file_name: Option<&'a str>,
}

impl MediaRef {
    /// The reference of a received file; `None` when WhatsApp gave no path to it.
    pub fn of(fields: MediaFields<'_>) -> Option<Self> {
        let b64 = |bytes: Option<&[u8]>| bytes.map(|b| STANDARD.encode(b)).unwrap_or_default();
        let direct_path = fields.direct_path.filter(|p| !p.is_empty())?;
        Some(Self {
            kind: fields.kind.to_owned(),
            direct_path: direct_path.to_owned(),
            media_key: b64(fields.media_key),
            file_enc_sha256: b64(fields.file_enc_sha256),
            file_sha256: b64(fields.file_sha256),
            file_length: fields.file_length.unwrap_or_default(),
            mime_type: fields.mime_type.unwrap_or_default().to_owned(),
            file_name: fields.file_name.unwrap_or_default().to_owned(),
        })
    }

    pub fn encode(&self) -> String {
        serde_json::to_string(self).expect("a media reference serializes")
    }

    pub fn decode(text: &str) -> Result<Self, String> {
        serde_json::from_str(text).map_err(|e| format!("is not a WhatsApp media reference: {e}"))
    }

    /// What the library's `download_from_params` needs.
    pub fn download_params(&self) -> Result<DownloadParams, String> {
        let media_type = match self.kind.as_str() {
            "image" => MediaType::Image,
            "video" => MediaType::Video,
            "audio" => MediaType::Audio,
            "document" => MediaType::Document,
            "sticker" => MediaType::Sticker,
            other => return Err(format!("names an unknown media kind {other:?}")),
        };
        let bytes = |field: &str, value: &str| -> Result<Option<Vec<u8>>, String> {
            if value.is_empty() {
                return Ok(None);
            }
            STANDARD
                .decode(value)
                .map(Some)
                .map_err(|e| format!("has a malformed {field}: {e}"))
        };
        Ok(DownloadParams {
            direct_path: self.direct_path.clone(),
            media_key: bytes("media_key", &self.media_key)?,
            file_sha256: bytes("file_sha256", &self.file_sha256)?.unwrap_or_default(),
            file_enc_sha256: bytes("file_enc_sha256", &self.file_enc_sha256)?,
            file_length: self.file_length,
            media_type,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image_ref() -> MediaRef {
        MediaRef::of(MediaFields {
            kind: "image",
            direct_path: Some("/v/t62.7118-24/abc"),
            media_key: Some(&[1; 32]),
            file_enc_sha256: Some(&[2; 32]),
            file_sha256: Some(&[3; 32]),
            file_length: Some(4096),
            mime_type: Some("image/jpeg"),
            file_name: None,
        })
        .unwrap()
    }

    #[test]
    fn round_trips_through_json_to_the_library_params() {
        let reference = image_ref();
        let decoded = MediaRef::decode(&reference.encode()).unwrap();
        assert_eq!(decoded, reference);
        let params = decoded.download_params().unwrap();
        assert_eq!(params.direct_path, "/v/t62.7118-24/abc");
        assert_eq!(params.media_key, Some(vec![1; 32]));
        assert_eq!(params.file_enc_sha256, Some(vec![2; 32]));
        assert_eq!(params.file_sha256, vec![3; 32]);
        assert_eq!(params.file_length, 4096);
        assert!(matches!(params.media_type, MediaType::Image));
    }

    #[test]
    fn channel_media_has_no_key() {
        let reference = MediaRef::of(MediaFields {
            kind: "sticker",
            direct_path: Some("/p"),
            media_key: None,
            file_enc_sha256: None,
            file_sha256: Some(&[3; 32]),
            file_length: None,
            mime_type: None,
            file_name: None,
        })
        .unwrap();
        assert!(!reference.encode().contains("media_key"));
        let params = MediaRef::decode(&reference.encode())
            .unwrap()
            .download_params()
            .unwrap();
        assert_eq!(params.media_key, None);
        assert!(matches!(params.media_type, MediaType::Sticker));
    }

    #[test]
    fn rejects_what_it_did_not_write() {
        assert!(MediaRef::decode("simnet-media:1").is_err());
        let mut reference = image_ref();
        reference.kind = "hologram".into();
        assert!(reference.download_params().is_err());
        reference.kind = "image".into();
        reference.media_key = "***".into();
        assert!(reference.download_params().is_err());
        let no_path = MediaFields {
            kind: "image",
            direct_path: None,
            media_key: None,
            file_enc_sha256: None,
            file_sha256: None,
            file_length: None,
            mime_type: None,
            file_name: None,
        };
        assert_eq!(MediaRef::of(no_path), None);
    }
}
