//! V for binding proofs over a replayed history (`nko/SPEC.md` §8.1–8.2): a view of nodes, pods
//! and Services kept in step with the NKO verifier's replay, able to roll back to the revisions a
//! scheduling proof names, recompute `f(P, N)` there ([`super::verify_summary`]) and roll forward
//! again. The endpoints proof's V (§8.3, [`crate::endpoints::proof`]) uses the same view: the
//! Service versions it keeps and [`SchedulingReplay::rolled_back`] for the pods.
//!
//! The view mirrors the scheduler's cache as a function of the state: one [`NodeInfo`] per Node,
//! counting the bound, non-terminal pods whose `spec.nodeName` names it. Changes of the last
//! [`WINDOW`] revisions are kept (objects are shared, not copied), so a proof may name revisions
//! up to that far behind the binding.

mod check;

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Node, Pod, Service};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use mock_k8_nko::proof::{Verdict, kind_of, kinds};

use super::evaluate::Scratch;
use super::filters::NodeResourcesFit;
use super::framework::{FilterPlugin, PodInfo};
use super::node_info::{NodeInfo, is_terminal};
use super::policy::Policy;
use super::proof::{BindingFeasibilityProof, SchedulingProof};
use super::search::NodesByName;
use super::verify::verify_summary_in;

/// How many revisions back a scheduling proof may name its state (older proofs are rejected:
/// a scheduler decides on caches a few hundred revisions behind at most).
pub const WINDOW: u64 = 100_000;

#[derive(Clone)]
enum Change {
    Pod {
        rev: u64,
        key: String,
        before: Option<Arc<Pod>>,
        after: Option<Arc<Pod>>,
    },
    Node {
        rev: u64,
        name: String,
        before: Option<Arc<Node>>,
        after: Option<Arc<Node>>,
    },
    Service {
        rev: u64,
        key: String,
        before: Option<Arc<Service>>,
        after: Option<Arc<Service>>,
    },
}

impl Change {
    fn rev(&self) -> u64 {
        match self {
            Change::Pod { rev, .. } | Change::Node { rev, .. } | Change::Service { rev, .. } => {
                *rev
            }
        }
    }
}

/// What a storage key is to this view.
enum Target {
    Pod(String),
    Node(String),
    Service(String),
    Other,
}

fn target(key: &str) -> Target {
    let mut parts = key.splitn(4, '/');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some("core"), Some("pods"), Some(ns), Some(name)) => Target::Pod(format!("{ns}/{name}")),
        (Some("core"), Some("nodes"), Some(""), Some(name)) => Target::Node(name.to_owned()),
        (Some("core"), Some("services"), Some(ns), Some(name)) => {
            Target::Service(format!("{ns}/{name}"))
        }
        _ => Target::Other,
    }
}

fn node_of(pod: &Pod) -> Option<&str> {
    pod.spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .filter(|n| !n.is_empty())
}

fn rv_of(meta: &ObjectMeta) -> u64 {
    meta.resource_version
        .as_deref()
        .and_then(|r| r.parse().ok())
        .unwrap_or(0)
}

/// The nodes, pods and Services view; see the module docs.
pub struct SchedulingReplay {
    /// How many revisions of changes are kept for roll-back (0: none).
    keep: u64,
    nodes: Vec<NodeInfo>,
    index: HashMap<String, usize>,
    pods: HashMap<String, Arc<Pod>>,
    services: HashMap<String, Arc<Service>>,
    by_node: HashMap<String, BTreeSet<String>>,
    window: VecDeque<Change>,
    /// `nodes` indices in name order (what V's search walks); rebuilt when nodes come or go.
    order: Vec<usize>,
    order_stale: bool,
    /// V's reusable evaluation buffers.
    scratch: Scratch,
}

impl Default for SchedulingReplay {
    fn default() -> Self {
        SchedulingReplay {
            keep: WINDOW,
            nodes: Vec::new(),
            index: HashMap::new(),
            pods: HashMap::new(),
            services: HashMap::new(),
            by_node: HashMap::new(),
            window: VecDeque::new(),
            order: Vec::new(),
            order_stale: false,
            scratch: Scratch::default(),
        }
    }
}

impl SchedulingReplay {
    /// An empty view (the state at revision 0) keeping [`WINDOW`] revisions of changes.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether `pod` fits `node` now — NodeResourcesFit alone: requests within allocatable and
    /// the pod count within `pods` (what "a binding still fits its node" means; taints and
    /// readiness do not bind a manual binding). A Node that declares neither capacity nor
    /// allocatable is not checked.
    ///
    /// # Errors
    /// The reasons, e.g. `node "n1" does not fit pod default/p: Insufficient cpu`.
    pub fn fits(&self, pod: &Pod, node: &str) -> Result<(), String> {
        let Some(&i) = self.index.get(node) else {
            return Err(format!("node {node:?} does not exist"));
        };
        let declared = self.nodes[i]
            .node()
            .status
            .as_ref()
            .is_some_and(|s| s.capacity.is_some() || s.allocatable.is_some());
        if !declared {
            // A bare Node (no capacity, no allocatable: made through the API, no agent) says
            // nothing to fit against.
            return Ok(());
        }
        let s = NodeResourcesFit.filter(&PodInfo::new(pod), &self.nodes[i]);
        if s.is_success() {
            Ok(())
        } else {
            Err(format!(
                "node {node:?} does not fit pod {}: {}",
                super::node_info::pod_key(pod),
                s.reasons.join(", ")
            ))
        }
    }

    fn put_pod(&mut self, key: &str, new: Option<Arc<Pod>>) {
        let old = match &new {
            Some(p) => self.pods.insert(key.to_owned(), p.clone()),
            None => self.pods.remove(key),
        };
        if let Some(n) = old.as_deref().and_then(node_of) {
            if let Some(set) = self.by_node.get_mut(n) {
                set.remove(key);
            }
            if let Some(&i) = self.index.get(n) {
                self.nodes[i].remove_pod(key);
            }
        }
        if let Some(p) = &new
            && let Some(n) = node_of(p)
        {
            self.by_node
                .entry(n.to_owned())
                .or_default()
                .insert(key.to_owned());
            if let Some(&i) = self.index.get(n) {
                self.nodes[i].add_pod(p);
            }
        }
    }

    fn put_node(&mut self, name: &str, new: Option<Arc<Node>>) {
        match (self.index.get(name).copied(), new) {
            (Some(i), Some(n)) => self.nodes[i].set_node((*n).clone()),
            (Some(i), None) => {
                self.order_stale = true;
                self.index.remove(name);
                self.nodes.swap_remove(i);
                if let Some(moved) = self.nodes.get(i) {
                    self.index.insert(moved.name().to_owned(), i);
                }
            }
            (None, Some(n)) => {
                let mut info = NodeInfo::new((*n).clone());
                for key in self.by_node.get(name).into_iter().flatten() {
                    if let Some(p) = self.pods.get(key) {
                        info.add_pod(p);
                    }
                }
                self.index.insert(name.to_owned(), self.nodes.len());
                self.nodes.push(info);
                self.order_stale = true;
            }
            (None, None) => {}
        }
    }

    /// The nodes in name order (the order is rebuilt only after nodes came or went).
    fn refresh_order(&mut self) {
        if self.order_stale || self.order.len() != self.nodes.len() {
            let nodes = &self.nodes;
            self.order = (0..nodes.len()).collect();
            self.order
                .sort_by(|&a, &b| nodes[a].name().cmp(nodes[b].name()));
            self.order_stale = false;
        }
    }

    fn put_service(&mut self, key: &str, new: Option<Arc<Service>>) {
        match new {
            Some(s) => self.services.insert(key.to_owned(), s),
            None => self.services.remove(key),
        };
    }

    fn undo(&mut self, c: &Change) {
        match c {
            Change::Pod { key, before, .. } => self.put_pod(key, before.clone()),
            Change::Node { name, before, .. } => self.put_node(name, before.clone()),
            Change::Service { key, before, .. } => self.put_service(key, before.clone()),
        }
    }

    fn redo(&mut self, c: &Change) {
        match c {
            Change::Pod { key, after, .. } => self.put_pod(key, after.clone()),
            Change::Node { name, after, .. } => self.put_node(name, after.clone()),
            Change::Service { key, after, .. } => self.put_service(key, after.clone()),
        }
    }

    /// Loads one object of a starting state (no history kept for it).
    pub fn load(&mut self, key: &str, json: &str) {
        match target(key) {
            Target::Pod(k) => self.put_pod(&k, serde_json::from_str(json).ok().map(Arc::new)),
            Target::Node(n) => self.put_node(&n, serde_json::from_str(json).ok().map(Arc::new)),
            Target::Service(k) => {
                self.put_service(&k, serde_json::from_str(json).ok().map(Arc::new));
            }
            Target::Other => {}
        }
    }

    /// Applies transition `rev` of `key` to `after` (None: deleted); other kinds are ignored.
    pub fn apply(&mut self, rev: u64, key: &str, after: Option<&str>) {
        fn parse<T: serde::de::DeserializeOwned>(j: Option<&str>) -> Option<Arc<T>> {
            j.and_then(|j| serde_json::from_str(j).ok()).map(Arc::new)
        }
        let change = match target(key) {
            Target::Pod(k) => Change::Pod {
                rev,
                before: self.pods.get(&k).cloned(),
                after: parse(after),
                key: k,
            },
            Target::Node(n) => Change::Node {
                rev,
                before: self
                    .index
                    .get(&n)
                    .map(|&i| Arc::new(self.nodes[i].node().clone())),
                after: parse(after),
                name: n,
            },
            Target::Service(k) => Change::Service {
                rev,
                before: self.services.get(&k).cloned(),
                after: parse(after),
                key: k,
            },
            Target::Other => return,
        };
        self.redo(&change);
        if self.keep == 0 {
            return;
        }
        self.window.push_back(change);
        while self
            .window
            .front()
            .is_some_and(|c| c.rev() + self.keep < rev)
        {
            self.window.pop_front();
        }
    }

    /// The object as stored at revision `rv`: `now` if its resourceVersion is `rv`, else the
    /// object a change at `rv` wrote, as `written` reads it off a change of the right key.
    fn version<T: k8s_openapi::Metadata<Ty = ObjectMeta>>(
        &self,
        now: Option<&Arc<T>>,
        rv: u64,
        written: impl Fn(&Change) -> Option<Option<Arc<T>>>,
    ) -> Option<Arc<T>> {
        if let Some(o) = now.filter(|o| rv_of(o.metadata()) == rv) {
            return Some(o.clone());
        }
        self.window
            .iter()
            .rev()
            .filter(|c| c.rev() == rv)
            .find_map(|c| written(c).flatten())
    }

    /// The pod `key` as stored at revision `rv` (its version whose resourceVersion is `rv`).
    fn pod_version(&self, key: &str, rv: u64) -> Option<Arc<Pod>> {
        self.version(self.pods.get(key), rv, |c| match c {
            Change::Pod { key: k, after, .. } if k == key => Some(after.clone()),
            _ => None,
        })
    }

    /// The Service `key` (`namespace/name`) as stored at revision `rv`.
    pub fn service_version(&self, key: &str, rv: u64) -> Option<Arc<Service>> {
        self.version(self.services.get(key), rv, |c| match c {
            Change::Service { key: k, after, .. } if k == key => Some(after.clone()),
            _ => None,
        })
    }

    /// Whether the view still holds the changes back to revision `rev` (exclusive), i.e. can be
    /// rolled back to it: `rev` is at most [`WINDOW`] revisions before `now`.
    pub fn reaches(rev: u64, now: u64) -> bool {
        rev < now && rev + WINDOW >= now
    }

    /// Runs `f` on the view rolled back to nodes at `nodes_revision` and pods at
    /// `pods_revision` (Services stay as they are now), then rolls it forward again.
    pub fn rolled_back<R>(
        &mut self,
        nodes_revision: u64,
        pods_revision: u64,
        f: impl FnOnce(&mut Self) -> R,
    ) -> R {
        let undone: Vec<Change> = self
            .window
            .iter()
            .rev()
            .take_while(|c| c.rev() > nodes_revision.min(pods_revision))
            .filter(|c| match c {
                Change::Pod { rev, .. } => *rev > pods_revision,
                Change::Node { rev, .. } => *rev > nodes_revision,
                Change::Service { .. } => false,
            })
            .cloned()
            .collect();
        for c in &undone {
            self.undo(c);
        }
        let out = f(self);
        for c in undone.iter().rev() {
            self.redo(c);
        }
        out
    }

    /// The pods of the view in namespace `ns` (as it stands: see [`SchedulingReplay::rolled_back`]).
    pub fn pods_in(&self, ns: &str) -> impl Iterator<Item = &Arc<Pod>> {
        let prefix = format!("{ns}/");
        self.pods
            .iter()
            .filter(move |(k, _)| k.starts_with(&prefix))
            .map(|(_, p)| p)
    }
}

#[cfg(test)]
mod tests;
