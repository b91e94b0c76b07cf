//! The scheduling framework: Filter and Score plugin interfaces, their status codes, and the
//! per-pod facts plugins read, after Kubernetes' scheduler framework
//! (<https://kubernetes.io/docs/concepts/scheduling-eviction/scheduling-framework/>).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{NodeAffinity, Pod, Toleration};
use serde::{Deserialize, Serialize};

use super::node_info::{NodeInfo, pod_key, spread_key};
use super::requests::{Resources, pod_requests};

/// The highest score a plugin gives a node (Kubernetes' `MaxNodeScore`).
pub const MAX_NODE_SCORE: i64 = 100;
/// The lowest score a plugin gives a node (Kubernetes' `MinNodeScore`).
pub const MIN_NODE_SCORE: i64 = 0;

/// The outcome class of a filter, as in Kubernetes' framework; it decides requeueing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Code {
    /// The node passes.
    Success,
    /// The node does not fit now, but changes to the pods on it (deletions, completions, preemption)
    /// could make it fit, e.g. `Insufficient cpu`.
    Unschedulable,
    /// The node does not fit and no change to pods will make it fit; only a change to the node (its
    /// labels, taints, readiness) or to the pod can, e.g. an untolerated taint.
    UnschedulableAndUnresolvable,
    /// The plugin could not decide (an internal error); the pod is retried with backoff.
    Error,
}

/// A filter result: a [`Code`] and the human reasons Kubernetes prints in `FailedScheduling`
/// messages (`"Insufficient cpu"`). A failure may carry several reasons (cpu and memory at once).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    /// The outcome class.
    pub code: Code,
    /// Reasons, empty on success.
    pub reasons: Vec<String>,
}

impl Status {
    /// A passing status.
    pub fn success() -> Status {
        Status {
            code: Code::Success,
            reasons: Vec::new(),
        }
    }

    /// A resolvable failure with one reason.
    pub fn unschedulable(reason: impl Into<String>) -> Status {
        Status {
            code: Code::Unschedulable,
            reasons: vec![reason.into()],
        }
    }

    /// An unresolvable failure with one reason.
    pub fn unresolvable(reason: impl Into<String>) -> Status {
        Status {
            code: Code::UnschedulableAndUnresolvable,
            reasons: vec![reason.into()],
        }
    }

    /// An internal error.
    pub fn error(message: impl Into<String>) -> Status {
        Status {
            code: Code::Error,
            reasons: vec![message.into()],
        }
    }

    /// True when the code is [`Code::Success`].
    pub fn is_success(&self) -> bool {
        self.code == Code::Success
    }
}

/// The pod being scheduled, with what plugins need computed once: its key, its requests and the
/// spreading key.
#[derive(Debug, Clone)]
pub struct PodInfo<'a> {
    /// The pod itself.
    pub pod: &'a Pod,
    /// `namespace/name` (namespace `default` when unset).
    pub key: String,
    /// Requests for the NodeResourcesFit filter ([`pod_requests`] without scoring defaults).
    pub requests: Resources,
    /// Requests for scoring ([`pod_requests`] with the 100m / 200Mi defaults for missing ones).
    pub non_zero_requests: Resources,
    /// Key grouping pods with the same namespace and labels (None for a pod without labels).
    pub spread_key: Option<String>,
}

impl<'a> PodInfo<'a> {
    /// Computes the facts of `pod`. Pure; never fails.
    pub fn new(pod: &'a Pod) -> PodInfo<'a> {
        PodInfo {
            pod,
            key: pod_key(pod),
            requests: pod_requests(pod, false),
            non_zero_requests: pod_requests(pod, true),
            spread_key: spread_key(pod),
        }
    }

    /// `spec.tolerations` (empty when unset).
    pub fn tolerations(&self) -> &[Toleration] {
        self.pod
            .spec
            .as_ref()
            .and_then(|s| s.tolerations.as_deref())
            .unwrap_or(&[])
    }

    /// `spec.nodeSelector`, if any.
    pub fn node_selector(&self) -> Option<&BTreeMap<String, String>> {
        self.pod
            .spec
            .as_ref()
            .and_then(|s| s.node_selector.as_ref())
    }

    /// `spec.affinity.nodeAffinity`, if any.
    pub fn node_affinity(&self) -> Option<&NodeAffinity> {
        self.pod
            .spec
            .as_ref()?
            .affinity
            .as_ref()?
            .node_affinity
            .as_ref()
    }

    /// `spec.nodeName` when set and non-empty.
    pub fn node_name(&self) -> Option<&str> {
        self.pod
            .spec
            .as_ref()?
            .node_name
            .as_deref()
            .filter(|n| !n.is_empty())
    }
}

/// A Filter extension point: decides whether a node can run the pod at all.
///
/// Implementations are pure and deterministic (same pod and node → same status).
pub trait FilterPlugin: Send + Sync {
    /// The plugin's Kubernetes name (`NodeResourcesFit`).
    fn name(&self) -> &'static str;

    /// Checks `node` for `pod`.
    fn filter(&self, pod: &PodInfo<'_>, node: &NodeInfo) -> Status;
}

/// A Score extension point: ranks feasible nodes on `0..=100` ([`MIN_NODE_SCORE`]..=[`MAX_NODE_SCORE`]).
///
/// [`ScorePlugin::score`] returns a raw score per node; [`ScorePlugin::normalize`] then maps the raw
/// scores of all feasible nodes (in one list) to `0..=100`. Implementations are pure, use integer
/// arithmetic only, and document their formula in [`ScorePlugin::formula`].
pub trait ScorePlugin: Send + Sync {
    /// The plugin's name (`LeastAllocated`).
    fn name(&self) -> &'static str;

    /// The formula, as text, for `GET /api/v1/scheduler/policies` and the proof spec.
    fn formula(&self) -> String;

    /// The raw score of `node` for `pod`.
    fn score(&self, pod: &PodInfo<'_>, node: &NodeInfo) -> i64;

    /// Maps raw scores of all feasible nodes to `0..=100`, in place. The default keeps them
    /// (for plugins whose raw score already is on that scale).
    fn normalize(&self, scores: &mut [i64]) {
        let _ = scores;
    }
}

/// Kubernetes' `DefaultNormalizeScore`: with `max` the largest raw score, each score becomes
/// `max_priority × score / max` (int64 division, rounding toward zero), and with `reverse`
/// `max_priority − that`. When every raw score is 0, all become 0 (or `max_priority` with `reverse`).
pub fn default_normalize_score(max_priority: i64, reverse: bool, scores: &mut [i64]) {
    let max = scores.iter().copied().max().unwrap_or(0);
    if max <= 0 {
        let v = if reverse { max_priority } else { 0 };
        scores.iter_mut().for_each(|s| *s = v);
        return;
    }
    for s in scores.iter_mut() {
        let scaled = max_priority.saturating_mul((*s).max(0)) / max;
        *s = if reverse {
            max_priority - scaled
        } else {
            scaled
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_normalize_score_should_scale_to_the_maximum() {
        // max = 8: 2 → 100*2/8 = 25, 8 → 100, 3 → 300/8 = 37 (int division), 0 → 0.
        let mut s = [2, 8, 3, 0];
        default_normalize_score(100, false, &mut s);
        assert_eq!(s, [25, 100, 37, 0]);
    }

    #[test]
    fn default_normalize_score_should_reverse() {
        // max = 4: 1 → 100 − 25 = 75, 4 → 0, 0 → 100.
        let mut s = [1, 4, 0];
        default_normalize_score(100, true, &mut s);
        assert_eq!(s, [75, 0, 100]);
    }

    #[test]
    fn default_normalize_score_should_handle_all_zero() {
        let mut s = [0, 0];
        default_normalize_score(100, false, &mut s);
        assert_eq!(s, [0, 0]);
        default_normalize_score(100, true, &mut s);
        assert_eq!(s, [100, 100]);
    }
}
