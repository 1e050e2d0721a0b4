//! The WebSocket transport: direct, through a SOCKS5 proxy, or through an
//! HTTP(S) CONNECT proxy; every step bounded in time and size.

use super::*;

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

pub(super) struct WsTarget {
    pub(super) uri: http::Uri,
    /// Without IPv6 brackets.
    pub(super) host: String,
    pub(super) port: u16,
    pub(super) tls: bool,
}

pub(super) fn parse_ws_target(url: &str) -> Result<WsTarget, String> {
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
pub(super) trait IoStream: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> IoStream for T {}
pub(super) type BoxedStream = Box<dyn IoStream>;

/// The library's rustls connector (webpki roots, ring), built once per process.
pub(super) fn tls_connector() -> &'static Connector {
    static CONNECTOR: OnceLock<Connector> = OnceLock::new();
    CONNECTOR.get_or_init(default_tls_connector)
}

pub(super) struct Deadline(Instant);

impl Deadline {
    fn new(overall: Duration) -> Self {
        Self(Instant::now() + overall)
    }

    /// `step`, cut to what is left of the overall budget.
    fn budget(&self, step: Duration) -> Duration {
        step.min(self.0.saturating_duration_since(Instant::now()))
    }
}

pub(super) fn fmt_duration(d: Duration) -> String {
    if d.subsec_millis() == 0 && d.as_secs() > 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{} ms", d.as_millis())
    }
}

/// Short lowercase text for an I/O error ("connection refused", …).
pub(super) fn io_message(err: &io::Error) -> String {
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
pub(super) async fn dial_tcp(
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
pub(super) fn socks5_reply_message(code: u8) -> String {
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
pub(super) async fn socks5_connect<S: AsyncRead + AsyncWrite + Unpin>(
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
pub(super) async fn http_connect<S: AsyncRead + AsyncWrite + Unpin>(
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
