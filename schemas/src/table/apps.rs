//! ReplicaSet and Deployment printers (kube-apiserver's `printReplicaSet`, `printDeployment`).

use super::{AGE, Column, NAME, col, creation_age, int, items, text, wide};
use serde_json::Value;

/// The wide columns shared by workloads.
const CONTAINERS: Column = wide(
    "Containers",
    "string",
    "Names of each container in the template.",
);
const IMAGES: Column = wide(
    "Images",
    "string",
    "Images referenced by each container in the template.",
);
const SELECTOR: Column = wide(
    "Selector",
    "string",
    "Label selector for the pods this object manages.",
);

/// ReplicaSet columns.
pub(super) const REPLICA_SET_COLUMNS: &[Column] = &[
    NAME,
    col("Desired", "integer", "Number of desired pods."),
    col("Current", "integer", "Number of actual replicas."),
    col(
        "Ready",
        "integer",
        "Number of pods targeted by this ReplicaSet with a Ready Condition.",
    ),
    AGE,
    CONTAINERS,
    IMAGES,
    SELECTOR,
];

/// Deployment columns.
pub(super) const DEPLOYMENT_COLUMNS: &[Column] = &[
    NAME,
    col(
        "Ready",
        "string",
        "Number of the pod with ready state, over the desired number.",
    ),
    col(
        "Up-to-date",
        "integer",
        "Total number of non-terminated pods that have the desired template spec.",
    ),
    col(
        "Available",
        "integer",
        "Total number of available pods (ready for at least minReadySeconds).",
    ),
    AGE,
    CONTAINERS,
    IMAGES,
    SELECTOR,
];

/// `spec.replicas`, defaulted to 1 as the API server defaults it.
fn desired(obj: &Value) -> i64 {
    obj.pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1)
}

/// Comma-joined container names and images of `spec.template.spec.containers` (`layoutContainerCells`).
fn containers_and_images(obj: &Value) -> (String, String) {
    let containers = items(obj, "/spec/template/spec/containers");
    let names: Vec<&str> = containers.iter().map(|c| text(c, "/name")).collect();
    let images: Vec<&str> = containers.iter().map(|c| text(c, "/image")).collect();
    (names.join(","), images.join(","))
}

/// A `LabelSelector` as `labels.Selector.String()` prints it: requirements sorted by key, `k=v` for
/// `matchLabels`, `k in (a,b)`, `k notin (a,b)`, `k`, `!k` for `matchExpressions`; `""` when empty.
pub(super) fn format_label_selector(selector: &Value) -> String {
    let mut reqs: Vec<(String, String)> = Vec::new();
    if let Some(m) = selector.get("matchLabels").and_then(Value::as_object) {
        for (k, v) in m {
            reqs.push((k.clone(), format!("{k}={}", v.as_str().unwrap_or(""))));
        }
    }
    for e in selector
        .get("matchExpressions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let key = text(e, "/key");
        let mut values: Vec<&str> = items(e, "/values")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        values.sort_unstable();
        let rendered = match text(e, "/operator") {
            "In" => format!("{key} in ({})", values.join(",")),
            "NotIn" => format!("{key} notin ({})", values.join(",")),
            "Exists" => key.to_string(),
            "DoesNotExist" => format!("!{key}"),
            other => format!("{key} {other} ({})", values.join(",")),
        };
        reqs.push((key.to_string(), rendered));
    }
    reqs.sort_by(|a, b| a.0.cmp(&b.0));
    reqs.into_iter()
        .map(|(_, r)| r)
        .collect::<Vec<_>>()
        .join(",")
}

/// The cells of one ReplicaSet row.
pub(super) fn replica_set_cells(rs: &Value, now: i64) -> Vec<Value> {
    let (containers, images) = containers_and_images(rs);
    let selector = match rs.pointer("/spec/selector") {
        Some(s) if !s.is_null() => format_label_selector(s),
        _ => String::new(),
    };
    vec![
        text(rs, "/metadata/name").into(),
        desired(rs).into(),
        int(rs, "/status/replicas").into(),
        int(rs, "/status/readyReplicas").into(),
        creation_age(rs, now).into(),
        containers.into(),
        images.into(),
        if selector.is_empty() {
            "<none>".into()
        } else {
            selector.into()
        },
    ]
}

/// The cells of one Deployment row.
pub(super) fn deployment_cells(d: &Value, now: i64) -> Vec<Value> {
    let (containers, images) = containers_and_images(d);
    let selector = d
        .pointer("/spec/selector")
        .map(format_label_selector)
        .unwrap_or_default();
    vec![
        text(d, "/metadata/name").into(),
        format!("{}/{}", int(d, "/status/readyReplicas"), desired(d)).into(),
        int(d, "/status/updatedReplicas").into(),
        int(d, "/status/availableReplicas").into(),
        creation_age(d, now).into(),
        containers.into(),
        images.into(),
        selector.into(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::age::parse_unix_seconds;
    use serde_json::json;

    fn template() -> Value {
        json!({"metadata": {"labels": {"app": "web"}},
               "spec": {"containers": [{"name": "web", "image": "nginx:1.28"}, {"name": "log", "image": "busybox"}]}})
    }

    #[test]
    fn cells_should_print_replica_sets_and_deployments() {
        let now = parse_unix_seconds("2026-11-29T12:00:00Z").expect("valid");
        let rs = json!({"metadata": {"name": "web-7d9f", "creationTimestamp": "2026-11-29T09:00:00Z"},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web", "pod-template-hash": "7d9f"}},
                     "template": template()},
            "status": {"replicas": 3, "readyReplicas": 2}});
        assert_eq!(
            replica_set_cells(&rs, now),
            vec![
                json!("web-7d9f"),
                json!(3),
                json!(3),
                json!(2),
                json!("3h"),
                json!("web,log"),
                json!("nginx:1.28,busybox"),
                json!("app=web,pod-template-hash=7d9f")
            ]
        );

        let d = json!({"metadata": {"name": "web", "creationTimestamp": "2026-11-27T12:00:00Z"},
            "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": template()},
            "status": {"readyReplicas": 1, "updatedReplicas": 1, "availableReplicas": 1}});
        assert_eq!(
            deployment_cells(&d, now),
            vec![
                json!("web"),
                json!("1/1"),
                json!(1),
                json!(1),
                json!("2d"),
                json!("web,log"),
                json!("nginx:1.28,busybox"),
                json!("app=web")
            ]
        );
    }

    #[test]
    fn format_label_selector_should_sort_requirements() {
        let s = json!({"matchLabels": {"tier": "front"},
            "matchExpressions": [{"key": "env", "operator": "In", "values": ["prod", "dev"]},
                                 {"key": "zz", "operator": "DoesNotExist"},
                                 {"key": "app", "operator": "Exists"},
                                 {"key": "team", "operator": "NotIn", "values": ["b"]}]});
        assert_eq!(
            format_label_selector(&s),
            "app,env in (dev,prod),team notin (b),tier=front,!zz"
        );
        assert_eq!(format_label_selector(&json!({})), "");
    }
}
