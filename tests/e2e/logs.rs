//! `kubectl logs` on MockDocker pods: the API server proxies `pods/{name}/log` to the node agent's
//! log endpoint (published in the Node's `daemonEndpoints`), which returns what the simulation says
//! the container printed. (Real container output: `docker::pods`.)

use std::time::Duration;

use serde_json::json;

use crate::support::{Kubectl, Server, require_kubectl};

#[tokio::test]
async fn kubectl_logs_returns_the_simulated_output_and_follows_it() {
    if !require_kubectl("logs::kubectl_logs_returns_the_simulated_output_and_follows_it") {
        return;
    }
    let server = Server::start_with(&["--node-name", "logs-node"]).await;
    let pod = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "sim", "annotations": {"mock-k8.io/exit-after-ms": "1500", "mock-k8.io/exit-code": "0"}},
        "spec": {"restartPolicy": "Never", "containers": [{"name": "app", "image": "busybox:1.36", "command": ["echo", "hi"]}]}
    });
    server.create("/api/v1/namespaces/default/pods", &pod).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let port = loop {
        let node = server.get("/api/v1/nodes/logs-node").await.1;
        let port = node["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"]
            .as_i64()
            .unwrap_or(0);
        if port > 0 && port != 10250 {
            break port;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the agent publishes its log port: {node}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // Logs exist once the container does (before, the agent answers "waiting to start").
    loop {
        let pod = server.get("/api/v1/namespaces/default/pods/sim").await.1;
        if pod["status"]["containerStatuses"][0]["containerID"].is_string() {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no container: {pod}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let kubectl = Kubectl::new(&server);
    // Follow from the start: the stream ends when the simulated process exits.
    let mut follow = kubectl.spawn(&["logs", "-f", "sim"]);
    follow
        .wait_line("the start", Duration::from_secs(15), |l| {
            l.starts_with("started busybox:1.36 echo hi")
        })
        .await;
    follow
        .wait_line("the exit", Duration::from_secs(15), |l| l == "exited 0")
        .await;
    follow.kill().await;
    kubectl
        .run(&["logs", "sim", "--tail", "1"])
        .await
        .ok()
        .stdout_has("exited 0");
    // Without the token the agent's endpoint refuses.
    let url = format!("http://127.0.0.1:{port}/containerLogs/default/sim/app");
    let resp = reqwest::get(&url).await.expect("GET agent logs");
    assert_eq!(resp.status(), reqwest::StatusCode::UNAUTHORIZED);
}
