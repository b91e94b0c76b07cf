//! TaintToleration (score): avoid nodes with `PreferNoSchedule` taints the pod does not tolerate.

use crate::scheduler::filters::taints::{taints_of, tolerates};
use crate::scheduler::framework::{MAX_NODE_SCORE, PodInfo, ScorePlugin, default_normalize_score};
use crate::scheduler::node_info::NodeInfo;

/// TaintToleration score: `raw` = number of the node's `PreferNoSchedule` taints not tolerated by
/// any of the pod's tolerations whose effect is empty or `PreferNoSchedule`; normalized inversely
/// over the feasible nodes: `100 − raw × 100 / max(raw)` (int64 division; all 100 when no node has
/// such a taint). Fewest untolerated taints → 100.
#[derive(Debug, Clone, Copy, Default)]
pub struct TaintTolerationScore;

impl TaintTolerationScore {
    /// The plugin name.
    pub const NAME: &'static str = "TaintToleration";
}

impl ScorePlugin for TaintTolerationScore {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn formula(&self) -> String {
        "raw = count of untolerated PreferNoSchedule taints; score = 100 - raw * 100 / max(raw over \
         feasible nodes) (int64 division; 100 if max is 0)"
            .to_owned()
    }

    fn score(&self, pod: &PodInfo<'_>, node: &NodeInfo) -> i64 {
        let tolerations: Vec<_> = pod
            .tolerations()
            .iter()
            .filter(|t| matches!(t.effect.as_deref().unwrap_or(""), "" | "PreferNoSchedule"))
            .collect();
        taints_of(node)
            .iter()
            .filter(|taint| taint.effect == "PreferNoSchedule")
            .filter(|taint| !tolerations.iter().any(|t| tolerates(t, taint)))
            .count() as i64
    }

    fn normalize(&self, scores: &mut [i64]) {
        default_normalize_score(MAX_NODE_SCORE, true, scores);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::testing::{make_node, make_pod};

    #[test]
    fn taint_toleration_score_should_prefer_fewest_untolerated_taints() {
        let pod = make_pod("p")
            .toleration("tolerated", "Exists", "", "PreferNoSchedule")
            .build();
        let nodes = [
            // (node, raw)
            (make_node("clean").build(), 0),
            (
                make_node("one").taint("a", "", "PreferNoSchedule").build(),
                1,
            ),
            (
                make_node("two")
                    .taint("a", "", "PreferNoSchedule")
                    .taint("b", "x", "PreferNoSchedule")
                    .build(),
                2,
            ),
            // tolerated taint and a NoSchedule taint (filter's business) do not count
            (
                make_node("tol")
                    .taint("tolerated", "", "PreferNoSchedule")
                    .taint("c", "", "NoSchedule")
                    .build(),
                0,
            ),
        ];
        let info = PodInfo::new(&pod);
        let mut raw: Vec<i64> = nodes
            .iter()
            .map(|(n, _)| TaintTolerationScore.score(&info, &NodeInfo::new(n.clone())))
            .collect();
        assert_eq!(raw, vec![0, 1, 2, 0]);
        TaintTolerationScore.normalize(&mut raw);
        // max = 2: 100 − 0 = 100, 100 − 1*100/2 = 50, 100 − 100 = 0, 100
        assert_eq!(raw, vec![100, 50, 0, 100]);
    }
}
