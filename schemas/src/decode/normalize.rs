//! Type-checking a decoded object as its kind and putting it in the form the API server stores.

use crate::quantity::Quantity;
use crate::{ApiResource, Status};
use k8s_openapi::api::{apps, coordination, core, discovery};
use serde::Deserialize;
use serde_json::{Map, Value};

/// Type-checks `obj` as `resource`'s kind and normalizes it (quantities to canonical form).
///
/// Steps, as the Kubernetes API server decodes a body:
/// 1. JSON `null` members are removed, recursively (Kubernetes decodes `null` as unset).
/// 2. `apiVersion` and `kind`, when present, must name `resource`.
/// 3. Resource quantities are parsed and rewritten canonically (`cpu: 1` → `"1"`, `0.5` → `"500m"`)
///    at the paths Kubernetes types as `Quantity`: container/pod `resources.{requests,limits}`, pod
///    `overhead` (also under a workload's `spec.template.spec`) and Node `status.{capacity,allocatable}`.
/// 4. The object is deserialized as its k8s-openapi type to check field types.
///
/// The returned value is the normalized JSON, not a re-serialization of the typed struct: unknown
/// fields are kept for the API layer (field validation) to decide on.
///
/// # Errors
/// 400 BadRequest [`Status`]: `Pod in version "v1" cannot be handled as a Pod: <reason>` for a bad
/// quantity or a type error; `the API version in the data (apps/v1) does not match the expected API
/// version (v1)` or `the kind in the data (Service) does not match the expected kind (Pod)` for a
/// mismatched `apiVersion`/`kind`.
#[allow(
    clippy::result_large_err,
    reason = "the contract returns the Kubernetes Status as the error"
)]
pub fn normalize(resource: &ApiResource, obj: Value) -> Result<Value, Status> {
    let mut obj = obj;
    remove_nulls(&mut obj);
    let Some(map) = obj.as_object_mut() else {
        return Err(cannot_handle(resource, "the body must be a JSON object"));
    };
    if let Some(Value::String(v)) = map.get("apiVersion")
        && *v != resource.api_version()
    {
        return Err(Status::bad_request(format!(
            "the API version in the data ({v}) does not match the expected API version ({})",
            resource.api_version()
        )));
    }
    if let Some(Value::String(k)) = map.get("kind")
        && k != resource.kind
    {
        return Err(Status::bad_request(format!(
            "the kind in the data ({k}) does not match the expected kind ({})",
            resource.kind
        )));
    }
    for path in quantity_paths(resource.kind) {
        canonicalize_at(&mut obj, &path).map_err(|e| cannot_handle(resource, e))?;
    }
    type_check(resource.kind, &obj).map_err(|e| cannot_handle(resource, e))?;
    Ok(obj)
}

/// `Pod in version "v1" cannot be handled as a Pod: <reason>` (400 BadRequest).
fn cannot_handle(resource: &ApiResource, reason: impl std::fmt::Display) -> Status {
    Status::bad_request(format!(
        "{kind} in version \"{}\" cannot be handled as a {kind}: {reason}",
        resource.version,
        kind = resource.kind
    ))
}

/// Removes object members whose value is `null`, at every depth (array elements are kept).
fn remove_nulls(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|_, v| !v.is_null());
            m.values_mut().for_each(remove_nulls);
        }
        Value::Array(a) => a.iter_mut().for_each(remove_nulls),
        _ => {}
    }
}

/// Paths of maps of quantities for `kind`; `*` steps into every element of an array.
fn quantity_paths(kind: &str) -> Vec<Vec<&'static str>> {
    let pod_spec: &[&str] = match kind {
        "Pod" => &["spec"],
        "ReplicaSet" | "Deployment" => &["spec", "template", "spec"],
        "Node" => return vec![vec!["status", "capacity"], vec!["status", "allocatable"]],
        _ => return Vec::new(),
    };
    let mut out = Vec::new();
    for list in ["containers", "initContainers", "ephemeralContainers"] {
        for field in ["requests", "limits"] {
            out.push([pod_spec, &[list, "*", "resources", field]].concat());
        }
    }
    out.push([pod_spec, &["overhead"]].concat());
    for field in ["requests", "limits"] {
        out.push([pod_spec, &["resources", field]].concat());
    }
    out
}

/// Rewrites every value of the quantity map(s) found at `path` in canonical form.
///
/// A JSON number is read as its decimal text (`1` → `"1"`); strings are parsed; other types are left
/// for the type check to reject.
fn canonicalize_at(v: &mut Value, path: &[&str]) -> Result<(), crate::quantity::QuantityError> {
    match path.split_first() {
        None => match v {
            Value::Object(m) => canonicalize_map(m),
            _ => Ok(()),
        },
        Some((&"*", rest)) => match v {
            Value::Array(items) => items
                .iter_mut()
                .try_for_each(|item| canonicalize_at(item, rest)),
            _ => Ok(()),
        },
        Some((key, rest)) => match v.get_mut(*key) {
            Some(child) => canonicalize_at(child, rest),
            None => Ok(()),
        },
    }
}

/// Canonicalizes each quantity value of one resource map (`{cpu: 1, memory: 1.5Gi}`).
fn canonicalize_map(m: &mut Map<String, Value>) -> Result<(), crate::quantity::QuantityError> {
    for value in m.values_mut() {
        let text = match value {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            _ => continue,
        };
        *value = Value::String(Quantity::parse(&text)?.canonical());
    }
    Ok(())
}

/// Deserializes `obj` as the k8s-openapi type of `kind`, for its type errors only.
fn type_check(kind: &str, obj: &Value) -> Result<(), serde_json::Error> {
    match kind {
        "Pod" => core::v1::Pod::deserialize(obj).map(drop),
        "Service" => core::v1::Service::deserialize(obj).map(drop),
        "Node" => core::v1::Node::deserialize(obj).map(drop),
        "Namespace" => core::v1::Namespace::deserialize(obj).map(drop),
        "Endpoints" => core::v1::Endpoints::deserialize(obj).map(drop),
        "Event" => core::v1::Event::deserialize(obj).map(drop),
        "Lease" => coordination::v1::Lease::deserialize(obj).map(drop),
        "ReplicaSet" => apps::v1::ReplicaSet::deserialize(obj).map(drop),
        "Deployment" => apps::v1::Deployment::deserialize(obj).map(drop),
        "EndpointSlice" => discovery::v1::EndpointSlice::deserialize(obj).map(drop),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::by_kind;
    use serde_json::json;

    fn pod() -> &'static ApiResource {
        by_kind("v1", "Pod").expect("pods served")
    }

    #[test]
    fn normalize_should_canonicalize_quantities_at_known_paths() {
        let obj = json!({
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labels": null},
            "spec": {
                "containers": [{"name": "a", "image": "x", "resources": {"requests": {"cpu": 1, "memory": "1.5Gi"}, "limits": {"cpu": 0.5}}}],
                "initContainers": [{"name": "i", "image": "x", "resources": {"limits": {"memory": "1024Mi"}}}],
                "overhead": {"cpu": "1000m"},
                "nodeSelector": {"cpu": "1.441"}
            }
        });
        let out = normalize(pod(), obj).expect("valid pod");
        let c = &out["spec"]["containers"][0]["resources"];
        assert_eq!(c["requests"]["cpu"], "1");
        assert_eq!(c["requests"]["memory"], "1536Mi");
        assert_eq!(c["limits"]["cpu"], "500m");
        assert_eq!(
            out["spec"]["initContainers"][0]["resources"]["limits"]["memory"],
            "1Gi"
        );
        assert_eq!(out["spec"]["overhead"]["cpu"], "1");
        assert_eq!(
            out["spec"]["nodeSelector"]["cpu"], "1.441",
            "not a quantity path"
        );
        assert!(out["metadata"].get("labels").is_none(), "nulls removed");
    }

    #[test]
    fn normalize_should_canonicalize_workload_templates_and_node_status() {
        let deploy = by_kind("apps/v1", "Deployment").expect("served");
        let obj = json!({"spec": {"selector": {}, "template": {"spec": {"containers": [{"name": "a", "resources": {"limits": {"memory": "0.5Ki"}}}]}}}});
        let out = normalize(deploy, obj).expect("valid");
        assert_eq!(
            out["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"],
            "512"
        );
        let node = by_kind("v1", "Node").expect("served");
        let out = normalize(node, json!({"status": {"capacity": {"cpu": 4, "memory": "8Gi"}, "allocatable": {"pods": "110"}}})).expect("valid");
        assert_eq!(out["status"]["capacity"]["cpu"], "4");
        assert_eq!(out["status"]["allocatable"]["pods"], "110");
    }

    #[test]
    fn normalize_should_reject_bad_quantities_with_kubernetes_message() {
        for bad in [json!("512mi"), json!("1.5.5Gi"), json!("")] {
            let obj = json!({"spec": {"containers": [{"name": "a", "resources": {"requests": {"memory": bad}}}]}});
            let err = normalize(pod(), obj).expect_err("invalid quantity");
            assert_eq!(err.code, 400);
            assert_eq!(err.reason, "BadRequest");
            assert_eq!(
                err.message,
                "Pod in version \"v1\" cannot be handled as a Pod: quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
            );
        }
    }

    #[test]
    fn normalize_should_reject_type_errors_and_mismatched_kinds() {
        let err = normalize(
            pod(),
            json!({"spec": {"containers": [{"name": "a", "ports": [{"containerPort": "x"}]}]}}),
        )
        .expect_err("type error");
        assert!(
            err.message
                .starts_with("Pod in version \"v1\" cannot be handled as a Pod: "),
            "{}",
            err.message
        );
        assert_eq!(err.code, 400);
        let err = normalize(pod(), json!({"apiVersion": "apps/v1", "kind": "Pod"}))
            .expect_err("wrong version");
        assert_eq!(
            err.message,
            "the API version in the data (apps/v1) does not match the expected API version (v1)"
        );
        let err = normalize(pod(), json!({"apiVersion": "v1", "kind": "Service"}))
            .expect_err("wrong kind");
        assert_eq!(err.code, 400);
        assert!(normalize(pod(), json!([1])).is_err());
    }

    #[test]
    fn normalize_should_keep_unknown_fields() {
        let out = normalize(
            pod(),
            json!({"metadata": {"name": "p"}, "spec": {"containerz": 1}}),
        )
        .expect("unknown fields are not type errors");
        assert_eq!(out["spec"]["containerz"], 1);
    }
}
