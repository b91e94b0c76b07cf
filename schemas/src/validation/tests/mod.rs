//! Table-driven tests of [`validate_create`] and [`validate_update`], including the shared manifests in
//! `/work/shared/manifests` (translated by hand into JSON as the decoder would hand them over: nulls removed,
//! namespace filled in, generated names set).

use super::*;
use crate::resource::RESOURCES;
use serde_json::{Value, json};

fn res(kind: &str) -> &'static ApiResource {
    RESOURCES
        .iter()
        .find(|r| r.kind == kind)
        .unwrap_or_else(|| panic!("no resource {kind}"))
}

/// `(field, reason)` of each cause.
fn fields(causes: &[StatusCause]) -> Vec<(String, String)> {
    causes
        .iter()
        .map(|c| (c.field.clone(), c.reason.clone()))
        .collect()
}

fn create(obj: &Value) -> Vec<StatusCause> {
    let kind = obj["kind"].as_str().expect("test objects carry a kind");
    validate_create(res(kind), obj)
}

fn pod(spec: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"}, "spec": spec})
}

/// `(case, object, expected field, expected reason)`.
type Case = (&'static str, Value, &'static str, &'static str);

fn nginx() -> Value {
    json!({"name": "nginx", "image": "nginx"})
}

fn template(app: &str, containers: Value) -> Value {
    json!({"metadata": {"labels": {"app": app}}, "spec": {"containers": containers}})
}

fn rs(spec: Value) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "r", "namespace": "d"}, "spec": spec})
}

fn deploy(strategy: Value) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": "d"},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": template("web", json!([nginx()])), "strategy": strategy}})
}

mod invalid;
mod invalid_pod;
mod manifests;
mod update;
