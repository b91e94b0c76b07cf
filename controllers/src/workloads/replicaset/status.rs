//! A ReplicaSet's `status` from its pods (Kubernetes' `calculateStatus`): `replicas` (active
//! pods), `fullyLabeledReplicas` (those carrying every template label), `readyReplicas`,
//! `availableReplicas` (ready for `minReadySeconds`), `observedGeneration`, and the
//! `ReplicaFailure` condition while pod creation or deletion fails.

use super::super::{available_at, is_pod_ready};
use k8s_openapi::api::apps::v1::{ReplicaSet, ReplicaSetCondition, ReplicaSetStatus};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use std::sync::Arc;

/// The computed status and, when some ready pod is not yet available, the earliest time one
/// becomes available (when the status must be computed again).
#[derive(Debug, Clone, PartialEq)]
pub struct Computed {
    /// The status to store.
    pub status: ReplicaSetStatus,
    /// The next time `availableReplicas` grows without any pod changing.
    pub recheck_at: Option<Timestamp>,
}

/// The status of `rs` given its active pods `active` at `now`; `failure` is the message of the
/// last failed create or delete of this sync (`None` clears the `ReplicaFailure` condition).
pub fn compute(
    rs: &ReplicaSet,
    active: &[Arc<Pod>],
    failure: Option<&str>,
    now: Timestamp,
) -> Computed {
    let spec = rs.spec.as_ref();
    let min_ready = spec.and_then(|s| s.min_ready_seconds).unwrap_or(0);
    let template_labels = spec
        .and_then(|s| s.template.as_ref())
        .and_then(|t| t.metadata.as_ref())
        .and_then(|m| m.labels.clone())
        .unwrap_or_default();
    let (mut ready, mut available, mut fully_labeled) = (0, 0, 0);
    let mut recheck_at: Option<Timestamp> = None;
    for p in active {
        let labels = p.metadata.labels.as_ref();
        if template_labels
            .iter()
            .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
        {
            fully_labeled += 1;
        }
        if is_pod_ready(p) {
            ready += 1;
        }
        match available_at(p, min_ready) {
            Some(t) if t <= now => available += 1,
            Some(t) => recheck_at = Some(recheck_at.map_or(t, |r| r.min(t))),
            None => {}
        }
    }
    let previous = rs.status.as_ref();
    let mut conditions: Vec<ReplicaSetCondition> = previous
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default()
        .into_iter()
        .filter(|c| c.type_ != "ReplicaFailure")
        .collect();
    if let Some(message) = failure {
        let old = previous
            .and_then(|s| s.conditions.as_deref())
            .and_then(|c| c.iter().find(|c| c.type_ == "ReplicaFailure"));
        conditions.push(ReplicaSetCondition {
            type_: "ReplicaFailure".into(),
            status: "True".into(),
            reason: Some("FailedCreate".into()),
            message: Some(message.to_string()),
            last_transition_time: old
                .and_then(|c| c.last_transition_time.clone())
                .or(Some(Time(now))),
        });
    }
    let len = i32::try_from(active.len()).unwrap_or(i32::MAX);
    Computed {
        status: ReplicaSetStatus {
            replicas: len,
            fully_labeled_replicas: Some(fully_labeled),
            ready_replicas: Some(ready),
            available_replicas: Some(available),
            observed_generation: rs.metadata.generation,
            conditions: (!conditions.is_empty()).then_some(conditions),
            ..ReplicaSetStatus::default()
        },
        recheck_at,
    }
}

/// `true` when `a` and `b` report the same counters, generation and conditions (what decides
/// whether a status write is needed).
pub fn same_status(a: Option<&ReplicaSetStatus>, b: &ReplicaSetStatus) -> bool {
    let Some(a) = a else { return false };
    let n = |x: Option<i32>| x.unwrap_or(0);
    a.replicas == b.replicas
        && n(a.fully_labeled_replicas) == n(b.fully_labeled_replicas)
        && n(a.ready_replicas) == n(b.ready_replicas)
        && n(a.available_replicas) == n(b.available_replicas)
        && a.observed_generation == b.observed_generation
        && a.conditions.clone().unwrap_or_default() == b.conditions.clone().unwrap_or_default()
}
