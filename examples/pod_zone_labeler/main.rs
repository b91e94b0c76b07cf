//! A custom controller: labels every scheduled Pod with its Node's name and zone, so
//! `kubectl get pods -L topology.kubernetes.io/zone` shows where pods run and
//! `kubectl get pods -l topology.kubernetes.io/zone=zone-a` selects them. Changing a Node's zone
//! label relabels the pods on that node. Built only on the public API of `mock_k8_controllers`.
//!
//! Run with:
//!   cargo run --example pod_zone_labeler -- --server http://127.0.0.1:8080
//! then: `kubectl label node <node> topology.kubernetes.io/zone=zone-a` and
//! `kubectl get pods -L topology.kubernetes.io/zone,mock-k8.io/node`.

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Node, Pod};
use mock_k8_controllers::client::{Api, Client, ClientError, RestClient};
use mock_k8_controllers::controller::{Action, Controller, default_error_policy};
use mock_k8_controllers::reflector::{self, ObjectRef, Store};
use mock_k8_controllers::watcher::{self, Event};
use serde_json::{Map, Value, json};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The zone label (well-known Kubernetes label), copied from the Node.
pub const ZONE: &str = "topology.kubernetes.io/zone";
/// The label naming the pod's node.
pub const NODE: &str = "mock-k8.io/node";

/// What every reconcile shares: the API client and a cache of Nodes.
pub struct Ctx {
    client: Arc<dyn Client>,
    nodes: Store<Node>,
}

/// The merge patch of `pod`'s labels that brings them in line with its node (`null` removes a
/// label), or `None` when nothing needs to change or the pod is not scheduled yet.
pub fn label_patch(pod: &Pod, nodes: &Store<Node>) -> Option<Value> {
    let node = pod.spec.as_ref()?.node_name.as_deref()?;
    let zone = nodes
        .get(&ObjectRef::new(node))
        .and_then(|n| n.metadata.labels.as_ref()?.get(ZONE).cloned());
    let have = pod.metadata.labels.clone().unwrap_or_default();
    let mut changes = Map::new();
    for (key, want) in [(NODE, Some(node.to_string())), (ZONE, zone)] {
        if have.get(key) != want.as_ref() {
            changes.insert(key.to_string(), want.map_or(Value::Null, Value::String));
        }
    }
    (!changes.is_empty()).then(|| json!({"metadata": {"labels": changes}}))
}

/// Patches one pod's labels if they are out of date; then waits for the next change.
async fn reconcile(pod: Arc<Pod>, ctx: Arc<Ctx>) -> Result<Action, ClientError> {
    if ctx.nodes.wait_until_ready().await.is_err() {
        return Ok(Action::requeue(Duration::from_secs(5)));
    }
    if let Some(patch) = label_patch(&pod, &ctx.nodes) {
        let (ns, name) = (
            pod.metadata.namespace.as_deref(),
            pod.metadata.name.as_deref(),
        );
        let api = Api::<Pod>::namespaced(ctx.client.clone(), ns.unwrap_or("default"));
        api.patch(name.unwrap_or_default(), None, &patch).await?;
    }
    Ok(Action::await_change())
}

/// Runs the controller until `shutdown` is cancelled: Pods are the primary kind; every change of a
/// Node re-triggers the Pods bound to it (found through the controller's own pod cache).
///
/// # Errors
/// `404 NotFound` when the server does not serve Pods or Nodes.
pub async fn run(client: Arc<dyn Client>, shutdown: CancellationToken) -> Result<(), ClientError> {
    let not_served = |k: &str| ClientError::Decode(format!("{k} not served"));
    let pods_res = Api::<Pod>::all(client.clone())
        .resource()
        .ok_or_else(|| not_served("pods"))?;
    let nodes_res = Api::<Node>::all(client.clone())
        .resource()
        .ok_or_else(|| not_served("nodes"))?;
    let controller = Controller::<Pod>::new(client.clone(), pods_res, watcher::Config::default())
        .graceful_shutdown_on(shutdown);
    let pods = controller.store();
    let (nodes, writer) = reflector::store::<Node>();
    let node_events = watcher::watcher(client.clone(), nodes_res, watcher::Config::default());
    let pods_on_node = reflector::reflector(writer, node_events).flat_map(move |ev| {
        let keys = match ev {
            Ok(Event::Apply(n) | Event::InitApply(n)) => pods
                .by_node_name(n["metadata"]["name"].as_str().unwrap_or_default())
                .iter()
                .map(|p| ObjectRef::from_obj(p.as_ref()))
                .collect(),
            _ => Vec::new(),
        };
        futures::stream::iter(keys)
    });
    let ctx = Arc::new(Ctx { client, nodes });
    controller
        .reconcile_on(pods_on_node)
        .run(reconcile, default_error_policy, ctx)
        .for_each(|res| async move {
            match res {
                Ok((pod, _)) => tracing::debug!(%pod, "reconciled"),
                Err(e) => tracing::warn!(error = %e, "reconcile failed"),
            }
        })
        .await;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt().with_env_filter("info").init();
    let args: Vec<String> = std::env::args().collect();
    let server = match args.iter().position(|a| a == "--server") {
        Some(i) => args.get(i + 1).cloned().ok_or("--server needs a URL")?,
        None => "http://127.0.0.1:8080".to_string(),
    };
    let client: Arc<dyn Client> = RestClient::http(&server)?;
    let shutdown = CancellationToken::new();
    let on_signal = shutdown.clone();
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        on_signal.cancel();
    });
    tracing::info!(%server, "pod_zone_labeler running; Ctrl-C to stop");
    run(client, shutdown).await?;
    Ok(())
}

#[cfg(test)]
mod test;
