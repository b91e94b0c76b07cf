//! NodeName: a pod whose `spec.nodeName` is preset fits only that node.

use crate::scheduler::framework::{FilterPlugin, PodInfo, Status};
use crate::scheduler::node_info::NodeInfo;

/// The NodeName filter: when the pod sets `spec.nodeName`, every other node fails with
/// [`NodeName::REASON`] (unresolvable). Pods without it pass everywhere.
#[derive(Debug, Clone, Copy, Default)]
pub struct NodeName;

impl NodeName {
    /// The plugin name.
    pub const NAME: &'static str = "NodeName";
    /// Kubernetes' reason (`ErrReason` of the NodeName plugin).
    pub const REASON: &'static str = "node(s) didn't match the requested node name";
}

impl FilterPlugin for NodeName {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn filter(&self, pod: &PodInfo<'_>, node: &NodeInfo) -> Status {
        match pod.node_name() {
            Some(wanted) if wanted != node.name() => Status::unresolvable(Self::REASON),
            _ => Status::success(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::testing::{make_node, make_pod};

    #[test]
    fn node_name_should_pass_only_the_named_node() {
        let rows = [
            // (pod nodeName, node, passes)
            (None, "n1", true),
            (Some("n1"), "n1", true),
            (Some("n1"), "n2", false),
        ];
        for (wanted, node, pass) in rows {
            let mut b = make_pod("p");
            if let Some(w) = wanted {
                b = b.node_name(w);
            }
            let pod = b.build();
            let info = NodeInfo::new(make_node(node).build());
            let status = NodeName.filter(&PodInfo::new(&pod), &info);
            assert_eq!(status.is_success(), pass, "{wanted:?} on {node}");
        }
    }
}
