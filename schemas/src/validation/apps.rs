//! ReplicaSet and Deployment validation (Kubernetes' `pkg/apis/apps/validation`): selector, template
//! (labels matching the selector, a pod spec with `restartPolicy: Always`), replica counts and strategy.

use super::causes::{Causes, get, int, s};
use super::meta::{validate_label_selector, validate_labels};
use super::names;
use super::pod::validate_pod_spec;
use crate::meta;
use crate::selector::LabelSelector;
use serde_json::Value;

/// Validates a ReplicaSet (`apps/v1`).
pub(crate) fn validate_replica_set(c: &mut Causes, obj: &Value) {
    validate_workload_spec(c, get(obj, "spec"));
}

/// Validates a Deployment (`apps/v1`): everything a ReplicaSet checks, plus strategy, revision history
/// and progress deadline.
pub(crate) fn validate_deployment(c: &mut Causes, obj: &Value) {
    let spec = get(obj, "spec");
    validate_workload_spec(c, spec);
    validate_strategy(c, get(spec, "strategy"));
    c.non_negative(
        "spec.revisionHistoryLimit",
        int(spec, "revisionHistoryLimit"),
    );
    if let Some(pds) = int(spec, "progressDeadlineSeconds") {
        c.non_negative("spec.progressDeadlineSeconds", Some(pds));
        if pds <= int(spec, "minReadySeconds").unwrap_or(0) {
            c.invalid(
                "spec.progressDeadlineSeconds",
                pds,
                "must be greater than minReadySeconds",
            );
        }
    }
}

/// What ReplicaSets and Deployments share: replicas, minReadySeconds, selector and template.
fn validate_workload_spec(c: &mut Causes, spec: &Value) {
    c.non_negative("spec.replicas", int(spec, "replicas"));
    c.non_negative("spec.minReadySeconds", int(spec, "minReadySeconds"));
    let selector = spec.get("selector");
    let before = c.len();
    match selector {
        None => c.required("spec.selector", ""),
        Some(sel) => {
            validate_label_selector(c, sel, "spec.selector");
            let count = |k: &str| {
                sel.get(k).map_or(0, |v| {
                    v.as_object().map_or(0, |m| m.len()) + v.as_array().map_or(0, Vec::len)
                })
            };
            if count("matchLabels") + count("matchExpressions") == 0 {
                c.invalid(
                    "spec.selector",
                    sel.clone(),
                    "empty selector is invalid for deployment",
                );
            }
        }
    }
    let Some(template) = spec.get("template") else {
        c.required("spec.template", "");
        return;
    };
    let template_meta = get(template, "metadata");
    validate_labels(
        c,
        get(template_meta, "labels"),
        "spec.template.metadata.labels",
    );
    if let Some(sel) = selector {
        match LabelSelector::from_json(sel) {
            // Reported already, field by field, when the selector's own checks failed.
            Err(_) if c.len() > before => {}
            Err(_) => c.invalid("spec.selector", sel.clone(), "invalid label selector"),
            Ok(parsed) => {
                if !parsed.is_empty() && !parsed.matches(&meta::labels(template)) {
                    let labels = template_meta
                        .get("labels")
                        .cloned()
                        .unwrap_or(Value::Object(Default::default()));
                    c.invalid(
                        "spec.template.metadata.labels",
                        labels,
                        "`selector` does not match template `labels`",
                    );
                }
            }
        }
    }
    let pod_spec = get(template, "spec");
    validate_pod_spec(c, pod_spec, "spec.template.spec");
    if let Some(rp) = pod_spec.get("restartPolicy").and_then(Value::as_str)
        && (rp == "OnFailure" || rp == "Never")
    {
        c.not_supported("spec.template.spec.restartPolicy", rp, &["Always"]);
    }
    if pod_spec.get("activeDeadlineSeconds").is_some() {
        c.forbidden(
            "spec.template.spec.activeDeadlineSeconds",
            "activeDeadlineSeconds in ReplicaSet is not Supported",
        );
    }
}

/// Kubernetes' `ValidateDeploymentStrategy` and `ValidateRollingUpdateDeployment`.
fn validate_strategy(c: &mut Causes, strategy: &Value) {
    let ty = s(strategy, "type");
    match ty {
        "" | "RollingUpdate" => {}
        "Recreate" => {
            if strategy.get("rollingUpdate").is_some() {
                c.forbidden(
                    "spec.strategy.rollingUpdate",
                    "may not be specified when strategy `type` is 'Recreate'",
                );
            }
            return;
        }
        other => {
            c.not_supported("spec.strategy.type", other, &["Recreate", "RollingUpdate"]);
            return;
        }
    }
    let Some(ru) = strategy.get("rollingUpdate") else {
        return;
    };
    let path = "spec.strategy.rollingUpdate";
    let unavailable = ru.get("maxUnavailable");
    let surge = ru.get("maxSurge");
    let unavailable_zero = int_or_percent(c, unavailable, &format!("{path}.maxUnavailable"), true);
    let surge_zero = int_or_percent(c, surge, &format!("{path}.maxSurge"), false);
    if unavailable_zero && surge_zero {
        let v = unavailable.cloned().unwrap_or(Value::Null);
        c.invalid(
            &format!("{path}.maxUnavailable"),
            v,
            "may not be 0 when `maxSurge` is 0",
        );
    }
}

/// Checks an `IntOrString` that is a non-negative integer or a percentage (≤ 100% when `cap_100`);
/// returns `true` when it is present and zero (`0` or `"0%"`).
fn int_or_percent(c: &mut Causes, v: Option<&Value>, path: &str, cap_100: bool) -> bool {
    match v {
        None => false,
        Some(Value::Number(n)) => {
            let n = n.as_i64().unwrap_or(-1);
            c.non_negative(path, Some(n));
            n == 0
        }
        Some(Value::String(p)) => {
            let errs = names::percent(p);
            if !errs.is_empty() {
                c.invalid_each(path, p, errs);
                return false;
            }
            let pct = p.trim_end_matches('%').parse::<u64>().unwrap_or(u64::MAX);
            if cap_100 && pct > 100 {
                c.invalid(path, p.as_str(), "must not be greater than 100%");
            }
            pct == 0
        }
        Some(other) => {
            c.type_invalid(path, other, "an integer or a percentage");
            false
        }
    }
}

/// `spec.selector` is immutable in `apps/v1`.
pub(crate) fn validate_selector_update(c: &mut Causes, old: &Value, new: &Value) {
    let (o, n) = (
        get(old, "spec").get("selector"),
        get(new, "spec").get("selector"),
    );
    if let (Some(o), Some(n)) = (o, n)
        && o != n
    {
        c.invalid("spec.selector", n.clone(), "field is immutable");
    }
}
