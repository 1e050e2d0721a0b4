//! Input rules shared by several services.

use std::net::IpAddr;

use url::{Host, Url};

/// Normalizes a phone number to its E.164 digits (no `+`): accepts `+`,
/// spaces, dashes, dots and parentheses as separators.
pub fn phone_digits(input: &str) -> Result<String, String> {
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return Err("is required".into());
    }
    let digits: String = trimmed
        .chars()
        .filter(|c| !matches!(c, '+' | ' ' | '-' | '.' | '(' | ')'))
        .collect();
    if !digits.chars().all(|c| c.is_ascii_digit()) {
        return Err(format!(
            "{input:?} is not a phone number in international format (e.g. +14155550123)"
        ));
    }
    if trimmed.matches('+').count() > 1 || (trimmed.contains('+') && !trimmed.starts_with('+')) {
        return Err(format!("{input:?} has a misplaced '+'"));
    }
    if !(8..=15).contains(&digits.len()) || digits.starts_with('0') {
        return Err(format!(
            "{input:?} is not a phone number in international format: expected a country code and 8 to 15 digits, e.g. +14155550123"
        ));
    }
    Ok(digits)
}

/// The schemes a URL may use.
pub enum UrlKind {
    /// Webhooks: https (http only when private URLs are allowed).
    Webhook,
    /// Proxies: http, https or socks5 (socks5h accepted as socks5).
    Proxy,
    /// Media files the server downloads: http or https.
    Media,
}

/// Checks a URL the server will call. Unless `allow_private`, the host must be
/// a public DNS name: IP literals, `localhost` and private/loopback names are refused.
pub fn outbound_url(input: &str, kind: UrlKind, allow_private: bool) -> Result<Url, String> {
    let url =
        Url::parse(input.trim()).map_err(|err| format!("{input:?} is not a valid URL: {err}"))?;
    let scheme = url.scheme();
    match kind {
        UrlKind::Webhook => {
            if scheme != "https" && !(scheme == "http" && allow_private) {
                return Err(if scheme == "http" {
                    "must use https (http is allowed only when the server runs with WAGATE_ALLOW_PRIVATE_URLS=true)".into()
                } else {
                    format!("must be an https URL, not {scheme}://")
                });
            }
        }
        UrlKind::Media => {
            if !matches!(scheme, "http" | "https") {
                return Err(format!("must be an http or https URL, not {scheme}://"));
            }
        }
        UrlKind::Proxy => {
            if !matches!(scheme, "http" | "https" | "socks5" | "socks5h") {
                return Err(format!(
                    "must use http://, https:// or socks5://, not {scheme}://"
                ));
            }
        }
    }
    let host = url.host().ok_or_else(|| "must name a host".to_string())?;
    if allow_private {
        return Ok(url);
    }
    match host {
        Host::Ipv4(ip) => Err(ip_refusal(IpAddr::V4(ip))),
        Host::Ipv6(ip) => Err(ip_refusal(IpAddr::V6(ip))),
        Host::Domain(name) => {
            // Non-special schemes (socks5://) keep IP literals as opaque host names.
            if let Ok(ip) = name
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<IpAddr>()
            {
                return Err(ip_refusal(ip));
            }
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            let private_suffixes = [
                ".localhost",
                ".local",
                ".internal",
                ".lan",
                ".home.arpa",
                ".localdomain",
            ];
            if name == "localhost"
                || private_suffixes.iter().any(|s| name.ends_with(s))
                || !name.contains('.')
            {
                Err(format!(
                    "host {name:?} is a local or private name; use a public domain"
                ))
            } else {
                Ok(url)
            }
        }
    }
}

fn ip_refusal(ip: IpAddr) -> String {
    let class = if is_private_or_local(ip) {
        "a private or loopback address"
    } else {
        "an IP address"
    };
    format!(
        "host {ip} is {class}; use a public domain name (IP addresses are refused unless WAGATE_ALLOW_PRIVATE_URLS=true)"
    )
}

/// Loopback, private, link-local, unique-local, unspecified or documentation ranges.
pub fn is_private_or_local(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.octets()[0] == 100 && (64..128).contains(&v4.octets()[1])
        }
        IpAddr::V6(v6) => {
            v6.is_loopback()
                || v6.is_unspecified()
                || (v6.segments()[0] & 0xfe00) == 0xfc00
                || (v6.segments()[0] & 0xffc0) == 0xfe80
                || v6
                    .to_ipv4_mapped()
                    .is_some_and(|v4| is_private_or_local(IpAddr::V4(v4)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones() {
        assert_eq!(phone_digits("+1 (415) 555-0123").unwrap(), "14155550123");
        assert_eq!(phone_digits("14155550123").unwrap(), "14155550123");
        assert!(phone_digits("").is_err());
        assert!(phone_digits("+0123456789").is_err());
        assert!(phone_digits("12345").is_err());
        assert!(phone_digits("+1415abc0123").is_err());
        assert!(phone_digits("1+4155550123").is_err());
    }

    #[test]
    fn outbound_urls() {
        assert!(outbound_url("https://hooks.example.com/x", UrlKind::Webhook, false).is_ok());
        assert!(outbound_url("http://hooks.example.com/x", UrlKind::Webhook, false).is_err());
        assert!(outbound_url("http://hooks.example.com/x", UrlKind::Webhook, true).is_ok());
        assert!(outbound_url("ftp://hooks.example.com/x", UrlKind::Webhook, true).is_err());
        assert!(outbound_url("https://127.0.0.1/x", UrlKind::Webhook, false).is_err());
        assert!(outbound_url("https://localhost/x", UrlKind::Webhook, false).is_err());
        assert!(
            outbound_url(
                "socks5://user:pw@proxy.example.com:1080",
                UrlKind::Proxy,
                false
            )
            .is_ok()
        );
        assert!(outbound_url("socks5://192.168.1.1:1080", UrlKind::Proxy, false).is_err());
        assert!(outbound_url("socks5://8.8.8.8:1080", UrlKind::Proxy, false).is_err());
        assert!(outbound_url("socks5://192.168.1.1:1080", UrlKind::Proxy, true).is_ok());
        assert!(outbound_url("gopher://proxy.example.com", UrlKind::Proxy, false).is_err());
        assert!(outbound_url("https://[::1]/", UrlKind::Webhook, false).is_err());
        assert!(outbound_url("socks5://[::1]:1080", UrlKind::Proxy, false).is_err());
    }
}
