//! Tests of the EndpointSlice view.

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::tests::{pod, service};
use super::*;

#[test]
fn compute_endpoint_slice_should_carry_conditions_labels_and_owner() {
    let svc = service(Some(IntOrString::Int(8080)));
    let pods = [
        pod("a")
            .label("app", "web")
            .ip("10.0.0.1")
            .ready(true)
            .build(),
        pod("b")
            .label("app", "web")
            .ip("10.0.0.2")
            .ready(false)
            .build(),
        pod("c")
            .label("app", "web")
            .ip("10.0.0.3")
            .ready(true)
            .terminating()
            .build(),
        pod("v6")
            .label("app", "web")
            .ip("fd00::1")
            .ready(true)
            .build(),
    ];
    let slice = compute_endpoint_slice(&svc, &pods).unwrap();
    assert_eq!(slice.metadata.name.as_deref(), Some("web-mk8"));
    assert_eq!(slice.address_type, "IPv4");
    let labels = slice.metadata.labels.as_ref().unwrap();
    assert_eq!(labels[LABEL_SERVICE_NAME], "web");
    assert_eq!(labels[LABEL_MANAGED_BY], MANAGED_BY_CONTROLLER);
    assert_eq!(labels["tier"], "front");
    let owner = &slice.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.uid.as_str()),
        ("Service", "svc-uid")
    );
    let conds: Vec<(&str, bool, bool, bool)> = slice
        .endpoints
        .iter()
        .map(|e| {
            let c = e.conditions.as_ref().unwrap();
            (
                e.addresses[0].as_str(),
                c.ready.unwrap(),
                c.serving.unwrap(),
                c.terminating.unwrap(),
            )
        })
        .collect();
    // (ip, ready, serving, terminating); the IPv6 pod belongs to no IPv4 slice.
    assert_eq!(
        conds,
        [
            ("10.0.0.1", true, true, false),
            ("10.0.0.2", false, false, false),
            ("10.0.0.3", false, true, true),
        ]
    );
    let port = &slice.ports.as_ref().unwrap()[0];
    assert_eq!(
        (port.name.as_deref(), port.port, port.protocol.as_deref()),
        (Some("http"), Some(8080), Some("TCP"))
    );
    assert!(endpoint_slices_equal(&slice, &slice.clone()));
}

#[test]
fn compute_endpoint_slices_should_cap_endpoints_per_slice() {
    let svc = service(None);
    let pods: Vec<Pod> = (0..250)
        .map(|i| {
            pod(&format!("p{i}"))
                .label("app", "web")
                .ip(&format!("10.1.{}.{}", i / 200, i % 200))
                .ready(true)
                .build()
        })
        .collect();
    let slices = compute_endpoint_slices(&svc, &pods).unwrap();
    let sizes: Vec<usize> = slices.iter().map(|s| s.endpoints.len()).collect();
    assert_eq!(sizes, [100, 100, 50]);
    assert_eq!(slices[2].metadata.name.as_deref(), Some("web-mk8-2"));
}
