//! Service, Endpoints and EndpointSlice validation (Kubernetes' `ValidateService`, `ValidateEndpoints`,
//! `ValidateEndpointSlice`) and their update rules.

use super::causes::{Causes, arr, get, int, s};
use super::container::{validate_int_or_port_name, validate_protocol};
use super::meta::validate_labels;
use super::names;
use serde_json::Value;
use std::collections::HashSet;
use std::net::IpAddr;

/// Service types (Kubernetes' `supportedServiceType`).
const SERVICE_TYPES: &[&str] = &["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"];
/// The default NodePort range (`--service-node-port-range`).
pub(crate) const NODE_PORT_RANGE: std::ops::RangeInclusive<i64> = 30000..=32767;

/// Validates the name, number and protocol of a Service or Endpoints port at path `p`: the name is
/// required when the list has `several` ports, must be a DNS label and unique among `port_names`
/// (valid names seen so far, to which it is added); the number must be a valid port; the protocol
/// (default TCP) must be supported.
fn validate_port<'a>(
    c: &mut Causes,
    p: &str,
    port: &'a Value,
    several: bool,
    port_names: &mut HashSet<&'a str>,
) {
    let name = s(port, "name");
    if name.is_empty() {
        if several {
            c.required(&format!("{p}.name"), "");
        }
    } else {
        let errs = names::dns1123_label(name);
        if !errs.is_empty() {
            c.invalid_each(&format!("{p}.name"), name, errs);
        } else if !port_names.insert(name) {
            c.duplicate(&format!("{p}.name"), name);
        }
    }
    let number = int(port, "port").unwrap_or(0);
    for e in names::port_num(number) {
        c.invalid(&format!("{p}.port"), number, &e);
    }
    validate_protocol(
        c,
        port.get("protocol")
            .and_then(Value::as_str)
            .unwrap_or("TCP"),
        &format!("{p}.protocol"),
    );
}

/// Validates a Service: type, ports (numbers, protocols, names, target ports, node ports), clusterIP,
/// selector and session affinity.
pub(crate) fn validate_service(c: &mut Causes, obj: &Value) {
    let spec = get(obj, "spec");
    let ty = spec
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("ClusterIP");
    if !SERVICE_TYPES.contains(&ty) {
        c.not_supported("spec.type", ty, SERVICE_TYPES);
    }
    let ports = arr(spec, "ports");
    if ty == "ExternalName" {
        let ext = s(spec, "externalName");
        if ext.is_empty() {
            c.required("spec.externalName", "");
        } else {
            c.invalid_each(
                "spec.externalName",
                ext,
                names::dns1123_subdomain(ext.trim_end_matches('.')),
            );
        }
    } else if ports.is_empty() {
        c.required("spec.ports", "");
    }
    let mut port_names = HashSet::new();
    for (i, port) in ports.iter().enumerate() {
        let p = format!("spec.ports[{i}]");
        validate_port(c, &p, port, ports.len() > 1, &mut port_names);
        if let Some(tp) = port.get("targetPort") {
            validate_int_or_port_name(c, tp, &format!("{p}.targetPort"));
        }
        let node_port = int(port, "nodePort").unwrap_or(0);
        if node_port != 0 {
            if ty == "ClusterIP" || ty == "ExternalName" {
                c.forbidden(
                    &format!("{p}.nodePort"),
                    &format!("may not be used when `type` is '{ty}'"),
                );
            } else if !NODE_PORT_RANGE.contains(&node_port) {
                c.invalid(
                    &format!("{p}.nodePort"),
                    node_port,
                    "provided port is not in the valid range. The range of valid ports is 30000-32767",
                );
            }
        }
    }
    let cluster_ip = s(spec, "clusterIP");
    if cluster_ip == "None" {
        if ty == "NodePort" || ty == "LoadBalancer" {
            c.invalid(
                "spec.clusterIP",
                cluster_ip,
                &format!("may not be set to 'None' for {ty} services"),
            );
        }
    } else if !cluster_ip.is_empty() {
        c.invalid_each("spec.clusterIP", cluster_ip, names::ip(cluster_ip));
    }
    validate_labels(c, get(spec, "selector"), "spec.selector");
    if let Some(aff) = spec.get("sessionAffinity").and_then(Value::as_str)
        && !["ClientIP", "None"].contains(&aff)
    {
        c.not_supported("spec.sessionAffinity", aff, &["ClientIP", "None"]);
    }
}

/// A Service's `spec.clusterIP` may not change once set, except when the type moves to or from ExternalName.
pub(crate) fn validate_service_update(c: &mut Causes, old: &Value, new: &Value) {
    let (os, ns) = (get(old, "spec"), get(new, "spec"));
    let external = |spec: &Value| s(spec, "type") == "ExternalName";
    let (oip, nip) = (s(os, "clusterIP"), s(ns, "clusterIP"));
    if !oip.is_empty() && oip != nip && !external(os) && !external(ns) {
        c.invalid("spec.clusterIP", nip, "field is immutable");
    }
}

/// Kubernetes' `validateEndpointIP`: a valid IP that is not loopback, link-local or link-local multicast.
fn endpoint_ip_errors(ip: &str) -> Vec<String> {
    let Some(addr) = names::parse_ip(ip) else {
        return names::ip(ip);
    };
    let mut errs = Vec::new();
    match addr {
        IpAddr::V4(v4) => {
            if v4.is_unspecified() {
                errs.push("may not be unspecified (0.0.0.0)".to_string());
            }
            if v4.is_loopback() {
                errs.push("may not be in the loopback range (127.0.0.0/8, ::1/128)".to_string());
            }
            if v4.is_link_local() {
                errs.push(
                    "may not be in the link-local range (169.254.0.0/16, fe80::/10)".to_string(),
                );
            }
            if v4.octets()[..3] == [224, 0, 0] {
                errs.push(
                    "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)"
                        .to_string(),
                );
            }
        }
        IpAddr::V6(v6) => {
            if v6.is_unspecified() {
                errs.push("may not be unspecified (::)".to_string());
            }
            if v6.is_loopback() {
                errs.push("may not be in the loopback range (127.0.0.0/8, ::1/128)".to_string());
            }
            if v6.segments()[0] & 0xffc0 == 0xfe80 {
                errs.push(
                    "may not be in the link-local range (169.254.0.0/16, fe80::/10)".to_string(),
                );
            }
            if v6.segments()[0] == 0xff02 {
                errs.push(
                    "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)"
                        .to_string(),
                );
            }
        }
    }
    errs
}

/// Validates Endpoints: each subset's addresses (IP required and usable, nodeName syntax) and ports
/// (number, protocol, names required when several and unique).
pub(crate) fn validate_endpoints(c: &mut Causes, obj: &Value) {
    for (i, subset) in arr(obj, "subsets").iter().enumerate() {
        let sp = format!("subsets[{i}]");
        for list in ["addresses", "notReadyAddresses"] {
            for (j, addr) in arr(subset, list).iter().enumerate() {
                let p = format!("{sp}.{list}[{j}]");
                let ip = s(addr, "ip");
                if ip.is_empty() {
                    c.required(&format!("{p}.ip"), "");
                } else {
                    c.invalid_each(&format!("{p}.ip"), ip, endpoint_ip_errors(ip));
                }
                let node = s(addr, "nodeName");
                if !node.is_empty() {
                    c.invalid_each(
                        &format!("{p}.nodeName"),
                        node,
                        names::dns1123_subdomain(node),
                    );
                }
                let host = s(addr, "hostname");
                if !host.is_empty() {
                    c.invalid_each(&format!("{p}.hostname"), host, names::dns1123_label(host));
                }
            }
        }
        let ports = arr(subset, "ports");
        let mut port_names = HashSet::new();
        for (k, port) in ports.iter().enumerate() {
            let p = format!("{sp}.ports[{k}]");
            validate_port(c, &p, port, ports.len() > 1, &mut port_names);
        }
    }
}

/// EndpointSlice address types (Kubernetes' `supportedAddressTypes`).
const ADDRESS_TYPES: &[&str] = &["FQDN", "IPv4", "IPv6"];
/// Kubernetes' `maxAddresses` per endpoint.
const MAX_ADDRESSES: usize = 100;

/// Validates an EndpointSlice: `addressType`, each endpoint's addresses (1..=100, matching the type) and
/// ports (optional names unique, numbers, protocols).
pub(crate) fn validate_endpoint_slice(c: &mut Causes, obj: &Value) {
    let ty = s(obj, "addressType");
    if ty.is_empty() {
        c.required("addressType", "");
    } else if !ADDRESS_TYPES.contains(&ty) {
        c.not_supported("addressType", ty, ADDRESS_TYPES);
    }
    for (i, ep) in arr(obj, "endpoints").iter().enumerate() {
        let p = format!("endpoints[{i}].addresses");
        let addrs = arr(ep, "addresses");
        if addrs.is_empty() {
            c.required(&p, "must contain at least 1 address");
        } else if addrs.len() > MAX_ADDRESSES {
            c.too_long(&p, MAX_ADDRESSES);
        }
        for (j, a) in addrs.iter().enumerate() {
            let a = a.as_str().unwrap_or("");
            let ap = format!("{p}[{j}]");
            match (ty, names::parse_ip(a)) {
                ("IPv4", Some(IpAddr::V4(_))) | ("IPv6", Some(IpAddr::V6(_))) => {}
                ("IPv4", _) => c.invalid(&ap, a, "must be a valid IPv4 address"),
                ("IPv6", _) => c.invalid(&ap, a, "must be a valid IPv6 address"),
                ("FQDN", _) => c.invalid_each(&ap, a, names::dns1123_subdomain(a)),
                _ => {}
            }
        }
        let node = s(ep, "nodeName");
        if !node.is_empty() {
            c.invalid_each(
                &format!("endpoints[{i}].nodeName"),
                node,
                names::dns1123_subdomain(node),
            );
        }
    }
    let mut port_names = HashSet::new();
    for (i, port) in arr(obj, "ports").iter().enumerate() {
        let p = format!("ports[{i}]");
        let name = s(port, "name");
        if !name.is_empty() {
            c.invalid_each(&format!("{p}.name"), name, names::dns1123_label(name));
        }
        if !port_names.insert(name) {
            c.duplicate(&format!("{p}.name"), name);
        }
        if let Some(n) = int(port, "port") {
            for e in names::port_num(n) {
                c.invalid(&format!("{p}.port"), n, &e);
            }
        }
        if let Some(proto) = port.get("protocol").and_then(Value::as_str) {
            validate_protocol(c, proto, &format!("{p}.protocol"));
        }
    }
}

/// An EndpointSlice's `addressType` is immutable.
pub(crate) fn validate_endpoint_slice_update(c: &mut Causes, old: &Value, new: &Value) {
    let (o, n) = (s(old, "addressType"), s(new, "addressType"));
    if o != n {
        c.invalid("addressType", n, "field is immutable");
    }
}
