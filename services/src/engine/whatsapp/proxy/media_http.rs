//! Media and app-version HTTP through the session's proxy, with failures reported.

use super::*;

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

pub(super) fn http_error_message(url: &str, via: Option<&str>, err: &anyhow::Error) -> String {
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
