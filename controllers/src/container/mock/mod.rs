//! [`MockDocker`]: an in-process simulated container runtime.
//!
//! Each started container gets one tokio task (its "process") that waits the start delay, marks it
//! `Running`, and, if its [`Behaviour`](super::Behaviour) says so, exits after a duration. Tasks are owned by the
//! runtime: they are tracked in a `TaskTracker` and cancelled through a `CancellationToken` on
//! [`MockDocker::shutdown`] or drop. Nothing is queued without bound: events go to a bounded broadcast
//! channel and logs keep at most [`MAX_LOG_LINES`] lines per container.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use futures::FutureExt;
use futures::future::BoxFuture;
use futures::stream::{BoxStream, StreamExt};
use tokio::sync::{broadcast, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

mod state;

use crate::container::config::MockDockerConfig;
use crate::container::{
    ContainerConfig, ContainerEvent, ContainerEventKind, ContainerId, ContainerRuntime,
    ContainerState, ContainerSummary, PullError, RuntimeError, SandboxConfig, SandboxNetwork,
    SandboxStatus,
};
use state::{Entry, Inner, Phase, State, image_id};

/// Log lines kept per container; older lines are dropped first.
pub const MAX_LOG_LINES: usize = 1000;

/// Exit code of a process ended by SIGTERM (128 + 15).
pub const EXIT_SIGTERM: i32 = 143;
/// Exit code of a process ended by SIGKILL (128 + 9).
pub const EXIT_SIGKILL: i32 = 137;

/// The simulated runtime. Create one per node; share it as `Arc<dyn ContainerRuntime>`.
///
/// # Guarantees
/// Dropping it (or calling [`MockDocker::shutdown`]) cancels every simulated process.
pub struct MockDocker {
    inner: Arc<Inner>,
}

impl MockDocker {
    /// A runtime with this behaviour config. Must be called inside a tokio runtime (its clock is
    /// the base of every timestamp).
    pub fn new(config: MockDockerConfig) -> MockDocker {
        let rng = config
            .seed
            .map_or_else(fastrand::Rng::new, fastrand::Rng::with_seed);
        let (events, _) = broadcast::channel(config.events_capacity.max(1));
        MockDocker {
            inner: Arc::new(Inner {
                config,
                state: Mutex::new(State {
                    containers: HashMap::new(),
                    by_pod: HashMap::new(),
                    images: HashMap::new(),
                    sandboxes: HashMap::new(),
                    next_seq: 0,
                    rng,
                }),
                events,
                shutdown: CancellationToken::new(),
                tasks: TaskTracker::new(),
                base_wall: SystemTime::now(),
                base_instant: Instant::now(),
            }),
        }
    }

    /// The config this runtime simulates.
    pub fn config(&self) -> &MockDockerConfig {
        &self.inner.config
    }

    /// Cancels every simulated process and waits for their tasks to end. Later calls fail with
    /// `ShuttingDown`; containers keep the state they had.
    pub async fn shutdown(&self) {
        self.inner.shutdown.cancel();
        self.inner.tasks.close();
        self.inner.tasks.wait().await;
    }
}

impl Drop for MockDocker {
    fn drop(&mut self) {
        self.inner.shutdown.cancel();
    }
}

impl ContainerRuntime for MockDocker {
    fn version(&self) -> String {
        "mockdocker://1.0".into()
    }

    fn id_scheme(&self) -> &'static str {
        "mock"
    }

    fn run_sandbox(
        &self,
        config: SandboxConfig,
    ) -> BoxFuture<'_, Result<SandboxStatus, RuntimeError>> {
        async move {
            let inner = &self.inner;
            inner.check_open()?;
            let mut state = inner.lock();
            if let Some(existing) = state.sandboxes.get(&config.pod_uid) {
                return Ok(existing.clone());
            }
            let id: String = (0..4)
                .map(|_| format!("{:016x}", state.rng.u64(..)))
                .collect();
            let ip = match config.network {
                SandboxNetwork::Host => None,
                SandboxNetwork::Pod { ip, .. } => Some(ip),
            };
            let status = SandboxStatus { id, ip };
            state.sandboxes.insert(config.pod_uid, status.clone());
            Ok(status)
        }
        .boxed()
    }

    fn remove_sandbox<'a>(&'a self, pod_uid: &'a str) -> BoxFuture<'a, Result<(), RuntimeError>> {
        async move {
            self.inner.lock().sandboxes.remove(pod_uid);
            Ok(())
        }
        .boxed()
    }

    fn list_sandboxes(&self) -> BoxFuture<'_, Vec<String>> {
        async move {
            let mut uids: Vec<String> = self.inner.lock().sandboxes.keys().cloned().collect();
            uids.sort();
            uids
        }
        .boxed()
    }

    fn pull_image<'a>(
        &'a self,
        image: &'a str,
        pod_annotations: &'a BTreeMap<String, String>,
    ) -> BoxFuture<'a, Result<String, PullError>> {
        async move {
            let inner = &self.inner;
            let delay = Duration::from_millis(inner.config.pull_delay_ms);
            if !delay.is_zero() {
                tokio::select! {
                    _ = inner.shutdown.cancelled() => return Err(PullError::ShuttingDown),
                    _ = tokio::time::sleep(delay) => {}
                }
            }
            if inner.shutdown.is_cancelled() {
                return Err(PullError::ShuttingDown);
            }
            if let Some(message) = inner.config.pull_error(image, pod_annotations) {
                return Err(PullError::ErrImagePull {
                    image: image.to_string(),
                    message,
                });
            }
            let id = image_id(image);
            inner.lock().images.insert(image.to_string(), id.clone());
            Ok(id)
        }
        .boxed()
    }

    fn create(&self, config: ContainerConfig) -> BoxFuture<'_, Result<ContainerId, RuntimeError>> {
        async move {
            let inner = &self.inner;
            inner.check_open()?;
            let behaviour = inner.config.behaviour(
                config.kind,
                &config.container_name,
                &config.image,
                &config.pod_annotations,
            );
            let now = inner.now();
            let mut state = inner.lock();
            if !state.images.contains_key(&config.image) {
                return Err(RuntimeError::ImageNotPresent {
                    image: config.image,
                });
            }
            // As with Docker, a container joins its pod's sandbox: none, no container.
            if !state.sandboxes.contains_key(&config.pod_uid) {
                return Err(RuntimeError::NoSandbox(config.pod_uid));
            }
            let id: String = (0..4)
                .map(|_| format!("{:016x}", state.rng.u64(..)))
                .collect();
            state.next_seq += 1;
            let (exited, _) = watch::channel(false);
            let mut entry = Entry {
                seq: state.next_seq,
                behaviour,
                phase: Phase::Created,
                created_at: now,
                logs: VecDeque::new(),
                logged: 0,
                process: inner.shutdown.child_token(),
                stopping: false,
                exited,
                config,
            };
            entry.log(format!("created {}", entry.config.image));
            inner.emit(&entry, &id, ContainerEventKind::Created, now);
            state
                .by_pod
                .entry(entry.config.pod_uid.clone())
                .or_default()
                .push(id.clone());
            state.containers.insert(id.clone(), entry);
            Ok(id)
        }
        .boxed()
    }

    fn start<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), RuntimeError>> {
        async move {
            let inner = &self.inner;
            inner.check_open()?;
            let (delay, token) = {
                let mut state = inner.lock();
                let State {
                    containers, rng, ..
                } = &mut *state;
                let entry = containers
                    .get_mut(id)
                    .ok_or_else(|| RuntimeError::NotFound(id.into()))?;
                if !matches!(entry.phase, Phase::Created) {
                    return Err(RuntimeError::InvalidState {
                        id: id.into(),
                        operation: "start",
                        state: entry.phase_name(),
                    });
                }
                entry.phase = Phase::Starting;
                let jitter_ms =
                    u64::try_from(entry.behaviour.start_jitter.as_millis()).unwrap_or(u64::MAX);
                let jitter = Duration::from_millis(rng.u64(0..=jitter_ms));
                (entry.behaviour.start_delay + jitter, entry.process.clone())
            };
            // The deadline is fixed now, not when the task is first polled.
            let running_at = Instant::now() + delay;
            let (inner, id) = (Arc::clone(&self.inner), id.to_string());
            self.inner.tasks.spawn(async move {
                tokio::select! {
                    _ = token.cancelled() => return,
                    _ = tokio::time::sleep_until(running_at) => {}
                }
                let Some(Some(exit_after)) = inner.set_running(&id) else {
                    return;
                };
                tokio::select! {
                    _ = token.cancelled() => {}
                    _ = tokio::time::sleep(exit_after) => {
                        let (code, oom) = {
                            let state = inner.lock();
                            match state.containers.get(&id) {
                                Some(e) => (e.behaviour.exit_code, e.behaviour.oom_killed),
                                None => return,
                            }
                        };
                        inner.finish(&id, code, oom);
                    }
                }
            });
            Ok(())
        }
        .boxed()
    }

    fn stop<'a>(&'a self, id: &'a str, grace: Duration) -> BoxFuture<'a, Result<(), RuntimeError>> {
        async move {
            let inner = &self.inner;
            let mut exited = {
                let mut state = inner.lock();
                let entry = state
                    .containers
                    .get_mut(id)
                    .ok_or_else(|| RuntimeError::NotFound(id.into()))?;
                match entry.phase {
                    Phase::Created | Phase::Exited { .. } => return Ok(()),
                    Phase::Starting => {
                        drop(state);
                        inner.finish(id, EXIT_SIGTERM, false);
                        return Ok(());
                    }
                    Phase::Running { .. } => {}
                }
                let rx = entry.exited.subscribe();
                if !entry.stopping {
                    entry.stopping = true;
                    // SIGTERM: the process no longer exits on its own schedule.
                    entry.process.cancel();
                    entry.log("received SIGTERM".into());
                    let delay = entry.behaviour.stop_delay;
                    let (wait, code) = if delay <= grace {
                        (delay, EXIT_SIGTERM)
                    } else {
                        (grace, EXIT_SIGKILL)
                    };
                    let exit_at = Instant::now() + wait;
                    let (inner, id, shutdown) = (
                        Arc::clone(&self.inner),
                        id.to_string(),
                        self.inner.shutdown.clone(),
                    );
                    // The exit happens in an owned task, so it completes even if this caller is dropped.
                    self.inner.tasks.spawn(async move {
                        tokio::select! {
                            _ = shutdown.cancelled() => {}
                            _ = tokio::time::sleep_until(exit_at) => inner.finish(&id, code, false),
                        }
                    });
                }
                rx
            };
            tokio::select! {
                _ = inner.shutdown.cancelled() => Err(RuntimeError::ShuttingDown),
                r = exited.wait_for(|done| *done) => {
                    // The sender lives in the entry; it is gone only if the container was removed.
                    r.map(|_| ()).map_err(|_| RuntimeError::NotFound(id.into()))
                }
            }
        }
        .boxed()
    }

    fn kill<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), RuntimeError>> {
        async move {
            if !self.inner.lock().containers.contains_key(id) {
                return Err(RuntimeError::NotFound(id.into()));
            }
            self.inner.finish(id, EXIT_SIGKILL, false);
            Ok(())
        }
        .boxed()
    }

    fn remove<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), RuntimeError>> {
        async move {
            let inner = &self.inner;
            let now = inner.now();
            let mut state = inner.lock();
            let entry = state
                .containers
                .get(id)
                .ok_or_else(|| RuntimeError::NotFound(id.into()))?;
            if matches!(entry.phase, Phase::Running { .. }) {
                return Err(RuntimeError::InvalidState {
                    id: id.into(),
                    operation: "remove",
                    state: entry.phase_name(),
                });
            }
            if let Some(entry) = state.containers.remove(id) {
                if let Some(ids) = state.by_pod.get_mut(&entry.config.pod_uid) {
                    ids.retain(|c| c != id);
                    if ids.is_empty() {
                        state.by_pod.remove(&entry.config.pod_uid);
                    }
                }
                entry.process.cancel();
                inner.emit(&entry, id, ContainerEventKind::Removed, now);
            }
            Ok(())
        }
        .boxed()
    }

    fn inspect<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<ContainerState, RuntimeError>> {
        async move {
            let state = self.inner.lock();
            state
                .containers
                .get(id)
                .map(Entry::state)
                .ok_or_else(|| RuntimeError::NotFound(id.into()))
        }
        .boxed()
    }

    fn list<'a>(&'a self, pod_uid: Option<&'a str>) -> BoxFuture<'a, Vec<ContainerSummary>> {
        async move {
            let state = self.inner.lock();
            let entries: Box<dyn Iterator<Item = (&ContainerId, &Entry)>> = match pod_uid {
                None => Box::new(state.containers.iter()),
                Some(uid) => Box::new(
                    state
                        .by_pod
                        .get(uid)
                        .into_iter()
                        .flatten()
                        .filter_map(|id| state.containers.get_key_value(id)),
                ),
            };
            let mut rows: Vec<(u64, ContainerSummary)> = entries
                .map(|(id, e)| {
                    let summary = ContainerSummary {
                        id: id.clone(),
                        pod_uid: e.config.pod_uid.clone(),
                        pod_namespace: e.config.pod_namespace.clone(),
                        pod_name: e.config.pod_name.clone(),
                        container_name: e.config.container_name.clone(),
                        kind: e.config.kind,
                        image: e.config.image.clone(),
                        restart_count: e.config.restart_count,
                        state: e.state(),
                        created_at: e.created_at,
                    };
                    (e.seq, summary)
                })
                .collect();
            rows.sort_by_key(|(seq, _)| *seq);
            rows.into_iter().map(|(_, s)| s).collect()
        }
        .boxed()
    }

    fn logs<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Vec<String>, RuntimeError>> {
        async move {
            let state = self.inner.lock();
            let entry = state
                .containers
                .get(id)
                .ok_or_else(|| RuntimeError::NotFound(id.into()))?;
            Ok(entry.logs.iter().cloned().collect())
        }
        .boxed()
    }

    fn follow_logs<'a>(
        &'a self,
        id: &'a str,
    ) -> BoxFuture<'a, Result<BoxStream<'static, String>, RuntimeError>> {
        async move {
            if !self.inner.lock().containers.contains_key(id) {
                return Err(RuntimeError::NotFound(id.into()));
            }
            // Polls the simulated output: new lines are sent every 100 ms until the container
            // has exited (or is removed) and everything it printed was sent.
            let (inner, id) = (Arc::clone(&self.inner), id.to_string());
            let stream = futures::stream::unfold((0u64, false), move |(sent, done)| {
                let (inner, id) = (Arc::clone(&inner), id.clone());
                async move {
                    if done {
                        return None;
                    }
                    loop {
                        let (chunk, logged, finished) = {
                            let state = inner.lock();
                            let e = state.containers.get(&id)?;
                            let new = usize::try_from(e.logged - sent).unwrap_or(usize::MAX);
                            let skip = e.logs.len().saturating_sub(new);
                            let chunk: String =
                                e.logs.iter().skip(skip).map(|l| format!("{l}\n")).collect();
                            (chunk, e.logged, matches!(e.phase, Phase::Exited { .. }))
                        };
                        if !chunk.is_empty() {
                            return Some((chunk, (logged, finished)));
                        }
                        if finished || inner.shutdown.is_cancelled() {
                            return None;
                        }
                        tokio::select! {
                            _ = inner.shutdown.cancelled() => return None,
                            _ = tokio::time::sleep(Duration::from_millis(100)) => {}
                        }
                    }
                }
            });
            Ok(stream.boxed())
        }
        .boxed()
    }

    fn events(&self) -> broadcast::Receiver<ContainerEvent> {
        self.inner.events.subscribe()
    }
}
