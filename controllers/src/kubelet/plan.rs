//! The state machine of one pod on its node: given the pod, what was observed and the time, the next
//! actions for the node agent. A pure function: the agent executes the actions, updates the
//! observation and asks again (after an action completes, a runtime event, a pod change, or the time
//! of a [`Action::WaitUntil`]).
//!
//! # Transition table
//! Rules are tried top to bottom; `C*` and `X*` rows apply to each container (init containers one at
//! a time, in order; app containers all together), `X*` to a container whose current instance exited.
//!
//! | row | situation | actions |
//! |---|---|---|
//! | D1 | pod being deleted (`deletionTimestamp`), some container running | `Stop` each running one, with the grace period |
//! | D2 | being deleted, none running, some container exists | `Remove` each |
//! | D3 | being deleted, no container left | `DeletionComplete` (the agent deletes the object) |
//! | R1 | admission rejected the pod | none: the pod is `Failed` with the rejection's reason |
//! | T1 | `status.phase` is already `Succeeded` or `Failed` | none: terminal phases are final |
//! | C1 | image not pulled, no failed pull | `Pull` |
//! | C2 | last pull failed, its back-off not over | `WaitUntil(last attempt + delay(attempts − 1))` |
//! | C3 | last pull failed, back-off over | `Pull` |
//! | C4 | image pulled, no instance yet | `CreateAndStart` (restart count 0) |
//! | C5 | instance created or running | none: wait for its exit |
//! | I1 | init container exited 0 | the next init container; after the last, the app containers |
//! | I2 | init container exited ≠ 0, `restartPolicy: Never` | none: the pod is `Failed` |
//! | X1 | exited, the policy restarts it ([`should_restart`]), back-off not over | `WaitUntil(finished + delay)` |
//! | X2 | exited, the policy restarts it, back-off over | `Remove` the old instance, `CreateAndStart` (restart count + 1) |
//! | X3 | app container exited, the policy does not restart it | none |
//!
//! Several `WaitUntil`s collapse into the earliest. `Stop` actions of one batch may run concurrently;
//! the others run in order.
//!
//! # Caveats
//! Init containers with `restartPolicy: Always` (sidecars) are treated as ordinary init containers.

use std::time::{Duration, SystemTime};

use k8s_openapi::api::core::v1::{Container, Pod};

use super::{CrashLoopBackoff, ObservedContainer, PodObservation, grace_period, should_restart};
use crate::container::{ContainerId, ContainerKind, ContainerState};

/// One step for the node agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Pull the image of a container; on success set `image_id`, on failure record a `PullFailure`.
    Pull {
        /// The container's name.
        container: String,
        /// Init or app container.
        kind: ContainerKind,
        /// The image reference.
        image: String,
    },
    /// Create and start an instance of a container. The agent sets the container's `container_id`,
    /// `state: Created`, `restart_count` and `backoff_exponent` from this action, and moves the
    /// previous instance's termination (if any) to `last_termination`.
    CreateAndStart {
        /// The container's name.
        container: String,
        /// Init or app container.
        kind: ContainerKind,
        /// The new instance's restart count (0 for the first).
        restart_count: u32,
        /// The CrashLoopBackOff exponent to remember for the next restart.
        backoff_exponent: u32,
    },
    /// Stop a running instance: SIGTERM, SIGKILL after `grace`.
    Stop {
        /// The container's name.
        container: String,
        /// The instance.
        container_id: ContainerId,
        /// Grace period before SIGKILL.
        grace: Duration,
    },
    /// Remove an instance that is not running.
    Remove {
        /// The container's name.
        container: String,
        /// The instance.
        container_id: ContainerId,
    },
    /// Nothing to do before this wall-clock time (a back-off ends); plan again then.
    WaitUntil(SystemTime),
    /// The pod is being deleted and has no containers left: delete the object (grace period 0).
    DeletionComplete,
}

/// The next actions for `pod`, by the transition table in the module docs. An empty list means
/// "wait for an event" (a container exit, a pod change).
pub fn next_actions(
    pod: &Pod,
    observed: &PodObservation,
    now: SystemTime,
    backoff: &CrashLoopBackoff,
) -> Vec<Action> {
    if pod.metadata.deletion_timestamp.is_some() {
        return deletion_actions(pod, observed);
    }
    if observed.rejection.is_some() {
        return Vec::new(); // R1
    }
    if matches!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded" | "Failed")
    ) {
        return Vec::new(); // T1
    }
    let Some(spec) = pod.spec.as_ref() else {
        return Vec::new();
    };
    let mut actions = Vec::new();
    for c in spec.init_containers.iter().flatten() {
        let obs = observed.container(ContainerKind::Init, &c.name);
        let exited_ok = matches!(
            obs.and_then(|o| o.state.as_ref()),
            Some(ContainerState::Exited { exit_code: 0, .. })
        );
        if exited_ok {
            continue; // I1
        }
        // I2 is `container_actions` returning nothing for a failed init container under Never.
        container_actions(pod, ContainerKind::Init, c, obs, now, backoff, &mut actions);
        return collapse_waits(actions);
    }
    for c in &spec.containers {
        let obs = observed.container(ContainerKind::App, &c.name);
        container_actions(pod, ContainerKind::App, c, obs, now, backoff, &mut actions);
    }
    collapse_waits(actions)
}

/// Rows D1–D3.
fn deletion_actions(pod: &Pod, observed: &PodObservation) -> Vec<Action> {
    let grace = grace_period(pod);
    let with_id = || {
        observed
            .containers
            .iter()
            .filter_map(|c| c.container_id.as_ref().map(|id| (c, id)))
    };
    let stops: Vec<Action> = with_id()
        .filter(|(c, _)| c.state.as_ref().is_some_and(ContainerState::is_running))
        .map(|(c, id)| Action::Stop {
            container: c.name.clone(),
            container_id: id.clone(),
            grace,
        })
        .collect();
    if !stops.is_empty() {
        return stops; // D1
    }
    let removes: Vec<Action> = with_id()
        .map(|(c, id)| Action::Remove {
            container: c.name.clone(),
            container_id: id.clone(),
        })
        .collect();
    if !removes.is_empty() {
        return removes; // D2
    }
    vec![Action::DeletionComplete] // D3
}

/// Rows C1–C5 and X1–X3 (with I2) for one container.
fn container_actions(
    pod: &Pod,
    kind: ContainerKind,
    spec: &Container,
    obs: Option<&ObservedContainer>,
    now: SystemTime,
    backoff: &CrashLoopBackoff,
    out: &mut Vec<Action>,
) {
    let name = spec.name.clone();
    let image = spec.image.clone().unwrap_or_default();
    let Some(obs) = obs.filter(|o| o.image_id.is_some() || o.pull_failure.is_some()) else {
        out.push(Action::Pull {
            container: name,
            kind,
            image,
        }); // C1
        return;
    };
    if obs.image_id.is_none() {
        if let Some(f) = &obs.pull_failure {
            let retry = f
                .last_attempt
                .checked_add(backoff.delay(f.attempts.saturating_sub(1)))
                .unwrap_or(now);
            out.push(if now >= retry {
                Action::Pull {
                    container: name,
                    kind,
                    image,
                } // C3
            } else {
                Action::WaitUntil(retry) // C2
            });
        }
        return;
    }
    match (&obs.state, &obs.container_id) {
        (None, _) | (Some(_), None) => out.push(Action::CreateAndStart {
            container: name,
            kind,
            restart_count: 0,
            backoff_exponent: 0,
        }), // C4
        (Some(ContainerState::Created | ContainerState::Running { .. }), _) => {} // C5
        (
            Some(ContainerState::Exited {
                exit_code,
                started_at,
                finished_at,
                ..
            }),
            Some(id),
        ) => {
            if !should_restart(pod, kind, *exit_code) {
                return; // X3, I2
            }
            let ran_for = started_at.and_then(|s| finished_at.duration_since(s).ok());
            let (at, exponent) = backoff.restart_at(obs.backoff_exponent, ran_for, *finished_at);
            if now < at {
                out.push(Action::WaitUntil(at)); // X1
            } else {
                out.push(Action::Remove {
                    container: name.clone(),
                    container_id: id.clone(),
                });
                out.push(Action::CreateAndStart {
                    container: name,
                    kind,
                    restart_count: obs.restart_count.saturating_add(1),
                    backoff_exponent: exponent,
                }); // X2
            }
        }
    }
}

/// Keeps every action but the `WaitUntil`s, then appends the earliest `WaitUntil`.
fn collapse_waits(actions: Vec<Action>) -> Vec<Action> {
    let mut earliest: Option<SystemTime> = None;
    let mut out: Vec<Action> = Vec::with_capacity(actions.len());
    for a in actions {
        match a {
            Action::WaitUntil(t) => earliest = Some(earliest.map_or(t, |e| e.min(t))),
            other => out.push(other),
        }
    }
    out.extend(earliest.map(Action::WaitUntil));
    out
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
