//! Bookkeeping that keeps a ReplicaSet from acting twice on a stale cache, and from creating a
//! storm of pods.
//!
//! - [`Expectations`] (Kubernetes' `ControllerExpectations`, keyed by pod name instead of a
//!   counter): after creating or deleting pods, the set does not create or delete again until the
//!   pod cache shows every pod it created and no pod it deleted, or until a timeout passes.
//! - [`CreateBackoff`]: while the set's pods keep failing (phase `Failed`, so they need
//!   replacements), each round of replacements waits longer — 1 s doubling up to a limit — and
//!   the wait resets once every active pod is available.

use std::collections::{HashMap, HashSet};
use std::time::Duration;
use tokio::time::Instant;

/// What one ReplicaSet waits to see in the pod cache.
#[derive(Debug, Clone)]
struct Pending {
    created: HashSet<String>,
    deleted: HashSet<(String, String)>,
    since: Instant,
}

/// Pods each ReplicaSet (by `namespace/name`) created or deleted and has not seen yet.
#[derive(Debug, Default)]
pub struct Expectations {
    pending: HashMap<String, Pending>,
}

impl Expectations {
    /// Records that `key` created the pods named `created` and deleted `deleted` (name, uid).
    pub fn expect(&mut self, key: &str, created: Vec<String>, deleted: Vec<(String, String)>) {
        if created.is_empty() && deleted.is_empty() {
            return;
        }
        let p = self
            .pending
            .entry(key.to_string())
            .or_insert_with(|| Pending {
                created: HashSet::new(),
                deleted: HashSet::new(),
                since: Instant::now(),
            });
        p.created.extend(created);
        p.deleted.extend(deleted);
        p.since = Instant::now();
    }

    /// `true` when `key` may act: nothing pending, or everything pending observed — `seen(name)`
    /// gives the uid and "marked for deletion" of a cached pod — or the last record is older than
    /// `timeout`. Observed entries are dropped.
    pub fn satisfied(
        &mut self,
        key: &str,
        timeout: Duration,
        seen: impl Fn(&str) -> Option<(String, bool)>,
    ) -> bool {
        let Some(p) = self.pending.get_mut(key) else {
            return true;
        };
        p.created.retain(|name| seen(name).is_none());
        p.deleted
            .retain(|(name, uid)| matches!(seen(name), Some((u, false)) if &u == uid));
        if (p.created.is_empty() && p.deleted.is_empty()) || p.since.elapsed() >= timeout {
            self.pending.remove(key);
            return true;
        }
        false
    }

    /// Forgets `key` (the ReplicaSet is gone).
    pub fn forget(&mut self, key: &str) {
        self.pending.remove(key);
    }
}

/// The replacement-round backoff of one ReplicaSet.
#[derive(Debug, Clone, Copy)]
struct Round {
    failed_seen: usize,
    failures: u32,
    not_before: Instant,
}

/// Slows pod creation down for ReplicaSets whose pods keep failing.
#[derive(Debug)]
pub struct CreateBackoff {
    initial: Duration,
    max: Duration,
    rounds: HashMap<String, Round>,
}

impl CreateBackoff {
    /// A backoff starting at `initial` and doubling up to `max`.
    pub fn new(initial: Duration, max: Duration) -> Self {
        CreateBackoff {
            initial,
            max,
            rounds: HashMap::new(),
        }
    }

    /// Reports the state of `key`'s pods: `failed` of its pods are in phase `Failed`, and
    /// `all_available` tells whether every active pod is available. A growing `failed` count
    /// starts the next, longer, wait; `all_available` with nothing new failed resets it.
    pub fn observe(&mut self, key: &str, failed: usize, all_available: bool) {
        let now = Instant::now();
        let r = self.rounds.entry(key.to_string()).or_insert(Round {
            failed_seen: failed,
            failures: 0,
            not_before: now,
        });
        if failed > r.failed_seen {
            r.failures = r.failures.saturating_add(1);
            let factor = 2u32.saturating_pow(r.failures.saturating_sub(1).min(30));
            r.not_before = now + self.initial.saturating_mul(factor).min(self.max);
        } else if all_available {
            r.failures = 0;
        }
        r.failed_seen = failed;
    }

    /// How long `key` must still wait before creating pods (`None`: it may create now).
    pub fn wait(&self, key: &str) -> Option<Duration> {
        let r = self.rounds.get(key)?;
        let left = r.not_before.saturating_duration_since(Instant::now());
        (!left.is_zero()).then_some(left)
    }

    /// Forgets `key` (the ReplicaSet is gone).
    pub fn forget(&mut self, key: &str) {
        self.rounds.remove(key);
    }
}
