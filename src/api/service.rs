//! Service defaults and address allocation the API server owns (Kubernetes' Service REST strategy
//! and its IP and port allocators, <https://kubernetes.io/docs/concepts/services-networking/cluster-ip-allocation/>):
//!
//! - defaults `type: ClusterIP`, `ports[].protocol: TCP`, `ports[].targetPort` = `port`;
//! - a cluster IP for every Service that asks for one (not `clusterIP: None`, not `ExternalName`),
//!   `spec.clusterIPs` mirroring it; a requested `spec.clusterIP` is honoured when free;
//! - a node port for each port of a `NodePort` or `LoadBalancer` Service; a requested `nodePort` is
//!   honoured when free.
//!
//! The allocators ([`mock_k8_controllers::ipalloc`]) hand out the lowest free value, so the same
//! history gives the same addresses. They live behind one mutex in [`ServiceAllocators`], are built
//! from the stored Services on first use (as Kubernetes' repair controller rebuilds them), and every
//! caller releases what it allocated when its store write fails.

use super::error::ApiError;
use crate::store::Store;
use mock_k8_controllers::ipalloc::{AllocError, ClusterIpAllocator, NodePortAllocator};
use mock_k8_schemas::{Status, StatusCause, meta};
use serde_json::{Value, json};
use std::net::Ipv4Addr;
use std::sync::Mutex;

/// The store prefix of Services.
const SERVICES_PREFIX: &str = "core/services/";

/// What one create or update allocated: released again when its write fails or it is a dry run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Allocation {
    /// Cluster IPs taken.
    pub ips: Vec<Ipv4Addr>,
    /// Node ports taken.
    pub ports: Vec<i32>,
}

impl Allocation {
    /// `true` when nothing was allocated.
    pub fn is_empty(&self) -> bool {
        self.ips.is_empty() && self.ports.is_empty()
    }
}

/// The cluster IP and node port allocators of the API server, behind one mutex.
#[derive(Debug)]
pub struct ServiceAllocators {
    cidr: String,
    port_range: String,
    inner: Mutex<Option<Allocators>>,
}

#[derive(Debug)]
struct Allocators {
    ips: ClusterIpAllocator,
    ports: NodePortAllocator,
}

impl ServiceAllocators {
    /// Allocators over the service CIDR `cidr` (`10.96.0.0/12`) and node port range `port_range`
    /// (`30000-32767`). Both are checked on first use ([`ServiceAllocators::check`] checks earlier).
    pub fn new(cidr: &str, port_range: &str) -> ServiceAllocators {
        ServiceAllocators {
            cidr: cidr.to_string(),
            port_range: port_range.to_string(),
            inner: Mutex::new(None),
        }
    }

    /// Parses the configured CIDR and port range.
    ///
    /// # Errors
    /// The allocator's error for an invalid CIDR or port range.
    pub fn check(cidr: &str, port_range: &str) -> Result<(), AllocError> {
        ClusterIpAllocator::new(cidr)?;
        NodePortAllocator::new(port_range)?;
        Ok(())
    }

    /// Runs `f` on the allocators, building them from `store`'s Services first when needed.
    fn with<T>(
        &self,
        store: &Store,
        f: impl FnOnce(&mut Allocators) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        let mut guard = self
            .inner
            .lock()
            .map_err(|_| ApiError::internal("service allocators", "poisoned lock"))?;
        if guard.is_none() {
            *guard = Some(self.build(store)?);
        }
        match guard.as_mut() {
            Some(a) => f(a),
            None => Err(ApiError::internal("service allocators", "not built")),
        }
    }

    /// New allocators holding the addresses and ports of every stored Service.
    fn build(&self, store: &Store) -> Result<Allocators, ApiError> {
        let config = |e: AllocError| ApiError::internal("service allocation config", e);
        let mut ips = ClusterIpAllocator::new(&self.cidr).map_err(config)?;
        let mut ports = NodePortAllocator::new(&self.port_range).map_err(config)?;
        let (services, _) = store.list(SERVICES_PREFIX);
        let parsed: Vec<Value> = services
            .iter()
            .filter_map(|s| serde_json::from_str(&s.json).ok())
            .collect();
        let bad_ips = ips.rebuild(parsed.iter().flat_map(cluster_ips));
        let bad_ports = ports.rebuild(parsed.iter().flat_map(node_ports));
        if !bad_ips.is_empty() || !bad_ports.is_empty() {
            tracing::warn!(
                ?bad_ips,
                ?bad_ports,
                "stored Services share or exceed the service ranges"
            );
        }
        Ok(Allocators { ips, ports })
    }

    /// Applies the Service defaults to `svc` and allocates its cluster IP and node ports.
    ///
    /// # Errors
    /// 422 Invalid (`spec.clusterIP` / `spec.ports[i].nodePort`) when a requested value is taken or
    /// out of range; 503 when a range is full; 500 for a bad allocator configuration.
    pub fn allocate(&self, store: &Store, svc: &mut Value) -> Result<Allocation, ApiError> {
        defaults(svc);
        let name = meta::name(svc).to_string();
        self.with(store, |a| {
            let mut got = Allocation::default();
            let result = allocate_into(a, svc, &name, None, &mut got);
            if result.is_err() {
                release_into(a, &got);
            }
            result.map(|()| got)
        })
    }

    /// On an update of a Service from `old` to `new`: keeps the allocated cluster IP when `new`
    /// leaves it empty, applies the defaults, keeps node ports of ports that still exist, and
    /// allocates what `new` now needs. Returns the new allocation and what to release once the
    /// update is stored (the old values `new` no longer uses).
    ///
    /// # Errors
    /// As [`ServiceAllocators::allocate`].
    pub fn reallocate(
        &self,
        store: &Store,
        old: &Value,
        new: &mut Value,
    ) -> Result<(Allocation, Allocation), ApiError> {
        keep_allocated(old, new);
        defaults(new);
        let name = meta::name(new).to_string();
        self.with(store, |a| {
            let mut got = Allocation::default();
            if let Err(e) = allocate_into(a, new, &name, Some(old), &mut got) {
                release_into(a, &got);
                return Err(e);
            }
            let (new_ips, new_ports) = (cluster_ips(new), node_ports(new));
            let stale = Allocation {
                ips: cluster_ips(old)
                    .into_iter()
                    .filter(|ip| !new_ips.contains(ip))
                    .collect(),
                ports: node_ports(old)
                    .into_iter()
                    .filter(|p| !new_ports.contains(p))
                    .collect(),
            };
            Ok((got, stale))
        })
    }

    /// Frees an allocation (a failed or dry-run write, or what an update stopped using).
    pub fn release(&self, store: &Store, allocation: &Allocation) {
        if allocation.is_empty() {
            return;
        }
        let _ = self.with(store, |a| {
            release_into(a, allocation);
            Ok(())
        });
    }

    /// Frees the cluster IPs and node ports of a deleted Service.
    pub fn release_service(&self, store: &Store, svc: &Value) {
        let allocation = Allocation {
            ips: cluster_ips(svc),
            ports: node_ports(svc),
        };
        self.release(store, &allocation);
    }
}

/// Allocates what `svc` needs into `got`. On an update, values `old` holds are kept, not taken again.
fn allocate_into(
    a: &mut Allocators,
    svc: &mut Value,
    name: &str,
    old: Option<&Value>,
    got: &mut Allocation,
) -> Result<(), ApiError> {
    let Some(spec) = svc.get_mut("spec").and_then(Value::as_object_mut) else {
        return Ok(());
    };
    let kind = spec
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("ClusterIP")
        .to_string();
    if kind == "ExternalName" {
        return Ok(());
    }
    let old_ips = old.map(cluster_ips).unwrap_or_default();
    let requested = spec
        .get("clusterIP")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let ip = if requested.is_empty() {
        let ip = a
            .ips
            .allocate()
            .map_err(|e| full(name, "spec.clusterIP", &e))?;
        got.ips.push(ip);
        ip.to_string()
    } else {
        match requested.parse::<Ipv4Addr>() {
            Ok(ip) if !old_ips.contains(&ip) => {
                a.ips
                    .allocate_specific(ip)
                    .map_err(|e| invalid(name, "spec.clusterIP", requested.as_str(), &e))?;
                got.ips.push(ip);
            }
            // Kept from the old object, `None`, or not an IPv4 address (validation decides).
            _ => {}
        }
        requested
    };
    spec.insert("clusterIP".into(), json!(ip));
    spec.entry("clusterIPs").or_insert_with(|| json!([ip]));
    if kind != "NodePort" && kind != "LoadBalancer" {
        return Ok(());
    }
    let old_ports = old.map(node_ports).unwrap_or_default();
    let ports = spec.get_mut("ports").and_then(Value::as_array_mut);
    for (i, port) in ports.into_iter().flatten().enumerate() {
        let Some(p) = port.as_object_mut() else {
            continue;
        };
        let field = format!("spec.ports[{i}].nodePort");
        match p.get("nodePort").and_then(Value::as_i64) {
            Some(n) if n != 0 => {
                let n = i32::try_from(n).unwrap_or(-1);
                if !old_ports.contains(&n) {
                    a.ports
                        .allocate_specific(n)
                        .map_err(|e| invalid(name, &field, n, &e))?;
                    got.ports.push(n);
                }
            }
            _ => {
                let n = a.ports.allocate().map_err(|e| full(name, &field, &e))?;
                got.ports.push(n);
                p.insert("nodePort".into(), json!(n));
            }
        }
    }
    Ok(())
}

fn release_into(a: &mut Allocators, allocation: &Allocation) {
    for ip in &allocation.ips {
        a.ips.release(*ip);
    }
    for port in &allocation.ports {
        a.ports.release(*port);
    }
}

/// 422 Invalid for a requested value the allocator refused.
fn invalid(name: &str, field: &str, value: impl Into<Value>, e: &AllocError) -> ApiError {
    let shown = match value.into() {
        Value::String(s) => format!("{s:?}"),
        other => other.to_string(),
    };
    let cause = StatusCause {
        reason: "FieldValueInvalid".into(),
        message: format!("Invalid value: {shown}: {e}"),
        field: field.into(),
    };
    Status::invalid("", "Service", name, vec![cause]).into()
}

/// 503 for a full range (or 500 for anything else the allocator says).
fn full(name: &str, field: &str, e: &AllocError) -> ApiError {
    if *e == AllocError::Full {
        return Status::new(
            503,
            "ServiceUnavailable",
            format!("Service \"{name}\": {field}: no free value in the range: {e}"),
        )
        .into();
    }
    ApiError::internal("service allocation", e)
}

/// The defaults: `type: ClusterIP`, `ports[].protocol: TCP`, `ports[].targetPort` = `port`.
pub fn defaults(svc: &mut Value) {
    let Some(spec) = svc.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    spec.entry("type").or_insert_with(|| json!("ClusterIP"));
    for port in spec
        .get_mut("ports")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object_mut)
    {
        port.entry("protocol").or_insert_with(|| json!("TCP"));
        if let Some(n) = port.get("port").cloned() {
            port.entry("targetPort").or_insert(n);
        }
    }
}

/// The IPv4 cluster IPs a Service holds (`clusterIP` and `clusterIPs`, without `None`).
pub fn cluster_ips(svc: &Value) -> Vec<Ipv4Addr> {
    let spec = svc.get("spec");
    let mut out: Vec<Ipv4Addr> = Vec::new();
    let single = spec.and_then(|s| s.get("clusterIP")).into_iter();
    let many = spec
        .and_then(|s| s.get("clusterIPs"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten();
    for ip in single.chain(many).filter_map(Value::as_str) {
        if let Ok(ip) = ip.parse::<Ipv4Addr>()
            && !out.contains(&ip)
        {
            out.push(ip);
        }
    }
    out
}

/// The node ports a Service holds (`spec.ports[].nodePort`, non-zero).
pub fn node_ports(svc: &Value) -> Vec<i32> {
    svc.get("spec")
        .and_then(|s| s.get("ports"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|p| p.get("nodePort").and_then(Value::as_i64))
        .filter_map(|n| i32::try_from(n).ok())
        .filter(|n| *n != 0)
        .collect()
}

/// On an update of a Service, keeps the allocated `clusterIP`/`clusterIPs` when the new object
/// leaves them empty (as kube-apiserver does for a PUT without them), and the node port of each
/// port (matched by `port` and `protocol`) that sets none while the type still uses node ports.
pub fn keep_allocated(old: &Value, new: &mut Value) {
    let Some(old_spec) = old.get("spec") else {
        return;
    };
    let Some(spec) = new.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    for field in ["clusterIP", "clusterIPs"] {
        let empty = match spec.get(field) {
            None | Some(Value::Null) => true,
            Some(Value::String(s)) => s.is_empty(),
            Some(Value::Array(a)) => a.is_empty(),
            Some(_) => false,
        };
        if let (true, Some(v)) = (empty, old_spec.get(field)) {
            spec.insert(field.into(), v.clone());
        }
    }
    let node_type =
        |t: Option<&Value>| matches!(t.and_then(Value::as_str), Some("NodePort" | "LoadBalancer"));
    if !node_type(spec.get("type")) {
        return;
    }
    let old_ports = old_spec.get("ports").and_then(Value::as_array);
    for p in spec
        .get_mut("ports")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object_mut)
    {
        if p.get("nodePort")
            .and_then(Value::as_i64)
            .is_some_and(|n| n != 0)
        {
            continue;
        }
        let same = |o: &&Value| {
            o.get("port") == p.get("port")
                && o.get("protocol").and_then(Value::as_str).unwrap_or("TCP")
                    == p.get("protocol").and_then(Value::as_str).unwrap_or("TCP")
        };
        if let Some(n) = old_ports
            .and_then(|ports| ports.iter().find(same))
            .and_then(|o| o.get("nodePort"))
        {
            p.insert("nodePort".into(), n.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_should_fill_type_protocol_and_target_port() {
        let mut svc = json!({"spec": {"ports": [{"port": 80}]}});
        defaults(&mut svc);
        assert_eq!(svc["spec"]["type"], "ClusterIP");
        assert_eq!(
            svc["spec"]["ports"][0],
            json!({"port": 80, "protocol": "TCP", "targetPort": 80})
        );
    }

    #[test]
    fn keep_allocated_should_restore_the_old_ip_and_node_ports() {
        let old = json!({"spec": {"type": "NodePort", "clusterIP": "10.96.0.9", "clusterIPs": ["10.96.0.9"], "ports": [{"port": 80, "nodePort": 30001}]}});
        let mut new =
            json!({"spec": {"type": "NodePort", "clusterIP": "", "ports": [{"port": 80}]}});
        keep_allocated(&old, &mut new);
        assert_eq!(new["spec"]["clusterIPs"], json!(["10.96.0.9"]));
        assert_eq!(new["spec"]["clusterIP"], "10.96.0.9");
        assert_eq!(new["spec"]["ports"][0]["nodePort"], 30001);
    }

    #[test]
    fn cluster_ips_should_skip_none_and_duplicates() {
        let svc = json!({"spec": {"clusterIP": "10.96.0.2", "clusterIPs": ["10.96.0.2"]}});
        assert_eq!(cluster_ips(&svc), vec![Ipv4Addr::new(10, 96, 0, 2)]);
        assert!(cluster_ips(&json!({"spec": {"clusterIP": "None"}})).is_empty());
    }
}
