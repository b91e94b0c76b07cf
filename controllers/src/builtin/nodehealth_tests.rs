//! Node lifecycle controller tests on simulated time, against the in-memory FakeClient.

use super::*;
use crate::builtin::testing::{core, events_with_reason, eventually, fake, stored};
use crate::client::testing::FakeClient;
use crate::controller::NoopHook;
use k8s_openapi::api::coordination::v1::LeaseSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, Time};
use serde_json::Value;
use std::sync::atomic::{AtomicBool, Ordering};

fn lease_resource() -> &'static ApiResource {
    mock_k8_schemas::resource::by_kind("coordination.k8s.io/v1", "Lease").expect("served")
}

struct Harness {
    fake: Arc<FakeClient>,
    client: Arc<dyn Client>,
    clock: Clock,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<Result<(), Error>>,
}

impl Harness {
    fn start(config: NodeLifecycleConfig) -> Harness {
        let (fake, client) = fake();
        let clock = Clock::new();
        let shutdown = CancellationToken::new();
        let controller = NodeLifecycleController::new(client.clone(), config).with_clock(clock);
        let task = tokio::spawn(controller.run(Arc::new(NoopHook), shutdown.clone()));
        Harness {
            fake,
            client,
            clock,
            shutdown,
            task,
        }
    }

    fn node(&self, name: &str) -> Value {
        stored(&self.fake, core("Node"), "", name).expect("node")
    }

    fn ready_status(&self, name: &str) -> Option<String> {
        self.node(name)
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .and_then(|cs| cs.iter().find(|c| c["type"] == "Ready"))
            .and_then(|c| c["status"].as_str().map(str::to_owned))
    }

    fn taints(&self, name: &str) -> Vec<(String, String)> {
        self.node(name)
            .pointer("/spec/taints")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|t| {
                (
                    t["key"].as_str().unwrap_or("").to_owned(),
                    t["effect"].as_str().unwrap_or("").to_owned(),
                )
            })
            .collect()
    }

    fn pod(&self, name: &str) -> Value {
        stored(&self.fake, core("Pod"), "default", name).expect("pod")
    }

    fn pod_ready(&self, name: &str) -> Option<String> {
        self.pod(name)
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .and_then(|cs| cs.iter().find(|c| c["type"] == "Ready"))
            .and_then(|c| c["status"].as_str().map(str::to_owned))
    }

    fn evicted(&self, name: &str) -> bool {
        self.pod(name)
            .pointer("/metadata/deletionTimestamp")
            .is_some()
    }

    /// What a node agent does: renew the Lease and post `Ready=True` with a fresh heartbeat.
    async fn heartbeat(&self, node: &str) {
        let now = self.clock.now();
        let leases = lease_resource();
        let lease = Lease {
            metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                name: Some(node.into()),
                namespace: Some("kube-node-lease".into()),
                ..Default::default()
            },
            spec: Some(LeaseSpec {
                holder_identity: Some(node.into()),
                lease_duration_seconds: Some(40),
                renew_time: Some(MicroTime(now)),
                ..Default::default()
            }),
        };
        let body = serde_json::to_value(&lease).expect("json");
        match self
            .client
            .replace(leases, Some("kube-node-lease"), node, body.clone())
            .await
        {
            Ok(_) => {}
            Err(e) if e.is_not_found() => {
                self.client
                    .create(leases, Some("kube-node-lease"), body)
                    .await
                    .expect("create lease");
            }
            Err(e) => panic!("lease: {e}"),
        }
        let mut n: Node = serde_json::from_value(self.node(node)).expect("node");
        let ready = k8s_openapi::api::core::v1::NodeCondition {
            type_: "Ready".into(),
            status: "True".into(),
            reason: Some("KubeletReady".into()),
            last_heartbeat_time: Some(Time(now)),
            last_transition_time: Some(Time(now)),
            ..Default::default()
        };
        let status = n.status.get_or_insert_with(Default::default);
        let conds = status.conditions.get_or_insert_with(Vec::new);
        conds.retain(|c| c.type_ != "Ready");
        conds.push(ready);
        n.metadata.resource_version = None;
        self.client
            .replace_status(
                core("Node"),
                None,
                node,
                serde_json::to_value(&n).expect("json"),
            )
            .await
            .expect("post status");
    }

    async fn stop(self) {
        self.shutdown.cancel();
        self.task.await.expect("join").expect("run");
    }
}

fn bound_pod(name: &str, node: &str, unreachable_toleration: Option<i64>) -> Value {
    let mut pod = serde_json::json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"nodeName": node, "containers": [{"name": "c", "image": "nginx"}]},
        "status": {"phase": "Running", "podIP": "10.1.0.5",
                   "conditions": [{"type": "Ready", "status": "True"}]},
    });
    if let Some(secs) = unreachable_toleration {
        pod["spec"]["tolerations"] = serde_json::json!([{
            "key": TAINT_UNREACHABLE, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": secs,
        }]);
    }
    pod
}

#[tokio::test(start_paused = true)]
async fn node_lifecycle_should_taint_a_silent_node_evict_its_pods_and_untaint_it_when_back() {
    let config = NodeLifecycleConfig {
        default_unreachable_toleration_seconds: 120,
        ..NodeLifecycleConfig::default()
    };
    let h = Arc::new(Harness::start(config));
    let node = serde_json::json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}});
    h.client
        .create(core("Node"), None, node)
        .await
        .expect("node");
    h.heartbeat("n1").await;
    let pods = core("Pod");
    h.client
        .create(pods, Some("default"), bound_pod("tolerant", "n1", Some(60)))
        .await
        .expect("pod");
    h.client
        .create(pods, Some("default"), bound_pod("plain", "n1", None))
        .await
        .expect("pod");

    // A node agent renewing every 10 s while `alive`.
    let alive = Arc::new(AtomicBool::new(true));
    let agent = {
        let (h, alive) = (h.clone(), alive.clone());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(10)).await;
                if alive.load(Ordering::SeqCst) {
                    h.heartbeat("n1").await;
                }
            }
        })
    };
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(h.ready_status("n1").as_deref(), Some("True"));
    assert!(h.taints("n1").is_empty());

    // The agent goes silent: nothing for the grace period (40 s) ...
    alive.store(false, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(35)).await;
    assert_eq!(h.ready_status("n1").as_deref(), Some("True"));
    // ... then Ready=Unknown and the unreachable taints within one monitor period.
    assert!(
        eventually(Duration::from_secs(20), || h.ready_status("n1").as_deref()
            == Some("Unknown"))
        .await
    );
    let tainted_at = tokio::time::Instant::now();
    assert_eq!(
        h.taints("n1"),
        [
            (TAINT_UNREACHABLE.to_owned(), "NoSchedule".to_owned()),
            (TAINT_UNREACHABLE.to_owned(), "NoExecute".to_owned())
        ]
    );
    assert_eq!(h.pod_ready("tolerant").as_deref(), Some("False"));
    assert_eq!(h.pod_ready("plain").as_deref(), Some("False"));
    assert_eq!(
        events_with_reason(&h.fake, "NodeNotReady").len(),
        3,
        "node + 2 pods"
    );

    // tolerationSeconds 60 for `tolerant`, the default (120 here) for `plain`.
    tokio::time::sleep(Duration::from_secs(55)).await;
    assert!(!h.evicted("tolerant"));
    assert!(eventually(Duration::from_secs(10), || h.evicted("tolerant")).await);
    assert!(tokio::time::Instant::now() - tainted_at <= Duration::from_secs(62));
    assert!(!h.evicted("plain"));
    assert!(eventually(Duration::from_secs(70), || h.evicted("plain")).await);
    assert!(tokio::time::Instant::now() - tainted_at >= Duration::from_secs(119));
    let evictions = events_with_reason(&h.fake, "TaintManagerEviction");
    assert_eq!(evictions.len(), 2);
    assert!(
        evictions
            .iter()
            .any(|e| e["message"] == "Marking for deletion Pod default/tolerant")
    );

    // The agent comes back: the taints go away within a reconcile of the renewed Lease.
    alive.store(true, Ordering::SeqCst);
    h.heartbeat("n1").await;
    assert!(eventually(Duration::from_secs(1), || h.taints("n1").is_empty()).await);
    assert_eq!(h.ready_status("n1").as_deref(), Some("True"));
    agent.abort();
    let _ = agent.await;
    let h = Arc::into_inner(h).expect("sole owner");
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn node_lifecycle_should_mark_a_node_that_never_reported_unknown_after_the_grace_period() {
    let h = Harness::start(NodeLifecycleConfig::default());
    // fake-node-tainted.yaml: a Node posted without status, its own taint, and no agent.
    let node = serde_json::json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": "fake-node", "labels": {"type": "kwok-controller"}},
        "spec": {"taints": [{"effect": "NoSchedule", "key": "kwok-controller/provider", "value": "fake"}]},
    });
    h.client
        .create(core("Node"), None, node)
        .await
        .expect("node");
    tokio::time::sleep(Duration::from_secs(20)).await;
    assert_eq!(
        h.ready_status("fake-node"),
        None,
        "within the grace period: left alone"
    );
    assert_eq!(h.taints("fake-node").len(), 1);

    assert!(
        eventually(Duration::from_secs(30), || h
            .ready_status("fake-node")
            .as_deref()
            == Some("Unknown"))
        .await
    );
    let ready = h
        .node("fake-node")
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|cs| cs.iter().find(|c| c["type"] == "Ready").cloned())
        .expect("ready");
    assert_eq!(ready["reason"], "NodeStatusNeverUpdated");
    assert_eq!(ready["message"], "Kubelet never posted node status.");
    let taints = h.taints("fake-node");
    assert_eq!(taints.len(), 3, "{taints:?}");
    assert_eq!(
        taints[0].0, "kwok-controller/provider",
        "existing taints are kept first"
    );
    assert!(taints.contains(&(TAINT_UNREACHABLE.to_owned(), "NoExecute".to_owned())));
    assert!(taints.contains(&(TAINT_UNREACHABLE.to_owned(), "NoSchedule".to_owned())));
    h.stop().await;
}
