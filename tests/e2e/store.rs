//! The store directly, on both backends: what the accept path answers is what
//! it stored, and SQLite's read connections refuse writes (every write goes
//! through the single writer connection).

use wagate::session::model::{LinkedUser, Settings};
use wagate::store::{Backend as StoreBackend, NewOutbound, Queued, Store};
use wagate_proto::v1 as pb;
use wagate_tests::{Backend, TempDir, TestDb, backends};

/// A migrated store on a fresh database (the directory holds SQLite's file).
async fn fresh_store(backend: Backend, name: &str) -> (TempDir, TestDb, Store) {
    let dir = TempDir::new(name);
    let db = TestDb::create(backend, dir.path()).await;
    let store = Store::connect(&db.url, 2).await.expect("connect");
    store.migrate().await.expect("migrate");
    (dir, db, store)
}

fn outbound(session: i64, text: &str, request_id: Option<&str>) -> NewOutbound {
    NewOutbound {
        session_id: session,
        chat: "15550001111@s.whatsapp.net".into(),
        chat_type: 1,
        kind: "text".into(),
        body: text.into(),
        payload: pb::Message {
            chat: "15550001111@s.whatsapp.net".into(),
            content: Some(pb::message::Content::Text(text.into())),
            ..Default::default()
        },
        request_id: request_id.map(str::to_owned),
        request_hash: request_id.map(|id| format!("hash-{id}")),
    }
}

async fn linked_session(store: &Store, i: usize) -> i64 {
    let settings = Settings {
        display_name: format!("store {i}"),
        phone_number: format!("+1415555020{i}"),
        ..Default::default()
    };
    let session = store
        .insert_session(&settings, &format!("store-hash-{i}"), "secret")
        .await
        .expect("insert session");
    let user = LinkedUser {
        jid: format!("1415555020{i}:1@s.whatsapp.net"),
        ..Default::default()
    };
    store.set_user(session.id, Some(&user)).await.unwrap();
    session.id
}

#[tokio::test(flavor = "multi_thread")]
async fn a_queued_batch_answers_exactly_the_stored_rows() {
    for backend in backends() {
        let (_dir, db, store) = fresh_store(backend, "store-batch").await;
        let (a, b) = (
            linked_session(&store, 1).await,
            linked_session(&store, 2).await,
        );
        // Two sessions interleaved, with and without request ids, one id
        // reused across sessions (ids are per session).
        let batch = vec![
            outbound(a, "a1", None),
            outbound(b, "b1", Some("same")),
            outbound(a, "a2", Some("same")),
            outbound(b, "b2", None),
            outbound(a, "a3", None),
        ];
        let queued = store.queue_messages(&batch).await.expect("queue");
        assert_eq!(queued.len(), batch.len());
        let mut ids = Vec::new();
        for (input, result) in batch.iter().zip(&queued) {
            let Queued::New(record) = result else {
                panic!("{backend:?}: {result:?} for {input:?}");
            };
            assert_eq!(record.session_id, input.session_id);
            assert_eq!(record.body, input.body, "{backend:?}: matched to its input");
            let stored = store
                .get_message(record.session_id, record.id)
                .await
                .unwrap()
                .expect("stored");
            assert_eq!(&stored, record, "{backend:?}: answer equals the row");
            ids.push((record.session_id, record.id));
        }
        // Within a session, ids follow batch order.
        for session in [a, b] {
            let of: Vec<i64> = ids
                .iter()
                .filter(|(s, _)| *s == session)
                .map(|(_, id)| *id)
                .collect();
            assert!(of.windows(2).all(|w| w[0] < w[1]), "{backend:?}: {of:?}");
        }
        // The same request id again in a batch: the earlier message, not a new one.
        let again = store
            .queue_messages(&[outbound(a, "a2", Some("same")), outbound(a, "a4", None)])
            .await
            .unwrap();
        match &again[0] {
            Queued::Repeated {
                existing,
                same_request,
            } => {
                assert_eq!(existing.body, "a2");
                assert!(same_request);
            }
            other => panic!("{backend:?}: {other:?}"),
        }
        assert!(matches!(&again[1], Queued::New(r) if r.body == "a4"));
        // No row for a session that does not exist; its neighbour is queued.
        let unknown = store
            .queue_messages(&[outbound(9_999, "x", None), outbound(b, "b3", None)])
            .await
            .unwrap();
        assert!(
            matches!(&unknown[0], Queued::NoSender),
            "{backend:?}: {unknown:?}"
        );
        assert!(
            matches!(&unknown[1], Queued::New(r) if r.body == "b3"),
            "{backend:?}"
        );

        if store.backend() == StoreBackend::Sqlite {
            let refused = sqlx::query("DELETE FROM messages")
                .execute(store.pool())
                .await
                .expect_err("the read pool must refuse writes");
            assert!(
                refused.to_string().contains("readonly")
                    || refused.to_string().contains("read-only")
                    || refused.to_string().contains("query_only"),
                "{refused}"
            );
        }
        store.close().await;
        db.drop_database().await;
    }
}

#[tokio::test]
async fn a_contact_known_by_lid_moves_to_its_phone_jid_and_merges_fields() {
    use wagate::store::ContactPatch;
    for backend in backends() {
        let (_dir, db, store) = fresh_store(backend, "store-contacts").await;
        let session = linked_session(&store, 3).await;
        let lid = "123456789012345@lid";
        let first = store
            .merge_contact(
                session,
                &ContactPatch {
                    lid: Some(lid.into()),
                    push_name: Some("Dana".into()),
                    ..Default::default()
                },
            )
            .await
            .unwrap()
            .unwrap();
        assert!(first.before.is_none() && first.changed());
        assert_eq!(
            first.after.jid, lid,
            "keyed by LID while the number is unknown"
        );
        assert!(store.phone_for_lid(session, lid).await.unwrap().is_none());

        // The number arrives with a name: one row, keyed by the phone JID.
        let second = store
            .merge_contact(
                session,
                &ContactPatch {
                    phone_number: Some("+14155550999".into()),
                    lid: Some(lid.into()),
                    full_name: Some("Dana Scully".into()),
                    ..Default::default()
                },
            )
            .await
            .unwrap()
            .unwrap();
        assert_eq!(second.after.jid, "14155550999@s.whatsapp.net");
        assert_eq!(second.after.push_name, "Dana", "kept from before");
        assert_eq!(second.after.full_name, "Dana Scully");
        assert_eq!(second.after.create_time, first.after.create_time);
        let (all, total) = store
            .list_contacts(session, &[], &[], None, 10)
            .await
            .unwrap();
        assert_eq!((all.len(), total), (1, 1), "{all:?}");
        assert_eq!(
            store.phone_for_lid(session, lid).await.unwrap().as_deref(),
            Some("+14155550999")
        );
        let by_lid = store.contact(session, lid).await.unwrap().unwrap();
        assert_eq!(by_lid.jid, "14155550999@s.whatsapp.net");

        // The same facts again change nothing; an empty push name never erases one.
        let again = store
            .merge_contact(
                session,
                &ContactPatch {
                    phone_number: Some("+14155550999".into()),
                    push_name: Some(String::new()),
                    ..Default::default()
                },
            )
            .await
            .unwrap()
            .unwrap();
        assert!(!again.changed(), "{:?}", again.after);
        assert_eq!(again.after.push_name, "Dana");
        store.close().await;
        db.drop_database().await;
    }
}

/// Directory and chat changes commit with the events describing them: a
/// transaction dropped before commit (a crash) leaves neither.
#[tokio::test]
async fn a_store_transaction_keeps_changes_and_their_events_together() {
    use wagate::store::{ContactPatch, NewEvent};
    for backend in backends() {
        let (_dir, db, store) = fresh_store(backend, "store-tx").await;
        let session = linked_session(&store, 4).await;
        let group = "120363000000000042@g.us";
        let patch = ContactPatch {
            phone_number: Some("+14155550777".into()),
            push_name: Some("Eve".into()),
            ..Default::default()
        };
        let event = NewEvent {
            session_id: session,
            event_type: "groups.upsert".into(),
            payload: Vec::new(),
            webhook: false,
            create_time: 1,
        };
        let head = store.event_head().await.unwrap();

        let mut abandoned = store.begin().await.unwrap();
        abandoned
            .put_group(session, group, b"meta", None)
            .await
            .unwrap();
        abandoned.merge_contact(session, &patch).await.unwrap();
        drop(abandoned);
        assert!(store.group(session, group).await.unwrap().is_none());
        assert!(
            store
                .contact(session, "14155550777@s.whatsapp.net")
                .await
                .unwrap()
                .is_none()
        );
        assert_eq!(store.event_head().await.unwrap(), head);

        let mut tx = store.begin().await.unwrap();
        tx.put_group(session, group, b"meta", None).await.unwrap();
        tx.merge_contact(session, &patch).await.unwrap();
        let cursors = tx.commit_with_events(&[event]).await.unwrap();
        assert_eq!(cursors.len(), 1);
        assert_eq!(store.event_head().await.unwrap(), cursors[0]);
        assert!(cursors[0] > head);
        assert_eq!(
            store.group(session, group).await.unwrap().unwrap().metadata,
            b"meta"
        );
        assert!(
            store
                .contact(session, "14155550777@s.whatsapp.net")
                .await
                .unwrap()
                .is_some()
        );
        store.close().await;
        db.drop_database().await;
    }
}

/// A send whose row the database refuses fails alone: the group commit it
/// shared is retried job by job, so its neighbours are stored and answered.
#[tokio::test(flavor = "multi_thread")]
async fn a_refused_send_in_a_group_commit_fails_alone() {
    use sqlx::Connection as _;
    for backend in backends() {
        let (_dir, db, store) = fresh_store(backend, "store-poison").await;
        let session = linked_session(&store, 5).await;
        // The database itself refuses one row (a trigger), and a second
        // connection holds the write lock so sends pile up into one batch.
        let mut blocker = sqlx::AnyConnection::connect(&db.url).await.unwrap();
        let (poison, lock) = match backend {
            Backend::Sqlite => (
                vec![
                    "CREATE TRIGGER poison BEFORE INSERT ON messages WHEN NEW.body = 'poison' \
                      BEGIN SELECT RAISE(ABORT, 'poisoned row'); END",
                ],
                vec!["BEGIN IMMEDIATE"],
            ),
            Backend::Postgres => (
                vec![
                    "CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
                     IF NEW.body = 'poison' THEN RAISE EXCEPTION 'poisoned row'; END IF; \
                     RETURN NEW; END $$",
                    "CREATE TRIGGER poison BEFORE INSERT ON messages FOR EACH ROW \
                     EXECUTE FUNCTION poison()",
                ],
                vec!["BEGIN", "LOCK TABLE messages IN EXCLUSIVE MODE"],
            ),
        };
        for sql in poison.into_iter().chain(lock) {
            sqlx::raw_sql(sql).execute(&mut blocker).await.unwrap();
        }
        let send = |text: String| {
            let store = store.clone();
            tokio::spawn(async move { store.accept(outbound(session, &text, None)).await })
        };
        // The first sends take what the accept path writes at once (one
        // batch on SQLite, one per connection on PostgreSQL) and wait on the
        // lock; the rest, the poisoned one among them, gather meanwhile.
        let mut tasks = vec![send("early 0".into()), send("early 1".into())];
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        for i in 0..20 {
            tasks.push(send(if i == 10 {
                "poison".into()
            } else {
                format!("late {i}")
            }));
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        sqlx::raw_sql("COMMIT").execute(&mut blocker).await.unwrap();
        let (mut stored, mut failed) = (0, 0);
        for task in tasks {
            match task.await.unwrap() {
                Ok(Queued::New(record)) => {
                    assert_ne!(record.body, "poison", "{backend:?}");
                    stored += 1;
                }
                Ok(other) => panic!("{backend:?}: {other:?}"),
                // The database's words stay in the server log.
                Err(err) => {
                    assert_eq!(
                        err.code,
                        wagate::error::Code::Internal,
                        "{backend:?}: {err}"
                    );
                    failed += 1;
                }
            }
        }
        assert_eq!(
            (stored, failed),
            (21, 1),
            "{backend:?}: only the refused send fails"
        );
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM messages")
            .fetch_one(&mut blocker)
            .await
            .unwrap();
        assert_eq!(count, 21, "{backend:?}: and nothing else");
        let _ = blocker.close().await;
        store.close().await;
        db.drop_database().await;
    }
}
