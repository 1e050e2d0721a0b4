//! Every invalid input gets INVALID_ARGUMENT naming its field.

use wagate_proto::v1 as pb;
use wagate_tests::{TestServer, admin, backends, error_reason, violated_fields};

use crate::create_session;

fn session(name: &str, phone: &str) -> pb::Session {
    pb::Session {
        display_name: name.into(),
        phone_number: phone.into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn invalid_inputs_name_their_fields() {
    for backend in backends() {
        let server = TestServer::start(backend).await;
        let mut sessions = server.sessions();
        let create = |s: pb::Session| admin(pb::CreateSessionRequest { session: Some(s) });

        let cases: Vec<(pb::Session, &[&str])> = vec![
            (session("", "+14155550107"), &["session.display_name"]),
            (
                session(&"x".repeat(101), "+14155550107"),
                &["session.display_name"],
            ),
            (session("Shop", ""), &["session.phone_number"]),
            (session("Shop", "4155550107x"), &["session.phone_number"]),
            (session("Shop", "+0155"), &["session.phone_number"]),
            (
                pb::Session {
                    webhook_url: "http://hooks.example.com/x".into(),
                    ..session("Shop", "+14155550107")
                },
                &["session.webhook_url"],
            ),
            (
                pb::Session {
                    webhook_url: "https://127.0.0.1/x".into(),
                    ..session("Shop", "+14155550107")
                },
                &["session.webhook_url"],
            ),
            (
                pb::Session {
                    webhook_url: "not a url".into(),
                    ..session("Shop", "+14155550107")
                },
                &["session.webhook_url"],
            ),
            (
                pb::Session {
                    webhook_enabled: true,
                    ..session("Shop", "+14155550107")
                },
                &["session.webhook_enabled"],
            ),
            (
                pb::Session {
                    webhook_events: vec!["messages.received".into(), "bogus".into()],
                    ..session("Shop", "+14155550107")
                },
                &["session.webhook_events[1]"],
            ),
            (
                pb::Session {
                    proxy_url: "ftp://proxy.example.com".into(),
                    ..session("Shop", "+14155550107")
                },
                &["session.proxy_url"],
            ),
            (
                pb::Session {
                    proxy_url: "socks5://192.168.1.1:1080".into(),
                    ..session("Shop", "+14155550107")
                },
                &["session.proxy_url"],
            ),
            (
                pb::Session {
                    proxy_url: "http://localhost:3128".into(),
                    ..session("Shop", "+14155550107")
                },
                &["session.proxy_url"],
            ),
            (
                session("", "nope"),
                &["session.display_name", "session.phone_number"],
            ),
        ];
        for (input, fields) in cases {
            let err = sessions
                .create_session(create(input.clone()))
                .await
                .unwrap_err();
            assert_eq!(err.code(), tonic::Code::InvalidArgument, "{input:?}");
            assert_eq!(error_reason(&err), "INVALID_ARGUMENT");
            assert_eq!(
                violated_fields(&err),
                fields,
                "{input:?}: {}",
                err.message()
            );
        }
        let err = sessions
            .create_session(admin(pb::CreateSessionRequest { session: None }))
            .await
            .unwrap_err();
        assert_eq!(violated_fields(&err), ["session"]);

        // accepted inputs are normalized
        let created = sessions
            .create_session(create(pb::Session {
                webhook_url: "https://hooks.example.com/wa".into(),
                webhook_enabled: true,
                webhook_events: vec!["messages.received".into(), "session.status".into()],
                proxy_url: "socks5://user:secret@proxy.example.com:1080".into(),
                account_protection: Some(false),
                ..session("  Shop  ", "+1 (415) 555-0107")
            }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(created.display_name, "Shop");
        assert_eq!(created.phone_number, "+14155550107");
        assert_eq!(created.account_protection, Some(false));
        assert_eq!(
            created.proxy_url, "socks5://user:***@proxy.example.com:1080",
            "proxy password never shown"
        );

        // names and page sizes
        let err = sessions
            .get_session(admin(pb::GetSessionRequest {
                name: "users/1".into(),
            }))
            .await
            .unwrap_err();
        assert_eq!(violated_fields(&err), ["name"]);
        let err = sessions
            .get_session(admin(pb::GetSessionRequest {
                name: String::new(),
            }))
            .await
            .unwrap_err();
        assert_eq!(violated_fields(&err), ["name"]);
        let err = sessions
            .get_session(admin(pb::GetSessionRequest {
                name: "sessions/999999".into(),
            }))
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::NotFound);
        let err = sessions
            .list_sessions(admin(pb::ListSessionsRequest {
                page_size: -1,
                ..Default::default()
            }))
            .await
            .unwrap_err();
        assert_eq!(violated_fields(&err), ["page_size"]);
        let err = sessions
            .list_sessions(admin(pb::ListSessionsRequest {
                page_token: "garbage!".into(),
                ..Default::default()
            }))
            .await
            .unwrap_err();
        assert_eq!(violated_fields(&err), ["page_token"]);
        let err = sessions
            .request_pair_code(admin(pb::RequestPairCodeRequest {
                name: created.name.clone(),
                phone_number: "12".into(),
            }))
            .await
            .unwrap_err();
        assert_eq!(violated_fields(&err), ["phone_number"]);

        // updates: masks, output-only fields, merged validation
        let update = |s: pb::Session, paths: &[&str]| {
            admin(pb::UpdateSessionRequest {
                session: Some(s),
                update_mask: Some(prost_types::FieldMask {
                    paths: paths.iter().map(|p| p.to_string()).collect(),
                }),
            })
        };
        let named = |s: pb::Session| pb::Session {
            name: created.name.clone(),
            ..s
        };
        let err = sessions
            .update_session(update(named(pb::Session::default()), &["status"]))
            .await
            .unwrap_err();
        assert_eq!(violated_fields(&err), ["update_mask"]);
        let err = sessions
            .update_session(update(named(pb::Session::default()), &["no_such_field"]))
            .await
            .unwrap_err();
        assert_eq!(violated_fields(&err), ["update_mask"]);
        let err = sessions
            .update_session(update(named(pb::Session::default()), &["display_name"]))
            .await
            .unwrap_err();
        assert_eq!(violated_fields(&err), ["session.display_name"]);
        let err = sessions
            .update_session(update(named(pb::Session::default()), &["webhook_url"]))
            .await
            .unwrap_err();
        assert_eq!(
            violated_fields(&err),
            ["session.webhook_enabled"],
            "disabling needs the URL gone too: {}",
            err.message()
        );
        let updated = sessions
            .update_session(update(
                named(pb::Session {
                    ignore_groups: true,
                    display_name: "Renamed".into(),
                    ..Default::default()
                }),
                &[
                    "ignore_groups",
                    "display_name",
                    "webhook_enabled",
                    "webhook_url",
                ],
            ))
            .await
            .unwrap()
            .into_inner();
        assert!(
            updated.ignore_groups && !updated.webhook_enabled && updated.webhook_url.is_empty()
        );
        assert_eq!(updated.display_name, "Renamed");
        assert_eq!(
            updated.phone_number, "+14155550107",
            "fields outside the mask are kept"
        );
        // an empty mask updates the populated fields
        let updated = sessions
            .update_session(admin(pb::UpdateSessionRequest {
                session: Some(named(pb::Session {
                    always_online: true,
                    ..Default::default()
                })),
                update_mask: None,
            }))
            .await
            .unwrap()
            .into_inner();
        assert!(updated.always_online && updated.ignore_groups);
        server.stop().await;
    }
}

#[tokio::test]
async fn private_urls_are_allowed_only_when_configured() {
    let backend = backends()[0];
    let server = TestServer::start_with(backend, |config| config.allow_private_urls = true).await;
    let mut sessions = server.sessions();
    let created = sessions
        .create_session(admin(pb::CreateSessionRequest {
            session: Some(pb::Session {
                webhook_url: "http://127.0.0.1:9/hook".into(),
                proxy_url: "socks5://127.0.0.1:1080".into(),
                ..session("Dev", "+14155550108")
            }),
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(created.webhook_url, "http://127.0.0.1:9/hook");
    let listed = sessions
        .list_sessions(admin(pb::ListSessionsRequest::default()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.total_size, 1);
    server.stop().await;
}

#[tokio::test]
async fn list_sessions_pages() {
    for backend in backends() {
        let server = TestServer::start(backend).await;
        let mut sessions = server.sessions();
        let mut created = Vec::new();
        for i in 0..7 {
            created.push(
                create_session(&mut sessions, &format!("+1415555020{i}"))
                    .await
                    .id,
            );
        }
        let mut seen = Vec::new();
        let mut token = String::new();
        for _ in 0..10 {
            let page = sessions
                .list_sessions(admin(pb::ListSessionsRequest {
                    page_size: 3,
                    page_token: token.clone(),
                }))
                .await
                .unwrap()
                .into_inner();
            assert_eq!(page.total_size, 7);
            assert!(page.sessions.iter().all(|s| s.api_key.is_empty()));
            seen.extend(page.sessions.iter().map(|s| s.id));
            token = page.next_page_token;
            if token.is_empty() {
                break;
            }
        }
        assert_eq!(seen, created);
        server.stop().await;
    }
}

#[tokio::test]
async fn oversized_requests_are_refused_before_they_reach_the_service() {
    let server =
        TestServer::start_with(backends()[0], |config| config.max_request_bytes = 64 * 1024).await;
    let mut sessions = server.sessions();
    let huge = session(&"x".repeat(100 * 1024), "+14155550109");
    let err = sessions
        .create_session(admin(pb::CreateSessionRequest {
            session: Some(huge),
        }))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err.code(),
            tonic::Code::OutOfRange | tonic::Code::ResourceExhausted
        ),
        "the size limit answers, not validation: {err:?}"
    );
    let listed = sessions
        .list_sessions(admin(pb::ListSessionsRequest::default()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.total_size, 0, "nothing was created");
    server.stop().await;
}
