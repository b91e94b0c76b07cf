//! `PATCH`, dispatched on the request's content type (Kubernetes API concepts, "Patch operations"):
//! JSON merge patch (RFC 7396), JSON patch (RFC 6902), strategic merge patch, and server-side apply
//! (`application/apply-patch+yaml`).
//!
//! Every patch reads the live object, applies the patch, and goes through the same update pipeline
//! as PUT, conditional on the revision it read; when a concurrent write wins, it retries on the
//! fresh object. A `metadata.resourceVersion` inside the patch is an explicit precondition (409 when
//! stale, no retry), as `kubectl diff` uses it. A patch that changes nothing writes nothing.
//!
//! Server-side apply here is "create, or strategic-merge the applied configuration onto the live
//! object". It does NOT track field ownership (`managedFields`), so it never answers 409 for a
//! field owned by another manager (`force` is accepted and has no effect), and it does not remove
//! fields a manager stopped applying: only fields set to `null` in the applied configuration are
//! removed.

use super::Ctx;
use super::crud::{self, ObjRef, WRITE_RETRIES};
use super::error::ApiError;
use super::object::{self, View};
use super::respond;
use super::subresource;
use crate::store::StoreError;
use axum::http::StatusCode;
use axum::response::Response;
use mock_k8_schemas::{Status, StatusCause, decode, meta, patch as patches};
use serde_json::Value;

/// The four patch types, by content type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchType {
    /// `application/merge-patch+json`.
    Merge,
    /// `application/json-patch+json`.
    Json,
    /// `application/strategic-merge-patch+json`.
    Strategic,
    /// `application/apply-patch+yaml` (server-side apply).
    Apply,
}

impl PatchType {
    /// The patch type of a `Content-Type` value (parameters ignored).
    ///
    /// # Errors
    /// 415 UnsupportedMediaType naming the accepted types.
    pub fn from_content_type(ct: Option<&str>) -> Result<PatchType, ApiError> {
        let essence = ct
            .unwrap_or("")
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match essence.as_str() {
            "application/merge-patch+json" => Ok(PatchType::Merge),
            "application/json-patch+json" => Ok(PatchType::Json),
            "application/strategic-merge-patch+json" => Ok(PatchType::Strategic),
            "application/apply-patch+yaml" | "application/apply-patch+json" => Ok(PatchType::Apply),
            _ => Err(ApiError::unsupported_patch_type(ct.unwrap_or(""))),
        }
    }
}

/// Applies `patch` of type `kind` to `target` (for the scale subresource, `target` is the Scale
/// view and strategic merge is a plain merge: a Scale has no lists).
///
/// # Errors
/// 422 Invalid with the patch's error message (a bad JSON-patch path, a failed `test`, a malformed
/// directive).
pub fn apply_patch(
    kind: PatchType,
    ctx: &Ctx,
    target: &Value,
    patch: &Value,
) -> Result<Value, ApiError> {
    let res = match kind {
        PatchType::Merge => patches::merge_patch(target, patch),
        PatchType::Json => patches::json_patch(target, patch),
        PatchType::Strategic | PatchType::Apply
            if ctx.path.subresource.as_deref() == Some("scale") =>
        {
            patches::merge_patch(target, patch)
        }
        PatchType::Strategic | PatchType::Apply => {
            patches::strategic_merge_patch(ctx.path.resource, target, patch)
        }
    };
    res.map_err(|e| {
        let cause = StatusCause {
            reason: "FieldValueInvalid".into(),
            message: e.to_string(),
            field: "patch".into(),
        };
        let mut s = Status::new(422, "Invalid", e.to_string());
        s.details.get_or_insert_with(Default::default).causes = vec![cause];
        ApiError::from(s)
    })
}

/// 422 `Invalid` for a server-side apply without `fieldManager`: Kubernetes'
/// `ValidatePatchOptions` requires it on apply patches (kubectl sends `fieldManager=kubectl`;
/// controllers must set their own).
fn field_manager_required() -> ApiError {
    let cause = StatusCause {
        reason: "FieldValueRequired".into(),
        message: "Required value: is required for apply patch".into(),
        field: "fieldManager".into(),
    };
    let mut s = Status::invalid("meta.k8s.io", "PatchOptions", "", vec![cause]);
    s.message = "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch".into();
    if let Some(d) = s.details.as_mut() {
        d.name = None;
    }
    ApiError::from(s)
}

/// `PATCH` an object, its `status` or its `scale`.
pub async fn patch(ctx: &Ctx, body: &[u8]) -> Result<Response, ApiError> {
    let kind = PatchType::from_content_type(ctx.content_type())?;
    if kind == PatchType::Apply {
        if ctx.params.field_manager.is_none() {
            return Err(field_manager_required());
        }
        return apply(ctx, body).await;
    }
    let parsed = decode::parse_body(body, Some("application/json"))?;
    let patch = parsed.value;
    match kind {
        PatchType::Json if !patch.is_array() => {
            return Err(ApiError::bad_request(
                "a JSON patch must be a JSON array of operations",
            ));
        }
        PatchType::Merge | PatchType::Strategic if !patch.is_object() => {
            return Err(ApiError::bad_request("a merge patch must be a JSON object"));
        }
        _ => {}
    }
    let view = view_of(ctx);
    for attempt in 0..WRITE_RETRIES {
        let (r, cur) = crud::resolve(&ctx.state, &ctx.path)?;
        let cur_value = crud::parse_stored(&cur)?;
        let is_scale = ctx.path.subresource.as_deref() == Some("scale");
        let target = if is_scale {
            subresource::scale_of(r.resource, &cur_value)
        } else {
            cur_value.clone()
        };
        let mut patched = apply_patch(kind, ctx, &target, &patch)?;
        if !is_scale {
            object::check_identity(r.resource, &cur_value, &patched, &r.name, &r.namespace)?;
        }
        let warnings = if is_scale {
            Vec::new()
        } else {
            object::field_check(
                r.resource,
                &mut patched,
                &parsed.duplicate_fields,
                ctx.params.field_validation,
            )?
        };
        let (expected, explicit) = precondition(&patched, cur.resource_version)?;
        let candidate = if is_scale {
            subresource::apply_scale(&r, &cur_value, &patched)?
        } else {
            object::merge_update(r.resource, view, &cur_value, patched)
        };
        match crud::commit_update(
            &ctx.state,
            &r,
            &cur,
            &cur_value,
            candidate,
            Some(expected),
            ctx.params.dry_run,
        )
        .await
        {
            Err(e) if is_conflict(&e) && !explicit && attempt + 1 < WRITE_RETRIES => continue,
            Err(e) => return Err(e),
            Ok(stored) if is_scale => {
                return subresource::scale_response(&r, &stored, StatusCode::OK);
            }
            Ok(stored) => {
                return Ok(respond::with_warnings(
                    respond::json_bytes(StatusCode::OK, stored),
                    &warnings,
                ));
            }
        }
    }
    Err(ApiError::from_store(
        StoreError::Conflict,
        ctx.path.resource,
        ctx.path.name.as_deref().unwrap_or(""),
    ))
}

/// Server-side apply: creates the object from the applied configuration when it does not exist
/// (201), otherwise strategic-merges the configuration onto the live object (200). See the module
/// documentation for what it does not detect.
async fn apply(ctx: &Ctx, body: &[u8]) -> Result<Response, ApiError> {
    let resource = ctx.path.resource;
    let parsed = decode::parse_body(body, Some("application/yaml"))?;
    let mut config = parsed.value;
    object::check_kind(resource, &mut config)?;
    let warnings = object::field_check(
        resource,
        &mut config,
        &parsed.duplicate_fields,
        ctx.params.field_validation,
    )?;
    let target = ObjRef::of_path(&ctx.path);
    let name = meta::name(&config).to_string();
    if name.is_empty() {
        meta::set(&mut config, "name", Value::String(target.name.clone()));
    } else if name != target.name {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({name}) does not match the name on the URL ({})",
            target.name
        )));
    }
    let url_ns = if resource.namespaced {
        Some(target.namespace.as_str())
    } else {
        None
    };
    object::place_namespace(resource, &mut config, url_ns)?;
    let view = view_of(ctx);
    for attempt in 0..WRITE_RETRIES {
        let Some(cur) = ctx.state.store.get(&target.key()) else {
            if ctx.path.subresource.is_some() {
                return Err(ApiError::not_found(resource, &target.name));
            }
            match crud::commit_create(&ctx.state, resource, config.clone(), ctx.params.dry_run)
                .await
            {
                Err(e) if e.status().reason == "AlreadyExists" && attempt + 1 < WRITE_RETRIES => {
                    continue;
                }
                Err(e) => return Err(e),
                Ok(stored) => {
                    return Ok(respond::with_warnings(
                        respond::json_bytes(StatusCode::CREATED, stored),
                        &warnings,
                    ));
                }
            }
        };
        let cur_value = crud::parse_stored(&cur)?;
        let merged = apply_patch(PatchType::Apply, ctx, &cur_value, &config)?;
        let (expected, explicit) = precondition(&merged, cur.resource_version)?;
        let candidate = object::merge_update(resource, view, &cur_value, merged);
        match crud::commit_update(
            &ctx.state,
            &target,
            &cur,
            &cur_value,
            candidate,
            Some(expected),
            ctx.params.dry_run,
        )
        .await
        {
            Err(e) if is_conflict(&e) && !explicit && attempt + 1 < WRITE_RETRIES => continue,
            Err(e) => return Err(e),
            Ok(stored) => {
                return Ok(respond::with_warnings(
                    respond::json_bytes(StatusCode::OK, stored),
                    &warnings,
                ));
            }
        }
    }
    Err(ApiError::from_store(
        StoreError::Conflict,
        resource,
        &target.name,
    ))
}

/// The view a patch path addresses.
fn view_of(ctx: &Ctx) -> View {
    if ctx.path.subresource.as_deref() == Some("status") {
        View::Status
    } else {
        View::Main
    }
}

/// The revision the write is conditional on: the patch's own `metadata.resourceVersion` when it set
/// one different from the live object's (explicit), else the revision read (implicit, retried).
///
/// # Errors
/// 400 BadRequest for a non-numeric resourceVersion in the patch.
fn precondition(patched: &Value, current: u64) -> Result<(u64, bool), ApiError> {
    match meta::str_field(patched, "resourceVersion").filter(|s| !s.is_empty()) {
        None => Ok((current, false)),
        Some(s) => {
            let rv = s
                .parse::<u64>()
                .map_err(|_| ApiError::bad_request(format!("invalid resourceVersion {s:?}")))?;
            Ok((rv, rv != current))
        }
    }
}

fn is_conflict(e: &ApiError) -> bool {
    e.status().reason == "Conflict"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_content_type_should_know_the_four_patch_types() {
        assert_eq!(
            PatchType::from_content_type(Some("application/merge-patch+json")).expect("ok"),
            PatchType::Merge
        );
        assert_eq!(
            PatchType::from_content_type(Some("application/json-patch+json; charset=utf-8"))
                .expect("ok"),
            PatchType::Json
        );
        assert_eq!(
            PatchType::from_content_type(Some("application/strategic-merge-patch+json"))
                .expect("ok"),
            PatchType::Strategic
        );
        assert_eq!(
            PatchType::from_content_type(Some("application/apply-patch+yaml")).expect("ok"),
            PatchType::Apply
        );
        assert_eq!(
            PatchType::from_content_type(Some("application/json"))
                .map(|_| ())
                .unwrap_err()
                .code(),
            415
        );
        assert_eq!(
            PatchType::from_content_type(None)
                .map(|_| ())
                .unwrap_err()
                .code(),
            415
        );
    }

    #[test]
    fn precondition_should_tell_explicit_from_implicit() {
        let none = serde_json::json!({"metadata": {}});
        assert_eq!(precondition(&none, 7).expect("ok"), (7, false));
        let same = serde_json::json!({"metadata": {"resourceVersion": "7"}});
        assert_eq!(precondition(&same, 7).expect("ok"), (7, false));
        let stale = serde_json::json!({"metadata": {"resourceVersion": "3"}});
        assert_eq!(precondition(&stale, 7).expect("ok"), (3, true));
        assert!(
            precondition(
                &serde_json::json!({"metadata": {"resourceVersion": "x"}}),
                7
            )
            .is_err()
        );
    }
}
