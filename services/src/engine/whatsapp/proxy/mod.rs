//! Per-session proxies for the WhatsApp WebSocket and for media/version HTTP,
//! plus the error hooks the engine uses to report why a connection failed.
//!
//! whatsapp-rust has no proxy support of its own; it exposes two hooks, and this
//! module fills both:
//!
//! * [`WaTransportFactory`] implements [`TransportFactory`]: it dials
//!   `wss://web.whatsapp.com/ws/chat` directly or through an `http://`,
//!   `https://` or `socks5://` proxy, runs TLS with the library's own rustls
//!   connector and the WebSocket upgrade (with the `Origin` WhatsApp Web sends),
//!   and hands the socket to [`from_websocket`].
//! * [`http_client`] builds the ureq-backed [`UreqHttpClient`] used for media and
//!   for the app-version fetch (`GET https://web.whatsapp.com/sw.js`) with the
//!   same proxy; [`ObservedHttpClient`] wraps it to report transport failures.
//!
//! The library swallows connect failures (it logs and backs off), so both hooks
//! take an error observer called with a human-readable message naming what could
//! not be reached and through which proxy. Messages never contain proxy
//! credentials.
//!
//! Name resolution of the WhatsApp host always happens at the proxy: SOCKS5
//! CONNECT uses a domain-name address (ATYP 3) and the HTTP client is configured
//! as `socks5h`, so `socks5://` and `socks5h://` behave the same.

use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use base64::Engine as _;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use whatsapp_rust::transport::{Connector, default_tls_connector, from_websocket};
use whatsapp_rust::wacore::net::{
    StreamingHttpResponse, UploadBody, WHATSAPP_WEB_ORIGIN, WHATSAPP_WEB_WS_URL,
};
use whatsapp_rust::wacore::stats::HttpResourceReport;
use whatsapp_rust::{anyhow, async_channel, async_trait};

// Re-exported so callers (and tests) without a direct whatsapp-rust dependency
// can drive the factory and the HTTP client.
pub use whatsapp_rust::http::{HttpClient, HttpRequest, HttpResponse, UreqHttpClient};
pub use whatsapp_rust::transport::{Transport, TransportEvent, TransportFactory};

/// Called with a human-readable message when a connection attempt fails.
pub type ErrorObserver = Arc<dyn Fn(String) + Send + Sync>;
/// Called after a transport was created (socket, TLS and WebSocket upgrade done).
pub type ConnectedObserver = Arc<dyn Fn() + Send + Sync>;

/// Budget for DNS + TCP connect (to the proxy, or to WhatsApp when direct).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// Budget for each handshake step: proxy negotiation, TLS, WebSocket upgrade.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(15);
/// Budget for a whole `create_transport` call. whatsapp-rust abandons the call
/// after 20 s without a word, so we give up first and report why.
pub const OVERALL_TIMEOUT: Duration = Duration::from_secs(18);
/// HTTP client: a read or write that stalls this long fails the request. Total
/// request time is not limited (media can be up to 2 GiB).
pub const HTTP_STALL_TIMEOUT: Duration = Duration::from_secs(60);

/// Largest HTTP CONNECT response head we read before giving up.
const MAX_CONNECT_RESPONSE_HEAD: usize = 8 * 1024;
/// At most this many resolved addresses are tried per host.
const MAX_ADDRS: usize = 8;
/// ureq buffers per connection (its default is 128 KiB).
const HTTP_BUFFER_BYTES: usize = 16 * 1024;

// ---------------------------------------------------------------------------
// Proxy URL
// ---------------------------------------------------------------------------

/// The kind of proxy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProxyScheme {
    /// `http://`: HTTP CONNECT over plain TCP.
    Http,
    /// `https://`: HTTP CONNECT inside TLS to the proxy. The proxy's
    /// certificate must be valid for its host name under the webpki roots.
    Https,
    /// `socks5://` (also `socks5h://`, `socks://`): SOCKS5, RFC 1928/1929.
    Socks5,
}

impl ProxyScheme {
    /// `"http"`, `"https"` or `"socks5"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ProxyScheme::Http => "http",
            ProxyScheme::Https => "https",
            ProxyScheme::Socks5 => "socks5",
        }
    }

    /// Port used when the URL has none: http 80, https 443, socks5 1080.
    pub fn default_port(self) -> u16 {
        match self {
            ProxyScheme::Http => 80,
            ProxyScheme::Https => 443,
            ProxyScheme::Socks5 => 1080,
        }
    }
}

impl fmt::Display for ProxyScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A parsed proxy URL: `scheme://[user[:password]@]host[:port][/]`.
///
/// `Display` and `Debug` never show the password.
#[derive(Clone)]
pub struct ProxyConfig {
    scheme: ProxyScheme,
    /// Host name or IP address, without IPv6 brackets.
    host: String,
    port: u16,
    username: Option<String>,
    password: Option<String>,
    /// The same proxy for ureq, built once at parse time so that the HTTP client
    /// can never silently fall back to a direct connection.
    ureq: ureq::Proxy,
}

impl ProxyConfig {
    /// Parses a proxy URL.
    ///
    /// * schemes: `http`, `https`, `socks5` (`socks5h` and `socks` are accepted
    ///   as `socks5`; the proxy always resolves the target host);
    /// * default ports: http → 80, https → 443, socks5 → 1080;
    /// * `user:password@` is percent-decoded; a password needs a username; for
    ///   SOCKS5 both must be 1–255 bytes (RFC 1929);
    /// * no path (other than `/`), query or fragment.
    ///
    /// Error messages never echo the input (it may hold a password).
    pub fn parse(input: &str) -> Result<Self, String> {
        let input = input.trim();
        if input.is_empty() {
            return Err("the proxy URL is empty".into());
        }
        if !input.contains("://") {
            return Err(
                "the proxy URL must start with http://, https:// or socks5:// (e.g. socks5://proxy.example.com:1080)".into(),
            );
        }
        let url = url::Url::parse(input).map_err(|err| format!("invalid proxy URL: {err}"))?;
        let scheme = match url.scheme() {
            "http" => ProxyScheme::Http,
            "https" => ProxyScheme::Https,
            "socks5" | "socks5h" | "socks" => ProxyScheme::Socks5,
            other => {
                return Err(format!(
                    "unsupported proxy scheme {other}:// (use http://, https:// or socks5://)"
                ));
            }
        };
        let host = url
            .host_str()
            .map(|h| h.trim_start_matches('[').trim_end_matches(']'))
            .filter(|h| !h.is_empty())
            .ok_or("the proxy URL must name a host")?
            .to_owned();
        if !(url.path().is_empty() || url.path() == "/")
            || url.query().is_some()
            || url.fragment().is_some()
        {
            return Err("the proxy URL must not have a path, query or fragment".into());
        }
        // `Url::port` is None when absent, and also when it equals the special
        // scheme's default (http 80, https 443) — the same as our defaults.
        let port = url.port().unwrap_or(scheme.default_port());
        if port == 0 {
            return Err("the proxy port must not be 0".into());
        }
        let username = Some(percent_decode(url.username(), "username")?).filter(|u| !u.is_empty());
        let password = url
            .password()
            .map(|p| percent_decode(p, "password"))
            .transpose()?
            .filter(|p| !p.is_empty());
        if password.is_some() && username.is_none() {
            return Err("the proxy URL has a password but no username".into());
        }
        if let Some(user) = &username {
            match scheme {
                ProxyScheme::Socks5 => {
                    let pass = password.as_deref().unwrap_or("");
                    if user.len() > 255 || pass.is_empty() || pass.len() > 255 {
                        return Err("SOCKS5 proxy credentials need a username and a password of 1 to 255 bytes each".into());
                    }
                }
                ProxyScheme::Http | ProxyScheme::Https => {
                    if user.contains(':') {
                        return Err("the proxy username must not contain ':'".into());
                    }
                }
            }
        }

        let protocol = match scheme {
            ProxyScheme::Http => ureq::ProxyProtocol::Http,
            ProxyScheme::Https => ureq::ProxyProtocol::Https,
            // socks5h: let the proxy resolve the target (ureq's plain socks5
            // resolves locally first).
            ProxyScheme::Socks5 => ureq::ProxyProtocol::Socks5h,
        };
        let mut builder = ureq::Proxy::builder(protocol)
            .host(&bracket_host(&host))
            .port(port);
        if let Some(user) = &username {
            builder = builder.username(user);
        }
        if let Some(pass) = &password {
            builder = builder.password(pass);
        }
        let ureq = builder
            .build()
            .map_err(|err| format!("invalid proxy URL: {err}"))?;

        Ok(Self {
            scheme,
            host,
            port,
            username,
            password,
            ureq,
        })
    }

    pub fn scheme(&self) -> ProxyScheme {
        self.scheme
    }

    /// Host name or IP address (IPv6 without brackets).
    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn username(&self) -> Option<&str> {
        self.username.as_deref()
    }

    pub fn password(&self) -> Option<&str> {
        self.password.as_deref()
    }

    /// `host:port` (`[v6]:port` for IPv6).
    pub fn authority(&self) -> String {
        host_port(&self.host, self.port)
    }

    /// `"socks5 proxy proxy.example.com:1080"`, for messages.
    pub fn describe(&self) -> String {
        format!("{} proxy {}", self.scheme, self.authority())
    }

    /// The proxy as ureq sees it.
    pub fn ureq_proxy(&self) -> &ureq::Proxy {
        &self.ureq
    }
}

impl PartialEq for ProxyConfig {
    fn eq(&self, other: &Self) -> bool {
        self.scheme == other.scheme
            && self.host == other.host
            && self.port == other.port
            && self.username == other.username
            && self.password == other.password
    }
}

impl Eq for ProxyConfig {}

/// `scheme://[user:***@]host:port` — the password is never shown.
impl fmt::Display for ProxyConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://", self.scheme)?;
        if let Some(user) = &self.username {
            write!(f, "{user}:***@")?;
        }
        f.write_str(&self.authority())
    }
}

impl fmt::Debug for ProxyConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProxyConfig")
            .field("scheme", &self.scheme)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .finish()
    }
}

/// Decodes `%XX` escapes; anything else (including a stray `%`) is kept as is.
fn percent_decode(input: &str, what: &str) -> Result<String, String> {
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(hi), Some(lo)) = (hex_val(bytes[i + 1]), hex_val(bytes[i + 2]))
        {
            out.push(hi << 4 | lo);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).map_err(|_| format!("the proxy {what} is not valid UTF-8"))
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn bracket_host(host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_owned()
    }
}

fn host_port(host: &str, port: u16) -> String {
    format!("{}:{port}", bracket_host(host))
}

mod media_http;
mod transport;

pub use media_http::{ObservedHttpClient, http_client, observed_http_client};
pub use transport::{WaTransportFactory, check_websocket_url};

#[cfg(test)]
mod tests {
    use super::media_http::*;
    use super::transport::*;
    use super::*;

    fn parse(s: &str) -> ProxyConfig {
        ProxyConfig::parse(s).unwrap_or_else(|err| panic!("{s}: {err}"))
    }

    #[test]
    fn parses_schemes_and_default_ports() {
        let p = parse("http://proxy.example.com");
        assert_eq!(
            (p.scheme(), p.host(), p.port()),
            (ProxyScheme::Http, "proxy.example.com", 80)
        );
        let p = parse("https://proxy.example.com");
        assert_eq!((p.scheme(), p.port()), (ProxyScheme::Https, 443));
        let p = parse("socks5://proxy.example.com");
        assert_eq!((p.scheme(), p.port()), (ProxyScheme::Socks5, 1080));
        let p = parse("socks5h://proxy.example.com:9050/");
        assert_eq!((p.scheme(), p.port()), (ProxyScheme::Socks5, 9050));
        let p = parse("SOCKS5://Proxy.Example.com:1081");
        assert_eq!(p.scheme(), ProxyScheme::Socks5);
        assert_eq!(p.port(), 1081);
        let p = parse("  http://10.0.0.1:3128  ");
        assert_eq!((p.host(), p.port()), ("10.0.0.1", 3128));
        // Explicit default ports stay.
        assert_eq!(parse("http://proxy.example.com:80").port(), 80);
        assert_eq!(parse("https://proxy.example.com:443").port(), 443);
        assert_eq!(p.username(), None);
        assert_eq!(p.password(), None);
    }

    #[test]
    fn parses_ipv6_hosts() {
        let p = parse("socks5://[2001:db8::1]:1080");
        assert_eq!(p.host(), "2001:db8::1");
        assert_eq!(p.authority(), "[2001:db8::1]:1080");
        let p = parse("http://[::1]:8080");
        assert_eq!(p.host(), "::1");
        assert_eq!(p.describe(), "http proxy [::1]:8080");
    }

    #[test]
    fn percent_decodes_credentials() {
        let p = parse("socks5://us%40er:p%3Ass%2Bw%25rd+x@proxy.example.com:1080");
        assert_eq!(p.username(), Some("us@er"));
        assert_eq!(p.password(), Some("p:ss+w%rd+x"));
        let p = parse("http://user:pa%20ss@proxy.example.com:3128");
        assert_eq!(p.username(), Some("user"));
        assert_eq!(p.password(), Some("pa ss"));
        let p = parse("http://user@proxy.example.com:3128");
        assert_eq!(p.username(), Some("user"));
        assert_eq!(p.password(), None);
        let p = parse("http://caf%C3%A9:x@proxy.example.com");
        assert_eq!(p.username(), Some("café"));
        // Empty user info is no credentials.
        let p = parse("http://@proxy.example.com");
        assert_eq!(p.username(), None);
    }

    #[test]
    fn rejects_bad_urls_without_echoing_secrets() {
        for bad in [
            "",
            "   ",
            "proxy.example.com:1080",
            "ftp://proxy.example.com",
            "socks4://proxy.example.com",
            "http://",
            "http://proxy.example.com/path",
            "http://proxy.example.com/?q=1",
            "http://proxy.example.com/#frag",
            "socks5://proxy.example.com:0",
            "socks5://proxy.example.com:99999",
            "http://:secret@proxy.example.com",
            "socks5://user@proxy.example.com",
            "http://us%3Aer:secret@proxy.example.com",
            "http://user:%FF%FE@proxy.example.com",
        ] {
            let err = ProxyConfig::parse(bad).expect_err(bad);
            assert!(!err.contains("secret"), "{bad}: {err}");
            assert!(!err.is_empty());
        }
        let long = "u".repeat(256);
        assert!(ProxyConfig::parse(&format!("socks5://{long}:pw@proxy.example.com")).is_err());
        // HTTP proxies have no such limit.
        assert!(ProxyConfig::parse(&format!("http://{long}:pw@proxy.example.com")).is_ok());
    }

    #[test]
    fn display_and_debug_hide_the_password() {
        let p = parse("socks5://alice:s3cret@proxy.example.com:1080");
        assert_eq!(p.to_string(), "socks5://alice:***@proxy.example.com:1080");
        assert_eq!(p.describe(), "socks5 proxy proxy.example.com:1080");
        let debug = format!("{p:?}");
        assert!(!debug.contains("s3cret"), "{debug}");
        assert!(debug.contains("alice"));
        assert_eq!(
            parse("http://proxy.example.com").to_string(),
            "http://proxy.example.com:80"
        );
    }

    #[test]
    fn ureq_proxy_matches_and_resolves_at_the_proxy() {
        let p = parse("socks5://alice:s%40cret@proxy.example.com:1080");
        let u = p.ureq_proxy();
        assert_eq!(u.protocol(), ureq::ProxyProtocol::Socks5h);
        assert!(!u.resolve_target());
        assert_eq!((u.host(), u.port()), ("proxy.example.com", 1080));
        assert_eq!(
            (u.username(), u.password()),
            (Some("alice"), Some("s@cret"))
        );
        let p = parse("https://bob:pw@[2001:db8::2]");
        let u = p.ureq_proxy();
        assert_eq!(u.protocol(), ureq::ProxyProtocol::Https);
        assert_eq!(u.port(), 443);
        assert_eq!(u.username(), Some("bob"));
        assert_eq!(
            parse("http://h.example").ureq_proxy().protocol(),
            ureq::ProxyProtocol::Http
        );
    }

    #[test]
    fn equality_ignores_nothing_but_the_ureq_copy() {
        assert_eq!(
            parse("socks5h://h.example"),
            parse("socks5://h.example:1080")
        );
        assert_ne!(
            parse("socks5://a:b@h.example"),
            parse("socks5://a:c@h.example")
        );
    }

    #[test]
    fn websocket_targets() {
        let f = WaTransportFactory::new(None);
        assert_eq!(f.url(), WHATSAPP_WEB_WS_URL);
        let t = parse_ws_target(f.url()).unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.tls),
            ("web.whatsapp.com", 443, true)
        );
        let t = parse_ws_target("ws://127.0.0.1:9/ws/chat").unwrap();
        assert_eq!((t.host.as_str(), t.port, t.tls), ("127.0.0.1", 9, false));
        let t = parse_ws_target("wss://[::1]/x").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("::1", 443));
        assert!(check_websocket_url("https://web.whatsapp.com/ws/chat").is_err());
        assert!(check_websocket_url("not a url").is_err());
        assert!(check_websocket_url("wss://web.whatsapp.com/ws/chat").is_ok());
    }

    #[test]
    fn socks5_reply_codes_have_messages() {
        assert_eq!(socks5_reply_message(1), "general SOCKS server failure");
        assert_eq!(socks5_reply_message(2), "connection not allowed by ruleset");
        assert_eq!(socks5_reply_message(5), "connection refused");
        assert_eq!(socks5_reply_message(0x42), "unknown SOCKS5 reply code 0x42");
    }

    #[test]
    fn http_error_messages_name_the_host_not_the_url() {
        let url = "https://mmg.whatsapp.net/v/t62/abc?oh=SECRET&oe=1";
        let err = anyhow::anyhow!("io: connection refused for {url}");
        let msg = http_error_message(url, Some("socks5 proxy p.example:1080"), &err);
        assert_eq!(
            msg,
            "HTTP request to mmg.whatsapp.net through socks5 proxy p.example:1080 failed: io: connection refused for mmg.whatsapp.net"
        );
        assert!(!msg.contains("SECRET"));
    }

    #[test]
    fn durations_print_readably() {
        assert_eq!(fmt_duration(Duration::from_secs(15)), "15 s");
        assert_eq!(fmt_duration(Duration::from_millis(1500)), "1500 ms");
        assert_eq!(fmt_duration(Duration::ZERO), "0 ms");
    }
}
