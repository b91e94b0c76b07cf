//! The scheduler's incremental cache: one [`NodeInfo`] per node with the pods counted on it (observed
//! bound pods and assumed ones), fed by watches of nodes and pods, plus the set of pods found
//! unschedulable (to requeue them when the cluster changes).
//!
//! Kept behind a `std::sync::Mutex`: every operation is a short in-memory update with no `.await`, and a
//! scheduling decision (filter + score over all nodes, then assume) must happen under one lock so that two
//! decisions in a row always see each other (no overcommit).

use crate::reflector::ObjectRef;
use crate::scheduler::{Decision, NodeInfo, Policy, Unschedulable, pod_key, schedule};
use crate::watcher;
use futures::channel::mpsc::UnboundedSender;
use k8s_openapi::api::core::v1::{Node, Pod};
use mock_k8_schemas::meta;
use serde_json::Value;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use tokio::time::Instant;

/// A pod the scheduler bound but has not yet seen bound.
struct Assumed {
    node: String,
    deadline: Instant,
    pod: Pod,
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
    /// Observed, bound, non-terminal pods: key → (node name, pod).
    observed: HashMap<String, (String, Arc<Pod>)>,
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

    fn observe_revision(&mut self, obj: &Value) {
        if let Some(rv) = meta::resource_version(obj) {
            self.revision = self.revision.max(rv);
        }
    }

    fn observe_node_revision(&mut self, obj: &Value) {
        self.observe_revision(obj);
        if let Some(rv) = meta::resource_version(obj) {
            self.nodes_revision = self.nodes_revision.max(rv);
        }
    }

    fn observe_pod_revision(&mut self, obj: &Value) {
        self.observe_revision(obj);
        if let Some(rv) = meta::resource_version(obj) {
            self.pods_revision = self.pods_revision.max(rv);
        }
    }

    /// The revisions of the node and pod caches, or `None` while a re-list is in progress (then
    /// the cache is no single revision's state and no provable decision can be made).
    pub fn revisions(&self) -> Option<(u64, u64)> {
        (!self.relisting).then_some((self.nodes_revision, self.pods_revision))
    }

    /// Every assumed pod counted on a cached node, with the node, sorted by pod.
    pub fn assumed_on_nodes(&self) -> Vec<crate::scheduler::proof::AssumedPod> {
        let mut out: Vec<_> = self
            .nodes
            .iter()
            .flat_map(|info| {
                // `assumed_pods` skips a node with none without walking its pods.
                info.assumed_pods()
                    .into_iter()
                    .map(|pod| crate::scheduler::proof::AssumedPod {
                        pod,
                        node: info.name().to_owned(),
                    })
            })
            .collect();
        out.sort_by(|a, b| a.pod.cmp(&b.pod));
        out
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
    pub fn apply_node(&mut self, node: Node) -> bool {
        let name = node.metadata.name.clone().unwrap_or_default();
        if let Some(info) = self.info_mut(&name) {
            let relevant = scheduling_view(info.node()) != scheduling_view(&node);
            info.set_node(node);
            return relevant;
        }
        let mut info = NodeInfo::new(node);
        for key in self.by_node.get(&name).into_iter().flatten() {
            if let Some((_, pod)) = self.observed.get(key) {
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
    pub fn apply_pod(&mut self, pod: Pod) -> bool {
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
        if let Some((old, _)) = self.observed.get(&key)
            && *old != node
        {
            self.remove_observed(&key);
        }
        if let Some(info) = self.info_mut(&node) {
            info.add_pod(&pod);
        }
        self.by_node
            .entry(node.clone())
            .or_default()
            .insert(key.clone());
        self.observed.insert(key, (node, Arc::new(pod)));
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
        let Some((node, _)) = self.observed.remove(key) else {
            return false;
        };
        if let Some(set) = self.by_node.get_mut(&node) {
            set.remove(key);
            if set.is_empty() {
                self.by_node.remove(&node);
            }
        }
        if let Some(info) = self.info_mut(&node) {
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

    /// Decides where `pod` goes; on success counts it as assumed on the chosen node until `deadline`.
    pub fn schedule_and_assume(
        &mut self,
        pod: &Pod,
        policy: &Policy,
        deadline: Instant,
    ) -> Result<Decision, Box<Unschedulable>> {
        let decision = schedule(pod, &self.nodes, policy)?;
        if let Some(info) = self.info_mut(&decision.node) {
            info.assume(pod);
        }
        self.assumed.insert(
            pod_key(pod),
            Assumed {
                node: decision.node.clone(),
                deadline,
                pod: pod.clone(),
            },
        );
        Ok(decision)
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

fn decode<K: serde::de::DeserializeOwned>(v: &Value) -> Option<K> {
    serde_json::from_value(v.clone())
        .map_err(|e| tracing::warn!(error = %e, object = %ObjectRef::from_value(v), "undecodable object ignored"))
        .ok()
}

/// Which watch an event came from.
pub(super) enum Feed {
    /// A node event.
    Node(Result<watcher::Event, watcher::Error>),
    /// A pod event.
    Pod(Result<watcher::Event, watcher::Error>),
}

/// Per-watch state of a (re-)list in progress: the keys seen since `Init`.
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
        Feed::Node(Err(e)) | Feed::Pod(Err(e)) => {
            tracing::debug!(error = %e, "scheduler cache watch error (retrying)");
            (false, false)
        }
        Feed::Node(Ok(ev)) => match ev {
            watcher::Event::Init => {
                relist.nodes = Some(HashSet::new());
                c.relisting = true;
                (false, false)
            }
            watcher::Event::InitApply(v) | watcher::Event::Apply(v) => {
                c.observe_node_revision(&v);
                if let Some(seen) = relist.nodes.as_mut() {
                    seen.insert(meta::name(&v).to_owned());
                }
                (decode::<Node>(&v).is_some_and(|n| c.apply_node(n)), false)
            }
            watcher::Event::Delete(v) => {
                c.observe_node_revision(&v);
                c.delete_node(meta::name(&v));
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
        Feed::Pod(Ok(ev)) => match ev {
            watcher::Event::Init => {
                relist.pods = Some(HashSet::new());
                c.relisting = true;
                (false, false)
            }
            watcher::Event::InitApply(v) | watcher::Event::Apply(v) => {
                c.observe_pod_revision(&v);
                let freed = decode::<Pod>(&v).is_some_and(|p| {
                    if let Some(seen) = relist.pods.as_mut() {
                        seen.insert(pod_key(&p));
                    }
                    c.apply_pod(p)
                });
                (false, freed)
            }
            watcher::Event::Delete(v) => {
                c.observe_pod_revision(&v);
                let freed = decode::<Pod>(&v).is_some_and(|p| c.delete_pod(&pod_key(&p)));
                (false, freed)
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
