use super::*;
use crate::client::testing::FakeClient;
use crate::reflector::ObjectRef;
use serde_json::{Value, json};
use std::sync::Mutex;
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

/// A pod informer over `fake`, with the tracker that owns its task and the token that stops it.
fn spawn_pod_informer(
    fake: &Arc<FakeClient>,
) -> (SharedInformer<Pod>, TaskTracker, CancellationToken) {
    let (tasks, stop) = (TaskTracker::new(), CancellationToken::new());
    let informer = SharedInformer::<Pod>::spawn(
        fake.clone(),
        pods(),
        Default::default(),
        &tasks,
        stop.clone(),
    );
    (informer, tasks, stop)
}

#[tokio::test(start_paused = true)]
async fn subscribers_should_share_one_decoded_object_and_see_every_change() {
    let fake = Arc::new(FakeClient::new());
    fake.create(pods(), Some("a"), pod("p1", None))
        .await
        .expect("create");
    let (informer, tasks, stop) = spawn_pod_informer(&fake);
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

#[tokio::test(start_paused = true)]
async fn controllers_on_one_informer_should_share_its_store_and_reconcile_what_they_want() {
    use crate::controller::{Action, Controller, default_error_policy};
    let fake = Arc::new(FakeClient::new());
    fake.create(pods(), Some("a"), pod("bound", Some("n1")))
        .await
        .expect("create");
    fake.create(pods(), Some("a"), pod("pending", None))
        .await
        .expect("create");
    let (informer, _tasks, stop) = spawn_pod_informer(&fake);
    let seen: Arc<Mutex<Vec<(&'static str, String)>>> = Arc::default();
    let run = |name: &'static str, c: Controller<Pod>| {
        let seen = seen.clone();
        let stop = stop.clone();
        tokio::spawn(
            c.graceful_shutdown_on(stop)
                .run(
                    move |pod: Arc<Pod>, _ctx: Arc<()>| {
                        let seen = seen.clone();
                        async move {
                            let n = pod.metadata.name.clone().unwrap_or_default();
                            seen.lock().expect("lock").push((name, n));
                            Ok::<_, std::io::Error>(Action::await_change())
                        }
                    },
                    default_error_policy,
                    Arc::new(()),
                )
                .for_each(|_| async {}),
        )
    };
    let all = Controller::for_shared(fake.clone(), &informer);
    let bound_only = Controller::for_shared_filtered(fake.clone(), &informer, |p: &Pod| {
        p.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_some()
    });
    let (s1, s2) = (all.store(), bound_only.store());
    let t1 = run("all", all);
    let t2 = run("bound", bound_only);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut got = seen.lock().expect("lock").clone();
    got.sort();
    assert_eq!(
        got,
        vec![
            ("all", "bound".to_string()),
            ("all", "pending".to_string()),
            ("bound", "bound".to_string()),
        ]
    );
    let key = ObjectRef::new("pending").within("a");
    let (a, b) = (s1.get(&key).expect("cached"), s2.get(&key).expect("cached"));
    assert!(Arc::ptr_eq(&a, &b), "one decoded pod for both controllers");
    stop.cancel();
    t1.await.expect("join");
    t2.await.expect("join");
}

#[tokio::test(start_paused = true)]
async fn a_key_subscription_should_never_hold_the_informer_back_and_pend_each_key_once() {
    let fake = Arc::new(FakeClient::new());
    let (informer, _tasks, stop) = spawn_pod_informer(&fake);
    informer.store().wait_until_ready().await.expect("ready");
    let keys =
        Box::pin(informer.subscribe_keys(|p: &Pod| p.metadata.name.as_deref() != Some("unwanted")));
    let mut events = Box::pin(informer.subscribe());
    assert_eq!(next(&mut events).await, "Init");
    assert_eq!(next(&mut events).await, "InitDone");
    let n = 2 * SUBSCRIBER_CAPACITY;
    for i in 0..n {
        fake.create(pods(), Some("a"), pod(&format!("p{i}"), None))
            .await
            .expect("create");
    }
    fake.create(pods(), Some("a"), pod("unwanted", None))
        .await
        .expect("create");
    // p0 changes again while its key is still pending: it stays pending once.
    fake.patch(
        pods(),
        Some("a"),
        "p0",
        None,
        json!({"metadata": {"labels": {"app": "db"}}}),
    )
    .await
    .expect("patch");
    let mut seen = 0;
    while seen < n + 2 {
        let ev = next(&mut events).await;
        if ev.starts_with("Apply(") {
            seen += 1;
        }
    }
    assert_eq!(informer.store().len(), n + 1, "the informer went on");
    stop.cancel();
    let got: Vec<ObjectRef> = keys.collect().await;
    assert_eq!(got.len(), n, "every wanted key once, in order");
    assert_eq!(got[0], ObjectRef::new("p0").within("a"));
    assert!(!got.contains(&ObjectRef::new("unwanted").within("a")));
}
