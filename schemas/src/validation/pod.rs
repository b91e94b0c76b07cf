//! Pod spec validation (Kubernetes' `ValidatePodSpec`), shared by Pods (`spec`) and workload templates
//! (`spec.template.spec`): containers, volumes, policies, node selection, tolerations and affinity.

use super::causes::{Causes, arr, get, int, s};
use super::container::{PodContext, validate_container};
use super::meta::{validate_label_selector, validate_labels};
use super::names;
use serde_json::Value;
use std::collections::HashSet;

/// Taint and toleration effects (Kubernetes' `validateTaintEffect`).
pub(crate) const TAINT_EFFECTS: &[&str] = &["NoSchedule", "PreferNoSchedule", "NoExecute"];

/// Validates a Pod: its spec at `spec`.
pub(crate) fn validate_pod(c: &mut Causes, obj: &Value) {
    validate_pod_spec(c, get(obj, "spec"), "spec");
}

/// Validates a pod spec at `path` (`spec`, or `spec.template.spec` for ReplicaSets and Deployments).
pub(crate) fn validate_pod_spec(c: &mut Causes, spec: &Value, path: &str) {
    let volumes = validate_volumes(c, arr(spec, "volumes"), &format!("{path}.volumes"));
    let mut ctx = PodContext {
        names: HashSet::new(),
        volumes,
        host_network: spec
            .get("hostNetwork")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        host_ports: HashSet::new(),
    };
    let containers = arr(spec, "containers");
    if containers.is_empty() {
        c.required(&format!("{path}.containers"), "");
    }
    for (i, ctr) in containers.iter().enumerate() {
        validate_container(c, ctr, &format!("{path}.containers[{i}]"), &mut ctx);
    }
    for (i, ctr) in arr(spec, "initContainers").iter().enumerate() {
        validate_container(c, ctr, &format!("{path}.initContainers[{i}]"), &mut ctx);
    }
    validate_policies(c, spec, path);
    validate_names(c, spec, path);
    validate_labels(
        c,
        get(spec, "nodeSelector"),
        &format!("{path}.nodeSelector"),
    );
    validate_tolerations(c, arr(spec, "tolerations"), &format!("{path}.tolerations"));
    if let Some(aff) = spec.get("affinity") {
        validate_affinity(c, aff, &format!("{path}.affinity"));
    }
    validate_topology_spread(
        c,
        arr(spec, "topologySpreadConstraints"),
        &format!("{path}.topologySpreadConstraints"),
    );
    c.non_negative(
        &format!("{path}.terminationGracePeriodSeconds"),
        int(spec, "terminationGracePeriodSeconds"),
    );
    if let Some(ads) = int(spec, "activeDeadlineSeconds")
        && !(1..=i64::from(i32::MAX)).contains(&ads)
    {
        c.invalid(
            &format!("{path}.activeDeadlineSeconds"),
            ads,
            &names::inclusive_range_error(1, i64::from(i32::MAX)),
        );
    }
}

/// Volume names: required, DNS-1123 labels, unique. Returns the valid names for volume mount checks.
fn validate_volumes<'a>(c: &mut Causes, volumes: &'a [Value], path: &str) -> HashSet<&'a str> {
    let mut seen = HashSet::new();
    for (i, v) in volumes.iter().enumerate() {
        let name = s(v, "name");
        let p = format!("{path}[{i}].name");
        if name.is_empty() {
            c.required(&p, "");
            continue;
        }
        let errs = names::dns1123_label(name);
        if !errs.is_empty() {
            c.invalid_each(&p, name, errs);
        } else if !seen.insert(name) {
            c.duplicate(&p, name);
        }
    }
    seen
}

/// `restartPolicy`, `dnsPolicy` (with `dnsConfig` when `None`) and `dnsConfig.nameservers`.
fn validate_policies(c: &mut Causes, spec: &Value, path: &str) {
    const RESTART: &[&str] = &["Always", "OnFailure", "Never"];
    const DNS: &[&str] = &["ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"];
    if let Some(rp) = spec.get("restartPolicy").and_then(Value::as_str)
        && !RESTART.contains(&rp)
    {
        c.not_supported(&format!("{path}.restartPolicy"), rp, RESTART);
    }
    if let Some(dp) = spec.get("dnsPolicy").and_then(Value::as_str) {
        if !DNS.contains(&dp) {
            c.not_supported(&format!("{path}.dnsPolicy"), dp, DNS);
        } else if dp == "None" && spec.get("dnsConfig").is_none() {
            c.required(
                &format!("{path}.dnsConfig"),
                "must provide `dnsConfig` when `dnsPolicy` is None",
            );
        }
    }
    for (i, ns) in arr(get(spec, "dnsConfig"), "nameservers")
        .iter()
        .enumerate()
    {
        let ns = ns.as_str().unwrap_or("");
        c.invalid_each(
            &format!("{path}.dnsConfig.nameservers[{i}]"),
            ns,
            names::ip(ns),
        );
    }
}

/// Names a pod spec refers to: `nodeName`, `serviceAccountName`, `schedulerName`, `priorityClassName`
/// (DNS-1123 subdomains), `hostname`, `subdomain` (DNS-1123 labels).
fn validate_names(c: &mut Causes, spec: &Value, path: &str) {
    for field in [
        "nodeName",
        "serviceAccountName",
        "schedulerName",
        "priorityClassName",
    ] {
        let v = s(spec, field);
        if !v.is_empty() {
            c.invalid_each(&format!("{path}.{field}"), v, names::dns1123_subdomain(v));
        }
    }
    for field in ["hostname", "subdomain"] {
        let v = s(spec, field);
        if !v.is_empty() {
            c.invalid_each(&format!("{path}.{field}"), v, names::dns1123_label(v));
        }
    }
}

/// Kubernetes' `validateTolerations`.
fn validate_tolerations(c: &mut Causes, tolerations: &[Value], path: &str) {
    for (i, t) in tolerations.iter().enumerate() {
        let p = format!("{path}[{i}]");
        let key = s(t, "key");
        let op = s(t, "operator");
        let value = s(t, "value");
        let effect = s(t, "effect");
        if !key.is_empty() {
            c.invalid_each(&format!("{p}.key"), key, names::qualified_name(key));
        } else if op != "Exists" {
            c.invalid(
                &format!("{p}.operator"),
                op,
                "operator must be Exists when `key` is empty, which means \"match all values and all keys\"",
            );
        }
        if t.get("tolerationSeconds").is_some() && effect != "NoExecute" {
            c.invalid(
                &format!("{p}.effect"),
                effect,
                "effect must be 'NoExecute' when `tolerationSeconds` is set",
            );
        }
        match op {
            "" | "Equal" => {
                c.invalid_each(&format!("{p}.operator"), value, names::label_value(value))
            }
            "Exists" => {
                if !value.is_empty() {
                    c.invalid(
                        &format!("{p}.operator"),
                        t.clone(),
                        "value must be empty when `operator` is 'Exists'",
                    );
                }
            }
            other => c.not_supported(&format!("{p}.operator"), other, &["Equal", "Exists"]),
        }
        if !effect.is_empty() && !TAINT_EFFECTS.contains(&effect) {
            c.not_supported(&format!("{p}.effect"), effect, TAINT_EFFECTS);
        }
    }
}

/// Kubernetes' `validateAffinity`: node affinity terms and pod (anti-)affinity terms.
fn validate_affinity(c: &mut Causes, aff: &Value, path: &str) {
    if let Some(na) = aff.get("nodeAffinity") {
        let p = format!("{path}.nodeAffinity");
        if let Some(req) = na.get("requiredDuringSchedulingIgnoredDuringExecution") {
            let rp = format!("{p}.requiredDuringSchedulingIgnoredDuringExecution");
            let terms = arr(req, "nodeSelectorTerms");
            if terms.is_empty() {
                c.required(
                    &format!("{rp}.nodeSelectorTerms"),
                    "must have at least one node selector term",
                );
            }
            for (i, term) in terms.iter().enumerate() {
                validate_node_selector_term(c, term, &format!("{rp}.nodeSelectorTerms[{i}]"));
            }
        }
        for (i, pref) in arr(na, "preferredDuringSchedulingIgnoredDuringExecution")
            .iter()
            .enumerate()
        {
            let pp = format!("{p}.preferredDuringSchedulingIgnoredDuringExecution[{i}]");
            validate_weight(c, pref, &pp);
            validate_node_selector_term(c, get(pref, "preference"), &format!("{pp}.preference"));
        }
    }
    for kind in ["podAffinity", "podAntiAffinity"] {
        let Some(pa) = aff.get(kind) else { continue };
        let p = format!("{path}.{kind}");
        for (i, term) in arr(pa, "requiredDuringSchedulingIgnoredDuringExecution")
            .iter()
            .enumerate()
        {
            validate_pod_affinity_term(
                c,
                term,
                &format!("{p}.requiredDuringSchedulingIgnoredDuringExecution[{i}]"),
            );
        }
        for (i, pref) in arr(pa, "preferredDuringSchedulingIgnoredDuringExecution")
            .iter()
            .enumerate()
        {
            let pp = format!("{p}.preferredDuringSchedulingIgnoredDuringExecution[{i}]");
            validate_weight(c, pref, &pp);
            validate_pod_affinity_term(
                c,
                get(pref, "podAffinityTerm"),
                &format!("{pp}.podAffinityTerm"),
            );
        }
    }
}

fn validate_weight(c: &mut Causes, pref: &Value, path: &str) {
    let w = int(pref, "weight").unwrap_or(0);
    if !(1..=100).contains(&w) {
        c.invalid(&format!("{path}.weight"), w, "must be in the range 1-100");
    }
}

/// Kubernetes' `ValidateNodeSelectorTerm`: `matchExpressions` (label requirements, with `Gt`/`Lt`) and
/// `matchFields` (only `metadata.name`, `In`/`NotIn` with one value).
fn validate_node_selector_term(c: &mut Causes, term: &Value, path: &str) {
    for (j, e) in arr(term, "matchExpressions").iter().enumerate() {
        let p = format!("{path}.matchExpressions[{j}]");
        let values = arr(e, "values");
        let op = s(e, "operator");
        match op {
            "In" | "NotIn" => {
                if values.is_empty() {
                    c.required(
                        &format!("{p}.values"),
                        "must be specified when `operator` is 'In' or 'NotIn'",
                    );
                }
            }
            "Exists" | "DoesNotExist" => {
                if !values.is_empty() {
                    c.forbidden(
                        &format!("{p}.values"),
                        "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                    );
                }
            }
            "Gt" | "Lt" => {
                if values.len() != 1 {
                    c.required(
                        &format!("{p}.values"),
                        "must be specified single value when `operator` is 'Lt' or 'Gt'",
                    );
                } else if values[0]
                    .as_str()
                    .and_then(|v| v.parse::<i64>().ok())
                    .is_none()
                {
                    c.invalid(
                        &format!("{p}.values[0]"),
                        values[0].clone(),
                        "must be an integer",
                    );
                }
            }
            other => c.invalid(
                &format!("{p}.operator"),
                other,
                "not a valid selector operator",
            ),
        }
        let key = s(e, "key");
        c.invalid_each(&format!("{p}.key"), key, names::qualified_name(key));
        if matches!(op, "In" | "NotIn") {
            for (k, v) in values.iter().enumerate() {
                let v = v.as_str().unwrap_or("");
                c.invalid_each(&format!("{p}.values[{k}]"), v, names::label_value(v));
            }
        }
    }
    for (j, f) in arr(term, "matchFields").iter().enumerate() {
        let p = format!("{path}.matchFields[{j}]");
        let key = s(f, "key");
        if key != "metadata.name" {
            c.invalid(&format!("{p}.key"), key, "not a valid field selector key");
        }
        match s(f, "operator") {
            "In" | "NotIn" => {
                if arr(f, "values").len() != 1 {
                    c.required(
                        &format!("{p}.values"),
                        "must be only one value when `operator` is 'In' or 'NotIn' for node field selector",
                    );
                }
            }
            other => c.invalid(
                &format!("{p}.operator"),
                other,
                "not a valid selector operator",
            ),
        }
    }
}

/// Kubernetes' `validatePodAffinityTerm`: a topology key (qualified name) and a valid label selector.
fn validate_pod_affinity_term(c: &mut Causes, term: &Value, path: &str) {
    let key = s(term, "topologyKey");
    if key.is_empty() {
        c.required(&format!("{path}.topologyKey"), "can not be empty");
    } else {
        c.invalid_each(
            &format!("{path}.topologyKey"),
            key,
            names::qualified_name(key),
        );
    }
    validate_label_selector(
        c,
        get(term, "labelSelector"),
        &format!("{path}.labelSelector"),
    );
    for (i, ns) in arr(term, "namespaces").iter().enumerate() {
        let ns = ns.as_str().unwrap_or("");
        c.invalid_each(
            &format!("{path}.namespaces[{i}]"),
            ns,
            names::dns1123_label(ns),
        );
    }
}

/// Kubernetes' `validateTopologySpreadConstraints`: `maxSkew > 0`, a topology key, a known
/// `whenUnsatisfiable`, and a valid label selector.
fn validate_topology_spread(c: &mut Causes, constraints: &[Value], path: &str) {
    for (i, tsc) in constraints.iter().enumerate() {
        let p = format!("{path}[{i}]");
        let skew = int(tsc, "maxSkew").unwrap_or(0);
        if skew <= 0 {
            c.invalid(&format!("{p}.maxSkew"), skew, "must be greater than zero");
        }
        let key = s(tsc, "topologyKey");
        if key.is_empty() {
            c.required(&format!("{p}.topologyKey"), "can not be empty");
        } else {
            c.invalid_each(&format!("{p}.topologyKey"), key, names::qualified_name(key));
        }
        let when = s(tsc, "whenUnsatisfiable");
        if !["DoNotSchedule", "ScheduleAnyway"].contains(&when) {
            c.not_supported(
                &format!("{p}.whenUnsatisfiable"),
                when,
                &["DoNotSchedule", "ScheduleAnyway"],
            );
        }
        validate_label_selector(c, get(tsc, "labelSelector"), &format!("{p}.labelSelector"));
    }
}
