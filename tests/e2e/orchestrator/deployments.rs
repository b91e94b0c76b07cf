//! Deployments, ReplicaSets and the garbage collector on one orchestrator, driven by kubectl: a
//! Deployment becomes Running pods behind a Service, scales with `kubectl scale`, rolls an image
//! out without dropping below `replicas - maxUnavailable` ready pods (sampled throughout),
//! `Recreate` never runs both templates at once, a relabelled pod is released and replaced,
//! each `--cascade` policy does what it says, finalizers hold objects, and pods evicted from an
//! unreachable node are replaced.

use super::{Cluster, READY, endpoint_ips};
use crate::support::{Server, require_kubectl};
use serde_json::Value;
use std::collections::BTreeSet;
use std::time::Duration;
use tokio::time::Instant;

/// A Deployment of 3 behind a Service, rolling with maxSurge 1, maxUnavailable 1.
const WEB: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  strategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 1, maxUnavailable: 1}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: "nginx:1.27", ports: [{containerPort: 80}]}]}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec: {selector: {app: web}, ports: [{port: 80}]}
"#;

/// The pods selected by `selector` (a label selector), through the API.
async fn pods(server: &Server, selector: &str) -> Vec<Value> {
    let path = format!("/api/v1/namespaces/default/pods?labelSelector={selector}");
    let (_, list) = server.get(&path).await;
    list["items"].as_array().cloned().unwrap_or_default()
}

fn deleting(p: &Value) -> bool {
    p["metadata"]["deletionTimestamp"].is_string()
}

fn ready(p: &Value) -> bool {
    super::condition(p, "Ready") == "True"
}

fn image(p: &Value) -> &str {
    p["spec"]["containers"][0]["image"].as_str().unwrap_or("")
}

/// Waits until `selector` has exactly `n` live (not deleting) pods, all Ready; returns them.
async fn wait_ready_pods(c: &Cluster, selector: &str, n: usize) -> Vec<Value> {
    c.wait_for(
        &format!("{n} ready pods {selector}"),
        READY,
        || async move {
            let live: Vec<Value> = pods(&c.server, selector)
                .await
                .into_iter()
                .filter(|p| !deleting(p))
                .collect();
            let names: Vec<String> = live
                .iter()
                .map(|p| format!("{}:{}", p["metadata"]["name"], ready(p)))
                .collect();
            (live.len() == n && live.iter().all(ready))
                .then_some(live)
                .ok_or(names.join(","))
        },
    )
    .await
}

/// `kubectl rollout status deployment/NAME`, which must report success.
async fn rollout_status(c: &Cluster, name: &str) {
    let target = format!("deployment/{name}");
    c.ok(&["rollout", "status", &target, "--timeout=30s"])
        .await
        .stdout_has("successfully rolled out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deployment_should_run_scale_roll_out_and_release_pods() {
    if !require_kubectl("deployment_should_run_scale_roll_out_and_release_pods") {
        return;
    }
    let cluster = Cluster::start(&[]).await;
    let c = &cluster;
    c.apply(WEB).await;
    rollout_status(c, "web").await;
    let running = wait_ready_pods(c, "app=web", 3).await;
    let ips: BTreeSet<String> = running
        .iter()
        .filter_map(|p| p["status"]["podIP"].as_str().map(str::to_string))
        .collect();
    assert_eq!(ips.len(), 3);
    c.wait_for("Endpoints web has the 3 pods", READY, || async {
        let ep = c
            .get("endpoints", "default", "web")
            .await
            .unwrap_or_default();
        (endpoint_ips(&ep, true) == ips)
            .then_some(())
            .ok_or(ep.to_string())
    })
    .await;
    // Pods are named <deployment>-<hash>-<5 chars>, owned by the ReplicaSet <deployment>-<hash>.
    let rs = c.k.json(&["get", "rs", "-l", "app=web"]).await;
    let rs_name = rs["items"][0]["metadata"]["name"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let hash = rs["items"][0]["metadata"]["labels"]["pod-template-hash"]
        .as_str()
        .unwrap_or("");
    assert_eq!(rs_name, format!("web-{hash}"));
    for p in &running {
        assert_eq!(
            p["metadata"]["ownerReferences"][0]["name"],
            rs_name.as_str()
        );
        assert_eq!(p["metadata"]["ownerReferences"][0]["controller"], true);
    }

    // The shared manifest's Deployment runs too.
    c.apply_file("list-yaml.yaml").await;
    rollout_status(c, "list-deployment-test").await;
    wait_ready_pods(c, "app=list-deployment-test", 1).await;

    // kubectl scale, up and down.
    c.ok(&["scale", "deployment/web", "--replicas=5"]).await;
    wait_ready_pods(c, "app=web", 5).await;
    rollout_status(c, "web").await;
    c.ok(&["scale", "deployment/web", "--replicas=2"]).await;
    wait_ready_pods(c, "app=web", 2).await;
    let (_, scale) = c
        .server
        .get("/apis/apps/v1/namespaces/default/deployments/web/scale")
        .await;
    assert_eq!(scale["spec"]["replicas"], 2);

    // A rolling update of 4 replicas (maxUnavailable 1) never has fewer than 3 ready pods.
    c.ok(&["scale", "deployment/web", "--replicas=4"]).await;
    wait_ready_pods(c, "app=web", 4).await;
    rollout_status(c, "web").await;
    c.ok(&["set", "image", "deployment/web", "web=nginx:1.28"])
        .await;
    let (mut min_ready, mut samples) = (usize::MAX, 0);
    let deadline = Instant::now() + READY;
    loop {
        let all = pods(&c.server, "app=web").await;
        let ready_now = all.iter().filter(|p| ready(p) && !deleting(p)).count();
        min_ready = min_ready.min(ready_now);
        samples += 1;
        let live: Vec<&Value> = all.iter().filter(|p| !deleting(p)).collect();
        if live.len() == 4 && live.iter().all(|p| ready(p) && image(p) == "nginx:1.28") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "rollout did not finish: {all:?}\n{}",
            c.dump().await
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        min_ready >= 3,
        "ready pods dropped to {min_ready} during the rollout ({samples} samples)"
    );
    assert!(samples > 3, "the rollout was sampled ({samples} samples)");
    rollout_status(c, "web").await;
    let d = c
        .get("deployment", "default", "web")
        .await
        .unwrap_or_default();
    assert_eq!(d["status"]["updatedReplicas"], 4);
    assert_eq!(
        d["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
        "2"
    );
    let sets = c.k.json(&["get", "rs", "-l", "app=web"]).await;
    let sizes: BTreeSet<(String, i64)> = sets["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| {
            (
                s["spec"]["template"]["spec"]["containers"][0]["image"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
                s["spec"]["replicas"].as_i64().unwrap_or(-1),
            )
        })
        .collect();
    assert_eq!(
        sizes,
        BTreeSet::from([("nginx:1.27".to_string(), 0), ("nginx:1.28".to_string(), 4)])
    );

    // A pod relabelled out of the selector is released (no owner, still running) and replaced.
    let victim = wait_ready_pods(c, "app=web", 4).await[0]["metadata"]["name"]
        .as_str()
        .unwrap_or("")
        .to_string();
    c.ok(&["label", "pod", &victim, "app=released", "--overwrite"])
        .await;
    wait_ready_pods(c, "app=web", 4).await;
    c.wait_for("the relabelled pod has no owner", READY, || async {
        let p = c.get("pod", "default", &victim).await.unwrap_or_default();
        (p["metadata"]["ownerReferences"].is_null() && ready(&p))
            .then_some(())
            .ok_or(p["metadata"].to_string())
    })
    .await;
}

/// Recreate, with pods that take a second to stop.
const RECREATE: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: rec}
spec:
  replicas: 2
  selector: {matchLabels: {app: rec}}
  strategy: {type: Recreate}
  template:
    metadata: {labels: {app: rec}, annotations: {mock-k8.io/stop-delay-ms: "1000"}}
    spec: {containers: [{name: app, image: "busybox:1"}]}
"#;

/// One Deployment per propagation policy; fg's pods take 2 s to stop.
fn cascade(name: &str, stop_ms: u32) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: {name}}}\nspec:\n  replicas: 2\n  \
         selector: {{matchLabels: {{app: {name}}}}}\n  template:\n    metadata: {{labels: {{app: {name}}}, \
         annotations: {{mock-k8.io/stop-delay-ms: \"{stop_ms}\"}}}}\n    spec: {{containers: [{{name: app, image: nginx}}]}}\n---\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletion_should_follow_the_propagation_policy_and_finalizers() {
    if !require_kubectl("deletion_should_follow_the_propagation_policy_and_finalizers") {
        return;
    }
    let cluster = Cluster::start(&[]).await;
    let c = &cluster;

    // Recreate: no new pod exists while an old one does.
    c.apply(RECREATE).await;
    rollout_status(c, "rec").await;
    c.ok(&["set", "image", "deployment/rec", "app=busybox:2"])
        .await;
    let deadline = Instant::now() + READY;
    loop {
        let all = pods(&c.server, "app=rec").await;
        let images: BTreeSet<&str> = all.iter().map(image).collect();
        assert!(images.len() <= 1, "both templates at once: {images:?}");
        if all.len() == 2 && all.iter().all(|p| ready(p) && image(p) == "busybox:2") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "recreate did not finish: {all:?}\n{}",
            c.dump().await
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    rollout_status(c, "rec").await;

    let all = cascade("bg", 0) + &cascade("fg", 2000) + &cascade("orphan", 0);
    c.apply(&all).await;
    for d in ["bg", "fg", "orphan"] {
        rollout_status(c, d).await;
    }
    // Background (kubectl's default): the Deployment goes at once, its ReplicaSet and pods after.
    c.ok(&["delete", "deployment", "bg", "--wait=false"]).await;
    assert!(c.get("deployment", "default", "bg").await.is_none());
    c.wait_for("bg's ReplicaSet and pods collected", READY, || async {
        let rs = c.k.json(&["get", "rs", "-l", "app=bg"]).await;
        let n = rs["items"].as_array().map_or(0, Vec::len) + pods(&c.server, "app=bg").await.len();
        (n == 0).then_some(()).ok_or(format!("{n} left"))
    })
    .await;

    // Foreground: the Deployment stays, marked, until its pods are gone.
    c.ok(&[
        "delete",
        "deployment",
        "fg",
        "--cascade=foreground",
        "--wait=false",
    ])
    .await;
    let d = c
        .get("deployment", "default", "fg")
        .await
        .expect("fg is held");
    assert!(d["metadata"]["deletionTimestamp"].is_string());
    assert_eq!(
        d["metadata"]["finalizers"],
        serde_json::json!(["foregroundDeletion"])
    );
    let deadline = Instant::now() + READY;
    while c.get("deployment", "default", "fg").await.is_some() {
        assert!(
            Instant::now() < deadline,
            "fg not deleted\n{}",
            c.dump().await
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        pods(&c.server, "app=fg").await.is_empty(),
        "fg went before its pods"
    );
    let rs = c.k.json(&["get", "rs", "-l", "app=fg"]).await;
    assert_eq!(rs["items"].as_array().map_or(0, Vec::len), 0);

    // Orphan: the ReplicaSet and pods keep running, without the reference.
    c.ok(&["delete", "deployment", "orphan", "--cascade=orphan"])
        .await;
    assert!(c.get("deployment", "default", "orphan").await.is_none());
    let rs = c.k.json(&["get", "rs", "-l", "app=orphan"]).await;
    let set = &rs["items"][0];
    assert!(set["metadata"]["ownerReferences"].is_null(), "{set}");
    assert_eq!(set["spec"]["replicas"], 2);
    wait_ready_pods(c, "app=orphan", 2).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        pods(&c.server, "app=orphan").await.len(),
        2,
        "still running after a while"
    );

    // Finalizers: a held Service is only marked; deleting again adds no duplicate; removing the
    // finalizer removes it.
    c.apply("apiVersion: v1\nkind: Service\nmetadata: {name: held, finalizers: [example.com/hold]}\nspec: {ports: [{port: 80}]}\n").await;
    c.ok(&["delete", "service", "held", "--wait=false"]).await;
    c.ok(&[
        "delete",
        "service",
        "held",
        "--wait=false",
        "--cascade=foreground",
    ])
    .await;
    c.ok(&[
        "delete",
        "service",
        "held",
        "--wait=false",
        "--cascade=foreground",
    ])
    .await;
    let held = c
        .get("service", "default", "held")
        .await
        .expect("held by its finalizer");
    assert!(held["metadata"]["deletionTimestamp"].is_string());
    c.wait_for(
        "the collector drops foregroundDeletion (no dependents)",
        READY,
        || async {
            let s = c
                .get("service", "default", "held")
                .await
                .unwrap_or_default();
            (s["metadata"]["finalizers"] == serde_json::json!(["example.com/hold"]))
                .then_some(())
                .ok_or(s["metadata"].to_string())
        },
    )
    .await;
    c.ok(&[
        "patch",
        "service",
        "held",
        "--type=merge",
        "-p",
        r#"{"metadata":{"finalizers":null}}"#,
    ])
    .await;
    assert!(c.get("service", "default", "held").await.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicaset_should_replace_pods_evicted_from_an_unreachable_node() {
    if !require_kubectl("replicaset_should_replace_pods_evicted_from_an_unreachable_node") {
        return;
    }
    let cluster = Cluster::start(&[]).await;
    let c = &cluster;
    c.apply("apiVersion: apps/v1\nkind: ReplicaSet\nmetadata: {name: evict}\nspec:\n  replicas: 3\n  selector: {matchLabels: {app: evict}}\n  template:\n    metadata: {labels: {app: evict}}\n    spec: {containers: [{name: app, image: nginx}]}\n").await;
    let before = wait_ready_pods(c, "app=evict", 3).await;
    let node = before[0]["spec"]["nodeName"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let on_node: BTreeSet<String> = before
        .iter()
        .filter(|p| p["spec"]["nodeName"] == node.as_str())
        .filter_map(|p| p["metadata"]["name"].as_str().map(str::to_string))
        .collect();
    c.ok(&["annotate", "node", &node, "mock-k8.io/heartbeat=paused"])
        .await;
    // Unreachable after 4 s, evicted 3 s later: replacements run elsewhere.
    let after = c
        .wait_for(
            "3 ready pods off the silent node",
            Duration::from_secs(40),
            || async {
                let live: Vec<Value> = pods(&c.server, "app=evict")
                    .await
                    .into_iter()
                    .filter(|p| !deleting(p))
                    .collect();
                let ok = live.len() == 3
                    && live
                        .iter()
                        .all(|p| ready(p) && p["spec"]["nodeName"] != node.as_str());
                ok.then_some(live.clone())
                    .ok_or(format!("{} live", live.len()))
            },
        )
        .await;
    for p in &after {
        assert!(!on_node.contains(p["metadata"]["name"].as_str().unwrap_or("")));
    }
    let rs = c.get("rs", "default", "evict").await.unwrap_or_default();
    assert_eq!(rs["status"]["replicas"], 3);
    c.ok(&["annotate", "node", &node, "mock-k8.io/heartbeat-"])
        .await;
}
