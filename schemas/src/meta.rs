//! Reading and writing `metadata` on objects held as JSON (`serde_json::Value`).
//!
//! The API server keeps objects as JSON so that nothing a user posts is lost; these helpers are the
//! one place that knows where `metadata` fields live.

use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// `metadata.<field>` as a string, if present and a string.
pub fn str_field<'a>(obj: &'a Value, field: &str) -> Option<&'a str> {
    obj.get("metadata")?.get(field)?.as_str()
}

/// `metadata.name`, or `""`.
pub fn name(obj: &Value) -> &str {
    str_field(obj, "name").unwrap_or("")
}

/// `metadata.namespace`, or `""`.
pub fn namespace(obj: &Value) -> &str {
    str_field(obj, "namespace").unwrap_or("")
}

/// `metadata.labels` as a sorted map (non-string values are skipped).
pub fn labels(obj: &Value) -> BTreeMap<String, String> {
    string_map(obj.get("metadata").and_then(|m| m.get("labels")))
}

/// A JSON object of strings as a sorted map (non-string values are skipped).
pub fn string_map(v: Option<&Value>) -> BTreeMap<String, String> {
    v.and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// `metadata.resourceVersion` parsed as the store revision it is, if present and numeric.
pub fn resource_version(obj: &Value) -> Option<u64> {
    str_field(obj, "resourceVersion").and_then(|s| s.parse().ok())
}

/// The `metadata` object, created if missing (or replaced if not an object). `obj` must be an object;
/// for other values this returns a detached empty map's worth of no-ops.
pub fn metadata_mut(obj: &mut Value) -> &mut Map<String, Value> {
    if !obj.is_object() {
        *obj = Value::Object(Map::new());
    }
    let map = obj.as_object_mut().expect("made an object above");
    let m = map
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    if !m.is_object() {
        *m = Value::Object(Map::new());
    }
    m.as_object_mut().expect("made an object above")
}

/// Sets `metadata.<field>` to `value`.
pub fn set(obj: &mut Value, field: &str, value: Value) {
    metadata_mut(obj).insert(field.to_string(), value);
}

/// Removes `metadata.<field>`.
pub fn remove(obj: &mut Value, field: &str) -> Option<Value> {
    obj.get_mut("metadata")?.as_object_mut()?.remove(field)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn metadata_helpers_should_read_and_write() {
        let mut o = json!({"metadata": {"name": "a", "labels": {"x": "1", "n": 2}, "resourceVersion": "42"}});
        assert_eq!(name(&o), "a");
        assert_eq!(labels(&o).len(), 1);
        assert_eq!(resource_version(&o), Some(42));
        set(&mut o, "namespace", json!("ns"));
        assert_eq!(namespace(&o), "ns");
        let mut bare = json!({});
        set(&mut bare, "uid", json!("u"));
        assert_eq!(str_field(&bare, "uid"), Some("u"));
    }
}
