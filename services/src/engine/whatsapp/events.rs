//! The mapping from whatsapp-rust's events to our engine events: a pure
//! function, tested with constructed library events.

use std::time::{Duration, SystemTime};

use wagate_proto::v1::PresenceState;
use whatsapp_rust::Jid;
use whatsapp_rust::types::events::{ConnectFailureReason, Event};
use whatsapp_rust::types::presence::{ChatPresence, ChatPresenceMedia};
use whatsapp_rust::wacore_binary::JidExt;

use super::directory::{self, Me};
use super::groups;
use super::messaging::inbound::{message_event, receipt_event};
use super::{calls, chats};
use crate::engine::{DirectoryEvent, EngineEvent};
use crate::session::model::LinkedUser;

/// What one library event means for the session.
#[derive(Debug, PartialEq)]
pub enum Mapped {
    /// Report this event.
    Report(EngineEvent),
    /// Report these events, in order (a batch of received messages).
    ReportAll(Vec<EngineEvent>),
    /// The connection is over for good; report this final event after the
    /// client has stopped (and, for a logout, its credentials are wiped).
    Terminal(Terminal),
    /// Nothing our sessions track.
    Ignore,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Terminal {
    /// The QR codes ran out with nobody scanning.
    QrCodesExhausted,
    /// WhatsApp unlinked the device: wipe the credentials.
    LoggedOut { reason: String },
    /// WhatsApp ended the connection; credentials stay.
    Stopped { reason: String },
}

impl Terminal {
    pub fn into_event(self) -> EngineEvent {
        match self {
            Terminal::QrCodesExhausted => EngineEvent::QrCodesExhausted,
            Terminal::LoggedOut { reason } => EngineEvent::LoggedOut { reason },
            Terminal::Stopped { reason } => EngineEvent::Stopped { reason },
        }
    }
}

/// The linked account as our sessions show it, from a device JID.
pub fn linked_user(device: &Jid, lid: Option<&Jid>, push_name: &str) -> LinkedUser {
    LinkedUser {
        jid: device.to_string(),
        lid: lid.map(|l| l.to_non_ad().to_string()).unwrap_or_default(),
        push_name: push_name.to_owned(),
        phone_number: format!("+{}", device.user),
    }
}

fn failure(reason: &ConnectFailureReason) -> String {
    let meaning = match reason {
        ConnectFailureReason::Generic => "bad request",
        ConnectFailureReason::LoggedOut => "logged out",
        ConnectFailureReason::TempBanned => "temporarily banned",
        ConnectFailureReason::AccountLocked => "account locked",
        ConnectFailureReason::UnknownLogout => "logged out for an unknown reason",
        ConnectFailureReason::ClientOutdated => "client outdated",
        ConnectFailureReason::BadUserAgent => "bad user agent",
        ConnectFailureReason::CatExpired | ConnectFailureReason::CatInvalid => {
            "invalid client token"
        }
        ConnectFailureReason::NotFound => "not found",
        ConnectFailureReason::ClientUnknown => "client unknown",
        ConnectFailureReason::InternalServerError => "WhatsApp server error",
        ConnectFailureReason::Experimental => "experimental failure",
        ConnectFailureReason::ServiceUnavailable => "WhatsApp unavailable",
        _ => "unknown failure",
    };
    format!("{} {meaning}", reason.code())
}

/// Maps one library event. `me` gives the linked account when the client
/// reports Connected (the event carries no payload) and tells quotes and
/// reactions of this account's messages apart.
pub fn map(event: &Event, me: impl FnOnce() -> Option<LinkedUser>, now: SystemTime) -> Mapped {
    match event {
        Event::Messages(batch) => {
            let me = me();
            let events: Vec<EngineEvent> = batch
                .iter()
                .filter_map(|received| {
                    message_event(&received.message, &received.info, me.as_ref())
                })
                .collect();
            if events.is_empty() {
                Mapped::Ignore
            } else {
                Mapped::ReportAll(events)
            }
        }
        Event::Receipt(receipt) => match receipt_event(receipt) {
            Some(event) => Mapped::Report(event),
            None => Mapped::Ignore,
        },
        Event::PairingQrCode(qr) => Mapped::Report(EngineEvent::QrCode {
            code: qr.code.clone(),
            expire_time: now + qr.timeout,
        }),
        Event::PairingQrCodesExhausted(exhausted) if exhausted.disconnected => {
            Mapped::Terminal(Terminal::QrCodesExhausted)
        }
        Event::PairingQrCodesExhausted(_) => Mapped::Report(EngineEvent::Warning {
            message: "QR codes exhausted; still waiting for the pair code to be entered".into(),
        }),
        Event::PairSuccess(paired) => Mapped::Report(EngineEvent::Paired {
            user: Box::new(linked_user(
                &paired.id,
                Some(&paired.lid),
                &paired.business_name,
            )),
        }),
        Event::PairError(error) => Mapped::Report(EngineEvent::Warning {
            message: format!("linking failed: {}", error.error),
        }),
        Event::PairingCodeError(error) => {
            let backoff = error
                .backoff
                .map(|b| format!(" (retry after {} s)", b.as_secs()))
                .unwrap_or_default();
            Mapped::Report(EngineEvent::Warning {
                message: format!("pair code failed: {}{backoff}", error.error),
            })
        }
        Event::Connected(_) => match me() {
            Some(user) => Mapped::Report(EngineEvent::Connected {
                user: Box::new(user),
            }),
            None => Mapped::Report(EngineEvent::Warning {
                message: "connected, but the client reports no linked account".into(),
            }),
        },
        Event::Disconnected(disconnected) => Mapped::Report(EngineEvent::Disconnected {
            reason: format!("connection to WhatsApp lost ({:?})", disconnected.reason),
            retry_in: None,
        }),
        Event::LoggedOut(logged_out) => {
            let when = if logged_out.on_connect {
                "at login"
            } else {
                "while connected"
            };
            Mapped::Terminal(Terminal::LoggedOut {
                reason: format!(
                    "WhatsApp unlinked this device {when} ({}); link it again with a new scan",
                    failure(&logged_out.reason)
                ),
            })
        }
        Event::StreamReplaced(_) => Mapped::Terminal(Terminal::Stopped {
            reason: "another client connected with this session's credentials (stream replaced); \
                     connect again to take the session back"
                .into(),
        }),
        Event::TemporaryBan(ban) => {
            let seconds = ban.expire.num_seconds().max(0) as u64;
            let until = crate::api::system_time_ms(now + Duration::from_secs(seconds));
            Mapped::Terminal(Terminal::Stopped {
                reason: format!(
                    "temporarily banned by WhatsApp ({}, code {}): the ban lifts in {} s (at {} ms since the epoch){}",
                    ban.code,
                    ban.code.code(),
                    seconds,
                    until,
                    ban.message
                        .as_deref()
                        .map(|m| format!("; {m}"))
                        .unwrap_or_default()
                ),
            })
        }
        Event::ConnectFailure(refused) if refused.reason.should_reconnect() => {
            Mapped::Report(EngineEvent::ConnectFailed {
                reason: format!(
                    "WhatsApp refused the connection ({})",
                    failure(&refused.reason)
                ),
                retry_in: None,
            })
        }
        Event::ConnectFailure(refused) => Mapped::Terminal(Terminal::Stopped {
            reason: format!(
                "WhatsApp refused the connection ({}){}",
                failure(&refused.reason),
                refused
                    .message
                    .as_deref()
                    .map(|m| format!(": {m}"))
                    .unwrap_or_default()
            ),
        }),
        Event::ClientOutdated(_) => Mapped::Terminal(Terminal::Stopped {
            reason: "WhatsApp says this client version is outdated (405); update wagate".into(),
        }),
        Event::MarkChatAsReadUpdate(update) => chats::marked_read(&update.jid, update.action.read)
            .map(Mapped::Report)
            .unwrap_or(Mapped::Ignore),
        Event::DeleteChatUpdate(update) => Mapped::Report(chats::deleted(&update.jid)),
        Event::IncomingCall(call) => calls::offer(&call.from, call.timestamp, &call.action)
            .map(Mapped::Report)
            .unwrap_or(Mapped::Ignore),
        Event::MissedCall(missed) => Mapped::Report(calls::missed(
            &missed.from,
            &missed.call_id,
            missed.timestamp,
        )),
        Event::ChatPresence(update) => {
            let state = match (&update.state, &update.media) {
                (ChatPresence::Composing, ChatPresenceMedia::Audio) => PresenceState::Recording,
                (ChatPresence::Composing, _) => PresenceState::Composing,
                (ChatPresence::Paused, _) => PresenceState::Paused,
            };
            Mapped::Report(EngineEvent::Presence {
                chat: update.source.chat.to_string(),
                participant: update.source.sender.to_non_ad().to_string(),
                state,
                last_seen: None,
            })
        }
        Event::Presence(update) => Mapped::Report(EngineEvent::Presence {
            chat: update.from.to_non_ad().to_string(),
            participant: String::new(),
            state: if update.unavailable {
                PresenceState::Unavailable
            } else {
                PresenceState::Available
            },
            last_seen: update.last_seen.map(SystemTime::from),
        }),
        Event::GroupUpdate(update) => {
            let me = me().map(|user| Me::from_linked(&user)).unwrap_or_default();
            directory_event(groups::group_event(update, &me))
        }
        Event::PictureUpdate(update) if update.jid.is_group() => {
            directory_event(Some(groups::group_picture_event(update)))
        }
        Event::PictureUpdate(update) => {
            directory_event(Some(directory::contact_picture_event(update)))
        }
        Event::PushNameUpdate(update) => directory_event(Some(directory::push_name_event(update))),
        Event::ContactUpdate(update) => {
            directory_event(Some(directory::contact_action_event(update)))
        }
        Event::UserAboutUpdate(update) => directory_event(Some(directory::about_event(update))),
        Event::BusinessStatusUpdate(update) => directory_event(directory::business_event(update)),
        Event::Notification(node) => directory_event(directory::blocklist_event(node.get())),
        _ => Mapped::Ignore,
    }
}

fn directory_event(event: Option<DirectoryEvent>) -> Mapped {
    match event {
        Some(event) => Mapped::Report(EngineEvent::Directory(event)),
        None => Mapped::Ignore,
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use std::sync::Arc;

    use whatsapp_rust::buffa::MessageField;
    use whatsapp_rust::chrono::{DateTime, Duration as ChronoDuration};
    use whatsapp_rust::transport::DisconnectReason;
    use whatsapp_rust::types::events::*;
    use whatsapp_rust::types::message::{MessageInfo, MessageSource};
    use whatsapp_rust::types::presence::{ChatPresence, ChatPresenceMedia, ReceiptType};
    use whatsapp_rust::waproto::whatsapp as wa;

    use super::*;

    fn now() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000)
    }

    fn me() -> Option<LinkedUser> {
        Some(LinkedUser {
            jid: "15551234567:7@s.whatsapp.net".into(),
            lid: "100000012345678@lid".into(),
            push_name: "Shop".into(),
            phone_number: "+15551234567".into(),
        })
    }

    #[test]
    fn chat_presences_and_presences_become_presence_events() {
        let typing = |state, media| {
            Event::ChatPresence(
                ChatPresenceUpdate::builder()
                    .source(MessageSource {
                        chat: "120363000000000001@g.us".parse().unwrap(),
                        sender: "15557654321:3@s.whatsapp.net".parse().unwrap(),
                        is_group: true,
                        ..Default::default()
                    })
                    .state(state)
                    .media(media)
                    .build(),
            )
        };
        let expect = |state| {
            Mapped::Report(EngineEvent::Presence {
                chat: "120363000000000001@g.us".into(),
                participant: "15557654321@s.whatsapp.net".into(),
                state,
                last_seen: None,
            })
        };
        assert_eq!(
            map(
                &typing(ChatPresence::Composing, ChatPresenceMedia::Text),
                me,
                now()
            ),
            expect(PresenceState::Composing)
        );
        assert_eq!(
            map(
                &typing(ChatPresence::Composing, ChatPresenceMedia::Audio),
                me,
                now()
            ),
            expect(PresenceState::Recording)
        );
        assert_eq!(
            map(
                &typing(ChatPresence::Paused, ChatPresenceMedia::Text),
                me,
                now()
            ),
            expect(PresenceState::Paused)
        );
        let offline = Event::Presence(
            PresenceUpdate::builder()
                .from("15557654321@s.whatsapp.net".parse().unwrap())
                .unavailable(true)
                .last_seen(DateTime::from_timestamp(1_800_000_000, 0).unwrap())
                .build(),
        );
        assert_eq!(
            map(&offline, me, now()),
            Mapped::Report(EngineEvent::Presence {
                chat: "15557654321@s.whatsapp.net".into(),
                participant: String::new(),
                state: PresenceState::Unavailable,
                last_seen: Some(now()),
            })
        );
        let online = Event::Presence(
            PresenceUpdate::builder()
                .from("15557654321@s.whatsapp.net".parse().unwrap())
                .unavailable(false)
                .build(),
        );
        assert!(matches!(
            map(&online, me, now()),
            Mapped::Report(EngineEvent::Presence {
                state: PresenceState::Available,
                last_seen: None,
                ..
            })
        ));
    }

    #[test]
    fn qr_codes_carry_their_expiry() {
        let qr = Event::PairingQrCode(
            PairingQrCode::builder()
                .code("2@abc,def,ghi".to_string())
                .timeout(Duration::from_secs(60))
                .build(),
        );
        assert_eq!(
            map(&qr, me, now()),
            Mapped::Report(EngineEvent::QrCode {
                code: "2@abc,def,ghi".into(),
                expire_time: now() + Duration::from_secs(60)
            })
        );
    }

    #[test]
    fn exhausted_qr_codes_end_linking_only_when_the_client_stopped() {
        let stopped = Event::PairingQrCodesExhausted(
            PairingQrCodesExhausted::builder()
                .disconnected(true)
                .build(),
        );
        assert_eq!(
            map(&stopped, me, now()),
            Mapped::Terminal(Terminal::QrCodesExhausted)
        );
        let waiting = Event::PairingQrCodesExhausted(
            PairingQrCodesExhausted::builder()
                .disconnected(false)
                .build(),
        );
        assert!(matches!(
            map(&waiting, me, now()),
            Mapped::Report(EngineEvent::Warning { .. })
        ));
    }

    #[test]
    fn pair_success_names_the_linked_account() {
        let paired = Event::PairSuccess(
            PairSuccess::builder()
                .id("15551234567:7@s.whatsapp.net".parse().unwrap())
                .lid("100000012345678:7@lid".parse().unwrap())
                .business_name("Shop".to_string())
                .platform("android".to_string())
                .build(),
        );
        let Mapped::Report(EngineEvent::Paired { user }) = map(&paired, me, now()) else {
            panic!("paired")
        };
        assert_eq!(user.jid, "15551234567:7@s.whatsapp.net");
        assert_eq!(user.lid, "100000012345678@lid");
        assert_eq!(user.push_name, "Shop");
        assert_eq!(user.phone_number, "+15551234567");
    }

    #[test]
    fn connected_reports_the_client_identity() {
        let connected = Event::Connected(Connected::builder().build());
        assert_eq!(
            map(&connected, me, now()),
            Mapped::Report(EngineEvent::Connected {
                user: Box::new(me().unwrap())
            })
        );
        assert!(matches!(
            map(&connected, || None, now()),
            Mapped::Report(EngineEvent::Warning { .. })
        ));
    }

    #[test]
    fn disconnects_mean_reconnecting() {
        let dropped = Event::Disconnected(
            Disconnected::builder()
                .reason(DisconnectReason::StreamEnded)
                .build(),
        );
        let Mapped::Report(EngineEvent::Disconnected {
            reason,
            retry_in: None,
        }) = map(&dropped, me, now())
        else {
            panic!("disconnected")
        };
        assert!(reason.contains("StreamEnded"), "{reason}");
    }

    #[test]
    fn terminal_events_say_why() {
        let logged_out = Event::LoggedOut(
            LoggedOut::builder()
                .on_connect(true)
                .reason(ConnectFailureReason::LoggedOut)
                .build(),
        );
        let Mapped::Terminal(Terminal::LoggedOut { reason }) = map(&logged_out, me, now()) else {
            panic!("logout")
        };
        assert!(
            reason.contains("401") && reason.contains("at login"),
            "{reason}"
        );

        let replaced = Event::StreamReplaced(StreamReplaced::builder().build());
        let Mapped::Terminal(Terminal::Stopped { reason }) = map(&replaced, me, now()) else {
            panic!("replaced")
        };
        assert!(reason.contains("stream replaced"), "{reason}");

        let ban = Event::TemporaryBan(
            TemporaryBan::builder()
                .code(TempBanReason::BlockedByUsers)
                .expire(ChronoDuration::seconds(3600))
                .build(),
        );
        let Mapped::Terminal(Terminal::Stopped { reason }) = map(&ban, me, now()) else {
            panic!("ban")
        };
        assert!(
            reason.contains("temporarily banned")
                && reason.contains("3600 s")
                && reason.contains("102"),
            "{reason}"
        );

        let refused = Event::ConnectFailure(
            ConnectFailure::builder()
                .reason(ConnectFailureReason::Generic)
                .message("bad".to_string())
                .build(),
        );
        let Mapped::Terminal(Terminal::Stopped { reason }) = map(&refused, me, now()) else {
            panic!("refused")
        };
        assert!(reason.contains("400") && reason.contains("bad"), "{reason}");

        let outdated = Event::ClientOutdated(ClientOutdated::builder().build());
        let Mapped::Terminal(Terminal::Stopped { reason }) = map(&outdated, me, now()) else {
            panic!("outdated")
        };
        assert!(reason.contains("outdated"), "{reason}");
    }

    #[test]
    fn server_errors_are_retried() {
        let busy = Event::ConnectFailure(
            ConnectFailure::builder()
                .reason(ConnectFailureReason::ServiceUnavailable)
                .build(),
        );
        assert!(matches!(
            map(&busy, me, now()),
            Mapped::Report(EngineEvent::ConnectFailed { .. })
        ));
    }

    #[test]
    fn pairing_problems_are_logged() {
        let error = Event::PairingCodeError(
            PairingCodeError::builder()
                .error("rate".to_string())
                .build(),
        );
        assert!(matches!(
            map(&error, me, now()),
            Mapped::Report(EngineEvent::Warning { .. })
        ));
        let error = Event::PairError(
            PairError::builder()
                .id(Jid::default())
                .lid(Jid::default())
                .business_name(String::new())
                .platform(String::new())
                .error("bad".to_string())
                .build(),
        );
        assert!(matches!(
            map(&error, me, now()),
            Mapped::Report(EngineEvent::Warning { .. })
        ));
        let ack = Event::ServerAck(ServerAck::builder().id("3EB0".to_string()).build());
        assert_eq!(map(&ack, me, now()), Mapped::Ignore);
    }

    fn received(id: &str, message: wa::Message) -> InboundMessage {
        let info = MessageInfo {
            id: id.into(),
            source: MessageSource {
                chat: "15557654321@s.whatsapp.net".parse().unwrap(),
                sender: "15557654321@s.whatsapp.net".parse().unwrap(),
                ..Default::default()
            },
            timestamp: DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
            ..Default::default()
        };
        InboundMessage::builder()
            .message(Arc::new(message))
            .info(Arc::new(info))
            .build()
    }

    #[test]
    fn message_batches_report_each_message_we_track() {
        let text = wa::Message {
            conversation: Some("hi".into()),
            ..Default::default()
        };
        let key_share = wa::Message {
            sender_key_distribution_message: MessageField::some(Default::default()),
            ..Default::default()
        };
        let batch = |messages: Vec<InboundMessage>| {
            Event::Messages(
                MessageBatch::builder()
                    .messages(messages.into())
                    .origin(BatchOrigin::OfflineDrain)
                    .build(),
            )
        };
        let event = batch(vec![
            received("A", text.clone()),
            received("B", key_share.clone()),
            received("C", text),
        ]);
        let Mapped::ReportAll(events) = map(&event, me, now()) else {
            panic!("messages")
        };
        let ids: Vec<_> = events
            .iter()
            .map(|e| match e {
                EngineEvent::MessageReceived(m) => m.whatsapp_id.as_str(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(ids, ["A", "C"]);
        assert_eq!(
            map(&batch(vec![received("B", key_share)]), me, now()),
            Mapped::Ignore
        );
    }

    #[test]
    fn receipts_are_reported_and_self_receipts_ignored() {
        let receipt = |kind: ReceiptType| {
            Event::Receipt(
                Receipt::builder()
                    .source(MessageSource {
                        chat: "15557654321@s.whatsapp.net".parse().unwrap(),
                        sender: "15557654321@s.whatsapp.net".parse().unwrap(),
                        ..Default::default()
                    })
                    .message_ids(vec!["3EB0A".into()])
                    .timestamp(DateTime::from_timestamp(1_800_000_000, 0).unwrap())
                    .r#type(kind)
                    .offline(false)
                    .build(),
            )
        };
        assert!(matches!(
            map(&receipt(ReceiptType::Read), me, now()),
            Mapped::Report(EngineEvent::Receipt {
                kind: crate::engine::ReceiptKind::Read,
                ..
            })
        ));
        assert_eq!(map(&receipt(ReceiptType::Retry), me, now()), Mapped::Ignore);
    }
}
