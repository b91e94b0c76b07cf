//! Taint-based evictions, default tolerations, and pods on an unreachable node.

use k8s_openapi::api::core::v1::{Pod, PodCondition, Taint, Toleration};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::{SignedDuration, Timestamp};

use super::taints::{TAINT_NOT_READY, TAINT_UNREACHABLE, tolerates};

/// Kubernetes' default for `--default-not-ready-toleration-seconds` and
/// `--default-unreachable-toleration-seconds`: 300 s (5 minutes).
pub const DEFAULT_TOLERATION_SECONDS: u64 = 300;

/// When a pod must leave its node because of `NoExecute` taints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Eviction {
    /// Never: no `NoExecute` taint, or all are tolerated without `tolerationSeconds`.
    Never,
    /// At this instant (in the future).
    At(Timestamp),
    /// Now: an untolerated `NoExecute` taint, or a toleration that has run out.
    Now,
}

/// When `pod` is to be evicted from a node with `taints`, at `now` (Kubernetes' taint eviction controller,
/// <https://kubernetes.io/docs/concepts/scheduling-eviction/taint-and-toleration/#taint-based-evictions>).
///
/// Only `NoExecute` taints count. A taint that no toleration of the pod tolerates ([`tolerates`]) →
/// [`Eviction::Now`]. Otherwise, for each taint the first toleration matching it (as Kubernetes picks it):
/// with `tolerationSeconds = s` the pod may stay until `timeAdded + s` (`timeAdded` absent → `now`;
/// `s <= 0` → `timeAdded`); without `tolerationSeconds`, forever. The earliest deadline wins: at or before
/// `now` → [`Eviction::Now`], later → [`Eviction::At`]; no deadline → [`Eviction::Never`].
pub fn eviction_deadline(pod: &Pod, taints: &[Taint], now: Timestamp) -> Eviction {
    let tolerations: &[Toleration] = pod
        .spec
        .as_ref()
        .and_then(|s| s.tolerations.as_deref())
        .unwrap_or_default();
    let mut deadline: Option<Timestamp> = None;
    for taint in taints.iter().filter(|t| t.effect == "NoExecute") {
        let Some(toleration) = tolerations.iter().find(|t| tolerates(t, taint)) else {
            return Eviction::Now;
        };
        let Some(seconds) = toleration.toleration_seconds else {
            continue;
        };
        let added = taint.time_added.as_ref().map_or(now, |t| t.0);
        let until = added
            .checked_add(SignedDuration::from_secs(seconds.max(0)))
            .unwrap_or(Timestamp::MAX);
        deadline = Some(deadline.map_or(until, |d| d.min(until)));
    }
    match deadline {
        None => Eviction::Never,
        Some(at) if at <= now => Eviction::Now,
        Some(at) => Eviction::At(at),
    }
}

/// The pod's tolerations after Kubernetes' `DefaultTolerationSeconds` admission plugin
/// (<https://kubernetes.io/docs/reference/access-authn-authz/admission-controllers/#defaulttolerationseconds>):
/// unless the pod already tolerates it — a toleration whose key is the taint's or empty, and whose effect
/// is `NoExecute` or empty — appends `{key: node.kubernetes.io/not-ready, operator: Exists,
/// effect: NoExecute, tolerationSeconds: not_ready_secs}`, and the same for
/// `node.kubernetes.io/unreachable` with `unreachable_secs` (both [`DEFAULT_TOLERATION_SECONDS`] by
/// default; seconds beyond `i64::MAX` saturate). Existing tolerations are kept first, in order.
pub fn default_tolerations(
    pod: &Pod,
    not_ready_secs: u64,
    unreachable_secs: u64,
) -> Vec<Toleration> {
    let mut tolerations = pod
        .spec
        .as_ref()
        .and_then(|s| s.tolerations.clone())
        .unwrap_or_default();
    let tolerated = |tolerations: &[Toleration], key: &str| {
        tolerations.iter().any(|t| {
            matches!(t.key.as_deref(), None | Some("")) || t.key.as_deref() == Some(key)
        } && matches!(t.effect.as_deref(), None | Some("") | Some("NoExecute")))
    };
    for (key, secs) in [
        (TAINT_NOT_READY, not_ready_secs),
        (TAINT_UNREACHABLE, unreachable_secs),
    ] {
        if !tolerated(&tolerations, key) {
            tolerations.push(Toleration {
                key: Some(key.into()),
                operator: Some("Exists".into()),
                effect: Some("NoExecute".into()),
                toleration_seconds: Some(i64::try_from(secs).unwrap_or(i64::MAX)),
                value: None,
            });
        }
    }
    tolerations
}

/// The `Ready` condition to write on a pod whose node went `Ready=Unknown`/`False` (Kubernetes'
/// `MarkPodsNotReady`): the pod's existing `Ready` condition with status `False` and
/// `lastTransitionTime = now`, other fields kept. `None` when nothing is to be written: the pod has no
/// `Ready` condition, it is already `False`, or the pod is terminal (`Succeeded`/`Failed`).
pub fn pod_ready_condition_for_unknown_node(pod: &Pod, now: Timestamp) -> Option<PodCondition> {
    let status = pod.status.as_ref()?;
    if matches!(status.phase.as_deref(), Some("Succeeded" | "Failed")) {
        return None;
    }
    let ready = status
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Ready")?;
    if ready.status == "False" {
        return None;
    }
    Some(PodCondition {
        status: "False".into(),
        last_transition_time: Some(Time(now)),
        ..ready.clone()
    })
}
