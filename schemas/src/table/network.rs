//! Service, Endpoints and EndpointSlice printers (kube-apiserver's `printService`, `printEndpoints`,
//! `printEndpointSlice`).

use super::{AGE, Column, NAME, col, creation_age, format_labels, int, items, or, text, wide};
use serde_json::Value;

/// Service columns.
pub(super) const SERVICE_COLUMNS: &[Column] = &[
    NAME,
    col(
        "Type",
        "string",
        "The type of the service (ClusterIP, NodePort, LoadBalancer, ExternalName).",
    ),
    col(
        "Cluster-IP",
        "string",
        "The IP address of the service, allocated by the master.",
    ),
    col("External-IP", "string", "The external IPs of the service."),
    col("Port(s)", "string", "The ports exposed by this service."),
    AGE,
    wide(
        "Selector",
        "string",
        "Route service traffic to pods with label keys and values matching this selector.",
    ),
];

/// Endpoints columns.
pub(super) const ENDPOINTS_COLUMNS: &[Column] = &[
    NAME,
    col(
        "Endpoints",
        "string",
        "Endpoints of the service (address:port).",
    ),
    AGE,
];

/// EndpointSlice columns.
pub(super) const ENDPOINT_SLICE_COLUMNS: &[Column] = &[
    NAME,
    col(
        "AddressType",
        "string",
        "The type of address carried by this EndpointSlice.",
    ),
    col("Ports", "string", "The ports of this EndpointSlice."),
    col(
        "Endpoints",
        "string",
        "The addresses of the endpoints of this EndpointSlice.",
    ),
    AGE,
];

/// How many addresses list printers show before `+ N more...`.
const MAX_SHOWN: usize = 3;

/// `list` comma-joined, then `" + N more..."` when `total` exceeds what is shown (`listWithMoreString`).
fn with_more(list: &[String], total: usize) -> String {
    let shown = list.join(",");
    if total > list.len() {
        format!("{shown} + {} more...", total - list.len())
    } else {
        shown
    }
}

/// The cells of one Service row.
pub(super) fn service_cells(svc: &Value, now: i64) -> Vec<Value> {
    let svc_type = or(text(svc, "/spec/type"), "ClusterIP");
    let cluster_ip = items(svc, "/spec/clusterIPs")
        .first()
        .and_then(Value::as_str)
        .unwrap_or("");
    let cluster_ip = or(or(cluster_ip, text(svc, "/spec/clusterIP")), "<none>");
    let external_ips: Vec<&str> = items(svc, "/spec/externalIPs")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let external = match svc_type {
        "ClusterIP" | "NodePort" if !external_ips.is_empty() => external_ips.join(","),
        "ClusterIP" | "NodePort" => "<none>".to_string(),
        "LoadBalancer" => {
            let mut all: Vec<&str> = items(svc, "/status/loadBalancer/ingress")
                .iter()
                .map(|i| or(text(i, "/ip"), text(i, "/hostname")))
                .filter(|s| !s.is_empty())
                .collect();
            all.extend(external_ips);
            if all.is_empty() {
                "<pending>".to_string()
            } else {
                all.join(",")
            }
        }
        "ExternalName" => text(svc, "/spec/externalName").to_string(),
        _ => "<unknown>".to_string(),
    };
    let ports: Vec<String> = items(svc, "/spec/ports")
        .iter()
        .map(|p| {
            let protocol = or(text(p, "/protocol"), "TCP");
            let port = int(p, "/port");
            match int(p, "/nodePort") {
                n if n > 0 => format!("{port}:{n}/{protocol}"),
                _ => format!("{port}/{protocol}"),
            }
        })
        .collect();
    vec![
        text(svc, "/metadata/name").into(),
        svc_type.into(),
        cluster_ip.into(),
        external.into(),
        if ports.is_empty() {
            "<none>".into()
        } else {
            ports.join(",").into()
        },
        creation_age(svc, now).into(),
        format_labels(svc.pointer("/spec/selector")).into(),
    ]
}

/// `ip:port`, bracketing IPv6 addresses (`net.JoinHostPort`).
fn host_port(ip: &str, port: i64) -> String {
    if ip.contains(':') {
        format!("[{ip}]:{port}")
    } else {
        format!("{ip}:{port}")
    }
}

/// The cells of one Endpoints row: up to three `ip:port` pairs, then `+ N more...` (`formatEndpoints`).
pub(super) fn endpoints_cells(ep: &Value, now: i64) -> Vec<Value> {
    let subsets = items(ep, "/subsets");
    let mut shown: Vec<String> = Vec::new();
    let mut total = 0usize;
    for subset in subsets {
        let addresses: Vec<&str> = items(subset, "/addresses")
            .iter()
            .map(|a| text(a, "/ip"))
            .collect();
        let ports = items(subset, "/ports");
        if ports.is_empty() {
            total += addresses.len();
            shown.extend(
                addresses
                    .iter()
                    .take(MAX_SHOWN.saturating_sub(shown.len()))
                    .map(|a| a.to_string()),
            );
            continue;
        }
        for port in ports {
            total += addresses.len();
            let p = int(port, "/port");
            let room = MAX_SHOWN.saturating_sub(shown.len());
            shown.extend(addresses.iter().take(room).map(|a| host_port(a, p)));
        }
    }
    let cell = if subsets.is_empty() {
        "<none>".to_string()
    } else {
        with_more(&shown, total)
    };
    vec![
        text(ep, "/metadata/name").into(),
        cell.into(),
        creation_age(ep, now).into(),
    ]
}

/// The cells of one EndpointSlice row (`formatDiscoveryPorts`, `formatDiscoveryEndpoints`).
pub(super) fn endpoint_slice_cells(slice: &Value, now: i64) -> Vec<Value> {
    let ports: Vec<String> = items(slice, "/ports")
        .iter()
        .map(|p| match p.get("port").and_then(Value::as_i64) {
            Some(n) => n.to_string(),
            None => or(text(p, "/name"), "*").to_string(),
        })
        .collect();
    let addresses: Vec<String> = items(slice, "/endpoints")
        .iter()
        .flat_map(|e| {
            items(e, "/addresses")
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
        })
        .collect();
    let summary = |list: &[String]| {
        let s = with_more(&list[..list.len().min(MAX_SHOWN)], list.len());
        if s.is_empty() {
            "<unset>".to_string()
        } else {
            s
        }
    };
    vec![
        text(slice, "/metadata/name").into(),
        text(slice, "/addressType").into(),
        summary(&ports).into(),
        summary(&addresses).into(),
        creation_age(slice, now).into(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::age::parse_unix_seconds;
    use serde_json::json;

    fn now() -> i64 {
        parse_unix_seconds("2026-11-29T10:00:00Z").expect("valid")
    }

    #[test]
    fn service_cells_should_print_types_ports_and_selectors() {
        let created = "2026-11-29T09:59:30Z";
        let cases: Vec<(Value, Vec<Value>)> = vec![
            (
                json!({"metadata": {"name": "web", "creationTimestamp": created},
                       "spec": {"type": "NodePort", "clusterIP": "10.96.0.10", "selector": {"tier": "a", "app": "web"},
                                "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}]}}),
                vec![
                    json!("web"),
                    json!("NodePort"),
                    json!("10.96.0.10"),
                    json!("<none>"),
                    json!("80:30080/TCP,53/UDP"),
                    json!("30s"),
                    json!("app=web,tier=a"),
                ],
            ),
            (
                json!({"metadata": {"name": "db"}, "spec": {"clusterIPs": ["None"], "ports": [{"port": 5432}]}}),
                vec![
                    json!("db"),
                    json!("ClusterIP"),
                    json!("None"),
                    json!("<none>"),
                    json!("5432/TCP"),
                    json!("<unknown>"),
                    json!("<none>"),
                ],
            ),
            (
                json!({"metadata": {"name": "lb"}, "spec": {"type": "LoadBalancer", "clusterIP": "10.96.0.11"}}),
                vec![
                    json!("lb"),
                    json!("LoadBalancer"),
                    json!("10.96.0.11"),
                    json!("<pending>"),
                    json!("<none>"),
                    json!("<unknown>"),
                    json!("<none>"),
                ],
            ),
        ];
        for (svc, want) in cases {
            assert_eq!(service_cells(&svc, now()), want);
        }
    }

    #[test]
    fn endpoints_cells_should_show_three_then_more() {
        let addresses: Vec<Value> = (1..=5)
            .map(|i| json!({"ip": format!("10.0.0.{i}")}))
            .collect();
        let ep = json!({"metadata": {"name": "web", "creationTimestamp": "2026-11-29T09:58:00Z"},
                        "subsets": [{"addresses": addresses, "ports": [{"port": 80}]}]});
        assert_eq!(
            endpoints_cells(&ep, now()),
            vec![
                json!("web"),
                json!("10.0.0.1:80,10.0.0.2:80,10.0.0.3:80 + 2 more..."),
                json!("2m")
            ]
        );
        let two = json!({"metadata": {"name": "db"}, "subsets": [
            {"addresses": [{"ip": "10.0.0.1"}, {"ip": "fd00::2"}], "ports": [{"port": 5432}]}]});
        assert_eq!(
            endpoints_cells(&two, now())[1],
            "10.0.0.1:5432,[fd00::2]:5432"
        );
        let headless =
            json!({"metadata": {"name": "h"}, "subsets": [{"addresses": [{"ip": "10.0.0.7"}]}]});
        assert_eq!(endpoints_cells(&headless, now())[1], "10.0.0.7");
        assert_eq!(
            endpoints_cells(&json!({"metadata": {"name": "e"}}), now())[1],
            "<none>"
        );
    }

    #[test]
    fn endpoint_slice_cells_should_summarise_ports_and_addresses() {
        let slice = json!({"metadata": {"name": "web-abc"}, "addressType": "IPv4",
            "ports": [{"name": "http", "port": 80}, {"name": "named"}],
            "endpoints": [{"addresses": ["10.0.0.1"]}, {"addresses": ["10.0.0.2", "10.0.0.3"]}, {"addresses": ["10.0.0.4"]}]});
        assert_eq!(
            endpoint_slice_cells(&slice, now()),
            vec![
                json!("web-abc"),
                json!("IPv4"),
                json!("80,named"),
                json!("10.0.0.1,10.0.0.2,10.0.0.3 + 1 more..."),
                json!("<unknown>")
            ]
        );
        let empty = json!({"metadata": {"name": "e"}, "addressType": "IPv4"});
        assert_eq!(endpoint_slice_cells(&empty, now())[3], "<unset>");
    }
}
