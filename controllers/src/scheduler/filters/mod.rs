//! Filter plugins: each decides whether one node can run the pod at all.
//!
//! [`default_filters`] is the order the scheduler runs them in; for each node the first failing
//! filter's reasons are reported (as in Kubernetes, which stops at the first failure per node).

pub mod node_name;
pub mod node_ready;
pub mod node_selector;
pub mod resources;
pub mod taints;

use std::sync::Arc;

use super::framework::FilterPlugin;

pub use node_name::NodeName;
pub use node_ready::NodeReady;
pub use node_selector::NodeAffinity;
pub use resources::NodeResourcesFit;
pub use taints::TaintToleration;

/// The filters in the order they run: NodeName, TaintToleration, NodeReady (readiness and
/// `spec.unschedulable`), NodeAffinity (nodeSelector and required affinity), NodeResourcesFit.
///
/// Taints come before readiness so a node the node-health controller tainted
/// `node.kubernetes.io/unreachable` reports that taint, as a Kubernetes cluster does.
pub fn default_filters() -> Vec<Arc<dyn FilterPlugin>> {
    vec![
        Arc::new(NodeName),
        Arc::new(TaintToleration),
        Arc::new(NodeReady),
        Arc::new(NodeAffinity),
        Arc::new(NodeResourcesFit),
    ]
}
