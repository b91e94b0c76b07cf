//! Service defaults the API server owns (Kubernetes' Service REST strategy and IP allocator):
//! a cluster IP from the service range `10.96.0.0/12` for every Service that asks for one (not
//! `clusterIP: None`, not `type: ExternalName`), `spec.clusterIPs` mirroring it, and the defaults
//! `type: ClusterIP`, `ports[].protocol: TCP` and `ports[].targetPort` = `port`.

use super::ApiState;
use super::error::ApiError;
use serde_json::{Value, json};
use std::collections::HashSet;
use std::net::Ipv4Addr;

/// First address of the service range (`10.96.0.0`).
const RANGE_BASE: u32 = u32::from_be_bytes([10, 96, 0, 0]);
/// Size of the service range (`/12`).
const RANGE_SIZE: u32 = 1 << 20;
/// Random draws before giving up on a nearly full range.
const DRAWS: usize = 64;

/// The cluster IPs already allocated to stored Services.
pub fn taken_ips(state: &ApiState) -> HashSet<String> {
    let (services, _) = state.store.list("core/services/");
    services
        .iter()
        .filter_map(|s| serde_json::from_str::<Value>(&s.json).ok())
        .filter_map(|s| {
            s.get("spec")?
                .get("clusterIP")?
                .as_str()
                .map(str::to_string)
        })
        .collect()
}

/// Applies the Service defaults to `svc` and allocates its cluster IP, avoiding `taken`.
///
/// # Errors
/// 500 when the random source fails; 503 when no free address was found.
pub fn prepare(svc: &mut Value, taken: &HashSet<String>) -> Result<(), ApiError> {
    let Some(spec) = svc.get_mut("spec").and_then(Value::as_object_mut) else {
        return Ok(());
    };
    let kind = spec
        .entry("type")
        .or_insert_with(|| json!("ClusterIP"))
        .as_str()
        .unwrap_or("")
        .to_string();
    for port in spec
        .get_mut("ports")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
    {
        let Some(p) = port.as_object_mut() else {
            continue;
        };
        p.entry("protocol").or_insert_with(|| json!("TCP"));
        if let Some(n) = p.get("port").cloned() {
            p.entry("targetPort").or_insert(n);
        }
    }
    if kind == "ExternalName" {
        return Ok(());
    }
    let current = spec
        .get("clusterIP")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let ip = if current.is_empty() {
        draw(taken)?
    } else {
        current
    };
    spec.insert("clusterIP".into(), json!(ip));
    spec.entry("clusterIPs").or_insert_with(|| json!([ip]));
    Ok(())
}

/// A free address of the range, drawn at random (never the network address or `10.96.0.1`,
/// which Kubernetes reserves for the `kubernetes` Service).
fn draw(taken: &HashSet<String>) -> Result<String, ApiError> {
    for _ in 0..DRAWS {
        let mut b = [0u8; 4];
        getrandom::fill(&mut b).map_err(|e| ApiError::internal("cluster IP", e))?;
        let offset = u32::from_be_bytes(b) % RANGE_SIZE;
        if offset < 2 || offset == RANGE_SIZE - 1 {
            continue;
        }
        let ip = Ipv4Addr::from(RANGE_BASE + offset).to_string();
        if !taken.contains(&ip) {
            return Ok(ip);
        }
    }
    Err(mock_k8_schemas::Status::new(
        503,
        "ServiceUnavailable",
        "no free cluster IP in 10.96.0.0/12",
    )
    .into())
}

/// On an update of a Service, keeps the allocated `clusterIP`/`clusterIPs` when the new object
/// leaves them empty (as kube-apiserver does for a PUT without them).
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prepare_should_allocate_a_free_ip_and_default_ports() {
        let mut svc = json!({"spec": {"ports": [{"port": 80}]}});
        prepare(&mut svc, &HashSet::new()).expect("ok");
        let ip: Ipv4Addr = svc["spec"]["clusterIP"]
            .as_str()
            .expect("ip")
            .parse()
            .expect("ipv4");
        assert_eq!(ip.octets()[0], 10);
        assert!((96..112).contains(&ip.octets()[1]));
        assert_eq!(svc["spec"]["clusterIPs"], json!([ip.to_string()]));
        assert_eq!(svc["spec"]["type"], "ClusterIP");
        assert_eq!(
            svc["spec"]["ports"][0],
            json!({"port": 80, "protocol": "TCP", "targetPort": 80})
        );
    }

    #[test]
    fn prepare_should_leave_headless_and_external_names_alone() {
        let mut headless = json!({"spec": {"clusterIP": "None"}});
        prepare(&mut headless, &HashSet::new()).expect("ok");
        assert_eq!(
            (
                headless["spec"]["clusterIP"].clone(),
                headless["spec"]["clusterIPs"].clone()
            ),
            (json!("None"), json!(["None"]))
        );
        let mut ext = json!({"spec": {"type": "ExternalName", "externalName": "x.example"}});
        prepare(&mut ext, &HashSet::new()).expect("ok");
        assert_eq!(ext["spec"].get("clusterIP"), None);
    }

    #[test]
    fn keep_allocated_should_restore_the_old_ip() {
        let old = json!({"spec": {"clusterIP": "10.96.0.9", "clusterIPs": ["10.96.0.9"]}});
        let mut new = json!({"spec": {"clusterIP": ""}});
        keep_allocated(&old, &mut new);
        assert_eq!(new["spec"]["clusterIPs"], json!(["10.96.0.9"]));
        assert_eq!(new["spec"]["clusterIP"], "10.96.0.9");
    }
}
