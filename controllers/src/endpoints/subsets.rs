//! The `v1` `Endpoints` object of a Service (Kubernetes' endpoints controller, `syncService` +
//! `endpoints.RepackSubsets`).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    EndpointAddress, EndpointPort, EndpointSubset, Endpoints, Pod, Service,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::{
    DEFAULT_PROTOCOL, backends, base_labels, find_port, is_headless, namespace_of_service,
    pod_hostname, pod_ref, publish_not_ready, service_selector,
};

/// A resolved port, as an orderable key: (name, port, protocol, appProtocol).
type PortKey = (Option<String>, i32, String, Option<String>);

/// Ready and not-ready addresses of one subset.
type Addresses = (Vec<EndpointAddress>, Vec<EndpointAddress>);

/// Computes the `Endpoints` object Kubernetes' endpoints controller keeps for `service`, from all `pods`
/// (any namespace; only the Service's namespace is considered).
///
/// Returns `None` for a Service without a selector (or with an empty one) and for `ExternalName` Services:
/// their Endpoints are left alone. Otherwise an `Endpoints` named and namespaced like the Service, carrying
/// its labels (plus `service.kubernetes.io/headless: ""` when `clusterIP: None`), whose subsets hold:
/// - the pods whose labels match the selector, with a `status.podIP`, not `Succeeded`/`Failed`;
/// - terminating pods (`deletionTimestamp` set) only when `spec.publishNotReadyAddresses`;
/// - in `addresses` the ready pods (condition `Ready=True`), in `notReadyAddresses` the others — all in
///   `addresses` when `publishNotReadyAddresses`;
/// - each address `{ip, hostname?, nodeName, targetRef{kind: Pod, namespace, name, uid}}`;
/// - ports resolved per pod with [`find_port`]: a pod lacking a named `targetPort` is
///   left out of that port only; a pod that resolves no port at all is left out. A headless Service
///   without ports lists its pods with no ports.
///
/// Pods with the same resolved port set share a subset (`RepackSubsets`). Subsets are ordered by their
/// ports, addresses by IP (numerically), then UID and name; ports keep the Service's order. No subsets at
/// all gives `subsets: None`, which `kubectl get endpoints` shows as `<none>`.
/// The annotation `endpoints.kubernetes.io/last-change-trigger-time` is not set (it would break
/// determinism).
pub fn compute_endpoints(service: &Service, pods: &[Pod]) -> Option<Endpoints> {
    let selector = service_selector(service)?;
    let tolerate_unready = publish_not_ready(service);
    let service_ports = service
        .spec
        .as_ref()
        .and_then(|s| s.ports.clone())
        .unwrap_or_default();

    let mut groups: BTreeMap<Vec<PortKey>, Addresses> = BTreeMap::new();
    for backend in backends(service, &selector, pods, tolerate_unready) {
        let ports: Vec<PortKey> = service_ports
            .iter()
            .filter_map(|sp| {
                let port = find_port(backend.pod, sp)?;
                Some((
                    sp.name.clone().filter(|n| !n.is_empty()),
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
        let address = EndpointAddress {
            ip: backend.ip.to_string(),
            hostname: pod_hostname(backend.pod, service),
            node_name: backend
                .pod
                .spec
                .as_ref()
                .and_then(|s| s.node_name.clone())
                .filter(|n| !n.is_empty()),
            target_ref: Some(pod_ref(backend.pod)),
        };
        let group = groups.entry(ports).or_default();
        if tolerate_unready || backend.ready {
            group.0.push(address);
        } else {
            group.1.push(address);
        }
    }

    let subsets: Vec<EndpointSubset> = groups
        .into_iter()
        .map(|(ports, (ready, not_ready))| EndpointSubset {
            addresses: (!ready.is_empty()).then_some(ready),
            not_ready_addresses: (!not_ready.is_empty()).then_some(not_ready),
            ports: (!ports.is_empty()).then(|| {
                ports
                    .into_iter()
                    .map(|(name, port, protocol, app_protocol)| EndpointPort {
                        name,
                        port,
                        protocol: Some(protocol),
                        app_protocol,
                    })
                    .collect()
            }),
        })
        .collect();

    let labels = base_labels(service);
    Some(Endpoints {
        metadata: ObjectMeta {
            name: service.metadata.name.clone(),
            namespace: Some(namespace_of_service(service).to_string()),
            labels: (!labels.is_empty()).then_some(labels),
            ..Default::default()
        },
        subsets: (!subsets.is_empty()).then_some(subsets),
    })
}

/// `true` when `a` and `b` have the same labels and the same subsets, ignoring the rest of the metadata
/// (resourceVersion, uid, timestamps, annotations) and the order of subsets, addresses and ports; absent and
/// empty lists/maps are equal. The controller skips the write when this holds (Kubernetes compares
/// `Subsets` and labels the same way before updating).
pub fn endpoints_equal(a: &Endpoints, b: &Endpoints) -> bool {
    let labels = |e: &Endpoints| e.metadata.labels.clone().unwrap_or_default();
    labels(a) == labels(b) && canonical_subsets(a) == canonical_subsets(b)
}

/// `true` when `a` and `b` have the same subsets, ignoring their order and the order of their
/// addresses and ports (absent and empty lists are equal): the comparison of the endpoints proof's V
/// (`nko/SPEC.md` §8.3), which leaves labels and the rest of the metadata out.
pub fn subsets_equal(a: &Endpoints, b: &Endpoints) -> bool {
    canonical_subsets(a) == canonical_subsets(b)
}

/// Subsets as sorted JSON strings: an order-insensitive, absent-equals-empty view for comparison.
fn canonical_subsets(e: &Endpoints) -> Vec<(Vec<String>, Vec<String>, Vec<String>)> {
    fn sorted<T: serde::Serialize>(items: Option<&Vec<T>>) -> Vec<String> {
        let mut out: Vec<String> = items
            .into_iter()
            .flatten()
            .map(|i| serde_json::to_string(i).unwrap_or_default())
            .collect();
        out.sort();
        out
    }
    let mut subsets: Vec<_> = e
        .subsets
        .iter()
        .flatten()
        .map(|s| {
            (
                sorted(s.ports.as_ref()),
                sorted(s.addresses.as_ref()),
                sorted(s.not_ready_addresses.as_ref()),
            )
        })
        .filter(|(_, ready, not_ready)| !(ready.is_empty() && not_ready.is_empty()))
        .collect();
    subsets.sort();
    subsets
}
