//! Pods as real containers: `mock_k8 run --runtime docker` on the local Docker Engine, driven
//! through the API, asserted on the pod status and on what `docker ps` shows.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::support::{Images, containers_of, docker, remove_node_objects, require_docker, unique};
use crate::support::Server;

pub(super) const PODS: &str = "/api/v1/namespaces/default/pods";

/// A `mock_k8 run --runtime docker` serving one node with a unique name, and its Docker objects
/// removed when dropped.
pub(super) struct DockerCluster {
    pub(super) server: Server,
    pub(super) node: String,
    pub(super) images: Images,
    _lock: super::support::DockerLock,
}

impl DockerCluster {
    pub(super) async fn start(test: &str) -> Option<DockerCluster> {
        let (lock, images) = require_docker(test).await?;
        let node = unique("e2e");
        let server = Server::start_with(&Self::flags(&node, &images)).await;
        Some(DockerCluster {
            server,
            node,
            images,
            _lock: lock,
        })
    }

    fn flags<'a>(node: &'a str, images: &'a Images) -> Vec<&'a str> {
        vec![
            "--runtime",
            "docker",
            "--node-name",
            node,
            "--sandbox-image",
            &images.sandbox,
            "--image-pull-timeout",
            "2s",
            "--crash-loop-backoff-initial",
            "1s",
            "--crash-loop-backoff-max",
            "4s",
        ]
    }

    fn pod(&self, name: &str, spec: Value) -> Value {
        let mut spec = spec;
        spec["nodeName"] = json!(self.node);
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec})
    }

    pub(super) async fn create(&self, name: &str, spec: Value) {
        self.server.create(PODS, &self.pod(name, spec)).await;
    }

    pub(super) async fn get(&self, name: &str) -> Option<Value> {
        let (status, body) = self.server.get(&format!("{PODS}/{name}")).await;
        (status == StatusCode::OK).then_some(body)
    }

    /// Polls pod `name` until `pred` holds; panics with the pod and the server log after `timeout`.
    pub(super) async fn wait(
        &self,
        name: &str,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let pod = self.get(name).await.unwrap_or(Value::Null);
            if pred(&pod) {
                return pod;
            }
            if Instant::now() > deadline {
                panic!(
                    "pod {name}: {what} not reached in {timeout:?}; pod: {pod:#}\nserver log:\n{}",
                    self.server.log_tail(40)
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub(super) async fn wait_running(&self, name: &str) -> Value {
        self.wait(name, "phase Running", Duration::from_secs(30), |p| {
            p["status"]["phase"] == "Running"
                && p["status"]["containerStatuses"]
                    .as_array()
                    .is_some_and(|cs| cs.iter().any(|c| c["state"]["running"].is_object()))
        })
        .await
    }
}

impl Drop for DockerCluster {
    fn drop(&mut self) {
        // The agent first, or it would recreate what is being removed.
        self.server.kill_if_running();
        remove_node_objects(&self.node);
    }
}

fn status_of<'a>(pod: &'a Value, container: &str) -> &'a Value {
    pod["status"]["containerStatuses"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["name"] == container))
        .unwrap_or(&Value::Null)
}

#[tokio::test]
async fn http_pod_is_served_at_its_pod_ip_and_containers_share_localhost() {
    let Some(c) = DockerCluster::start("docker::pods::http_pod").await else {
        return;
    };
    let image = c.images.busybox.clone();
    c.create(
        "web",
        json!({
            "restartPolicy": "OnFailure",
            "containers": [
                {"name": "web", "image": image, "ports": [{"containerPort": 8080}],
                 "command": ["sh", "-c", "echo \"hello from $POD_GREETING\" > /www/index.html; exec httpd -f -p 8080 -h /www"],
                 "env": [{"name": "POD_GREETING", "value": "web"}]},
                {"name": "probe", "image": image, "workingDir": "/tmp",
                 "command": ["sh", "-c", "until wget -q -O page http://127.0.0.1:8080/index.html; do sleep 0.2; done; grep -q 'hello from web' /tmp/page"]}
            ]
        }),
    )
    .await;
    let pod = c.wait_running("web").await;
    let ip = pod["status"]["podIP"].as_str().expect("podIP").to_string();
    assert!(
        ip.starts_with("10.244.0."),
        "pod IP {ip} comes from the node's podCIDR 10.244.0.0/24"
    );
    let url = format!("http://{ip}:8080/index.html");
    let deadline = Instant::now() + Duration::from_secs(15);
    let body = loop {
        match reqwest::get(&url).await {
            Ok(r) if r.status().is_success() => break r.text().await.unwrap_or_default(),
            _ if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(200)).await,
            other => panic!("GET {url} from the host failed: {other:?}"),
        }
    };
    assert_eq!(body.trim(), "hello from web");
    // The second container reached the first on localhost (same network namespace) and exited 0.
    let pod = c
        .wait("web", "probe completed", Duration::from_secs(20), |p| {
            status_of(p, "probe")["state"]["terminated"]["exitCode"] == 0
        })
        .await;
    assert_eq!(
        status_of(&pod, "probe")["state"]["terminated"]["reason"],
        "Completed"
    );
    // The runtime's own scheme and Docker's 64-hex-digit container ID.
    let id = status_of(&pod, "web")["containerID"].clone();
    assert!(
        id.as_str()
            .and_then(|id| id.strip_prefix("docker://"))
            .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit())),
        "{id}"
    );
    assert_eq!(containers_of(&c.node, "sandbox", Some("web")).len(), 1);
    let node = c.server.get(&format!("/api/v1/nodes/{}", c.node)).await.1;
    assert!(
        node["status"]["nodeInfo"]["containerRuntimeVersion"]
            .as_str()
            .is_some_and(|v| v.starts_with("docker://")),
        "{node}"
    );
}

#[tokio::test]
async fn crashing_container_restarts_with_backoff() {
    let Some(c) = DockerCluster::start("docker::pods::crash_loop").await else {
        return;
    };
    c.create(
        "crash",
        json!({"containers": [{"name": "app", "image": c.images.busybox, "command": ["sh", "-c", "sleep 0.2; exit 1"]}]}),
    )
    .await;
    let began = Instant::now();
    c.wait("crash", "CrashLoopBackOff", Duration::from_secs(30), |p| {
        status_of(p, "app")["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    })
    .await;
    let pod = c
        .wait("crash", "two restarts", Duration::from_secs(40), |p| {
            status_of(p, "app")["restartCount"].as_u64().unwrap_or(0) >= 2
        })
        .await;
    let s = status_of(&pod, "app");
    assert_eq!(s["lastState"]["terminated"]["exitCode"], 1, "{s}");
    assert_eq!(s["lastState"]["terminated"]["reason"], "Error");
    // Backoff 1 s then 2 s: two restarts cannot happen sooner.
    assert!(
        began.elapsed() >= Duration::from_secs(3),
        "restarted too fast: {:?}",
        began.elapsed()
    );
}

#[tokio::test]
async fn never_restarted_pod_fails_with_the_exit_code() {
    let Some(c) = DockerCluster::start("docker::pods::never").await else {
        return;
    };
    c.create(
        "once",
        json!({"restartPolicy": "Never",
               "containers": [{"name": "app", "image": c.images.busybox, "command": ["sh", "-c", "exit 7"]}]}),
    )
    .await;
    let pod = c
        .wait("once", "phase Failed", Duration::from_secs(30), |p| {
            p["status"]["phase"] == "Failed"
        })
        .await;
    let t = &status_of(&pod, "app")["state"]["terminated"];
    assert_eq!(
        (t["exitCode"].as_i64(), t["reason"].as_str()),
        (Some(7), Some("Error")),
        "{pod:#}"
    );
    assert_eq!(status_of(&pod, "app")["restartCount"], 0);
}

#[tokio::test]
async fn deleting_a_pod_stops_its_container_within_the_grace_period() {
    let Some(c) = DockerCluster::start("docker::pods::delete").await else {
        return;
    };
    // `sleep` as PID 1 ignores SIGTERM: only the SIGKILL after the grace period ends it.
    c.create(
        "stubborn",
        json!({"terminationGracePeriodSeconds": 2,
               "containers": [{"name": "app", "image": c.images.busybox, "command": ["sleep", "3600"]}]}),
    )
    .await;
    c.wait_running("stubborn").await;
    assert_eq!(
        containers_of(&c.node, "container", Some("stubborn")).len(),
        1
    );
    let began = Instant::now();
    let (status, _) = c.server.delete(&format!("{PODS}/stubborn")).await;
    assert!(status.is_success());
    let deadline = began + Duration::from_secs(20);
    while c.get("stubborn").await.is_some() {
        assert!(
            Instant::now() < deadline,
            "pod not gone; log:\n{}",
            c.server.log_tail(40)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let took = began.elapsed();
    assert!(
        took >= Duration::from_millis(1800) && took < Duration::from_secs(12),
        "deletion took {took:?}: the grace period is 2 s"
    );
    assert!(containers_of(&c.node, "container", Some("stubborn")).is_empty());
    assert!(containers_of(&c.node, "sandbox", Some("stubborn")).is_empty());
}

#[tokio::test]
async fn missing_image_reports_err_image_pull_then_back_off() {
    let Some(c) = DockerCluster::start("docker::pods::missing_image").await else {
        return;
    };
    c.create(
        "ghost",
        json!({"containers": [{"name": "app", "image": "mock-k8-test/never-built:1"}]}),
    )
    .await;
    c.wait("ghost", "ErrImagePull", Duration::from_secs(20), |p| {
        status_of(p, "app")["state"]["waiting"]["reason"] == "ErrImagePull"
    })
    .await;
    c.wait("ghost", "ImagePullBackOff", Duration::from_secs(20), |p| {
        status_of(p, "app")["state"]["waiting"]["reason"] == "ImagePullBackOff"
    })
    .await;
    assert!(containers_of(&c.node, "container", Some("ghost")).is_empty());
}

#[tokio::test]
async fn killed_and_restarted_agent_adopts_its_containers() {
    let Some(mut c) = DockerCluster::start("docker::pods::adopt").await else {
        return;
    };
    c.create(
        "keep",
        json!({"containers": [
            {"name": "a", "image": c.images.busybox, "command": ["sleep", "3600"]},
            {"name": "b", "image": c.images.busybox, "command": ["sleep", "3600"]}
        ]}),
    )
    .await;
    let before = c
        .wait("keep", "both running", Duration::from_secs(30), |p| {
            ["a", "b"]
                .iter()
                .all(|n| status_of(p, n)["state"]["running"].is_object())
        })
        .await;
    c.server.kill9();
    let flags = DockerCluster::flags(&c.node, &c.images)
        .into_iter()
        .map(str::to_string)
        .collect::<Vec<_>>();
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    c.server.restart(&flags).await;
    // Give the new agent time to adopt (or wrongly duplicate) the containers.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = c.wait_running("keep").await;
    for n in ["a", "b"] {
        assert_eq!(
            status_of(&after, n)["containerID"],
            status_of(&before, n)["containerID"],
            "container {n} is adopted, not recreated"
        );
        assert_eq!(status_of(&after, n)["restartCount"], 0);
    }
    assert_eq!(containers_of(&c.node, "container", Some("keep")).len(), 2);
    assert_eq!(containers_of(&c.node, "sandbox", Some("keep")).len(), 1);
    assert_eq!(after["status"]["podIP"], before["status"]["podIP"]);
    let running = docker(&[
        "ps",
        "-q",
        "--filter",
        &format!("label=mock-k8.io/node={}", c.node),
    ])
    .unwrap_or_default();
    assert_eq!(
        running.split_whitespace().count(),
        3,
        "two containers and one sandbox"
    );
}

#[tokio::test]
async fn kubectl_logs_shows_and_follows_container_output() {
    if !crate::support::require_kubectl("docker::pods::logs") {
        return;
    }
    let Some(c) = DockerCluster::start("docker::pods::logs").await else {
        return;
    };
    c.create(
        "talk",
        json!({"containers": [
            {"name": "talker", "image": c.images.busybox,
             "command": ["sh", "-c", "echo first line; i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.3; done"]},
            {"name": "quiet", "image": c.images.busybox, "command": ["sleep", "3600"]}
        ]}),
    )
    .await;
    c.wait_running("talk").await;
    let kubectl = crate::support::Kubectl::new(&c.server);
    kubectl
        .run(&["logs", "talk", "-c", "talker"])
        .await
        .ok()
        .stdout_has("first line");
    kubectl
        .run(&["logs", "talk", "-c", "nope"])
        .await
        .failed()
        .stderr_has("container nope is not valid for pod talk");
    let mut follow = kubectl.spawn(&["logs", "-f", "talk", "-c", "talker"]);
    follow
        .wait_line(
            "a line printed after the request",
            Duration::from_secs(15),
            |l| {
                l.strip_prefix("tick ")
                    .and_then(|n| n.parse::<u32>().ok())
                    .is_some_and(|n| n >= 12)
            },
        )
        .await;
    follow.kill().await;
}

/// `mock_k8 agent --runtime docker`: the out-of-process node agent runs its pods as real
/// containers (sandbox + container labelled with its node) and reports them Running.
#[tokio::test]
async fn agent_process_runs_pods_as_docker_containers() {
    let Some((_lock, images)) = require_docker("docker::pods::agent_process").await else {
        return;
    };
    let server = Server::start_with(&["--no-local-node"]).await;
    let cluster: Value = serde_json::from_slice(
        &std::fs::read(server.data_dir().join("cluster.json")).expect("cluster.json"),
    )
    .expect("cluster.json is JSON");
    let token = cluster["token"].as_str().expect("token").to_string();
    let node = unique("e2e-agent");
    let agent_dir = tempfile::tempdir().expect("agent data dir");
    let mut agent = std::process::Command::new(env!("CARGO_BIN_EXE_mock_k8"))
        .args(["agent", "--server", &server.base(), "--token", &token])
        .arg("--data-dir")
        .arg(agent_dir.path())
        .args(["--node-name", &node, "--node-lease-renew-interval", "1s"])
        .args(["--runtime", "docker", "--sandbox-image", &images.sandbox])
        .args(["--log-addr", "127.0.0.1:0"])
        .env_remove("MOCK_K8_NODE_NAME")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn mock_k8 agent");
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "on-agent"},
        "spec": {"nodeName": node, "terminationGracePeriodSeconds": 1,
                 "containers": [{"name": "app", "image": images.busybox,
                                 "command": ["sh", "-c", "echo hello from the agent; exec sleep 3600"]}]}});
    server.create(PODS, &pod).await;
    let deadline = Instant::now() + Duration::from_secs(40);
    let running = loop {
        let (_, p) = server.get(&format!("{PODS}/on-agent")).await;
        if p["status"]["phase"] == "Running" {
            break p;
        }
        if Instant::now() > deadline {
            let _ = agent.kill();
            let _ = agent.wait();
            remove_node_objects(&node);
            panic!("pod not Running on the Docker agent: {p:#}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    // `pods/on-agent/log` goes through the API server's proxy to the agent process's endpoint.
    let mut logs = String::new();
    while Instant::now() < deadline && !logs.contains("hello from the agent") {
        let resp = server
            .http()
            .get(server.url(&format!("{PODS}/on-agent/log")))
            .send()
            .await
            .expect("GET log");
        logs = resp.text().await.unwrap_or_default();
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let sandboxes = containers_of(&node, "sandbox", Some("on-agent"));
    let containers = containers_of(&node, "container", Some("on-agent"));
    let _ = agent.kill();
    let _ = agent.wait();
    remove_node_objects(&node);
    assert_eq!(sandboxes.len(), 1, "one sandbox: {running:#}");
    assert_eq!(containers.len(), 1, "one container: {running:#}");
    assert_eq!(logs, "hello from the agent\n");
    let version = server.get(&format!("/api/v1/nodes/{node}")).await.1["status"]["nodeInfo"]
        ["containerRuntimeVersion"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(version.starts_with("docker://"), "{version}");
}
