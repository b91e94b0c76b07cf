//! BalancedAllocation: prefer the node whose cpu and memory would be used in equal proportion.
//! Kubernetes' NodeResourcesBalancedAllocation plugin.

use super::{ResourceUse, ResourceWeights, cpu_and_memory};
use crate::scheduler::framework::{MAX_NODE_SCORE, PodInfo, ScorePlugin};
use crate::scheduler::node_info::NodeInfo;

/// BalancedAllocation score.
///
/// With `f_r = min(requested_r, allocatable_r) / allocatable_r` for cpu and memory (actual
/// requests, no 100m / 200Mi defaults, node's pods plus the incoming pod), Kubernetes computes
/// `(1 − std(f)) × 100` truncated, and for two resources `std = |f_cpu − f_mem| / 2`. We compute it
/// exactly in integers: `score = 100 − ceil(100 × |req_cpu × alloc_mem − req_mem × alloc_cpu| /
/// (2 × alloc_cpu × alloc_mem))` (i128). When fewer than two resources have `allocatable > 0`,
/// the deviation is 0 and the score 100.
#[derive(Debug, Clone, Copy, Default)]
pub struct BalancedAllocation;

impl BalancedAllocation {
    /// The plugin name.
    pub const NAME: &'static str = "BalancedAllocation";
}

/// The exact integer form of `(1 − |f_a − f_b| / 2) × 100`, truncated.
pub fn balanced_score(a: &ResourceUse, b: &ResourceUse) -> i64 {
    if a.allocatable <= 0 || b.allocatable <= 0 {
        return MAX_NODE_SCORE;
    }
    let (ra, aa) = (
        i128::from(a.requested.min(a.allocatable)),
        i128::from(a.allocatable),
    );
    let (rb, ab) = (
        i128::from(b.requested.min(b.allocatable)),
        i128::from(b.allocatable),
    );
    let num = i128::from(MAX_NODE_SCORE) * (ra * ab - rb * aa).abs();
    let den = 2 * aa * ab;
    let ceil = (num + den - 1) / den;
    MAX_NODE_SCORE - ceil as i64
}

impl ScorePlugin for BalancedAllocation {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn formula(&self) -> String {
        "f_r = min(requested_r, allocatable_r) / allocatable_r for cpu and memory (actual requests incl. \
         the pod); score = floor((1 - |f_cpu - f_mem| / 2) * 100), computed exactly in integers; 100 when \
         a resource has no allocatable"
            .to_owned()
    }

    fn score(&self, pod: &PodInfo<'_>, node: &NodeInfo) -> i64 {
        let [cpu, mem] = cpu_and_memory(pod, node, false, ResourceWeights::default());
        balanced_score(&cpu, &mem)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::testing::{make_node, make_pod};

    #[test]
    fn balanced_allocation_should_follow_the_table() {
        // (node cpu m, node mem, used cpu m, used mem, pod cpu m, pod mem, expected)
        let rows = [
            // f_cpu = 1500/4000 = 0.375, f_mem = 3.5/8 = 0.4375 → 100 − ceil(100 × 0.0625 / 2 = 3.125) = 96
            (4000, "8Gi", 1000, "3Gi", 500, "512Mi", 96),
            // equal fractions 0.5 / 0.5 → 100
            (2000, "4Gi", 500, "1Gi", 500, "1Gi", 100),
            // f_cpu = 1.0, f_mem = 0.0 → 100 − 50 = 50
            (1000, "4Gi", 0, "0", 1000, "0", 50),
            // f_cpu = 1/3, f_mem = 0 → 100 − ceil(16.67) = 83 (Kubernetes: int64((1 − 0.1667) × 100) = 83)
            (3000, "4Gi", 0, "0", 1000, "0", 83),
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
                BalancedAllocation.score(&PodInfo::new(&pod), &info),
                want,
                "{cpu} {used_cpu} {pcpu}"
            );
        }
    }

    #[test]
    fn balanced_allocation_should_score_100_without_memory() {
        let info = NodeInfo::new(make_node("n").cpu_milli(1000).build());
        let pod = make_pod("p").req_cpu_milli(900).build();
        assert_eq!(BalancedAllocation.score(&PodInfo::new(&pod), &info), 100);
    }
}
