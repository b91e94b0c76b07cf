//! The watch history: the last changes, in revision order, sized the way Kubernetes sizes its watch
//! cache (`k8s.io/apiserver/pkg/storage/cacher/watch_cache.go`).
//!
//! Each kept change holds its object version and the version before it (`prev`, for selectors),
//! and the history is what keeps superseded versions alive: with a fixed window of 100,000
//! changes, every old version of every object written in the last 100,000 changes stays in
//! memory. Kubernetes keeps instead about [`EVENT_FRESH`] of changes: its capacity starts at
//! [`LOWER_BOUND`], doubles (up to its upper bound, 100 × 1024) while a full history is younger
//! than [`EVENT_FRESH`], and halves (down to the lower bound) once even its newest quarter is
//! older. The same rule applies here, with `--watch-history` as the upper bound, so a busy
//! cluster keeps at most that many changes and a quiet one about the last 75 s.
//!
//! Kubernetes keeps one such history per resource; this store keeps one for all (revisions are
//! contiguous across resources), so its upper bound is shared.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::WatchRecord;

/// How long the history keeps changes when it can: Kubernetes' `eventFreshDuration` (its
/// bookmark frequency, 60 s, plus 15 s, "to maximize chances that last bookmark was sent within
/// kept history").
pub const EVENT_FRESH: Duration = Duration::from_secs(75);

/// The fewest changes a full history is shrunk to (Kubernetes' `defaultLowerBoundCapacity`).
pub const LOWER_BOUND: usize = 100;

/// The kept changes and the current capacity; see the module docs.
pub struct History {
    records: VecDeque<(Instant, Arc<WatchRecord>)>,
    /// Current capacity, `min(LOWER_BOUND, max)..=max`.
    capacity: usize,
    /// The upper bound (`--watch-history`); 0 keeps nothing.
    max: usize,
}

impl History {
    /// An empty history keeping at most `max` changes.
    pub fn new(max: usize) -> History {
        History {
            records: VecDeque::new(),
            capacity: LOWER_BOUND.min(max),
            max,
        }
    }

    /// Appends `record`, published at `now`, after resizing as Kubernetes does and dropping the
    /// oldest change if the history is full.
    pub fn push(&mut self, record: Arc<WatchRecord>, now: Instant) {
        if self.max == 0 {
            return;
        }
        self.resize(now);
        while self.records.len() >= self.capacity {
            self.records.pop_front();
        }
        self.records.push_back((now, record));
    }

    /// Kubernetes' `resizeCacheLocked`: a full history doubles while its oldest change is younger
    /// than [`EVENT_FRESH`], and halves once the first change of its newest quarter is older.
    fn resize(&mut self, now: Instant) {
        let len = self.records.len();
        if len < self.capacity {
            return;
        }
        let age = |i: usize| self.records.get(i).map(|(t, _)| now.duration_since(*t));
        if age(0).is_some_and(|a| a < EVENT_FRESH) {
            self.capacity = self.capacity.saturating_mul(2).min(self.max);
        } else if age(len - self.capacity / 4).is_some_and(|a| a > EVENT_FRESH) {
            self.capacity = (self.capacity / 2).max(LOWER_BOUND.min(self.max));
            let excess = self.records.len().saturating_sub(self.capacity);
            self.records.drain(..excess);
        }
    }

    /// The oldest kept change.
    pub fn front(&self) -> Option<&Arc<WatchRecord>> {
        self.records.front().map(|(_, r)| r)
    }

    /// The kept change at `i` (0: the oldest).
    pub fn get(&self, i: usize) -> Option<&Arc<WatchRecord>> {
        self.records.get(i).map(|(_, r)| r)
    }

    /// How many changes are kept.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// `true` when no change is kept.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The index of the first kept change with revision `> from`.
    pub fn after(&self, from: u64) -> usize {
        self.records.partition_point(|(_, r)| r.revision <= from)
    }

    /// The kept changes `start..end` (indices as for [`History::get`]).
    pub fn range(&self, start: usize, end: usize) -> impl Iterator<Item = &Arc<WatchRecord>> {
        self.records.range(start..end).map(|(_, r)| r)
    }

    /// Forgets every change (a snapshot replaced the state); the capacity stays.
    pub fn clear(&mut self) {
        self.records.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoredObject;
    use mock_k8_schemas::watch::EventType;

    fn record(revision: u64) -> Arc<WatchRecord> {
        let object = Arc::new(StoredObject::new("k/p/n/a".into(), revision, "{}".into()));
        Arc::new(WatchRecord::new(revision, EventType::Added, object, None))
    }

    fn push(h: &mut History, revs: std::ops::RangeInclusive<u64>, at: Instant) {
        for rev in revs {
            h.push(record(rev), at);
        }
    }

    #[test]
    fn history_should_grow_to_its_upper_bound_while_changes_are_fresh() {
        let t0 = Instant::now();
        let mut h = History::new(1000);
        push(&mut h, 1..=5000, t0);
        assert_eq!((h.len(), h.capacity), (1000, 1000));
        assert_eq!(h.front().map(|r| r.revision), Some(4001));
        assert_eq!(h.after(4500), 500);
        let mut small = History::new(5);
        push(&mut small, 1..=20, t0);
        assert_eq!(small.front().map(|r| r.revision), Some(16));
        let mut none = History::new(0);
        push(&mut none, 1..=3, t0);
        assert!(none.is_empty());
    }

    #[test]
    fn history_should_shrink_to_about_the_fresh_window_and_the_lower_bound() {
        let t0 = Instant::now();
        let mut h = History::new(1600);
        push(&mut h, 1..=1600, t0);
        assert_eq!(h.capacity, 1600);
        // 80 s later the whole history is stale: each full push halves it, down to 100.
        let later = t0 + EVENT_FRESH + Duration::from_secs(5);
        push(&mut h, 1601..=1610, later);
        assert_eq!(h.capacity, LOWER_BOUND);
        assert_eq!(h.len(), LOWER_BOUND);
        assert_eq!(h.get(h.len() - 1).map(|r| r.revision), Some(1610));
        // Once the stale changes are out (1511..=1600), fresh ones grow it again.
        push(&mut h, 1611..=1900, later);
        assert_eq!((h.capacity, h.len()), (400, 300));
        assert_eq!(h.range(0, 1).next().map(|r| r.revision), Some(1601));
    }
}
