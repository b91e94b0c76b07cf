//! [`Api<K>`]: typed access to one kind in one namespace (or all), over any [`Client`].

use super::{Client, ClientError, DeleteParams, ListParams, ObjectList, WatchParams};
use futures::StreamExt;
use futures::stream::BoxStream;
use mock_k8_schemas::watch::{EventType, WatchEvent};
use mock_k8_schemas::{ApiResource, Status};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::marker::PhantomData;
use std::sync::Arc;

/// Typed access to kind `K` (a k8s-openapi type such as `Pod`), in one namespace or across all.
///
/// The served resource is found with [`mock_k8_schemas::resource::by_kind`] from `K::API_VERSION`
/// and `K::KIND`. Objects are (de)serialized with serde at this boundary; the [`Client`] underneath
/// speaks `serde_json::Value`.
///
/// # Errors
/// Every call returns the [`ClientError`] of the underlying verb; a kind mock_k8 does not serve
/// fails every call with `404 NotFound` ("the server could not find the requested resource", as
/// Kubernetes answers for unknown resources); an answer that does not decode into `K` is
/// [`ClientError::Decode`].
pub struct Api<K> {
    client: Arc<dyn Client>,
    resource: Option<&'static ApiResource>,
    namespace: Option<String>,
    _kind: PhantomData<fn() -> K>,
}

impl<K> Clone for Api<K> {
    fn clone(&self) -> Self {
        Api {
            client: self.client.clone(),
            resource: self.resource,
            namespace: self.namespace.clone(),
            _kind: PhantomData,
        }
    }
}

impl<K> std::fmt::Debug for Api<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api")
            .field("resource", &self.resource.map(|r| r.plural))
            .field("namespace", &self.namespace)
            .finish()
    }
}

fn decode<K: DeserializeOwned>(v: Value) -> Result<K, ClientError> {
    serde_json::from_value(v).map_err(|e| ClientError::Decode(e.to_string()))
}

fn encode<K: Serialize>(k: &K) -> Result<Value, ClientError> {
    serde_json::to_value(k).map_err(|e| ClientError::Decode(e.to_string()))
}

impl<K> Api<K>
where
    K: k8s_openapi::Resource + Serialize + DeserializeOwned + Send + 'static,
{
    /// Access to `K` in namespace `ns` (for cluster-scoped kinds the namespace is ignored).
    pub fn namespaced(client: Arc<dyn Client>, ns: &str) -> Self {
        let resource = mock_k8_schemas::resource::by_kind(K::API_VERSION, K::KIND);
        let namespace = resource.filter(|r| r.namespaced).map(|_| ns.to_string());
        Api {
            client,
            resource,
            namespace,
            _kind: PhantomData,
        }
    }

    /// Access to `K` across all namespaces (list/watch), or to a cluster-scoped kind.
    pub fn all(client: Arc<dyn Client>) -> Self {
        Api {
            client,
            resource: mock_k8_schemas::resource::by_kind(K::API_VERSION, K::KIND),
            namespace: None,
            _kind: PhantomData,
        }
    }

    /// The served resource, or `None` when mock_k8 does not serve `K`.
    pub fn resource(&self) -> Option<&'static ApiResource> {
        self.resource
    }

    /// The namespace this `Api` is scoped to (`None`: all namespaces or cluster-scoped).
    pub fn namespace(&self) -> Option<&str> {
        self.namespace.as_deref()
    }

    /// The underlying untyped client.
    pub fn client(&self) -> &Arc<dyn Client> {
        &self.client
    }

    fn res(&self) -> Result<&'static ApiResource, ClientError> {
        self.resource.ok_or_else(|| {
            ClientError::api(Status::new(
                404,
                "NotFound",
                format!(
                    "the server could not find the requested resource ({} {})",
                    K::API_VERSION,
                    K::KIND
                ),
            ))
        })
    }

    /// Reads object `name`. Errors: `404 NotFound`.
    pub async fn get(&self, name: &str) -> Result<K, ClientError> {
        decode(self.client.get(self.res()?, self.namespace(), name).await?)
    }

    /// Reads object `name`, or `None` when it does not exist.
    pub async fn get_opt(&self, name: &str) -> Result<Option<K>, ClientError> {
        match self.get(name).await {
            Ok(k) => Ok(Some(k)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Lists objects matching `params`, with the list's resourceVersion.
    pub async fn list(&self, params: &ListParams) -> Result<ObjectList<K>, ClientError> {
        let list = self
            .client
            .list(self.res()?, self.namespace(), params)
            .await?;
        let items = list
            .items
            .into_iter()
            .map(decode)
            .collect::<Result<Vec<K>, _>>()?;
        Ok(ObjectList {
            items,
            resource_version: list.resource_version,
        })
    }

    /// Creates `obj`; returns it as stored. Errors: `409 AlreadyExists`, `422 Invalid`.
    pub async fn create(&self, obj: &K) -> Result<K, ClientError> {
        decode(
            self.client
                .create(self.res()?, self.namespace(), encode(obj)?)
                .await?,
        )
    }

    /// Replaces object `name` with `obj` (its resourceVersion, if set, is a precondition).
    /// Errors: `404 NotFound`, `409 Conflict`.
    pub async fn replace(&self, name: &str, obj: &K) -> Result<K, ClientError> {
        decode(
            self.client
                .replace(self.res()?, self.namespace(), name, encode(obj)?)
                .await?,
        )
    }

    /// Replaces only the `status` of object `name`. Errors: `404 NotFound`, `409 Conflict`.
    pub async fn replace_status(&self, name: &str, obj: &K) -> Result<K, ClientError> {
        decode(
            self.client
                .replace_status(self.res()?, self.namespace(), name, encode(obj)?)
                .await?,
        )
    }

    /// Applies a JSON merge patch to object `name`, or to its `status` when `subresource` is
    /// `Some("status")`. Errors: `404 NotFound`, `409 Conflict`, `422 Invalid`.
    pub async fn patch(
        &self,
        name: &str,
        subresource: Option<&str>,
        patch: &Value,
    ) -> Result<K, ClientError> {
        decode(
            self.client
                .patch(
                    self.res()?,
                    self.namespace(),
                    name,
                    subresource,
                    patch.clone(),
                )
                .await?,
        )
    }

    /// Merge-patches the `status` of object `name` (shorthand for `patch(name, Some("status"), ..)`).
    pub async fn patch_status(&self, name: &str, patch: &Value) -> Result<K, ClientError> {
        self.patch(name, Some("status"), patch).await
    }

    /// Deletes object `name`; returns the body the server answered (the object, possibly still
    /// present with `deletionTimestamp` set). Errors: `404 NotFound`, `409 Conflict`.
    pub async fn delete(&self, name: &str, params: &DeleteParams) -> Result<Value, ClientError> {
        self.client
            .delete(self.res()?, self.namespace(), name, params)
            .await
    }

    /// Watches changes after `params.resource_version`, decoding each object into `K`. `ERROR`
    /// events become `Err(ClientError::Api(status))` items; bookmarks decode into `K` with only
    /// `metadata.resourceVersion` set.
    pub fn watch(
        &self,
        params: &WatchParams,
    ) -> BoxStream<'static, Result<WatchEvent<K>, ClientError>> {
        let resource = match self.res() {
            Ok(r) => r,
            Err(e) => return futures::stream::once(async move { Err(e) }).boxed(),
        };
        self.client
            .watch(resource, self.namespace(), params)
            .map(|item| {
                let ev = item?;
                if ev.event_type == EventType::Error {
                    return Err(ClientError::from_status_json(&ev.object));
                }
                Ok(WatchEvent {
                    event_type: ev.event_type,
                    object: decode(ev.object)?,
                })
            })
            .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::testing::FakeClient;
    use k8s_openapi::api::core::v1::Pod;

    #[tokio::test]
    async fn api_should_round_trip_typed_objects() {
        let client: Arc<dyn Client> = Arc::new(FakeClient::new());
        let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
        let mut pod = Pod::default();
        pod.metadata.name = Some("web".into());
        let created = pods.create(&pod).await.expect("create");
        assert_eq!(created.metadata.namespace.as_deref(), Some("default"));
        assert!(created.metadata.resource_version.is_some());
        assert_eq!(
            pods.list(&ListParams::default())
                .await
                .expect("list")
                .items
                .len(),
            1
        );
        assert!(pods.get_opt("nope").await.expect("get_opt").is_none());
        let err = pods.create(&pod).await.expect_err("duplicate");
        assert!(err.is_already_exists());
        let all: Api<Pod> = Api::all(client);
        assert_eq!(
            all.list(&ListParams::default())
                .await
                .expect("list")
                .items
                .len(),
            1
        );
    }
}
