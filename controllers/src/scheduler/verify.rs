//! V for scheduling decisions: recompute `f(P, N)` and accept a recorded decision only when its
//! node is feasible and optimal under the documented tie-break among the nodes its search looked
//! at ([`crate::scheduler::search`]), and everything it recorded matches.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::Pod;

use super::decision::{Decision, DecisionSummary, schedule};
use super::evaluate::{Scratch, evaluate, first_failure};
use super::framework::PodInfo;
use super::node_info::{NodeInfo, pod_key};
use super::policy::{Policy, TIE_BREAK};
use super::search::{NodeSearch, NodesByName};

/// Checks a compact decision ([`DecisionSummary`]) against a recomputation on the same pod, nodes
/// (with the recorded assumed pods counted on them) and policy. In order: policy name, weights,
/// filters and tie-break; the pod; the assumed pods; the node count; the recorded search (its
/// start index within the nodes, its feasible-node count the one `percentageOfNodesToScore`
/// gives: [`NodeSearch::check`]); then the same search is repeated and the chosen node must
/// exist, be feasible, lie in the searched window, have the highest total there and win the
/// tie-break ([`TIE_BREAK`]); last the recorded total, scores and feasible-node count.
///
/// # Errors
/// A message naming the first check that failed, e.g. `node "n2" is feasible but not optimal:
/// total 310 < 342 of node "n1"`.
pub fn verify_summary(
    summary: &DecisionSummary,
    pod: &Pod,
    nodes: &[NodeInfo],
    policy: &Policy,
) -> Result<(), String> {
    verify_summary_in(
        summary,
        pod,
        &NodesByName::new(nodes),
        policy,
        &mut Scratch::default(),
    )
}

/// [`verify_summary`] over nodes already in name order, reusing `scratch` (what the replay's V
/// calls for every binding).
///
/// # Errors
/// A message naming the first check that failed.
pub fn verify_summary_in(
    summary: &DecisionSummary,
    pod: &Pod,
    nodes: &NodesByName<'_>,
    policy: &Policy,
    scratch: &mut Scratch,
) -> Result<(), String> {
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
    let assumed: Vec<String> = nodes
        .iter()
        .flat_map(NodeInfo::assumed_pods)
        .collect::<BTreeSet<String>>()
        .into_iter()
        .collect();
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
    recompute(summary, pod, nodes, policy, scratch)
}

/// The recomputation part of [`verify_summary_in`]: the search the summary records (or every node
/// from index 0 when it records none) is repeated, and the chosen node must be feasible, inside
/// the searched window, have the highest total there and win the tie-break ([`TIE_BREAK`]); then
/// the recorded total, scores and feasible-node count must equal the recomputed ones. The
/// guarantee is the window's: a node outside it may score higher.
fn recompute(
    summary: &DecisionSummary,
    pod: &Pod,
    nodes: &NodesByName<'_>,
    policy: &Policy,
    scratch: &mut Scratch,
) -> Result<(), String> {
    let search = match summary.search {
        Some(s) => {
            s.check(nodes.len())?;
            s
        }
        None => NodeSearch::all(nodes.len()),
    };
    let info = PodInfo::new(pod);
    evaluate(scratch, &info, nodes, policy, search);
    let window = || match summary.search {
        Some(s) => format!(
            " (best of the {} feasible nodes found searching for {} from index {})",
            scratch.feasible(),
            s.feasible_nodes_to_find,
            s.start_node_index
        ),
        None => String::new(),
    };
    let Some((best, best_total)) = scratch.best() else {
        let why = scratch.unschedulable(&info, nodes, policy, Vec::new());
        return Err(format!(
            "recomputation finds the pod unschedulable: {}",
            why.message()
        ));
    };
    let chosen = &summary.node;
    let Some(pos) = nodes.position(chosen) else {
        return Err(format!("node {chosen:?} is not in the state"));
    };
    let total = match scratch.total_of(pos) {
        Some(t) => t,
        None => {
            let failure = scratch
                .failure_of(pos, policy)
                .map(|(plugin, reasons)| (plugin, reasons.to_vec()))
                .or_else(|| {
                    first_failure(policy, &info, nodes.get(pos))
                        .map(|(f, s)| (policy.filters()[f].name(), s.reasons))
                });
            return Err(match failure {
                Some((plugin, reasons)) => format!(
                    "node {chosen:?} is not feasible: {plugin}: {}",
                    reasons.join(", ")
                ),
                None => format!(
                    "node {chosen:?} is feasible but outside the searched window: the search from \
                     index {} found {} feasible nodes before reaching it",
                    search.start_node_index,
                    scratch.feasible()
                ),
            });
        }
    };
    let best_name = nodes.get(best).name();
    if total < best_total {
        return Err(format!(
            "node {chosen:?} is feasible but not optimal: total {total} < {best_total} of node \
             {best_name:?}{}",
            window()
        ));
    }
    if best != pos {
        return Err(format!(
            "node {chosen:?} ties node {best_name:?} at total {total}, but the tie-break \
             ({TIE_BREAK}) picks {best_name:?}"
        ));
    }
    if summary.total != total {
        return Err(format!(
            "recorded total {} of node {chosen:?} differs from the recomputed {total}",
            summary.total
        ));
    }
    if summary.scores != scratch.plugin_scores(pos, policy) {
        return Err(format!(
            "recorded scores of node {chosen:?} differ from the recomputation"
        ));
    }
    if summary.feasible_nodes != scratch.feasible() {
        return Err(format!(
            "decision recorded {} feasible nodes, the recomputation finds {}",
            summary.feasible_nodes,
            scratch.feasible()
        ));
    }
    Ok(())
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
    verify_summary(&decision.summary(), pod, nodes, policy)?;
    let redo = schedule(pod, nodes, policy).map_err(|u| u.message())?;
    if let Some((recorded, _)) = decision.nodes.iter().zip(&redo.nodes).find(|(a, b)| a != b) {
        return Err(format!(
            "recorded evaluation of node {:?} differs from the recomputation",
            recorded.node
        ));
    }
    Ok(())
}
