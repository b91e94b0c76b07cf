//! Scheduler controller tests on simulated time, against the in-memory FakeClient.

use super::*;
use crate::builtin::testing::{core, events_with_reason, eventually, fake, stored};
use crate::client::testing::FakeClient;
use crate::controller::ReconcileResult;
use crate::scheduler::testing::{make_node, make_pod};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Mutex;

struct Harness {
    fake: Arc<FakeClient>,
    client: Arc<dyn Client>,
    reconciles: Arc<Mutex<HashMap<String, usize>>>,
    decisions: DecisionLog,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<Result<(), Error>>,
}

impl Harness {
    fn start() -> Harness {
        let (fake, client) = fake();
        let reconciles: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
        let counts = reconciles.clone();
        let hook: Arc<dyn ResultHook> = Arc::new(move |r: &ReconcileResult<'_>| {
            *counts
                .lock()
                .expect("lock")
                .entry(r.object.name.clone())
                .or_default() += 1;
        });
        let scheduler =
            SchedulerController::new(client.clone(), SchedulerConfig::default()).expect("policy");
        let decisions = scheduler.decisions();
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(scheduler.run(hook, shutdown.clone()));
        Harness {
            fake,
            client,
            reconciles,
            decisions,
            shutdown,
            task,
        }
    }

    async fn create(&self, kind: &str, obj: impl serde::Serialize) {
        let r = core(kind);
        let ns = r.namespaced.then_some("default");
        self.client
            .create(r, ns, serde_json::to_value(obj).expect("json"))
            .await
            .expect("create");
    }

    fn pod(&self, name: &str) -> Value {
        stored(&self.fake, core("Pod"), "default", name).expect("pod stored")
    }

    fn node_of(&self, name: &str) -> Option<String> {
        self.pod(name)
            .pointer("/spec/nodeName")
            .and_then(Value::as_str)
            .map(str::to_owned)
    }

    fn reconciles_of(&self, name: &str) -> usize {
        self.reconciles
            .lock()
            .expect("lock")
            .get(name)
            .copied()
            .unwrap_or(0)
    }

    fn scheduled_condition(&self, name: &str) -> Option<Value> {
        self.pod(name)
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .and_then(|cs| cs.iter().find(|c| c["type"] == "PodScheduled").cloned())
    }

    async fn stop(self) {
        self.shutdown.cancel();
        self.task.await.expect("join").expect("run");
    }
}

#[tokio::test(start_paused = true)]
async fn scheduler_should_bind_to_the_best_node_and_record_the_decision() {
    let h = Harness::start();
    h.create("Node", make_node("n1").cpu_milli(4000).mem("8Gi").build())
        .await;
    h.create("Node", make_node("n2").cpu_milli(4000).mem("8Gi").build())
        .await;
    // n1 is already 75% busy: LeastAllocated prefers n2.
    h.create(
        "Pod",
        make_pod("busy").req_cpu_milli(3000).node_name("n1").build(),
    )
    .await;
    h.create("Pod", make_pod("web").req_cpu_milli(500).build())
        .await;

    assert!(eventually(Duration::from_secs(5), || h.node_of("web").is_some()).await);
    assert_eq!(h.node_of("web").as_deref(), Some("n2"));
    let events = events_with_reason(&h.fake, "Scheduled");
    assert_eq!(events.len(), 1);
    assert_eq!(
        events[0]["message"],
        "Successfully assigned default/web to n2"
    );
    assert_eq!(events[0]["involvedObject"]["name"], "web");
    let record = h.decisions.get("default/web").expect("decision kept");
    assert_eq!(record.decision.node, "n2");
    assert_eq!(
        (record.decision.num_nodes, record.decision.feasible_nodes),
        (2, 2),
        "the node counts are kept"
    );
    assert_eq!(
        record.decision.scores.len(),
        record.decision.weights.len(),
        "the chosen node's scores are kept"
    );
    assert!(record.state_revision > 0);
    assert!(
        h.decisions.get("default/busy").is_none(),
        "pre-bound pods are not scheduled"
    );
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn scheduler_should_mark_unschedulable_and_retry_when_a_node_is_added_without_busy_looping() {
    let h = Harness::start();
    h.create("Node", make_node("small").cpu_milli(1000).build())
        .await;
    h.create("Pod", make_pod("big").req_cpu_milli(2000).build())
        .await;

    assert!(
        eventually(Duration::from_secs(5), || h
            .scheduled_condition("big")
            .is_some())
        .await
    );
    let cond = h.scheduled_condition("big").expect("condition");
    assert_eq!(cond["status"], "False");
    assert_eq!(cond["reason"], "Unschedulable");
    assert_eq!(
        cond["message"],
        "0/1 nodes are available: 1 Insufficient cpu."
    );
    let failed = events_with_reason(&h.fake, "FailedScheduling");
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["type"], "Warning");

    // A minute with no change: no busy loop (the first attempt plus the one our own status write
    // triggered), and no repeated Event.
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert!(
        h.reconciles_of("big") <= 2,
        "{} reconciles",
        h.reconciles_of("big")
    );
    assert_eq!(
        events_with_reason(&h.fake, "FailedScheduling")[0]["count"],
        1
    );
    // Heartbeat-like node updates (nothing scheduling reads) do not retry it either.
    let before = h.reconciles_of("big");
    let nodes = core("Node");
    h.client
        .patch(
            nodes,
            None,
            "small",
            None,
            serde_json::json!({"metadata": {"annotations": {"beat": "1"}}}),
        )
        .await
        .expect("patch");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(h.reconciles_of("big"), before);

    h.create("Node", make_node("large").cpu_milli(8000).build())
        .await;
    assert!(eventually(Duration::from_secs(2), || h.node_of("big").is_some()).await);
    assert_eq!(h.node_of("big").as_deref(), Some("large"));
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn scheduler_should_not_overcommit_when_ten_pods_arrive_at_once() {
    let h = Harness::start();
    h.create("Node", make_node("n1").cpu_milli(5000).build())
        .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    for i in 0..10 {
        h.create(
            "Pod",
            make_pod(&format!("p{i}")).req_cpu_milli(1000).build(),
        )
        .await;
    }
    let bound = || {
        (0..10)
            .filter(|i| h.node_of(&format!("p{i}")).is_some())
            .count()
    };
    let settled = || {
        (0..10).all(|i| {
            let name = format!("p{i}");
            h.node_of(&name).is_some() || h.scheduled_condition(&name).is_some()
        })
    };
    assert!(eventually(Duration::from_secs(10), settled).await);
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert_eq!(bound(), 5);
    let unschedulable = (0..10)
        .filter_map(|i| h.scheduled_condition(&format!("p{i}")))
        .filter(|c| c["reason"] == "Unschedulable")
        .count();
    assert_eq!(unschedulable, 5);
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn scheduler_should_not_count_terminal_pods_and_retry_when_a_pod_completes() {
    let h = Harness::start();
    h.create("Node", make_node("n1").cpu_milli(2000).build())
        .await;
    h.create(
        "Pod",
        make_pod("done")
            .req_cpu_milli(2000)
            .node_name("n1")
            .phase("Succeeded")
            .build(),
    )
    .await;
    h.create(
        "Pod",
        make_pod("running")
            .req_cpu_milli(1500)
            .node_name("n1")
            .build(),
    )
    .await;
    h.create("Pod", make_pod("next").req_cpu_milli(1000).build())
        .await;
    assert!(
        eventually(Duration::from_secs(5), || h
            .scheduled_condition("next")
            .is_some())
        .await
    );
    assert_eq!(h.node_of("next"), None);

    // `running` completes: its 1500m are free again and `next` is retried at once.
    let pods = core("Pod");
    h.client
        .patch(
            pods,
            Some("default"),
            "running",
            Some("status"),
            serde_json::json!({"status": {"phase": "Succeeded"}}),
        )
        .await
        .expect("patch");
    assert!(eventually(Duration::from_secs(2), || h.node_of("next").is_some()).await);
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn scheduler_should_ignore_other_schedulers_and_terminating_pods() {
    let h = Harness::start();
    h.create("Node", make_node("n1").cpu_milli(2000).build())
        .await;
    let mut other = make_pod("other").build();
    if let Some(s) = other.spec.as_mut() {
        s.scheduler_name = Some("my-scheduler".into());
    }
    h.create("Pod", other).await;
    h.create("Pod", make_pod("mine").build()).await;
    assert!(eventually(Duration::from_secs(5), || h.node_of("mine").is_some()).await);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(h.node_of("other"), None);
    assert!(h.scheduled_condition("other").is_none());
    h.stop().await;
}

#[test]
fn scheduler_config_should_reject_an_unknown_policy() {
    let (_, client) = fake();
    let config = SchedulerConfig {
        policy: "Nope".into(),
        ..SchedulerConfig::default()
    };
    assert!(matches!(
        SchedulerController::new(client, config),
        Err(Error::UnknownPolicy(p)) if p == "Nope"
    ));
}

#[test]
fn decision_log_should_keep_the_latest_per_pod_within_capacity() {
    let log = DecisionLog::new(2);
    let h = |pod: &str, node: &str| DecisionRecord {
        pod: ObjectRef::new(pod).within("default"),
        pod_uid: None,
        pod_resource_version: None,
        state_revision: 1,
        decision: Arc::new(crate::scheduler::DecisionSummary {
            pod: format!("default/{pod}"),
            policy: "LeastAllocated".into(),
            weights: Vec::new(),
            filters: Vec::new(),
            tie_break: String::new(),
            assumed_pods: Vec::new(),
            num_nodes: 0,
            feasible_nodes: 0,
            node: node.into(),
            total: 0,
            scores: Vec::new(),
            search: None,
        }),
    };
    log.record(h("a", "n1"));
    log.record(h("b", "n1"));
    log.record(h("a", "n2"));
    assert_eq!(log.len(), 2);
    assert_eq!(log.get("default/a").expect("a").decision.node, "n2");
    log.record(h("c", "n1"));
    assert!(log.get("default/b").is_none(), "oldest dropped");
    let latest: Vec<String> = log.latest(5).iter().map(|r| r.pod.name.clone()).collect();
    assert_eq!(latest, ["c", "a"]);
    log.remove("default/a");
    assert_eq!(log.len(), 1);
}

#[test]
fn each_search_should_start_where_the_last_one_stopped_and_prove_its_window() {
    let mut c = cache::Cache::default();
    for i in 0..250 {
        let node = make_node(&format!("n{i:03}"))
            .cpu_milli(4000)
            .mem("8Gi")
            .build();
        c.apply_node(Arc::new(node));
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let policy = Policy::default();
    let mut place = |name: &str, percentage| {
        let pod = Arc::new(make_pod(name).req_cpu_milli(100).build());
        let (d, assumed) = c
            .schedule_and_assume(&pod, &policy, percentage, deadline)
            .expect("schedulable");
        let search = d.summary.search.expect("recorded");
        let assumed: Vec<(String, String)> = assumed.into_iter().map(|a| (a.pod, a.node)).collect();
        (
            search.start_node_index,
            d.processed,
            d.summary.node,
            assumed,
        )
    };
    // Adaptive: 48% of 250 → 120 feasible nodes; equal nodes tie to the lowest name.
    assert_eq!(place("a", 0), (0, 120, "n000".into(), vec![]));
    assert_eq!(place("b", 0), (120, 120, "n120".into(), vec![]));
    // The third window wraps (n240…n249, n000…n109): `a`, assumed on n000, is in it (and in the
    // proof), `b` on n120 is not; n000 is fuller now, so n001 wins.
    let third = place("c", 0);
    let a_on_n000 = vec![("default/a".to_owned(), "n000".to_owned())];
    assert_eq!(third, (240, 120, "n001".into(), a_on_n000));
    // 100%: every node, and every assumed pod.
    let (start, processed, _, assumed) = place("d", 100);
    assert_eq!((start, processed, assumed.len()), (110, 250, 3));
}
