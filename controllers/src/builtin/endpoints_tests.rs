//! Endpoints controller tests on simulated time, against the in-memory FakeClient.

use super::*;
use crate::builtin::testing::{core, eventually, fake, stored};
use crate::client::testing::FakeClient;
use serde_json::{Value, json};
use std::time::Duration;

fn slices() -> &'static ApiResource {
    mock_k8_schemas::resource::by_kind("discovery.k8s.io/v1", "EndpointSlice").expect("served")
}

fn pod(name: &str, app: &str, ip: &str, ready: bool) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "labels": {"app": app}},
        "spec": {"containers": [{"name": "c", "image": "nginx", "ports": [{"name": "http", "containerPort": 8080}]}]},
        "status": {"phase": "Running", "podIP": ip,
                   "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}]},
    })
}

struct Harness {
    fake: Arc<FakeClient>,
    client: Arc<dyn Client>,
    results: Arc<Mutex<Vec<String>>>,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<Result<(), Error>>,
}

impl Harness {
    fn start() -> Harness {
        let (fake, client) = fake();
        let results: Arc<Mutex<Vec<String>>> = Arc::default();
        let seen = results.clone();
        let hook: Arc<dyn ResultHook> = Arc::new(move |r: &ReconcileResult<'_>| {
            seen.lock().expect("lock").push(r.object.to_string());
        });
        let shutdown = CancellationToken::new();
        let controller = EndpointsController::new(client.clone(), EndpointsConfig::default());
        let task = tokio::spawn(controller.run(hook, shutdown.clone()));
        Harness {
            fake,
            client,
            results,
            shutdown,
            task,
        }
    }

    async fn create(&self, kind: &str, obj: Value) {
        self.client
            .create(core(kind), Some("default"), obj)
            .await
            .expect("create");
    }

    fn endpoints(&self, name: &str) -> Option<Value> {
        stored(&self.fake, core("Endpoints"), "default", name)
    }

    fn ips(&self, name: &str, field: &str) -> Vec<String> {
        let mut ips: Vec<String> = self
            .endpoints(name)
            .and_then(|e| e.get("subsets").and_then(Value::as_array).cloned())
            .unwrap_or_default()
            .iter()
            .flat_map(|s| {
                s.get(field)
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default()
            })
            .filter_map(|a| a["ip"].as_str().map(str::to_owned))
            .collect();
        ips.sort();
        ips
    }

    async fn stop(self) {
        self.shutdown.cancel();
        self.task.await.expect("join").expect("run");
    }
}

fn web_service() -> Value {
    json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": "http"}]},
    })
}

#[tokio::test(start_paused = true)]
async fn endpoints_should_follow_pods() {
    let h = Harness::start();
    h.create("Pod", pod("p1", "web", "10.0.0.1", true)).await;
    h.create("Pod", pod("p2", "web", "10.0.0.2", false)).await;
    h.create("Pod", pod("other", "db", "10.0.0.3", true)).await;
    h.create("Service", web_service()).await;

    let one_sec = Duration::from_secs(1);
    assert!(eventually(one_sec, || h.ips("web", "addresses") == ["10.0.0.1"]).await);
    assert_eq!(h.ips("web", "notReadyAddresses"), ["10.0.0.2"]);
    let ep = h.endpoints("web").expect("endpoints");
    assert_eq!(
        ep["subsets"][0]["ports"][0]["port"], 8080,
        "named targetPort resolved per pod"
    );
    assert_eq!(
        ep["metadata"]["labels"][LABEL_ENDPOINTS_MANAGED_BY],
        ENDPOINTS_CONTROLLER
    );
    let slice = stored(&h.fake, slices(), "default", "web-mk8").expect("slice");
    assert_eq!(slice["endpoints"].as_array().map(Vec::len), Some(2));

    // p2 turns ready.
    let pods = core("Pod");
    h.client
        .patch(
            pods,
            Some("default"),
            "p2",
            Some("status"),
            json!({"status": {"conditions": [{"type": "Ready", "status": "True"}]}}),
        )
        .await
        .expect("patch");
    assert!(
        eventually(one_sec, || h.ips("web", "addresses")
            == ["10.0.0.1", "10.0.0.2"])
        .await
    );
    assert!(h.ips("web", "notReadyAddresses").is_empty());

    // p1 is deleted.
    h.client
        .delete(pods, Some("default"), "p1", &DeleteParams::default())
        .await
        .expect("delete");
    assert!(eventually(one_sec, || h.ips("web", "addresses") == ["10.0.0.2"]).await);

    // p2 stops matching the selector: the Service it left is updated too.
    h.client
        .patch(
            pods,
            Some("default"),
            "p2",
            None,
            json!({"metadata": {"labels": {"app": "db"}}}),
        )
        .await
        .expect("relabel");
    assert!(eventually(one_sec, || h.ips("web", "addresses").is_empty()).await);
    assert!(h.endpoints("web").expect("kept")["subsets"].is_null());

    // A change the Endpoints do not reflect writes nothing.
    let rv = h.endpoints("web").expect("kept")["metadata"]["resourceVersion"].clone();
    h.client
        .patch(
            core("Service"),
            Some("default"),
            "web",
            None,
            json!({"metadata": {"annotations": {"x": "y"}}}),
        )
        .await
        .expect("annotate");
    tokio::time::sleep(one_sec).await;
    assert_eq!(
        h.endpoints("web").expect("kept")["metadata"]["resourceVersion"],
        rv
    );
    assert!(
        h.results
            .lock()
            .expect("lock")
            .iter()
            .any(|k| k == "default/web")
    );
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn endpoints_should_leave_selectorless_services_alone() {
    let h = Harness::start();
    h.create("Pod", pod("p1", "web", "10.0.0.1", true)).await;
    let manual = json!({
        "apiVersion": "v1", "kind": "Endpoints",
        "metadata": {"name": "glusterfs-cluster", "namespace": "default"},
        "subsets": [{"addresses": [{"ip": "192.168.0.10"}], "ports": [{"port": 1}]}],
    });
    h.create("Endpoints", manual).await;
    let before = h.endpoints("glusterfs-cluster").expect("stored");
    h.create(
        "Service",
        json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "glusterfs-cluster", "namespace": "default"},
            "spec": {"ports": [{"port": 1}]},
        }),
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(h.endpoints("glusterfs-cluster").expect("kept"), before);
    assert!(stored(&h.fake, slices(), "default", "glusterfs-cluster-mk8").is_none());

    // Deleting the Service does not delete Endpoints the controller did not create.
    h.client
        .delete(
            core("Service"),
            Some("default"),
            "glusterfs-cluster",
            &DeleteParams::default(),
        )
        .await
        .expect("delete");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(h.endpoints("glusterfs-cluster").expect("kept"), before);
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn endpoints_should_be_deleted_with_their_service() {
    let h = Harness::start();
    h.create("Pod", pod("p1", "web", "10.0.0.1", true)).await;
    h.create("Service", web_service()).await;
    assert!(eventually(Duration::from_secs(1), || h.endpoints("web").is_some()).await);
    assert!(stored(&h.fake, slices(), "default", "web-mk8").is_some());
    h.client
        .delete(
            core("Service"),
            Some("default"),
            "web",
            &DeleteParams::default(),
        )
        .await
        .expect("delete");
    assert!(eventually(Duration::from_secs(1), || h.endpoints("web").is_none()).await);
    assert!(stored(&h.fake, slices(), "default", "web-mk8").is_none());
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn endpoints_should_sweep_orphans_left_while_down() {
    let (fake, client) = fake();
    // Managed Endpoints whose Service is gone (deleted while the controller was not running).
    let orphan = json!({
        "apiVersion": "v1", "kind": "Endpoints",
        "metadata": {"name": "gone", "namespace": "default",
                     "labels": {LABEL_ENDPOINTS_MANAGED_BY: ENDPOINTS_CONTROLLER}},
    });
    client
        .create(core("Endpoints"), Some("default"), orphan)
        .await
        .expect("create");
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(
        EndpointsController::new(client.clone(), EndpointsConfig::default())
            .run(Arc::new(crate::controller::NoopHook), shutdown.clone()),
    );
    assert!(
        eventually(Duration::from_secs(1), || stored(
            &fake,
            core("Endpoints"),
            "default",
            "gone"
        )
        .is_none())
        .await
    );
    shutdown.cancel();
    task.await.expect("join").expect("run");
}
