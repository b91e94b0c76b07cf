//! The `discovery.k8s.io/v1` `EndpointSlice`s of a Service (Kubernetes' EndpointSlice controller), which
//! `kubectl describe service` reads for its `Endpoints:` line.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort, EndpointSlice};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

use super::{
    DEFAULT_PROTOCOL, backends, base_labels, find_port, is_headless, namespace_of_service,
    pod_hostname, pod_ref, publish_not_ready, service_selector,
};

/// Label naming the Service a slice belongs to (`discovery.k8s.io` well-known label).
pub const LABEL_SERVICE_NAME: &str = "kubernetes.io/service-name";

/// Label naming the controller that manages a slice.
pub const LABEL_MANAGED_BY: &str = "endpointslice.kubernetes.io/managed-by";

/// Value of [`LABEL_MANAGED_BY`] on the slices this module computes (the one Kubernetes' controller uses).
pub const MANAGED_BY_CONTROLLER: &str = "endpointslice-controller.k8s.io";

/// Suffix of slice names: the first slice of Service `web` is `web-mk8`, the next ones `web-mk8-1`, … —
/// deterministic, unlike Kubernetes' `generateName`.
pub const ENDPOINT_SLICE_SUFFIX: &str = "mk8";

/// Most endpoints in one slice (Kubernetes' `--max-endpoints-per-slice` default).
pub const MAX_ENDPOINTS_PER_SLICE: usize = 100;

/// A resolved port as an orderable key: (name, port, protocol, appProtocol).
type PortKey = (String, i32, String, Option<String>);

/// Computes all `EndpointSlice`s (address type `IPv4`) Kubernetes' EndpointSlice controller keeps for
/// `service`, from all `pods`.
///
/// Returns `None` when [`compute_endpoints`](super::compute_endpoints) does (no selector, `ExternalName`).
/// Otherwise at least one slice: with no endpoints, one empty placeholder slice (as Kubernetes does).
/// - Pods are selected as for Endpoints, except that terminating pods are kept, with conditions
///   `ready = (Ready=True or publishNotReadyAddresses) and (not terminating or publishNotReadyAddresses)`,
///   `serving = Ready=True or publishNotReadyAddresses`, `terminating = deletionTimestamp set`
///   (<https://kubernetes.io/docs/concepts/services-networking/endpoint-slices/#conditions>).
///   Pods whose IP is not IPv4 are left out (they would belong to an IPv6 slice).
/// - Each endpoint: `addresses: [podIP]`, conditions, `hostname?`, `nodeName`, `targetRef` to the pod.
/// - Ports are resolved per pod; pods with the same port set share slices, at most
///   [`MAX_ENDPOINTS_PER_SLICE`] each. Slices are ordered by port set, endpoints by IP.
/// - Metadata: name `<service>-mk8[-<n>]`, the Service's namespace and labels plus
///   [`LABEL_SERVICE_NAME`] and [`LABEL_MANAGED_BY`], an owner reference to the Service when it has a UID.
pub fn compute_endpoint_slices(service: &Service, pods: &[Pod]) -> Option<Vec<EndpointSlice>> {
    let selector = service_selector(service)?;
    let publish = publish_not_ready(service);
    let service_ports = service
        .spec
        .as_ref()
        .and_then(|s| s.ports.clone())
        .unwrap_or_default();

    let mut groups: BTreeMap<Vec<PortKey>, Vec<Endpoint>> = BTreeMap::new();
    for backend in backends(service, &selector, pods, true) {
        if backend.ip.parse::<Ipv4Addr>().is_err() {
            continue;
        }
        let ports: Vec<PortKey> = service_ports
            .iter()
            .filter_map(|sp| {
                let port = find_port(backend.pod, sp)?;
                Some((
                    sp.name.clone().unwrap_or_default(),
                    port,
                    sp.protocol
                        .clone()
                        .unwrap_or_else(|| DEFAULT_PROTOCOL.into()),
                    sp.app_protocol.clone(),
                ))
            })
            .collect();
        if ports.is_empty() && !(service_ports.is_empty() && is_headless(service)) {
            continue;
        }
        let serving = backend.ready || publish;
        let ready = serving && (!backend.terminating || publish);
        groups.entry(ports).or_default().push(Endpoint {
            addresses: vec![backend.ip.to_string()],
            conditions: Some(EndpointConditions {
                ready: Some(ready),
                serving: Some(serving),
                terminating: Some(backend.terminating),
            }),
            hostname: pod_hostname(backend.pod, service),
            node_name: backend
                .pod
                .spec
                .as_ref()
                .and_then(|s| s.node_name.clone())
                .filter(|n| !n.is_empty()),
            target_ref: Some(pod_ref(backend.pod)),
            ..Default::default()
        });
    }

    let mut chunks: Vec<(Option<Vec<EndpointPort>>, Vec<Endpoint>)> = Vec::new();
    for (ports, endpoints) in groups {
        let ports: Option<Vec<EndpointPort>> = (!ports.is_empty()).then(|| {
            ports
                .into_iter()
                .map(|(name, port, protocol, app_protocol)| EndpointPort {
                    name: Some(name),
                    port: Some(port),
                    protocol: Some(protocol),
                    app_protocol,
                })
                .collect()
        });
        for chunk in endpoints.chunks(MAX_ENDPOINTS_PER_SLICE) {
            chunks.push((ports.clone(), chunk.to_vec()));
        }
    }
    if chunks.is_empty() {
        chunks.push((None, Vec::new()));
    }

    let service_name = service.metadata.name.clone().unwrap_or_default();
    let mut labels = base_labels(service);
    labels.insert(LABEL_SERVICE_NAME.into(), service_name.clone());
    labels.insert(LABEL_MANAGED_BY.into(), MANAGED_BY_CONTROLLER.into());
    let owner = service.metadata.uid.clone().map(|uid| OwnerReference {
        api_version: "v1".into(),
        kind: "Service".into(),
        name: service_name.clone(),
        uid,
        controller: Some(true),
        block_owner_deletion: Some(true),
    });

    let slices = chunks
        .into_iter()
        .enumerate()
        .map(|(i, (ports, endpoints))| EndpointSlice {
            metadata: ObjectMeta {
                name: Some(slice_name(&service_name, i)),
                namespace: Some(namespace_of_service(service).to_string()),
                labels: Some(labels.clone()),
                owner_references: owner.clone().map(|o| vec![o]),
                ..Default::default()
            },
            address_type: "IPv4".into(),
            endpoints,
            ports,
        })
        .collect();
    Some(slices)
}

/// The first slice of [`compute_endpoint_slices`]: exact when all selected pods resolve the same ports
/// and there are at most [`MAX_ENDPOINTS_PER_SLICE`] of them (the common case); a controller that must be
/// exact in every case writes all slices of [`compute_endpoint_slices`] instead.
pub fn compute_endpoint_slice(service: &Service, pods: &[Pod]) -> Option<EndpointSlice> {
    compute_endpoint_slices(service, pods).and_then(|v| v.into_iter().next())
}

/// The name of the `index`-th slice of Service `service`: `<service>-mk8`, then `<service>-mk8-<index>`.
pub fn slice_name(service: &str, index: usize) -> String {
    if index == 0 {
        format!("{service}-{ENDPOINT_SLICE_SUFFIX}")
    } else {
        format!("{service}-{ENDPOINT_SLICE_SUFFIX}-{index}")
    }
}

/// `true` when `a` and `b` have the same labels, address type, ports and endpoints, ignoring the rest of
/// the metadata and the order of ports and endpoints; absent and empty lists/maps are equal.
pub fn endpoint_slices_equal(a: &EndpointSlice, b: &EndpointSlice) -> bool {
    fn sorted<T: serde::Serialize>(items: &[T]) -> Vec<String> {
        let mut out: Vec<String> = items
            .iter()
            .map(|i| serde_json::to_string(i).unwrap_or_default())
            .collect();
        out.sort();
        out
    }
    let labels = |s: &EndpointSlice| s.metadata.labels.clone().unwrap_or_default();
    let ports = |s: &EndpointSlice| sorted(s.ports.as_deref().unwrap_or_default());
    labels(a) == labels(b)
        && a.address_type == b.address_type
        && ports(a) == ports(b)
        && sorted(&a.endpoints) == sorted(&b.endpoints)
}
