//! Seed 001 "Understanding Rate Limits" as a WasenderAPI client sees them:
//! the account-protection limits of the endpoints WhatsApp watches (contact
//! pictures, number checks) come back in `X-RateLimit-*` headers with that
//! endpoint's own window per session — not the gateway's per-credential
//! window — and over them as 429 `{"message", "retry_after"}` with
//! `Retry-After`.

use std::time::Duration;

use http::Method;
use wagate_tests::{TestServer, backends};

use super::{Api, expect, expect_seed_429, linked_session};

const PHONE_A: &str = "+14155550641";
const PHONE_B: &str = "+14155550642";
const PHONE_C: &str = "+14155550643";

#[tokio::test]
async fn protected_endpoints_carry_their_own_window_per_session() {
    let server = TestServer::start_with(backends()[0], |config| {
        config.allow_private_urls = true;
        config.queue.protection_interval = Duration::ZERO;
        config.protection.pictures_per_minute = 2;
        config.protection.checks_per_minute = 1;
    })
    .await;
    let api = Api::of(&server);
    let (_, key) = linked_session(&api, &server, PHONE_A).await;
    let (_, other_key) = linked_session(&api, &server, PHONE_B).await;
    let b = PHONE_B.trim_start_matches('+');
    let picture_path = format!("/api/contacts/{b}/picture");

    for remaining in ["1", "0"] {
        let picture = api.call(Method::GET, &picture_path, Some(&key), None).await;
        expect(&picture, 200, "contact picture");
        assert_eq!(picture.header("x-ratelimit-limit"), Some("2"));
        assert_eq!(picture.header("x-ratelimit-remaining"), Some(remaining));
        let reset: u64 = picture
            .header("x-ratelimit-reset")
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=60).contains(&reset), "{reset}");
    }
    let refused = api.call(Method::GET, &picture_path, Some(&key), None).await;
    expect_seed_429(
        &refused,
        "You have account protection enabled.",
        60,
        "a third picture in the minute",
    );
    assert_eq!(refused.header("x-ratelimit-limit"), Some("2"));
    assert_eq!(refused.header("x-ratelimit-remaining"), Some("0"));
    assert!(refused.header("x-ratelimit-reset").is_some());

    // Another session has its own window; number checks have theirs.
    let a = PHONE_A.trim_start_matches('+');
    let theirs = api
        .call(
            Method::GET,
            &format!("/api/contacts/{a}/picture"),
            Some(&other_key),
            None,
        )
        .await;
    expect(&theirs, 200, "another session's picture");
    assert_eq!(theirs.header("x-ratelimit-remaining"), Some("1"));
    let check_path = format!("/api/on-whatsapp/{PHONE_C}");
    let checked = api.call(Method::GET, &check_path, Some(&key), None).await;
    expect(&checked, 200, "a number check");
    assert_eq!(checked.header("x-ratelimit-limit"), Some("1"));
    assert_eq!(checked.header("x-ratelimit-remaining"), Some("0"));
    let refused = api.call(Method::GET, &check_path, Some(&key), None).await;
    expect(&refused, 429, "a second number check in the minute");
    assert_eq!(refused.header("x-ratelimit-limit"), Some("1"));

    // Endpoints without a protection window keep the gateway's own.
    let groups = api.call(Method::GET, "/api/groups", Some(&key), None).await;
    expect(&groups, 200, "groups");
    assert_eq!(
        groups.header("x-ratelimit-limit"),
        Some(
            wagate_gateway::DEFAULT_COMPAT_REQUESTS_PER_MINUTE
                .to_string()
                .as_str()
        )
    );
    server.stop().await;
}
