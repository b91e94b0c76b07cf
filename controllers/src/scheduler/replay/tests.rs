use super::*;
use crate::scheduler::schedule;
use crate::scheduler::testing::{make_node, make_pod};
use serde_json::{Value, json};

/// Stores `obj` at revision `rev` (as JSON with that resourceVersion) and returns its JSON.
fn at(mut obj: Value, rev: u64) -> String {
    obj["metadata"]["resourceVersion"] = json!(rev.to_string());
    obj.to_string()
}

fn to_json<T: serde::Serialize>(t: &T) -> Value {
    serde_json::to_value(t).unwrap()
}

/// n1 (4 CPUs, empty) and n2 (4 CPUs, 3 used) at revisions 1–3, pod `p` (500m) at 4.
fn history() -> (SchedulingReplay, Pod, Vec<NodeInfo>) {
    let mut r = SchedulingReplay::new();
    let n1 = make_node("n1").cpu_milli(4000).mem("8Gi").pods(10).build();
    let n2 = make_node("n2").cpu_milli(4000).mem("8Gi").pods(10).build();
    let busy = make_pod("busy").req_cpu_milli(3000).node_name("n2").build();
    r.apply(1, "core/nodes//n1", Some(&at(to_json(&n1), 1)));
    r.apply(2, "core/nodes//n2", Some(&at(to_json(&n2), 2)));
    r.apply(3, "core/pods/default/busy", Some(&at(to_json(&busy), 3)));
    let p = make_pod("p").req_cpu_milli(500).build();
    let pj = at(to_json(&p), 4);
    r.apply(4, "core/pods/default/p", Some(&pj));
    let p: Pod = serde_json::from_str(&pj).unwrap();
    let infos = NodeInfo::build_all(&[n1, n2], &[busy]);
    (r, p, infos)
}

fn proof_for(p: &Pod, infos: &[NodeInfo], node: Option<&str>) -> SchedulingProof {
    let d = schedule(p, infos, &Policy::default()).unwrap();
    let mut summary = d.summary();
    if let Some(n) = node {
        let e = d.nodes.iter().find(|e| e.node == n).unwrap();
        summary.node = n.to_owned();
        summary.total = e.total.unwrap();
        summary.scores = e.scores.clone();
    }
    SchedulingProof {
        kind: kinds::SCHEDULING.into(),
        version: 1,
        pod_uid: None,
        pod_resource_version: 4,
        nodes_revision: 2,
        pods_revision: 4,
        assumed: Vec::new(),
        decision: summary,
    }
}

fn bind(r: &mut SchedulingReplay, rev: u64, p: &Pod, node: &str, proof: &[u8]) -> Verdict {
    let before = serde_json::to_string(p).unwrap();
    let mut after = to_json(p);
    after["spec"]["nodeName"] = json!(node);
    let after = at(after, rev);
    r.check(
        rev,
        "core/pods/default/p",
        Some(&before),
        Some(&after),
        proof,
        true,
    )
}

#[test]
fn an_optimal_decision_should_verify_after_later_changes_are_rolled_back() {
    let (mut r, p, infos) = history();
    let proof = proof_for(&p, &infos, None);
    assert_eq!(proof.decision.node, "n1");
    // After the decision, n1 fills up: V must judge on the state at the proof's revisions.
    let late = make_pod("late").req_cpu_milli(3900).node_name("n1").build();
    r.apply(5, "core/pods/default/late", Some(&at(to_json(&late), 5)));
    assert_eq!(
        bind(&mut r, 6, &p, "n1", &proof.to_bytes()),
        Verdict::Accept
    );
}

#[test]
fn a_feasible_but_not_optimal_decision_should_be_rejected() {
    let (mut r, p, infos) = history();
    let proof = proof_for(&p, &infos, Some("n2"));
    match bind(&mut r, 5, &p, "n2", &proof.to_bytes()) {
        Verdict::Reject(why) => assert!(why.contains("feasible but not optimal"), "{why}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_controller_binding_without_a_proof_should_be_rejected_and_a_manual_one_checked_for_fit() {
    let (mut r, p, _) = history();
    assert!(matches!(bind(&mut r, 5, &p, "n1", b""), Verdict::Reject(_)));
    let huge = make_pod("p").req_cpu_milli(9000).build();
    let before = at(to_json(&huge), 4);
    let mut after: Value = serde_json::from_str(&before).unwrap();
    after["spec"]["nodeName"] = json!("n1");
    let proof = BindingFeasibilityProof::bytes_for("n1");
    let v = r.check(
        5,
        "core/pods/default/p",
        Some(&before),
        Some(&at(after, 5)),
        &proof,
        false,
    );
    assert!(
        matches!(&v, Verdict::RejectIfEnforced(w) if w.contains("Insufficient cpu")),
        "{v:?}"
    );
}

#[test]
fn an_assumed_pod_newer_than_the_pods_revision_should_be_counted_as_it_is_before_the_record() {
    let (mut r, p, mut infos) = history();
    // The queue saw `early` (created at 5) and bound it to n1 (at 6) before the cache's pod
    // watch passed revision 4: the next decision counts it as assumed on n1.
    let early = make_pod("early").req_cpu_milli(3400).build();
    r.apply(5, "core/pods/default/early", Some(&at(to_json(&early), 5)));
    let mut bound = to_json(&early);
    bound["spec"]["nodeName"] = json!("n1");
    r.apply(6, "core/pods/default/early", Some(&at(bound, 6)));
    assert!(infos[0].assume(&early));
    let mut proof = proof_for(&p, &infos, None);
    assert_eq!(
        proof.decision.node, "n2",
        "n1 is fuller with the assumed pod"
    );
    proof.assumed = vec![crate::scheduler::proof::AssumedPod {
        pod: "default/early".into(),
        node: "n1".into(),
    }];
    assert_eq!(
        bind(&mut r, 7, &p, "n2", &proof.to_bytes()),
        Verdict::Accept
    );
    // A pod that exists nowhere cannot be claimed as assumed.
    proof.assumed[0].pod = "default/ghost".into();
    match bind(&mut r, 8, &p, "n2", &proof.to_bytes()) {
        Verdict::Reject(why) => assert!(why.contains("does not exist"), "{why}"),
        other => panic!("{other:?}"),
    }
}

/// 150 nodes `n000`… (each 1000m busy but n075, empty) and pod `p`; returns the replay, the pod,
/// the node infos and the last revision.
fn wide_history() -> (SchedulingReplay, Pod, Vec<NodeInfo>, u64) {
    let mut r = SchedulingReplay::new();
    let (mut nodes, mut pods, mut rev) = (Vec::new(), Vec::new(), 0);
    for i in 0..150 {
        rev += 1;
        let name = format!("n{i:03}");
        let node = make_node(&name).cpu_milli(4000).mem("8Gi").pods(10).build();
        r.apply(
            rev,
            &format!("core/nodes//{name}"),
            Some(&at(to_json(&node), rev)),
        );
        nodes.push(node);
        if i != 75 {
            rev += 1;
            let load = make_pod(&format!("load{i}"))
                .req_cpu_milli(1000)
                .node_name(&name)
                .build();
            r.apply(
                rev,
                &format!("core/pods/default/load{i}"),
                Some(&at(to_json(&load), rev)),
            );
            pods.push(load);
        }
    }
    rev += 1;
    let pj = at(to_json(&make_pod("p").req_cpu_milli(100).build()), rev);
    r.apply(rev, "core/pods/default/p", Some(&pj));
    let p: Pod = serde_json::from_str(&pj).unwrap();
    (r, p, NodeInfo::build_all(&nodes, &pods), rev)
}

#[test]
fn a_bounded_search_proof_should_be_checked_over_the_same_window() {
    use crate::scheduler::{NodeSearch, NodesByName, Scratch, decide};
    let (mut r, p, infos, rev) = wide_history();
    // 150 nodes: 100 feasible nodes to find; from index 100 the window is n100…n149, n000…n049.
    let search = NodeSearch::new(0, 100, infos.len());
    assert_eq!(search.feasible_nodes_to_find, 100);
    let nodes = NodesByName::new(&infos);
    let d = decide(
        &mut Scratch::default(),
        &p,
        &nodes,
        &Policy::default(),
        search,
        Vec::new,
    )
    .unwrap();
    assert_eq!(d.summary.node, "n000", "n075 (empty) is outside the window");
    let mut proof = proof_for(&p, &infos, None);
    (proof.nodes_revision, proof.pods_revision) = (rev, rev);
    proof.pod_resource_version = rev;
    proof.decision = d.summary;
    assert_eq!(
        bind(&mut r, rev + 1, &p, "n000", &proof.to_bytes()),
        Verdict::Accept
    );
    // The best node of all, outside the window the proof names, is not a valid choice for it.
    let full = schedule(&p, &infos, &Policy::default()).unwrap();
    let best = full.chosen().unwrap();
    assert_eq!(best.node, "n075");
    proof.decision.node = best.node.clone();
    proof.decision.total = best.total.unwrap();
    proof.decision.scores = best.scores.clone();
    match bind(&mut r, rev + 2, &p, "n075", &proof.to_bytes()) {
        Verdict::Reject(why) => assert!(why.contains("outside the searched window"), "{why}"),
        other => panic!("{other:?}"),
    }
}
