//! Node health on one orchestrator: a Node nobody renews (`fake-node-tainted.yaml`) and a
//! simulated node whose heartbeat is paused go `Ready=Unknown` with the unreachable taints; the
//! paused node's pods turn not-ready, leave the Endpoints and are evicted after their
//! tolerationSeconds; when the heartbeat resumes the node is Ready again, untainted, and the
//! evictions complete. The server runs `--scheduler-policy MostAllocated`, which packs two small
//! pods onto one node.

use super::{Cluster, READY, condition, endpoint_ips};
use crate::support::require_kubectl;
use serde_json::Value;
use std::time::Duration;

/// Longer than grace period (4 s) + monitor period (1 s) + the slack of a loaded machine.
const UNREACHABLE: Duration = Duration::from_secs(20);

/// Two pods pinned to sim-node-2 behind Service `h`.
const ON_NODE_2: &str = r#"
apiVersion: v1
kind: Service
metadata: {name: h}
spec:
  selector: {app: h}
  ports: [{port: 80}]
---
apiVersion: v1
kind: Pod
metadata: {name: h-1, labels: {app: h}}
spec:
  nodeSelector: {kubernetes.io/hostname: sim-node-2}
  containers: [{name: app, image: nginx}]
---
apiVersion: v1
kind: Pod
metadata: {name: h-2, labels: {app: h}}
spec:
  nodeSelector: {kubernetes.io/hostname: sim-node-2}
  containers: [{name: app, image: nginx}]
"#;

const PACKED: &str = r#"
apiVersion: v1
kind: Pod
metadata: {name: pack-a}
spec: {containers: [{name: app, image: nginx, resources: {requests: {cpu: 100m, memory: 64Mi}}}]}
---
apiVersion: v1
kind: Pod
metadata: {name: pack-b}
spec: {containers: [{name: app, image: nginx, resources: {requests: {cpu: 100m, memory: 64Mi}}}]}
"#;

fn taint_keys(node: &Value) -> Vec<String> {
    node["spec"]["taints"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| {
            format!(
                "{}:{}",
                t["key"].as_str().unwrap_or(""),
                t["effect"].as_str().unwrap_or("")
            )
        })
        .collect()
}

fn is_unreachable(node: &Value) -> bool {
    let taints = taint_keys(node);
    condition(node, "Ready") == "Unknown"
        && taints
            .iter()
            .any(|t| t == "node.kubernetes.io/unreachable:NoSchedule")
        && taints
            .iter()
            .any(|t| t == "node.kubernetes.io/unreachable:NoExecute")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orchestrator_should_mark_silent_nodes_unreachable_and_evict_their_pods() {
    if !require_kubectl("orchestrator_should_mark_silent_nodes_unreachable_and_evict_their_pods") {
        return;
    }
    let cluster = Cluster::start(&["--scheduler-policy", "MostAllocated"]).await;
    let c = &cluster;

    // MostAllocated packs two small pods onto one node (the cluster is empty).
    c.apply(PACKED).await;
    c.wait_ready("default", "pack-a").await;
    c.wait_ready("default", "pack-b").await;
    let a = c
        .jsonpath("pod", "default", "pack-a", "{.spec.nodeName}")
        .await;
    let b = c
        .jsonpath("pod", "default", "pack-b", "{.spec.nodeName}")
        .await;
    assert_eq!(a, b, "MostAllocated packs both pods onto one node");
    c.ok(&["delete", "pod", "pack-a", "pack-b"]).await;

    // A Node without an agent.
    c.apply_file("fake-node-tainted.yaml").await;
    c.apply(ON_NODE_2).await;
    c.wait_ready("default", "h-1").await;
    c.wait_ready("default", "h-2").await;
    let ips: &std::collections::BTreeSet<String> = &[
        c.jsonpath("pod", "default", "h-1", "{.status.podIP}").await,
        c.jsonpath("pod", "default", "h-2", "{.status.podIP}").await,
    ]
    .into();
    c.wait_for("Endpoints h has both pods", READY, || async move {
        let ep = c.get("endpoints", "default", "h").await.unwrap_or_default();
        (endpoint_ips(&ep, true) == *ips)
            .then_some(())
            .ok_or(ep.to_string())
    })
    .await;

    // Pause sim-node-2's heartbeat: it is unreachable after the grace period.
    c.ok(&[
        "annotate",
        "node",
        "sim-node-2",
        "mock-k8.io/heartbeat=paused",
    ])
    .await;
    c.wait_for("sim-node-2 unreachable", UNREACHABLE, || async move {
        let n = c.get("node", "", "sim-node-2").await.unwrap_or_default();
        is_unreachable(&n)
            .then_some(())
            .ok_or(n["spec"].to_string() + &n["status"]["conditions"].to_string())
    })
    .await;
    let wide = c.ok(&["get", "node", "sim-node-2"]).await;
    assert!(wide.stdout.contains("NotReady"), "{wide}");

    // Its pods turn not-ready (and stay so: the paused agent writes nothing), leave the ready
    // addresses, then are evicted after the 3 s default toleration. Nobody confirms their
    // containers stopped, so they stay Terminating while the node is silent.
    for pod in ["h-1", "h-2"] {
        c.wait_for(&format!("{pod} Ready=False"), UNREACHABLE, || async move {
            let p = c.get("pod", "default", pod).await.unwrap_or_default();
            (condition(&p, "Ready") == "False")
                .then_some(())
                .ok_or(p.to_string())
        })
        .await;
    }
    c.wait_for("h's ready addresses emptied", UNREACHABLE, || async move {
        let ep = c.get("endpoints", "default", "h").await.unwrap_or_default();
        endpoint_ips(&ep, true)
            .is_empty()
            .then_some(())
            .ok_or(ep.to_string())
    })
    .await;
    for pod in ["h-1", "h-2"] {
        c.wait_for(&format!("{pod} evicted"), UNREACHABLE, || async move {
            let p = c.get("pod", "default", pod).await.unwrap_or_default();
            (!p["metadata"]["deletionTimestamp"].is_null())
                .then_some(())
                .ok_or(p.to_string())
        })
        .await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    for pod in ["h-1", "h-2"] {
        let p = c.get("pod", "default", pod).await;
        let p = p.unwrap_or_else(|| panic!("{pod} removed while its node is paused"));
        assert_eq!(
            condition(&p, "Ready"),
            "False",
            "the paused agent wrote nothing: {p}"
        );
    }
    let reasons = super::event_reasons(c, "default", "h-1").await;
    assert!(
        reasons.iter().any(|r| r == "TaintManagerEviction"),
        "{reasons:?}"
    );

    // The Node nobody renews is unreachable too, keeping its own taint.
    let fake = c.get("node", "", "fake-node").await.expect("fake-node");
    assert!(is_unreachable(&fake), "{fake}");
    assert!(taint_keys(&fake).contains(&"kwok-controller/provider:NoSchedule".to_string()));
    let listed = c.ok(&["get", "node", "fake-node"]).await;
    assert!(listed.stdout.contains("NotReady"), "{listed}");

    // Resume: Ready again, taints removed, the evictions complete.
    c.ok(&["annotate", "node", "sim-node-2", "mock-k8.io/heartbeat-"])
        .await;
    c.wait_for(
        "sim-node-2 Ready and untainted",
        UNREACHABLE,
        || async move {
            let n = c.get("node", "", "sim-node-2").await.unwrap_or_default();
            let ok = condition(&n, "Ready") == "True"
                && !taint_keys(&n)
                    .iter()
                    .any(|t| t.starts_with("node.kubernetes.io/"));
            ok.then_some(())
                .ok_or(n["spec"].to_string() + &n["status"]["conditions"].to_string())
        },
    )
    .await;
    for pod in ["h-1", "h-2"] {
        c.wait_for(&format!("{pod} removed"), UNREACHABLE, || async move {
            match c.get("pod", "default", pod).await {
                None => Ok(()),
                Some(p) => Err(p["metadata"].to_string()),
            }
        })
        .await;
    }
    let wide = c.ok(&["get", "node", "sim-node-2"]).await;
    assert!(wide.stdout.contains(" Ready "), "{wide}");
}
