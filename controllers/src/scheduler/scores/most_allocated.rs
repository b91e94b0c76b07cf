//! MostAllocated: prefer the fullest node (bin packing). Kubernetes' NodeResourcesFit
//! `MostAllocated` scoring strategy.

use super::{ResourceUse, ResourceWeights, cpu_and_memory, weighted_mean};
use crate::scheduler::framework::{MAX_NODE_SCORE, PodInfo, ScorePlugin};
use crate::scheduler::node_info::NodeInfo;

/// MostAllocated score.
///
/// For r in {cpu (millicores), memory (bytes)} with `allocatable_r > 0`:
/// `score_r = min(requested_r, allocatable_r) × 100 / allocatable_r` (int64 division, rounding
/// down), `requested_r` being the node's pods plus the incoming pod (missing requests count 100m /
/// 200Mi). `score = (score_cpu × w_cpu + score_mem × w_mem) / (w_cpu + w_mem)`.
#[derive(Debug, Clone, Copy, Default)]
pub struct MostAllocated {
    weights: ResourceWeights,
}

impl MostAllocated {
    /// The plugin name.
    pub const NAME: &'static str = "MostAllocated";

    /// The plugin with cpu and memory weights.
    pub fn new(weights: ResourceWeights) -> MostAllocated {
        MostAllocated { weights }
    }
}

/// `min(requested, allocatable) × 100 / allocatable`, 0 when nothing is allocatable.
pub fn most_requested_score(u: &ResourceUse) -> i64 {
    if u.allocatable <= 0 {
        return 0;
    }
    let requested = u.requested.min(u.allocatable);
    (i128::from(requested) * i128::from(MAX_NODE_SCORE) / i128::from(u.allocatable)) as i64
}

impl ScorePlugin for MostAllocated {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn formula(&self) -> String {
        format!(
            "for r in cpu (w={}), memory (w={}): score_r = min(requested_r, allocatable_r) * 100 / allocatable_r \
             (int64 division; requested_r includes the pod, missing requests count 100m cpu / 200Mi memory); \
             score = sum(score_r * w_r) / sum(w_r)",
            self.weights.cpu, self.weights.memory
        )
    }

    fn score(&self, pod: &PodInfo<'_>, node: &NodeInfo) -> i64 {
        weighted_mean(
            &cpu_and_memory(pod, node, true, self.weights),
            most_requested_score,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::testing::{make_node, make_pod};

    #[test]
    fn most_allocated_should_follow_the_table() {
        // (node cpu m, node mem, used cpu m, used mem, pod cpu m, pod mem, expected)
        let rows = [
            // cpu: 1500*100/4000 = 37 (37.5); mem: 3.5Gi*100/8Gi = 43 (43.75) → (37+43)/2 = 40
            (4000, "8Gi", 1000, "3Gi", 500, "512Mi", 40),
            // full node: cpu 100, mem 2Gi/4Gi = 50 → 75
            (2000, "4Gi", 1000, "1Gi", 1000, "1Gi", 75),
            // over-requested cpu is capped at 100: 3000 → 2000; mem 1Gi/4Gi = 25 → 62 (62.5)
            (2000, "4Gi", 2000, "512Mi", 1000, "512Mi", 62),
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
                MostAllocated::default().score(&PodInfo::new(&pod), &info),
                want,
                "{cpu} {used_cpu} {pcpu}"
            );
        }
    }

    #[test]
    fn most_allocated_should_score_zero_without_allocatable() {
        let info = NodeInfo::new(make_node("n").build());
        let pod = make_pod("p").req_cpu_milli(100).build();
        assert_eq!(
            MostAllocated::default().score(&PodInfo::new(&pod), &info),
            0
        );
    }
}
