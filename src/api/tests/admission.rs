//! Admission (defaults, default tolerations, QoS class, Service allocation), graceful deletion and
//! finalizers, the scheduler API and `pods/{name}/log`, through the router.

use super::watch::Events;
use super::*;
use crate::api::logs::{LogRequest, LogSource};
use futures::future::BoxFuture;
use std::collections::HashSet;
use std::sync::Arc;

const PODS: &str = "/api/v1/namespaces/default/pods";
const SERVICES: &str = "/api/v1/namespaces/default/services";

fn tolerations_for(p: &Value, key: &str) -> usize {
    p["spec"]["tolerations"]
        .as_array()
        .map_or(0, |t| t.iter().filter(|t| t["key"] == key).count())
}

#[tokio::test]
async fn create_should_default_limits_only_pods_and_set_qos() {
    let h = Harness::start().await;
    let manifest = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "valid-pod"},
        "spec": {"containers": [{"name": "c", "image": "serve-hostname:1.0",
            "resources": {"limits": {"cpu": "1", "memory": "512Mi"}}}]}});
    let a = h.post(PODS, &manifest).await;
    assert_eq!(a.code, StatusCode::CREATED, "{}", a.body);
    let c = &a.body["spec"]["containers"][0];
    assert_eq!(
        c["resources"]["requests"],
        json!({"cpu": "1", "memory": "512Mi"})
    );
    assert_eq!(c["imagePullPolicy"], "IfNotPresent");
    let spec = &a.body["spec"];
    assert_eq!(
        (
            spec["restartPolicy"].clone(),
            spec["dnsPolicy"].clone(),
            spec["terminationGracePeriodSeconds"].clone(),
            spec["schedulerName"].clone()
        ),
        (
            json!("Always"),
            json!("ClusterFirst"),
            json!(30),
            json!("default-scheduler")
        )
    );
    assert_eq!(a.body["status"]["qosClass"], "Guaranteed");
    let best = h.post(PODS, &pod("plain", json!({}))).await;
    assert_eq!(best.body["status"]["qosClass"], "BestEffort");
    h.shutdown();
}

#[tokio::test]
async fn default_tolerations_should_be_added_once_and_survive_updates() {
    let h = Harness::start_with(
        100,
        ApiOptions {
            default_not_ready_toleration_seconds: 40,
            ..ApiOptions::default()
        },
    )
    .await;
    let mut own = pod("own", json!({}));
    own["spec"]["tolerations"] = json!([{"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 5}]);
    let a = h.post(PODS, &own).await;
    assert_eq!(a.code, StatusCode::CREATED, "{}", a.body);
    assert_eq!(
        tolerations_for(&a.body, "node.kubernetes.io/unreachable"),
        1
    );
    assert_eq!(tolerations_for(&a.body, "node.kubernetes.io/not-ready"), 1);
    let t = a.body["spec"]["tolerations"]
        .as_array()
        .expect("tolerations");
    assert_eq!(
        t[0]["tolerationSeconds"], 5,
        "the pod's own toleration is kept"
    );
    assert_eq!(t[1]["tolerationSeconds"], 40);
    // PUT of the manifest as first sent (no defaults, no added tolerations) changes nothing.
    let put = h.put(&format!("{PODS}/own"), &own).await;
    assert_eq!(put.code, StatusCode::OK, "{}", put.body);
    assert_eq!(rv(&put.body), rv(&a.body), "a no-op update writes nothing");
    let patched = h
        .patch(
            &format!("{PODS}/own"),
            "application/merge-patch+json",
            &json!({"metadata": {"labels": {"x": "1"}}}),
        )
        .await;
    assert_eq!(patched.code, StatusCode::OK, "{}", patched.body);
    assert_eq!(
        tolerations_for(&patched.body, "node.kubernetes.io/not-ready"),
        1
    );
    assert_eq!(patched.body["status"]["qosClass"], "BestEffort");
    // Removing a spec field is still refused.
    let bad = h
        .patch(
            &format!("{PODS}/own"),
            "application/merge-patch+json",
            &json!({"spec": {"restartPolicy": "Never"}}),
        )
        .await;
    assert_status(&bad, 422, "Invalid");
    h.shutdown();
}

#[tokio::test]
async fn create_should_default_deployments() {
    let h = Harness::start().await;
    let d = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {"metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}});
    let a = h
        .post("/apis/apps/v1/namespaces/default/deployments", &d)
        .await;
    assert_eq!(a.code, StatusCode::CREATED, "{}", a.body);
    let spec = &a.body["spec"];
    assert_eq!(spec["replicas"], 1);
    assert_eq!(spec["strategy"]["rollingUpdate"]["maxSurge"], "25%");
    assert_eq!(spec["revisionHistoryLimit"], 10);
    assert_eq!(spec["progressDeadlineSeconds"], 600);
    assert_eq!(
        spec["template"]["spec"]["containers"][0]["imagePullPolicy"],
        "Always"
    );
    h.shutdown();
}

fn service(name: &str, spec: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": spec})
}

#[tokio::test]
async fn cluster_ips_should_be_unique_under_concurrent_creates_and_reused() {
    let h = Arc::new(Harness::start().await);
    let mut tasks = Vec::new();
    for i in 0..50 {
        let h = h.clone();
        tasks.push(tokio::spawn(async move {
            let svc = service(&format!("s{i}"), json!({"ports": [{"port": 80}]}));
            let a = h.post(SERVICES, &svc).await;
            assert_eq!(a.code, StatusCode::CREATED, "{}", a.body);
            a.body["spec"]["clusterIP"]
                .as_str()
                .expect("ip")
                .to_string()
        }));
    }
    let mut ips = HashSet::new();
    for t in tasks {
        ips.insert(t.await.expect("task"));
    }
    assert_eq!(ips.len(), 50);
    // The lowest free addresses, skipping 10.96.0.1 (the `kubernetes` Service's).
    let expected: HashSet<String> = (2..52).map(|i| format!("10.96.0.{i}")).collect();
    assert_eq!(ips, expected);
    let victim = h.get(&format!("{SERVICES}/s7")).await.body["spec"]["clusterIP"].clone();
    assert_eq!(
        h.delete(&format!("{SERVICES}/s7")).await.code,
        StatusCode::OK
    );
    let again = h
        .post(
            SERVICES,
            &service("again", json!({"ports": [{"port": 80}]})),
        )
        .await;
    assert_eq!(
        again.body["spec"]["clusterIP"], victim,
        "released and reused"
    );
    let taken = h
        .post(
            SERVICES,
            &service(
                "taken",
                json!({"clusterIP": "10.96.0.2", "ports": [{"port": 80}]}),
            ),
        )
        .await;
    assert_status(&taken, 422, "Invalid");
    assert_eq!(
        taken.body["details"]["causes"][0]["field"],
        "spec.clusterIP"
    );
    let headless = h
        .post(
            SERVICES,
            &service(
                "headless",
                json!({"clusterIP": "None", "ports": [{"port": 80}]}),
            ),
        )
        .await;
    assert_eq!(headless.body["spec"]["clusterIPs"], json!(["None"]));
    h.shutdown();
}

#[tokio::test]
async fn node_ports_should_not_collide() {
    let h = Harness::start().await;
    let np = |name: &str, port: Option<i64>| {
        let mut p = json!({"port": 80});
        if let Some(n) = port {
            p["nodePort"] = json!(n);
        }
        service(name, json!({"type": "NodePort", "ports": [p]}))
    };
    let a = h.post(SERVICES, &np("a", None)).await;
    assert_eq!(a.code, StatusCode::CREATED, "{}", a.body);
    assert_eq!(a.body["spec"]["ports"][0]["nodePort"], 30000);
    let b = h.post(SERVICES, &np("b", Some(30001))).await;
    assert_eq!(b.body["spec"]["ports"][0]["nodePort"], 30001);
    let c = h.post(SERVICES, &np("c", None)).await;
    assert_eq!(c.body["spec"]["ports"][0]["nodePort"], 30002);
    let clash = h.post(SERVICES, &np("clash", Some(30001))).await;
    assert_status(&clash, 422, "Invalid");
    assert_eq!(
        clash.body["details"]["causes"][0]["field"],
        "spec.ports[0].nodePort"
    );
    assert!(
        clash.body["message"]
            .as_str()
            .is_some_and(|m| m.contains("provided port is already allocated"))
    );
    // The refused create released the cluster IP it had taken: the next one gets it.
    let d = h.post(SERVICES, &np("d", None)).await;
    assert_eq!(d.body["spec"]["clusterIP"], "10.96.0.5");
    h.delete(&format!("{SERVICES}/b")).await;
    let e = h.post(SERVICES, &np("e", Some(30001))).await;
    assert_eq!(
        e.code,
        StatusCode::CREATED,
        "released on delete: {}",
        e.body
    );
    h.shutdown();
}

async fn delete_with(h: &Harness, path: &str, opts: Value) -> Answer {
    h.send(
        Method::DELETE,
        path,
        Some("application/json"),
        Some(opts.to_string()),
        None,
    )
    .await
}

#[tokio::test]
async fn deleting_a_bound_pod_should_mark_it_then_remove_it_on_grace_zero() {
    let h = Harness::start().await;
    create_node(&h, "n1").await;
    let mut p = pod("web", json!({}));
    p["spec"]["nodeName"] = json!("n1");
    let created = h.post(PODS, &p).await;
    let mut events = Events::open(
        &h,
        &format!("{PODS}?watch=true&resourceVersion={}", rv(&created.body)),
        "application/json",
    )
    .await;
    let marked = h.delete(&format!("{PODS}/web")).await;
    assert_eq!(marked.code, StatusCode::OK, "{}", marked.body);
    assert_eq!(marked.body["metadata"]["deletionGracePeriodSeconds"], 30);
    assert!(marked.body["metadata"]["deletionTimestamp"].is_string());
    assert_eq!(h.get(&format!("{PODS}/web")).await.code, StatusCode::OK);
    let shorter = delete_with(&h, &format!("{PODS}/web"), json!({"gracePeriodSeconds": 5})).await;
    assert_eq!(shorter.body["metadata"]["deletionGracePeriodSeconds"], 5);
    let gone = delete_with(&h, &format!("{PODS}/web"), json!({"gracePeriodSeconds": 0})).await;
    assert_eq!(gone.code, StatusCode::OK, "{}", gone.body);
    assert_eq!(
        h.get(&format!("{PODS}/web")).await.code,
        StatusCode::NOT_FOUND
    );
    let kinds: Vec<Value> = [
        events.next_change().await,
        events.next_change().await,
        events.next_change().await,
    ]
    .into_iter()
    .map(|e| e.expect("event")["type"].clone())
    .collect();
    assert_eq!(
        kinds,
        [json!("MODIFIED"), json!("MODIFIED"), json!("DELETED")]
    );
    // An unbound pod goes at once.
    h.post(PODS, &pod("idle", json!({}))).await;
    assert_eq!(h.delete(&format!("{PODS}/idle")).await.code, StatusCode::OK);
    assert_eq!(
        h.get(&format!("{PODS}/idle")).await.code,
        StatusCode::NOT_FOUND
    );
    h.shutdown();
}

#[tokio::test]
async fn finalizers_should_hold_an_object_until_cleared() {
    let h = Harness::start().await;
    let mut svc = service("held", json!({"ports": [{"port": 80}]}));
    svc["metadata"]["finalizers"] = json!(["example.com/hold"]);
    let created = h.post(SERVICES, &svc).await;
    let ip = created.body["spec"]["clusterIP"].clone();
    let first = h.delete(&format!("{SERVICES}/held")).await;
    assert!(first.body["metadata"]["deletionTimestamp"].is_string());
    let second = h.delete(&format!("{SERVICES}/held")).await;
    assert_eq!(
        second.body["metadata"]["finalizers"],
        json!(["example.com/hold"])
    );
    assert_eq!(
        rv(&second.body),
        rv(&first.body),
        "a repeated delete changes nothing"
    );
    let cleared = h
        .patch(
            &format!("{SERVICES}/held"),
            "application/merge-patch+json",
            &json!({"metadata": {"finalizers": null}}),
        )
        .await;
    assert_eq!(cleared.code, StatusCode::OK, "{}", cleared.body);
    assert_eq!(
        h.get(&format!("{SERVICES}/held")).await.code,
        StatusCode::NOT_FOUND
    );
    let next = h
        .post(SERVICES, &service("next", json!({"ports": [{"port": 80}]})))
        .await;
    assert_eq!(next.body["spec"]["clusterIP"], ip, "its IP was released");
    h.shutdown();
}

#[tokio::test]
async fn scheduler_policies_should_list_formulas_and_the_default() {
    let h = Harness::start().await;
    let a = h.get("/api/v1/scheduler/policies").await;
    assert_eq!(a.code, StatusCode::OK, "{}", a.body);
    assert_eq!(a.body["default"], "LeastAllocated");
    let items = a.body["items"].as_array().expect("items");
    let names: Vec<&str> = items.iter().filter_map(|p| p["name"].as_str()).collect();
    assert_eq!(
        names,
        ["LeastAllocated", "MostAllocated", "BalancedAllocation"]
    );
    for p in items {
        let plugin = &p["plugins"][0];
        assert!(
            plugin["formula"].is_string() && plugin["weight"].is_i64(),
            "{p}"
        );
    }
    assert_eq!(items[0]["default"], true);
    h.shutdown();
}

#[tokio::test]
async fn manual_bind_should_use_the_binding_rules() {
    let h = Harness::start().await;
    h.post(PODS, &pod("web", json!({}))).await;
    let binding = |pod: &str, node: &str| json!({"apiVersion": "v1", "kind": "Binding", "metadata": {"name": pod}, "target": {"kind": "Node", "name": node}});
    let missing_node = h
        .post("/api/v1/scheduler/bind", &binding("web", "n1"))
        .await;
    assert_status(&missing_node, 422, "Invalid");
    create_node(&h, "n1").await;
    let ok = h
        .post("/api/v1/scheduler/bind", &binding("web", "n1"))
        .await;
    assert_eq!(ok.code, StatusCode::CREATED, "{}", ok.body);
    assert_eq!(
        h.get(&format!("{PODS}/web")).await.body["spec"]["nodeName"],
        "n1"
    );
    let again = h
        .post("/api/v1/scheduler/bind", &binding("web", "n1"))
        .await;
    assert_status(&again, 409, "Conflict");
    let nope = h
        .post("/api/v1/scheduler/bind", &binding("nope", "n1"))
        .await;
    assert_status(&nope, 404, "NotFound");
    h.shutdown();
}

struct FixedLogs;

impl LogSource for FixedLogs {
    fn logs(
        &self,
        req: LogRequest,
    ) -> BoxFuture<'static, Result<axum::body::Body, crate::api::error::ApiError>> {
        Box::pin(async move { Ok(format!("{} on {}\n", req.container, req.node).into()) })
    }
}

#[tokio::test]
async fn pod_log_should_ask_the_log_source() {
    let h = Harness::start().await;
    create_node(&h, "n1").await;
    let mut p = pod("web", json!({}));
    p["spec"]["nodeName"] = json!("n1");
    h.post(PODS, &p).await;
    let none = h.get(&format!("{PODS}/web/log")).await;
    assert_status(&none, 404, "NotFound");
    let bad = h.get(&format!("{PODS}/web/log?container=zz")).await;
    assert_status(&bad, 400, "BadRequest");
    let state = h.state.clone().with_log_source(Arc::new(FixedLogs));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let token = state.shutdown.clone();
    tokio::spawn(async move {
        let _ = axum::serve(listener, crate::api::router(state))
            .with_graceful_shutdown(async move { token.cancelled().await })
            .await;
    });
    let text = reqwest::get(format!("http://{addr}{PODS}/web/log"))
        .await
        .expect("log")
        .text()
        .await
        .expect("text");
    assert_eq!(text, "c1 on n1\n");
    h.shutdown();
}
