//! POSTs webhook bodies: to checked addresses only (the media fetcher's
//! private-address rule), with a timeout, keeping one keep-alive connection
//! per dispatcher.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use url::Url;

use crate::media::{AbortOnDrop, Fetcher, display_url};
use crate::validate::{UrlKind, outbound_url};

/// Largest part of a response body kept for ListWebhookDeliveries.
const RESPONSE_KEEP: usize = 1024;

/// What one POST gave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PostOutcome {
    /// 0 when there was no response.
    pub status: u16,
    /// Empty on success.
    pub error: String,
    pub response_body: String,
    pub duration: Duration,
}

impl PostOutcome {
    pub fn succeeded(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// No point retrying: a 4xx other than 408 (timeout) and 429 (slow down).
    pub fn permanent(&self) -> bool {
        (400..500).contains(&self.status) && self.status != 408 && self.status != 429
    }
}

struct Connection {
    origin: String,
    sender: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    _task: AbortOnDrop,
}

/// One dispatcher's HTTP client.
pub struct WebhookClient {
    fetcher: Arc<Fetcher>,
    timeout: Duration,
    connection: Option<Connection>,
}

impl WebhookClient {
    pub fn new(fetcher: Arc<Fetcher>, timeout: Duration) -> Self {
        Self {
            fetcher,
            timeout,
            connection: None,
        }
    }

    /// POSTs `body` to `url` with `headers`; never fails: problems are in the outcome.
    pub async fn post(
        &mut self,
        url: &str,
        headers: &[(&'static str, String)],
        body: Bytes,
    ) -> PostOutcome {
        let started = Instant::now();
        let result = tokio::time::timeout(self.timeout, self.try_post(url, headers, body)).await;
        let duration = started.elapsed();
        match result {
            Ok(Ok((status, response_body))) => PostOutcome {
                status,
                error: if (200..300).contains(&status) {
                    String::new()
                } else {
                    format!("the endpoint answered HTTP {status}")
                },
                response_body,
                duration,
            },
            Ok(Err(error)) => {
                self.connection = None;
                PostOutcome {
                    status: 0,
                    error,
                    response_body: String::new(),
                    duration,
                }
            }
            Err(_) => {
                self.connection = None;
                PostOutcome {
                    status: 0,
                    error: format!("no answer within {} ms", self.timeout.as_millis()),
                    response_body: String::new(),
                    duration,
                }
            }
        }
    }

    async fn try_post(
        &mut self,
        url: &str,
        headers: &[(&'static str, String)],
        body: Bytes,
    ) -> Result<(u16, String), String> {
        let allow_private = self.fetcher.allow_private();
        let url: Url = outbound_url(url, UrlKind::Webhook, allow_private)
            .map_err(|e| format!("webhook URL refused: {e}"))?;
        let origin = url.origin().ascii_serialization();
        let reusable = self
            .connection
            .as_mut()
            .filter(|c| c.origin == origin && !c.sender.is_closed());
        if reusable.is_none() {
            let stream = self
                .fetcher
                .open_stream(&url, allow_private, "webhook URL")
                .await
                .map_err(|e| e.message)?;
            let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                .await
                .map_err(|e| format!("connecting to {}: {e}", display_url(&url)))?;
            let task = AbortOnDrop(tokio::spawn(async move {
                let _ = connection.await;
            }));
            self.connection = Some(Connection {
                origin,
                sender,
                _task: task,
            });
        }
        let connection = self.connection.as_mut().expect("connection just set");
        connection
            .sender
            .ready()
            .await
            .map_err(|e| format!("connection to {} closed: {e}", display_url(&url)))?;
        let path = match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_owned(),
        };
        let host = match url.port() {
            Some(port) => format!("{}:{port}", url.host_str().unwrap_or_default()),
            None => url.host_str().unwrap_or_default().to_owned(),
        };
        let mut request = Request::post(path).header("host", host);
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let request = request
            .body(Full::new(body))
            .map_err(|e| format!("building the request: {e}"))?;
        let response = connection
            .sender
            .send_request(request)
            .await
            .map_err(|e| format!("posting to {} failed: {e}", display_url(&url)))?;
        let status = response.status().as_u16();
        let mut kept = Vec::new();
        let mut body = response.into_body();
        while let Some(frame) = body.frame().await {
            let Ok(frame) = frame else { break };
            if let Ok(data) = frame.into_data()
                && kept.len() < RESPONSE_KEEP
            {
                let room = RESPONSE_KEEP - kept.len();
                kept.extend_from_slice(&data[..data.len().min(room)]);
            }
        }
        Ok((status, String::from_utf8_lossy(&kept).into_owned()))
    }
}
