//! Tests of the bounded search (`percentageOfNodesToScore`): `decide` over a window of the
//! name-sorted nodes, and V (`verify_summary`) repeating exactly that window.

use k8s_openapi::api::core::v1::Pod;

use super::decision::{DecisionSummary, decide, schedule};
use super::evaluate::Scratch;
use super::node_info::NodeInfo;
use super::policy::Policy;
use super::search::{NodeSearch, NodesByName};
use super::testing::{make_node, make_pod};
use super::verify::verify_summary;

/// `count` nodes `n000`… with 4 CPUs, each loaded with `load(i)` millicores.
fn cluster(count: usize, load: impl Fn(usize) -> i64) -> Vec<NodeInfo> {
    (0..count)
        .map(|i| {
            let name = format!("n{i:03}");
            let mut info = NodeInfo::new(make_node(&name).cpu_milli(4000).mem("8Gi").build());
            let used = load(i);
            if used > 0 {
                info.add_pod(
                    &make_pod(&format!("load-{name}"))
                        .req_cpu_milli(used)
                        .node_name(&name)
                        .build(),
                );
            }
            info
        })
        .collect()
}

fn decide_on(pod: &Pod, nodes: &[NodeInfo], search: NodeSearch) -> (DecisionSummary, usize) {
    let d = decide(
        &mut Scratch::default(),
        pod,
        &NodesByName::new(nodes),
        &Policy::default(),
        search,
        Vec::new,
    )
    .expect("schedulable");
    (d.summary, d.processed)
}

fn pod() -> Pod {
    make_pod("p").req_cpu_milli(100).build()
}

#[test]
fn decide_over_every_node_should_agree_with_schedule() {
    let nodes = cluster(30, |i| (i as i64 * 97) % 2000);
    let pod = pod();
    let full = schedule(&pod, &nodes, &Policy::default()).expect("schedulable");
    let (summary, processed) = decide_on(&pod, &nodes, NodeSearch::all(nodes.len()));
    assert_eq!(processed, 30);
    assert_eq!(
        DecisionSummary {
            search: None,
            ..summary.clone()
        },
        full.summary()
    );
    assert_eq!(
        verify_summary(&summary, &pod, &nodes, &Policy::default()),
        Ok(())
    );
}

#[test]
fn a_bounded_search_should_pick_the_best_of_its_window_and_verify() {
    // 250 nodes: adaptive 50 − 250/125 = 48% → 120 feasible nodes to find. From index 200 the
    // window is n200…n249 and n000…n069. n100 (empty) is the best of all nodes but outside it;
    // n010 (500m) is the best inside.
    let nodes = cluster(250, |i| match i {
        100 => 0,
        10 => 500,
        _ => 1000,
    });
    let pod = pod();
    let search = NodeSearch::new(0, 200, nodes.len());
    assert_eq!(search.feasible_nodes_to_find, 120);
    let (summary, processed) = decide_on(&pod, &nodes, search);
    assert_eq!((summary.node.as_str(), processed), ("n010", 120));
    assert_eq!(summary.feasible_nodes, 120);
    assert_eq!(summary.num_nodes, 250);
    assert_eq!(
        verify_summary(&summary, &pod, &nodes, &Policy::default()),
        Ok(())
    );
    // The proof's wire form carries the search.
    let json = serde_json::to_value(&summary).unwrap();
    assert_eq!(json["search"]["startNodeIndex"], 200);
    assert_eq!(json["search"]["feasibleNodesToFind"], 120);
    let back: DecisionSummary = serde_json::from_value(json).unwrap();
    assert_eq!(back, summary);

    // A better node outside the window is not a valid choice for this search …
    let full = schedule(&pod, &nodes, &Policy::default()).unwrap();
    assert_eq!(full.node, "n100");
    let best = full.chosen().unwrap();
    let outside = DecisionSummary {
        node: best.node.clone(),
        total: best.total.unwrap(),
        scores: best.scores.clone(),
        ..summary.clone()
    };
    let err = verify_summary(&outside, &pod, &nodes, &Policy::default()).unwrap_err();
    assert!(err.contains("outside the searched window"), "{err}");
    // … and without the search recorded, V searches every node: n010 is then not optimal.
    let unbounded = DecisionSummary {
        search: None,
        ..summary.clone()
    };
    let err = verify_summary(&unbounded, &pod, &nodes, &Policy::default()).unwrap_err();
    assert!(err.contains("feasible but not optimal"), "{err}");
    // The count searched for is tied to the percentage: a narrower window is refused.
    let mut narrow = summary;
    narrow.search = Some(NodeSearch {
        feasible_nodes_to_find: 1,
        ..search
    });
    let err = verify_summary(&narrow, &pod, &nodes, &Policy::default()).unwrap_err();
    assert!(err.contains("means 120"), "{err}");
}

#[test]
fn a_window_that_wraps_should_break_ties_by_lowest_name_not_walk_order() {
    let nodes = cluster(250, |_| 0);
    let pod = pod();
    let search = NodeSearch::new(0, 200, nodes.len());
    let (summary, _) = decide_on(&pod, &nodes, search);
    assert_eq!(
        summary.node, "n000",
        "n200 is walked first, n000 has the lower name"
    );
    let mut first_walked = summary.clone();
    first_walked.node = "n200".into();
    let err = verify_summary(&first_walked, &pod, &nodes, &Policy::default()).unwrap_err();
    assert!(err.contains("tie-break"), "{err}");
}

#[test]
fn infeasible_nodes_should_lengthen_the_walk_not_the_count() {
    // Every third node is cordoned: the walk processes more nodes to find its 120 feasible ones.
    let mut nodes = cluster(250, |_| 1000);
    for (i, n) in nodes.iter_mut().enumerate().filter(|(i, _)| i % 3 == 0) {
        let node = make_node(&format!("n{i:03}"))
            .cpu_milli(4000)
            .mem("8Gi")
            .unschedulable()
            .build();
        n.set_node(node);
    }
    let pod = pod();
    let (summary, processed) = decide_on(&pod, &nodes, NodeSearch::new(0, 0, nodes.len()));
    assert_eq!(summary.feasible_nodes, 120);
    assert_eq!(
        processed, 180,
        "0..180 holds 60 cordoned nodes and 120 feasible ones"
    );
    assert_eq!(
        verify_summary(&summary, &pod, &nodes, &Policy::default()),
        Ok(())
    );
}

#[test]
fn an_unschedulable_pod_should_be_reported_over_every_node_whatever_the_window() {
    let nodes = cluster(250, |_| 3950);
    let pod = pod();
    let err = decide(
        &mut Scratch::default(),
        &pod,
        &NodesByName::new(&nodes),
        &Policy::default(),
        NodeSearch::new(0, 77, nodes.len()),
        Vec::new,
    )
    .unwrap_err();
    assert_eq!(
        err.message(),
        "0/250 nodes are available: 250 Insufficient cpu."
    );
    assert!(err.resolvable);
}

#[test]
fn a_proof_without_a_search_should_still_parse_as_a_full_search() {
    let nodes = cluster(5, |i| i as i64 * 100);
    let pod = pod();
    let full = schedule(&pod, &nodes, &Policy::default()).unwrap();
    let mut json = serde_json::to_value(full.summary()).unwrap();
    assert!(json.get("search").is_none(), "absent, not null");
    json.as_object_mut().unwrap().remove("search");
    let old: DecisionSummary = serde_json::from_value(json).unwrap();
    assert_eq!(old.search, None);
    assert_eq!(
        verify_summary(&old, &pod, &nodes, &Policy::default()),
        Ok(())
    );
}
