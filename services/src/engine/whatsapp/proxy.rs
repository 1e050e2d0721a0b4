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

// ---------------------------------------------------------------------------
// WebSocket transport
// ---------------------------------------------------------------------------

/// Creates WhatsApp WebSocket transports, directly or through a proxy.
///
/// Cheap to clone. Timeouts: [`CONNECT_TIMEOUT`] for DNS + TCP,
/// [`HANDSHAKE_TIMEOUT`] for each of proxy negotiation, TLS and the WebSocket
/// upgrade, all within [`OVERALL_TIMEOUT`].
#[derive(Clone)]
pub struct WaTransportFactory {
    proxy: Option<ProxyConfig>,
    url: String,
    connect_timeout: Duration,
    handshake_timeout: Duration,
    overall_timeout: Duration,
    on_error: Option<ErrorObserver>,
    on_connected: Option<ConnectedObserver>,
}

impl WaTransportFactory {
    /// A factory for `wss://web.whatsapp.com/ws/chat`, through `proxy` if set.
    pub fn new(proxy: Option<ProxyConfig>) -> Self {
        Self {
            proxy,
            url: WHATSAPP_WEB_WS_URL.to_owned(),
            connect_timeout: CONNECT_TIMEOUT,
            handshake_timeout: HANDSHAKE_TIMEOUT,
            overall_timeout: OVERALL_TIMEOUT,
            on_error: None,
            on_connected: None,
        }
    }

    /// Dials another `wss://` or `ws://` URL (tests, relays). The `Origin`
    /// header stays `https://web.whatsapp.com`. An invalid URL makes every
    /// `create_transport` fail (and reported); check it first with
    /// [`check_websocket_url`] if it comes from configuration.
    pub fn with_url(mut self, url: impl Into<String>) -> Self {
        self.url = url.into();
        self
    }

    /// Overrides the timeouts (see the type docs).
    pub fn with_timeouts(
        mut self,
        connect: Duration,
        handshake: Duration,
        overall: Duration,
    ) -> Self {
        self.connect_timeout = connect;
        self.handshake_timeout = handshake;
        self.overall_timeout = overall;
        self
    }

    /// Called with a message every time creating a transport fails. Must be
    /// quick and must not block (it runs on the connect path).
    pub fn on_error(mut self, observer: ErrorObserver) -> Self {
        self.on_error = Some(observer);
        self
    }

    /// Called every time a transport was created. Must be quick and must not block.
    pub fn on_connected(mut self, observer: ConnectedObserver) -> Self {
        self.on_connected = Some(observer);
        self
    }

    pub fn proxy(&self) -> Option<&ProxyConfig> {
        self.proxy.as_ref()
    }

    /// The WebSocket URL dialled.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Opens the socket: TCP (through the proxy if any), TLS, WebSocket upgrade.
    async fn dial(
        &self,
    ) -> Result<(Arc<dyn Transport>, async_channel::Receiver<TransportEvent>), String> {
        let deadline = Deadline::new(self.overall_timeout);
        let WsTarget {
            uri,
            host,
            port,
            tls,
        } = parse_ws_target(&self.url)?;
        let target = host_port(&host, port);

        let stream: BoxedStream = match &self.proxy {
            None => {
                Box::new(dial_tcp(&host, port, &target, self.connect_timeout, &deadline).await?)
            }
            Some(proxy) => {
                let via = proxy.describe();
                let tcp = dial_tcp(
                    &proxy.host,
                    proxy.port,
                    &via,
                    self.connect_timeout,
                    &deadline,
                )
                .await?;
                let budget = deadline.budget(self.handshake_timeout);
                let negotiate = async {
                    match proxy.scheme {
                        ProxyScheme::Socks5 => {
                            let mut tcp = tcp;
                            socks5_connect(&mut tcp, proxy, &host, port).await?;
                            Ok::<BoxedStream, String>(Box::new(tcp))
                        }
                        ProxyScheme::Http => {
                            let mut tcp = tcp;
                            http_connect(&mut tcp, proxy, &host, port).await?;
                            Ok(Box::new(tcp) as BoxedStream)
                        }
                        ProxyScheme::Https => {
                            let mut tls = tls_connector()
                                .wrap(&proxy.host, tcp)
                                .await
                                .map_err(|err| format!("TLS handshake with {via} failed: {err}"))?;
                            http_connect(&mut tls, proxy, &host, port).await?;
                            Ok(Box::new(tls) as BoxedStream)
                        }
                    }
                };
                tokio::time::timeout(budget, negotiate).await.unwrap_or_else(|_| {
                    Err(format!(
                        "cannot reach {target} through {via}: the proxy did not complete the handshake within {}",
                        fmt_duration(budget)
                    ))
                })?
            }
        };
        let through = match &self.proxy {
            Some(proxy) => format!(" (through {})", proxy.describe()),
            None => String::new(),
        };

        let plain = Connector::Plain;
        let connector = if tls { tls_connector() } else { &plain };
        let budget = deadline.budget(self.handshake_timeout);
        let stream = tokio::time::timeout(budget, connector.wrap(&host, stream))
            .await
            .map_err(|_| {
                format!(
                    "TLS handshake with {target}{through} timed out after {}",
                    fmt_duration(budget)
                )
            })?
            .map_err(|err| format!("TLS handshake with {target}{through} failed: {err}"))?;

        let builder = tokio_websockets::ClientBuilder::from_uri(uri)
            .add_header(
                http::header::ORIGIN,
                http::HeaderValue::from_static(WHATSAPP_WEB_ORIGIN),
            )
            .map_err(|err| format!("cannot set the Origin header: {err}"))?;
        let budget = deadline.budget(self.handshake_timeout);
        let (ws, _response) = tokio::time::timeout(budget, builder.connect_on(stream))
            .await
            .map_err(|_| {
                format!(
                    "WebSocket upgrade at {}{through} timed out after {}",
                    self.url,
                    fmt_duration(budget)
                )
            })?
            .map_err(|err| format!("WebSocket upgrade at {}{through} failed: {err}", self.url))?;
        Ok(from_websocket(ws))
    }
}

/// Checks a WebSocket URL for [`WaTransportFactory::with_url`]: `wss://` or
/// `ws://` with a host.
pub fn check_websocket_url(url: &str) -> Result<(), String> {
    parse_ws_target(url).map(|_| ())
}

struct WsTarget {
    uri: http::Uri,
    /// Without IPv6 brackets.
    host: String,
    port: u16,
    tls: bool,
}

fn parse_ws_target(url: &str) -> Result<WsTarget, String> {
    let uri: http::Uri = url
        .parse()
        .map_err(|err| format!("invalid WebSocket URL {url:?}: {err}"))?;
    let tls = match uri.scheme_str() {
        Some("wss") => true,
        Some("ws") => false,
        _ => return Err(format!("WebSocket URL {url:?} must use wss:// or ws://")),
    };
    let host = uri
        .host()
        .map(|h| h.trim_start_matches('[').trim_end_matches(']'))
        .filter(|h| !h.is_empty())
        .ok_or_else(|| format!("WebSocket URL {url:?} has no host"))?
        .to_owned();
    let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
    Ok(WsTarget {
        uri,
        host,
        port,
        tls,
    })
}

impl Default for WaTransportFactory {
    fn default() -> Self {
        Self::new(None)
    }
}

impl fmt::Debug for WaTransportFactory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaTransportFactory")
            .field("url", &self.url)
            .field("proxy", &self.proxy)
            .field("connect_timeout", &self.connect_timeout)
            .field("handshake_timeout", &self.handshake_timeout)
            .field("overall_timeout", &self.overall_timeout)
            .field("on_error", &self.on_error.is_some())
            .field("on_connected", &self.on_connected.is_some())
            .finish()
    }
}

#[async_trait]
impl TransportFactory for WaTransportFactory {
    async fn create_transport(
        &self,
    ) -> Result<(Arc<dyn Transport>, async_channel::Receiver<TransportEvent>), anyhow::Error> {
        match self.dial().await {
            Ok(pair) => {
                tracing::debug!(url = %self.url, proxy = ?self.proxy.as_ref().map(|p| p.describe()), "WhatsApp socket open");
                if let Some(observer) = &self.on_connected {
                    observer();
                }
                Ok(pair)
            }
            Err(message) => {
                tracing::debug!(%message, "WhatsApp socket failed");
                if let Some(observer) = &self.on_error {
                    observer(message.clone());
                }
                Err(anyhow::anyhow!(message))
            }
        }
    }
}

/// Any byte stream the WebSocket can run on.
trait IoStream: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> IoStream for T {}
type BoxedStream = Box<dyn IoStream>;

/// The library's rustls connector (webpki roots, ring), built once per process.
fn tls_connector() -> &'static Connector {
    static CONNECTOR: OnceLock<Connector> = OnceLock::new();
    CONNECTOR.get_or_init(default_tls_connector)
}

struct Deadline(Instant);

impl Deadline {
    fn new(overall: Duration) -> Self {
        Self(Instant::now() + overall)
    }

    /// `step`, cut to what is left of the overall budget.
    fn budget(&self, step: Duration) -> Duration {
        step.min(self.0.saturating_duration_since(Instant::now()))
    }
}

fn fmt_duration(d: Duration) -> String {
    if d.subsec_millis() == 0 && d.as_secs() > 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{} ms", d.as_millis())
    }
}

/// Short lowercase text for an I/O error ("connection refused", …).
fn io_message(err: &io::Error) -> String {
    use io::ErrorKind as K;
    match err.kind() {
        K::ConnectionRefused => "connection refused".into(),
        K::ConnectionReset => "connection reset".into(),
        K::ConnectionAborted => "connection aborted".into(),
        K::TimedOut => "timed out".into(),
        K::UnexpectedEof => "connection closed by the peer".into(),
        K::HostUnreachable => "host unreachable".into(),
        K::NetworkUnreachable => "network unreachable".into(),
        K::AddrNotAvailable => "address not available".into(),
        K::PermissionDenied => "permission denied".into(),
        _ => err.to_string(),
    }
}

/// Resolves `host` (unless it is an IP literal) and connects to the first
/// address that answers, all within the connect budget. `what` names the peer
/// in messages ("web.whatsapp.com:443", "socks5 proxy p.example:1080").
async fn dial_tcp(
    host: &str,
    port: u16,
    what: &str,
    connect_timeout: Duration,
    deadline: &Deadline,
) -> Result<TcpStream, String> {
    let budget = deadline.budget(connect_timeout);
    let started = Instant::now();
    let attempt = async {
        let addrs: Vec<SocketAddr> = match host.parse::<IpAddr>() {
            Ok(ip) => vec![SocketAddr::new(ip, port)],
            Err(_) => tokio::net::lookup_host((host, port))
                .await
                .map_err(|err| format!("DNS lookup of {host} failed: {err}"))?
                .take(MAX_ADDRS)
                .collect(),
        };
        if addrs.is_empty() {
            return Err(format!("DNS lookup of {host} returned no addresses"));
        }
        let count = addrs.len();
        let mut last_error = String::new();
        for (i, addr) in addrs.into_iter().enumerate() {
            // Share what is left between the remaining addresses, so one
            // black-holed address cannot eat the whole budget.
            let left = budget.saturating_sub(started.elapsed());
            let slice = left / u32::try_from(count - i).unwrap_or(1);
            match tokio::time::timeout(slice, TcpStream::connect(addr)).await {
                Ok(Ok(stream)) => {
                    let _ = stream.set_nodelay(true);
                    return Ok(stream);
                }
                Ok(Err(err)) => last_error = io_message(&err),
                Err(_) => last_error = format!("timed out after {}", fmt_duration(slice)),
            }
        }
        Err(format!("cannot connect to {what}: {last_error}"))
    };
    tokio::time::timeout(budget, attempt)
        .await
        .unwrap_or_else(|_| {
            Err(format!(
                "cannot connect to {what}: timed out after {}",
                fmt_duration(budget)
            ))
        })
}

/// Text for a SOCKS5 reply code (RFC 1928 §6).
fn socks5_reply_message(code: u8) -> String {
    match code {
        0x01 => "general SOCKS server failure".into(),
        0x02 => "connection not allowed by ruleset".into(),
        0x03 => "network unreachable".into(),
        0x04 => "host unreachable".into(),
        0x05 => "connection refused".into(),
        0x06 => "TTL expired".into(),
        0x07 => "command not supported".into(),
        0x08 => "address type not supported".into(),
        other => format!("unknown SOCKS5 reply code 0x{other:02x}"),
    }
}

/// RFC 1928 CONNECT to `host:port` (domain-name address, resolved by the
/// proxy; IP literals are sent as IPs), with RFC 1929 username/password
/// authentication when the proxy URL has credentials.
async fn socks5_connect<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    proxy: &ProxyConfig,
    host: &str,
    port: u16,
) -> Result<(), String> {
    let via = proxy.describe();
    let target = host_port(host, port);
    let io_fail = |err: io::Error| match err.kind() {
        io::ErrorKind::UnexpectedEof => {
            format!("{via} closed the connection during the SOCKS5 handshake")
        }
        _ => format!("SOCKS5 handshake with {via} failed: {}", io_message(&err)),
    };
    let credentials = proxy.username.as_deref().zip(proxy.password.as_deref());

    // Greeting: version 5, offered methods (0 = none, 2 = username/password).
    let greeting: &[u8] = if credentials.is_some() {
        &[5, 2, 0, 2]
    } else {
        &[5, 1, 0]
    };
    stream.write_all(greeting).await.map_err(io_fail)?;
    stream.flush().await.map_err(io_fail)?;
    let mut reply = [0u8; 2];
    stream.read_exact(&mut reply).await.map_err(io_fail)?;
    if reply[0] != 5 {
        return Err(format!("{via} did not answer as a SOCKS5 proxy"));
    }
    match (reply[1], credentials) {
        (0x00, _) => {}
        (0x02, Some((user, pass))) => {
            let mut auth = Vec::with_capacity(3 + user.len() + pass.len());
            auth.push(1);
            auth.push(user.len() as u8); // ≤ 255, checked by ProxyConfig::parse
            auth.extend_from_slice(user.as_bytes());
            auth.push(pass.len() as u8);
            auth.extend_from_slice(pass.as_bytes());
            stream.write_all(&auth).await.map_err(io_fail)?;
            stream.flush().await.map_err(io_fail)?;
            stream.read_exact(&mut reply).await.map_err(io_fail)?;
            if reply[1] != 0 {
                return Err(format!("{via} rejected the username/password"));
            }
        }
        (0xFF, None) => {
            return Err(format!(
                "{via} requires authentication, but the proxy URL has no username and password"
            ));
        }
        (0xFF, Some(_)) => {
            return Err(format!(
                "{via} accepts neither no authentication nor username/password"
            ));
        }
        (method, _) => {
            return Err(format!(
                "{via} chose an authentication method that was not offered (0x{method:02x})"
            ));
        }
    }

    // CONNECT request.
    let mut request = Vec::with_capacity(7 + host.len());
    request.extend_from_slice(&[5, 1, 0]);
    match host.parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) => {
            request.push(0x01);
            request.extend_from_slice(&ip.octets());
        }
        Ok(IpAddr::V6(ip)) => {
            request.push(0x04);
            request.extend_from_slice(&ip.octets());
        }
        Err(_) => {
            let len = u8::try_from(host.len())
                .map_err(|_| format!("host name {host:?} is too long for SOCKS5"))?;
            request.push(0x03);
            request.push(len);
            request.extend_from_slice(host.as_bytes());
        }
    }
    request.extend_from_slice(&port.to_be_bytes());
    stream.write_all(&request).await.map_err(io_fail)?;
    stream.flush().await.map_err(io_fail)?;

    // Reply: version, status first; a failing proxy may close right after.
    stream.read_exact(&mut reply).await.map_err(io_fail)?;
    if reply[0] != 5 {
        return Err(format!("{via} did not answer as a SOCKS5 proxy"));
    }
    if reply[1] != 0 {
        return Err(format!(
            "cannot reach {target} through {via}: {}",
            socks5_reply_message(reply[1])
        ));
    }
    // Reserved, address type, bound address and port (unused for CONNECT).
    stream.read_exact(&mut reply).await.map_err(io_fail)?;
    let addr_len = match reply[1] {
        0x01 => 4,
        0x04 => 16,
        0x03 => {
            let mut len = [0u8; 1];
            stream.read_exact(&mut len).await.map_err(io_fail)?;
            usize::from(len[0])
        }
        other => {
            return Err(format!(
                "{via} sent an unknown address type 0x{other:02x} in its reply"
            ));
        }
    };
    let mut bound = [0u8; 255 + 2];
    stream
        .read_exact(&mut bound[..addr_len + 2])
        .await
        .map_err(io_fail)?;
    Ok(())
}

/// HTTP CONNECT to `host:port`, with `Proxy-Authorization: Basic` when the
/// proxy URL has credentials. Reads the response head one byte at a time so
/// nothing after it is consumed, up to [`MAX_CONNECT_RESPONSE_HEAD`] bytes.
async fn http_connect<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    proxy: &ProxyConfig,
    host: &str,
    port: u16,
) -> Result<(), String> {
    let via = proxy.describe();
    let target = host_port(host, port);
    let io_fail = |err: io::Error| match err.kind() {
        io::ErrorKind::UnexpectedEof => {
            format!("{via} closed the connection before answering CONNECT {target}")
        }
        _ => format!(
            "CONNECT {target} through {via} failed: {}",
            io_message(&err)
        ),
    };

    let mut request = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n");
    if let Some(user) = &proxy.username {
        let pair = format!("{user}:{}", proxy.password.as_deref().unwrap_or(""));
        let token = base64::engine::general_purpose::STANDARD.encode(pair);
        request.push_str(&format!("Proxy-Authorization: Basic {token}\r\n"));
    }
    request.push_str("\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(io_fail)?;
    stream.flush().await.map_err(io_fail)?;

    let mut head = Vec::with_capacity(256);
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() >= MAX_CONNECT_RESPONSE_HEAD {
            return Err(format!(
                "{via} sent a CONNECT response head larger than {MAX_CONNECT_RESPONSE_HEAD} bytes"
            ));
        }
        stream.read_exact(&mut byte).await.map_err(io_fail)?;
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head);
    let status_line = head.lines().next().unwrap_or_default().trim();
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    let code = parts.next().and_then(|c| c.parse::<u16>().ok());
    let reason = parts.next().unwrap_or_default().trim();
    let Some(code) = code.filter(|_| version.starts_with("HTTP/1.")) else {
        return Err(format!(
            "{via} did not answer CONNECT with an HTTP status line"
        ));
    };
    if (200..300).contains(&code) {
        return Ok(());
    }
    let status = if reason.is_empty() {
        code.to_string()
    } else {
        format!("{code} {reason}")
    };
    Err(if code == 407 {
        let hint = if proxy.username.is_some() {
            "the proxy rejected the username/password"
        } else {
            "the proxy URL has no username and password"
        };
        format!(
            "cannot reach {target} through {via}: proxy authentication required ({status}); {hint}"
        )
    } else {
        format!("cannot reach {target} through {via}: proxy answered {status}")
    })
}

// ---------------------------------------------------------------------------
// HTTP (media, app version)
// ---------------------------------------------------------------------------

/// The HTTP client for media and the app-version fetch, through `proxy` if set.
///
/// Without a proxy, proxy environment variables (`ALL_PROXY`, `HTTPS_PROXY`, …)
/// are ignored: a session connects the way its settings say. Connect (DNS,
/// proxy negotiation, TLS) has [`CONNECT_TIMEOUT`]; any single read or write
/// that stalls for [`HTTP_STALL_TIMEOUT`] fails the request; the total time is
/// not limited (media downloads may be large). 16 KiB buffers, 3 idle
/// connections (2 per host).
pub fn http_client(proxy: Option<&ProxyConfig>) -> UreqHttpClient {
    let config = ureq::Agent::config_builder()
        .proxy(proxy.map(|p| p.ureq.clone()))
        .timeout_resolve(Some(CONNECT_TIMEOUT))
        .timeout_connect(Some(CONNECT_TIMEOUT))
        .timeout_per_read(Some(HTTP_STALL_TIMEOUT))
        .timeout_per_write(Some(HTTP_STALL_TIMEOUT))
        .input_buffer_size(HTTP_BUFFER_BYTES)
        .output_buffer_size(HTTP_BUFFER_BYTES)
        .max_idle_connections(3)
        .max_idle_connections_per_host(2)
        .build();
    UreqHttpClient::with_agent(ureq::Agent::new_with_config(config))
}

/// [`http_client`] wrapped in an [`ObservedHttpClient`].
pub fn observed_http_client(
    proxy: Option<&ProxyConfig>,
    on_error: Option<ErrorObserver>,
) -> ObservedHttpClient {
    let client = ObservedHttpClient::new(http_client(proxy), on_error);
    match proxy {
        Some(proxy) => client.via_proxy(proxy),
        None => client,
    }
}

/// An [`HttpClient`] that delegates to a [`UreqHttpClient`] and reports
/// transport failures (DNS, connect, proxy, TLS, timeouts — not HTTP status
/// codes, which stay `Ok`) through `on_error`. The message names the URL's host
/// only (media URLs carry auth tokens) and the proxy, if any.
#[derive(Clone)]
pub struct ObservedHttpClient {
    inner: UreqHttpClient,
    on_error: Option<ErrorObserver>,
    via: Option<String>,
}

impl ObservedHttpClient {
    pub fn new(inner: UreqHttpClient, on_error: Option<ErrorObserver>) -> Self {
        Self {
            inner,
            on_error,
            via: None,
        }
    }

    /// Names `proxy` in error messages.
    pub fn via_proxy(mut self, proxy: &ProxyConfig) -> Self {
        self.via = Some(proxy.describe());
        self
    }

    pub fn inner(&self) -> &UreqHttpClient {
        &self.inner
    }

    fn observe<T>(&self, url: &str, result: anyhow::Result<T>) -> anyhow::Result<T> {
        if let (Err(err), Some(observer)) = (&result, &self.on_error) {
            observer(http_error_message(url, self.via.as_deref(), err));
        }
        result
    }
}

impl fmt::Debug for ObservedHttpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ObservedHttpClient")
            .field("via", &self.via)
            .field("on_error", &self.on_error.is_some())
            .finish()
    }
}

fn http_error_message(url: &str, via: Option<&str>, err: &anyhow::Error) -> String {
    let host = url::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| "an invalid URL".to_owned());
    let through = via.map(|v| format!(" through {v}")).unwrap_or_default();
    // Never leak the full URL (tokens in media paths and queries).
    let detail = format!("{err:#}").replace(url, &host);
    format!("HTTP request to {host}{through} failed: {detail}")
}

#[async_trait]
impl HttpClient for ObservedHttpClient {
    async fn execute(&self, request: HttpRequest) -> anyhow::Result<HttpResponse> {
        let url = request.url.clone();
        let result = self.inner.execute(request).await;
        self.observe(&url, result)
    }

    fn supports_streaming(&self) -> bool {
        self.inner.supports_streaming()
    }

    fn execute_streaming(&self, request: HttpRequest) -> anyhow::Result<StreamingHttpResponse> {
        let url = request.url.clone();
        let result = self.inner.execute_streaming(request);
        self.observe(&url, result)
    }

    fn supports_upload_streaming(&self) -> bool {
        self.inner.supports_upload_streaming()
    }

    fn execute_upload(
        &self,
        request: HttpRequest,
        body: UploadBody,
        content_length: u64,
    ) -> anyhow::Result<HttpResponse> {
        let url = request.url.clone();
        let result = self.inner.execute_upload(request, body, content_length);
        self.observe(&url, result)
    }

    fn resource_report(&self) -> Option<HttpResourceReport> {
        self.inner.resource_report()
    }
}

#[cfg(test)]
mod tests {
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
