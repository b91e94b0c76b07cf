//! Update rules: pod spec immutability, metadata, Service clusterIP, workload selectors.

use super::*;

fn update(old: &Value, new: &Value) -> Vec<(String, String)> {
    let kind = new["kind"].as_str().expect("kind");
    fields(&validate_update(res(kind), old, new))
}

#[test]
fn validate_update_should_enforce_pod_spec_immutability() {
    let base = json!({"kind": "Pod", "metadata": {"name": "nginx", "namespace": "default", "uid": "u1"},
        "spec": {"containers": [{"name": "nginx", "image": "nginx", "imagePullPolicy": "IfNotPresent"}],
            "nodeSelector": {"disktype": "ssd"}, "tolerations": [{"key": "a", "operator": "Exists"}], "activeDeadlineSeconds": 100}});
    let with = |f: &dyn Fn(&mut Value)| {
        let mut v = base.clone();
        f(&mut v);
        v
    };
    let forbidden = vec![("spec".to_string(), "FieldValueForbidden".to_string())];
    // (case, new object, expected causes)
    type Case = (&'static str, Value, Vec<(String, String)>);
    let cases: Vec<Case> = vec![
        ("unchanged", base.clone(), vec![]),
        (
            "image change",
            with(&|v| v["spec"]["containers"][0]["image"] = json!("nginx:1.27")),
            vec![],
        ),
        (
            "toleration added",
            with(&|v| {
                v["spec"]["tolerations"] =
                    json!([{"key": "a", "operator": "Exists"}, {"key": "b", "operator": "Exists"}])
            }),
            vec![],
        ),
        (
            "deadline lowered",
            with(&|v| v["spec"]["activeDeadlineSeconds"] = json!(50)),
            vec![],
        ),
        (
            "status change",
            with(&|v| v["status"] = json!({"phase": "Running"})),
            vec![],
        ),
        (
            "label change",
            with(&|v| v["metadata"]["labels"] = json!({"a": "b"})),
            vec![],
        ),
        // kubectl apply of pod-with-toleration-flowstyle.yaml over pod-nginx-nodeselector-flowstyle.yaml
        (
            "nodeSelector removed",
            with(&|v| {
                v["spec"]
                    .as_object_mut()
                    .expect("spec")
                    .remove("nodeSelector");
            }),
            forbidden.clone(),
        ),
        (
            "toleration removed",
            with(&|v| v["spec"]["tolerations"] = json!([])),
            forbidden.clone(),
        ),
        (
            "nodeName set",
            with(&|v| v["spec"]["nodeName"] = json!("node-1")),
            forbidden.clone(),
        ),
        (
            "container added",
            with(&|v| v["spec"]["containers"] = json!([nginx(), {"name": "b", "image": "b"}])),
            forbidden.clone(),
        ),
        (
            "grace period changed",
            with(&|v| v["spec"]["terminationGracePeriodSeconds"] = json!(5)),
            forbidden.clone(),
        ),
        (
            "deadline raised",
            with(&|v| v["spec"]["activeDeadlineSeconds"] = json!(500)),
            vec![(
                "spec.activeDeadlineSeconds".to_string(),
                "FieldValueInvalid".to_string(),
            )],
        ),
        (
            "uid changed",
            with(&|v| v["metadata"]["uid"] = json!("u2")),
            vec![("metadata.uid".to_string(), "FieldValueInvalid".to_string())],
        ),
    ];
    for (case, new, want) in cases {
        assert_eq!(update(&base, &new), want, "case {case:?}");
    }
    let causes = validate_update(
        res("Pod"),
        &base,
        &with(&|v| v["spec"]["nodeName"] = json!("n")),
    );
    assert_eq!(
        causes[0].message,
        format!("Forbidden: {}", pod_update::POD_UPDATE_FORBIDDEN)
    );
}

#[test]
fn validate_update_should_keep_service_cluster_ip_and_workload_selectors() {
    let svc = json!({"kind": "Service", "metadata": {"name": "s", "namespace": "d"}, "spec": {"clusterIP": "10.96.0.5", "ports": [{"port": 80}]}});
    let mut moved = svc.clone();
    moved["spec"]["clusterIP"] = json!("10.96.0.6");
    assert_eq!(
        update(&svc, &moved),
        vec![(
            "spec.clusterIP".to_string(),
            "FieldValueInvalid".to_string()
        )]
    );
    let mut ports = svc.clone();
    ports["spec"]["ports"] = json!([{"port": 81}]);
    assert!(update(&svc, &ports).is_empty());

    let d = deploy(json!({}));
    let mut changed = d.clone();
    changed["spec"]["selector"] = json!({"matchLabels": {"app": "web", "tier": "x"}});
    changed["spec"]["template"]["metadata"]["labels"] = json!({"app": "web", "tier": "x"});
    assert_eq!(
        update(&d, &changed),
        vec![("spec.selector".to_string(), "FieldValueInvalid".to_string())]
    );
    let mut scaled = d.clone();
    scaled["spec"]["replicas"] = json!(3);
    assert!(update(&d, &scaled).is_empty());
}
