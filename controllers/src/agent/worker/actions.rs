//! Executing the kubelet's [`Action`]s with the container runtime, and the bookkeeping each one
//! needs in the pod's observation (image ID, pull failures, container IDs, restart counts, the
//! previous instance's termination).

use std::collections::BTreeMap;
use std::time::SystemTime;

use k8s_openapi::api::core::v1::{Container, Pod};

use super::{Step, Worker, field_path};
use crate::agent::AgentError;
use crate::client::{Api, DeleteParams};
use crate::container::{
    ContainerConfig, ContainerKind, ContainerResources, ContainerState, PullError, RuntimeError,
};
use crate::events::EventSpec;
use crate::kubelet::resources::{CPU, MEMORY, amount};
use crate::kubelet::{Action, PullFailure, should_restart, spec_containers};

impl Step<'_> {
    /// Executes one action; `Ok(true)` when the pod object was deleted.
    pub(super) async fn execute(&self, w: &mut Worker, action: Action) -> Result<bool, AgentError> {
        let rt = &self.pool.runtime;
        let pod = self.pod;
        match action {
            Action::Pull {
                container,
                kind,
                image,
            } => {
                let annotations = pod.metadata.annotations.clone().unwrap_or_default();
                let began = tokio::time::Instant::now();
                let path = field_path(kind, &container);
                match rt.pull_image(&image, &annotations).await {
                    Ok(id) => {
                        let o = w.container_mut(kind, &container);
                        o.image_id = Some(id);
                        o.pull_failure = None;
                        let secs = began.elapsed().as_secs_f64();
                        let msg = format!("Successfully pulled image \"{image}\" in {secs:.3}s");
                        self.pool.emit(
                            self.node,
                            pod,
                            Some(&path),
                            EventSpec::normal("Pulled", msg),
                        );
                    }
                    Err(PullError::ShuttingDown) => return Err(PullError::ShuttingDown.into()),
                    Err(e @ PullError::ErrImagePull { .. }) => {
                        let now = self.pool.clock.now();
                        let o = w.container_mut(kind, &container);
                        let attempts = o.pull_failure.as_ref().map_or(0, |f| f.attempts) + 1;
                        o.pull_failure = Some(PullFailure {
                            message: e.to_string(),
                            attempts,
                            last_attempt: now,
                        });
                        let msg = format!("Failed to pull image \"{image}\": {e}");
                        let ev = EventSpec::warning("Failed", msg);
                        self.pool.emit(self.node, pod, Some(&path), ev);
                        let ev = EventSpec::warning("Failed", "Error: ErrImagePull");
                        self.pool.emit(self.node, pod, Some(&path), ev);
                    }
                }
            }
            Action::CreateAndStart {
                container,
                kind,
                restart_count,
                backoff_exponent,
            } => {
                let Some(spec) = spec_containers(pod)
                    .into_iter()
                    .find(|(k, c)| *k == kind && c.name == container)
                    .map(|(_, c)| c)
                else {
                    return Ok(false);
                };
                let config = container_config(pod, kind, spec, restart_count);
                let path = field_path(kind, &container);
                // The engine may refuse a create (Docker: a memory limit under 6 MB) or a start
                // (no such executable): a Warning Event says why, as the kubelet's `Failed`.
                let failed = |e: &RuntimeError| EventSpec::warning("Failed", format!("Error: {e}"));
                let id = match rt.create(config).await {
                    Ok(id) => id,
                    Err(e) => {
                        self.pool.emit(self.node, pod, Some(&path), failed(&e));
                        return Err(e.into());
                    }
                };
                let ev = EventSpec::normal("Created", format!("Created container {container}"));
                self.pool.emit(self.node, pod, Some(&path), ev);
                let o = w.container_mut(kind, &container);
                if let Some(previous) = o.termination() {
                    o.last_termination = Some(previous);
                }
                o.container_id = Some(id.clone());
                o.state = Some(ContainerState::Created);
                o.restart_count = restart_count;
                o.backoff_exponent = backoff_exponent;
                if let Err(e) = rt.start(&id).await {
                    self.pool.emit(self.node, pod, Some(&path), failed(&e));
                    return Err(e.into());
                }
            }
            Action::Stop {
                container,
                container_id,
                grace,
            } => {
                let kind = w
                    .obs
                    .containers
                    .iter()
                    .find(|c| c.container_id.as_ref() == Some(&container_id))
                    .map_or(ContainerKind::App, |c| c.kind);
                w.stopping.insert(container_id.clone());
                let ev = EventSpec::normal("Killing", format!("Stopping container {container}"));
                self.pool
                    .emit(self.node, pod, Some(&field_path(kind, &container)), ev);
                // A stop lasts up to the grace period: run it beside the queue, owned by the pool.
                // Its `Died` event triggers the next step.
                let (rt, stop) = (rt.clone(), self.pool.shutdown.clone());
                self.pool.tasks.spawn(async move {
                    tokio::select! {
                        _ = stop.cancelled() => {}
                        r = rt.stop(&container_id, grace) => if let Err(e) = r {
                            tracing::debug!(error = %e, "container stop failed");
                        }
                    }
                });
            }
            Action::Remove {
                container,
                container_id,
            } => {
                match rt.remove(&container_id).await {
                    Ok(()) => {}
                    Err(crate::container::RuntimeError::NotFound(_)) => {}
                    Err(e) => return Err(e.into()),
                }
                w.stopping.remove(&container_id);
                if let Some(o) =
                    w.obs.containers.iter_mut().find(|c| {
                        c.name == container && c.container_id.as_ref() == Some(&container_id)
                    })
                {
                    if let Some(t) = o.termination() {
                        o.last_termination = Some(t);
                    }
                    o.container_id = None;
                    o.state = None;
                }
            }
            Action::WaitUntil(_) => {}
            // Never from a paused node (its view hides the deletion): it writes nothing.
            Action::DeletionComplete if self.pool.is_paused(&self.node.spec.name) => {}
            Action::DeletionComplete => {
                rt.remove_sandbox(&w.uid).await?;
                w.sandbox = false;
                let api: Api<Pod> = Api::namespaced(
                    self.node.client.clone(),
                    pod.metadata.namespace.as_deref().unwrap_or("default"),
                );
                let params = DeleteParams {
                    grace_period_seconds: Some(0),
                    precondition_uid: Some(w.uid.clone()),
                    ..Default::default()
                };
                let name = pod.metadata.name.as_deref().unwrap_or_default();
                match api.delete(name, &params).await {
                    Ok(_) => {}
                    // Gone already, or a new pod took the name: either way this one is done.
                    Err(e) if e.is_not_found() || e.is_conflict() => {}
                    Err(e) => return Err(e.into()),
                }
                w.gone = true;
                self.pool.forget(&w.uid, self.node);
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Publishes a `BackOff` Event when a new back-off wait begins.
    pub(super) fn report_wait(&self, w: &mut Worker, wait: Option<SystemTime>) {
        let Some(t) = wait else {
            return;
        };
        if w.reported_wait == Some(t) {
            return;
        }
        w.reported_wait = Some(t);
        let pod = self.pod;
        for o in &w.obs.containers {
            let path = field_path(o.kind, &o.name);
            let ev = if o.image_id.is_none() && o.pull_failure.is_some() {
                let image = spec_containers(pod)
                    .into_iter()
                    .find(|(k, c)| *k == o.kind && c.name == o.name)
                    .and_then(|(_, c)| c.image.clone())
                    .unwrap_or_default();
                EventSpec::normal("BackOff", format!("Back-off pulling image \"{image}\""))
            } else if let Some(ContainerState::Exited { exit_code, .. }) = &o.state
                && should_restart(pod, o.kind, *exit_code)
            {
                let m = &pod.metadata;
                EventSpec::warning(
                    "BackOff",
                    format!(
                        "Back-off restarting failed container {} in pod {}_{}({})",
                        o.name,
                        m.name.as_deref().unwrap_or_default(),
                        m.namespace.as_deref().unwrap_or("default"),
                        w.uid
                    ),
                )
            } else {
                continue;
            };
            self.pool.emit(self.node, pod, Some(&path), ev);
        }
    }
}

/// What the runtime needs to create container `c` of `pod`.
fn container_config(
    pod: &Pod,
    kind: ContainerKind,
    c: &Container,
    restart_count: u32,
) -> ContainerConfig {
    let m = &pod.metadata;
    let (uid, ns, name) = (
        m.uid.clone().unwrap_or_default(),
        m.namespace.clone().unwrap_or_else(|| "default".into()),
        m.name.clone().unwrap_or_default(),
    );
    let labels: BTreeMap<String, String> = [
        ("io.kubernetes.pod.uid", uid.clone()),
        ("io.kubernetes.pod.name", name.clone()),
        ("io.kubernetes.pod.namespace", ns.clone()),
        ("io.kubernetes.container.name", c.name.clone()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    ContainerConfig {
        pod_uid: uid,
        pod_namespace: ns,
        pod_name: name,
        container_name: c.name.clone(),
        kind,
        image: c.image.clone().unwrap_or_default(),
        command: c.command.clone().unwrap_or_default(),
        args: c.args.clone().unwrap_or_default(),
        env: c
            .env
            .iter()
            .flatten()
            .map(|e| (e.name.clone(), e.value.clone().unwrap_or_default()))
            .collect(),
        working_dir: c.working_dir.clone(),
        resources: container_resources(c),
        restart_count,
        labels,
        pod_annotations: m.annotations.clone().unwrap_or_default(),
    }
}

/// The container's CPU request and CPU/memory limits in the runtime's units.
fn container_resources(c: &Container) -> ContainerResources {
    let r = c.resources.as_ref();
    let get = |list: Option<&BTreeMap<String, _>>, name: &str| {
        list.and_then(|l| l.get(name))
            .map(|q| amount(name, q))
            .and_then(|v| u64::try_from(v).ok())
            .filter(|v| *v > 0)
    };
    let requests = r.and_then(|r| r.requests.as_ref());
    let limits = r.and_then(|r| r.limits.as_ref());
    ContainerResources {
        cpu_request_millis: get(requests, CPU).or_else(|| get(limits, CPU)),
        cpu_limit_millis: get(limits, CPU),
        memory_limit_bytes: get(limits, MEMORY),
    }
}
