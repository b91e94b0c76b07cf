//! NodeResourcesFit: the node has room for the pod's requests
//! (<https://kubernetes.io/docs/concepts/scheduling-eviction/resource-bin-packing/>, Kubernetes'
//! `fitsRequest`).

use crate::scheduler::framework::{FilterPlugin, PodInfo, Status};
use crate::scheduler::node_info::NodeInfo;
use crate::scheduler::requests::{CPU, EPHEMERAL_STORAGE, MEMORY, Resources};

/// The NodeResourcesFit filter.
///
/// A node fails with [`crate::scheduler::framework::Code::Unschedulable`] (other pods leaving can
/// make room), with one reason per short resource, in this order:
/// - `Too many pods`: `pod_count + 1 > allowed_pods`;
/// - `Insufficient cpu` / `Insufficient memory` / `Insufficient ephemeral-storage`: the pod requests
///   more than `allocatable − requested` of it (cpu in millicores, the others in bytes);
/// - `Insufficient <name>` for each extended resource (`nvidia.com/gpu`), in name order.
///
/// A resource the pod does not request (0) never fails. Requests default to limits and include init
/// containers and overhead ([`crate::scheduler::requests::pod_requests`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct NodeResourcesFit;

impl NodeResourcesFit {
    /// The plugin name.
    pub const NAME: &'static str = "NodeResourcesFit";
}

/// The reason for a short resource, in Kubernetes' words.
pub fn insufficient(resource: &str) -> String {
    format!("Insufficient {resource}")
}

/// The reason for a node at its pod limit.
pub const TOO_MANY_PODS: &str = "Too many pods";

impl FilterPlugin for NodeResourcesFit {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn filter(&self, pod: &PodInfo<'_>, node: &NodeInfo) -> Status {
        let count = i64::try_from(node.pod_count()).unwrap_or(i64::MAX);
        let reasons = fit_reasons(
            &pod.requests,
            count,
            node.allowed_pods(),
            node.allocatable(),
            node.requested(),
        );
        if reasons.is_empty() {
            Status::success()
        } else {
            Status {
                code: crate::scheduler::framework::Code::Unschedulable,
                reasons,
            }
        }
    }
}

/// Why a pod requesting `want` does not fit a node that allows `allowed_pods` pods and offers
/// `allocatable`, while `pod_count` pods requesting `used` in all are bound to it: the reasons in
/// [`NodeResourcesFit`]'s order and words (cpu in millicores, memory and storage in bytes); empty
/// when it fits. Shared by the filter and by the API's Binding feasibility check, so the two can
/// never disagree.
pub fn fit_reasons(
    want: &Resources,
    pod_count: i64,
    allowed_pods: i64,
    allocatable: &Resources,
    used: &Resources,
) -> Vec<String> {
    let mut reasons = Vec::new();
    if pod_count.saturating_add(1) > allowed_pods {
        reasons.push(TOO_MANY_PODS.to_owned());
    }
    let names = [CPU, MEMORY, EPHEMERAL_STORAGE]
        .into_iter()
        .chain(want.scalar.keys().map(String::as_str));
    for name in names {
        let w = want.get(name);
        if w > 0 && w > allocatable.get(name).saturating_sub(used.get(name)) {
            reasons.push(insufficient(name));
        }
    }
    reasons
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::framework::Code;
    use crate::scheduler::testing::{make_node, make_pod};

    /// (case, node cpu m, node mem, existing pod cpu m, existing pod mem, new pod, expected reasons)
    type Row = (
        &'static str,
        i64,
        &'static str,
        i64,
        &'static str,
        k8s_openapi::api::core::v1::Pod,
        Vec<&'static str>,
    );

    #[test]
    fn node_resources_fit_should_follow_the_table() {
        // (case, node cpu m / mem, existing pod cpu m / mem, new pod, expected reasons)
        let rows: Vec<Row> = vec![
            // free cpu 4000-1500 = 2500 ≥ 2500 → fits exactly
            (
                "exact fit",
                4000,
                "8Gi",
                1500,
                "1Gi",
                make_pod("p").req_cpu_milli(2500).build(),
                vec![],
            ),
            // free cpu 2500 < 2501 → Insufficient cpu
            (
                "one milli over",
                4000,
                "8Gi",
                1500,
                "1Gi",
                make_pod("p").req_cpu_milli(2501).build(),
                vec!["Insufficient cpu"],
            ),
            // free mem 8Gi-1Gi = 7Gi < 8Gi, cpu fine
            (
                "memory short",
                4000,
                "8Gi",
                1500,
                "1Gi",
                make_pod("p").req_cpu_milli(100).req_mem("8Gi").build(),
                vec!["Insufficient memory"],
            ),
            // both short: reasons in cpu, memory order
            (
                "both short",
                1000,
                "1Gi",
                500,
                "512Mi",
                make_pod("p").req_cpu_milli(600).req_mem("600Mi").build(),
                vec!["Insufficient cpu", "Insufficient memory"],
            ),
            // limits only (multi-pod valid-pod): cpu 1 → 1000m > free 4000-3500 = 500
            (
                "limits as requests",
                4000,
                "8Gi",
                3500,
                "1Gi",
                make_pod("p").limit_cpu("1").limit_mem("512Mi").build(),
                vec!["Insufficient cpu"],
            ),
            // no requests: only the pod count matters
            (
                "best effort",
                1000,
                "1Gi",
                1000,
                "1Gi",
                make_pod("p").build(),
                vec![],
            ),
        ];
        for (case, cpu, mem, used_cpu, used_mem, pod, want) in rows {
            let node = make_node("n1").cpu_milli(cpu).mem(mem).build();
            let existing = make_pod("old")
                .req_cpu_milli(used_cpu)
                .req_mem(used_mem)
                .build();
            let info = NodeInfo::with_pods(node, [&existing]);
            let status = NodeResourcesFit.filter(&PodInfo::new(&pod), &info);
            assert_eq!(status.reasons, want, "{case}");
            let code = if want.is_empty() {
                Code::Success
            } else {
                Code::Unschedulable
            };
            assert_eq!(status.code, code, "{case}");
        }
    }

    #[test]
    fn node_resources_fit_should_count_pods_and_extended_resources() {
        // pods: 1 existing + 1 > 1 allowed → Too many pods; gpu: 2 > 1 → Insufficient nvidia.com/gpu
        let node = make_node("n1")
            .cpu_milli(4000)
            .pods(1)
            .alloc("nvidia.com/gpu", "1")
            .build();
        let existing = make_pod("old").build();
        let info = NodeInfo::with_pods(node, [&existing]);
        let pod = make_pod("p").limit("nvidia.com/gpu", "2").build();
        let status = NodeResourcesFit.filter(&PodInfo::new(&pod), &info);
        assert_eq!(
            status.reasons,
            vec!["Too many pods", "Insufficient nvidia.com/gpu"]
        );
        // a node without the resource at all: 1 > 0 − 0
        let bare = NodeInfo::new(make_node("n2").build());
        let one = make_pod("p").limit("nvidia.com/gpu", "1").build();
        let status = NodeResourcesFit.filter(&PodInfo::new(&one), &bare);
        assert_eq!(status.reasons, vec!["Insufficient nvidia.com/gpu"]);
    }

    #[test]
    fn node_resources_fit_should_count_assumed_pods() {
        // 4000m node, assumed 3000m pod → 1000m free < 1500m.
        let mut info = NodeInfo::new(make_node("n1").cpu_milli(4000).build());
        info.assume(&make_pod("a").req_cpu_milli(3000).build());
        let pod = make_pod("p").req_cpu_milli(1500).build();
        let status = NodeResourcesFit.filter(&PodInfo::new(&pod), &info);
        assert_eq!(status.reasons, vec!["Insufficient cpu"]);
    }
}
