use super::*;
use crate::client::testing::FakeClient;
use k8s_openapi::api::core::v1::Pod;

fn setup(config: RecorderConfig) -> (Arc<FakeClient>, Recorder, &'static ApiResource) {
    let fake = Arc::new(FakeClient::new());
    let reporter = Reporter {
        component: "default-scheduler".into(),
        instance: None,
    };
    let rec = Recorder::with_config(fake.clone(), reporter, config);
    (fake, rec, events_resource().expect("events served"))
}

fn pod_ref(name: &str) -> Regarding {
    let mut p = Pod::default();
    p.metadata.name = Some(name.into());
    p.metadata.namespace = Some("d".into());
    p.metadata.uid = Some(format!("uid-{name}"));
    Regarding::from_obj(&p)
}

#[tokio::test(start_paused = true)]
async fn recorder_should_fold_repeats_into_one_event_with_a_count() {
    let (fake, rec, events) = setup(RecorderConfig::default());
    let failed = EventSpec::warning(
        "FailedScheduling",
        "0/3 nodes are available: 3 Insufficient cpu.",
    );
    rec.publish(&pod_ref("web"), &failed)
        .await
        .expect("publish");
    rec.publish(&pod_ref("web"), &failed)
        .await
        .expect("publish");
    rec.publish(
        &pod_ref("web"),
        &EventSpec::normal("Scheduled", "Successfully assigned d/web to n1"),
    )
    .await
    .expect("publish");
    let stored = fake.objects(events);
    assert_eq!(stored.len(), 2);
    let warn = stored
        .iter()
        .find(|e| e["reason"] == "FailedScheduling")
        .expect("warning event");
    assert_eq!(warn["count"], 2);
    assert_eq!(warn["type"], "Warning");
    assert_eq!(warn["involvedObject"]["kind"], "Pod");
    assert_eq!(warn["involvedObject"]["uid"], "uid-web");
    assert_eq!(warn["source"]["component"], "default-scheduler");
    assert_eq!(meta::namespace(warn), "d");
    assert!(meta::name(warn).starts_with("web."));
}

#[tokio::test(start_paused = true)]
async fn recorder_should_bound_and_expire_its_fold_cache() {
    let config = RecorderConfig {
        max_cached: 2,
        series_window: Duration::from_secs(60),
    };
    let (fake, rec, events) = setup(config);
    let ev = EventSpec::normal("Started", "Started container web");
    for name in ["a", "b", "c"] {
        rec.publish(&pod_ref(name), &ev).await.expect("publish");
    }
    // "a" was evicted (cache of 2): its repeat is a new Event.
    rec.publish(&pod_ref("a"), &ev).await.expect("publish");
    assert_eq!(fake.objects(events).len(), 4);
    // "a" is cached now; after the series window a repeat starts a new Event too.
    tokio::time::advance(Duration::from_secs(61)).await;
    rec.publish(&pod_ref("a"), &ev).await.expect("publish");
    assert_eq!(fake.objects(events).len(), 5);
    assert!(fake.objects(events).iter().all(|e| e["count"] == 1));
}

#[tokio::test(start_paused = true)]
async fn recorder_should_put_cluster_scoped_events_in_default_and_recreate_expired_ones() {
    let (fake, rec, events) = setup(RecorderConfig::default());
    let nodes = mock_k8_schemas::resource::by_kind("v1", "Node").expect("nodes");
    let node = json!({"metadata": {"name": "n1", "uid": "u1"}});
    let ev = EventSpec::normal("NodeNotReady", "Node n1 status is now: NodeNotReady");
    rec.publish(&Regarding::from_value(nodes, &node), &ev)
        .await
        .expect("publish");
    let stored = fake.objects(events);
    assert_eq!(meta::namespace(&stored[0]), "default");
    assert!(stored[0]["involvedObject"].get("namespace").is_none());
    // The server's TTL removed it: the next repeat recreates it with the running count.
    fake.delete(
        events,
        Some("default"),
        meta::name(&stored[0]),
        &Default::default(),
    )
    .await
    .expect("delete");
    rec.publish(&Regarding::from_value(nodes, &node), &ev)
        .await
        .expect("publish");
    let stored = fake.objects(events);
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0]["count"], 2);
}
