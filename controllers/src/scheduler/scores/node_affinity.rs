//! NodeAffinity (score): preferred node affinity terms
//! (`preferredDuringSchedulingIgnoredDuringExecution`).

use crate::scheduler::filters::node_selector::term_matches;
use crate::scheduler::framework::{MAX_NODE_SCORE, PodInfo, ScorePlugin, default_normalize_score};
use crate::scheduler::node_info::NodeInfo;

/// NodeAffinity score: `raw = Σ weight` of the preferred terms the node matches (terms of weight
/// ≤ 0 and empty terms never count); normalized over the feasible nodes as
/// `raw × 100 / max(raw)` (int64 division; all 0 when no node matches any term).
#[derive(Debug, Clone, Copy, Default)]
pub struct NodeAffinityScore;

impl NodeAffinityScore {
    /// The plugin name.
    pub const NAME: &'static str = "NodeAffinity";
}

impl ScorePlugin for NodeAffinityScore {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn formula(&self) -> String {
        "raw = sum of weights of matching preferredDuringSchedulingIgnoredDuringExecution terms; \
         score = raw * 100 / max(raw over feasible nodes) (int64 division; 0 if max is 0)"
            .to_owned()
    }

    fn score(&self, pod: &PodInfo<'_>, node: &NodeInfo) -> i64 {
        let Some(terms) = pod.node_affinity().and_then(|a| {
            a.preferred_during_scheduling_ignored_during_execution
                .as_ref()
        }) else {
            return 0;
        };
        terms
            .iter()
            .filter(|t| t.weight > 0 && term_matches(&t.preference, node))
            .map(|t| i64::from(t.weight))
            .sum()
    }

    fn normalize(&self, scores: &mut [i64]) {
        default_normalize_score(MAX_NODE_SCORE, false, scores);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::testing::{expr, make_node, make_pod, term};

    #[test]
    fn node_affinity_score_should_sum_and_normalize_weights() {
        let pod = make_pod("p")
            .prefer(80, term(vec![expr("disktype", "In", &["ssd"])]))
            .prefer(20, term(vec![expr("zone", "In", &["a"])]))
            .build();
        let nodes = [
            // (labels, raw)
            (
                make_node("both")
                    .label("disktype", "ssd")
                    .label("zone", "a")
                    .build(),
                100,
            ), // 80 + 20
            (make_node("ssd").label("disktype", "ssd").build(), 80),
            (make_node("zone").label("zone", "a").build(), 20),
            (make_node("none").build(), 0),
        ];
        let info = PodInfo::new(&pod);
        let mut raw: Vec<i64> = nodes
            .iter()
            .map(|(n, _)| NodeAffinityScore.score(&info, &NodeInfo::new(n.clone())))
            .collect();
        assert_eq!(raw, nodes.iter().map(|(_, r)| *r).collect::<Vec<_>>());
        NodeAffinityScore.normalize(&mut raw);
        // max = 100 → unchanged
        assert_eq!(raw, vec![100, 80, 20, 0]);
        // without the "both" node: max = 80 → 80*100/80 = 100, 20*100/80 = 25, 0
        let mut raw = vec![80, 20, 0];
        NodeAffinityScore.normalize(&mut raw);
        assert_eq!(raw, vec![100, 25, 0]);
    }
}
