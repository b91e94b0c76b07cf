//! Node registration, Lease renewal and node status heartbeats (kubelet `registerWithAPIServer`,
//! the node lease controller and `updateNodeStatus`).

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::api::core::v1::Node;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, OwnerReference};
use k8s_openapi::jiff::{Timestamp, Unit};
use serde_json::json;
use tokio::sync::Semaphore;

use super::node::{node_conditions, ready_status};
use super::pool::{NodeState, Pool, Registered};
use super::{AgentError, NODE_LEASE_NAMESPACE};
use crate::backoff::{Backoff, BackoffConfig};
use crate::client::Api;
use crate::kubelet::PodIpAllocator;
use crate::reflector::ObjectRef;

/// `now` as a `MicroTime` (microsecond precision, RFC 3339).
pub(crate) fn micro_time(now: SystemTime) -> MicroTime {
    let ts = Timestamp::try_from(now).unwrap_or(Timestamp::UNIX_EPOCH);
    MicroTime(ts.round(Unit::Microsecond).unwrap_or(ts))
}

/// One node's life: register (retrying with backoff), then renew its Lease and post its status
/// until shutdown. A Node deleted from the API is registered again (as the kubelet does).
pub(crate) async fn run_node(pool: Arc<Pool>, node: Arc<NodeState>, registrations: Arc<Semaphore>) {
    let Some(registered) = register_with_retry(&pool, &node, &registrations).await else {
        return;
    };
    let mut beat = Heartbeat {
        lease: None,
        last_status: tokio::time::Instant::now(),
        node_uid: registered.metadata.uid.clone(),
    };
    let mut was_paused = false;
    loop {
        match beat.tick(&pool, &node).await {
            Ok(()) => {}
            Err(AgentError::Client(e)) if e.is_not_found() => {
                tracing::warn!(node = %node.spec.name, "node object is gone; registering again");
                let Some(again) = register_with_retry(&pool, &node, &registrations).await else {
                    return;
                };
                beat.node_uid = again.metadata.uid.clone();
            }
            Err(e) => tracing::warn!(node = %node.spec.name, error = %e, "node heartbeat failed"),
        }
        let paused = pool.is_paused(&node.spec.name);
        if was_paused && !paused {
            tracing::info!(node = %node.spec.name, "heartbeat resumed; re-syncing its pods");
            pool.resync_node(&node.spec.name).await;
        }
        was_paused = paused;
        // While paused, look at the annotation every second so renewals resume promptly.
        let wait = if paused {
            pool.config.lease_renew_interval.min(Duration::from_secs(1))
        } else {
            pool.config.lease_renew_interval
        };
        tokio::select! {
            _ = pool.shutdown.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

/// Registers the node, retrying with backoff; `None` on shutdown.
async fn register_with_retry(
    pool: &Pool,
    node: &NodeState,
    registrations: &Semaphore,
) -> Option<Node> {
    let mut backoff = Backoff::new(BackoffConfig::WATCHER);
    loop {
        let attempt = {
            let _permit = registrations.acquire().await.ok()?;
            tokio::select! {
                _ = pool.shutdown.cancelled() => return None,
                r = register(pool, node) => r,
            }
        };
        match attempt {
            Ok(n) => return Some(n),
            Err(e) => {
                tracing::warn!(node = %node.spec.name, error = %e, "node registration failed; retrying");
                tokio::select! {
                    _ = pool.shutdown.cancelled() => return None,
                    _ = tokio::time::sleep(backoff.next_delay()) => {}
                }
            }
        }
    }
}

/// Creates the Node, or adopts an existing one of that name: labels are merged (the agent's
/// standard labels win, others are kept), taints and an existing podCIDR are kept. Then posts the
/// status (capacity, allocatable, addresses, nodeInfo, conditions).
async fn register(pool: &Pool, node: &NodeState) -> Result<Node, AgentError> {
    let api: Api<Node> = Api::all(node.client.clone());
    let name = node.spec.name.as_str();
    let now = pool.clock.now();
    let mut desired = node.spec.node.clone();
    let status = desired.status.get_or_insert_with(Default::default);
    let stored = match api.get_opt(name).await? {
        None => {
            status.conditions = Some(node_conditions(&[], now));
            match api.create(&desired).await {
                Ok(n) => n,
                Err(e) if e.is_already_exists() => api.get(name).await?,
                Err(e) => return Err(e.into()),
            }
        }
        Some(existing) => {
            let mut merged = existing.clone();
            let labels = merged.metadata.labels.get_or_insert_with(Default::default);
            labels.extend(desired.metadata.labels.clone().unwrap_or_default());
            // Ours win here too: the NKO key annotation must name this agent's key.
            if let Some(ours) = desired.metadata.annotations.clone() {
                let annotations = merged
                    .metadata
                    .annotations
                    .get_or_insert_with(Default::default);
                annotations.extend(ours);
            }
            let spec = merged.spec.get_or_insert_with(Default::default);
            let ours = desired.spec.clone().unwrap_or_default();
            if spec.pod_cidr.as_deref().is_none_or(str::is_empty) {
                spec.pod_cidr = ours.pod_cidr;
                spec.pod_cidrs = ours.pod_cidrs;
            }
            if spec.taints.is_none() {
                spec.taints = ours.taints;
            }
            if merged != existing {
                api.replace(name, &merged).await?
            } else {
                existing
            }
        }
    };
    // Post the kubelet-owned status (kept conditions' transition times).
    let previous = stored
        .status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default();
    let mut status = desired.status.clone().unwrap_or_default();
    status.conditions = Some(node_conditions(&previous, now));
    let mut posted = stored.clone();
    let unchanged = stored.status.as_ref().is_some_and(|s| {
        s.capacity == status.capacity
            && s.allocatable == status.allocatable
            && s.addresses == status.addresses
            && s.node_info == status.node_info
            && s.daemon_endpoints == status.daemon_endpoints
            && ready_status(&stored) == Some("True")
    });
    if !unchanged {
        posted.status = Some(status);
        posted.metadata.resource_version = None;
        posted = api.replace_status(name, &posted).await?;
    }
    let cidr = posted
        .spec
        .as_ref()
        .and_then(|s| s.pod_cidr.clone())
        .unwrap_or_else(|| node.spec.pod_cidr().to_string());
    let ipam = PodIpAllocator::new(&cidr)?;
    let host_ip = posted
        .status
        .as_ref()
        .and_then(|s| s.addresses.as_ref())
        .and_then(|a| a.iter().find(|a| a.type_ == "InternalIP"))
        .map_or_else(
            || node.spec.internal_ip().to_string(),
            |a| a.address.clone(),
        );
    let _ = node.registered.set(Registered {
        ipam: Mutex::new(ipam),
        host_ip,
    });
    tracing::debug!(node = name, "node registered");
    Ok(posted)
}

/// A node's heartbeat state between ticks.
struct Heartbeat {
    lease: Option<Lease>,
    last_status: tokio::time::Instant,
    node_uid: Option<String>,
}

impl Heartbeat {
    /// One tick: unless paused, renew the Lease, and post the node status when it is due or the
    /// node is not `Ready=True`.
    async fn tick(&mut self, pool: &Pool, node: &NodeState) -> Result<(), AgentError> {
        let name = node.spec.name.as_str();
        if pool.is_paused(name) {
            return Ok(());
        }
        self.renew_lease(pool, node).await?;
        let cached = pool.node_store.get(&ObjectRef::new(name));
        let not_ready = cached
            .as_ref()
            .is_some_and(|n| ready_status(n) != Some("True"));
        if not_ready || self.last_status.elapsed() >= pool.config.node_status_update_frequency {
            let previous = cached
                .as_ref()
                .and_then(|n| n.status.as_ref())
                .and_then(|s| s.conditions.clone())
                .unwrap_or_default();
            let conditions = node_conditions(&previous, pool.clock.now());
            let api: Api<Node> = Api::all(node.client.clone());
            api.patch_status(name, &json!({"status": {"conditions": conditions}}))
                .await?;
            self.last_status = tokio::time::Instant::now();
        }
        Ok(())
    }

    /// Renews (or creates) `kube-node-lease/<node>`.
    async fn renew_lease(&mut self, pool: &Pool, node: &NodeState) -> Result<(), AgentError> {
        let name = node.spec.name.as_str();
        let api: Api<Lease> = Api::namespaced(node.client.clone(), NODE_LEASE_NAMESPACE);
        let now = micro_time(pool.clock.now());
        if let Some(mut lease) = self.lease.take() {
            let spec = lease.spec.get_or_insert_with(Default::default);
            spec.renew_time = Some(now.clone());
            spec.holder_identity = Some(name.to_string());
            match api.replace(name, &lease).await {
                Ok(l) => {
                    self.lease = Some(l);
                    return Ok(());
                }
                // Someone else wrote it, or it was deleted: start over from the API's copy.
                Err(e) if e.is_conflict() || e.is_not_found() => {}
                Err(e) => {
                    self.lease = Some(lease);
                    return Err(e.into());
                }
            }
        }
        let spec = LeaseSpec {
            holder_identity: Some(name.to_string()),
            lease_duration_seconds: Some(pool.config.lease_duration_seconds),
            renew_time: Some(now),
            ..Default::default()
        };
        let lease = match api.get_opt(name).await? {
            Some(mut existing) => {
                existing.spec = Some(LeaseSpec {
                    acquire_time: existing.spec.as_ref().and_then(|s| s.acquire_time.clone()),
                    ..spec
                });
                api.replace(name, &existing).await?
            }
            None => {
                let owner = self.node_uid.clone().map(|uid| {
                    vec![OwnerReference {
                        api_version: "v1".into(),
                        kind: "Node".into(),
                        name: name.to_string(),
                        uid,
                        ..Default::default()
                    }]
                });
                let fresh = Lease {
                    metadata: ObjectMeta {
                        name: Some(name.to_string()),
                        namespace: Some(NODE_LEASE_NAMESPACE.into()),
                        owner_references: owner,
                        ..Default::default()
                    },
                    spec: Some(LeaseSpec {
                        acquire_time: spec.renew_time.clone(),
                        ..spec
                    }),
                };
                api.create(&fresh).await?
            }
        };
        self.lease = Some(lease);
        Ok(())
    }
}
