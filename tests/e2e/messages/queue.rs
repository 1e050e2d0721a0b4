//! The queue: failures and retries, idempotency, cancel and resend, bulk,
//! history queries, rate limits, quotas and pacing.

use std::time::Duration;

use tonic_types::StatusExt;
use wagate_proto::v1 as pb;
use wagate_tests::{admin, backends, error_reason, violated_fields};

use super::*;

fn millis(t: &Option<prost_types::Timestamp>) -> i64 {
    let t = t.as_ref().expect("timestamp");
    t.seconds * 1000 + i64::from(t.nanos) / 1_000_000
}

async fn fault(pair: &Pair, kind: pb::FaultType, count: i32) {
    pair.simulator()
        .inject_fault(admin(pb::InjectFaultRequest {
            phone_number: PHONE_A.into(),
            r#type: kind as i32,
            count,
            latency: None,
        }))
        .await
        .expect("inject fault");
}

#[tokio::test]
async fn failures_retry_or_fail_and_failed_messages_resend() {
    for backend in backends() {
        let pair = Pair::start(backend, |_| {}).await;
        let mut messages = pair.messages();

        // Not on WhatsApp: failed for good, with the reason.
        let nobody = send(&mut messages, &pair.a, text("+14155550999", "hello?"))
            .await
            .unwrap();
        let failed = wait_message(&messages, &nobody.name, pb::MessageStatus::Failed).await;
        let error = failed.error.expect("failure details");
        assert!(error.message.contains("not on WhatsApp"), "{error:?}");
        assert_eq!(error.code, tonic::Code::NotFound as i32);

        // Two transient failures, then it goes through with the same WhatsApp id.
        fault(&pair, pb::FaultType::SendFailure, 2).await;
        let flaky = send(&mut messages, &pair.a, text(PHONE_B, "flaky"))
            .await
            .unwrap();
        let sent = wait_message(&messages, &flaky.name, pb::MessageStatus::Delivered).await;
        assert_eq!(sent.attempt_count, 3);
        assert!(sent.error.is_none());

        // A permanent failure, then a resend.
        fault(&pair, pb::FaultType::PermanentFailure, 1).await;
        let refused = send(&mut messages, &pair.a, text(PHONE_B, "refused once"))
            .await
            .unwrap();
        wait_message(&messages, &refused.name, pb::MessageStatus::Failed).await;
        let err = messages
            .cancel_message(admin(pb::CancelMessageRequest {
                name: refused.name.clone(),
            }))
            .await
            .unwrap_err();
        assert_eq!(error_reason(&err), "MESSAGE_STATE_CONFLICT");
        let resent = messages
            .resend_message(admin(pb::ResendMessageRequest {
                name: refused.name.clone(),
            }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(resent.status, pb::MessageStatus::Queued as i32);
        wait_message(&messages, &refused.name, pb::MessageStatus::Delivered).await;
        let err = messages
            .resend_message(admin(pb::ResendMessageRequest {
                name: refused.name.clone(),
            }))
            .await
            .unwrap_err();
        assert_eq!(
            (err.code(), error_reason(&err).as_str()),
            (tonic::Code::FailedPrecondition, "MESSAGE_STATE_CONFLICT")
        );

        // The connection drops after the network accepted a message: the
        // worker asks before resending, so it is delivered once.
        fault(&pair, pb::FaultType::DisconnectOnSend, 1).await;
        let dropped = send(&mut messages, &pair.a, text(PHONE_B, "ack lost"))
            .await
            .unwrap();
        wait_message(&messages, &dropped.name, pb::MessageStatus::Delivered).await;
        let mut simulator = pair.simulator();
        let recorded = deliveries(&mut simulator, PHONE_A).await;
        let summaries: Vec<&str> = recorded.iter().map(|d| d.summary.as_str()).collect();
        assert_eq!(
            summaries,
            ["text: flaky", "text: refused once", "text: ack lost"]
        );
        pair.stop().await;
    }
}

#[tokio::test]
async fn request_ids_make_sends_idempotent_and_queued_messages_cancel() {
    for backend in backends() {
        let pair = Pair::start(backend, |_| {}).await;
        let mut messages = pair.messages();
        let request = |body: &str| pb::SendMessageRequest {
            parent: pair.a.clone(),
            message: Some(text(PHONE_B, body)),
            request_id: "order-42".into(),
        };
        let first = messages
            .send_message(admin(request("once")))
            .await
            .unwrap()
            .into_inner();
        let again = messages
            .send_message(admin(request("once")))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(first.id, again.id);
        let err = messages
            .send_message(admin(request("different")))
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::AlreadyExists);
        wait_message(&messages, &first.name, pb::MessageStatus::Delivered).await;
        let replay = messages
            .send_message(admin(request("once")))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(replay.id, first.id);
        let mut simulator = pair.simulator();
        assert_eq!(
            deliveries(&mut simulator, PHONE_A).await.len(),
            1,
            "sent exactly once"
        );

        // Messages wait in the queue while the session is disconnected.
        let mut sessions = pair.server.sessions();
        sessions
            .disconnect_session(admin(pb::DisconnectSessionRequest {
                name: pair.a.clone(),
            }))
            .await
            .unwrap();
        let waiting = send(&mut messages, &pair.a, text(PHONE_B, "never"))
            .await
            .unwrap();
        let kept = send(&mut messages, &pair.a, text(PHONE_B, "later"))
            .await
            .unwrap();
        let cancelled = messages
            .cancel_message(admin(pb::CancelMessageRequest {
                name: waiting.name.clone(),
            }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(cancelled.status, pb::MessageStatus::Cancelled as i32);
        let err = messages
            .cancel_message(admin(pb::CancelMessageRequest {
                name: waiting.name.clone(),
            }))
            .await
            .unwrap_err();
        assert_eq!(error_reason(&err), "MESSAGE_STATE_CONFLICT");
        let queue = list(
            &mut messages,
            &pair.a,
            "(status = QUEUED OR status = IN_PROGRESS)",
        )
        .await;
        assert_eq!(
            queue.iter().map(|m| m.body.as_str()).collect::<Vec<_>>(),
            ["later"]
        );
        sessions
            .connect_session(admin(pb::ConnectSessionRequest {
                name: pair.a.clone(),
            }))
            .await
            .unwrap();
        wait_message(&messages, &kept.name, pb::MessageStatus::Delivered).await;
        let summaries: Vec<String> = deliveries(&mut simulator, PHONE_A)
            .await
            .into_iter()
            .map(|d| d.summary)
            .collect();
        assert_eq!(summaries, ["text: once", "text: later"]);
        pair.stop().await;
    }
}

#[tokio::test]
async fn bulk_sends_and_history_queries() {
    for backend in backends() {
        let pair = Pair::start(backend, |_| {}).await;
        let mut messages = pair.messages();
        let item = |chat: &str, body: &str| pb::SendMessageRequest {
            parent: String::new(),
            message: Some(text(chat, body)),
            request_id: String::new(),
        };
        let response = messages
            .send_bulk(admin(pb::SendBulkRequest {
                parent: pair.a.clone(),
                requests: vec![item(PHONE_B, "b1"), item("bogus", "x"), item(PHONE_C, "c1")],
            }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!((response.queued_count, response.failed_count), (2, 1));
        let Some(pb::send_bulk_result::Result::Error(error)) = &response.results[1].result else {
            panic!("{response:?}")
        };
        assert_eq!(error.code, tonic::Code::InvalidArgument as i32);
        let status = tonic::Status::with_details(
            tonic::Code::InvalidArgument,
            "",
            prost::Message::encode_to_vec(error).into(),
        );
        assert_eq!(violated_fields(&status), ["requests[1].message.chat"]);
        let names: Vec<String> = response
            .results
            .iter()
            .filter_map(|r| match &r.result {
                Some(pb::send_bulk_result::Result::Message(m)) => Some(m.name.clone()),
                _ => None,
            })
            .collect();
        for name in &names {
            wait_message(&messages, name, pb::MessageStatus::Delivered).await;
        }
        // Whole-call errors.
        let err = messages
            .send_bulk(admin(pb::SendBulkRequest {
                parent: pair.a.clone(),
                requests: vec![],
            }))
            .await
            .unwrap_err();
        assert_eq!(violated_fields(&err), ["requests"]);
        let mut foreign = item(PHONE_B, "x");
        foreign.parent = pair.b.clone();
        let err = messages
            .send_bulk(admin(pb::SendBulkRequest {
                parent: pair.a.clone(),
                requests: vec![foreign],
            }))
            .await
            .unwrap_err();
        assert_eq!(violated_fields(&err), ["requests[0].parent"]);

        // History: filters, order, pages, totals.
        let to_c = list(&mut messages, &pair.a, "chat = +14155550203").await;
        assert_eq!(
            to_c.iter().map(|m| m.body.as_str()).collect::<Vec<_>>(),
            ["c1"]
        );
        let outbound = list(
            &mut messages,
            &pair.a,
            "direction = OUTBOUND AND (status = DELIVERED OR status = READ)",
        )
        .await;
        assert_eq!(outbound.len(), 2);
        let future = list(
            &mut messages,
            &pair.a,
            "create_time > \"2100-01-01T00:00:00Z\"",
        )
        .await;
        assert!(future.is_empty());
        let page = messages
            .list_messages(admin(pb::ListMessagesRequest {
                parent: pair.a.clone(),
                page_size: 1,
                ..Default::default()
            }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!((page.messages.len(), page.total_size), (1, 2));
        assert_eq!(page.messages[0].body, "c1", "newest first by default");
        let second = messages
            .list_messages(admin(pb::ListMessagesRequest {
                parent: pair.a.clone(),
                page_size: 1,
                page_token: page.next_page_token.clone(),
                ..Default::default()
            }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(second.messages[0].body, "b1");
        let err = messages
            .list_messages(admin(pb::ListMessagesRequest {
                parent: pair.a.clone(),
                page_size: 1,
                page_token: page.next_page_token.clone(),
                filter: "direction = OUTBOUND".into(),
                ..Default::default()
            }))
            .await
            .unwrap_err();
        assert_eq!(violated_fields(&err), ["page_token"]);
        for (filter, order) in [("status = NOPE", ""), ("colour = red", ""), ("", "name")] {
            let err = messages
                .list_messages(admin(pb::ListMessagesRequest {
                    parent: pair.a.clone(),
                    filter: filter.into(),
                    order_by: order.into(),
                    ..Default::default()
                }))
                .await
                .unwrap_err();
            assert_eq!(err.code(), tonic::Code::InvalidArgument, "{filter} {order}");
        }
        // Request ids inside a bulk: a repeat within the call and across calls
        // returns the first message; a reused id with other content is refused;
        // the queued items keep their order.
        let keyed = |key: &str, body: &str| pb::SendMessageRequest {
            request_id: key.into(),
            ..item(PHONE_B, body)
        };
        let bulk = |requests: Vec<pb::SendMessageRequest>| {
            let mut messages = messages.clone();
            let parent = pair.a.clone();
            async move {
                messages
                    .send_bulk(admin(pb::SendBulkRequest { parent, requests }))
                    .await
                    .unwrap()
                    .into_inner()
                    .results
                    .into_iter()
                    .map(|r| match r.result {
                        Some(pb::send_bulk_result::Result::Message(m)) => Ok((m.name, m.body)),
                        Some(pb::send_bulk_result::Result::Error(e)) => Err(e.code),
                        None => panic!("empty bulk result"),
                    })
                    .collect::<Vec<_>>()
            }
        };
        let first = bulk(vec![
            keyed("k1", "one"),
            item(PHONE_B, "two"),
            keyed("k1", "one"),
            keyed("k2", "three"),
            item(PHONE_B, "four"),
        ])
        .await;
        let ok: Vec<(String, String)> = first.iter().map(|r| r.clone().unwrap()).collect();
        assert_eq!(
            ok[0], ok[2],
            "a repeated key within one bulk is one message"
        );
        let ids: Vec<i64> = [0, 1, 3, 4]
            .iter()
            .map(|&i| ok[i].0.rsplit('/').next().unwrap().parse().unwrap())
            .collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
        assert_eq!(
            [0, 1, 3, 4].map(|i| ok[i].1.as_str()),
            ["one", "two", "three", "four"]
        );
        let again = bulk(vec![keyed("k2", "three"), keyed("k1", "changed")]).await;
        assert_eq!(again[0], Ok(ok[3].clone()));
        assert_eq!(again[1], Err(tonic::Code::AlreadyExists as i32));
        pair.stop().await;
    }
}

#[tokio::test]
async fn rate_limits_quotas_and_account_protection() {
    let pair = Pair::start(wagate_tests::Backend::Sqlite, |config| {
        config.queue.rate_limit = 3;
        config.queue.rate_window = Duration::from_secs(60);
    })
    .await;
    let mut messages = pair.messages();
    for i in 0..3 {
        let response = messages
            .send_message(admin(pb::SendMessageRequest {
                parent: pair.a.clone(),
                message: Some(text(PHONE_B, &format!("r{i}"))),
                request_id: String::new(),
            }))
            .await
            .unwrap();
        let remaining = response
            .metadata()
            .get("x-ratelimit-remaining")
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        assert_eq!(remaining, (2 - i).to_string());
    }
    let err = send(&mut messages, &pair.a, text(PHONE_B, "too many"))
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), error_reason(&err).as_str()),
        (tonic::Code::ResourceExhausted, "RATE_LIMITED")
    );
    let retry = err
        .get_details_retry_info()
        .and_then(|r| r.retry_delay)
        .expect("retry info");
    assert!(retry > Duration::ZERO && retry <= Duration::from_secs(60));
    assert_eq!(err.metadata().get("x-ratelimit-remaining").unwrap(), "0");
    assert_eq!(err.metadata().get("x-ratelimit-limit").unwrap(), "3");
    // Another session has its own budget.
    send(&mut messages, &pair.b, text(PHONE_A, "from B"))
        .await
        .unwrap();
    pair.stop().await;

    // Quotas count messages, over a (short, for the test) window.
    let pair = Pair::start(wagate_tests::Backend::Sqlite, |config| {
        config.queue.hourly_quota = 2;
        config.queue.hour_window = Duration::from_secs(2);
    })
    .await;
    let mut messages = pair.messages();
    send(&mut messages, &pair.a, text(PHONE_B, "q1"))
        .await
        .unwrap();
    send(&mut messages, &pair.a, text(PHONE_B, "q2"))
        .await
        .unwrap();
    let err = send(&mut messages, &pair.a, text(PHONE_B, "q3"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::ResourceExhausted);
    assert!(err.message().contains("hourly quota"), "{}", err.message());
    tokio::time::sleep(Duration::from_millis(2200)).await;
    send(&mut messages, &pair.a, text(PHONE_B, "q3 later"))
        .await
        .unwrap();
    pair.stop().await;

    // Account protection spaces sends out.
    let interval = Duration::from_millis(400);
    let pair = Pair::start(wagate_tests::Backend::Sqlite, |config| {
        config.queue.protection_interval = interval
    })
    .await;
    let mut messages = pair.messages();
    let mut names = Vec::new();
    for i in 0..3 {
        names.push(
            send(&mut messages, &pair.a, text(PHONE_B, &format!("p{i}")))
                .await
                .unwrap()
                .name,
        );
    }
    let mut sent_at = Vec::new();
    for name in &names {
        sent_at.push(millis(
            &wait_message(&messages, name, pb::MessageStatus::Delivered)
                .await
                .send_time,
        ));
    }
    for pair_of in sent_at.windows(2) {
        assert!(
            pair_of[1] - pair_of[0] >= interval.as_millis() as i64 - 5,
            "sends {sent_at:?} closer than {interval:?}"
        );
    }
    pair.stop().await;
}

#[tokio::test]
async fn unlogged_sessions_keep_status_but_not_content_and_typing_delays_sends() {
    for backend in backends() {
        let delay = Duration::from_millis(300);
        let pair = Pair::start(backend, |config| {
            config.queue.typing_delay_min = delay;
            config.queue.typing_delay_max = delay;
        })
        .await;
        let mut sessions = pair.server.sessions();
        for name in [&pair.a, &pair.b] {
            sessions
                .update_session(admin(pb::UpdateSessionRequest {
                    session: Some(pb::Session {
                        name: name.clone(),
                        log_messages: Some(false),
                        ..Default::default()
                    }),
                    update_mask: Some(prost_types::FieldMask {
                        paths: vec!["log_messages".into()],
                    }),
                }))
                .await
                .unwrap();
        }
        let mut messages = pair.messages();
        let queued = send(&mut messages, &pair.a, text(PHONE_B, "secret"))
            .await
            .unwrap();
        wait_message(&messages, &queued.name, pb::MessageStatus::Delivered).await;
        // The content goes once the worker has recorded the server's ack.
        let sent =
            wagate_tests::eventually("content dropped once sent", Duration::from_secs(10), || {
                let mut messages = messages.clone();
                let name = queued.name.clone();
                async move {
                    let message = get(&mut messages, &name).await;
                    (message.content.is_none() && message.body.is_empty()).then_some(message)
                }
            })
            .await;
        assert_eq!(sent.status, pb::MessageStatus::Delivered as i32);
        // The human-like pause (typing shown) came before the send.
        assert!(
            millis(&sent.send_time) - millis(&sent.create_time) >= delay.as_millis() as i64 - 5
        );
        let inbound = wait_inbound(&messages, &pair.b, &sent.whatsapp_id).await;
        assert!(
            inbound.content.is_none() && inbound.body.is_empty(),
            "{inbound:?}"
        );
        assert_eq!(inbound.status, pb::MessageStatus::Received as i32);
        // Without its content a failed message cannot be resent.
        fault(&pair, pb::FaultType::PermanentFailure, 1).await;
        let failed = send(&mut messages, &pair.a, text(PHONE_B, "lost"))
            .await
            .unwrap();
        wait_message(&messages, &failed.name, pb::MessageStatus::Failed).await;
        let err = messages
            .resend_message(admin(pb::ResendMessageRequest {
                name: failed.name.clone(),
            }))
            .await
            .unwrap_err();
        assert!(err.message().contains("log_messages"), "{}", err.message());
        pair.stop().await;
    }
}
