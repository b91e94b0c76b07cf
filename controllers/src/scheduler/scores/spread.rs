//! PodSpread: spread pods with the same labels over nodes (in the spirit of Kubernetes'
//! SelectorSpread, with the pod's own label set as the selector).

use crate::scheduler::framework::{MAX_NODE_SCORE, PodInfo, ScorePlugin, default_normalize_score};
use crate::scheduler::node_info::NodeInfo;

/// PodSpread score: `raw` = number of pods counted on the node (observed and assumed, not
/// terminal) in the same namespace with exactly the same labels as the incoming pod; normalized
/// inversely over the feasible nodes: `100 − raw × 100 / max(raw)` (int64 division; all 100 when
/// max is 0). A pod without labels is not spread (every node scores 100).
#[derive(Debug, Clone, Copy, Default)]
pub struct PodSpread;

impl PodSpread {
    /// The plugin name.
    pub const NAME: &'static str = "PodSpread";
}

impl ScorePlugin for PodSpread {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn formula(&self) -> String {
        "raw = pods on the node with the same namespace and labels as the pod; score = 100 - raw * 100 / \
         max(raw over feasible nodes) (int64 division; 100 if max is 0 or the pod has no labels)"
            .to_owned()
    }

    fn score(&self, pod: &PodInfo<'_>, node: &NodeInfo) -> i64 {
        pod.spread_key
            .as_deref()
            .map(|k| i64::from(node.count_spread(k)))
            .unwrap_or(0)
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
    fn pod_spread_should_prefer_nodes_with_fewer_siblings() {
        let web = |n: &str| make_pod(n).label("app", "web").build();
        let mut a = NodeInfo::new(make_node("a").build());
        let mut b = NodeInfo::new(make_node("b").build());
        let c = NodeInfo::new(make_node("c").build());
        a.add_pod(&web("w1"));
        a.add_pod(&web("w2"));
        a.add_pod(&web("w3"));
        b.add_pod(&web("w4"));
        // a different label set and a different namespace do not count
        b.add_pod(&make_pod("other").label("app", "db").build());
        b.add_pod(&make_pod("w5").label("app", "web").namespace("prod").build());
        let pod = web("new");
        let info = PodInfo::new(&pod);
        let mut raw: Vec<i64> = [&a, &b, &c]
            .iter()
            .map(|n| PodSpread.score(&info, n))
            .collect();
        assert_eq!(raw, vec![3, 1, 0]);
        PodSpread.normalize(&mut raw);
        // max = 3: 100 − 100 = 0, 100 − 100/3 = 67 (33 by int division), 100
        assert_eq!(raw, vec![0, 67, 100]);
        // unlabeled pods are not spread
        let plain = make_pod("plain").build();
        assert_eq!(PodSpread.score(&PodInfo::new(&plain), &a), 0);
    }
}
