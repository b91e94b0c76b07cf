//! Resource amounts as exact integers, and what a pod requests the way Kubernetes computes it.
//!
//! Quantities are parsed once, here, into integers: cpu in millicores ([`Quantity::millis`]),
//! everything else in whole units ([`Quantity::value`]: bytes for memory and ephemeral-storage, a
//! count for extended resources). Values are clamped to `0..=i64::MAX` (Kubernetes' int64).
//! A quantity that does not parse counts as 0: the API server rejects such objects at admission, so
//! this only matters for objects that bypassed validation, and it never panics.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, Pod};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as K8sQuantity;
use mock_k8_schemas::quantity::Quantity;
use serde::{Deserialize, Serialize};

/// Resource name of CPU (`cpu`), measured here in millicores.
pub const CPU: &str = "cpu";
/// Resource name of memory (`memory`), measured in bytes.
pub const MEMORY: &str = "memory";
/// Resource name of local ephemeral storage (`ephemeral-storage`), measured in bytes.
pub const EPHEMERAL_STORAGE: &str = "ephemeral-storage";
/// Resource name of the pod count a node allows (`pods`).
pub const PODS: &str = "pods";

/// CPU a container without a cpu request counts for when *scoring* (Kubernetes'
/// `DefaultMilliCPURequest`, 100 millicores). Never used by the NodeResourcesFit filter.
pub const DEFAULT_MILLI_CPU_REQUEST: i64 = 100;
/// Memory a container without a memory request counts for when *scoring* (Kubernetes'
/// `DefaultMemoryRequest`, 200 MiB). Never used by the NodeResourcesFit filter.
pub const DEFAULT_MEMORY_REQUEST: i64 = 200 * 1024 * 1024;

/// An amount of each resource, as exact integers.
///
/// `scalar` holds extended resources (`nvidia.com/gpu`, any name with a `/` outside the
/// `kubernetes.io/` domain) and `hugepages-*`, in whole units. Names Kubernetes' scheduler does not
/// account (`storage`, …) are ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Resources {
    /// CPU in millicores (`cpu: 1.5` → 1500).
    pub cpu_millis: i64,
    /// Memory in bytes (`memory: 1Gi` → 1073741824).
    pub memory_bytes: i64,
    /// Ephemeral storage in bytes.
    pub ephemeral_storage_bytes: i64,
    /// Extended resources and hugepages by name, in whole units.
    pub scalar: BTreeMap<String, i64>,
}

impl Resources {
    /// Reads a Kubernetes resource list (`requests`, `limits`, `allocatable`, `overhead`).
    /// `pods` and unaccounted names are skipped; unparseable quantities count as 0.
    pub fn from_list(list: &BTreeMap<String, K8sQuantity>) -> Resources {
        let mut out = Resources::default();
        for (name, quantity) in list {
            out.set(name, amount(name, quantity));
        }
        out
    }

    /// Sets one resource by its Kubernetes name (`cpu` in millicores, others in whole units).
    /// Names that are neither native nor scalar are ignored.
    pub fn set(&mut self, name: &str, amount: i64) {
        match name {
            CPU => self.cpu_millis = amount,
            MEMORY => self.memory_bytes = amount,
            EPHEMERAL_STORAGE => self.ephemeral_storage_bytes = amount,
            _ if is_scalar_resource(name) => {
                self.scalar.insert(name.to_owned(), amount);
            }
            _ => {}
        }
    }

    /// One resource by its Kubernetes name (0 when absent).
    pub fn get(&self, name: &str) -> i64 {
        match name {
            CPU => self.cpu_millis,
            MEMORY => self.memory_bytes,
            EPHEMERAL_STORAGE => self.ephemeral_storage_bytes,
            _ => self.scalar.get(name).copied().unwrap_or(0),
        }
    }

    /// Adds `other` to `self`, saturating at `i64::MAX`.
    pub fn add(&mut self, other: &Resources) {
        self.cpu_millis = self.cpu_millis.saturating_add(other.cpu_millis);
        self.memory_bytes = self.memory_bytes.saturating_add(other.memory_bytes);
        self.ephemeral_storage_bytes = self
            .ephemeral_storage_bytes
            .saturating_add(other.ephemeral_storage_bytes);
        for (name, v) in &other.scalar {
            let slot = self.scalar.entry(name.clone()).or_insert(0);
            *slot = slot.saturating_add(*v);
        }
    }

    /// Subtracts `other` from `self`, never going below 0 (used when a pod leaves a node).
    pub fn sub(&mut self, other: &Resources) {
        self.cpu_millis = (self.cpu_millis - other.cpu_millis).max(0);
        self.memory_bytes = (self.memory_bytes - other.memory_bytes).max(0);
        self.ephemeral_storage_bytes =
            (self.ephemeral_storage_bytes - other.ephemeral_storage_bytes).max(0);
        for (name, v) in &other.scalar {
            if let Some(slot) = self.scalar.get_mut(name) {
                *slot = (*slot - v).max(0);
            }
        }
        self.scalar.retain(|_, v| *v > 0);
    }

    /// Raises each resource of `self` to at least `other`'s (Kubernetes' `SetMaxResource`).
    pub fn max_with(&mut self, other: &Resources) {
        self.cpu_millis = self.cpu_millis.max(other.cpu_millis);
        self.memory_bytes = self.memory_bytes.max(other.memory_bytes);
        self.ephemeral_storage_bytes = self
            .ephemeral_storage_bytes
            .max(other.ephemeral_storage_bytes);
        for (name, v) in &other.scalar {
            let slot = self.scalar.entry(name.clone()).or_insert(0);
            *slot = (*slot).max(*v);
        }
    }

    /// True when every resource is 0.
    pub fn is_zero(&self) -> bool {
        self.cpu_millis == 0
            && self.memory_bytes == 0
            && self.ephemeral_storage_bytes == 0
            && self.scalar.values().all(|v| *v == 0)
    }
}

/// True for resources the scheduler accounts besides cpu, memory and ephemeral-storage: extended
/// resources (a name with a `/` whose domain is not `kubernetes.io`, e.g. `nvidia.com/gpu`) and
/// `hugepages-*` (Kubernetes' `IsScalarResourceName`, minus attachable volumes).
pub fn is_scalar_resource(name: &str) -> bool {
    if name.starts_with("hugepages-") {
        return true;
    }
    match name.split_once('/') {
        Some((domain, _)) => domain != "kubernetes.io" && !domain.ends_with(".kubernetes.io"),
        None => false,
    }
}

/// The integer amount of one quantity: millicores for `cpu`, whole units otherwise, clamped to
/// `0..=i64::MAX`; 0 when it does not parse.
pub fn amount(name: &str, quantity: &K8sQuantity) -> i64 {
    let Ok(q) = Quantity::parse(&quantity.0) else {
        return 0;
    };
    let v = if name == CPU { q.millis() } else { q.value() };
    i64::try_from(v.max(0)).unwrap_or(i64::MAX)
}

/// A container's effective requests: its `requests`, where each resource only in `limits` takes the
/// limit (Kubernetes' API defaulting: "if requests are omitted for a container, they default to its
/// limits"). With `non_zero`, missing cpu / memory requests count as [`DEFAULT_MILLI_CPU_REQUEST`] /
/// [`DEFAULT_MEMORY_REQUEST`] (scoring only, Kubernetes' `NonMissingContainerRequests`).
pub fn container_requests(container: &Container, non_zero: bool) -> Resources {
    let mut merged: BTreeMap<String, K8sQuantity> = BTreeMap::new();
    if let Some(res) = &container.resources {
        if let Some(limits) = &res.limits {
            merged.extend(limits.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        if let Some(requests) = &res.requests {
            merged.extend(requests.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
    }
    let mut out = Resources::from_list(&merged);
    if non_zero {
        if !merged.contains_key(CPU) {
            out.cpu_millis = DEFAULT_MILLI_CPU_REQUEST;
        }
        if !merged.contains_key(MEMORY) {
            out.memory_bytes = DEFAULT_MEMORY_REQUEST;
        }
    }
    out
}

/// What a pod requests of a node, as Kubernetes' `PodRequests` computes it:
/// `max(sum(containers) + sum(sidecars), max over init containers i of (init_i + sidecars started
/// before i)) + overhead`, where sidecars are init containers with `restartPolicy: Always`.
/// `non_zero` applies the scoring defaults of [`container_requests`].
pub fn pod_requests(pod: &Pod, non_zero: bool) -> Resources {
    let Some(spec) = &pod.spec else {
        return Resources::default();
    };
    let mut sum = Resources::default();
    for c in &spec.containers {
        sum.add(&container_requests(c, non_zero));
    }
    let mut sidecars = Resources::default();
    let mut init_max = Resources::default();
    for c in spec.init_containers.iter().flatten() {
        let req = container_requests(c, non_zero);
        if c.restart_policy.as_deref() == Some("Always") {
            sum.add(&req);
            sidecars.add(&req);
            init_max.max_with(&sidecars);
        } else {
            let mut during = req;
            during.add(&sidecars);
            init_max.max_with(&during);
        }
    }
    sum.max_with(&init_max);
    if let Some(overhead) = &spec.overhead {
        sum.add(&Resources::from_list(overhead));
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::testing::make_pod;

    #[test]
    fn pod_requests_should_default_requests_to_limits() {
        // valid-pod of multi-pod.yaml: limits cpu 1, memory 512Mi, no requests.
        let pod = make_pod("valid-pod")
            .limit_cpu("1")
            .limit_mem("512Mi")
            .build();
        let r = pod_requests(&pod, false);
        assert_eq!(r.cpu_millis, 1000);
        assert_eq!(r.memory_bytes, 512 * 1024 * 1024);
    }

    #[test]
    fn pod_requests_should_prefer_requests_over_limits() {
        let pod = make_pod("p").req_cpu_milli(250).limit_cpu("1").build();
        assert_eq!(pod_requests(&pod, false).cpu_millis, 250);
    }

    #[test]
    fn pod_requests_should_take_max_of_containers_and_init_containers() {
        // containers: 300m + 200m = 500m; init: 800m → max = 800m; memory: containers 1Gi, init 0.
        let pod = make_pod("p")
            .req_cpu_milli(300)
            .req_mem("1Gi")
            .container()
            .req_cpu_milli(200)
            .init_container()
            .req_cpu_milli(800)
            .build();
        let r = pod_requests(&pod, false);
        assert_eq!(r.cpu_millis, 800);
        assert_eq!(r.memory_bytes, 1 << 30);
    }

    #[test]
    fn pod_requests_should_add_sidecars_and_overhead() {
        // sidecar 100m runs alongside app 200m → 300m; later init 250m + sidecar 100m = 350m → 350m;
        // + overhead 50m = 400m.
        let pod = make_pod("p")
            .req_cpu_milli(200)
            .sidecar()
            .req_cpu_milli(100)
            .init_container()
            .req_cpu_milli(250)
            .overhead_cpu_milli(50)
            .build();
        assert_eq!(pod_requests(&pod, false).cpu_millis, 400);
    }

    #[test]
    fn pod_requests_should_apply_non_zero_defaults_only_when_asked() {
        // Two containers without requests: 0 for the filter, 2 × 100m / 2 × 200Mi for scoring.
        let pod = make_pod("p").container().build();
        assert!(pod_requests(&pod, false).is_zero());
        let nz = pod_requests(&pod, true);
        assert_eq!(nz.cpu_millis, 200);
        assert_eq!(nz.memory_bytes, 2 * DEFAULT_MEMORY_REQUEST);
    }

    #[test]
    fn is_scalar_resource_should_accept_extended_resources_only() {
        assert!(is_scalar_resource("nvidia.com/gpu"));
        assert!(is_scalar_resource("hugepages-2Mi"));
        assert!(!is_scalar_resource("kubernetes.io/something"));
        assert!(!is_scalar_resource("storage"));
        assert!(!is_scalar_resource(CPU));
    }
}
