//! The library's failures as our errors: transient when the connection is the
//! problem (the queue retries), permanent when WhatsApp refused the request.

use std::error::Error as StdError;

use whatsapp_rust::ErrorChainExt;
use whatsapp_rust::client::ClientError;
use whatsapp_rust::send::SendError;
use whatsapp_rust::socket::error::SocketError;

use crate::engine::not_connected;
use crate::error::{Code, Error, Reason};

/// The metadata key that carries WhatsApp's own code for a refusal.
const WHATSAPP_REASON: &str = "whatsapp_reason";

pub fn not_on_whatsapp(message: impl Into<String>) -> Error {
    Error::new(Code::NotFound, Reason::NotOnWhatsapp, message)
}

fn is_not_connected(error: &(dyn StdError + 'static)) -> bool {
    ErrorChainExt::sources(error).any(|cause| {
        matches!(
            cause.downcast_ref::<ClientError>(),
            Some(ClientError::NotConnected | ClientError::NotLoggedIn)
        ) || matches!(
            cause.downcast_ref::<SendError>(),
            Some(SendError::NotLoggedIn)
        )
    })
}

fn is_connection_failure(error: &(dyn StdError + 'static)) -> bool {
    error.is_transport_unavailable()
        || error.is_timeout()
        || ErrorChainExt::sources(error).any(|cause| cause.downcast_ref::<SocketError>().is_some())
}

/// Classifies a failure of the operation `what` (e.g. "send the message").
pub fn classify(what: &str, error: &(dyn StdError + 'static)) -> Error {
    let detail = error.to_string();
    if is_not_connected(error) {
        return not_connected(what);
    }
    if is_connection_failure(error) {
        return Error::unavailable(format!(
            "cannot {what}: the connection to WhatsApp failed ({detail}); retry later"
        ));
    }
    if let Some(rejection) = error.server_rejection() {
        let code = rejection.code.to_string();
        let text = if rejection.text.is_empty() {
            detail.clone()
        } else {
            rejection.text.to_owned()
        };
        return refusal(what, &code, &text);
    }
    // The send path's device lookup finds no device for a number that has no
    // WhatsApp account.
    if detail.contains("no devices") {
        return not_on_whatsapp(format!(
            "cannot {what}: the recipient is not on WhatsApp ({detail})"
        ));
    }
    Error::whatsapp(Code::FailedPrecondition, format!("cannot {what}: {detail}"))
}

/// WhatsApp refused a request with `code` (an IQ error or a message nack).
pub fn refusal(what: &str, code: &str, text: &str) -> Error {
    let error = match code {
        "404" => not_on_whatsapp(format!(
            "cannot {what}: WhatsApp does not know the recipient ({code} {text})"
        )),
        "429" => Error::new(
            Code::ResourceExhausted,
            Reason::RateLimited,
            format!("cannot {what}: WhatsApp rate-limits this account ({code} {text})"),
        ),
        "408" | "500" | "502" | "503" | "504" => Error::unavailable(format!(
            "cannot {what}: WhatsApp is unavailable ({code} {text}); retry later"
        )),
        "463" => Error::whatsapp(
            Code::FailedPrecondition,
            format!(
                "cannot {what}: WhatsApp requires a privacy token for this recipient, who has \
                 not contacted this account ({code})"
            ),
        ),
        _ => Error::whatsapp(
            Code::FailedPrecondition,
            format!("cannot {what}: WhatsApp refused it ({code} {text})"),
        ),
    };
    error.with_metadata(WHATSAPP_REASON, code)
}

#[cfg(test)]
mod tests {
    use whatsapp_rust::anyhow::anyhow;
    use whatsapp_rust::request::IqError;

    use super::*;

    fn send_error(error: SendError) -> Error {
        classify("send the message", &error)
    }

    #[test]
    fn a_missing_connection_is_transient() {
        let error = send_error(SendError::Client(ClientError::NotConnected));
        assert_eq!(error.reason, Reason::SessionNotConnected);
        assert!(error.is_transient());
        let error = send_error(SendError::NotLoggedIn);
        assert_eq!(error.reason, Reason::SessionNotConnected);
        let error = send_error(SendError::Client(ClientError::Socket(
            SocketError::SocketClosed,
        )));
        assert_eq!(error.code, Code::Unavailable);
        assert!(error.is_transient());
        let error = send_error(SendError::Iq(IqError::Timeout));
        assert_eq!(error.code, Code::Unavailable);
        let error = send_error(SendError::Iq(IqError::NotConnected));
        assert!(error.is_transient(), "{error:?}");
    }

    #[test]
    fn unknown_recipients_are_not_on_whatsapp() {
        let error = send_error(SendError::Internal(anyhow!(
            "device-list response returned no devices for 15550001111@s.whatsapp.net"
        )));
        assert_eq!(
            (error.code, error.reason),
            (Code::NotFound, Reason::NotOnWhatsapp)
        );
        assert!(!error.is_transient());
        let error = send_error(SendError::Iq(IqError::ServerError {
            code: 404,
            text: "item-not-found".into(),
            error_type: None,
            backoff: None,
        }));
        assert_eq!(error.reason, Reason::NotOnWhatsapp);
        assert!(
            error
                .metadata
                .contains(&("whatsapp_reason".into(), "404".into()))
        );
    }

    #[test]
    fn refusals_are_permanent_and_keep_the_library_message() {
        let error = send_error(SendError::InvalidRequest(
            "admin revoke is only valid for group chats".into(),
        ));
        assert_eq!(
            (error.code, error.reason),
            (Code::FailedPrecondition, Reason::WhatsappError)
        );
        assert!(error.message.contains("admin revoke"), "{}", error.message);
        assert!(!error.is_transient());
        let error = send_error(SendError::Iq(IqError::ServerError {
            code: 403,
            text: "forbidden".into(),
            error_type: None,
            backoff: None,
        }));
        assert_eq!(error.code, Code::FailedPrecondition);
        assert!(error.message.contains("403 forbidden"), "{}", error.message);
    }

    #[test]
    fn server_trouble_and_rate_limits_are_retried() {
        assert_eq!(refusal("send", "503", "").code, Code::Unavailable);
        let limited = refusal("send", "429", "rate-overlimit");
        assert_eq!(limited.reason, Reason::RateLimited);
        assert!(limited.is_transient());
        assert_eq!(refusal("send", "479", "").code, Code::FailedPrecondition);
        assert!(refusal("send", "463", "").message.contains("privacy token"));
    }
}
