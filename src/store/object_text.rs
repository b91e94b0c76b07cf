//! An object as it travels through Raft: its JSON text, serialized once in the request path, with
//! the place where the state machine stamps `metadata.resourceVersion` (the revision is only known
//! at apply).
//!
//! Before, a write carried a `serde_json::Value` tree: the log entry encoded it (JSON inside JSON),
//! the in-memory log tail cloned it for every read, and apply set the revision in it and
//! serialized it again. Now apply only splices `"resourceVersion":"N"` into the text: two copies
//! of bytes, no parse and no tree.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::Arc;

/// An object's JSON text without `metadata.resourceVersion`, and where to insert it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectText {
    /// The JSON text: an object whose `metadata` is an object (possibly empty) without
    /// `resourceVersion`.
    pub json: Arc<str>,
    /// Byte offset of the closing `}` of `metadata` in `json`: the revision is inserted there, so
    /// it is the last field of `metadata`.
    pub rv_at: u32,
}

/// Writes `v` as JSON to `out` (serializing a `Value` into a `Vec` cannot fail: map keys are
/// strings).
fn write_value(out: &mut Vec<u8>, v: &Value) {
    let _ = serde_json::to_writer(&mut *out, v);
}

fn write_key(out: &mut Vec<u8>, k: &str) {
    let _ = serde_json::to_writer(&mut *out, k);
    out.push(b':');
}

impl ObjectText {
    /// The text of `object`, as `meta::set(object, "resourceVersion", …)` would leave it before
    /// serializing: field order kept, an existing `resourceVersion` dropped (the stamp goes last in
    /// `metadata`), a missing or non-object `metadata` made an empty object (at the end when
    /// missing), a non-object `object` taken as `{}`.
    pub fn new(object: &Value) -> ObjectText {
        let empty = serde_json::Map::new();
        let map = object.as_object().unwrap_or(&empty);
        let mut out = Vec::with_capacity(1024);
        out.push(b'{');
        let mut rv_at = None;
        let mut first = true;
        let write_metadata = |out: &mut Vec<u8>, md: Option<&serde_json::Map<String, Value>>| {
            write_key(out, "metadata");
            out.push(b'{');
            let mut first_field = true;
            for (k, v) in md.into_iter().flatten() {
                if k == "resourceVersion" {
                    continue;
                }
                if !first_field {
                    out.push(b',');
                }
                first_field = false;
                write_key(out, k);
                write_value(out, v);
            }
            let at = out.len();
            out.push(b'}');
            at
        };
        for (k, v) in map {
            if !first {
                out.push(b',');
            }
            first = false;
            if k == "metadata" {
                rv_at = Some(write_metadata(&mut out, v.as_object()));
            } else {
                write_key(&mut out, k);
                write_value(&mut out, v);
            }
        }
        let rv_at = match rv_at {
            Some(at) => at,
            None => {
                if !first {
                    out.push(b',');
                }
                write_metadata(&mut out, None)
            }
        };
        out.push(b'}');
        // serde_json writes UTF-8; the lossy conversion never replaces anything.
        let json: Arc<str> = match String::from_utf8(out) {
            Ok(s) => s.into(),
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into(),
        };
        ObjectText {
            json,
            rv_at: u32::try_from(rv_at).unwrap_or(u32::MAX),
        }
    }

    /// The text with `metadata.resourceVersion` set to `revision` (as a string, the last field of
    /// `metadata`). A text whose `rv_at` does not point at a `}` (not made by [`ObjectText::new`])
    /// is returned unchanged.
    pub fn stamp(&self, revision: u64) -> String {
        let text = &*self.json;
        let at = self.rv_at as usize;
        if text.as_bytes().get(at) != Some(&b'}') {
            return text.to_string();
        }
        let rv = revision.to_string();
        let mut out = String::with_capacity(text.len() + rv.len() + 22);
        out.push_str(&text[..at]);
        if text.as_bytes().get(at.wrapping_sub(1)) != Some(&b'{') {
            out.push(',');
        }
        out.push_str("\"resourceVersion\":\"");
        out.push_str(&rv);
        out.push('"');
        out.push_str(&text[at..]);
        out
    }
}

impl From<&Value> for ObjectText {
    fn from(v: &Value) -> ObjectText {
        ObjectText::new(v)
    }
}

impl From<Value> for ObjectText {
    fn from(v: Value) -> ObjectText {
        ObjectText::new(&v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// What apply did before: set the revision in the tree, then serialize it.
    fn old_way(mut v: Value, rev: u64) -> Value {
        if let Some(md) = v.get_mut("metadata").and_then(Value::as_object_mut) {
            md.remove("resourceVersion");
        }
        mock_k8_schemas::meta::set(&mut v, "resourceVersion", json!(rev.to_string()));
        v
    }

    #[test]
    fn stamp_should_match_setting_the_revision_in_the_tree() {
        let cases = [
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labels": {"a": "b"}}, "spec": {"x": [1, "é\"\\"]}}),
            json!({"kind": "Pod", "metadata": {}, "spec": {}}),
            json!({"kind": "Pod", "metadata": {"resourceVersion": "3", "name": "p"}}),
            json!({"kind": "Pod", "spec": {}}),
            json!({}),
            json!({"metadata": 5, "a": 1}),
            json!([1, 2]),
        ];
        for v in cases {
            let t = ObjectText::new(&v);
            let stamped: Value = serde_json::from_str(&t.stamp(42)).expect("valid JSON");
            let expected = old_way(if v.is_object() { v.clone() } else { json!({}) }, 42);
            assert_eq!(stamped, expected, "{v}");
            assert_eq!(
                serde_json::to_string(&stamped).unwrap(),
                t.stamp(42),
                "same field order as the tree: {v}"
            );
        }
    }

    #[test]
    fn stamp_should_leave_foreign_text_alone() {
        let t = ObjectText {
            json: "{\"a\":1}".into(),
            rv_at: 1,
        };
        assert_eq!(t.stamp(7), "{\"a\":1}");
    }
}
