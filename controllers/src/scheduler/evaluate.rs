//! The evaluation core shared by the scheduler, the full [`schedule`](super::schedule) and V: walk
//! the name-sorted nodes from a start index, run the filters until enough feasible nodes are found
//! ([`NodeSearch`]), score those into reusable number buffers and pick the best. Nothing here
//! allocates per node on the feasible path: scores are numbers in [`Scratch`], and the
//! human-readable records ([`NodeEvaluation`], [`PluginScore`]) are built afterwards only for what
//! a caller keeps (the chosen node for a proof; every node for [`schedule`](super::schedule)).

use std::collections::BTreeMap;

use super::decision::{FilterOutcome, NodeEvaluation, PluginScore, Unschedulable};
use super::framework::{Code, MAX_NODE_SCORE, MIN_NODE_SCORE, PodInfo, Status};
use super::node_info::NodeInfo;
use super::policy::Policy;
use super::search::{NodeSearch, NodesByName};

/// A node that failed a filter: where it is in the name order, which filter, its status.
#[derive(Debug, Clone)]
struct Failure {
    pos: usize,
    filter: usize,
    status: Status,
}

/// Reusable buffers of one evaluation (keep one per scheduler and pass it to every decision:
/// after the first decisions they stop growing, and a decision allocates nothing per node).
#[derive(Debug, Default, Clone)]
pub struct Scratch {
    /// Positions (in name order) of the feasible nodes found, in walk order.
    feasible: Vec<usize>,
    /// Raw scores, plugin-major: `raw[p × feasible.len() + k]`.
    raw: Vec<i64>,
    /// Normalized scores clamped to `0..=100`, same layout.
    normalized: Vec<i64>,
    /// `Σ normalized × weight` per feasible node.
    totals: Vec<i64>,
    /// The nodes that failed a filter, in walk order.
    failures: Vec<Failure>,
    /// How many nodes the walk looked at.
    processed: usize,
    /// Index into `feasible` of the best node.
    best: Option<usize>,
}

impl Scratch {
    fn clear(&mut self) {
        self.feasible.clear();
        self.raw.clear();
        self.normalized.clear();
        self.totals.clear();
        self.failures.clear();
        self.processed = 0;
        self.best = None;
    }

    /// How many nodes the last evaluation looked at (feasible or not).
    pub fn processed(&self) -> usize {
        self.processed
    }

    /// How many feasible nodes it found.
    pub fn feasible(&self) -> usize {
        self.feasible.len()
    }

    /// The best node: its position in the name order and its total (None: no feasible node).
    pub fn best(&self) -> Option<(usize, i64)> {
        self.best.map(|k| (self.feasible[k], self.totals[k]))
    }

    /// The feasible node at name-order position `pos`: its total, if the walk found it.
    pub fn total_of(&self, pos: usize) -> Option<i64> {
        let k = self.feasible.iter().position(|&p| p == pos)?;
        Some(self.totals[k])
    }

    /// Whether the walk looked at position `pos` and found it infeasible: the failing filter's
    /// name and reasons.
    pub fn failure_of(&self, pos: usize, policy: &Policy) -> Option<(&'static str, &[String])> {
        self.failures.iter().find(|f| f.pos == pos).map(|f| {
            (
                policy.filters()[f.filter].name(),
                f.status.reasons.as_slice(),
            )
        })
    }

    /// The per-plugin scores of the feasible node at name-order position `pos` (empty when it is
    /// not among the feasible nodes found).
    pub fn plugin_scores(&self, pos: usize, policy: &Policy) -> Vec<PluginScore> {
        let Some(k) = self.feasible.iter().position(|&p| p == pos) else {
            return Vec::new();
        };
        let m = self.feasible.len();
        policy
            .scores()
            .iter()
            .enumerate()
            .map(|(p, w)| {
                let normalized = self.normalized[p * m + k];
                PluginScore {
                    plugin: w.plugin.name().to_owned(),
                    raw: self.raw[p * m + k],
                    normalized,
                    weight: w.weight,
                    weighted: normalized * w.weight,
                }
            })
            .collect()
    }

    /// Every processed node's evaluation, in name order (the human-readable records of a full
    /// decision).
    pub fn evaluations(&self, nodes: &NodesByName<'_>, policy: &Policy) -> Vec<NodeEvaluation> {
        let mut out: Vec<(usize, NodeEvaluation)> = self
            .feasible
            .iter()
            .enumerate()
            .map(|(k, &pos)| {
                let e = NodeEvaluation {
                    node: nodes.get(pos).name().to_owned(),
                    outcome: FilterOutcome::Feasible,
                    scores: self.plugin_scores(pos, policy),
                    total: Some(self.totals[k]),
                };
                (pos, e)
            })
            .chain(
                self.failures
                    .iter()
                    .map(|f| (f.pos, failed(f, nodes, policy))),
            )
            .collect();
        out.sort_by_key(|(pos, _)| *pos);
        out.into_iter().map(|(_, e)| e).collect()
    }

    /// Why the pod fits none of the processed nodes, in Kubernetes' terms (every node was
    /// processed when none is feasible). `assumed_pods` is what the decision counted.
    pub fn unschedulable(
        &self,
        info: &PodInfo<'_>,
        nodes: &NodesByName<'_>,
        policy: &Policy,
        assumed_pods: Vec<String>,
    ) -> Unschedulable {
        let mut reasons = BTreeMap::new();
        let mut resolvable = false;
        for f in &self.failures {
            resolvable |= matches!(f.status.code, Code::Unschedulable | Code::Error);
            for r in &f.status.reasons {
                *reasons.entry(r.clone()).or_insert(0) += 1;
            }
        }
        Unschedulable {
            pod: info.key.clone(),
            policy: policy.name().to_owned(),
            num_nodes: nodes.len(),
            reasons,
            nodes: self.evaluations(nodes, policy),
            assumed_pods,
            resolvable,
        }
    }
}

fn failed(f: &Failure, nodes: &NodesByName<'_>, policy: &Policy) -> NodeEvaluation {
    NodeEvaluation {
        node: nodes.get(f.pos).name().to_owned(),
        outcome: FilterOutcome::Infeasible {
            plugin: policy.filters()[f.filter].name().to_owned(),
            code: f.status.code,
            reasons: f.status.reasons.clone(),
        },
        scores: Vec::new(),
        total: None,
    }
}

/// The first filter of `policy` that `node` fails, with its status (None: feasible).
pub fn first_failure(
    policy: &Policy,
    info: &PodInfo<'_>,
    node: &NodeInfo,
) -> Option<(usize, Status)> {
    policy.filters().iter().enumerate().find_map(|(i, f)| {
        let status = f.filter(info, node);
        (!status.is_success()).then_some((i, status))
    })
}

/// Evaluates `info` over `nodes` under `policy` with `search` into `scratch`:
/// 1. from position `search.start_node_index` of the name order, wrapping around, each node runs
///    the filters in order (the first failure makes it infeasible), until
///    `search.feasible_nodes_to_find` feasible nodes are found or every node was looked at;
/// 2. each score plugin scores the feasible nodes found (raw, in walk order), normalizes that
///    list, and each result is clamped to `0..=100`; `total = Σ normalized × weight`;
/// 3. the best is the highest total, ties going to the lowest name (lowest position).
///
/// Pure and deterministic. Reads `scratch` back with its accessors.
pub fn evaluate(
    scratch: &mut Scratch,
    info: &PodInfo<'_>,
    nodes: &NodesByName<'_>,
    policy: &Policy,
    search: NodeSearch,
) {
    scratch.clear();
    let n = nodes.len();
    let to_find = search.feasible_nodes_to_find.max(1);
    let start = if n == 0 {
        0
    } else {
        search.start_node_index % n
    };
    for step in 0..n {
        if scratch.feasible.len() >= to_find {
            break;
        }
        let pos = (start + step) % n;
        scratch.processed += 1;
        match first_failure(policy, info, nodes.get(pos)) {
            None => scratch.feasible.push(pos),
            Some((filter, status)) => scratch.failures.push(Failure {
                pos,
                filter,
                status,
            }),
        }
    }
    let m = scratch.feasible.len();
    if m == 0 {
        return;
    }
    scratch.totals.resize(m, 0);
    for weighted in policy.scores() {
        let base = scratch.raw.len();
        let feasible = &scratch.feasible;
        scratch.raw.extend(
            feasible
                .iter()
                .map(|&pos| weighted.plugin.score(info, nodes.get(pos))),
        );
        scratch
            .normalized
            .extend_from_slice(&scratch.raw[base..base + m]);
        let normalized = &mut scratch.normalized[base..base + m];
        weighted.plugin.normalize(normalized);
        for (total, s) in scratch.totals.iter_mut().zip(normalized.iter_mut()) {
            *s = (*s).clamp(MIN_NODE_SCORE, MAX_NODE_SCORE);
            *total += *s * weighted.weight;
        }
    }
    let mut best: Option<usize> = None;
    for k in 0..m {
        let better = best.is_none_or(|b| {
            let (t, bt) = (scratch.totals[k], scratch.totals[b]);
            t > bt || (t == bt && scratch.feasible[k] < scratch.feasible[b])
        });
        if better {
            best = Some(k);
        }
    }
    scratch.best = best;
}
