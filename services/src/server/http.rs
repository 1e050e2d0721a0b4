//! The HTTP listener of `wagate serve` (`WAGATE_HTTP_ADDR`): media URLs
//! (`/media/<token>`, served once the store is up) and the in-process REST
//! gateway.

use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::media::MediaService;

/// The media service, available once the store is ready.
#[derive(Clone, Default)]
pub struct MediaSlot(Arc<OnceLock<MediaService>>);

impl MediaSlot {
    pub fn set(&self, service: MediaService) {
        let _ = self.0.set(service);
    }
}

async fn media(slot: MediaSlot, token: String) -> Response {
    match slot.0.get() {
        Some(service) => crate::media::serve_token(service, &token).await,
        None => (StatusCode::SERVICE_UNAVAILABLE, "wagate is starting").into_response(),
    }
}

/// Serves until `shutdown`. `gateway` is the REST gateway's router, when it
/// runs in-process.
pub fn serve(
    listener: TcpListener,
    slot: MediaSlot,
    gateway: Option<Router>,
    shutdown: CancellationToken,
) {
    let media_slot = slot.clone();
    let mut app = Router::new().route(
        "/media/{token}",
        get(move |Path(token): Path<String>| media(media_slot.clone(), token)),
    );
    // The in-process REST gateway is merged here.
    if let Some(gateway) = gateway {
        app = app.merge(gateway);
    }
    tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown.cancelled_owned())
            .await;
        if let Err(err) = served {
            tracing::warn!(error = %err, "HTTP server stopped");
        }
    });
}
