//! The pod sandbox: what holds a pod's network namespace, so that the pod's containers share one IP
//! and reach each other on `localhost` (Kubernetes' "pause" container, CRI `RunPodSandbox`).
//!
//! The node agent asks the runtime for a sandbox once a pod is admitted and has an IP, before it
//! creates any container of the pod, and removes it after the last container of the pod is removed.
//! The Docker runtime runs a real sandbox container on the node's bridge network (subnet = the
//! node's podCIDR) with the pod's IP; MockDocker only records it.

use std::net::Ipv4Addr;

/// How the sandbox is networked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SandboxNetwork {
    /// `hostNetwork: true`: the pod uses the node's network namespace.
    Host,
    /// The pod gets `ip` on the network of its node, whose subnet is `pod_cidr`.
    Pod {
        /// The node's `spec.podCIDR` (`10.244.0.0/24`): the subnet of the node's bridge network.
        pod_cidr: String,
        /// The pod's IP, allocated by the agent from `pod_cidr`.
        ip: Ipv4Addr,
    },
}

/// A port one of the pod's containers declares (`containers[].ports[]`). The sandbox owns the
/// network namespace, so ports are exposed (and `hostPort`s published) on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxPort {
    /// `containerPort`.
    pub container_port: u16,
    /// `hostPort`, published on the node when set.
    pub host_port: Option<u16>,
    /// `protocol`, lower case: `tcp`, `udp` or `sctp`.
    pub protocol: String,
}

/// Everything the runtime needs to run one pod's sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxConfig {
    /// `metadata.uid` of the pod: one sandbox per pod UID.
    pub pod_uid: String,
    /// `metadata.namespace` of the pod.
    pub pod_namespace: String,
    /// `metadata.name` of the pod (also the sandbox's hostname).
    pub pod_name: String,
    /// The node the pod runs on (its network is the node's).
    pub node_name: String,
    /// Host or pod network.
    pub network: SandboxNetwork,
    /// The ports of every container of the pod.
    pub ports: Vec<SandboxPort>,
}

/// A running sandbox, as [`ContainerRuntime::run_sandbox`](super::ContainerRuntime::run_sandbox)
/// reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxStatus {
    /// The runtime's ID of the sandbox.
    pub id: String,
    /// The pod's IP in the sandbox (`None` with the host network).
    pub ip: Option<Ipv4Addr>,
}
