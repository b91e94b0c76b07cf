//! Semantic validation of objects, producing 422 `Invalid` causes with field paths.
//! OWNER: helper schemas-a.
//!
//! Rules, cause reasons and messages follow Kubernetes' `pkg/apis/core/validation`,
//! `pkg/apis/apps/validation` and friends, and `k8s.io/apimachinery/pkg/util/validation/field`:
//! each cause is `{reason: FieldValueRequired|FieldValueInvalid|..., message, field: "spec.containers[0].name"}`.
//!
//! # Layout
//! - [`names`]: name/value syntax checks (DNS labels, qualified names, port names, IPs) with Kubernetes' messages.
//! - `causes`: the cause collector and JSON accessors.
//! - `meta`: `metadata` (all kinds) and its update rules.
//! - `pod`: pod specs (Pods and workload templates); `container`: their containers; `pod_update`: pod spec
//!   immutability.
//! - `service`: Services, Endpoints and EndpointSlices.
//! - `cluster`: Nodes, Namespaces, Events and Leases.
//! - `apps`: ReplicaSets and Deployments.

mod apps;
mod causes;
mod cluster;
mod container;
mod meta;
pub mod names;
mod pod;
mod pod_update;
mod service;

use crate::{ApiResource, StatusCause};
use causes::Causes;
use serde_json::Value;

/// Validates an object about to be created. Empty result = valid.
///
/// `obj` is the decoded, normalized object of kind `resource.kind` (nulls removed, quantities canonical, the
/// name already generated from `generateName`). Checks `metadata` for every kind, then the kind's own rules.
pub fn validate_create(resource: &ApiResource, obj: &Value) -> Vec<StatusCause> {
    let mut c = Causes::default();
    validate_object(&mut c, resource, obj);
    c.into_vec()
}

/// Validates an update of `old` to `new`: everything [`validate_create`] checks on `new`, plus
/// immutability rules (e.g. a Pod's spec). Empty result = valid.
///
/// Immutable: `metadata.name`, `metadata.namespace`, `metadata.uid`, `metadata.creationTimestamp` (when set in
/// both); a Pod's spec but for images, `activeDeadlineSeconds`, added tolerations and
/// `terminationGracePeriodSeconds` (negative → 1); a Service's `spec.clusterIP` once set; the `spec.selector`
/// of ReplicaSets and Deployments; an EndpointSlice's `addressType`.
pub fn validate_update(resource: &ApiResource, old: &Value, new: &Value) -> Vec<StatusCause> {
    let mut c = Causes::default();
    validate_object(&mut c, resource, new);
    meta::validate_update(&mut c, old, new);
    match resource.kind {
        "Pod" => pod_update::validate_pod_update(&mut c, old, new),
        "Service" => service::validate_service_update(&mut c, old, new),
        "EndpointSlice" => service::validate_endpoint_slice_update(&mut c, old, new),
        "ReplicaSet" | "Deployment" => apps::validate_selector_update(&mut c, old, new),
        _ => {}
    }
    c.into_vec()
}

fn validate_object(c: &mut Causes, resource: &ApiResource, obj: &Value) {
    meta::validate_object_meta(c, resource, obj);
    match resource.kind {
        "Pod" => pod::validate_pod(c, obj),
        "Service" => service::validate_service(c, obj),
        "Endpoints" => service::validate_endpoints(c, obj),
        "EndpointSlice" => service::validate_endpoint_slice(c, obj),
        "Node" => cluster::validate_node(c, obj),
        "Namespace" => cluster::validate_namespace(c, obj),
        "Event" => cluster::validate_event(c, obj),
        "Lease" => cluster::validate_lease(c, obj),
        "ReplicaSet" => apps::validate_replica_set(c, obj),
        "Deployment" => apps::validate_deployment(c, obj),
        _ => {}
    }
}

#[cfg(test)]
mod tests;
