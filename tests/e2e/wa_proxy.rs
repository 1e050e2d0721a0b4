//! Proxies for the WhatsApp engine, against real loopback proxies written here:
//! a SOCKS5 proxy (RFC 1928/1929) and an HTTP CONNECT proxy that record what
//! they were asked and then refuse or forward, and a minimal WebSocket server
//! to forward to. Nothing leaves 127.0.0.1: refusing proxies never dial out and
//! forwarding proxies only reach the local WebSocket server.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use wagate::engine::whatsapp::proxy::{
    ConnectedObserver, ErrorObserver, HttpClient, HttpRequest, ProxyConfig, TransportEvent,
    TransportFactory, WaTransportFactory, http_client, observed_http_client,
};

/// Connections a test proxy or server accepts before it stops listening.
const MAX_CONNECTIONS: usize = 4;
/// Time a test proxy or server spends on one connection.
const CONNECTION_BUDGET: Duration = Duration::from_secs(20);
/// A test proxy or server stops accepting after this long.
const LISTEN_BUDGET: Duration = Duration::from_secs(60);
/// Longest request head the test servers read.
const MAX_HEAD: usize = 8 * 1024;

pub(crate) type Shared<T> = Arc<Mutex<Vec<T>>>;

fn shared<T>() -> Shared<T> {
    Arc::new(Mutex::new(Vec::new()))
}

pub(crate) fn snapshot<T: Clone>(list: &Shared<T>) -> Vec<T> {
    list.lock().unwrap().clone()
}

fn error_recorder() -> (ErrorObserver, Shared<String>) {
    let messages = shared();
    let sink = messages.clone();
    let observer: ErrorObserver =
        Arc::new(move |message: String| sink.lock().unwrap().push(message));
    (observer, messages)
}

fn connected_counter() -> (ConnectedObserver, Arc<Mutex<usize>>) {
    let count = Arc::new(Mutex::new(0));
    let sink = count.clone();
    let observer: ConnectedObserver = Arc::new(move || *sink.lock().unwrap() += 1);
    (observer, count)
}

/// Accepts up to [`MAX_CONNECTIONS`] connections within [`LISTEN_BUDGET`] and
/// serves each on its own task within [`CONNECTION_BUDGET`].
async fn serve<F, Fut>(handler: F) -> SocketAddr
where
    F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = std::io::Result<()>> + Send + 'static,
{
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let deadline = tokio::time::Instant::now() + LISTEN_BUDGET;
        for _ in 0..MAX_CONNECTIONS {
            let Ok(Ok((stream, _))) = tokio::time::timeout_at(deadline, listener.accept()).await
            else {
                return;
            };
            let connection = handler(stream);
            tokio::spawn(async move {
                let _ = tokio::time::timeout(CONNECTION_BUDGET, connection).await;
            });
        }
    });
    addr
}

/// Reads up to and including the blank line ending an HTTP head, one byte at a
/// time (nothing after it is consumed), at most [`MAX_HEAD`] bytes.
async fn read_head<S: AsyncRead + Unpin>(stream: &mut S) -> std::io::Result<String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() >= MAX_HEAD {
            return Err(std::io::Error::other("head too large"));
        }
        stream.read_exact(&mut byte).await?;
        head.push(byte[0]);
    }
    Ok(String::from_utf8_lossy(&head).into_owned())
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().skip(1).find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.trim()
            .eq_ignore_ascii_case(name)
            .then_some(value.trim())
    })
}

// ---------------------------------------------------------------------------
// SOCKS5 proxy
// ---------------------------------------------------------------------------

#[derive(Clone, Debug, Default)]
pub(crate) struct SocksSeen {
    /// Authentication methods the client offered.
    pub(crate) methods: Vec<u8>,
    /// RFC 1929 username and password, when that method was used.
    pub(crate) credentials: Option<(String, String)>,
    /// Address type of the CONNECT request (1 IPv4, 3 domain, 4 IPv6).
    pub(crate) atyp: u8,
    pub(crate) host: String,
    pub(crate) port: u16,
}

#[derive(Clone, Copy)]
pub(crate) enum SocksMode {
    /// Answer CONNECT with this reply code and close.
    Refuse(u8),
    /// Connect to this address whatever the request named, and relay.
    Forward(SocketAddr),
}

pub(crate) async fn socks5_proxy(
    require_auth: bool,
    mode: SocksMode,
) -> (SocketAddr, Shared<SocksSeen>) {
    let seen = shared();
    let record = seen.clone();
    let addr = serve(move |stream| serve_socks5(stream, require_auth, mode, record.clone())).await;
    (addr, seen)
}

async fn serve_socks5(
    mut stream: TcpStream,
    require_auth: bool,
    mode: SocksMode,
    seen: Shared<SocksSeen>,
) -> std::io::Result<()> {
    let mut two = [0u8; 2];
    stream.read_exact(&mut two).await?;
    if two[0] != 5 {
        return Ok(());
    }
    let mut methods = vec![0u8; usize::from(two[1])];
    stream.read_exact(&mut methods).await?;
    let mut record = SocksSeen {
        methods: methods.clone(),
        ..Default::default()
    };
    let wanted = if require_auth { 2 } else { 0 };
    let chosen = if methods.contains(&wanted) {
        wanted
    } else {
        0xFF
    };
    stream.write_all(&[5, chosen]).await?;
    if chosen == 0xFF {
        seen.lock().unwrap().push(record);
        return Ok(());
    }
    if chosen == 2 {
        stream.read_exact(&mut two).await?; // version 1, username length
        let mut user = vec![0u8; usize::from(two[1])];
        stream.read_exact(&mut user).await?;
        stream.read_exact(&mut two[..1]).await?;
        let mut pass = vec![0u8; usize::from(two[0])];
        stream.read_exact(&mut pass).await?;
        record.credentials = Some((
            String::from_utf8_lossy(&user).into_owned(),
            String::from_utf8_lossy(&pass).into_owned(),
        ));
        stream.write_all(&[1, 0]).await?;
    }
    let mut request = [0u8; 4];
    stream.read_exact(&mut request).await?;
    record.atyp = request[3];
    record.host = match request[3] {
        1 => {
            let mut ip = [0u8; 4];
            stream.read_exact(&mut ip).await?;
            Ipv4Addr::from(ip).to_string()
        }
        4 => {
            let mut ip = [0u8; 16];
            stream.read_exact(&mut ip).await?;
            Ipv6Addr::from(ip).to_string()
        }
        3 => {
            stream.read_exact(&mut two[..1]).await?;
            let mut name = vec![0u8; usize::from(two[0])];
            stream.read_exact(&mut name).await?;
            String::from_utf8_lossy(&name).into_owned()
        }
        _ => return Ok(()),
    };
    stream.read_exact(&mut two).await?;
    record.port = u16::from_be_bytes(two);
    seen.lock().unwrap().push(record);

    match mode {
        SocksMode::Refuse(code) => {
            stream.write_all(&[5, code, 0, 1, 0, 0, 0, 0, 0, 0]).await?;
            stream.shutdown().await
        }
        SocksMode::Forward(to) => {
            let mut upstream = TcpStream::connect(to).await?;
            let port = to.port().to_be_bytes();
            stream
                .write_all(&[5, 0, 0, 1, 127, 0, 0, 1, port[0], port[1]])
                .await?;
            tokio::io::copy_bidirectional(&mut stream, &mut upstream).await?;
            Ok(())
        }
    }
}

// ---------------------------------------------------------------------------
// HTTP CONNECT proxy
// ---------------------------------------------------------------------------

#[derive(Clone, Debug, Default)]
struct ConnectSeen {
    request_line: String,
    host: Option<String>,
    proxy_authorization: Option<String>,
}

#[derive(Clone, Copy)]
enum HttpMode {
    /// Answer with this status ("403 Forbidden") and close.
    Answer(&'static str),
    /// Answer 200 and relay to this address whatever the request named.
    Forward(SocketAddr),
}

async fn http_proxy(mode: HttpMode) -> (SocketAddr, Shared<ConnectSeen>) {
    let seen = shared();
    let record = seen.clone();
    let addr = serve(move |stream| serve_http_proxy(stream, mode, record.clone())).await;
    (addr, seen)
}

async fn serve_http_proxy(
    mut stream: TcpStream,
    mode: HttpMode,
    seen: Shared<ConnectSeen>,
) -> std::io::Result<()> {
    let head = read_head(&mut stream).await?;
    seen.lock().unwrap().push(ConnectSeen {
        request_line: head.lines().next().unwrap_or_default().to_owned(),
        host: header(&head, "host").map(str::to_owned),
        proxy_authorization: header(&head, "proxy-authorization").map(str::to_owned),
    });
    match mode {
        HttpMode::Answer(status) => {
            let response =
                format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            stream.write_all(response.as_bytes()).await?;
            stream.shutdown().await
        }
        HttpMode::Forward(to) => {
            let mut upstream = TcpStream::connect(to).await?;
            stream
                .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                .await?;
            tokio::io::copy_bidirectional(&mut stream, &mut upstream).await?;
            Ok(())
        }
    }
}

// ---------------------------------------------------------------------------
// WebSocket server (RFC 6455 handshake, one binary frame each way)
// ---------------------------------------------------------------------------

#[derive(Clone, Debug, Default)]
struct WsSeen {
    request_line: String,
    host: Option<String>,
    origin: Option<String>,
    /// Payload of the first frame the client sent, unmasked.
    first_frame: Option<Vec<u8>>,
}

async fn ws_server() -> (SocketAddr, Shared<WsSeen>) {
    let seen = shared();
    let record = seen.clone();
    let addr = serve(move |stream| serve_ws(stream, record.clone())).await;
    (addr, seen)
}

async fn serve_ws(mut stream: TcpStream, seen: Shared<WsSeen>) -> std::io::Result<()> {
    let head = read_head(&mut stream).await?;
    let index = {
        let mut list = seen.lock().unwrap();
        list.push(WsSeen {
            request_line: head.lines().next().unwrap_or_default().to_owned(),
            host: header(&head, "host").map(str::to_owned),
            origin: header(&head, "origin").map(str::to_owned),
            first_frame: None,
        });
        list.len() - 1
    };
    let key = header(&head, "sec-websocket-key").unwrap_or_default();
    let accept = base64(&sha1(
        format!("{key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11").as_bytes(),
    ));
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
    );
    stream.write_all(response.as_bytes()).await?;
    // One unmasked binary frame: "hello".
    stream.write_all(&[0x82, 5]).await?;
    stream.write_all(b"hello").await?;
    // The client's first frame: masked, payload under 126 bytes.
    let mut two = [0u8; 2];
    stream.read_exact(&mut two).await?;
    let len = usize::from(two[1] & 0x7F);
    if two[1] & 0x80 == 0 || len >= 126 {
        return Ok(());
    }
    let mut mask = [0u8; 4];
    stream.read_exact(&mut mask).await?;
    let mut payload = vec![0u8; len];
    stream.read_exact(&mut payload).await?;
    for (i, byte) in payload.iter_mut().enumerate() {
        *byte ^= mask[i % 4];
    }
    seen.lock().unwrap()[index].first_frame = Some(payload);
    // Hold the connection until the client goes away (bounded by the budget).
    let mut sink = [0u8; 256];
    for _ in 0..64 {
        if stream.read(&mut sink).await? == 0 {
            break;
        }
    }
    Ok(())
}

fn sha1(data: &[u8]) -> [u8; 20] {
    let mut h: [u32; 5] = [
        0x6745_2301,
        0xEFCD_AB89,
        0x98BA_DCFE,
        0x1032_5476,
        0xC3D2_E1F0,
    ];
    let mut message = data.to_vec();
    message.push(0x80);
    while message.len() % 64 != 56 {
        message.push(0);
    }
    message.extend_from_slice(&((data.len() as u64) * 8).to_be_bytes());
    for block in message.chunks(64) {
        let mut w = [0u32; 80];
        for (word, bytes) in w.iter_mut().zip(block.chunks(4)) {
            *word = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        }
        for i in 16..80 {
            w[i] = (w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]).rotate_left(1);
        }
        let [mut a, mut b, mut c, mut d, mut e] = h;
        for (i, word) in w.iter().enumerate() {
            let (f, k) = match i {
                0..=19 => ((b & c) | (!b & d), 0x5A82_7999),
                20..=39 => (b ^ c ^ d, 0x6ED9_EBA1),
                40..=59 => ((b & c) | (b & d) | (c & d), 0x8F1B_BCDC),
                _ => (b ^ c ^ d, 0xCA62_C1D6),
            };
            let t = a
                .rotate_left(5)
                .wrapping_add(f)
                .wrapping_add(e)
                .wrapping_add(k)
                .wrapping_add(*word);
            e = d;
            d = c;
            c = b.rotate_left(30);
            b = a;
            a = t;
        }
        for (state, add) in h.iter_mut().zip([a, b, c, d, e]) {
            *state = state.wrapping_add(add);
        }
    }
    let mut out = [0u8; 20];
    for (chunk, word) in out.chunks_mut(4).zip(h) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
    out
}

fn base64(data: &[u8]) -> String {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(TABLE[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[test]
fn websocket_accept_helpers_match_rfc_6455() {
    // The example handshake from RFC 6455 §1.3.
    let accept = base64(&sha1(
        b"dGhlIHNhbXBsZSBub25jZQ==258EAFA5-E914-47DA-95CA-C5AB0DC85B11",
    ));
    assert_eq!(accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    assert_eq!(base64(b"alice:s3cret"), "YWxpY2U6czNjcmV0");
}

// ---------------------------------------------------------------------------
// Helpers for the factory
// ---------------------------------------------------------------------------

/// Runs `create_transport` and returns the error text, failing if it succeeds.
async fn expect_failure(factory: &WaTransportFactory) -> String {
    match factory.create_transport().await {
        Ok(_) => panic!("create_transport succeeded through {factory:?}"),
        Err(err) => err.to_string(),
    }
}

fn only<T: Clone + std::fmt::Debug>(list: &Shared<T>) -> T {
    let items = snapshot(list);
    assert_eq!(items.len(), 1, "expected exactly one record, got {items:?}");
    items[0].clone()
}

// ---------------------------------------------------------------------------
// (a)–(d): the WebSocket factory against refusing proxies and a closed port
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn socks5_refusal_is_reported_with_the_requested_destination() {
    let (proxy_addr, seen) = socks5_proxy(false, SocksMode::Refuse(0x05)).await;
    let proxy = ProxyConfig::parse(&format!("socks5://{proxy_addr}")).unwrap();
    let (on_error, errors) = error_recorder();
    let (on_connected, connected) = connected_counter();
    let factory = WaTransportFactory::new(Some(proxy))
        .on_error(on_error)
        .on_connected(on_connected);
    assert_eq!(factory.url(), "wss://web.whatsapp.com/ws/chat");

    let started = Instant::now();
    let err = expect_failure(&factory).await;
    assert!(started.elapsed() < Duration::from_secs(10));

    let record = only(&seen);
    assert_eq!(
        record.methods,
        vec![0x00],
        "no credentials: only 'no auth' offered"
    );
    assert_eq!(record.credentials, None);
    assert_eq!(
        record.atyp, 3,
        "the domain is sent, DNS happens at the proxy"
    );
    assert_eq!(
        format!("{}:{}", record.host, record.port),
        "web.whatsapp.com:443"
    );

    let expected = format!(
        "cannot reach web.whatsapp.com:443 through socks5 proxy {proxy_addr}: connection refused"
    );
    assert_eq!(snapshot(&errors), vec![expected.clone()]);
    assert_eq!(err, expected);
    assert_eq!(*connected.lock().unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn socks5_credentials_are_sent_per_rfc_1929() {
    let (proxy_addr, seen) = socks5_proxy(true, SocksMode::Refuse(0x02)).await;
    // Percent-encoded in the URL, decoded on the wire.
    let proxy = ProxyConfig::parse(&format!("socks5h://bob:p%40ss%3Aw0rd@{proxy_addr}")).unwrap();
    let (on_error, errors) = error_recorder();
    let factory = WaTransportFactory::new(Some(proxy)).on_error(on_error);

    let err = expect_failure(&factory).await;

    let record = only(&seen);
    assert_eq!(record.methods, vec![0x00, 0x02]);
    assert_eq!(
        record.credentials,
        Some(("bob".to_owned(), "p@ss:w0rd".to_owned()))
    );
    assert_eq!(
        (record.atyp, record.host.as_str(), record.port),
        (3, "web.whatsapp.com", 443)
    );
    let messages = snapshot(&errors);
    assert_eq!(messages.len(), 1);
    assert_eq!(
        messages[0],
        format!(
            "cannot reach web.whatsapp.com:443 through socks5 proxy {proxy_addr}: connection not allowed by ruleset"
        )
    );
    assert!(!messages[0].contains("p@ss"), "no password in messages");
    assert_eq!(err, messages[0]);
}

#[tokio::test(flavor = "multi_thread")]
async fn socks5_proxy_demanding_credentials_is_explained() {
    let (proxy_addr, seen) = socks5_proxy(true, SocksMode::Refuse(0x05)).await;
    let proxy = ProxyConfig::parse(&format!("socks5://{proxy_addr}")).unwrap();
    let (on_error, errors) = error_recorder();
    let factory = WaTransportFactory::new(Some(proxy)).on_error(on_error);

    expect_failure(&factory).await;

    assert_eq!(only(&seen).methods, vec![0x00]);
    assert_eq!(
        snapshot(&errors),
        vec![format!(
            "socks5 proxy {proxy_addr} requires authentication, but the proxy URL has no username and password"
        )]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn http_connect_refusal_is_reported_with_the_request() {
    let (proxy_addr, seen) = http_proxy(HttpMode::Answer("403 Forbidden")).await;
    let proxy = ProxyConfig::parse(&format!("http://alice:s3cret@{proxy_addr}")).unwrap();
    let (on_error, errors) = error_recorder();
    let (on_connected, connected) = connected_counter();
    let factory = WaTransportFactory::new(Some(proxy))
        .on_error(on_error)
        .on_connected(on_connected);

    let err = expect_failure(&factory).await;

    let record = only(&seen);
    assert_eq!(record.request_line, "CONNECT web.whatsapp.com:443 HTTP/1.1");
    assert_eq!(record.host.as_deref(), Some("web.whatsapp.com:443"));
    assert_eq!(
        record.proxy_authorization.as_deref(),
        Some("Basic YWxpY2U6czNjcmV0")
    );
    let expected = format!(
        "cannot reach web.whatsapp.com:443 through http proxy {proxy_addr}: proxy answered 403 Forbidden"
    );
    assert_eq!(snapshot(&errors), vec![expected.clone()]);
    assert_eq!(err, expected);
    assert_eq!(*connected.lock().unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn http_connect_without_credentials_sends_no_authorization() {
    let (proxy_addr, seen) =
        http_proxy(HttpMode::Answer("407 Proxy Authentication Required")).await;
    let proxy = ProxyConfig::parse(&format!("http://{proxy_addr}")).unwrap();
    let (on_error, errors) = error_recorder();
    let factory = WaTransportFactory::new(Some(proxy)).on_error(on_error);

    expect_failure(&factory).await;

    let record = only(&seen);
    assert_eq!(record.request_line, "CONNECT web.whatsapp.com:443 HTTP/1.1");
    assert_eq!(record.proxy_authorization, None);
    let messages = snapshot(&errors);
    assert_eq!(messages.len(), 1);
    assert!(
        messages[0].starts_with(&format!(
            "cannot reach web.whatsapp.com:443 through http proxy {proxy_addr}: proxy authentication required (407"
        )),
        "{}",
        messages[0]
    );
    assert!(
        messages[0].contains("no username and password"),
        "{}",
        messages[0]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn https_proxy_tls_failure_names_the_proxy() {
    // Not a TLS server: answers the ClientHello with plain HTTP and closes.
    let addr = serve(|mut stream: TcpStream| async move {
        let mut buf = [0u8; 512];
        let _ = stream.read(&mut buf).await?;
        stream
            .write_all(b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n")
            .await?;
        stream.shutdown().await
    })
    .await;
    let proxy = ProxyConfig::parse(&format!("https://{addr}")).unwrap();
    let (on_error, errors) = error_recorder();
    let factory = WaTransportFactory::new(Some(proxy)).on_error(on_error);

    let started = Instant::now();
    expect_failure(&factory).await;
    assert!(started.elapsed() < Duration::from_secs(10));

    let messages = snapshot(&errors);
    assert_eq!(messages.len(), 1);
    assert!(
        messages[0].starts_with(&format!("TLS handshake with https proxy {addr} failed: ")),
        "{}",
        messages[0]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn direct_dial_to_a_closed_port_fails_fast() {
    let port = {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
        listener.local_addr().unwrap().port()
    };
    let (on_error, errors) = error_recorder();
    let (on_connected, connected) = connected_counter();
    let factory = WaTransportFactory::new(None)
        .with_url(format!("wss://127.0.0.1:{port}/ws/chat"))
        .on_error(on_error)
        .on_connected(on_connected);

    let started = Instant::now();
    let err = expect_failure(&factory).await;
    assert!(started.elapsed() < Duration::from_secs(5));

    let expected = format!("cannot connect to 127.0.0.1:{port}: connection refused");
    assert_eq!(snapshot(&errors), vec![expected.clone()]);
    assert_eq!(err, expected);
    assert_eq!(*connected.lock().unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn unreachable_proxy_is_named() {
    let port = {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
        listener.local_addr().unwrap().port()
    };
    let proxy = ProxyConfig::parse(&format!("socks5://127.0.0.1:{port}")).unwrap();
    let (on_error, errors) = error_recorder();
    let factory = WaTransportFactory::new(Some(proxy)).on_error(on_error);

    expect_failure(&factory).await;

    assert_eq!(
        snapshot(&errors),
        vec![format!(
            "cannot connect to socks5 proxy 127.0.0.1:{port}: connection refused"
        )]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn silent_proxy_times_out_with_a_message() {
    // Accepts, reads the greeting, never answers.
    let addr = serve(|mut stream: TcpStream| async move {
        let mut buf = [0u8; 64];
        let _ = stream.read(&mut buf).await?;
        tokio::time::sleep(Duration::from_secs(5)).await;
        Ok(())
    })
    .await;
    let proxy = ProxyConfig::parse(&format!("socks5://{addr}")).unwrap();
    let (on_error, errors) = error_recorder();
    let factory = WaTransportFactory::new(Some(proxy))
        .with_timeouts(
            Duration::from_secs(2),
            Duration::from_millis(300),
            Duration::from_secs(3),
        )
        .on_error(on_error);

    let started = Instant::now();
    expect_failure(&factory).await;
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(300), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
    assert_eq!(
        snapshot(&errors),
        vec![format!(
            "cannot reach web.whatsapp.com:443 through socks5 proxy {addr}: the proxy did not complete the handshake within 300 ms"
        )]
    );
}

// ---------------------------------------------------------------------------
// Tunnels that work: SOCKS5 and HTTP CONNECT to a loopback WebSocket server
// ---------------------------------------------------------------------------

/// Drives a created transport: Connected, the server's "hello", our "ping".
async fn exercise(factory: &WaTransportFactory, ws_seen: &Shared<WsSeen>) {
    let (transport, events) = factory.create_transport().await.expect("transport");
    let first = tokio::time::timeout(Duration::from_secs(5), events.recv())
        .await
        .expect("first event in time")
        .expect("first event");
    assert!(matches!(first, TransportEvent::Connected), "{first:?}");
    let second = tokio::time::timeout(Duration::from_secs(5), events.recv())
        .await
        .expect("data in time")
        .expect("data");
    match second {
        TransportEvent::DataReceived(data) => assert_eq!(&data[..], b"hello"),
        other => panic!("expected data, got {other:?}"),
    }
    transport
        .send(b"ping".to_vec().into())
        .await
        .expect("send through the tunnel");
    let mut received = None;
    for _ in 0..50 {
        received = snapshot(ws_seen)
            .first()
            .and_then(|s| s.first_frame.clone());
        if received.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(received.as_deref(), Some(&b"ping"[..]));
    transport.disconnect().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn socks5_tunnel_carries_the_websocket() {
    let (ws_addr, ws_seen) = ws_server().await;
    let (proxy_addr, seen) = socks5_proxy(true, SocksMode::Forward(ws_addr)).await;
    let proxy = ProxyConfig::parse(&format!("socks5://carol:pw@{proxy_addr}")).unwrap();
    let (on_error, errors) = error_recorder();
    let (on_connected, connected) = connected_counter();
    // `.invalid` never resolves: the name must reach the proxy unresolved.
    let factory = WaTransportFactory::new(Some(proxy))
        .with_url(format!("ws://wa.invalid:{}/ws/chat", ws_addr.port()))
        .on_error(on_error)
        .on_connected(on_connected);

    exercise(&factory, &ws_seen).await;

    let record = only(&seen);
    assert_eq!(
        record.credentials,
        Some(("carol".to_owned(), "pw".to_owned()))
    );
    assert_eq!(
        (record.atyp, record.host.as_str(), record.port),
        (3, "wa.invalid", ws_addr.port())
    );
    let upgrade = only(&ws_seen);
    assert_eq!(upgrade.request_line, "GET /ws/chat HTTP/1.1");
    assert_eq!(
        upgrade.host.as_deref(),
        Some(format!("wa.invalid:{}", ws_addr.port()).as_str())
    );
    assert_eq!(upgrade.origin.as_deref(), Some("https://web.whatsapp.com"));
    assert!(snapshot(&errors).is_empty(), "{:?}", snapshot(&errors));
    assert_eq!(*connected.lock().unwrap(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn http_connect_tunnel_carries_the_websocket() {
    let (ws_addr, ws_seen) = ws_server().await;
    let (proxy_addr, seen) = http_proxy(HttpMode::Forward(ws_addr)).await;
    let proxy = ProxyConfig::parse(&format!("http://alice:s3cret@{proxy_addr}")).unwrap();
    let (on_error, errors) = error_recorder();
    let (on_connected, connected) = connected_counter();
    let factory = WaTransportFactory::new(Some(proxy))
        .with_url(format!("ws://wa.invalid:{}/ws/chat", ws_addr.port()))
        .on_error(on_error)
        .on_connected(on_connected);

    exercise(&factory, &ws_seen).await;

    let record = only(&seen);
    assert_eq!(
        record.request_line,
        format!("CONNECT wa.invalid:{} HTTP/1.1", ws_addr.port())
    );
    assert_eq!(
        record.proxy_authorization.as_deref(),
        Some("Basic YWxpY2U6czNjcmV0")
    );
    assert_eq!(
        only(&ws_seen).origin.as_deref(),
        Some("https://web.whatsapp.com")
    );
    assert!(snapshot(&errors).is_empty(), "{:?}", snapshot(&errors));
    assert_eq!(*connected.lock().unwrap(), 1);
}

// ---------------------------------------------------------------------------
// (e): the HTTP client (media, app version) uses the same proxy
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn http_client_goes_through_the_socks5_proxy() {
    let (proxy_addr, seen) = socks5_proxy(true, SocksMode::Refuse(0x05)).await;
    let proxy = ProxyConfig::parse(&format!("socks5://dave:pw2@{proxy_addr}")).unwrap();
    let (on_error, errors) = error_recorder();
    let client = observed_http_client(Some(&proxy), Some(on_error));
    assert!(client.supports_streaming());
    assert!(client.supports_upload_streaming());

    let started = Instant::now();
    let result = client
        .execute(HttpRequest::get("https://web.whatsapp.com/sw.js"))
        .await;
    assert!(started.elapsed() < Duration::from_secs(10));
    let err = match result {
        Ok(response) => panic!("request succeeded: status {}", response.status_code),
        Err(err) => format!("{err:#}"),
    };

    let records = snapshot(&seen);
    assert!(!records.is_empty(), "the proxy saw no connection ({err})");
    for record in &records {
        assert_eq!(record.port, 443);
        // Configured as socks5h: ureq sends the name, it does not resolve it.
        assert_eq!((record.atyp, record.host.as_str()), (3, "web.whatsapp.com"));
        assert_eq!(
            record.credentials,
            Some(("dave".to_owned(), "pw2".to_owned()))
        );
    }
    let messages = snapshot(&errors);
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert!(
        messages[0].starts_with(&format!(
            "HTTP request to web.whatsapp.com through socks5 proxy {proxy_addr} failed: "
        )),
        "{}",
        messages[0]
    );
    assert!(
        messages[0].contains("connection refused"),
        "{}",
        messages[0]
    );
    assert!(!messages[0].contains("pw2"));
}

#[tokio::test(flavor = "multi_thread")]
async fn plain_http_client_goes_through_the_http_proxy() {
    let (proxy_addr, seen) = http_proxy(HttpMode::Answer("403 Forbidden")).await;
    let proxy = ProxyConfig::parse(&format!("http://alice:s3cret@{proxy_addr}")).unwrap();
    let client = http_client(Some(&proxy));

    let result = client
        .execute(HttpRequest::get("https://web.whatsapp.com/sw.js"))
        .await;
    assert!(result.is_err(), "a refused CONNECT is a transport error");

    let records = snapshot(&seen);
    assert!(!records.is_empty());
    for record in &records {
        assert_eq!(record.request_line, "CONNECT web.whatsapp.com:443 HTTP/1.1");
        assert_eq!(
            record.proxy_authorization.as_deref(),
            Some("Basic YWxpY2U6czNjcmV0")
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn observed_http_client_reports_only_transport_errors() {
    // A plain HTTP server answering 404: a status, not a transport error.
    let addr = serve(|mut stream: TcpStream| async move {
        read_head(&mut stream).await?;
        stream
            .write_all(
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\nConnection: close\r\n\r\nno",
            )
            .await?;
        stream.shutdown().await
    })
    .await;
    let (on_error, errors) = error_recorder();
    let client = observed_http_client(None, Some(on_error));

    let response = client
        .execute(HttpRequest::get(format!("http://{addr}/missing")))
        .await
        .expect("a 404 is a response");
    assert_eq!(response.status_code, 404);
    assert!(snapshot(&errors).is_empty());

    // A closed port is a transport error.
    let port = {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
        listener.local_addr().unwrap().port()
    };
    let result = client
        .execute(HttpRequest::get(format!(
            "http://127.0.0.1:{port}/v/t62?oh=TOKEN"
        )))
        .await;
    assert!(result.is_err());
    let messages = snapshot(&errors);
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert!(
        messages[0].starts_with("HTTP request to 127.0.0.1 failed: "),
        "{}",
        messages[0]
    );
    assert!(!messages[0].contains("TOKEN"), "{}", messages[0]);
}
