use super::*;
use crate::client::testing::FakeClient;
use crate::reflector::ObjectRef;
use serde_json::{Value, json};
use std::time::Duration;

fn pod(name: &str, node: Option<&str>) -> Value {
    let mut p = json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "a", "labels": {"app": "web"}},
        "spec": {"containers": [{"name": "c", "image": "nginx"}]}});
    if let Some(n) = node {
        p["spec"]["nodeName"] = json!(n);
    }
    p
}

fn pods() -> &'static ApiResource {
    mock_k8_schemas::resource::by_kind("v1", "Pod").expect("served")
}

/// The next event of `s` as a short string (`Init`, `InitApply(p1)`, …), within 5 s.
async fn next<S: Stream<Item = Event<Arc<Pod>>> + Unpin>(s: &mut S) -> String {
    let ev = tokio::time::timeout(Duration::from_secs(5), s.next())
        .await
        .expect("an event in time")
        .expect("stream open");
    let name = |p: &Arc<Pod>| p.metadata.name.clone().unwrap_or_default();
    match ev {
        Event::Init => "Init".into(),
        Event::InitDone => "InitDone".into(),
        Event::InitApply(p) => format!("InitApply({})", name(&p)),
        Event::Apply(p) => format!("Apply({})", name(&p)),
        Event::Delete(p) => format!("Delete({})", name(&p)),
    }
}

#[tokio::test(start_paused = true)]
async fn subscribers_should_share_one_decoded_object_and_see_every_change() {
    let fake = Arc::new(FakeClient::new());
    fake.create(pods(), Some("a"), pod("p1", None))
        .await
        .expect("create");
    let (tasks, stop) = (TaskTracker::new(), CancellationToken::new());
    let informer = SharedInformer::<Pod>::spawn(
        fake.clone(),
        pods(),
        Default::default(),
        &tasks,
        stop.clone(),
    );
    let mut early = Box::pin(informer.subscribe());
    assert_eq!(next(&mut early).await, "Init");
    assert_eq!(next(&mut early).await, "InitApply(p1)");
    assert_eq!(next(&mut early).await, "InitDone");
    informer.store().wait_until_ready().await.expect("ready");

    // A late subscriber gets the contents first, then the same live changes.
    let mut late = Box::pin(informer.subscribe());
    assert_eq!(next(&mut late).await, "Init");
    assert_eq!(next(&mut late).await, "InitApply(p1)");
    assert_eq!(next(&mut late).await, "InitDone");
    fake.create(pods(), Some("a"), pod("p2", Some("n1")))
        .await
        .expect("create");
    assert_eq!(next(&mut early).await, "Apply(p2)");
    assert_eq!(next(&mut late).await, "Apply(p2)");

    // One decoded object: the store's Arc is the one the subscribers were handed.
    let key = ObjectRef::new("p2").within("a");
    let stored = informer.store().get(&key).expect("stored");
    assert_eq!(Arc::strong_count(&stored), 2, "store + this handle only");
    assert_eq!(informer.store().by_node_name("n1").len(), 1);

    fake.delete(pods(), Some("a"), "p1", &Default::default())
        .await
        .expect("delete");
    assert_eq!(next(&mut early).await, "Delete(p1)");
    assert_eq!(next(&mut late).await, "Delete(p1)");
    assert_eq!(informer.store().len(), 1);

    // A dropped subscriber does not hold the others back.
    drop(late);
    for i in 0..(SUBSCRIBER_CAPACITY + 10) {
        fake.create(pods(), Some("a"), pod(&format!("q{i}"), None))
            .await
            .expect("create");
        assert_eq!(next(&mut early).await, format!("Apply(q{i})"));
    }

    stop.cancel();
    tasks.close();
    tokio::time::timeout(Duration::from_secs(5), tasks.wait())
        .await
        .expect("informer stops");
    let rest: Vec<_> = early.collect().await;
    assert!(rest.is_empty(), "the stream ends with the informer");
}

#[tokio::test(start_paused = true)]
async fn informers_should_hand_out_one_informer_per_resource() {
    let fake = Arc::new(FakeClient::new());
    let stop = CancellationToken::new();
    let informers = Informers::new(fake.clone(), stop.clone());
    let a = informers.pods().expect("pods");
    let b = informers.pods().expect("pods");
    assert!(Arc::ptr_eq(&a.shared, &b.shared));
    informers.nodes().expect("nodes");
    a.store().wait_until_ready().await.expect("ready");
    stop.cancel();
    tokio::time::timeout(Duration::from_secs(5), informers.stopped())
        .await
        .expect("stopped");
}
