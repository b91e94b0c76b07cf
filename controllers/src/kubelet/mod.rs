//! The kubelet's pure pod-lifecycle logic: no I/O, no clock of its own. The node agent feeds it the
//! pod, what it observed from the [`ContainerRuntime`](crate::container::ContainerRuntime) and the
//! time, executes the [`plan::Action`]s it returns, and writes the [`status::pod_status`] it computes.
//!
//! # Layout
//! - [`admission`]: does a pod fit the node beside the pods already admitted (`OutOfcpu`, …)?
//! - [`backoff`]: CrashLoopBackOff delays (10 s doubling to 300 s, reset after 10 min).
//! - [`plan`]: the per-pod state machine, [`plan::next_actions`], as an explicit transition table.
//! - [`status`]: the pod's `status` (phase, conditions, container statuses, IPs, QoS class).
//! - [`ipam`]: pod IPs from the node's podCIDR.
//! - [`resources`]: request arithmetic and QoS class shared by the above.

pub mod admission;
pub mod backoff;
pub mod ipam;
pub mod plan;
pub mod resources;
pub mod status;
#[cfg(test)]
pub(crate) mod testing;

use std::time::{Duration, SystemTime};

use k8s_openapi::api::core::v1::{Container, Pod};

use crate::container::{ContainerId, ContainerKind, ContainerState};

pub use admission::{AdmittedRequests, Rejection, admit, admit_requests, admitted_requests};
pub use backoff::CrashLoopBackoff;
pub use ipam::{IpamError, PodIpAllocator};
pub use plan::{Action, next_actions};
pub use status::pod_status;

/// How one container instance ended, kept as the container's `lastState` after a restart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Termination {
    /// The container ID of the instance that ended.
    pub container_id: ContainerId,
    /// Its exit code.
    pub exit_code: i32,
    /// `Completed`, `Error` or `OOMKilled`.
    pub reason: String,
    /// When it started running (`None` if it never ran).
    pub started_at: Option<SystemTime>,
    /// When it ended.
    pub finished_at: SystemTime,
}

/// A failed image pull, remembered for `ErrImagePull` / `ImagePullBackOff`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullFailure {
    /// The runtime's message.
    pub message: String,
    /// Failed attempts so far (≥ 1); the next retry waits `backoff.delay(attempts − 1)`.
    pub attempts: u32,
    /// When the last attempt failed.
    pub last_attempt: SystemTime,
}

/// What the node agent knows about one container of a pod. The agent keeps one per spec container
/// and updates it as it executes [`Action`]s and receives runtime events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedContainer {
    /// The container's name in the pod spec.
    pub name: String,
    /// Init or app container.
    pub kind: ContainerKind,
    /// The image ID after a successful pull (`sha256:…`); `None` until then.
    pub image_id: Option<String>,
    /// The last pull failure, cleared by a successful pull.
    pub pull_failure: Option<PullFailure>,
    /// The current instance's ID; `None` before the first `CreateAndStart` completes.
    pub container_id: Option<ContainerId>,
    /// The current instance's state (`None` with no instance).
    pub state: Option<ContainerState>,
    /// Restarts so far: the `restart_count` of the current instance.
    pub restart_count: u32,
    /// CrashLoopBackOff exponent for the next restart (restarts since the last reset); the agent stores
    /// the one carried by [`Action::CreateAndStart`].
    pub backoff_exponent: u32,
    /// How the previous instance ended (`lastState.terminated`).
    pub last_termination: Option<Termination>,
}

impl ObservedContainer {
    /// A container the agent has not acted on yet.
    pub fn new(name: impl Into<String>, kind: ContainerKind) -> ObservedContainer {
        ObservedContainer {
            name: name.into(),
            kind,
            image_id: None,
            pull_failure: None,
            container_id: None,
            state: None,
            restart_count: 0,
            backoff_exponent: 0,
            last_termination: None,
        }
    }

    /// The current instance's termination, if it exited.
    pub fn termination(&self) -> Option<Termination> {
        match (&self.state, &self.container_id) {
            (
                Some(ContainerState::Exited {
                    exit_code,
                    reason,
                    started_at,
                    finished_at,
                }),
                Some(id),
            ) => Some(Termination {
                container_id: id.clone(),
                exit_code: *exit_code,
                reason: reason.clone(),
                started_at: *started_at,
                finished_at: *finished_at,
            }),
            _ => None,
        }
    }
}

/// Everything the node agent observed about one pod: the inputs of [`next_actions`] and [`pod_status`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PodObservation {
    /// Set when admission refused the pod: it ends `Failed` and no container is started.
    pub rejection: Option<Rejection>,
    /// One entry per spec container the agent has acted on; missing ones count as untouched.
    pub containers: Vec<ObservedContainer>,
}

impl PodObservation {
    /// The observation of container `name` of this kind, if any.
    pub fn container(&self, kind: ContainerKind, name: &str) -> Option<&ObservedContainer> {
        self.containers
            .iter()
            .find(|c| c.kind == kind && c.name == name)
    }
}

/// The pod's `spec.restartPolicy` (`Always` when unset, Kubernetes' default).
pub fn restart_policy(pod: &Pod) -> &str {
    pod.spec
        .as_ref()
        .and_then(|s| s.restart_policy.as_deref())
        .unwrap_or("Always")
}

/// Whether an exited container is restarted, by Kubernetes' rules: app containers per the pod's
/// `restartPolicy` (`Always`: always; `OnFailure`: exit code ≠ 0; `Never`: never); init containers
/// only after a failure and unless the policy is `Never`.
pub fn should_restart(pod: &Pod, kind: ContainerKind, exit_code: i32) -> bool {
    match (kind, restart_policy(pod)) {
        (_, "Never") => false,
        (ContainerKind::Init, _) => exit_code != 0,
        (ContainerKind::App, "OnFailure") => exit_code != 0,
        (ContainerKind::App, _) => true,
    }
}

/// The grace period for stopping the pod's containers: `metadata.deletionGracePeriodSeconds` while
/// it is being deleted, else `spec.terminationGracePeriodSeconds`, else 30 s (Kubernetes' default).
/// Negative values count as 0.
pub fn grace_period(pod: &Pod) -> Duration {
    let secs = pod
        .metadata
        .deletion_grace_period_seconds
        .or_else(|| {
            pod.spec
                .as_ref()
                .and_then(|s| s.termination_grace_period_seconds)
        })
        .unwrap_or(30);
    Duration::from_secs(u64::try_from(secs).unwrap_or(0))
}

/// The pod's init containers and app containers, each with its kind, in spec order.
pub fn spec_containers(pod: &Pod) -> Vec<(ContainerKind, &Container)> {
    let Some(spec) = pod.spec.as_ref() else {
        return Vec::new();
    };
    spec.init_containers
        .iter()
        .flatten()
        .map(|c| (ContainerKind::Init, c))
        .chain(spec.containers.iter().map(|c| (ContainerKind::App, c)))
        .collect()
}
