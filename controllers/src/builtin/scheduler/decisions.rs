//! [`DecisionLog`]: the scheduler's bounded memory of the decisions behind its bindings, for the NKO
//! scheduling proofs (`π = G(P, N, d)`).

use crate::reflector::ObjectRef;
use crate::scheduler::DecisionSummary;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

/// One decision that led to a binding request.
#[derive(Debug, Clone)]
pub struct DecisionRecord {
    /// The pod bound.
    pub pod: ObjectRef,
    /// The pod's `metadata.uid` as the scheduler saw it.
    pub pod_uid: Option<String>,
    /// The pod's `metadata.resourceVersion` as the scheduler saw it.
    pub pod_resource_version: Option<String>,
    /// The highest resourceVersion the scheduler's node and pod caches had applied when it decided: the
    /// state revision `f(P, N)` was computed on (a verifier replays the state at this revision, plus
    /// [`Decision::assumed_pods`]).
    pub state_revision: u64,
    /// The decision in its compact form ([`crate::scheduler::Decision::summary`]): policy,
    /// weights, filters, tie-break, assumed pods, node counts, the chosen node and its scores.
    /// Not every node's evaluation: at N nodes that is O(N) per decision (≈ 400 KB at 1,000 nodes,
    /// 4 GB for 10,000 decisions), and the verifier recomputes it from the state anyway
    /// ([`crate::scheduler::verify_summary`]).
    pub decision: Arc<DecisionSummary>,
}

#[derive(Default)]
struct Inner {
    by_pod: HashMap<String, (u64, Arc<DecisionRecord>)>,
    order: BTreeMap<u64, String>,
    seq: u64,
}

/// The latest decisions, one per pod (`namespace/name`), at most `capacity` of them (the oldest are
/// dropped first). Cheap to clone; clones share the entries. A decision is recorded before its binding
/// is sent and removed again if the binding is refused.
#[derive(Clone)]
pub struct DecisionLog {
    inner: Arc<Mutex<Inner>>,
    capacity: usize,
}

impl std::fmt::Debug for DecisionLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DecisionLog")
            .field("len", &self.len())
            .field("capacity", &self.capacity)
            .finish()
    }
}

impl DecisionLog {
    /// An empty log keeping at most `capacity` decisions (at least 1).
    pub fn new(capacity: usize) -> Self {
        DecisionLog {
            inner: Arc::default(),
            capacity: capacity.max(1),
        }
    }

    // Short critical sections without awaits: a std Mutex; a poisoned one still holds consistent data.
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records `record`, replacing an earlier decision for the same pod.
    pub fn record(&self, record: DecisionRecord) {
        let key = record.pod.to_string();
        let mut g = self.lock();
        g.seq += 1;
        let seq = g.seq;
        if let Some((old, _)) = g.by_pod.insert(key.clone(), (seq, Arc::new(record))) {
            g.order.remove(&old);
        }
        g.order.insert(seq, key);
        while g.by_pod.len() > self.capacity {
            let Some((_, oldest)) = g.order.pop_first() else {
                break;
            };
            g.by_pod.remove(&oldest);
        }
    }

    /// The latest decision for pod `key` (`namespace/name`).
    pub fn get(&self, key: &str) -> Option<Arc<DecisionRecord>> {
        self.lock().by_pod.get(key).map(|(_, r)| r.clone())
    }

    /// Removes the decision for pod `key` (its binding was refused).
    pub fn remove(&self, key: &str) {
        let mut g = self.lock();
        if let Some((seq, _)) = g.by_pod.remove(key) {
            g.order.remove(&seq);
        }
    }

    /// Up to `n` most recent decisions, newest first.
    pub fn latest(&self, n: usize) -> Vec<Arc<DecisionRecord>> {
        let g = self.lock();
        g.order
            .values()
            .rev()
            .take(n)
            .filter_map(|k| g.by_pod.get(k).map(|(_, r)| r.clone()))
            .collect()
    }

    /// How many decisions are kept.
    pub fn len(&self) -> usize {
        self.lock().by_pod.len()
    }

    /// `true` when no decision is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
