//! Node-agent tests (node side) and the harness shared with `tests_pods.rs`: a [`FakeClient`], a
//! [`MockDocker`] and a pool, all on simulated time (`start_paused`).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, Pod};
use serde_json::{Value, json};
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep};
use tokio_util::sync::CancellationToken;

use super::node::{internal_ip_for, pod_cidr_for};
use super::*;
use crate::client::testing::FakeClient;
use crate::client::{Api, Client};
use crate::container::{MockDocker, MockDockerConfig};
use crate::controller::{ReconcileResult, ResultHook};

/// A running pool over a fake API server.
pub(super) struct Harness {
    pub(super) client: Arc<dyn Client>,
    pub(super) fake: Arc<FakeClient>,
    pub(super) runtime: Arc<MockDocker>,
    /// Pod reconcile results seen by the result hook.
    pub(super) results: Arc<AtomicUsize>,
    shutdown: CancellationToken,
    task: JoinHandle<Result<(), AgentError>>,
}

/// Deterministic MockDocker: 100 ms start delay, no jitter.
pub(super) fn docker_config() -> MockDockerConfig {
    MockDockerConfig {
        start_delay_ms: 100,
        start_jitter_ms: 0,
        seed: Some(7),
        ..MockDockerConfig::default()
    }
}

impl Harness {
    pub(super) async fn start(nodes: Vec<NodeSpec>, config: AgentConfig) -> Harness {
        Harness::start_with(Arc::new(FakeClient::new()), nodes, config).await
    }

    pub(super) async fn start_with(
        fake: Arc<FakeClient>,
        nodes: Vec<NodeSpec>,
        config: AgentConfig,
    ) -> Harness {
        let client: Arc<dyn Client> = fake.clone();
        let runtime = Arc::new(MockDocker::new(config.mock_docker.clone()));
        let shutdown = CancellationToken::new();
        let results = Arc::new(AtomicUsize::new(0));
        let counter = results.clone();
        let hook: Arc<dyn ResultHook> = Arc::new(move |r: &ReconcileResult<'_>| {
            assert_eq!(r.resource.kind, "Pod");
            counter.fetch_add(1, Ordering::Relaxed);
        });
        let task = tokio::spawn(run_pool(
            client.clone(),
            runtime.clone(),
            nodes,
            config,
            hook,
            shutdown.clone(),
        ));
        Harness {
            client,
            fake,
            runtime,
            results,
            shutdown,
            task,
        }
    }

    /// Cancels the pool and waits for it to end.
    pub(super) async fn stop(self) {
        self.shutdown.cancel();
        let r = tokio::time::timeout(Duration::from_secs(60), self.task).await;
        assert!(matches!(r, Ok(Ok(Ok(())))), "pool ended cleanly: {r:?}");
    }

    /// How many pod reconcile results passed through the result hook.
    pub(super) fn results(&self) -> usize {
        self.results.load(Ordering::Relaxed)
    }

    pub(super) fn nodes(&self) -> Api<Node> {
        Api::all(self.client.clone())
    }

    pub(super) fn leases(&self) -> Api<Lease> {
        Api::namespaced(self.client.clone(), NODE_LEASE_NAMESPACE)
    }

    pub(super) fn pods(&self) -> Api<Pod> {
        Api::namespaced(self.client.clone(), "default")
    }

    /// Polls `f` every 50 ms of simulated time until it returns `Some`, for at most `limit`.
    pub(super) async fn wait_for<T, F, Fut>(&self, limit: Duration, what: &str, mut f: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Option<T>>,
    {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(t) = f().await {
                return t;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until pod `name` satisfies `pred`; returns it.
    pub(super) async fn wait_pod(
        &self,
        name: &str,
        limit: Duration,
        what: &str,
        pred: impl Fn(&Pod) -> bool,
    ) -> Pod {
        let pods = self.pods();
        self.wait_for(limit, what, || {
            let pods = pods.clone();
            let pred = &pred;
            async move { pods.get_opt(name).await.ok().flatten().filter(|p| pred(p)) }
        })
        .await
    }

    /// The lease's renewTime, if it exists.
    pub(super) async fn renew_time(&self, node: &str) -> Option<String> {
        let lease = self.leases().get_opt(node).await.ok().flatten()?;
        let v = serde_json::to_value(lease).ok()?;
        v.pointer("/spec/renewTime")
            .and_then(Value::as_str)
            .map(str::to_string)
    }
}

fn fast_config() -> AgentConfig {
    AgentConfig {
        mock_docker: docker_config(),
        ..AgentConfig::default()
    }
}

#[test]
fn node_spec_should_apply_defaults_and_unique_addresses() {
    let n = NodeSpec::new("n7", 7).unwrap();
    let v = serde_json::to_value(&n.node).unwrap();
    assert_eq!(v["metadata"]["labels"]["kubernetes.io/hostname"], "n7");
    assert_eq!(v["metadata"]["labels"]["kubernetes.io/os"], "linux");
    assert_eq!(v["metadata"]["labels"]["kubernetes.io/arch"], "amd64");
    assert_eq!(v["status"]["capacity"]["cpu"], "4");
    assert_eq!(v["status"]["allocatable"]["memory"], "8Gi");
    assert_eq!(v["status"]["allocatable"]["pods"], "110");
    assert_eq!(v["status"]["capacity"]["ephemeral-storage"], "100Gi");
    assert_eq!(v["spec"]["podCIDR"], "10.244.7.0/24");
    assert_eq!(v["spec"]["podCIDRs"], json!(["10.244.7.0/24"]));
    assert_eq!(v["status"]["addresses"][0]["address"], "10.0.0.8");
    assert_eq!(v["status"]["nodeInfo"]["kubeletVersion"], "v1.32.0-mock");
    assert_eq!(
        v["status"]["nodeInfo"]["containerRuntimeVersion"],
        "mockdocker://1.0"
    );
    assert_eq!(
        v["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"],
        10250
    );
    // index → (podCIDR, InternalIP)
    for (index, cidr, ip) in [
        (0, "10.244.0.0/24", "10.0.0.1"),
        (255, "10.244.255.0/24", "10.0.1.0"),
        (256, "10.245.0.0/24", "10.0.1.1"),
        (12 * 256, "10.1.0.0/24", "10.0.12.1"),
    ] {
        assert_eq!(pod_cidr_for(index).as_deref(), Some(cidr), "{index}");
        assert_eq!(internal_ip_for(index).as_deref(), Some(ip), "{index}");
    }
    let cidrs: std::collections::HashSet<String> = (0..=node::MAX_NODE_INDEX)
        .filter_map(pod_cidr_for)
        .collect();
    assert_eq!(cidrs.len(), node::MAX_NODE_INDEX as usize + 1, "unique");
    assert!(NodeSpec::new("x", node::MAX_NODE_INDEX + 1).is_err());
    assert!(NodeSpec::new("", 0).is_err());
}

#[test]
fn node_spec_should_follow_the_template() {
    let tpl = json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": "ignored", "labels": {"gpu": "true", "kubernetes.io/hostname": "wrong"}},
        "spec": {"taints": [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]},
        "status": {"capacity": {"cpu": "16", "nvidia.com/gpu": "2"}, "allocatable": {"cpu": "15500m"}}
    });
    let n = NodeSpec::from_template(Some(&tpl), "g1", 1).unwrap();
    let v = serde_json::to_value(&n.node).unwrap();
    assert_eq!(v["metadata"]["name"], "g1");
    assert_eq!(v["metadata"]["labels"]["gpu"], "true");
    assert_eq!(v["metadata"]["labels"]["kubernetes.io/hostname"], "g1");
    assert_eq!(v["spec"]["taints"][0]["key"], "dedicated");
    assert_eq!(v["status"]["capacity"]["cpu"], "16");
    assert_eq!(v["status"]["capacity"]["memory"], "8Gi", "defaults kept");
    assert_eq!(v["status"]["allocatable"]["cpu"], "15500m");
    assert_eq!(v["status"]["allocatable"]["nvidia.com/gpu"], "2");
    let bad = json!({"spec": {"taints": "nope"}});
    assert!(matches!(
        NodeSpec::from_template(Some(&bad), "g1", 1),
        Err(NodeSpecError::InvalidTemplate(_))
    ));
    let many = simulated_nodes(3, "sim", 1, Some(&tpl)).unwrap();
    let names: Vec<&str> = many.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, ["sim-1", "sim-2", "sim-3"]);
}

#[tokio::test(start_paused = true)]
async fn node_should_register_and_renew_its_lease_every_interval() {
    let h = Harness::start(vec![NodeSpec::new("n1", 1).unwrap()], fast_config()).await;
    let node = h
        .wait_for(Duration::from_secs(5), "registration", || async {
            h.nodes().get_opt("n1").await.ok().flatten()
        })
        .await;
    let ready = node
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
        .cloned()
        .expect("Ready condition");
    assert_eq!(ready.status, "True");
    assert_eq!(ready.reason.as_deref(), Some("KubeletReady"));
    assert!(ready.last_heartbeat_time.is_some());
    let lease = h
        .wait_for(Duration::from_secs(5), "lease", || async {
            h.leases().get_opt("n1").await.ok().flatten()
        })
        .await;
    let spec = lease.spec.clone().unwrap();
    assert_eq!(spec.holder_identity.as_deref(), Some("n1"));
    assert_eq!(spec.lease_duration_seconds, Some(40));
    let first = h.renew_time("n1").await.unwrap();
    // RFC 3339 with microseconds.
    assert_eq!(first.len(), "2026-01-01T00:00:00.000000Z".len(), "{first}");
    let mut times = vec![first];
    for _ in 0..3 {
        sleep(Duration::from_secs(10)).await;
        times.push(h.renew_time("n1").await.unwrap());
    }
    let parsed: Vec<jiff::Timestamp> = times.iter().map(|t| t.parse().unwrap()).collect();
    for w in parsed.windows(2) {
        let gap = w[1].duration_since(w[0]).as_secs_f64();
        assert!((gap - 10.0).abs() < 0.01, "renewed every 10 s: {times:?}");
    }
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn heartbeat_pause_annotation_should_stop_renewals_until_removed() {
    let h = Harness::start(vec![NodeSpec::new("n1", 1).unwrap()], fast_config()).await;
    let before = h
        .wait_for(Duration::from_secs(5), "lease", || async {
            h.renew_time("n1").await
        })
        .await;
    let pause = json!({"metadata": {"annotations": {HEARTBEAT_ANNOTATION: "paused"}}});
    h.nodes().patch("n1", None, &pause).await.unwrap();
    sleep(Duration::from_millis(200)).await;
    let paused_at = h.renew_time("n1").await.unwrap();
    sleep(Duration::from_secs(60)).await;
    assert_eq!(
        h.renew_time("n1").await.unwrap(),
        paused_at,
        "no renewal while paused"
    );
    assert!(paused_at >= before);
    let resume = json!({"metadata": {"annotations": {HEARTBEAT_ANNOTATION: null}}});
    h.nodes().patch("n1", None, &resume).await.unwrap();
    sleep(Duration::from_secs(2)).await;
    assert!(
        h.renew_time("n1").await.unwrap() > paused_at,
        "renewals resume"
    );
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn node_should_set_ready_again_after_being_marked_unknown_and_keep_user_labels() {
    let fake = Arc::new(FakeClient::new());
    // An existing Node with a user label and taint, as after an agent restart.
    let mut existing = serde_json::to_value(NodeSpec::new("n1", 1).unwrap().node).unwrap();
    existing["metadata"]["labels"]["team"] = json!("a");
    existing["spec"]["taints"] = json!([{"key": "k", "effect": "NoSchedule"}]);
    let nodes_res = mock_k8_schemas::resource::by_kind("v1", "Node").unwrap();
    fake.create(nodes_res, None, existing).await.unwrap();
    let h = Harness::start_with(fake, vec![NodeSpec::new("n1", 1).unwrap()], fast_config()).await;
    h.wait_for(Duration::from_secs(5), "lease", || async {
        h.renew_time("n1").await
    })
    .await;
    let node = h.nodes().get("n1").await.unwrap();
    let v = serde_json::to_value(&node).unwrap();
    assert_eq!(v["metadata"]["labels"]["team"], "a");
    assert_eq!(v["metadata"]["labels"]["kubernetes.io/hostname"], "n1");
    assert_eq!(v["spec"]["taints"][0]["key"], "k");
    // The node lifecycle controller marks it Unknown; the next lease tick sets Ready=True again.
    let unknown = json!({"status": {"conditions": [{"type": "Ready", "status": "Unknown",
        "reason": "NodeStatusUnknown", "message": "Kubelet stopped posting node status."}]}});
    h.nodes().patch_status("n1", &unknown).await.unwrap();
    sleep(Duration::from_secs(11)).await;
    let node = h.nodes().get("n1").await.unwrap();
    assert_eq!(node::ready_status(&node), Some("True"));
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn deleted_node_should_be_registered_again() {
    let h = Harness::start(vec![NodeSpec::new("n1", 1).unwrap()], fast_config()).await;
    h.wait_for(Duration::from_secs(5), "lease", || async {
        h.renew_time("n1").await
    })
    .await;
    h.nodes()
        .delete("n1", &crate::client::DeleteParams::default())
        .await
        .unwrap();
    sleep(Duration::from_secs(61)).await;
    let node = h
        .nodes()
        .get_opt("n1")
        .await
        .unwrap()
        .expect("registered again");
    assert_eq!(node::ready_status(&node), Some("True"));
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn simulated_nodes_should_register_quickly() {
    for count in [200usize, 1000] {
        let nodes = simulated_nodes(count, "sim", 1, None).unwrap();
        let wall = std::time::Instant::now();
        let h = Harness::start(nodes, fast_config()).await;
        h.wait_for(Duration::from_secs(60), "every lease", || async {
            let leases = h.fake.objects(
                mock_k8_schemas::resource::by_kind("coordination.k8s.io/v1", "Lease").unwrap(),
            );
            (leases.len() == count).then_some(())
        })
        .await;
        let took = wall.elapsed();
        println!("{count} simulated nodes registered with leases in {took:?} (wall clock)");
        let nodes = h
            .fake
            .objects(mock_k8_schemas::resource::by_kind("v1", "Node").unwrap());
        assert_eq!(nodes.len(), count);
        if count == 200 {
            assert!(took < Duration::from_secs(20), "200 nodes took {took:?}");
        }
        h.stop().await;
    }
}
