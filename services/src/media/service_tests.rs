//! MediaService and the /media route on SQLite and (when
//! `WAGATE_TEST_DATABASE_URL` is set) PostgreSQL.

use std::time::Duration;

use sha2::{Digest, Sha256};
use sqlx::{AssertSqlSafe, Connection};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wagate_proto::v1 as pb;

use super::*;
use crate::engine::MediaBlob;
use crate::error::Code;
use crate::session::model::Settings;
use crate::store::{NewMedia, Store, now_ms};

/// A migrated store in a fresh database, dropped by [`TestStore::close`].
struct TestStore {
    store: Store,
    label: &'static str,
    dir: std::path::PathBuf,
    postgres: Option<(String, String)>,
}

impl TestStore {
    async fn sqlite() -> Self {
        let dir = std::env::temp_dir().join(format!(
            "wagate-media-{}-{:016x}",
            std::process::id(),
            rand::random::<u64>()
        ));
        let url = format!("sqlite://{}", dir.join("wagate.db").display());
        let store = Store::connect(&url, 4).await.unwrap();
        store.migrate().await.unwrap();
        Self {
            store,
            label: "sqlite",
            dir,
            postgres: None,
        }
    }

    async fn postgres(admin: &str) -> Self {
        let name = format!("wagate_t_media_{:016x}", rand::random::<u64>());
        let mut conn = sqlx::PgConnection::connect(admin).await.unwrap();
        sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .unwrap();
        let _ = conn.close().await;
        let (base, query) = admin.split_once('?').unwrap_or((admin, ""));
        let server = &base[..base
            .rfind('/')
            .filter(|&i| i > "postgres://".len())
            .unwrap_or(base.len())];
        let url = if query.is_empty() {
            format!("{server}/{name}")
        } else {
            format!("{server}/{name}?{query}")
        };
        let store = Store::connect(&url, 4).await.unwrap();
        store.migrate().await.unwrap();
        Self {
            store,
            label: "postgres",
            dir: std::path::PathBuf::new(),
            postgres: Some((admin.to_owned(), name)),
        }
    }

    /// SQLite always; PostgreSQL too when `WAGATE_TEST_DATABASE_URL` is set.
    async fn all() -> Vec<Self> {
        let mut stores = vec![Self::sqlite().await];
        if let Ok(admin) = std::env::var("WAGATE_TEST_DATABASE_URL")
            && !admin.is_empty()
        {
            stores.push(Self::postgres(&admin).await);
        }
        stores
    }

    async fn close(self) {
        self.store.close().await;
        if let Some((admin, name)) = self.postgres {
            if let Ok(mut conn) = sqlx::PgConnection::connect(&admin).await {
                let _ = sqlx::query(AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .execute(&mut conn)
                .await;
            }
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    async fn session(&self) -> i64 {
        self.store
            .insert_session(
                &Settings::default(),
                &format!("key-hash-{:016x}", rand::random::<u64>()),
                "webhook-secret",
            )
            .await
            .unwrap()
            .id
    }

    fn service(&self, allow_private: bool) -> MediaService {
        MediaService::new(
            self.store.clone(),
            Fetcher::new(allow_private, Duration::from_secs(5)),
            "https://wagate.example.com/".into(),
        )
    }
}

fn png() -> Vec<u8> {
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR-rest-of-the-image".to_vec()
}

fn source_media(name: &str) -> pb::MediaSource {
    pb::MediaSource {
        source: Some(pb::media_source::Source::Media(name.to_owned())),
    }
}

fn source_uri(uri: &str) -> pb::MediaSource {
    pb::MediaSource {
        source: Some(pb::media_source::Source::Uri(uri.to_owned())),
    }
}

fn field_of(err: &crate::error::Error) -> &str {
    &err.field_violations[0].field
}

#[tokio::test]
async fn upload_get_download_expiry_and_prune() {
    for db in TestStore::all().await {
        let label = db.label;
        let session = db.session().await;
        let other_session = db.session().await;
        let service = db.service(false);

        let upload = UploadInput {
            bytes: png(),
            mime_type: None,
            file_name: Some("../photos/cat.png".into()),
        };
        let record = service.upload(session, upload).await.unwrap();
        assert_eq!(record.mime_type, "image/png", "{label}");
        assert_eq!(record.file_name, "cat.png");
        assert_eq!(record.size_bytes, png().len() as i64);
        assert_eq!(record.sha256, hex::encode(Sha256::digest(png())));
        assert_eq!(record.expire_time - record.create_time, 24 * 60 * 60 * 1000);
        assert!(record.token.len() >= 43);
        assert_eq!(
            service.get(session, record.id).await.unwrap(),
            record,
            "{label}"
        );

        let media = service.to_pb(&record);
        let name = format!("sessions/{session}/media/{}", record.id);
        assert_eq!(media.name, name);
        assert_eq!(
            media.uri,
            format!("https://wagate.example.com/media/{}", record.token)
        );
        assert_eq!(media.message, "");
        assert_eq!(
            media.create_time.unwrap().seconds,
            record.create_time / 1000
        );

        // Another session cannot see it.
        let err = service.get(other_session, record.id).await.unwrap_err();
        assert_eq!(err.code, Code::NotFound);
        let err = service
            .check_source(other_session, &source_media(&name), "message.image.source")
            .await
            .unwrap_err();
        assert_eq!(err.code, Code::NotFound, "{label}: {err}");
        service
            .check_source(session, &source_media(&name), "message.image.source")
            .await
            .unwrap();

        // Resolving checks the category at send time.
        let blob = service
            .resolve(session, &source_media(&name), Category::Image, None)
            .await
            .unwrap();
        assert_eq!(&blob.bytes[..], png().as_slice());
        assert_eq!(
            (blob.mime_type.as_str(), blob.file_name.as_str()),
            ("image/png", "cat.png")
        );
        let err = service
            .resolve(session, &source_media(&name), Category::Sticker, None)
            .await
            .unwrap_err();
        assert_eq!(err.code, Code::InvalidArgument);
        assert!(err.message.contains("stickers must be WebP"), "{err}");
        let err = service
            .resolve(
                session,
                &source_media(&name),
                Category::Image,
                Some("image/jpeg"),
            )
            .await
            .unwrap_err();
        assert!(
            err.message
                .contains("is image/jpeg but the content is a PNG image"),
            "{err}"
        );

        // Downloaded media of a message: 1 hour, linked to the message.
        let blob = MediaBlob {
            bytes: b"%PDF-1.4 downloaded".to_vec().into(),
            mime_type: "application/pdf".into(),
            file_name: "invoice.pdf".into(),
        };
        let download = service.store_download(session, 42, &blob).await.unwrap();
        assert_eq!(download.message_id, Some(42));
        assert_eq!(download.expire_time - download.create_time, 60 * 60 * 1000);
        assert_eq!(
            service.get(session, download.id).await.unwrap(),
            download,
            "{label}"
        );
        assert_eq!(
            service.to_pb(&download).message,
            format!("sessions/{session}/messages/42")
        );

        // Expired media is gone for reads at once, and from the table on prune.
        let now = now_ms();
        let expired = db
            .store
            .insert_media(&NewMedia {
                session_id: session,
                token: "expired-token-0123456789abcdef",
                mime_type: "image/png",
                file_name: "",
                sha256: "00",
                message_id: None,
                content: &png(),
                create_time: now - 10_000,
                expire_time: now - 1,
            })
            .await
            .unwrap();
        let expired_name = format!("sessions/{session}/media/{}", expired.id);
        assert_eq!(
            service.get(session, expired.id).await.unwrap_err().code,
            Code::NotFound
        );
        let err = service
            .check_source(
                session,
                &source_media(&expired_name),
                "message.image.source",
            )
            .await
            .unwrap_err();
        assert_eq!(err.code, Code::NotFound);
        let err = service
            .resolve(session, &source_media(&expired_name), Category::Image, None)
            .await
            .unwrap_err();
        assert_eq!(err.code, Code::NotFound);
        assert_eq!(service.prune_expired().await.unwrap(), 1, "{label}");
        assert_eq!(service.prune_expired().await.unwrap(), 0);
        assert!(service.get(session, record.id).await.is_ok());
        db.close().await;
    }
}

#[tokio::test]
async fn upload_validation_names_the_field() {
    let db = TestStore::sqlite().await;
    let session = db.session().await;
    let service = db.service(false);
    let upload = |bytes: &[u8], mime: Option<&str>| UploadInput {
        bytes: bytes.to_vec(),
        mime_type: mime.map(str::to_owned),
        file_name: None,
    };

    let err = service
        .upload(session, upload(b"", None))
        .await
        .unwrap_err();
    assert_eq!(
        (field_of(&err), err.field_violations[0].description.as_str()),
        ("content", "is empty")
    );
    let err = service
        .upload(session, upload(b"a,b\n1,2\n", None))
        .await
        .unwrap_err();
    assert_eq!(field_of(&err), "mime_type");
    assert!(err.message.contains("is required"), "{err}");
    let err = service
        .upload(session, upload(&png(), Some("image/jpeg")))
        .await
        .unwrap_err();
    assert_eq!(field_of(&err), "mime_type");
    let err = service
        .upload(session, upload(&png(), Some("png")))
        .await
        .unwrap_err();
    assert_eq!(field_of(&err), "mime_type");
    let csv = service
        .upload(session, upload(b"a,b\n1,2\n", Some("text/csv")))
        .await
        .unwrap();
    assert_eq!(csv.mime_type, "text/csv");
    // A GIF is accepted as a file (it can go out as a document).
    let gif = service
        .upload(session, upload(b"GIF89a\x01\x00", None))
        .await
        .unwrap();
    assert_eq!(gif.mime_type, "image/gif");

    // The size cap of the category the type falls in.
    let mut webp = vec![0u8; Category::Sticker.max_bytes() + 1];
    webp[..12].copy_from_slice(b"RIFF\x00\x00\x00\x00WEBP");
    let err = service
        .upload(session, upload(&webp, None))
        .await
        .unwrap_err();
    assert_eq!(field_of(&err), "content");
    assert!(
        err.message
            .contains("sent as sticker and may be at most 5 MB"),
        "{err}"
    );
    webp.pop();
    service.upload(session, upload(&webp, None)).await.unwrap();

    // Base64 and data URLs; the request's MIME type overrides the data URL's.
    let record = service
        .upload_base64(
            session,
            "data:text/plain;base64,aGVsbG8=",
            None,
            Some("a.txt".into()),
        )
        .await
        .unwrap();
    assert_eq!(
        (record.mime_type.as_str(), record.size_bytes),
        ("text/plain", 5)
    );
    let record = service
        .upload_base64(
            session,
            "data:text/plain;base64,aGVsbG8=",
            Some("text/markdown".into()),
            None,
        )
        .await
        .unwrap();
    assert_eq!(record.mime_type, "text/markdown");
    let err = service
        .upload_base64(session, "data:image/png;base64,aGVsbG8==", None, None)
        .await
        .unwrap_err();
    assert_eq!(field_of(&err), "base64");
    let err = service
        .upload_base64(session, "data:;base64,", None, None)
        .await
        .unwrap_err();
    assert_eq!(field_of(&err), "base64");
    db.close().await;
}

#[tokio::test]
async fn sources_are_checked_at_accept_time() {
    let db = TestStore::sqlite().await;
    let session = db.session().await;
    let strict = db.service(false);
    let field = "message.image.source";
    let cases = [
        (pb::MediaSource { source: None }, "message.image.source"),
        (source_uri(""), "message.image.source.uri"),
        (
            source_uri("http://127.0.0.1/a.png"),
            "message.image.source.uri",
        ),
        (
            source_uri("http://localhost/a.png"),
            "message.image.source.uri",
        ),
        (source_uri("file:///etc/passwd"), "message.image.source.uri"),
        (source_media("media/1"), "message.image.source.media"),
        (source_media(""), "message.image.source.media"),
    ];
    for (source, want) in cases {
        let err = strict
            .check_source(session, &source, field)
            .await
            .unwrap_err();
        assert_eq!(err.code, Code::InvalidArgument, "{source:?}");
        assert_eq!(field_of(&err), want, "{source:?}");
    }
    strict
        .check_source(session, &source_uri("https://cdn.example.com/a.png"), field)
        .await
        .unwrap();
    let err = strict
        .check_source(
            session,
            &source_media(&format!("sessions/{session}/media/999")),
            field,
        )
        .await
        .unwrap_err();
    assert_eq!(err.code, Code::NotFound);
    // Private URLs pass when the server allows them.
    db.service(true)
        .check_source(session, &source_uri("http://127.0.0.1:9/a.png"), field)
        .await
        .unwrap();
    db.close().await;
}

/// Sends one GET and returns the status, lower-case headers and body.
async fn http_get(
    address: std::net::SocketAddr,
    path: &str,
) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: wagate.test\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    (status, headers, raw[split + 4..].to_vec())
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

#[tokio::test]
async fn media_route_serves_until_expiry() {
    for db in TestStore::all().await {
        let label = db.label;
        let session = db.session().await;
        let service = db.service(true);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let server = tokio::spawn(axum::serve(listener, router(service.clone())).into_future());

        let record = service
            .upload(
                session,
                UploadInput {
                    bytes: png(),
                    mime_type: Some("image/png".into()),
                    file_name: Some("cat photo.png".into()),
                },
            )
            .await
            .unwrap();
        let (status, headers, body) = http_get(address, &format!("/media/{}", record.token)).await;
        assert_eq!(status, 200, "{label}");
        assert_eq!(body, png());
        assert_eq!(header(&headers, "content-type"), Some("image/png"));
        let length = png().len().to_string();
        assert_eq!(header(&headers, "content-length"), Some(length.as_str()));
        assert_eq!(
            header(&headers, "content-disposition"),
            Some("inline; filename=\"cat photo.png\"; filename*=UTF-8''cat%20photo.png")
        );
        assert_eq!(header(&headers, "x-content-type-options"), Some("nosniff"));
        let cache = header(&headers, "cache-control").unwrap();
        let max_age: i64 = cache
            .strip_prefix("private, max-age=")
            .unwrap()
            .parse()
            .unwrap();
        assert!((24 * 3600 - 5..=24 * 3600).contains(&max_age), "{cache}");

        // The server fetches its own URL like any other media URL.
        let url = format!("http://{address}/media/{}", record.token);
        let blob = service
            .resolve(session, &source_uri(&url), Category::Image, None)
            .await
            .unwrap();
        assert_eq!(&blob.bytes[..], png().as_slice());
        assert_eq!(
            (blob.mime_type.as_str(), blob.file_name.as_str()),
            ("image/png", "cat photo.png")
        );
        let err = service
            .resolve(session, &source_uri(&url), Category::Video, None)
            .await
            .unwrap_err();
        assert_eq!(err.code, Code::InvalidArgument);
        assert!(err.message.contains("videos must be MP4 or 3GPP"), "{err}");

        // Unknown and expired tokens look the same.
        let now = now_ms();
        let expired = db
            .store
            .insert_media(&NewMedia {
                session_id: session,
                token: "expiredtoken0123456789abcdefghijklmnopqrstu",
                mime_type: "image/png",
                file_name: "old.png",
                sha256: "00",
                message_id: None,
                content: &png(),
                create_time: now - 10_000,
                expire_time: now - 1,
            })
            .await
            .unwrap();
        let (status, _, expired_body) =
            http_get(address, &format!("/media/{}", expired.token)).await;
        assert_eq!(status, 404, "{label}");
        let (status, _, unknown_body) = http_get(
            address,
            "/media/unknowntoken0123456789abcdefghijklmnopqrstu",
        )
        .await;
        assert_eq!(status, 404);
        assert_eq!(expired_body, unknown_body);
        let (status, _, _) = http_get(address, "/media/x").await;
        assert_eq!(status, 404);
        let err = service
            .resolve(
                session,
                &source_uri(&format!("http://{address}/media/{}", expired.token)),
                Category::Image,
                None,
            )
            .await
            .unwrap_err();
        assert_eq!(err.code, Code::FailedPrecondition, "{err}");

        server.abort();
        db.close().await;
    }
}

#[tokio::test]
async fn html_documents_are_not_rendered_inline() {
    let db = TestStore::sqlite().await;
    let session = db.session().await;
    let service = db.service(false);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let server = tokio::spawn(axum::serve(listener, router(service.clone())).into_future());
    let record = service
        .upload(
            session,
            UploadInput {
                bytes: b"<script>alert(1)</script>".to_vec(),
                mime_type: Some("text/html".into()),
                file_name: None,
            },
        )
        .await
        .unwrap();
    let (status, headers, _) = http_get(address, &format!("/media/{}", record.token)).await;
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "content-disposition"), Some("attachment"));
    assert_eq!(header(&headers, "content-security-policy"), Some("sandbox"));
    server.abort();
    db.close().await;
}
