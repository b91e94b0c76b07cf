//! Patches: JSON merge patch, JSON patch and strategic merge patch.
//! OWNER: helper schemas-c.

use crate::ApiResource;
use serde_json::Value;

/// A patch that cannot be applied; `Display` is the message for a 422 (or 400) Status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PatchError(pub String);

/// RFC 7396 JSON merge patch.
///
/// # Errors
/// Never for well-formed JSON; kept fallible for symmetry.
pub fn merge_patch(target: &Value, patch: &Value) -> Result<Value, PatchError> {
    let _ = (target, patch);
    todo!("schemas-c")
}

/// RFC 6902 JSON patch.
///
/// # Errors
/// [`PatchError`] when an operation fails (bad path, failed `test`).
pub fn json_patch(target: &Value, patch: &Value) -> Result<Value, PatchError> {
    let _ = (target, patch);
    todo!("schemas-c")
}

/// Kubernetes strategic merge patch for `resource`'s kind.
///
/// # Errors
/// [`PatchError`] on malformed directives.
pub fn strategic_merge_patch(resource: &ApiResource, original: &Value, patch: &Value) -> Result<Value, PatchError> {
    let _ = (resource, original, patch);
    todo!("schemas-c")
}
