use super::graph::Graph;
use super::plan::{Decision, OwnerState, Policy, decide};
use serde_json::json;

fn s(u: &str, st: OwnerState) -> (String, OwnerState) {
    (u.to_string(), st)
}

#[test]
fn decide_should_follow_kubernetes_attempt_to_delete() {
    use OwnerState::*;
    assert_eq!(decide(&[], false, false, false), Decision::Keep);
    assert_eq!(
        decide(&[s("a", Solid)], false, false, false),
        Decision::Keep
    );
    assert_eq!(
        decide(
            &[s("a", Solid), s("b", Dangling), s("c", Waiting)],
            true,
            false,
            false
        ),
        Decision::RemoveRefs(vec!["b".into(), "c".into()])
    );
    assert_eq!(
        decide(&[s("a", Dangling)], false, false, false),
        Decision::Delete(Policy::Background)
    );
    assert_eq!(
        decide(&[s("a", Dangling)], true, true, false),
        Decision::Delete(Policy::Orphan)
    );
    assert_eq!(
        decide(&[s("a", Waiting)], true, false, false),
        Decision::Delete(Policy::Foreground)
    );
    assert_eq!(
        decide(&[s("a", Waiting)], false, false, false),
        Decision::Delete(Policy::Background)
    );
}

#[test]
fn graph_should_trigger_dependents_and_owners() {
    let mut g = Graph::default();
    let owner = json!({"metadata": {"name": "rs", "namespace": "d", "uid": "u-rs"}});
    let pod = json!({"metadata": {"name": "p", "namespace": "d", "uid": "u-p",
        "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "uid": "u-rs", "blockOwnerDeletion": true}]}});
    assert!(g.apply(1, &owner).is_empty());
    assert!(g.apply(0, &pod).is_empty());
    assert!(g.has_dependents("u-rs"));
    // Foreground deletion of the owner triggers the pod.
    let mut marked = owner.clone();
    marked["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
    marked["metadata"]["finalizers"] = json!(["foregroundDeletion"]);
    let t = g.apply(1, &marked);
    assert_eq!(t.len(), 1);
    assert_eq!((t[0].0, t[0].1.name.as_str()), (0, "p"));
    assert!(g.get("u-rs").is_some_and(|n| n.foreground));
    // The pod's deletion triggers its waiting owner.
    let t = g.delete(&pod);
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].1.name, "rs");
    assert!(!g.has_dependents("u-rs"));
    // The owner's removal triggers what still names it.
    g.apply(0, &pod);
    let t = g.delete(&marked);
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].1.name, "p");
}
