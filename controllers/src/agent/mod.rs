//! The node agent (kubelet-like): registers Nodes, renews their Leases and runs the pods bound to them
//! through a [`ContainerRuntime`]. One [`run_pool`] serves one node (the real agent, `mock_k8 agent`)
//! or thousands of simulated nodes in one process: the cost per node is one small heartbeat task, the
//! cost per pod is a few hundred bytes of state — pods share one pod reflector, one [`Controller`]
//! work queue and one runtime event subscription.
//!
//! # How a pod runs
//! The pool's pod [`Controller`] watches pods with `spec.nodeName` set and reconciles each one bound to
//! one of its nodes; one reconcile is one step of the pod's state machine ([`crate::kubelet`]):
//! 1. first sight: admission ([`crate::kubelet::admit`] against the node's allocatable and the pods
//!    admitted there; a rejected pod ends `Failed`, reason `OutOfcpu` …) and a pod IP from the
//!    node's podCIDR ([`crate::kubelet::PodIpAllocator`]; `hostNetwork` pods use the node's IP);
//! 2. refresh the observed container states from the runtime;
//! 3. execute [`crate::kubelet::next_actions`] (`Pull`, `CreateAndStart`, `Stop`, `Remove`) until only
//!    a `WaitUntil` or nothing is left — `Stop`s run in owned background tasks (they last up to the
//!    grace period), the rest in order;
//! 4. write [`crate::kubelet::pod_status`] with `replace_status`, only when it changed;
//! 5. requeue at the `WaitUntil` time, else wait for a change: a pod update, or a container event
//!    from [`ContainerRuntime::events`] routed to the pod's key.
//!
//! A pod being deleted (`deletionTimestamp`) has its containers stopped with its grace period, then
//! removed; the agent then deletes the object with `gracePeriodSeconds: 0`. A pod that vanishes from
//! the API (force-deleted) is cleaned up by housekeeping (every [`AgentConfig::housekeeping_interval`]):
//! its containers are killed and removed and its IP released.
//!
//! # Node heartbeats
//! Each node is registered (created, or an existing Node of that name adopted, keeping its labels and
//! taints), then its Lease `kube-node-lease/<node>` is renewed every
//! [`AgentConfig::lease_renew_interval`] and its conditions' heartbeat refreshed every
//! [`AgentConfig::node_status_update_frequency`], or at once when `Ready` is not `True` (the node
//! lifecycle controller marked it `Unknown`). The annotation [`HEARTBEAT_ANNOTATION`]`: paused` on
//! the Node makes it behave like an unreachable node until removed: its agent makes no API write at
//! all — no Lease renewal, node status, pod status, pod deletion or Event — and does not see pod
//! deletions, while its containers keep running (and restarting) locally. When the annotation is
//! removed the Lease and the node status are posted at once and every pod of the node is re-synced
//! (its current status written, pending deletions carried out).
//!
//! # Clock
//! Times written to the API come from tokio's clock anchored at the pool's start
//! (`start wall time + Instant::elapsed`), like MockDocker's, so both agree and tests with paused
//! time are exact. Over a long run the wall clock may drift from it by the system's clock slew.
//!
//! # Layout
//! - this file: [`AgentConfig`], [`AgentError`], [`run_pool`].
//! - [`node`]: [`NodeSpec`] (the Node object, from defaults or a template) and node conditions.
//! - `heartbeat`: registration, Lease renewal, node status.
//! - `pool`: the state shared by the pool's tasks, housekeeping, event publishing.
//! - `worker`: one pod's state and the reconcile step; `worker/actions`: executing kubelet actions.

mod heartbeat;
pub mod node;
mod pool;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_pods;
mod worker;

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Node, Pod};
use serde_json::Value;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::client::{Client, ClientError};
use crate::container::{ContainerRuntime, MockDockerConfig, PullError, RuntimeError};
use crate::controller::{self, Controller, ResultHook};
use crate::informer::Informers;
use crate::kubelet::{CrashLoopBackoff, IpamError};
use crate::{reflector, watcher};

pub use node::{NodeClient, NodeSpec, NodeSpecError, load_template, simulated_nodes};

/// The Node annotation that, while its value is `paused`, stops every API write of the node's agent
/// (Lease, node status, pod status, pod deletion, Events) as if the node were unreachable; its
/// containers keep running (for tests and demos of the node-health story).
pub const HEARTBEAT_ANNOTATION: &str = "mock-k8.io/heartbeat";

/// The namespace of node Leases (Kubernetes' `kube-node-lease`).
pub const NODE_LEASE_NAMESPACE: &str = "kube-node-lease";

/// The agent's tuning. Every timing is a field with Kubernetes' default, so tests and demos can turn
/// them down.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentConfig {
    /// How often each node's Lease is renewed (kubelet: 10 s, `--node-lease-renew-interval`).
    pub lease_renew_interval: Duration,
    /// The Lease's `leaseDurationSeconds` (kubelet: 40 s).
    pub lease_duration_seconds: i32,
    /// How often an unchanged node status is re-posted (its conditions' `lastHeartbeatTime`). The
    /// kubelet's `nodeStatusReportFrequency` is 5 min with Leases; 60 s keeps `kubectl describe node`
    /// fresh while thousands of simulated nodes stay cheap. A `Ready` condition that is not `True`
    /// is corrected at the next lease tick regardless.
    pub node_status_update_frequency: Duration,
    /// CrashLoopBackOff (and ImagePullBackOff) delays: 10 s doubling to 300 s.
    pub crash_loop: CrashLoopBackoff,
    /// The MockDocker config the caller builds the runtime with (`--runtime-config FILE`); kept here
    /// so one struct carries every agent setting. [`run_pool`] itself uses the runtime it is given.
    pub mock_docker: MockDockerConfig,
    /// The node template (a Node manifest as JSON, `--node-template FILE`) for simulated nodes.
    pub node_template: Option<Value>,
    /// How often pods that vanished from the API are cleaned up (kubelet housekeeping: 2 s).
    pub housekeeping_interval: Duration,
    /// Pod reconciles running at once across the pool.
    pub pod_workers: usize,
    /// Node registrations in flight at once (a pool of thousands of nodes starts gently).
    pub registration_concurrency: usize,
    /// Kubernetes Events waiting to be published before new ones are dropped (they are best-effort).
    pub event_queue_capacity: usize,
}

impl Default for AgentConfig {
    fn default() -> Self {
        AgentConfig {
            lease_renew_interval: Duration::from_secs(10),
            lease_duration_seconds: 40,
            node_status_update_frequency: Duration::from_secs(60),
            crash_loop: CrashLoopBackoff::default(),
            mock_docker: MockDockerConfig::default(),
            node_template: None,
            housekeeping_interval: Duration::from_secs(2),
            pod_workers: 64,
            registration_concurrency: 64,
            event_queue_capacity: 4096,
        }
    }
}

/// Why a pool could not start, or why one pod step failed (then retried with backoff).
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The node list is unusable (empty, or a name twice).
    #[error("invalid node list: {0}")]
    InvalidNodes(String),
    /// An API call failed.
    #[error("api call failed: {0}")]
    Client(#[from] ClientError),
    /// A container runtime call failed.
    #[error("container runtime failed: {0}")]
    Runtime(#[from] RuntimeError),
    /// An image pull could not even be attempted (the runtime is shutting down).
    #[error("image pull failed: {0}")]
    Pull(#[from] PullError),
    /// No pod IP could be allocated (podCIDR exhausted or invalid).
    #[error("pod IP allocation failed: {0}")]
    Ipam(#[from] IpamError),
    /// An object could not be encoded or decoded.
    #[error("encoding failed: {0}")]
    Encode(#[from] serde_json::Error),
}

/// Runs the node agent for `nodes` until `shutdown` is cancelled: registration and heartbeats of
/// every node, and the lifecycle of every pod bound to one of them, on `runtime`.
///
/// Pod status writes are reconcile results of the pool's pod controller and pass through `hook`
/// (the NKO signing seam). With a single node the pod watch is narrowed to
/// `spec.nodeName=<node>`; with several, to `spec.nodeName!=` (every bound pod) and pods of other
/// nodes are ignored.
///
/// # Errors
/// [`AgentError::InvalidNodes`] when `nodes` is empty or names a node twice. API and runtime errors
/// while running are logged and retried, never returned.
///
/// # Guarantees
/// Every task the pool starts is owned by it and has ended when this returns. Containers are left
/// as they are at shutdown (a restarted agent adopts them).
pub async fn run_pool(
    client: Arc<dyn Client>,
    runtime: Arc<dyn ContainerRuntime>,
    nodes: Vec<NodeSpec>,
    config: AgentConfig,
    hook: Arc<dyn ResultHook>,
    shutdown: CancellationToken,
) -> Result<(), AgentError> {
    run_pool_shared(client, runtime, nodes, config, hook, shutdown, None).await
}

/// [`run_pool`], reading pods and nodes from `informers` when given (shared with the built-in
/// controllers of the same process: one decoded copy of each pod, not one more for the agent)
/// instead of its own narrowed watches. Only the pods bound to one of `nodes` are then run
/// (the same ones the narrowed watch would deliver); the caller stops the informers.
///
/// # Errors
/// As [`run_pool`].
pub async fn run_pool_shared(
    client: Arc<dyn Client>,
    runtime: Arc<dyn ContainerRuntime>,
    nodes: Vec<NodeSpec>,
    config: AgentConfig,
    hook: Arc<dyn ResultHook>,
    shutdown: CancellationToken,
    informers: Option<Informers>,
) -> Result<(), AgentError> {
    let (pod_selector, node_selector) = match nodes.as_slice() {
        [] => return Err(AgentError::InvalidNodes("no node to serve".into())),
        [one] => (
            format!("spec.nodeName={}", one.name),
            Some(format!("metadata.name={}", one.name)),
        ),
        _ => ("spec.nodeName!=".to_string(), None),
    };
    let mut seen = std::collections::HashSet::new();
    if let Some(dup) = nodes.iter().find(|n| !seen.insert(n.name.as_str())) {
        return Err(AgentError::InvalidNodes(format!(
            "node {:?} is listed twice",
            dup.name
        )));
    }
    let (Some(pods_res), Some(nodes_res)) = (
        mock_k8_schemas::resource::by_kind("v1", "Pod"),
        mock_k8_schemas::resource::by_kind("v1", "Node"),
    ) else {
        return Err(AgentError::InvalidNodes(
            "pods or nodes are not served".into(),
        ));
    };
    let shared = match &informers {
        Some(i) => {
            let not_served =
                |e: crate::informer::NotServed| AgentError::InvalidNodes(e.to_string());
            Some((
                i.pods().map_err(not_served)?,
                i.nodes().map_err(not_served)?,
            ))
        }
        None => None,
    };
    // Subscribe before anything runs, so no container event is missed.
    let container_events = runtime.events();
    let tasks = TaskTracker::new();
    let stop = shutdown.child_token();

    let (node_store, node_events) = match &shared {
        Some((_, node_informer)) => (node_informer.store(), None),
        None => {
            let (node_store, node_writer) = reflector::store::<Node>();
            let node_watch = watcher::Config {
                field_selector: node_selector,
                ..watcher::Config::default()
            };
            let node_events = reflector::reflector(
                node_writer,
                watcher::watcher(client.clone(), nodes_res, node_watch),
            );
            (node_store, Some(node_events))
        }
    };

    let (key_tx, key_rx) = tokio::sync::mpsc::channel(config.event_queue_capacity.max(16));
    let keys = futures::stream::unfold(
        key_rx,
        |mut rx| async move { rx.recv().await.map(|k| (k, rx)) },
    );
    let pod_controller = match &shared {
        Some((pod_informer, _)) => {
            let served: std::collections::HashSet<String> =
                nodes.iter().map(|n| n.name.clone()).collect();
            Controller::<Pod>::for_shared_filtered(
                client.clone(),
                pod_informer,
                move |pod: &Pod| {
                    pod.spec
                        .as_ref()
                        .and_then(|s| s.node_name.as_deref())
                        .is_some_and(|n| served.contains(n))
                },
            )
        }
        None => Controller::<Pod>::new(
            client.clone(),
            pods_res,
            watcher::Config::default().fields(&pod_selector),
        ),
    }
    .reconcile_on(keys)
    .with_config(controller::Config {
        concurrency: config.pod_workers.max(1),
        ..controller::Config::default()
    })
    .with_result_hook(hook)
    .graceful_shutdown_on(stop.clone());

    let pool = pool::Pool::new(
        client,
        runtime,
        nodes,
        config,
        pod_controller.store(),
        node_store,
        tasks.clone(),
        stop.clone(),
    );

    if let Some(node_events) = node_events {
        let stop = stop.clone();
        tasks.spawn(async move {
            let drain = node_events.for_each(|ev| async move {
                if let Err(e) = ev {
                    tracing::warn!(error = %e, "node watch failed; retrying");
                }
            });
            tokio::select! {
                _ = stop.cancelled() => {}
                _ = drain => {}
            }
        });
    }
    pool.spawn_background(container_events, key_tx);
    let results = pod_controller.run(worker::reconcile, worker::error_policy, pool.clone());
    let pool_for_results = pool.clone();
    results
        .for_each(|res| {
            let pool = pool_for_results.clone();
            async move {
                match res {
                    Ok(_) => {}
                    Err(controller::Error::ObjectNotFound(key)) => pool.cleanup_key(&key).await,
                    Err(e) => tracing::debug!(error = %e, "pod step failed; retrying"),
                }
            }
        })
        .await;
    stop.cancel();
    tasks.close();
    tasks.wait().await;
    Ok(())
}
