//! Which pods a ReplicaSet deletes first when it scales down: Kubernetes' `ActivePodsWithRanks`
//! order (`pkg/controller/controller_utils.go`), applied in turn until two pods differ:
//!
//! 1. not yet scheduled (no `spec.nodeName`) before scheduled;
//! 2. phase `Pending` before `Unknown` before `Running`;
//! 3. not ready before ready;
//! 4. pods on a node that runs more of the set's pods before those on emptier nodes (doubled-up
//!    pods first);
//! 5. ready for less time before ready for longer;
//! 6. more container restarts before fewer;
//! 7. newer before older (`creationTimestamp`), then by name for a total order.

use super::super::ready_since;
use k8s_openapi::api::core::v1::Pod;
use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::Arc;

/// The phase ordinal of rule 2 (`Pending` 0, `Unknown` 1, `Running` 2; anything else 3).
fn phase_rank(pod: &Pod) -> u8 {
    match pod.status.as_ref().and_then(|s| s.phase.as_deref()) {
        Some("Pending") | None => 0,
        Some("Unknown") => 1,
        Some("Running") => 2,
        Some(_) => 3,
    }
}

/// The most restarts of any of the pod's containers.
fn max_restarts(pod: &Pod) -> i32 {
    pod.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_deref())
        .unwrap_or_default()
        .iter()
        .map(|c| c.restart_count)
        .max()
        .unwrap_or(0)
}

fn node_of(pod: &Pod) -> &str {
    pod.spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .unwrap_or("")
}

/// Compares `a` and `b` by the rules of the module docs (`Less`: delete `a` first); `rank` is the
/// number of the set's pods on each pod's node (rule 4).
fn compare(a: &Pod, b: &Pod, rank_a: usize, rank_b: usize) -> Ordering {
    let (na, nb) = (node_of(a).is_empty(), node_of(b).is_empty());
    nb.cmp(&na)
        .then_with(|| phase_rank(a).cmp(&phase_rank(b)))
        .then_with(|| {
            let (ra, rb) = (ready_since(a), ready_since(b));
            ra.is_some().cmp(&rb.is_some())
        })
        .then_with(|| rank_b.cmp(&rank_a))
        .then_with(|| match (ready_since(a), ready_since(b)) {
            (Some(ta), Some(tb)) => tb.cmp(&ta),
            _ => Ordering::Equal,
        })
        .then_with(|| max_restarts(b).cmp(&max_restarts(a)))
        .then_with(|| {
            let ca = a.metadata.creation_timestamp.as_ref().map(|t| t.0);
            let cb = b.metadata.creation_timestamp.as_ref().map(|t| t.0);
            cb.cmp(&ca)
        })
        .then_with(|| a.metadata.name.cmp(&b.metadata.name))
}

/// The `n` pods of `pods` (a ReplicaSet's active pods) to delete first, in deletion order.
pub fn pods_to_delete(pods: &[Arc<Pod>], n: usize) -> Vec<Arc<Pod>> {
    let mut per_node: HashMap<&str, usize> = HashMap::new();
    for p in pods {
        let node = node_of(p);
        if !node.is_empty() {
            *per_node.entry(node).or_default() += 1;
        }
    }
    let rank = |p: &Pod| per_node.get(node_of(p)).copied().unwrap_or(0);
    let mut ranked: Vec<(usize, &Arc<Pod>)> = pods.iter().map(|p| (rank(p), p)).collect();
    ranked.sort_by(|(ra, a), (rb, b)| compare(a, b, *ra, *rb));
    ranked.into_iter().take(n).map(|(_, p)| p.clone()).collect()
}
