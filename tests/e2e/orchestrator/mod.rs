//! `mock_k8 run` as an orchestrator, end to end: the real binary with simulated nodes and fast
//! reconcile timings, driven by the real kubectl. Pods are scheduled, started by MockDocker and
//! reach the phases `EXPECTED.md` gives; Services get Endpoints that follow their pods; restart
//! policies, graceful deletion, Events, the scheduler API ([`workloads`]); a node whose heartbeat
//! is paused goes NotReady, its pods turn not-ready and are evicted, and it recovers
//! ([`node_health`]).
//!
//! Each test shares one server among its checks, so the module runs in well under a minute.

mod deployments;
mod node_health;
mod workloads;

use crate::support::{Kubectl, KubectlOutput, Server, manifests_dir};
use serde_json::Value;
use std::collections::BTreeSet;
use std::future::Future;
use std::time::Duration;
use tokio::time::Instant;

/// The simulated nodes each server runs (besides its own node `e2e-own`).
pub const SIMULATED_NODES: usize = 5;

/// The flags that make every reconcile loop fast: leases renewed every second, a node is
/// unreachable after 4 s of silence, pods tolerate that for 3 s, crash loops back off from 1 s.
pub const FAST: &[&str] = &[
    "--node-name",
    "e2e-own",
    "--simulated-nodes",
    "5",
    "--node-lease-renew-interval",
    "1s",
    "--node-monitor-period",
    "1s",
    "--node-monitor-grace-period",
    "4s",
    "--default-not-ready-toleration-seconds",
    "3",
    "--default-unreachable-toleration-seconds",
    "3",
    "--crash-loop-backoff-initial",
    "1s",
    "--crash-loop-backoff-max",
    "4s",
];

/// How long a pod may take to become Ready (MockDocker starts containers in ~100–200 ms).
pub const READY: Duration = Duration::from_secs(30);

/// A server and a kubectl for it, with waits that explain themselves.
pub struct Cluster {
    pub server: Server,
    pub k: Kubectl,
}

impl Cluster {
    /// Starts `mock_k8 run` with [`FAST`] plus `extra`.
    pub async fn start(extra: &[&str]) -> Cluster {
        let mut args = FAST.to_vec();
        args.extend_from_slice(extra);
        let server = Server::start_with(&args).await;
        let k = Kubectl::new(&server);
        Cluster { server, k }
    }

    /// `kubectl ARGS`, which must succeed.
    pub async fn ok(&self, args: &[&str]) -> KubectlOutput {
        let out = self.k.run(args).await;
        if !out.success {
            panic!("{out}\n{}", self.dump().await);
        }
        out
    }

    /// `kubectl apply -f <shared manifest>`.
    pub async fn apply_file(&self, file: &str) -> KubectlOutput {
        let path = manifests_dir().join(file);
        self.ok(&["apply", "-f", path.to_str().expect("utf-8 path")])
            .await
    }

    /// `kubectl apply -f -` with `yaml`.
    pub async fn apply(&self, yaml: &str) -> KubectlOutput {
        let out = self.k.run_stdin(&["apply", "-f", "-"], yaml).await;
        if !out.success {
            panic!("{out}\n{}", self.dump().await);
        }
        out
    }

    /// `kubectl get KIND NAME [-n NS] -o json`, or `None` when it does not exist (`ns` empty for
    /// cluster-scoped kinds).
    pub async fn get(&self, kind: &str, ns: &str, name: &str) -> Option<Value> {
        let mut args = vec!["get", kind, name, "-o", "json", "--ignore-not-found"];
        if !ns.is_empty() {
            args.extend(["-n", ns]);
        }
        let out = self.ok(&args).await;
        if out.stdout.trim().is_empty() {
            return None;
        }
        Some(serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{out}")))
    }

    /// `kubectl get KIND NAME [-n NS] -o jsonpath=PATH` (empty when the object does not exist).
    pub async fn jsonpath(&self, kind: &str, ns: &str, name: &str, path: &str) -> String {
        let arg = format!("jsonpath={path}");
        let mut args = vec!["get", kind, name, "-o", &arg, "--ignore-not-found"];
        if !ns.is_empty() {
            args.extend(["-n", ns]);
        }
        self.ok(&args).await.stdout
    }

    /// `kubectl wait --for=condition=Ready pod/NAME -n NS --timeout=30s`.
    pub async fn wait_ready(&self, ns: &str, name: &str) {
        let target = format!("pod/{name}");
        let out = self
            .k
            .run(&[
                "wait",
                "--for=condition=Ready",
                &target,
                "-n",
                ns,
                "--timeout=30s",
            ])
            .await;
        if !out.success {
            panic!("pod {ns}/{name} not Ready:\n{out}\n{}", self.dump().await);
        }
    }

    /// Polls `f` every 200 ms until it returns `Some`; after `timeout` panics with `what`, the last
    /// value `f` reported through `seen`, the pods, the events and the server's log.
    pub async fn wait_for<T, F, Fut>(&self, what: &str, timeout: Duration, mut f: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, String>>,
    {
        let deadline = Instant::now() + timeout;
        loop {
            let last = match f().await {
                Ok(t) => return t,
                Err(seen) => seen,
            };
            if Instant::now() > deadline {
                panic!(
                    "timed out after {timeout:?} waiting for {what}; last seen: {last}\n{}",
                    self.dump().await
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The story so far, for failure messages: nodes, pods, endpoints, events, the server's log.
    pub async fn dump(&self) -> String {
        let mut s = String::new();
        for args in [
            &["get", "nodes", "-o", "wide"][..],
            &["get", "pods", "-A", "-o", "wide"],
            &["get", "endpoints", "-A"],
            &["get", "events", "-A", "--sort-by=.lastTimestamp"],
        ] {
            let out = self.k.run(args).await;
            s.push_str(&format!(
                "$ kubectl {}\n{}{}\n",
                args.join(" "),
                out.stdout,
                out.stderr
            ));
        }
        s.push_str("--- server log (tail) ---\n");
        s.push_str(&self.server.log_tail(40));
        s
    }
}

/// `status.phase` of a pod.
pub fn phase(pod: &Value) -> &str {
    pod["status"]["phase"].as_str().unwrap_or("")
}

/// The status of condition `type_` of a pod or node (`""` when absent).
pub fn condition<'a>(obj: &'a Value, type_: &str) -> &'a str {
    obj["status"]["conditions"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["type"] == type_))
        .and_then(|c| c["status"].as_str())
        .unwrap_or("")
}

/// The IPs in `addresses` (or `notReadyAddresses` with `ready == false`) of an Endpoints object.
pub fn endpoint_ips(ep: &Value, ready: bool) -> BTreeSet<String> {
    let field = if ready {
        "addresses"
    } else {
        "notReadyAddresses"
    };
    ep["subsets"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|s| s[field].as_array().into_iter().flatten())
        .filter_map(|a| a["ip"].as_str().map(str::to_string))
        .collect()
}

/// The reasons of the Events about object `name` (any kind) in `ns`.
pub async fn event_reasons(c: &Cluster, ns: &str, name: &str) -> Vec<String> {
    let events = c.k.json(&["get", "events", "-n", ns]).await;
    events["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["involvedObject"]["name"] == name)
        .filter_map(|e| e["reason"].as_str().map(str::to_string))
        .collect()
}
