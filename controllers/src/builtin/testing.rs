//! Test helpers shared by the built-in controllers' tests.

use crate::client::Client;
use crate::client::testing::FakeClient;
use mock_k8_schemas::ApiResource;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

/// The served resource of a core `v1` kind (panics in tests only).
pub(crate) fn core(kind: &str) -> &'static ApiResource {
    mock_k8_schemas::resource::by_kind("v1", kind).expect("served")
}

/// A fresh fake client, as `Arc<FakeClient>` and `Arc<dyn Client>`.
pub(crate) fn fake() -> (Arc<FakeClient>, Arc<dyn Client>) {
    let fake = Arc::new(FakeClient::new());
    let client: Arc<dyn Client> = fake.clone();
    (fake, client)
}

/// Polls `cond` every 100 ms of (simulated) time until it holds or `limit` passes; returns whether it held.
pub(crate) async fn eventually(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The stored object `ns/name` of `resource`, if any.
pub(crate) fn stored(
    fake: &FakeClient,
    resource: &'static ApiResource,
    ns: &str,
    name: &str,
) -> Option<Value> {
    fake.objects(resource).into_iter().find(|o| {
        mock_k8_schemas::meta::name(o) == name && mock_k8_schemas::meta::namespace(o) == ns
    })
}

/// The Events stored with `reason`.
pub(crate) fn events_with_reason(fake: &FakeClient, reason: &str) -> Vec<Value> {
    fake.objects(core("Event"))
        .into_iter()
        .filter(|e| e.get("reason").and_then(Value::as_str) == Some(reason))
        .collect()
}
