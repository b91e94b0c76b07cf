//! GET, LIST, POST, PUT and DELETE on resources, with Kubernetes' REST semantics (API concepts,
//! "Efficient detection of changes", "Resource versions", "Dry-run"), and the shared create/update
//! pipelines PATCH and the subresources use.

use super::error::ApiError;
use super::object::{self, View};
use super::respond;
use super::routes::ResourcePath;
use super::select::Selection;
use super::table;
use super::{ApiState, Ctx};
use super::{admission, deletion};
use crate::store::{StoreError, StoredObject, WriteOp};
use axum::http::StatusCode;
use axum::response::Response;
use bytes::Bytes;
use mock_k8_schemas::{ApiResource, Status, decode, meta, validation};
use serde_json::{Value, json};
use std::sync::Arc;

/// How often a write retries when its generated name exists already or a concurrent write
/// changed the object (PATCH, binding).
pub const WRITE_RETRIES: usize = 5;

/// One object, by kind, namespace (empty for cluster-scoped kinds) and name.
#[derive(Debug, Clone)]
pub struct ObjRef {
    /// Its kind.
    pub resource: &'static ApiResource,
    /// Its namespace, or `""`.
    pub namespace: String,
    /// Its name.
    pub name: String,
}

impl ObjRef {
    /// The object's store key.
    pub fn key(&self) -> String {
        self.resource.key(&self.namespace, &self.name)
    }

    /// The object a non-collection path names, without looking it up (seed ids are taken as names
    /// in `default`).
    pub fn of_path(path: &ResourcePath) -> ObjRef {
        let ns = if path.resource.namespaced {
            path.namespace.clone().unwrap_or_else(|| "default".into())
        } else {
            String::new()
        };
        ObjRef {
            resource: path.resource,
            namespace: ns,
            name: path.name.clone().unwrap_or_default(),
        }
    }
}

/// Finds the object a path names. On the seed's `/api/v1/{plural}/{id}` form (and for cluster-scoped
/// kinds when no object has that name), `id` may also be the object's uid.
///
/// # Errors
/// 404 NotFound naming the path's name or id.
pub fn resolve(
    state: &ApiState,
    path: &ResourcePath,
) -> Result<(ObjRef, Arc<StoredObject>), ApiError> {
    let r = ObjRef::of_path(path);
    if let Some(obj) = state.store.get(&r.key()) {
        return Ok((r, obj));
    }
    if path.is_seed_id() || !path.resource.namespaced {
        let (objects, _) = state.store.list(&path.resource.key_prefix());
        for obj in objects {
            let Ok(v) = serde_json::from_str::<Value>(&obj.json) else {
                continue;
            };
            if meta::str_field(&v, "uid") == Some(r.name.as_str()) {
                let found = ObjRef {
                    resource: path.resource,
                    namespace: meta::namespace(&v).to_string(),
                    name: meta::name(&v).to_string(),
                };
                return Ok((found, obj));
            }
        }
    }
    Err(ApiError::not_found(path.resource, &r.name))
}

/// Parses a stored object's JSON.
///
/// # Errors
/// 500 (logged) when the store holds something that is not JSON.
pub fn parse_stored(obj: &StoredObject) -> Result<Value, ApiError> {
    serde_json::from_str(&obj.json)
        .map_err(|e| ApiError::internal("stored object is not JSON", format!("{}: {e}", obj.key)))
}

/// `GET` one object (or its `status`), as JSON or as a one-row Table.
pub async fn get(ctx: &Ctx) -> Result<Response, ApiError> {
    let (r, obj) = resolve(&ctx.state, &ctx.path)?;
    if table::wants_table(&ctx.headers) {
        let v = parse_stored(&obj)?;
        let row = table::row(
            r.resource,
            &v,
            ctx.params.include_object,
            object::now_unix_seconds(),
        );
        return Ok(respond::json_value(
            StatusCode::OK,
            &table::table(
                r.resource,
                vec![row],
                obj.resource_version,
                true,
                None,
                None,
            ),
        ));
    }
    Ok(respond::json_bytes(
        StatusCode::OK,
        respond::shared_json(&obj.json),
    ))
}

/// The objects a selection covers, in key order, and the revision of the snapshot.
pub fn select_objects(state: &ApiState, sel: &Selection) -> (Vec<Arc<StoredObject>>, u64) {
    if let Some(name) = sel.pinned_name() {
        // `metadata.name=X` within one namespace (or cluster-scoped): one key to read.
        let ns = sel
            .prefix
            .strip_prefix(&sel.resource.key_prefix())
            .and_then(|rest| rest.strip_suffix('/'));
        if ns.is_some() || !sel.resource.namespaced {
            let rev = state.store.revision();
            let found = state.store.get(&sel.resource.key(ns.unwrap_or(""), name));
            let objects = found
                .into_iter()
                .filter(|o| sel.matches_stored(o))
                .collect();
            return (objects, rev);
        }
    }
    let (all, rev) = state.store.list(&sel.prefix);
    (
        all.into_iter().filter(|o| sel.matches_stored(o)).collect(),
        rev,
    )
}

/// The version tag inside continue tokens, as Kubernetes writes it.
const CONTINUE_VERSION: &str = "meta.k8s.io/v1";

/// Encodes the continue token of a page that ended at the store key `last`: the hex of
/// `{"v":"meta.k8s.io/v1","start":last}` (opaque, URL-safe).
pub fn encode_continue(last: &str) -> String {
    let text = json!({"v": CONTINUE_VERSION, "start": last}).to_string();
    text.bytes().map(|b| format!("{b:02x}")).collect()
}

/// Decodes a continue token made by [`encode_continue`] for a list under the key `prefix`: the
/// key the previous page ended at.
///
/// # Errors
/// 400 BadRequest (`continue key is not valid: ...`) for a token that does not decode, or that
/// belongs to another resource or namespace.
pub fn decode_continue(token: &str, prefix: &str) -> Result<String, ApiError> {
    let invalid = |why: &str| ApiError::bad_request(format!("continue key is not valid: {why}"));
    let bytes: Option<Vec<u8>> = if token.len().is_multiple_of(2) && token.is_ascii() {
        (0..token.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&token[i..i + 2], 16).ok())
            .collect()
    } else {
        None
    };
    let bytes =
        bytes.ok_or_else(|| invalid("the token is not encoded as this server encodes it"))?;
    let value: Value =
        serde_json::from_slice(&bytes).map_err(|_| invalid("the token does not decode"))?;
    if value.get("v").and_then(Value::as_str) != Some(CONTINUE_VERSION) {
        return Err(invalid(&format!(
            "the token is not of version {CONTINUE_VERSION}"
        )));
    }
    let start = value
        .get("start")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("the token names no start key"))?;
    if !start.starts_with(prefix) || start.len() == prefix.len() {
        return Err(invalid("the token belongs to another list"));
    }
    Ok(start.to_string())
}

/// `LIST` a collection: a `{Kind}List` (or a Table) with `metadata.resourceVersion`, filtered by the
/// selectors, paged by `limit`/`continue` (the token encodes the last key of the previous page:
/// see [`encode_continue`]).
///
/// Every page shows the live state at the time it is read (with that revision as its
/// `resourceVersion`), not a snapshot at the first page's resourceVersion as Kubernetes serves.
///
/// `resourceVersionMatch=Exact` (Kubernetes' "list at an exact revision") is served only at the
/// store's current revision, the one state this server keeps: a newer one waits up to
/// [`super::watch::TOO_LARGE_RV_WAIT`] (then 504), an older one is 410 Expired, as Kubernetes
/// answers for a compacted revision; the client lists again without it.
pub async fn list(ctx: &Ctx) -> Result<Response, ApiError> {
    let sel = Selection::new(&ctx.path, &ctx.params)?;
    let resource = sel.resource;
    let after = match ctx.params.continue_token.as_deref() {
        Some(token) => Some(decode_continue(token, &sel.prefix)?),
        None => None,
    };
    let exact = match ctx.params.resource_version_match.as_deref() {
        Some("Exact") => match ctx
            .params
            .resource_version
            .as_deref()
            .map(str::parse::<u64>)
        {
            Some(Ok(n)) => Some(n),
            _ => {
                return Err(ApiError::bad_request(
                    "resourceVersionMatch \"Exact\" needs a numeric resourceVersion",
                ));
            }
        },
        _ => None,
    };
    if let Some(n) = exact {
        super::watch::wait_for_revision(&ctx.state, n).await?;
    }
    let (mut objects, rev) = select_objects(&ctx.state, &sel);
    if let Some(n) = exact.filter(|n| *n != rev) {
        return Err(Status::expired(format!("too old resource version: {n} ({rev})")).into());
    }
    if let Some(after) = after.as_deref() {
        objects.retain(|o| o.key.as_str() > after);
    }
    let mut next = None;
    let mut remaining = None;
    if let Some(limit) = ctx.params.limit.filter(|l| *l > 0 && *l < objects.len()) {
        remaining = Some(objects.len() - limit);
        objects.truncate(limit);
        next = objects.last().map(|o| encode_continue(&o.key));
    }
    if table::wants_table(&ctx.headers) {
        let now = object::now_unix_seconds();
        let mut rows = Vec::with_capacity(objects.len());
        for o in &objects {
            rows.push(table::row(
                resource,
                &parse_stored(o)?,
                ctx.params.include_object,
                now,
            ));
        }
        let t = table::table(resource, rows, rev, true, next.as_deref(), remaining);
        return Ok(respond::json_value(StatusCode::OK, &t));
    }
    let mut md = json!({"resourceVersion": rev.to_string()});
    if let (Some(c), Some(n)) = (&next, remaining) {
        md["continue"] = json!(c);
        md["remainingItemCount"] = json!(n);
    }
    // The items are the stored JSON texts, spliced in without re-encoding.
    let head = format!(
        r#"{{"kind":"{}","apiVersion":"{}","metadata":{md},"items":["#,
        resource.list_kind(),
        resource.api_version()
    );
    let mut body = Vec::with_capacity(
        head.len() + objects.iter().map(|o| o.json.len() + 1).sum::<usize>() + 2,
    );
    body.extend_from_slice(head.as_bytes());
    for (i, o) in objects.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(o.json.as_bytes());
    }
    body.extend_from_slice(b"]}");
    Ok(respond::json_bytes(StatusCode::OK, Bytes::from(body)))
}

/// `POST` to a collection: decode, check fields, place in the namespace, then [`commit_create`].
/// Answers 201 with the stored object (with `dryRun=All`, what would be stored).
pub async fn create(ctx: &Ctx, body: &[u8]) -> Result<Response, ApiError> {
    let resource = ctx.path.resource;
    let decoded = object::decode_body(
        resource,
        body,
        ctx.content_type(),
        ctx.params.field_validation,
    )?;
    let mut obj = decoded.value;
    object::place_namespace(resource, &mut obj, ctx.path.namespace.as_deref())?;
    let stored = commit_create(&ctx.state, resource, obj, ctx.params.dry_run).await?;
    Ok(respond::with_warnings(
        respond::json_bytes(StatusCode::CREATED, stored),
        &decoded.warnings,
    ))
}

/// Creates `obj` (already placed in its namespace): server fields, normalization, validation, then
/// the store write, retrying with a new generated name when a `generateName` name is taken.
/// Returns the stored JSON (with `dry_run`, the object that would be stored).
///
/// # Errors
/// 400 for undecodable fields, 422 Invalid with every cause, 409 AlreadyExists, 404 for a missing
/// namespace, 503 when the store is unavailable.
pub async fn commit_create(
    state: &ApiState,
    resource: &'static ApiResource,
    mut obj: Value,
    dry_run: bool,
) -> Result<Bytes, ApiError> {
    let generated = meta::name(&obj).is_empty()
        && meta::str_field(&obj, "generateName").is_some_and(|g| !g.is_empty());
    object::prepare_create(resource, &mut obj)?;
    let admitted = admission::admit_create(state, resource, &mut obj)?;
    let result = store_new(state, resource, obj, generated, dry_run).await;
    admitted.finish(state, result.as_ref().is_ok_and(|(stored, _)| *stored));
    result.map(|(_, bytes)| bytes)
}

/// Normalizes, validates and stores an admitted new object; `(true, json)` when it was stored.
async fn store_new(
    state: &ApiState,
    resource: &'static ApiResource,
    obj: Value,
    generated: bool,
    dry_run: bool,
) -> Result<(bool, Bytes), ApiError> {
    let mut obj = object::kind_first(decode::normalize(resource, obj)?);
    let causes = validation::validate_create(resource, &obj);
    if !causes.is_empty() {
        return Err(
            Status::invalid(resource.group, resource.kind, meta::name(&obj), causes).into(),
        );
    }
    if dry_run {
        return Ok((
            false,
            Bytes::from(serde_json::to_vec(&obj).unwrap_or_default()),
        ));
    }
    for attempt in 0..WRITE_RETRIES {
        let key = resource.key(meta::namespace(&obj), meta::name(&obj));
        match state
            .store
            .write(WriteOp::Create {
                key,
                object: (&obj).into(),
            })
            .await
        {
            Ok(stored) => return Ok((true, respond::shared_json(&stored.json))),
            Err(StoreError::AlreadyExists) if generated && attempt + 1 < WRITE_RETRIES => {
                meta::remove(&mut obj, "name");
                object::generate_name(&mut obj)?;
            }
            Err(e) => return Err(ApiError::from_store(e, resource, meta::name(&obj))),
        }
    }
    Err(ApiError::from_store(
        StoreError::AlreadyExists,
        resource,
        meta::name(&obj),
    ))
}

/// Stores `candidate` (built by [`object::merge_update`]) over `old`: normalization, generation,
/// `validate_update`, then — unless it changes nothing, in which case `old` is answered unchanged
/// and nothing is written — the store write with `expected_rv` as precondition.
///
/// # Errors
/// 409 Conflict when `expected_rv` is stale, 400/422 for bad objects, 404 when the object vanished.
pub async fn commit_update(
    state: &ApiState,
    r: &ObjRef,
    old: &StoredObject,
    old_value: &Value,
    candidate: Value,
    expected_rv: Option<u64>,
    dry_run: bool,
) -> Result<Bytes, ApiError> {
    if expected_rv.is_some_and(|rv| rv != old.resource_version) {
        return Err(ApiError::from_store(
            StoreError::Conflict,
            r.resource,
            &r.name,
        ));
    }
    let mut candidate = candidate;
    let admitted = admission::admit_update(state, r.resource, old_value, &mut candidate)?;
    let result = store_update(state, r, old, old_value, candidate, expected_rv, dry_run).await;
    admitted.finish(state, result.as_ref().is_ok_and(|(stored, _)| *stored));
    result.map(|(_, bytes)| bytes)
}

/// Normalizes, validates and stores an admitted update; `(true, json)` when it was written. An
/// update that empties the finalizers of an object marked for deletion removes it
/// ([`deletion::delete_on_update`]).
async fn store_update(
    state: &ApiState,
    r: &ObjRef,
    old: &StoredObject,
    old_value: &Value,
    candidate: Value,
    expected_rv: Option<u64>,
    dry_run: bool,
) -> Result<(bool, Bytes), ApiError> {
    let mut new = object::kind_first(decode::normalize(r.resource, candidate)?);
    object::bump_generation(old_value, &mut new);
    let causes = validation::validate_update(r.resource, old_value, &new);
    if !causes.is_empty() {
        return Err(Status::invalid(r.resource.group, r.resource.kind, &r.name, causes).into());
    }
    if object::same_object(old_value, &new) {
        return Ok((false, respond::shared_json(&old.json)));
    }
    if dry_run {
        meta::set(
            &mut new,
            "resourceVersion",
            json!(old.resource_version.to_string()),
        );
        return Ok((
            false,
            Bytes::from(serde_json::to_vec(&new).unwrap_or_default()),
        ));
    }
    if deletion::delete_on_update(old_value, &new) {
        let gone = deletion::remove(state, r, old_value, Some(old.resource_version))
            .await
            .map_err(|e| ApiError::from_store(e, r.resource, &r.name))?;
        return Ok((false, gone));
    }
    let op = WriteOp::Update {
        key: r.key(),
        object: (&new).into(),
        expected_rv,
    };
    let stored = state
        .store
        .write(op)
        .await
        .map_err(|e| ApiError::from_store(e, r.resource, &r.name))?;
    Ok((true, respond::shared_json(&stored.json)))
}

/// `PUT` an object or its `status`: the body replaces the object (status semantics per
/// [`View`]); with `metadata.resourceVersion` it is a conditional update (409 when stale),
/// without one it is unconditional. Another name or namespace than the URL's is a 400, another
/// `metadata.uid` than the stored one a 422 (see [`object::check_identity`]).
pub async fn update(ctx: &Ctx, body: &[u8], view: View) -> Result<Response, ApiError> {
    let resource = ctx.path.resource;
    let decoded = object::decode_body(
        resource,
        body,
        ctx.content_type(),
        ctx.params.field_validation,
    )?;
    let mut new = decoded.value;
    let (r, old) = match resolve(&ctx.state, &ctx.path) {
        Ok(found) => found,
        Err(e)
            if e.code() == 404
                && view == View::Main
                && CREATE_ON_UPDATE.contains(&resource.kind) =>
        {
            return create_on_update(ctx, new, decoded.warnings).await;
        }
        Err(e) => return Err(e),
    };
    let body_name = meta::name(&new);
    if body_name.is_empty() {
        meta::set(&mut new, "name", json!(r.name));
    } else if body_name != r.name {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({body_name}) does not match the name on the URL ({})",
            r.name
        )));
    }
    let url_ns = if ctx.path.is_seed_id() {
        Some(r.namespace.as_str())
    } else {
        ctx.path.namespace.as_deref()
    };
    object::place_namespace(resource, &mut new, url_ns)?;
    let old_value = parse_stored(&old)?;
    object::check_identity(resource, &old_value, &new, &r.name, &r.namespace)?;
    let expected_rv = match meta::str_field(&new, "resourceVersion").filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(
            s.parse::<u64>()
                .map_err(|_| ApiError::bad_request(format!("invalid resourceVersion {s:?}")))?,
        ),
    };
    let candidate = object::merge_update(resource, view, &old_value, new);
    let stored = commit_update(
        &ctx.state,
        &r,
        &old,
        &old_value,
        candidate,
        expected_rv,
        ctx.params.dry_run,
    )
    .await?;
    Ok(respond::with_warnings(
        respond::json_bytes(StatusCode::OK, stored),
        &decoded.warnings,
    ))
}

/// Kinds whose PUT creates a missing object (their Kubernetes strategies' `AllowCreateOnUpdate`).
const CREATE_ON_UPDATE: &[&str] = &["Endpoints", "Event", "Lease", "EndpointSlice"];

/// `PUT` of a missing object of a [`CREATE_ON_UPDATE`] kind: creates it (201).
async fn create_on_update(
    ctx: &Ctx,
    mut obj: Value,
    warnings: Vec<String>,
) -> Result<Response, ApiError> {
    let r = ObjRef::of_path(&ctx.path);
    let body_name = meta::name(&obj);
    if body_name.is_empty() {
        meta::set(&mut obj, "name", json!(r.name));
    } else if body_name != r.name {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({body_name}) does not match the name on the URL ({})",
            r.name
        )));
    }
    object::place_namespace(r.resource, &mut obj, Some(r.namespace.as_str()))?;
    let stored = commit_create(&ctx.state, r.resource, obj, ctx.params.dry_run).await?;
    Ok(respond::with_warnings(
        respond::json_bytes(StatusCode::CREATED, stored),
        &warnings,
    ))
}

/// Namespaces Kubernetes refuses to delete.
const UNDELETABLE_NAMESPACES: &[&str] = &["default", "kube-system", "kube-public"];

/// `DELETE` an object: 200 with the deleted object, or with the object marked for deletion
/// (graceful pod deletion, finalizers: see [`deletion`]). A JSON or YAML `DeleteOptions` body
/// contributes `gracePeriodSeconds`, `preconditions.uid` and `preconditions.resourceVersion`; an
/// empty or protobuf body (`kubectl drain`) is ignored; an invalid one is refused (400, or 422
/// for a bad `propagationPolicy`) before anything is deleted. Deleting a Namespace deletes everything in it.
pub async fn delete(ctx: &Ctx, body: &[u8]) -> Result<Response, ApiError> {
    let (r, _) = resolve(&ctx.state, &ctx.path)?;
    if r.resource.kind == "Namespace" && UNDELETABLE_NAMESPACES.contains(&r.name.as_str()) {
        return Err(Status::new(
            403,
            "Forbidden",
            format!(
                "namespaces \"{}\" is forbidden: this namespace may not be deleted",
                r.name
            ),
        )
        .with_object("", "namespaces", &r.name)
        .into());
    }
    let opts = deletion::DeleteOptions::parse(body, ctx.content_type(), &ctx.params)?;
    let answer = deletion::delete(&ctx.state, &r, &opts).await?;
    Ok(respond::json_bytes(StatusCode::OK, answer))
}

/// `DELETE` a collection (`deletecollection`): deletes (or, as [`delete`], marks) every selected
/// object and answers the list of them. Objects that vanish meanwhile are skipped.
pub async fn delete_collection(ctx: &Ctx) -> Result<Response, ApiError> {
    let sel = Selection::new(&ctx.path, &ctx.params)?;
    let (objects, mut rev) = select_objects(&ctx.state, &sel);
    let mut items = Vec::with_capacity(objects.len());
    let opts = deletion::DeleteOptions::parse(&[], None, &ctx.params)?;
    for o in objects {
        let Some(name) = o.key.rsplit('/').next() else {
            continue;
        };
        let value = parse_stored(&o)?;
        let r = ObjRef {
            resource: sel.resource,
            namespace: meta::namespace(&value).to_string(),
            name: name.to_string(),
        };
        match deletion::delete(&ctx.state, &r, &opts).await {
            Ok(answer) => {
                let v: Value = serde_json::from_slice(&answer)
                    .map_err(|e| ApiError::internal("stored object is not JSON", e))?;
                if let Some(n) =
                    meta::str_field(&v, "resourceVersion").and_then(|s| s.parse::<u64>().ok())
                {
                    rev = rev.max(n);
                }
                items.push(v);
            }
            Err(e) if e.code() == 404 => {}
            Err(e) => return Err(e),
        }
    }
    let list = json!({"kind": sel.resource.list_kind(), "apiVersion": sel.resource.api_version(), "metadata": {"resourceVersion": rev.to_string()}, "items": items});
    Ok(respond::json_value(StatusCode::OK, &list))
}

/// Creates the namespace `name` if it does not exist (server start-up).
///
/// # Errors
/// Store failures other than AlreadyExists.
pub async fn ensure_namespace(state: &ApiState, name: &str) -> Result<(), ApiError> {
    let ns = mock_k8_schemas::resource::by_kind("v1", "Namespace")
        .ok_or_else(|| ApiError::internal("resources", "Namespace not served"))?;
    if state.store.get(&ns.key("", name)).is_some() {
        return Ok(());
    }
    let obj =
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}, "spec": {}});
    match commit_create(state, ns, obj, false).await {
        Ok(_) => Ok(()),
        Err(e) if e.status().reason == "AlreadyExists" => Ok(()),
        Err(e) => Err(e),
    }
}
