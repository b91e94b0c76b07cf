//! Docker's answers in the runtime's terms (pure: no I/O): inspect → [`ContainerState`], engine
//! events → [`ContainerEvent`], bollard errors → [`RuntimeError`], Docker's RFC 3339 times →
//! [`SystemTime`].

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use bollard::models::{ContainerStateStatusEnum, EventMessage};

use super::spec::{LABEL_CONTAINER_NAME, LABEL_NODE, LABEL_POD_UID, LABEL_ROLE, ROLE_CONTAINER};
use crate::container::{ContainerEvent, ContainerEventKind, ContainerState, RuntimeError};

/// A Docker time (`2026-11-29T13:40:00.123456789Z`) as a [`SystemTime`]; `None` for Docker's zero
/// time (`0001-01-01T00:00:00Z`, "never") or an unparsable one.
pub fn parse_time(s: Option<&str>) -> Option<SystemTime> {
    let s = s?;
    if s.is_empty() || s.starts_with("0001-") {
        return None;
    }
    let ts: jiff::Timestamp = s.parse().ok()?;
    Some(SystemTime::from(ts))
}

/// Kubernetes' termination reason for an exit: `OOMKilled`, `Completed` (code 0) or `Error`.
pub fn exit_reason(exit_code: i32, oom_killed: bool) -> &'static str {
    match (exit_code, oom_killed) {
        (_, true) => "OOMKilled",
        (0, false) => "Completed",
        _ => "Error",
    }
}

/// The runtime state of an inspected container. Docker's `paused`, `restarting` and `stopping` count
/// as running (the process exists); `removing` and `dead` as exited; `created` with an error and a
/// non-zero exit code (a refused start) as exited with reason `StartError`.
pub fn container_state(state: Option<&bollard::models::ContainerState>) -> ContainerState {
    let Some(s) = state else {
        return ContainerState::Created;
    };
    let started_at = parse_time(s.started_at.as_deref());
    let start_failed =
        s.error.as_deref().is_some_and(|e| !e.is_empty()) && s.exit_code.is_some_and(|c| c != 0);
    match s.status {
        // A start the engine refused (no such executable, …) leaves the container `created` with
        // an exit code and an error: it ended without running (Kubernetes: `StartError`). Its
        // end time is unknown to Docker; `UNIX_EPOCH` here, see `DockerRuntime::inspect`.
        Some(ContainerStateStatusEnum::CREATED) if start_failed => ContainerState::Exited {
            exit_code: s
                .exit_code
                .and_then(|c| i32::try_from(c).ok())
                .unwrap_or(128),
            reason: "StartError".into(),
            started_at: None,
            finished_at: parse_time(s.finished_at.as_deref()).unwrap_or(SystemTime::UNIX_EPOCH),
        },
        None | Some(ContainerStateStatusEnum::EMPTY) | Some(ContainerStateStatusEnum::CREATED) => {
            ContainerState::Created
        }
        Some(
            ContainerStateStatusEnum::RUNNING
            | ContainerStateStatusEnum::PAUSED
            | ContainerStateStatusEnum::RESTARTING
            | ContainerStateStatusEnum::STOPPING,
        ) => ContainerState::Running {
            started_at: started_at.unwrap_or_else(SystemTime::now),
        },
        Some(
            ContainerStateStatusEnum::EXITED
            | ContainerStateStatusEnum::DEAD
            | ContainerStateStatusEnum::REMOVING,
        ) => {
            let exit_code = s
                .exit_code
                .and_then(|c| i32::try_from(c).ok())
                .unwrap_or(-1);
            let oom = s.oom_killed.unwrap_or(false);
            ContainerState::Exited {
                exit_code,
                reason: exit_reason(exit_code, oom).into(),
                started_at,
                finished_at: parse_time(s.finished_at.as_deref())
                    .or(started_at)
                    .unwrap_or_else(SystemTime::now),
            }
        }
    }
}

/// A container event of the engine as a runtime event, when it is about a pod container of one of
/// `nodes` (empty: any node) and is one of `create`, `start`, `die`, `destroy`.
pub fn container_event(ev: &EventMessage, nodes: &[String]) -> Option<ContainerEvent> {
    let actor = ev.actor.as_ref()?;
    let empty = HashMap::new();
    let attrs = actor.attributes.as_ref().unwrap_or(&empty);
    if attrs.get(LABEL_ROLE).map(String::as_str) != Some(ROLE_CONTAINER) {
        return None;
    }
    if !nodes.is_empty() && !attrs.get(LABEL_NODE).is_some_and(|n| nodes.contains(n)) {
        return None;
    }
    let kind = match ev.action.as_deref()? {
        "create" => ContainerEventKind::Created,
        "start" => ContainerEventKind::Started,
        "die" => ContainerEventKind::Died {
            exit_code: attrs
                .get("exitCode")
                .and_then(|c| c.parse().ok())
                .unwrap_or(-1),
        },
        "destroy" => ContainerEventKind::Removed,
        _ => return None,
    };
    let at = match ev.time_nano.and_then(|n| u64::try_from(n).ok()) {
        Some(n) => SystemTime::UNIX_EPOCH + Duration::from_nanos(n),
        None => SystemTime::now(),
    };
    Some(ContainerEvent {
        id: actor.id.clone()?,
        pod_uid: attrs.get(LABEL_POD_UID)?.clone(),
        container_name: attrs.get(LABEL_CONTAINER_NAME)?.clone(),
        kind,
        at,
    })
}

/// The HTTP status of an engine error, if it is one.
pub fn status_code(e: &bollard::errors::Error) -> Option<u16> {
    match e {
        bollard::errors::Error::DockerResponseServerError { status_code, .. } => Some(*status_code),
        _ => None,
    }
}

/// An engine error on container `id`: 404 is [`RuntimeError::NotFound`], anything else
/// [`RuntimeError::Engine`] with Docker's message.
pub fn runtime_error(id: &str, e: bollard::errors::Error) -> RuntimeError {
    match status_code(&e) {
        Some(404) => RuntimeError::NotFound(id.to_string()),
        _ => RuntimeError::Engine(e.to_string()),
    }
}
