//! Tests of `schedule` and `verify` over whole node sets.

use k8s_openapi::api::core::v1::Pod;

use super::decision::{FilterOutcome, schedule};
use super::framework::Code;
use super::node_info::NodeInfo;
use super::policy::{Policy, TIE_BREAK};
use super::testing::{make_node, make_pod};
use super::verify::{verify, verify_summary};

fn node(name: &str, cpu: i64, mem: &str) -> NodeInfo {
    NodeInfo::new(make_node(name).cpu_milli(cpu).mem(mem).build())
}

fn with_load(name: &str, cpu: i64, mem: &str, used_cpu: i64, used_mem: &str) -> NodeInfo {
    let mut n = node(name, cpu, mem);
    n.add_pod(
        &make_pod(&format!("load-{name}"))
            .req_cpu_milli(used_cpu)
            .req_mem(used_mem)
            .build(),
    );
    n
}

#[test]
fn schedule_should_pick_the_least_allocated_node_and_record_scores() {
    let nodes = vec![
        with_load("n1", 4000, "8Gi", 1000, "3Gi"),
        with_load("n2", 4000, "8Gi", 3000, "1Gi"),
    ];
    let pod = make_pod("p").req_cpu_milli(500).req_mem("512Mi").build();
    let d = schedule(&pod, &nodes, &Policy::least_allocated()).unwrap();
    // n1: cpu (4000-1500)*100/4000 = 62, mem (8-3.5)*100/8 = 56 → 59
    // n2: cpu (4000-3500)*100/4000 = 12, mem (8-1.5)*100/8 = 81 → 46
    // NodeAffinity 0 ×2, TaintToleration 100 ×3, PodSpread 100 ×2 on both → totals 59+500 = 559, 46+500 = 546
    assert_eq!(d.node, "n1");
    assert_eq!(d.total, 559);
    let n2 = d.nodes.iter().find(|e| e.node == "n2").unwrap();
    assert_eq!(n2.total, Some(546));
    let scores: Vec<_> = n2
        .scores
        .iter()
        .map(|s| (s.plugin.as_str(), s.raw, s.normalized, s.weighted))
        .collect();
    assert_eq!(
        scores,
        [
            ("LeastAllocated", 46, 46, 46),
            ("NodeAffinity", 0, 0, 0),
            ("TaintToleration", 0, 100, 300),
            ("PodSpread", 0, 100, 200)
        ]
    );
    assert_eq!(d.policy, "LeastAllocated");
    assert_eq!(d.tie_break, TIE_BREAK);
    assert_eq!(d.filters[0], "NodeName");
}

#[test]
fn schedule_should_bin_pack_under_most_allocated() {
    let nodes = vec![
        with_load("n1", 4000, "8Gi", 1000, "3Gi"),
        with_load("n2", 4000, "8Gi", 3000, "1Gi"),
    ];
    let pod = make_pod("p").req_cpu_milli(500).req_mem("512Mi").build();
    let d = schedule(&pod, &nodes, &Policy::most_allocated()).unwrap();
    // n1: cpu 1500*100/4000 = 37, mem 3.5*100/8 = 43 → 40; n2: cpu 87 (87.5), mem 18 (18.75) → 52
    assert_eq!(d.node, "n2");
    assert_eq!(d.total, 52 + 500);
}

#[test]
fn schedule_should_prefer_balanced_nodes_under_balanced_allocation() {
    // n1: f_cpu 1500/4000 = .375, f_mem 3.5/8 = .4375 → 96; n2: f_cpu .875, f_mem .1875 → 100 − ceil(34.375) = 65
    let nodes = vec![
        with_load("n1", 4000, "8Gi", 1000, "3Gi"),
        with_load("n2", 4000, "8Gi", 3000, "1Gi"),
    ];
    let pod = make_pod("p").req_cpu_milli(500).req_mem("512Mi").build();
    let d = schedule(&pod, &nodes, &Policy::balanced_allocation()).unwrap();
    assert_eq!(d.node, "n1");
    assert_eq!(d.nodes[1].scores[0].raw, 65);
}

#[test]
fn schedule_should_report_unschedulable_in_kubernetes_format() {
    let mut nodes: Vec<NodeInfo> = (1..=3)
        .map(|i| with_load(&format!("busy{i}"), 1000, "4Gi", 900, "1Gi"))
        .collect();
    for i in 1..=2 {
        nodes.push(NodeInfo::new(
            make_node(&format!("gone{i}"))
                .cpu_milli(8000)
                .mem("8Gi")
                .taint("node.kubernetes.io/unreachable", "", "NoSchedule")
                .ready("Unknown")
                .build(),
        ));
    }
    let pod = make_pod("p").req_cpu_milli(500).build();
    let err = schedule(&pod, &nodes, &Policy::default()).unwrap_err();
    assert_eq!(
        err.message(),
        "0/5 nodes are available: 2 node(s) had untolerated taint {node.kubernetes.io/unreachable: }, 3 Insufficient cpu."
    );
    assert!(
        err.resolvable,
        "Insufficient cpu can be fixed by pods leaving"
    );
    assert_eq!(err.to_string(), err.message());
    assert_eq!(err.nodes.len(), 5);
}

#[test]
fn schedule_should_reject_a_node_selector_no_node_matches() {
    // pod-nginx-nodeselector-flowstyle.yaml: nodeSelector disktype=ssd on nodes without that label.
    let nodes: Vec<NodeInfo> = (1..=3)
        .map(|i| node(&format!("n{i}"), 4000, "8Gi"))
        .collect();
    let pod = make_pod("nginx").node_selector("disktype", "ssd").build();
    let err = schedule(&pod, &nodes, &Policy::default()).unwrap_err();
    assert_eq!(
        err.message(),
        "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector."
    );
    assert!(!err.resolvable, "only node changes help");
    assert!(matches!(
        &err.nodes[0].outcome,
        FilterOutcome::Infeasible { plugin, code: Code::UnschedulableAndUnresolvable, .. } if plugin == "NodeAffinity"
    ));
}

#[test]
fn schedule_should_count_limits_as_requests() {
    // multi-pod.yaml valid-pod: limits cpu 1, memory 512Mi → fits a 1000m node, not a 999m one.
    let pod = make_pod("valid-pod")
        .limit_cpu("1")
        .limit_mem("512Mi")
        .build();
    let small = schedule(&pod, &[node("small", 999, "8Gi")], &Policy::default()).unwrap_err();
    assert_eq!(
        small.message(),
        "0/1 nodes are available: 1 Insufficient cpu."
    );
    let d = schedule(
        &pod,
        &[node("small", 999, "8Gi"), node("exact", 1000, "512Mi")],
        &Policy::default(),
    )
    .unwrap();
    assert_eq!(d.node, "exact");
}

#[test]
fn schedule_should_not_overcommit_with_assumed_pods() {
    let mut nodes = vec![node("n1", 1000, "4Gi")];
    let first = make_pod("first").req_cpu_milli(600).build();
    let d = schedule(&first, &nodes, &Policy::default()).unwrap();
    assert!(d.assumed_pods.is_empty());
    nodes[0].assume(&first);
    let second = make_pod("second").req_cpu_milli(600).build();
    let err = schedule(&second, &nodes, &Policy::default()).unwrap_err();
    assert_eq!(
        err.message(),
        "0/1 nodes are available: 1 Insufficient cpu."
    );
    assert_eq!(err.assumed_pods, vec!["default/first".to_owned()]);
    nodes[0].forget("default/first");
    let d = schedule(&second, &nodes, &Policy::default()).unwrap();
    assert_eq!(d.node, "n1");
}

#[test]
fn schedule_should_ignore_terminal_pods() {
    let mut n = node("n1", 1000, "4Gi");
    n.add_pod(
        &make_pod("done")
            .req_cpu_milli(1000)
            .phase("Succeeded")
            .build(),
    );
    let pod = make_pod("p").req_cpu_milli(1000).build();
    assert_eq!(schedule(&pod, &[n], &Policy::default()).unwrap().node, "n1");
}

fn mixed_nodes() -> Vec<NodeInfo> {
    let mut nodes = vec![
        with_load("c", 4000, "8Gi", 500, "1Gi"),
        with_load("a", 4000, "8Gi", 500, "1Gi"),
        with_load("e", 2000, "8Gi", 0, "0"),
        NodeInfo::new(
            make_node("b")
                .cpu_milli(8000)
                .mem("8Gi")
                .taint("x", "", "NoSchedule")
                .build(),
        ),
        with_load("d", 4000, "8Gi", 3500, "1Gi"),
    ];
    nodes[0].add_pod(&make_pod("web-1").label("app", "web").build());
    nodes
}

#[test]
fn schedule_should_be_deterministic_under_node_order() {
    let pod = make_pod("p")
        .req_cpu_milli(500)
        .req_mem("1Gi")
        .label("app", "web")
        .build();
    let nodes = mixed_nodes();
    let reference = schedule(&pod, &nodes, &Policy::default()).unwrap();
    for rotation in 0..nodes.len() {
        let mut shuffled = nodes.clone();
        shuffled.rotate_left(rotation);
        assert_eq!(
            schedule(&pod, &shuffled, &Policy::default()).unwrap(),
            reference,
            "rotation {rotation}"
        );
        shuffled.reverse();
        assert_eq!(
            schedule(&pod, &shuffled, &Policy::default()).unwrap(),
            reference,
            "reversed {rotation}"
        );
    }
    // e (2000m, empty): cpu (2000-500)*100/2000 = 75, mem (8-1)*100/8 = 87 → 81, + 300 + 200 = 581.
    // a: cpu (4000-1000)*100/4000 = 75, mem (8-2)*100/8 = 75 → 75 → 575.
    // c: like a plus web-1 (counted 100m / 200Mi) → 72; it holds a web pod: PodSpread 0 → 72 + 300 = 372.
    let total = |n: &str| {
        reference
            .nodes
            .iter()
            .find(|e| e.node == n)
            .and_then(|e| e.total)
    };
    assert_eq!(reference.node, "e");
    assert_eq!(
        (total("e"), total("a"), total("c"), total("b")),
        (Some(581), Some(575), Some(372), None)
    );
}

#[test]
fn schedule_should_break_ties_by_lowest_node_name() {
    let nodes = vec![
        node("zeta", 4000, "8Gi"),
        node("alpha", 4000, "8Gi"),
        node("mid", 4000, "8Gi"),
    ];
    let pod = make_pod("p").req_cpu_milli(100).build();
    let d = schedule(&pod, &nodes, &Policy::default()).unwrap();
    assert_eq!(d.node, "alpha");
    assert!(d.nodes.iter().all(|e| e.total == Some(d.total)));
}

fn decided() -> (Pod, Vec<NodeInfo>, super::decision::Decision) {
    let pod = make_pod("p")
        .req_cpu_milli(500)
        .req_mem("1Gi")
        .label("app", "web")
        .build();
    let nodes = mixed_nodes();
    let d = schedule(&pod, &nodes, &Policy::default()).unwrap();
    (pod, nodes, d)
}

#[test]
fn verify_should_accept_the_recomputed_decision() {
    let (pod, nodes, d) = decided();
    assert_eq!(verify(&d, &pod, &nodes, &Policy::default()), Ok(()));
    // survives a JSON round trip (the proof's wire form)
    let back = serde_json::from_value(serde_json::to_value(&d).unwrap()).unwrap();
    assert_eq!(verify(&back, &pod, &nodes, &Policy::default()), Ok(()));
}

#[test]
fn verify_should_reject_a_feasible_but_not_optimal_node() {
    let (pod, nodes, mut d) = decided();
    let worse = d.nodes.iter().find(|e| e.node == "d").unwrap().clone();
    assert_eq!(worse.outcome, FilterOutcome::Feasible);
    d.node = worse.node;
    d.total = worse.total.unwrap();
    let err = verify(&d, &pod, &nodes, &Policy::default()).unwrap_err();
    assert!(err.contains("feasible but not optimal"), "{err}");
}

#[test]
fn verify_should_reject_an_infeasible_node() {
    let (pod, nodes, mut d) = decided();
    d.node = "b".to_owned();
    let err = verify(&d, &pod, &nodes, &Policy::default()).unwrap_err();
    assert!(err.contains("not feasible: TaintToleration"), "{err}");
}

#[test]
fn verify_should_reject_a_tie_resolved_the_wrong_way() {
    let nodes = vec![node("n1", 4000, "8Gi"), node("n2", 4000, "8Gi")];
    let pod = make_pod("p").req_cpu_milli(100).build();
    let mut d = schedule(&pod, &nodes, &Policy::default()).unwrap();
    d.node = "n2".to_owned();
    let err = verify(&d, &pod, &nodes, &Policy::default()).unwrap_err();
    assert!(err.contains("tie-break"), "{err}");
}

#[test]
fn verify_should_reject_tampered_scores_policy_and_assumed_pods() {
    let (pod, nodes, d) = decided();
    let mut scores = d.clone();
    scores.nodes[0].scores[0].raw += 1;
    assert!(
        verify(&scores, &pod, &nodes, &Policy::default())
            .unwrap_err()
            .contains("differs")
    );
    assert!(
        verify(&d, &pod, &nodes, &Policy::most_allocated())
            .unwrap_err()
            .contains("policy")
    );
    let mut assumed = d.clone();
    assumed.assumed_pods.push("default/ghost".to_owned());
    assert!(
        verify(&assumed, &pod, &nodes, &Policy::default())
            .unwrap_err()
            .contains("assumed")
    );
    let other = make_pod("q").req_cpu_milli(500).build();
    assert!(
        verify(&d, &other, &nodes, &Policy::default())
            .unwrap_err()
            .contains("pod")
    );
}

#[test]
fn verify_summary_should_check_the_compact_proof() {
    let (pod, nodes, d) = decided();
    let summary = d.summary();
    assert_eq!(summary.num_nodes, 5);
    assert_eq!(summary.feasible_nodes, 4);
    assert!(verify_summary(&summary, &pod, &nodes, &Policy::default()).is_ok());
    let mut worse = summary.clone();
    worse.node = "a".to_owned();
    let err = verify_summary(&worse, &pod, &nodes, &Policy::default()).unwrap_err();
    assert!(err.contains("feasible but not optimal"), "{err}");
    let mut scores = summary;
    scores.scores[1].weighted += 1;
    let err = verify_summary(&scores, &pod, &nodes, &Policy::default()).unwrap_err();
    assert!(err.contains("scores"), "{err}");
}
