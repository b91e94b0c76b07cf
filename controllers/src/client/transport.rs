//! The byte-level seam under [`super::RestClient`]: a [`Transport`] sends one HTTP request and
//! returns the response with a streamed body. [`HyperTransport`] speaks HTTP/1.1 to a `http://`
//! server; the root package's `RouterTransport` calls the API router in-process.
//!
//! Requests carry an origin-form URI (`/api/v1/namespaces/default/pods?labelSelector=app%3Dweb`);
//! the transport decides where it goes.

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use http::header::{HeaderMap, HeaderName, HeaderValue};
use http::uri::{PathAndQuery, Uri};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::time::Duration;

/// A response body: its chunks as they arrive. A watch body never ends until the server closes it.
pub type ByteStream = BoxStream<'static, Result<Bytes, TransportError>>;

/// The request failed before a complete answer arrived (connection refused or reset, timeout,
/// malformed URL, body interrupted).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TransportError(pub String);

/// Marks a request whose body streams for a long time (a watch): transports must not apply their
/// request timeout to it. [`super::RestClient`] inserts it as a request extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Streaming;

/// Sends one HTTP request and returns the status, headers and a streamed body.
///
/// Implementations must not interpret the status code: a `404` with a `Status` body is an `Ok`
/// response; `Err` means no (complete) answer.
pub trait Transport: Send + Sync + 'static {
    /// Sends `req` (origin-form URI, full body in memory).
    ///
    /// # Errors
    /// [`TransportError`] when no response head arrived (or, for non-streaming requests, the
    /// transport's timeout passed).
    fn send(
        &self,
        req: http::Request<Bytes>,
    ) -> BoxFuture<'static, Result<http::Response<ByteStream>, TransportError>>;
}

/// HTTP/1.1 over TCP to a `http://host:port[/prefix]` server (hyper's pooled client; no TLS).
///
/// Non-watch requests (those without the [`Streaming`] extension) must complete — head and whole
/// body — within the request timeout (default 30 s); the body is then handed over in one chunk.
/// Watch requests have no client-side timeout (the server's `timeoutSeconds` ends them).
#[derive(Clone)]
pub struct HyperTransport {
    client: HyperClient<HttpConnector, Full<Bytes>>,
    scheme_authority: String,
    path_prefix: String,
    headers: HeaderMap,
    timeout: Duration,
}

impl std::fmt::Debug for HyperTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HyperTransport")
            .field("base", &self.scheme_authority)
            .field("prefix", &self.path_prefix)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl HyperTransport {
    /// The default timeout of non-watch requests.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

    /// A transport to `base`, e.g. `http://127.0.0.1:8080` (a path prefix such as
    /// `http://proxy/k8s` is kept in front of every request path).
    ///
    /// # Errors
    /// [`TransportError`] when `base` is not an absolute `http://` URL (`https` is not supported).
    pub fn new(base: &str) -> Result<Self, TransportError> {
        let uri: Uri = base
            .parse()
            .map_err(|e| TransportError(format!("invalid server URL {base:?}: {e}")))?;
        match uri.scheme_str() {
            Some("http") => {}
            Some(s) => {
                return Err(TransportError(format!(
                    "unsupported scheme {s:?} in {base:?} (only http:// is supported)"
                )));
            }
            None => return Err(TransportError(format!("{base:?} is not an absolute URL"))),
        }
        let authority = uri
            .authority()
            .ok_or_else(|| TransportError(format!("{base:?} has no host")))?;
        let client = HyperClient::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .build_http();
        Ok(HyperTransport {
            client,
            scheme_authority: format!("http://{authority}"),
            path_prefix: uri.path().trim_end_matches('/').to_string(),
            headers: HeaderMap::new(),
            timeout: Self::DEFAULT_TIMEOUT,
        })
    }

    /// Sets the timeout of non-watch requests (head and body).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Adds a header sent with every request (e.g. `Authorization`); it replaces any header of
    /// the same name the client set.
    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.insert(name, value);
        self
    }

    /// The absolute URI of `pq` on this server.
    fn uri(&self, pq: Option<&PathAndQuery>) -> Result<Uri, TransportError> {
        let pq = pq.map_or("/", PathAndQuery::as_str);
        let full = format!("{}{}{pq}", self.scheme_authority, self.path_prefix);
        full.parse()
            .map_err(|e| TransportError(format!("invalid request URL {full:?}: {e}")))
    }
}

impl Transport for HyperTransport {
    fn send(
        &self,
        req: http::Request<Bytes>,
    ) -> BoxFuture<'static, Result<http::Response<ByteStream>, TransportError>> {
        let this = self.clone();
        Box::pin(async move {
            let (mut parts, body) = req.into_parts();
            parts.uri = this.uri(parts.uri.path_and_query())?;
            for (name, value) in &this.headers {
                parts.headers.insert(name.clone(), value.clone());
            }
            let streaming = parts.extensions.get::<Streaming>().is_some();
            let req = http::Request::from_parts(parts, Full::new(body));
            let call = async {
                let resp = this
                    .client
                    .request(req)
                    .await
                    .map_err(|e| TransportError(format!("request failed: {e}")))?;
                let (parts, body) = resp.into_parts();
                let body: ByteStream = if streaming {
                    body.into_data_stream()
                        .map_err(|e| TransportError(format!("response body: {e}")))
                        .boxed()
                } else {
                    let all = body
                        .collect()
                        .await
                        .map_err(|e| TransportError(format!("response body: {e}")))?
                        .to_bytes();
                    futures::stream::once(async move { Ok(all) }).boxed()
                };
                Ok(http::Response::from_parts(parts, body))
            };
            if streaming {
                call.await
            } else {
                tokio::time::timeout(this.timeout, call)
                    .await
                    .map_err(|_| TransportError(format!("timed out after {:?}", this.timeout)))?
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hyper_transport_should_accept_only_http_urls() {
        assert!(HyperTransport::new("http://127.0.0.1:8080").is_ok());
        assert!(HyperTransport::new("https://127.0.0.1:8080").is_err());
        assert!(HyperTransport::new("127.0.0.1:8080").is_err());
        let t = HyperTransport::new("http://h:1/prefix/").expect("valid");
        let pq: PathAndQuery = "/api/v1/pods?watch=true".parse().expect("pq");
        assert_eq!(
            t.uri(Some(&pq)).expect("uri").to_string(),
            "http://h:1/prefix/api/v1/pods?watch=true"
        );
    }
}
