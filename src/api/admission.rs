//! Admission: the one step of the create and update pipelines that changes an object on the
//! server's behalf, after the server-owned fields are set and before normalization and validation
//! (kube-apiserver's order: decode + defaulting, mutating admission, validation).
//!
//! - Defaulting ([`super::defaults`]): pod specs, ReplicaSet and Deployment templates.
//! - `DefaultTolerationSeconds` (pods, create and update): the `not-ready` / `unreachable`
//!   `NoExecute` tolerations with the configured seconds
//!   (<https://kubernetes.io/docs/reference/access-authn-authz/admission-controllers/#defaulttolerationseconds>).
//! - Pod `status.qosClass` at create (kept from the stored pod on updates).
//! - Services: cluster IP and node port allocation ([`super::service`]).
//!
//! Allocation is the only side effect: [`Admitted::finish`] releases it again when the write did
//! not happen (validation failed, dry run, store error) and, after an update was stored, releases
//! what the old object held and the new one does not.

use super::ApiState;
use super::defaults;
use super::error::ApiError;
use super::service::Allocation;
use k8s_openapi::api::core::v1::{Pod, PodSpec, Toleration};
use mock_k8_controllers::nodehealth::default_tolerations;
use mock_k8_schemas::ApiResource;
use serde_json::{Value, json};

/// What admission allocated for one write.
#[derive(Debug, Default)]
#[must_use = "call finish() once the write happened or failed"]
pub struct Admitted {
    /// Allocated for this write: released when it is not stored.
    allocated: Allocation,
    /// Held by the old object only: released once the update is stored.
    stale: Allocation,
}

impl Admitted {
    /// Settles the allocation: when `stored`, releases what the old object held and the new one
    /// does not; otherwise releases what this write allocated.
    pub fn finish(self, state: &ApiState, stored: bool) {
        let free = if stored { &self.stale } else { &self.allocated };
        state.services.release(&state.store, free);
    }
}

/// Admits a new object of `resource`: defaults, default tolerations and `status.qosClass` for
/// pods, address allocation for Services.
///
/// # Errors
/// 422 Invalid when a requested cluster IP or node port is taken or out of range; 503 when a
/// range is full.
pub fn admit_create(
    state: &ApiState,
    resource: &ApiResource,
    obj: &mut Value,
) -> Result<Admitted, ApiError> {
    defaults::apply(resource.kind, obj);
    match resource.kind {
        "Pod" => {
            add_default_tolerations(state, obj);
            let qos = defaults::qos_class(obj.get("spec").unwrap_or(&Value::Null));
            if let Some(map) = obj.as_object_mut() {
                let status = map.entry("status").or_insert_with(|| json!({}));
                if let Some(s) = status.as_object_mut() {
                    s.insert("qosClass".into(), json!(qos));
                }
            }
            Ok(Admitted::default())
        }
        "Service" => Ok(Admitted {
            allocated: state.services.allocate(&state.store, obj)?,
            stale: Allocation::default(),
        }),
        _ => Ok(Admitted::default()),
    }
}

/// Admits the object an update would store (`new`, built from the stored `old`): the same defaults
/// as at create (so unchanged fields compare equal), default tolerations, the stored
/// `status.qosClass` when `new` has none, and Service re-allocation.
///
/// # Errors
/// As [`admit_create`].
pub fn admit_update(
    state: &ApiState,
    resource: &ApiResource,
    old: &Value,
    new: &mut Value,
) -> Result<Admitted, ApiError> {
    defaults::apply(resource.kind, new);
    match resource.kind {
        "Pod" => {
            add_default_tolerations(state, new);
            let old_qos = old.get("status").and_then(|s| s.get("qosClass")).cloned();
            if let (Some(qos), Some(status)) = (
                old_qos,
                new.get_mut("status").and_then(Value::as_object_mut),
            ) {
                status.entry("qosClass").or_insert(qos);
            }
            Ok(Admitted::default())
        }
        "Service" => {
            let (allocated, stale) = state.services.reallocate(&state.store, old, new)?;
            Ok(Admitted { allocated, stale })
        }
        _ => Ok(Admitted::default()),
    }
}

/// Kubernetes' `DefaultTolerationSeconds` on a pod object: appends the `not-ready` and
/// `unreachable` `NoExecute` tolerations unless the pod already tolerates those taints
/// ([`default_tolerations`]). A pod whose tolerations do not decode is left alone (validation
/// answers it).
pub fn add_default_tolerations(state: &ApiState, pod: &mut Value) {
    let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    let current = match spec.get("tolerations") {
        None | Some(Value::Null) => None,
        Some(v) => match serde_json::from_value::<Vec<Toleration>>(v.clone()) {
            Ok(t) => Some(t),
            Err(_) => return,
        },
    };
    let typed = Pod {
        spec: Some(PodSpec {
            tolerations: current,
            ..PodSpec::default()
        }),
        ..Pod::default()
    };
    let options = &state.options;
    let all = default_tolerations(
        &typed,
        options.default_not_ready_toleration_seconds,
        options.default_unreachable_toleration_seconds,
    );
    let before = spec
        .get("tolerations")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    if all.len() == before {
        return;
    }
    // Only the appended tolerations are encoded: the pod's own stay byte-for-byte as sent.
    let added: Vec<Value> = all[before..]
        .iter()
        .filter_map(|t| serde_json::to_value(t).ok())
        .collect();
    let list = spec.entry("tolerations").or_insert_with(|| json!([]));
    if let Some(list) = list.as_array_mut() {
        list.extend(added);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toleration_encoding_should_match_kubernetes_field_names() {
        let t = Toleration {
            key: Some("node.kubernetes.io/not-ready".into()),
            operator: Some("Exists".into()),
            effect: Some("NoExecute".into()),
            toleration_seconds: Some(300),
            value: None,
        };
        assert_eq!(
            serde_json::to_value(&t).expect("json"),
            json!({"effect": "NoExecute", "key": "node.kubernetes.io/not-ready", "operator": "Exists", "tolerationSeconds": 300})
        );
    }
}
