//! The [`ContainerRuntime`] operations of [`DockerRuntime`], each one or a few Engine API calls.

use std::collections::BTreeMap;
use std::time::Duration;

use bollard::query_parameters::{
    CreateContainerOptions, CreateImageOptions, InspectContainerOptions, KillContainerOptions,
    LogsOptions, RemoveContainerOptions, StartContainerOptions, StopContainerOptions,
};
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use futures::{FutureExt, StreamExt};
use tokio::sync::broadcast;

use super::DockerRuntime;
use super::convert::{container_state, parse_time, runtime_error, status_code};
use super::spec::{self, LABEL_MANAGED, LABEL_ROLE, ROLE_CONTAINER, ROLE_SANDBOX};
use crate::container::{
    ContainerConfig, ContainerEvent, ContainerId, ContainerKind, ContainerRuntime, ContainerState,
    ContainerSummary, MAX_LOG_LINES, PullError, RuntimeError, SandboxConfig, SandboxNetwork,
    SandboxStatus,
};

fn label(k: &str, v: &str) -> String {
    format!("{k}={v}")
}

impl DockerRuntime {
    /// The sandbox of `pod_uid`: (container ID, node), from the cache or the engine's labels.
    async fn sandbox_of(&self, pod_uid: &str) -> Result<Option<(String, String)>, RuntimeError> {
        if let Some(s) = self.lock_sandboxes().get(pod_uid) {
            return Ok(Some(s.clone()));
        }
        let found = self
            .docker
            .list_containers(Some(Self::by_labels(&[
                label(LABEL_MANAGED, "true"),
                label(LABEL_ROLE, ROLE_SANDBOX),
                label(spec::LABEL_POD_UID, pod_uid),
            ])))
            .await
            .map_err(|e| RuntimeError::Engine(e.to_string()))?;
        Ok(found.into_iter().find_map(|c| {
            let node = c.labels.as_ref()?.get(spec::LABEL_NODE)?.clone();
            self.serves(Some(&node)).then_some((c.id?, node))
        }))
    }

    /// Makes sure node `node`'s bridge network exists with subnet `pod_cidr`. A leftover mock_k8
    /// network with the same subnet and no containers (from an agent that was killed) is removed
    /// first, since Docker refuses overlapping subnets.
    async fn ensure_network(&self, node: &str, pod_cidr: &str) -> Result<(), RuntimeError> {
        let name = spec::network_name(node);
        let mut known = self.networks.lock().await;
        if known.contains(&name) {
            return Ok(());
        }
        let request = spec::network_request(node, pod_cidr).map_err(RuntimeError::Engine)?;
        let wanted = request
            .ipam
            .as_ref()
            .and_then(|i| i.config.as_ref())
            .and_then(|c| c.first())
            .and_then(|c| c.subnet.clone());
        match self.docker.inspect_network(&name, None).await {
            Ok(existing) => {
                let subnet = existing
                    .ipam
                    .and_then(|i| i.config)
                    .and_then(|c| c.into_iter().next())
                    .and_then(|c| c.subnet);
                if subnet != wanted {
                    return Err(RuntimeError::Engine(format!(
                        "docker network {name} has subnet {subnet:?}, not the node's podCIDR {pod_cidr}"
                    )));
                }
            }
            Err(e) if status_code(&e) == Some(404) => {
                if let Err(e) = self.docker.create_network(request.clone()).await {
                    if !e.to_string().contains("overlap") {
                        return Err(RuntimeError::Engine(e.to_string()));
                    }
                    self.remove_stale_networks(wanted.as_deref()).await;
                    self.docker
                        .create_network(request)
                        .await
                        .map_err(|e| RuntimeError::Engine(e.to_string()))?;
                }
            }
            Err(e) => return Err(RuntimeError::Engine(e.to_string())),
        }
        known.insert(name);
        Ok(())
    }

    /// Removes mock_k8 networks with this subnet that no container uses.
    async fn remove_stale_networks(&self, subnet: Option<&str>) {
        let options = bollard::query_parameters::ListNetworksOptions {
            filters: Some(std::collections::HashMap::from([(
                "label".to_string(),
                vec![label(LABEL_MANAGED, "true")],
            )])),
        };
        let Ok(networks) = self.docker.list_networks(Some(options)).await else {
            return;
        };
        for n in networks {
            let same = n
                .ipam
                .and_then(|i| i.config)
                .is_some_and(|c| c.iter().any(|c| c.subnet.as_deref() == subnet));
            let (Some(id), true) = (n.id, same) else {
                continue;
            };
            let users = self
                .docker
                .list_containers(Some(bollard::query_parameters::ListContainersOptions {
                    all: true,
                    filters: Some(std::collections::HashMap::from([(
                        "network".to_string(),
                        vec![id.clone()],
                    )])),
                    ..Default::default()
                }))
                .await
                .unwrap_or_default();
            if users.is_empty() {
                tracing::info!(network = %id, "removing a stale mock_k8 network with the same subnet");
                let _ = self.docker.remove_network(&id).await;
            }
        }
    }

    async fn inspect_raw(
        &self,
        id: &str,
    ) -> Result<bollard::models::ContainerInspectResponse, RuntimeError> {
        self.docker
            .inspect_container(id, None::<InspectContainerOptions>)
            .await
            .map_err(|e| runtime_error(id, e))
    }

    async fn create_sandbox(&self, config: &SandboxConfig) -> Result<SandboxStatus, RuntimeError> {
        if let SandboxNetwork::Pod { pod_cidr, .. } = &config.network {
            self.ensure_network(&config.node_name, pod_cidr).await?;
        }
        let image = &self.config.sandbox_image;
        if self.docker.inspect_image(image).await.is_err() {
            return Err(RuntimeError::Engine(format!(
                "the sandbox image {image} is not present: build it with examples/docker/build-image.sh"
            )));
        }
        let body = spec::sandbox_body(config, image);
        let name = spec::sandbox_name(config);
        // A sandbox of the same name that is not this pod's running one is a leftover: replace it.
        let _ = self.docker.remove_container(&name, Some(force())).await;
        let created = self
            .docker
            .create_container(Some(named(&name)), body)
            .await
            .map_err(|e| RuntimeError::Engine(e.to_string()))?;
        self.docker
            .start_container(&created.id, None::<StartContainerOptions>)
            .await
            .map_err(|e| RuntimeError::Engine(e.to_string()))?;
        self.lock_sandboxes().insert(
            config.pod_uid.clone(),
            (created.id.clone(), config.node_name.clone()),
        );
        let ip = match config.network {
            SandboxNetwork::Host => None,
            SandboxNetwork::Pod { ip, .. } => Some(ip),
        };
        Ok(SandboxStatus { id: created.id, ip })
    }

    async fn summary(&self, id: String) -> Option<ContainerSummary> {
        let c = self.inspect_raw(&id).await.ok()?;
        let labels = c.config.as_ref()?.labels.clone().unwrap_or_default();
        let get = |k: &str| labels.get(k).cloned().unwrap_or_default();
        let kind = match labels.get(spec::LABEL_KIND).map(String::as_str) {
            Some("init") => ContainerKind::Init,
            _ => ContainerKind::App,
        };
        Some(ContainerSummary {
            id,
            pod_uid: get(spec::LABEL_POD_UID),
            pod_namespace: get(spec::LABEL_POD_NAMESPACE),
            pod_name: get(spec::LABEL_POD_NAME),
            container_name: get(spec::LABEL_CONTAINER_NAME),
            kind,
            image: c.config.as_ref()?.image.clone().unwrap_or_default(),
            restart_count: get(spec::LABEL_RESTART_COUNT).parse().unwrap_or(0),
            state: container_state(c.state.as_ref()),
            created_at: parse_time(c.created.as_deref()).unwrap_or(std::time::UNIX_EPOCH),
        })
    }
}

fn force() -> RemoveContainerOptions {
    RemoveContainerOptions {
        force: true,
        v: true,
        ..Default::default()
    }
}

fn named(name: &str) -> CreateContainerOptions {
    CreateContainerOptions {
        name: Some(name.to_string()),
        ..Default::default()
    }
}

impl ContainerRuntime for DockerRuntime {
    fn version(&self) -> String {
        format!("docker://{}", self.engine_version)
    }

    fn id_scheme(&self) -> &'static str {
        "docker"
    }

    fn run_sandbox(
        &self,
        config: SandboxConfig,
    ) -> BoxFuture<'_, Result<SandboxStatus, RuntimeError>> {
        async move {
            if self.shutdown.is_cancelled() {
                return Err(RuntimeError::ShuttingDown);
            }
            if let Some((id, _)) = self.sandbox_of(&config.pod_uid).await? {
                let running = self
                    .inspect_raw(&id)
                    .await
                    .map(|c| container_state(c.state.as_ref()).is_running())
                    .unwrap_or(false);
                if running {
                    self.lock_sandboxes().insert(
                        config.pod_uid.clone(),
                        (id.clone(), config.node_name.clone()),
                    );
                    let ip = match config.network {
                        SandboxNetwork::Host => None,
                        SandboxNetwork::Pod { ip, .. } => Some(ip),
                    };
                    return Ok(SandboxStatus { id, ip });
                }
                self.lock_sandboxes().remove(&config.pod_uid);
                let _ = self.docker.remove_container(&id, Some(force())).await;
            }
            self.create_sandbox(&config).await
        }
        .boxed()
    }

    fn remove_sandbox<'a>(&'a self, pod_uid: &'a str) -> BoxFuture<'a, Result<(), RuntimeError>> {
        async move {
            self.lock_sandboxes().remove(pod_uid);
            let found = self
                .docker
                .list_containers(Some(Self::by_labels(&[
                    label(LABEL_MANAGED, "true"),
                    label(LABEL_ROLE, ROLE_SANDBOX),
                    label(spec::LABEL_POD_UID, pod_uid),
                ])))
                .await
                .map_err(|e| RuntimeError::Engine(e.to_string()))?;
            for c in found {
                let serves = self.serves(c.labels.as_ref().and_then(|l| l.get(spec::LABEL_NODE)));
                if let (Some(id), true) = (c.id, serves) {
                    match self.docker.remove_container(&id, Some(force())).await {
                        Ok(()) => {}
                        Err(e) if status_code(&e) == Some(404) => {}
                        Err(e) => return Err(RuntimeError::Engine(e.to_string())),
                    }
                }
            }
            Ok(())
        }
        .boxed()
    }

    fn list_sandboxes(&self) -> BoxFuture<'_, Vec<String>> {
        async move {
            let found = self
                .docker
                .list_containers(Some(Self::by_labels(&[
                    label(LABEL_MANAGED, "true"),
                    label(LABEL_ROLE, ROLE_SANDBOX),
                ])))
                .await
                .unwrap_or_default();
            let mut uids: Vec<String> = found
                .into_iter()
                .filter_map(|c| {
                    let labels = c.labels?;
                    self.serves(labels.get(spec::LABEL_NODE))
                        .then(|| labels.get(spec::LABEL_POD_UID).cloned())?
                })
                .collect();
            uids.sort();
            uids.dedup();
            uids
        }
        .boxed()
    }

    fn pull_image<'a>(
        &'a self,
        image: &'a str,
        _pod_annotations: &'a BTreeMap<String, String>,
    ) -> BoxFuture<'a, Result<String, PullError>> {
        async move {
            if let Ok(found) = self.docker.inspect_image(image).await {
                return Ok(found.id.unwrap_or_default());
            }
            let failed = |message: String| PullError::ErrImagePull {
                image: image.to_string(),
                message,
            };
            let options = CreateImageOptions {
                from_image: Some(image.to_string()),
                ..Default::default()
            };
            let pull = async {
                let mut progress = self.docker.create_image(Some(options), None, None);
                while let Some(step) = progress.next().await {
                    step.map_err(|e| failed(e.to_string()))?;
                }
                Ok::<(), PullError>(())
            };
            tokio::select! {
                _ = self.shutdown.cancelled() => return Err(PullError::ShuttingDown),
                r = tokio::time::timeout(self.config.pull_timeout, pull) => match r {
                    Ok(r) => r?,
                    Err(_) => return Err(failed(format!(
                        "rpc error: code = DeadlineExceeded desc = pulling image \"{image}\" timed out after {:?}",
                        self.config.pull_timeout
                    ))),
                },
            }
            let found = self
                .docker
                .inspect_image(image)
                .await
                .map_err(|e| failed(e.to_string()))?;
            Ok(found.id.unwrap_or_default())
        }
        .boxed()
    }

    fn create(&self, config: ContainerConfig) -> BoxFuture<'_, Result<ContainerId, RuntimeError>> {
        async move {
            if self.shutdown.is_cancelled() {
                return Err(RuntimeError::ShuttingDown);
            }
            if self.docker.inspect_image(&config.image).await.is_err() {
                return Err(RuntimeError::ImageNotPresent {
                    image: config.image,
                });
            }
            let Some((sandbox, node)) = self.sandbox_of(&config.pod_uid).await? else {
                return Err(RuntimeError::NoSandbox(config.pod_uid));
            };
            let body = spec::container_body(&config, &node, &sandbox);
            let name = spec::container_name(&config);
            let created = match self
                .docker
                .create_container(Some(named(&name)), body.clone())
                .await
            {
                Ok(c) => c,
                // The name is taken by an instance nobody tracks (an agent died between create
                // and recording it): replace it.
                Err(e) if status_code(&e) == Some(409) => {
                    let _ = self.docker.remove_container(&name, Some(force())).await;
                    self.docker
                        .create_container(Some(named(&name)), body)
                        .await
                        .map_err(|e| RuntimeError::Engine(e.to_string()))?
                }
                Err(e) => return Err(RuntimeError::Engine(e.to_string())),
            };
            Ok(created.id)
        }
        .boxed()
    }

    fn start<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), RuntimeError>> {
        async move {
            let state = container_state(self.inspect_raw(id).await?.state.as_ref());
            if state != ContainerState::Created {
                return Err(RuntimeError::InvalidState {
                    id: id.into(),
                    operation: "start",
                    state: if state.is_running() {
                        "running"
                    } else {
                        "exited"
                    },
                });
            }
            self.docker
                .start_container(id, None::<StartContainerOptions>)
                .await
                .map_err(|e| runtime_error(id, e))
        }
        .boxed()
    }

    fn stop<'a>(&'a self, id: &'a str, grace: Duration) -> BoxFuture<'a, Result<(), RuntimeError>> {
        async move {
            let state = container_state(self.inspect_raw(id).await?.state.as_ref());
            if !state.is_running() {
                return Ok(());
            }
            // Docker's timeout is whole seconds: round up so the process gets the full grace.
            let secs = grace.as_secs() + u64::from(grace.subsec_nanos() > 0);
            let options = StopContainerOptions {
                t: Some(i32::try_from(secs).unwrap_or(i32::MAX)),
                ..Default::default()
            };
            let client = self
                .docker
                .clone()
                .with_timeout(Duration::from_secs(secs.saturating_add(60)));
            match client.stop_container(id, Some(options)).await {
                Ok(()) => Ok(()),
                Err(e) if status_code(&e) == Some(304) => Ok(()),
                Err(e) => Err(runtime_error(id, e)),
            }
        }
        .boxed()
    }

    fn kill<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), RuntimeError>> {
        async move {
            let options = KillContainerOptions {
                signal: "SIGKILL".into(),
            };
            match self.docker.kill_container(id, Some(options)).await {
                Ok(()) => Ok(()),
                // 409: not running, a no-op as the contract says.
                Err(e) if status_code(&e) == Some(409) => Ok(()),
                Err(e) => Err(runtime_error(id, e)),
            }
        }
        .boxed()
    }

    fn remove<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), RuntimeError>> {
        async move {
            let state = container_state(self.inspect_raw(id).await?.state.as_ref());
            if state.is_running() {
                return Err(RuntimeError::InvalidState {
                    id: id.into(),
                    operation: "remove",
                    state: "running",
                });
            }
            let options = RemoveContainerOptions {
                v: true,
                ..Default::default()
            };
            self.docker
                .remove_container(id, Some(options))
                .await
                .map_err(|e| runtime_error(id, e))
        }
        .boxed()
    }

    fn inspect<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<ContainerState, RuntimeError>> {
        async move {
            let c = self.inspect_raw(id).await?;
            let role = c
                .config
                .as_ref()
                .and_then(|c| c.labels.as_ref())
                .and_then(|l| l.get(LABEL_ROLE));
            if role.map(String::as_str) != Some(ROLE_CONTAINER) {
                return Err(RuntimeError::NotFound(id.into()));
            }
            Ok(match container_state(c.state.as_ref()) {
                // A refused start has no finish time: the creation time stands in (stable).
                ContainerState::Exited {
                    exit_code,
                    reason,
                    started_at,
                    finished_at,
                } if finished_at == std::time::SystemTime::UNIX_EPOCH => ContainerState::Exited {
                    exit_code,
                    reason,
                    started_at,
                    finished_at: parse_time(c.created.as_deref()).unwrap_or(finished_at),
                },
                state => state,
            })
        }
        .boxed()
    }

    fn list<'a>(&'a self, pod_uid: Option<&'a str>) -> BoxFuture<'a, Vec<ContainerSummary>> {
        async move {
            let mut labels = vec![
                label(LABEL_MANAGED, "true"),
                label(LABEL_ROLE, ROLE_CONTAINER),
            ];
            if let Some(uid) = pod_uid {
                labels.push(label(spec::LABEL_POD_UID, uid));
            }
            let found = match self
                .docker
                .list_containers(Some(Self::by_labels(&labels)))
                .await
            {
                Ok(found) => found,
                Err(e) => {
                    tracing::warn!(error = %e, "docker list failed");
                    return Vec::new();
                }
            };
            let mut rows = Vec::new();
            for c in found {
                let serves = self.serves(c.labels.as_ref().and_then(|l| l.get(spec::LABEL_NODE)));
                if let (Some(id), true) = (c.id, serves)
                    && let Some(summary) = self.summary(id).await
                {
                    rows.push(summary);
                }
            }
            rows.sort_by_key(|s| s.created_at);
            rows
        }
        .boxed()
    }

    fn logs<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Vec<String>, RuntimeError>> {
        async move {
            let options = LogsOptions {
                stdout: true,
                stderr: true,
                tail: MAX_LOG_LINES.to_string(),
                ..Default::default()
            };
            let mut stream = self.docker.logs(id, Some(options));
            let mut text = Vec::new();
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(|e| runtime_error(id, e))?;
                text.extend_from_slice(chunk.as_ref());
            }
            Ok(String::from_utf8_lossy(&text)
                .lines()
                .map(str::to_string)
                .collect())
        }
        .boxed()
    }

    fn follow_logs<'a>(
        &'a self,
        id: &'a str,
    ) -> BoxFuture<'a, Result<BoxStream<'static, String>, RuntimeError>> {
        async move {
            self.inspect(id).await?;
            let options = LogsOptions {
                follow: true,
                stdout: true,
                stderr: true,
                tail: "all".into(),
                ..Default::default()
            };
            let docker = self.docker.clone();
            let stream = docker
                .logs(id, Some(options))
                .take_while(|chunk| futures::future::ready(chunk.is_ok()))
                .filter_map(|chunk| async move {
                    chunk
                        .ok()
                        .map(|c| String::from_utf8_lossy(c.as_ref()).into_owned())
                });
            Ok(stream.boxed())
        }
        .boxed()
    }

    fn events(&self) -> broadcast::Receiver<ContainerEvent> {
        self.events.subscribe()
    }
}
