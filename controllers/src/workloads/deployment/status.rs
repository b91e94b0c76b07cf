//! A Deployment's `status` (Kubernetes' `calculateStatus`, `syncRolloutStatus`): the counters
//! summed over its ReplicaSets and the `Available` and `Progressing` conditions that
//! `kubectl rollout status` reads.
//!
//! - `replicas` = Σ `status.replicas`, `updatedReplicas` = the new set's `status.replicas`,
//!   `readyReplicas`, `availableReplicas` = Σ, `unavailableReplicas` = max(0, Σ `spec.replicas` −
//!   available), `observedGeneration` = `metadata.generation`.
//! - `Available`: `True`/`MinimumReplicasAvailable` when available ≥ `replicas − maxUnavailable`,
//!   else `False`/`MinimumReplicasUnavailable`.
//! - `Progressing`: `True`/`NewReplicaSetCreated` when the new set was just created,
//!   `True`/`ReplicaSetUpdated` while the rollout makes progress (refreshing `lastUpdateTime`),
//!   `True`/`NewReplicaSetAvailable` once complete, `False`/`ProgressDeadlineExceeded` when no
//!   progress was made for `progressDeadlineSeconds`, `Unknown`/`DeploymentPaused` (and
//!   `DeploymentResumed`) around a pause.
//! - A condition keeps its `lastTransitionTime` while its status stays the same.

use k8s_openapi::api::apps::v1::{Deployment, DeploymentCondition, DeploymentStatus, ReplicaSet};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::{SignedDuration, Timestamp};

/// `Progressing` reasons (Kubernetes' `deploymentutil` constants).
pub const NEW_RS_CREATED: &str = "NewReplicaSetCreated";
/// The rollout made progress.
pub const RS_UPDATED: &str = "ReplicaSetUpdated";
/// The rollout is complete.
pub const NEW_RS_AVAILABLE: &str = "NewReplicaSetAvailable";
/// No progress for `progressDeadlineSeconds`.
pub const TIMED_OUT: &str = "ProgressDeadlineExceeded";
/// The Deployment is paused.
pub const PAUSED: &str = "DeploymentPaused";
/// The Deployment was resumed.
pub const RESUMED: &str = "DeploymentResumed";

/// `Some(v)` unless `v` is 0: Kubernetes' status counters are `omitempty`, so a zero is left out
/// of the object (readers take a missing counter as 0).
fn non_zero(v: i32) -> Option<i32> {
    (v != 0).then_some(v)
}

fn sum(sets: &[&ReplicaSet], f: impl Fn(&ReplicaSet) -> i32) -> i32 {
    sets.iter().map(|rs| f(rs)).sum()
}

fn spec_replicas(rs: &ReplicaSet) -> i32 {
    rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0)
}

/// The counters and `Available` condition of `d` over `all` its sets, `new_set` the one of its
/// template; `max_unavailable` from [`super::rollout::fenceposts`]; other conditions are copied.
pub fn counters(
    d: &Deployment,
    all: &[&ReplicaSet],
    new_set: Option<&ReplicaSet>,
    max_unavailable: i32,
    now: Timestamp,
) -> DeploymentStatus {
    let st = |rs: &ReplicaSet| rs.status.clone().unwrap_or_default();
    let available = sum(all, |rs| st(rs).available_replicas.unwrap_or(0));
    let total = sum(all, spec_replicas);
    let mut status = DeploymentStatus {
        observed_generation: d.metadata.generation,
        replicas: non_zero(sum(all, |rs| st(rs).replicas)),
        updated_replicas: non_zero(new_set.map_or(0, |rs| st(rs).replicas)),
        ready_replicas: non_zero(sum(all, |rs| st(rs).ready_replicas.unwrap_or(0))),
        available_replicas: non_zero(available),
        unavailable_replicas: non_zero((total - available).max(0)),
        collision_count: d.status.as_ref().and_then(|s| s.collision_count),
        conditions: d.status.as_ref().and_then(|s| s.conditions.clone()),
        ..DeploymentStatus::default()
    };
    let replicas = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let cond = if available >= replicas - max_unavailable {
        condition(
            "Available",
            "True",
            "MinimumReplicasAvailable",
            "Deployment has minimum availability.",
            now,
        )
    } else {
        condition(
            "Available",
            "False",
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.",
            now,
        )
    };
    set_condition(&mut status, cond);
    status
}

/// A condition of `type_` with both times `now`.
pub fn condition(
    type_: &str,
    status: &str,
    reason: &str,
    message: &str,
    now: Timestamp,
) -> DeploymentCondition {
    DeploymentCondition {
        type_: type_.into(),
        status: status.into(),
        reason: Some(reason.into()),
        message: Some(message.into()),
        last_update_time: Some(Time(now)),
        last_transition_time: Some(Time(now)),
    }
}

/// The condition of `type_`, if any.
pub fn get_condition<'a>(
    status: Option<&'a DeploymentStatus>,
    type_: &str,
) -> Option<&'a DeploymentCondition> {
    status?
        .conditions
        .as_deref()?
        .iter()
        .find(|c| c.type_ == type_)
}

/// Sets `cond` (Kubernetes' `SetDeploymentCondition`): nothing changes when a condition of the
/// same type, status and reason exists; otherwise it replaces it, keeping its
/// `lastTransitionTime` when the status is the same.
pub fn set_condition(status: &mut DeploymentStatus, mut cond: DeploymentCondition) {
    let conds = status.conditions.get_or_insert_with(Vec::new);
    if let Some(old) = conds.iter().find(|c| c.type_ == cond.type_) {
        if old.status == cond.status && old.reason == cond.reason {
            return;
        }
        if old.status == cond.status {
            cond.last_transition_time = old.last_transition_time.clone();
        }
    }
    conds.retain(|c| c.type_ != cond.type_);
    conds.push(cond);
}

/// `true` when every replica is updated and available and the generation observed
/// (`DeploymentComplete`).
pub fn is_complete(d: &Deployment, s: &DeploymentStatus) -> bool {
    let replicas = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let n = |v: Option<i32>| v.unwrap_or(0);
    n(s.updated_replicas) == replicas
        && n(s.replicas) == replicas
        && n(s.available_replicas) == replicas
        && s.observed_generation >= d.metadata.generation
}

/// `true` when `new` shows progress over the stored status (`DeploymentProgressing`): more
/// updated, ready or available pods, or fewer old ones.
pub fn is_progressing(d: &Deployment, new: &DeploymentStatus) -> bool {
    let old = d.status.clone().unwrap_or_default();
    let n = |x: Option<i32>| x.unwrap_or(0);
    let old_old = n(old.replicas) - n(old.updated_replicas);
    let new_old = n(new.replicas) - n(new.updated_replicas);
    n(new.updated_replicas) > n(old.updated_replicas)
        || new_old < old_old
        || n(new.ready_replicas) > n(old.ready_replicas)
        || n(new.available_replicas) > n(old.available_replicas)
}

/// When the rollout of `d` times out, from its `Progressing` condition's `lastUpdateTime` plus
/// `progressDeadlineSeconds` (`None`: no deadline, complete, or already timed out).
pub fn deadline(d: &Deployment, status: &DeploymentStatus) -> Option<Timestamp> {
    let secs = d.spec.as_ref()?.progress_deadline_seconds?;
    let c = get_condition(Some(status), "Progressing")?;
    if matches!(
        c.reason.as_deref(),
        Some(NEW_RS_AVAILABLE | TIMED_OUT | PAUSED)
    ) {
        return None;
    }
    let from = c.last_update_time.as_ref()?.0;
    from.checked_add(SignedDuration::from_secs(i64::from(secs)))
        .ok()
}

/// Updates the `Progressing` condition of `status` for the new set named `new_name`
/// (`syncRolloutStatus`; see the module docs).
pub fn progress(
    d: &Deployment,
    status: &mut DeploymentStatus,
    new_name: Option<&str>,
    now: Timestamp,
) {
    if d.spec
        .as_ref()
        .and_then(|s| s.progress_deadline_seconds)
        .is_none()
    {
        if let Some(c) = status.conditions.as_mut() {
            c.retain(|c| c.type_ != "Progressing");
        }
        return;
    }
    let current = get_condition(Some(&*status), "Progressing").cloned();
    let complete_before = status.replicas == status.updated_replicas
        && current.as_ref().and_then(|c| c.reason.as_deref()) == Some(NEW_RS_AVAILABLE);
    if complete_before {
        return;
    }
    let rs = new_name.unwrap_or_default();
    if is_complete(d, status) {
        let msg = format!("ReplicaSet \"{rs}\" has successfully progressed.");
        set_condition(
            status,
            condition("Progressing", "True", NEW_RS_AVAILABLE, &msg, now),
        );
    } else if is_progressing(d, status) {
        let msg = match new_name {
            Some(n) => format!("ReplicaSet \"{n}\" is progressing."),
            None => format!(
                "Deployment \"{}\" is progressing.",
                d.metadata.name.as_deref().unwrap_or_default()
            ),
        };
        let mut c = condition("Progressing", "True", RS_UPDATED, &msg, now);
        if let Some(old) = current.as_ref().filter(|o| o.status == "True") {
            c.last_transition_time = old.last_transition_time.clone();
        }
        if let Some(conds) = status.conditions.as_mut() {
            conds.retain(|c| c.type_ != "Progressing");
        }
        set_condition(status, c);
    } else if deadline(d, status).is_some_and(|t| t < now) {
        let msg = format!("ReplicaSet \"{rs}\" has timed out progressing.");
        set_condition(
            status,
            condition("Progressing", "False", TIMED_OUT, &msg, now),
        );
    }
}

/// `true` when `a` and `b` differ only in nothing a write would change.
pub fn same(a: Option<&DeploymentStatus>, b: &DeploymentStatus) -> bool {
    a.is_some_and(|a| a == b)
}
