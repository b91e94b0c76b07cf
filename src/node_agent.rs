//! `mock_k8 agent`: the node agent (kubelet-like) for one node, out of process, over HTTP.
//!
//! It is the same agent `run` starts in-process ([`mock_k8_controllers::agent::run_pool`] with one
//! node): it registers its Node, renews its Lease, watches the pods bound to it, runs them through
//! MockDocker and reports their status. Its API client talks to the control-plane members given by
//! `--server` (a comma-separated list: on a connection failure it moves to the next one) with the
//! join token as bearer credential. When no member answers, its pods keep running and the agent
//! retries; once a member answers again it renews its Lease and re-syncs its pods. It serves its
//! containers' logs on `--log-addr` ([`crate::node_log_endpoint`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::http::{HeaderValue, header};
use bytes::Bytes;
use futures::future::BoxFuture;
use mock_k8_controllers::Client;
use mock_k8_controllers::agent::{self, AgentConfig, NodeSpec};
use mock_k8_controllers::client::transport::ByteStream;
use mock_k8_controllers::client::{HyperTransport, RestClient, Transport, TransportError};
use mock_k8_controllers::container::{
    DockerConfig, MockDockerConfig, RuntimeKind, connect_runtime,
};
use mock_k8_controllers::controller::{NoopHook, ResultHook};
use mock_k8_controllers::kubelet::CrashLoopBackoff;

use crate::node_log_endpoint::AgentLogEndpoint;
use crate::node_logs_auth::LogKey;
use tokio_util::sync::CancellationToken;

/// What `mock_k8 agent` needs.
#[derive(Debug, Clone)]
pub struct AgentOptions {
    /// Member URLs (`http://host:port`), tried in order.
    pub servers: Vec<String>,
    /// The cluster's join token (sent as `Authorization: Bearer`).
    pub token: String,
    /// The Node's name (an RFC 1123 subdomain).
    pub node_name: String,
    /// The node's index: picks its podCIDR `10.244+.x.0/24` and InternalIP; default: derived
    /// from the name.
    pub node_index: Option<u32>,
    /// MockDocker config file.
    pub runtime_config: Option<std::path::PathBuf>,
    /// The container runtime (`--runtime mock|docker`).
    pub runtime: RuntimeKind,
    /// The Docker runtime's pod sandbox image (`--sandbox-image`).
    pub sandbox_image: String,
    /// The Docker runtime's pull timeout for a missing image (`--image-pull-timeout`).
    pub image_pull_timeout: Duration,
    /// Lease renewal interval.
    pub lease_renew_interval: Duration,
    /// Lease duration in seconds.
    pub lease_duration_seconds: i32,
    /// First and largest CrashLoopBackOff delays.
    pub crash_loop_backoff: (Duration, Duration),
    /// Where the container log endpoint listens (`--log-addr`).
    pub log_addr: std::net::SocketAddr,
    /// The node's published `InternalIP` (`--node-ip`); default: see
    /// [`crate::node_log_endpoint::AgentLogEndpoint::bind`].
    pub node_ip: Option<std::net::IpAddr>,
    /// Where the agent keeps its NKO signing key (`keys/node.key`, mode 0600).
    pub data_dir: std::path::PathBuf,
}

/// A [`Transport`] over several members: requests go to the current one; a request that gets no
/// answer moves the client on to the next member (the request itself fails, and the caller's
/// retry goes to the next member).
pub struct FailoverTransport {
    members: Vec<HyperTransport>,
    urls: Vec<String>,
    current: Arc<AtomicUsize>,
}

impl FailoverTransport {
    /// A transport over `urls`, each request carrying `Authorization: Bearer <token>`.
    ///
    /// # Errors
    /// No URL, or one that is not `http://host:port`.
    pub fn new(urls: &[String], token: &str) -> Result<FailoverTransport, String> {
        if urls.is_empty() {
            return Err("no --server given".into());
        }
        let auth = HeaderValue::from_str(&format!("Bearer {token}"))
            .map_err(|_| "the token is not a valid header value".to_string())?;
        let members = urls
            .iter()
            .map(|u| {
                HyperTransport::new(u)
                    .map(|t| t.with_header(header::AUTHORIZATION, auth.clone()))
                    .map_err(|e| e.to_string())
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(FailoverTransport {
            members,
            urls: urls.to_vec(),
            current: Arc::new(AtomicUsize::new(0)),
        })
    }
}

impl Transport for FailoverTransport {
    fn send(
        &self,
        req: axum::http::Request<Bytes>,
    ) -> BoxFuture<'static, Result<axum::http::Response<ByteStream>, TransportError>> {
        let n = self.members.len();
        let i = self.current.load(Ordering::Relaxed) % n;
        let fut = self.members[i].send(req);
        let url = self.urls[i].clone();
        let current = self.current.clone();
        Box::pin(async move {
            let r = fut.await;
            if r.is_err() {
                // No answer from this member: the next request tries the next one.
                let _ =
                    current.compare_exchange(i, (i + 1) % n, Ordering::Relaxed, Ordering::Relaxed);
            }
            r.map_err(|e| TransportError(format!("{url}: {}", e.0)))
        })
    }
}

/// The agent's API client: the one place it is built, so that request signing can wrap the
/// transport here.
///
/// # Errors
/// Bad URLs or token.
pub fn agent_client(
    servers: &[String],
    token: &str,
    node: &str,
    key: mock_k8_nko::keys::SecretKey,
) -> Result<Arc<dyn Client>, String> {
    let transport = FailoverTransport::new(servers, token)?;
    // NKO: every write is signed as `node:<name>` (nko/SPEC.md §4), so the API server holds
    // this agent to NodeRestriction like the in-process ones.
    let signing = mock_k8_controllers::client::signing::SigningTransport::new(
        transport,
        format!("node:{node}"),
        key,
    );
    Ok(Arc::new(RestClient::new(signing)))
}

/// A node index from `name` (FNV-1a, folded into the podCIDR range), so that agents with
/// different names get different pod CIDRs without configuration.
pub fn index_for(name: &str) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in name.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    1000 + h % 60_000
}

/// Runs the agent until `shutdown` is cancelled.
///
/// # Errors
/// Bad options (URL, node name, runtime config) or an unreachable Docker Engine with
/// `--runtime docker`, as text. API failures while running are retried.
pub async fn run(options: AgentOptions, shutdown: CancellationToken) -> Result<(), String> {
    crate::config::validate_node_name(&options.node_name)
        .map_err(|r| format!("invalid node name {:?}: {r}", options.node_name))?;
    let key = crate::nko::keyfiles::load_or_create(&options.data_dir, "node").map_err(|e| {
        format!(
            "the agent's signing key in {}: {e}",
            options.data_dir.display()
        )
    })?;
    let key_id = key.public().id();
    let client = agent_client(&options.servers, &options.token, &options.node_name, key)?;
    let mock_docker = match &options.runtime_config {
        Some(path) => MockDockerConfig::from_file(path).map_err(|e| e.to_string())?,
        None => MockDockerConfig::default(),
    };
    let index = options
        .node_index
        .unwrap_or_else(|| index_for(&options.node_name));
    let mut node = NodeSpec::new(&options.node_name, index).map_err(|e| e.to_string())?;
    let log_endpoint =
        AgentLogEndpoint::bind(options.log_addr, options.node_ip, &options.servers).await?;
    log_endpoint.publish(&mut node);
    node.node
        .metadata
        .annotations
        .get_or_insert_with(Default::default)
        .insert(
            mock_k8_nko::authority::NODE_KEY_ANNOTATION.to_string(),
            key_id,
        );
    let config = AgentConfig {
        lease_renew_interval: options.lease_renew_interval,
        lease_duration_seconds: options.lease_duration_seconds,
        crash_loop: CrashLoopBackoff {
            initial: options.crash_loop_backoff.0,
            max: options.crash_loop_backoff.1,
            ..CrashLoopBackoff::default()
        },
        mock_docker: mock_docker.clone(),
        ..AgentConfig::default()
    };
    let docker = DockerConfig {
        sandbox_image: options.sandbox_image.clone(),
        pull_timeout: options.image_pull_timeout,
        nodes: vec![options.node_name.clone()],
        ..DockerConfig::default()
    };
    let runtime = connect_runtime(options.runtime, mock_docker, docker)
        .await
        .map_err(|e| e.to_string())?;
    if let Some(info) = node.node.status.as_mut().and_then(|s| s.node_info.as_mut()) {
        info.container_runtime_version = runtime.version();
    }
    let hook: Arc<dyn ResultHook> = Arc::new(NoopHook);
    tracing::info!(node = %options.node_name, servers = ?options.servers, "node agent starting");
    let serving = shutdown.child_token();
    let key = LogKey::from_cluster_token(&options.token);
    let logs = log_endpoint.serve(
        runtime.clone(),
        key,
        options.node_name.clone(),
        serving.clone(),
    );
    let pool = async move {
        let r = agent::run_pool(client, runtime, vec![node], config, hook, shutdown).await;
        serving.cancel();
        r
    };
    let ((), ran) = tokio::join!(logs, pool);
    ran.map_err(|e| e.to_string())
}
