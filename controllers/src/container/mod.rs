//! The container runtime seam: the [`ContainerRuntime`] trait the node agent drives, and
//! [`MockDocker`], its simulated in-process implementation (in the spirit of krustlet's `Provider`).
//!
//! A container goes `Created` → (`start`) → `Running` → `Exited`; `remove` forgets it. Every change is
//! also published as a [`ContainerEvent`] on a bounded broadcast channel, so a node agent can react to
//! exits without polling.
//!
//! # Timestamps
//! All times are wall-clock [`SystemTime`]s (convert with `jiff::Timestamp::try_from` for Kubernetes'
//! RFC 3339 `Time`). [`MockDocker`] derives them from tokio's clock (`base + Instant::elapsed`), so tests
//! with paused time get exact, reproducible timestamps.
//!
//! # Layout
//! - this file: the trait and its data types.
//! - [`config`]: [`MockDockerConfig`] (the runtime config file) and how pod annotations shape a container.
//! - `mock`: the [`MockDocker`] simulation.
//! - [`docker`]: [`DockerRuntime`], the same contract over a real Docker Engine (bollard).
//! - [`sandbox`]: the pod sandbox (the network namespace a pod's containers share).
//! - [`select`]: picking a runtime by name (`--runtime mock|docker`).

pub mod config;
pub mod docker;
mod mock;
pub mod sandbox;
pub mod select;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use futures::future::BoxFuture;
use futures::stream::BoxStream;
use tokio::sync::broadcast;

pub use config::{Behaviour, ConfigError, ImageRule, MockDockerConfig};
pub use docker::{DockerConfig, DockerRuntime};
pub use mock::{EXIT_SIGKILL, EXIT_SIGTERM, MAX_LOG_LINES, MockDocker};
pub use sandbox::{SandboxConfig, SandboxNetwork, SandboxPort, SandboxStatus};
pub use select::{RuntimeKind, UnknownRuntime, connect_runtime};

/// A runtime-assigned container ID (64 lowercase hex digits with either runtime). The pod status
/// shows it as `<scheme>://<id>` with the runtime's [`ContainerRuntime::id_scheme`].
pub type ContainerId = String;

/// Whether a container is one of the pod's `initContainers` or one of its `containers`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContainerKind {
    /// An init container: MockDocker makes it exit 0 after its start delay unless told otherwise.
    Init,
    /// An app container: MockDocker keeps it running until stopped unless told otherwise.
    App,
}

/// Everything the runtime needs to create one container of one pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerConfig {
    /// `metadata.uid` of the pod (the key [`ContainerRuntime::list`] filters on).
    pub pod_uid: String,
    /// `metadata.namespace` of the pod.
    pub pod_namespace: String,
    /// `metadata.name` of the pod.
    pub pod_name: String,
    /// The container's `name` in the pod spec.
    pub container_name: String,
    /// Init or app container.
    pub kind: ContainerKind,
    /// Image reference as written in the spec (`nginx:1.27`); must have been pulled first.
    pub image: String,
    /// `command` (the entrypoint); empty means the image's default.
    pub command: Vec<String>,
    /// `args`; empty means the image's default.
    pub args: Vec<String>,
    /// Environment variables, in order (`name`, `value`).
    pub env: Vec<(String, String)>,
    /// `workingDir`; `None` means the image's default.
    pub working_dir: Option<String>,
    /// CPU and memory requests and limits.
    pub resources: ContainerResources,
    /// How many times this container was restarted before this instance (0 for the first).
    pub restart_count: u32,
    /// Runtime labels (Kubernetes puts `io.kubernetes.pod.uid` etc. here).
    pub labels: BTreeMap<String, String>,
    /// The pod's `metadata.annotations`: MockDocker reads its `mock-k8.io/*` behaviour from them.
    pub pod_annotations: BTreeMap<String, String>,
}

/// A container's CPU and memory settings, from `resources.requests` / `resources.limits`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ContainerResources {
    /// `requests.cpu` in millicores (Docker: CPU shares, `millis * 1024 / 1000`, at least 2).
    pub cpu_request_millis: Option<u64>,
    /// `limits.cpu` in millicores (Docker: a CFS quota, `NanoCpus = millis * 10^6`).
    pub cpu_limit_millis: Option<u64>,
    /// `limits.memory` in bytes (Docker: the memory limit; exceeding it is an `OOMKilled` exit).
    pub memory_limit_bytes: Option<u64>,
}

/// The state of one container as [`ContainerRuntime::inspect`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContainerState {
    /// Created, not running yet (also while a started container is still in its start delay).
    Created,
    /// The main process runs.
    Running {
        /// When the process started (wall clock).
        started_at: SystemTime,
    },
    /// The main process ended.
    Exited {
        /// Exit code: 0 success, 143 = SIGTERM (stopped), 137 = SIGKILL (killed or grace exceeded).
        exit_code: i32,
        /// Kubernetes' termination reason: `Completed` (code 0), `Error` or `OOMKilled`.
        reason: String,
        /// When it had started; `None` if it was stopped before it ever ran.
        started_at: Option<SystemTime>,
        /// When it ended (wall clock).
        finished_at: SystemTime,
    },
}

impl ContainerState {
    /// True for [`ContainerState::Running`].
    pub fn is_running(&self) -> bool {
        matches!(self, ContainerState::Running { .. })
    }

    /// True for [`ContainerState::Exited`].
    pub fn is_exited(&self) -> bool {
        matches!(self, ContainerState::Exited { .. })
    }
}

/// One row of [`ContainerRuntime::list`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerSummary {
    /// The container ID.
    pub id: ContainerId,
    /// The owning pod's UID.
    pub pod_uid: String,
    /// The owning pod's namespace.
    pub pod_namespace: String,
    /// The owning pod's name.
    pub pod_name: String,
    /// The container's name in the pod spec.
    pub container_name: String,
    /// Init or app container.
    pub kind: ContainerKind,
    /// Image reference as created.
    pub image: String,
    /// Restart count this instance was created with.
    pub restart_count: u32,
    /// Current state.
    pub state: ContainerState,
    /// When it was created (wall clock).
    pub created_at: SystemTime,
}

/// What happened to a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContainerEventKind {
    /// `create` succeeded.
    Created,
    /// The process started (after the start delay): the container is `Running`.
    Started,
    /// The process ended with this exit code.
    Died {
        /// Exit code, as in [`ContainerState::Exited`].
        exit_code: i32,
    },
    /// `remove` succeeded.
    Removed,
}

/// A change of one container, published on [`ContainerRuntime::events`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerEvent {
    /// The container.
    pub id: ContainerId,
    /// Its pod's UID, so an agent can route the event without a lookup.
    pub pod_uid: String,
    /// Its name in the pod spec.
    pub container_name: String,
    /// What happened.
    pub kind: ContainerEventKind,
    /// When (wall clock).
    pub at: SystemTime,
}

/// Why a runtime operation failed (one variant per failed step).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuntimeError {
    /// No container with this ID (never created, or removed).
    #[error("no such container: {0}")]
    NotFound(ContainerId),
    /// `create` was called for an image that was never pulled.
    #[error("image {image:?} is not present: pull it first")]
    ImageNotPresent {
        /// The image reference.
        image: String,
    },
    /// The operation does not apply to the container's current state (start twice, remove a running one).
    #[error("cannot {operation} container {id}: it is {state}")]
    InvalidState {
        /// The container.
        id: ContainerId,
        /// The operation attempted (`start`, `remove`, …).
        operation: &'static str,
        /// The state it was in (`created`, `running`, `exited`).
        state: &'static str,
    },
    /// The runtime is shutting down and accepts no new work.
    #[error("the container runtime is shutting down")]
    ShuttingDown,
    /// A container was created for a pod that has no sandbox (call `run_sandbox` first).
    #[error("pod {0} has no sandbox")]
    NoSandbox(String),
    /// The container engine refused or failed the call (Docker: its error message).
    #[error("container engine error: {0}")]
    Engine(String),
}

/// Why an image pull failed; the kubelet reports it as `ErrImagePull`, then `ImagePullBackOff`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PullError {
    /// The registry refused or could not serve the image.
    #[error("failed to pull image {image:?}: {message}")]
    ErrImagePull {
        /// The image reference.
        image: String,
        /// The registry's (simulated) message.
        message: String,
    },
    /// The runtime is shutting down.
    #[error("the container runtime is shutting down")]
    ShuttingDown,
}

/// A container runtime, as the node agent sees it. Object-safe (`Arc<dyn ContainerRuntime>`), every
/// operation an async [`BoxFuture`].
///
/// # Guarantees
/// Operations on one container are applied in call order. `stop` resolves only once the container
/// has exited. Every state change is published on [`ContainerRuntime::events`].
pub trait ContainerRuntime: Send + Sync {
    /// The runtime's name and version as a node reports it in `status.nodeInfo.containerRuntimeVersion`
    /// (`mockdocker://1.0`, `docker://20.10.24`).
    fn version(&self) -> String;

    /// The scheme the pod status prefixes container IDs with (`containerID: <scheme>://<id>`, as
    /// the kubelet reports `docker://…` or `containerd://…`): `mock` for MockDocker, `docker` for
    /// the Docker runtime.
    fn id_scheme(&self) -> &'static str;

    /// Runs the sandbox of pod `config.pod_uid` (see [`sandbox`]); idempotent: a sandbox already
    /// running for that pod (e.g. left by a previous agent) is adopted and reported as is.
    ///
    /// # Errors
    /// [`RuntimeError::Engine`] when the engine cannot create the node network or the sandbox;
    /// [`RuntimeError::ShuttingDown`].
    fn run_sandbox(
        &self,
        config: SandboxConfig,
    ) -> BoxFuture<'_, Result<SandboxStatus, RuntimeError>>;

    /// Stops and removes the sandbox of pod `pod_uid` (its containers must be removed first); a
    /// no-op when it has none.
    ///
    /// # Errors
    /// [`RuntimeError::Engine`].
    fn remove_sandbox<'a>(&'a self, pod_uid: &'a str) -> BoxFuture<'a, Result<(), RuntimeError>>;

    /// The pod UIDs that have a sandbox.
    fn list_sandboxes(&self) -> BoxFuture<'_, Vec<String>>;

    /// Pulls `image` for a pod with these annotations (they may simulate a failure).
    /// Returns the image ID (`sha256:<64 hex>`), shown as the container status' `imageID`.
    ///
    /// # Errors
    /// [`PullError::ErrImagePull`] when the registry (or the simulation) refuses it.
    fn pull_image<'a>(
        &'a self,
        image: &'a str,
        pod_annotations: &'a BTreeMap<String, String>,
    ) -> BoxFuture<'a, Result<String, PullError>>;

    /// Creates a container (state `Created`) and returns its ID.
    ///
    /// # Errors
    /// [`RuntimeError::ImageNotPresent`] if the image was not pulled; [`RuntimeError::ShuttingDown`].
    fn create(&self, config: ContainerConfig) -> BoxFuture<'_, Result<ContainerId, RuntimeError>>;

    /// Starts a created container. It becomes `Running` (event `Started`) once running; with
    /// MockDocker that is after the start delay, and this call returns without waiting for it.
    ///
    /// # Errors
    /// [`RuntimeError::NotFound`]; [`RuntimeError::InvalidState`] unless the container is `Created`
    /// and was not started before.
    fn start<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), RuntimeError>>;

    /// Stops a container: SIGTERM, then SIGKILL after `grace` (the pod's
    /// `terminationGracePeriodSeconds`). Resolves once the container has exited; a no-op on an exited
    /// container.
    ///
    /// # Errors
    /// [`RuntimeError::NotFound`].
    fn stop<'a>(&'a self, id: &'a str, grace: Duration) -> BoxFuture<'a, Result<(), RuntimeError>>;

    /// Kills a container at once (exit code 137). A no-op on an exited container.
    ///
    /// # Errors
    /// [`RuntimeError::NotFound`].
    fn kill<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), RuntimeError>>;

    /// Removes a container that is not running (event `Removed`); its logs go with it. A `Created`
    /// container still in its start delay is removed before it ever runs.
    ///
    /// # Errors
    /// [`RuntimeError::NotFound`]; [`RuntimeError::InvalidState`] while it is `Running`.
    fn remove<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), RuntimeError>>;

    /// The current state of a container.
    ///
    /// # Errors
    /// [`RuntimeError::NotFound`].
    fn inspect<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<ContainerState, RuntimeError>>;

    /// All containers, or only those of the pod with this UID, oldest first.
    fn list<'a>(&'a self, pod_uid: Option<&'a str>) -> BoxFuture<'a, Vec<ContainerSummary>>;

    /// The simulated log lines of a container (`kubectl logs`), oldest first.
    ///
    /// # Errors
    /// [`RuntimeError::NotFound`].
    fn logs<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Vec<String>, RuntimeError>>;

    /// The container's output from its first line on, continuing as it prints more, until it has
    /// exited (or is removed, or the runtime shuts down): `kubectl logs -f`. Items are chunks of
    /// text, each one or more whole lines ending in `\n`.
    ///
    /// # Errors
    /// [`RuntimeError::NotFound`].
    fn follow_logs<'a>(
        &'a self,
        id: &'a str,
    ) -> BoxFuture<'a, Result<BoxStream<'static, String>, RuntimeError>>;

    /// Subscribes to container events from now on.
    ///
    /// # Caveats
    /// The channel is bounded: a receiver that falls behind gets `RecvError::Lagged` and should
    /// re-sync with [`ContainerRuntime::list`].
    fn events(&self) -> broadcast::Receiver<ContainerEvent>;
}
