//! V for scheduling decisions: recompute `f(P, N)` and accept a recorded decision only when its
//! node is feasible and optimal under the documented tie-break, and everything it recorded matches.

use k8s_openapi::api::core::v1::Pod;

use super::decision::{Decision, DecisionSummary, FilterOutcome, schedule};
use super::node_info::{NodeInfo, assumed_pods, pod_key};
use super::policy::{Policy, TIE_BREAK};

/// Checks a compact decision ([`DecisionSummary`]) against a recomputation of [`schedule`] on the
/// same pod, nodes (with the recorded assumed pods counted on them) and policy. In order:
/// policy name, weights, filters and tie-break; the pod; the assumed pods; the node count; that
/// the chosen node exists, is feasible, has the highest total and wins the tie-break
/// ([`TIE_BREAK`]); then the recorded total, scores and feasible-node count.
///
/// # Errors
/// A message naming the first check that failed, e.g. `node "n2" is feasible but not optimal:
/// total 310 < 342 of node "n1"`.
pub fn verify_summary(
    summary: &DecisionSummary,
    pod: &Pod,
    nodes: &[NodeInfo],
    policy: &Policy,
) -> Result<Decision, String> {
    if summary.policy != policy.name() {
        return Err(format!(
            "decision was made under policy {:?}, verified under {:?}",
            summary.policy,
            policy.name()
        ));
    }
    if summary.weights != policy.weights() {
        return Err(format!(
            "recorded weights {:?} differ from the policy's {:?}",
            summary.weights,
            policy.weights()
        ));
    }
    let filters: Vec<&str> = policy.filters().iter().map(|f| f.name()).collect();
    if summary.filters != filters {
        return Err(format!(
            "recorded filters {:?} differ from the policy's {filters:?}",
            summary.filters
        ));
    }
    if summary.tie_break != TIE_BREAK {
        return Err(format!(
            "recorded tie-break {:?} is not {TIE_BREAK:?}",
            summary.tie_break
        ));
    }
    let key = pod_key(pod);
    if summary.pod != key {
        return Err(format!(
            "decision is for pod {:?}, not {key:?}",
            summary.pod
        ));
    }
    let assumed = assumed_pods(nodes);
    if summary.assumed_pods != assumed {
        return Err(format!(
            "recorded assumed pods {:?} differ from those counted in the state {assumed:?}",
            summary.assumed_pods
        ));
    }
    if summary.num_nodes != nodes.len() {
        return Err(format!(
            "decision considered {} nodes, the state has {}",
            summary.num_nodes,
            nodes.len()
        ));
    }
    let redo = schedule(pod, nodes, policy)
        .map_err(|u| format!("recomputation finds the pod unschedulable: {}", u.message()))?;
    let chosen = &summary.node;
    let Some(eval) = redo.nodes.iter().find(|e| &e.node == chosen) else {
        return Err(format!("node {chosen:?} is not in the state"));
    };
    if let FilterOutcome::Infeasible {
        plugin, reasons, ..
    } = &eval.outcome
    {
        return Err(format!(
            "node {chosen:?} is not feasible: {plugin}: {}",
            reasons.join(", ")
        ));
    }
    let total = eval.total.unwrap_or(0);
    if total < redo.total {
        return Err(format!(
            "node {chosen:?} is feasible but not optimal: total {total} < {} of node {:?}",
            redo.total, redo.node
        ));
    }
    if redo.node != *chosen {
        return Err(format!(
            "node {chosen:?} ties node {:?} at total {total}, but the tie-break ({TIE_BREAK}) picks {:?}",
            redo.node, redo.node
        ));
    }
    if summary.total != total {
        return Err(format!(
            "recorded total {} of node {chosen:?} differs from the recomputed {total}",
            summary.total
        ));
    }
    if summary.scores != eval.scores {
        return Err(format!(
            "recorded scores of node {chosen:?} differ from the recomputation"
        ));
    }
    if summary.feasible_nodes != redo.feasible_nodes() {
        return Err(format!(
            "decision recorded {} feasible nodes, the recomputation finds {}",
            summary.feasible_nodes,
            redo.feasible_nodes()
        ));
    }
    Ok(redo)
}

/// Checks a full recorded [`Decision`]: everything [`verify_summary`] checks, and that every
/// recorded per-node evaluation (filter outcome, scores, total) equals the recomputed one.
///
/// # Errors
/// A message naming the first check that failed.
pub fn verify(
    decision: &Decision,
    pod: &Pod,
    nodes: &[NodeInfo],
    policy: &Policy,
) -> Result<(), String> {
    let redo = verify_summary(&decision.summary(), pod, nodes, policy)?;
    if let Some((recorded, _)) = decision.nodes.iter().zip(&redo.nodes).find(|(a, b)| a != b) {
        return Err(format!(
            "recorded evaluation of node {:?} differs from the recomputation",
            recorded.node
        ));
    }
    Ok(())
}
