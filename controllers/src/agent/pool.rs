//! The state shared by a pool's tasks: its nodes, the per-pod workers, the clock, and the background
//! tasks (heartbeats, container-event routing, housekeeping, Event publishing).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, SystemTime};

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Node, Pod};
use tokio::sync::{Semaphore, broadcast, mpsc};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::worker::Worker;
use super::{AgentConfig, HEARTBEAT_ANNOTATION, NodeSpec, heartbeat};
use crate::client::Client;
use crate::container::{ContainerEvent, ContainerRuntime};
use crate::events::{EventSpec, Recorder, Regarding, Reporter};
use crate::kubelet::{AdmittedRequests, PodIpAllocator};
use crate::reflector::{ObjectRef, Store};

/// Wall-clock time derived from tokio's clock (see the module docs of [`super`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    wall: SystemTime,
    instant: Instant,
}

impl Clock {
    pub(crate) fn new() -> Clock {
        Clock {
            wall: SystemTime::now(),
            instant: Instant::now(),
        }
    }

    pub(crate) fn now(&self) -> SystemTime {
        self.wall + self.instant.elapsed()
    }
}

/// What a node has once registered: its pod IPs and its address.
pub(crate) struct Registered {
    pub(crate) ipam: Mutex<PodIpAllocator>,
    pub(crate) host_ip: String,
}

/// One node of the pool.
pub(crate) struct NodeState {
    pub(crate) spec: NodeSpec,
    /// The client this node's writes go through (its signing client, else the pool's).
    pub(crate) client: Arc<dyn Client>,
    pub(crate) recorder: Recorder,
    pub(crate) registered: OnceLock<Registered>,
    /// The requests of the pods admitted here and not terminal, by UID: the `others` input of
    /// `kubelet::admit_requests` (not the pods: the shared pod informer holds those).
    /// A std mutex: admission is a short synchronous decision that must not interleave per node.
    pub(crate) admitted: Mutex<HashMap<String, AdmittedRequests>>,
}

/// A worker and the pod key it belongs to.
#[derive(Clone)]
pub(crate) struct WorkerEntry {
    pub(crate) key: ObjectRef,
    pub(crate) node: String,
    pub(crate) worker: Arc<tokio::sync::Mutex<Worker>>,
}

/// A Kubernetes Event waiting to be published.
struct EventJob {
    recorder: Recorder,
    regarding: Regarding,
    event: EventSpec,
}

/// Everything the pool's tasks share.
pub(crate) struct Pool {
    pub(crate) runtime: Arc<dyn ContainerRuntime>,
    pub(crate) config: AgentConfig,
    pub(crate) clock: Clock,
    pub(crate) nodes: HashMap<String, Arc<NodeState>>,
    pub(crate) pods: Store<Pod>,
    pub(crate) node_store: Store<Node>,
    /// Workers by pod UID. A std mutex: only map lookups/inserts happen under it.
    workers: Mutex<HashMap<String, WorkerEntry>>,
    events_tx: mpsc::Sender<EventJob>,
    events_rx: Mutex<Option<mpsc::Receiver<EventJob>>>,
    /// The pod controller's extra trigger (set by `spawn_background`): re-syncs pods on demand.
    resync: OnceLock<mpsc::Sender<ObjectRef>>,
    pub(crate) tasks: TaskTracker,
    pub(crate) shutdown: CancellationToken,
}

/// Frees pod `uid`'s admission slot and IP on `node`.
fn release(node: &NodeState, uid: &str) {
    lock(&node.admitted).remove(uid);
    if let Some(reg) = node.registered.get() {
        lock(&reg.ipam).release(uid);
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Pool {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        client: Arc<dyn Client>,
        runtime: Arc<dyn ContainerRuntime>,
        nodes: Vec<NodeSpec>,
        config: AgentConfig,
        pods: Store<Pod>,
        node_store: Store<Node>,
        tasks: TaskTracker,
        shutdown: CancellationToken,
    ) -> Arc<Pool> {
        let nodes = nodes
            .into_iter()
            .map(|spec| {
                let node_client = spec
                    .client
                    .as_ref()
                    .map_or_else(|| client.clone(), |c| c.0.clone());
                let recorder = Recorder::new(
                    node_client.clone(),
                    Reporter {
                        component: "kubelet".into(),
                        instance: Some(spec.name.clone()),
                    },
                );
                let state = NodeState {
                    spec,
                    client: node_client,
                    recorder,
                    registered: OnceLock::new(),
                    admitted: Mutex::new(HashMap::new()),
                };
                (state.spec.name.clone(), Arc::new(state))
            })
            .collect();
        let (events_tx, events_rx) = mpsc::channel(config.event_queue_capacity.max(1));
        Arc::new(Pool {
            runtime,
            config,
            clock: Clock::new(),
            nodes,
            pods,
            node_store,
            workers: Mutex::new(HashMap::new()),
            events_tx,
            events_rx: Mutex::new(Some(events_rx)),
            resync: OnceLock::new(),
            tasks,
            shutdown,
        })
    }

    /// Starts the heartbeats, the container-event router, housekeeping and the Event publisher.
    pub(crate) fn spawn_background(
        self: &Arc<Self>,
        container_events: broadcast::Receiver<ContainerEvent>,
        keys: mpsc::Sender<ObjectRef>,
    ) {
        let _ = self.resync.set(keys.clone());
        let registrations = Arc::new(Semaphore::new(self.config.registration_concurrency.max(1)));
        for node in self.nodes.values() {
            let (pool, node, sem) = (self.clone(), node.clone(), registrations.clone());
            self.tasks
                .spawn(async move { heartbeat::run_node(pool, node, sem).await });
        }
        let pool = self.clone();
        self.tasks
            .spawn(async move { pool.route_container_events(container_events, keys).await });
        let pool = self.clone();
        self.tasks.spawn(async move { pool.housekeeping().await });
        if let Some(rx) = lock(&self.events_rx).take() {
            let stop = self.shutdown.clone();
            self.tasks.spawn(async move {
                let stream = futures::stream::unfold(rx, |mut rx| async move {
                    rx.recv().await.map(|j| (j, rx))
                });
                // Events are independent: publish a few at once so a burst of pods does not queue.
                let publish = stream.for_each_concurrent(16, |job| async move {
                    if let Err(e) = job.recorder.publish(&job.regarding, &job.event).await {
                        tracing::debug!(error = %e, reason = %job.event.reason, "event not published");
                    }
                });
                tokio::select! {
                    _ = stop.cancelled() => {}
                    _ = publish => {}
                }
            });
        }
    }

    /// Whether node `name` carries [`HEARTBEAT_ANNOTATION`]`: paused` (as last seen by the node
    /// reflector). A paused node behaves like an unreachable one: its agent makes no API write at
    /// all (Lease, node status, pod status, pod deletion, Events) while its containers keep running.
    pub(crate) fn is_paused(&self, name: &str) -> bool {
        self.node_store
            .get(&ObjectRef::new(name))
            .and_then(|n| {
                n.metadata
                    .annotations
                    .as_ref()
                    .and_then(|a| a.get(HEARTBEAT_ANNOTATION))
                    .map(|v| v == "paused")
            })
            .unwrap_or(false)
    }

    /// Re-triggers a reconcile of every pod this pool runs on node `name` (after its heartbeat
    /// resumes: statuses computed while paused are written then).
    pub(crate) async fn resync_node(&self, name: &str) {
        let Some(keys) = self.resync.get() else {
            return;
        };
        let targets: Vec<ObjectRef> = lock(&self.workers)
            .values()
            .filter(|e| e.node == name)
            .map(|e| e.key.clone())
            .collect();
        for key in targets {
            tokio::select! {
                _ = self.shutdown.cancelled() => return,
                sent = keys.send(key) => if sent.is_err() { return },
            }
        }
    }

    /// Queues a Kubernetes Event about a pod; dropped (logged) when the queue is full, and not
    /// published at all while the node is paused (an unreachable node writes nothing).
    pub(crate) fn emit(
        &self,
        node: &NodeState,
        pod: &Pod,
        field_path: Option<&str>,
        ev: EventSpec,
    ) {
        if self.is_paused(&node.spec.name) {
            tracing::debug!(node = %node.spec.name, reason = %ev.reason, "node paused; event dropped");
            return;
        }
        let mut regarding = Regarding::from_obj(pod);
        if let Some(path) = field_path {
            regarding = regarding.with_field_path(path);
        }
        let job = EventJob {
            recorder: node.recorder.clone(),
            regarding,
            event: ev,
        };
        if let Err(e) = self.events_tx.try_send(job) {
            tracing::debug!(error = %e, "event queue full; event dropped");
        }
    }

    /// The worker of pod `uid`, created (empty) on first sight. The flag is `true` when new.
    pub(crate) fn worker(&self, uid: &str, key: &ObjectRef, node: &str) -> WorkerEntry {
        let mut workers = lock(&self.workers);
        workers
            .entry(uid.to_string())
            .or_insert_with(|| WorkerEntry {
                key: key.clone(),
                node: node.to_string(),
                worker: Arc::new(tokio::sync::Mutex::new(Worker::new(uid))),
            })
            .clone()
    }

    /// Drops pod `uid`'s worker, admission slot and IP (its containers are already gone). Called
    /// by the worker itself after deleting the pod, while it holds its own lock.
    pub(crate) fn forget(&self, uid: &str, node: &NodeState) {
        lock(&self.workers).remove(uid);
        release(node, uid);
    }

    /// Forgets pod `uid`: kills and removes its containers, releases its IP and admission.
    pub(crate) async fn cleanup(&self, uid: &str) {
        let Some(entry) = lock(&self.workers).remove(uid) else {
            return;
        };
        let mut w = entry.worker.lock().await;
        w.gone = true;
        for c in self.runtime.list(Some(uid)).await {
            if c.state.is_running()
                && let Err(e) = self.runtime.kill(&c.id).await
            {
                tracing::debug!(error = %e, "kill of an orphaned container failed");
            }
            if let Err(e) = self.runtime.remove(&c.id).await {
                tracing::debug!(error = %e, "removal of an orphaned container failed");
            }
        }
        if let Err(e) = self.runtime.remove_sandbox(uid).await {
            tracing::debug!(error = %e, "removal of an orphaned sandbox failed");
        }
        if let Some(node) = self.nodes.get(&entry.node) {
            release(node, uid);
        }
        tracing::debug!(pod = %entry.key, uid, "pod cleaned up");
    }

    /// Cleans up every worker of `key` whose pod is no longer in the store.
    pub(crate) async fn cleanup_key(&self, key: &ObjectRef) {
        let stale: Vec<String> = {
            let current = self.pods.get(key);
            let current_uid = current.as_ref().and_then(|p| p.metadata.uid.clone());
            lock(&self.workers)
                .iter()
                .filter(|(uid, e)| &e.key == key && current_uid.as_ref() != Some(*uid))
                .map(|(uid, _)| uid.clone())
                .collect()
        };
        for uid in stale {
            self.cleanup(&uid).await;
        }
    }

    /// Routes each container event to its pod's key; re-triggers every pod after a lag.
    async fn route_container_events(
        &self,
        mut events: broadcast::Receiver<ContainerEvent>,
        keys: mpsc::Sender<ObjectRef>,
    ) {
        loop {
            let ev = tokio::select! {
                _ = self.shutdown.cancelled() => return,
                ev = events.recv() => ev,
            };
            let targets: Vec<ObjectRef> = match ev {
                Ok(ev) => lock(&self.workers)
                    .get(&ev.pod_uid)
                    .map(|e| e.key.clone())
                    .into_iter()
                    .collect(),
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::debug!(missed = n, "container events lagged; re-syncing every pod");
                    lock(&self.workers)
                        .values()
                        .map(|e| e.key.clone())
                        .collect()
                }
                Err(broadcast::error::RecvError::Closed) => return,
            };
            for key in targets {
                tokio::select! {
                    _ = self.shutdown.cancelled() => return,
                    sent = keys.send(key) => if sent.is_err() { return },
                }
            }
        }
    }

    /// Kubelet housekeeping: forgets pods that left the API (or moved away) and, once after the
    /// first list, removes containers of pods the API no longer knows.
    async fn housekeeping(&self) {
        tokio::select! {
            _ = self.shutdown.cancelled() => return,
            r = self.pods.wait_until_ready() => if r.is_err() { return },
        }
        self.remove_orphaned_containers().await;
        let period = self
            .config
            .housekeeping_interval
            .max(Duration::from_millis(10));
        loop {
            tokio::select! {
                _ = self.shutdown.cancelled() => return,
                _ = tokio::time::sleep(period) => {}
            }
            let stale: Vec<String> = lock(&self.workers)
                .iter()
                .filter(|(uid, e)| {
                    self.pods.get(&e.key).is_none_or(|p| {
                        p.metadata.uid.as_deref() != Some(uid.as_str())
                            || p.spec.as_ref().and_then(|s| s.node_name.as_deref())
                                != Some(e.node.as_str())
                    })
                })
                .map(|(uid, _)| uid.clone())
                .collect();
            for uid in stale {
                self.cleanup(&uid).await;
            }
        }
    }

    async fn remove_orphaned_containers(&self) {
        let known: std::collections::HashSet<String> = self
            .pods
            .state()
            .iter()
            .filter_map(|p| p.metadata.uid.clone())
            .collect();
        for c in self.runtime.list(None).await {
            if known.contains(&c.pod_uid) || lock(&self.workers).contains_key(&c.pod_uid) {
                continue;
            }
            if c.state.is_running() {
                let _ = self.runtime.kill(&c.id).await;
            }
            if let Err(e) = self.runtime.remove(&c.id).await {
                tracing::debug!(error = %e, "removal of an orphaned container failed");
            }
        }
        for uid in self.runtime.list_sandboxes().await {
            if known.contains(&uid) || lock(&self.workers).contains_key(&uid) {
                continue;
            }
            if let Err(e) = self.runtime.remove_sandbox(&uid).await {
                tracing::debug!(error = %e, "removal of an orphaned sandbox failed");
            }
        }
    }
}
