//! The seed's scheduler API, beside the resource paths (routed before them, so `scheduler` is
//! never taken for a resource plural):
//!
//! - `GET /api/v1/scheduler/policies`: the built-in scoring policies
//!   ([`mock_k8_controllers::scheduler::policies`]: names, descriptions, filters, weighted score
//!   plugins with their formulas, the total and the tie-break) and which one is the cluster
//!   default ([`super::ApiOptions::scheduler_policy`]).
//! - `POST /api/v1/scheduler/bind` with a Kubernetes `Binding` (`metadata.name` the pod,
//!   `metadata.namespace` defaulting to `default`, `target.name` the node): binds by hand through
//!   [`super::subresource::bind_pod`], the path of the `pods/{name}/binding` subresource.

use super::error::ApiError;
use super::{ApiState, read_body, respond, subresource};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use mock_k8_controllers::scheduler::policies as builtin_policies;
use mock_k8_schemas::{StatusCause, decode, meta};
use serde_json::{Value, json};

/// The policy list document: `{"kind": "SchedulerPolicyList", "apiVersion": "v1", "default":
/// NAME, "items": [{name, description, filters, plugins: [{name, weight, formula}], total,
/// tieBreak, default}]}`.
pub fn policy_list(default: &str) -> Value {
    let items: Vec<Value> = builtin_policies()
        .into_iter()
        .filter_map(|p| {
            let is_default = p.name.eq_ignore_ascii_case(default);
            let mut v = serde_json::to_value(p).ok()?;
            v["default"] = json!(is_default);
            Some(v)
        })
        .collect();
    let default_name = items
        .iter()
        .find(|p| p["default"] == true)
        .and_then(|p| p["name"].as_str())
        .unwrap_or(default)
        .to_string();
    json!({"kind": "SchedulerPolicyList", "apiVersion": "v1", "default": default_name, "items": items})
}

/// `GET /api/v1/scheduler/policies`.
pub async fn policies(State(state): State<ApiState>) -> Response {
    respond::json_value(
        StatusCode::OK,
        &policy_list(&state.options.scheduler_policy),
    )
}

/// `POST /api/v1/scheduler/bind`.
pub async fn bind(State(state): State<ApiState>, req: Request<Body>) -> Response {
    bind_inner(&state, req)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn bind_inner(state: &ApiState, req: Request<Body>) -> Result<Response, ApiError> {
    let (parts, body) = req.into_parts();
    let bytes = read_body(body, &parts.headers, state.options.max_body_bytes).await?;
    let content_type = parts
        .headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    super::object::check_media_type(content_type)?;
    let binding = decode::parse_body(&bytes, content_type)?.value;
    if let Some(kind) = binding
        .get("kind")
        .and_then(Value::as_str)
        .filter(|k| *k != "Binding")
    {
        return Err(ApiError::bad_request(format!(
            "the kind in the data ({kind}) does not match the expected kind (Binding)"
        )));
    }
    let name = meta::name(&binding).to_string();
    if name.is_empty() {
        let cause = StatusCause {
            reason: "FieldValueRequired".into(),
            message: "Required value: the pod to bind".into(),
            field: "metadata.name".into(),
        };
        return Err(mock_k8_schemas::Status::invalid("", "Binding", "", vec![cause]).into());
    }
    let namespace = match meta::namespace(&binding) {
        "" => "default".to_string(),
        ns => ns.to_string(),
    };
    let dry_run = parts
        .uri
        .query()
        .is_some_and(|q| q.split('&').any(|kv| kv == "dryRun=All"));
    let target = parts
        .uri
        .path_and_query()
        .map_or("/api/v1/scheduler/bind", |p| p.as_str());
    let request = super::nko::Request {
        method: parts.method.as_str(),
        target,
        headers: &parts.headers,
        body: &bytes,
    };
    let pods = mock_k8_schemas::resource::by_plural("", "v1", "pods")
        .ok_or_else(|| ApiError::internal("bind", "pods are not served"))?;
    let key = pods.key(&namespace, &name);
    let mut admission =
        super::nko::admit_request(state, &request, |_| crate::nko::admission::Write {
            key,
            op: mock_k8_nko::record::Op::Update,
            body: None,
        })?;
    super::nko::manual_binding_proof(&mut admission, &bytes);
    let bound = subresource::bind_pod(state, &namespace, &name, &binding, dry_run);
    crate::nko::admission::scope(admission, bound).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_list_should_mark_the_default() {
        let list = policy_list("mostallocated");
        assert_eq!(list["default"], "MostAllocated");
        let items = list["items"].as_array().expect("items");
        assert_eq!(items.len(), 3);
        let defaults: Vec<_> = items.iter().filter(|p| p["default"] == true).collect();
        assert_eq!(defaults.len(), 1);
        assert_eq!(defaults[0]["name"], "MostAllocated");
        assert!(items[0]["plugins"][0]["formula"].is_string());
        assert!(items[0]["plugins"][0]["weight"].is_i64());
    }
}
