//! `kubectl get` Table output: columns and rows per kind, as kube-apiserver's printers define them.
//! OWNER: helper schemas-c.

use crate::ApiResource;
use serde_json::Value;

/// The `columnDefinitions` array for `resource`.
pub fn column_definitions(resource: &ApiResource) -> Value {
    let _ = resource;
    todo!("schemas-c")
}

/// The `cells` of one row for `obj`, with ages computed against `now_unix_seconds`.
pub fn row_cells(resource: &ApiResource, obj: &Value, now_unix_seconds: i64) -> Vec<Value> {
    let _ = (resource, obj, now_unix_seconds);
    todo!("schemas-c")
}
