//! A minimal HTTP/1.1 client (hyper-util) for the benchmark and the tests:
//! pooled keep-alive connections, whole-body or streamed responses.

use std::time::Duration;

use anyhow::Context as _;
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode};
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

pub use hyper::body::Incoming;

#[derive(Clone)]
pub struct HttpClient {
    inner: Client<HttpConnector, Full<Bytes>>,
}

/// A response with its whole body.
#[derive(Debug)]
pub struct HttpResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl HttpResponse {
    /// The body as JSON (`Null` when it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

impl Default for HttpClient {
    fn default() -> Self {
        Self::new()
    }
}

impl HttpClient {
    pub fn new() -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(Duration::from_secs(5)));
        let inner = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(256)
            .build(connector);
        Self { inner }
    }

    /// Builds a request: `headers` as pairs, `body` as bytes.
    pub fn request(
        method: Method,
        url: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> anyhow::Result<Request<Full<Bytes>>> {
        let mut request = Request::builder()
            .method(method)
            .uri(url)
            .body(Full::new(body.into()))
            .with_context(|| format!("bad request for {url}"))?;
        for (name, value) in headers {
            request.headers_mut().append(
                HeaderName::from_bytes(name.as_bytes())?,
                HeaderValue::from_str(value)?,
            );
        }
        Ok(request)
    }

    /// Sends and reads the whole body.
    pub async fn send(&self, request: Request<Full<Bytes>>) -> anyhow::Result<HttpResponse> {
        let response = self.inner.request(request).await.context("HTTP request")?;
        let (parts, body) = response.into_parts();
        let body = body.collect().await.context("reading the body")?.to_bytes();
        Ok(HttpResponse {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }

    /// Sends and returns the response with its body unread (for streams).
    pub async fn send_streaming(
        &self,
        request: Request<Full<Bytes>>,
    ) -> anyhow::Result<http::Response<Incoming>> {
        self.inner.request(request).await.context("HTTP request")
    }

    pub async fn call(
        &self,
        method: Method,
        url: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> anyhow::Result<HttpResponse> {
        self.send(Self::request(method, url, headers, body)?).await
    }
}

/// Reads the next data chunk of a streamed body (`None` at the end), with a
/// time limit so tests never hang.
pub async fn next_chunk(body: &mut Incoming, limit: Duration) -> anyhow::Result<Option<Bytes>> {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let frame = tokio::time::timeout_at(deadline, body.frame())
            .await
            .context("timed out waiting for the next chunk")?;
        match frame {
            None => return Ok(None),
            Some(frame) => {
                if let Ok(data) = frame?.into_data() {
                    return Ok(Some(data));
                }
            }
        }
    }
}
