//! The strategic merge patch algorithm, following the semantics of apimachinery's `strategicpatch`
//! package and the Kubernetes doc "Update API Objects in Place Using kubectl patch".
//!
//! * Maps merge recursively; a `null` value deletes the key.
//! * Lists follow [`ListStrategy`]: replaced whole, unioned (scalars), or merged element-wise by a merge
//!   key, where `{"$patch":"delete", <key>: v}` removes an element.
//! * `$patch: replace` replaces a map (or, as a list element, the whole list); `$patch: delete` removes a
//!   map; `$patch: merge` is the default.
//! * `$setElementOrder/<field>` orders the merged list; `$retainKeys` keeps only the listed keys of a map;
//!   `$deleteFromPrimitiveList/<field>` removes values from a scalar list.
//! * Merged lists are ordered as apimachinery does: the elements named by the patch (or by
//!   `$setElementOrder`) in that order, interleaved with the untouched server elements, which keep their
//!   relative order and go before a patched element that they preceded in the original list.
//! * Every `$` directive is consumed; none is left in the result.

use super::PatchError;
use super::merge_keys::{ListStrategy, list_strategy};
use serde_json::{Map, Value};

const PATCH_DIRECTIVE: &str = "$patch";
const RETAIN_KEYS: &str = "$retainKeys";
const SET_ELEMENT_ORDER: &str = "$setElementOrder/";
const DELETE_FROM_PRIMITIVE_LIST: &str = "$deleteFromPrimitiveList/";

/// Applies a strategic merge `patch` to `original`, an object of `kind`.
///
/// # Errors
/// [`PatchError`] when the patch is not an object, a directive is malformed, or a list element lacks
/// its merge key.
pub(crate) fn apply(kind: &str, original: &Value, patch: &Value) -> Result<Value, PatchError> {
    let Value::Object(patch) = patch else {
        return Err(PatchError(
            "a strategic merge patch must be a JSON object".into(),
        ));
    };
    let original = match original {
        Value::Object(m) => m.clone(),
        Value::Null => Map::new(),
        _ => {
            return Err(PatchError(
                "the object to patch is not a JSON object".into(),
            ));
        }
    };
    let mut merger = Merger {
        kind,
        path: Vec::new(),
    };
    match merger.merge_map(original, patch)? {
        Some(merged) => Ok(Value::Object(merged)),
        None => Err(PatchError(
            "$patch: delete is not allowed on the whole object".into(),
        )),
    }
}

/// The walk state: the kind (for merge keys) and the field path of the current value.
struct Merger<'a> {
    kind: &'a str,
    path: Vec<String>,
}

impl Merger<'_> {
    /// The current path as `a.b.c`, for messages.
    fn where_(&self) -> String {
        if self.path.is_empty() {
            "<root>".into()
        } else {
            self.path.join(".")
        }
    }

    /// Merges `patch` into `original`; `None` means the map is deleted (`$patch: delete`).
    fn merge_map(
        &mut self,
        mut original: Map<String, Value>,
        patch: &Map<String, Value>,
    ) -> Result<Option<Map<String, Value>>, PatchError> {
        match patch.get(PATCH_DIRECTIVE) {
            None => {}
            Some(Value::String(d)) if d == "merge" => {}
            Some(Value::String(d)) if d == "delete" => return Ok(None),
            Some(Value::String(d)) if d == "replace" => {
                let mut rest = patch.clone();
                rest.shift_remove(PATCH_DIRECTIVE);
                return self.merge_map(Map::new(), &rest);
            }
            Some(other) => {
                return Err(PatchError(format!(
                    "unknown $patch directive {other} at {}",
                    self.where_()
                )));
            }
        }
        if let Some(retain) = patch.get(RETAIN_KEYS) {
            self.retain_keys(&mut original, patch, retain)?;
        }
        for (key, values) in patch {
            if let Some(field) = key.strip_prefix(DELETE_FROM_PRIMITIVE_LIST) {
                let Value::Array(values) = values else {
                    return Err(PatchError(format!(
                        "{key} at {} must be a list",
                        self.where_()
                    )));
                };
                if let Some(Value::Array(list)) = original.get_mut(field) {
                    list.retain(|v| !values.contains(v));
                }
            }
        }
        for (key, value) in patch {
            if key.starts_with('$') {
                continue;
            }
            if value.is_null() {
                original.shift_remove(key);
                continue;
            }
            self.path.push(key.clone());
            let merged = self.merge_value(original.get_mut(key).map(Value::take), value, patch);
            self.path.pop();
            match merged? {
                Some(v) => {
                    original.insert(key.clone(), v);
                }
                None => {
                    original.shift_remove(key);
                }
            }
        }
        // `$setElementOrder` for a list the patch does not otherwise touch: only reorder it.
        for (key, order) in patch {
            let Some(field) = key.strip_prefix(SET_ELEMENT_ORDER) else {
                continue;
            };
            if patch.contains_key(field) {
                continue;
            }
            if let Some(Value::Array(list)) = original.get_mut(field) {
                self.path.push(field.to_string());
                let reordered = self.merge_list(std::mem::take(list), &[], Some(order));
                self.path.pop();
                *list = reordered?;
            }
        }
        Ok(Some(original))
    }

    /// Merges one non-null patch value into the original value of the same key (absent: `None`).
    /// `None` in the result removes the key.
    fn merge_value(
        &mut self,
        original: Option<Value>,
        value: &Value,
        parent: &Map<String, Value>,
    ) -> Result<Option<Value>, PatchError> {
        match value {
            Value::Object(p) => {
                let base = match original {
                    Some(Value::Object(m)) => m,
                    _ => Map::new(),
                };
                Ok(self.merge_map(base, p)?.map(Value::Object))
            }
            Value::Array(p) => {
                let base = match original {
                    Some(Value::Array(l)) => l,
                    _ => Vec::new(),
                };
                let field = self.path.last().cloned().unwrap_or_default();
                let order = parent.get(&format!("{SET_ELEMENT_ORDER}{field}"));
                Ok(Some(Value::Array(self.merge_list(base, p, order)?)))
            }
            scalar => Ok(Some(scalar.clone())),
        }
    }

    /// Applies `$retainKeys`: drops original keys not listed, after checking the patch sets no other key.
    fn retain_keys(
        &self,
        original: &mut Map<String, Value>,
        patch: &Map<String, Value>,
        retain: &Value,
    ) -> Result<(), PatchError> {
        let keys: Vec<&str> = match retain {
            Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if !matches!(retain, Value::Array(items) if items.len() == keys.len()) {
            return Err(PatchError(format!(
                "$retainKeys at {} must be a list of strings",
                self.where_()
            )));
        }
        if let Some((k, _)) = patch
            .iter()
            .find(|(k, v)| !k.starts_with('$') && !v.is_null() && !keys.contains(&k.as_str()))
        {
            return Err(PatchError(format!(
                "$retainKeys at {} does not list the key {k:?} that the patch sets",
                self.where_()
            )));
        }
        original.retain(|k, _| keys.contains(&k.as_str()));
        Ok(())
    }

    /// Merges a patch list into the original list by the strategy of the current path; `order` is the
    /// `$setElementOrder` for this field, if any.
    fn merge_list(
        &mut self,
        original: Vec<Value>,
        patch: &[Value],
        order: Option<&Value>,
    ) -> Result<Vec<Value>, PatchError> {
        let strategy = list_strategy(self.kind, &self.path);
        let replace_all = patch.iter().any(|e| {
            e.get(PATCH_DIRECTIVE).and_then(Value::as_str) == Some("replace")
                && !matches!(strategy, ListStrategy::MergeByKey(k) if e.get(k).is_some())
        });
        if strategy == ListStrategy::Replace || replace_all {
            let kept = patch.iter().filter(|e| {
                !(replace_all && e.get(PATCH_DIRECTIVE).and_then(Value::as_str) == Some("replace"))
            });
            let mut out = Vec::with_capacity(patch.len());
            for element in kept {
                out.extend(self.fresh(element)?);
            }
            return Ok(out);
        }
        let order = match order {
            None => None,
            Some(Value::Array(items)) => Some(items.as_slice()),
            Some(_) => {
                return Err(PatchError(format!(
                    "$setElementOrder for {} must be a list",
                    self.where_()
                )));
            }
        };
        match strategy {
            ListStrategy::MergeByKey(key) => self.merge_by_key(original, patch, order, key),
            _ => Ok(merge_primitives(original, patch, order)),
        }
    }

    /// A patch value taken as-is, with its directives applied against nothing (so none survive);
    /// `None` for an element that deletes itself (`$patch: delete`).
    fn fresh(&mut self, value: &Value) -> Result<Option<Value>, PatchError> {
        match value {
            Value::Object(m) => Ok(self.merge_map(Map::new(), m)?.map(Value::Object)),
            other => Ok(Some(other.clone())),
        }
    }

    /// Element-wise merge of lists of objects by `key`.
    fn merge_by_key(
        &mut self,
        original: Vec<Value>,
        patch: &[Value],
        order: Option<&[Value]>,
        key: &str,
    ) -> Result<Vec<Value>, PatchError> {
        // Each element with whether it came from the original list (for the final ordering).
        let mut original: Vec<(Value, bool)> = original.into_iter().map(|v| (v, true)).collect();
        let mut patched_ids = Vec::new();
        for element in patch {
            let Value::Object(element) = element else {
                return Err(PatchError(format!(
                    "{} is merged by {key:?}, but the patch has a non-object element {element}",
                    self.where_()
                )));
            };
            let Some(id) = element.get(key) else {
                return Err(PatchError(format!(
                    "map: {} in {} does not contain declared merge key: {key}",
                    Value::Object(element.clone()),
                    self.where_()
                )));
            };
            if element.get(PATCH_DIRECTIVE).and_then(Value::as_str) == Some("delete") {
                original.retain(|(o, _)| o.get(key) != Some(id));
                continue;
            }
            patched_ids.push(id.clone());
            match original.iter().position(|(o, _)| o.get(key) == Some(id)) {
                Some(i) => {
                    let base = match original[i].0.take() {
                        Value::Object(m) => m,
                        _ => Map::new(),
                    };
                    match self.merge_map(base, element)? {
                        Some(m) => original[i].0 = Value::Object(m),
                        None => {
                            original.remove(i);
                        }
                    }
                }
                None => {
                    if let Some(m) = self.merge_map(Map::new(), element)? {
                        original.push((Value::Object(m), false));
                    }
                }
            }
        }
        let order_ids: Vec<Value> = match order {
            Some(items) => {
                let mut ids = Vec::with_capacity(items.len());
                for item in items {
                    let Some(id) = item.get(key) else {
                        return Err(PatchError(format!(
                            "$setElementOrder for {} has an element {item} without the merge key {key}",
                            self.where_()
                        )));
                    };
                    ids.push(id.clone());
                }
                ids
            }
            None => patched_ids,
        };
        Ok(normalize_order(original, &order_ids, |v| v.get(key)))
    }
}

/// Set union of scalar lists (original first, duplicates dropped), then ordered like map lists.
fn merge_primitives(original: Vec<Value>, patch: &[Value], order: Option<&[Value]>) -> Vec<Value> {
    let mut merged: Vec<(Value, bool)> = original.into_iter().map(|v| (v, true)).collect();
    for v in patch.iter().filter(|v| !v.is_object() && !v.is_null()) {
        if !merged.iter().any(|(m, _)| m == v) {
            merged.push((v.clone(), false));
        }
    }
    let order_ids: Vec<Value> = order.unwrap_or(patch).to_vec();
    normalize_order(merged, &order_ids, itself)
}

/// A scalar list element is its own identity.
fn itself(v: &Value) -> Option<&Value> {
    Some(v)
}

/// Orders a merged list of `(item, came_from_the_original)`, as apimachinery's
/// `normalizeElementOrder` / `mergeSortedSlice` do.
///
/// Items whose id is in `order` (the patch list or `$setElementOrder`) are sorted by it; the others
/// (server-only items, already in server order) are interleaved with them: a server-only item goes
/// before a patched item only when both come from the original list and it preceded that item there.
fn normalize_order(
    merged: Vec<(Value, bool)>,
    order: &[Value],
    id: impl Fn(&Value) -> Option<&Value>,
) -> Vec<Value> {
    let mut patch_items: Vec<(usize, Option<usize>, Value)> = Vec::new();
    let mut server_only: Vec<(Option<usize>, Value)> = Vec::new();
    for (i, (v, from_server)) in merged.into_iter().enumerate() {
        let server_pos = from_server.then_some(i);
        match id(&v).and_then(|k| order.iter().position(|o| o == k)) {
            Some(p) => patch_items.push((p, server_pos, v)),
            None => server_only.push((server_pos, v)),
        }
    }
    patch_items.sort_by_key(|(p, _, _)| *p);
    let mut out = Vec::with_capacity(patch_items.len() + server_only.len());
    let mut left = server_only.into_iter().peekable();
    let mut right = patch_items.into_iter().peekable();
    loop {
        let take_left = match (left.peek(), right.peek()) {
            (Some((Some(li), _)), Some((_, Some(ri), _))) => li < ri,
            (Some(_), Some(_)) => false,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        if take_left {
            out.extend(left.next().map(|(_, v)| v));
        } else {
            out.extend(right.next().map(|(_, _, v)| v));
        }
    }
    out
}
