//! Binding feasibility at admission (`nko/SPEC.md` §4): with verification enabled, a Binding whose
//! pod no longer fits its node — requests beyond allocatable, or the node at its pod limit — is
//! refused (403) before it is proposed.
//!
//! The check must stay cheap at 10,000s of pods, so it reads a [`Ledger`]: per node, what it
//! offers (allocatable, pod limit) and what the pods bound to it take (their summed requests and
//! their count), and per bound pod only its node and requests, so that a delete or a rebind can
//! take them back ([`NodeUsage`]: a few dozen bytes per pod, no decoded objects). Requests are
//! computed by the scheduler's own arithmetic ([`pod_requests`], [`NodeInfo`] for allocatable), and
//! terminal pods are not counted, as in the scheduler's cache.
//!
//! The ledger is built from one LIST on first use and then caught up from store watches on each
//! check, without a task of its own: whatever changes are already committed are applied (never
//! awaited), so a check sees every commit before it began except those still in flight. Two
//! bindings racing to the last room of a node can both pass — the verifier's replay then reports
//! the second as infeasible (a manual binding) or not optimal.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures::FutureExt;
use k8s_openapi::api::core::v1::{Node, Pod};
use mock_k8_controllers::scheduler::NodeInfo;
use mock_k8_controllers::scheduler::filters::resources::fit_reasons;
use mock_k8_controllers::scheduler::node_info::{is_terminal, pod_key};
use mock_k8_controllers::scheduler::requests::{Resources, pod_requests};

use crate::store::watch::WatchReceiver;
use crate::store::{Store, StoreError};

const PODS: &str = "core/pods/";
const NODES: &str = "core/nodes/";
/// Storage key prefix of a Node (cluster-scoped: an empty namespace segment).
const NODE_KEY: &str = "core/nodes//";

/// What a Node offers, read once per Node version.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Room {
    /// The Node declares `status.capacity` or `status.allocatable`; a bare Node (made through the
    /// API, no agent) says nothing to fit against and is not checked.
    declared: bool,
    /// Allocatable, each resource missing there taken from capacity ([`NodeInfo::new`]).
    allocatable: Resources,
    /// The `pods` of allocatable (else capacity, else 0).
    allowed_pods: i64,
}

/// What the pods bound to one node take.
#[derive(Debug, Default)]
struct Usage {
    /// Bound, non-terminal pods.
    pods: i64,
    /// Their summed requests ([`pod_requests`] without the scoring defaults).
    requested: Resources,
}

/// One bound, non-terminal pod: where it is counted and for how much.
#[derive(Debug)]
struct Bound {
    /// The node name (shared with the [`Usage`] key).
    node: Arc<str>,
    requests: Resources,
}

/// Node capacity and usage by bound pods, kept in step with the stored Nodes and Pods.
///
/// Usage is kept per node name whether or not that Node exists (a pod may name a node before it
/// registers), as the scheduler's replay counts pods on a node once it appears.
#[derive(Debug, Default)]
pub struct NodeUsage {
    nodes: HashMap<String, Room>,
    usage: HashMap<Arc<str>, Usage>,
    /// By storage key (`core/pods/<namespace>/<name>`).
    pods: HashMap<String, Bound>,
}

/// `spec.nodeName` when set and not empty.
fn node_of(pod: &Pod) -> Option<&str> {
    pod.spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .filter(|n| !n.is_empty())
}

impl NodeUsage {
    /// Applies the stored object at `key` (JSON; `None`: deleted). Keys other than Pods and Nodes
    /// are ignored; an object that does not parse counts as deleted.
    pub fn apply(&mut self, key: &str, json: Option<&str>) {
        if key.starts_with(PODS) {
            let pod = json.and_then(|j| serde_json::from_str::<Pod>(j).ok());
            let bound = pod
                .as_ref()
                .filter(|p| !is_terminal(p))
                .and_then(|p| node_of(p).map(|node| (node.to_owned(), pod_requests(p, false))));
            self.put_pod(key, bound);
        } else if let Some(name) = key.strip_prefix(NODE_KEY) {
            match json.and_then(|j| serde_json::from_str::<Node>(j).ok()) {
                Some(node) => {
                    let declared = node
                        .status
                        .as_ref()
                        .is_some_and(|s| s.capacity.is_some() || s.allocatable.is_some());
                    let info = NodeInfo::new(node);
                    let room = Room {
                        declared,
                        allocatable: info.allocatable().clone(),
                        allowed_pods: info.allowed_pods(),
                    };
                    self.nodes.insert(name.to_owned(), room);
                }
                None => {
                    self.nodes.remove(name);
                }
            }
        }
    }

    /// Counts pod `key` on `bound` (node, requests), uncounting it where it was.
    fn put_pod(&mut self, key: &str, bound: Option<(String, Resources)>) {
        if let (Some(old), Some((node, requests))) = (self.pods.get(key), &bound)
            && old.node.as_ref() == node.as_str()
            && old.requests == *requests
        {
            return;
        }
        if let Some(old) = self.pods.remove(key)
            && let Some(u) = self.usage.get_mut(&*old.node)
        {
            u.pods -= 1;
            u.requested.sub(&old.requests);
            if u.pods <= 0 {
                self.usage.remove(&*old.node);
            }
        }
        let Some((node, requests)) = bound else {
            return;
        };
        let name: Arc<str> = match self.usage.get_key_value(node.as_str()) {
            Some((k, _)) => k.clone(),
            None => Arc::from(node),
        };
        let u = self.usage.entry(name.clone()).or_default();
        u.pods += 1;
        u.requested.add(&requests);
        self.pods.insert(
            key.to_owned(),
            Bound {
                node: name,
                requests,
            },
        );
    }

    /// Whether `pod` fits `node` now — Kubernetes' NodeResourcesFit (`fitsRequest`), as the
    /// scheduler's filter of that name decides it: the pod count within `pods`, and each resource
    /// the pod requests within `allocatable − requested`. Taints and readiness do not bind a manual
    /// binding. A Node that declares neither capacity nor allocatable is not checked.
    ///
    /// # Errors
    /// The reasons, in the filter's order and words, e.g.
    /// `node "n1" does not fit pod default/p: Insufficient cpu`; or `node "n1" does not exist`.
    pub fn fits(&self, pod: &Pod, node: &str) -> Result<(), String> {
        let Some(room) = self.nodes.get(node) else {
            return Err(format!("node {node:?} does not exist"));
        };
        if !room.declared {
            return Ok(());
        }
        let want = pod_requests(pod, false);
        let (count, used) = match self.usage.get(node) {
            Some(u) => (u.pods, &u.requested),
            None => (0, &Resources::default()),
        };
        let reasons = fit_reasons(&want, count, room.allowed_pods, &room.allocatable, used);
        if reasons.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "node {node:?} does not fit pod {}: {}",
                pod_key(pod),
                reasons.join(", ")
            ))
        }
    }
}

struct State {
    view: NodeUsage,
    pods: WatchReceiver,
    nodes: WatchReceiver,
}

/// The lazily built node usage view; see the module docs.
#[derive(Default)]
pub struct Ledger {
    state: Mutex<Option<State>>,
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ledger").finish_non_exhaustive()
    }
}

fn build(store: &Store) -> Result<State, StoreError> {
    let mut view = NodeUsage::default();
    let (nodes, nodes_rev) = store.list(NODES);
    let (pods, pods_rev) = store.list(PODS);
    for o in nodes.iter().chain(pods.iter()) {
        view.apply(&o.key, Some(&o.json));
    }
    Ok(State {
        view,
        pods: store.watch(PODS, pods_rev)?,
        nodes: store.watch(NODES, nodes_rev)?,
    })
}

/// Applies every change `rx` has ready; `Err` when the watch failed (fell behind).
fn drain(view: &mut NodeUsage, rx: &mut WatchReceiver) -> Result<(), StoreError> {
    while let Some(next) = rx.recv().now_or_never() {
        let rec = next?;
        let after = match rec.event_type {
            mock_k8_schemas::watch::EventType::Deleted => None,
            _ => Some(&*rec.object.json),
        };
        view.apply(&rec.object.key, after);
    }
    Ok(())
}

impl Ledger {
    /// Whether pod (JSON) fits `node` in the committed state.
    ///
    /// # Errors
    /// The message of the 403: which resource is short, or the pod limit. A store that cannot be
    /// listed or watched lets the binding through (the check is best effort; V still checks).
    pub fn check(&self, store: &Store, pod: &serde_json::Value, node: &str) -> Result<(), String> {
        let Ok(pod) = serde_json::from_value::<Pod>(pod.clone()) else {
            return Ok(());
        };
        let mut guard = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if guard.is_none() {
            *guard = build(store).ok();
        }
        let Some(s) = guard.as_mut() else {
            return Ok(());
        };
        if drain(&mut s.view, &mut s.nodes)
            .and_then(|()| drain(&mut s.view, &mut s.pods))
            .is_err()
        {
            // Fell behind the watch history: rebuild from a fresh list.
            *guard = build(store).ok();
        }
        match guard.as_ref() {
            Some(s) => s.view.fits(&pod, node),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
#[path = "feasibility_tests.rs"]
mod tests;
