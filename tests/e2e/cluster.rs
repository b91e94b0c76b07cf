//! A 3-member control plane as 3 processes on 127.0.0.1: joining with the token (and refusing
//! strangers), catching up from a snapshot, writes on any member, reads that never go back in
//! time, `mock_k8 members list/remove`, a member's restart, and the leader's death.

use crate::support::{Server, pod, rv};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::process::Command;
use std::time::{Duration, Instant};

/// Fast Raft timing and frequent snapshots, so the test exercises elections and snapshot
/// installs in seconds.
const FAST: &[&str] = &[
    "--api-only",
    "--raft-heartbeat-interval",
    "200ms",
    "--raft-election-timeout",
    "800ms",
    "--snapshot-threshold",
    "20",
    "--snapshot-keep-logs",
    "0",
];

fn token(server: &Server) -> String {
    let bytes = std::fs::read(server.data_dir().join("cluster.json")).expect("cluster.json");
    let v: Value = serde_json::from_slice(&bytes).expect("json");
    v["token"].as_str().expect("token").to_string()
}

async fn members(server: &Server, token: &str) -> Vec<Value> {
    let resp = server
        .http()
        .get(server.url("/cluster/members"))
        .bearer_auth(token)
        .send()
        .await
        .expect("members");
    assert_eq!(resp.status(), StatusCode::OK);
    let v: Value = resp.json().await.expect("json");
    v["members"].as_array().cloned().unwrap_or_default()
}

async fn wait_voters(server: &Server, token: &str, n: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let m = members(server, token).await;
        let voters = m.iter().filter(|m| m["role"] == "Voter").count();
        if voters == n && m.len() == n {
            return m;
        }
        assert!(
            Instant::now() < deadline,
            "not {n} voters: {m:?}\n{}",
            server.log_tail(40)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn join(first: &Server, token: &str) -> Server {
    let mut args = FAST.to_vec();
    let base = first.base();
    args.extend(["--join", base.as_str(), "--token", token]);
    Server::start_with(&args).await
}

fn cli(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_mock_k8"))
        .args(args)
        .output()
        .expect("run mock_k8");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn leader_id(members: &[Value]) -> u64 {
    members
        .iter()
        .find(|m| m["leader"] == true)
        .and_then(|m| m["id"].as_u64())
        .expect("a leader")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_members_should_join_replicate_and_fail_over() {
    let m1 = Server::start_with(FAST).await;
    let token = token(&m1);

    // Strangers cannot join or send Raft messages.
    let body = json!({"addr": "127.0.0.1:1", "key": "k".repeat(64)});
    let none = m1
        .http()
        .post(m1.url("/cluster/join"))
        .json(&body)
        .send()
        .await
        .expect("join");
    assert_eq!(none.status(), StatusCode::UNAUTHORIZED);
    let wrong = m1
        .http()
        .post(m1.url("/cluster/join"))
        .bearer_auth("mk8-wrong")
        .json(&body)
        .send()
        .await
        .expect("join");
    assert_eq!(wrong.status(), StatusCode::FORBIDDEN);
    let vote = m1
        .http()
        .post(m1.url("/raft/vote"))
        .header("x-mock-k8-member", "1")
        .bearer_auth(&token)
        .json(&json!({}))
        .send()
        .await
        .expect("vote");
    assert_eq!(
        vote.status(),
        StatusCode::FORBIDDEN,
        "the join token is no member key"
    );

    // Enough entries before the others join that they catch up from a snapshot (the log is
    // compacted every 20 entries, keeping none).
    for i in 0..30 {
        m1.create(
            "/api/v1/namespaces/default/pods",
            &pod(&format!("early-{i}"), &[], "img"),
        )
        .await;
    }
    let m2 = join(&m1, &token).await;
    let m3 = join(&m1, &token).await;
    let all = wait_voters(&m1, &token, 3).await;
    let ids: Vec<u64> = all.iter().filter_map(|m| m["id"].as_u64()).collect();
    assert_eq!(ids, vec![1, 2, 3]);
    for m in [&m2, &m3] {
        let (code, _) = m.get("/api/v1/namespaces/default/pods/early-29").await;
        assert_eq!(
            code,
            StatusCode::OK,
            "caught up from the snapshot:\n{}",
            m.log_tail(30)
        );
    }

    // A write on any member is visible on every member at once (linearizable reads).
    let mut last_rv = 0;
    for (i, writer) in [&m1, &m2, &m3].into_iter().enumerate() {
        let created = writer
            .create(
                "/api/v1/namespaces/default/pods",
                &pod(&format!("w-{i}"), &[], "img"),
            )
            .await;
        let r = rv(&created);
        assert!(r > last_rv, "resourceVersions grow: {r} after {last_rv}");
        last_rv = r;
        for reader in [&m1, &m2, &m3] {
            let (code, got) = reader
                .get(&format!("/api/v1/namespaces/default/pods/w-{i}"))
                .await;
            assert_eq!(code, StatusCode::OK, "w-{i} on {}", reader.base());
            assert_eq!(rv(&got), r);
            let (_, list) = reader.get("/api/v1/namespaces/default/pods").await;
            let list_rv: u64 = list["metadata"]["resourceVersion"]
                .as_str()
                .and_then(|s| s.parse().ok())
                .expect("list rv");
            assert!(
                list_rv >= r,
                "a list never goes back in time: {list_rv} < {r}"
            );
        }
    }

    // `members list` over the CLI, through a follower.
    let (ok, text) = cli(&["members", "list", "--server", &m3.base(), "--token", &token]);
    assert!(ok, "{text}");
    assert_eq!(text.matches("Voter").count(), 3, "{text}");
    assert_eq!(text.matches('*').count(), 1, "{text}");

    // A restarted member rejoins from its data directory and serves writes again.
    let mut m3 = m3;
    m3.stop().await;
    let (code, _) = m2
        .post(
            "/api/v1/namespaces/default/pods",
            &pod("while-m3-down", &[], "img"),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED, "2 of 3 members are a majority");
    m3.restart_same_port(FAST).await;
    let (code, _) = m3
        .get("/api/v1/namespaces/default/pods/while-m3-down")
        .await;
    assert_eq!(code, StatusCode::OK);

    // Kill the leader: a survivor accepts a write within 10 s.
    let mut servers = [m1, m2, m3];
    let leader = leader_id(&members(&servers[0], &token).await);
    let li = (leader - 1) as usize;
    servers[li].kill9();
    let killed_at = Instant::now();
    let survivor = &servers[(li + 1) % 3];
    let accepted = loop {
        let (code, body) = survivor
            .post(
                "/api/v1/namespaces/default/pods",
                &pod("after-failover", &[], "img"),
            )
            .await;
        if code == StatusCode::CREATED {
            break killed_at.elapsed();
        }
        assert!(
            code == StatusCode::SERVICE_UNAVAILABLE || code == StatusCode::GATEWAY_TIMEOUT,
            "only retryable errors during failover: {code} {body}"
        );
        assert!(
            killed_at.elapsed() < Duration::from_secs(10),
            "no new leader in 10 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    println!("failover: leader {leader} killed -> first accepted write after {accepted:?}");
    servers[li].restart_same_port(FAST).await;
    let (code, _) = servers[li]
        .get("/api/v1/namespaces/default/pods/after-failover")
        .await;
    assert_eq!(code, StatusCode::OK, "the old leader caught up");

    // `members remove`: the cluster goes on with two voters.
    let target = if leader == 3 { 2 } else { 3 };
    let (ok, text) = cli(&[
        "members",
        "remove",
        &target.to_string(),
        "--server",
        &servers[0].base(),
        "--token",
        &token,
    ]);
    assert!(ok, "{text}");
    let keep = if target == 3 { 0 } else { 2 };
    wait_voters(&servers[keep], &token, 2).await;
    let (code, _) = servers[keep]
        .post(
            "/api/v1/namespaces/default/pods",
            &pod("after-remove", &[], "img"),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED);
}

/// `mock_k8 agent` as its own process: it registers its Node with the token, keeps it Ready and
/// runs the pods bound to it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_process_should_register_its_node_and_run_its_pods() {
    let server = Server::start_with(&["--no-local-node", "--node-monitor-period", "1s"]).await;
    let token = token(&server);
    let agent_dir = tempfile::tempdir().unwrap();
    let mut agent = std::process::Command::new(env!("CARGO_BIN_EXE_mock_k8"))
        .args([
            "agent",
            "--server",
            &server.base(),
            "--token",
            &token,
            "--node-name",
            "agent-1",
            "--node-lease-renew-interval",
            "1s",
            "--data-dir",
            agent_dir.path().to_str().unwrap(),
        ])
        .env_remove("MOCK_K8_NODE_NAME")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn agent");
    let deadline = Instant::now() + Duration::from_secs(30);
    let ready = |n: &Value| {
        n["status"]["conditions"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["type"] == "Ready"))
            .is_some_and(|c| c["status"] == "True")
    };
    loop {
        let (code, node) = server.get("/api/v1/nodes/agent-1").await;
        if code == StatusCode::OK && ready(&node) {
            break;
        }
        assert!(Instant::now() < deadline, "agent-1 not Ready: {node}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let p = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "on-agent"},
        "spec": {"nodeName": "agent-1", "containers": [{"name": "c", "image": "nginx"}]}});
    server.create("/api/v1/namespaces/default/pods", &p).await;
    loop {
        let (_, pod) = server.get("/api/v1/namespaces/default/pods/on-agent").await;
        if pod["status"]["phase"] == "Running" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "pod not Running on the agent: {pod}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // NKO: the agent signs as node:agent-1 with the key it made (0600) and published in its Node.
    use std::os::unix::fs::PermissionsExt;
    let key_file = agent_dir.path().join("keys/node.key");
    let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let key_id = std::fs::read_to_string(agent_dir.path().join("keys/node.pub")).unwrap();
    let (_, node) = server.get("/api/v1/nodes/agent-1").await;
    assert_eq!(
        node["metadata"]["annotations"]["nko.mock-k8.io/public-key"],
        key_id.trim()
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mock_k8"))
        .args(["verify", "--quiet", "--server", &server.base()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let writes = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("node:agent-1"))
        .and_then(|n| n.trim().parse::<u64>().ok())
        .unwrap_or(0);
    assert!(
        writes > 0,
        "the agent's writes are signed as node:agent-1: {text}"
    );
    let _ = agent.kill();
    let _ = agent.wait();
}
