//! The NKO signing layer: a [`Transport`] that signs every write request (POST, PUT, PATCH,
//! DELETE) for one actor, in the wire format of `nko/SPEC.md` §4 ([`mock_k8_nko::request`]).
//! The controller manager signs as `controller:<name>` and each node agent as `node:<node name>`
//! with its own key, in process or over HTTP alike: wrap the transport and build the
//! [`super::RestClient`] on it.
//!
//! The signed path is the request's origin-form target as this layer sees it; a transport that
//! adds a path prefix (a proxy in front of the server) breaks the signature unless the proxy
//! strips it.

use bytes::Bytes;
use futures::future::BoxFuture;
use http::header::{HeaderName, HeaderValue};
use mock_k8_nko::keys::SecretKey;
use mock_k8_nko::record::digest;
use mock_k8_nko::request::RequestClaim;

use super::transport::{ByteStream, Transport, TransportError};

/// Proof bytes to send with one request (`X-Nko-Proof`), as a request extension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proof(pub Vec<u8>);

tokio::task_local! {
    static PROOF: Vec<u8>;
}

/// Runs `f` with `proof` as the `X-Nko-Proof` of every write it signs (a request's own [`Proof`]
/// extension wins). This is how a controller attaches a proof through the [`super::Client`] API,
/// which has no per-request options: the signing layer runs in the task that awaits the call.
pub async fn with_proof<F: std::future::Future>(proof: Vec<u8>, f: F) -> F::Output {
    PROOF.scope(proof, f).await
}

/// Signs write requests for `actor` with `key`, then sends them through `inner`.
pub struct SigningTransport<T> {
    inner: T,
    actor: String,
    key: SecretKey,
}

impl<T> std::fmt::Debug for SigningTransport<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningTransport")
            .field("actor", &self.actor)
            .field("key", &self.key.public().id())
            .finish_non_exhaustive()
    }
}

impl<T: Transport> SigningTransport<T> {
    /// A transport signing as `actor` (`controller:<name>` or `node:<name>`) with `key`.
    pub fn new(inner: T, actor: impl Into<String>, key: SecretKey) -> Self {
        SigningTransport {
            inner,
            actor: actor.into(),
            key,
        }
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Adds the NKO headers for `actor`/`key` to `req` (write methods only).
pub fn sign_request(req: &mut http::Request<Bytes>, actor: &str, key: &SecretKey) {
    let method = req.method().as_str().to_ascii_uppercase();
    if !matches!(method.as_str(), "POST" | "PUT" | "PATCH" | "DELETE") {
        return;
    }
    let path = req
        .uri()
        .path_and_query()
        .map_or_else(|| req.uri().path().to_string(), |p| p.as_str().to_string());
    let proof = req
        .extensions()
        .get::<Proof>()
        .map(|p| p.0.clone())
        .or_else(|| PROOF.try_with(Clone::clone).ok())
        .unwrap_or_default();
    let claim = RequestClaim {
        actor: actor.to_string(),
        key: key.public(),
        timestamp_ms: now_ms(),
        method,
        path,
        body_digest: digest(req.body()),
        proof,
    };
    let sig = claim.sign(key);
    for (name, value) in claim.headers(&sig) {
        if let Ok(v) = HeaderValue::from_str(&value) {
            req.headers_mut().insert(HeaderName::from_static(name), v);
        }
    }
}

impl<T: Transport> Transport for SigningTransport<T> {
    fn send(
        &self,
        mut req: http::Request<Bytes>,
    ) -> BoxFuture<'static, Result<http::Response<ByteStream>, TransportError>> {
        sign_request(&mut req, &self.actor, &self.key);
        self.inner.send(req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_should_carry_a_verifiable_signature_and_reads_none() {
        let key = SecretKey::from_seed(&[4; 32]);
        let mut req = http::Request::put("/api/v1/nodes/n1?x=1")
            .body(Bytes::from_static(b"{}"))
            .unwrap();
        sign_request(&mut req, "node:n1", &key);
        let get = |n: &str| req.headers().get(n).and_then(|v| v.to_str().ok());
        let (claim, sig) = RequestClaim::from_headers(get, "PUT", "/api/v1/nodes/n1?x=1", b"{}")
            .unwrap()
            .unwrap();
        assert!(claim.verify(&sig));
        assert_eq!(claim.actor, "node:n1");
        let mut read = http::Request::get("/api/v1/nodes")
            .body(Bytes::new())
            .unwrap();
        sign_request(&mut read, "node:n1", &key);
        assert!(read.headers().is_empty());
    }
}
