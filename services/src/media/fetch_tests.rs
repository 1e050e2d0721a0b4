//! The fetcher against real HTTP servers on loopback.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::*;

/// What the test server does for a request path.
enum Reply {
    /// Sends these bytes and closes.
    Raw(Vec<u8>),
    /// Reads the request and never answers.
    Silent,
    /// Sends this head, then body bytes until the client goes away.
    Endless(String),
}

fn ok(headers: &str, body: &[u8]) -> Reply {
    let mut raw = format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n{headers}\r\n",
        body.len()
    )
    .into_bytes();
    raw.extend_from_slice(body);
    Reply::Raw(raw)
}

fn status(code: &str) -> Reply {
    Reply::Raw(
        format!("HTTP/1.1 {code}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").into_bytes(),
    )
}

fn redirect(location: &str) -> Reply {
    Reply::Raw(
        format!("HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            .into_bytes(),
    )
}

struct TestServer {
    address: SocketAddr,
    /// Request heads, in order.
    requests: Arc<Mutex<Vec<String>>>,
    connections: Arc<AtomicUsize>,
}

impl TestServer {
    fn port(&self) -> u16 {
        self.address.port()
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

/// An HTTP/1.1 server on `ip` (port 0) answering by path.
async fn serve_on(ip: IpAddr, route: impl Fn(&str) -> Reply + Send + Sync + 'static) -> TestServer {
    let listener = TcpListener::bind((ip, 0)).await.unwrap();
    let address = listener.local_addr().unwrap();
    let requests = Arc::new(Mutex::new(Vec::new()));
    let connections = Arc::new(AtomicUsize::new(0));
    let route = Arc::new(route);
    let (log, count) = (requests.clone(), connections.clone());
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            let (route, log) = (route.clone(), log.clone());
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&head).into_owned();
                let target = head.split(' ').nth(1).unwrap_or("/");
                let path = target.split('?').next().unwrap_or_default().to_owned();
                log.lock().unwrap().push(head);
                match route(&path) {
                    Reply::Raw(bytes) => {
                        let _ = socket.write_all(&bytes).await;
                        let _ = socket.shutdown().await;
                    }
                    Reply::Silent => tokio::time::sleep(Duration::from_secs(30)).await,
                    Reply::Endless(head) => {
                        if socket.write_all(head.as_bytes()).await.is_err() {
                            return;
                        }
                        let chunk = vec![b'x'; 16 * 1024];
                        while socket.write_all(&chunk).await.is_ok() {}
                    }
                }
            });
        }
    });
    TestServer {
        address,
        requests,
        connections,
    }
}

async fn serve(route: impl Fn(&str) -> Reply + Send + Sync + 'static) -> TestServer {
    serve_on(IpAddr::V4(Ipv4Addr::LOCALHOST), route).await
}

fn fetcher(allow_private: bool) -> Fetcher {
    Fetcher::new(allow_private, Duration::from_secs(5))
}

#[tokio::test]
async fn fetches_from_loopback_when_private_urls_are_allowed() {
    let server = serve(|path| match path {
        "/files/report.pdf" => ok(
            "Content-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"Q1; final.pdf\"\r\n",
            b"%PDF-1.7 hello",
        ),
        "/files/plain%20name.txt" => ok("Content-Type: text/plain\r\n", b"text"),
        "/moved" => redirect("/files/report.pdf?sig=secret"),
        _ => status("404 Not Found"),
    })
    .await;
    let base = format!("http://127.0.0.1:{}", server.port());
    let fetched = fetcher(true)
        .fetch(&format!("{base}/files/report.pdf"), 1024)
        .await
        .unwrap();
    assert_eq!(&fetched.bytes[..], b"%PDF-1.7 hello");
    assert_eq!(fetched.content_type.as_deref(), Some("application/pdf"));
    assert_eq!(fetched.file_name.as_deref(), Some("Q1; final.pdf"));
    // The Host header names the URL's host and port.
    let host_line = format!("host: 127.0.0.1:{}", server.port());
    assert!(
        server.requests()[0]
            .to_ascii_lowercase()
            .contains(&host_line)
    );

    let fetched = fetcher(true)
        .fetch(&format!("{base}/files/plain%20name.txt"), 1024)
        .await
        .unwrap();
    assert_eq!(fetched.file_name.as_deref(), Some("plain name.txt"));

    // A relative redirect is followed; the query reaches the server.
    let fetched = fetcher(true)
        .fetch(&format!("{base}/moved"), 1024)
        .await
        .unwrap();
    assert_eq!(&fetched.bytes[..], b"%PDF-1.7 hello");
    assert!(
        server
            .requests()
            .last()
            .unwrap()
            .starts_with("GET /files/report.pdf?sig=secret ")
    );
}

#[tokio::test]
async fn private_addresses_are_refused_before_connecting() {
    let server = serve(|_| ok("", b"secret")).await;
    let fetcher = fetcher(false);
    // An IP literal.
    let err = fetcher
        .fetch(&format!("http://127.0.0.1:{}/x", server.port()), 1024)
        .await
        .unwrap_err();
    assert_eq!(err.code, Code::InvalidArgument, "{err}");
    assert!(err.message.contains("private or loopback"), "{err}");
    // A public-looking name whose DNS answer is loopback (rebinding).
    let mut fetcher = fetcher;
    fetcher
        .hooks
        .hosts
        .insert("media.example.com".into(), IpAddr::V4(Ipv4Addr::LOCALHOST));
    let err = fetcher
        .fetch(
            &format!("http://media.example.com:{}/x", server.port()),
            1024,
        )
        .await
        .unwrap_err();
    assert_eq!(err.code, Code::InvalidArgument, "{err}");
    assert!(
        err.message
            .contains("resolves to a private or local address (127.0.0.1)"),
        "{err}"
    );
    assert!(err.message.contains("WAGATE_ALLOW_PRIVATE_URLS"), "{err}");
    for url in [
        "http://localhost/x",
        "ftp://media.example.com/x",
        "not a url",
    ] {
        let err = fetcher.fetch(url, 1024).await.unwrap_err();
        assert_eq!(err.code, Code::InvalidArgument, "{url}: {err}");
    }
    assert_eq!(server.connections.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn redirects_are_checked_again() {
    // Private addresses are allowed for the first hop only: the redirect
    // target must pass the check on its own.
    let second = serve_on(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)), |_| {
        ok("", b"secret")
    })
    .await;
    let second_port = second.port();
    let first = serve(move |path| match path {
        "/to-name" => redirect(&format!("http://internal.example.com:{second_port}/secret")),
        "/to-ip" => redirect(&format!("http://127.0.0.2:{second_port}/secret")),
        _ => redirect("/loop"),
    })
    .await;
    let mut fetcher = fetcher(false);
    fetcher.hooks.private_allowed_hops = 1;
    fetcher
        .hooks
        .hosts
        .insert("first.example.com".into(), IpAddr::V4(Ipv4Addr::LOCALHOST));
    fetcher.hooks.hosts.insert(
        "internal.example.com".into(),
        IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)),
    );
    let base = format!("http://first.example.com:{}", first.port());

    let err = fetcher
        .fetch(&format!("{base}/to-name"), 1024)
        .await
        .unwrap_err();
    assert_eq!(err.code, Code::InvalidArgument, "{err}");
    assert!(
        err.message
            .contains("resolves to a private or local address (127.0.0.2)"),
        "{err}"
    );
    let err = fetcher
        .fetch(&format!("{base}/to-ip"), 1024)
        .await
        .unwrap_err();
    assert_eq!(err.code, Code::InvalidArgument, "{err}");
    assert!(err.message.contains("redirected to"), "{err}");
    assert_eq!(second.connections.load(Ordering::SeqCst), 0);
    assert_eq!(first.requests().len(), 2);

    // At most 3 redirects: the first request and 3 more, then an error.
    let err = self::fetcher(true)
        .fetch(&format!("http://127.0.0.1:{}/loop", first.port()), 1024)
        .await
        .unwrap_err();
    assert_eq!(err.code, Code::FailedPrecondition, "{err}");
    assert!(err.message.contains("more than 3 redirects"), "{err}");
    assert_eq!(first.requests().len(), 2 + 4);
}

#[tokio::test]
async fn size_cap_from_content_length_and_mid_stream() {
    let server = serve(|path| match path {
        "/declared" => {
            Reply::Endless("HTTP/1.1 200 OK\r\nContent-Length: 1000000000\r\n\r\n".into())
        }
        "/chunked" => Reply::Endless("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n".into()),
        _ => ok("", &[7u8; 1000]),
    })
    .await;
    let base = format!("http://127.0.0.1:{}", server.port());
    let fetcher = Fetcher::new(true, Duration::from_secs(20));
    let started = Instant::now();
    let err = fetcher
        .fetch(&format!("{base}/declared"), 1000)
        .await
        .unwrap_err();
    assert_eq!(err.code, Code::InvalidArgument, "{err}");
    assert!(
        err.message
            .contains("is 953.7 MB (1000000000 bytes); the limit is 1000 bytes"),
        "{err}"
    );
    // A body without a length, streaming forever: stopped at the cap.
    let err = fetcher
        .fetch(&format!("{base}/chunked"), 64 * 1024)
        .await
        .unwrap_err();
    assert_eq!(err.code, Code::InvalidArgument, "{err}");
    assert!(
        err.message.contains("is larger; the limit is 64 KB"),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    // Exactly at the cap is fine.
    let fetched = fetcher.fetch(&format!("{base}/exact"), 1000).await.unwrap();
    assert_eq!(fetched.bytes.len(), 1000);
    assert!(fetcher.fetch(&format!("{base}/exact"), 999).await.is_err());
}

#[tokio::test]
async fn silent_server_times_out() {
    let server = serve(|_| Reply::Silent).await;
    let fetcher = Fetcher::new(true, Duration::from_millis(300));
    let started = Instant::now();
    let err = fetcher
        .fetch(
            &format!("http://127.0.0.1:{}/x?token=secret", server.port()),
            1024,
        )
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(err.code, Code::Unavailable, "{err}");
    assert!(err.is_transient());
    assert!(err.message.contains("timed out after 300 ms"), "{err}");
    // The query (which may hold a token) is not repeated.
    assert!(!err.message.contains("secret"), "{err}");
}

#[tokio::test]
async fn error_statuses() {
    let server = serve(|path| match path {
        "/missing" => status("404 Not Found"),
        "/forbidden" => status("403 Forbidden"),
        _ => status("503 Service Unavailable"),
    })
    .await;
    let base = format!("http://127.0.0.1:{}", server.port());
    let fetcher = fetcher(true);
    let err = fetcher
        .fetch(&format!("{base}/missing"), 10)
        .await
        .unwrap_err();
    assert_eq!(err.code, Code::FailedPrecondition, "{err}");
    assert!(err.message.contains("HTTP 404 Not Found"), "{err}");
    assert!(!err.is_transient());
    let err = fetcher
        .fetch(&format!("{base}/forbidden"), 10)
        .await
        .unwrap_err();
    assert_eq!(err.code, Code::FailedPrecondition, "{err}");
    let err = fetcher
        .fetch(&format!("{base}/down"), 10)
        .await
        .unwrap_err();
    assert_eq!(err.code, Code::Unavailable, "{err}");
    assert!(err.message.contains("503"), "{err}");
}

#[tokio::test]
async fn network_failures_are_transient() {
    // Nothing listens on a port we just freed.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let err = fetcher(true)
        .fetch(&format!("http://127.0.0.1:{port}/x"), 10)
        .await
        .unwrap_err();
    assert_eq!(err.code, Code::Unavailable, "{err}");
    // https to a server that answers in plain HTTP: the TLS handshake fails.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let _ = socket.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").await;
        }
    });
    let err = fetcher(true)
        .fetch(&format!("https://127.0.0.1:{port}/x"), 10)
        .await
        .unwrap_err();
    assert_eq!(err.code, Code::Unavailable, "{err}");
    assert!(err.message.contains("TLS handshake"), "{err}");
}

#[test]
fn refused_address_classes() {
    let refused = [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "0.1.2.3",
        "224.0.0.1",
        "239.255.255.250",
        "240.0.0.1",
        "255.255.255.255",
        "198.18.0.1",
        "192.0.0.8",
        "::",
        "::1",
        "fc00::1",
        "fd12:3456::1",
        "fe80::1",
        "ff02::1",
        "::ffff:8.8.8.8",
        "::ffff:127.0.0.1",
        "::127.0.0.1",
        "64:ff9b::10.0.0.1",
        "2002:c0a8:0101::1",
        "2001:db8::1",
    ];
    for ip in refused {
        assert!(
            is_refused_address(ip.parse().unwrap()),
            "{ip} should be refused"
        );
    }
    let allowed = [
        "8.8.8.8",
        "1.1.1.1",
        "2606:4700:4700::1111",
        "64:ff9b::8.8.8.8",
        "2002:0808:0808::1",
    ];
    for ip in allowed {
        assert!(
            !is_refused_address(ip.parse().unwrap()),
            "{ip} should be allowed"
        );
    }
    assert!(is_refused_address(IpAddr::V6(Ipv6Addr::LOCALHOST)));
}

#[test]
fn content_disposition_file_names() {
    let cases = [
        ("attachment; filename=\"report.pdf\"", Some("report.pdf")),
        ("attachment; filename=report.pdf", Some("report.pdf")),
        (
            "inline; filename=\"a \\\"quoted\\\" name.txt\"",
            Some("a \"quoted\" name.txt"),
        ),
        (
            "attachment; filename=\"x.txt\"; filename*=UTF-8''na%C3%AFve%20file.txt",
            Some("naïve file.txt"),
        ),
        (
            "attachment; filename*=iso-8859-1'en'caf%E9.txt",
            Some("café.txt"),
        ),
        ("attachment; filename=\"../../etc/passwd\"", Some("passwd")),
        ("attachment; filename=\"\"", None),
        ("attachment", None),
        ("filename=\"first-token-is-the-type\"", None),
    ];
    for (header, want) in cases {
        assert_eq!(disposition_file_name(header).as_deref(), want, "{header}");
    }
}
