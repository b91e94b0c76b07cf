//! Node, Namespace, Event and Lease printers (kube-apiserver's `printNode`, `printNamespace`,
//! `printEvent`, `printLease`).

use super::{AGE, Column, NAME, age, col, creation_age, int, items, or, text, wide};
use serde_json::Value;

/// Node columns.
pub(super) const NODE_COLUMNS: &[Column] = &[
    NAME,
    col("Status", "string", "The status of the node."),
    col("Roles", "string", "The roles of the node."),
    AGE,
    col("Version", "string", "Kubelet Version reported by the node."),
    wide(
        "Internal-IP",
        "string",
        "List of addresses reachable to the node.",
    ),
    wide(
        "External-IP",
        "string",
        "List of addresses reachable to the node.",
    ),
    wide(
        "OS-Image",
        "string",
        "OS Image reported by the node from /etc/os-release.",
    ),
    wide(
        "Kernel-Version",
        "string",
        "Kernel Version reported by the node from 'uname -r'.",
    ),
    wide(
        "Container-Runtime",
        "string",
        "ContainerRuntime Version reported by the node.",
    ),
];

/// Namespace columns.
pub(super) const NAMESPACE_COLUMNS: &[Column] = &[
    NAME,
    col("Status", "string", "The status of the namespace."),
    AGE,
];

/// Event columns, in the printer's order: `Last Seen` first, `Name` as a wide column.
pub(super) const EVENT_COLUMNS: &[Column] = &[
    col(
        "Last Seen",
        "string",
        "The time at which the most recent occurrence of this event was recorded.",
    ),
    col("Type", "string", "Type of this event (Normal, Warning)."),
    col(
        "Reason",
        "string",
        "A short, machine understandable string that gives the reason for this event.",
    ),
    col("Object", "string", "The object that this event is about."),
    wide(
        "Subobject",
        "string",
        "The field of the involved object this event is about.",
    ),
    wide("Source", "string", "The component reporting this event."),
    col(
        "Message",
        "string",
        "A human-readable description of the status of this operation.",
    ),
    wide(
        "First Seen",
        "string",
        "The time at which the event was first recorded.",
    ),
    wide(
        "Count",
        "string",
        "The number of times this event has occurred.",
    ),
    Column {
        priority: 1,
        ..NAME
    },
];

/// Lease columns.
pub(super) const LEASE_COLUMNS: &[Column] = &[
    NAME,
    col("Holder", "string", "The holder of the lease."),
    AGE,
];

/// The cells of one Node row.
pub(super) fn node_cells(node: &Value, now: i64) -> Vec<Value> {
    let mut status: Vec<&str> = Vec::new();
    if let Some(ready) = items(node, "/status/conditions")
        .iter()
        .find(|c| text(c, "/type") == "Ready")
    {
        status.push(if text(ready, "/status") == "True" {
            "Ready"
        } else {
            "NotReady"
        });
    } else {
        status.push("Unknown");
    }
    if node.pointer("/spec/unschedulable").and_then(Value::as_bool) == Some(true) {
        status.push("SchedulingDisabled");
    }
    let roles = node_roles(node);
    let address = |kind: &str| {
        items(node, "/status/addresses")
            .iter()
            .find(|a| text(a, "/type") == kind)
            .map_or("<none>", |a| text(a, "/address"))
    };
    let info = |field: &str| {
        or(
            text(node, &format!("/status/nodeInfo/{field}")),
            "<unknown>",
        )
        .to_string()
    };
    vec![
        text(node, "/metadata/name").into(),
        status.join(",").into(),
        if roles.is_empty() {
            "<none>".into()
        } else {
            roles.join(",").into()
        },
        creation_age(node, now).into(),
        text(node, "/status/nodeInfo/kubeletVersion").into(),
        address("InternalIP").into(),
        address("ExternalIP").into(),
        info("osImage").into(),
        info("kernelVersion").into(),
        info("containerRuntimeVersion").into(),
    ]
}

/// Roles from `node-role.kubernetes.io/<role>` label keys and the `kubernetes.io/role` label value,
/// sorted and de-duplicated (`findNodeRoles`).
fn node_roles(node: &Value) -> Vec<String> {
    let mut roles: Vec<String> = Vec::new();
    if let Some(labels) = node.pointer("/metadata/labels").and_then(Value::as_object) {
        for (k, v) in labels {
            let role = if let Some(r) = k.strip_prefix("node-role.kubernetes.io/") {
                r
            } else if k == "kubernetes.io/role" {
                v.as_str().unwrap_or("")
            } else {
                ""
            };
            if !role.is_empty() {
                roles.push(role.to_string());
            }
        }
    }
    roles.sort();
    roles.dedup();
    roles
}

/// The cells of one Namespace row.
pub(super) fn namespace_cells(ns: &Value, now: i64) -> Vec<Value> {
    vec![
        text(ns, "/metadata/name").into(),
        or(text(ns, "/status/phase"), "Active").into(),
        creation_age(ns, now).into(),
    ]
}

/// The age of the timestamp at `ptr`, or `None` when absent.
fn age_at(obj: &Value, ptr: &str, now: i64) -> Option<String> {
    let ts = obj
        .pointer(ptr)
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())?;
    Some(age::translate_timestamp_since(Some(ts), now))
}

/// The cells of one Event row.
pub(super) fn event_cells(ev: &Value, now: i64) -> Vec<Value> {
    let first_seen = age_at(ev, "/firstTimestamp", now)
        .or_else(|| age_at(ev, "/eventTime", now))
        .unwrap_or_else(|| "<unknown>".into());
    let mut last_seen = age_at(ev, "/lastTimestamp", now).unwrap_or_else(|| first_seen.clone());
    let mut count = int(ev, "/count");
    if ev.get("series").is_some_and(|s| !s.is_null()) {
        last_seen =
            age_at(ev, "/series/lastObservedTime", now).unwrap_or_else(|| "<unknown>".into());
        count = int(ev, "/series/count");
    } else if count == 0 {
        count = 1;
    }
    let kind = text(ev, "/involvedObject/kind").to_lowercase();
    let name = text(ev, "/involvedObject/name");
    let target = if name.is_empty() {
        kind
    } else {
        format!("{kind}/{name}")
    };
    let component = or(
        text(ev, "/source/component"),
        text(ev, "/reportingComponent"),
    );
    let instance = or(text(ev, "/source/host"), text(ev, "/reportingInstance"));
    let source = if instance.is_empty() {
        component.to_string()
    } else {
        format!("{component}, {instance}")
    };
    vec![
        last_seen.into(),
        text(ev, "/type").into(),
        text(ev, "/reason").into(),
        target.into(),
        text(ev, "/involvedObject/fieldPath").into(),
        source.into(),
        text(ev, "/message").trim().into(),
        first_seen.into(),
        count.into(),
        text(ev, "/metadata/name").into(),
    ]
}

/// The cells of one Lease row.
pub(super) fn lease_cells(lease: &Value, now: i64) -> Vec<Value> {
    vec![
        text(lease, "/metadata/name").into(),
        text(lease, "/spec/holderIdentity").into(),
        creation_age(lease, now).into(),
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

    fn node(unschedulable: bool, ready: Option<&str>) -> Value {
        let conditions = ready.map_or(json!([]), |s| {
            json!([{"type": "MemoryPressure", "status": "False"},
                                                            {"type": "Ready", "status": s}])
        });
        json!({"metadata": {"name": "n1", "creationTimestamp": "2026-11-29T07:00:00Z",
                            "labels": {"node-role.kubernetes.io/control-plane": "", "kubernetes.io/role": "worker",
                                       "node-role.kubernetes.io/worker": ""}},
               "spec": {"unschedulable": unschedulable},
               "status": {"conditions": conditions,
                          "addresses": [{"type": "Hostname", "address": "n1"}, {"type": "InternalIP", "address": "10.0.0.11"}],
                          "nodeInfo": {"kubeletVersion": "v1.32.0", "osImage": "mock OS"}}})
    }

    #[test]
    fn node_cells_should_show_readiness_cordon_and_roles() {
        let cases: &[(bool, Option<&str>, &str)] = &[
            (false, Some("True"), "Ready"),
            (true, Some("True"), "Ready,SchedulingDisabled"),
            (false, Some("False"), "NotReady"),
            (false, Some("Unknown"), "NotReady"),
            (true, None, "Unknown,SchedulingDisabled"),
        ];
        for (cordoned, ready, want) in cases {
            assert_eq!(
                node_cells(&node(*cordoned, *ready), now())[1],
                json!(want),
                "{want}"
            );
        }
        assert_eq!(
            node_cells(&node(false, Some("True")), now()),
            vec![
                json!("n1"),
                json!("Ready"),
                json!("control-plane,worker"),
                json!("3h"),
                json!("v1.32.0"),
                json!("10.0.0.11"),
                json!("<none>"),
                json!("mock OS"),
                json!("<unknown>"),
                json!("<unknown>")
            ]
        );
        let bare = json!({"metadata": {"name": "n2"}});
        assert_eq!(node_cells(&bare, now())[2], "<none>");
        assert_eq!(node_cells(&bare, now())[3], "<unknown>");
    }

    #[test]
    fn event_cells_should_follow_the_event_printer() {
        let ev = json!({"metadata": {"name": "web-1.17f0"}, "type": "Normal", "reason": "Scheduled",
            "message": "Successfully assigned default/web-1 to n1\n", "count": 0,
            "involvedObject": {"kind": "Pod", "name": "web-1", "fieldPath": "spec.containers{web}"},
            "source": {"component": "default-scheduler"},
            "firstTimestamp": "2026-11-29T09:57:11Z"});
        assert_eq!(
            event_cells(&ev, now()),
            vec![
                json!("2m49s"),
                json!("Normal"),
                json!("Scheduled"),
                json!("pod/web-1"),
                json!("spec.containers{web}"),
                json!("default-scheduler"),
                json!("Successfully assigned default/web-1 to n1"),
                json!("2m49s"),
                json!(1),
                json!("web-1.17f0")
            ]
        );
        let series = json!({"eventTime": "2026-11-29T09:00:00.000000Z", "series": {"count": 7,
            "lastObservedTime": "2026-11-29T09:59:00.000000Z"}, "reportingComponent": "kubelet",
            "reportingInstance": "n1", "involvedObject": {"kind": "Node"}});
        let row = event_cells(&series, now());
        assert_eq!(
            (
                row[0].clone(),
                row[3].clone(),
                row[5].clone(),
                row[7].clone(),
                row[8].clone()
            ),
            (
                json!("60s"),
                json!("node"),
                json!("kubelet, n1"),
                json!("60m"),
                json!(7)
            )
        );
    }

    #[test]
    fn namespace_and_lease_cells_should_print_status_and_holder() {
        let ns =
            json!({"metadata": {"name": "default", "creationTimestamp": "2026-11-29T09:59:52Z"}});
        assert_eq!(
            namespace_cells(&ns, now()),
            vec![json!("default"), json!("Active"), json!("8s")]
        );
        let gone = json!({"metadata": {"name": "old"}, "status": {"phase": "Terminating"}});
        assert_eq!(namespace_cells(&gone, now())[1], "Terminating");
        let lease = json!({"metadata": {"name": "n1", "creationTimestamp": "2026-11-29T09:55:00Z"},
                           "spec": {"holderIdentity": "n1"}});
        assert_eq!(
            lease_cells(&lease, now()),
            vec![json!("n1"), json!("n1"), json!("5m")]
        );
    }
}
