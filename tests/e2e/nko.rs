//! NKO end to end: the real binary with simulated nodes signs every write; `mock_k8 verify`
//! accepts the history live (`--server`) and after stop (`--data-dir`), and fails on a tampered
//! copy naming the revision (the history includes a Service's endpoints, proven by `D(S, E)`);
//! identity claims outside a node's authority are 403.

use crate::orchestrator::{Cluster, READY};
use crate::support::pod;
use mock_k8::store::backend::{Backend, Op, SledBackend, Space};
use mock_k8_nko::encode::{unhex, unhex_vec};
use mock_k8_nko::keys::SecretKey;
use mock_k8_nko::record::{Intent, Record, digest};
use mock_k8_nko::request::RequestClaim;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::path::Path;
use std::process::Command;

/// `mock_k8 verify ARGS`: (success, stdout, stderr).
pub(crate) fn verify(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_mock_k8"))
        .arg("verify")
        .arg("--quiet")
        .args(args)
        .output()
        .expect("run mock_k8 verify");
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.success(), text(&out.stdout), text(&out.stderr))
}

/// Creates pod `name` bound to `node` (by `spec.nodeName`) and waits until it runs.
pub(crate) async fn running_pod(c: &Cluster, name: &str, node: Option<&str>) {
    let mut p = pod(name, &[("app", "nko")], "nginx");
    // Scheduled by the built-in scheduler (support::pod names an unserved one).
    if let Some(spec) = p["spec"].as_object_mut() {
        spec.remove("schedulerName");
    }
    if let Some(node) = node {
        p["spec"]["nodeName"] = json!(node);
    }
    c.server.create("/api/v1/namespaces/default/pods", &p).await;
    let path = &format!("/api/v1/namespaces/default/pods/{name}");
    c.wait_for(&format!("{name} Running"), READY, || async move {
        let (_, p) = c.server.get(path).await;
        match p["status"]["phase"].as_str() {
            Some("Running") => Ok(()),
            other => Err(format!("phase {other:?}")),
        }
    })
    .await;
}

pub(crate) fn copy_dir(from: &Path, to: &Path) {
    let ok = Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(ok.success());
}

/// Flips one byte of the value at `key` in `space` of the store under `data_dir`; returns the
/// value before.
pub(crate) fn flip(data_dir: &Path, space: Space, key: &[u8], at: usize) -> Vec<u8> {
    let b = SledBackend::open(&data_dir.join("raft")).expect("open copy");
    let before = b.get(space, key).unwrap().expect("value to tamper with");
    let mut v = before.clone();
    let at = at.min(v.len() - 1);
    v[at] ^= 0x01;
    b.write(space, vec![Op::Put(key.to_vec(), v)]).unwrap();
    b.sync().unwrap();
    before
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_history_should_verify_live_and_offline_and_fail_where_tampered() {
    let mut c = Cluster::start(&[]).await;
    // A Service selecting the pods: the endpoints controller's writes carry endpoints proofs,
    // which verify recomputes (a controller Endpoints write without one would fail).
    let svc = json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"selector": {"app": "nko"}, "ports": [{"port": 80, "targetPort": 8080}]}
    });
    c.server
        .create("/api/v1/namespaces/default/services", &svc)
        .await;
    running_pod(&c, "web-1", None).await;
    running_pod(&c, "web-2", None).await;
    c.wait_for("endpoints of web list both pods", READY, || async {
        let (_, ep) = c
            .server
            .get("/api/v1/namespaces/default/endpoints/web")
            .await;
        let n: usize = ep["subsets"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|s| s["addresses"].as_array().map_or(0, Vec::len))
            .sum();
        if n == 2 {
            Ok(())
        } else {
            Err(format!("{n} ready addresses: {ep}"))
        }
    })
    .await;
    let (_, keys) = c.server.get("/nko/v1/keys").await;
    assert_eq!(keys["verificationEnabled"], true);
    let (ok, out, err) = verify(&["--server", &c.server.base()]);
    assert!(ok, "verify --server: {out}\n{err}");
    assert!(
        out.contains("controller:kube-controller-manager") && out.contains("node:"),
        "{out}"
    );
    let proofs = out.split("proofs (recomputed):").nth(1).unwrap_or_default();
    assert!(
        proofs
            .lines()
            .any(|l| l.trim_start().starts_with("endpoints ")),
        "the endpoints controller's writes carry endpoints proofs: {out}"
    );
    let (code, rec) = c.server.get("/nko/v1/records/3").await;
    assert_eq!(code, StatusCode::OK, "{rec}");
    assert_eq!(rec["revision"], 3);
    c.server.stop().await;

    let dir = c.server.data_dir().to_path_buf();
    let (ok, out, err) = verify(&["--data-dir", dir.to_str().unwrap()]);
    assert!(ok, "verify --data-dir: {out}\n{err}");
    assert!(out.contains("stored state matches"), "{out}");

    // A flipped byte in record 7 fails verification at exactly revision 7.
    let scratch = tempfile::tempdir().unwrap();
    let copy = scratch.path().join("record");
    copy_dir(&dir, &copy);
    let key = [b"r".as_slice(), &7u64.to_be_bytes()].concat();
    flip(&copy, Space::Records, &key, 60);
    let (ok, out, err) = verify(&["--data-dir", copy.to_str().unwrap()]);
    assert!(!ok, "a tampered record must fail: {out}");
    assert!(err.contains("revision 7:"), "{err}");

    // A flipped byte in a stored object fails at that object's resourceVersion.
    let copy = scratch.path().join("object");
    copy_dir(&dir, &copy);
    let b = SledBackend::open(&copy.join("raft")).unwrap();
    let v = b
        .get(Space::State, b"o/core/pods/default/web-1")
        .unwrap()
        .expect("web-1");
    let rv = u64::from_be_bytes(v[..8].try_into().unwrap());
    drop(b);
    flip(&copy, Space::State, b"o/core/pods/default/web-1", 20);
    let (ok, _, err) = verify(&["--data-dir", copy.to_str().unwrap()]);
    assert!(!ok);
    assert!(err.contains(&format!("revision {rv}:")), "{err}");
}

/// A merge PATCH signed as `actor` with `key`, no proof: (status, body).
async fn signed_patch(
    c: &Cluster,
    path: &str,
    actor: &str,
    key: &SecretKey,
    body: &Value,
) -> (StatusCode, Value) {
    let req = Signed {
        method: "PATCH",
        path,
        content_type: "application/merge-patch+json",
        actor,
        key,
        proof: Vec::new(),
    };
    req.send(c, body).await
}

/// A write request signed in the NKO wire format (`nko/SPEC.md` §4).
pub(crate) struct Signed<'a> {
    /// `PATCH`, `PUT`, `POST`...
    pub method: &'static str,
    /// The request path (signed as is).
    pub path: &'a str,
    /// The `content-type` header.
    pub content_type: &'static str,
    /// `controller:<name>` or `node:<name>`.
    pub actor: &'a str,
    /// The actor's key.
    pub key: &'a SecretKey,
    /// `X-Nko-Proof` bytes (empty: none).
    pub proof: Vec<u8>,
}

impl Signed<'_> {
    /// Sends `body` signed: (status, body).
    pub async fn send(self, c: &Cluster, body: &Value) -> (StatusCode, Value) {
        let bytes = serde_json::to_vec(body).unwrap();
        let claim = RequestClaim {
            actor: self.actor.into(),
            key: self.key.public(),
            timestamp_ms: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis() as u64,
            method: self.method.into(),
            path: self.path.into(),
            body_digest: digest(&bytes),
            proof: self.proof,
        };
        let sig = claim.sign(self.key);
        let method = reqwest::Method::from_bytes(self.method.as_bytes()).unwrap();
        let mut req = c
            .server
            .http()
            .request(method, c.server.url(self.path))
            .header("content-type", self.content_type)
            .body(bytes);
        for (name, value) in claim.headers(&sig) {
            req = req.header(name, value);
        }
        c.server.send(req).await
    }
}

fn node_key(data_dir: &Path, node: &str) -> SecretKey {
    let text = std::fs::read_to_string(data_dir.join("keys/agents.key")).unwrap();
    SecretKey::from_seed(&unhex::<32>(text.trim()).unwrap()).derive(node)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_writes_outside_their_authority_should_be_forbidden_and_user_writes_admitted() {
    let c = Cluster::start(&[]).await;
    running_pod(&c, "pinned", Some("sim-node-1")).await;
    let dir = c.server.data_dir();
    let (a, b) = (node_key(dir, "sim-node-1"), node_key(dir, "sim-node-2"));
    let path = "/api/v1/namespaces/default/pods/pinned/status";
    let patch = json!({"status": {"message": "hello"}});

    let (code, s) = signed_patch(&c, path, "node:sim-node-2", &b, &patch).await;
    assert_eq!(code, StatusCode::FORBIDDEN, "{s}");
    assert_eq!(s["reason"], "Forbidden");
    assert!(
        s["message"]
            .as_str()
            .unwrap()
            .contains("bound to sim-node-1"),
        "{s}"
    );
    let (code, s) = signed_patch(&c, path, "node:sim-node-1", &b, &patch).await;
    assert_eq!(code, StatusCode::FORBIDDEN, "B's key is not A's: {s}");
    let stranger = SecretKey::generate().unwrap();
    let (code, _) = signed_patch(&c, path, "controller:evil", &stranger, &patch).await;
    assert_eq!(code, StatusCode::FORBIDDEN);
    // A valid signature over another body does not transfer.
    let mut req = c
        .server
        .http()
        .patch(c.server.url(path))
        .header("content-type", "application/merge-patch+json");
    req = req.header("x-nko-actor", "node:sim-node-1").body("{}");
    let (code, _) = c.server.send(req).await;
    assert_eq!(code, StatusCode::FORBIDDEN, "malformed claim");

    let (code, s) = signed_patch(&c, path, "node:sim-node-1", &a, &patch).await;
    assert_eq!(code, StatusCode::OK, "{s}");
    let (code, s) = c
        .server
        .patch(path, "application/merge-patch+json", &patch)
        .await;
    assert_eq!(code, StatusCode::OK, "unsigned = user request: {s}");
    let (ok, out, err) = verify(&["--server", &c.server.base()]);
    assert!(ok, "{out}\n{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_verification_disabled_bad_claims_should_be_recorded_not_rejected() {
    let mut c = Cluster::start(&["--verification-enabled", "false"]).await;
    running_pod(&c, "pinned", Some("sim-node-1")).await;
    let b = node_key(c.server.data_dir(), "sim-node-2");
    let path = "/api/v1/namespaces/default/pods/pinned/status";
    let (code, s) = signed_patch(
        &c,
        path,
        "node:sim-node-2",
        &b,
        &json!({"status": {"message": "x"}}),
    )
    .await;
    assert_eq!(code, StatusCode::OK, "{s}");
    // An overcommitting manual binding is admitted; the record says checks were off.
    let (code, s) = bind_big_pod(&c).await;
    assert_eq!(code, StatusCode::CREATED, "{s}");
    c.server.stop().await;
    let (ok, out, err) = verify(&["--data-dir", c.server.data_dir().to_str().unwrap()]);
    assert!(ok, "{out}\n{err}");
    assert!(out.contains("admitted with verification disabled"), "{out}");
    assert!(out.contains("bound to sim-node-1"), "{out}");
    assert!(
        out.contains("manual binding") && out.contains("Insufficient cpu"),
        "{out}"
    );
}

/// POSTs a Binding of `pod` to `node` signed as `actor` with `key`, carrying `proof`.
async fn signed_binding(
    c: &Cluster,
    pod: &str,
    node: &str,
    actor: &str,
    key: &SecretKey,
    proof: Vec<u8>,
) -> (StatusCode, Value) {
    let path = format!("/api/v1/namespaces/default/pods/{pod}/binding");
    let body = json!({"apiVersion": "v1", "kind": "Binding",
        "metadata": {"name": pod, "namespace": "default"},
        "target": {"apiVersion": "v1", "kind": "Node", "name": node}});
    let bytes = serde_json::to_vec(&body).unwrap();
    let claim = RequestClaim {
        actor: actor.into(),
        key: key.public(),
        timestamp_ms: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64,
        method: "POST".into(),
        path: path.clone(),
        body_digest: digest(&bytes),
        proof,
    };
    let sig = claim.sign(key);
    let mut req = c
        .server
        .http()
        .post(c.server.url(&path))
        .header("content-type", "application/json")
        .body(bytes);
    for (name, value) in claim.headers(&sig) {
        req = req.header(name, value);
    }
    c.server.send(req).await
}

/// Creates pod `big` (1000 CPUs requested, no scheduler) and binds it by hand to sim-node-1.
async fn bind_big_pod(c: &Cluster) -> (StatusCode, Value) {
    let mut big = pod("big", &[("app", "big")], "nginx");
    big["spec"]["containers"][0]["resources"] = json!({"requests": {"cpu": "1000"}});
    c.server
        .create("/api/v1/namespaces/default/pods", &big)
        .await;
    let binding = json!({"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "big"},
        "target": {"apiVersion": "v1", "kind": "Node", "name": "sim-node-1"}});
    c.server
        .post("/api/v1/namespaces/default/pods/big/binding", &binding)
        .await
}

pub(crate) fn controller_key(data_dir: &Path) -> SecretKey {
    let text = std::fs::read_to_string(data_dir.join("keys/controllers.key")).unwrap();
    SecretKey::from_seed(&unhex::<32>(text.trim()).unwrap())
}

/// The issue's "a scheduling proof whose node is feasible but not optimal → V = 0": a binding
/// signed with the controller key whose proof picks a worse node is admitted (optimality is not
/// an admission check) and `mock_k8 verify` fails at its revision; a manual bind gets a
/// feasibility-only proof; the honest bindings before verify clean.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_feasible_but_not_optimal_scheduling_proof_should_fail_verification() {
    use k8s_openapi::api::core::v1::{Node, Pod};
    use mock_k8_controllers::scheduler::proof::SchedulingProof;
    use mock_k8_controllers::scheduler::{FilterOutcome, NodeInfo, Policy, schedule};

    let c = Cluster::start(&[]).await;
    // A binding that does not fit its node is refused before commit.
    let (code, s) = bind_big_pod(&c).await;
    assert_eq!(code, StatusCode::FORBIDDEN, "{s}");
    assert_eq!(s["reason"], "Forbidden");
    assert!(
        s["message"].as_str().unwrap().contains("Insufficient cpu"),
        "{s}"
    );
    // Load sim-node-1 so that LeastAllocated strictly prefers another node.
    let mut load = pod("load", &[("app", "load")], "nginx");
    load["spec"]["nodeName"] = json!("sim-node-1");
    load["spec"]["containers"][0]["resources"] = json!({"requests": {"cpu": "500m"}});
    c.server
        .create("/api/v1/namespaces/default/pods", &load)
        .await;
    running_pod(&c, "honest", None).await;
    let mut target = pod("target", &[("app", "t")], "nginx");
    target["spec"]["containers"][0]["resources"] = json!({"requests": {"cpu": "100m"}});
    c.server
        .create("/api/v1/namespaces/default/pods", &target)
        .await;
    let manual = pod("manual", &[("app", "m")], "nginx");
    c.server
        .create("/api/v1/namespaces/default/pods", &manual)
        .await;
    let (code, s) = c
        .server
        .post(
            "/api/v1/scheduler/bind",
            &json!({"kind": "Binding", "metadata": {"name": "manual"},
                "target": {"name": "sim-node-2"}}),
        )
        .await;
    assert!(code.is_success(), "{s}");
    // The manual bind's record says it is feasibility-only. (The pod's resourceVersion may
    // already be its agent's status write: look back for the bind's record.)
    let (_, m) = c.server.get("/api/v1/namespaces/default/pods/manual").await;
    let (_, intent) = intent_back_from(&c.server, crate::support::rv(&m), |path| {
        path.contains("/scheduler/bind")
    })
    .await;
    let proof: Value = serde_json::from_slice(&intent.claim.proof).unwrap();
    assert_eq!(proof["kind"], "bindingFeasibility", "{proof}");
    assert_eq!(proof["node"], "sim-node-2", "{proof}");

    let (_, nodes) = c.server.get("/api/v1/nodes").await;
    let (_, pods) = c.server.get("/api/v1/pods").await;
    let nodes_rv = crate::support::list_rv(&nodes);
    let pods_rv = crate::support::list_rv(&pods);
    let nodes: Vec<Node> = serde_json::from_value(nodes["items"].clone()).unwrap();
    let pods: Vec<Pod> = serde_json::from_value(pods["items"].clone()).unwrap();
    let p = pods
        .iter()
        .find(|p| p.metadata.name.as_deref() == Some("target"))
        .unwrap();
    let infos = NodeInfo::build_all(&nodes, &pods);
    let decision = schedule(p, &infos, &Policy::default()).expect("schedulable");
    let worse = decision
        .nodes
        .iter()
        .filter(|e| e.outcome == FilterOutcome::Feasible && e.total < Some(decision.total))
        .min_by_key(|e| e.total)
        .expect("a feasible node scoring lower");
    let mut summary = decision.summary();
    summary.node = worse.node.clone();
    summary.total = worse.total.unwrap_or(0);
    summary.scores = worse.scores.clone();
    let proof = SchedulingProof {
        kind: "scheduling".into(),
        version: 1,
        pod_uid: p.metadata.uid.clone(),
        pod_resource_version: p
            .metadata
            .resource_version
            .as_deref()
            .unwrap()
            .parse()
            .unwrap(),
        nodes_revision: nodes_rv,
        pods_revision: pods_rv,
        assumed: Vec::new(),
        decision: summary,
    };
    let key = controller_key(c.server.data_dir());
    let actor = "controller:kube-controller-manager";
    let (code, s) = signed_binding(&c, "target", &worse.node, actor, &key, proof.to_bytes()).await;
    assert_eq!(code, StatusCode::CREATED, "{s}");
    // The pod's resourceVersion may already be its agent's status write: look back for the
    // binding's record.
    let (_, bound) = c.server.get("/api/v1/namespaces/default/pods/target").await;
    let (rev, _) = intent_back_from(&c.server, crate::support::rv(&bound), |path| {
        path.ends_with("/pods/target/binding")
    })
    .await;

    let (ok, out, err) = verify(&["--server", &c.server.base()]);
    assert!(!ok, "a non-optimal decision must fail verification: {out}");
    assert!(err.contains(&format!("revision {rev}:")), "{err}");
    assert!(err.contains("feasible but not optimal"), "{err}");
}

/// The latest record at or before revision `from` whose request path satisfies `wanted`: its
/// revision and intent (panics when there is none).
async fn intent_back_from(
    server: &crate::support::Server,
    from: u64,
    wanted: impl Fn(&str) -> bool,
) -> (u64, Intent) {
    for r in (1..=from).rev() {
        let (_, rec) = server.get(&format!("/nko/v1/records/{r}")).await;
        let record = Record::decode(&unhex_vec(rec["record"].as_str().unwrap()).unwrap()).unwrap();
        let i = Intent::decode(&record.intent).unwrap();
        if wanted(&i.claim.path) {
            return (r, i);
        }
    }
    panic!("no record at or before revision {from} matches");
}
