//! `D(S, E)`: the endpoints of a Service, computed from the Service and the Pods (pure, no I/O).
//!
//! Follows Kubernetes' endpoints controller and EndpointSlice controller
//! (<https://kubernetes.io/docs/concepts/services-networking/service/#endpoints>,
//! <https://kubernetes.io/docs/concepts/services-networking/endpoint-slices/>): the same Service and the same
//! Pods always give byte-identical output, whatever the order of the pods, so the NKO proof can recompute it.
//!
//! # Layout
//! - this file: which pods a Service selects and how a Service port resolves on a pod ([`find_port`]).
//! - [`subsets`]: the `v1` `Endpoints` object ([`compute_endpoints`], [`endpoints_equal`]).
//! - [`proof`]: the NKO endpoints proof and its V over a replayed history.
//! - [`slice`](mod@slice): the `discovery.k8s.io/v1` `EndpointSlice`s ([`compute_endpoint_slices`]).

pub mod proof;
pub mod slice;
pub mod subsets;

#[cfg(test)]
mod slice_tests;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{ObjectReference, Pod, Service, ServicePort};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use mock_k8_schemas::selector::LabelSelector;

pub use slice::{
    ENDPOINT_SLICE_SUFFIX, LABEL_MANAGED_BY, LABEL_SERVICE_NAME, MANAGED_BY_CONTROLLER,
    MAX_ENDPOINTS_PER_SLICE, compute_endpoint_slice, compute_endpoint_slices,
    endpoint_slices_equal, slice_name,
};
pub use subsets::{compute_endpoints, endpoints_equal, subsets_equal};

/// Label put on the Endpoints and EndpointSlices of a headless Service (`spec.clusterIP: None`), value `""`
/// (`v1.IsHeadlessService` in Kubernetes).
pub const LABEL_HEADLESS: &str = "service.kubernetes.io/headless";

/// The namespace an object without `metadata.namespace` lives in.
const DEFAULT_NAMESPACE: &str = "default";

/// The protocol a port has when it names none (Kubernetes defaults `protocol` to `TCP`).
const DEFAULT_PROTOCOL: &str = "TCP";

/// `true` when the pod's `Ready` condition has status `True` (`podutil.IsPodReady`).
pub fn is_pod_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// `true` when the pod's phase is `Succeeded` or `Failed`: its containers will not run again, so it never
/// backs a Service (`podutil.IsPodTerminal`).
pub fn is_pod_terminal(pod: &Pod) -> bool {
    matches!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded" | "Failed")
    )
}

/// The pod port a Service port sends traffic to on `pod` (`podutil.FindPort`):
/// - `targetPort` a number → that number, whatever the pod declares;
/// - `targetPort` a string → the `containerPort` of the first port with that `name` and the same protocol
///   (default `TCP`) in the pod's containers (then its restartable init containers, i.e. sidecars);
///   `None` when the pod has no such port;
/// - `targetPort` absent → `port` (what API defaulting would have written).
pub fn find_port(pod: &Pod, service_port: &ServicePort) -> Option<i32> {
    let name = match &service_port.target_port {
        None => return Some(service_port.port),
        Some(IntOrString::Int(n)) => return Some(*n),
        Some(IntOrString::String(s)) => s,
    };
    // A string that is all digits is how some clients write a numeric target port.
    if let Ok(n) = name.parse::<i32>() {
        return Some(n);
    }
    let protocol = service_port.protocol.as_deref().unwrap_or(DEFAULT_PROTOCOL);
    let spec = pod.spec.as_ref()?;
    let sidecars = spec
        .init_containers
        .iter()
        .flatten()
        .filter(|c| c.restart_policy.as_deref() == Some("Always"));
    spec.containers
        .iter()
        .chain(sidecars)
        .flat_map(|c| c.ports.iter().flatten())
        .find(|p| {
            p.name.as_deref() == Some(name.as_str())
                && p.protocol.as_deref().unwrap_or(DEFAULT_PROTOCOL) == protocol
        })
        .map(|p| p.container_port)
}

/// A pod that backs a Service, with what both the Endpoints and the EndpointSlice views need.
pub(crate) struct Backend<'a> {
    /// The pod.
    pub pod: &'a Pod,
    /// `status.podIP`.
    pub ip: &'a str,
    /// The pod's `Ready` condition is `True`.
    pub ready: bool,
    /// `metadata.deletionTimestamp` is set.
    pub terminating: bool,
}

/// The Service's namespace (`default` when unset).
pub(crate) fn namespace_of_service(service: &Service) -> &str {
    service
        .metadata
        .namespace
        .as_deref()
        .unwrap_or(DEFAULT_NAMESPACE)
}

/// The selector of a Service that gets endpoints: `None` for services without a selector (their Endpoints
/// are managed by hand, e.g. `glusterfs-endpoints.yaml`) and for `ExternalName` services (a DNS alias).
pub(crate) fn service_selector(service: &Service) -> Option<LabelSelector> {
    let spec = service.spec.as_ref()?;
    if spec.type_.as_deref() == Some("ExternalName") {
        return None;
    }
    let selector = spec.selector.as_ref()?;
    if selector.is_empty() {
        // Kubernetes treats an empty selector like no selector for Services.
        return None;
    }
    Some(LabelSelector::from_map(selector))
}

/// `true` for `spec.clusterIP: None`.
pub(crate) fn is_headless(service: &Service) -> bool {
    service.spec.as_ref().and_then(|s| s.cluster_ip.as_deref()) == Some("None")
}

/// `spec.publishNotReadyAddresses`.
pub(crate) fn publish_not_ready(service: &Service) -> bool {
    service
        .spec
        .as_ref()
        .and_then(|s| s.publish_not_ready_addresses)
        .unwrap_or(false)
}

/// The pods that may back `service`: same namespace, labels matched by `selector`, a pod IP, not terminal.
/// Terminating pods are included when `include_terminating`. Sorted by IP then UID then name, so the
/// output does not depend on the order of `pods`.
pub(crate) fn backends<'a>(
    service: &Service,
    selector: &LabelSelector,
    pods: &'a [Pod],
    include_terminating: bool,
) -> Vec<Backend<'a>> {
    let namespace = namespace_of_service(service);
    let empty = BTreeMap::new();
    let mut out: Vec<Backend<'a>> = pods
        .iter()
        .filter(|p| p.metadata.namespace.as_deref().unwrap_or(DEFAULT_NAMESPACE) == namespace)
        .filter(|p| selector.matches(p.metadata.labels.as_ref().unwrap_or(&empty)))
        .filter(|p| !is_pod_terminal(p))
        .filter_map(|pod| {
            let ip = pod.status.as_ref()?.pod_ip.as_deref()?;
            if ip.is_empty() {
                return None;
            }
            let terminating = pod.metadata.deletion_timestamp.is_some();
            if terminating && !include_terminating {
                return None;
            }
            Some(Backend {
                pod,
                ip,
                ready: is_pod_ready(pod),
                terminating,
            })
        })
        .collect();
    out.sort_by(|a, b| {
        ip_sort_key(a.ip)
            .cmp(&ip_sort_key(b.ip))
            .then_with(|| a.pod.metadata.uid.cmp(&b.pod.metadata.uid))
            .then_with(|| a.pod.metadata.name.cmp(&b.pod.metadata.name))
    });
    out
}

/// Orders IPs numerically (`10.0.0.9` before `10.0.0.10`); unparsable strings sort after all IPs.
pub(crate) fn ip_sort_key(ip: &str) -> (u8, Option<std::net::IpAddr>, &str) {
    match ip.parse::<std::net::IpAddr>() {
        Ok(addr) => (0, Some(addr), ip),
        Err(_) => (1, None, ip),
    }
}

/// `{kind: Pod, namespace, name, uid}`: the reference from an endpoint back to its pod.
pub(crate) fn pod_ref(pod: &Pod) -> ObjectReference {
    ObjectReference {
        kind: Some("Pod".into()),
        namespace: Some(
            pod.metadata
                .namespace
                .clone()
                .unwrap_or_else(|| DEFAULT_NAMESPACE.into()),
        ),
        name: pod.metadata.name.clone(),
        uid: pod.metadata.uid.clone(),
        ..Default::default()
    }
}

/// The DNS hostname of a pod behind a headless Service: `spec.hostname` when `spec.subdomain` names the
/// Service (Kubernetes' rule for `hostname` in endpoint addresses).
pub(crate) fn pod_hostname(pod: &Pod, service: &Service) -> Option<String> {
    let spec = pod.spec.as_ref()?;
    let hostname = spec.hostname.as_deref().filter(|h| !h.is_empty())?;
    (spec.subdomain.as_deref() == service.metadata.name.as_deref()).then(|| hostname.to_string())
}

/// The labels shared by Endpoints and EndpointSlices: the Service's labels, plus
/// [`LABEL_HEADLESS`] for headless Services.
pub(crate) fn base_labels(service: &Service) -> BTreeMap<String, String> {
    let mut labels = service.metadata.labels.clone().unwrap_or_default();
    if is_headless(service) {
        labels.insert(LABEL_HEADLESS.into(), String::new());
    } else {
        labels.remove(LABEL_HEADLESS);
    }
    labels
}
