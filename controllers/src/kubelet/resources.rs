//! Pod resource arithmetic shared by admission and QoS: effective requests as exact integers.
//!
//! Units: `cpu` in millicores, every other resource (`memory`, `ephemeral-storage`, extended resources
//! such as `nvidia.com/gpu`) in its base unit (bytes, devices). Quantities that do not parse count as
//! 0 (the API server validates them before a pod is stored, so this only guards against bad input).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, Node, Pod};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as K8sQuantity;
use mock_k8_schemas::quantity::Quantity;

/// Resource name → amount in its unit (cpu: millicores; others: base units).
pub type ResourceAmounts = BTreeMap<String, i128>;

/// The resource name for CPU.
pub const CPU: &str = "cpu";
/// The resource name for memory.
pub const MEMORY: &str = "memory";
/// The resource name for the pod count.
pub const PODS: &str = "pods";

/// One quantity in its unit: millicores for `cpu`, the base unit for anything else. Invalid → 0.
pub fn amount(resource: &str, quantity: &K8sQuantity) -> i128 {
    match Quantity::parse(&quantity.0) {
        Ok(q) if resource == CPU => q.millis(),
        Ok(q) => q.value(),
        Err(_) => 0,
    }
}

/// A resource list (`requests`, `limits`, `allocatable`) as amounts.
pub fn amounts(list: Option<&BTreeMap<String, K8sQuantity>>) -> ResourceAmounts {
    list.into_iter()
        .flatten()
        .map(|(name, q)| (name.clone(), amount(name, q)))
        .collect()
}

/// A container's effective requests: its `requests`, each missing one defaulting to its limit
/// (the API server's defaulting rule for requests).
pub fn container_requests(container: &Container) -> ResourceAmounts {
    let resources = container.resources.as_ref();
    let mut requests = amounts(resources.and_then(|r| r.requests.as_ref()));
    for (name, limit) in amounts(resources.and_then(|r| r.limits.as_ref())) {
        requests.entry(name).or_insert(limit);
    }
    requests
}

/// A pod's effective requests, by Kubernetes' rule (`resource.PodRequests`): per resource, the larger
/// of the sum over app containers and the largest single init container, plus `spec.overhead`.
pub fn pod_requests(pod: &Pod) -> ResourceAmounts {
    let Some(spec) = pod.spec.as_ref() else {
        return ResourceAmounts::new();
    };
    let mut total = ResourceAmounts::new();
    for c in &spec.containers {
        for (name, v) in container_requests(c) {
            *total.entry(name).or_insert(0) += v;
        }
    }
    for c in spec.init_containers.iter().flatten() {
        for (name, v) in container_requests(c) {
            let e = total.entry(name).or_insert(0);
            *e = (*e).max(v);
        }
    }
    for (name, v) in amounts(spec.overhead.as_ref()) {
        *total.entry(name).or_insert(0) += v;
    }
    total
}

/// A node's allocatable resources, falling back to its capacity when `allocatable` is absent.
pub fn node_allocatable(node: &Node) -> ResourceAmounts {
    let status = node.status.as_ref();
    match status.and_then(|s| s.allocatable.as_ref()) {
        Some(a) => amounts(Some(a)),
        None => amounts(status.and_then(|s| s.capacity.as_ref())),
    }
}

/// Kubernetes' QoS class of a pod (`qos.GetPodQOS`), from cpu and memory only, over init and app
/// containers: `BestEffort` when no container has a cpu/memory request or limit; `Guaranteed` when every
/// container has cpu and memory limits and its requests (defaulting to limits) equal them;
/// `Burstable` otherwise.
pub fn qos_class(pod: &Pod) -> &'static str {
    let Some(spec) = pod.spec.as_ref() else {
        return "BestEffort";
    };
    let mut any = false;
    let mut guaranteed = true;
    for c in spec
        .init_containers
        .iter()
        .flatten()
        .chain(&spec.containers)
    {
        let resources = c.resources.as_ref();
        let limits = amounts(resources.and_then(|r| r.limits.as_ref()));
        let requests = container_requests(c);
        for name in [CPU, MEMORY] {
            let (req, lim) = (requests.get(name).copied(), limits.get(name).copied());
            if req.is_some_and(|v| v != 0) || lim.is_some_and(|v| v != 0) {
                any = true;
            }
            match lim {
                Some(l) if l != 0 && req == Some(l) => {}
                _ => guaranteed = false,
            }
        }
    }
    match (any, guaranteed) {
        (false, _) => "BestEffort",
        (true, true) => "Guaranteed",
        (true, false) => "Burstable",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kubelet::testing::{container, pod_with};

    #[test]
    fn pod_requests_should_take_max_of_init_and_sum_of_apps_with_limits_as_defaults() {
        let pod = pod_with(
            vec![
                container("a", &[("cpu", "500m")], &[]),
                container("b", &[], &[("cpu", "1"), ("memory", "256M")]),
            ],
            vec![container("init", &[("cpu", "2"), ("memory", "1Mi")], &[])],
        );
        let r = pod_requests(&pod);
        // cpu: max(500 + 1000, 2000) = 2000 m; memory: max(256 000 000, 1 048 576)
        assert_eq!(r.get("cpu"), Some(&2000));
        assert_eq!(r.get("memory"), Some(&256_000_000));
    }

    #[test]
    fn qos_class_should_follow_kubernetes_rules() {
        let rows: Vec<(&str, Vec<Container>, &str)> = vec![
            ("no resources", vec![container("a", &[], &[])], "BestEffort"),
            (
                "limits only = guaranteed",
                vec![container("a", &[], &[("cpu", "1"), ("memory", "1Gi")])],
                "Guaranteed",
            ),
            (
                "requests equal limits",
                vec![container(
                    "a",
                    &[("cpu", "1000m"), ("memory", "1Gi")],
                    &[("cpu", "1"), ("memory", "1Gi")],
                )],
                "Guaranteed",
            ),
            (
                "cpu limit only",
                vec![container("a", &[], &[("cpu", "1")])],
                "Burstable",
            ),
            (
                "requests below limits",
                vec![container(
                    "a",
                    &[("cpu", "500m"), ("memory", "1Gi")],
                    &[("cpu", "1"), ("memory", "1Gi")],
                )],
                "Burstable",
            ),
            (
                "one best-effort container",
                vec![
                    container("a", &[], &[("cpu", "1"), ("memory", "1Gi")]),
                    container("b", &[], &[]),
                ],
                "Burstable",
            ),
        ];
        for (what, containers, want) in rows {
            assert_eq!(qos_class(&pod_with(containers, vec![])), want, "{what}");
        }
    }
}
