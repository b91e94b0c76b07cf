//! [`RestClient`]: the [`Client`] verbs as Kubernetes REST requests over a [`Transport`].
//!
//! Paths follow the Kubernetes API conventions ("API Concepts"): the collection
//! (`/api/v1/namespaces/{ns}/pods`), the object (`…/pods/{name}`) and its subresources
//! (`…/pods/{name}/status`, `…/binding`). Query parameters are form-encoded; bodies are JSON; merge
//! patches are sent as `application/merge-patch+json`; DELETE carries a `DeleteOptions` body. Error
//! answers carry a `Status` body, returned as [`ClientError::Api`]. A watch is a chunked stream of
//! newline-delimited `{"type","object"}` events, decoded by [`super::ndjson`].

use super::ndjson::decode_watch;
use super::transport::{ByteStream, Streaming, Transport};
use super::{Client, ClientError, DeleteParams, ListParams, ObjectList, WatchParams, WatchStream};
use bytes::Bytes;
use futures::future::BoxFuture;
use futures::{StreamExt, TryStreamExt};
use http::{Method, StatusCode, header};
use mock_k8_schemas::{ApiResource, Status, meta};
use serde_json::{Value, json};
use std::sync::Arc;

/// A [`Client`] that sends Kubernetes REST requests through a [`Transport`]: over HTTP with
/// [`super::HyperTransport`], or in-process with the root package's `RouterTransport`. Both give
/// the server's exact semantics. Cheap to clone.
///
/// # Caveats
/// A watch without `resourceVersion` starts "from now" as [`Client::watch`] requires: the stream
/// first asks the server for its current revision (a one-item list), then watches from it. Like
/// every stream here it is lazy, so "now" is when the stream is first polled, not when `watch` was
/// called; pass the `resourceVersion` of a list to leave no gap.
#[derive(Clone)]
pub struct RestClient {
    transport: Arc<dyn Transport>,
}

impl std::fmt::Debug for RestClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RestClient").finish_non_exhaustive()
    }
}

/// The content type of JSON request bodies.
const JSON: Option<&str> = Some("application/json");

/// Appends `?k=v&…` (form-encoded) to `path`; pairs with `None` values are skipped.
fn with_query(path: String, pairs: &[(&str, Option<String>)]) -> String {
    let mut ser = form_urlencoded::Serializer::new(String::new());
    let mut any = false;
    for (k, v) in pairs {
        if let Some(v) = v {
            ser.append_pair(k, v);
            any = true;
        }
    }
    if any {
        format!("{path}?{}", ser.finish())
    } else {
        path
    }
}

/// Percent-encodes one path segment (object names are DNS labels, but be safe).
fn segment(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

/// The `Status` a non-2xx answer stands for: its body when it is one, else one built from the
/// HTTP status code and the body text.
fn error_from(code: StatusCode, body: &[u8]) -> ClientError {
    if let Ok(v) = serde_json::from_slice::<Value>(body)
        && v.get("kind").and_then(Value::as_str) == Some("Status")
    {
        if let Ok(s) = serde_json::from_value::<Status>(v.clone()) {
            return ClientError::api(s);
        }
        return ClientError::from_status_json(&v);
    }
    let reason = code
        .canonical_reason()
        .unwrap_or("Unknown")
        .replace(' ', "");
    ClientError::api(Status::new(
        code.as_u16(),
        &reason,
        String::from_utf8_lossy(body).into_owned(),
    ))
}

/// The whole of a body stream.
async fn collect(body: ByteStream) -> Result<Vec<u8>, ClientError> {
    let chunks: Vec<Bytes> = body
        .try_collect()
        .await
        .map_err(|e| ClientError::Transport(e.0))?;
    Ok(chunks.concat())
}

/// The `DeleteOptions` body of a DELETE (Kubernetes `meta/v1.DeleteOptions`). Dependents are
/// deleted in the background, as `kubectl delete` does.
fn delete_options(p: &DeleteParams) -> Value {
    let mut body = json!({
        "apiVersion": "v1",
        "kind": "DeleteOptions",
    });
    if let Some(policy) = &p.propagation_policy {
        body["propagationPolicy"] = json!(policy);
    }
    if let Some(g) = p.grace_period_seconds {
        body["gracePeriodSeconds"] = json!(g);
    }
    let mut pre = serde_json::Map::new();
    if let Some(rv) = &p.precondition_resource_version {
        pre.insert("resourceVersion".into(), json!(rv));
    }
    if let Some(uid) = &p.precondition_uid {
        pre.insert("uid".into(), json!(uid));
    }
    if !pre.is_empty() {
        body["preconditions"] = Value::Object(pre);
    }
    body
}

impl RestClient {
    /// A client over `transport`.
    pub fn new(transport: impl Transport) -> Self {
        RestClient {
            transport: Arc::new(transport),
        }
    }

    /// A client to the `http://` server at `base` (e.g. `http://127.0.0.1:8080`), over a
    /// [`super::HyperTransport`] with its default timeout, as an `Arc<dyn Client>`.
    ///
    /// # Errors
    /// [`ClientError::Transport`] when `base` is not a valid `http://` URL.
    pub fn http(base: &str) -> Result<Arc<dyn Client>, ClientError> {
        let t = super::HyperTransport::new(base).map_err(|e| ClientError::Transport(e.0))?;
        Ok(Arc::new(RestClient::new(t)))
    }

    /// The path of one object, optionally of its subresource.
    fn object_path(
        r: &ApiResource,
        namespace: Option<&str>,
        name: &str,
        sub: Option<&str>,
    ) -> Result<String, ClientError> {
        if r.namespaced && namespace.is_none() {
            return Err(ClientError::api(Status::bad_request(format!(
                "a namespace is required to address {} {name:?}",
                r.plural
            ))));
        }
        let mut p = format!("{}/{}", r.collection_path(namespace), segment(name));
        if let Some(s) = sub {
            p.push('/');
            p.push_str(&segment(s));
        }
        Ok(p)
    }

    /// Builds a request (`Accept: application/json`, and `content_type` when given), marks it
    /// [`Streaming`] when `streaming`, sends it, and returns the answer's status and body stream.
    async fn send(
        &self,
        method: Method,
        uri: String,
        content_type: Option<&'static str>,
        body: Option<Value>,
        streaming: bool,
    ) -> Result<(StatusCode, ByteStream), ClientError> {
        let mut req = http::Request::builder()
            .method(method)
            .uri(uri)
            .header(header::ACCEPT, "application/json");
        if let Some(ct) = content_type {
            req = req.header(header::CONTENT_TYPE, ct);
        }
        let body = body.map_or_else(Bytes::new, |b| Bytes::from(b.to_string()));
        let mut req = req
            .body(body)
            .map_err(|e| ClientError::Transport(format!("building request: {e}")))?;
        if streaming {
            req.extensions_mut().insert(Streaming);
        }
        let resp = self
            .transport
            .send(req)
            .await
            .map_err(|e| ClientError::Transport(e.0))?;
        Ok((resp.status(), resp.into_body()))
    }

    /// Sends a request; returns the 2xx body as JSON, or the error it stands for.
    async fn call(
        &self,
        method: Method,
        uri: String,
        content_type: Option<&'static str>,
        body: Option<Value>,
    ) -> Result<Value, ClientError> {
        let (code, body) = self.send(method, uri, content_type, body, false).await?;
        let bytes = collect(body).await?;
        if !code.is_success() {
            return Err(error_from(code, &bytes));
        }
        serde_json::from_slice(&bytes)
            .map_err(|e| ClientError::Decode(format!("{e} in answer of {code}")))
    }

    /// The current resourceVersion of the store (a one-item list), for a watch "from now".
    async fn current_revision(&self, r: &'static ApiResource) -> Result<String, ClientError> {
        let uri = with_query(r.collection_path(None), &[("limit", Some("1".into()))]);
        let list = self.call(Method::GET, uri, None, None).await?;
        meta::str_field(&list, "resourceVersion")
            .map(str::to_string)
            .ok_or_else(|| ClientError::Decode("list without metadata.resourceVersion".into()))
    }

    /// Opens a watch from `rv` (`None`: the server's own default, a synthetic listing).
    async fn open_watch(
        &self,
        r: &'static ApiResource,
        namespace: Option<String>,
        params: WatchParams,
    ) -> Result<WatchStream, ClientError> {
        let rv = match params.resource_version.filter(|v| !v.is_empty()) {
            Some(v) => v,
            None => self.current_revision(r).await?,
        };
        let uri = with_query(
            r.collection_path(namespace.as_deref()),
            &[
                ("watch", Some("true".into())),
                ("resourceVersion", Some(rv)),
                ("labelSelector", params.label_selector),
                ("fieldSelector", params.field_selector),
                (
                    "allowWatchBookmarks",
                    params.allow_bookmarks.then(|| "true".into()),
                ),
                (
                    "timeoutSeconds",
                    params.timeout_seconds.map(|s| s.to_string()),
                ),
            ],
        );
        let (code, body) = self.send(Method::GET, uri, None, None, true).await?;
        if !code.is_success() {
            return Err(error_from(code, &collect(body).await?));
        }
        Ok(decode_watch(body))
    }
}

impl Client for RestClient {
    fn get<'a>(
        &'a self,
        resource: &'static ApiResource,
        namespace: Option<&'a str>,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Value, ClientError>> {
        Box::pin(async move {
            let uri = Self::object_path(resource, namespace, name, None)?;
            self.call(Method::GET, uri, None, None).await
        })
    }

    fn list<'a>(
        &'a self,
        resource: &'static ApiResource,
        namespace: Option<&'a str>,
        params: &'a ListParams,
    ) -> BoxFuture<'a, Result<ObjectList, ClientError>> {
        Box::pin(async move {
            let uri = with_query(
                resource.collection_path(namespace),
                &[
                    ("labelSelector", params.label_selector.clone()),
                    ("fieldSelector", params.field_selector.clone()),
                ],
            );
            let mut list = self.call(Method::GET, uri, None, None).await?;
            let resource_version = meta::str_field(&list, "resourceVersion")
                .ok_or_else(|| ClientError::Decode("list without metadata.resourceVersion".into()))?
                .to_string();
            let items = match list.get_mut("items").map(Value::take) {
                Some(Value::Array(items)) => items,
                Some(Value::Null) | None => Vec::new(),
                Some(other) => {
                    return Err(ClientError::Decode(format!("list items: {other}")));
                }
            };
            Ok(ObjectList {
                items,
                resource_version,
            })
        })
    }

    fn watch(
        &self,
        resource: &'static ApiResource,
        namespace: Option<&str>,
        params: &WatchParams,
    ) -> WatchStream {
        let this = self.clone();
        let namespace = namespace.map(str::to_string);
        let params = params.clone();
        futures::stream::once(async move { this.open_watch(resource, namespace, params).await })
            .flat_map(|opened| match opened {
                Ok(stream) => stream,
                Err(e) => futures::stream::once(async move { Err(e) }).boxed(),
            })
            .boxed()
    }

    fn create<'a>(
        &'a self,
        resource: &'static ApiResource,
        namespace: Option<&'a str>,
        object: Value,
    ) -> BoxFuture<'a, Result<Value, ClientError>> {
        Box::pin(async move {
            if resource.namespaced && namespace.is_none() {
                return Err(ClientError::api(Status::bad_request(format!(
                    "a namespace is required to create {}",
                    resource.plural
                ))));
            }
            let uri = resource.collection_path(namespace);
            self.call(Method::POST, uri, JSON, Some(object)).await
        })
    }

    fn replace<'a>(
        &'a self,
        resource: &'static ApiResource,
        namespace: Option<&'a str>,
        name: &'a str,
        object: Value,
    ) -> BoxFuture<'a, Result<Value, ClientError>> {
        Box::pin(async move {
            let uri = Self::object_path(resource, namespace, name, None)?;
            self.call(Method::PUT, uri, JSON, Some(object)).await
        })
    }

    fn replace_status<'a>(
        &'a self,
        resource: &'static ApiResource,
        namespace: Option<&'a str>,
        name: &'a str,
        object: Value,
    ) -> BoxFuture<'a, Result<Value, ClientError>> {
        Box::pin(async move {
            let uri = Self::object_path(resource, namespace, name, Some("status"))?;
            self.call(Method::PUT, uri, JSON, Some(object)).await
        })
    }

    fn patch<'a>(
        &'a self,
        resource: &'static ApiResource,
        namespace: Option<&'a str>,
        name: &'a str,
        subresource: Option<&'a str>,
        patch: Value,
    ) -> BoxFuture<'a, Result<Value, ClientError>> {
        Box::pin(async move {
            let uri = Self::object_path(resource, namespace, name, subresource)?;
            let ct = Some("application/merge-patch+json");
            self.call(Method::PATCH, uri, ct, Some(patch)).await
        })
    }

    fn delete<'a>(
        &'a self,
        resource: &'static ApiResource,
        namespace: Option<&'a str>,
        name: &'a str,
        params: &'a DeleteParams,
    ) -> BoxFuture<'a, Result<Value, ClientError>> {
        Box::pin(async move {
            let uri = Self::object_path(resource, namespace, name, None)?;
            self.call(Method::DELETE, uri, JSON, Some(delete_options(params)))
                .await
        })
    }

    fn create_subresource<'a>(
        &'a self,
        resource: &'static ApiResource,
        namespace: Option<&'a str>,
        name: &'a str,
        subresource: &'a str,
        body: Value,
    ) -> BoxFuture<'a, Result<Value, ClientError>> {
        Box::pin(async move {
            let uri = Self::object_path(resource, namespace, name, Some(subresource))?;
            self.call(Method::POST, uri, JSON, Some(body)).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn with_query_should_form_encode_selectors() {
        let q = with_query(
            "/api/v1/pods".into(),
            &[
                ("labelSelector", Some("app=web,tier in (a,b)".into())),
                ("fieldSelector", None),
            ],
        );
        assert_eq!(
            q,
            "/api/v1/pods?labelSelector=app%3Dweb%2Ctier+in+%28a%2Cb%29"
        );
        assert_eq!(
            with_query("/api/v1/pods".into(), &[("x", None)]),
            "/api/v1/pods"
        );
    }

    #[test]
    fn delete_options_should_carry_grace_and_preconditions() {
        let body = delete_options(&DeleteParams {
            grace_period_seconds: Some(0),
            precondition_resource_version: Some("7".into()),
            precondition_uid: None,
            propagation_policy: Some("Foreground".into()),
        });
        assert_eq!(body["gracePeriodSeconds"], 0);
        assert_eq!(body["propagationPolicy"], "Foreground");
        assert_eq!(body["preconditions"], json!({"resourceVersion": "7"}));
        assert!(
            delete_options(&DeleteParams::default())
                .get("preconditions")
                .is_none()
        );
    }

    #[test]
    fn error_from_should_keep_status_bodies_and_wrap_others() {
        let st = Status::conflict("", "pods", "a");
        let e = error_from(StatusCode::CONFLICT, st.to_json().to_string().as_bytes());
        assert!(e.is_conflict());
        assert_eq!(e.status().map(|s| s.message.clone()), Some(st.message));
        let e = error_from(StatusCode::BAD_GATEWAY, b"upstream down");
        let s = e.status().expect("api error");
        assert_eq!((s.code, s.reason.as_str()), (502, "BadGateway"));
        assert_eq!(s.message, "upstream down");
    }

    #[test]
    fn object_path_should_require_a_namespace_for_namespaced_kinds() {
        let pods = mock_k8_schemas::resource::by_kind("v1", "Pod").expect("pods");
        assert_eq!(
            RestClient::object_path(pods, Some("d"), "p", Some("binding")).expect("path"),
            "/api/v1/namespaces/d/pods/p/binding"
        );
        let e = RestClient::object_path(pods, None, "p", None).expect_err("no ns");
        assert_eq!(e.status().map(|s| s.code), Some(400));
    }
}
