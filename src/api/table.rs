//! `meta.k8s.io/v1` Table answers for `kubectl get` (Accept `application/json;as=Table;...`): the
//! kind's column definitions (from `mock_k8_schemas::table`) and one row per object whose `object`
//! is a `PartialObjectMetadata` carrying the full `metadata` (kubectl reads `-A`'s NAMESPACE and
//! `--show-labels` from it), or the full object with `includeObject=Object`.

use super::query::IncludeObject;
use axum::http::HeaderMap;
use axum::http::header::ACCEPT;
use mock_k8_schemas::{ApiResource, table};
use serde_json::{Map, Value, json};

/// `true` when the `Accept` header asks for a Table (`as=Table`), as kubectl's table printer does.
pub fn wants_table(headers: &HeaderMap) -> bool {
    headers
        .get_all(ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.split([',', ';']).any(|p| p.trim() == "as=Table"))
}

/// One row: `cells` for `obj` and its `object` per `include`.
pub fn row(
    resource: &ApiResource,
    obj: &Value,
    include: IncludeObject,
    now_unix_seconds: i64,
) -> Value {
    let mut row = Map::new();
    row.insert(
        "cells".into(),
        Value::Array(table::row_cells(resource, obj, now_unix_seconds)),
    );
    match include {
        IncludeObject::None => {}
        IncludeObject::Object => {
            row.insert("object".into(), obj.clone());
        }
        IncludeObject::Metadata => {
            let md = obj.get("metadata").cloned().unwrap_or_else(|| json!({}));
            row.insert("object".into(), json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": md}));
        }
    }
    Value::Object(row)
}

/// A Table of `rows` at `resource_version`, with column definitions unless `headers` is false (watch
/// events after the first carry `columnDefinitions: null`, as kube-apiserver sends them).
/// `continue_token` and `remaining` fill the list metadata of a paged answer.
pub fn table(
    resource: &ApiResource,
    rows: Vec<Value>,
    resource_version: u64,
    headers: bool,
    continue_token: Option<&str>,
    remaining: Option<usize>,
) -> Value {
    let mut md = Map::new();
    md.insert(
        "resourceVersion".into(),
        json!(resource_version.to_string()),
    );
    if let Some(c) = continue_token {
        md.insert("continue".into(), json!(c));
    }
    if let Some(n) = remaining {
        md.insert("remainingItemCount".into(), json!(n));
    }
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": md,
        "columnDefinitions": if headers { table::column_definitions(resource) } else { Value::Null },
        "rows": rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn wants_table_should_detect_kubectl_get_accept() {
        let mut h = HeaderMap::new();
        h.insert(ACCEPT, HeaderValue::from_static("application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"));
        assert!(wants_table(&h));
        h.insert(ACCEPT, HeaderValue::from_static("application/json, */*"));
        assert!(!wants_table(&h));
        assert!(!wants_table(&HeaderMap::new()));
    }
}
