//! wagate's REST/JSON transcoding gateway. HTTP requests are routed by the
//! `google.api.http` annotations of the descriptor set (read at start-up with
//! prost-reflect), turned into gRPC calls on `DynamicMessage`s, and answered
//! with canonical proto3 JSON — so every annotated RPC, now and later, is
//! served with no per-RPC code.
//!
//! ```ignore
//! let router = wagate_gateway::router(GatewayOptions::new(Upstream::Url("http://127.0.0.1:50051".into())))?;
//! ```
//!
//! Compatibility profiles ([`profiles`]) serve other products' REST APIs on
//! the same RPCs (WasenderAPI on `/api` by default).
//!
//! Routes besides the API: `GET /healthz`, `GET /readyz`, `GET /openapi.json`, `GET /docs`.

pub mod bench;
pub mod client;
pub mod docs_page;
pub mod errors;
pub mod handler;
pub mod health;
pub mod http_layer;
pub mod openapi;
pub mod profile;
pub mod profiles;
pub mod routes;
pub mod streaming;
pub mod transcode;
pub mod upstream;

use std::future::{Future, IntoFuture as _};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::Router;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use http::{HeaderValue, header};
use prost_reflect::DescriptorPool;
use tokio::net::TcpListener;
use tonic::transport::{Channel, Endpoint};

pub use http_layer::CorsOptions;
pub use profile::{Canonical, Profile};
pub use routes::{Binding, BodyMapping, RouteTable};
pub use transcode::JsonOptions;

/// Default request body limit: the server's default gRPC message limit (8 MiB)
/// plus the base64 growth of bytes fields in JSON (4/3) and some slack.
pub const DEFAULT_MAX_BODY_BYTES: usize = 12 * 1024 * 1024;
/// Largest gRPC response the gateway decodes.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 64 * 1024 * 1024;
/// Idle time after which an SSE stream gets a comment line.
pub const DEFAULT_SSE_HEARTBEAT: Duration = Duration::from_secs(15);

/// Where the gateway sends its gRPC calls.
#[derive(Clone, Debug)]
pub enum UpstreamTarget {
    /// `http://host:port`; connected lazily (and reconnected) by tonic.
    Url(String),
    /// An existing channel, e.g. the in-process server's loopback channel.
    Channel(Channel),
}

/// Adds bindings of another profile to the table (compatibility APIs).
pub type RouteExtension =
    Box<dyn Fn(&DescriptorPool, &mut RouteTable) -> anyhow::Result<()> + Send + Sync>;

pub struct GatewayOptions {
    pub upstream: UpstreamTarget,
    pub json: JsonOptions,
    /// Larger request bodies get 413.
    pub max_body_bytes: usize,
    pub max_response_bytes: usize,
    pub cors: CorsOptions,
    pub sse_heartbeat: Duration,
    /// Services whose bindings are served (default: the public services and
    /// the simulator's control service).
    pub services: Vec<String>,
    /// Encoded FileDescriptorSet with the services and google.api annotations.
    pub descriptor_set: &'static [u8],
    pub route_extensions: Vec<RouteExtension>,
    /// Compatibility profiles to serve next to `/v1` (see
    /// [`profiles::KNOWN_PROFILES`]); WasenderAPI by default.
    pub compat_profiles: Vec<String>,
    /// The request limit per credential and minute on compatibility endpoints.
    pub compat_requests_per_minute: u32,
    /// Requests one session may have in flight at once on the WasenderAPI
    /// profile (seed 001's global concurrent request limit); 0: no cap.
    pub compat_concurrent_per_session: u32,
}

/// Default request limit per credential and minute on compatibility endpoints.
pub const DEFAULT_COMPAT_REQUESTS_PER_MINUTE: u32 = 600;
/// Default cap on a session's requests in flight on the WasenderAPI profile
/// (seed 001 recommends 1–5 concurrent workers per session).
pub const DEFAULT_COMPAT_CONCURRENT_PER_SESSION: u32 = 10;

impl GatewayOptions {
    pub fn new(upstream: UpstreamTarget) -> Self {
        let mut services: Vec<String> = wagate_proto::PUBLIC_SERVICES
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        services.push(wagate_proto::SIMULATOR_SERVICE.to_owned());
        Self {
            upstream,
            json: JsonOptions::default(),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            cors: CorsOptions {
                allowed_origins: Vec::new(),
                max_age_seconds: 600,
            },
            sse_heartbeat: DEFAULT_SSE_HEARTBEAT,
            services,
            descriptor_set: wagate_proto::FILE_DESCRIPTOR_SET,
            route_extensions: Vec::new(),
            compat_profiles: vec![profiles::wasender::NAME.to_owned()],
            compat_requests_per_minute: DEFAULT_COMPAT_REQUESTS_PER_MINUTE,
            compat_concurrent_per_session: DEFAULT_COMPAT_CONCURRENT_PER_SESSION,
        }
    }
}

/// A channel to `url` that connects on first use and reconnects after failures.
pub fn lazy_channel(url: &str) -> anyhow::Result<Channel> {
    Ok(Endpoint::from_shared(url.to_owned())
        .with_context(|| format!("bad upstream URL {url:?}"))?
        .connect_timeout(Duration::from_secs(5))
        .tcp_nodelay(true)
        .http2_keep_alive_interval(Duration::from_secs(30))
        .keep_alive_timeout(Duration::from_secs(10))
        .connect_lazy())
}

/// The gateway as an axum router: the API routes (a fallback that matches
/// the route table), `/healthz`, `/readyz`, `/openapi.json` and `/docs`.
pub fn router(options: GatewayOptions) -> anyhow::Result<Router> {
    let pool =
        DescriptorPool::decode(options.descriptor_set).context("decoding the descriptor set")?;
    let canonical = Arc::new(Canonical {
        json: options.json.clone(),
    });
    let mut table = RouteTable::from_services(&pool, &options.services, canonical)?;
    for extend in &options.route_extensions {
        extend(&pool, &mut table)?;
    }
    profiles::install_named(
        &pool,
        &mut table,
        &options.compat_profiles,
        &profiles::ProfileLimits {
            requests_per_minute: options.compat_requests_per_minute,
            concurrent_per_session: options.compat_concurrent_per_session,
        },
    )?;
    let channel = match &options.upstream {
        UpstreamTarget::Url(url) => lazy_channel(url)?,
        UpstreamTarget::Channel(channel) => channel.clone(),
    };
    let upstream = upstream::Upstream::new(channel, options.max_response_bytes);

    let document = openapi::document(&table);
    // Rendered once; `Bytes` clones are reference counts.
    let openapi_json = bytes::Bytes::from(serde_json::to_vec_pretty(&document)?);
    let docs_html = bytes::Bytes::from(docs_page::render(&document));
    tracing::info!(
        bindings = table.bindings().len(),
        "REST gateway routes ready"
    );

    let transcoder = Arc::new(handler::Transcoder {
        table,
        upstream: upstream.clone(),
        max_body_bytes: options.max_body_bytes,
        sse_heartbeat: options.sse_heartbeat,
    });
    let layer_state = Arc::new(http_layer::LayerState { cors: options.cors });
    let router = Router::new()
        .route("/healthz", get(health::healthz))
        .route(
            "/readyz",
            get(health::readyz).with_state(Arc::new(upstream)),
        )
        .route(
            "/openapi.json",
            get(move || {
                let body = openapi_json.clone();
                async move {
                    (
                        [(
                            header::CONTENT_TYPE,
                            HeaderValue::from_static("application/json"),
                        )],
                        body,
                    )
                        .into_response()
                }
            }),
        )
        .route(
            "/docs",
            get(move || {
                let html = docs_html.clone();
                async move { Html(html).into_response() }
            }),
        )
        .fallback(handler::transcode)
        .with_state(transcoder)
        .layer(axum::middleware::from_fn_with_state(
            layer_state,
            http_layer::around_request,
        ));
    Ok(router)
}

/// How long open requests (streams included) may run after a shutdown.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves the gateway on `listener` until `shutdown` completes, then lets
/// open requests finish for at most [`DRAIN_TIMEOUT`] (SSE streams never end
/// on their own).
pub async fn serve(
    listener: TcpListener,
    options: GatewayOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let router = router(options)?;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let mut server = tokio::spawn(
        axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                let _ = stop_rx.await;
            })
            .into_future(),
    );
    tokio::select! {
        joined = &mut server => return joined.context("HTTP server task")?.context("serving HTTP"),
        () = shutdown => {}
    }
    let _ = stop_tx.send(());
    match tokio::time::timeout(DRAIN_TIMEOUT, server).await {
        Ok(joined) => joined.context("HTTP server task")?.context("serving HTTP"),
        Err(_) => {
            tracing::warn!(grace = ?DRAIN_TIMEOUT, "requests still open after the drain timeout; closing them");
            Ok(())
        }
    }
}

/// Options for the gateway inside `wagate serve`: upstream is the server's
/// own gRPC port over loopback (an unspecified bind address becomes 127.0.0.1).
pub fn in_process_options(grpc_addr: std::net::SocketAddr) -> GatewayOptions {
    let mut target = grpc_addr;
    if target.ip().is_unspecified() {
        target.set_ip(match target {
            std::net::SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            std::net::SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    GatewayOptions::new(UpstreamTarget::Url(format!("http://{target}")))
}
