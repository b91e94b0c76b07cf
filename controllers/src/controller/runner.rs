//! The driver of a [`super::Controller`]: one loop that takes triggers into the [`WorkQueue`],
//! starts due reconciles as tokio tasks (bounded, one per key), and routes their results through
//! the [`ResultHook`] before emitting them.
//!
//! Why tasks (a `JoinSet`) rather than futures polled in the loop: reconciles then run in parallel
//! on the multi-threaded runtime, a panicking reconcile is contained (reported as
//! `ReconcilerPanicked` and retried), and the loop stays responsive to triggers while they run.

use super::queue::{Origin, WorkQueue};
use super::{Action, Config, Error, Outcome, ReconcileResult, ResultHook};
use crate::reflector::{ObjectRef, Store};
use crate::watcher;
use futures::stream::SelectAll;
use futures::{Stream, StreamExt};
use mock_k8_schemas::ApiResource;
use serde::de::DeserializeOwned;
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio::task::{Id, JoinSet};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

type Trigger = futures::stream::BoxStream<'static, Result<ObjectRef, watcher::Error>>;

/// Everything the loop owns.
pub(super) struct Runner<K, R, P, Ctx> {
    pub(super) resource: &'static ApiResource,
    pub(super) store: Store<K>,
    pub(super) triggers: SelectAll<Trigger>,
    pub(super) config: Config,
    pub(super) hook: Arc<dyn ResultHook>,
    pub(super) shutdown: CancellationToken,
    pub(super) reconcile: R,
    pub(super) error_policy: P,
    pub(super) ctx: Arc<Ctx>,
}

/// What a reconcile task hands back.
type Done<K, E> = (ObjectRef, Option<String>, Result<super::Action, E>, Arc<K>);

/// Output buffer between the loop and the consumer. Small: results are tiny, and a consumer that
/// stops polling should stop the controller (backpressure), not grow memory.
const OUTPUT_BUFFER: usize = 64;

/// Runs the loop inside the returned stream (no spawned driver: dropping the stream stops it).
pub(super) fn into_stream<K, R, Fut, P, E, Ctx>(
    runner: Runner<K, R, P, Ctx>,
) -> impl Stream<Item = Result<(ObjectRef, Action), Error<E>>> + Send
where
    K: DeserializeOwned + Send + Sync + 'static,
    R: FnMut(Arc<K>, Arc<Ctx>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Action, E>> + Send + 'static,
    P: Fn(Arc<K>, &E, Arc<Ctx>) -> Action + Send + 'static,
    E: std::error::Error + Send + 'static,
    Ctx: Send + Sync + 'static,
{
    let (tx, rx) = mpsc::channel(OUTPUT_BUFFER);
    let results = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    let driver = futures::stream::once(drive(runner, tx)).filter_map(|()| async { None });
    futures::stream::select(results, driver)
}

struct Loop<K, E> {
    queue: WorkQueue,
    running: HashSet<ObjectRef>,
    /// Triggers that arrived while their key was running: run once more right after.
    parked: HashMap<ObjectRef, Instant>,
    /// Consecutive failures per key, for `Action::backoff`.
    failures: HashMap<ObjectRef, u32>,
    tasks: JoinSet<Done<K, E>>,
    task_keys: HashMap<Id, ObjectRef>,
}

async fn drive<K, R, Fut, P, E, Ctx>(
    mut r: Runner<K, R, P, Ctx>,
    tx: mpsc::Sender<Result<(ObjectRef, Action), Error<E>>>,
) where
    K: DeserializeOwned + Send + Sync + 'static,
    R: FnMut(Arc<K>, Arc<Ctx>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Action, E>> + Send + 'static,
    P: Fn(Arc<K>, &E, Arc<Ctx>) -> Action + Send + 'static,
    E: std::error::Error + Send + 'static,
    Ctx: Send + Sync + 'static,
{
    let concurrency = r.config.concurrency.max(1);
    let capacity = r.config.queue_capacity.max(1);
    let mut l: Loop<K, E> = Loop {
        queue: WorkQueue::default(),
        running: HashSet::new(),
        parked: HashMap::new(),
        failures: HashMap::new(),
        tasks: JoinSet::new(),
        task_keys: HashMap::new(),
    };
    let (mut ready, mut stopping, mut triggers_done) = (false, false, false);
    loop {
        let now = Instant::now();
        // Start due work, up to the concurrency bound.
        while ready && !stopping && l.tasks.len() < concurrency {
            let Some((key, at)) = l.queue.pop_due(now) else {
                break;
            };
            if l.running.contains(&key) {
                let p = l.parked.entry(key).or_insert(at);
                *p = (*p).min(at);
                continue;
            }
            let Some(obj) = r.store.get(&key) else {
                if tx.send(Err(Error::ObjectNotFound(key))).await.is_err() {
                    return;
                }
                continue;
            };
            let rv = r.store.resource_version(&key);
            let fut = (r.reconcile)(obj.clone(), r.ctx.clone());
            let k = key.clone();
            let handle = l.tasks.spawn(async move { (k, rv, fut.await, obj) });
            l.task_keys.insert(handle.id(), key.clone());
            l.running.insert(key);
        }
        if stopping && l.tasks.is_empty() {
            return;
        }
        if triggers_done && l.tasks.is_empty() && l.queue.len() == 0 && l.parked.is_empty() {
            return;
        }
        let deadline = if ready && !stopping && l.tasks.len() < concurrency {
            l.queue.next_deadline()
        } else {
            None
        };
        // Intake stays open until the first list is complete: the store cannot become ready
        // otherwise, and nothing could drain the queue (the deadlock a full queue would cause).
        let intake = !stopping && !triggers_done && (!ready || l.queue.triggered_len() < capacity);
        tokio::select! {
            biased;
            () = r.shutdown.cancelled(), if !stopping => stopping = true,
            Some(joined) = l.tasks.join_next_with_id(), if !l.tasks.is_empty() => {
                let item = finish(&mut r, &mut l, joined);
                if tx.send(item).await.is_err() {
                    return;
                }
            }
            res = r.store.wait_until_ready(), if !ready => {
                if res.is_err() {
                    tracing::warn!(resource = r.resource.plural, "primary store writer dropped before it was ready");
                }
                ready = true;
            }
            next = r.triggers.next(), if intake => match next {
                Some(Ok(key)) => {
                    l.queue.schedule(key, now, Origin::Trigger);
                }
                Some(Err(e)) => {
                    if tx.send(Err(Error::QueueError(e))).await.is_err() {
                        return;
                    }
                }
                None => triggers_done = true,
            },
            () = tokio::time::sleep_until(deadline.unwrap_or(now)), if deadline.is_some() => {}
        }
    }
}

/// Books a finished task: resolves the action, calls the hook, requeues, and builds the output item.
fn finish<K, R, P, E, Ctx>(
    r: &mut Runner<K, R, P, Ctx>,
    l: &mut Loop<K, E>,
    joined: Result<(Id, Done<K, E>), tokio::task::JoinError>,
) -> Result<(ObjectRef, Action), Error<E>>
where
    K: DeserializeOwned,
    P: Fn(Arc<K>, &E, Arc<Ctx>) -> Action,
    E: std::error::Error,
{
    let now = Instant::now();
    let (key, rv, outcome, item) = match joined {
        Ok((id, (key, rv, result, obj))) => {
            l.task_keys.remove(&id);
            match result {
                Ok(action) => {
                    l.failures.remove(&key);
                    let action = if action.is_backoff() {
                        resolve_backoff(r, l, &key)
                    } else {
                        action
                    };
                    (
                        key.clone(),
                        rv,
                        Outcome::Reconciled(action),
                        Ok((key, action)),
                    )
                }
                Err(e) => {
                    let action = (r.error_policy)(obj, &e, r.ctx.clone());
                    let action = if action.is_backoff() {
                        resolve_backoff(r, l, &key)
                    } else {
                        action
                    };
                    let outcome = Outcome::Failed {
                        error: e.to_string(),
                        requeue_after: action.requeue_after(),
                    };
                    (
                        key.clone(),
                        rv,
                        outcome,
                        Err(Error::ReconcilerFailed(e, key)),
                    )
                }
            }
        }
        Err(join_err) => {
            let key = l
                .task_keys
                .remove(&join_err.id())
                .unwrap_or_else(|| ObjectRef::new(""));
            let action = resolve_backoff(r, l, &key);
            let outcome = Outcome::Failed {
                error: format!("reconciler panicked: {join_err}"),
                requeue_after: action.requeue_after(),
            };
            (
                key.clone(),
                None,
                outcome,
                Err(Error::ReconcilerPanicked(key)),
            )
        }
    };
    l.running.remove(&key);
    r.hook.on_result(&ReconcileResult {
        resource: r.resource,
        object: &key,
        resource_version: rv.as_deref(),
        outcome: &outcome,
    });
    let requeue = match &outcome {
        Outcome::Reconciled(a) => a.requeue_after(),
        Outcome::Failed { requeue_after, .. } => *requeue_after,
    };
    let at = requeue.map(|d| now + d);
    match (l.parked.remove(&key), at) {
        (Some(p), at) => {
            l.queue
                .schedule(key, at.map_or(p, |a| a.min(p)), Origin::Requeue);
        }
        (None, Some(at)) => {
            l.queue.schedule(key, at, Origin::Requeue);
        }
        (None, None) => {}
    }
    item
}

/// The delay of the key's next consecutive failure; counts the failure.
fn resolve_backoff<K, R, P, E, Ctx>(
    r: &Runner<K, R, P, Ctx>,
    l: &mut Loop<K, E>,
    key: &ObjectRef,
) -> Action {
    let n = l.failures.entry(key.clone()).or_insert(0);
    let delay = r.config.error_backoff.delay(*n);
    *n = n.saturating_add(1);
    Action::requeue(delay)
}
