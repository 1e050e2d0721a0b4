//! What a file is (from its first bytes, never from what the sender claims),
//! whether a message category accepts it, and base64 input.

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

use super::{Category, human_size, mime_essence};

const JPEG: &str = "image/jpeg";
const PNG: &str = "image/png";
const GIF: &str = "image/gif";
const WEBP: &str = "image/webp";
const HEIF: &str = "image/heif";
const HEIC: &str = "image/heic";
const AVIF: &str = "image/avif";
const MP4: &str = "video/mp4";
const M4A: &str = "audio/mp4";
const THREE_GPP: &str = "video/3gpp";
const QUICKTIME: &str = "video/quicktime";
const OGG: &str = "audio/ogg";
const OGG_OPUS: &str = "audio/ogg; codecs=opus";
const MP3: &str = "audio/mpeg";
const AAC: &str = "audio/aac";
const AMR: &str = "audio/amr";
const AMR_WB: &str = "audio/amr-wb";
const WAV: &str = "audio/wav";
const PDF: &str = "application/pdf";
const ZIP: &str = "application/zip";
/// Legacy Office files (.doc, .xls, .ppt, .msg) share this container.
const OLE: &str = "application/x-ole-storage";

/// The MIME type of `bytes` from its magic numbers, or `None` when the format
/// has none we know (plain text, CSV, …). Office documents (docx, xlsx, pptx)
/// are ZIP archives and come out as `application/zip`.
pub fn detect_mime(bytes: &[u8]) -> Option<&'static str> {
    let b = bytes;
    if b.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Some(JPEG);
    }
    if b.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Some(PNG);
    }
    if b.starts_with(b"GIF87a") || b.starts_with(b"GIF89a") {
        return Some(GIF);
    }
    if b.len() >= 12 && b.starts_with(b"RIFF") {
        return match &b[8..12] {
            b"WEBP" => Some(WEBP),
            b"WAVE" => Some(WAV),
            _ => None,
        };
    }
    if b.len() >= 12 && &b[4..8] == b"ftyp" {
        return Some(iso_media_brand(&b[8..12]));
    }
    if b.starts_with(b"OggS") {
        return Some(if ogg_carries_opus(b) { OGG_OPUS } else { OGG });
    }
    if b.starts_with(b"#!AMR-WB\n") {
        return Some(AMR_WB);
    }
    if b.starts_with(b"#!AMR\n") {
        return Some(AMR);
    }
    if b.starts_with(b"%PDF-") {
        return Some(PDF);
    }
    if b.starts_with(b"PK\x03\x04") || b.starts_with(b"PK\x05\x06") {
        return Some(ZIP);
    }
    if b.starts_with(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]) {
        return Some(OLE);
    }
    if b.starts_with(b"ID3") {
        // An ID3v2 tag in front of MP3 frames, or sometimes of AAC (ADTS).
        return Some(skip_id3(b).and_then(mpeg_audio_frame).unwrap_or(MP3));
    }
    mpeg_audio_frame(b)
}

/// The major brand of an ISO base media file (MP4 family).
fn iso_media_brand(brand: &[u8]) -> &'static str {
    match brand {
        b"M4A " | b"M4B " | b"M4P " => M4A,
        b"qt  " => QUICKTIME,
        b"heic" | b"heix" | b"heim" | b"heis" => HEIC,
        b"mif1" | b"msf1" => HEIF,
        b"avif" | b"avis" => AVIF,
        brand if brand.starts_with(b"3g") => THREE_GPP,
        _ => MP4,
    }
}

/// Whether the first Ogg page holds an Opus identification header.
fn ogg_carries_opus(b: &[u8]) -> bool {
    let Some(&segments) = b.get(26) else {
        return false;
    };
    b.get(27 + usize::from(segments)..)
        .is_some_and(|payload| payload.starts_with(b"OpusHead"))
}

/// The bytes after an ID3v2 tag, when the tag is complete.
fn skip_id3(b: &[u8]) -> Option<&[u8]> {
    let header = b.get(..10)?;
    // The size is "syncsafe": 7 bits per byte; a footer adds 10 bytes.
    let size = header[6..10]
        .iter()
        .fold(0usize, |acc, &byte| (acc << 7) | usize::from(byte & 0x7F));
    let footer = if header[5] & 0x10 != 0 { 10 } else { 0 };
    b.get(10 + size + footer..)
}

/// AAC (ADTS) or MPEG audio (MP3) from a frame header at the start of `b`.
fn mpeg_audio_frame(b: &[u8]) -> Option<&'static str> {
    let [0xFF, second, third, ..] = *b else {
        return None;
    };
    // ADTS: 12 sync bits, layer 00, a valid sampling frequency index.
    if second & 0xF6 == 0xF0 && (third >> 2) & 0x0F < 13 {
        return Some(AAC);
    }
    // MPEG audio: 11 sync bits, no reserved version or layer, a usable
    // bitrate and sample rate.
    let version = (second >> 3) & 0x03;
    let layer = (second >> 1) & 0x03;
    if second & 0xE0 == 0xE0
        && version != 0x01
        && layer != 0x00
        && third >> 4 != 0x0F
        && (third >> 2) & 0x03 != 0x03
    {
        return Some(MP3);
    }
    None
}

/// One name for each family of aliases, for comparing a declared type with a
/// detected one.
fn canonical(essence: &str) -> &str {
    match essence {
        "image/jpg" | "image/pjpeg" => JPEG,
        "image/x-png" => PNG,
        "image/heic" | "image/heic-sequence" | "image/heif-sequence" => HEIF,
        "audio/mp3" | "audio/mpeg3" | "audio/x-mp3" | "audio/x-mpeg" | "audio/mpg" => MP3,
        "audio/x-wav" | "audio/wave" | "audio/vnd.wave" => WAV,
        "audio/x-aac" | "audio/aacp" => AAC,
        "audio/opus" | "application/ogg" | "audio/x-ogg" | "video/ogg" => OGG,
        "audio/x-m4a" | "audio/m4a" => M4A,
        "audio/3gpp" | "video/3gpp2" | "audio/3gpp2" => THREE_GPP,
        "application/x-pdf" => PDF,
        "application/x-zip-compressed" | "application/x-zip" => ZIP,
        other => other,
    }
}

/// Types whose files always start with magic numbers we recognise: a file
/// declared as one of these that shows none is not what it claims.
const KNOWN_MAGIC: &[&str] = &[
    JPEG, PNG, GIF, WEBP, MP4, M4A, THREE_GPP, OGG, MP3, AAC, AMR, AMR_WB, WAV, PDF, ZIP,
];

/// Whether a declared type agrees with the detected one.
fn compatible(detected: &str, declared: &str) -> bool {
    let detected = canonical_owned(detected);
    let declared = canonical_owned(declared);
    if detected == declared {
        return true;
    }
    // One container (ISO base media) with several names.
    let iso_family = [MP4, M4A, THREE_GPP, "video/x-m4v"];
    if iso_family.contains(&detected.as_str()) && iso_family.contains(&declared.as_str()) {
        return true;
    }
    // Containers of many document formats (docx, odt, epub, apk; doc, xls):
    // any application type that does not have magic numbers of its own.
    if (detected == ZIP || detected == OLE)
        && declared.starts_with("application/")
        && !KNOWN_MAGIC.contains(&declared.as_str())
    {
        return true;
    }
    false
}

fn canonical_owned(mime: &str) -> String {
    canonical(&mime_essence(mime)).to_owned()
}

/// "a PNG image (image/png)".
fn describe(mime: &str) -> String {
    let label = match mime {
        JPEG => "a JPEG image",
        PNG => "a PNG image",
        GIF => "a GIF image",
        WEBP => "a WebP image",
        HEIF | HEIC => "a HEIF image",
        AVIF => "an AVIF image",
        MP4 => "an MP4 file",
        M4A => "an MP4 audio file",
        THREE_GPP => "a 3GPP file",
        QUICKTIME => "a QuickTime video",
        OGG => "an Ogg file",
        OGG_OPUS => "an Ogg Opus audio file",
        MP3 => "an MP3 audio file",
        AAC => "an AAC audio file",
        AMR | AMR_WB => "an AMR audio file",
        WAV => "a WAV audio file",
        PDF => "a PDF document",
        ZIP => "a ZIP archive (or a file based on one, e.g. docx)",
        OLE => "a legacy Office file",
        other => return other.to_owned(),
    };
    format!("{label} ({mime})")
}

/// Which part of the input a failed check is about, for field violations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Problem {
    /// The bytes: empty, too large, or a type the category refuses.
    Content,
    /// The declared MIME type: malformed, or contradicted by the bytes.
    DeclaredType,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CheckError {
    pub problem: Problem,
    pub message: String,
}

fn content_error(message: impl Into<String>) -> CheckError {
    CheckError {
        problem: Problem::Content,
        message: message.into(),
    }
}

fn declared_error(message: impl Into<String>) -> CheckError {
    CheckError {
        problem: Problem::DeclaredType,
        message: message.into(),
    }
}

/// Checks `bytes` for a message of `category`: size cap, a type the category
/// accepts, and agreement with `declared_mime` when given (documents accept
/// any declared type the bytes do not contradict). Returns the MIME type to
/// send with.
pub fn check(
    category: Category,
    declared_mime: Option<&str>,
    bytes: &[u8],
) -> Result<String, String> {
    check_content(category, declared_mime, bytes).map_err(|err| err.message)
}

/// [`check`], saying which input is at fault.
pub(crate) fn check_content(
    category: Category,
    declared_mime: Option<&str>,
    bytes: &[u8],
) -> Result<String, CheckError> {
    if bytes.is_empty() {
        return Err(content_error("is empty"));
    }
    if bytes.len() > category.max_bytes() {
        return Err(content_error(format!(
            "is {} ({} bytes); {} may be at most {}",
            human_size(bytes.len()),
            bytes.len(),
            category.plural(),
            human_size(category.max_bytes())
        )));
    }
    let declared = declared_mime
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .map(normalize_mime)
        .transpose()
        .map_err(declared_error)?;
    let detected = detect_mime(bytes);
    if let Some(declared) = &declared {
        match detected {
            Some(detected) if !compatible(detected, declared) => {
                return Err(declared_error(format!(
                    "is {declared} but the content is {}",
                    describe(detected)
                )));
            }
            None if KNOWN_MAGIC.contains(&canonical_owned(declared).as_str()) => {
                return Err(declared_error(format!(
                    "is {declared} but the content is not {}",
                    describe(canonical(&mime_essence(declared)))
                )));
            }
            _ => {}
        }
    }
    if category == Category::Document {
        return Ok(match (declared, detected) {
            // An alias of the detected type (image/jpg) becomes the usual name.
            (Some(declared), Some(detected))
                if canonical_owned(&declared) == canonical_owned(detected) =>
            {
                detected.to_owned()
            }
            (Some(declared), _) => declared,
            (None, Some(detected)) => detected.to_owned(),
            (None, None) => "application/octet-stream".to_owned(),
        });
    }
    let allowed = match category {
        Category::Image => "JPEG or PNG",
        Category::Video => "MP4 or 3GPP",
        Category::Audio => "AAC, MP3, Ogg Opus, AMR or MP4 audio",
        Category::Sticker => "WebP",
        Category::Document => unreachable!("documents accept any type"),
    };
    let Some(detected) = detected else {
        return Err(content_error(format!(
            "is not a file type {} accept ({allowed}); send other files as a document",
            category.plural()
        )));
    };
    let effective = match (category, detected) {
        (Category::Image, JPEG | PNG) => detected,
        (Category::Video, MP4 | THREE_GPP) => detected,
        (Category::Sticker, WEBP) => detected,
        (Category::Audio, AAC | MP3 | AMR | AMR_WB | OGG_OPUS) => detected,
        // The MP4 brand does not say whether there is video; as audio it is M4A.
        (Category::Audio, MP4 | M4A) => M4A,
        (Category::Audio, OGG) => {
            return Err(content_error(
                "is an Ogg file without Opus audio; WhatsApp plays only Opus in Ogg",
            ));
        }
        _ => {
            return Err(content_error(format!(
                "is {}; {} must be {allowed} (send other files as a document)",
                describe(detected),
                category.plural()
            )));
        }
    };
    Ok(effective.to_owned())
}

/// A declared MIME type, trimmed with a lower-case essence, or why it is not one.
pub(crate) fn normalize_mime(mime: &str) -> Result<String, String> {
    let (essence, params) = match mime.split_once(';') {
        Some((essence, params)) => (essence.trim(), Some(params.trim())),
        None => (mime.trim(), None),
    };
    let is_token = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|c| c.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&c))
    };
    let valid = mime.len() <= 255
        && essence
            .split_once('/')
            .is_some_and(|(kind, sub)| is_token(kind) && is_token(sub))
        && params.is_none_or(|p| !p.bytes().any(|c| c.is_ascii_control()));
    if !valid {
        return Err(format!(
            "{mime:?} is not a MIME type (expected type/subtype, e.g. image/png)"
        ));
    }
    let essence = essence.to_ascii_lowercase();
    Ok(match params.filter(|p| !p.is_empty()) {
        Some(params) => format!("{essence}; {params}"),
        None => essence,
    })
}

/// Base64 that may omit padding but not get it wrong.
const STANDARD_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);
const URL_SAFE_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Decodes base64 text, plain or as a data URL (`data:image/png;base64,...`).
/// Returns the bytes and the data URL's MIME type. Line breaks and spaces in
/// the base64 are ignored.
pub fn decode_base64(text: &str) -> Result<(Vec<u8>, Option<String>), String> {
    let text = text.trim();
    let (payload, mime) = if let Some(rest) = strip_prefix_ignore_case(text, "data:") {
        let (header, payload) = rest.split_once(',').ok_or_else(|| {
            "is a data URL without a comma (expected data:<type>;base64,<data>)".to_owned()
        })?;
        let media_type = header
            .strip_suffix(";base64")
            .or_else(|| header.strip_suffix(";BASE64"))
            .ok_or_else(|| {
                "is a data URL that is not base64 (expected data:<type>;base64,<data>)".to_owned()
            })?;
        let mime = if media_type.trim().is_empty() {
            None
        } else {
            let mime = normalize_mime(media_type)
                .map_err(|err| format!("has an invalid data URL type: {err}"))?;
            Some(mime)
        };
        (payload, mime)
    } else {
        if let Some(at) = text.find(";base64,") {
            return Err(format!(
                "looks like a data URL but does not start with \"data:\" (found {:?})",
                &text[..at.min(40)]
            ));
        }
        (text, None)
    };
    let compact: String = payload
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    if compact.is_empty() {
        return Err("is empty".into());
    }
    let decoded = if compact.contains(['-', '_']) {
        URL_SAFE_LENIENT.decode(&compact)
    } else {
        STANDARD_LENIENT.decode(&compact)
    };
    let bytes = decoded.map_err(|err| format!("is not valid base64: {err}"))?;
    Ok((bytes, mime))
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    text.get(..prefix.len())
        .filter(|head| head.eq_ignore_ascii_case(prefix))
        .map(|_| &text[prefix.len()..])
}

#[cfg(test)]
#[path = "detect_tests.rs"]
mod tests;
