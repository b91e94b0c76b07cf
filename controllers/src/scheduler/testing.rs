//! Fluent fixture builders for scheduler tests: `make_pod("p").req_cpu_milli(500).build()`,
//! `make_node("n1").cpu_milli(4000).mem("8Gi").build()`.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Affinity, Container, Node, NodeAffinity, NodeCondition, NodeSelector, NodeSelectorRequirement,
    NodeSelectorTerm, NodeSpec, NodeStatus, Pod, PodSpec, PodStatus, PreferredSchedulingTerm,
    ResourceRequirements, Taint, Toleration,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

/// A node selector requirement `key op values`.
pub fn expr(key: &str, op: &str, values: &[&str]) -> NodeSelectorRequirement {
    NodeSelectorRequirement {
        key: key.to_owned(),
        operator: op.to_owned(),
        values: if values.is_empty() {
            None
        } else {
            Some(values.iter().map(|v| (*v).to_owned()).collect())
        },
    }
}

/// A node selector term of match expressions (ANDed).
pub fn term(exprs: Vec<NodeSelectorRequirement>) -> NodeSelectorTerm {
    NodeSelectorTerm {
        match_expressions: Some(exprs),
        match_fields: None,
    }
}

/// A node selector term of match fields (`metadata.name`).
pub fn field_term(fields: Vec<NodeSelectorRequirement>) -> NodeSelectorTerm {
    NodeSelectorTerm {
        match_expressions: None,
        match_fields: Some(fields),
    }
}

/// Builder of a pod. Resource methods apply to the last added container.
pub struct PodBuilder {
    pod: Pod,
    current: Which,
}

enum Which {
    App(usize),
    Init(usize),
}

/// A pod `name` in namespace `default` with one container `c0` and no requests.
pub fn make_pod(name: &str) -> PodBuilder {
    let mut pod = Pod::default();
    pod.metadata.name = Some(name.to_owned());
    pod.metadata.namespace = Some("default".to_owned());
    pod.spec = Some(PodSpec {
        containers: vec![Container {
            name: "c0".to_owned(),
            ..Default::default()
        }],
        ..Default::default()
    });
    PodBuilder {
        pod,
        current: Which::App(0),
    }
}

impl PodBuilder {
    fn spec(&mut self) -> &mut PodSpec {
        self.pod.spec.get_or_insert_with(Default::default)
    }

    fn resources(&mut self) -> &mut ResourceRequirements {
        let which = match self.current {
            Which::App(i) => (false, i),
            Which::Init(i) => (true, i),
        };
        let spec = self.spec();
        let c = if which.0 {
            &mut spec.init_containers.get_or_insert_with(Vec::new)[which.1]
        } else {
            &mut spec.containers[which.1]
        };
        c.resources.get_or_insert_with(Default::default)
    }

    /// Adds a request to the current container.
    pub fn req(mut self, name: &str, q: &str) -> Self {
        let r = self.resources().requests.get_or_insert_with(BTreeMap::new);
        r.insert(name.to_owned(), Quantity(q.to_owned()));
        self
    }

    /// Adds a limit to the current container.
    pub fn limit(mut self, name: &str, q: &str) -> Self {
        let r = self.resources().limits.get_or_insert_with(BTreeMap::new);
        r.insert(name.to_owned(), Quantity(q.to_owned()));
        self
    }

    /// cpu request in millicores.
    pub fn req_cpu_milli(self, m: i64) -> Self {
        self.req("cpu", &format!("{m}m"))
    }

    /// memory request (`"1Gi"`).
    pub fn req_mem(self, q: &str) -> Self {
        self.req("memory", q)
    }

    /// cpu limit (`"0.5"`).
    pub fn limit_cpu(self, q: &str) -> Self {
        self.limit("cpu", q)
    }

    /// memory limit (`"512Mi"`).
    pub fn limit_mem(self, q: &str) -> Self {
        self.limit("memory", q)
    }

    /// Adds an app container and makes it current.
    pub fn container(mut self) -> Self {
        let spec = self.spec();
        let name = format!("c{}", spec.containers.len());
        spec.containers.push(Container {
            name,
            ..Default::default()
        });
        self.current = Which::App(self.spec().containers.len() - 1);
        self
    }

    fn push_init(mut self, restart: Option<&str>) -> Self {
        let inits = self.spec().init_containers.get_or_insert_with(Vec::new);
        inits.push(Container {
            name: format!("i{}", inits.len()),
            restart_policy: restart.map(str::to_owned),
            ..Default::default()
        });
        let i = inits.len() - 1;
        self.current = Which::Init(i);
        self
    }

    /// Adds an init container and makes it current.
    pub fn init_container(self) -> Self {
        self.push_init(None)
    }

    /// Adds a sidecar (init container with `restartPolicy: Always`) and makes it current.
    pub fn sidecar(self) -> Self {
        self.push_init(Some("Always"))
    }

    /// Pod overhead cpu in millicores.
    pub fn overhead_cpu_milli(mut self, m: i64) -> Self {
        let o = self.spec().overhead.get_or_insert_with(BTreeMap::new);
        o.insert("cpu".to_owned(), Quantity(format!("{m}m")));
        self
    }

    /// Adds a label.
    pub fn label(mut self, k: &str, v: &str) -> Self {
        let l = self.pod.metadata.labels.get_or_insert_with(BTreeMap::new);
        l.insert(k.to_owned(), v.to_owned());
        self
    }

    /// Sets the namespace.
    pub fn namespace(mut self, ns: &str) -> Self {
        self.pod.metadata.namespace = Some(ns.to_owned());
        self
    }

    /// Sets `spec.nodeName`.
    pub fn node_name(mut self, n: &str) -> Self {
        self.spec().node_name = Some(n.to_owned());
        self
    }

    /// Sets `status.phase`.
    pub fn phase(mut self, phase: &str) -> Self {
        self.pod.status = Some(PodStatus {
            phase: Some(phase.to_owned()),
            ..Default::default()
        });
        self
    }

    /// Adds a `nodeSelector` entry.
    pub fn node_selector(mut self, k: &str, v: &str) -> Self {
        let s = self.spec().node_selector.get_or_insert_with(BTreeMap::new);
        s.insert(k.to_owned(), v.to_owned());
        self
    }

    /// Adds a toleration (empty strings mean unset).
    pub fn toleration(mut self, key: &str, op: &str, value: &str, effect: &str) -> Self {
        let opt = |s: &str| (!s.is_empty()).then(|| s.to_owned());
        let t = Toleration {
            key: opt(key),
            operator: opt(op),
            value: opt(value),
            effect: opt(effect),
            toleration_seconds: None,
        };
        self.spec().tolerations.get_or_insert_with(Vec::new).push(t);
        self
    }

    fn node_affinity(&mut self) -> &mut NodeAffinity {
        let a = self.spec().affinity.get_or_insert_with(Affinity::default);
        a.node_affinity.get_or_insert_with(NodeAffinity::default)
    }

    /// Adds a required node affinity term (terms are ORed).
    pub fn require(mut self, t: NodeSelectorTerm) -> Self {
        let na = self.node_affinity();
        let sel = na
            .required_during_scheduling_ignored_during_execution
            .get_or_insert_with(|| NodeSelector {
                node_selector_terms: Vec::new(),
            });
        sel.node_selector_terms.push(t);
        self
    }

    /// Adds a preferred node affinity term with `weight`.
    pub fn prefer(mut self, weight: i32, t: NodeSelectorTerm) -> Self {
        let na = self.node_affinity();
        let p = na
            .preferred_during_scheduling_ignored_during_execution
            .get_or_insert_with(Vec::new);
        p.push(PreferredSchedulingTerm {
            preference: t,
            weight,
        });
        self
    }

    /// The pod.
    pub fn build(self) -> Pod {
        self.pod
    }
}

/// Builder of a node.
pub struct NodeBuilder {
    node: Node,
    alloc: BTreeMap<String, Quantity>,
    capacity: BTreeMap<String, Quantity>,
}

/// A Ready node `name` allowing 110 pods, with no other resources.
pub fn make_node(name: &str) -> NodeBuilder {
    let mut node = Node::default();
    node.metadata.name = Some(name.to_owned());
    node.status = Some(NodeStatus {
        conditions: Some(vec![NodeCondition {
            type_: "Ready".to_owned(),
            status: "True".to_owned(),
            ..Default::default()
        }]),
        ..Default::default()
    });
    let mut alloc = BTreeMap::new();
    alloc.insert("pods".to_owned(), Quantity("110".to_owned()));
    NodeBuilder {
        node,
        alloc,
        capacity: BTreeMap::new(),
    }
}

impl NodeBuilder {
    /// Sets an allocatable resource.
    pub fn alloc(mut self, name: &str, q: &str) -> Self {
        self.alloc.insert(name.to_owned(), Quantity(q.to_owned()));
        self
    }

    /// Sets a capacity resource (allocatable falls back to it).
    pub fn capacity(mut self, name: &str, q: &str) -> Self {
        self.alloc.remove(name);
        self.capacity
            .insert(name.to_owned(), Quantity(q.to_owned()));
        self
    }

    /// Allocatable cpu in millicores.
    pub fn cpu_milli(self, m: i64) -> Self {
        self.alloc("cpu", &format!("{m}m"))
    }

    /// Allocatable memory (`"8Gi"`).
    pub fn mem(self, q: &str) -> Self {
        self.alloc("memory", q)
    }

    /// Allocatable pod count.
    pub fn pods(self, n: i64) -> Self {
        self.alloc("pods", &n.to_string())
    }

    /// Adds a label.
    pub fn label(mut self, k: &str, v: &str) -> Self {
        let l = self.node.metadata.labels.get_or_insert_with(BTreeMap::new);
        l.insert(k.to_owned(), v.to_owned());
        self
    }

    /// Adds a taint (`value` empty = unset).
    pub fn taint(mut self, key: &str, value: &str, effect: &str) -> Self {
        let spec = self.node.spec.get_or_insert_with(NodeSpec::default);
        spec.taints.get_or_insert_with(Vec::new).push(Taint {
            key: key.to_owned(),
            value: (!value.is_empty()).then(|| value.to_owned()),
            effect: effect.to_owned(),
            time_added: None,
        });
        self
    }

    /// Sets `spec.unschedulable: true` (cordoned).
    pub fn unschedulable(mut self) -> Self {
        self.node
            .spec
            .get_or_insert_with(NodeSpec::default)
            .unschedulable = Some(true);
        self
    }

    /// Sets the Ready condition's status (`"False"`, `"Unknown"`).
    pub fn ready(mut self, status: &str) -> Self {
        if let Some(s) = self.node.status.as_mut() {
            s.conditions = Some(vec![NodeCondition {
                type_: "Ready".to_owned(),
                status: status.to_owned(),
                ..Default::default()
            }]);
        }
        self
    }

    /// The node.
    pub fn build(mut self) -> Node {
        if let Some(s) = self.node.status.as_mut() {
            s.allocatable = (!self.alloc.is_empty()).then_some(self.alloc);
            s.capacity = (!self.capacity.is_empty()).then_some(self.capacity);
        }
        self.node
    }
}
