//! Media for messages: content checks (magic numbers, per-category size and
//! type rules), base64 input, a fetcher for media URLs that refuses private
//! addresses, and the store of uploaded and downloaded files with the public
//! `GET /media/{token}` route that serves them.

mod detect;
mod fetch;
mod http;
mod service;

#[cfg(test)]
mod service_tests;

pub use detect::{check, decode_base64, detect_mime};
pub(crate) use fetch::{AbortOnDrop, display_url};
pub use fetch::{Fetched, Fetcher};
pub use http::{router, serve_token};
pub use service::{MediaRecord, MediaService, UploadInput};

const MB: usize = 1024 * 1024;

/// The kinds of media a WhatsApp message carries; each has its own size cap
/// and accepted types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Category {
    Image,
    Video,
    Audio,
    Document,
    Sticker,
}

impl Category {
    /// The largest file WhatsApp accepts for this kind of message.
    pub fn max_bytes(self) -> usize {
        match self {
            Category::Image => 16 * MB,
            Category::Video => 50 * MB,
            Category::Audio => 16 * MB,
            Category::Document => 100 * MB,
            Category::Sticker => 5 * MB,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Category::Image => "image",
            Category::Video => "video",
            Category::Audio => "audio",
            Category::Document => "document",
            Category::Sticker => "sticker",
        }
    }

    /// Plural used in messages: "images may be at most 16 MB".
    fn plural(self) -> &'static str {
        match self {
            Category::Image => "images",
            Category::Video => "videos",
            Category::Audio => "audio files",
            Category::Document => "documents",
            Category::Sticker => "stickers",
        }
    }
}

/// The category an uploaded file falls in, by its MIME type: `image/webp` is a
/// sticker (WhatsApp shows WebP only as stickers), other `image/*` an image,
/// `video/*` a video, `audio/*` audio, anything else a document.
pub fn category_of_mime(mime: &str) -> Category {
    let essence = mime_essence(mime);
    if essence == "image/webp" {
        Category::Sticker
    } else if essence.starts_with("image/") {
        Category::Image
    } else if essence.starts_with("video/") {
        Category::Video
    } else if essence.starts_with("audio/") {
        Category::Audio
    } else {
        Category::Document
    }
}

/// `type/subtype` of a MIME type, lower-case, without parameters.
pub(crate) fn mime_essence(mime: &str) -> String {
    mime.split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// A size for people: "16 MB", "1.5 MB", "900 KB", "12 bytes".
pub(crate) fn human_size(bytes: usize) -> String {
    if bytes >= MB {
        let mb = bytes as f64 / MB as f64;
        if bytes.is_multiple_of(MB) {
            format!("{} MB", bytes / MB)
        } else {
            format!("{mb:.1} MB")
        }
    } else if bytes >= 1024 {
        format!("{} KB", bytes.div_ceil(1024))
    } else {
        format!("{bytes} bytes")
    }
}

/// A file name safe to store and to put in a header: the last path component,
/// without control characters, at most 255 characters.
pub(crate) fn clean_file_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = base.chars().filter(|c| !c.is_control()).take(255).collect();
    let cleaned = cleaned.trim();
    if cleaned == "." || cleaned == ".." {
        String::new()
    } else {
        cleaned.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn categories_of_mime_types() {
        assert_eq!(category_of_mime("image/jpeg"), Category::Image);
        assert_eq!(category_of_mime("IMAGE/PNG"), Category::Image);
        assert_eq!(category_of_mime("image/webp"), Category::Sticker);
        assert_eq!(category_of_mime("video/mp4"), Category::Video);
        assert_eq!(category_of_mime("audio/ogg; codecs=opus"), Category::Audio);
        assert_eq!(category_of_mime("application/pdf"), Category::Document);
        assert_eq!(category_of_mime("text/plain"), Category::Document);
        assert_eq!(category_of_mime(""), Category::Document);
    }

    #[test]
    fn limits_and_names() {
        assert_eq!(Category::Image.max_bytes(), 16 * 1024 * 1024);
        assert_eq!(Category::Video.max_bytes(), 50 * 1024 * 1024);
        assert_eq!(Category::Audio.max_bytes(), 16 * 1024 * 1024);
        assert_eq!(Category::Document.max_bytes(), 100 * 1024 * 1024);
        assert_eq!(Category::Sticker.max_bytes(), 5 * 1024 * 1024);
        assert_eq!(Category::Sticker.name(), "sticker");
        assert_eq!(human_size(16 * MB), "16 MB");
        assert_eq!(human_size(16 * MB + 1), "16.0 MB");
        assert_eq!(human_size(1500), "2 KB");
        assert_eq!(human_size(12), "12 bytes");
    }

    #[test]
    fn file_names_are_cleaned() {
        assert_eq!(clean_file_name("../../etc/passwd"), "passwd");
        assert_eq!(clean_file_name("C:\\x\\report.pdf"), "report.pdf");
        assert_eq!(clean_file_name("a\r\nb.txt"), "ab.txt");
        assert_eq!(clean_file_name(".."), "");
        assert_eq!(clean_file_name(&"x".repeat(300)).len(), 255);
    }
}
