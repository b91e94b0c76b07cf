//! Patches: JSON merge patch (RFC 7396), JSON patch (RFC 6902) and Kubernetes strategic merge patch.
//!
//! The three `PATCH` content types kube-apiserver accepts: `application/merge-patch+json`,
//! `application/json-patch+json` and `application/strategic-merge-patch+json`. Each function is pure:
//! it returns the patched copy and leaves its inputs untouched.
//!
//! # Layout
//! - [`merge_keys`]: the per-kind table of list strategies and merge keys (`patchMergeKey` tags).
//! - `strategic`: the strategic merge patch algorithm and its directives.

pub mod merge_keys;
mod strategic;

use crate::ApiResource;
use serde_json::Value;

/// A patch that cannot be applied; `Display` is the message for a 422 (or 400) Status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PatchError(pub String);

/// RFC 7396 JSON merge patch: objects merge recursively, `null` deletes a key, anything else
/// (lists included) replaces the target value. Returns the patched copy of `target`.
///
/// # Errors
/// Never for well-formed JSON; kept fallible for symmetry.
pub fn merge_patch(target: &Value, patch: &Value) -> Result<Value, PatchError> {
    let mut doc = target.clone();
    json_patch::merge(&mut doc, patch);
    Ok(doc)
}

/// RFC 6902 JSON patch: applies the operations of `patch` (a JSON array of `add`, `remove`, `replace`,
/// `move`, `copy`, `test`) in order, atomically, and returns the patched copy of `target`.
///
/// # Errors
/// [`PatchError`] when the patch is not a list of valid operations, or an operation fails (bad path,
/// failed `test`); the message names the operation index and path.
pub fn json_patch(target: &Value, patch: &Value) -> Result<Value, PatchError> {
    let ops: json_patch::Patch = serde_json::from_value(patch.clone())
        .map_err(|e| PatchError(format!("invalid JSON patch: {e}")))?;
    let mut doc = target.clone();
    json_patch::patch(&mut doc, &ops.0).map_err(|e| {
        let op = ops.0.get(e.operation).map(op_name).unwrap_or("unknown");
        PatchError(format!("JSON patch {op} {e}"))
    })?;
    Ok(doc)
}

/// The RFC 6902 name of an operation, for error messages.
fn op_name(op: &json_patch::PatchOperation) -> &'static str {
    match op {
        json_patch::PatchOperation::Add(_) => "add",
        json_patch::PatchOperation::Remove(_) => "remove",
        json_patch::PatchOperation::Replace(_) => "replace",
        json_patch::PatchOperation::Move(_) => "move",
        json_patch::PatchOperation::Copy(_) => "copy",
        json_patch::PatchOperation::Test(_) => "test",
    }
}

/// Kubernetes strategic merge patch for `resource`'s kind: returns the patched copy of `original`.
///
/// Follows apimachinery's `strategicpatch` semantics (see the Kubernetes doc "Update API Objects in
/// Place Using kubectl patch"): maps merge recursively and `null` deletes; lists are merged by the
/// merge keys of [`merge_keys::list_strategy`] or replaced whole; the directives `$patch`
/// (`merge`/`replace`/`delete`), `$setElementOrder/<field>`, `$retainKeys` and
/// `$deleteFromPrimitiveList/<field>` are honoured and never stored.
///
/// # Errors
/// [`PatchError`] when the patch is not an object, on malformed directives, or when an element of a
/// keyed list lacks its merge key.
pub fn strategic_merge_patch(
    resource: &ApiResource,
    original: &Value,
    patch: &Value,
) -> Result<Value, PatchError> {
    strategic::apply(resource.kind, original, patch)
}

#[cfg(test)]
mod tests;
