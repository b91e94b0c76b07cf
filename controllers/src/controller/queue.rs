//! The work queue of a [`crate::controller::Controller`]: object keys scheduled at an instant,
//! deduplicated (one entry per key; the earliest scheduled time wins), popped in time order.
//!
//! Entries remember why they were queued: a `Trigger` (a watch event, a mapped related object) is
//! due at once and counts against the controller's `queue_capacity`; a `Requeue` (an `Action` or an
//! error backoff) waits for its time and does not count — there is at most one per object, and it
//! must always be accepted so that a finishing reconcile never waits for room (see the runner).

use crate::reflector::ObjectRef;
use std::collections::{BTreeSet, HashMap};
use tokio::time::Instant;

/// Why a key is queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    /// A change of the object or of something related to it.
    Trigger,
    /// A requested or backoff re-run.
    Requeue,
}

#[derive(Debug, Default)]
pub(crate) struct WorkQueue {
    entries: HashMap<ObjectRef, (Instant, u64, Origin)>,
    order: BTreeSet<(Instant, u64, ObjectRef)>,
    seq: u64,
    triggered: usize,
}

impl WorkQueue {
    /// Schedules `key` at `at`. An already queued key keeps the earlier of the two times; it counts
    /// as triggered if either schedule was a trigger. Returns `true` if the entry is new or moved.
    pub(crate) fn schedule(&mut self, key: ObjectRef, at: Instant, origin: Origin) -> bool {
        if let Some((old_at, old_seq, old_origin)) = self.entries.get(&key).copied() {
            let merged = if old_origin == Origin::Trigger || origin == Origin::Trigger {
                Origin::Trigger
            } else {
                Origin::Requeue
            };
            if merged == Origin::Trigger && old_origin == Origin::Requeue {
                self.triggered += 1;
            }
            if at >= old_at {
                self.entries.insert(key, (old_at, old_seq, merged));
                return false;
            }
            self.order.remove(&(old_at, old_seq, key.clone()));
            self.seq += 1;
            self.order.insert((at, self.seq, key.clone()));
            self.entries.insert(key, (at, self.seq, merged));
            return true;
        }
        if origin == Origin::Trigger {
            self.triggered += 1;
        }
        self.seq += 1;
        self.order.insert((at, self.seq, key.clone()));
        self.entries.insert(key, (at, self.seq, origin));
        true
    }

    /// Removes and returns the earliest key due at or before `now`, with its scheduled time.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<(ObjectRef, Instant)> {
        let first = self.order.first()?;
        if first.0 > now {
            return None;
        }
        let (at, _, key) = self.order.pop_first()?;
        if let Some((_, _, Origin::Trigger)) = self.entries.remove(&key) {
            self.triggered -= 1;
        }
        Some((key, at))
    }

    /// The earliest scheduled time, if any.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.order.first().map(|e| e.0)
    }

    /// Queued keys.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Queued keys that came from triggers (the bounded part).
    pub(crate) fn triggered_len(&self) -> usize {
        self.triggered
    }

    /// The time `key` is scheduled at, if queued.
    #[cfg(test)]
    pub(crate) fn scheduled_at(&self, key: &ObjectRef) -> Option<Instant> {
        self.entries.get(key).map(|e| e.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn work_queue_should_dedupe_keeping_the_earliest_time() {
        let t0 = Instant::now();
        let mut q = WorkQueue::default();
        let a = ObjectRef::new("a");
        assert!(q.schedule(a.clone(), t0 + Duration::from_secs(10), Origin::Requeue));
        assert!(
            q.schedule(a.clone(), t0 + Duration::from_secs(2), Origin::Requeue),
            "earlier wins"
        );
        assert!(
            !q.schedule(a.clone(), t0 + Duration::from_secs(5), Origin::Requeue),
            "later is ignored"
        );
        assert_eq!(q.scheduled_at(&a), Some(t0 + Duration::from_secs(2)));
        assert_eq!((q.len(), q.triggered_len()), (1, 0));
        assert!(!q.schedule(a.clone(), t0 + Duration::from_secs(3), Origin::Trigger));
        assert_eq!(
            q.triggered_len(),
            1,
            "a trigger merged into a requeue counts"
        );
        q.schedule(ObjectRef::new("b"), t0, Origin::Trigger);
        assert_eq!(q.pop_due(t0).map(|e| e.0), Some(ObjectRef::new("b")));
        assert_eq!(q.pop_due(t0), None, "a is not due yet");
        assert_eq!(q.next_deadline(), Some(t0 + Duration::from_secs(2)));
        assert_eq!(q.pop_due(t0 + Duration::from_secs(2)).map(|e| e.0), Some(a));
        assert_eq!((q.len(), q.triggered_len()), (0, 0));
    }
}
