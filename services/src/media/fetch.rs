//! Downloads media URLs for outgoing messages without letting a URL reach the
//! server's own network: every hop's host is resolved here, each address is
//! checked, and the connection goes to a checked address (the name is only
//! sent as Host and TLS SNI), so DNS cannot change the answer in between.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::header::{
    ACCEPT, ACCEPT_ENCODING, CONTENT_DISPOSITION, CONTENT_LENGTH, CONTENT_TYPE, HOST, LOCATION,
    USER_AGENT,
};
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::rustls::{ClientConfig, RootCertStore};
use url::{Host, Url};

use super::{clean_file_name, human_size};
use crate::error::{Code, Error, Reason, Result};
use crate::validate::{UrlKind, is_private_or_local, outbound_url};

/// A downloaded file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fetched {
    pub bytes: Bytes,
    /// The response's Content-Type, as sent.
    pub content_type: Option<String>,
    /// From Content-Disposition, else the last segment of the URL path.
    pub file_name: Option<String>,
}

/// Fetches media URLs (see the module documentation).
pub struct Fetcher {
    allow_private: bool,
    timeout: Duration,
    connect_timeout: Duration,
    max_redirects: usize,
    #[cfg(test)]
    pub(super) hooks: TestHooks,
}

/// Test seams: fixed DNS answers, and private addresses allowed for the first
/// hops only (to prove that redirects are checked again).
#[cfg(test)]
#[derive(Default)]
pub(super) struct TestHooks {
    pub hosts: std::collections::HashMap<String, IpAddr>,
    pub private_allowed_hops: usize,
}

const MAX_REDIRECTS: usize = 3;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

impl Fetcher {
    /// `timeout` bounds a whole fetch: resolving, connecting, redirects and body.
    pub fn new(allow_private: bool, timeout: Duration) -> Self {
        Self {
            allow_private,
            timeout,
            connect_timeout: CONNECT_TIMEOUT.min(timeout),
            max_redirects: MAX_REDIRECTS,
            #[cfg(test)]
            hooks: TestHooks::default(),
        }
    }

    /// Whether URLs may point at private and loopback addresses.
    pub fn allow_private(&self) -> bool {
        self.allow_private
    }

    /// GETs an http(s) URL, following at most 3 redirects (each checked like
    /// the first URL), with a body of at most `max_bytes`.
    ///
    /// Errors: INVALID_ARGUMENT for refused URLs and files over the cap,
    /// UNAVAILABLE for network failures, timeouts and 5xx answers,
    /// FAILED_PRECONDITION for other non-2xx answers.
    pub async fn fetch(&self, url: &str, max_bytes: usize) -> Result<Fetched> {
        match tokio::time::timeout(self.timeout, self.fetch_following(url, max_bytes)).await {
            Ok(result) => result,
            Err(_) => Err(Error::unavailable(format!(
                "downloading {} timed out after {}",
                display_url_str(url),
                format_duration(self.timeout)
            ))),
        }
    }

    async fn fetch_following(&self, url: &str, max_bytes: usize) -> Result<Fetched> {
        let mut next = url.to_owned();
        for hop in 0..=self.max_redirects {
            let allow_private = self.private_allowed_on(hop);
            let url = outbound_url(&next, UrlKind::Media, allow_private).map_err(|err| {
                refused(if hop == 0 {
                    format!("media URL {}: {err}", display_url_str(&next))
                } else {
                    format!("media URL redirected to {}: {err}", display_url_str(&next))
                })
            })?;
            let (response, connection) = self.get(&url, allow_private).await?;
            let status = response.status();
            if status.is_redirection()
                && let Some(location) = response.headers().get(LOCATION)
            {
                if hop == self.max_redirects {
                    return Err(Error::precondition(
                        Reason::InvalidArgument,
                        format!(
                            "downloading {} took more than {} redirects",
                            display_url(&url),
                            self.max_redirects
                        ),
                    ));
                }
                let location = location.to_str().unwrap_or_default();
                next = url
                    .join(location)
                    .map_err(|err| {
                        Error::precondition(
                            Reason::InvalidArgument,
                            format!(
                                "{} redirected to an invalid location {location:?}: {err}",
                                display_url(&url)
                            ),
                        )
                    })?
                    .to_string();
                drop(connection);
                continue;
            }
            if !status.is_success() {
                return Err(status_error(status, &url));
            }
            let fetched = read_body(response, &url, max_bytes).await;
            drop(connection);
            return fetched;
        }
        unreachable!("the loop returns on its last hop")
    }

    fn private_allowed_on(&self, hop: usize) -> bool {
        #[cfg(test)]
        if hop < self.hooks.private_allowed_hops {
            return true;
        }
        let _ = hop;
        self.allow_private
    }

    /// A TCP (or TLS, for https) stream to a checked address of `url`'s
    /// host: private and local addresses are refused unless `allow_private`.
    /// `what` names the URL in errors (e.g. "webhook URL").
    pub(crate) async fn open_stream(
        &self,
        url: &Url,
        allow_private: bool,
        what: &str,
    ) -> Result<Box<dyn IoStream>> {
        let host = url
            .host()
            .ok_or_else(|| refused(format!("{} has no host", display_url(url))))?;
        let port = url
            .port_or_known_default()
            .ok_or_else(|| refused(format!("{} has no port", display_url(url))))?;
        let addresses = self.resolve(&host, port).await?;
        let allowed: Vec<SocketAddr> = addresses
            .iter()
            .copied()
            .filter(|address| allow_private || !is_refused_address(address.ip()))
            .collect();
        if allowed.is_empty() {
            let ip = addresses
                .first()
                .map(|a| a.ip().to_string())
                .unwrap_or_default();
            return Err(refused(format!(
                "{what} {}: host {host} resolves to a private or local address ({ip}); \
                 such addresses are refused unless WAGATE_ALLOW_PRIVATE_URLS=true",
                display_url(url)
            )));
        }
        let tcp = self.connect(&allowed, url).await?;
        if url.scheme() != "https" {
            return Ok(Box::new(tcp));
        }
        let server_name = match &host {
            Host::Domain(name) => ServerName::try_from(name.to_string())
                .map_err(|err| refused(format!("host {name:?} is not a valid TLS name: {err}")))?,
            Host::Ipv4(ip) => ServerName::IpAddress(IpAddr::V4(*ip).into()),
            Host::Ipv6(ip) => ServerName::IpAddress(IpAddr::V6(*ip).into()),
        };
        let tls = tls_connector()
            .connect(server_name, tcp)
            .await
            .map_err(|err| {
                Error::unavailable(format!(
                    "TLS handshake with {host} for {} failed: {err}",
                    display_url(url)
                ))
            })?;
        Ok(Box::new(tls))
    }

    /// Sends one GET to a checked address of `url`'s host. The connection
    /// task lives as long as the returned guard.
    async fn get(
        &self,
        url: &Url,
        allow_private: bool,
    ) -> Result<(Response<Incoming>, AbortOnDrop)> {
        let stream = self.open_stream(url, allow_private, "media URL").await?;
        let network_error = |err: hyper::Error| {
            Error::unavailable(format!("downloading {} failed: {err}", display_url(url)))
        };
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(network_error)?;
        let connection = AbortOnDrop(tokio::spawn(async move {
            let _ = connection.await;
        }));
        let host_header = match url.port() {
            Some(port) => format!("{}:{port}", url.host_str().unwrap_or_default()),
            None => url.host_str().unwrap_or_default().to_owned(),
        };
        let path = match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_owned(),
        };
        let request = Request::get(path)
            .header(HOST, host_header)
            .header(USER_AGENT, concat!("wagate/", env!("CARGO_PKG_VERSION")))
            .header(ACCEPT, "*/*")
            .header(ACCEPT_ENCODING, "identity")
            .body(Empty::<Bytes>::new())
            .map_err(|err| refused(format!("{} cannot be requested: {err}", display_url(url))))?;
        let response = sender.send_request(request).await.map_err(network_error)?;
        Ok((response, connection))
    }

    async fn resolve(&self, host: &Host<&str>, port: u16) -> Result<Vec<SocketAddr>> {
        let name = match host {
            Host::Ipv4(ip) => return Ok(vec![SocketAddr::new(IpAddr::V4(*ip), port)]),
            Host::Ipv6(ip) => return Ok(vec![SocketAddr::new(IpAddr::V6(*ip), port)]),
            Host::Domain(name) => *name,
        };
        #[cfg(test)]
        if let Some(ip) = self.hooks.hosts.get(name) {
            return Ok(vec![SocketAddr::new(*ip, port)]);
        }
        let addresses: Vec<SocketAddr> = tokio::net::lookup_host((name, port))
            .await
            .map_err(|err| Error::unavailable(format!("cannot resolve host {name}: {err}")))?
            .collect();
        if addresses.is_empty() {
            return Err(Error::unavailable(format!("host {name} has no addresses")));
        }
        Ok(addresses)
    }

    /// Connects to the first address that answers.
    async fn connect(&self, addresses: &[SocketAddr], url: &Url) -> Result<TcpStream> {
        let mut last_error = String::new();
        for address in addresses {
            match tokio::time::timeout(self.connect_timeout, TcpStream::connect(address)).await {
                Ok(Ok(stream)) => {
                    let _ = stream.set_nodelay(true);
                    return Ok(stream);
                }
                Ok(Err(err)) => last_error = err.to_string(),
                Err(_) => {
                    last_error =
                        format!("no answer within {}", format_duration(self.connect_timeout))
                }
            }
        }
        Err(Error::unavailable(format!(
            "cannot connect to {} for {}: {last_error}",
            url.host_str().unwrap_or_default(),
            display_url(url)
        )))
    }
}

/// Reads the body, failing as soon as it is known to exceed `max_bytes`.
async fn read_body(response: Response<Incoming>, url: &Url, max_bytes: usize) -> Result<Fetched> {
    let headers = response.headers();
    let header_text = |name| {
        headers
            .get(name)
            .and_then(|v: &http::HeaderValue| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let content_type = header_text(CONTENT_TYPE);
    let file_name = header_text(CONTENT_DISPOSITION)
        .and_then(|value| disposition_file_name(&value))
        .or_else(|| url_file_name(url));
    let declared_length = header_text(CONTENT_LENGTH).and_then(|v| v.parse::<u64>().ok());
    if let Some(length) = declared_length
        && length > max_bytes as u64
    {
        return Err(too_large(url, max_bytes, Some(length)));
    }
    let capacity = declared_length.map_or(64 * 1024, |n| n as usize);
    let mut buffer = BytesMut::with_capacity(capacity);
    let mut body = response.into_body();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|err| {
            Error::unavailable(format!("downloading {} failed: {err}", display_url(url)))
        })?;
        if let Ok(data) = frame.into_data() {
            if buffer.len() + data.len() > max_bytes {
                return Err(too_large(url, max_bytes, None));
            }
            buffer.extend_from_slice(&data);
        }
    }
    Ok(Fetched {
        bytes: buffer.freeze(),
        content_type,
        file_name,
    })
}

/// Addresses a media URL may not reach: everything [`is_private_or_local`]
/// refuses, plus multicast, reserved and benchmarking ranges, and IPv6 forms
/// that embed an IPv4 address (mapped, compatible, NAT64, 6to4) when that
/// address is refused or the form bypasses IPv4 checks.
pub(crate) fn is_refused_address(ip: IpAddr) -> bool {
    if is_private_or_local(ip) || ip.is_multicast() {
        return true;
    }
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            a == 0 || a >= 240 || (a == 192 && b == 0 && c == 0) || (a == 198 && (b & 0xFE) == 18)
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            let embedded = |high: u16, low: u16| {
                let [h1, h2] = high.to_be_bytes();
                let [l1, l2] = low.to_be_bytes();
                is_refused_address(IpAddr::V4([h1, h2, l1, l2].into()))
            };
            v6.to_ipv4_mapped().is_some()
                || s[..6] == [0; 6]
                || (s[0] == 0x2001 && s[1] == 0x0db8)
                || (s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] && embedded(s[6], s[7]))
                || (s[0] == 0x2002 && embedded(s[1], s[2]))
        }
    }
}

/// The file name of a Content-Disposition header: `filename*` (RFC 5987)
/// first, then `filename`.
pub(crate) fn disposition_file_name(value: &str) -> Option<String> {
    let mut plain = None;
    let mut extended = None;
    for parameter in split_parameters(value).into_iter().skip(1) {
        let Some((key, raw)) = parameter.split_once('=') else {
            continue;
        };
        match key.trim().to_ascii_lowercase().as_str() {
            "filename*" => {
                let mut parts = raw.trim().splitn(3, '\'');
                let (Some(charset), Some(_language), Some(encoded)) =
                    (parts.next(), parts.next(), parts.next())
                else {
                    continue;
                };
                let bytes = percent_decode(encoded);
                extended = match charset.to_ascii_lowercase().as_str() {
                    "utf-8" => String::from_utf8(bytes).ok(),
                    "iso-8859-1" => Some(bytes.into_iter().map(char::from).collect()),
                    _ => None,
                };
            }
            "filename" => plain = Some(unquote(raw.trim())),
            _ => {}
        }
    }
    extended
        .or(plain)
        .map(|name| clean_file_name(&name))
        .filter(|name| !name.is_empty())
}

/// The last non-empty segment of the URL path, percent-decoded.
fn url_file_name(url: &Url) -> Option<String> {
    let segment = url.path_segments()?.rev().find(|s| !s.is_empty())?;
    let name = clean_file_name(&String::from_utf8_lossy(&percent_decode(segment)));
    (!name.is_empty()).then_some(name)
}

/// Splits a header value at `;` outside quoted strings.
fn split_parameters(value: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, c) in value.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ';' if !quoted => {
                parts.push(&value[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&value[start..]);
    parts
}

fn unquote(value: &str) -> String {
    match value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
        Some(inner) => {
            let mut out = String::with_capacity(inner.len());
            let mut chars = inner.chars();
            while let Some(c) = chars.next() {
                out.push(if c == '\\' {
                    chars.next().unwrap_or(c)
                } else {
                    c
                });
            }
            out
        }
        None => value.to_owned(),
    }
}

fn percent_decode(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(Some(h)), Some(Some(l))) = (
                bytes.get(i + 1).map(|&b| hex(b)),
                bytes.get(i + 2).map(|&b| hex(b)),
            )
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

/// A URL for messages and logs: no credentials, no query (it may hold tokens).
pub(crate) fn display_url(url: &Url) -> String {
    let mut shown = url.clone();
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.set_query(None);
    shown.set_fragment(None);
    shown.to_string()
}

pub(super) fn display_url_str(url: &str) -> String {
    match Url::parse(url.trim()) {
        Ok(url) => display_url(&url),
        Err(_) => format!("{:?}", url.chars().take(100).collect::<String>()),
    }
}

fn refused(message: String) -> Error {
    Error::new(Code::InvalidArgument, Reason::InvalidArgument, message)
}

fn too_large(url: &Url, max_bytes: usize, declared: Option<u64>) -> Error {
    let size = match declared {
        Some(length) => format!("is {} ({length} bytes)", human_size(length as usize)),
        None => "is larger".to_owned(),
    };
    refused(format!(
        "the file at {} {size}; the limit is {}",
        display_url(url),
        human_size(max_bytes)
    ))
}

fn status_error(status: StatusCode, url: &Url) -> Error {
    let message = format!(
        "downloading {} failed: the server answered HTTP {status}",
        display_url(url)
    );
    if status.is_server_error()
        || status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::REQUEST_TIMEOUT
    {
        Error::unavailable(message)
    } else if matches!(status, StatusCode::NOT_FOUND | StatusCode::GONE) {
        Error::precondition(Reason::NotFound, message)
    } else {
        Error::precondition(Reason::InvalidArgument, message)
    }
}

fn format_duration(d: Duration) -> String {
    if d.subsec_millis() == 0 && d.as_secs() > 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{} ms", d.as_millis())
    }
}

pub(crate) trait IoStream: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> IoStream for T {}

/// Ends the HTTP connection task when the fetch is done or abandoned.
pub(crate) struct AbortOnDrop(pub(crate) tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// rustls on ring with the Mozilla roots (webpki-roots), HTTP/1.1 only.
fn tls_connector() -> &'static TlsConnector {
    static CONNECTOR: OnceLock<TlsConnector> = OnceLock::new();
    CONNECTOR.get_or_init(|| {
        let roots = RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
        let mut config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("ring supports the default TLS versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        TlsConnector::from(Arc::new(config))
    })
}

#[cfg(test)]
#[path = "fetch_tests.rs"]
mod tests;
