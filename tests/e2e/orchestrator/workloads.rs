//! Workloads on one orchestrator: the shared manifests reach the phases `EXPECTED.md` gives,
//! Endpoints follow their pods, restart policies play out on MockDocker, `kubectl delete` stops a
//! pod's containers, `kubectl describe` tells the story, and the scheduler API lists its policies
//! and binds by hand.

use super::{Cluster, READY, SIMULATED_NODES, condition, endpoint_ips, event_reasons, phase};
use crate::support::{manifest, require_kubectl, yaml_docs};
use reqwest::StatusCode;
use serde_json::json;
use std::collections::BTreeSet;
use std::time::Duration;

const NAMESPACES: &str = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: cpu-example\n---\n\
                          apiVersion: v1\nkind: Namespace\nmetadata:\n  name: spark-cluster\n";

/// Pods and a Service of our own: endpoint followers, restart policies, a pod to delete, a pod for
/// a hand-written scheduler, two big pods LeastAllocated must spread.
const OWN: &str = r#"
apiVersion: v1
kind: Service
metadata: {name: ep}
spec:
  selector: {app: ep}
  ports: [{port: 80, targetPort: http}]
---
apiVersion: v1
kind: Pod
metadata: {name: ep-1, labels: {app: ep}}
spec: {containers: [{name: web, image: nginx, ports: [{name: http, containerPort: 8080}]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: ep-2, labels: {app: ep}}
spec: {containers: [{name: web, image: nginx, ports: [{name: http, containerPort: 8080}]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: ep-3, labels: {app: ep}}
spec: {containers: [{name: web, image: nginx, ports: [{name: http, containerPort: 8080}]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: crash, annotations: {mock-k8.io/exit-after-ms: "300", mock-k8.io/exit-code: "1"}}
spec: {restartPolicy: Always, containers: [{name: app, image: busybox}]}
---
apiVersion: v1
kind: Pod
metadata: {name: never, annotations: {mock-k8.io/exit-after-ms: "300", mock-k8.io/exit-code: "3"}}
spec: {restartPolicy: Never, containers: [{name: app, image: busybox}]}
---
apiVersion: v1
kind: Pod
metadata: {name: onfailure-ok, annotations: {mock-k8.io/exit-after-ms: "300", mock-k8.io/exit-code: "0"}}
spec: {restartPolicy: OnFailure, containers: [{name: app, image: busybox}]}
---
apiVersion: v1
kind: Pod
metadata: {name: victim, annotations: {mock-k8.io/stop-delay-ms: "500"}}
spec: {containers: [{name: app, image: nginx}]}
---
apiVersion: v1
kind: Pod
metadata: {name: manual}
spec: {schedulerName: my-scheduler, containers: [{name: app, image: nginx}]}
---
apiVersion: v1
kind: Pod
metadata: {name: spread-a, labels: {app: spread}}
spec: {containers: [{name: app, image: nginx, resources: {requests: {cpu: 1500m, memory: 1Gi}}}]}
---
apiVersion: v1
kind: Pod
metadata: {name: spread-b, labels: {app: spread}}
spec: {containers: [{name: app, image: nginx, resources: {requests: {cpu: 1500m, memory: 1Gi}}}]}
"#;

/// A pod that exits 1 under `restartPolicy: Never`, with the `ep` label.
const EP_EXIT: &str = r#"
apiVersion: v1
kind: Pod
metadata:
  name: ep-exit
  labels: {app: ep}
  annotations: {mock-k8.io/exit-after-ms: "1500", mock-k8.io/exit-code: "1"}
spec:
  restartPolicy: Never
  containers: [{name: web, image: nginx, ports: [{name: http, containerPort: 8080}]}]
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orchestrator_should_run_workloads_as_expected_md_says() {
    if !require_kubectl("orchestrator_should_run_workloads_as_expected_md_says") {
        return;
    }
    let cluster = Cluster::start(&[]).await;
    let c = &cluster;
    let nodes = SIMULATED_NODES + 1;
    c.apply(NAMESPACES).await;
    for file in [
        "multi-pod.yaml",
        "init-containers-flowstyle.yaml",
        "cpu-manager-exclusive-1.yaml",
        "cpu-request-limit-flowstyle.yaml",
        "commands-onfailure-flowstyle.yaml",
        "meteor-mongo-pod.json",
        "meteor-mongo-service.json",
        "backend-service-targetport-name-docend.yaml",
        "minio-headless-service.yaml",
        "glusterfs-service-no-selector.yaml",
        "glusterfs-endpoints.yaml",
        "pod-nginx-nodeselector-flowstyle.yaml",
    ] {
        c.apply_file(file).await;
    }
    let path = crate::support::manifests_dir().join("pod-generate-name.yaml");
    let created = c
        .ok(&["create", "-f", path.to_str().expect("utf-8 path")])
        .await;
    let generated = created
        .stdout
        .trim()
        .strip_prefix("pod/")
        .and_then(|s| s.strip_suffix(" created"))
        .unwrap_or_else(|| panic!("unexpected create output: {created}"))
        .to_string();
    assert!(
        generated.starts_with("testing-") && generated.len() == "testing-".len() + 5,
        "{generated}"
    );
    c.apply(OWN).await;
    let glusterfs_rv = c
        .jsonpath(
            "endpoints",
            "spark-cluster",
            "glusterfs-cluster",
            "{.metadata.resourceVersion}",
        )
        .await;

    // --- The shared manifests' pods reach Running.
    for pod in [
        "redis-master",
        "valid-pod",
        "init-demo",
        "exclusive-1",
        "command-demo",
        "mongo",
        generated.as_str(),
    ] {
        c.wait_ready("default", pod).await;
    }
    c.wait_ready("cpu-example", "cpu-demo").await;
    let init = c
        .get("pod", "default", "init-demo")
        .await
        .expect("init-demo");
    assert_eq!(phase(&init), "Running", "{init}");
    assert_eq!(condition(&init, "Initialized"), "True", "{init}");
    let term = &init["status"]["initContainerStatuses"][0]["state"]["terminated"];
    assert_eq!(term["exitCode"], 0, "init container exits 0: {init}");
    assert_eq!(term["reason"], "Completed", "{init}");
    let redis = c
        .get("pod", "default", "redis-master")
        .await
        .expect("redis");
    assert_eq!(
        redis["status"]["containerStatuses"]
            .as_array()
            .map(Vec::len),
        Some(2),
        "{redis}"
    );

    // --- nodeSelector disktype=ssd fits no node.
    let nginx = c
        .wait_for("nginx Unschedulable", READY, || async move {
            let p = c.get("pod", "default", "nginx").await;
            let p = p.unwrap_or_default();
            let cond = p["status"]["conditions"]
                .as_array()
                .and_then(|cs| cs.iter().find(|x| x["type"] == "PodScheduled"))
                .cloned();
            match cond {
                Some(cond) if cond["reason"] == "Unschedulable" => Ok((p, cond)),
                _ => Err(p["status"].to_string()),
            }
        })
        .await;
    let (pod, cond) = nginx;
    assert_eq!(phase(&pod), "Pending", "{pod}");
    assert_eq!(cond["status"], "False", "{cond}");
    assert_eq!(
        cond["message"],
        format!(
            "0/{nodes} nodes are available: {nodes} node(s) didn't match Pod's node affinity/selector."
        ),
        "{cond}"
    );

    // --- Services: named targetPort, no pods, headless, no selector, hand-written Endpoints.
    let mongo_ip = &c
        .jsonpath("pod", "default", "mongo", "{.status.podIP}")
        .await;
    let mongo_ep = c
        .wait_for("Endpoints mongo = pod IP:27017", READY, || async move {
            let ep = c
                .get("endpoints", "default", "mongo")
                .await
                .unwrap_or_default();
            let ips = endpoint_ips(&ep, true);
            if ips == BTreeSet::from([mongo_ip.clone()]) {
                Ok(ep)
            } else {
                Err(ep.to_string())
            }
        })
        .await;
    assert_eq!(
        mongo_ep["subsets"][0]["ports"][0]["port"], 27017,
        "{mongo_ep}"
    );
    for svc in ["hello", "minio"] {
        let ep = c
            .wait_for(&format!("Endpoints {svc}"), READY, || async move {
                c.get("endpoints", "default", svc)
                    .await
                    .ok_or_else(|| "absent".to_string())
            })
            .await;
        assert!(endpoint_ips(&ep, true).is_empty(), "{ep}");
        assert!(endpoint_ips(&ep, false).is_empty(), "{ep}");
    }
    assert_eq!(
        c.jsonpath("svc", "default", "minio", "{.spec.clusterIP}")
            .await,
        "None"
    );
    let hello_ip = c
        .jsonpath("svc", "default", "hello", "{.spec.clusterIP}")
        .await;
    assert!(
        hello_ip.starts_with("10.96."),
        "ClusterIP allocated: {hello_ip}"
    );
    assert!(
        c.get("endpoints", "default", "glusterfs-cluster")
            .await
            .is_none(),
        "a Service without selector gets no Endpoints"
    );

    // --- Endpoints follow their pods.
    let ip_of = |name: &'static str| async move {
        c.jsonpath("pod", "default", name, "{.status.podIP}").await
    };
    for p in ["ep-1", "ep-2", "ep-3"] {
        c.wait_ready("default", p).await;
    }
    let (ip1, ip2, ip3) = (
        ip_of("ep-1").await,
        ip_of("ep-2").await,
        ip_of("ep-3").await,
    );
    let want = |ips: &[&String]| ips.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    wait_endpoints(c, "ep", want(&[&ip1, &ip2, &ip3])).await;
    let ep = c.get("endpoints", "default", "ep").await.expect("ep");
    assert_eq!(
        ep["subsets"][0]["ports"][0]["port"], 8080,
        "named targetPort: {ep}"
    );
    c.ok(&["delete", "pod", "ep-3"]).await;
    wait_endpoints(c, "ep", want(&[&ip1, &ip2])).await;
    c.apply(EP_EXIT).await;
    c.wait_ready("default", "ep-exit").await;
    let ip_exit = ip_of("ep-exit").await;
    wait_endpoints(c, "ep", want(&[&ip1, &ip2, &ip_exit])).await;
    c.wait_for("ep-exit Failed", READY, || async move {
        let p = c.get("pod", "default", "ep-exit").await.unwrap_or_default();
        (phase(&p) == "Failed")
            .then_some(())
            .ok_or(p["status"].to_string())
    })
    .await;
    wait_endpoints(c, "ep", want(&[&ip1, &ip2])).await;
    let ep = c.get("endpoints", "default", "ep").await.expect("ep");
    assert!(!endpoint_ips(&ep, false).contains(&ip_exit), "{ep}");

    restart_policies(c).await;
    deletion_and_events(c).await;
    scheduler_api(c).await;

    // The hand-written Endpoints were never touched.
    let gl = c
        .get("endpoints", "spark-cluster", "glusterfs-cluster")
        .await
        .expect("glusterfs endpoints");
    assert_eq!(gl["metadata"]["resourceVersion"], glusterfs_rv, "{gl}");
    let posted = yaml_docs(&manifest("glusterfs-endpoints.yaml"));
    assert_eq!(gl["subsets"], posted[0]["subsets"], "stored as posted");
}

/// Waits until Endpoints `name` has exactly `ips` ready.
async fn wait_endpoints(c: &Cluster, name: &str, ips: BTreeSet<String>) {
    let ips = &ips;
    c.wait_for(
        &format!("Endpoints {name} = {ips:?}"),
        READY,
        || async move {
            let ep = c
                .get("endpoints", "default", name)
                .await
                .unwrap_or_default();
            if endpoint_ips(&ep, true) == *ips {
                Ok(())
            } else {
                Err(ep.to_string())
            }
        },
    )
    .await;
}

/// Always + exit 1 crash-loops; Never + exit 3 fails; OnFailure + exit 0 succeeds.
async fn restart_policies(c: &Cluster) {
    let saw_backoff = &std::cell::Cell::new(false);
    c.wait_for(
        "crash: restartCount >= 2 and CrashLoopBackOff seen",
        READY,
        || async move {
            let p = c.get("pod", "default", "crash").await.unwrap_or_default();
            let st = &p["status"]["containerStatuses"][0];
            if st["state"]["waiting"]["reason"] == "CrashLoopBackOff" {
                saw_backoff.set(true);
            }
            let restarts = st["restartCount"].as_i64().unwrap_or(0);
            if saw_backoff.get() && restarts >= 2 {
                Ok(())
            } else {
                Err(st.to_string())
            }
        },
    )
    .await;
    assert!(
        event_reasons(c, "default", "crash")
            .await
            .iter()
            .any(|r| r == "BackOff")
    );
    let never = c
        .wait_for("never Failed", READY, || async move {
            let p = c.get("pod", "default", "never").await.unwrap_or_default();
            (phase(&p) == "Failed")
                .then(|| p.clone())
                .ok_or(p["status"].to_string())
        })
        .await;
    let term = &never["status"]["containerStatuses"][0]["state"]["terminated"];
    assert_eq!(term["exitCode"], 3, "{never}");
    assert_eq!(term["reason"], "Error", "{never}");
    c.wait_for("onfailure-ok Succeeded", READY, || async move {
        let p = c
            .get("pod", "default", "onfailure-ok")
            .await
            .unwrap_or_default();
        (phase(&p) == "Succeeded")
            .then_some(())
            .ok_or(p["status"].to_string())
    })
    .await;
}

/// `kubectl delete pod` returns once the agent stopped the containers and removed the pod;
/// `kubectl describe` shows the lifecycle's Events.
async fn deletion_and_events(c: &Cluster) {
    c.wait_ready("default", "victim").await;
    let describe = c.ok(&["describe", "pod", "victim"]).await;
    for reason in ["Scheduled", "Pulled", "Created", "Started"] {
        assert!(
            describe.stdout.contains(reason),
            "{reason} missing:\n{describe}"
        );
    }
    let out = c.ok(&["delete", "pod", "victim", "--timeout=20s"]).await;
    assert!(out.stdout.contains("pod \"victim\" deleted"), "{out}");
    assert!(
        c.get("pod", "default", "victim").await.is_none(),
        "gone after delete"
    );
    c.wait_for(
        "Killing event of victim",
        Duration::from_secs(5),
        || async move {
            let reasons = event_reasons(c, "default", "victim").await;
            reasons
                .iter()
                .any(|r| r == "Killing")
                .then_some(())
                .ok_or(format!("{reasons:?}"))
        },
    )
    .await;
}

/// `GET /api/v1/scheduler/policies`, `POST /api/v1/scheduler/bind`, LeastAllocated spreading.
async fn scheduler_api(c: &Cluster) {
    let (code, list) = c.server.get("/api/v1/scheduler/policies").await;
    assert_eq!(code, StatusCode::OK, "{list}");
    assert_eq!(list["default"], "LeastAllocated", "{list}");
    let items = list["items"].as_array().cloned().unwrap_or_default();
    for name in ["LeastAllocated", "MostAllocated", "BalancedAllocation"] {
        let p = items
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("{name} not listed: {list}"));
        assert!(
            p["plugins"][0]["formula"]
                .as_str()
                .is_some_and(|f| !f.is_empty()),
            "{p}"
        );
    }

    // A pod for another scheduler stays unbound until bound by hand.
    let manual = c.get("pod", "default", "manual").await.expect("manual");
    assert!(manual["spec"]["nodeName"].is_null(), "{manual}");
    let binding = json!({"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "manual"},
        "target": {"apiVersion": "v1", "kind": "Node", "name": "sim-node-2"}});
    let (code, body) = c.server.post("/api/v1/scheduler/bind", &binding).await;
    assert_eq!(code, StatusCode::CREATED, "{body}");
    c.wait_ready("default", "manual").await;
    assert_eq!(
        c.jsonpath("pod", "default", "manual", "{.spec.nodeName}")
            .await,
        "sim-node-2"
    );

    // LeastAllocated spreads two big pods.
    c.wait_ready("default", "spread-a").await;
    c.wait_ready("default", "spread-b").await;
    let node_of = |name: &'static str| async move {
        c.jsonpath("pod", "default", name, "{.spec.nodeName}").await
    };
    let (a, b) = (node_of("spread-a").await, node_of("spread-b").await);
    assert_ne!(a, b, "LeastAllocated spreads: both on {a}");
}
