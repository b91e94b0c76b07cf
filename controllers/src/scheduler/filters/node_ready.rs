//! NodeReady: the node reports `Ready=True` and is not cordoned (`spec.unschedulable`), unless the
//! pod tolerates the cordon (Kubernetes' NodeUnschedulable plugin, plus a readiness check that
//! stands in for the `node.kubernetes.io/not-ready` taint).

use k8s_openapi::api::core::v1::Taint;

use super::taints::tolerated;
use crate::scheduler::framework::{FilterPlugin, PodInfo, Status};
use crate::scheduler::node_info::NodeInfo;

/// The taint key a cordoned node is treated as carrying (`node.kubernetes.io/unschedulable`).
pub const UNSCHEDULABLE_TAINT: &str = "node.kubernetes.io/unschedulable";

/// The NodeReady filter. A node fails, unresolvable:
/// - with [`NodeReady::UNSCHEDULABLE`] when `spec.unschedulable` is true and the pod does not
///   tolerate `node.kubernetes.io/unschedulable:NoSchedule`;
/// - with [`NodeReady::NOT_READY`] when its `Ready` condition is missing or not `True`.
#[derive(Debug, Clone, Copy, Default)]
pub struct NodeReady;

impl NodeReady {
    /// The plugin name.
    pub const NAME: &'static str = "NodeReady";
    /// Kubernetes' NodeUnschedulable reason.
    pub const UNSCHEDULABLE: &'static str = "node(s) were unschedulable";
    /// The reason for a node whose Ready condition is not True.
    pub const NOT_READY: &'static str = "node(s) were not ready";
}

/// True when the node's `Ready` condition has status `True`.
pub fn is_ready(node: &NodeInfo) -> bool {
    node.is_ready()
}

impl FilterPlugin for NodeReady {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn filter(&self, pod: &PodInfo<'_>, node: &NodeInfo) -> Status {
        if node.is_cordoned() {
            let taint = Taint {
                key: UNSCHEDULABLE_TAINT.to_owned(),
                effect: "NoSchedule".to_owned(),
                value: None,
                time_added: None,
            };
            if !tolerated(pod.tolerations(), &taint) {
                return Status::unresolvable(Self::UNSCHEDULABLE);
            }
        }
        if !is_ready(node) {
            return Status::unresolvable(Self::NOT_READY);
        }
        Status::success()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::testing::{make_node, make_pod};

    #[test]
    fn node_ready_should_follow_the_table() {
        let tolerant = make_pod("p")
            .toleration(UNSCHEDULABLE_TAINT, "Exists", "", "NoSchedule")
            .build();
        let plain = make_pod("p").build();
        let rows = [
            // (case, node, pod, expected reason or None)
            ("ready", make_node("n").build(), &plain, None),
            (
                "ready false",
                make_node("n").ready("False").build(),
                &plain,
                Some(NodeReady::NOT_READY),
            ),
            (
                "ready unknown",
                make_node("n").ready("Unknown").build(),
                &plain,
                Some(NodeReady::NOT_READY),
            ),
            (
                "cordoned",
                make_node("n").unschedulable().build(),
                &plain,
                Some(NodeReady::UNSCHEDULABLE),
            ),
            (
                "cordon tolerated",
                make_node("n").unschedulable().build(),
                &tolerant,
                None,
            ),
        ];
        for (case, node, pod, want) in rows {
            let status = NodeReady.filter(&PodInfo::new(pod), &NodeInfo::new(node));
            assert_eq!(status.reasons.first().map(String::as_str), want, "{case}");
        }
        // a node posted without status has no Ready condition
        let mut bare = make_node("n").build();
        bare.status = None;
        let status = NodeReady.filter(&PodInfo::new(&plain), &NodeInfo::new(bare));
        assert_eq!(status.reasons, vec![NodeReady::NOT_READY]);
    }
}
