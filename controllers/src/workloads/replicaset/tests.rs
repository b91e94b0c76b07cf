use super::expectations::{CreateBackoff, Expectations};
use super::rank::pods_to_delete;
use super::status::{compute, same_status};
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

fn pod(
    name: &str,
    node: &str,
    phase: &str,
    ready_at: Option<&str>,
    restarts: i32,
    created: &str,
) -> Arc<Pod> {
    let mut v = json!({"metadata": {"name": name, "creationTimestamp": created, "labels": {"app": "w"}},
        "spec": {"containers": [{"name": "c", "image": "nginx"}]},
        "status": {"phase": phase, "containerStatuses": [{"name": "c", "image": "nginx", "imageID": "", "ready": ready_at.is_some(),
            "restartCount": restarts}]}});
    if !node.is_empty() {
        v["spec"]["nodeName"] = json!(node);
    }
    let cond = match ready_at {
        Some(t) => json!([{"type": "Ready", "status": "True", "lastTransitionTime": t}]),
        None => json!([{"type": "Ready", "status": "False"}]),
    };
    v["status"]["conditions"] = cond;
    Arc::new(serde_json::from_value(v).expect("pod"))
}

fn names(pods: &[Arc<Pod>]) -> Vec<String> {
    pods.iter()
        .map(|p| p.metadata.name.clone().unwrap_or_default())
        .collect()
}

const T0: &str = "2026-01-01T00:00:00Z";
const T1: &str = "2026-01-01T00:01:00Z";
const T2: &str = "2026-01-01T00:02:00Z";

#[test]
fn ranking_should_delete_unscheduled_pending_and_unready_pods_first() {
    let pods = vec![
        pod("running-ready", "n1", "Running", Some(T0), 0, T0),
        pod("unscheduled", "", "Pending", None, 0, T0),
        pod("pending", "n2", "Pending", None, 0, T0),
        pod("running-unready", "n3", "Running", None, 0, T0),
    ];
    assert_eq!(
        names(&pods_to_delete(&pods, 4)),
        ["unscheduled", "pending", "running-unready", "running-ready"]
    );
    assert_eq!(names(&pods_to_delete(&pods, 1)), ["unscheduled"]);
}

#[test]
fn ranking_should_prefer_doubled_up_newer_ready_restarted_and_newer_pods() {
    // Doubled-up pods (two on n1) go before a lone pod, whatever their age.
    let doubled = vec![
        pod("lone", "n2", "Running", Some(T2), 0, T2),
        pod("a", "n1", "Running", Some(T0), 0, T0),
        pod("b", "n1", "Running", Some(T0), 0, T0),
    ];
    assert_eq!(names(&pods_to_delete(&doubled, 2)), ["a", "b"]);
    // Ready for less time first.
    let ready = vec![
        pod("old", "n1", "Running", Some(T0), 0, T0),
        pod("young", "n2", "Running", Some(T1), 0, T0),
    ];
    assert_eq!(names(&pods_to_delete(&ready, 1)), ["young"]);
    // More restarts first.
    let restarts = vec![
        pod("calm", "n1", "Running", Some(T0), 0, T0),
        pod("crashy", "n2", "Running", Some(T0), 5, T0),
    ];
    assert_eq!(names(&pods_to_delete(&restarts, 1)), ["crashy"]);
    // Newer first.
    let age = vec![
        pod("older", "n1", "Running", Some(T0), 0, T0),
        pod("newer", "n2", "Running", Some(T0), 0, T1),
    ];
    assert_eq!(names(&pods_to_delete(&age, 1)), ["newer"]);
}

fn rs(min_ready: i32) -> ReplicaSet {
    serde_json::from_value(json!({"metadata": {"name": "w", "generation": 3},
        "spec": {"replicas": 3, "minReadySeconds": min_ready, "selector": {"matchLabels": {"app": "w"}},
            "template": {"metadata": {"labels": {"app": "w", "tier": "x"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}))
    .expect("rs")
}

#[test]
fn status_should_count_ready_and_available_pods_with_min_ready_seconds() {
    let now: Timestamp = "2026-01-01T00:01:30Z".parse().expect("t");
    let pods = vec![
        pod("a", "n1", "Running", Some(T0), 0, T0),
        pod("b", "n1", "Running", Some(T1), 0, T0),
        pod("c", "n1", "Pending", None, 0, T0),
    ];
    let c = compute(&rs(60), &pods, None, now);
    assert_eq!(c.status.replicas, 3);
    assert_eq!(c.status.ready_replicas, Some(2));
    assert_eq!(
        c.status.available_replicas,
        Some(1),
        "b is ready for 30 s of 60"
    );
    assert_eq!(
        c.status.fully_labeled_replicas,
        Some(0),
        "no pod has tier=x"
    );
    assert_eq!(c.status.observed_generation, Some(3));
    assert_eq!(
        c.recheck_at,
        Some("2026-01-01T00:02:00Z".parse().expect("t"))
    );
    assert!(same_status(Some(&c.status), &c.status));
    let failed = compute(&rs(0), &pods, Some("quota"), now);
    let cond = failed
        .status
        .conditions
        .as_ref()
        .and_then(|c| c.first())
        .expect("condition");
    assert_eq!(
        (cond.type_.as_str(), cond.message.as_deref()),
        ("ReplicaFailure", Some("quota"))
    );
    assert!(!same_status(Some(&c.status), &failed.status));
}

#[tokio::test(start_paused = true)]
async fn expectations_should_wait_for_the_cache_or_the_timeout() {
    let mut e = Expectations::default();
    e.expect(
        "ns/w",
        vec!["w-a".into()],
        vec![("w-b".into(), "uid-b".into())],
    );
    let timeout = Duration::from_secs(30);
    let cache = |seen: &'static [(&'static str, &'static str, bool)]| {
        move |n: &str| {
            seen.iter()
                .find(|(name, _, _)| *name == n)
                .map(|(_, u, d)| (u.to_string(), *d))
        }
    };
    assert!(!e.satisfied("ns/w", timeout, cache(&[("w-b", "uid-b", false)])));
    assert!(!e.satisfied(
        "ns/w",
        timeout,
        cache(&[("w-a", "uid-a", false), ("w-b", "uid-b", false)])
    ));
    assert!(e.satisfied(
        "ns/w",
        timeout,
        cache(&[("w-a", "uid-a", false), ("w-b", "uid-b", true)])
    ));
    e.expect("ns/w", vec!["w-c".into()], Vec::new());
    tokio::time::advance(Duration::from_secs(31)).await;
    assert!(e.satisfied("ns/w", timeout, cache(&[])), "timed out");
    assert!(e.satisfied("ns/other", timeout, cache(&[])));
}

#[tokio::test(start_paused = true)]
async fn create_backoff_should_grow_with_failures_and_reset_when_healthy() {
    let mut b = CreateBackoff::new(Duration::from_secs(1), Duration::from_secs(4));
    b.observe("w", 0, false);
    assert_eq!(b.wait("w"), None);
    b.observe("w", 1, false);
    assert_eq!(b.wait("w"), Some(Duration::from_secs(1)));
    tokio::time::advance(Duration::from_secs(1)).await;
    b.observe("w", 2, false);
    assert_eq!(b.wait("w"), Some(Duration::from_secs(2)));
    b.observe("w", 5, false);
    b.observe("w", 9, false);
    assert_eq!(b.wait("w"), Some(Duration::from_secs(4)), "capped");
    tokio::time::advance(Duration::from_secs(4)).await;
    b.observe("w", 9, true);
    b.observe("w", 10, false);
    assert_eq!(
        b.wait("w"),
        Some(Duration::from_secs(1)),
        "reset after a healthy round"
    );
    let _: Value = json!(null);
}

/// A [`super::Ctx`] over `client` whose set cache holds `sets` (and no pods).
fn ctx_with_sets(
    client: Arc<crate::client::testing::FakeClient>,
    sets: &[ReplicaSet],
) -> (super::Ctx, crate::reflector::Writer<ReplicaSet>) {
    let (set_store, mut writer) = crate::reflector::store::<ReplicaSet>();
    for s in sets {
        let obj = serde_json::to_value(s).expect("set json");
        writer.apply_watcher_event(&crate::watcher::Event::Apply(obj));
    }
    let (pods, _) = crate::reflector::store::<Pod>();
    let ctx = super::Ctx {
        client: client.clone(),
        sets: set_store,
        pods,
        expectations: Default::default(),
        backoff: std::sync::Mutex::new(CreateBackoff::new(
            Duration::from_secs(1),
            Duration::from_secs(1),
        )),
        recorder: crate::events::Recorder::new(
            client,
            crate::events::Reporter {
                component: super::REPLICASET_CONTROLLER.into(),
                instance: None,
            },
        ),
        config: super::ReplicaSetConfig::default(),
    };
    (ctx, writer)
}

#[tokio::test]
async fn creation_should_stop_between_batches_once_the_set_is_gone() {
    let pods = crate::builtin::resource("v1", "Pod").expect("pods");
    let mut set = rs(0);
    set.metadata.namespace = Some("default".into());
    set.metadata.uid = Some("uid-w".into());

    let client = Arc::new(crate::client::testing::FakeClient::new());
    let (live, _w) = ctx_with_sets(client.clone(), std::slice::from_ref(&set));
    super::sync::create_pods(&live, &set, "default/w", "default", 7)
        .await
        .expect("create");
    assert_eq!(client.objects(pods).len(), 7, "batches 1 + 2 + 4");

    let client = Arc::new(crate::client::testing::FakeClient::new());
    let (gone, _w) = ctx_with_sets(client.clone(), &[]);
    super::sync::create_pods(&gone, &set, "default/w", "default", 7)
        .await
        .expect("create");
    assert_eq!(client.objects(pods).len(), 1, "only the first batch");
}
