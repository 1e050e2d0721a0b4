//! The authorization matrix: no token, bad token, admin, own key, other key, regenerated key.

use wagate_proto::v1 as pb;
use wagate_tests::{ADMIN_TOKEN, TestServer, admin, authed, backends, error_reason};

use crate::create_session;

#[tokio::test]
async fn auth_matrix() {
    for backend in backends() {
        let server = TestServer::start(backend).await;
        let mut sessions = server.sessions();
        let a = create_session(&mut sessions, "+14155550105").await;
        let b = create_session(&mut sessions, "+14155550106").await;
        let get = |name: &str| pb::GetSessionRequest {
            name: name.to_owned(),
        };

        // no token
        let err = sessions
            .get_session(tonic::Request::new(get(&a.name)))
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::Unauthenticated);
        assert_eq!(error_reason(&err), "INVALID_CREDENTIALS");
        // a bad token, and a non-bearer scheme
        let err = sessions
            .get_session(authed("wgs_not-a-real-key", get(&a.name)))
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::Unauthenticated);
        let mut basic = tonic::Request::new(get(&a.name));
        basic.metadata_mut().insert(
            "authorization",
            format!("Basic {ADMIN_TOKEN}").parse().unwrap(),
        );
        assert_eq!(
            sessions.get_session(basic).await.unwrap_err().code(),
            tonic::Code::Unauthenticated
        );

        // admin acts on any session
        assert!(sessions.get_session(admin(get(&b.name))).await.is_ok());
        // a session key acts on its own session ...
        let own = sessions
            .get_session(authed(&a.api_key, get(&a.name)))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(own.id, a.id);
        // ... also with seed 001's "Bearer token <key>" form
        let mut seed_form = tonic::Request::new(get(&a.name));
        seed_form.metadata_mut().insert(
            "authorization",
            format!("Bearer token {}", a.api_key).parse().unwrap(),
        );
        assert!(sessions.get_session(seed_form).await.is_ok());
        // ... but not on another session
        let err = sessions
            .get_session(authed(&a.api_key, get(&b.name)))
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::PermissionDenied);
        assert_eq!(error_reason(&err), "PERMISSION_DENIED");
        let err = sessions
            .connect_session(authed(
                &a.api_key,
                pb::ConnectSessionRequest {
                    name: b.name.clone(),
                },
            ))
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::PermissionDenied);
        // and not on account-level calls
        for err in [
            sessions
                .list_sessions(authed(&a.api_key, pb::ListSessionsRequest::default()))
                .await
                .unwrap_err(),
            sessions
                .create_session(authed(
                    &a.api_key,
                    pb::CreateSessionRequest {
                        session: Some(pb::Session::default()),
                    },
                ))
                .await
                .unwrap_err(),
            sessions
                .delete_session(authed(
                    &a.api_key,
                    pb::DeleteSessionRequest {
                        name: a.name.clone(),
                    },
                ))
                .await
                .unwrap_err(),
            sessions
                .regenerate_api_key(authed(
                    &a.api_key,
                    pb::RegenerateApiKeyRequest {
                        name: a.name.clone(),
                    },
                ))
                .await
                .unwrap_err(),
        ] {
            assert_eq!(err.code(), tonic::Code::PermissionDenied, "{err:?}");
        }
        // the simulator's control API needs the admin token when it runs in-process
        let err = server
            .simulator()
            .list_accounts(authed(&a.api_key, pb::ListAccountsRequest::default()))
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::PermissionDenied);

        // a regenerated key replaces the old one at once
        let fresh = sessions
            .regenerate_api_key(admin(pb::RegenerateApiKeyRequest {
                name: a.name.clone(),
            }))
            .await
            .unwrap()
            .into_inner()
            .api_key;
        assert_ne!(fresh, a.api_key);
        let err = sessions
            .get_session(authed(&a.api_key, get(&a.name)))
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::Unauthenticated);
        assert!(
            sessions
                .get_session(authed(&fresh, get(&a.name)))
                .await
                .is_ok()
        );
        // b's key is untouched
        assert!(
            sessions
                .get_session(authed(&b.api_key, get(&b.name)))
                .await
                .is_ok()
        );
        // keys are stored hashed: the database never holds the key itself
        let store = wagate::store::Store::connect(&server.db.url, 1)
            .await
            .unwrap();
        let hashes: Vec<String> = sqlx::query_scalar("SELECT api_key_hash FROM sessions")
            .fetch_all(store.pool())
            .await
            .unwrap();
        assert!(
            hashes
                .iter()
                .all(|h| h.len() == 64 && *h != fresh && *h != b.api_key)
        );
        assert!(hashes.contains(&wagate::auth::hash_hex(&fresh)));
        store.close().await;

        // a deleted session's key stops working
        sessions
            .delete_session(admin(pb::DeleteSessionRequest {
                name: b.name.clone(),
            }))
            .await
            .unwrap();
        let err = sessions
            .get_session(authed(&b.api_key, get(&b.name)))
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::Unauthenticated);
        server.stop().await;
    }
}
