//! Calls to the account: offers (which the session may reject at once) and
//! missed calls, as `EngineEvent::Call`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use wagate_proto::v1::CallStatus;
use whatsapp_rust::Jid;
use whatsapp_rust::chrono::{DateTime, Utc};
use whatsapp_rust::wacore::types::call::CallAction;

use super::directory::{phone_of, user_jid};
use crate::engine::{EngineEvent, IncomingCall};

fn system_time(time: DateTime<Utc>) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(time.timestamp_millis().max(0) as u64)
}

/// A ringing call from `from` (the `<call>` stanza's sender), for an offer;
/// `None` for the other call actions (accept, terminate, …), which concern
/// calls already reported.
pub fn offer(from: &Jid, time: DateTime<Utc>, action: &CallAction) -> Option<EngineEvent> {
    let (call_id, creator, caller_pn, video, group_call) = match action {
        CallAction::Offer {
            call_id,
            call_creator,
            caller_pn,
            is_video,
            group_jid,
            ..
        } => (
            call_id,
            call_creator,
            caller_pn.as_ref(),
            *is_video,
            group_jid.is_some(),
        ),
        CallAction::OfferNotice {
            call_id,
            call_creator,
            is_video,
            is_group,
        } => (call_id, call_creator, None, *is_video, *is_group),
        _ => return None,
    };
    let caller_phone_number = match caller_pn {
        Some(pn) => phone_of(pn),
        None => phone_of(from),
    };
    Some(EngineEvent::Call(Box::new(IncomingCall {
        call_id: call_id.clone(),
        caller: user_jid(from),
        caller_phone_number,
        creator: creator.to_string(),
        time: system_time(time),
        group_call,
        video,
        status: CallStatus::Offer,
    })))
}

/// A call nobody answered.
pub fn missed(from: &Jid, call_id: &str, time: DateTime<Utc>) -> EngineEvent {
    EngineEvent::Call(Box::new(IncomingCall {
        call_id: call_id.to_owned(),
        caller: user_jid(from),
        caller_phone_number: phone_of(from),
        creator: from.to_string(),
        time: system_time(time),
        group_call: false,
        video: false,
        status: CallStatus::Timeout,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jid(s: &str) -> Jid {
        s.parse().unwrap()
    }

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(seconds, 0).unwrap()
    }

    #[test]
    fn an_offer_from_a_lid_caller_carries_the_phone_number_and_creator() {
        let action = CallAction::Offer {
            call_id: "CALL1".into(),
            call_creator: jid("100000012345678:3@lid"),
            caller_pn: Some(jid("15551234567@s.whatsapp.net")),
            caller_country_code: None,
            device_class: None,
            joinable: false,
            is_video: true,
            audio: Vec::new(),
            group_jid: None,
        };
        let event = offer(&jid("100000012345678:3@lid"), at(1_700_000_000), &action).unwrap();
        assert_eq!(
            event,
            EngineEvent::Call(Box::new(IncomingCall {
                call_id: "CALL1".into(),
                caller: "100000012345678@lid".into(),
                caller_phone_number: "+15551234567".into(),
                creator: "100000012345678:3@lid".into(),
                time: UNIX_EPOCH + Duration::from_secs(1_700_000_000),
                group_call: false,
                video: true,
                status: CallStatus::Offer,
            }))
        );
    }

    #[test]
    fn group_offer_notices_are_offers_and_other_actions_are_not_reported() {
        let notice = CallAction::OfferNotice {
            call_id: "CALL2".into(),
            call_creator: jid("15551234567@s.whatsapp.net"),
            is_video: false,
            is_group: true,
        };
        let Some(EngineEvent::Call(call)) =
            offer(&jid("15551234567:2@s.whatsapp.net"), at(1), &notice)
        else {
            panic!("an offer notice is a call");
        };
        assert!(call.group_call && !call.video);
        assert_eq!(call.caller, "15551234567@s.whatsapp.net");
        assert_eq!(call.caller_phone_number, "+15551234567");
        let accept = CallAction::Accept {
            call_id: "CALL2".into(),
            call_creator: jid("15551234567@s.whatsapp.net"),
            audio: Vec::new(),
        };
        assert_eq!(
            offer(&jid("15551234567@s.whatsapp.net"), at(1), &accept),
            None
        );
    }

    #[test]
    fn a_missed_call_times_out() {
        let EngineEvent::Call(call) = missed(&jid("15551234567:1@s.whatsapp.net"), "C3", at(5))
        else {
            panic!("a call");
        };
        assert_eq!(call.status, CallStatus::Timeout);
        assert_eq!(
            (call.call_id.as_str(), call.caller.as_str()),
            ("C3", "15551234567@s.whatsapp.net")
        );
    }
}
