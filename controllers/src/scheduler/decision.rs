//! `f(P, N)`: the scheduling decision for one pod over a set of nodes, with everything that
//! produced it. [`crate::scheduler::verify()`] recomputes it (the NKO proof's V for scheduling).
//!
//! The algorithm, deterministic and independent of the order `nodes` are given in:
//! 1. nodes are taken in lexicographic order of their names;
//! 2. each node runs the policy's filters in order; the first failure makes it infeasible;
//! 3. each score plugin scores every feasible node (raw), normalizes the list, and the result is
//!    clamped to `0..=100`; `weighted = normalized × weight`, `total = Σ weighted`;
//! 4. the chosen node has the highest total; ties go to the lowest name ([`TIE_BREAK`]).

use std::collections::BTreeMap;
use std::fmt;

use k8s_openapi::api::core::v1::Pod;
use serde::{Deserialize, Serialize};

use super::framework::{Code, MAX_NODE_SCORE, MIN_NODE_SCORE, PodInfo};
use super::node_info::{NodeInfo, assumed_pods};
use super::policy::{PluginWeight, Policy, TIE_BREAK};

/// The reason of the `PodScheduled=False` condition of a pod that fits nowhere.
pub const UNSCHEDULABLE_REASON: &str = "Unschedulable";

/// Kubernetes' message when the cluster has no nodes at all.
pub const NO_NODES_MESSAGE: &str = "no nodes available to schedule pods";

/// What the filters said about one node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "camelCase")]
pub enum FilterOutcome {
    /// Every filter passed.
    Feasible,
    /// A filter failed (the first one that did).
    #[serde(rename_all = "camelCase")]
    Infeasible {
        /// The failing filter's name.
        plugin: String,
        /// Its code.
        code: Code,
        /// Its reasons (`Insufficient cpu`, …).
        reasons: Vec<String>,
    },
}

/// One score plugin's contribution to a node's total.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PluginScore {
    /// The plugin's name.
    pub plugin: String,
    /// The score before normalization.
    pub raw: i64,
    /// The score after normalization over the feasible nodes, `0..=100`.
    pub normalized: i64,
    /// The plugin's weight in the policy.
    pub weight: i64,
    /// `normalized × weight`.
    pub weighted: i64,
}

/// How one node fared: its filter outcome and, when feasible, its scores and total.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeEvaluation {
    /// The node's name.
    pub node: String,
    /// Filter outcome.
    pub outcome: FilterOutcome,
    /// Per-plugin scores, in policy order (empty when infeasible).
    pub scores: Vec<PluginScore>,
    /// `Σ weighted` (None when infeasible).
    pub total: Option<i64>,
}

/// A scheduling decision and the inputs and scores that produced it (what the NKO scheduling
/// proof records). Serialized in camelCase.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Decision {
    /// The pod, `namespace/name`.
    pub pod: String,
    /// The policy's name.
    pub policy: String,
    /// The policy's score plugins and weights.
    pub weights: Vec<PluginWeight>,
    /// The filters that ran, in order.
    pub filters: Vec<String>,
    /// The tie-break rule ([`TIE_BREAK`]).
    pub tie_break: String,
    /// Pods counted as assumed (bound, not yet observed) on any node, sorted.
    pub assumed_pods: Vec<String>,
    /// Every node, sorted by name.
    pub nodes: Vec<NodeEvaluation>,
    /// The chosen node.
    pub node: String,
    /// The chosen node's total.
    pub total: i64,
}

impl Decision {
    /// The chosen node's evaluation.
    pub fn chosen(&self) -> Option<&NodeEvaluation> {
        self.nodes.iter().find(|e| e.node == self.node)
    }

    /// Number of feasible nodes.
    pub fn feasible_nodes(&self) -> usize {
        self.nodes
            .iter()
            .filter(|e| e.outcome == FilterOutcome::Feasible)
            .count()
    }

    /// The compact form of this decision: everything but the other nodes' evaluations (a proof
    /// of O(plugins) size instead of O(nodes × plugins); the verifier recomputes the rest).
    pub fn summary(&self) -> DecisionSummary {
        DecisionSummary {
            pod: self.pod.clone(),
            policy: self.policy.clone(),
            weights: self.weights.clone(),
            filters: self.filters.clone(),
            tie_break: self.tie_break.clone(),
            assumed_pods: self.assumed_pods.clone(),
            num_nodes: self.nodes.len(),
            feasible_nodes: self.feasible_nodes(),
            node: self.node.clone(),
            total: self.total,
            scores: self.chosen().map(|e| e.scores.clone()).unwrap_or_default(),
        }
    }
}

/// A [`Decision`] without the per-node evaluations of the nodes not chosen: what a compact
/// scheduling proof records. [`crate::scheduler::verify_summary`] checks it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DecisionSummary {
    /// The pod, `namespace/name`.
    pub pod: String,
    /// The policy's name.
    pub policy: String,
    /// The policy's score plugins and weights.
    pub weights: Vec<PluginWeight>,
    /// The filters that ran, in order.
    pub filters: Vec<String>,
    /// The tie-break rule ([`TIE_BREAK`]).
    pub tie_break: String,
    /// Pods counted as assumed on any node, sorted.
    pub assumed_pods: Vec<String>,
    /// How many nodes were considered.
    pub num_nodes: usize,
    /// How many of them passed every filter.
    pub feasible_nodes: usize,
    /// The chosen node.
    pub node: String,
    /// The chosen node's total.
    pub total: i64,
    /// The chosen node's per-plugin scores.
    pub scores: Vec<PluginScore>,
}

/// Why a pod fits no node, in Kubernetes' terms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Unschedulable {
    /// The pod, `namespace/name`.
    pub pod: String,
    /// The policy's name.
    pub policy: String,
    /// How many nodes were considered.
    pub num_nodes: usize,
    /// How many nodes gave each reason (a node may give several, e.g. cpu and memory).
    pub reasons: BTreeMap<String, usize>,
    /// Every node's evaluation, sorted by name.
    pub nodes: Vec<NodeEvaluation>,
    /// Pods counted as assumed, sorted.
    pub assumed_pods: Vec<String>,
    /// True when some node failed for a reason other pods leaving could fix
    /// ([`Code::Unschedulable`], e.g. `Insufficient cpu`): requeue on pod deletions and completions
    /// as well as node changes. False when only a node change (a new node, labels, taints,
    /// readiness) or a change to the pod can help ([`Code::UnschedulableAndUnresolvable`]).
    pub resolvable: bool,
}

impl Unschedulable {
    /// Kubernetes' `FailedScheduling` message: `0/5 nodes are available: 2 node(s) had untolerated
    /// taint {node.kubernetes.io/unreachable: }, 3 Insufficient cpu.` — each reason prefixed by its
    /// node count, the strings sorted, joined with `", "`, ending with `.` (Kubernetes' `FitError`);
    /// [`NO_NODES_MESSAGE`] when there are no nodes.
    pub fn message(&self) -> String {
        if self.num_nodes == 0 {
            return NO_NODES_MESSAGE.to_owned();
        }
        let mut parts: Vec<String> = self
            .reasons
            .iter()
            .map(|(r, n)| format!("{n} {r}"))
            .collect();
        parts.sort();
        format!(
            "0/{} nodes are available: {}.",
            self.num_nodes,
            parts.join(", ")
        )
    }
}

impl fmt::Display for Unschedulable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

impl std::error::Error for Unschedulable {}

/// Schedules `pod` onto one of `nodes` under `policy` (see the module docs for the algorithm).
/// Pure and deterministic: the same pod, nodes (in any order) and policy give the same result.
///
/// # Errors
/// [`Unschedulable`] (boxed: it carries every node's evaluation) when no node passes every filter (or there are no nodes).
pub fn schedule(
    pod: &Pod,
    nodes: &[NodeInfo],
    policy: &Policy,
) -> Result<Decision, Box<Unschedulable>> {
    let info = PodInfo::new(pod);
    let mut order: Vec<&NodeInfo> = nodes.iter().collect();
    order.sort_by(|a, b| a.name().cmp(b.name()));

    let mut evaluations: Vec<NodeEvaluation> = order
        .iter()
        .map(|node| {
            let failure = policy.filters().iter().find_map(|f| {
                let status = f.filter(&info, node);
                (!status.is_success()).then(|| FilterOutcome::Infeasible {
                    plugin: f.name().to_owned(),
                    code: status.code,
                    reasons: status.reasons,
                })
            });
            NodeEvaluation {
                node: node.name().to_owned(),
                outcome: failure.unwrap_or(FilterOutcome::Feasible),
                scores: Vec::new(),
                total: None,
            }
        })
        .collect();

    let feasible: Vec<usize> = (0..order.len())
        .filter(|&i| evaluations[i].outcome == FilterOutcome::Feasible)
        .collect();
    let assumed = assumed_pods(nodes);

    if feasible.is_empty() {
        let mut reasons = BTreeMap::new();
        let mut resolvable = false;
        for e in &evaluations {
            if let FilterOutcome::Infeasible {
                code, reasons: rs, ..
            } = &e.outcome
            {
                resolvable |= matches!(code, Code::Unschedulable | Code::Error);
                for r in rs {
                    *reasons.entry(r.clone()).or_insert(0) += 1;
                }
            }
        }
        return Err(Box::new(Unschedulable {
            pod: info.key,
            policy: policy.name().to_owned(),
            num_nodes: nodes.len(),
            reasons,
            nodes: evaluations,
            assumed_pods: assumed,
            resolvable,
        }));
    }

    for &i in &feasible {
        evaluations[i].scores.reserve_exact(policy.scores().len());
    }
    for weighted in policy.scores() {
        let raw: Vec<i64> = feasible
            .iter()
            .map(|&i| weighted.plugin.score(&info, order[i]))
            .collect();
        let mut normalized = raw.clone();
        weighted.plugin.normalize(&mut normalized);
        for (k, &i) in feasible.iter().enumerate() {
            let n = normalized
                .get(k)
                .copied()
                .unwrap_or(0)
                .clamp(MIN_NODE_SCORE, MAX_NODE_SCORE);
            evaluations[i].scores.push(PluginScore {
                plugin: weighted.plugin.name().to_owned(),
                raw: raw[k],
                normalized: n,
                weight: weighted.weight,
                weighted: n * weighted.weight,
            });
        }
    }
    let mut best: Option<(usize, i64)> = None;
    for &i in &feasible {
        let total: i64 = evaluations[i].scores.iter().map(|s| s.weighted).sum();
        evaluations[i].total = Some(total);
        // strictly greater: among equal totals the first in name order (the lowest name) stays.
        if best.is_none_or(|(_, t)| total > t) {
            best = Some((i, total));
        }
    }
    let (chosen, total) = best.unwrap_or((feasible[0], 0));
    Ok(Decision {
        pod: info.key,
        policy: policy.name().to_owned(),
        weights: policy.weights(),
        filters: policy
            .filters()
            .iter()
            .map(|f| f.name().to_owned())
            .collect(),
        tie_break: TIE_BREAK.to_owned(),
        assumed_pods: assumed,
        node: evaluations[chosen].node.clone(),
        total,
        nodes: evaluations,
    })
}
