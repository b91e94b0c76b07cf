//! Node, Namespace, Event and Lease validation (Kubernetes' `ValidateNode`, `ValidateNamespace`,
//! `ValidateEvent`, `ValidateLease`).

use super::causes::{Causes, arr, get, int, s};
use super::names;
use super::pod::TAINT_EFFECTS;
use serde_json::Value;
use std::collections::HashSet;

/// Validates a Node: taints (key required and qualified, value label syntax, effect required and known,
/// unique by key and effect) and pod CIDRs.
pub(crate) fn validate_node(c: &mut Causes, obj: &Value) {
    let spec = get(obj, "spec");
    let mut seen = HashSet::new();
    for (i, t) in arr(spec, "taints").iter().enumerate() {
        let p = format!("spec.taints[{i}]");
        let key = s(t, "key");
        if key.is_empty() {
            c.required(&format!("{p}.key"), "");
        } else {
            c.invalid_each(&format!("{p}.key"), key, names::qualified_name(key));
        }
        let value = s(t, "value");
        c.invalid_each(&format!("{p}.value"), value, names::label_value(value));
        let effect = s(t, "effect");
        if effect.is_empty() {
            c.required(&format!("{p}.effect"), "");
        } else if !TAINT_EFFECTS.contains(&effect) {
            c.not_supported(&format!("{p}.effect"), effect, TAINT_EFFECTS);
        }
        if !seen.insert((key, effect)) {
            c.duplicate(&p, format!("{key}:{effect}"));
        }
    }
    let cidr = s(spec, "podCIDR");
    if !cidr.is_empty() {
        c.invalid_each("spec.podCIDR", cidr, names::cidr(cidr));
    }
    for (i, v) in arr(spec, "podCIDRs").iter().enumerate() {
        let v = v.as_str().unwrap_or("");
        c.invalid_each(&format!("spec.podCIDRs[{i}]"), v, names::cidr(v));
    }
}

/// Validates a Namespace: `spec.finalizers` are qualified names (the name itself is checked with metadata).
pub(crate) fn validate_namespace(c: &mut Causes, obj: &Value) {
    for f in arr(get(obj, "spec"), "finalizers") {
        let f = f.as_str().unwrap_or("");
        c.invalid_each("spec.finalizers", f, names::qualified_name(f));
    }
}

/// Validates an Event (kept light, as the legacy `v1` Event API is): `involvedObject.namespace`, when set,
/// must equal the Event's namespace.
pub(crate) fn validate_event(c: &mut Causes, obj: &Value) {
    let involved = s(get(obj, "involvedObject"), "namespace");
    let ns = s(get(obj, "metadata"), "namespace");
    if !involved.is_empty() && involved != ns {
        c.invalid(
            "involvedObject.namespace",
            involved,
            "does not match event.namespace",
        );
    }
}

/// Validates a Lease: `spec.leaseDurationSeconds > 0` and `spec.leaseTransitions >= 0` when set.
pub(crate) fn validate_lease(c: &mut Causes, obj: &Value) {
    let spec = get(obj, "spec");
    if let Some(d) = int(spec, "leaseDurationSeconds")
        && d <= 0
    {
        c.invalid("spec.leaseDurationSeconds", d, "must be greater than 0");
    }
    c.non_negative("spec.leaseTransitions", int(spec, "leaseTransitions"));
}
