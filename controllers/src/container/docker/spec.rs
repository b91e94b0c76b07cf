//! How a pod maps onto Docker objects (pure: no I/O), as Kubernetes' Docker integration (dockershim)
//! did it: one sandbox container per pod holding the network namespace, the pod's containers joining
//! it (`NetworkMode: container:<sandbox>`), one bridge network per node whose subnet is its podCIDR.
//!
//! # Names
//! - network: `mock-k8-<node>`;
//! - sandbox: `k8s_POD_<pod>_<namespace>_<uid>_0`;
//! - container: `k8s_<container>_<pod>_<namespace>_<uid>_<restartCount>`.
//!
//! # Labels (how a restarted agent finds its containers)
//! Every object carries [`LABEL_MANAGED`]`=true`, [`LABEL_ROLE`] (`sandbox` / `container`) and
//! [`LABEL_NODE`]; sandboxes and containers carry the pod's `io.kubernetes.pod.{uid,name,namespace}`,
//! containers also `io.kubernetes.container.{name,restartCount}` and [`LABEL_KIND`].

use std::collections::HashMap;
use std::net::Ipv4Addr;

use bollard::models::{
    ContainerCreateBody, EndpointIpamConfig, EndpointSettings, HostConfig, Ipam, IpamConfig,
    NetworkCreateRequest, NetworkingConfig, PortBinding,
};

use crate::container::{ContainerConfig, ContainerKind, SandboxConfig, SandboxNetwork};

/// The smallest `limits.cpu` Docker is given (10m: a 1 ms CFS quota per 100 ms period, the
/// kernel's minimum, as in the kubelet's `MilliCPUToQuota`).
const MIN_CPU_LIMIT_MILLIS: u64 = 10;

/// Marks every Docker object mock_k8 created (`true`).
pub const LABEL_MANAGED: &str = "mock-k8.io/managed";
/// `sandbox` or `container`.
pub const LABEL_ROLE: &str = "mock-k8.io/role";
/// The node whose agent owns the object.
pub const LABEL_NODE: &str = "mock-k8.io/node";
/// `init` or `app`.
pub const LABEL_KIND: &str = "mock-k8.io/container-kind";
/// The pod's UID.
pub const LABEL_POD_UID: &str = "io.kubernetes.pod.uid";
/// The pod's name.
pub const LABEL_POD_NAME: &str = "io.kubernetes.pod.name";
/// The pod's namespace.
pub const LABEL_POD_NAMESPACE: &str = "io.kubernetes.pod.namespace";
/// The container's name in the pod spec.
pub const LABEL_CONTAINER_NAME: &str = "io.kubernetes.container.name";
/// The restart count the container instance was created with.
pub const LABEL_RESTART_COUNT: &str = "io.kubernetes.container.restartCount";

/// [`LABEL_ROLE`] of sandboxes.
pub const ROLE_SANDBOX: &str = "sandbox";
/// [`LABEL_ROLE`] of the pods' containers.
pub const ROLE_CONTAINER: &str = "container";

/// The Docker network of node `node`.
pub fn network_name(node: &str) -> String {
    format!("mock-k8-{node}")
}

/// The sandbox container's name.
pub fn sandbox_name(c: &SandboxConfig) -> String {
    format!("k8s_POD_{}_{}_{}_0", c.pod_name, c.pod_namespace, c.pod_uid)
}

/// The container's name (unique per instance: the restart count is part of it).
pub fn container_name(c: &ContainerConfig) -> String {
    format!(
        "k8s_{}_{}_{}_{}_{}",
        c.container_name, c.pod_name, c.pod_namespace, c.pod_uid, c.restart_count
    )
}

/// The create request of the node network: a bridge over `pod_cidr` whose gateway is the first host
/// address (the pod IP allocator never hands it out).
///
/// # Errors
/// A message when `pod_cidr` is not an IPv4 CIDR.
pub fn network_request(node: &str, pod_cidr: &str) -> Result<NetworkCreateRequest, String> {
    let net: ipnet::Ipv4Net = pod_cidr
        .parse()
        .map_err(|_| format!("invalid podCIDR {pod_cidr:?}"))?;
    let net = net.trunc();
    let gateway = Ipv4Addr::from(u32::from(net.network()) + 1);
    Ok(NetworkCreateRequest {
        name: network_name(node),
        driver: Some("bridge".into()),
        ipam: Some(Ipam {
            driver: Some("default".into()),
            config: Some(vec![IpamConfig {
                subnet: Some(net.to_string()),
                gateway: Some(gateway.to_string()),
                ..Default::default()
            }]),
            options: None,
        }),
        labels: Some(HashMap::from([
            (LABEL_MANAGED.to_string(), "true".to_string()),
            (LABEL_NODE.to_string(), node.to_string()),
        ])),
        ..Default::default()
    })
}

fn pod_labels(
    role: &str,
    node: &str,
    uid: &str,
    name: &str,
    namespace: &str,
) -> HashMap<String, String> {
    HashMap::from([
        (LABEL_MANAGED.to_string(), "true".to_string()),
        (LABEL_ROLE.to_string(), role.to_string()),
        (LABEL_NODE.to_string(), node.to_string()),
        (LABEL_POD_UID.to_string(), uid.to_string()),
        (LABEL_POD_NAME.to_string(), name.to_string()),
        (LABEL_POD_NAMESPACE.to_string(), namespace.to_string()),
    ])
}

/// The create request of a pod's sandbox: `image` running `pause`, on the node network with the
/// pod's IP (or the host network), exposing and publishing the pod's ports.
pub fn sandbox_body(c: &SandboxConfig, image: &str) -> ContainerCreateBody {
    let mut exposed = Vec::new();
    let mut bindings = HashMap::new();
    for p in &c.ports {
        let key = format!("{}/{}", p.container_port, p.protocol);
        exposed.push(key.clone());
        if let Some(host) = p.host_port {
            bindings.insert(
                key,
                Some(vec![PortBinding {
                    host_ip: None,
                    host_port: Some(host.to_string()),
                }]),
            );
        }
    }
    let (network_mode, networking, hostname) = match &c.network {
        SandboxNetwork::Host => ("host".to_string(), None, None),
        SandboxNetwork::Pod { ip, .. } => {
            let net = network_name(&c.node_name);
            let endpoint = EndpointSettings {
                ipam_config: Some(EndpointIpamConfig {
                    ipv4_address: Some(ip.to_string()),
                    ..Default::default()
                }),
                ..Default::default()
            };
            let networking = NetworkingConfig {
                endpoints_config: Some(HashMap::from([(net.clone(), endpoint)])),
            };
            (net, Some(networking), Some(c.pod_name.clone()))
        }
    };
    ContainerCreateBody {
        image: Some(image.to_string()),
        cmd: Some(vec!["pause".into()]),
        hostname,
        labels: Some(pod_labels(
            ROLE_SANDBOX,
            &c.node_name,
            &c.pod_uid,
            &c.pod_name,
            &c.pod_namespace,
        )),
        exposed_ports: (!exposed.is_empty()).then_some(exposed),
        host_config: Some(HostConfig {
            network_mode: Some(network_mode),
            // The pod's containers join the sandbox's IPC namespace too (as with dockershim).
            ipc_mode: Some("shareable".into()),
            port_bindings: (!bindings.is_empty()).then_some(bindings),
            ..Default::default()
        }),
        networking_config: networking,
        ..Default::default()
    }
}

/// The create request of one container of a pod on node `node`, joining sandbox `sandbox_id`.
/// Kubernetes' `command` replaces the image's entrypoint and `args` its command (an entrypoint
/// given without args also drops the image's command, as in Kubernetes).
pub fn container_body(c: &ContainerConfig, node: &str, sandbox_id: &str) -> ContainerCreateBody {
    let mut labels: HashMap<String, String> = c.labels.clone().into_iter().collect();
    labels.extend(pod_labels(
        ROLE_CONTAINER,
        node,
        &c.pod_uid,
        &c.pod_name,
        &c.pod_namespace,
    ));
    labels.insert(LABEL_CONTAINER_NAME.into(), c.container_name.clone());
    labels.insert(LABEL_RESTART_COUNT.into(), c.restart_count.to_string());
    let kind = match c.kind {
        ContainerKind::Init => "init",
        ContainerKind::App => "app",
    };
    labels.insert(LABEL_KIND.into(), kind.into());
    let r = &c.resources;
    let join = format!("container:{sandbox_id}");
    ContainerCreateBody {
        image: Some(c.image.clone()),
        entrypoint: (!c.command.is_empty()).then(|| c.command.clone()),
        cmd: (!c.args.is_empty()).then(|| c.args.clone()),
        env: Some(c.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
        working_dir: c.working_dir.clone().filter(|w| !w.is_empty()),
        labels: Some(labels),
        host_config: Some(HostConfig {
            network_mode: Some(join.clone()),
            ipc_mode: Some(join),
            // At least 10m, as the kubelet clamps the CFS quota: under 1 ms per 100 ms period the
            // kernel refuses the quota and the container cannot start.
            nano_cpus: r.cpu_limit_millis.and_then(|m| {
                i64::try_from(m.max(MIN_CPU_LIMIT_MILLIS).saturating_mul(1_000_000)).ok()
            }),
            cpu_shares: r.cpu_request_millis.map(|m| {
                i64::try_from(m.saturating_mul(1024) / 1000)
                    .unwrap_or(i64::MAX)
                    .max(2)
            }),
            memory: r
                .memory_limit_bytes
                .map(|b| i64::try_from(b).unwrap_or(i64::MAX)),
            ..Default::default()
        }),
        ..Default::default()
    }
}
