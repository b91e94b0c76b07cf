//! Store-level tests: openraft's storage conformance suite on our log store and state machine, and
//! the public `Store` API on a temporary directory.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mock_k8_schemas::watch::EventType;
use openraft::storage::{RaftSnapshotBuilder, RaftStateMachine};
use openraft::testing::{StoreBuilder, Suite};
use openraft::{CommittedLeaderId, EntryPayload, LogId};
use serde_json::json;
use tempfile::TempDir;

use super::backend::{Backend, SledBackend};
use super::log_store::LogStore;
use super::state_machine::StateMachine;
use super::types::{Entry, StorageError, TypeConfig};
use super::*;

struct SledStoreBuilder;

impl StoreBuilder<TypeConfig, LogStore, StateMachine, TempDir> for SledStoreBuilder {
    async fn build(&self) -> Result<(TempDir, LogStore, StateMachine), StorageError> {
        let io = |e: std::io::Error| StorageError::from(openraft::StorageIOError::write(&e));
        let dir = TempDir::new().map_err(io)?;
        let backend: Arc<dyn Backend> = Arc::new(SledBackend::open(dir.path()).map_err(io)?);
        let log = LogStore::new(backend.clone(), &dir.path().join("wal")).map_err(io)?;
        let sm = StateMachine::open(backend, 100).map_err(io)?;
        Ok((dir, log, sm))
    }
}

#[test]
fn storage_should_pass_openraft_suite() {
    Suite::test_all(SledStoreBuilder).unwrap();
}

fn config(dir: &TempDir, watch_history: usize) -> StoreConfig {
    StoreConfig {
        member_key: None,
        dir: dir.path().join("raft"),
        node_id: 1,
        advertise_addr: "127.0.0.1:8080".into(),
        watch_history,
        max_batch: 512,
        rpc_key: String::new(),
        bootstrap: true,
        raft: Default::default(),
    }
}

fn ns_key(name: &str) -> String {
    format!("core/namespaces//{name}")
}

fn pod_key(ns: &str, name: &str) -> String {
    format!("core/pods/{ns}/{name}")
}

fn obj(name: &str) -> serde_json::Value {
    json!({"apiVersion": "v1", "metadata": {"name": name, "uid": format!("uid-{name}")}})
}

async fn create(store: &Store, key: String, name: &str) -> Result<Arc<StoredObject>, StoreError> {
    store
        .write(WriteOp::Create {
            key,
            object: obj(name).into(),
        })
        .await
}

#[tokio::test]
async fn store_should_enforce_write_preconditions() {
    let dir = TempDir::new().unwrap();
    let store = Store::open(config(&dir, 100)).await.unwrap();
    assert_eq!(
        create(&store, pod_key("a", "p"), "p").await,
        Err(StoreError::NamespaceNotFound("a".into()))
    );
    let ns = create(&store, ns_key("a"), "a").await.unwrap();
    assert_eq!(ns.resource_version, store.revision());
    let pod = create(&store, pod_key("a", "p"), "p").await.unwrap();
    assert!(pod.resource_version > ns.resource_version);
    assert!(
        pod.json
            .contains(&format!(r#""resourceVersion":"{}""#, pod.resource_version))
    );
    assert_eq!(
        create(&store, pod_key("a", "p"), "p").await,
        Err(StoreError::AlreadyExists)
    );

    let stale = WriteOp::Update {
        key: pod_key("a", "p"),
        object: obj("p").into(),
        expected_rv: Some(ns.resource_version),
    };
    assert_eq!(store.write(stale).await, Err(StoreError::Conflict));
    let upd = WriteOp::Update {
        key: pod_key("a", "p"),
        object: obj("p").into(),
        expected_rv: Some(pod.resource_version),
    };
    let updated = store.write(upd).await.unwrap();
    assert_eq!(store.get(&pod_key("a", "p")), Some(updated.clone()));
    let missing = WriteOp::Update {
        key: pod_key("a", "q"),
        object: obj("q").into(),
        expected_rv: None,
    };
    assert_eq!(store.write(missing).await, Err(StoreError::NotFound));

    let del = |rv, uid: Option<&str>| WriteOp::Delete {
        key: pod_key("a", "p"),
        expected_rv: rv,
        expected_uid: uid.map(String::from),
    };
    assert_eq!(
        store.write(del(Some(pod.resource_version), None)).await,
        Err(StoreError::Conflict)
    );
    assert_eq!(
        store.write(del(None, Some("other"))).await,
        Err(StoreError::Conflict)
    );
    let gone = store
        .write(del(Some(updated.resource_version), Some("uid-p")))
        .await
        .unwrap();
    assert_eq!(gone.resource_version, store.revision());
    assert!(store.get(&pod_key("a", "p")).is_none());
    assert_eq!(
        store.write(del(None, None)).await,
        Err(StoreError::NotFound)
    );
    let stats = store.stats();
    assert_eq!(
        stats.objects_by_resource,
        vec![("core/namespaces".to_string(), 1)]
    );
    assert_eq!(
        (stats.raft_state.as_str(), stats.raft_leader),
        ("Leader", Some(1))
    );
    store.shutdown().await;
}

#[tokio::test]
async fn store_should_give_concurrent_writes_distinct_increasing_revisions() {
    let dir = TempDir::new().unwrap();
    let store = Store::open(config(&dir, 1000)).await.unwrap();
    create(&store, ns_key("a"), "a").await.unwrap();
    let start = store.revision();
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move { create(&store, pod_key("a", &format!("p{i}")), "p").await })
        })
        .collect();
    let mut rvs = BTreeSet::new();
    for t in tasks {
        rvs.insert(t.await.unwrap().unwrap().resource_version);
    }
    assert_eq!(rvs.len(), 200);
    assert_eq!(
        rvs.iter().copied().collect::<Vec<_>>(),
        (start + 1..=start + 200).collect::<Vec<_>>()
    );
    assert_eq!(store.revision(), start + 200);
    let (items, rev) = store.list("core/pods/a/");
    assert_eq!((items.len(), rev), (200, start + 200));
    store.shutdown().await;
}

#[tokio::test]
async fn store_should_cascade_namespace_delete_with_deleted_events() {
    let dir = TempDir::new().unwrap();
    let store = Store::open(config(&dir, 100)).await.unwrap();
    create(&store, ns_key("a"), "a").await.unwrap();
    create(&store, ns_key("b"), "b").await.unwrap();
    for p in ["p1", "p2"] {
        create(&store, pod_key("a", p), p).await.unwrap();
    }
    create(&store, pod_key("b", "p3"), "p3").await.unwrap();
    let mut rx = store.watch("", store.revision()).unwrap();
    let deleted = store
        .write(WriteOp::Delete {
            key: ns_key("a"),
            expected_rv: None,
            expected_uid: None,
        })
        .await
        .unwrap();
    let mut events = Vec::new();
    for _ in 0..3 {
        let r = rx.recv().await.unwrap();
        assert_eq!(r.event_type, EventType::Deleted);
        events.push(r.object.key.clone());
    }
    assert_eq!(
        events,
        vec![pod_key("a", "p1"), pod_key("a", "p2"), ns_key("a")]
    );
    assert_eq!(deleted.resource_version, store.revision());
    assert_eq!(store.list("core/pods/").0.len(), 1);
    store.shutdown().await;
}

#[tokio::test]
async fn watch_should_replay_history_then_stream_and_expire_old_resume_points() {
    let dir = TempDir::new().unwrap();
    let store = Store::open(config(&dir, 5)).await.unwrap();
    create(&store, ns_key("a"), "a").await.unwrap();
    let base = store.revision();
    for i in 0..3 {
        create(&store, pod_key("a", &format!("p{i}")), "p")
            .await
            .unwrap();
    }
    // From an old revision still in the history: replay, then live.
    let mut old = store.watch("core/pods/", base).unwrap();
    let mut now = store.watch("core/pods/", store.revision()).unwrap();
    create(&store, pod_key("a", "new"), "new").await.unwrap();
    let replayed: Vec<u64> = [
        old.recv().await,
        old.recv().await,
        old.recv().await,
        old.recv().await,
    ]
    .into_iter()
    .map(|r| r.unwrap().revision)
    .collect();
    assert_eq!(replayed, (base + 1..=base + 4).collect::<Vec<_>>());
    let live = now.recv().await.unwrap();
    assert_eq!(
        (live.revision, live.object.key.as_str()),
        (base + 4, "core/pods/a/new")
    );
    assert_eq!(store.stats().watchers, 2);
    // Beyond the 5 kept changes: Expired.
    for i in 0..10 {
        create(&store, pod_key("a", &format!("q{i}")), "q")
            .await
            .unwrap();
    }
    let err = store.watch("", base).err().unwrap();
    let oldest = store.revision() - 5;
    assert_eq!(
        err,
        StoreError::Expired {
            requested: base,
            oldest
        }
    );
    assert!(store.watch("", oldest).is_ok());
    store.shutdown().await;
    assert!(matches!(
        now.recv().await,
        Ok(_) | Err(StoreError::Unavailable(_))
    ));
}

async fn write_many(store: &Store, ns: &str, n: usize, tasks: usize) -> Duration {
    let started = Instant::now();
    let handles: Vec<_> = (0..tasks)
        .map(|t| {
            let (store, ns) = (store.clone(), ns.to_string());
            tokio::spawn(async move {
                for i in (t..n).step_by(tasks) {
                    create(&store, pod_key(&ns, &format!("p{i}")), "p")
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.await.unwrap();
    }
    started.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lagging_watcher_should_catch_up_from_history_or_expire_without_blocking_writes() {
    for (history, expect_expired) in [(5000, false), (100, true)] {
        let dir = TempDir::new().unwrap();
        let store = Store::open(config(&dir, history)).await.unwrap();
        create(&store, ns_key("a"), "a").await.unwrap();
        let from = store.revision();
        let mut rx = store.watch("core/pods/", from).unwrap();
        // Not polled while 3000 writes happen: writes must not wait for it.
        tokio::time::timeout(Duration::from_secs(60), write_many(&store, "a", 3000, 64))
            .await
            .unwrap();
        if expect_expired {
            assert!(matches!(rx.recv().await, Err(StoreError::Expired { .. })));
        } else {
            for want in from + 1..=from + 3000 {
                assert_eq!(rx.recv().await.unwrap().revision, want);
            }
        }
        store.shutdown().await;
    }
}

#[tokio::test]
async fn store_should_recover_objects_and_revision_after_reopen() {
    let dir = TempDir::new().unwrap();
    let store = Store::open(config(&dir, 100)).await.unwrap();
    create(&store, ns_key("a"), "a").await.unwrap();
    write_many(&store, "a", 50, 8).await;
    store
        .write(WriteOp::Delete {
            key: pod_key("a", "p7"),
            expected_rv: None,
            expected_uid: None,
        })
        .await
        .unwrap();
    let (before, rev) = store.list("");
    store.shutdown().await;
    assert!(matches!(
        create(&store, pod_key("a", "late"), "late").await,
        Err(StoreError::Unavailable(_))
    ));
    drop(store);

    let store = Store::open(config(&dir, 100)).await.unwrap();
    assert_eq!(store.list(""), (before, rev));
    assert!(
        store.watch("", rev).is_ok(),
        "the current revision is a valid watch start"
    );
    assert_eq!(
        create(&store, pod_key("a", "after"), "after")
            .await
            .unwrap()
            .resource_version,
        rev + 1
    );
    store.shutdown().await;
}

fn normal_entry(index: u64, ops: Vec<WriteOp>) -> Entry {
    Entry {
        log_id: LogId::new(CommittedLeaderId::new(1, 1), index),
        payload: EntryPayload::Normal(
            ops.into_iter()
                .map(|op| crate::store::types::Proposal {
                    op,
                    intent: Vec::new(),
                })
                .collect(),
        ),
    }
}

#[tokio::test]
async fn state_machine_should_install_a_built_snapshot() {
    let (d1, d2) = (TempDir::new().unwrap(), TempDir::new().unwrap());
    let open = |d: &TempDir| -> StateMachine {
        let backend: Arc<dyn Backend> = Arc::new(SledBackend::open(d.path()).unwrap());
        StateMachine::open(backend, 10).unwrap()
    };
    let mut source = open(&d1);
    let ops = vec![
        WriteOp::Create {
            key: ns_key("a"),
            object: obj("a").into(),
        },
        WriteOp::Create {
            key: pod_key("a", "p"),
            object: obj("p").into(),
        },
    ];
    let results = source.apply(vec![normal_entry(1, ops)]).await.unwrap();
    assert!(results[0].iter().all(Result::is_ok));
    let snapshot = source
        .get_snapshot_builder()
        .await
        .build_snapshot()
        .await
        .unwrap();
    assert_eq!(snapshot.meta.last_log_id.map(|l| l.index), Some(1));

    let mut target = open(&d2);
    let mut rx = target.hub().subscribe("", 0).unwrap();
    target
        .install_snapshot(&snapshot.meta, snapshot.snapshot)
        .await
        .unwrap();
    assert!(matches!(rx.recv().await, Err(StoreError::Expired { .. })));
    assert_eq!(target.cache().list(""), source.cache().list(""));
    assert_eq!(
        target.applied_state().await.unwrap().0.map(|l| l.index),
        Some(1)
    );
    assert!(target.get_current_snapshot().await.unwrap().is_some());
    drop(target);
    // The installed state is persisted.
    let reopened = open(&d2);
    assert_eq!(reopened.cache().list(""), source.cache().list(""));
}

/// Quick local throughput check: `cargo test -p mock_k8 --lib store::tests::throughput -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn throughput_report() {
    let dir = TempDir::new().unwrap();
    let store = Store::open(config(&dir, 100_000)).await.unwrap();
    create(&store, ns_key("a"), "a").await.unwrap();
    for (n, tasks) in [(2000, 1), (2000, 64), (10_000, 256)] {
        let ns = format!("t{tasks}");
        create(&store, ns_key(&ns), &ns).await.unwrap();
        let took = write_many(&store, &ns, n, tasks).await;
        println!(
            "{n} creates from {tasks} tasks: {:.0} writes/s, {:.0} µs per write",
            n as f64 / took.as_secs_f64(),
            took.as_micros() as f64 / n as f64
        );
    }
    store.shutdown().await;
}

#[tokio::test]
async fn store_should_reopen_after_drop_without_shutdown() {
    let dir = TempDir::new().unwrap();
    let store = Store::open(config(&dir, 100)).await.unwrap();
    create(&store, ns_key("a"), "a").await.unwrap();
    let rev = store.revision();
    drop(store);
    let store = Store::open(config(&dir, 100)).await.unwrap();
    assert_eq!(store.revision(), rev);
    store.shutdown().await;
}

#[tokio::test]
async fn store_should_refuse_a_node_id_outside_the_recorded_cluster() {
    let dir = TempDir::new().unwrap();
    Store::open(config(&dir, 100))
        .await
        .unwrap()
        .shutdown()
        .await;
    let other = StoreConfig {
        member_key: None,
        node_id: 7,
        ..config(&dir, 100)
    };
    let err = Store::open(other).await.err().unwrap();
    assert!(
        matches!(&err, StoreError::Unavailable(m) if m.contains("not a member")),
        "{err}"
    );
}

#[tokio::test]
async fn store_should_restart_from_state_after_snapshot_and_log_purge() {
    let dir = TempDir::new().unwrap();
    let store = Store::open(config(&dir, 100)).await.unwrap();
    create(&store, ns_key("a"), "a").await.unwrap();
    write_many(&store, "a", 40, 4).await;
    let raft = store.inner.raft.clone();
    let applied = store.stats().raft_applied_index;
    raft.trigger().snapshot().await.unwrap();
    let wait = Some(Duration::from_secs(10));
    raft.wait(wait)
        .metrics(|m| m.snapshot.map(|s| s.index) >= Some(applied), "snapshot")
        .await
        .unwrap();
    raft.trigger().purge_log(applied).await.unwrap();
    raft.wait(wait)
        .metrics(|m| m.purged.map(|p| p.index) >= Some(applied), "purged")
        .await
        .unwrap();
    let before = store.list("");
    store.shutdown().await;
    drop((store, raft));

    let store = Store::open(config(&dir, 100)).await.unwrap();
    assert_eq!(store.list(""), before);
    let next = create(&store, pod_key("a", "after"), "after")
        .await
        .unwrap();
    assert_eq!(next.resource_version, before.1 + 1);
    store.shutdown().await;
}
