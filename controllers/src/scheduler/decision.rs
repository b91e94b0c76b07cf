//! `f(P, N)`: the scheduling decision for one pod over a set of nodes, with everything that
//! produced it. [`crate::scheduler::verify()`] recomputes it (the NKO proof's V for scheduling).
//!
//! The algorithm, deterministic and independent of the order `nodes` are given in:
//! 1. nodes are taken in lexicographic order of their names, from a start index, wrapping
//!    around ([`NodeSearch`]; [`schedule`] starts at 0 and looks at every node);
//! 2. each node runs the policy's filters in order; the first failure makes it infeasible; the
//!    walk stops once it has found the feasible nodes the search asks for
//!    (`percentageOfNodesToScore`, [`crate::scheduler::search`]);
//! 3. each score plugin scores every feasible node found (raw), normalizes the list, and the
//!    result is clamped to `0..=100`; `weighted = normalized × weight`, `total = Σ weighted`;
//! 4. the chosen node has the highest total; ties go to the lowest name ([`TIE_BREAK`]).

use std::collections::BTreeMap;
use std::fmt;

use k8s_openapi::api::core::v1::Pod;
use serde::{Deserialize, Serialize};

use super::evaluate::{Scratch, evaluate};
use super::framework::{Code, PodInfo};
use super::node_info::{NodeInfo, assumed_pods};
use super::policy::{PluginWeight, Policy, TIE_BREAK};
use super::search::{NodeSearch, NodesByName};

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
            search: None,
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
    /// Which nodes were searched ([`NodeSearch`]); absent: every node, from index 0 (then
    /// `feasibleNodes` counts every feasible node).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search: Option<NodeSearch>,
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

/// Schedules `pod` onto one of `nodes` under `policy`, looking at every node (see the module
/// docs for the algorithm), with every node's human-readable evaluation. Pure and deterministic:
/// the same pod, nodes (in any order) and policy give the same result. The scheduler itself uses
/// [`decide`] (a bounded search, no per-node records); this is the reference for tests, tools and
/// [`crate::scheduler::verify()`].
///
/// # Errors
/// [`Unschedulable`] (boxed: it carries every node's evaluation) when no node passes every filter (or there are no nodes).
pub fn schedule(
    pod: &Pod,
    nodes: &[NodeInfo],
    policy: &Policy,
) -> Result<Decision, Box<Unschedulable>> {
    let info = PodInfo::new(pod);
    let by_name = NodesByName::new(nodes);
    let mut scratch = Scratch::default();
    evaluate(
        &mut scratch,
        &info,
        &by_name,
        policy,
        NodeSearch::all(nodes.len()),
    );
    let assumed = assumed_pods(nodes);
    let Some((chosen, total)) = scratch.best() else {
        return Err(Box::new(
            scratch.unschedulable(&info, &by_name, policy, assumed),
        ));
    };
    Ok(Decision {
        pod: info.key,
        policy: policy.name().to_owned(),
        weights: policy.weights(),
        filters: filter_names(policy),
        tie_break: TIE_BREAK.to_owned(),
        assumed_pods: assumed,
        node: by_name.get(chosen).name().to_owned(),
        total,
        nodes: scratch.evaluations(&by_name, policy),
    })
}

fn filter_names(policy: &Policy) -> Vec<String> {
    policy
        .filters()
        .iter()
        .map(|f| f.name().to_owned())
        .collect()
}

/// A decision of the scheduler's fast path: the compact record and how far the search went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decided {
    /// The decision as a proof records it; `assumed_pods` is left empty (the caller knows
    /// which assumed pods it counted and fills them in or carries them beside it).
    pub summary: DecisionSummary,
    /// How many nodes the search looked at (feasible or not): the next search starts that many
    /// positions further (kube-scheduler's `nextStartNodeIndex`).
    pub processed: usize,
}

/// The scheduler's decision for `pod` over `nodes` (in name order) under `policy`, searching as
/// `search` says ([`evaluate`]): the best feasible node of the searched window, ties to the
/// lowest name. Reuses `scratch`; builds records only for the chosen node.
///
/// # Errors
/// [`Unschedulable`] when no node is feasible (the search then looked at every node);
/// `assumed_pods` is only read for it.
pub fn decide(
    scratch: &mut Scratch,
    pod: &Pod,
    nodes: &NodesByName<'_>,
    policy: &Policy,
    search: NodeSearch,
    assumed_pods: impl FnOnce() -> Vec<String>,
) -> Result<Decided, Box<Unschedulable>> {
    let info = PodInfo::new(pod);
    evaluate(scratch, &info, nodes, policy, search);
    let Some((chosen, total)) = scratch.best() else {
        return Err(Box::new(scratch.unschedulable(
            &info,
            nodes,
            policy,
            assumed_pods(),
        )));
    };
    Ok(Decided {
        summary: DecisionSummary {
            pod: info.key,
            policy: policy.name().to_owned(),
            weights: policy.weights(),
            filters: filter_names(policy),
            tie_break: TIE_BREAK.to_owned(),
            assumed_pods: Vec::new(),
            num_nodes: nodes.len(),
            feasible_nodes: scratch.feasible(),
            node: nodes.get(chosen).name().to_owned(),
            total,
            scores: scratch.plugin_scores(chosen, policy),
            search: Some(search),
        },
        processed: scratch.processed(),
    })
}
