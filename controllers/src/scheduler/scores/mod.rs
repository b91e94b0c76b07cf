//! Score plugins: each ranks feasible nodes on `0..=100`, with integer arithmetic and its formula
//! in its documentation and in [`crate::scheduler::framework::ScorePlugin::formula`].

pub mod balanced;
pub mod least_allocated;
pub mod most_allocated;
pub mod node_affinity;
pub mod spread;
pub mod taint_toleration;

pub use balanced::BalancedAllocation;
pub use least_allocated::LeastAllocated;
pub use most_allocated::MostAllocated;
pub use node_affinity::NodeAffinityScore;
pub use spread::PodSpread;
pub use taint_toleration::TaintTolerationScore;

use super::framework::PodInfo;
use super::node_info::NodeInfo;
use super::policy::PolicyError;

/// Weights of cpu and memory in a resource score (Kubernetes' `scoringStrategy.resources`, each
/// `1..=100`, default 1 and 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResourceWeights {
    /// Weight of cpu.
    pub cpu: i64,
    /// Weight of memory.
    pub memory: i64,
}

impl Default for ResourceWeights {
    fn default() -> Self {
        ResourceWeights { cpu: 1, memory: 1 }
    }
}

impl ResourceWeights {
    /// Validated weights.
    ///
    /// # Errors
    /// [`PolicyError::InvalidWeight`] when a weight is outside `1..=100`.
    pub fn new(cpu: i64, memory: i64) -> Result<ResourceWeights, PolicyError> {
        for (name, w) in [("cpu", cpu), ("memory", memory)] {
            if !(1..=100).contains(&w) {
                return Err(PolicyError::InvalidWeight {
                    plugin: format!("resource {name}"),
                    weight: w,
                });
            }
        }
        Ok(ResourceWeights { cpu, memory })
    }
}

/// One resource as a resource score sees it, after placing the pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResourceUse {
    /// Requested by the node's pods plus the incoming pod (millicores or bytes).
    pub requested: i64,
    /// Allocatable on the node (same unit).
    pub allocatable: i64,
    /// The resource's weight.
    pub weight: i64,
}

/// cpu and memory use of `node` once `pod` is placed on it. With `non_zero`, missing requests
/// count as 100m / 200Mi (LeastAllocated, MostAllocated); without, actual requests are used
/// (BalancedAllocation), as in Kubernetes.
pub fn cpu_and_memory(
    pod: &PodInfo<'_>,
    node: &NodeInfo,
    non_zero: bool,
    w: ResourceWeights,
) -> [ResourceUse; 2] {
    let (on_node, incoming) = if non_zero {
        (node.non_zero_requested(), &pod.non_zero_requests)
    } else {
        (node.requested(), &pod.requests)
    };
    let alloc = node.allocatable();
    [
        ResourceUse {
            requested: on_node.cpu_millis.saturating_add(incoming.cpu_millis),
            allocatable: alloc.cpu_millis,
            weight: w.cpu,
        },
        ResourceUse {
            requested: on_node.memory_bytes.saturating_add(incoming.memory_bytes),
            allocatable: alloc.memory_bytes,
            weight: w.memory,
        },
    ]
}

/// Weighted mean of per-resource scores over resources with `allocatable > 0`
/// (`Σ score_r × w_r / Σ w_r`, int64 division; 0 when no resource counts).
pub fn weighted_mean(uses: &[ResourceUse], per_resource: impl Fn(&ResourceUse) -> i64) -> i64 {
    let (mut sum, mut weights) = (0i64, 0i64);
    for u in uses.iter().filter(|u| u.allocatable > 0) {
        sum += per_resource(u) * u.weight;
        weights += u.weight;
    }
    if weights == 0 { 0 } else { sum / weights }
}
