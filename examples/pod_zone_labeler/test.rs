//! The example against a real in-process server: a real store in a temporary directory, the API
//! router, and the in-process client.

use super::*;
use mock_k8::api::{ApiOptions, ApiState, crud, router};
use mock_k8::store::{Store as ObjectStore, StoreConfig};

async fn server() -> (tempfile::TempDir, ApiState, Arc<dyn Client>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = ObjectStore::open(StoreConfig {
        member_key: None,
        dir: dir.path().join("raft"),
        node_id: 1,
        advertise_addr: "127.0.0.1:0".into(),
        watch_history: 1000,
        max_batch: 64,
        rpc_key: String::new(),
        bootstrap: true,
        raft: Default::default(),
    })
    .await
    .expect("store opens");
    let state = ApiState::new(store, ApiOptions::default(), CancellationToken::new());
    crud::ensure_namespace(&state, "default").await.expect("ns");
    let client = mock_k8::inproc::in_process_client(router(state.clone()));
    (dir, state, client)
}

/// Polls pod `name` until `check` holds on its labels (5 s at most).
async fn until_labels(pods: &Api<Pod>, name: &str, check: impl Fn(&Value) -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let pod = pods.get(name).await.expect("pod");
        let labels = serde_json::to_value(pod.metadata.labels).expect("json");
        if check(&labels) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "labels now: {labels}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn labeler_should_follow_the_node_zone() {
    let (_dir, state, client) = server().await;
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(run(client.clone(), shutdown.clone()));
    let nodes = Api::<Node>::all(client.clone());
    let pods = Api::<Pod>::namespaced(client.clone(), "default");
    let node = json!({"apiVersion": "v1", "kind": "Node",
                      "metadata": {"name": "n1", "labels": {ZONE: "zone-a"}}});
    nodes
        .create(&serde_json::from_value(node).expect("node"))
        .await
        .expect("create node");
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"},
                     "spec": {"containers": [{"name": "c", "image": "nginx"}]}});
    pods.create(&serde_json::from_value(pod).expect("pod"))
        .await
        .expect("create pod");
    let bind = mock_k8_controllers::client::binding("default", "web", "n1");
    client
        .create_subresource(
            pods.resource().expect("pods"),
            Some("default"),
            "web",
            "binding",
            bind,
        )
        .await
        .expect("bind");
    until_labels(&pods, "web", |l| l[ZONE] == "zone-a" && l[NODE] == "n1").await;

    // Relabelling the node moves its pods; removing the label removes theirs.
    let patch = json!({"metadata": {"labels": {ZONE: "zone-b"}}});
    nodes.patch("n1", None, &patch).await.expect("relabel");
    until_labels(&pods, "web", |l| l[ZONE] == "zone-b").await;
    let patch = json!({"metadata": {"labels": {ZONE: null}}});
    nodes.patch("n1", None, &patch).await.expect("unlabel");
    until_labels(&pods, "web", |l| l.get(ZONE).is_none() && l[NODE] == "n1").await;

    shutdown.cancel();
    let stopped = tokio::time::timeout(Duration::from_secs(5), task).await;
    assert!(matches!(stopped, Ok(Ok(Ok(())))), "graceful shutdown");
    state.shutdown.cancel();
    state.store.shutdown().await;
}

#[test]
fn label_patch_should_only_touch_stale_labels() {
    let (nodes, _writer) = reflector::store::<Node>();
    let unbound: Pod = serde_json::from_value(json!({"metadata": {"name": "p"}})).expect("pod");
    assert_eq!(label_patch(&unbound, &nodes), None);
    let bound: Pod = serde_json::from_value(json!({
        "metadata": {"name": "p", "labels": {NODE: "n1", ZONE: "gone"}},
        "spec": {"nodeName": "n1", "containers": []}}))
    .expect("pod");
    // The node is unknown: the node label is right, the zone label goes.
    assert_eq!(
        label_patch(&bound, &nodes),
        Some(json!({"metadata": {"labels": {ZONE: null}}}))
    );
}
