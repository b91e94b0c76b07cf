//! [`NodeInfo`]: a node plus the pods counted on it — what the scheduler's plugins read.
//!
//! Requests are accounted incrementally (adding or removing a pod is O(labels + resources)), so a
//! scheduler can keep one `NodeInfo` per node for thousands of nodes. Terminal pods (phase
//! `Succeeded` or `Failed`) are never counted, as in Kubernetes. Pods the scheduler has bound but not
//! yet observed are *assumed* ([`NodeInfo::assume`]) so two decisions in a row cannot overcommit a
//! node; their keys are listed by [`NodeInfo::assumed_pods`] for the scheduling proof.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as K8sQuantity;

use super::requests::{PODS, Resources, amount, pod_requests};

/// `namespace/name` of a pod (namespace `default` when unset), the key used in assumed-pod lists.
pub fn pod_key(pod: &Pod) -> String {
    format!(
        "{}/{}",
        pod.metadata.namespace.as_deref().unwrap_or("default"),
        pod.metadata.name.as_deref().unwrap_or("")
    )
}

/// True when the pod's phase is `Succeeded` or `Failed`: it holds no resources any more.
pub fn is_terminal(pod: &Pod) -> bool {
    matches!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded") | Some("Failed")
    )
}

/// The key grouping pods for spreading: namespace plus the full label set, or `None` for a pod
/// without labels (such pods are not spread).
pub fn spread_key(pod: &Pod) -> Option<String> {
    let labels = pod.metadata.labels.as_ref().filter(|l| !l.is_empty())?;
    let mut key = pod
        .metadata
        .namespace
        .as_deref()
        .unwrap_or("default")
        .to_owned();
    for (k, v) in labels {
        key.push('\0');
        key.push_str(k);
        key.push('=');
        key.push_str(v);
    }
    Some(key)
}

/// What the node accounts for one pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodSummary {
    /// `namespace/name`.
    pub key: String,
    /// Requests as the NodeResourcesFit filter counts them.
    pub requests: Resources,
    /// Requests as scoring counts them (100m / 200Mi for missing cpu / memory requests).
    pub non_zero_requests: Resources,
    /// The spreading key ([`spread_key`]).
    pub spread_key: Option<String>,
    /// True while the pod is assumed (bound by the scheduler, not yet observed on the node).
    pub assumed: bool,
}

impl PodSummary {
    fn new(pod: &Pod, assumed: bool) -> PodSummary {
        PodSummary {
            key: pod_key(pod),
            requests: pod_requests(pod, false),
            non_zero_requests: pod_requests(pod, true),
            spread_key: spread_key(pod),
            assumed,
        }
    }
}

/// A node and the non-terminal pods counted on it (observed and assumed).
#[derive(Debug, Clone)]
pub struct NodeInfo {
    node: Arc<Node>,
    allocatable: Resources,
    allowed_pods: i64,
    pods: BTreeMap<String, PodSummary>,
    requested: Resources,
    non_zero_requested: Resources,
    spread_counts: HashMap<String, u32>,
    /// The node's `Ready` condition is `True` (read once per node update: the NodeReady filter
    /// runs for every node on every decision, and walking the conditions each time was a third of
    /// `schedule`'s time at 1,000 nodes, in `perf`).
    ready: bool,
    /// `spec.unschedulable` (cordoned), read once per node update.
    cordoned: bool,
    /// How many of `pods` are assumed (lets [`assumed_pods`] skip nodes with none: it runs once
    /// per decision, and scanning every counted pod of every node made it O(pods in the cluster)).
    assumed: usize,
}

impl NodeInfo {
    /// A node with no pods. Allocatable is read from `status.allocatable`, each resource missing
    /// there falling back to `status.capacity`; a node that declares no `pods` allows 0 pods.
    /// `node` may be an `Arc<Node>` shared with an informer's store (it is then not copied).
    pub fn new(node: impl Into<Arc<Node>>) -> NodeInfo {
        let mut info = NodeInfo {
            node: Arc::new(Node::default()),
            allocatable: Resources::default(),
            allowed_pods: 0,
            pods: BTreeMap::new(),
            requested: Resources::default(),
            non_zero_requested: Resources::default(),
            spread_counts: HashMap::new(),
            ready: false,
            cordoned: false,
            assumed: 0,
        };
        info.set_node(node);
        info
    }

    /// A node with the given pods counted as observed (terminal pods skipped).
    pub fn with_pods<'p>(node: Node, pods: impl IntoIterator<Item = &'p Pod>) -> NodeInfo {
        let mut info = NodeInfo::new(node);
        for pod in pods {
            info.add_pod(pod);
        }
        info
    }

    /// One `NodeInfo` per node, in the order of `nodes`, with each pod of `pods` counted on the
    /// node its `spec.nodeName` names (unbound pods and pods on unknown nodes are ignored).
    pub fn build_all(nodes: &[Node], pods: &[Pod]) -> Vec<NodeInfo> {
        let mut by_node: HashMap<&str, Vec<&Pod>> = HashMap::new();
        for pod in pods {
            if let Some(n) = pod.spec.as_ref().and_then(|s| s.node_name.as_deref()) {
                by_node.entry(n).or_default().push(pod);
            }
        }
        nodes
            .iter()
            .map(|node| {
                let name = node.metadata.name.as_deref().unwrap_or("");
                let pods = by_node.get(name).map(Vec::as_slice).unwrap_or(&[]);
                NodeInfo::with_pods(node.clone(), pods.iter().copied())
            })
            .collect()
    }

    /// Replaces the node object (labels, taints, allocatable, conditions), keeping the pods.
    /// `node` may be an `Arc<Node>` shared with an informer's store (it is then not copied).
    pub fn set_node(&mut self, node: impl Into<Arc<Node>>) {
        let node: Arc<Node> = node.into();
        let mut merged: BTreeMap<String, K8sQuantity> = BTreeMap::new();
        if let Some(status) = &node.status {
            merged.extend(
                status
                    .capacity
                    .iter()
                    .flatten()
                    .map(|(k, v)| (k.clone(), v.clone())),
            );
            merged.extend(
                status
                    .allocatable
                    .iter()
                    .flatten()
                    .map(|(k, v)| (k.clone(), v.clone())),
            );
        }
        self.allocatable = Resources::from_list(&merged);
        self.allowed_pods = merged.get(PODS).map(|q| amount(PODS, q)).unwrap_or(0);
        self.ready = node
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
            .is_some_and(|c| c.status == "True");
        self.cordoned = node
            .spec
            .as_ref()
            .and_then(|s| s.unschedulable)
            .unwrap_or(false);
        self.node = node;
    }

    /// The node object.
    pub fn node(&self) -> &Node {
        &self.node
    }

    /// `metadata.name` of the node ("" when unset).
    pub fn name(&self) -> &str {
        self.node.metadata.name.as_deref().unwrap_or("")
    }

    /// `true` when the node's `Ready` condition has status `True`.
    pub fn is_ready(&self) -> bool {
        self.ready
    }

    /// `true` when the node is cordoned (`spec.unschedulable`).
    pub fn is_cordoned(&self) -> bool {
        self.cordoned
    }

    /// Allocatable resources (cpu in millicores, bytes, units).
    pub fn allocatable(&self) -> &Resources {
        &self.allocatable
    }

    /// How many pods the node allows (`pods` of allocatable, else capacity, else 0).
    pub fn allowed_pods(&self) -> i64 {
        self.allowed_pods
    }

    /// Sum of the counted pods' requests, as the filter counts them.
    pub fn requested(&self) -> &Resources {
        &self.requested
    }

    /// Sum of the counted pods' requests, as scoring counts them (with 100m / 200Mi defaults).
    pub fn non_zero_requested(&self) -> &Resources {
        &self.non_zero_requested
    }

    /// Number of counted pods (observed and assumed).
    pub fn pod_count(&self) -> usize {
        self.pods.len()
    }

    /// The counted pods, ordered by key.
    pub fn pods(&self) -> impl Iterator<Item = &PodSummary> {
        self.pods.values()
    }

    /// Keys of the assumed pods, sorted.
    pub fn assumed_pods(&self) -> Vec<String> {
        if self.assumed == 0 {
            return Vec::new();
        }
        self.pods
            .values()
            .filter(|p| p.assumed)
            .map(|p| p.key.clone())
            .collect()
    }

    /// How many counted pods share `key` (same namespace and labels; see [`spread_key`]).
    pub fn count_spread(&self, key: &str) -> u32 {
        self.spread_counts.get(key).copied().unwrap_or(0)
    }

    /// Counts an observed pod bound to this node, replacing an earlier version (and confirming it if
    /// it was assumed). A terminal pod is not counted — it is removed if it was — and `false` is
    /// returned.
    pub fn add_pod(&mut self, pod: &Pod) -> bool {
        self.insert(pod, false)
    }

    /// Counts a pod the scheduler has just bound here but not yet observed, so the next decision
    /// sees its requests. Returns `false` (and changes nothing) for a terminal pod or a pod already
    /// observed on this node.
    pub fn assume(&mut self, pod: &Pod) -> bool {
        if is_terminal(pod) {
            return false;
        }
        if self.pods.get(&pod_key(pod)).is_some_and(|p| !p.assumed) {
            return false;
        }
        self.insert(pod, true)
    }

    /// Stops counting an assumed pod (its binding failed or expired). Returns `false` when `key` is
    /// not an assumed pod of this node; observed pods are left alone.
    pub fn forget(&mut self, key: &str) -> bool {
        if self.pods.get(key).is_some_and(|p| p.assumed) {
            self.remove_pod(key)
        } else {
            false
        }
    }

    /// Stops counting a pod (deleted or moved). Returns `false` when it was not counted.
    pub fn remove_pod(&mut self, key: &str) -> bool {
        let Some(old) = self.pods.remove(key) else {
            return false;
        };
        self.requested.sub(&old.requests);
        self.non_zero_requested.sub(&old.non_zero_requests);
        if old.assumed {
            self.assumed = self.assumed.saturating_sub(1);
        }
        if let Some(k) = &old.spread_key
            && let Some(c) = self.spread_counts.get_mut(k)
        {
            *c = c.saturating_sub(1);
            if *c == 0 {
                self.spread_counts.remove(k);
            }
        }
        true
    }

    fn insert(&mut self, pod: &Pod, assumed: bool) -> bool {
        let key = pod_key(pod);
        self.remove_pod(&key);
        if is_terminal(pod) {
            return false;
        }
        let summary = PodSummary::new(pod, assumed);
        self.requested.add(&summary.requests);
        self.non_zero_requested.add(&summary.non_zero_requests);
        if assumed {
            self.assumed += 1;
        }
        if let Some(k) = &summary.spread_key {
            *self.spread_counts.entry(k.clone()).or_insert(0) += 1;
        }
        self.pods.insert(key, summary);
        true
    }
}

/// The sorted union of the assumed pods of `nodes` (what a scheduling proof records).
pub fn assumed_pods(nodes: &[NodeInfo]) -> Vec<String> {
    let set: BTreeSet<String> = nodes.iter().flat_map(NodeInfo::assumed_pods).collect();
    set.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::testing::{make_node, make_pod};

    #[test]
    fn node_info_should_sum_requests_and_skip_terminal_pods() {
        let node = make_node("n1").cpu_milli(4000).mem("8Gi").pods(10).build();
        let a = make_pod("a").req_cpu_milli(500).req_mem("1Gi").build();
        let b = make_pod("b").req_cpu_milli(1000).build();
        let done = make_pod("done")
            .req_cpu_milli(3000)
            .phase("Succeeded")
            .build();
        let failed = make_pod("failed")
            .req_cpu_milli(3000)
            .phase("Failed")
            .build();
        let info = NodeInfo::with_pods(node, [&a, &b, &done, &failed]);
        assert_eq!(info.pod_count(), 2);
        assert_eq!(info.requested().cpu_millis, 1500);
        assert_eq!(info.requested().memory_bytes, 1 << 30);
        // scoring counts b's missing memory request as 200Mi.
        assert_eq!(
            info.non_zero_requested().memory_bytes,
            (1 << 30) + 200 * 1024 * 1024
        );
        assert_eq!(info.allocatable().cpu_millis, 4000);
        assert_eq!(info.allowed_pods(), 10);
    }

    #[test]
    fn node_info_should_uncount_a_pod_that_turns_terminal() {
        let mut info = NodeInfo::new(make_node("n1").cpu_milli(4000).build());
        info.add_pod(&make_pod("a").req_cpu_milli(500).build());
        assert!(!info.add_pod(&make_pod("a").req_cpu_milli(500).phase("Succeeded").build()));
        assert_eq!(info.pod_count(), 0);
        assert_eq!(info.requested().cpu_millis, 0);
    }

    #[test]
    fn node_info_should_assume_confirm_and_forget() {
        let mut info = NodeInfo::new(make_node("n1").cpu_milli(4000).build());
        let p = make_pod("p").req_cpu_milli(700).build();
        assert!(info.assume(&p));
        assert_eq!(info.assumed_pods(), vec!["default/p".to_owned()]);
        assert_eq!(info.requested().cpu_millis, 700);
        // observing the pod confirms it: counted once, no longer assumed.
        info.add_pod(&p);
        assert!(info.assumed_pods().is_empty());
        assert_eq!(info.requested().cpu_millis, 700);
        assert!(!info.forget("default/p"), "observed pods are not forgotten");
        let q = make_pod("q").req_cpu_milli(100).build();
        info.assume(&q);
        assert!(info.forget("default/q"));
        assert_eq!(info.requested().cpu_millis, 700);
    }

    #[test]
    fn node_info_should_fall_back_to_capacity() {
        let node = make_node("n1")
            .capacity("cpu", "2")
            .capacity("pods", "5")
            .build();
        let info = NodeInfo::new(node);
        assert_eq!(info.allocatable().cpu_millis, 2000);
        assert_eq!(info.allowed_pods(), 5);
    }

    #[test]
    fn build_all_should_group_pods_by_node_name() {
        let nodes = [make_node("n1").build(), make_node("n2").build()];
        let pods = [
            make_pod("a").node_name("n2").build(),
            make_pod("b").build(),
            make_pod("c").node_name("gone").build(),
        ];
        let infos = NodeInfo::build_all(&nodes, &pods);
        assert_eq!(infos[0].pod_count(), 0);
        assert_eq!(infos[1].pod_count(), 1);
    }

    #[test]
    fn spread_key_should_count_same_namespace_and_labels() {
        let mut info = NodeInfo::new(make_node("n1").build());
        info.add_pod(&make_pod("a").label("app", "web").build());
        info.add_pod(&make_pod("b").label("app", "web").build());
        info.add_pod(&make_pod("c").label("app", "web").namespace("other").build());
        let key = spread_key(&make_pod("x").label("app", "web").build()).unwrap();
        assert_eq!(info.count_spread(&key), 2);
        info.remove_pod("default/a");
        assert_eq!(info.count_spread(&key), 1);
    }
}
