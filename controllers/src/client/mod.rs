//! The API client seam: an object-safe [`Client`] trait over the Kubernetes REST semantics of the
//! mock_k8 API server, and a typed [`Api<K>`] wrapper over it.
//!
//! Objects cross the trait as `serde_json::Value` so that nothing the server stores is lost (unknown
//! fields, `status` shapes the typed structs do not know). Two implementations share these semantics:
//! the in-process one (in the root package, which owns the store) and the HTTP one — both are a
//! [`RestClient`] over a [`Transport`]: [`HyperTransport`] for `http://` servers, the root
//! package's `RouterTransport` for the API router called in-process. For tests,
//! [`testing::FakeClient`] is a complete in-memory implementation.
//!
//! Verbs and their errors follow the Kubernetes API conventions ("API Concepts" in the Kubernetes
//! docs): a missing object is `404 NotFound`, a stale `resourceVersion` on update is `409 Conflict`,
//! a watch resumed from a compacted `resourceVersion` is `410 Expired` (sometimes reported as `Gone`).

mod api;
pub mod ndjson;
mod rest;
pub mod signing;
pub mod testing;
pub mod transport;

pub use api::Api;
pub use rest::RestClient;
pub use transport::{HyperTransport, Transport, TransportError};

use futures::future::BoxFuture;
use futures::stream::BoxStream;
use mock_k8_schemas::watch::WatchEvent;
use mock_k8_schemas::{ApiResource, Status};
use serde_json::Value;

/// Options of a `list` call (the `labelSelector` / `fieldSelector` query parameters).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListParams {
    /// A label selector, e.g. `app=web,tier!=db`; `None` selects everything.
    pub label_selector: Option<String>,
    /// A field selector, e.g. `spec.nodeName=n1`; `None` selects everything.
    pub field_selector: Option<String>,
}

/// Options of a `watch` call (the query parameters of `GET ...?watch=true`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WatchParams {
    /// A label selector; objects that stop matching are reported as `DELETED`.
    pub label_selector: Option<String>,
    /// A field selector.
    pub field_selector: Option<String>,
    /// Start after this `resourceVersion` (exclusive), as returned by a list or seen on an event.
    /// `None` starts from "now" (no replay). A version older than the server's history makes the
    /// stream yield a `410 Expired` error.
    pub resource_version: Option<String>,
    /// Ask for `BOOKMARK` events (progress markers carrying only `metadata.resourceVersion`).
    pub allow_bookmarks: bool,
    /// Server-side timeout of the stream, in seconds; the stream then ends normally.
    pub timeout_seconds: Option<u32>,
}

/// Options of a `delete` call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeleteParams {
    /// Grace period in seconds (`gracePeriodSeconds`); `Some(0)` deletes at once. For a Pod bound to
    /// a node the default is the pod's `spec.terminationGracePeriodSeconds` (30 s): the API server only
    /// sets `metadata.deletionTimestamp` and the node agent removes the object after stopping it.
    pub grace_period_seconds: Option<i64>,
    /// Precondition: delete only if the object's `resourceVersion` still equals this (else 409).
    pub precondition_resource_version: Option<String>,
    /// Precondition: delete only if the object's `uid` equals this (else 409).
    pub precondition_uid: Option<String>,
    /// `propagationPolicy`: `"Background"`, `"Foreground"` or `"Orphan"` (see the garbage
    /// collector, [`crate::gc`]). `None` sends none: the object's own garbage-collector
    /// finalizers decide, else Background.
    pub propagation_policy: Option<String>,
}

/// The answer to a `list` call.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ObjectList<T = Value> {
    /// The objects, in storage-key order (namespace, then name).
    pub items: Vec<T>,
    /// The list's `metadata.resourceVersion`: the store revision the list is consistent with; a
    /// watch started from it sees every later change exactly once.
    pub resource_version: String,
}

/// A failed client call, with Kubernetes' meaning.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ClientError {
    /// The server answered with a `Status` failure (404 NotFound, 409 Conflict, 410 Expired, 422
    /// Invalid, …). Boxed to keep `Result<_, ClientError>` small.
    #[error("api error: {0}")]
    Api(Box<Status>),
    /// The request did not get an answer (connection refused, reset, timed out).
    #[error("transport error: {0}")]
    Transport(String),
    /// The answer could not be decoded (not JSON, or not the expected shape).
    #[error("decode error: {0}")]
    Decode(String),
}

impl ClientError {
    /// A [`ClientError::Api`] for `status`.
    pub fn api(status: Status) -> Self {
        ClientError::Api(Box::new(status))
    }

    /// The server's `Status`, when the error is an API answer.
    pub fn status(&self) -> Option<&Status> {
        match self {
            ClientError::Api(s) => Some(s.as_ref()),
            _ => None,
        }
    }

    /// `true` for `404 NotFound`.
    pub fn is_not_found(&self) -> bool {
        self.status().is_some_and(|s| s.code == 404)
    }

    /// `true` for `409 Conflict` (stale `resourceVersion`) — not for `409 AlreadyExists`.
    pub fn is_conflict(&self) -> bool {
        self.status()
            .is_some_and(|s| s.code == 409 && s.reason == "Conflict")
    }

    /// `true` for `409 AlreadyExists`.
    pub fn is_already_exists(&self) -> bool {
        self.status()
            .is_some_and(|s| s.code == 409 && s.reason == "AlreadyExists")
    }

    /// `true` for `410 Expired`/`Gone`: the requested `resourceVersion` is older than the history
    /// the server keeps; the caller must re-list.
    pub fn is_expired(&self) -> bool {
        self.status().is_some_and(|s| s.code == 410)
    }

    /// The error a `Status` JSON object (the body of an error answer, or the object of a watch
    /// `ERROR` event) stands for: [`ClientError::Api`] when it carries a numeric `code`, else
    /// [`ClientError::Decode`].
    pub fn from_status_json(v: &Value) -> ClientError {
        let str_of = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        match v
            .get("code")
            .and_then(Value::as_u64)
            .and_then(|c| u16::try_from(c).ok())
        {
            Some(code) => ClientError::api(Status::new(code, &str_of("reason"), str_of("message"))),
            None => ClientError::Decode(format!("not a Status object: {v}")),
        }
    }
}

/// The stream a `watch` call returns: events in `resourceVersion` order, ending when the server
/// closes it (timeout). A `410 Expired` arrives either as an `Err` item or as an `ERROR` event whose
/// object is a `Status`; [`crate::watcher`] handles both.
pub type WatchStream = BoxStream<'static, Result<WatchEvent<Value>, ClientError>>;

/// Access to the API server with Kubernetes REST semantics, object-safe (use `Arc<dyn Client>`).
///
/// Arguments common to every verb:
/// - `resource`: the served kind (from [`mock_k8_schemas::resource`]).
/// - `namespace`: `Some(ns)` for namespaced kinds; `None` for cluster-scoped kinds, and for
///   `list`/`watch` across all namespaces. Single-object verbs on a namespaced kind with `None`
///   fail with `400 BadRequest`; a body whose `metadata.namespace` differs from `namespace` too.
///
/// # Errors
/// Every verb returns [`ClientError::Api`] with the server's `Status` on refusal (see each verb),
/// [`ClientError::Transport`] when no answer came, [`ClientError::Decode`] on a malformed answer.
pub trait Client: Send + Sync + 'static {
    /// `GET` one object.
    ///
    /// # Errors
    /// `404 NotFound` if it does not exist.
    fn get<'a>(
        &'a self,
        resource: &'static ApiResource,
        namespace: Option<&'a str>,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Value, ClientError>>;

    /// `GET` the collection, filtered by selectors; returns the items and the list's resourceVersion.
    ///
    /// # Errors
    /// `400 BadRequest` on a malformed selector.
    fn list<'a>(
        &'a self,
        resource: &'static ApiResource,
        namespace: Option<&'a str>,
        params: &'a ListParams,
    ) -> BoxFuture<'a, Result<ObjectList, ClientError>>;

    /// `GET ...?watch=true`: a stream of changes after `params.resource_version`.
    ///
    /// The stream is `'static` (it owns copies of the arguments) and lazy: connection errors arrive
    /// as its first item.
    fn watch(
        &self,
        resource: &'static ApiResource,
        namespace: Option<&str>,
        params: &WatchParams,
    ) -> WatchStream;

    /// `POST` a new object; returns it as stored (uid, resourceVersion, creationTimestamp set).
    ///
    /// # Errors
    /// `409 AlreadyExists`, `422 Invalid`, `400 BadRequest` (namespace mismatch).
    fn create<'a>(
        &'a self,
        resource: &'static ApiResource,
        namespace: Option<&'a str>,
        object: Value,
    ) -> BoxFuture<'a, Result<Value, ClientError>>;

    /// `PUT` the whole object (its `status` is ignored for kinds with a `status` subresource). When
    /// `metadata.resourceVersion` is set it is a precondition.
    ///
    /// # Errors
    /// `404 NotFound`, `409 Conflict` (stale resourceVersion), `422 Invalid`.
    fn replace<'a>(
        &'a self,
        resource: &'static ApiResource,
        namespace: Option<&'a str>,
        name: &'a str,
        object: Value,
    ) -> BoxFuture<'a, Result<Value, ClientError>>;

    /// `PUT .../status`: replaces only `status` (everything else in `object` is ignored except the
    /// `metadata.resourceVersion` precondition).
    ///
    /// # Errors
    /// As [`Client::replace`].
    fn replace_status<'a>(
        &'a self,
        resource: &'static ApiResource,
        namespace: Option<&'a str>,
        name: &'a str,
        object: Value,
    ) -> BoxFuture<'a, Result<Value, ClientError>>;

    /// `PATCH` with an RFC 7396 JSON merge patch (`application/merge-patch+json`), on the object or
    /// on a subresource (`Some("status")`). Returns the patched object.
    ///
    /// # Errors
    /// `404 NotFound`, `409 Conflict` (when the patch carries a stale `metadata.resourceVersion`),
    /// `422 Invalid`.
    fn patch<'a>(
        &'a self,
        resource: &'static ApiResource,
        namespace: Option<&'a str>,
        name: &'a str,
        subresource: Option<&'a str>,
        patch: Value,
    ) -> BoxFuture<'a, Result<Value, ClientError>>;

    /// `DELETE` one object. Returns the object as it was removed, or — when deletion is graceful or
    /// held by finalizers — as it now is, with `metadata.deletionTimestamp` set.
    ///
    /// # Errors
    /// `404 NotFound`, `409 Conflict` (failed precondition).
    fn delete<'a>(
        &'a self,
        resource: &'static ApiResource,
        namespace: Option<&'a str>,
        name: &'a str,
        params: &'a DeleteParams,
    ) -> BoxFuture<'a, Result<Value, ClientError>>;

    /// `POST` to a subresource of an object, e.g. `pods/{name}/binding` with a `Binding` body.
    /// Returns the server's answer (for `binding`, a success `Status`).
    ///
    /// # Errors
    /// `404 NotFound` (object or subresource), `409 Conflict` (pod already bound to another node),
    /// `422 Invalid`.
    fn create_subresource<'a>(
        &'a self,
        resource: &'static ApiResource,
        namespace: Option<&'a str>,
        name: &'a str,
        subresource: &'a str,
        body: Value,
    ) -> BoxFuture<'a, Result<Value, ClientError>>;
}

/// The `Binding` body that assigns pod `namespace/name` to `node`, for
/// `create_subresource(pods, ns, name, "binding", body)` (Kubernetes `v1.Binding`).
pub fn binding(namespace: &str, name: &str, node: &str) -> Value {
    serde_json::json!({
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {"name": name, "namespace": namespace},
        "target": {"apiVersion": "v1", "kind": "Node", "name": node},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_error_should_classify_statuses() {
        assert!(ClientError::api(Status::not_found("", "pods", "a")).is_not_found());
        assert!(ClientError::api(Status::conflict("", "pods", "a")).is_conflict());
        assert!(!ClientError::api(Status::already_exists("", "pods", "a")).is_conflict());
        assert!(ClientError::api(Status::already_exists("", "pods", "a")).is_already_exists());
        assert!(ClientError::api(Status::expired("too old")).is_expired());
        assert!(!ClientError::Transport("reset".into()).is_expired());
        assert_eq!(binding("d", "p", "n1")["target"]["name"], "n1");
    }
}
