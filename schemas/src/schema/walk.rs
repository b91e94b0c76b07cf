//! Walking a JSON object against a JSON Schema to find the fields the schema does not know.
//!
//! This is the server side of `fieldValidation=Strict|Warn`: k8s-openapi's deserializers ignore
//! unknown fields, so the object is walked against the kind's schema instead. Only structure is
//! checked (`properties`, `additionalProperties`, `items`, `$ref`, `allOf`/`anyOf`/`oneOf`); types are
//! the decoder's business.

use serde_json::{Map, Value};

/// One step of a field path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Seg {
    /// An object member.
    Key(String),
    /// An array element.
    Index(usize),
}

/// One step of the path being walked, borrowed from the walked object: a reported path is copied
/// into owned [`Seg`]s, so a walk allocates nothing per member of a valid object.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Step<'v> {
    /// An object member.
    Key(&'v str),
    /// An array element.
    Index(usize),
}

impl Step<'_> {
    fn to_seg(self) -> Seg {
        match self {
            Step::Key(k) => Seg::Key(k.to_string()),
            Step::Index(i) => Seg::Index(i),
        }
    }
}

/// A path in Kubernetes' strict-decoding form: `spec.containers[0].imagez`.
pub(crate) fn render(path: &[Seg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Seg::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// Resolves `#/$defs/NAME` references within one schema document.
pub(crate) struct Walker<'a> {
    defs: Option<&'a Map<String, Value>>,
}

/// Longest `$ref` chain followed before giving up (guards against reference cycles).
const MAX_REF_DEPTH: usize = 32;

impl<'a> Walker<'a> {
    /// A walker for the schema document `root` (its `$defs` resolve references).
    pub(crate) fn new(root: &'a Value) -> Self {
        Walker {
            defs: root.get("$defs").and_then(Value::as_object),
        }
    }

    /// Follows `$ref` to the referenced schema (unresolvable references resolve to themselves).
    fn resolve(&self, mut schema: &'a Value) -> &'a Value {
        for _ in 0..MAX_REF_DEPTH {
            let Some(r) = schema.get("$ref").and_then(Value::as_str) else {
                break;
            };
            let Some(target) = r.strip_prefix("#/$defs/").and_then(|n| self.defs?.get(n)) else {
                break;
            };
            schema = target;
        }
        schema
    }

    /// `schema` and, recursively, its `allOf`/`anyOf`/`oneOf` branches, resolved.
    fn branches(&self, schema: &'a Value, out: &mut Vec<&'a Value>, depth: usize) {
        let schema = self.resolve(schema);
        out.push(schema);
        if depth >= MAX_REF_DEPTH {
            return;
        }
        for key in ["allOf", "anyOf", "oneOf"] {
            for sub in schema
                .get(key)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                self.branches(sub, out, depth + 1);
            }
        }
    }

    /// Appends to `out` the paths of members of `value` (at `path`) that `schema` does not know.
    pub(crate) fn unknown<'v>(
        &self,
        schema: &'a Value,
        value: &'v Value,
        path: &mut Vec<Step<'v>>,
        out: &mut Vec<Vec<Seg>>,
    ) {
        let mut all = Vec::new();
        self.branches(schema, &mut all, 0);
        match value {
            Value::Object(members) => self.unknown_members(&all, members, path, out),
            Value::Array(items) => {
                let Some(item_schema) = all
                    .iter()
                    .find_map(|s| s.get("items").filter(|i| i.is_object()))
                else {
                    return;
                };
                for (i, item) in items.iter().enumerate() {
                    path.push(Step::Index(i));
                    self.unknown(item_schema, item, path, out);
                    path.pop();
                }
            }
            _ => {}
        }
    }

    /// The object case of [`Self::unknown`].
    fn unknown_members<'v>(
        &self,
        all: &[&'a Value],
        members: &'v Map<String, Value>,
        path: &mut Vec<Step<'v>>,
        out: &mut Vec<Vec<Seg>>,
    ) {
        let has_properties = all.iter().any(|s| s.get("properties").is_some());
        let additional: Vec<&Value> = all
            .iter()
            .filter_map(|s| s.get("additionalProperties"))
            .collect();
        if !has_properties && additional.is_empty() {
            // A free-form object (`type: object` alone, int-or-string, RawExtension): anything goes.
            return;
        }
        let additional_schema = additional.iter().copied().find(|a| a.is_object());
        let additional_any = additional.iter().any(|a| a.as_bool() == Some(true));
        for (key, child) in members {
            let known = all
                .iter()
                .find_map(|s| s.get("properties").and_then(|p| p.get(key)));
            path.push(Step::Key(key));
            match (known, additional_schema) {
                (Some(s), _) | (None, Some(s)) => self.unknown(s, child, path, out),
                (None, None) if additional_any => {}
                (None, None) => out.push(path.iter().map(|s| s.to_seg()).collect()),
            }
            path.pop();
        }
    }
}

/// Removes the member at `path` (the last segment must be a key); missing paths are ignored.
pub(crate) fn remove(value: &mut Value, path: &[Seg]) {
    let Some((Seg::Key(last), parents)) = path.split_last() else {
        return;
    };
    let mut cur = value;
    for seg in parents {
        let next = match (seg, cur) {
            (Seg::Key(k), Value::Object(m)) => m.get_mut(k),
            (Seg::Index(i), Value::Array(a)) => a.get_mut(*i),
            _ => None,
        };
        match next {
            Some(n) => cur = n,
            None => return,
        }
    }
    if let Value::Object(m) = cur {
        m.shift_remove(last);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn unknown(schema: &Value, v: &Value) -> Vec<String> {
        let mut out = Vec::new();
        Walker::new(schema).unknown(schema, v, &mut Vec::new(), &mut out);
        out.iter().map(|p| render(p)).collect()
    }

    #[test]
    fn walker_should_follow_refs_maps_arrays_and_combinators() {
        let schema = json!({
            "type": "object",
            "properties": {
                "spec": {"$ref": "#/$defs/Spec"},
                "free": {"type": "object"},
                "anything": {"x-kubernetes-int-or-string": true}
            },
            "$defs": {
                "Spec": {"type": ["object", "null"], "properties": {
                    "items": {"type": "array", "items": {"$ref": "#/$defs/Item"}},
                    "labels": {"type": "object", "additionalProperties": {"$ref": "#/$defs/Item"}},
                    "mixed": {"allOf": [{"$ref": "#/$defs/Item"}], "description": "x"}
                }},
                "Item": {"type": "object", "properties": {"name": {"type": "string"}}}
            }
        });
        let v = json!({
            "spec": {"items": [{"name": "a"}, {"name": "b", "namez": 1}], "labels": {"k": {"name": "x", "bad": 2}}, "mixed": {"name": "m", "other": 3}, "specz": 1},
            "free": {"whatever": {"deep": 1}},
            "anything": {"x": 1},
            "top": true
        });
        assert_eq!(
            unknown(&schema, &v),
            vec![
                "spec.items[1].namez",
                "spec.labels.k.bad",
                "spec.mixed.other",
                "spec.specz",
                "top"
            ]
        );
    }

    #[test]
    fn remove_should_delete_members_at_paths() {
        let mut v = json!({"spec": {"containers": [{"name": "a", "imagez": "x"}]}, "top": 1});
        remove(
            &mut v,
            &[
                Seg::Key("spec".into()),
                Seg::Key("containers".into()),
                Seg::Index(0),
                Seg::Key("imagez".into()),
            ],
        );
        remove(&mut v, &[Seg::Key("top".into())]);
        remove(&mut v, &[Seg::Key("missing".into()), Seg::Key("x".into())]);
        assert_eq!(v, json!({"spec": {"containers": [{"name": "a"}]}}));
    }
}
