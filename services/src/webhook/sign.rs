//! How wagate signs webhook requests: seed 001's `X-Webhook-Signature`
//! (the session's webhook secret itself, which receivers compare), and the
//! Standard Webhooks headers `webhook-id`, `webhook-timestamp` and
//! `webhook-signature: v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>`
//! so receivers can verify the body and reject replays by timestamp.
//!
//! The HMAC key is the secret's UTF-8 bytes; for Standard Webhooks libraries
//! that is the secret `whsec_` + base64(webhook_secret). A secret that already
//! starts with `whsec_` is used the standard way (its base64 part decoded).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The HMAC key of a webhook secret.
fn key_of(secret: &str) -> Vec<u8> {
    match secret.strip_prefix("whsec_") {
        Some(encoded) => STANDARD
            .decode(encoded)
            .unwrap_or_else(|_| secret.as_bytes().to_vec()),
        None => secret.as_bytes().to_vec(),
    }
}

/// `v1,<signature>` over `{id}.{timestamp}.{body}`.
pub fn standard_signature(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(&key_of(secret)).expect("HMAC takes any key");
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// The headers of one webhook request.
pub fn headers(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> Vec<(&'static str, String)> {
    vec![
        ("content-type", "application/json".to_owned()),
        (
            "user-agent",
            concat!("wagate/", env!("CARGO_PKG_VERSION")).to_owned(),
        ),
        ("x-webhook-signature", secret.to_owned()),
        ("webhook-id", id.to_owned()),
        ("webhook-timestamp", timestamp.to_string()),
        (
            "webhook-signature",
            standard_signature(secret, id, timestamp, body),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_standard_webhooks_reference_vector() {
        // From the Standard Webhooks specification's test vectors.
        let signature = standard_signature(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1_614_265_330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn a_plain_secret_is_its_own_key() {
        let plain = standard_signature("abc123", "evt_1", 10, b"{}");
        let standard = standard_signature(
            &format!("whsec_{}", STANDARD.encode("abc123")),
            "evt_1",
            10,
            b"{}",
        );
        assert_eq!(plain, standard);
        assert_ne!(plain, standard_signature("abc124", "evt_1", 10, b"{}"));
        assert_ne!(plain, standard_signature("abc123", "evt_1", 11, b"{}"));
    }
}
