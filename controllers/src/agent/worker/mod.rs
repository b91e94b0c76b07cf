//! One pod on its node: the [`Worker`] state (what the agent observed and wrote) and [`reconcile`],
//! one step of the pod's state machine (see the module docs of [`super`]).

use std::collections::HashSet;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use k8s_openapi::api::core::v1::{Pod, PodStatus};

mod actions;
mod written;

use written::Written;

use super::AgentError;
use super::pool::{NodeState, Pool, Registered};
use crate::client::Api;
use crate::container::{
    ContainerId, ContainerKind, ContainerState, SandboxConfig, SandboxNetwork, SandboxPort,
};
use crate::controller::Action as Next;
use crate::events::EventSpec;
use crate::kubelet::admission::is_terminal;
use crate::kubelet::{
    Action, ObservedContainer, PodObservation, admit_requests, admitted_requests, next_actions,
    pod_status, spec_containers,
};
use crate::reflector::ObjectRef;

/// Steps executed in one reconcile before yielding to other pods (a fresh pod needs about three:
/// pull, create-and-start, then waiting).
const MAX_STEPS: usize = 8;

/// What a node registered before its pods can run waits for (it usually takes milliseconds).
const NODE_NOT_REGISTERED_RETRY: Duration = Duration::from_millis(500);

/// The agent's state for one pod (by UID).
pub(crate) struct Worker {
    uid: String,
    /// Set when the pod was cleaned up: a reconcile that still holds this worker does nothing.
    pub(crate) gone: bool,
    started: bool,
    obs: PodObservation,
    pod_ip: Option<String>,
    written: Option<Written>,
    stopping: HashSet<ContainerId>,
    reported_wait: Option<SystemTime>,
    terminal_done: bool,
    /// Set once the runtime runs the pod's sandbox (containers are created only after).
    sandbox: bool,
}

impl Worker {
    pub(crate) fn new(uid: &str) -> Worker {
        Worker {
            uid: uid.to_string(),
            gone: false,
            started: false,
            obs: PodObservation::default(),
            pod_ip: None,
            written: None,
            stopping: HashSet::new(),
            reported_wait: None,
            terminal_done: false,
            sandbox: false,
        }
    }

    /// The pod with the freshest status: the store's, unless our last write is newer.
    fn view(&self, pod: &Pod) -> Pod {
        let mut view = pod.clone();
        if let Some(w) = &self.written
            && !at_least(
                pod.metadata.resource_version.as_deref(),
                &w.resource_version,
            )
        {
            view.status = Some(w.stored().unwrap_or(&w.ours).clone());
        }
        view
    }

    fn container_mut(&mut self, kind: ContainerKind, name: &str) -> &mut ObservedContainer {
        let idx = match self
            .obs
            .containers
            .iter()
            .position(|c| c.kind == kind && c.name == name)
        {
            Some(i) => i,
            None => {
                self.obs.containers.push(ObservedContainer::new(name, kind));
                self.obs.containers.len() - 1
            }
        };
        &mut self.obs.containers[idx]
    }
}

/// Compares resourceVersions numerically (mock_k8's are store revisions); unparsable ones only
/// compare equal.
fn at_least(store: Option<&str>, written: &str) -> bool {
    match (
        store.and_then(|s| s.parse::<u64>().ok()),
        written.parse::<u64>(),
    ) {
        (Some(a), Ok(b)) => a >= b,
        _ => store == Some(written),
    }
}

fn field_path(kind: ContainerKind, name: &str) -> String {
    match kind {
        ContainerKind::Init => format!("spec.initContainers{{{name}}}"),
        ContainerKind::App => format!("spec.containers{{{name}}}"),
    }
}

/// The controller's error policy: retry the pod with exponential backoff.
pub(crate) fn error_policy(_pod: Arc<Pod>, err: &AgentError, _pool: Arc<Pool>) -> Next {
    tracing::debug!(error = %err, "pod step failed");
    Next::backoff()
}

/// One step of a pod's lifecycle (the pool's pod controller's reconcile function).
pub(crate) async fn reconcile(pod: Arc<Pod>, pool: Arc<Pool>) -> Result<Next, AgentError> {
    let Some(node_name) = pod.spec.as_ref().and_then(|s| s.node_name.as_deref()) else {
        return Ok(Next::await_change());
    };
    let (Some(node), Some(uid)) = (pool.nodes.get(node_name), pod.metadata.uid.as_deref()) else {
        return Ok(Next::await_change()); // another agent's pod
    };
    let Some(reg) = node.registered.get() else {
        return Ok(Next::requeue(NODE_NOT_REGISTERED_RETRY));
    };
    let entry = pool.worker(uid, &ObjectRef::from_obj(pod.as_ref()), node_name);
    let mut w = entry.worker.lock().await;
    if w.gone {
        return Ok(Next::await_change());
    }
    Step {
        pool: &pool,
        node,
        reg,
        pod: &pod,
    }
    .run(&mut w)
    .await
}

pub(super) struct Step<'a> {
    pool: &'a Pool,
    node: &'a NodeState,
    reg: &'a Registered,
    pod: &'a Pod,
}

impl Step<'_> {
    async fn run(&self, w: &mut Worker) -> Result<Next, AgentError> {
        let backoff = self.pool.config.crash_loop;
        // A paused node is unreachable: it neither sees deletions (its containers keep running)
        // nor writes anything; the step still runs its containers locally. When the heartbeat
        // resumes, every pod of the node is re-synced (see `heartbeat::run_node`).
        let paused = self.pool.is_paused(&self.node.spec.name);
        let mut view = w.view(self.pod);
        if paused {
            view.metadata.deletion_timestamp = None;
            view.metadata.deletion_grace_period_seconds = None;
        }
        if !w.started {
            self.start(w, &view).await?;
            w.started = true;
        }
        if !w.sandbox
            && w.obs.rejection.is_none()
            && !is_terminal(&view)
            && view.metadata.deletion_timestamp.is_none()
        {
            self.run_sandbox(w, &view).await?;
        }
        self.refresh(w, &view).await;
        let mut wait = None;
        let mut more = false;
        for step in 0..MAX_STEPS {
            let now = self.pool.clock.now();
            wait = None;
            let mut work = Vec::new();
            for a in next_actions(&view, &w.obs, now, &backoff) {
                match a {
                    Action::WaitUntil(t) => wait = Some(t),
                    Action::Stop { container_id, .. } if w.stopping.contains(&container_id) => {}
                    other => work.push(other),
                }
            }
            if work.is_empty() {
                break;
            }
            for action in work {
                if self.execute(w, action).await? {
                    return Ok(Next::await_change()); // deleted
                }
            }
            more = step + 1 == MAX_STEPS;
        }
        if more {
            return Ok(Next::requeue(Duration::ZERO));
        }
        self.report_wait(w, wait);
        let now = self.pool.clock.now();
        let host_ip = Some(self.reg.host_ip.as_str());
        let scheme = self.pool.runtime.id_scheme();
        let status = pod_status(
            &view,
            &w.obs,
            now,
            w.pod_ip.as_deref(),
            host_ip,
            &backoff,
            scheme,
        );
        if !paused && self.needs_write(w, &view, &status) {
            match self.write_status(w, &mut view, status).await {
                Err(AgentError::Client(e)) if e.is_not_found() => return Ok(Next::await_change()),
                r => r?,
            }
        }
        if !w.terminal_done && is_terminal(&view) {
            // A finished pod holds no resources: remove its sandbox (as the kubelet does; its
            // exited containers and their logs stay), then free its admission slot and its IP
            // (its status keeps showing the IP, as in Kubernetes). The IP is freed only once the
            // sandbox is gone: a running sandbox still holds it in the runtime, and handing it to
            // another pod would fail that pod's sandbox ("Address already in use").
            match self.pool.runtime.remove_sandbox(&w.uid).await {
                Ok(()) => {
                    w.terminal_done = true;
                    w.sandbox = false;
                    self.node.admitted.lock().map(|mut a| a.remove(&w.uid)).ok();
                    if let Ok(mut ipam) = self.reg.ipam.lock() {
                        ipam.release(&w.uid);
                    }
                }
                Err(e) => {
                    tracing::warn!(pod = %w.uid, error = %e, "failed to remove the sandbox of a finished pod");
                    return Ok(Next::requeue(Duration::from_secs(1)));
                }
            }
        }
        Ok(match wait {
            Some(t) => Next::requeue(t.duration_since(now).unwrap_or_default()),
            None => Next::await_change(),
        })
    }

    /// First sight of the pod: adopt its containers, admit it, give it an IP.
    async fn start(&self, w: &mut Worker, view: &Pod) -> Result<(), AgentError> {
        self.adopt(w, view).await;
        if is_terminal(view) || view.metadata.deletion_timestamp.is_some() {
            // A pod found finished or deleted (an agent restart) may still have a sandbox holding
            // its IP: keep the IP taken until the sandbox is gone (terminal) or the pod is (deleted).
            let previous = view.status.as_ref().and_then(|s| s.pod_ip.as_deref());
            if let Some(ip) = previous.and_then(|ip| ip.parse::<Ipv4Addr>().ok()) {
                let mut ipam = self.reg.ipam.lock().unwrap_or_else(|p| p.into_inner());
                if let Err(e) = ipam.reserve(&w.uid, ip) {
                    tracing::debug!(pod = %w.uid, error = %e, "could not keep the IP of a finished or deleted pod");
                }
            }
            return Ok(());
        }
        let verdict = {
            let mut admitted = self.node.admitted.lock().unwrap_or_else(|p| p.into_inner());
            let cached = self
                .pool
                .node_store
                .get(&ObjectRef::new(&self.node.spec.name));
            let node_obj = cached.as_deref().unwrap_or(&self.node.spec.node);
            let others = admitted
                .iter()
                .filter(|(uid, _)| **uid != w.uid)
                .map(|(_, r)| &r[..]);
            let verdict = admit_requests(view, node_obj, others);
            if verdict.is_ok() {
                admitted.insert(w.uid.clone(), admitted_requests(view));
            }
            verdict
        };
        if let Err(rejection) = verdict {
            self.pool.emit(
                self.node,
                view,
                None,
                EventSpec::warning(&rejection.reason, rejection.message.clone()),
            );
            w.obs.rejection = Some(rejection);
            return Ok(());
        }
        let host_network = view
            .spec
            .as_ref()
            .and_then(|s| s.host_network)
            .unwrap_or(false);
        if host_network {
            w.pod_ip = Some(self.reg.host_ip.clone());
            return Ok(());
        }
        let previous: Option<Ipv4Addr> = view
            .status
            .as_ref()
            .and_then(|s| s.pod_ip.as_deref())
            .and_then(|ip| ip.parse().ok());
        let mut ipam = self.reg.ipam.lock().unwrap_or_else(|p| p.into_inner());
        if previous.is_none() {
            // After an agent restart, workers start in no particular order: the other live pods
            // of this node that already report an IP (their sandboxes hold it) claim it first, so
            // a fresh address never duplicates one of theirs. (Finished and terminating pods
            // claim theirs in their own `start`, and release it with their sandbox.)
            for other in self.pool.pods.by_node_name(&self.node.spec.name) {
                let Some(uid) = other.metadata.uid.as_deref() else {
                    continue;
                };
                if is_terminal(&other) || other.metadata.deletion_timestamp.is_some() {
                    continue;
                }
                let ip = other.status.as_ref().and_then(|s| s.pod_ip.as_deref());
                if let Some(ip) = ip.and_then(|ip| ip.parse::<Ipv4Addr>().ok())
                    && uid != w.uid
                    && ipam.address_of(uid).is_none()
                {
                    let _ = ipam.reserve(uid, ip);
                }
            }
        }
        let ip = match previous {
            Some(ip) if ipam.reserve(&w.uid, ip).is_ok() => ip,
            _ => ipam.allocate(&w.uid)?,
        };
        w.pod_ip = Some(ip.to_string());
        Ok(())
    }

    /// Runs the pod's sandbox with the IP `start` allocated (or the host network).
    async fn run_sandbox(&self, w: &mut Worker, view: &Pod) -> Result<(), AgentError> {
        let host_network = view
            .spec
            .as_ref()
            .and_then(|s| s.host_network)
            .unwrap_or(false);
        let network = match w.pod_ip.as_deref().and_then(|ip| ip.parse().ok()) {
            Some(ip) if !host_network => SandboxNetwork::Pod {
                pod_cidr: self.node.spec.pod_cidr().to_string(),
                ip,
            },
            _ => SandboxNetwork::Host,
        };
        let ports = spec_containers(view)
            .into_iter()
            .flat_map(|(_, c)| c.ports.iter().flatten())
            .filter_map(|p| {
                Some(SandboxPort {
                    container_port: u16::try_from(p.container_port).ok()?,
                    host_port: p.host_port.and_then(|h| u16::try_from(h).ok()),
                    protocol: p.protocol.as_deref().unwrap_or("TCP").to_ascii_lowercase(),
                })
            })
            .collect();
        let m = &view.metadata;
        let config = SandboxConfig {
            pod_uid: w.uid.clone(),
            pod_namespace: m.namespace.clone().unwrap_or_else(|| "default".into()),
            pod_name: m.name.clone().unwrap_or_default(),
            node_name: self.node.spec.name.clone(),
            network,
            ports,
        };
        let status = match self.pool.runtime.run_sandbox(config).await {
            Ok(status) => status,
            Err(e) => {
                // As the kubelet reports it (folded into one Event with a count on retries).
                tracing::warn!(pod = %w.uid, error = %e, "failed to create the pod sandbox");
                let ev = EventSpec::warning(
                    "FailedCreatePodSandBox",
                    format!("Failed to create pod sandbox: {e}"),
                );
                self.pool.emit(self.node, view, None, ev);
                return Err(e.into());
            }
        };
        if let Some(ip) = status.ip {
            w.pod_ip = Some(ip.to_string());
        }
        w.sandbox = true;
        Ok(())
    }

    /// Takes over containers the runtime already runs for this pod (an agent restart): the newest
    /// instance of each container becomes current, older ones are removed.
    async fn adopt(&self, w: &mut Worker, view: &Pod) {
        let rt = &self.pool.runtime;
        let annotations = view.metadata.annotations.clone().unwrap_or_default();
        for c in rt.list(Some(&w.uid)).await {
            let old = w
                .container_mut(c.kind, &c.container_name)
                .container_id
                .clone();
            if let Some(old) = old {
                let _ = rt.kill(&old).await;
                let _ = rt.remove(&old).await;
            }
            let image_id = rt.pull_image(&c.image, &annotations).await.ok();
            let o = w.container_mut(c.kind, &c.container_name);
            o.container_id = Some(c.id);
            o.state = Some(c.state);
            o.restart_count = c.restart_count;
            o.image_id = image_id.or_else(|| o.image_id.clone());
        }
    }

    /// Re-reads the state of every current container; reports `Started` on the first sight of a run.
    async fn refresh(&self, w: &mut Worker, view: &Pod) {
        let mut started = Vec::new();
        for o in &mut w.obs.containers {
            let Some(id) = o.container_id.clone() else {
                continue;
            };
            match self.pool.runtime.inspect(&id).await {
                Ok(state) => {
                    let was_created = matches!(o.state, None | Some(ContainerState::Created));
                    let ran = match &state {
                        ContainerState::Running { .. } => true,
                        ContainerState::Exited { started_at, .. } => started_at.is_some(),
                        ContainerState::Created => false,
                    };
                    if was_created && ran {
                        started.push((o.kind, o.name.clone()));
                    }
                    o.state = Some(state);
                }
                Err(e) => {
                    tracing::debug!(error = %e, container = %o.name, "container vanished");
                    o.container_id = None;
                    o.state = None;
                }
            }
        }
        for (kind, name) in started {
            let ev = EventSpec::normal("Started", format!("Started container {name}"));
            self.pool
                .emit(self.node, view, Some(&field_path(kind, &name)), ev);
        }
    }

    /// Whether `status` must be written: it differs from what we last computed, or someone else
    /// changed the stored status since our write (e.g. the node lifecycle controller marking the
    /// pod not ready). Never a write for a status the server already holds.
    fn needs_write(&self, w: &Worker, view: &Pod, status: &PodStatus) -> bool {
        match &w.written {
            None => view.status.as_ref() != Some(status),
            Some(written) => {
                if written.ours != *status {
                    return true;
                }
                let store_rv = self.pod.metadata.resource_version.as_deref();
                let newer = store_rv != Some(written.resource_version.as_str())
                    && at_least(store_rv, &written.resource_version);
                newer && self.pod.status.as_ref() != written.stored()
            }
        }
    }

    async fn write_status(
        &self,
        w: &mut Worker,
        view: &mut Pod,
        status: PodStatus,
    ) -> Result<(), AgentError> {
        let api: Api<Pod> = Api::namespaced(
            self.node.client.clone(),
            view.metadata.namespace.as_deref().unwrap_or("default"),
        );
        let mut body = view.clone();
        body.status = Some(status.clone());
        // The status is the kubelet's alone: write it without a resourceVersion precondition.
        body.metadata.resource_version = None;
        let name = view.metadata.name.clone().unwrap_or_default();
        let stored = api.replace_status(&name, &body).await?;
        w.written = Some(Written::new(
            stored.metadata.resource_version.clone().unwrap_or_default(),
            status,
            stored.status.as_ref(),
        ));
        view.status = stored.status;
        Ok(())
    }
}
