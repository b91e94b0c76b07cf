//! What one decision costs on a synthetic 5,000-node cluster (ignored by default: a measurement,
//! not a check). Run with
//! `cargo test --release -p mock_k8_controllers decision_cost -- --ignored --nocapture`.
//!
//! Three ways to decide the same pods on 5,000 nodes holding 20 pods each:
//! - `schedule` (every node, with every node's evaluation record: node name and per-plugin
//!   `String`s — what the scheduler did per pod before it used `decide`);
//! - `decide` at `percentageOfNodesToScore` 100 (every node, scores as numbers, records only for
//!   the chosen node);
//! - `decide` at 0, Kubernetes' adaptive default (10% of 5,000: 500 feasible nodes), from a
//!   rotating start index, as the scheduler runs.

use std::time::Instant;

use super::decision::{decide, schedule};
use super::evaluate::Scratch;
use super::node_info::NodeInfo;
use super::policy::Policy;
use super::search::{NodeSearch, NodesByName};
use super::testing::{make_node, make_pod};

fn cluster(nodes: usize, pods_per_node: usize) -> Vec<NodeInfo> {
    let mut infos: Vec<NodeInfo> = (0..nodes)
        .map(|i| {
            let name = format!("sim-node-{i}");
            let mut info = NodeInfo::new(make_node(&name).cpu_milli(4000).mem("8Gi").build());
            for j in 0..pods_per_node {
                let pod = make_pod(&format!("run-{i}-{j}"))
                    .label("bench-run", "run")
                    .req_cpu_milli(10)
                    .req_mem("16Mi")
                    .node_name(&name)
                    .build();
                info.add_pod(&pod);
            }
            info
        })
        .collect();
    infos.sort_by(|a, b| a.name().cmp(b.name()));
    infos
}

#[test]
#[ignore = "a measurement; run in release with --ignored --nocapture"]
fn decision_cost_at_5000_nodes() {
    let nodes = cluster(5000, 20);
    let by_name = NodesByName::new(&nodes);
    let policy = Policy::default();
    let pods: Vec<_> = (0..200)
        .map(|i| {
            make_pod(&format!("new-{i}"))
                .label("bench-run", "run")
                .req_cpu_milli(10)
                .req_mem("16Mi")
                .build()
        })
        .collect();
    let t = Instant::now();
    for pod in &pods {
        std::hint::black_box(schedule(pod, &nodes, &policy).ok());
    }
    let full_records = t.elapsed() / pods.len() as u32;
    let mut scratch = Scratch::default();
    let mut run = |percentage: u32| {
        let mut start = 0;
        let t = Instant::now();
        for pod in &pods {
            let search = NodeSearch::new(percentage, start, nodes.len());
            let d = decide(&mut scratch, pod, &by_name, &policy, search, Vec::new);
            start += d.as_ref().map(|d| d.processed).unwrap_or(0);
            std::hint::black_box(d.ok());
        }
        t.elapsed() / pods.len() as u32
    };
    let all = run(100);
    let adaptive = run(0);
    println!(
        "per decision at 5,000 nodes: schedule (all nodes, all records) {full_records:?}; \
         decide 100% {all:?}; decide adaptive (500 feasible) {adaptive:?}"
    );
}
