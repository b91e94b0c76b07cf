//! Pod spec immutability (Kubernetes' `ValidatePodUpdate`): only images, `activeDeadlineSeconds`, added
//! tolerations and `terminationGracePeriodSeconds` (negative → 1) may change.

use super::causes::{Causes, arr, get, int};
use serde_json::Value;

/// Kubernetes' message for a forbidden pod spec change.
pub(crate) const POD_UPDATE_FORBIDDEN: &str = "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";

/// Checks that `new`'s spec differs from `old`'s only where Kubernetes allows.
pub(crate) fn validate_pod_update(c: &mut Causes, old: &Value, new: &Value) {
    let (old_spec, new_spec) = (get(old, "spec"), get(new, "spec"));
    validate_active_deadline_update(c, old_spec, new_spec);
    let tolerations_ok = arr(old_spec, "tolerations")
        .iter()
        .all(|t| arr(new_spec, "tolerations").contains(t));

    // Copy the mutable fields from the old spec into the new one, then compare.
    let mut masked = new_spec.clone();
    if let Some(m) = masked.as_object_mut() {
        for list in ["containers", "initContainers"] {
            let old_list = arr(old_spec, list);
            if let Some(new_list) = m.get_mut(list).and_then(Value::as_array_mut)
                && new_list.len() == old_list.len()
            {
                for (n, o) in new_list.iter_mut().zip(old_list) {
                    if let Some(n) = n.as_object_mut() {
                        match o.get("image") {
                            Some(img) => n.insert("image".to_string(), img.clone()),
                            None => n.remove("image"),
                        };
                    }
                }
            }
        }
        copy_field(m, old_spec, "activeDeadlineSeconds");
        if tolerations_ok {
            copy_field(m, old_spec, "tolerations");
        }
        let (old_grace, new_grace) = (
            int(old_spec, "terminationGracePeriodSeconds"),
            int(new_spec, "terminationGracePeriodSeconds"),
        );
        if old_grace.is_some_and(|g| g < 0) && new_grace == Some(1) {
            copy_field(m, old_spec, "terminationGracePeriodSeconds");
        }
    }
    if &masked != old_spec {
        c.forbidden("spec", POD_UPDATE_FORBIDDEN);
    }
}

/// Sets `m[field]` to `old[field]` (removing it when `old` has none).
fn copy_field(m: &mut serde_json::Map<String, Value>, old: &Value, field: &str) {
    match old.get(field) {
        Some(v) => m.insert(field.to_string(), v.clone()),
        None => m.remove(field),
    };
}

/// `activeDeadlineSeconds` may be set or lowered, never raised or removed.
fn validate_active_deadline_update(c: &mut Causes, old_spec: &Value, new_spec: &Value) {
    let path = "spec.activeDeadlineSeconds";
    match (
        int(old_spec, "activeDeadlineSeconds"),
        int(new_spec, "activeDeadlineSeconds"),
    ) {
        (Some(o), Some(n)) if n > o => {
            c.invalid(path, n, "must be less than or equal to previous value")
        }
        (Some(_), None) => c.invalid(
            path,
            Value::Null,
            "must not update from a positive integer to nil value",
        ),
        _ => {}
    }
}
