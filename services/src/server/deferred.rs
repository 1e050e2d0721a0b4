//! A gRPC service that exists from the first moment the port is open but
//! answers UNAVAILABLE until its dependencies are ready, so health and
//! reflection can be served while the database is still being reached.

use std::convert::Infallible;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use tonic::body::Body;
use tonic::server::NamedService;

pub struct Deferred<S> {
    slot: Arc<OnceLock<S>>,
}

impl<S> Clone for Deferred<S> {
    fn clone(&self) -> Self {
        Self {
            slot: self.slot.clone(),
        }
    }
}

impl<S> Deferred<S> {
    pub fn new() -> Self {
        Self {
            slot: Arc::new(OnceLock::new()),
        }
    }

    /// Makes the service live. Later calls are ignored.
    pub fn set(&self, service: S) {
        let _ = self.slot.set(service);
    }
}

impl<S> Default for Deferred<S> {
    fn default() -> Self {
        Self::new()
    }
}

impl<S: NamedService> NamedService for Deferred<S> {
    const NAME: &'static str = S::NAME;
}

impl<S> tower::Service<http::Request<Body>> for Deferred<S>
where
    S: tower::Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        match self.slot.get() {
            Some(service) => {
                let mut service = service.clone();
                Box::pin(async move { service.call(request).await })
            }
            None => {
                let status: tonic::Status = crate::error::Error::unavailable(
                    "wagate is starting: its database is not ready yet; retry shortly",
                )
                .with_retry_after(std::time::Duration::from_secs(1))
                .into();
                Box::pin(async move { Ok(status.into_http()) })
            }
        }
    }
}
