//! `kubectl get` Table output: columns and rows per kind, as kube-apiserver's printers define them
//! (`pkg/printers/internalversion/printers.go`).
//!
//! Like kube-apiserver, every row carries the wide (`-o wide`, priority 1) cells too; kubectl hides the
//! priority-1 columns unless asked, so cells always line up with [`column_definitions`].
//!
//! # Layout
//! - [`age`]: `HumanDuration` / `translateTimestampSince` and RFC 3339 parsing.
//! - `pod`: the Pod printer (ready count, status reason, restarts).
//! - `apps`: ReplicaSet and Deployment, with label selector formatting.
//! - `cluster`: Node, Namespace, Event and Lease.
//! - `network`: Service, Endpoints and EndpointSlice.

pub mod age;
mod apps;
mod cluster;
mod network;
mod pod;

use crate::ApiResource;
use serde_json::{Value, json};

/// The `columnDefinitions` array for `resource`: objects with `name`, `type`, `format`, `description`
/// and `priority` (1 = shown only with `-o wide`). The first column is `Name` (format `name`), except
/// for events, whose printer starts with `Last Seen` and carries `Name` as a wide column.
/// Kinds without a printer get `Name` and `Age`.
pub fn column_definitions(resource: &ApiResource) -> Value {
    let cols: Vec<Value> = columns(resource.kind)
        .iter()
        .map(|c| {
            json!({"name": c.name, "type": c.type_, "format": c.format,
                   "description": c.description, "priority": c.priority})
        })
        .collect();
    Value::Array(cols)
}

/// The `cells` of one row for `obj` (strings and integers, one per column of [`column_definitions`],
/// wide cells included), with ages computed against `now_unix_seconds` (Unix time in seconds).
/// Missing fields never fail: they print as kube-apiserver prints them (`<none>`, `<unknown>`, `""`, 0).
pub fn row_cells(resource: &ApiResource, obj: &Value, now_unix_seconds: i64) -> Vec<Value> {
    let now = now_unix_seconds;
    match resource.kind {
        "Pod" => pod::cells(obj, now),
        "Node" => cluster::node_cells(obj, now),
        "Namespace" => cluster::namespace_cells(obj, now),
        "Event" => cluster::event_cells(obj, now),
        "Lease" => cluster::lease_cells(obj, now),
        "Service" => network::service_cells(obj, now),
        "Endpoints" => network::endpoints_cells(obj, now),
        "EndpointSlice" => network::endpoint_slice_cells(obj, now),
        "ReplicaSet" => apps::replica_set_cells(obj, now),
        "Deployment" => apps::deployment_cells(obj, now),
        _ => vec![
            text(obj, "/metadata/name").into(),
            creation_age(obj, now).into(),
        ],
    }
}

/// One column of a printer.
pub(crate) struct Column {
    name: &'static str,
    type_: &'static str,
    format: &'static str,
    description: &'static str,
    priority: u8,
}

/// A priority-0 column.
const fn col(name: &'static str, type_: &'static str, description: &'static str) -> Column {
    Column {
        name,
        type_,
        format: "",
        description,
        priority: 0,
    }
}

/// A priority-1 (`-o wide`) column.
const fn wide(name: &'static str, type_: &'static str, description: &'static str) -> Column {
    Column {
        name,
        type_,
        format: "",
        description,
        priority: 1,
    }
}

/// The `Name` column.
const NAME: Column = Column {
    name: "Name",
    type_: "string",
    format: "name",
    description: "Name must be unique within a namespace.",
    priority: 0,
};

/// The `Age` column.
const AGE: Column = col(
    "Age",
    "string",
    "CreationTimestamp is a timestamp representing the server time when this object was created.",
);

/// The columns of `kind`'s printer, in cell order.
fn columns(kind: &str) -> &'static [Column] {
    match kind {
        "Pod" => pod::COLUMNS,
        "Node" => cluster::NODE_COLUMNS,
        "Namespace" => cluster::NAMESPACE_COLUMNS,
        "Event" => cluster::EVENT_COLUMNS,
        "Lease" => cluster::LEASE_COLUMNS,
        "Service" => network::SERVICE_COLUMNS,
        "Endpoints" => network::ENDPOINTS_COLUMNS,
        "EndpointSlice" => network::ENDPOINT_SLICE_COLUMNS,
        "ReplicaSet" => apps::REPLICA_SET_COLUMNS,
        "Deployment" => apps::DEPLOYMENT_COLUMNS,
        _ => &[NAME, AGE],
    }
}

/// The string at JSON pointer `ptr`, or `""`.
fn text<'a>(obj: &'a Value, ptr: &str) -> &'a str {
    obj.pointer(ptr).and_then(Value::as_str).unwrap_or("")
}

/// The integer at JSON pointer `ptr`, or 0.
fn int(obj: &Value, ptr: &str) -> i64 {
    obj.pointer(ptr).and_then(Value::as_i64).unwrap_or(0)
}

/// The list at JSON pointer `ptr`, or an empty slice.
fn items<'a>(obj: &'a Value, ptr: &str) -> &'a [Value] {
    obj.pointer(ptr)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// `s`, or `fallback` when `s` is empty.
fn or<'a>(s: &'a str, fallback: &'a str) -> &'a str {
    if s.is_empty() { fallback } else { s }
}

/// The age of `metadata.creationTimestamp`.
fn creation_age(obj: &Value, now: i64) -> String {
    age::translate_timestamp_since(
        obj.pointer("/metadata/creationTimestamp")
            .and_then(Value::as_str),
        now,
    )
}

/// A label map as `labels.FormatLabels` prints it: `k=v` pairs sorted by key, comma-joined, or
/// `<none>` when empty.
fn format_labels(map: Option<&Value>) -> String {
    let mut pairs: Vec<String> = map
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                .collect()
        })
        .unwrap_or_default();
    pairs.sort();
    if pairs.is_empty() {
        "<none>".into()
    } else {
        pairs.join(",")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::RESOURCES;

    #[test]
    fn column_definitions_should_match_row_width_for_every_kind() {
        let obj = json!({"metadata": {"name": "x", "creationTimestamp": "2026-11-29T09:31:35Z"}});
        for r in RESOURCES {
            let cols = column_definitions(r);
            let cols = cols.as_array().expect("array");
            assert_eq!(cols.len(), row_cells(r, &obj, 0).len(), "{}", r.kind);
            let name = cols
                .iter()
                .find(|c| c["name"] == "Name")
                .expect("a Name column");
            assert_eq!(name["format"], "name", "{}", r.kind);
            if r.kind != "Event" {
                assert_eq!(cols[0]["name"], "Name", "{}", r.kind);
            }
            for c in cols {
                for field in ["name", "type", "format", "description", "priority"] {
                    assert!(c.get(field).is_some(), "{} {c}", r.kind);
                }
            }
        }
    }

    #[test]
    fn format_labels_should_sort_and_default_to_none() {
        assert_eq!(
            format_labels(Some(&json!({"tier": "a", "app": "web"}))),
            "app=web,tier=a"
        );
        assert_eq!(format_labels(Some(&json!({}))), "<none>");
        assert_eq!(format_labels(None), "<none>");
    }
}
