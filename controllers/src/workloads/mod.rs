//! Workload controllers of `apps/v1`, written only on the crate's public runtime ([`Client`](crate::Client),
//! [`watcher`](crate::watcher), [`reflector`](crate::reflector), [`Controller`](crate::Controller)):
//!
//! - [`replicaset`]: [`ReplicaSetController`] keeps `spec.replicas` pods of a ReplicaSet's template
//!   running (<https://kubernetes.io/docs/concepts/workloads/controllers/replicaset/>).
//! - [`deployment`]: [`DeploymentController`] rolls a Deployment's template out through
//!   ReplicaSets (<https://kubernetes.io/docs/concepts/workloads/controllers/deployment/>).
//! - this file: what both share — controller references, pod activity, readiness and availability.

pub mod deployment;
pub mod replicaset;

pub use deployment::{DeploymentConfig, DeploymentController};
pub use replicaset::{ReplicaSetConfig, ReplicaSetController};

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use mock_k8_schemas::selector;
use std::collections::BTreeMap;

use crate::reflector::{ObjectRef, Store};
use k8s_openapi::Metadata;
use serde::de::DeserializeOwned;

/// The controller reference of an object: its `ownerReferences` entry with `controller: true`.
pub fn controller_ref(meta: &ObjectMeta) -> Option<&OwnerReference> {
    meta.owner_references
        .as_deref()?
        .iter()
        .find(|r| r.controller == Some(true))
}

/// A controller `OwnerReference` to `owner` of `api_version`/`kind` (`controller` and
/// `blockOwnerDeletion` true, as Kubernetes' controllers set them), or `None` when the owner has
/// no name or uid yet.
pub fn new_controller_ref(
    owner: &ObjectMeta,
    api_version: &str,
    kind: &str,
) -> Option<OwnerReference> {
    Some(OwnerReference {
        api_version: api_version.into(),
        kind: kind.into(),
        name: owner.name.clone()?,
        uid: owner.uid.clone()?,
        controller: Some(true),
        block_owner_deletion: Some(true),
    })
}

/// `true` when `meta` is marked for deletion.
pub fn is_deleting(meta: &ObjectMeta) -> bool {
    meta.deletion_timestamp.is_some()
}

/// A workload's `spec.selector` as a matcher. A selector that does not convert (it passed
/// validation, so only a defect) matches nothing: the empty selector would match every pod.
pub fn selector_of(sel: &LabelSelector) -> Option<selector::LabelSelector> {
    let v = serde_json::to_value(sel).ok()?;
    let s = selector::LabelSelector::from_json(&v).ok()?;
    (!s.is_empty()).then_some(s)
}

/// The owners of kind `owner_kind` (apps/v1) that an event of a child concerns: the child's
/// controller when it is of that kind, none when its controller is of another kind, or — for a
/// child without a controller — every owner in the child's namespace whose selector (`selector`
/// of the owner's spec) matches the child's labels (adoption, as Kubernetes' controllers do).
pub fn owners_of_child<O: DeserializeOwned + Metadata<Ty = ObjectMeta>>(
    owners: &Store<O>,
    child: &ObjectMeta,
    owner_kind: &str,
    selector: impl Fn(&O) -> Option<&LabelSelector>,
) -> Vec<ObjectRef> {
    let ns = child.namespace.as_deref().unwrap_or("default");
    if let Some(r) = controller_ref(child) {
        return if r.kind == owner_kind && r.api_version == "apps/v1" {
            vec![ObjectRef::new(&r.name).within(ns)]
        } else {
            Vec::new()
        };
    }
    let labels = labels(child);
    owners
        .by_namespace(ns)
        .iter()
        .filter(|o| {
            selector(o)
                .and_then(selector_of)
                .is_some_and(|sel| sel.matches(&labels))
        })
        .map(|o| ObjectRef::from_obj(o.as_ref()))
        .collect()
}

/// The labels of an object (empty when none).
pub fn labels(meta: &ObjectMeta) -> BTreeMap<String, String> {
    meta.labels.clone().unwrap_or_default()
}

/// `true` for a pod that counts towards a ReplicaSet's replicas (Kubernetes' `IsPodActive`): not
/// `Succeeded`, not `Failed`, not marked for deletion.
pub fn is_pod_active(pod: &Pod) -> bool {
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
    !matches!(phase, Some("Succeeded" | "Failed")) && !is_deleting(&pod.metadata)
}

/// `true` for a pod in phase `Failed`.
pub fn is_pod_failed(pod: &Pod) -> bool {
    pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Failed")
}

/// The time the pod's `Ready` condition became `True`, when it is `True` (`None` when not ready;
/// the Unix epoch when ready without a transition time).
pub fn ready_since(pod: &Pod) -> Option<Timestamp> {
    let cond = pod
        .status
        .as_ref()?
        .conditions
        .as_deref()?
        .iter()
        .find(|c| c.type_ == "Ready")?;
    (cond.status == "True").then(|| {
        cond.last_transition_time
            .as_ref()
            .map_or(Timestamp::UNIX_EPOCH, |t| t.0)
    })
}

/// `true` when the pod is Ready.
pub fn is_pod_ready(pod: &Pod) -> bool {
    ready_since(pod).is_some()
}

/// When the pod is, or becomes, available (Kubernetes' `IsPodAvailable`): ready for at least
/// `min_ready_seconds`. `None` when it is not ready.
pub fn available_at(pod: &Pod, min_ready_seconds: i32) -> Option<Timestamp> {
    let since = ready_since(pod)?;
    let min = SignedDuration::from_secs(i64::from(min_ready_seconds.max(0)));
    Some(since.checked_add(min).unwrap_or(Timestamp::MAX))
}

/// `true` when the pod is available at `now`.
pub fn is_pod_available(pod: &Pod, min_ready_seconds: i32, now: Timestamp) -> bool {
    available_at(pod, min_ready_seconds).is_some_and(|t| t <= now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(v: serde_json::Value) -> Pod {
        serde_json::from_value(v).expect("pod")
    }

    #[test]
    fn availability_should_honour_min_ready_seconds() {
        let p = pod(
            json!({"metadata": {"name": "p"}, "status": {"phase": "Running",
            "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "2026-01-01T00:00:00Z"}]}}),
        );
        let t0: Timestamp = "2026-01-01T00:00:00Z".parse().expect("t");
        assert!(is_pod_available(&p, 0, t0));
        assert!(!is_pod_available(&p, 10, t0));
        assert!(is_pod_available(&p, 10, t0 + SignedDuration::from_secs(10)));
        assert!(is_pod_active(&p));
        let failed = pod(json!({"metadata": {"name": "p"}, "status": {"phase": "Failed"}}));
        assert!(!is_pod_active(&failed) && is_pod_failed(&failed) && !is_pod_ready(&failed));
    }

    #[test]
    fn selector_of_should_refuse_the_empty_selector() {
        assert!(selector_of(&LabelSelector::default()).is_none());
        let sel: LabelSelector =
            serde_json::from_value(json!({"matchLabels": {"app": "w"}})).expect("sel");
        let s = selector_of(&sel).expect("selector");
        assert!(s.matches(&BTreeMap::from([("app".to_string(), "w".to_string())])));
    }
}
