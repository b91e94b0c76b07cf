//! The in-process [`Client`]: the controllers that run inside the server call the API router
//! directly — no socket, no HTTP parsing — through a [`RestClient`] over a [`RouterTransport`].
//!
//! Every request still passes through the same router, handlers, validation, admission and
//! metrics as a kubectl request, so in-process and HTTP clients have identical semantics; only the
//! TCP hop is skipped.

use axum::Router;
use axum::body::Body;
use bytes::Bytes;
use futures::future::BoxFuture;
use futures::{StreamExt, TryStreamExt};
use mock_k8_controllers::client::transport::{ByteStream, Transport, TransportError};
use mock_k8_controllers::client::{Client, RestClient};
use std::sync::Arc;
use tower::ServiceExt;

/// A [`Transport`] that hands each request to an axum [`Router`] (normally
/// [`crate::api::router`]) with `tower::ServiceExt::oneshot`; the response body streams exactly as
/// it would over HTTP (watches included).
#[derive(Clone)]
pub struct RouterTransport {
    router: Router,
}

impl std::fmt::Debug for RouterTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RouterTransport").finish_non_exhaustive()
    }
}

impl RouterTransport {
    /// A transport over `router` (cheap: routers are reference-counted).
    pub fn new(router: Router) -> Self {
        RouterTransport { router }
    }
}

impl Transport for RouterTransport {
    fn send(
        &self,
        req: axum::http::Request<Bytes>,
    ) -> BoxFuture<'static, Result<axum::http::Response<ByteStream>, TransportError>> {
        let router = self.router.clone();
        Box::pin(async move {
            // The router's error type is `Infallible`: every failure is an HTTP answer.
            let resp = match router.oneshot(req.map(Body::from)).await {
                Ok(resp) => resp,
                Err(never) => match never {},
            };
            let (parts, body) = resp.into_parts();
            let body: ByteStream = body
                .into_data_stream()
                .map_err(|e| TransportError(format!("response body: {e}")))
                .boxed();
            Ok(axum::http::Response::from_parts(parts, body))
        })
    }
}

/// The in-process client over `router` that signs its writes as `actor` with `key` (NKO request
/// signatures, `nko/SPEC.md` §4).
pub fn signing_client(
    router: Router,
    actor: &str,
    key: mock_k8_nko::keys::SecretKey,
) -> Arc<dyn Client> {
    use mock_k8_controllers::client::signing::SigningTransport;
    Arc::new(RestClient::new(SigningTransport::new(
        RouterTransport::new(router),
        actor,
        key,
    )))
}

/// The in-process client over `router` (from [`crate::api::router`]), as the `Arc<dyn Client>`
/// the controller runtime takes.
pub fn in_process_client(router: Router) -> Arc<dyn Client> {
    Arc::new(RestClient::new(RouterTransport::new(router)))
}

#[cfg(test)]
#[path = "inproc_tests.rs"]
mod tests;
