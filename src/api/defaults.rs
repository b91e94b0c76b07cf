//! Defaulting: the values kube-apiserver fills in when an object leaves them out (the
//! `SetDefaults_*` functions of `k8s.io/kubernetes/pkg/apis/{core,apps}/v1/defaults.go`), and the
//! pod's QoS class (`GetPodQOS`, <https://kubernetes.io/docs/concepts/workloads/pods/pod-qos/>).
//!
//! Every function here is idempotent: defaulting a defaulted object changes nothing, so an update
//! whose old and new objects are both defaulted compares equal where the user changed nothing.

use mock_k8_schemas::quantity::Quantity;
use serde_json::{Map, Value, json};

/// The scheduler that handles pods without `spec.schedulerName`.
pub const DEFAULT_SCHEDULER: &str = "default-scheduler";

/// `terminationGracePeriodSeconds` of a pod that sets none (seconds).
pub const DEFAULT_TERMINATION_GRACE_SECONDS: i64 = 30;

/// Applies the defaults of `kind` (Pod, ReplicaSet, Deployment) to `obj`; other kinds are left alone.
pub fn apply(kind: &str, obj: &mut Value) {
    match kind {
        "Pod" => {
            if let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) {
                pod_spec(spec);
            }
        }
        "ReplicaSet" => workload(obj, false),
        "Deployment" => workload(obj, true),
        _ => {}
    }
}

/// Kubernetes' `SetDefaults_PodSpec` and the container defaults, on a pod spec:
/// `restartPolicy: Always`, `dnsPolicy: ClusterFirst`, `terminationGracePeriodSeconds: 30`,
/// `schedulerName: default-scheduler`, `securityContext: {}`, `enableServiceLinks: true`, and —
/// when no `priorityClassName` is set, as the Priority admission plugin does — `priority: 0` and
/// `preemptionPolicy: PreemptLowerPriority`; then [`container`] on every container and init container.
pub fn pod_spec(spec: &mut Map<String, Value>) {
    let defaults = [
        ("restartPolicy", json!("Always")),
        ("dnsPolicy", json!("ClusterFirst")),
        (
            "terminationGracePeriodSeconds",
            json!(DEFAULT_TERMINATION_GRACE_SECONDS),
        ),
        ("schedulerName", json!(DEFAULT_SCHEDULER)),
        ("securityContext", json!({})),
        ("enableServiceLinks", json!(true)),
    ];
    for (field, value) in defaults {
        set_if_absent(spec, field, value);
    }
    if !spec.contains_key("priorityClassName") {
        set_if_absent(spec, "priority", json!(0));
        set_if_absent(spec, "preemptionPolicy", json!("PreemptLowerPriority"));
    }
    for list in ["containers", "initContainers"] {
        for c in spec
            .get_mut(list)
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
            .filter_map(Value::as_object_mut)
        {
            container(c);
        }
    }
}

/// The container defaults: `imagePullPolicy` ([`image_pull_policy`]),
/// `terminationMessagePath: /dev/termination-log`, `terminationMessagePolicy: File`, ports'
/// `protocol: TCP`, probe timings (`timeoutSeconds: 1`, `periodSeconds: 10`, `successThreshold: 1`,
/// `failureThreshold: 3`, `httpGet.scheme: HTTP`), and `resources.requests` taking each resource
/// that has a limit but no request from `resources.limits` (`SetDefaults_Pod`: "requests default
/// to limits").
pub fn container(c: &mut Map<String, Value>) {
    if let Some(image) = c.get("image").and_then(Value::as_str) {
        let policy = image_pull_policy(image);
        set_if_absent(c, "imagePullPolicy", json!(policy));
    }
    set_if_absent(c, "terminationMessagePath", json!("/dev/termination-log"));
    set_if_absent(c, "terminationMessagePolicy", json!("File"));
    for port in c
        .get_mut("ports")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object_mut)
    {
        set_if_absent(port, "protocol", json!("TCP"));
    }
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if let Some(p) = c.get_mut(probe).and_then(Value::as_object_mut) {
            for (field, value) in [
                ("timeoutSeconds", 1),
                ("periodSeconds", 10),
                ("successThreshold", 1),
                ("failureThreshold", 3),
            ] {
                set_if_absent(p, field, json!(value));
            }
            if let Some(h) = p.get_mut("httpGet").and_then(Value::as_object_mut) {
                set_if_absent(h, "scheme", json!("HTTP"));
            }
        }
    }
    let resources = c.entry("resources").or_insert_with(|| json!({}));
    let Some(res) = resources.as_object_mut() else {
        return;
    };
    let Some(limits) = res.get("limits").and_then(Value::as_object).cloned() else {
        return;
    };
    if limits.is_empty() {
        return;
    }
    let requests = res.entry("requests").or_insert_with(|| json!({}));
    if let Some(req) = requests.as_object_mut() {
        for (name, amount) in limits {
            req.entry(name).or_insert(amount);
        }
    }
}

/// Kubernetes' image pull policy default: `Always` for an image tagged `:latest` or untagged
/// (no digest), `IfNotPresent` otherwise.
pub fn image_pull_policy(image: &str) -> &'static str {
    if image.contains('@') {
        return "IfNotPresent";
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    match last.rsplit_once(':') {
        Some((_, "latest")) | None => "Always",
        Some(_) => "IfNotPresent",
    }
}

/// ReplicaSet/Deployment defaults: `spec.replicas: 1`, the pod-spec defaults on
/// `spec.template.spec`, and for Deployments (`SetDefaults_Deployment`) `strategy.type:
/// RollingUpdate` with `maxUnavailable`/`maxSurge` `25%`, `revisionHistoryLimit: 10`,
/// `progressDeadlineSeconds: 600`.
fn workload(obj: &mut Value, deployment: bool) {
    let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    set_if_absent(spec, "replicas", json!(1));
    if let Some(pod) = spec
        .get_mut("template")
        .and_then(|t| t.get_mut("spec"))
        .and_then(Value::as_object_mut)
    {
        pod_spec(pod);
    }
    if !deployment {
        return;
    }
    set_if_absent(spec, "revisionHistoryLimit", json!(10));
    set_if_absent(spec, "progressDeadlineSeconds", json!(600));
    let strategy = spec
        .entry("strategy")
        .or_insert_with(|| json!({"type": "RollingUpdate"}));
    if let Some(s) = strategy.as_object_mut() {
        set_if_absent(s, "type", json!("RollingUpdate"));
        if s.get("type").and_then(Value::as_str) == Some("RollingUpdate") {
            let ru = s.entry("rollingUpdate").or_insert_with(|| json!({}));
            if let Some(ru) = ru.as_object_mut() {
                set_if_absent(ru, "maxUnavailable", json!("25%"));
                set_if_absent(ru, "maxSurge", json!("25%"));
            }
        }
    }
}

/// The pod's QoS class from its containers' and init containers' cpu and memory (`GetPodQOS`):
/// `BestEffort` when none sets a non-zero request or limit; `Guaranteed` when every container
/// limits both cpu and memory and every request equals its limit; `Burstable` otherwise.
pub fn qos_class(pod_spec: &Value) -> &'static str {
    let mut any = false;
    let mut guaranteed = true;
    for list in ["containers", "initContainers"] {
        for c in pod_spec
            .get(list)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let res = c.get("resources");
            let requests = quantities(res.and_then(|r| r.get("requests")));
            let limits = quantities(res.and_then(|r| r.get("limits")));
            if requests.iter().chain(&limits).any(|(_, q)| *q != 0) {
                any = true;
            }
            for name in ["cpu", "memory"] {
                let limit = limits.iter().find(|(n, _)| n == name).map(|(_, q)| *q);
                let request = requests.iter().find(|(n, _)| n == name).map(|(_, q)| *q);
                match (limit, request) {
                    (Some(l), Some(r)) if l != 0 && l == r => {}
                    (Some(l), None) if l != 0 => {}
                    _ => guaranteed = false,
                }
            }
        }
    }
    if !any {
        "BestEffort"
    } else if guaranteed {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

/// The cpu and memory entries of a resource list, in millis; unparsable amounts count as zero
/// (validation rejects them).
fn quantities(list: Option<&Value>) -> Vec<(String, i128)> {
    let Some(map) = list.and_then(Value::as_object) else {
        return Vec::new();
    };
    map.iter()
        .filter(|(name, _)| matches!(name.as_str(), "cpu" | "memory"))
        .map(|(name, v)| {
            let text = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let millis = Quantity::parse(&text).map(|q| q.millis()).unwrap_or(0);
            (name.clone(), millis)
        })
        .collect()
}

fn set_if_absent(map: &mut Map<String, Value>, field: &str, value: Value) {
    if map.get(field).is_none_or(Value::is_null) {
        map.insert(field.to_string(), value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apply_should_copy_limits_into_missing_requests() {
        let mut pod = json!({"spec": {"containers": [
            {"name": "a", "image": "nginx", "resources": {"limits": {"cpu": "500m", "memory": "128Mi"}, "requests": {"cpu": "100m"}}},
            {"name": "b", "image": "busybox:1.36", "resources": {"limits": {"memory": "64Mi"}}}
        ]}});
        apply("Pod", &mut pod);
        let cs = &pod["spec"]["containers"];
        assert_eq!(
            cs[0]["resources"]["requests"],
            json!({"cpu": "100m", "memory": "128Mi"})
        );
        assert_eq!(cs[1]["resources"]["requests"], json!({"memory": "64Mi"}));
        assert_eq!(
            (
                cs[0]["imagePullPolicy"].clone(),
                cs[1]["imagePullPolicy"].clone()
            ),
            (json!("Always"), json!("IfNotPresent"))
        );
        assert_eq!(pod["spec"]["restartPolicy"], "Always");
        assert_eq!(pod["spec"]["dnsPolicy"], "ClusterFirst");
        assert_eq!(pod["spec"]["terminationGracePeriodSeconds"], 30);
        assert_eq!(pod["spec"]["schedulerName"], "default-scheduler");
    }

    #[test]
    fn apply_should_be_idempotent_and_keep_given_values() {
        let mut pod = json!({"spec": {"restartPolicy": "Never", "containers": [{"name": "a", "image": "x:latest", "ports": [{"containerPort": 80}], "readinessProbe": {"httpGet": {"port": 80}}}]}});
        apply("Pod", &mut pod);
        let once = pod.clone();
        apply("Pod", &mut pod);
        assert_eq!(pod, once);
        assert_eq!(pod["spec"]["restartPolicy"], "Never");
        let c = &pod["spec"]["containers"][0];
        assert_eq!(c["ports"][0]["protocol"], "TCP");
        assert_eq!(c["readinessProbe"]["periodSeconds"], 10);
        assert_eq!(c["readinessProbe"]["httpGet"]["scheme"], "HTTP");
    }

    #[test]
    fn image_pull_policy_should_follow_the_tag() {
        assert_eq!(image_pull_policy("nginx"), "Always");
        assert_eq!(image_pull_policy("nginx:latest"), "Always");
        assert_eq!(image_pull_policy("localhost:5000/nginx"), "Always");
        assert_eq!(
            image_pull_policy("localhost:5000/nginx:1.2"),
            "IfNotPresent"
        );
        assert_eq!(image_pull_policy("nginx@sha256:abc"), "IfNotPresent");
    }

    #[test]
    fn apply_should_default_deployments_and_their_templates() {
        let mut d = json!({"spec": {"template": {"spec": {"containers": [{"name": "a", "image": "nginx:1"}]}}}});
        apply("Deployment", &mut d);
        assert_eq!(d["spec"]["replicas"], 1);
        assert_eq!(
            d["spec"]["strategy"],
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}})
        );
        assert_eq!(
            (
                d["spec"]["revisionHistoryLimit"].clone(),
                d["spec"]["progressDeadlineSeconds"].clone()
            ),
            (json!(10), json!(600))
        );
        assert_eq!(d["spec"]["template"]["spec"]["restartPolicy"], "Always");
        let mut recreate = json!({"spec": {"strategy": {"type": "Recreate"}}});
        apply("Deployment", &mut recreate);
        assert_eq!(recreate["spec"]["strategy"], json!({"type": "Recreate"}));
    }

    #[test]
    fn qos_class_should_classify_pods() {
        let spec = |res: Value| json!({"containers": [{"name": "a", "resources": res}]});
        assert_eq!(qos_class(&spec(json!({}))), "BestEffort");
        assert_eq!(
            qos_class(&spec(
                json!({"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "1000m", "memory": "1Gi"}})
            )),
            "Guaranteed"
        );
        assert_eq!(
            qos_class(&spec(json!({"limits": {"cpu": 1, "memory": "1Gi"}}))),
            "Guaranteed"
        );
        assert_eq!(
            qos_class(&spec(json!({"requests": {"cpu": "100m"}}))),
            "Burstable"
        );
        assert_eq!(
            qos_class(&spec(
                json!({"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "500m"}})
            )),
            "Burstable"
        );
    }
}
