//! `kubectl logs` for pods run by a `mock_k8 agent` process: the agent serves its log endpoint on
//! `--log-addr`, publishes the port and its InternalIP in its Node status, and the API server's
//! proxy dials that address with a request signed by the key derived from the join token.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{Kubectl, Server, require_kubectl};

/// A child process killed when dropped (also when an assertion fails).
struct Agent(std::process::Child);

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn join_token(server: &Server) -> String {
    let bytes = std::fs::read(server.data_dir().join("cluster.json")).expect("cluster.json");
    let v: Value = serde_json::from_slice(&bytes).expect("cluster.json is JSON");
    v["token"].as_str().expect("token").to_string()
}

async fn wait_for(server: &Server, path: &str, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, v) = server.get(path).await;
        if pred(&v) {
            return v;
        }
        assert!(Instant::now() < deadline, "{what}: {v:#}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_logs_and_follow_reach_an_agent_process() {
    if !require_kubectl("agent_logs::kubectl_logs_and_follow_reach_an_agent_process") {
        return;
    }
    let server = Server::start_with(&["--no-local-node"]).await;
    let token = join_token(&server);
    let agent_dir = tempfile::tempdir().expect("agent data dir");
    let _agent = Agent(
        std::process::Command::new(env!("CARGO_BIN_EXE_mock_k8"))
            .args(["agent", "--server", &server.base(), "--token", &token])
            .arg("--data-dir")
            .arg(agent_dir.path())
            .args(["--node-name", "logs-agent", "--log-addr", "127.0.0.1:0"])
            .env_remove("MOCK_K8_NODE_NAME")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn mock_k8 agent"),
    );
    let node = wait_for(
        &server,
        "/api/v1/nodes/logs-agent",
        "the agent's Node",
        |n| {
            n["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"]
                .as_i64()
                .is_some_and(|p| p > 0 && p != 10250)
        },
    )
    .await;
    let port = node["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"].clone();
    assert_eq!(
        node["status"]["addresses"][0],
        json!({"type": "InternalIP", "address": "127.0.0.1"})
    );
    let pod = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "sim", "annotations": {"mock-k8.io/exit-after-ms": "4000", "mock-k8.io/exit-code": "0"}},
        "spec": {"nodeName": "logs-agent", "restartPolicy": "Never",
                 "containers": [{"name": "app", "image": "busybox:1.36", "command": ["echo", "hi"]}]}
    });
    server.create("/api/v1/namespaces/default/pods", &pod).await;
    let path = "/api/v1/namespaces/default/pods/sim";
    let running = wait_for(&server, path, "the container runs", |p| {
        p["status"]["containerStatuses"][0]["state"]["running"].is_object()
    })
    .await;
    assert_eq!(running["status"]["hostIP"], "127.0.0.1");
    let kubectl = Kubectl::new(&server);
    kubectl
        .run(&["logs", "sim", "-c", "app"])
        .await
        .ok()
        .stdout_has("created busybox:1.36")
        .stdout_has("started busybox:1.36 echo hi");
    // Follow with --tail 1: the last line so far, then the new ones until the process exits.
    let mut follow = kubectl.spawn(&["logs", "-f", "--tail", "1", "sim"]);
    follow
        .wait_line("the start", Duration::from_secs(15), |l| {
            l.starts_with("started busybox:1.36 echo hi")
        })
        .await;
    follow
        .wait_line("the exit", Duration::from_secs(15), |l| l == "exited 0")
        .await;
    assert_eq!(follow.seen().len(), 2, "{:?}", follow.seen());
    follow.kill().await;
    kubectl
        .run(&["logs", "sim", "--tail", "1"])
        .await
        .ok()
        .stdout_has("exited 0");
    // The agent's endpoint refuses anything but a signed request: no credentials, the join token
    // as a bearer, or a forged signature.
    let url = format!("http://127.0.0.1:{port}/containerLogs/default/sim/app");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let forged = format!("MockK8-NodeLog logs-agent:{now}:{}", "ab".repeat(32));
    let http = reqwest::Client::new();
    for auth in [None, Some(format!("Bearer {token}")), Some(forged)] {
        let mut req = http.get(&url);
        if let Some(a) = &auth {
            req = req.header("authorization", a);
        }
        let resp = req.send().await.expect("GET agent logs");
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{auth:?}");
    }
}
