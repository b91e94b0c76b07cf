//! The taints the lifecycle controller keeps on a node, and toleration matching.

use k8s_openapi::api::core::v1::{Node, Taint, Toleration};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

use super::{ConditionStatus, NodeHealth};

/// Taint key of a node whose `Ready` condition is `Unknown` (Kubernetes' well-known taint).
pub const TAINT_UNREACHABLE: &str = "node.kubernetes.io/unreachable";

/// Taint key of a node whose `Ready` condition is `False` (Kubernetes' well-known taint).
pub const TAINT_NOT_READY: &str = "node.kubernetes.io/not-ready";

/// The two effects the controller manages for its keys.
const MANAGED_EFFECTS: [&str; 2] = ["NoSchedule", "NoExecute"];

/// The node's taints as the lifecycle controller wants them for `health`
/// (<https://kubernetes.io/docs/reference/labels-annotations-taints/#node-kubernetes-io-unreachable>):
/// - `Ready=Unknown` → `node.kubernetes.io/unreachable` with `NoSchedule` and `NoExecute`;
/// - `Ready=False` → `node.kubernetes.io/not-ready` with `NoSchedule` and `NoExecute`;
/// - `Ready=True` → neither.
///
/// A wanted taint already present is kept as is (so its `timeAdded` does not move); a new `NoExecute`
/// taint gets `timeAdded = now` (only `NoExecute` taints carry `timeAdded`, as in Kubernetes). The other
/// key's taints are removed. Every other taint (other keys, or these keys with `PreferNoSchedule`) is
/// kept untouched, in its order; new taints are appended. Compare the result with `spec.taints` to know
/// whether to write.
pub fn desired_taints(node: &Node, health: &NodeHealth, now: Timestamp) -> Vec<Taint> {
    let wanted = match health.ready {
        ConditionStatus::True => None,
        ConditionStatus::False => Some(TAINT_NOT_READY),
        ConditionStatus::Unknown => Some(TAINT_UNREACHABLE),
    };
    let managed = |t: &Taint| {
        (t.key == TAINT_UNREACHABLE || t.key == TAINT_NOT_READY)
            && MANAGED_EFFECTS.contains(&t.effect.as_str())
    };
    let mut taints: Vec<Taint> = node
        .spec
        .as_ref()
        .and_then(|s| s.taints.clone())
        .unwrap_or_default()
        .into_iter()
        .filter(|t| !managed(t) || Some(t.key.as_str()) == wanted)
        .collect();
    if let Some(key) = wanted {
        for effect in MANAGED_EFFECTS {
            if !taints.iter().any(|t| t.key == key && t.effect == effect) {
                taints.push(Taint {
                    key: key.into(),
                    effect: effect.into(),
                    value: None,
                    time_added: (effect == "NoExecute").then_some(Time(now)),
                });
            }
        }
    }
    taints
}

/// `true` when `toleration` tolerates `taint` (Kubernetes' `Toleration.ToleratesTaint`,
/// <https://kubernetes.io/docs/concepts/scheduling-eviction/taint-and-toleration/#concepts>):
/// the effects match or the toleration's effect is empty; the keys match or the toleration's key is empty
/// (then only with `Exists`); operator `Exists` ignores the value, `Equal` (the default) compares it
/// (absent = `""`). Unknown operators tolerate nothing.
pub fn tolerates(toleration: &Toleration, taint: &Taint) -> bool {
    let effect = toleration.effect.as_deref().unwrap_or("");
    if !effect.is_empty() && effect != taint.effect {
        return false;
    }
    let key = toleration.key.as_deref().unwrap_or("");
    if !key.is_empty() && key != taint.key {
        return false;
    }
    match toleration.operator.as_deref().unwrap_or("Equal") {
        "Exists" => true,
        "Equal" | "" => {
            !key.is_empty()
                && toleration.value.as_deref().unwrap_or("") == taint.value.as_deref().unwrap_or("")
        }
        _ => false,
    }
}
