//! LeastAllocated: prefer the node with the most room left (spreads load). Kubernetes'
//! NodeResourcesFit `LeastAllocated` scoring strategy, the default.

use super::{ResourceUse, ResourceWeights, cpu_and_memory, weighted_mean};
use crate::scheduler::framework::{MAX_NODE_SCORE, PodInfo, ScorePlugin};
use crate::scheduler::node_info::NodeInfo;

/// LeastAllocated score.
///
/// For r in {cpu (millicores), memory (bytes)} with `allocatable_r > 0`:
/// `score_r = (allocatable_r − requested_r) × 100 / allocatable_r` (int64 division, rounding
/// down; 0 when `requested_r > allocatable_r`), where `requested_r` is the node's pods plus the
/// incoming pod, missing requests counting 100m cpu / 200Mi memory.
/// `score = (score_cpu × w_cpu + score_mem × w_mem) / (w_cpu + w_mem)` (int64 division).
#[derive(Debug, Clone, Copy, Default)]
pub struct LeastAllocated {
    weights: ResourceWeights,
}

impl LeastAllocated {
    /// The plugin name.
    pub const NAME: &'static str = "LeastAllocated";

    /// The plugin with cpu and memory weights.
    pub fn new(weights: ResourceWeights) -> LeastAllocated {
        LeastAllocated { weights }
    }
}

/// `(allocatable − requested) × 100 / allocatable`, 0 when over-requested or nothing allocatable.
pub fn least_requested_score(u: &ResourceUse) -> i64 {
    if u.allocatable <= 0 || u.requested > u.allocatable {
        return 0;
    }
    let score = i128::from(u.allocatable - u.requested) * i128::from(MAX_NODE_SCORE)
        / i128::from(u.allocatable);
    score as i64
}

impl ScorePlugin for LeastAllocated {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn formula(&self) -> String {
        format!(
            "for r in cpu (w={}), memory (w={}): score_r = (allocatable_r - requested_r) * 100 / allocatable_r \
             (int64 division; 0 if requested_r > allocatable_r; requested_r includes the pod, missing \
             requests count 100m cpu / 200Mi memory); score = sum(score_r * w_r) / sum(w_r)",
            self.weights.cpu, self.weights.memory
        )
    }

    fn score(&self, pod: &PodInfo<'_>, node: &NodeInfo) -> i64 {
        weighted_mean(
            &cpu_and_memory(pod, node, true, self.weights),
            least_requested_score,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::testing::{make_node, make_pod};

    #[test]
    fn least_allocated_should_follow_the_table() {
        // (node cpu m, node mem, used cpu m, used mem, pod cpu m, pod mem, expected)
        let rows = [
            // cpu: (4000-1500)/4000*100 = 62 (62.5 down); mem: (8Gi-3.5Gi)/8Gi*100 = 56 (56.25) → (62+56)/2 = 59
            (4000, "8Gi", 1000, "3Gi", 500, "512Mi", 59),
            // empty node, tiny pod: cpu (4000-100)/4000 = 97 (97.5); mem (8Gi-1Gi)/8Gi = 87 (87.5) → 92
            (4000, "8Gi", 0, "0", 100, "1Gi", 92),
            // full cpu: (2000-2000)/2000 = 0; mem (4Gi-2Gi)/4Gi = 50 → 25
            (2000, "4Gi", 1000, "1Gi", 1000, "1Gi", 25),
            // over-requested cpu scores 0: 3000 > 2000; mem (4Gi-1Gi)/4Gi = 75 → 37 (37.5 down)
            (2000, "4Gi", 2000, "512Mi", 1000, "512Mi", 37),
        ];
        for (cpu, mem, used_cpu, used_mem, pcpu, pmem, want) in rows {
            let node = make_node("n").cpu_milli(cpu).mem(mem).build();
            let old = make_pod("old")
                .req_cpu_milli(used_cpu)
                .req_mem(used_mem)
                .build();
            let info = NodeInfo::with_pods(node, [&old]);
            let pod = make_pod("p").req_cpu_milli(pcpu).req_mem(pmem).build();
            assert_eq!(
                LeastAllocated::default().score(&PodInfo::new(&pod), &info),
                want,
                "{cpu} {used_cpu} {pcpu}"
            );
        }
    }

    #[test]
    fn least_allocated_should_count_missing_requests_as_defaults() {
        // pod without requests counts 100m / 200Mi: cpu (1000-100)/1000 = 90; mem (1Gi-200Mi)/1Gi = 80 (80.4) → 85
        let info = NodeInfo::new(make_node("n").cpu_milli(1000).mem("1Gi").build());
        let pod = make_pod("p").build();
        assert_eq!(
            LeastAllocated::default().score(&PodInfo::new(&pod), &info),
            85
        );
    }

    #[test]
    fn least_allocated_should_weight_resources() {
        // cpu 90 × 3 + mem 80 × 1 = 350 / 4 = 87
        let info = NodeInfo::new(make_node("n").cpu_milli(1000).mem("1Gi").build());
        let pod = make_pod("p").build();
        let plugin = LeastAllocated::new(ResourceWeights::new(3, 1).unwrap());
        assert_eq!(plugin.score(&PodInfo::new(&pod), &info), 87);
        assert!(ResourceWeights::new(0, 1).is_err());
    }
}
