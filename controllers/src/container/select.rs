//! Picking the container runtime by name (`--runtime mock|docker` on `run` and `agent`).

use std::str::FromStr;
use std::sync::Arc;

use super::{
    ContainerRuntime, DockerConfig, DockerRuntime, MockDocker, MockDockerConfig, RuntimeError,
};

/// Which [`ContainerRuntime`] a node agent drives.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RuntimeKind {
    /// [`MockDocker`]: simulated containers, in process (the default).
    #[default]
    Mock,
    /// [`DockerRuntime`]: real containers on the Docker Engine at `DOCKER_HOST`.
    Docker,
}

/// A runtime name other than `mock` or `docker`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown container runtime {0:?}: expected mock or docker")]
pub struct UnknownRuntime(pub String);

impl FromStr for RuntimeKind {
    type Err = UnknownRuntime;

    fn from_str(s: &str) -> Result<RuntimeKind, UnknownRuntime> {
        match s {
            "mock" => Ok(RuntimeKind::Mock),
            "docker" => Ok(RuntimeKind::Docker),
            other => Err(UnknownRuntime(other.to_string())),
        }
    }
}

impl std::fmt::Display for RuntimeKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RuntimeKind::Mock => "mock",
            RuntimeKind::Docker => "docker",
        })
    }
}

/// The runtime of kind `kind`: MockDocker with `mock`, or a Docker runtime connected with `docker`.
/// Must be called inside a tokio runtime.
///
/// # Errors
/// [`RuntimeError::Engine`] when `kind` is Docker and no engine answers.
pub async fn connect_runtime(
    kind: RuntimeKind,
    mock: MockDockerConfig,
    docker: DockerConfig,
) -> Result<Arc<dyn ContainerRuntime>, RuntimeError> {
    Ok(match kind {
        RuntimeKind::Mock => Arc::new(MockDocker::new(mock)),
        RuntimeKind::Docker => Arc::new(DockerRuntime::connect(docker).await?),
    })
}
