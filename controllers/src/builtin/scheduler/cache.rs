//! The scheduler's incremental cache: one [`NodeInfo`] per node with the pods counted on it (observed
//! bound pods and assumed ones), fed by the process's shared node and pod informers, plus the set
//! of pods found unschedulable (to requeue them when the cluster changes).
//!
//! Objects are the informers' `Arc`s (a pod or node is decoded once per process, not once more
//! here); per pod the cache adds only its keys and its [`NodeInfo`] summary (requests, spreading
//! key).
//!
//! Kept behind a `std::sync::Mutex`: every operation is a short in-memory update with no `.await`, and a
//! scheduling decision (filter + score over the searched nodes, then assume) must happen under one
//! lock so that two decisions in a row always see each other (no overcommit).

use crate::reflector::ObjectRef;
use crate::scheduler::node_info::assumed_pods;
use crate::scheduler::proof::AssumedPod;
use crate::scheduler::{
    Decided, NodeInfo, NodeSearch, NodesByName, Policy, Scratch, Unschedulable, decide, pod_key,
};
use crate::watcher;
use futures::channel::mpsc::UnboundedSender;
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::Value;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use tokio::time::Instant;

/// A pod the scheduler bound but has not yet seen bound.
struct Assumed {
    node: String,
    deadline: Instant,
    pod: Arc<Pod>,
}

/// What the scheduler remembers about a pod it could not place.
#[derive(Debug, Clone)]
pub(super) struct UnschedulableEntry {
    /// The pod's reference (to requeue it).
    pub oref: ObjectRef,
    /// Whether pods leaving could make room (else only node changes help).
    pub resolvable: bool,
    /// The last message written to its `PodScheduled` condition.
    pub message: String,
    /// The resourceVersion our own status write produced (a reconcile of exactly that version was
    /// triggered by ourselves and publishes no new Event).
    pub written_rv: Option<String>,
}

/// The cache proper.
#[derive(Default)]
pub(super) struct Cache {
    /// Sorted by name: [`schedule`] takes nodes in name order, and sorting an already sorted
    /// list costs it one comparison per node instead of O(N log N) string comparisons per pod.
    nodes: Vec<NodeInfo>,
    /// Observed, bound, non-terminal pods by key (the informer's objects: their node is their
    /// `spec.nodeName`).
    observed: HashMap<String, Arc<Pod>>,
    /// Node name → keys of its observed pods (also for nodes not yet in the cache).
    by_node: HashMap<String, BTreeSet<String>>,
    assumed: HashMap<String, Assumed>,
    unschedulable: HashMap<String, UnschedulableEntry>,
    /// The highest resourceVersion applied from either watch.
    revision: u64,
    /// The last resourceVersion applied from the node watch: the node cache is the state of the
    /// nodes at this revision (what a scheduling proof names).
    nodes_revision: u64,
    /// The same for the pod watch.
    pods_revision: u64,
    /// A (re-)list of either watch is in progress: the cache is no single revision's state.
    relisting: bool,
    nodes_ready: bool,
    pods_ready: bool,
    /// Where in the name-sorted `nodes` the next search starts (kube-scheduler's
    /// `nextStartNodeIndex`): the last start plus the nodes that search processed.
    next_start_node_index: usize,
    /// The decisions' reusable evaluation buffers.
    scratch: Scratch,
}

/// The fields of a node that scheduling reads; a change elsewhere (heartbeats, images) is not a reason to
/// retry unschedulable pods.
fn scheduling_view(node: &Node) -> Value {
    let ready = crate::nodehealth::node_condition(node, "Ready").map(|c| c.status.clone());
    let spec = node.spec.as_ref();
    let status = node.status.as_ref();
    serde_json::json!({
        "labels": node.metadata.labels,
        "taints": spec.and_then(|s| s.taints.clone()),
        "unschedulable": spec.and_then(|s| s.unschedulable),
        "allocatable": status.and_then(|s| s.allocatable.clone()),
        "capacity": status.and_then(|s| s.capacity.clone()),
        "ready": ready,
    })
}

fn is_terminal(pod: &Pod) -> bool {
    crate::scheduler::node_info::is_terminal(pod)
}

fn node_name(pod: &Pod) -> Option<&str> {
    pod.spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .filter(|n| !n.is_empty())
}

impl Cache {
    /// `true` once both watches have delivered their first complete list.
    pub fn is_ready(&self) -> bool {
        self.nodes_ready && self.pods_ready
    }

    /// The highest resourceVersion applied (the state revision a decision is based on).
    pub fn revision(&self) -> u64 {
        self.revision
    }

    fn observe_node_revision(&mut self, meta: &ObjectMeta) {
        if let Some(rv) = revision_of(meta) {
            self.revision = self.revision.max(rv);
            self.nodes_revision = self.nodes_revision.max(rv);
        }
    }

    fn observe_pod_revision(&mut self, meta: &ObjectMeta) {
        if let Some(rv) = revision_of(meta) {
            self.revision = self.revision.max(rv);
            self.pods_revision = self.pods_revision.max(rv);
        }
    }

    /// The revisions of the node and pod caches, or `None` while a re-list is in progress (then
    /// the cache is no single revision's state and no provable decision can be made).
    pub fn revisions(&self) -> Option<(u64, u64)> {
        (!self.relisting).then_some((self.nodes_revision, self.pods_revision))
    }

    /// Where node `name` is in `nodes` (`Err`: where it would go).
    fn position(&self, name: &str) -> Result<usize, usize> {
        self.nodes.binary_search_by(|n| n.name().cmp(name))
    }

    fn info_mut(&mut self, node: &str) -> Option<&mut NodeInfo> {
        let i = self.position(node).ok()?;
        self.nodes.get_mut(i)
    }

    /// Adds or updates a node; `true` when unschedulable pods should be retried (a new node, or a change
    /// of what scheduling reads).
    pub fn apply_node(&mut self, node: Arc<Node>) -> bool {
        let name = node.metadata.name.clone().unwrap_or_default();
        if let Some(info) = self.info_mut(&name) {
            let relevant = scheduling_view(info.node()) != scheduling_view(&node);
            info.set_node(node);
            return relevant;
        }
        let mut info = NodeInfo::new(node);
        for key in self.by_node.get(&name).into_iter().flatten() {
            if let Some(pod) = self.observed.get(key) {
                info.add_pod(pod);
            }
        }
        for a in self.assumed.values().filter(|a| a.node == name) {
            info.assume(&a.pod);
        }
        let at = self.position(&name).unwrap_or_else(|at| at);
        self.nodes.insert(at, info);
        true
    }

    /// Removes a node (its pods stay known, in case it comes back).
    pub fn delete_node(&mut self, name: &str) {
        if let Ok(i) = self.position(name) {
            self.nodes.remove(i);
        }
    }

    /// The names of the cached nodes.
    pub fn node_names(&self) -> Vec<String> {
        self.nodes.iter().map(|n| n.name().to_owned()).collect()
    }

    /// Applies a pod change; `true` when it freed resources on a node (it completed or moved).
    pub fn apply_pod(&mut self, pod: Arc<Pod>) -> bool {
        let key = pod_key(&pod);
        let Some(node) = node_name(&pod).map(str::to_owned) else {
            return false; // not bound (yet): nothing counted; an assumption stays.
        };
        self.unschedulable.remove(&key);
        if let Some(a) = self.assumed.remove(&key)
            && a.node != node
            && let Some(info) = self.info_mut(&a.node)
        {
            info.forget(&key);
        }
        if is_terminal(&pod) {
            return self.remove_observed(&key);
        }
        if let Some(old) = self.observed.get(&key)
            && node_name(old) != Some(node.as_str())
        {
            self.remove_observed(&key);
        }
        if let Some(info) = self.info_mut(&node) {
            info.add_pod(&pod);
        }
        self.by_node.entry(node).or_default().insert(key.clone());
        self.observed.insert(key, pod);
        false
    }

    /// Forgets a deleted pod; `true` when it held resources on a node.
    pub fn delete_pod(&mut self, key: &str) -> bool {
        self.unschedulable.remove(key);
        if let Some(a) = self.assumed.remove(key)
            && let Some(info) = self.info_mut(&a.node)
        {
            info.forget(key);
        }
        self.remove_observed(key)
    }

    fn remove_observed(&mut self, key: &str) -> bool {
        let Some(pod) = self.observed.remove(key) else {
            return false;
        };
        let node = node_name(&pod).unwrap_or_default();
        if let Some(set) = self.by_node.get_mut(node) {
            set.remove(key);
            if set.is_empty() {
                self.by_node.remove(node);
            }
        }
        if let Some(info) = self.info_mut(node) {
            info.remove_pod(key);
        }
        true
    }

    /// The keys of every observed pod (for re-list reconciliation).
    pub fn observed_keys(&self) -> Vec<String> {
        self.observed.keys().cloned().collect()
    }

    /// `true` when the pod is already counted on a node (observed bound, or assumed).
    pub fn is_counted(&self, key: &str) -> bool {
        self.observed.contains_key(key) || self.assumed.contains_key(key)
    }

    /// Forgets assumed pods whose deadline passed (their binding was never observed).
    pub fn expire(&mut self, now: Instant) {
        let expired: Vec<(String, String)> = self
            .assumed
            .iter()
            .filter(|(_, a)| a.deadline <= now)
            .map(|(k, a)| (k.clone(), a.node.clone()))
            .collect();
        for (key, node) in expired {
            tracing::warn!(pod = %key, %node, "assumed pod expired before its binding was observed");
            self.assumed.remove(&key);
            if let Some(info) = self.info_mut(&node) {
                info.forget(&key);
            }
        }
    }

    /// Decides where `pod` goes, searching the nodes from `nextStartNodeIndex` for as many
    /// feasible nodes as `percentage` (`percentageOfNodesToScore`) asks; moves the start index on
    /// by the nodes the search processed; on success counts the pod as assumed on the chosen node
    /// until `deadline`. Returns the decision and the assumed pods counted on the nodes the search
    /// processed (the only ones that could matter to it), sorted by pod.
    pub fn schedule_and_assume(
        &mut self,
        pod: &Arc<Pod>,
        policy: &Policy,
        percentage: u32,
        deadline: Instant,
    ) -> Result<(Decided, Vec<AssumedPod>), Box<Unschedulable>> {
        let n = self.nodes.len();
        let search = NodeSearch::new(percentage, self.next_start_node_index, n);
        let nodes = NodesByName::presorted(&self.nodes);
        let result = decide(&mut self.scratch, pod, &nodes, policy, search, || {
            assumed_pods(&self.nodes)
        });
        let mut decided = result?;
        let start = search.start_node_index;
        let mut assumed: Vec<AssumedPod> = (0..decided.processed)
            .map(|step| nodes.get((start + step) % n.max(1)))
            .flat_map(|info| {
                // `assumed_pods` skips a node with none without walking its pods.
                info.assumed_pods().into_iter().map(|pod| AssumedPod {
                    pod,
                    node: info.name().to_owned(),
                })
            })
            .collect();
        assumed.sort_by(|a, b| a.pod.cmp(&b.pod));
        decided.summary.assumed_pods = assumed.iter().map(|a| a.pod.clone()).collect();
        self.next_start_node_index = (start + decided.processed) % n.max(1);
        if let Some(info) = self.info_mut(&decided.summary.node) {
            info.assume(pod);
        }
        self.assumed.insert(
            pod_key(pod),
            Assumed {
                node: decided.summary.node.clone(),
                deadline,
                pod: Arc::clone(pod),
            },
        );
        Ok((decided, assumed))
    }

    /// Stops counting an assumed pod (its binding failed).
    pub fn forget(&mut self, key: &str) {
        if let Some(a) = self.assumed.remove(key)
            && let Some(info) = self.info_mut(&a.node)
        {
            info.forget(key);
        }
    }

    /// The entry of an unschedulable pod.
    pub fn unschedulable(&self, key: &str) -> Option<&UnschedulableEntry> {
        self.unschedulable.get(key)
    }

    /// Records (or updates) an unschedulable pod.
    pub fn set_unschedulable(&mut self, key: String, entry: UnschedulableEntry) {
        self.unschedulable.insert(key, entry);
    }

    /// Forgets an unschedulable pod (bound, deleted, or no longer ours).
    pub fn clear_unschedulable(&mut self, key: &str) {
        self.unschedulable.remove(key);
    }

    /// The pods to retry after a change: all unschedulable ones, or only those pods leaving can help
    /// (`only_resolvable`).
    pub fn retry_keys(&self, only_resolvable: bool) -> Vec<ObjectRef> {
        self.unschedulable
            .values()
            .filter(|e| !only_resolvable || e.resolvable)
            .map(|e| e.oref.clone())
            .collect()
    }
}

/// The shared handle on the cache.
pub(super) type SharedCache = Arc<std::sync::Mutex<Cache>>;

/// Locks the cache (a poisoned lock only means a panic elsewhere; each update completes before anything
/// that could panic, so the data is still consistent).
pub(super) fn lock(cache: &SharedCache) -> std::sync::MutexGuard<'_, Cache> {
    cache.lock().unwrap_or_else(|p| p.into_inner())
}

/// `metadata.resourceVersion` as a number (`None` when absent or not a number).
fn revision_of(meta: &ObjectMeta) -> Option<u64> {
    meta.resource_version.as_deref()?.parse().ok()
}

/// Which informer an event came from (the informers log and retry watch errors themselves).
pub(super) enum Feed {
    /// A node event.
    Node(watcher::Event<Arc<Node>>),
    /// A pod event.
    Pod(watcher::Event<Arc<Pod>>),
}

/// Per-informer state of a (re-)list in progress: the keys seen since `Init`.
#[derive(Default)]
pub(super) struct Relist {
    nodes: Option<HashSet<String>>,
    pods: Option<HashSet<String>>,
}

/// Applies one feed event to the cache and sends the unschedulable pods worth retrying to `retry`.
pub(super) fn apply(
    cache: &SharedCache,
    relist: &mut Relist,
    ev: Feed,
    retry: &UnboundedSender<ObjectRef>,
) {
    let mut c = lock(cache);
    let (retry_all, retry_resolvable) = match ev {
        Feed::Node(ev) => match ev {
            watcher::Event::Init => {
                relist.nodes = Some(HashSet::new());
                c.relisting = true;
                (false, false)
            }
            watcher::Event::InitApply(n) | watcher::Event::Apply(n) => {
                c.observe_node_revision(&n.metadata);
                if let Some(seen) = relist.nodes.as_mut() {
                    seen.insert(n.metadata.name.clone().unwrap_or_default());
                }
                (c.apply_node(n), false)
            }
            watcher::Event::Delete(n) => {
                c.observe_node_revision(&n.metadata);
                c.delete_node(n.metadata.name.as_deref().unwrap_or_default());
                (false, false)
            }
            watcher::Event::InitDone => {
                if let Some(seen) = relist.nodes.take() {
                    for name in c.node_names() {
                        if !seen.contains(&name) {
                            c.delete_node(&name);
                        }
                    }
                }
                c.nodes_ready = true;
                c.relisting = relist.pods.is_some();
                (true, false)
            }
        },
        Feed::Pod(ev) => match ev {
            watcher::Event::Init => {
                relist.pods = Some(HashSet::new());
                c.relisting = true;
                (false, false)
            }
            watcher::Event::InitApply(p) | watcher::Event::Apply(p) => {
                c.observe_pod_revision(&p.metadata);
                if let Some(seen) = relist.pods.as_mut() {
                    seen.insert(pod_key(&p));
                }
                (false, c.apply_pod(p))
            }
            watcher::Event::Delete(p) => {
                c.observe_pod_revision(&p.metadata);
                (false, c.delete_pod(&pod_key(&p)))
            }
            watcher::Event::InitDone => {
                let mut freed = false;
                if let Some(seen) = relist.pods.take() {
                    for key in c.observed_keys() {
                        if !seen.contains(&key) {
                            freed |= c.delete_pod(&key);
                        }
                    }
                }
                c.pods_ready = true;
                c.relisting = relist.nodes.is_some();
                (false, freed)
            }
        },
    };
    let keys = if retry_all {
        c.retry_keys(false)
    } else if retry_resolvable {
        c.retry_keys(true)
    } else {
        Vec::new()
    };
    drop(c);
    for k in keys {
        // The receiver only goes away at shutdown; a lost retry then does not matter.
        let _ = retry.unbounded_send(k);
    }
}
