//! The pod's `status` as the kubelet reports it, computed from the spec, the previous status and what
//! the node agent observed (Kubernetes: `kubelet_pods.go` `generateAPIPodStatus` and `getPhase`).
//!
//! # Phase (Kubernetes' `getPhase`)
//! - `Failed` when admission rejected the pod, or an init container failed under `restartPolicy: Never`.
//! - `Pending` until every init container exited 0.
//! - Then, over the app containers: any waiting (not created, pulling, creating) → `Pending`; any
//!   running → `Running`; all stopped (a container waiting to restart counts as stopped) →
//!   `Always`: `Running`; all exited 0: `Succeeded`; `Never`: `Failed`; `OnFailure`: `Running`.
//! - A pod being deleted whose containers all stopped is `Succeeded` if they all exited 0, else `Failed`.
//! - `Succeeded` and `Failed` are final: once reported they never change.
//!
//! # Conditions
//! `Initialized`, `Ready`, `ContainersReady`, `PodScheduled` (kept from the scheduler if present), in
//! `kubectl describe` order; other conditions of the previous status are kept. A condition whose
//! status did not change keeps its `lastTransitionTime`. Readiness gates and probes are not modelled:
//! a running app container is ready.

use std::time::SystemTime;

use k8s_openapi::api::core::v1::{
    Container, ContainerState as K8sState, ContainerStateRunning, ContainerStateTerminated,
    ContainerStateWaiting, ContainerStatus, HostIP, Pod, PodCondition, PodIP, PodStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

use super::resources::qos_class;
use super::{CrashLoopBackoff, ObservedContainer, PodObservation, Termination, should_restart};
use crate::container::{ContainerKind, ContainerState};

/// A wall-clock time as a Kubernetes `Time`, truncated to whole seconds (the wire precision), so a
/// value survives a round trip through the API unchanged.
pub fn time(t: SystemTime) -> Time {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    Time(Timestamp::from_second(secs).unwrap_or(Timestamp::UNIX_EPOCH))
}

/// The container ID as the pod status shows it: `<scheme>://<id>`, with the runtime's
/// [`ContainerRuntime::id_scheme`](crate::container::ContainerRuntime::id_scheme) (`mock`,
/// `docker`).
pub fn status_container_id(scheme: &str, id: &str) -> String {
    format!("{scheme}://{id}")
}

/// How a container counts toward the pod phase.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Count {
    Waiting,
    Running,
    Stopped { succeeded: bool },
}

/// The pod's status. `now` (wall clock) stamps `startTime` and condition transitions; `pod_ip` and
/// `host_ip` are the addresses the agent assigned (`None` keeps the previous ones); `backoff` words
/// the CrashLoopBackOff message; `id_scheme` prefixes container IDs (see [`status_container_id`]).
pub fn pod_status(
    pod: &Pod,
    observed: &PodObservation,
    now: SystemTime,
    pod_ip: Option<&str>,
    host_ip: Option<&str>,
    backoff: &CrashLoopBackoff,
    id_scheme: &str,
) -> PodStatus {
    let prev = pod.status.clone().unwrap_or_default();
    let prev_phase = prev
        .phase
        .clone()
        .filter(|p| p == "Succeeded" || p == "Failed");
    let mut status = PodStatus {
        host_ip: host_ip.map(str::to_string).or(prev.host_ip.clone()),
        host_ips: host_ip
            .map(|ip| vec![HostIP { ip: ip.into() }])
            .or(prev.host_ips.clone()),
        start_time: prev.start_time.clone().or_else(|| Some(time(now))),
        qos_class: Some(qos_class(pod).to_string()),
        nominated_node_name: prev.nominated_node_name.clone(),
        ..Default::default()
    };
    if let Some(rejection) = &observed.rejection {
        status.phase = Some("Failed".into());
        status.reason = Some(rejection.reason.clone());
        status.message = Some(rejection.message.clone());
        status.conditions = prev.conditions.clone();
        return status;
    }
    status.pod_ip = pod_ip.map(str::to_string).or(prev.pod_ip.clone());
    status.pod_ips = pod_ip
        .map(|ip| vec![PodIP { ip: ip.into() }])
        .or(prev.pod_ips.clone());

    let spec = pod.spec.clone().unwrap_or_default();
    // No restarts are reported once the pod is being deleted or has finished.
    let may_restart = pod.metadata.deletion_timestamp.is_none() && prev_phase.is_none();
    let ctx = Ctx {
        pod,
        may_restart,
        backoff,
        id_scheme,
    };

    let mut init_failed = false;
    let mut incomplete_init = Vec::new();
    let mut init_statuses = Vec::new();
    for c in spec.init_containers.iter().flatten() {
        let obs = observed.container(ContainerKind::Init, &c.name);
        let (st, _) = ctx.container_status(ContainerKind::Init, c, obs, false);
        match obs.and_then(|o| o.state.as_ref()) {
            Some(ContainerState::Exited { exit_code: 0, .. }) => {}
            Some(ContainerState::Exited { exit_code, .. }) => {
                init_failed |= !should_restart(pod, ContainerKind::Init, *exit_code);
                incomplete_init.push(c.name.clone());
            }
            _ => incomplete_init.push(c.name.clone()),
        }
        init_statuses.push(st);
    }
    let initialized = incomplete_init.is_empty();

    let (mut waiting, mut running, mut stopped, mut succeeded) = (0, 0, 0, 0);
    let mut unready = Vec::new();
    let mut app_statuses = Vec::new();
    for c in &spec.containers {
        let obs = observed.container(ContainerKind::App, &c.name);
        let (st, count) = ctx.container_status(ContainerKind::App, c, obs, !initialized);
        match count {
            Count::Waiting => waiting += 1,
            Count::Running => running += 1,
            Count::Stopped { succeeded: ok } => {
                stopped += 1;
                succeeded += usize::from(ok);
            }
        }
        if !st.ready {
            unready.push(c.name.clone());
        }
        app_statuses.push(st);
    }

    let policy = super::restart_policy(pod);
    let phase = if let Some(p) = prev_phase {
        p
    } else if init_failed {
        "Failed".into()
    } else if !initialized || waiting > 0 {
        "Pending".into()
    } else if running > 0 {
        "Running".into()
    } else if stopped > 0 {
        if pod.metadata.deletion_timestamp.is_some() {
            if stopped == succeeded {
                "Succeeded".into()
            } else {
                "Failed".into()
            }
        } else if policy == "Always" {
            "Running".into() // every container is restarting
        } else if stopped == succeeded {
            "Succeeded".into()
        } else if policy == "Never" {
            "Failed".into()
        } else {
            "Running".into() // OnFailure: the failed ones restart
        }
    } else {
        "Pending".into()
    };

    let completed = phase == "Succeeded";
    let names = |v: &[String]| v.join(" ");
    let containers_ready = initialized && unready.is_empty() && !completed && phase != "Failed";
    let (ready_reason, ready_message) = if completed {
        (Some("PodCompleted"), None)
    } else if containers_ready {
        (None, None)
    } else {
        (
            Some("ContainersNotReady"),
            Some(format!(
                "containers with unready status: [{}]",
                names(&unready)
            )),
        )
    };
    let (init_reason, init_message) = match (initialized, completed) {
        (true, true) => (Some("PodCompleted"), None),
        (true, false) => (None, None),
        (false, _) => (
            Some("ContainersNotInitialized"),
            Some(format!(
                "containers with incomplete status: [{}]",
                names(&incomplete_init)
            )),
        ),
    };
    let prev_conditions = prev.conditions.clone().unwrap_or_default();
    let cond = |type_: &str, ok: bool, reason: Option<&str>, message: Option<String>| {
        let status = if ok { "True" } else { "False" };
        let since = prev_conditions
            .iter()
            .find(|c| c.type_ == type_ && c.status == status)
            .and_then(|c| c.last_transition_time.clone())
            .unwrap_or_else(|| time(now));
        PodCondition {
            type_: type_.into(),
            status: status.into(),
            reason: reason.map(str::to_string),
            message,
            last_transition_time: Some(since),
            ..Default::default()
        }
    };
    let mut conditions = vec![
        cond("Initialized", initialized, init_reason, init_message),
        cond(
            "Ready",
            containers_ready,
            ready_reason,
            ready_message.clone(),
        ),
        cond(
            "ContainersReady",
            containers_ready,
            ready_reason,
            ready_message,
        ),
    ];
    conditions.push(
        prev_conditions
            .iter()
            .find(|c| c.type_ == "PodScheduled")
            .cloned()
            .unwrap_or_else(|| cond("PodScheduled", true, None, None)),
    );
    let managed = ["Initialized", "Ready", "ContainersReady", "PodScheduled"];
    conditions.extend(
        prev_conditions
            .iter()
            .filter(|c| !managed.contains(&c.type_.as_str()))
            .cloned(),
    );

    status.phase = Some(phase);
    status.conditions = Some(conditions);
    status.init_container_statuses = (!init_statuses.is_empty()).then_some(init_statuses);
    status.container_statuses = Some(app_statuses);
    status
}

struct Ctx<'a> {
    pod: &'a Pod,
    may_restart: bool,
    backoff: &'a CrashLoopBackoff,
    id_scheme: &'a str,
}

impl Ctx<'_> {
    /// One container's status and how it counts toward the phase.
    fn container_status(
        &self,
        kind: ContainerKind,
        spec: &Container,
        obs: Option<&ObservedContainer>,
        initializing: bool,
    ) -> (ContainerStatus, Count) {
        let image = spec.image.clone().unwrap_or_default();
        let mut st = ContainerStatus {
            name: spec.name.clone(),
            image: image.clone(),
            image_id: obs.and_then(|o| o.image_id.clone()).unwrap_or_default(),
            restart_count: obs.map_or(0, |o| i32::try_from(o.restart_count).unwrap_or(i32::MAX)),
            container_id: obs
                .and_then(|o| o.container_id.as_deref())
                .map(|id| status_container_id(self.id_scheme, id)),
            last_state: Some(
                obs.and_then(|o| o.last_termination.as_ref())
                    .map(|t| terminated(t, self.id_scheme))
                    .unwrap_or_default(),
            ),
            started: Some(false),
            ..Default::default()
        };
        let had_run = obs.is_some_and(|o| o.last_termination.is_some());
        let waiting_count = if had_run {
            Count::Stopped { succeeded: false }
        } else {
            Count::Waiting
        };
        let state = obs
            .filter(|o| o.container_id.is_some())
            .and_then(|o| o.state.as_ref());
        let count = match state {
            None => {
                let default_reason = match (kind, initializing) {
                    (ContainerKind::Init, _) | (ContainerKind::App, true) => "PodInitializing",
                    (ContainerKind::App, false) => "ContainerCreating",
                };
                st.state = Some(match obs.and_then(|o| o.pull_failure.as_ref()) {
                    Some(f) if f.attempts > 1 => waiting(
                        "ImagePullBackOff",
                        Some(format!(
                            "Back-off pulling image \"{image}\": ErrImagePull: {}",
                            f.message
                        )),
                    ),
                    Some(f) => waiting("ErrImagePull", Some(f.message.clone())),
                    None => waiting(default_reason, None),
                });
                waiting_count
            }
            Some(ContainerState::Created) => {
                st.state = Some(waiting("ContainerCreating", None));
                waiting_count
            }
            Some(ContainerState::Running { started_at }) => {
                st.state = Some(K8sState {
                    running: Some(ContainerStateRunning {
                        started_at: Some(time(*started_at)),
                    }),
                    ..Default::default()
                });
                st.ready = kind == ContainerKind::App;
                st.started = Some(true);
                Count::Running
            }
            Some(ContainerState::Exited { exit_code, .. }) => {
                let current = obs.and_then(ObservedContainer::termination);
                let current_state = current
                    .as_ref()
                    .map(|t| terminated(t, self.id_scheme))
                    .unwrap_or_default();
                st.ready = kind == ContainerKind::Init && *exit_code == 0;
                if self.may_restart && should_restart(self.pod, kind, *exit_code) {
                    let o = obs
                        .cloned()
                        .unwrap_or_else(|| ObservedContainer::new(&spec.name, kind));
                    st.state = Some(waiting(
                        "CrashLoopBackOff",
                        Some(self.back_off_message(&o, current.as_ref())),
                    ));
                    st.last_state = Some(current_state);
                    Count::Stopped { succeeded: false }
                } else {
                    st.state = Some(current_state);
                    Count::Stopped {
                        succeeded: *exit_code == 0,
                    }
                }
            }
        };
        (st, count)
    }

    /// Kubernetes' wording: `back-off 20s restarting failed container=app pod=web_default(uid)`.
    fn back_off_message(&self, obs: &ObservedContainer, current: Option<&Termination>) -> String {
        let ran_for = current.and_then(|t| {
            t.started_at
                .and_then(|s| t.finished_at.duration_since(s).ok())
        });
        let delay = self.backoff.delay(
            self.backoff
                .effective_exponent(obs.backoff_exponent, ran_for),
        );
        let meta = &self.pod.metadata;
        format!(
            "back-off {}s restarting failed container={} pod={}_{}({})",
            delay.as_secs(),
            obs.name,
            meta.name.as_deref().unwrap_or_default(),
            meta.namespace.as_deref().unwrap_or("default"),
            meta.uid.as_deref().unwrap_or_default(),
        )
    }
}

fn waiting(reason: &str, message: Option<String>) -> K8sState {
    K8sState {
        waiting: Some(ContainerStateWaiting {
            reason: Some(reason.into()),
            message,
        }),
        ..Default::default()
    }
}

fn terminated(t: &Termination, id_scheme: &str) -> K8sState {
    K8sState {
        terminated: Some(ContainerStateTerminated {
            container_id: Some(status_container_id(id_scheme, &t.container_id)),
            exit_code: t.exit_code,
            reason: Some(t.reason.clone()),
            started_at: t.started_at.map(time),
            finished_at: Some(time(t.finished_at)),
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[cfg(test)]
#[path = "status_tests.rs"]
mod tests;
