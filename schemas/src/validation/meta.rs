//! `metadata` validation for every kind (Kubernetes' `ValidateObjectMeta` / `ValidateObjectMetaUpdate`), and the
//! label, annotation and label-selector checks other validators share.

use super::causes::{Causes, arr, get, s};
use super::names;
use crate::ApiResource;
use serde_json::Value;

/// Kubernetes' `TotalAnnotationSizeLimitB`: the sum of all annotation keys and values, in bytes.
pub(crate) const TOTAL_ANNOTATION_SIZE_LIMIT_BYTES: usize = 256 * 1024;

/// The name syntax of `kind`: DNS-1035 label for Services, DNS-1123 label for Namespaces, DNS-1123
/// subdomain for everything else (Kubernetes' `ValidateServiceName`, `ValidateNamespaceName`, `NameIsDNSSubdomain`).
fn name_check(kind: &str) -> fn(&str) -> Vec<String> {
    match kind {
        "Service" => names::dns1035_label,
        "Namespace" => names::dns1123_label,
        _ => names::dns1123_subdomain,
    }
}

/// Validates `metadata`: name (or generateName) present and well formed, namespace present exactly for
/// namespaced kinds, labels, annotations, owner references and finalizers.
pub(crate) fn validate_object_meta(c: &mut Causes, resource: &ApiResource, obj: &Value) {
    let meta = get(obj, "metadata");
    let check = name_check(resource.kind);
    let name = s(meta, "name");
    if name.is_empty() {
        c.required("metadata.name", "name or generateName is required");
    } else {
        c.invalid_each("metadata.name", name, check(name));
    }
    let generate = s(meta, "generateName");
    if !generate.is_empty() {
        // Kubernetes masks one trailing dash: `testing-` is a valid prefix.
        let masked = match generate.strip_suffix('-') {
            Some(head) if !head.is_empty() => format!("{head}a"),
            _ => generate.to_string(),
        };
        c.invalid_each("metadata.generateName", generate, check(&masked));
    }
    let namespace = s(meta, "namespace");
    if resource.namespaced {
        if namespace.is_empty() {
            c.required("metadata.namespace", "");
        } else {
            c.invalid_each(
                "metadata.namespace",
                namespace,
                names::dns1123_label(namespace),
            );
        }
    } else if !namespace.is_empty() {
        c.forbidden("metadata.namespace", "not allowed on this type");
    }
    validate_labels(c, get(meta, "labels"), "metadata.labels");
    validate_annotations(c, get(meta, "annotations"), "metadata.annotations");
    validate_owner_references(c, meta);
    for f in arr(meta, "finalizers") {
        let f = f.as_str().unwrap_or("");
        c.invalid_each("metadata.finalizers", f, names::qualified_name(f));
    }
}

/// Kubernetes' `ValidateLabels`: keys are qualified names, values label values; causes name `path` itself.
pub(crate) fn validate_labels(c: &mut Causes, labels: &Value, path: &str) {
    let Some(map) = labels.as_object() else {
        if !labels.is_null() {
            c.type_invalid(path, labels, "an object of strings");
        }
        return;
    };
    for (k, v) in map {
        c.invalid_each(path, k, names::qualified_name(k));
        match v.as_str() {
            Some(v) => c.invalid_each(path, v, names::label_value(v)),
            None => c.type_invalid(&format!("{path}[{k}]"), v, "string"),
        }
    }
}

/// Kubernetes' `ValidateAnnotations`: keys are qualified names (checked lower-cased), total size ≤ 256 KiB.
fn validate_annotations(c: &mut Causes, annotations: &Value, path: &str) {
    let Some(map) = annotations.as_object() else {
        if !annotations.is_null() {
            c.type_invalid(path, annotations, "an object of strings");
        }
        return;
    };
    let mut total = 0usize;
    for (k, v) in map {
        c.invalid_each(path, k, names::qualified_name(&k.to_lowercase()));
        total += k.len() + v.as_str().map_or(0, str::len);
    }
    if total > TOTAL_ANNOTATION_SIZE_LIMIT_BYTES {
        c.too_long(path, TOTAL_ANNOTATION_SIZE_LIMIT_BYTES);
    }
}

/// Kubernetes' `ValidateOwnerReferences`: apiVersion, kind, name and uid set; at most one controller.
fn validate_owner_references(c: &mut Causes, meta: &Value) {
    let refs = arr(meta, "ownerReferences");
    let mut controllers = 0;
    for (i, r) in refs.iter().enumerate() {
        for field in ["apiVersion", "kind", "name", "uid"] {
            if s(r, field).is_empty() {
                c.required(&format!("metadata.ownerReferences[{i}].{field}"), "");
            }
        }
        if r.get("controller").and_then(Value::as_bool) == Some(true) {
            controllers += 1;
        }
    }
    if controllers > 1 {
        c.invalid(
            "metadata.ownerReferences",
            controllers,
            "Only one reference can have Controller set to true",
        );
    }
}

/// Kubernetes' `ValidateObjectMetaUpdate`: name, namespace, uid and creationTimestamp may not change once set.
pub(crate) fn validate_update(c: &mut Causes, old: &Value, new: &Value) {
    let (om, nm) = (get(old, "metadata"), get(new, "metadata"));
    for field in ["name", "namespace", "uid", "creationTimestamp"] {
        let (o, n) = (s(om, field), s(nm, field));
        if !o.is_empty() && !n.is_empty() && o != n {
            c.invalid(&format!("metadata.{field}"), n, "field is immutable");
        }
    }
}

/// Kubernetes' `ValidateLabelSelector` on a `LabelSelector` object at `path` (`matchLabels` label syntax;
/// `matchExpressions` keys, operators and value counts).
pub(crate) fn validate_label_selector(c: &mut Causes, sel: &Value, path: &str) {
    if sel.is_null() {
        return;
    }
    if !sel.is_object() {
        c.type_invalid(path, sel, "a label selector object");
        return;
    }
    validate_labels(c, get(sel, "matchLabels"), &format!("{path}.matchLabels"));
    for (i, e) in arr(sel, "matchExpressions").iter().enumerate() {
        let p = format!("{path}.matchExpressions[{i}]");
        let values = arr(e, "values");
        let op = s(e, "operator");
        match op {
            "In" | "NotIn" if values.is_empty() => {
                c.required(
                    &format!("{p}.values"),
                    "must be specified when `operator` is 'In' or 'NotIn'",
                );
            }
            "Exists" | "DoesNotExist" if !values.is_empty() => {
                c.forbidden(
                    &format!("{p}.values"),
                    "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                );
            }
            "In" | "NotIn" | "Exists" | "DoesNotExist" => {}
            _ => c.invalid(
                &format!("{p}.operator"),
                op,
                "not a valid selector operator",
            ),
        }
        let key = s(e, "key");
        c.invalid_each(&format!("{p}.key"), key, names::qualified_name(key));
        for (j, v) in values.iter().enumerate() {
            let v = v.as_str().unwrap_or("");
            c.invalid_each(&format!("{p}.values[{j}]"), v, names::label_value(v));
        }
    }
}
