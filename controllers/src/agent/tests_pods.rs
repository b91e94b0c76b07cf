//! Node-agent tests (pod side): pods bound to a pool's node run on MockDocker through their whole
//! lifecycle, on simulated time.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{ContainerStatus, Pod};
use serde_json::{Value, json};
use tokio::time::{Instant, sleep};

use super::tests::{Harness, docker_config};
use super::*;
use crate::client::testing::FakeClient;
use crate::client::{Api, DeleteParams};
use crate::container::ContainerRuntime;

const SECS: Duration = Duration::from_secs(1);

fn config() -> AgentConfig {
    AgentConfig {
        mock_docker: docker_config(),
        ..AgentConfig::default()
    }
}

/// Starts a pool serving node `n1` (index 3: podCIDR 10.244.3.0/24, InternalIP 10.0.0.4).
async fn one_node() -> Harness {
    let h = Harness::start(vec![NodeSpec::new("n1", 3).unwrap()], config()).await;
    h.wait_for(10 * SECS, "registration", || async {
        h.nodes().get_opt("n1").await.ok().flatten()
    })
    .await;
    h
}

/// A pod bound to `n1` with one app container `app`; `extra` is merged into the manifest.
async fn create_pod(h: &Harness, name: &str, extra: Value) -> Pod {
    let mut pod = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"nodeName": "n1", "containers": [{"name": "app", "image": "nginx:1.27"}]},
        "status": {"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "True",
            "lastTransitionTime": "2026-01-01T00:00:00Z"}]}
    });
    json_patch::merge(&mut pod, &extra);
    let pod: Pod = serde_json::from_value(pod).unwrap();
    h.pods().create(&pod).await.unwrap()
}

fn phase(p: &Pod) -> &str {
    p.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("")
}

fn condition(p: &Pod, type_: &str) -> String {
    p.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == type_))
        .map(|c| c.status.clone())
        .unwrap_or_default()
}

fn app(p: &Pod) -> ContainerStatus {
    p.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .and_then(|c| c.first())
        .cloned()
        .unwrap_or_default()
}

fn event_reasons(h: &Harness) -> Vec<String> {
    let events = mock_k8_schemas::resource::by_kind("v1", "Event").unwrap();
    h.fake
        .objects(events)
        .iter()
        .filter_map(|e| e.get("reason").and_then(Value::as_str).map(str::to_string))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn pod_should_reach_running_with_conditions_and_an_ip_from_the_pod_cidr() {
    let h = one_node().await;
    create_pod(&h, "web", json!({})).await;
    let pod = h
        .wait_pod("web", 10 * SECS, "Running", |p| phase(p) == "Running")
        .await;
    let st = pod.status.clone().unwrap();
    assert_eq!(st.pod_ip.as_deref(), Some("10.244.3.2"));
    assert_eq!(st.host_ip.as_deref(), Some("10.0.0.4"));
    assert!(st.start_time.is_some());
    for c in ["PodScheduled", "Initialized", "ContainersReady", "Ready"] {
        assert_eq!(condition(&pod, c), "True", "{c}");
    }
    let app = app(&pod);
    assert!(app.ready);
    assert_eq!(app.restart_count, 0);
    assert!(app.container_id.unwrap().starts_with("mock://"));
    assert!(app.image_id.starts_with("sha256:"));
    assert!(app.state.unwrap().running.is_some());
    // No further writes once the status is stable.
    let rv = pod.metadata.resource_version.clone();
    sleep(60 * SECS).await;
    let later = h.pods().get("web").await.unwrap();
    assert_eq!(
        later.metadata.resource_version, rv,
        "no no-op status writes"
    );
    assert!(
        h.results() >= 2,
        "status writes are reconcile results seen by the hook"
    );
    let reasons = event_reasons(&h);
    for r in ["Pulled", "Created", "Started"] {
        assert!(reasons.iter().any(|x| x == r), "{r} in {reasons:?}");
    }
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn pod_should_run_init_containers_first() {
    let h = one_node().await;
    let extra = json!({"spec": {"initContainers": [{"name": "init", "image": "busybox"}]}});
    create_pod(&h, "web", extra).await;
    let pod = h
        .wait_pod("web", 10 * SECS, "Running", |p| phase(p) == "Running")
        .await;
    assert_eq!(condition(&pod, "Initialized"), "True");
    assert_eq!(condition(&pod, "Ready"), "True");
    let init = pod
        .status
        .as_ref()
        .unwrap()
        .init_container_statuses
        .clone()
        .unwrap();
    let done = init[0].state.clone().unwrap().terminated.unwrap();
    assert_eq!(
        (done.exit_code, done.reason.as_deref()),
        (0, Some("Completed"))
    );
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn pod_should_succeed_when_its_container_exits_zero_under_on_failure() {
    let h = one_node().await;
    let extra = json!({
        "metadata": {"annotations": {"mock-k8.io/exit-after-ms": "1000", "mock-k8.io/exit-code": "0"}},
        "spec": {"restartPolicy": "OnFailure"}
    });
    create_pod(&h, "job", extra).await;
    let pod = h
        .wait_pod("job", 10 * SECS, "Succeeded", |p| phase(p) == "Succeeded")
        .await;
    let done = app(&pod).state.unwrap().terminated.unwrap();
    assert_eq!(
        (done.exit_code, done.reason.as_deref()),
        (0, Some("Completed"))
    );
    assert_eq!(condition(&pod, "Ready"), "False");
    assert_eq!(app(&pod).restart_count, 0);
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn pod_should_fail_with_the_exit_code_under_never() {
    let h = one_node().await;
    let extra = json!({
        "metadata": {"annotations": {"mock-k8.io/exit-after-ms": "500", "mock-k8.io/exit-code": "3"}},
        "spec": {"restartPolicy": "Never"}
    });
    create_pod(&h, "once", extra).await;
    let pod = h
        .wait_pod("once", 10 * SECS, "Failed", |p| phase(p) == "Failed")
        .await;
    let done = app(&pod).state.unwrap().terminated.unwrap();
    assert_eq!((done.exit_code, done.reason.as_deref()), (3, Some("Error")));
    sleep(30 * SECS).await;
    let later = h.pods().get("once").await.unwrap();
    assert_eq!(phase(&later), "Failed");
    assert_eq!(app(&later).restart_count, 0, "never restarted");
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn pod_should_crash_loop_with_doubling_back_off_under_always() {
    let h = one_node().await;
    let extra = json!({
        "metadata": {"annotations": {"mock-k8.io/exit-after-ms": "1000", "mock-k8.io/exit-code": "1"}}
    });
    create_pod(&h, "crash", extra).await;
    // (restart count, CrashLoopBackOff seen at, restarted at), sampled every 50 ms.
    let mut crashed: Vec<Instant> = Vec::new();
    let mut restarted: Vec<Instant> = Vec::new();
    let deadline = Instant::now() + 60 * SECS;
    while restarted.len() < 2 && Instant::now() < deadline {
        let pod = h.pods().get("crash").await.unwrap();
        let st = app(&pod);
        let waiting = st
            .state
            .as_ref()
            .and_then(|s| s.waiting.as_ref())
            .and_then(|w| w.reason.clone());
        let count = usize::try_from(st.restart_count).unwrap();
        if waiting.as_deref() == Some("CrashLoopBackOff") && crashed.len() == count {
            crashed.push(Instant::now());
            assert_eq!(phase(&pod), "Running", "Always keeps the pod Running");
        }
        if count > restarted.len() {
            restarted.push(Instant::now());
        }
        sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(restarted.len(), 2, "two restarts within a minute");
    for (i, want) in [(0, 10.0), (1, 20.0)] {
        let gap = restarted[i].duration_since(crashed[i]).as_secs_f64();
        assert!(
            (gap - want).abs() <= 0.2,
            "restart {i}: waited {gap} s, want {want} s"
        );
    }
    let pod = h.pods().get("crash").await.unwrap();
    let last = app(&pod).last_state.unwrap().terminated.unwrap();
    assert_eq!(last.exit_code, 1);
    assert!(event_reasons(&h).iter().any(|r| r == "BackOff"));
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn pod_that_does_not_fit_should_fail_out_of_cpu() {
    let h = one_node().await;
    let cpu = |n: &str| {
        json!({"spec": {"containers": [{"name": "app", "image": "nginx",
        "resources": {"requests": {"cpu": n}}}]}})
    };
    create_pod(&h, "big", cpu("3")).await;
    h.wait_pod("big", 10 * SECS, "Running", |p| phase(p) == "Running")
        .await;
    create_pod(&h, "more", cpu("2")).await;
    let pod = h
        .wait_pod("more", 10 * SECS, "Failed", |p| phase(p) == "Failed")
        .await;
    let st = pod.status.unwrap();
    assert_eq!(st.reason.as_deref(), Some("OutOfcpu"));
    assert!(
        st.message
            .unwrap()
            .contains("requested: 2000, used: 3000, capacity: 4000")
    );
    let uid = pod.metadata.uid.unwrap();
    assert!(
        h.runtime.list(Some(&uid)).await.is_empty(),
        "nothing started"
    );
    assert!(event_reasons(&h).iter().any(|r| r == "OutOfcpu"));
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn deleting_a_pod_should_stop_its_containers_then_remove_it() {
    let h = one_node().await;
    let extra = json!({"metadata": {"annotations": {"mock-k8.io/stop-delay-ms": "2000"}}});
    create_pod(&h, "web", extra).await;
    let pod = h
        .wait_pod("web", 10 * SECS, "Running", |p| phase(p) == "Running")
        .await;
    let uid = pod.metadata.uid.clone().unwrap();
    assert_eq!(h.runtime.list(Some(&uid)).await.len(), 1);
    h.pods()
        .delete("web", &DeleteParams::default())
        .await
        .unwrap();
    sleep(SECS).await;
    let terminating = h.pods().get_opt("web").await.unwrap();
    assert!(
        terminating.is_some_and(|p| p.metadata.deletion_timestamp.is_some()),
        "still there while its container honours SIGTERM"
    );
    h.wait_for(10 * SECS, "pod removed", || async {
        h.pods()
            .get_opt("web")
            .await
            .unwrap()
            .is_none()
            .then_some(())
    })
    .await;
    assert!(
        h.runtime.list(Some(&uid)).await.is_empty(),
        "container removed"
    );
    assert!(event_reasons(&h).iter().any(|r| r == "Killing"));
    // Its IP is free again.
    create_pod(&h, "next", json!({})).await;
    let next = h
        .wait_pod("next", 10 * SECS, "Running", |p| phase(p) == "Running")
        .await;
    assert_eq!(next.status.unwrap().pod_ip.as_deref(), Some("10.244.3.2"));
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn force_deleted_pod_should_be_cleaned_up_by_housekeeping() {
    let h = one_node().await;
    create_pod(&h, "web", json!({})).await;
    let pod = h
        .wait_pod("web", 10 * SECS, "Running", |p| phase(p) == "Running")
        .await;
    let uid = pod.metadata.uid.clone().unwrap();
    let now = DeleteParams {
        grace_period_seconds: Some(0),
        ..Default::default()
    };
    h.pods().delete("web", &now).await.unwrap();
    let runtime: Arc<dyn ContainerRuntime> = h.runtime.clone();
    h.wait_for(5 * SECS, "containers removed", || async {
        runtime.list(Some(&uid)).await.is_empty().then_some(())
    })
    .await;
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn image_pull_failure_should_back_off() {
    let h = one_node().await;
    let extra =
        json!({"metadata": {"annotations": {"mock-k8.io/image-pull-error": "manifest unknown"}}});
    create_pod(&h, "bad", extra).await;
    let reason = |p: &Pod| {
        app(p)
            .state
            .and_then(|s| s.waiting)
            .and_then(|w| w.reason)
            .unwrap_or_default()
    };
    h.wait_pod("bad", 5 * SECS, "ErrImagePull", |p| {
        reason(p) == "ErrImagePull"
    })
    .await;
    let pod = h
        .wait_pod("bad", 30 * SECS, "ImagePullBackOff", |p| {
            reason(p) == "ImagePullBackOff"
        })
        .await;
    assert_eq!(phase(&pod), "Pending");
    let reasons = event_reasons(&h);
    assert!(reasons.iter().any(|r| r == "Failed"), "{reasons:?}");
    assert!(reasons.iter().any(|r| r == "BackOff"), "{reasons:?}");
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn pool_should_run_many_pods_on_many_nodes() {
    let nodes = simulated_nodes(50, "sim", 1, None).unwrap();
    let h = Harness::start(nodes, config()).await;
    let count = 1000;
    let wall = std::time::Instant::now();
    for i in 0..count {
        let node = format!("sim-{}", i % 50 + 1);
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": format!("p{i}"), "namespace": "default"},
            "spec": {"nodeName": node, "containers": [{"name": "app", "image": "nginx"}]}
        }))
        .unwrap();
        h.pods().create(&pod).await.unwrap();
    }
    let pods_res = mock_k8_schemas::resource::by_kind("v1", "Pod").unwrap();
    h.wait_for(60 * SECS, "every pod Running", || async {
        let running = h
            .fake
            .objects(pods_res)
            .iter()
            .filter(|p| p.pointer("/status/phase").and_then(Value::as_str) == Some("Running"))
            .count();
        (running == count).then_some(())
    })
    .await;
    println!(
        "{count} pods on 50 simulated nodes Running in {:?} (wall clock, debug build)",
        wall.elapsed()
    );
    let ips: std::collections::HashSet<String> = h
        .fake
        .objects(pods_res)
        .iter()
        .filter_map(|p| {
            p.pointer("/status/podIP")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .collect();
    assert_eq!(ips.len(), count, "unique pod IPs");
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn paused_node_should_make_no_api_write_until_resumed() {
    let h = one_node().await;
    create_pod(&h, "web", json!({})).await;
    create_pod(&h, "doomed", json!({})).await;
    let exits = json!({"metadata": {"annotations": {"mock-k8.io/exit-after-ms": "3000",
        "mock-k8.io/exit-code": "1"}}, "spec": {"restartPolicy": "Never"}});
    create_pod(&h, "short", exits).await;
    for name in ["web", "doomed", "short"] {
        h.wait_pod(name, 10 * SECS, "Running", |p| phase(p) == "Running")
            .await;
    }
    let lease_before = h.renew_time("n1").await.unwrap();
    let pause = json!({"metadata": {"annotations": {HEARTBEAT_ANNOTATION: "paused"}}});
    h.nodes().patch("n1", None, &pause).await.unwrap();
    sleep(Duration::from_millis(200)).await;
    // What the node lifecycle controller does to an unreachable node's pods, and an eviction.
    let not_ready = json!({"status": {"conditions": [
        {"type": "PodScheduled", "status": "True"},
        {"type": "Ready", "status": "False", "reason": "NodeNotReady"}]}});
    h.pods().patch_status("web", &not_ready).await.unwrap();
    h.pods()
        .delete("doomed", &DeleteParams::default())
        .await
        .unwrap();
    let doomed_uid = h.pods().get("doomed").await.unwrap().metadata.uid.unwrap();
    let revision = h.fake.revision();
    sleep(60 * SECS).await;
    assert_eq!(h.fake.revision(), revision, "no API write while paused");
    let web = h.pods().get("web").await.unwrap();
    assert_eq!(condition(&web, "Ready"), "False", "Ready=False kept");
    let short = h.pods().get("short").await.unwrap();
    assert_eq!(phase(&short), "Running", "its exit is not reported yet");
    let doomed = h.pods().get("doomed").await.unwrap();
    assert!(
        doomed.metadata.deletion_timestamp.is_some(),
        "still Terminating"
    );
    let running = h.runtime.list(Some(&doomed_uid)).await;
    assert!(
        running.iter().all(|c| c.state.is_running()) && !running.is_empty(),
        "its containers keep running: {running:?}"
    );
    assert_eq!(h.renew_time("n1").await.unwrap(), lease_before);

    let resume = json!({"metadata": {"annotations": {HEARTBEAT_ANNOTATION: null}}});
    h.nodes().patch("n1", None, &resume).await.unwrap();
    h.wait_pod("web", 5 * SECS, "Ready again", |p| {
        condition(p, "Ready") == "True"
    })
    .await;
    let short = h
        .wait_pod("short", 5 * SECS, "Failed", |p| phase(p) == "Failed")
        .await;
    let code = app(&short)
        .state
        .and_then(|s| s.terminated)
        .map(|t| t.exit_code);
    assert_eq!(code, Some(1));
    h.wait_for(10 * SECS, "deletion completed", || async {
        h.pods()
            .get_opt("doomed")
            .await
            .unwrap()
            .is_none()
            .then_some(())
    })
    .await;
    assert!(h.runtime.list(Some(&doomed_uid)).await.is_empty());
    assert!(
        h.renew_time("n1").await.unwrap() > lease_before,
        "lease renewed"
    );
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn finished_pod_should_free_its_sandbox_before_its_ip_is_reused() {
    let h = one_node().await;
    let extra = json!({
        "metadata": {"annotations": {"mock-k8.io/exit-after-ms": "200", "mock-k8.io/exit-code": "3"}},
        "spec": {"restartPolicy": "Never"}
    });
    let done = create_pod(&h, "done", extra).await;
    let done_uid = done.metadata.uid.clone().unwrap();
    let done = h
        .wait_pod("done", 10 * SECS, "Failed", |p| phase(p) == "Failed")
        .await;
    let done_ip = done.status.unwrap().pod_ip.unwrap();
    // The finished pod's IP goes back to the pool only with its sandbox: a real runtime would
    // refuse a second sandbox on an address a running one still holds.
    h.wait_for(10 * SECS, "sandbox removal", || async {
        (!h.runtime.list_sandboxes().await.contains(&done_uid)).then_some(())
    })
    .await;
    create_pod(&h, "next", json!({})).await;
    let next = h
        .wait_pod("next", 10 * SECS, "Running", |p| phase(p) == "Running")
        .await;
    assert_eq!(
        next.status.unwrap().pod_ip.unwrap(),
        done_ip,
        "the freed IP is reused"
    );
    assert!(
        !h.runtime.list(Some(&done_uid)).await.is_empty(),
        "the exited container stays, for kubectl logs"
    );
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn restarted_agent_should_not_give_a_new_pod_the_ip_an_older_pod_reports() {
    // As after an agent restart: "z-old" reports an IP from before, "a-new" has none yet, and
    // "a-new" comes first in the pod list.
    let fake = Arc::new(FakeClient::new());
    let pods: Api<Pod> = Api::namespaced(fake.clone(), "default");
    for (name, status) in [
        ("a-new", json!({"phase": "Pending"})),
        ("z-old", json!({"phase": "Running", "podIP": "10.244.3.2"})),
    ] {
        let pod: Pod = serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"nodeName": "n1", "containers": [{"name": "app", "image": "nginx:1.27"}]},
            "status": status
        }))
        .unwrap();
        pods.create(&pod).await.unwrap();
    }
    let h = Harness::start_with(fake, vec![NodeSpec::new("n1", 3).unwrap()], config()).await;
    let ip_of = |p: Pod| p.status.and_then(|s| s.pod_ip).unwrap_or_default();
    let new = h
        .wait_pod("a-new", 10 * SECS, "Running", |p| phase(p) == "Running")
        .await;
    let old = h
        .wait_pod("z-old", 10 * SECS, "Running", |p| phase(p) == "Running")
        .await;
    assert_eq!(ip_of(old), "10.244.3.2", "the older pod keeps its IP");
    assert_eq!(
        ip_of(new),
        "10.244.3.3",
        "the new pod gets the next free one"
    );
    h.stop().await;
}
