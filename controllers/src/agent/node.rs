//! The Node object an agent registers: [`NodeSpec`], built from defaults or from a node template (a
//! Node manifest, `--node-template FILE`), and the kubelet-owned parts of its `status`.
//!
//! # Addresses (per node index)
//! - `spec.podCIDR`: `10.244.<index>.0/24` for index 0–255; beyond, the next /24 blocks in
//!   `10.0.0.0/8` (`10.245.0.0/24` … `10.255.255.0/24`, then `10.1.0.0/24` …), unique up to index
//!   [`MAX_NODE_INDEX`].
//! - `InternalIP`: `10.0.<hi>.<lo>` where `hi.lo` is `index + 1` as two bytes (index 0 → `10.0.0.1`).
//!
//! # Template
//! Read from the template: `metadata.labels`, `metadata.annotations`, `spec.taints`,
//! `spec.unschedulable`, `status.capacity` (merged over the defaults) and `status.allocatable`
//! (merged over the capacity). Everything else (name, addresses, podCIDR, nodeInfo, conditions) is
//! the agent's. `kubernetes.io/hostname` is always the node's name.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::SystemTime;

use k8s_openapi::api::core::v1::{
    DaemonEndpoint, Node, NodeAddress, NodeCondition, NodeDaemonEndpoints, NodeSpec as K8sNodeSpec,
    NodeStatus, NodeSystemInfo,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::Value;

use crate::kubelet::status::time;

/// The largest node index with a unique podCIDR and InternalIP.
pub const MAX_NODE_INDEX: u32 = 255 * 256 - 1;

/// The kubelet version nodes report (`kubectl get nodes` VERSION column).
pub const KUBELET_VERSION: &str = "v1.32.0-mock";

/// The container runtime version nodes report.
pub const CONTAINER_RUNTIME_VERSION: &str = "mockdocker://1.0";

/// The kubelet's port, reported in `status.daemonEndpoints.kubeletEndpoint.Port`.
pub const KUBELET_PORT: i32 = 10250;

/// Why a [`NodeSpec`] could not be built.
#[derive(Debug, thiserror::Error)]
pub enum NodeSpecError {
    /// The template is not a valid Node manifest.
    #[error("invalid node template: {0}")]
    InvalidTemplate(String),
    /// The template file could not be read.
    #[error("cannot read node template {path}: {message}")]
    ReadTemplate {
        /// The file.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// The node index has no unique address range (above [`MAX_NODE_INDEX`]).
    #[error("node index {0} is too large (at most {MAX_NODE_INDEX} nodes)")]
    IndexOutOfRange(u32),
    /// The node name is empty.
    #[error("node name must not be empty")]
    EmptyName,
}

/// One node an agent serves: its name, its index (which picks its addresses) and the Node object it
/// registers (metadata, spec and the static part of its status: capacity, allocatable, addresses,
/// nodeInfo, daemonEndpoints).
#[derive(Debug, Clone, PartialEq)]
pub struct NodeSpec {
    /// The node's name (`metadata.name`, also its Lease's name and `holderIdentity`).
    pub name: String,
    /// The node's index in its pool (0 for the agent's own node).
    pub index: u32,
    /// The Node object to register; conditions are added at registration time.
    pub node: Node,
    /// The client this node's writes go through (its own NKO signing client); `None`: the
    /// pool's client.
    pub client: Option<NodeClient>,
}

/// A node's own API client (e.g. one that signs as `node:<name>` with the node's key).
#[derive(Clone)]
pub struct NodeClient(pub std::sync::Arc<dyn crate::client::Client>);

impl std::fmt::Debug for NodeClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NodeClient")
    }
}

impl PartialEq for NodeClient {
    fn eq(&self, other: &Self) -> bool {
        std::sync::Arc::ptr_eq(&self.0, &other.0)
    }
}

/// The default capacity: `cpu: 4`, `memory: 8Gi`, `pods: 110`, `ephemeral-storage: 100Gi`.
pub fn default_capacity() -> BTreeMap<String, Quantity> {
    [
        ("cpu", "4"),
        ("memory", "8Gi"),
        ("pods", "110"),
        ("ephemeral-storage", "100Gi"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), Quantity(v.to_string())))
    .collect()
}

/// The podCIDR of node `index` (see the module docs), or `None` above [`MAX_NODE_INDEX`].
pub fn pod_cidr_for(index: u32) -> Option<String> {
    if index > MAX_NODE_INDEX {
        return None;
    }
    let block = index / 256;
    let second = if block < 12 { 244 + block } else { block - 11 };
    Some(format!("10.{second}.{}.0/24", index % 256))
}

/// The InternalIP of node `index` (see the module docs), or `None` above [`MAX_NODE_INDEX`].
pub fn internal_ip_for(index: u32) -> Option<String> {
    if index > MAX_NODE_INDEX {
        return None;
    }
    let n = index + 1;
    Some(format!("10.0.{}.{}", n / 256, n % 256))
}

/// Reads a node template file (YAML or JSON) into a JSON value for [`NodeSpec::from_template`].
///
/// # Errors
/// [`NodeSpecError::ReadTemplate`] when the file cannot be read or parsed;
/// [`NodeSpecError::InvalidTemplate`] when it is not a Node manifest.
pub fn load_template(path: impl AsRef<Path>) -> Result<Value, NodeSpecError> {
    let path = path.as_ref();
    let read_err = |message: String| NodeSpecError::ReadTemplate {
        path: path.display().to_string(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| read_err(e.to_string()))?;
    let value: Value = serde_saphyr::from_str(&text).map_err(|e| read_err(e.to_string()))?;
    serde_json::from_value::<Node>(value.clone())
        .map_err(|e| NodeSpecError::InvalidTemplate(e.to_string()))?;
    check_template_quantities(&value)?;
    Ok(value)
}

/// Every `status.capacity` and `status.allocatable` value must be a Kubernetes quantity, parsed
/// by the API server's own parser (so a template the API would refuse fails at start-up, not as
/// a registration retried forever).
fn check_template_quantities(template: &Value) -> Result<(), NodeSpecError> {
    for field in ["capacity", "allocatable"] {
        let Some(list) = template
            .get("status")
            .and_then(|s| s.get(field))
            .and_then(Value::as_object)
        else {
            continue;
        };
        for (name, q) in list {
            let text = q.as_str().map_or_else(|| q.to_string(), str::to_string);
            if mock_k8_schemas::quantity::Quantity::parse(&text).is_err() {
                return Err(NodeSpecError::InvalidTemplate(format!(
                    "status.{field}.{name}: {text:?} is not a quantity (e.g. 4, 500m, 8Gi)"
                )));
            }
        }
    }
    Ok(())
}

/// `count` simulated nodes named `<prefix>-<i>` with indexes `first_index ..`, shaped by `template`.
///
/// # Errors
/// As [`NodeSpec::from_template`].
pub fn simulated_nodes(
    count: usize,
    prefix: &str,
    first_index: u32,
    template: Option<&Value>,
) -> Result<Vec<NodeSpec>, NodeSpecError> {
    (0..count)
        .map(|i| {
            let index = u32::try_from(i)
                .ok()
                .and_then(|i| i.checked_add(first_index))
                .ok_or(NodeSpecError::IndexOutOfRange(u32::MAX))?;
            NodeSpec::from_template(template, &format!("{prefix}-{index}"), index)
        })
        .collect()
}

impl NodeSpec {
    /// A node with the defaults (no template).
    ///
    /// # Errors
    /// [`NodeSpecError::EmptyName`], [`NodeSpecError::IndexOutOfRange`].
    pub fn new(name: &str, index: u32) -> Result<NodeSpec, NodeSpecError> {
        NodeSpec::from_template(None, name, index)
    }

    /// A node named `name` with index `index`, shaped by `template` (a Node manifest as JSON; see the
    /// module docs for the fields read), or the defaults when `None`.
    ///
    /// # Errors
    /// [`NodeSpecError::InvalidTemplate`] when the template does not decode as a Node;
    /// [`NodeSpecError::EmptyName`]; [`NodeSpecError::IndexOutOfRange`].
    pub fn from_template(
        template: Option<&Value>,
        name: &str,
        index: u32,
    ) -> Result<NodeSpec, NodeSpecError> {
        if name.is_empty() {
            return Err(NodeSpecError::EmptyName);
        }
        let tpl: Node = match template {
            Some(v) => serde_json::from_value(v.clone())
                .map_err(|e| NodeSpecError::InvalidTemplate(e.to_string()))?,
            None => Node::default(),
        };
        let (Some(cidr), Some(ip)) = (pod_cidr_for(index), internal_ip_for(index)) else {
            return Err(NodeSpecError::IndexOutOfRange(index));
        };
        let mut labels: BTreeMap<String, String> = [
            ("kubernetes.io/os", "linux"),
            ("kubernetes.io/arch", "amd64"),
            ("beta.kubernetes.io/os", "linux"),
            ("beta.kubernetes.io/arch", "amd64"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        labels.extend(tpl.metadata.labels.clone().unwrap_or_default());
        labels.insert("kubernetes.io/hostname".into(), name.to_string());
        let tpl_spec = tpl.spec.clone().unwrap_or_default();
        let tpl_status = tpl.status.clone().unwrap_or_default();
        let mut capacity = default_capacity();
        capacity.extend(tpl_status.capacity.unwrap_or_default());
        let mut allocatable = capacity.clone();
        allocatable.extend(tpl_status.allocatable.unwrap_or_default());
        let node = Node {
            metadata: ObjectMeta {
                name: Some(name.to_string()),
                labels: Some(labels),
                annotations: tpl.metadata.annotations.clone(),
                ..Default::default()
            },
            spec: Some(K8sNodeSpec {
                pod_cidr: Some(cidr.clone()),
                pod_cidrs: Some(vec![cidr]),
                taints: tpl_spec.taints.filter(|t| !t.is_empty()),
                unschedulable: tpl_spec.unschedulable.filter(|u| *u),
                ..Default::default()
            }),
            status: Some(NodeStatus {
                capacity: Some(capacity),
                allocatable: Some(allocatable),
                addresses: Some(vec![
                    NodeAddress {
                        type_: "InternalIP".into(),
                        address: ip,
                    },
                    NodeAddress {
                        type_: "Hostname".into(),
                        address: name.to_string(),
                    },
                ]),
                daemon_endpoints: Some(NodeDaemonEndpoints {
                    kubelet_endpoint: Some(DaemonEndpoint { port: KUBELET_PORT }),
                }),
                node_info: Some(node_info(name, index)),
                ..Default::default()
            }),
        };
        Ok(NodeSpec {
            client: None,
            name: name.to_string(),
            index,
            node,
        })
    }

    /// The node's `spec.podCIDR` as built.
    pub fn pod_cidr(&self) -> &str {
        self.node
            .spec
            .as_ref()
            .and_then(|s| s.pod_cidr.as_deref())
            .unwrap_or_default()
    }

    /// The node's InternalIP as built.
    pub fn internal_ip(&self) -> &str {
        self.node
            .status
            .as_ref()
            .and_then(|s| s.addresses.as_ref())
            .and_then(|a| a.iter().find(|a| a.type_ == "InternalIP"))
            .map(|a| a.address.as_str())
            .unwrap_or_default()
    }
}

fn node_info(name: &str, index: u32) -> NodeSystemInfo {
    let id = format!(
        "{:032x}",
        fnv(name.as_bytes()) as u128 | (u128::from(index) << 64)
    );
    NodeSystemInfo {
        architecture: "amd64".into(),
        boot_id: id.clone(),
        container_runtime_version: CONTAINER_RUNTIME_VERSION.into(),
        kernel_version: "6.1.0-mock".into(),
        kube_proxy_version: String::new(),
        kubelet_version: KUBELET_VERSION.into(),
        machine_id: id.clone(),
        operating_system: "linux".into(),
        os_image: "mock_k8 simulated node".into(),
        system_uuid: id,
        ..Default::default()
    }
}

/// FNV-1a, for stable per-node IDs (not security relevant).
fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The kubelet's node conditions at `now`: `MemoryPressure`, `DiskPressure`, `PIDPressure` False
/// and `Ready` True (Kubernetes' reasons and messages). `lastHeartbeatTime` is `now`; a condition
/// whose status equals the one in `previous` keeps its `lastTransitionTime`.
pub fn node_conditions(previous: &[NodeCondition], now: SystemTime) -> Vec<NodeCondition> {
    [
        (
            "MemoryPressure",
            "False",
            "KubeletHasSufficientMemory",
            "kubelet has sufficient memory available",
        ),
        (
            "DiskPressure",
            "False",
            "KubeletHasNoDiskPressure",
            "kubelet has no disk pressure",
        ),
        (
            "PIDPressure",
            "False",
            "KubeletHasSufficientPID",
            "kubelet has sufficient PID available",
        ),
        (
            "Ready",
            "True",
            "KubeletReady",
            "kubelet is posting ready status",
        ),
    ]
    .into_iter()
    .map(|(type_, status, reason, message)| {
        let since = previous
            .iter()
            .find(|c| c.type_ == type_ && c.status == status)
            .and_then(|c| c.last_transition_time.clone())
            .unwrap_or_else(|| time(now));
        NodeCondition {
            type_: type_.into(),
            status: status.into(),
            reason: Some(reason.into()),
            message: Some(message.into()),
            last_heartbeat_time: Some(time(now)),
            last_transition_time: Some(since),
        }
    })
    .collect()
}

/// The status of the node's `Ready` condition (`None` when it has none).
pub fn ready_status(node: &Node) -> Option<&str> {
    node.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Ready")
        .map(|c| c.status.as_str())
}
