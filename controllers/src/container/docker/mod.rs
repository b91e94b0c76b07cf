//! [`DockerRuntime`]: the [`ContainerRuntime`] contract over a real Docker Engine (bollard).
//!
//! Pods map to Docker objects as in Kubernetes' Docker integration (see [`spec`]): a sandbox
//! container (the product's own image running `pause`) holds the pod's network namespace on the
//! node's bridge network, whose subnet is the node's podCIDR, with the IP the agent allocated; the
//! pod's containers join it. Everything carries identifying labels, so a restarted agent finds and
//! adopts its sandboxes and containers instead of starting duplicates.
//!
//! Container states come from `inspect`, changes from the engine's event stream (one owned task
//! re-subscribes after errors). The engine is found as the Docker CLI finds it: `DOCKER_HOST`, else
//! `/var/run/docker.sock`; the API version is negotiated, so older engines (API 1.41) work.

mod convert;
mod ops;
pub mod spec;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use bollard::Docker;
use bollard::query_parameters::{EventsOptions, ListContainersOptions};
use futures::StreamExt;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::container::{ContainerEvent, RuntimeError};
pub use convert::{container_state, exit_reason, parse_time};

/// The default sandbox image: the product's own image, built locally by
/// `examples/docker/build-image.sh` (nothing is pulled).
pub const DEFAULT_SANDBOX_IMAGE: &str = "mock-k8:latest";

/// How the Docker runtime is set up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DockerConfig {
    /// The image of every pod sandbox; it runs `<image> pause` (default [`DEFAULT_SANDBOX_IMAGE`]).
    pub sandbox_image: String,
    /// How long the one pull attempt for an image missing locally may take before it counts as
    /// failed (`ErrImagePull`).
    pub pull_timeout: Duration,
    /// The nodes this runtime serves: `list`, `list_sandboxes` and the events only show objects
    /// labelled with one of them, so agents sharing one engine never touch each other's pods.
    /// Empty: every mock_k8 object of the engine.
    pub nodes: Vec<String>,
    /// Capacity of the event channel.
    pub events_capacity: usize,
}

impl Default for DockerConfig {
    fn default() -> Self {
        DockerConfig {
            sandbox_image: DEFAULT_SANDBOX_IMAGE.into(),
            pull_timeout: Duration::from_secs(5),
            nodes: Vec::new(),
            events_capacity: 1024,
        }
    }
}

/// The Docker runtime. Create one per agent process with [`DockerRuntime::connect`]; share it as
/// `Arc<dyn ContainerRuntime>`.
///
/// # Guarantees
/// The event task is owned: [`DockerRuntime::shutdown`] (or drop) ends it. Containers are left
/// running at shutdown (a restarted agent adopts them).
pub struct DockerRuntime {
    docker: Docker,
    config: DockerConfig,
    engine_version: String,
    events: broadcast::Sender<ContainerEvent>,
    /// Sandbox container ID and node by pod UID (a cache of what the engine's labels say).
    sandboxes: Mutex<HashMap<String, (String, String)>>,
    /// Node networks known to exist. An async mutex: creation is serialized per process.
    networks: tokio::sync::Mutex<HashSet<String>>,
    shutdown: CancellationToken,
    tasks: TaskTracker,
}

impl DockerRuntime {
    /// Connects to the engine (`DOCKER_HOST` or the default socket), negotiates the API version,
    /// checks it answers and has the sandbox image, and starts following its events.
    ///
    /// # Errors
    /// [`RuntimeError::Engine`] when no engine is reachable, or the sandbox image is not present
    /// locally.
    pub async fn connect(config: DockerConfig) -> Result<DockerRuntime, RuntimeError> {
        let engine = |e: bollard::errors::Error| {
            RuntimeError::Engine(format!("cannot reach the Docker Engine: {e}"))
        };
        let docker = Docker::connect_with_defaults().map_err(engine)?;
        let docker = docker.negotiate_version().await.map_err(engine)?;
        let version = docker.version().await.map_err(engine)?;
        // Without the sandbox image no pod can start, and nothing is pulled: say so now.
        if let Err(e) = docker.inspect_image(&config.sandbox_image).await {
            return Err(RuntimeError::Engine(format!(
                "the pod sandbox image {:?} is not present in the Docker Engine ({e}): build it with \
                 examples/docker/build-image.sh, or name a local image that runs `mock_k8 pause` \
                 with --sandbox-image",
                config.sandbox_image
            )));
        }
        let (events, _) = broadcast::channel(config.events_capacity.max(1));
        let rt = DockerRuntime {
            docker,
            engine_version: version.version.unwrap_or_else(|| "unknown".into()),
            config,
            events,
            sandboxes: Mutex::new(HashMap::new()),
            networks: tokio::sync::Mutex::new(HashSet::new()),
            shutdown: CancellationToken::new(),
            tasks: TaskTracker::new(),
        };
        rt.follow_events();
        Ok(rt)
    }

    /// The engine connection (for tests and tools).
    pub fn docker(&self) -> &Docker {
        &self.docker
    }

    /// The config this runtime runs with.
    pub fn config(&self) -> &DockerConfig {
        &self.config
    }

    /// Stops following events and waits for the task to end. Containers keep running.
    pub async fn shutdown(&self) {
        self.shutdown.cancel();
        self.tasks.close();
        self.tasks.wait().await;
    }

    fn lock_sandboxes(&self) -> MutexGuard<'_, HashMap<String, (String, String)>> {
        self.sandboxes.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether an object labelled with `node` belongs to this runtime.
    fn serves(&self, node: Option<&String>) -> bool {
        self.config.nodes.is_empty() || node.is_some_and(|n| self.config.nodes.contains(n))
    }

    /// `ListContainersOptions` for every (also stopped) container with all these labels.
    fn by_labels(labels: &[String]) -> ListContainersOptions {
        ListContainersOptions {
            all: true,
            filters: Some(HashMap::from([("label".to_string(), labels.to_vec())])),
            ..Default::default()
        }
    }

    /// Publishes the engine's container events on the broadcast channel until shutdown,
    /// re-subscribing (after a second) whenever the stream ends or fails.
    fn follow_events(&self) {
        let (docker, tx, stop) = (
            self.docker.clone(),
            self.events.clone(),
            self.shutdown.clone(),
        );
        let nodes = self.config.nodes.clone();
        self.tasks.spawn(async move {
            loop {
                let options = EventsOptions {
                    filters: Some(HashMap::from([
                        ("type".to_string(), vec!["container".to_string()]),
                        (
                            "label".to_string(),
                            vec![format!("{}=true", spec::LABEL_MANAGED)],
                        ),
                    ])),
                    ..Default::default()
                };
                let mut stream = docker.events(Some(options));
                loop {
                    let next = tokio::select! {
                        _ = stop.cancelled() => return,
                        next = stream.next() => next,
                    };
                    match next {
                        Some(Ok(ev)) => {
                            if let Some(ev) = convert::container_event(&ev, &nodes) {
                                // No receiver is not an error: nobody listens yet.
                                let _ = tx.send(ev);
                            }
                        }
                        Some(Err(e)) => {
                            tracing::warn!(error = %e, "docker event stream failed; re-subscribing");
                            break;
                        }
                        None => break,
                    }
                }
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
        });
    }
}

impl Drop for DockerRuntime {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}
