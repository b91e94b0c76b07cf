use super::*;
use serde_json::{Value, json};

fn node(name: &str, cpu: &str, pods: &str) -> (String, String) {
    let n = json!({"kind": "Node", "metadata": {"name": name},
        "status": {"allocatable": {"cpu": cpu, "memory": "8Gi", "pods": pods}}});
    (format!("{NODE_KEY}{name}"), n.to_string())
}

fn pod_json(name: &str, node: Option<&str>, cpu: &str, phase: Option<&str>) -> Value {
    let mut p = json!({"kind": "Pod", "metadata": {"name": name, "namespace": "default"},
        "spec": {"containers": [{"name": "c", "image": "i",
            "resources": {"requests": {"cpu": cpu}}}]}});
    if let Some(n) = node {
        p["spec"]["nodeName"] = json!(n);
    }
    if let Some(ph) = phase {
        p["status"] = json!({"phase": ph});
    }
    p
}

fn put_pod(v: &mut NodeUsage, name: &str, node: Option<&str>, cpu: &str, phase: Option<&str>) {
    let p = pod_json(name, node, cpu, phase);
    v.apply(&format!("{PODS}default/{name}"), Some(&p.to_string()));
}

fn candidate(cpu: &str) -> Pod {
    serde_json::from_value(pod_json("new", None, cpu, None)).unwrap()
}

fn view() -> NodeUsage {
    let mut v = NodeUsage::default();
    for (k, j) in [node("n1", "2", "3"), node("n2", "4", "110")] {
        v.apply(&k, Some(&j));
    }
    v
}

#[test]
fn node_usage_should_refuse_requests_beyond_allocatable() {
    let mut v = view();
    put_pod(&mut v, "a", Some("n1"), "1500m", None);
    assert_eq!(v.fits(&candidate("500m"), "n1"), Ok(()));
    assert_eq!(
        v.fits(&candidate("501m"), "n1"),
        Err("node \"n1\" does not fit pod default/new: Insufficient cpu".into())
    );
    assert_eq!(v.fits(&candidate("501m"), "n2"), Ok(()));
    assert_eq!(
        v.fits(&candidate("1m"), "gone"),
        Err("node \"gone\" does not exist".into())
    );
}

#[test]
fn node_usage_should_take_back_deleted_moved_and_terminal_pods() {
    let mut v = view();
    put_pod(&mut v, "a", Some("n1"), "2", None);
    assert!(v.fits(&candidate("1"), "n1").is_err());
    // moved to n2: n1 is free again, n2 takes it.
    put_pod(&mut v, "a", Some("n2"), "2", None);
    assert_eq!(v.fits(&candidate("2"), "n1"), Ok(()));
    assert!(v.fits(&candidate("2500m"), "n2").is_err());
    // terminal: not counted.
    put_pod(&mut v, "a", Some("n2"), "2", Some("Succeeded"));
    assert_eq!(v.fits(&candidate("4"), "n2"), Ok(()));
    put_pod(&mut v, "b", Some("n2"), "3", None);
    assert!(v.fits(&candidate("2"), "n2").is_err());
    v.apply(&format!("{PODS}default/b"), None);
    assert_eq!(v.fits(&candidate("4"), "n2"), Ok(()));
    assert!(v.usage.is_empty() && v.pods.is_empty());
}

#[test]
fn node_usage_should_enforce_the_pod_limit_and_list_every_reason() {
    let mut v = view();
    for name in ["a", "b", "c"] {
        put_pod(&mut v, name, Some("n1"), "100m", None);
    }
    assert_eq!(
        v.fits(&candidate("2"), "n1"),
        Err("node \"n1\" does not fit pod default/new: Too many pods, Insufficient cpu".into())
    );
    // Unbound pods count nowhere.
    put_pod(&mut v, "d", None, "4", None);
    assert_eq!(v.fits(&candidate("4"), "n2"), Ok(()));
}

#[test]
fn node_usage_should_count_pods_bound_before_their_node_registers() {
    let mut v = NodeUsage::default();
    put_pod(&mut v, "a", Some("n1"), "2", None);
    assert!(v.fits(&candidate("1"), "n1").is_err(), "no such node yet");
    let (k, j) = node("n1", "2", "110");
    v.apply(&k, Some(&j));
    assert!(v.fits(&candidate("1"), "n1").is_err(), "a still takes n1");
    // A bare Node (no capacity, no allocatable) is not checked; a deleted one does not exist.
    v.apply(
        &k,
        Some(&json!({"kind": "Node", "metadata": {"name": "n1"}}).to_string()),
    );
    assert_eq!(v.fits(&candidate("64"), "n1"), Ok(()));
    v.apply(&k, None);
    assert!(v.fits(&candidate("1"), "n1").is_err());
}

#[test]
fn node_usage_should_check_extended_resources() {
    let mut v = NodeUsage::default();
    let n = json!({"kind": "Node", "metadata": {"name": "g"},
        "status": {"capacity": {"cpu": "4", "pods": "10", "nvidia.com/gpu": "1"}}});
    v.apply(&format!("{NODE_KEY}g"), Some(&n.to_string()));
    let mut p = pod_json("new", None, "1", None);
    p["spec"]["containers"][0]["resources"]["limits"] = json!({"nvidia.com/gpu": "2"});
    let p: Pod = serde_json::from_value(p).unwrap();
    assert_eq!(
        v.fits(&p, "g"),
        Err("node \"g\" does not fit pod default/new: Insufficient nvidia.com/gpu".into())
    );
}
