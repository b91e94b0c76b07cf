//! Controller tests, all on simulated time (`start_paused`): virtual seconds pass instantly and
//! exactly, so timings are asserted to the millisecond.

use super::*;
use crate::client::testing::FakeClient;
use futures::StreamExt;
use mock_k8_schemas::resource::by_kind;
use serde_json::json;
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::time::{Instant, sleep};

#[derive(Debug, thiserror::Error)]
#[error("boom")]
struct Boom;

/// What each reconcile does, and what the test observes.
struct Probe {
    work: Duration,
    result: fn(&ObjectRef) -> Result<Action, Boom>,
    calls: Mutex<Vec<(ObjectRef, Instant)>>,
    in_flight: Mutex<HashMap<ObjectRef, usize>>,
    max_per_key: AtomicUsize,
    total: AtomicUsize,
    max_total: AtomicUsize,
}

impl Probe {
    fn new(work: Duration, result: fn(&ObjectRef) -> Result<Action, Boom>) -> Arc<Self> {
        Arc::new(Probe {
            work,
            result,
            calls: Mutex::default(),
            in_flight: Mutex::default(),
            max_per_key: AtomicUsize::new(0),
            total: AtomicUsize::new(0),
            max_total: AtomicUsize::new(0),
        })
    }

    fn calls_of(&self, name: &str) -> Vec<Instant> {
        self.calls
            .lock()
            .expect("lock")
            .iter()
            .filter(|(k, _)| k.name == name)
            .map(|(_, t)| *t)
            .collect()
    }

    fn count(&self) -> usize {
        self.calls.lock().expect("lock").len()
    }
}

async fn reconcile(obj: Arc<Value>, p: Arc<Probe>) -> Result<Action, Boom> {
    let key = ObjectRef::from_value(&obj);
    p.calls
        .lock()
        .expect("lock")
        .push((key.clone(), Instant::now()));
    let per_key = {
        let mut m = p.in_flight.lock().expect("lock");
        let n = m.entry(key.clone()).or_insert(0);
        *n += 1;
        *n
    };
    p.max_per_key.fetch_max(per_key, Ordering::SeqCst);
    let total = p.total.fetch_add(1, Ordering::SeqCst) + 1;
    p.max_total.fetch_max(total, Ordering::SeqCst);
    sleep(p.work).await;
    p.total.fetch_sub(1, Ordering::SeqCst);
    *p.in_flight
        .lock()
        .expect("lock")
        .entry(key.clone())
        .or_insert(1) -= 1;
    (p.result)(&key)
}

fn pods() -> &'static ApiResource {
    by_kind("v1", "Pod").expect("pods")
}

async fn fake_with_pods(n: usize) -> Arc<FakeClient> {
    let fake = Arc::new(FakeClient::new());
    for i in 0..n {
        fake.create(
            pods(),
            Some("d"),
            json!({"metadata": {"name": format!("p{i}")}}),
        )
        .await
        .expect("create");
    }
    fake
}

fn key(name: &str) -> ObjectRef {
    ObjectRef::new(name).within("d")
}

type Results = Arc<Mutex<Vec<Result<(ObjectRef, Action), String>>>>;

/// Runs `c` in the background, collecting its items; returns the collected items and the task.
fn spawn_run(c: Controller<Value>, probe: Arc<Probe>) -> (Results, tokio::task::JoinHandle<()>) {
    let out: Results = Arc::default();
    let sink = out.clone();
    let task = tokio::spawn(
        c.run(reconcile, default_error_policy, probe)
            .for_each(move |item| {
                sink.lock()
                    .expect("lock")
                    .push(item.map_err(|e| e.to_string()));
                async {}
            }),
    );
    (out, task)
}

fn await_change(_: &ObjectRef) -> Result<Action, Boom> {
    Ok(Action::await_change())
}

#[tokio::test(start_paused = true)]
async fn controller_should_dedupe_triggers_into_one_reconcile() {
    let fake = fake_with_pods(2).await;
    let probe = Probe::new(Duration::from_secs(5), await_change);
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let keys =
        futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|k| (k, rx)) });
    let c = Controller::<Value>::new(fake.clone(), pods(), Default::default())
        .reconcile_on(keys)
        .with_config(Config {
            concurrency: 1,
            ..Config::default()
        });
    // Before the store is ready: p0 triggered by the list and three more times → one reconcile.
    for _ in 0..3 {
        tx.send(key("p0")).expect("send");
    }
    let (out, _task) = spawn_run(c, probe.clone());
    sleep(Duration::from_secs(1)).await;
    // p1 is waiting behind p0 (concurrency 1): three more triggers dedupe into its queued entry.
    for _ in 0..3 {
        tx.send(key("p1")).expect("send");
    }
    tx.send(key("gone")).expect("send");
    sleep(Duration::from_secs(60)).await;
    assert_eq!(probe.calls_of("p0").len(), 1);
    assert_eq!(probe.calls_of("p1").len(), 1);
    let items = out.lock().expect("lock").clone();
    assert!(items.contains(&Err("object d/gone not found in the store".into())));
}

#[tokio::test(start_paused = true)]
async fn controller_should_requeue_at_the_requested_time() {
    let fake = fake_with_pods(1).await;
    let probe = Probe::new(Duration::ZERO, |_| {
        Ok(Action::requeue(Duration::from_secs(10)))
    });
    let (_out, _task) = spawn_run(
        Controller::new(fake, pods(), Default::default()),
        probe.clone(),
    );
    sleep(Duration::from_millis(35_500)).await;
    let calls = probe.calls_of("p0");
    let gaps: Vec<Duration> = calls.windows(2).map(|w| w[1] - w[0]).collect();
    assert_eq!(
        gaps,
        vec![Duration::from_secs(10); 3],
        "runs at t0, t0+10 s, t0+20 s, t0+30 s"
    );
}

#[tokio::test(start_paused = true)]
async fn controller_should_back_off_exponentially_on_errors() {
    let fake = fake_with_pods(1).await;
    let probe = Probe::new(Duration::ZERO, |_| Err(Boom));
    let backoff = BackoffConfig {
        initial: Duration::from_secs(1),
        max: Duration::from_secs(8),
        factor: 2,
        jitter: true,
    };
    let c = Controller::new(fake, pods(), Default::default()).with_config(Config {
        error_backoff: backoff,
        ..Config::default()
    });
    let (out, _task) = spawn_run(c, probe.clone());
    sleep(Duration::from_secs(40)).await;
    let calls = probe.calls_of("p0");
    let gaps: Vec<Duration> = calls.windows(2).map(|w| w[1] - w[0]).collect();
    // Bases 1, 2, 4, 8, 8 s (capped), each jittered into [base/2, base].
    for (i, base) in [1u64, 2, 4, 8, 8].into_iter().enumerate() {
        let (lo, hi) = (Duration::from_millis(base * 500), Duration::from_secs(base));
        assert!(
            gaps[i] >= lo && gaps[i] <= hi,
            "gap {i} = {:?} not in [{lo:?}, {hi:?}]",
            gaps[i]
        );
    }
    assert!(
        out.lock()
            .expect("lock")
            .iter()
            .all(|r| r.as_ref().is_err_and(|e| e.contains("boom")))
    );
}

#[tokio::test(start_paused = true)]
async fn controller_should_never_run_one_object_twice_at_once() {
    let fake = fake_with_pods(1).await;
    let probe = Probe::new(Duration::from_secs(5), await_change);
    let (_out, _task) = spawn_run(
        Controller::new(fake.clone(), pods(), Default::default()).with_config(Config {
            concurrency: 4,
            ..Config::default()
        }),
        probe.clone(),
    );
    sleep(Duration::from_secs(1)).await;
    // Three changes while the first reconcile runs: exactly one more run, right after it.
    for i in 0..3 {
        fake.patch(
            pods(),
            Some("d"),
            "p0",
            None,
            json!({"metadata": {"labels": {"n": i.to_string()}}}),
        )
        .await
        .expect("patch");
        sleep(Duration::from_secs(1)).await;
    }
    sleep(Duration::from_secs(30)).await;
    let calls = probe.calls_of("p0");
    assert_eq!(probe.max_per_key.load(Ordering::SeqCst), 1);
    assert_eq!(calls.len(), 2);
    assert_eq!(
        calls[1] - calls[0],
        Duration::from_secs(5),
        "the follow-up starts when the first ends"
    );
}

#[tokio::test(start_paused = true)]
async fn controller_should_bound_concurrency() {
    let fake = fake_with_pods(10).await;
    let probe = Probe::new(Duration::from_secs(1), await_change);
    let (_out, _task) = spawn_run(
        Controller::new(fake, pods(), Default::default()).with_config(Config {
            concurrency: 3,
            ..Config::default()
        }),
        probe.clone(),
    );
    sleep(Duration::from_millis(3500)).await;
    assert_eq!(
        probe.count(),
        10,
        "10 objects in ceil(10/3) = 4 waves of 1 s"
    );
    assert_eq!(probe.max_total.load(Ordering::SeqCst), 3);
}

#[tokio::test(start_paused = true)]
async fn controller_should_not_deadlock_when_the_queue_is_full() {
    let fake = fake_with_pods(20).await;
    // Every reconcile asks to run again soon, and a flood of extra triggers arrives.
    let probe = Probe::new(Duration::from_millis(100), |_| {
        Ok(Action::requeue(Duration::from_millis(50)))
    });
    let flood = futures::stream::iter((0..200).map(|i| key(&format!("p{}", i % 20))));
    let c = Controller::new(fake.clone(), pods(), Default::default())
        .reconcile_on(flood)
        .with_config(Config {
            concurrency: 1,
            queue_capacity: 1,
            ..Config::default()
        });
    let (_out, _task) = spawn_run(c, probe.clone());
    sleep(Duration::from_secs(30)).await;
    fake.create(pods(), Some("d"), json!({"metadata": {"name": "late"}}))
        .await
        .expect("create");
    sleep(Duration::from_secs(30)).await;
    for i in 0..20 {
        assert!(
            !probe.calls_of(&format!("p{i}")).is_empty(),
            "p{i} was reconciled"
        );
    }
    assert!(
        !probe.calls_of("late").is_empty(),
        "triggers still flow after the flood"
    );
    assert_eq!(probe.max_total.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn controller_should_drain_running_reconciles_on_shutdown() {
    let fake = fake_with_pods(5).await;
    let probe = Probe::new(Duration::from_secs(5), |_| {
        Ok(Action::requeue(Duration::from_millis(1)))
    });
    let token = CancellationToken::new();
    let c = Controller::new(fake, pods(), Default::default())
        .with_config(Config {
            concurrency: 3,
            ..Config::default()
        })
        .graceful_shutdown_on(token.clone());
    let (out, task) = spawn_run(c, probe.clone());
    sleep(Duration::from_secs(1)).await;
    token.cancel();
    let started = Instant::now();
    tokio::time::timeout(Duration::from_secs(60), task)
        .await
        .expect("stream ends")
        .expect("no panic");
    assert_eq!(
        started.elapsed(),
        Duration::from_secs(4),
        "waited for the running reconciles only"
    );
    assert_eq!(probe.count(), 3, "nothing new started after the stop");
    assert_eq!(
        out.lock()
            .expect("lock")
            .iter()
            .filter(|r| r.is_ok())
            .count(),
        3,
        "their results were emitted"
    );
}

#[tokio::test(start_paused = true)]
async fn controller_should_pass_every_result_through_the_hook() {
    let fake = fake_with_pods(2).await;
    let probe = Probe::new(Duration::ZERO, |k| {
        if k.name == "p1" {
            Err(Boom)
        } else {
            Ok(Action::await_change())
        }
    });
    type Seen = Vec<(String, Option<String>, Outcome)>;
    let seen: Arc<Mutex<Seen>> = Arc::default();
    let sink = seen.clone();
    let hook = move |r: &ReconcileResult<'_>| {
        assert_eq!(r.resource.kind, "Pod");
        sink.lock().expect("lock").push((
            r.object.to_string(),
            r.resource_version.map(str::to_string),
            r.outcome.clone(),
        ));
    };
    let backoff = BackoffConfig {
        initial: Duration::from_secs(100),
        max: Duration::from_secs(100),
        factor: 2,
        jitter: false,
    };
    let c = Controller::new(fake, pods(), Default::default())
        .with_result_hook(Arc::new(hook))
        .with_config(Config {
            error_backoff: backoff,
            ..Config::default()
        });
    let (out, _task) = spawn_run(c, probe);
    sleep(Duration::from_secs(1)).await;
    let seen = seen.lock().expect("lock").clone();
    assert_eq!(
        seen,
        vec![
            (
                "d/p0".to_string(),
                Some("1".to_string()),
                Outcome::Reconciled(Action::await_change())
            ),
            (
                "d/p1".to_string(),
                Some("2".to_string()),
                Outcome::Failed {
                    error: "boom".into(),
                    requeue_after: Some(Duration::from_secs(100))
                }
            ),
        ]
    );
    assert_eq!(
        out.lock().expect("lock").len(),
        2,
        "the hook saw exactly what was emitted"
    );
}

#[tokio::test(start_paused = true)]
async fn controller_should_trigger_owners_and_mapped_objects() {
    let fake = Arc::new(FakeClient::new());
    let rs = by_kind("apps/v1", "ReplicaSet").expect("rs");
    let svc = by_kind("v1", "Service").expect("svc");
    fake.create(rs, Some("d"), json!({"metadata": {"name": "rs1"}}))
        .await
        .expect("rs");
    fake.create(svc, Some("d"), json!({"metadata": {"name": "web"}}))
        .await
        .expect("svc");
    let probe = Probe::new(Duration::ZERO, await_change);
    let rs_c = Controller::<Value>::new(fake.clone(), rs, Default::default())
        .owns(pods(), Default::default());
    let svc_c = Controller::<Value>::new(fake.clone(), svc, Default::default()).watches(
        pods(),
        Default::default(),
        |p: &Value| {
            meta::labels(p)
                .get("app")
                .map(|a| vec![ObjectRef::new(a).within(meta::namespace(p))])
                .unwrap_or_default()
        },
    );
    let (_o1, _t1) = spawn_run(rs_c, probe.clone());
    let (_o2, _t2) = spawn_run(svc_c, probe.clone());
    sleep(Duration::from_secs(1)).await;
    assert_eq!(
        (probe.calls_of("rs1").len(), probe.calls_of("web").len()),
        (1, 1)
    );
    let owner = json!([{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs1", "uid": "u"}]);
    fake.create(
        pods(),
        Some("d"),
        json!({"metadata": {"name": "x", "labels": {"app": "web"}, "ownerReferences": owner}}),
    )
    .await
    .expect("pod");
    sleep(Duration::from_secs(1)).await;
    assert_eq!(
        (probe.calls_of("rs1").len(), probe.calls_of("web").len()),
        (2, 2)
    );
    fake.delete(pods(), Some("d"), "x", &Default::default())
        .await
        .expect("delete");
    sleep(Duration::from_secs(1)).await;
    assert_eq!(
        (probe.calls_of("rs1").len(), probe.calls_of("web").len()),
        (3, 3),
        "deletions trigger too"
    );
}
