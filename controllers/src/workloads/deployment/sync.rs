//! One sync of a Deployment (Kubernetes' `syncDeployment`): claim sets, scale or roll out, clean
//! up, write status.

use super::super::is_deleting;
use super::Ctx;
use super::rollout::{
    SetCounts, fenceposts, new_set_target, old_sets_scale_down, proportional_scale,
};
use super::sets::{self, Created, DESIRED_REPLICAS, REVISION, available, int_annotation, replicas};
use super::status::{self, NEW_RS_CREATED, PAUSED, RESUMED};
use crate::builtin::namespace_and_name;
use crate::client::{Api, ClientError, ListParams};
use crate::controller::Action;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::jiff::Timestamp;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

/// The rollout parameters of one sync.
struct Plan {
    replicas: i32,
    surge: i32,
    unavailable: i32,
    rolling: bool,
}

impl Plan {
    fn of(d: &Deployment) -> Plan {
        let spec = d.spec.clone().unwrap_or_default();
        let replicas = spec.replicas.unwrap_or(1);
        let strategy = spec.strategy.unwrap_or_default();
        let rolling = strategy.type_.as_deref() != Some("Recreate");
        let (surge, unavailable) = if rolling && replicas > 0 {
            let ru = strategy.rolling_update.unwrap_or_default();
            fenceposts(ru.max_surge.as_ref(), ru.max_unavailable.as_ref(), replicas)
        } else {
            (0, 0)
        };
        Plan {
            replicas,
            surge,
            unavailable,
            rolling,
        }
    }

    fn max_total(&self) -> i32 {
        self.replicas + self.surge
    }
}

/// What a sync did besides scaling, for the status.
#[derive(Default)]
struct Outcome {
    created: Option<String>,
    requeue: Option<Duration>,
}

/// Reconciles one Deployment; see the module docs of [`super`].
pub(super) async fn reconcile(d: Arc<Deployment>, ctx: Arc<Ctx>) -> Result<Action, ClientError> {
    if ctx.sets.wait_until_ready().await.is_err() {
        return Ok(Action::await_change());
    }
    let (ns, _) = namespace_and_name(&d.metadata);
    let owned = sets::claim(&ctx, &d, &ns).await?;
    let plan = Plan::of(&d);
    let mut new_set = sets::find_new(&d, &owned);
    let mut old: Vec<Arc<ReplicaSet>> = owned
        .iter()
        .filter(|rs| {
            new_set
                .as_ref()
                .is_none_or(|n| n.metadata.uid != rs.metadata.uid)
        })
        .cloned()
        .collect();
    old.sort_by_key(|rs| rs.metadata.creation_timestamp.as_ref().map(|t| t.0));
    let paused = d.spec.as_ref().and_then(|s| s.paused).unwrap_or(false);
    let mut outcome = Outcome::default();
    if !is_deleting(&d.metadata) {
        if paused || is_scaling_event(&plan, new_set.as_ref(), &old) {
            scale(&ctx, &d, &plan, &mut new_set, &mut old).await?;
            if paused {
                sets::cleanup(&ctx, &d, &old).await?;
            }
        } else {
            outcome = roll_out(&ctx, &d, &ns, &plan, &mut new_set, &mut old).await?;
        }
    }
    write_status(
        &ctx,
        &d,
        &ns,
        &plan,
        new_set.as_ref(),
        &old,
        &outcome,
        paused,
    )
    .await
}

/// `true` when an active set was last scaled for another `spec.replicas` (`isScalingEvent`).
fn is_scaling_event(
    plan: &Plan,
    new_set: Option<&Arc<ReplicaSet>>,
    old: &[Arc<ReplicaSet>],
) -> bool {
    new_set
        .into_iter()
        .chain(old)
        .filter(|rs| replicas(rs) > 0)
        .any(|rs| {
            int_annotation(rs, DESIRED_REPLICAS)
                .is_some_and(|want| want != i64::from(plan.replicas))
        })
}

/// Applies a change of `spec.replicas` (Kubernetes' `scale`): one active set (or none: the newest)
/// takes the whole count; a saturated new set lets the old ones go to 0; otherwise the change is
/// spread proportionally within `replicas + maxSurge`.
async fn scale(
    ctx: &Ctx,
    d: &Deployment,
    plan: &Plan,
    new_set: &mut Option<Arc<ReplicaSet>>,
    old: &mut [Arc<ReplicaSet>],
) -> Result<(), ClientError> {
    let (desired, max_total) = (plan.replicas, plan.max_total());
    let active: Vec<usize> = (0..old.len()).filter(|i| replicas(&old[*i]) > 0).collect();
    let new_active = new_set.as_ref().is_some_and(|n| replicas(n) > 0);
    if active.len() + usize::from(new_active) <= 1 {
        if let Some(n) = new_set.as_mut().filter(|_| new_active || active.is_empty()) {
            *n = sets::scale(ctx, d, n, desired, desired, max_total, None).await?;
        } else if let Some(i) = active.first().copied().or(old.len().checked_sub(1)) {
            old[i] = sets::scale(ctx, d, &old[i], desired, desired, max_total, None).await?;
        }
        return Ok(());
    }
    if new_set
        .as_ref()
        .is_some_and(|n| replicas(n) == desired && available(n) == desired)
    {
        for i in active {
            old[i] = sets::scale(ctx, d, &old[i], 0, desired, max_total, None).await?;
        }
        return Ok(());
    }
    let target = if plan.rolling { max_total } else { desired };
    // Newest first: the new set, then old sets from the newest.
    let mut order: Vec<Option<usize>> = Vec::new();
    if new_active {
        order.push(None);
    }
    order.extend(active.iter().rev().map(|i| Some(*i)));
    let sizes: Vec<i32> = order
        .iter()
        .map(|o| match o {
            None => new_set.as_ref().map_or(0, |n| replicas(n)),
            Some(i) => replicas(&old[*i]),
        })
        .collect();
    let scaled = proportional_scale(&sizes, target);
    for (o, n) in order.into_iter().zip(scaled) {
        match o {
            None => {
                if let Some(s) = new_set.as_mut() {
                    *s = sets::scale(ctx, d, s, n, desired, max_total, None).await?;
                }
            }
            Some(i) => old[i] = sets::scale(ctx, d, &old[i], n, desired, max_total, None).await?,
        }
    }
    Ok(())
}

/// One step of the rollout (RollingUpdate or Recreate).
async fn roll_out(
    ctx: &Ctx,
    d: &Deployment,
    ns: &str,
    plan: &Plan,
    new_set: &mut Option<Arc<ReplicaSet>>,
    old: &mut [Arc<ReplicaSet>],
) -> Result<Outcome, ClientError> {
    let mut outcome = Outcome::default();
    let (desired, max_total) = (plan.replicas, plan.max_total());
    let revision = sets::max_revision(old) + 1;
    if !plan.rolling {
        let mut scaled_down = false;
        for rs in old.iter_mut().filter(|rs| replicas(rs) > 0) {
            *rs = sets::scale(ctx, d, rs, 0, desired, max_total, None).await?;
            scaled_down = true;
        }
        if scaled_down {
            return Ok(outcome);
        }
        let uids: Vec<String> = old
            .iter()
            .filter_map(|rs| rs.metadata.uid.clone())
            .collect();
        if !uids.is_empty() && old_pods_running(ctx, d, ns, &uids).await? {
            outcome.requeue = Some(ctx.config.recreate_poll);
            return Ok(outcome);
        }
    }
    let current: i32 = old.iter().map(|rs| replicas(rs)).sum::<i32>();
    match new_set.as_mut() {
        None => {
            let n = if plan.rolling {
                new_set_target(desired, plan.surge, current, 0)
            } else {
                desired
            };
            match sets::create_new(ctx, d, ns, n, max_total, revision).await? {
                Created::Set(rs) => {
                    outcome.created = rs.metadata.name.clone();
                    *new_set = Some(rs);
                }
                Created::Collision => {
                    outcome.requeue = Some(Duration::ZERO);
                    return Ok(outcome);
                }
            }
        }
        Some(n) => {
            let rev = (int_annotation(n, REVISION).unwrap_or(0) < revision).then_some(revision);
            let target = if !plan.rolling || replicas(n) > desired {
                desired
            } else {
                new_set_target(desired, plan.surge, current + replicas(n), replicas(n))
            };
            let before = replicas(n);
            *n = sets::scale(ctx, d, n, target, desired, max_total, rev).await?;
            if target != before {
                return Ok(outcome);
            }
        }
    }
    let Some(n) = new_set.as_ref() else {
        return Ok(outcome);
    };
    let rev = int_annotation(n, REVISION).unwrap_or(revision);
    sets::sync_revision(ctx, d, ns, rev).await?;
    if plan.rolling {
        let counts: Vec<SetCounts> = old
            .iter()
            .map(|rs| SetCounts {
                replicas: replicas(rs),
                available: available(rs),
            })
            .collect();
        let new_counts = SetCounts {
            replicas: replicas(n),
            available: available(n),
        };
        let targets = old_sets_scale_down(desired, plan.unavailable, new_counts, &counts);
        let mut changed = false;
        for (rs, t) in old.iter_mut().zip(targets) {
            if t != replicas(rs) {
                *rs = sets::scale(ctx, d, rs, t, desired, max_total, None).await?;
                changed = true;
            }
        }
        if changed {
            return Ok(outcome);
        }
    }
    let done =
        replicas(n) == desired && available(n) == desired && old.iter().all(|rs| replicas(rs) == 0);
    if done {
        sets::cleanup(ctx, d, old).await?;
    }
    Ok(outcome)
}

/// `true` while a pod of the old sets `uids` has not terminated (Recreate waits for that).
async fn old_pods_running(
    ctx: &Ctx,
    d: &Deployment,
    ns: &str,
    uids: &[String],
) -> Result<bool, ClientError> {
    let Some(pods) = mock_k8_schemas::resource::by_kind("v1", "Pod") else {
        return Ok(false);
    };
    let selector = d
        .spec
        .as_ref()
        .and_then(|s| s.selector.match_labels.as_ref())
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(",")
        });
    let params = ListParams {
        label_selector: selector.filter(|s| !s.is_empty()),
        field_selector: None,
    };
    let list = ctx.client.list(pods, Some(ns), &params).await?;
    Ok(list.items.iter().any(|p| sets::is_running_pod_of(p, uids)))
}

/// Computes and (when changed) writes the status; the action: requeue at the progress deadline
/// or for a Recreate poll.
#[allow(clippy::too_many_arguments)]
async fn write_status(
    ctx: &Ctx,
    d: &Deployment,
    ns: &str,
    plan: &Plan,
    new_set: Option<&Arc<ReplicaSet>>,
    old: &[Arc<ReplicaSet>],
    outcome: &Outcome,
    paused: bool,
) -> Result<Action, ClientError> {
    let now = Timestamp::now();
    let all: Vec<&ReplicaSet> = new_set
        .map(AsRef::as_ref)
        .into_iter()
        .chain(old.iter().map(AsRef::as_ref))
        .collect();
    let mut st = status::counters(d, &all, new_set.map(AsRef::as_ref), plan.unavailable, now);
    let new_name = new_set.and_then(|n| n.metadata.name.as_deref());
    let current_reason =
        status::get_condition(d.status.as_ref(), "Progressing").and_then(|c| c.reason.clone());
    if paused {
        if current_reason.as_deref() != Some(PAUSED) {
            status::set_condition(
                &mut st,
                status::condition(
                    "Progressing",
                    "Unknown",
                    PAUSED,
                    "Deployment is paused",
                    now,
                ),
            );
        }
    } else if !is_deleting(&d.metadata) {
        if current_reason.as_deref() == Some(PAUSED) {
            status::set_condition(
                &mut st,
                status::condition(
                    "Progressing",
                    "Unknown",
                    RESUMED,
                    "Deployment is resumed",
                    now,
                ),
            );
        }
        if let Some(created) = &outcome.created {
            let msg = format!("Created new replica set \"{created}\"");
            status::set_condition(
                &mut st,
                status::condition("Progressing", "True", NEW_RS_CREATED, &msg, now),
            );
        } else if current_reason.is_none()
            && let Some(n) = new_name
        {
            let msg = format!("Found new replica set \"{n}\"");
            status::set_condition(
                &mut st,
                status::condition("Progressing", "True", "FoundNewReplicaSet", &msg, now),
            );
        }
        status::progress(d, &mut st, new_name, now);
    }
    if !status::same(d.status.as_ref(), &st) {
        let api: Api<Deployment> = Api::namespaced(ctx.client.clone(), ns);
        let name = d.metadata.name.as_deref().unwrap_or_default();
        match api.patch_status(name, &json!({"status": st})).await {
            Ok(_) => {}
            Err(e) if e.is_not_found() => return Ok(Action::await_change()),
            Err(e) => return Err(e),
        }
    }
    let mut requeue = outcome.requeue;
    if !paused
        && !status::is_complete(d, &st)
        && let Some(t) = status::deadline(d, &st)
    {
        let left = Duration::try_from(t.duration_since(now)).unwrap_or_default()
            + Duration::from_millis(500);
        requeue = Some(requeue.map_or(left, |r| r.min(left)));
    }
    Ok(requeue.map_or_else(Action::await_change, Action::requeue))
}
