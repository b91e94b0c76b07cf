//! The `binding` subresource of Pods and the `scale` subresource of Deployments and ReplicaSets.
//!
//! - `POST pods/{name}/binding` with a `Binding` assigns the pod to `target.name` (Kubernetes'
//!   `BindingREST`): sets `spec.nodeName` and a `PodScheduled=True` condition; 409 when the pod is
//!   already bound or being deleted, 422 when the node does not exist, 403 (verification enabled)
//!   when the pod no longer fits the node ([`crate::nko::feasibility`]); answers a `Status` Success
//!   with code 201 ([`bind_pod`], shared with `POST /api/v1/scheduler/bind`).
//! - `GET|PUT|PATCH {deployments,replicasets}/{name}/scale` reads or writes `spec.replicas` through an
//!   `autoscaling/v1` `Scale`.

use super::crud::{self, ObjRef, WRITE_RETRIES};
use super::error::ApiError;
use super::object;
use super::respond;
use super::{ApiState, Ctx};
use crate::store::{StoreError, WriteOp};
use axum::http::StatusCode;
use axum::response::Response;
use bytes::Bytes;
use mock_k8_schemas::{Status, StatusCause, decode, meta, resource};
use serde_json::{Value, json};

/// `POST .../pods/{name}/binding`: [`bind_pod`] in the URL's namespace (`default` on the seed's
/// namespace-less form).
pub async fn bind(ctx: &Ctx, body: &[u8]) -> Result<Response, ApiError> {
    object::check_media_type(ctx.content_type())?;
    let binding = decode::parse_body(body, ctx.content_type())?.value;
    let pod_name = ctx.path.name.clone().unwrap_or_default();
    let body_name = meta::name(&binding);
    if !body_name.is_empty() && body_name != pod_name {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({body_name}) does not match the name on the URL ({pod_name})"
        )));
    }
    // The seed's `/api/v1/pods/{id}/binding` may name the pod by uid.
    let (r, _) = crud::resolve(&ctx.state, &ctx.path)?;
    bind_pod(
        &ctx.state,
        &r.namespace,
        &r.name,
        &binding,
        ctx.params.dry_run,
    )
    .await
}

/// Binds pod `namespace/name` to the node `binding.target.name` (Kubernetes' `BindingREST`):
/// sets `spec.nodeName` and a `PodScheduled=True` condition, retrying on concurrent writes.
/// Answers a `Status` Success with code 201. The one validated path of the `binding` subresource
/// and of `POST /api/v1/scheduler/bind`.
///
/// # Errors
/// 422 Invalid when `target.name` is empty or names no Node; 404 when the pod does not exist;
/// 409 Conflict when it is already bound or being deleted; 503 when the store is unavailable.
pub async fn bind_pod(
    state: &ApiState,
    namespace: &str,
    name: &str,
    binding: &Value,
    dry_run: bool,
) -> Result<Response, ApiError> {
    let node = binding
        .get("target")
        .and_then(|t| t.get("name"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if node.is_empty() {
        let cause = StatusCause {
            reason: "FieldValueRequired".into(),
            message: "Required value".into(),
            field: "target.name".into(),
        };
        return Err(Status::invalid("", "Binding", name, vec![cause]).into());
    }
    let pods = resource::by_plural("", "v1", "pods")
        .ok_or_else(|| ApiError::internal("resources", "pods not served"))?;
    let nodes = resource::by_plural("", "v1", "nodes")
        .ok_or_else(|| ApiError::internal("resources", "nodes not served"))?;
    let r = ObjRef {
        resource: pods,
        namespace: namespace.to_string(),
        name: name.to_string(),
    };
    for attempt in 0..WRITE_RETRIES {
        let cur = state
            .store
            .get(&r.key())
            .ok_or_else(|| ApiError::not_found(pods, name))?;
        let mut pod = crud::parse_stored(&cur)?;
        let conflict = |why: String| -> ApiError {
            Status::new(
                409,
                "Conflict",
                format!("Operation cannot be fulfilled on pods/binding \"{name}\": {why}"),
            )
            .with_object("", "pods/binding", name)
            .into()
        };
        if let Some(bound) = pod
            .get("spec")
            .and_then(|s| s.get("nodeName"))
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
        {
            return Err(conflict(format!(
                "pod {name} is already assigned to node \"{bound}\""
            )));
        }
        if meta::str_field(&pod, "deletionTimestamp").is_some() {
            return Err(conflict(format!(
                "pod {name} is being deleted, cannot be assigned to a host"
            )));
        }
        if state.store.get(&nodes.key("", &node)).is_none() {
            let cause = StatusCause {
                reason: "FieldValueNotFound".into(),
                message: format!("Not found: \"{node}\": no Node of that name exists"),
                field: "target.name".into(),
            };
            return Err(Status::invalid("", "Binding", name, vec![cause]).into());
        }
        if state.nko.enforced
            && let Err(why) = state.nko.ledger.check(&state.store, &pod, &node)
        {
            return Err(Status::new(
                403,
                "Forbidden",
                format!("binding of pod {namespace}/{name} refused: {why}"),
            )
            .with_object("", "pods/binding", name)
            .into());
        }
        set_node(&mut pod, &node);
        if dry_run {
            break;
        }
        meta::remove(&mut pod, "resourceVersion");
        let op = WriteOp::Update {
            key: r.key(),
            object: (&pod).into(),
            expected_rv: Some(cur.resource_version),
        };
        match state.store.write(op).await {
            Ok(_) => break,
            Err(StoreError::Conflict) if attempt + 1 < WRITE_RETRIES => continue,
            Err(e) => return Err(ApiError::from_store(e, r.resource, &r.name)),
        }
    }
    let ok = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201});
    Ok(respond::json_value(StatusCode::CREATED, &ok))
}

/// Sets `spec.nodeName` and replaces (or adds) the `PodScheduled` condition with `True`.
fn set_node(pod: &mut Value, node: &str) {
    let Some(map) = pod.as_object_mut() else {
        return;
    };
    let spec = map.entry("spec").or_insert_with(|| json!({}));
    if let Some(s) = spec.as_object_mut() {
        s.insert("nodeName".into(), json!(node));
    }
    let status = map.entry("status").or_insert_with(|| json!({}));
    let Some(st) = status.as_object_mut() else {
        return;
    };
    let conds = st.entry("conditions").or_insert_with(|| json!([]));
    if !conds.is_array() {
        *conds = json!([]);
    }
    if let Some(list) = conds.as_array_mut() {
        list.retain(|c| c.get("type").and_then(Value::as_str) != Some("PodScheduled"));
        list.push(json!({"type": "PodScheduled", "status": "True", "lastProbeTime": null, "lastTransitionTime": object::now_rfc3339()}));
    }
}

/// The `autoscaling/v1` `Scale` view of a Deployment or ReplicaSet.
pub fn scale_of(resource: &mock_k8_schemas::ApiResource, obj: &Value) -> Value {
    let md = obj.get("metadata").cloned().unwrap_or_else(|| json!({}));
    let pick = |f: &str| md.get(f).cloned().unwrap_or(Value::Null);
    let mut scale_md = json!({"name": pick("name"), "uid": pick("uid"), "resourceVersion": pick("resourceVersion"), "creationTimestamp": pick("creationTimestamp")});
    if resource.namespaced {
        scale_md["namespace"] = pick("namespace");
    }
    let replicas = obj
        .get("spec")
        .and_then(|s| s.get("replicas"))
        .and_then(Value::as_i64)
        .unwrap_or(1);
    let current = obj
        .get("status")
        .and_then(|s| s.get("replicas"))
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let selector = obj
        .get("spec")
        .and_then(|s| s.get("selector"))
        .map(selector_string)
        .unwrap_or_default();
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": scale_md,
        "spec": {"replicas": replicas},
        "status": {"replicas": current, "selector": selector},
    })
}

/// A `LabelSelector` object in its string form (`app=web,tier in (a,b)`), requirements sorted by
/// key as Kubernetes prints them.
fn selector_string(sel: &Value) -> String {
    let mut parts: Vec<(String, String)> = Vec::new();
    if let Some(m) = sel.get("matchLabels").and_then(Value::as_object) {
        for (k, v) in m {
            parts.push((k.clone(), format!("{k}={}", v.as_str().unwrap_or(""))));
        }
    }
    for e in sel
        .get("matchExpressions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let key = e
            .get("key")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let values: Vec<&str> = e
            .get("values")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let text = match e.get("operator").and_then(Value::as_str).unwrap_or("") {
            "In" => format!("{key} in ({})", values.join(",")),
            "NotIn" => format!("{key} notin ({})", values.join(",")),
            "Exists" => key.clone(),
            "DoesNotExist" => format!("!{key}"),
            _ => continue,
        };
        parts.push((key, text));
    }
    parts.sort();
    parts
        .into_iter()
        .map(|(_, t)| t)
        .collect::<Vec<_>>()
        .join(",")
}

/// The object to store after a Scale write: `old` with `spec.replicas` from `scale`.
///
/// # Errors
/// 422 Invalid when `spec.replicas` is missing, not an integer, or negative.
pub fn apply_scale(r: &ObjRef, old: &Value, scale: &Value) -> Result<Value, ApiError> {
    let replicas = scale.get("spec").and_then(|s| s.get("replicas"));
    let n = match replicas.and_then(Value::as_i64) {
        Some(n) if n >= 0 && n <= i64::from(i32::MAX) => n,
        _ => {
            let shown = replicas
                .map(Value::to_string)
                .unwrap_or_else(|| "null".into());
            let cause = StatusCause {
                reason: "FieldValueInvalid".into(),
                message: format!("Invalid value: {shown}: must be greater than or equal to 0"),
                field: "spec.replicas".into(),
            };
            return Err(Status::invalid("autoscaling", "Scale", &r.name, vec![cause]).into());
        }
    };
    let mut new = object::merge_update(r.resource, object::View::Main, old, old.clone());
    if let Some(spec) = new.get_mut("spec").and_then(Value::as_object_mut) {
        spec.insert("replicas".into(), json!(n));
    } else if let Some(map) = new.as_object_mut() {
        map.insert("spec".into(), json!({"replicas": n}));
    }
    Ok(new)
}

/// Answers the Scale of the stored object JSON `stored`.
///
/// # Errors
/// 500 when the stored JSON does not parse.
pub fn scale_response(r: &ObjRef, stored: &Bytes, code: StatusCode) -> Result<Response, ApiError> {
    let v: Value = serde_json::from_slice(stored)
        .map_err(|e| ApiError::internal("stored object is not JSON", e))?;
    Ok(respond::json_value(code, &scale_of(r.resource, &v)))
}

/// `GET .../{name}/scale`.
pub async fn get_scale(ctx: &Ctx) -> Result<Response, ApiError> {
    let (r, cur) = crud::resolve(&ctx.state, &ctx.path)?;
    Ok(respond::json_value(
        StatusCode::OK,
        &scale_of(r.resource, &crud::parse_stored(&cur)?),
    ))
}

/// `PUT .../{name}/scale` with a `Scale` body: sets `spec.replicas` (conditional on the Scale's
/// `metadata.resourceVersion` when given).
pub async fn put_scale(ctx: &Ctx, body: &[u8]) -> Result<Response, ApiError> {
    object::check_media_type(ctx.content_type())?;
    let scale = decode::parse_body(body, ctx.content_type())?.value;
    let (r, cur) = crud::resolve(&ctx.state, &ctx.path)?;
    let old = crud::parse_stored(&cur)?;
    let expected = match meta::str_field(&scale, "resourceVersion").filter(|s| !s.is_empty()) {
        Some(s) => Some(
            s.parse::<u64>()
                .map_err(|_| ApiError::bad_request(format!("invalid resourceVersion {s:?}")))?,
        ),
        None => None,
    };
    let candidate = apply_scale(&r, &old, &scale)?;
    let stored = crud::commit_update(
        &ctx.state,
        &r,
        &cur,
        &old,
        candidate,
        expected,
        ctx.params.dry_run,
    )
    .await?;
    scale_response(&r, &stored, StatusCode::OK)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mock_k8_schemas::resource::by_plural;

    #[test]
    fn scale_of_should_project_replicas_and_selector() {
        let d = by_plural("apps", "v1", "deployments").expect("deployments");
        let obj = json!({"metadata": {"name": "web", "namespace": "a", "resourceVersion": "4"},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]}]}},
            "status": {"replicas": 2}});
        let s = scale_of(d, &obj);
        assert_eq!(
            (
                s["spec"]["replicas"].clone(),
                s["status"]["replicas"].clone()
            ),
            (json!(3), json!(2))
        );
        assert_eq!(s["status"]["selector"], "app=web,tier in (a,b)");
        assert_eq!(s["metadata"]["resourceVersion"], "4");
    }

    #[test]
    fn apply_scale_should_set_replicas_and_reject_negative() {
        let d = by_plural("apps", "v1", "deployments").expect("deployments");
        let r = ObjRef {
            resource: d,
            namespace: "a".into(),
            name: "web".into(),
        };
        let old = json!({"metadata": {"name": "web", "namespace": "a"}, "spec": {"replicas": 1, "template": {}}});
        let new = apply_scale(&r, &old, &json!({"spec": {"replicas": 5}})).expect("ok");
        assert_eq!(
            (
                new["spec"]["replicas"].clone(),
                new["spec"]["template"].clone()
            ),
            (json!(5), json!({}))
        );
        assert_eq!(
            apply_scale(&r, &old, &json!({"spec": {"replicas": -1}}))
                .map(|_| ())
                .unwrap_err()
                .code(),
            422
        );
    }

    #[test]
    fn set_node_should_bind_and_mark_scheduled() {
        let mut pod = json!({"spec": {}, "status": {"conditions": [{"type": "PodScheduled", "status": "False"}]}});
        set_node(&mut pod, "n1");
        assert_eq!(pod["spec"]["nodeName"], "n1");
        let conds = pod["status"]["conditions"].as_array().expect("conditions");
        assert_eq!(conds.len(), 1);
        assert_eq!(conds[0]["status"], "True");
    }
}
