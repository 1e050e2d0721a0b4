//! Serving one compatibility endpoint: the request limit, the caller's
//! session, the request message, the RPC (several for page-number paging),
//! the response shape, and every failure through the profile's [`Flavor`].

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher as _;
use std::sync::{Arc, Mutex};

use axum::response::{IntoResponse, Response};
use futures::future::BoxFuture;
use http::{HeaderMap, HeaderName, HeaderValue, header};
use prost_reflect::{DynamicMessage, MethodDescriptor};
use serde_json::{Value, json};
use tonic::Status;
use tonic_types::StatusExt as _;

use super::concurrency::{Concurrency, Permit};
use super::limiter::RateState;
use super::request::{self, add_error};
use super::{Endpoint, Failure, FieldErrors, Flavor, Limiter, Paging, Reply, Scope};
use crate::errors::RATE_LIMIT_HEADERS;
use crate::profile::{Profile, ServeRequest};
use crate::routes::Binding;
use crate::transcode::{self, HttpInput, JsonOptions};
use crate::upstream::{AUTH_HEADERS, CallMetadata, Upstream};

/// Most items an "all pages" list collects.
const MAX_ITEMS: usize = 10_000;
/// Largest page the list RPCs serve.
const MAX_RPC_PAGE: usize = 1000;

/// What endpoints of one profile share: the request limit, the cap on a
/// session's requests in flight, and which session each API key belongs to
/// (a key never changes session, so it is cached).
pub struct SharedState {
    pub limiter: Limiter,
    /// Requests in flight per session (no cap unless [`Self::with_concurrency`]).
    pub concurrency: Arc<Concurrency>,
    hasher: RandomState,
    callers: Mutex<HashMap<u64, i64>>,
}

impl SharedState {
    pub fn new(limiter: Limiter) -> Self {
        Self {
            limiter,
            concurrency: Concurrency::new(0),
            hasher: RandomState::new(),
            callers: Mutex::new(HashMap::new()),
        }
    }

    /// At most `cap` requests of one session in flight at once (0: no cap).
    pub fn with_concurrency(mut self, cap: u32) -> Self {
        self.concurrency = Concurrency::new(cap);
        self
    }

    fn cached_caller(&self, credential: &str) -> Option<i64> {
        let key = self.hasher.hash_one(credential);
        self.callers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
            .copied()
    }

    fn remember_caller(&self, credential: &str, session: i64) {
        let key = self.hasher.hash_one(credential);
        let mut callers = self.callers.lock().unwrap_or_else(|e| e.into_inner());
        if callers.len() >= MAX_ITEMS {
            callers.clear();
        }
        callers.insert(key, session);
    }
}

/// The parts of a request an endpoint's maps, builder and shape read.
#[derive(Debug, Default)]
pub struct Inputs {
    pub path: HashMap<String, String>,
    pub query: HashMap<String, String>,
    /// The body as JSON (`Null` when empty or not JSON).
    pub body: Value,
    pub raw_body: bytes::Bytes,
    pub content_type: Option<String>,
    /// The caller's session id (Scope::Session).
    pub caller_session: Option<i64>,
}

/// One page of a paged list, as shape functions see it.
pub fn page_json(items: Vec<Value>, total: i64, page: u32, size: u32) -> Value {
    let last_page = if size == 0 {
        1
    } else {
        ((total.max(0) as u64).div_ceil(u64::from(size))).max(1)
    };
    json!({"items": items, "total": total, "page": page, "size": size, "lastPage": last_page})
}

pub struct CompatEndpoint {
    pub endpoint: Endpoint,
    /// The endpoint's path under the profile's prefix.
    pub path: String,
    pub rpc: MethodDescriptor,
    pub session_rpc: MethodDescriptor,
    pub list_sessions_rpc: MethodDescriptor,
    pub flavor: Arc<dyn Flavor>,
    pub state: Arc<SharedState>,
}

impl Profile for CompatEndpoint {
    fn name(&self) -> &str {
        self.flavor.name()
    }

    fn build_request(&self, _: &Binding, _: &HttpInput<'_>) -> Result<DynamicMessage, Status> {
        Err(Status::internal("compatibility endpoints serve themselves"))
    }

    fn render_response(&self, _: &Binding, _: &DynamicMessage) -> Result<Vec<u8>, Status> {
        Err(Status::internal("compatibility endpoints serve themselves"))
    }

    fn render_error(&self, status: &Status) -> Response {
        self.failure_response(
            &Failure::Status {
                status: status.clone(),
                fields: FieldErrors::new(),
                had_credential: true,
            },
            None,
        )
    }

    fn serves_itself(&self) -> bool {
        true
    }

    fn serve(self: Arc<Self>, request: ServeRequest) -> BoxFuture<'static, Response> {
        Box::pin(async move { self.handle(request).await })
    }

    fn openapi_operation(&self, _: &Binding) -> Option<Value> {
        Some(super::openapi_operation(
            &self.endpoint,
            &self.path,
            self.flavor.as_ref(),
            &self.rpc.output(),
        ))
    }
}

impl CompatEndpoint {
    async fn handle(&self, request: ServeRequest) -> Response {
        let credential = credential(&request.headers);
        let rate = self
            .state
            .limiter
            .check(credential.as_deref().unwrap_or(""));
        if !rate.allowed {
            let failure = Failure::RateLimited {
                retry_after: rate.reset_secs.max(1),
                limit: rate.limit,
            };
            let mut response = self.failure_response(&failure, Some(rate));
            if let Ok(value) = HeaderValue::from_str(&rate.reset_secs.max(1).to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            return response;
        }
        let had_credential = credential.is_some();
        match self.answer(&request, credential.as_deref()).await {
            Ok((reply, upstream_headers)) => reply_response(reply, rate, &upstream_headers),
            Err(mut failure) => {
                if let Failure::Status {
                    had_credential: had,
                    ..
                } = &mut failure
                {
                    *had = had_credential;
                }
                let upstream = match &failure {
                    Failure::Status { status, .. } => status.metadata().clone().into_headers(),
                    _ => HeaderMap::new(),
                };
                let mut response = self.failure_response(&failure, Some(rate));
                copy_upstream_rate_headers(&upstream, response.headers_mut());
                if let Failure::Status { status, .. } = &failure
                    && let Some(seconds) = crate::errors::retry_after_seconds(status)
                {
                    response
                        .headers_mut()
                        .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
                }
                response
            }
        }
    }

    async fn answer(
        &self,
        request: &ServeRequest,
        credential: Option<&str>,
    ) -> Result<(Reply, HeaderMap), Failure> {
        let call = CallMetadata::from_headers(&request.headers, &request.request_id)
            .map_err(|status| self.status_failure(status))?;
        let mut inputs = inputs_of(request)?;
        match self.endpoint.scope {
            Scope::Account => {}
            Scope::Session => {
                inputs.caller_session = Some(
                    self.caller_session(&request.upstream, &call, credential)
                        .await?,
                );
            }
            Scope::Device(field, default_label) => {
                inputs.caller_session = Some(
                    self.device(
                        &request.upstream,
                        &call,
                        credential,
                        &inputs,
                        field,
                        default_label,
                    )
                    .await?,
                );
            }
        }
        // Held until the answer is built; dropped on every return and when
        // the client goes away (the future is dropped).
        let _permit = self.permit(inputs.caller_session)?;
        let base = request::assemble(&self.endpoint, &inputs).map_err(Failure::Validation)?;
        match self.endpoint.paging {
            Paging::None => {
                let response = self.call(&request.upstream, &call, &base).await?;
                let headers = response.metadata().clone().into_headers();
                let json = self.response_json(response.get_ref())?;
                Ok(((self.endpoint.shape)(&json, &inputs), headers))
            }
            Paging::All { list } => {
                let (items, total, headers) = self
                    .collect(&request.upstream, &call, &base, list, 0, MAX_ITEMS)
                    .await?;
                let count = items.len() as u32;
                let page = page_json(items, total, 1, count);
                Ok(((self.endpoint.shape)(&page, &inputs), headers))
            }
            Paging::Pages {
                list,
                page,
                size,
                default_size,
                switch,
            } => {
                let paged = switch.is_none_or(|name| {
                    inputs
                        .query
                        .get(name)
                        .is_some_and(|v| matches!(v.as_str(), "true" | "1"))
                });
                let (page_number, page_size) = if paged {
                    (
                        positive(&inputs, page, 1)?,
                        positive(&inputs, size, default_size)?,
                    )
                } else {
                    (1, MAX_ITEMS as u32)
                };
                let offset = (page_number as usize - 1) * page_size as usize;
                let (items, total, headers) = self
                    .collect(
                        &request.upstream,
                        &call,
                        &base,
                        list,
                        offset,
                        page_size as usize,
                    )
                    .await?;
                let page = page_json(items, total, page_number, page_size);
                Ok(((self.endpoint.shape)(&page, &inputs), headers))
            }
        }
    }

    /// A slot of the caller's session under the profile's concurrency cap;
    /// over it: RESOURCE_EXHAUSTED with a retry in a second (each flavor
    /// words it as its product's 429). Requests naming no session of their
    /// own (the account token's) are not capped.
    fn permit(&self, session: Option<i64>) -> Result<Option<Permit>, Failure> {
        let Some(session) = session else {
            return Ok(None);
        };
        let concurrency = &self.state.concurrency;
        match concurrency.try_acquire(session) {
            Some(permit) => Ok(Some(permit)),
            None => {
                let cap = concurrency.cap();
                let mut details = tonic_types::ErrorDetails::new();
                details.set_retry_info(Some(std::time::Duration::from_secs(1)));
                details.set_error_info(
                    "TOO_MANY_CONCURRENT_REQUESTS",
                    "wagate.dev",
                    HashMap::from([("limit".to_owned(), cap.to_string())]),
                );
                Err(self.status_failure(Status::with_error_details(
                    tonic::Code::ResourceExhausted,
                    format!(
                        "Too many concurrent requests: a session may have at most {cap} requests in \
                         progress at once. Queue your requests (1-5 concurrent workers per session) \
                         and retry."
                    ),
                    details,
                )))
            }
        }
    }

    /// The session of a session API key: `GetSession(sessions/-)` once per key.
    async fn caller_session(
        &self,
        upstream: &Upstream,
        call: &CallMetadata,
        credential: Option<&str>,
    ) -> Result<i64, Failure> {
        self.key_session(upstream, call, credential)
            .await?
            .ok_or_else(|| {
                // The account token names no session of its own: these
                // endpoints need a session's API key.
                self.status_failure(Status::unauthenticated(
                    "this endpoint needs a session API key, not the personal access token",
                ))
            })
    }

    /// The device of a [`Scope::Device`] request: the session `field` names,
    /// else the session key's own, else (account token) the default device
    /// (see [`default_mark`]), else the oldest connected session.
    async fn device(
        &self,
        upstream: &Upstream,
        call: &CallMetadata,
        credential: Option<&str>,
        inputs: &Inputs,
        field: &str,
        default_label: Option<&str>,
    ) -> Result<i64, Failure> {
        let named = request::body_value(&inputs.body, field)
            .cloned()
            .or_else(|| inputs.query.get(field).cloned().map(Value::String))
            .filter(|v| !v.is_null() && v.as_str() != Some(""));
        if let Some(named) = named {
            let id = match &named {
                Value::Number(n) => n.as_i64(),
                Value::String(s) => s.trim().parse::<i64>().ok(),
                _ => None,
            };
            return id.filter(|id| *id > 0).ok_or_else(|| {
                let mut errors = FieldErrors::new();
                add_error(
                    &mut errors,
                    field,
                    format!("The {field} field must be a device id (an integer)."),
                );
                Failure::Validation(errors)
            });
        }
        if let Some(session) = self.key_session(upstream, call, credential).await? {
            return Ok(session);
        }
        let mut request = DynamicMessage::new(self.list_sessions_rpc.input());
        request.set_field_by_name("page_size", prost_reflect::Value::I32(MAX_RPC_PAGE as i32));
        let mut token = String::new();
        let mut oldest: Option<i64> = None;
        let mut default: Option<(i64, i64)> = None;
        loop {
            request.set_field_by_name("page_token", prost_reflect::Value::String(token));
            let response = upstream
                .call(&self.list_sessions_rpc, request.clone(), call.clone())
                .await
                .map_err(|status| self.status_failure(status))?;
            let json = self.response_json(response.get_ref())?;
            for session in json["sessions"].as_array().into_iter().flatten() {
                if let Some(label) = default_label
                    && let Some(marked) = default_mark(session, label)
                {
                    default = default.max(Some(marked));
                }
                if session["status"] == "SESSION_STATUS_CONNECTED"
                    && let Some(id) = session["id"].as_str().and_then(|id| id.parse().ok())
                {
                    oldest = Some(oldest.map_or(id, |o: i64| o.min(id)));
                }
            }
            token = json["nextPageToken"].as_str().unwrap_or("").to_owned();
            if token.is_empty() {
                break;
            }
        }
        if let Some((_, id)) = default {
            return Ok(id);
        }
        oldest.ok_or_else(|| {
            self.status_failure(session_not_connected(format!(
                "No connected WhatsApp device: connect one, or name one with {field}"
            )))
        })
    }

    /// The session a session API key belongs to (`GetSession(sessions/-)`,
    /// once per key); None for the account token, which has no session.
    async fn key_session(
        &self,
        upstream: &Upstream,
        call: &CallMetadata,
        credential: Option<&str>,
    ) -> Result<Option<i64>, Failure> {
        let credential = credential
            .ok_or_else(|| self.status_failure(Status::unauthenticated("API key is required")))?;
        if let Some(session) = self.state.cached_caller(credential) {
            return Ok(Some(session));
        }
        let mut message = DynamicMessage::new(self.session_rpc.input());
        message.set_field_by_name("name", prost_reflect::Value::String("sessions/-".into()));
        let session = match upstream
            .call(&self.session_rpc, message, call.clone())
            .await
        {
            Ok(response) => response
                .get_ref()
                .get_field_by_name("id")
                .and_then(|v| v.as_i64())
                .filter(|id| *id > 0)
                .ok_or_else(|| {
                    self.status_failure(Status::internal("GetSession answered no session id"))
                })?,
            // The account token names no session of its own.
            Err(status) if status.code() == tonic::Code::InvalidArgument => return Ok(None),
            Err(status) => return Err(self.status_failure(status)),
        };
        self.state.remember_caller(credential, session);
        Ok(Some(session))
    }

    async fn call(
        &self,
        upstream: &Upstream,
        call: &CallMetadata,
        request: &Value,
    ) -> Result<tonic::Response<DynamicMessage>, Failure> {
        let message = transcode::parse_json(
            self.rpc.input(),
            request.to_string().as_bytes(),
            "",
            &JsonOptions::default(),
        )
        .map_err(|status| self.status_failure(status))?;
        upstream
            .call(&self.rpc, message, call.clone())
            .await
            .map_err(|status| self.status_failure(status))
    }

    /// Items `offset..offset + limit` of the list field `list` (JSON name),
    /// following page tokens; the list's total; and the last page's
    /// metadata (the server's rate-limit figures, if any).
    async fn collect(
        &self,
        upstream: &Upstream,
        call: &CallMetadata,
        base: &Value,
        list: &str,
        offset: usize,
        limit: usize,
    ) -> Result<(Vec<Value>, i64, HeaderMap), Failure> {
        let wanted = offset + limit;
        let mut seen = 0usize;
        let mut items = Vec::new();
        let mut token = String::new();
        let mut total;
        let mut headers;
        loop {
            let mut request = base.clone();
            let size = (wanted - seen).clamp(1, MAX_RPC_PAGE);
            request::set_path(&mut request, "page_size", json!(size));
            request::set_path(&mut request, "page_token", json!(token));
            let response = self.call(upstream, call, &request).await?;
            headers = response.metadata().clone().into_headers();
            let json = self.response_json(response.get_ref())?;
            let page = json[list].as_array().cloned().unwrap_or_default();
            total = json["totalSize"].as_i64().unwrap_or(0);
            for item in page.iter() {
                if seen >= offset && seen < wanted {
                    items.push(item.clone());
                }
                seen += 1;
            }
            token = json["nextPageToken"].as_str().unwrap_or("").to_owned();
            if token.is_empty() || seen >= wanted || page.is_empty() {
                break;
            }
        }
        Ok((items, total.max(seen as i64), headers))
    }

    fn response_json(&self, message: &DynamicMessage) -> Result<Value, Failure> {
        let options = JsonOptions {
            strict: false,
            emit_unpopulated: true,
        };
        let bytes =
            transcode::render_json(message, &options).map_err(|s| self.status_failure(s))?;
        serde_json::from_slice(&bytes)
            .map_err(|err| self.status_failure(Status::internal(err.to_string())))
    }

    /// A status with its field violations renamed to the product's fields.
    fn status_failure(&self, status: Status) -> Failure {
        let mut fields = FieldErrors::new();
        if let Some(bad) = status.get_details_bad_request() {
            for violation in bad.field_violations {
                let name = request::seed_name(&self.endpoint.fields, &violation.field)
                    .map(str::to_owned)
                    .unwrap_or(violation.field);
                add_error(&mut fields, &name, violation.description);
            }
        }
        Failure::Status {
            status,
            fields,
            had_credential: true,
        }
    }

    fn failure_response(&self, failure: &Failure, rate: Option<RateState>) -> Response {
        let (status, body) = self.flavor.render_failure(failure, self.endpoint.scope);
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let Some(rate) = rate {
            rate_headers(rate, &mut headers);
        }
        (status, headers, body.to_string()).into_response()
    }
}

/// A session (ListSessions JSON) marked as default device by `label`: the
/// mark's value (when it was set, Unix milliseconds) and the session id.
/// The most recent mark wins, so setting a default needs no other writes.
pub fn default_mark(session: &Value, label: &str) -> Option<(i64, i64)> {
    let mark = session["labels"][label].as_str()?.parse().ok()?;
    let id = session["id"].as_str().and_then(|id| id.parse().ok())?;
    Some((mark, id))
}

/// FAILED_PRECONDITION with the server's reason for a session that is not
/// connected, so every flavor words it as its product does.
fn session_not_connected(message: String) -> Status {
    let mut details = tonic_types::ErrorDetails::new();
    details.set_error_info("SESSION_NOT_CONNECTED", "wagate.dev", HashMap::new());
    Status::with_error_details(tonic::Code::FailedPrecondition, message, details)
}

fn positive(inputs: &Inputs, name: &str, default: u32) -> Result<u32, Failure> {
    match inputs.query.get(name) {
        None => Ok(default),
        Some(text) => text.parse::<u32>().ok().filter(|n| *n > 0).ok_or_else(|| {
            let mut errors = FieldErrors::new();
            add_error(
                &mut errors,
                name,
                format!("The {name} field must be a positive integer."),
            );
            Failure::Validation(errors)
        }),
    }
}

fn inputs_of(request: &ServeRequest) -> Result<Inputs, Failure> {
    let path = request
        .captures
        .iter()
        .map(|(field, value)| (field.join("."), value.clone()))
        .collect();
    let query = request
        .query
        .as_deref()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    let content_type = request
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_ascii_lowercase());
    let trimmed = request.body.trim_ascii();
    let says_json = content_type
        .as_deref()
        .is_none_or(|ct| ct.starts_with("application/json") || ct.contains("+json"));
    let body = if trimmed.is_empty() || !says_json {
        Value::Null
    } else {
        serde_json::from_slice(trimmed).map_err(|err| {
            let mut errors = FieldErrors::new();
            add_error(
                &mut errors,
                "body",
                format!("The request body is not valid JSON: {err}"),
            );
            Failure::Validation(errors)
        })?
    };
    Ok(Inputs {
        path,
        query,
        body,
        raw_body: request.body.clone(),
        content_type,
        caller_session: None,
    })
}

/// The raw token of `Authorization: Bearer`, `X-API-Key` or `X-API-Token`.
fn credential(headers: &HeaderMap) -> Option<String> {
    AUTH_HEADERS.iter().find_map(|name| {
        let text = headers.get(*name)?.to_str().ok()?.trim();
        let token = if *name == "authorization" {
            text.split_once(' ')
                .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
                .map(|(_, rest)| {
                    let rest = rest.trim();
                    rest.strip_prefix("token ").map(str::trim).unwrap_or(rest)
                })
                .unwrap_or(text)
        } else {
            text
        };
        (!token.is_empty()).then(|| token.to_owned())
    })
}

fn rate_headers(rate: RateState, headers: &mut HeaderMap) {
    for (name, value) in [
        ("x-ratelimit-limit", rate.limit.to_string()),
        ("x-ratelimit-remaining", rate.remaining.to_string()),
        ("x-ratelimit-reset", rate.reset_secs.to_string()),
    ] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    }
}

/// The server's send-rate headers, more specific than the gateway's window.
fn copy_upstream_rate_headers(upstream: &HeaderMap, headers: &mut HeaderMap) {
    for name in RATE_LIMIT_HEADERS {
        if let Some(value) = upstream.get(name) {
            headers.insert(HeaderName::from_static(name), value.clone());
        }
    }
}

fn reply_response(reply: Reply, rate: RateState, upstream: &HeaderMap) -> Response {
    let mut headers = HeaderMap::new();
    rate_headers(rate, &mut headers);
    copy_upstream_rate_headers(upstream, &mut headers);
    match reply.body {
        Some(body) => {
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            (reply.status, headers, body.to_string()).into_response()
        }
        None => (reply.status, headers).into_response(),
    }
}

impl std::fmt::Debug for CompatEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.endpoint.method, self.path)
    }
}
