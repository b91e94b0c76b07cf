//! Semantic validation of objects, producing 422 `Invalid` causes with field paths.
//! OWNER: helper schemas-a.

use crate::{ApiResource, StatusCause};
use serde_json::Value;

/// Validates an object about to be created. Empty result = valid.
pub fn validate_create(resource: &ApiResource, obj: &Value) -> Vec<StatusCause> {
    let _ = (resource, obj);
    todo!("schemas-a")
}

/// Validates an update of `old` to `new`: everything [`validate_create`] checks on `new`, plus
/// immutability rules (e.g. a Pod's spec). Empty result = valid.
pub fn validate_update(resource: &ApiResource, old: &Value, new: &Value) -> Vec<StatusCause> {
    let _ = (resource, old, new);
    todo!("schemas-a")
}
