//! The rules for session settings (seed 001's Create/Update Session).

use crate::error::{Error, FieldViolation, Result};
use crate::session::model::Settings;
use crate::validate::{UrlKind, outbound_url, phone_digits};

/// Event names a webhook may subscribe to (seed 001, plus presence.update).
pub const EVENT_TYPES: &[&str] = &[
    "messages.received",
    "messages.upsert",
    "message.sent",
    "messages.update",
    "messages.delete",
    "messages.reaction",
    "message-receipt.update",
    "messages-personal.received",
    "messages-group.received",
    "messages-newsletter.received",
    "session.status",
    "qrcode.updated",
    "contacts.upsert",
    "contacts.update",
    "groups.upsert",
    "groups.update",
    "group-participants.update",
    "chats.upsert",
    "chats.update",
    "chats.delete",
    "call",
    "poll.results",
    "presence.update",
];

/// Checks and normalizes settings; `prefix` is the request path of the
/// settings message (e.g. `session`) used in field violations.
pub fn validate(settings: &mut Settings, prefix: &str, allow_private_urls: bool) -> Result<()> {
    let mut violations = Vec::new();
    let field = |name: &str| format!("{prefix}.{name}");

    let name = settings.display_name.trim();
    if name.is_empty() {
        violations.push(FieldViolation::new(field("display_name"), "is required"));
    } else if name.chars().count() > 100 {
        violations.push(FieldViolation::new(
            field("display_name"),
            "must be at most 100 characters",
        ));
    } else {
        settings.display_name = name.to_owned();
    }

    match phone_digits(&settings.phone_number) {
        Ok(digits) => settings.phone_number = format!("+{digits}"),
        Err(problem) => violations.push(FieldViolation::new(field("phone_number"), problem)),
    }

    let webhook_url = settings.webhook_url.trim().to_owned();
    if !webhook_url.is_empty() {
        match outbound_url(&webhook_url, UrlKind::Webhook, allow_private_urls) {
            Ok(url) => settings.webhook_url = url.to_string(),
            Err(problem) => violations.push(FieldViolation::new(field("webhook_url"), problem)),
        }
    } else {
        settings.webhook_url.clear();
    }
    if settings.webhook_enabled && webhook_url.is_empty() {
        violations.push(FieldViolation::new(
            field("webhook_enabled"),
            "needs a webhook_url",
        ));
    }

    let mut seen = std::collections::HashSet::new();
    for (i, event) in settings.webhook_events.iter().enumerate() {
        if !EVENT_TYPES.contains(&event.as_str()) {
            violations.push(FieldViolation::new(
                format!("{}[{i}]", field("webhook_events")),
                format!(
                    "unknown event type {event:?} (expected one of: {})",
                    EVENT_TYPES.join(", ")
                ),
            ));
        } else if !seen.insert(event.clone()) {
            violations.push(FieldViolation::new(
                format!("{}[{i}]", field("webhook_events")),
                format!("duplicate event type {event:?}"),
            ));
        }
    }

    validate_labels(&settings.labels, &field("labels"), &mut violations);

    let proxy = settings.proxy_url.trim().to_owned();
    if !proxy.is_empty() {
        match outbound_url(&proxy, UrlKind::Proxy, allow_private_urls) {
            Ok(url) => settings.proxy_url = url.to_string(),
            Err(problem) => violations.push(FieldViolation::new(field("proxy_url"), problem)),
        }
    } else {
        settings.proxy_url.clear();
    }

    if violations.is_empty() {
        Ok(())
    } else {
        Err(Error::invalid(violations))
    }
}

/// Most labels on one session.
pub const MAX_LABELS: usize = 64;
/// Longest label key or value.
pub const MAX_LABEL_LENGTH: usize = 63;

/// AIP-122 label rules (as Google Cloud's): keys 1 to 63 characters of
/// lowercase letters, digits, `_` and `-`, starting with a letter; values 0 to
/// 63 of the same characters. Violations name `{field}.{key}` (or `{field}`
/// for the count).
fn validate_labels(
    labels: &std::collections::BTreeMap<String, String>,
    field: &str,
    violations: &mut Vec<FieldViolation>,
) {
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-';
    if labels.len() > MAX_LABELS {
        violations.push(FieldViolation::new(
            field,
            format!("at most {MAX_LABELS} labels (got {})", labels.len()),
        ));
    }
    for (key, value) in labels {
        let at = format!("{field}.{key}");
        if key.is_empty() || key.len() > MAX_LABEL_LENGTH {
            violations.push(FieldViolation::new(
                at,
                format!("label keys must be 1 to {MAX_LABEL_LENGTH} characters"),
            ));
        } else if !key.starts_with(|c: char| c.is_ascii_lowercase()) || !key.chars().all(allowed) {
            violations.push(FieldViolation::new(
                at,
                "label keys must start with a lowercase letter and contain only lowercase letters, digits, `_` and `-`",
            ));
        } else if value.len() > MAX_LABEL_LENGTH {
            violations.push(FieldViolation::new(
                at,
                format!("label values must be at most {MAX_LABEL_LENGTH} characters"),
            ));
        } else if !value.chars().all(allowed) {
            violations.push(FieldViolation::new(
                at,
                "label values may contain only lowercase letters, digits, `_` and `-`",
            ));
        }
    }
}

/// The proxy URL with any password hidden, for showing back to callers.
pub fn redact_proxy(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid() -> Settings {
        Settings {
            display_name: "Shop".into(),
            phone_number: "+1 415 555 0123".into(),
            ..Default::default()
        }
    }

    #[test]
    fn normalizes_phone_and_name() {
        let mut s = valid();
        s.display_name = "  Shop ".into();
        validate(&mut s, "session", false).unwrap();
        assert_eq!(s.phone_number, "+14155550123");
        assert_eq!(s.display_name, "Shop");
    }

    #[test]
    fn collects_every_violation_with_its_field() {
        let mut s = Settings {
            display_name: "".into(),
            phone_number: "abc".into(),
            webhook_url: "http://hooks.example.com".into(),
            webhook_events: vec!["nope".into()],
            proxy_url: "socks5://10.0.0.1:1080".into(),
            ..Default::default()
        };
        let err = validate(&mut s, "session", false).unwrap_err();
        let fields: Vec<_> = err
            .field_violations
            .iter()
            .map(|v| v.field.as_str())
            .collect();
        assert_eq!(
            fields,
            [
                "session.display_name",
                "session.phone_number",
                "session.webhook_url",
                "session.webhook_events[0]",
                "session.proxy_url"
            ]
        );
    }

    #[test]
    fn labels_follow_aip_122() {
        let mut s = valid();
        s.labels = [
            ("team", "sales-eu"),
            ("prosendi-default", "1733000000000"),
            ("empty", ""),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        validate(&mut s, "session", false).unwrap();
        let long = "a".repeat(64);
        for (key, value) in [
            ("Team", "x"),
            ("1team", "x"),
            ("", "x"),
            (long.as_str(), "x"),
            ("team", "Sales"),
            ("team", "a b"),
            ("team", long.as_str()),
        ] {
            let mut s = valid();
            s.labels.insert(key.to_owned(), value.to_owned());
            let err = validate(&mut s, "session", false).unwrap_err();
            assert_eq!(
                err.field_violations[0].field,
                format!("session.labels.{key}"),
                "{key:?}={value:?}"
            );
        }
        let mut s = valid();
        s.labels = (0..65).map(|i| (format!("k{i}"), String::new())).collect();
        let err = validate(&mut s, "session", false).unwrap_err();
        assert_eq!(err.field_violations[0].field, "session.labels");
    }

    #[test]
    fn redacts_proxy_password() {
        assert_eq!(
            redact_proxy("socks5://u:secret@proxy.example.com:1080"),
            "socks5://u:***@proxy.example.com:1080"
        );
        assert_eq!(
            redact_proxy("http://proxy.example.com"),
            "http://proxy.example.com"
        );
    }
}
