//! [`NodeLifecycleController`]: Kubernetes' node lifecycle controller and taint-based evictions on
//! mock_k8's runtime, driven by the pure decisions of [`crate::nodehealth`].
//!
//! # Guarantees
//! - Every node is evaluated every [`NodeLifecycleConfig::node_monitor_period`] (5 s) and whenever its
//!   Lease (namespace [`NodeLifecycleConfig::lease_namespace`]) changes, with [`evaluate_node`] and grace
//!   [`NodeLifecycleConfig::node_monitor_grace_period`] (40 s). A node that never heartbeated counts from
//!   its `creationTimestamp`, so a Node posted without an agent turns `Ready=Unknown` after the grace.
//! - A stale node gets [`unknown_node_conditions`] (written with `replace_status`, a `NodeNotReady` Event),
//!   its pods get `Ready=False` ([`pod_ready_condition_for_unknown_node`], a `NodeNotReady` Event each).
//! - Taints follow [`desired_taints`] (`node.kubernetes.io/unreachable` or `not-ready`, `NoSchedule` and
//!   `NoExecute`), written with a merge patch of `spec.taints` carrying the resourceVersion precondition;
//!   when the node is healthy again (a renewed Lease and `Ready=True`) they are removed. A node that has
//!   not yet reported `Ready` and is within its grace period is left alone.
//! - Pods on a node with `NoExecute` taints are deleted when [`eviction_deadline`] says so — computed on the
//!   pod's tolerations completed by [`default_tolerations`] (the `DefaultTolerationSeconds` admission
//!   plugin, idempotent when admission already added them) — with a `TaintManagerEviction` Event
//!   ("Marking for deletion Pod ns/name"); the node is requeued at the next deadline.
//! - A pod change on a tainted node re-evaluates that node (a pod bound there late is evicted too).
//! - Events are reported by component `node-controller`.

use super::{Clock, Error, drain, namespace_and_name, resource};
use crate::client::{Client, ClientError, DeleteParams};
use crate::controller::{self, Action, Controller, ResultHook};
use crate::events::{EventSpec, Recorder, Regarding, Reporter};
use crate::informer::{Informers, ScopedInformers};
use crate::nodehealth::{
    ConditionStatus, Eviction, TAINT_NOT_READY, TAINT_UNREACHABLE, default_tolerations,
    desired_taints, evaluate_node, eviction_deadline, node_condition,
    pod_ready_condition_for_unknown_node, unknown_node_conditions,
};
use crate::reflector::{self, ObjectRef, Store};
use crate::watcher;
use futures::StreamExt;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::jiff::Timestamp;
use mock_k8_schemas::{ApiResource, meta};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The reporting component of this controller's Events (Kubernetes' `node-controller`).
pub const NODE_CONTROLLER: &str = "node-controller";

/// Settings of the [`NodeLifecycleController`].
#[derive(Debug, Clone)]
pub struct NodeLifecycleConfig {
    /// How often every node is evaluated (`--node-monitor-period`, default 5 s).
    pub node_monitor_period: Duration,
    /// How long a node may go without a heartbeat before it turns `Ready=Unknown`
    /// (`--node-monitor-grace-period`, default 40 s).
    pub node_monitor_grace_period: Duration,
    /// `tolerationSeconds` of the default `node.kubernetes.io/not-ready` toleration
    /// (`--default-not-ready-toleration-seconds`, default 300).
    pub default_not_ready_toleration_seconds: u64,
    /// `tolerationSeconds` of the default `node.kubernetes.io/unreachable` toleration
    /// (`--default-unreachable-toleration-seconds`, default 300).
    pub default_unreachable_toleration_seconds: u64,
    /// Where node Leases live (default `kube-node-lease`).
    pub lease_namespace: String,
    /// Concurrency, queue capacity and error backoff of the node controller.
    pub controller: controller::Config,
}

impl Default for NodeLifecycleConfig {
    fn default() -> Self {
        NodeLifecycleConfig {
            node_monitor_period: Duration::from_secs(5),
            node_monitor_grace_period: crate::nodehealth::DEFAULT_NODE_MONITOR_GRACE_PERIOD,
            default_not_ready_toleration_seconds: crate::nodehealth::DEFAULT_TOLERATION_SECONDS,
            default_unreachable_toleration_seconds: crate::nodehealth::DEFAULT_TOLERATION_SECONDS,
            lease_namespace: "kube-node-lease".into(),
            controller: controller::Config::default(),
        }
    }
}

/// What every reconcile shares.
struct Ctx {
    client: Arc<dyn Client>,
    nodes: &'static ApiResource,
    pods: &'static ApiResource,
    leases: Store<Lease>,
    pod_store: Store<Pod>,
    config: NodeLifecycleConfig,
    clock: Clock,
    recorder: Recorder,
}

/// The node lifecycle controller.
pub struct NodeLifecycleController {
    client: Arc<dyn Client>,
    config: NodeLifecycleConfig,
    clock: Clock,
    informers: Option<Informers>,
}

/// `true` when the node carries a taint this controller manages.
fn has_health_taint(node: &Node) -> bool {
    node.spec
        .as_ref()
        .and_then(|s| s.taints.as_ref())
        .is_some_and(|ts| {
            ts.iter()
                .any(|t| t.key == TAINT_UNREACHABLE || t.key == TAINT_NOT_READY)
        })
}

impl NodeLifecycleController {
    /// A controller with `config`, reading time from a new [`Clock`].
    pub fn new(client: Arc<dyn Client>, config: NodeLifecycleConfig) -> Self {
        NodeLifecycleController {
            client,
            config,
            clock: Clock::new(),
            informers: None,
        }
    }

    /// Reads nodes and pods from `informers` (shared with the other controllers of the process)
    /// instead of watching them itself.
    pub fn with_informers(mut self, informers: Informers) -> Self {
        self.informers = Some(informers);
        self
    }

    /// The same controller reading time from `clock` (tests share one with the code renewing Leases).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Watches Nodes, Leases and Pods until `shutdown` is cancelled (running reconciles finish first).
    /// Every reconcile result passes through `hook`.
    ///
    /// # Errors
    /// [`Error::ResourceNotServed`] when a needed kind is not in the resource table.
    pub async fn run(
        self,
        hook: Arc<dyn ResultHook>,
        shutdown: CancellationToken,
    ) -> Result<(), Error> {
        let nodes = resource("v1", "Node")?;
        let pods = resource("v1", "Pod")?;
        let leases = resource("coordination.k8s.io/v1", "Lease")?;

        let informers = ScopedInformers::new(self.informers, self.client.clone(), shutdown.clone());
        let node_informer = informers.get().nodes()?;
        let pod_informer = informers.get().pods()?;
        let controller = Controller::<Node>::for_shared(self.client.clone(), &node_informer);
        let node_store = controller.store();
        let (lease_store, lease_writer) = reflector::store::<Lease>();
        let lease_triggers = reflector::reflector(
            lease_writer,
            watcher::watcher(
                self.client.clone(),
                leases,
                watcher::Config::default().namespace(&self.config.lease_namespace),
            ),
        )
        .filter_map(|ev| async move {
            match ev {
                Ok(ev) => ev.object().map(|l| ObjectRef::new(meta::name(l))),
                Err(e) => {
                    tracing::debug!(error = %e, "node lifecycle: lease watch error (retrying)");
                    None
                }
            }
        });
        let pod_store = pod_informer.store();
        let pod_triggers = pod_informer.subscribe().filter_map(move |ev| {
            let node = ev.object().and_then(|pod| {
                let name = pod.spec.as_ref()?.node_name.as_deref()?;
                let key = ObjectRef::new(name);
                node_store
                    .get(&key)
                    .is_some_and(|n| has_health_taint(&n))
                    .then_some(key)
            });
            async move { node }
        });
        let ctx = Arc::new(Ctx {
            client: self.client.clone(),
            nodes,
            pods,
            leases: lease_store,
            pod_store,
            recorder: Recorder::new(
                self.client.clone(),
                Reporter {
                    component: NODE_CONTROLLER.into(),
                    instance: None,
                },
            ),
            config: self.config.clone(),
            clock: self.clock,
        });
        let controller = controller
            .with_config(self.config.controller)
            .with_result_hook(hook)
            .graceful_shutdown_on(shutdown.clone())
            .reconcile_on(futures::stream::select(lease_triggers, pod_triggers));
        drain(
            "node-lifecycle",
            controller.run(reconcile, controller::default_error_policy, ctx),
        )
        .await;
        shutdown.cancelled().await;
        informers.finish().await;
        Ok(())
    }
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<serde_json::Value, ClientError> {
    serde_json::to_value(v).map_err(|e| ClientError::Decode(e.to_string()))
}

fn from_json<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> Result<T, ClientError> {
    serde_json::from_value(v).map_err(|e| ClientError::Decode(e.to_string()))
}

async fn publish<K>(ctx: &Ctx, obj: &K, ev: EventSpec)
where
    K: k8s_openapi::Resource
        + k8s_openapi::Metadata<Ty = k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta>,
{
    if let Err(e) = ctx.recorder.publish(&Regarding::from_obj(obj), &ev).await {
        tracing::debug!(error = %e, reason = %ev.reason, "event not recorded");
    }
}

async fn reconcile(node: Arc<Node>, ctx: Arc<Ctx>) -> Result<Action, ClientError> {
    if ctx.leases.wait_until_ready().await.is_err()
        || ctx.pod_store.wait_until_ready().await.is_err()
    {
        return Ok(Action::await_change()); // shutting down
    }
    let name = node.metadata.name.clone().unwrap_or_default();
    let now = ctx.clock.now();
    let lease = ctx
        .leases
        .get(&ObjectRef::new(&name).within(&ctx.config.lease_namespace));
    let health = evaluate_node(
        &node,
        lease.as_deref(),
        now,
        ctx.config.node_monitor_grace_period,
    );
    let mut node = node.as_ref().clone();

    if health.stale
        && let Some(conditions) = unknown_node_conditions(&node, now)
    {
        node.status.get_or_insert_with(Default::default).conditions = Some(conditions);
        let written = ctx
            .client
            .replace_status(ctx.nodes, None, &name, to_json(&node)?)
            .await?;
        node = from_json(written)?;
        let msg = format!("Node {name} status is now: NodeNotReady");
        publish(&ctx, &node, EventSpec::normal("NodeNotReady", msg)).await;
    }
    let reported = node_condition(&node, "Ready").is_some();
    if health.stale || (reported && health.ready != ConditionStatus::True) {
        mark_pods_not_ready(&ctx, &name, now).await?;
    }
    if health.stale || reported {
        let desired = desired_taints(&node, &health, now);
        let current = node
            .spec
            .as_ref()
            .and_then(|s| s.taints.clone())
            .unwrap_or_default();
        if desired != current {
            let patch = json!({
                "metadata": {"resourceVersion": node.metadata.resource_version},
                "spec": {"taints": desired},
            });
            let written = ctx
                .client
                .patch(ctx.nodes, None, &name, None, patch)
                .await?;
            node = from_json(written)?;
        }
    }
    let next = evict(&ctx, &node, &name, now).await?;
    let period = ctx.config.node_monitor_period;
    Ok(Action::requeue(next.map_or(period, |d| d.min(period))))
}

/// Writes `Ready=False` on the pods of node `name` that are still ready.
async fn mark_pods_not_ready(ctx: &Ctx, name: &str, now: Timestamp) -> Result<(), ClientError> {
    for pod in ctx.pod_store.by_node_name(name) {
        let Some(ready) = pod_ready_condition_for_unknown_node(&pod, now) else {
            continue;
        };
        let mut pod = pod.as_ref().clone();
        if let Some(c) = pod
            .status
            .as_mut()
            .and_then(|s| s.conditions.as_mut())
            .and_then(|cs| cs.iter_mut().find(|c| c.type_ == "Ready"))
        {
            *c = ready;
        }
        let (ns, pod_name) = namespace_and_name(&pod.metadata);
        match ctx
            .client
            .replace_status(ctx.pods, Some(&ns), &pod_name, to_json(&pod)?)
            .await
        {
            Ok(_) => {
                publish(
                    ctx,
                    &pod,
                    EventSpec::warning("NodeNotReady", "Node is not ready"),
                )
                .await
            }
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Deletes the pods of `node` whose tolerations ran out; returns the delay until the next deadline.
async fn evict(
    ctx: &Ctx,
    node: &Node,
    name: &str,
    now: Timestamp,
) -> Result<Option<Duration>, ClientError> {
    let taints = node
        .spec
        .as_ref()
        .and_then(|s| s.taints.clone())
        .unwrap_or_default();
    if !taints.iter().any(|t| t.effect == "NoExecute") {
        return Ok(None);
    }
    let mut next: Option<Duration> = None;
    for pod in ctx.pod_store.by_node_name(name) {
        if pod.metadata.deletion_timestamp.is_some() || crate::endpoints::is_pod_terminal(&pod) {
            continue;
        }
        let mut effective = pod.as_ref().clone();
        let tolerations = default_tolerations(
            &effective,
            ctx.config.default_not_ready_toleration_seconds,
            ctx.config.default_unreachable_toleration_seconds,
        );
        if let Some(spec) = effective.spec.as_mut() {
            spec.tolerations = Some(tolerations);
        }
        match eviction_deadline(&effective, &taints, now) {
            Eviction::Never => {}
            Eviction::At(at) => {
                let wait = Duration::try_from(at.duration_since(now)).unwrap_or(Duration::ZERO);
                next = Some(next.map_or(wait, |n| n.min(wait)));
            }
            Eviction::Now => {
                let (ns, pod_name) = namespace_and_name(&pod.metadata);
                let params = DeleteParams {
                    precondition_uid: pod.metadata.uid.clone(),
                    ..DeleteParams::default()
                };
                match ctx
                    .client
                    .delete(ctx.pods, Some(&ns), &pod_name, &params)
                    .await
                {
                    Ok(_) => {
                        let msg = format!("Marking for deletion Pod {ns}/{pod_name}");
                        publish(
                            ctx,
                            pod.as_ref(),
                            EventSpec::normal("TaintManagerEviction", msg),
                        )
                        .await;
                    }
                    Err(e) if e.is_not_found() || e.is_conflict() => {}
                    Err(e) => return Err(e),
                }
            }
        }
    }
    Ok(next)
}

#[cfg(test)]
#[path = "nodehealth_tests.rs"]
mod tests;
