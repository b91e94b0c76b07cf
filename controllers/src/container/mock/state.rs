//! MockDocker's shared state: the container table, its phases and the transitions that publish events.

use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use tokio::sync::{broadcast, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::MAX_LOG_LINES;
use crate::container::config::{Behaviour, MockDockerConfig};
use crate::container::{
    ContainerConfig, ContainerEvent, ContainerEventKind, ContainerId, ContainerState, RuntimeError,
    SandboxStatus,
};

pub(super) struct Inner {
    pub(super) config: MockDockerConfig,
    /// A std mutex: it is never held across an `.await`, and every critical section is a few map
    /// operations, so an async mutex would only add overhead.
    pub(super) state: Mutex<State>,
    pub(super) events: broadcast::Sender<ContainerEvent>,
    pub(super) shutdown: CancellationToken,
    pub(super) tasks: TaskTracker,
    pub(super) base_wall: SystemTime,
    pub(super) base_instant: Instant,
}

pub(super) struct State {
    pub(super) containers: HashMap<ContainerId, Entry>,
    /// Index of `containers` by pod UID, so listing one pod's containers (the node agent does it on
    /// every pod step) does not scan every container of the pool.
    pub(super) by_pod: HashMap<String, Vec<ContainerId>>,
    /// Pulled images: reference → image ID.
    pub(super) images: HashMap<String, String>,
    /// Pod sandboxes by pod UID.
    pub(super) sandboxes: HashMap<String, SandboxStatus>,
    pub(super) next_seq: u64,
    pub(super) rng: fastrand::Rng,
}

pub(super) enum Phase {
    Created,
    Starting,
    Running {
        started_at: SystemTime,
    },
    Exited {
        exit_code: i32,
        reason: String,
        started_at: Option<SystemTime>,
        finished_at: SystemTime,
    },
}

pub(super) struct Entry {
    pub(super) seq: u64,
    pub(super) config: ContainerConfig,
    pub(super) behaviour: Behaviour,
    pub(super) phase: Phase,
    pub(super) created_at: SystemTime,
    pub(super) logs: VecDeque<String>,
    /// Lines logged in total (also those dropped from `logs`): where a follower is.
    pub(super) logged: u64,
    /// Cancels the simulated process (its scheduled start and exit).
    pub(super) process: CancellationToken,
    /// True once a SIGTERM was sent.
    pub(super) stopping: bool,
    /// Becomes true when the container exits.
    pub(super) exited: watch::Sender<bool>,
}

impl Entry {
    pub(super) fn log(&mut self, line: String) {
        if self.logs.len() == MAX_LOG_LINES {
            self.logs.pop_front();
        }
        self.logs.push_back(line);
        self.logged += 1;
    }

    pub(super) fn state(&self) -> ContainerState {
        match &self.phase {
            Phase::Created | Phase::Starting => ContainerState::Created,
            Phase::Running { started_at } => ContainerState::Running {
                started_at: *started_at,
            },
            Phase::Exited {
                exit_code,
                reason,
                started_at,
                finished_at,
            } => ContainerState::Exited {
                exit_code: *exit_code,
                reason: reason.clone(),
                started_at: *started_at,
                finished_at: *finished_at,
            },
        }
    }

    pub(super) fn phase_name(&self) -> &'static str {
        match self.phase {
            Phase::Created => "created",
            Phase::Starting => "starting",
            Phase::Running { .. } => "running",
            Phase::Exited { .. } => "exited",
        }
    }
}

impl Inner {
    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the maps half-updated in a way that matters
        // to a simulation, so a poisoned lock is still used.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Wall-clock now, derived from tokio's clock so paused-time tests are exact.
    pub(super) fn now(&self) -> SystemTime {
        self.base_wall + self.base_instant.elapsed()
    }

    pub(super) fn emit(&self, entry: &Entry, id: &str, kind: ContainerEventKind, at: SystemTime) {
        // No receiver is not an error: nobody is listening yet.
        let _ = self.events.send(ContainerEvent {
            id: id.to_string(),
            pod_uid: entry.config.pod_uid.clone(),
            container_name: entry.config.container_name.clone(),
            kind,
            at,
        });
    }

    pub(super) fn check_open(&self) -> Result<(), RuntimeError> {
        if self.shutdown.is_cancelled() {
            Err(RuntimeError::ShuttingDown)
        } else {
            Ok(())
        }
    }

    /// Marks a starting container `Running`; returns its self-exit delay.
    pub(super) fn set_running(&self, id: &str) -> Option<Option<Duration>> {
        let now = self.now();
        let mut state = self.lock();
        let entry = state.containers.get_mut(id)?;
        if !matches!(entry.phase, Phase::Starting) {
            return None;
        }
        entry.phase = Phase::Running { started_at: now };
        let line = format!(
            "started {} {}",
            entry.config.image,
            command_line(&entry.config)
        );
        entry.log(line.trim_end().to_string());
        self.emit(entry, id, ContainerEventKind::Started, now);
        Some(entry.behaviour.exit_after)
    }

    /// Ends a starting or running container with this exit code; a no-op otherwise.
    pub(super) fn finish(&self, id: &str, exit_code: i32, oom_killed: bool) {
        let now = self.now();
        let mut state = self.lock();
        let Some(entry) = state.containers.get_mut(id) else {
            return;
        };
        let started_at = match entry.phase {
            Phase::Running { started_at } => Some(started_at),
            Phase::Starting => None,
            Phase::Created | Phase::Exited { .. } => return,
        };
        let reason = match (exit_code, oom_killed) {
            (_, true) => "OOMKilled",
            (0, false) => "Completed",
            _ => "Error",
        };
        entry.process.cancel();
        entry.phase = Phase::Exited {
            exit_code,
            reason: reason.into(),
            started_at,
            finished_at: now,
        };
        entry.log(format!("exited {exit_code}"));
        entry.exited.send_replace(true);
        self.emit(entry, id, ContainerEventKind::Died { exit_code }, now);
    }
}

/// `command args…` as one line, for the simulated logs.
pub(super) fn command_line(config: &ContainerConfig) -> String {
    config
        .command
        .iter()
        .chain(&config.args)
        .cloned()
        .collect::<Vec<_>>()
        .join(" ")
}

/// A stable Docker-style image ID for a reference: `sha256:` + 64 hex digits.
pub(super) fn image_id(image: &str) -> String {
    let mut out = String::from("sha256:");
    for salt in 0u8..4 {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (salt, image).hash(&mut h);
        out.push_str(&format!("{:016x}", h.finish()));
    }
    out
}
