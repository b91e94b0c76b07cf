//! The reconcile loops of `mock_k8 run`: the built-in controllers (scheduler, endpoints, node
//! lifecycle, ReplicaSet, Deployment, garbage collector) and the node agent pool (this instance's own node plus `--simulated-nodes N`), all
//! on the in-process client, so they see exactly the API semantics kubectl sees.

use crate::config::ControllerSettings;
use crate::node_logs::NodeLogServer;
use crate::store::Store;
use k8s_openapi::api::core::v1::{DaemonEndpoint, NodeDaemonEndpoints};
use mock_k8_controllers::Client;
use mock_k8_controllers::agent::{self, AgentConfig, NodeSpec};
use mock_k8_controllers::builtin::{self, ControllerManagerConfig};
use mock_k8_controllers::container::{DockerConfig, MockDockerConfig, connect_runtime};
use mock_k8_controllers::controller::{NoopHook, ResultHook};
use mock_k8_controllers::informer::Informers;
use mock_k8_controllers::kubelet::CrashLoopBackoff;
use mock_k8_controllers::scheduler::Policy;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// The prefix of simulated node names: `sim-node-1`, `sim-node-2`, …
pub const SIMULATED_NODE_PREFIX: &str = "sim-node";

/// Running reconcile loops; [`Reconcilers::stop`] ends them.
/// The NKO identities of the reconcile loops: the controller manager's key and the agent pool's
/// key, from which each node's key is derived (`SecretKey::derive(node name)`).
pub struct Signers {
    /// The API router the signing clients call in-process.
    pub router: axum::Router,
    /// Signs as `controller:kube-controller-manager`.
    pub controllers: mock_k8_nko::keys::SecretKey,
    /// Seeds the node agents' keys.
    pub agents: mock_k8_nko::keys::SecretKey,
}

/// The in-process agents' container log endpoint: the key requests are signed with, and the set
/// of node names the API server's proxy dials on loopback (filled with the served nodes).
pub struct LogEndpoint {
    /// The cluster's log key.
    pub key: crate::node_logs_auth::LogKey,
    /// Filled with the names of the nodes served in this process.
    pub local_nodes: crate::node_logs::LocalNodes,
}

/// The actor name the built-in controllers sign as.
pub const CONTROLLER_ACTOR: &str = "controller:kube-controller-manager";

pub struct Reconcilers {
    tasks: JoinSet<()>,
    token: CancellationToken,
}

impl Reconcilers {
    /// Checks `settings` and starts every reconcile loop on `client`, serving `own_node` (and the
    /// simulated nodes) with the runtime `settings.runtime` names. The loops stop when `shutdown` is cancelled or
    /// [`Reconcilers::stop`] is called.
    ///
    /// # Errors
    /// An unknown scheduler policy, an unreadable node template or runtime config, an unreachable
    /// Docker Engine with `--runtime docker`, or a node list the agent refuses (e.g. an invalid
    /// own node name), as text.
    ///
    /// With `leadership` (the store of a cluster member), the built-in controllers run only while
    /// this member is the Raft leader, so that a cluster runs one scheduler and one node lifecycle
    /// controller (like kube-controller-manager's leader election); the node agent runs on every
    /// member.
    pub async fn start(
        client: Arc<dyn Client>,
        own_node: &str,
        settings: &ControllerSettings,
        leadership: Option<Store>,
        logs: LogEndpoint,
        shutdown: &CancellationToken,
        signers: Option<Signers>,
    ) -> Result<Reconcilers, String> {
        let (template, mock_docker) = load_settings_files(settings)?;
        let mut nodes = Vec::new();
        if settings.local_node {
            nodes.push(NodeSpec::new(own_node, 0).map_err(|e| e.to_string())?);
        }
        nodes.extend(
            agent::simulated_nodes(
                settings.simulated_nodes,
                SIMULATED_NODE_PREFIX,
                1,
                template.as_ref(),
            )
            .map_err(|e| e.to_string())?,
        );
        let docker = DockerConfig {
            sandbox_image: settings.sandbox_image.clone(),
            pull_timeout: settings.image_pull_timeout,
            nodes: nodes.iter().map(|n| n.name.clone()).collect(),
            ..DockerConfig::default()
        };
        let runtime = connect_runtime(settings.runtime, mock_docker.clone(), docker)
            .await
            .map_err(|e| e.to_string())?;
        // The agents' container log endpoint (see `node_logs`), on an ephemeral loopback port
        // every served node publishes in `status.daemonEndpoints.kubeletEndpoint.Port`.
        let log_listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| format!("binding the node log endpoint: {e}"))?;
        let log_port = log_listener
            .local_addr()
            .map_err(|e| format!("binding the node log endpoint: {e}"))?
            .port();
        for node in &mut nodes {
            if let Some(status) = node.node.status.as_mut() {
                if let Some(info) = status.node_info.as_mut() {
                    info.container_runtime_version = runtime.version();
                }
                status.daemon_endpoints = Some(NodeDaemonEndpoints {
                    kubelet_endpoint: Some(DaemonEndpoint {
                        port: i32::from(log_port),
                    }),
                });
            }
        }
        let mut controller_client = client.clone();
        if let Some(s) = signers {
            controller_client =
                crate::inproc::signing_client(s.router.clone(), CONTROLLER_ACTOR, s.controllers);
            for spec in &mut nodes {
                let key = s.agents.derive(&spec.name);
                let annotations = spec
                    .node
                    .metadata
                    .annotations
                    .get_or_insert_with(Default::default);
                annotations.insert(
                    mock_k8_nko::authority::NODE_KEY_ANNOTATION.to_string(),
                    key.public().id(),
                );
                let actor = format!("node:{}", spec.name);
                let node_client = crate::inproc::signing_client(s.router.clone(), &actor, key);
                spec.client = Some(agent::NodeClient(node_client));
            }
        }
        let mut manager = ControllerManagerConfig::default();
        manager.scheduler.policy = settings.scheduler_policy.clone();
        manager.scheduler.percentage_of_nodes_to_score = settings.percentage_of_nodes_to_score;
        manager.node_lifecycle.node_monitor_period = settings.node_monitor_period;
        manager.node_lifecycle.node_monitor_grace_period = settings.node_monitor_grace_period;
        manager.node_lifecycle.default_not_ready_toleration_seconds =
            settings.default_not_ready_toleration_seconds;
        manager
            .node_lifecycle
            .default_unreachable_toleration_seconds =
            settings.default_unreachable_toleration_seconds;
        manager.workloads = builtin::WorkloadsSwitch(settings.workload_controllers);
        let agent_config = AgentConfig {
            lease_renew_interval: settings.node_lease_renew_interval,
            crash_loop: CrashLoopBackoff {
                initial: settings.crash_loop_backoff_initial,
                max: settings.crash_loop_backoff_max,
                ..CrashLoopBackoff::default()
            },
            mock_docker: mock_docker.clone(),
            node_template: template,
            ..AgentConfig::default()
        };
        // The seam where the NKO will sign reconcile results; until then results are not recorded.
        let hook: Arc<dyn ResultHook> = Arc::new(NoopHook);
        let token = shutdown.child_token();
        let mut tasks = JoinSet::new();
        // One watch and one decoded copy of every pod and node for all the loops of this process
        // (the built-in controllers and the node agents), not one per loop. Reads are not signed,
        // so they go through the plain client.
        let informers = Informers::new(client.clone(), token.clone());
        let (c, h, t, i) = (
            controller_client,
            hook.clone(),
            token.clone(),
            informers.clone(),
        );
        tasks.spawn(async move {
            match leadership {
                None => {
                    if let Err(e) = run_manager(c, manager, i, h, t).await {
                        tracing::error!(error = %e, "built-in controllers stopped");
                    }
                }
                Some(store) => while_leader(store, c, manager, i, h, t).await,
            }
        });
        let (i, t) = (informers.clone(), token.clone());
        tasks.spawn(async move {
            t.cancelled().await;
            i.stopped().await;
        });
        if !nodes.is_empty() {
            let names: Vec<String> = nodes.iter().map(|n| n.name.clone()).collect();
            if let Ok(mut local) = logs.local_nodes.write() {
                local.extend(names.iter().cloned());
            }
            let server = NodeLogServer::new(runtime.clone(), logs.key, names);
            tasks.spawn(server.serve(log_listener, token.clone()));
            let t = token.clone();
            tasks.spawn(async move {
                let i = Some(informers);
                if let Err(e) =
                    agent::run_pool_shared(client, runtime, nodes, agent_config, hook, t, i).await
                {
                    tracing::error!(error = %e, "node agent pool stopped");
                }
            });
        }
        Ok(Reconcilers { tasks, token })
    }

    /// Stops every loop (no new reconciles start, running ones finish) and waits for them.
    pub async fn stop(mut self) {
        self.token.cancel();
        while let Some(res) = self.tasks.join_next().await {
            if let Err(e) = res {
                tracing::error!(error = %e, "reconcile task panicked");
            }
        }
    }
}

/// Runs the built-in controllers on `informers` until `shutdown` (see [`builtin::run_all`]).
async fn run_manager(
    client: Arc<dyn Client>,
    config: ControllerManagerConfig,
    informers: Informers,
    hook: Arc<dyn ResultHook>,
    shutdown: CancellationToken,
) -> Result<(), builtin::Error> {
    builtin::ControllerManager::new(client, config)?
        .with_informers(informers)
        .run(hook, shutdown)
        .await
}

/// How often leadership is checked for starting or stopping the built-in controllers.
const LEADERSHIP_POLL: Duration = Duration::from_millis(200);

/// Runs the built-in controllers whenever `store` leads, stopping them when it stops leading,
/// until `shutdown`.
async fn while_leader(
    store: Store,
    client: Arc<dyn Client>,
    manager: ControllerManagerConfig,
    informers: Informers,
    hook: Arc<dyn ResultHook>,
    shutdown: CancellationToken,
) {
    loop {
        while !store.is_leader() {
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(LEADERSHIP_POLL) => {}
            }
        }
        tracing::info!("this member leads: starting the built-in controllers");
        let term = shutdown.child_token();
        let (c, m, h, t) = (client.clone(), manager.clone(), hook.clone(), term.clone());
        let i = informers.clone();
        let mut running = tokio::spawn(async move { run_manager(c, m, i, h, t).await });
        let ended = loop {
            tokio::select! {
                res = &mut running => break Some(res),
                () = tokio::time::sleep(LEADERSHIP_POLL) => {
                    if !store.is_leader() || shutdown.is_cancelled() {
                        break None;
                    }
                }
            }
        };
        term.cancel();
        let res = match ended {
            Some(res) => res,
            None => running.await,
        };
        match res {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "built-in controllers stopped"),
            Err(e) => tracing::error!(error = %e, "built-in controllers panicked"),
        }
        if shutdown.is_cancelled() {
            return;
        }
        tracing::info!("built-in controllers stopped (leadership lost or failure)");
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

/// Checks the scheduler policy and loads the files the settings name (`--node-template`,
/// `--runtime-config`): what `mock_k8 run` checks before it touches the data directory, and what
/// [`Reconcilers::start`] uses.
///
/// # Errors
/// An unknown policy; a missing, unreadable or invalid template or runtime config, as text.
pub fn load_settings_files(
    settings: &ControllerSettings,
) -> Result<(Option<serde_json::Value>, MockDockerConfig), String> {
    Policy::by_name(&settings.scheduler_policy).map_err(|e| e.to_string())?;
    let template = match &settings.node_template {
        Some(path) => Some(agent::load_template(path).map_err(|e| e.to_string())?),
        None => None,
    };
    let mock_docker = match &settings.runtime_config {
        Some(path) => MockDockerConfig::from_file(path).map_err(|e| e.to_string())?,
        None => MockDockerConfig::default(),
    };
    Ok((template, mock_docker))
}
