//! `GET /metrics` in the Prometheus text format: sessions by status and, per
//! live session, the engine's traffic and memory figures.

use std::fmt::Write as _;
use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use tokio_util::sync::CancellationToken;

use crate::session::SessionManager;
use crate::session::model::Status;

const STATUSES: [Status; 6] = [
    Status::Connecting,
    Status::Connected,
    Status::Disconnected,
    Status::NeedScan,
    Status::LoggedOut,
    Status::Expired,
];

/// A per-session series: name, type, help, and how to read it.
type Series = (
    &'static str,
    &'static str,
    &'static str,
    fn(&crate::engine::Resources) -> u64,
);

/// Renders every metric.
pub async fn render(manager: &SessionManager) -> Result<String, crate::error::Error> {
    let counts = manager.store().count_sessions_by_status().await?;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# HELP wagate_sessions Sessions by connection status.\n# TYPE wagate_sessions gauge"
    );
    for status in STATUSES {
        let n = counts
            .iter()
            .find(|(s, _)| *s == status)
            .map(|(_, n)| *n)
            .unwrap_or(0);
        let _ = writeln!(out, "wagate_sessions{{status=\"{}\"}} {n}", status.as_str());
    }
    let live = manager.live_ids();
    let _ = writeln!(
        out,
        "# HELP wagate_sessions_live Sessions with an open engine connection.\n# TYPE wagate_sessions_live gauge\nwagate_sessions_live {}",
        live.len()
    );
    let _ = writeln!(
        out,
        "# HELP wagate_runtime_alive_tasks Tasks alive on the server's async runtime.\n# TYPE wagate_runtime_alive_tasks gauge\nwagate_runtime_alive_tasks {}",
        tokio::runtime::Handle::current()
            .metrics()
            .num_alive_tasks()
    );
    let mut figures = Vec::new();
    for id in live {
        if let Some(resources) = manager.resources(id).await {
            figures.push((id, resources));
        }
    }
    let series: [Series; 6] = [
        (
            "wagate_session_bytes_sent_total",
            "counter",
            "Bytes sent to WhatsApp by the session.",
            |r| r.bytes_sent,
        ),
        (
            "wagate_session_bytes_received_total",
            "counter",
            "Bytes received from WhatsApp.",
            |r| r.bytes_received,
        ),
        (
            "wagate_session_frames_sent_total",
            "counter",
            "Frames sent to WhatsApp.",
            |r| r.frames_sent,
        ),
        (
            "wagate_session_frames_received_total",
            "counter",
            "Frames received from WhatsApp.",
            |r| r.frames_received,
        ),
        (
            "wagate_session_reconnects_total",
            "counter",
            "Reconnections of the session.",
            |r| r.reconnects,
        ),
        (
            "wagate_session_memory_bytes",
            "gauge",
            "Engine estimate of the session's memory.",
            |r| r.memory_bytes,
        ),
    ];
    for (name, kind, help, value) in series {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (id, resources) in &figures {
            let _ = writeln!(out, "{name}{{session=\"{id}\"}} {}", value(resources));
        }
    }
    Ok(out)
}

/// The manager, once the server is ready.
pub type Slot = Arc<OnceLock<SessionManager>>;

async fn metrics(State(slot): State<Slot>) -> impl IntoResponse {
    let Some(manager) = slot.get() else {
        return (StatusCode::SERVICE_UNAVAILABLE, "wagate is starting").into_response();
    };
    match render(manager).await {
        Ok(text) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
            text,
        )
            .into_response(),
        Err(err) => (StatusCode::SERVICE_UNAVAILABLE, err.message).into_response(),
    }
}

/// Serves `/metrics` on `listener` until `shutdown`; answers 503 until `slot` is filled.
pub fn serve(listener: tokio::net::TcpListener, slot: Slot, shutdown: CancellationToken) {
    let app = Router::new()
        .route("/metrics", get(metrics))
        .with_state(slot);
    tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown.cancelled_owned())
            .await;
        if let Err(err) = served {
            tracing::warn!(error = %err, "metrics server stopped");
        }
    });
}
