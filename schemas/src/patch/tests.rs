//! Tests of the three patch types, including every strategic merge patch kubectl sends
//! (`/work/shared/kubectl_wire.md` §3.3 and §6).

use super::*;
use crate::resource::by_kind;
use serde_json::json;

fn pod() -> &'static ApiResource {
    by_kind("v1", "Pod").expect("pods served")
}

fn smp(kind: (&str, &str), original: &Value, patch: &Value) -> Value {
    let r = by_kind(kind.0, kind.1).expect("kind served");
    let out = strategic_merge_patch(r, original, patch).expect("patch applies");
    assert_no_directives(&out);
    out
}

/// Fails when any `$` key is left anywhere in `v`.
fn assert_no_directives(v: &Value) {
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                assert!(!k.starts_with('$'), "directive {k} survived in {v}");
                assert_no_directives(child);
            }
        }
        Value::Array(items) => items.iter().for_each(assert_no_directives),
        _ => {}
    }
}

fn names(list: &Value, key: &str) -> Vec<Value> {
    list.as_array()
        .expect("a list")
        .iter()
        .map(|e| e[key].clone())
        .collect()
}

#[test]
fn merge_patch_should_add_and_remove_labels() {
    let obj = json!({"metadata": {"name": "web", "labels": {"app": "web", "env": "prod"}}});
    let out = merge_patch(
        &obj,
        &json!({"metadata": {"labels": {"env": null, "team": "a"}}}),
    )
    .expect("merge");
    assert_eq!(
        out["metadata"]["labels"],
        json!({"app": "web", "team": "a"})
    );
    assert_eq!(merge_patch(&obj, &json!({})).expect("merge"), obj);
}

#[test]
fn json_patch_should_replace_by_pointer() {
    let obj = json!({"spec": {"containers": [{"name": "c", "image": "nginx:1.28"}]}});
    let patch =
        json!([{"op": "replace", "path": "/spec/containers/0/image", "value": "nginx:1.29"}]);
    let out = json_patch(&obj, &patch).expect("patch");
    assert_eq!(out["spec"]["containers"][0]["image"], "nginx:1.29");
}

#[test]
fn json_patch_should_name_the_failed_op_and_path() {
    let obj = json!({"spec": {}});
    let patch = json!([{"op": "remove", "path": "/spec/nope"}]);
    let err = json_patch(&obj, &patch).expect_err("bad path");
    assert!(
        err.0.contains("remove") && err.0.contains("/spec/nope"),
        "{err}"
    );
    let test = json!([{"op": "test", "path": "/spec", "value": 1}]);
    assert!(
        json_patch(&obj, &test)
            .expect_err("failed test")
            .0
            .contains("test")
    );
    let malformed = json!([{"op": "frobnicate", "path": "/spec"}]);
    assert!(
        json_patch(&obj, &malformed)
            .expect_err("malformed")
            .0
            .contains("invalid JSON patch")
    );
    assert!(json_patch(&obj, &json!({"op": "add"})).is_err());
}

#[test]
fn strategic_merge_patch_should_apply_kubectl_apply_update() {
    let original = json!({"metadata": {"name": "mypod", "labels": {"app": "demo"}},
        "spec": {"containers": [{"name": "c1", "image": "nginx:1.27", "ports": [{"containerPort": 80}]}]}});
    let patch = json!({"metadata": {"annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}\n"},
                                    "labels": {"tier": "front"}},
        "spec": {"$setElementOrder/containers": [{"name": "c1"}],
                 "containers": [{"image": "nginx:1.28", "name": "c1"}]}});
    let out = smp(("v1", "Pod"), &original, &patch);
    assert_eq!(
        out["metadata"]["labels"],
        json!({"app": "demo", "tier": "front"})
    );
    assert_eq!(
        out["spec"]["containers"],
        json!([{"name": "c1", "image": "nginx:1.28", "ports": [{"containerPort": 80}]}])
    );
    assert_eq!(
        out["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"],
        "{}\n"
    );
}

#[test]
fn strategic_merge_patch_should_apply_the_richer_kubectl_patch() {
    let original = json!({
        "metadata": {"name": "mypod", "annotations": {"a": "1", "kubectl.kubernetes.io/last-applied-configuration": "old"},
                     "labels": {"app": "demo", "tier": "front"}},
        "spec": {
            "containers": [
                {"name": "c1", "image": "nginx:1", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                 "ports": [{"containerPort": 80}, {"containerPort": 443}]},
                {"name": "c2", "image": "busybox"}],
            "tolerations": [{"key": "k1", "operator": "Exists"}]}});
    let patch = json!({
        "metadata": {"annotations": {"a": null, "kubectl.kubernetes.io/last-applied-configuration": "new"},
                     "labels": {"tier": null}},
        "spec": {"$setElementOrder/containers": [{"name": "c1"}],
                 "containers": [{"$setElementOrder/env": [{"name": "B"}],
                                 "$setElementOrder/ports": [{"containerPort": 443}, {"containerPort": 8080}],
                                 "env": [{"name": "B", "value": "3"}, {"$patch": "delete", "name": "A"}],
                                 "image": "nginx:2", "name": "c1",
                                 "ports": [{"containerPort": 8080}, {"$patch": "delete", "containerPort": 80}]},
                                {"$patch": "delete", "name": "c2"}],
                 "tolerations": [{"key": "k2", "operator": "Exists"}]}});
    let out = smp(("v1", "Pod"), &original, &patch);
    assert_eq!(
        out["metadata"]["annotations"],
        json!({"kubectl.kubernetes.io/last-applied-configuration": "new"})
    );
    assert_eq!(out["metadata"]["labels"], json!({"app": "demo"}));
    let containers = &out["spec"]["containers"];
    assert_eq!(names(containers, "name"), vec![json!("c1")]);
    let c1 = &containers[0];
    assert_eq!(c1["image"], "nginx:2");
    assert_eq!(c1["env"], json!([{"name": "B", "value": "3"}]));
    assert_eq!(
        c1["ports"],
        json!([{"containerPort": 443}, {"containerPort": 8080}])
    );
    assert_eq!(
        out["spec"]["tolerations"],
        json!([{"key": "k2", "operator": "Exists"}])
    );
}

#[test]
fn strategic_merge_patch_should_put_new_elements_before_untouched_ones() {
    // The Kubernetes doc's patch-file-containers example: the new container comes first.
    let original = json!({"spec": {"containers": [{"name": "patch-demo-ctr", "image": "nginx"}],
                                   "tolerations": [{"effect": "NoSchedule", "key": "dedicated", "value": "test-team"}]}});
    let patch = json!({"spec": {"containers": [{"name": "patch-demo-ctr-2", "image": "redis"}]}});
    let out = smp(("v1", "Pod"), &original, &patch);
    assert_eq!(
        names(&out["spec"]["containers"], "name"),
        vec![json!("patch-demo-ctr-2"), json!("patch-demo-ctr")]
    );
    assert_eq!(out["spec"]["tolerations"], original["spec"]["tolerations"]);
}

#[test]
fn strategic_merge_patch_should_keep_server_only_elements_in_place() {
    let original = json!({"spec": {"containers": [{"name": "a"}, {"name": "b"}, {"name": "c"}]}});
    let patch = json!({"spec": {"$setElementOrder/containers": [{"name": "c"}, {"name": "a"}, {"name": "d"}],
                                "containers": [{"name": "d", "image": "x"}]}});
    let out = smp(("v1", "Pod"), &original, &patch);
    // b is server-only: it stays before c, which it preceded in the original list.
    assert_eq!(
        names(&out["spec"]["containers"], "name"),
        vec![json!("b"), json!("c"), json!("a"), json!("d")]
    );
    // An order directive alone reorders the list.
    let reorder = json!({"spec": {"$setElementOrder/containers": [{"name": "c"}, {"name": "b"}, {"name": "a"}]}});
    let out = smp(("v1", "Pod"), &original, &reorder);
    assert_eq!(
        names(&out["spec"]["containers"], "name"),
        vec![json!("c"), json!("b"), json!("a")]
    );
}

#[test]
fn strategic_merge_patch_should_cordon_and_uncordon_a_node() {
    let node = json!({"metadata": {"name": "n1"}, "spec": {"podCIDR": "10.244.1.0/24"}});
    let cordoned = smp(
        ("v1", "Node"),
        &node,
        &json!({"spec": {"unschedulable": true}}),
    );
    assert_eq!(cordoned["spec"]["unschedulable"], true);
    let uncordoned = smp(
        ("v1", "Node"),
        &cordoned,
        &json!({"spec": {"unschedulable": null}}),
    );
    assert_eq!(uncordoned, node);
}

#[test]
fn strategic_merge_patch_should_add_and_remove_labels() {
    let obj = json!({"metadata": {"name": "web", "labels": {"app": "web", "env": "prod"}}});
    let out = smp(
        ("v1", "Pod"),
        &obj,
        &json!({"metadata": {"labels": {"env": null, "team": "a"}}}),
    );
    assert_eq!(
        out["metadata"]["labels"],
        json!({"app": "web", "team": "a"})
    );
}

#[test]
fn strategic_merge_patch_should_replace_maps_and_lists_on_request() {
    let original = json!({"spec": {"nodeSelector": {"disk": "hdd", "zone": "a"},
                                   "containers": [{"name": "a", "image": "1"}, {"name": "b", "image": "2"}]}});
    let patch = json!({"spec": {"nodeSelector": {"$patch": "replace", "disk": "ssd"},
                                "containers": [{"$patch": "replace"}, {"name": "c", "image": "3"}]}});
    let out = smp(("v1", "Pod"), &original, &patch);
    assert_eq!(out["spec"]["nodeSelector"], json!({"disk": "ssd"}));
    assert_eq!(
        out["spec"]["containers"],
        json!([{"name": "c", "image": "3"}])
    );
    let deleted = smp(
        ("v1", "Pod"),
        &original,
        &json!({"spec": {"nodeSelector": {"$patch": "delete"}}}),
    );
    assert!(deleted["spec"].get("nodeSelector").is_none());
    let merged = smp(
        ("v1", "Pod"),
        &original,
        &json!({"spec": {"nodeSelector": {"$patch": "merge", "zone": "b"}}}),
    );
    assert_eq!(
        merged["spec"]["nodeSelector"],
        json!({"disk": "hdd", "zone": "b"})
    );
}

#[test]
fn strategic_merge_patch_should_retain_only_listed_keys() {
    let original = json!({"spec": {"volumes": [{"name": "data", "emptyDir": {}}, {"name": "cfg", "configMap": {"name": "c"}}]}});
    let patch = json!({"spec": {"volumes": [{"$retainKeys": ["hostPath", "name"], "name": "data",
                                             "hostPath": {"path": "/srv"}}]}});
    let out = smp(("v1", "Pod"), &original, &patch);
    assert_eq!(
        out["spec"]["volumes"],
        json!([{"name": "data", "hostPath": {"path": "/srv"}}, {"name": "cfg", "configMap": {"name": "c"}}])
    );
    let bad = json!({"spec": {"volumes": [{"$retainKeys": ["name"], "name": "data", "hostPath": {"path": "/x"}}]}});
    assert!(strategic_merge_patch(pod(), &original, &bad).is_err());
}

#[test]
fn strategic_merge_patch_should_union_and_delete_primitive_lists() {
    let original = json!({"metadata": {"name": "p", "finalizers": ["a/x", "b/y"]}});
    let out = smp(
        ("v1", "Pod"),
        &original,
        &json!({"metadata": {"finalizers": ["b/y", "c/z"]}}),
    );
    let mut got: Vec<Value> = out["metadata"]["finalizers"]
        .as_array()
        .expect("list")
        .clone();
    got.sort_by_key(|v| v.to_string());
    assert_eq!(got, vec![json!("a/x"), json!("b/y"), json!("c/z")]);
    let patch = json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a/x"]}});
    let out = smp(("v1", "Pod"), &original, &patch);
    assert_eq!(out["metadata"]["finalizers"], json!(["b/y"]));
    // A list without a strategy (args, tolerations) is replaced whole; directives in it are dropped.
    let t = json!({"spec": {"tolerations": [{"key": "a"}]}});
    let patch = json!({"spec": {"tolerations": [{"key": "b", "value": null}, {"$patch": "delete", "key": "a"}]}});
    let out = smp(("v1", "Pod"), &t, &patch);
    assert_eq!(out["spec"]["tolerations"], json!([{"key": "b"}]));
    let c = json!({"spec": {"containers": [{"name": "c", "args": ["a", "b"]}]}});
    let out = smp(
        ("v1", "Pod"),
        &c,
        &json!({"spec": {"containers": [{"name": "c", "args": ["z"]}]}}),
    );
    assert_eq!(out["spec"]["containers"][0]["args"], json!(["z"]));
}

#[test]
fn strategic_merge_patch_should_merge_deployment_pod_templates() {
    let original = json!({"spec": {"replicas": 1, "template": {"spec": {"containers": [
        {"name": "web", "image": "nginx:1", "env": [{"name": "A", "value": "1"}]}]}}}});
    let patch = json!({"spec": {"replicas": 3, "template": {"spec": {"containers": [
        {"name": "web", "env": [{"name": "B", "value": "2"}]}]}}}});
    let out = smp(("apps/v1", "Deployment"), &original, &patch);
    assert_eq!(out["spec"]["replicas"], 3);
    let web = &out["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(web["image"], "nginx:1");
    assert_eq!(names(&web["env"], "name").len(), 2);
}

#[test]
fn strategic_merge_patch_should_merge_status_conditions_by_type() {
    let original = json!({"status": {"phase": "Pending", "conditions": [
        {"type": "PodScheduled", "status": "True"}, {"type": "Ready", "status": "False"}]}});
    let patch = json!({"status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}});
    let out = smp(("v1", "Pod"), &original, &patch);
    assert_eq!(
        out["status"]["conditions"],
        json!([{"type": "PodScheduled", "status": "True"}, {"type": "Ready", "status": "True"}])
    );
}

#[test]
fn strategic_merge_patch_should_strip_directives_from_new_fields() {
    let original = json!({"metadata": {"name": "p"}, "spec": {}});
    let patch = json!({"spec": {"$setElementOrder/containers": [{"name": "a"}],
        "containers": [{"name": "a", "$setElementOrder/env": [{"name": "X"}], "env": [{"name": "X", "value": "1"},
                        {"$patch": "delete", "name": "Y"}]}, {"$patch": "delete", "name": "gone"}],
        "affinity": {"$patch": "replace", "nodeAffinity": {"x": null, "y": 1}}}});
    let out = smp(("v1", "Pod"), &original, &patch);
    assert_eq!(
        out["spec"]["containers"],
        json!([{"name": "a", "env": [{"name": "X", "value": "1"}]}])
    );
    assert_eq!(out["spec"]["affinity"], json!({"nodeAffinity": {"y": 1}}));
}

#[test]
fn strategic_merge_patch_should_reject_malformed_patches() {
    let original = json!({"spec": {"containers": [{"name": "a"}]}});
    let cases = [
        json!([1, 2]),
        json!({"spec": {"containers": [{"image": "no-name"}]}}),
        json!({"spec": {"containers": ["a"]}}),
        json!({"spec": {"$patch": "explode"}}),
        json!({"spec": {"$setElementOrder/containers": "a", "containers": [{"name": "a"}]}}),
        json!({"spec": {"$setElementOrder/containers": [{"nom": "a"}], "containers": [{"name": "a"}]}}),
        json!({"metadata": {"$deleteFromPrimitiveList/finalizers": "x"}}),
        json!({"$patch": "delete"}),
    ];
    for patch in cases {
        let err = strategic_merge_patch(pod(), &original, &patch).expect_err("malformed");
        assert!(!err.0.is_empty(), "{patch}");
    }
}
