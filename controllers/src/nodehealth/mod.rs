//! Node-lifecycle decisions, pure (no I/O, no clock: `now` is always a parameter).
//!
//! Follows Kubernetes' node lifecycle controller and taint-based evictions
//! (<https://kubernetes.io/docs/concepts/architecture/nodes/#node-controller>,
//! <https://kubernetes.io/docs/concepts/scheduling-eviction/taint-and-toleration/#taint-based-evictions>):
//! a node whose Lease (in `kube-node-lease`) and `Ready` heartbeat are older than the grace period
//! (`--node-monitor-grace-period`, 40 s) gets `Ready=Unknown`; nodes not `Ready=True` get the
//! `node.kubernetes.io/unreachable` / `not-ready` taints; pods on a `NoExecute`-tainted node are evicted when
//! their tolerations run out.
//!
//! # Layout
//! - this file: [`evaluate_node`] (heartbeat → [`NodeHealth`]) and [`unknown_node_conditions`].
//! - [`taints`]: [`desired_taints`] and [`tolerates`].
//! - [`eviction`]: [`eviction_deadline`], [`default_tolerations`], [`pod_ready_condition_for_unknown_node`].

pub mod eviction;
pub mod taints;

#[cfg(test)]
mod tests;

use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, NodeCondition};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

pub use eviction::{
    DEFAULT_TOLERATION_SECONDS, Eviction, default_tolerations, eviction_deadline,
    pod_ready_condition_for_unknown_node,
};
pub use taints::{TAINT_NOT_READY, TAINT_UNREACHABLE, desired_taints, tolerates};

/// Kubernetes' default `--node-monitor-grace-period`: 40 s without a heartbeat before `Ready=Unknown`.
pub const DEFAULT_NODE_MONITOR_GRACE_PERIOD: Duration = Duration::from_secs(40);

/// Reason on conditions the controller sets to `Unknown` for a node that stopped heartbeating.
pub const REASON_NODE_STATUS_UNKNOWN: &str = "NodeStatusUnknown";

/// Message that goes with [`REASON_NODE_STATUS_UNKNOWN`] (Kubernetes' exact text).
pub const MESSAGE_NODE_STATUS_UNKNOWN: &str = "Kubelet stopped posting node status.";

/// Reason on conditions the controller sets to `Unknown` for a node that never reported them.
pub const REASON_NODE_STATUS_NEVER_UPDATED: &str = "NodeStatusNeverUpdated";

/// Message that goes with [`REASON_NODE_STATUS_NEVER_UPDATED`] (Kubernetes' exact text).
pub const MESSAGE_NODE_STATUS_NEVER_UPDATED: &str = "Kubelet never posted node status.";

/// The node conditions the lifecycle controller turns `Unknown` when a node goes silent.
pub const MONITORED_CONDITIONS: [&str; 4] =
    ["Ready", "MemoryPressure", "DiskPressure", "PIDPressure"];

/// A condition status (`True`, `False`, `Unknown`), as in `NodeCondition.status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ConditionStatus {
    /// `True`.
    True,
    /// `False`.
    False,
    /// `Unknown` (also what any other text parses to).
    Unknown,
}

impl ConditionStatus {
    /// The wire text: `True`, `False` or `Unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            ConditionStatus::True => "True",
            ConditionStatus::False => "False",
            ConditionStatus::Unknown => "Unknown",
        }
    }

    /// Parses the wire text; anything but `True`/`False` is `Unknown`.
    pub fn parse(s: &str) -> Self {
        match s {
            "True" => ConditionStatus::True,
            "False" => ConditionStatus::False,
            _ => ConditionStatus::Unknown,
        }
    }
}

/// What the lifecycle controller concludes about a node's `Ready` condition at one instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeHealth {
    /// The `Ready` status the node should have.
    pub ready: ConditionStatus,
    /// Since when it has had that status (the condition's `lastTransitionTime`).
    pub since: Timestamp,
    /// The condition's reason (`NodeStatusUnknown` when the controller overrode the kubelet).
    pub reason: Option<String>,
    /// The condition's message.
    pub message: Option<String>,
    /// The latest heartbeat seen: the Lease's `renewTime` or the `Ready` condition's `lastHeartbeatTime`,
    /// whichever is later; `None` when the node never sent one.
    pub last_heartbeat: Option<Timestamp>,
    /// `true` when the heartbeat is older than the grace period: the controller, not the kubelet, decides
    /// the status (and writes [`unknown_node_conditions`]).
    pub stale: bool,
}

/// The node's condition of type `type_`, if any.
pub fn node_condition<'a>(node: &'a Node, type_: &str) -> Option<&'a NodeCondition> {
    node.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.type_ == type_))
}

/// Decides the node's `Ready` status at `now` from its Lease and its `Ready` condition
/// (Kubernetes' `tryUpdateNodeHealth`).
///
/// The heartbeat is the later of `lease.spec.renewTime` and the `Ready` condition's `lastHeartbeatTime`;
/// a node with neither counts from its `creationTimestamp`. The node is *stale* when
/// `heartbeat + grace < now` (strictly; `grace` is `--node-monitor-grace-period`, 40 s by default):
/// - stale → `Ready=Unknown`, reason `NodeStatusUnknown`, message "Kubelet stopped posting node status."
///   (`NodeStatusNeverUpdated` / "Kubelet never posted node status." when it has no `Ready` condition),
///   `since = now`, or the existing `lastTransitionTime` if it was already `Unknown`;
/// - not stale → the status the kubelet reported (`Unknown` with no reason if none yet), `since` its
///   `lastTransitionTime` (or `now`).
pub fn evaluate_node(
    node: &Node,
    lease: Option<&Lease>,
    now: Timestamp,
    grace: Duration,
) -> NodeHealth {
    let ready = node_condition(node, "Ready");
    let renew = lease
        .and_then(|l| l.spec.as_ref())
        .and_then(|s| s.renew_time.as_ref())
        .map(|t| t.0);
    let posted = ready
        .and_then(|c| c.last_heartbeat_time.as_ref())
        .map(|t| t.0);
    let last_heartbeat = renew.max(posted);
    let probe = last_heartbeat.or_else(|| node.metadata.creation_timestamp.as_ref().map(|t| t.0));
    // Without any timestamp at all the node is treated as stale: nothing proves it alive.
    let stale = probe.is_none_or(|t| t.checked_add(grace).is_ok_and(|deadline| deadline < now));
    let transition = |c: &NodeCondition| c.last_transition_time.as_ref().map_or(now, |t| t.0);

    match (stale, ready) {
        (true, None) => NodeHealth {
            ready: ConditionStatus::Unknown,
            since: now,
            reason: Some(REASON_NODE_STATUS_NEVER_UPDATED.into()),
            message: Some(MESSAGE_NODE_STATUS_NEVER_UPDATED.into()),
            last_heartbeat,
            stale,
        },
        (true, Some(c)) => {
            let already_unknown = ConditionStatus::parse(&c.status) == ConditionStatus::Unknown;
            NodeHealth {
                ready: ConditionStatus::Unknown,
                since: if already_unknown { transition(c) } else { now },
                reason: Some(REASON_NODE_STATUS_UNKNOWN.into()),
                message: Some(MESSAGE_NODE_STATUS_UNKNOWN.into()),
                last_heartbeat,
                stale,
            }
        }
        (false, Some(c)) => NodeHealth {
            ready: ConditionStatus::parse(&c.status),
            since: transition(c),
            reason: c.reason.clone(),
            message: c.message.clone(),
            last_heartbeat,
            stale,
        },
        (false, None) => NodeHealth {
            ready: ConditionStatus::Unknown,
            since: node
                .metadata
                .creation_timestamp
                .as_ref()
                .map_or(now, |t| t.0),
            reason: None,
            message: None,
            last_heartbeat,
            stale,
        },
    }
}

/// The node's full `status.conditions` with the [`MONITORED_CONDITIONS`] turned `Unknown`, as the
/// lifecycle controller writes them for a stale node; `None` when nothing would change (all already
/// `Unknown`).
///
/// A condition that is not yet `Unknown` gets status `Unknown`, reason `NodeStatusUnknown`, message
/// "Kubelet stopped posting node status." and `lastTransitionTime = now` (its `lastHeartbeatTime` is kept);
/// a missing one is added with reason `NodeStatusNeverUpdated`, `lastHeartbeatTime` = the node's
/// `creationTimestamp`, `lastTransitionTime = now`. Other conditions are kept as they are.
pub fn unknown_node_conditions(node: &Node, now: Timestamp) -> Option<Vec<NodeCondition>> {
    let mut conditions = node
        .status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default();
    let mut changed = false;
    for type_ in MONITORED_CONDITIONS {
        match conditions.iter_mut().find(|c| c.type_ == type_) {
            Some(c) if c.status == ConditionStatus::Unknown.as_str() => {}
            Some(c) => {
                c.status = ConditionStatus::Unknown.as_str().into();
                c.reason = Some(REASON_NODE_STATUS_UNKNOWN.into());
                c.message = Some(MESSAGE_NODE_STATUS_UNKNOWN.into());
                c.last_transition_time = Some(Time(now));
                changed = true;
            }
            None => {
                conditions.push(NodeCondition {
                    type_: type_.into(),
                    status: ConditionStatus::Unknown.as_str().into(),
                    reason: Some(REASON_NODE_STATUS_NEVER_UPDATED.into()),
                    message: Some(MESSAGE_NODE_STATUS_NEVER_UPDATED.into()),
                    last_heartbeat_time: node.metadata.creation_timestamp.clone(),
                    last_transition_time: Some(Time(now)),
                });
                changed = true;
            }
        }
    }
    changed.then_some(conditions)
}
