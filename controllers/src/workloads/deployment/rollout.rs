//! The arithmetic of a Deployment rollout, pure (Kubernetes' `pkg/controller/deployment/util`,
//! `rolling.go`, `sync.go`): how far the new ReplicaSet may grow and the old ones shrink.
//!
//! - `maxSurge` and `maxUnavailable` are a number or a percentage of `spec.replicas`; a
//!   percentage of surge rounds **up**, of unavailability rounds **down**; when both come out 0,
//!   unavailability is 1 ([`fenceposts`], `ResolveFenceposts`).
//! - Rolling update: the new set grows while the total of every set's `spec.replicas` stays
//!   within `replicas + maxSurge` ([`new_set_target`]); old sets shrink — first their unavailable
//!   pods, then available ones — while at least `replicas - maxUnavailable` pods stay available
//!   ([`old_sets_scale_down`]).
//! - A change of `spec.replicas` outside a rollout is spread over the active sets in proportion to
//!   their size ([`proportional_scale`]).

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

/// `value` of `total`: an integer as is; `"N%"` as `N × total / 100`, rounded up or down. A
/// malformed percentage counts as 0.
pub fn scaled_value(value: Option<&IntOrString>, total: i32, round_up: bool) -> i32 {
    match value {
        None => 0,
        Some(IntOrString::Int(n)) => *n,
        Some(IntOrString::String(s)) => {
            let Some(pct) = s
                .strip_suffix('%')
                .and_then(|p| p.trim().parse::<i64>().ok())
            else {
                return s.parse::<i32>().unwrap_or(0);
            };
            let num = pct * i64::from(total);
            let v = if round_up {
                (num + 99).div_euclid(100)
            } else {
                num.div_euclid(100)
            };
            i32::try_from(v).unwrap_or(i32::MAX)
        }
    }
}

/// `(maxSurge, maxUnavailable)` as pod counts for `replicas` (see the module docs).
pub fn fenceposts(
    max_surge: Option<&IntOrString>,
    max_unavailable: Option<&IntOrString>,
    replicas: i32,
) -> (i32, i32) {
    let surge = scaled_value(max_surge, replicas, true).max(0);
    let mut unavailable = scaled_value(max_unavailable, replicas, false).max(0);
    if surge == 0 && unavailable == 0 {
        unavailable = 1;
    }
    (surge, unavailable.min(replicas.max(0)))
}

/// One ReplicaSet as the rollout sees it: `spec.replicas` and `status.availableReplicas`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SetCounts {
    /// `spec.replicas`.
    pub replicas: i32,
    /// `status.availableReplicas`.
    pub available: i32,
}

/// The `spec.replicas` the new set should have now during a rolling update (`NewRSNewReplicas`):
/// `all_replicas` is the sum of `spec.replicas` over every set, new one included.
pub fn new_set_target(replicas: i32, surge: i32, all_replicas: i32, new_set: i32) -> i32 {
    if new_set >= replicas {
        return replicas;
    }
    let max_total = replicas + surge;
    if all_replicas >= max_total {
        return new_set;
    }
    new_set + (max_total - all_replicas).min(replicas - new_set)
}

/// New `spec.replicas` of each old set (oldest first, as given) for one rolling-update step
/// (`reconcileOldReplicaSets`): first unavailable pods of old sets go, then available ones, never
/// leaving fewer than `replicas - unavailable` available pods, counting the new set's pods that
/// are not yet available against that budget.
pub fn old_sets_scale_down(
    replicas: i32,
    unavailable: i32,
    new_set: SetCounts,
    old: &[SetCounts],
) -> Vec<i32> {
    let mut out: Vec<i32> = old.iter().map(|s| s.replicas).collect();
    let old_total: i32 = out.iter().sum();
    if old_total == 0 {
        return out;
    }
    let all = old_total + new_set.replicas;
    let min_available = replicas - unavailable;
    let new_unavailable = (new_set.replicas - new_set.available).max(0);
    let max_scaled_down = all - min_available - new_unavailable;
    if max_scaled_down <= 0 {
        return out;
    }
    // Unhealthy pods first (`cleanupUnhealthyReplicas`).
    let mut cleaned = 0;
    for (i, s) in old.iter().enumerate() {
        if cleaned >= max_scaled_down {
            break;
        }
        let unhealthy = (out[i] - s.available).max(0);
        if out[i] == 0 || unhealthy == 0 {
            continue;
        }
        let n = unhealthy.min(max_scaled_down - cleaned);
        out[i] -= n;
        cleaned += n;
    }
    // Then available ones, within the availability budget
    // (`scaleDownOldReplicaSetsForRollingUpdate`).
    let available: i32 = old.iter().map(|s| s.available).sum::<i32>() + new_set.available;
    if available <= min_available {
        return out;
    }
    let budget = available - min_available;
    let mut done = 0;
    for n in &mut out {
        if done >= budget {
            break;
        }
        let step = (*n).min(budget - done);
        *n -= step;
        done += step;
    }
    out
}

/// Spreads a change of `spec.replicas` over `sets` (their current `spec.replicas`, newest first)
/// so that their total becomes `target` (`replicas + maxSurge` during a rolling update,
/// Kubernetes' proportional scaling): each set gets a share proportional to its size, rounded
/// down, and the rounding leftover goes to the newest set when growing and is taken from the
/// largest ones when shrinking. No set goes below 0.
pub fn proportional_scale(sets: &[i32], target: i32) -> Vec<i32> {
    let total: i32 = sets.iter().sum();
    let mut out = sets.to_vec();
    if sets.is_empty() || total == target {
        return out;
    }
    if total == 0 {
        out[0] = target.max(0);
        return out;
    }
    let delta = target - total;
    let mut applied = 0;
    for (i, s) in sets.iter().enumerate() {
        let share = i32::try_from(i64::from(*s) * i64::from(delta) / i64::from(total)).unwrap_or(0);
        out[i] = (s + share).max(0);
        applied += out[i] - s;
    }
    let mut left = delta - applied;
    if left > 0 {
        out[0] += left;
    } else {
        let mut order: Vec<usize> = (0..out.len()).collect();
        order.sort_by_key(|i| std::cmp::Reverse(out[*i]));
        for i in order {
            if left == 0 {
                break;
            }
            let take = out[i].min(-left);
            out[i] -= take;
            left += take;
        }
    }
    out
}
