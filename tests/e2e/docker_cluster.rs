//! Failure tests across hosts: 3 members and 2 node agents in containers of the locally built
//! image, on two private Docker networks of their own (`raft`: member and agent traffic, which a
//! partition cuts; `ctl`: the ports this test reaches on 127.0.0.1). Timing flags are turned down
//! to seconds.
//!
//! Needs a Docker Engine: skipped with a message without one, failed instead when
//! `MOCK_K8_REQUIRE_DOCKER=1` (`.ci/run`). The image is built locally from the binary under test
//! (nothing is pulled), or named by `MOCK_K8_TEST_IMAGE` (e.g. `mock-k8:latest` from
//! `examples/docker/build-image.sh`). Container and network names carry a per-run suffix and are
//! removed at the end, also on failure.

use crate::docker::support::{DockerLock, member_image, require_docker};
use crate::support::{free_port, pod, rv};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn docker(args: &[&str]) -> (bool, String) {
    match Command::new("docker").args(args).output() {
        Ok(out) => (
            out.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        ),
        Err(e) => (false, e.to_string()),
    }
}

fn must(args: &[&str]) -> String {
    let (ok, out) = docker(args);
    assert!(ok, "docker {args:?} failed: {out}");
    out
}

/// The image to test and the Docker test lock, or `None` (after printing why) when no Docker
/// Engine is reachable (a failure instead with `MOCK_K8_REQUIRE_DOCKER=1`, see
/// [`crate::docker::support`]). The image is `MOCK_K8_TEST_IMAGE` when set (e.g. `mock-k8:latest`
/// from `examples/docker/build-image.sh`), else built locally from the binary under test
/// ([`member_image`]).
async fn image_or_skip(test: &str) -> Option<(DockerLock, String)> {
    let (lock, _images) = require_docker(test).await?;
    let image = match std::env::var("MOCK_K8_TEST_IMAGE") {
        Ok(image) if !image.is_empty() => {
            assert!(
                docker(&["image", "inspect", &image]).0,
                "{test}: MOCK_K8_TEST_IMAGE={image} is missing (build it: examples/docker/build-image.sh)"
            );
            image
        }
        _ => tokio::task::spawn_blocking(member_image)
            .await
            .expect("image task"),
    };
    Some((lock, image))
}

/// Containers and networks of one run; removed on drop.
struct Lab {
    id: String,
    image: String,
    containers: Vec<String>,
    ports: BTreeMap<String, u16>,
    http: reqwest::Client,
}

impl Drop for Lab {
    fn drop(&mut self) {
        for c in &self.containers {
            let _ = docker(&["rm", "-f", "-v", c]);
        }
        for net in ["raft", "ctl"] {
            let _ = docker(&["network", "rm", &format!("mk8-{}-{net}", self.id)]);
        }
    }
}

/// Member flags: fast Raft and node health, no node of its own.
const MEMBER_FLAGS: &[&str] = &[
    "--no-local-node",
    "--raft-heartbeat-interval",
    "200ms",
    "--raft-election-timeout",
    "1s",
    "--node-monitor-period",
    "1s",
    "--node-monitor-grace-period",
    "4s",
    "--default-not-ready-toleration-seconds",
    "2",
    "--default-unreachable-toleration-seconds",
    "2",
];

impl Lab {
    fn new(image: String) -> Lab {
        let id = format!("{}-{}", std::process::id(), free_port());
        let lab = Lab {
            id,
            image,
            containers: Vec::new(),
            ports: BTreeMap::new(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .expect("http"),
        };
        for net in ["raft", "ctl"] {
            must(&["network", "create", &format!("mk8-{}-{net}", lab.id)]);
        }
        lab
    }

    fn name(&self, short: &str) -> String {
        format!("mk8-{}-{short}", self.id)
    }

    /// Starts container `short` (e.g. `m1`) running `args`; members publish 8080 on 127.0.0.1.
    fn start(&mut self, short: &str, args: &[&str]) {
        let name = self.name(short);
        let port = free_port();
        let publish = format!("127.0.0.1:{port}:8080");
        let ctl = self.name("ctl");
        let raft = self.name("raft");
        // No --hostname (Docker would resolve it on every network, bypassing a partition); DNS
        // answers for names that are gone (a killed member) fail fast instead of waiting on
        // upstream resolvers this sandbox has none of.
        let mut cmd = vec![
            "create",
            "--name",
            &name,
            "--network",
            &ctl,
            "-p",
            &publish,
            "--dns",
            "127.0.0.1",
            "--dns-opt",
            "timeout:1",
            "--dns-opt",
            "attempts:1",
            "-e",
            "RUST_LOG=info,openraft=error",
            "-e",
            "MOCK_K8_API_ADDR=0.0.0.0:8080",
            "-e",
            "MOCK_K8_DATA_DIR=/app/data",
            &self.image,
        ];
        cmd.extend_from_slice(args);
        must(&cmd);
        // The Raft network carries member and agent traffic under the short name. It is connected
        // before the process starts: a connection opened while `docker network connect` runs can
        // leave with the other network's source address and its answers be dropped (a join that
        // hung until its timeout).
        must(&["network", "connect", "--alias", short, &raft, &name]);
        must(&["start", &name]);
        self.containers.push(name);
        self.ports.insert(short.to_string(), port);
    }

    fn url(&self, short: &str, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.ports[short])
    }

    fn logs(&self, short: &str) -> String {
        docker(&["logs", "--tail", "40", &self.name(short)]).1
    }

    async fn ready(&self, short: &str, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            if let Ok(r) = self.http.get(self.url(short, "/readyz")).send().await
                && r.status() == StatusCode::OK
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{short} not ready:\n{}",
                self.logs(short)
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn get(&self, short: &str, path: &str) -> (StatusCode, Value, String) {
        match self.http.get(self.url(short, path)).send().await {
            Ok(r) => {
                let code = r.status();
                let retry = r
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string();
                (code, r.json().await.unwrap_or(Value::Null), retry)
            }
            Err(e) => (StatusCode::BAD_GATEWAY, json!(e.to_string()), String::new()),
        }
    }

    async fn create(&self, short: &str, name: &str) -> (StatusCode, Value, String) {
        let req = self
            .http
            .post(self.url(short, "/api/v1/namespaces/default/pods"))
            .json(&pod(name, &[], "img"));
        match req.send().await {
            Ok(r) => {
                let code = r.status();
                let retry = r
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string();
                (code, r.json().await.unwrap_or(Value::Null), retry)
            }
            Err(e) => (StatusCode::BAD_GATEWAY, json!(e.to_string()), String::new()),
        }
    }

    async fn leader(&self, token: &str, via: &[&str]) -> String {
        for short in via {
            if let Ok(r) = self
                .http
                .get(self.url(short, "/cluster/members"))
                .bearer_auth(token)
                .send()
                .await
                && let Ok(v) = r.json::<Value>().await
                && let Some(l) = v["members"]
                    .as_array()
                    .and_then(|m| m.iter().find(|m| m["leader"] == true))
            {
                let addr = l["addr"].as_str().unwrap_or_default();
                return addr.split(':').next().unwrap_or_default().to_string();
            }
        }
        panic!("no leader known to {via:?}");
    }
}

/// Creates pods through the live members, round-robin, until stopped; records every
/// acknowledged name and fails on any non-retryable answer.
fn start_checker(
    lab: Arc<Lab>,
    prefix: &'static str,
    members: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<(Vec<String>, Vec<String>)> {
    tokio::spawn(async move {
        let (mut acked, mut errors) = (Vec::new(), Vec::new());
        let mut i = 0usize;
        while !stop.load(Ordering::Relaxed) {
            let targets = members.lock().expect("members").clone();
            let target = &targets[i % targets.len()];
            let name = format!("{prefix}-{i}");
            let (code, body, _) = lab.create(target, &name).await;
            match code {
                StatusCode::CREATED => acked.push(name),
                StatusCode::SERVICE_UNAVAILABLE
                | StatusCode::GATEWAY_TIMEOUT
                | StatusCode::BAD_GATEWAY => {}
                // A retried create whose first attempt was committed: not an error of ours.
                StatusCode::CONFLICT => {}
                other => errors.push(format!("{target}: {other} {body}")),
            }
            i += 1;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        (acked, errors)
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_cluster_should_survive_leader_death_partition_agent_loss_and_rolling_restart() {
    let test =
        "docker_cluster_should_survive_leader_death_partition_agent_loss_and_rolling_restart";
    let Some((_docker_lock, image)) = image_or_skip(test).await else {
        return;
    };
    let mut lab = Lab::new(image);
    let mut m1 = vec!["run", "--advertise-addr", "m1:8080"];
    m1.extend_from_slice(MEMBER_FLAGS);
    lab.start("m1", &m1);
    lab.ready("m1", Duration::from_secs(30)).await;
    let logs = must(&["logs", &lab.name("m1")]);
    let token = logs
        .split_whitespace()
        .find(|w| w.starts_with("mk8-"))
        .expect("m1 printed its join token")
        .to_string();
    for m in ["m2", "m3"] {
        let addr = format!("{m}:8080");
        let mut args = vec![
            "run",
            "--advertise-addr",
            &addr,
            "--join",
            "http://m1:8080",
            "--token",
            &token,
        ];
        args.extend_from_slice(MEMBER_FLAGS);
        lab.start(m, &args);
    }
    for m in ["m1", "m2", "m3"] {
        lab.ready(m, Duration::from_secs(60)).await;
    }
    let servers = "http://m1:8080,http://m2:8080,http://m3:8080";
    for a in ["a1", "a2"] {
        lab.start(
            a,
            &[
                "agent",
                "--server",
                servers,
                "--token",
                &token,
                "--node-name",
                a,
                "--node-lease-renew-interval",
                "1s",
            ],
        );
    }
    let lab = Arc::new(lab);
    // Strangers (this test, from outside the members' hosts) cannot register nodes; the token
    // holder can.
    let stranger = json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "stranger"}});
    let nodes = lab.url("m2", "/api/v1/nodes");
    let r = lab
        .http
        .post(&nodes)
        .json(&stranger)
        .send()
        .await
        .expect("post node");
    assert_eq!(
        r.status(),
        StatusCode::UNAUTHORIZED,
        "a Node without the token"
    );
    let r = lab
        .http
        .post(&nodes)
        .bearer_auth(&token)
        .json(&stranger)
        .send()
        .await
        .expect("post node");
    assert_eq!(r.status(), StatusCode::CREATED, "a Node with the token");

    // 1. Kill the leader under a stream of writes.
    let members = Arc::new(Mutex::new(vec!["m1".to_string(), "m2".into(), "m3".into()]));
    let stop = Arc::new(AtomicBool::new(false));
    let checker = start_checker(lab.clone(), "kill", members.clone(), stop.clone());
    tokio::time::sleep(Duration::from_secs(2)).await;
    let leader = lab.leader(&token, &["m1", "m2", "m3"]).await;
    members.lock().expect("members").retain(|m| *m != leader);
    let survivor = members.lock().expect("members")[0].clone();
    must(&["kill", &lab.name(&leader)]);
    let killed = Instant::now();
    let failover = loop {
        let (code, body, _) = lab
            .create(
                &survivor,
                &format!("failover-{}", killed.elapsed().as_millis()),
            )
            .await;
        if code == StatusCode::CREATED {
            break killed.elapsed();
        }
        assert!(
            killed.elapsed() < Duration::from_secs(10),
            "no write accepted 10 s after the leader died: {code} {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    println!("docker failover: leader {leader} killed -> first accepted write after {failover:?}");
    must(&["start", &lab.name(&leader)]);
    lab.ready(&leader, Duration::from_secs(30)).await;
    members.lock().expect("members").push(leader.clone());
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, Ordering::Relaxed);
    let (acked, errors) = checker.await.expect("checker");
    assert!(errors.is_empty(), "non-retryable errors: {errors:?}");
    assert!(acked.len() > 20, "too few writes: {}", acked.len());
    // No acknowledged write is lost, on any member; resourceVersions never go backwards.
    for m in ["m1", "m2", "m3"] {
        let (code, list, _) = lab.get(m, "/api/v1/namespaces/default/pods").await;
        assert_eq!(code, StatusCode::OK);
        let names: std::collections::HashSet<&str> = list["items"]
            .as_array()
            .expect("items")
            .iter()
            .filter_map(|p| p["metadata"]["name"].as_str())
            .collect();
        let lost: Vec<&String> = acked
            .iter()
            .filter(|n| !names.contains(n.as_str()))
            .collect();
        assert!(lost.is_empty(), "{m} lost acknowledged writes: {lost:?}");
    }
    let mut last = BTreeMap::new();
    for _ in 0..3 {
        for m in ["m1", "m2", "m3"] {
            let (_, list, _) = lab.get(m, "/api/v1/namespaces/default/pods?limit=1").await;
            let now: u64 = list["metadata"]["resourceVersion"]
                .as_str()
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            let before = last.insert(m, now).unwrap_or(0);
            assert!(now >= before, "{m} went back in time: {now} < {before}");
        }
    }

    // 2. Partition a follower: it refuses writes with a retryable error naming the leader; the
    // majority goes on; healed, it catches up.
    let leader = lab.leader(&token, &["m1", "m2", "m3"]).await;
    let cut = ["m1", "m2", "m3"]
        .into_iter()
        .find(|m| *m != leader)
        .expect("a follower");
    let other = ["m1", "m2", "m3"]
        .into_iter()
        .find(|m| *m != leader && *m != cut)
        .expect("another");
    must(&["network", "disconnect", &lab.name("raft"), &lab.name(cut)]);
    let (code, body, retry) = lab.create(cut, "partitioned").await;
    assert!(
        code == StatusCode::SERVICE_UNAVAILABLE || code == StatusCode::GATEWAY_TIMEOUT,
        "a cut-off member answers a retryable error: {code} {body}"
    );
    assert_eq!(retry, "1", "with Retry-After");
    let message = body["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("leader"),
        "the error names the leader: {message}"
    );
    let (code, majority, _) = lab.create(other, "majority-write").await;
    assert_eq!(
        code,
        StatusCode::CREATED,
        "the majority goes on: {majority}"
    );
    must(&[
        "network",
        "connect",
        "--alias",
        cut,
        &lab.name("raft"),
        &lab.name(cut),
    ]);
    let healed = Instant::now();
    loop {
        let (code, got, _) = lab
            .get(cut, "/api/v1/namespaces/default/pods/majority-write")
            .await;
        if code == StatusCode::OK {
            assert_eq!(rv(&got), rv(&majority));
            break;
        }
        assert!(
            healed.elapsed() < Duration::from_secs(20),
            "{cut} did not catch up: {code} {got}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // 3. Stop an agent: its node goes NotReady and its pod is evicted; started again, Ready.
    let p = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "on-a1"},
        "spec": {"nodeName": "a1", "containers": [{"name": "c", "image": "nginx"}]}});
    let r = lab
        .http
        .post(lab.url(other, "/api/v1/namespaces/default/pods"))
        .json(&p)
        .send()
        .await
        .expect("create");
    assert_eq!(r.status(), StatusCode::CREATED);
    wait_node(&lab, other, "a1", "True", Duration::from_secs(30)).await;
    must(&["stop", "-t", "1", &lab.name("a1")]);
    wait_node(&lab, other, "a1", "Unknown", Duration::from_secs(20)).await;
    let evicted = Instant::now();
    loop {
        let (code, got, _) = lab
            .get(other, "/api/v1/namespaces/default/pods/on-a1")
            .await;
        if code == StatusCode::NOT_FOUND || !got["metadata"]["deletionTimestamp"].is_null() {
            break;
        }
        assert!(
            evicted.elapsed() < Duration::from_secs(20),
            "pod not evicted: {got}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    must(&["start", &lab.name("a1")]);
    wait_node(&lab, other, "a1", "True", Duration::from_secs(30)).await;

    // 4. Rolling restart of all three members under load: only retryable errors, nothing lost.
    let members = Arc::new(Mutex::new(vec!["m1".to_string(), "m2".into(), "m3".into()]));
    let stop = Arc::new(AtomicBool::new(false));
    let checker = start_checker(lab.clone(), "roll", members, stop.clone());
    for m in ["m1", "m2", "m3"] {
        must(&["restart", "-t", "5", &lab.name(m)]);
        lab.ready(m, Duration::from_secs(30)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, Ordering::Relaxed);
    let (acked, errors) = checker.await.expect("checker");
    assert!(
        errors.is_empty(),
        "non-retryable errors during the rolling restart: {errors:?}"
    );
    for m in ["m1", "m2", "m3"] {
        let (_, list, _) = lab.get(m, "/api/v1/namespaces/default/pods").await;
        let names: std::collections::HashSet<&str> = list["items"]
            .as_array()
            .expect("items")
            .iter()
            .filter_map(|p| p["metadata"]["name"].as_str())
            .collect();
        let lost: Vec<&String> = acked
            .iter()
            .filter(|n| !names.contains(n.as_str()))
            .collect();
        assert!(
            lost.is_empty(),
            "{m} lost acknowledged writes after the rolling restart: {lost:?}"
        );
    }
}

async fn wait_node(lab: &Lab, via: &str, node: &str, ready: &str, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let (_, n, _) = lab.get(via, &format!("/api/v1/nodes/{node}")).await;
        let status = n["status"]["conditions"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["type"] == "Ready"))
            .and_then(|c| c["status"].as_str())
            .unwrap_or("")
            .to_string();
        if status == ready {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "node {node} not Ready={ready} (is {status:?}):\n{}",
            lab.logs(node)
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}
