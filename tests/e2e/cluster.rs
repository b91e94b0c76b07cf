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
    // Removing the current leader means an election: 503 (retryable) until it is over.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (code, body) = servers[keep]
            .post(
                "/api/v1/namespaces/default/pods",
                &pod("after-remove", &[], "img"),
            )
            .await;
        // 409: an earlier attempt that answered 503 had committed after all.
        if code == StatusCode::CREATED || code == StatusCode::CONFLICT {
            break;
        }
        assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert!(
            std::time::Instant::now() < deadline,
            "no write accepted 10 s after the removal: {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
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
            "--log-addr",
            "127.0.0.1:0",
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

/// A request signed as `actor` with `key` (NKO request signature) to `base` + `path`, without
/// the join token.
async fn signed(
    server: &Server,
    base: &str,
    method: reqwest::Method,
    path: &str,
    actor: &str,
    key: &mock_k8_nko::keys::SecretKey,
    body: &Value,
) -> (StatusCode, Value) {
    let bytes = serde_json::to_vec(body).expect("json");
    let claim = mock_k8_nko::request::RequestClaim {
        actor: actor.into(),
        key: key.public(),
        timestamp_ms: mock_k8::nko::admission::now_ms(),
        method: method.as_str().into(),
        path: path.into(),
        body_digest: mock_k8_nko::record::digest(&bytes),
        proof: Vec::new(),
    };
    let sig = claim.sign(key);
    let content_type = if method == reqwest::Method::PATCH {
        "application/merge-patch+json"
    } else {
        "application/json"
    };
    let mut req = server
        .http()
        .request(method, format!("{base}{path}"))
        .header("content-type", content_type)
        .body(bytes);
    for (name, value) in claim.headers(&sig) {
        req = req.header(name, value);
    }
    server.send(req).await
}

/// An IPv4 address of this host that is not loopback (`hostname -I`), if it has one.
fn non_loopback_ip() -> Option<String> {
    let out = Command::new("hostname").arg("-I").output().ok()?;
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter_map(|w| w.parse::<std::net::Ipv4Addr>().ok())
        .find(|ip| !ip.is_loopback())
        .map(|ip| ip.to_string())
}

/// Strangers cannot register nodes: Node and `kube-node-lease` Lease writes from another host
/// need the join token (401 without a credential, 403 with another), or the signature of a node
/// whose key its Node publishes. Reads, deletes, other Leases and loopback clients stay open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_writes_should_need_the_join_token_or_a_registered_node_key() {
    let Some(ip) = non_loopback_ip() else {
        eprintln!(
            "SKIPPED node_writes_should_need_the_join_token_or_a_registered_node_key: this host has no address but loopback"
        );
        return;
    };
    let server = Server::start_bound("0.0.0.0", &["--simulated-nodes", "1"]).await;
    let remote = format!("http://{ip}:{}", server.port());
    let token = token(&server);
    let http = server.http();
    let node = json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "stranger"}});
    let nodes = format!("{remote}/api/v1/nodes");
    let (code, s) = server.send(http.post(&nodes).json(&node)).await;
    assert_eq!(code, StatusCode::UNAUTHORIZED, "{s}");
    assert_eq!(s["kind"], "Status");
    assert_eq!(s["reason"], "Unauthorized");
    assert!(
        s["message"].as_str().unwrap_or("").contains("join token"),
        "{s}"
    );
    let wrong = http
        .post(&nodes)
        .bearer_auth("mk8-not-the-token")
        .json(&node);
    let (code, s) = server.send(wrong).await;
    assert_eq!(code, StatusCode::FORBIDDEN, "{s}");
    assert_eq!(s["reason"], "Forbidden");
    let (code, created) = server
        .send(http.post(&nodes).bearer_auth(&token).json(&node))
        .await;
    assert_eq!(code, StatusCode::CREATED, "{created}");
    // The seed's `PUT /api/v1/nodes/{id}/status`: with the token only.
    let mut status = created.clone();
    status["status"] = json!({"conditions": [{"type": "Ready", "status": "True"}]});
    let status_url = format!("{remote}/api/v1/nodes/stranger/status");
    let (code, s) = server.send(http.put(&status_url).json(&status)).await;
    assert_eq!(code, StatusCode::UNAUTHORIZED, "{s}");
    let (code, s) = server
        .send(http.put(&status_url).bearer_auth(&token).json(&status))
        .await;
    assert_eq!(code, StatusCode::OK, "{s}");
    // Node heartbeats (Leases in kube-node-lease) likewise; other Leases are not node writes.
    let lease = |ns: &str| {
        json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": "stranger", "namespace": ns}, "spec": {"holderIdentity": "stranger"}})
    };
    let leases = |ns: &str| format!("{remote}/apis/coordination.k8s.io/v1/namespaces/{ns}/leases");
    let node_lease = lease("kube-node-lease");
    let (code, s) = server
        .send(http.post(leases("kube-node-lease")).json(&node_lease))
        .await;
    assert_eq!(code, StatusCode::UNAUTHORIZED, "{s}");
    let (code, s) = server
        .send(
            http.post(leases("kube-node-lease"))
                .bearer_auth(&token)
                .json(&node_lease),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED, "{s}");
    let (code, s) = server
        .send(http.post(leases("default")).json(&lease("default")))
        .await;
    assert_eq!(code, StatusCode::CREATED, "{s}");

    // A registered node signs with the key its Node publishes: no token needed.
    let seed = std::fs::read_to_string(server.data_dir().join("keys/agents.key")).expect("key");
    let seed = mock_k8_nko::encode::unhex::<32>(seed.trim()).expect("hex seed");
    let key = mock_k8_nko::keys::SecretKey::from_seed(&seed).derive("sim-node-1");
    let deadline = Instant::now() + Duration::from_secs(30);
    while server.get("/api/v1/nodes/sim-node-1").await.0 != StatusCode::OK {
        assert!(Instant::now() < deadline, "sim-node-1 not registered");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let patch = json!({"metadata": {"labels": {"signed": "yes"}}});
    let path = "/api/v1/nodes/sim-node-1";
    let (code, s) = signed(
        &server,
        &remote,
        reqwest::Method::PATCH,
        path,
        "node:sim-node-1",
        &key,
        &patch,
    )
    .await;
    assert_eq!(code, StatusCode::OK, "{s}");
    // A newcomer's own key registers nothing: it needs the token first.
    let fresh = mock_k8_nko::keys::SecretKey::generate().expect("key");
    let newcomer = json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "newcomer",
        "annotations": {"nko.mock-k8.io/public-key": fresh.public().id()}}});
    let (code, s) = signed(
        &server,
        &remote,
        reqwest::Method::POST,
        "/api/v1/nodes",
        "node:newcomer",
        &fresh,
        &newcomer,
    )
    .await;
    assert_eq!(code, StatusCode::UNAUTHORIZED, "{s}");

    // Everything else stays open: reads and deletes from afar, any write from loopback.
    let (code, _) = server.send(http.get(format!("{nodes}/stranger"))).await;
    assert_eq!(code, StatusCode::OK);
    let (code, s) = server.send(http.delete(format!("{nodes}/stranger"))).await;
    assert_eq!(code, StatusCode::OK, "{s}");
    let (code, s) = server.post("/api/v1/nodes", &newcomer).await;
    assert_eq!(code, StatusCode::CREATED, "from loopback: {s}");
}
