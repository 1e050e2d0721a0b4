use super::*;

fn riff(kind: &[u8; 4]) -> Vec<u8> {
    let mut b = b"RIFF\x24\x00\x00\x00".to_vec();
    b.extend_from_slice(kind);
    b.extend_from_slice(b"fmt ");
    b
}

fn ftyp(brand: &[u8; 4]) -> Vec<u8> {
    let mut b = vec![0, 0, 0, 0x18];
    b.extend_from_slice(b"ftyp");
    b.extend_from_slice(brand);
    b.extend_from_slice(&[0, 0, 0, 0]);
    b
}

/// A first Ogg page with one segment carrying `payload`.
fn ogg(payload: &[u8]) -> Vec<u8> {
    let mut b = b"OggS\x00\x02".to_vec();
    b.extend_from_slice(&[0; 20]); // granule, serial, sequence, checksum
    b.push(1); // one segment
    b.push(payload.len() as u8);
    b.extend_from_slice(payload);
    b
}

pub(crate) fn jpeg() -> Vec<u8> {
    vec![
        0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0,
    ]
}

pub(crate) fn png() -> Vec<u8> {
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR".to_vec()
}

pub(crate) fn webp() -> Vec<u8> {
    riff(b"WEBP")
}

pub(crate) fn mp4() -> Vec<u8> {
    ftyp(b"isom")
}

pub(crate) fn opus() -> Vec<u8> {
    ogg(b"OpusHead\x01\x01")
}

#[test]
fn magic_numbers_of_every_type() {
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (jpeg(), "image/jpeg"),
        (png(), "image/png"),
        (b"GIF89a\x01\x00".to_vec(), "image/gif"),
        (b"GIF87a\x01\x00".to_vec(), "image/gif"),
        (webp(), "image/webp"),
        (riff(b"WAVE"), "audio/wav"),
        (mp4(), "video/mp4"),
        (ftyp(b"mp42"), "video/mp4"),
        (ftyp(b"3gp4"), "video/3gpp"),
        (ftyp(b"3g2a"), "video/3gpp"),
        (ftyp(b"M4A "), "audio/mp4"),
        (ftyp(b"qt  "), "video/quicktime"),
        (ftyp(b"heic"), "image/heic"),
        (opus(), "audio/ogg; codecs=opus"),
        (ogg(b"\x01vorbis"), "audio/ogg"),
        (b"ID3\x04\x00\x00\x00\x00\x00\x00".to_vec(), "audio/mpeg"),
        // MPEG-1 layer III, 128 kbit/s, 44.1 kHz.
        (vec![0xFF, 0xFB, 0x90, 0x64], "audio/mpeg"),
        // ADTS, MPEG-4 AAC LC, 44.1 kHz.
        (vec![0xFF, 0xF1, 0x50, 0x80, 0x02, 0x1F, 0xFC], "audio/aac"),
        (b"#!AMR\n\x3c".to_vec(), "audio/amr"),
        (b"#!AMR-WB\n\x04".to_vec(), "audio/amr-wb"),
        (b"%PDF-1.7\n".to_vec(), "application/pdf"),
        (b"PK\x03\x04\x14\x00".to_vec(), "application/zip"),
        (b"PK\x05\x06".to_vec(), "application/zip"),
        (
            vec![0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1, 0],
            "application/x-ole-storage",
        ),
    ];
    for (bytes, want) in cases {
        assert_eq!(detect_mime(&bytes), Some(want), "{bytes:02x?}");
    }
}

#[test]
fn id3_tag_in_front_of_aac_is_aac() {
    // A 4-byte ID3 tag body, then an ADTS header.
    let mut b = b"ID3\x04\x00\x00\x00\x00\x00\x04abcd".to_vec();
    b.extend_from_slice(&[0xFF, 0xF1, 0x50, 0x80]);
    assert_eq!(detect_mime(&b), Some("audio/aac"));
    // A truncated tag still reads as MP3.
    assert_eq!(
        detect_mime(b"ID3\x04\x00\x00\x00\x00\x7f\x7f"),
        Some("audio/mpeg")
    );
}

#[test]
fn undetectable_content() {
    for bytes in [
        &b"hello, world"[..],
        b"name,phone\nAda,+14155550123\n",
        b"",
        b"RIFF",
        b"RIFF\x00\x00\x00\x00AVI LIST",
        &[0xFF, 0xD8],
        // Sync bits with a reserved MPEG version / layer.
        &[0xFF, 0xE9, 0x90],
        &[0xFF, 0xFB, 0xF0],
    ] {
        assert_eq!(detect_mime(bytes), None, "{bytes:02x?}");
    }
}

#[test]
fn size_cap_at_the_limit_and_one_byte_over() {
    for category in [
        Category::Image,
        Category::Audio,
        Category::Sticker,
        Category::Video,
        Category::Document,
    ] {
        let head = match category {
            Category::Image | Category::Document => jpeg(),
            Category::Audio => opus(),
            Category::Sticker => webp(),
            Category::Video => mp4(),
        };
        // Zeroed allocations stay untouched (and cheap) past the header.
        let mut bytes = vec![0u8; category.max_bytes()];
        bytes[..head.len()].copy_from_slice(&head);
        assert!(
            check(category, None, &bytes).is_ok(),
            "{category:?} at the limit"
        );
        let mut bytes = vec![0u8; category.max_bytes() + 1];
        bytes[..head.len()].copy_from_slice(&head);
        let err = check(category, None, &bytes).unwrap_err();
        assert!(err.contains("may be at most"), "{category:?}: {err}");
        assert!(err.contains(category.plural()), "{err}");
    }
}

#[test]
fn category_type_rules() {
    assert_eq!(check(Category::Image, None, &jpeg()).unwrap(), "image/jpeg");
    assert_eq!(check(Category::Image, None, &png()).unwrap(), "image/png");
    let err = check(Category::Image, None, b"GIF89a\x01\x00").unwrap_err();
    assert!(
        err.contains("GIF image") && err.contains("JPEG or PNG"),
        "{err}"
    );
    assert!(check(Category::Image, None, &webp()).is_err());
    assert!(check(Category::Image, Some("image/png"), b"plain text").is_err());

    assert_eq!(check(Category::Video, None, &mp4()).unwrap(), "video/mp4");
    assert_eq!(
        check(Category::Video, None, &ftyp(b"3gp5")).unwrap(),
        "video/3gpp"
    );
    assert!(check(Category::Video, None, &ftyp(b"qt  ")).is_err());
    assert!(check(Category::Video, None, &jpeg()).is_err());

    assert_eq!(
        check(Category::Audio, None, &opus()).unwrap(),
        "audio/ogg; codecs=opus"
    );
    assert_eq!(
        check(Category::Audio, None, &[0xFF, 0xFB, 0x90, 0x64]).unwrap(),
        "audio/mpeg"
    );
    assert_eq!(
        check(Category::Audio, None, &[0xFF, 0xF1, 0x50, 0x80]).unwrap(),
        "audio/aac"
    );
    assert_eq!(
        check(Category::Audio, None, b"#!AMR\n\x3c").unwrap(),
        "audio/amr"
    );
    // MP4 as audio is M4A, whatever the brand says.
    assert_eq!(check(Category::Audio, None, &mp4()).unwrap(), "audio/mp4");
    let err = check(Category::Audio, None, &ogg(b"\x01vorbis")).unwrap_err();
    assert!(err.contains("Opus"), "{err}");
    assert!(check(Category::Audio, None, &riff(b"WAVE")).is_err());

    assert_eq!(
        check(Category::Sticker, None, &webp()).unwrap(),
        "image/webp"
    );
    assert!(check(Category::Sticker, None, &png()).is_err());

    // Documents take anything, named as declared or detected.
    assert_eq!(
        check(Category::Document, None, b"%PDF-1.4").unwrap(),
        "application/pdf"
    );
    assert_eq!(
        check(Category::Document, None, b"plain").unwrap(),
        "application/octet-stream"
    );
    assert_eq!(
        check(
            Category::Document,
            Some("text/csv; charset=utf-8"),
            b"a,b\n"
        )
        .unwrap(),
        "text/csv; charset=utf-8"
    );
    assert_eq!(
        check(Category::Document, Some("Image/JPG"), &jpeg()).unwrap(),
        "image/jpeg"
    );
    assert!(
        check(Category::Document, None, b"")
            .unwrap_err()
            .contains("empty")
    );
}

#[test]
fn declared_types_that_contradict_the_content_are_refused() {
    let err = check(Category::Image, Some("image/png"), &jpeg()).unwrap_err();
    assert_eq!(
        err,
        "is image/png but the content is a JPEG image (image/jpeg)"
    );
    let err = check(Category::Document, Some("application/pdf"), &png()).unwrap_err();
    assert!(err.contains("PNG image"), "{err}");
    // Claims a type with magic numbers, shows none.
    let err = check(Category::Document, Some("application/pdf"), b"hello").unwrap_err();
    assert_eq!(
        err,
        "is application/pdf but the content is not a PDF document (application/pdf)"
    );
    assert!(check(Category::Document, Some("text/plain"), &jpeg()).is_err());
    assert!(check(Category::Sticker, Some("image/png"), &webp()).is_err());
    let err = check(Category::Image, Some("not a type"), &jpeg()).unwrap_err();
    assert!(err.contains("is not a MIME type"), "{err}");
    assert_eq!(
        check_content(Category::Image, Some("image/gif"), &jpeg())
            .unwrap_err()
            .problem,
        Problem::DeclaredType
    );
}

#[test]
fn declared_aliases_and_containers_agree() {
    assert_eq!(
        check(Category::Image, Some("image/jpg"), &jpeg()).unwrap(),
        "image/jpeg"
    );
    assert_eq!(
        check(Category::Audio, Some("audio/ogg; codecs=opus"), &opus()).unwrap(),
        "audio/ogg; codecs=opus"
    );
    assert_eq!(
        check(
            Category::Audio,
            Some("audio/mp3"),
            &[0xFF, 0xFB, 0x90, 0x64]
        )
        .unwrap(),
        "audio/mpeg"
    );
    assert_eq!(
        check(Category::Audio, Some("audio/m4a"), &mp4()).unwrap(),
        "audio/mp4"
    );
    assert_eq!(
        check(Category::Video, Some("video/mp4"), &ftyp(b"3gp4")).unwrap(),
        "video/3gpp"
    );
    let docx = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
    assert_eq!(
        check(Category::Document, Some(docx), b"PK\x03\x04\x14\x00").unwrap(),
        docx
    );
    assert_eq!(
        check(Category::Document, None, b"PK\x03\x04\x14\x00").unwrap(),
        "application/zip"
    );
    let ole = [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
    assert_eq!(
        check(Category::Document, Some("application/msword"), &ole).unwrap(),
        "application/msword"
    );
    // A ZIP is not a PDF, even though both are "application/".
    assert!(check(Category::Document, Some("application/pdf"), b"PK\x03\x04").is_err());
}

#[test]
fn base64_plain_and_data_urls() {
    assert_eq!(
        decode_base64("aGVsbG8=").unwrap(),
        (b"hello".to_vec(), None)
    );
    // Padding may be left out, and line breaks are ignored.
    assert_eq!(decode_base64("aGVs\r\nbG8").unwrap().0, b"hello");
    assert_eq!(decode_base64("  aGVsbG8=\n").unwrap().0, b"hello");
    // URL-safe alphabet.
    assert_eq!(decode_base64("-_8").unwrap().0, vec![0xFB, 0xFF]);
    let (bytes, mime) = decode_base64("data:image/png;base64,iVBORw0KGgo=").unwrap();
    assert_eq!(bytes, b"\x89PNG\r\n\x1a\n");
    assert_eq!(mime.as_deref(), Some("image/png"));
    let (_, mime) = decode_base64("DATA:Audio/Ogg; codecs=opus;base64,T2dnUw==").unwrap();
    assert_eq!(mime.as_deref(), Some("audio/ogg; codecs=opus"));
    let (bytes, mime) = decode_base64("data:;base64,aGk=").unwrap();
    assert_eq!((bytes.as_slice(), mime), (&b"hi"[..], None));
}

#[test]
fn bad_base64_is_refused() {
    for (input, want) in [
        ("aGVsbG8==", "not valid base64"),
        ("aGk===", "not valid base64"),
        ("a", "not valid base64"),
        ("aGVsbG8*", "not valid base64"),
        ("", "is empty"),
        ("data:image/png;base64,", "is empty"),
        ("data:image/png,iVBORw0KGgo=", "not base64"),
        ("data:image/png;base64", "without a comma"),
        (
            "image/png;base64,iVBORw0KGgo=",
            "does not start with \"data:\"",
        ),
        (
            "dta:image/png;base64,iVBORw0KGgo=",
            "does not start with \"data:\"",
        ),
        ("data:not a type;base64,aGk=", "invalid data URL type"),
    ] {
        let err = decode_base64(input).unwrap_err();
        assert!(err.contains(want), "{input:?}: {err}");
    }
}
