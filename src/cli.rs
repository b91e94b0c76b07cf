//! The command line: `mock_k8 run | init | members | agent | version | help` (clap 4, derive + env).
//!
//! Every flag of `run` and `init` can also be set with an environment variable (the seed README's
//! contract: `MOCK_K8_DATA_DIR`, `MOCK_K8_API_ADDR`, `MOCK_K8_NODE_NAME`,
//! `MOCK_K8_VERIFICATION_ENABLED`); a flag wins over its variable.

mod values;

use clap::{Args, Parser, Subcommand};
use mock_k8::config::{Config, ControllerSettings};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// The Kubernetes API version this build serves (what `/version` reports and kubectl 1.32 expects).
pub const KUBERNETES_API_VERSION: &str = "v1.32";

/// `mock_k8`: a Kubernetes-style orchestrator whose API server stores every object through Raft.
#[derive(Debug, Parser)]
#[command(name = "mock_k8", version, about, long_about = None, arg_required_else_help = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands (`help` is clap's own).
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the Mock-K8 Orchestrator (initializes an empty data directory first).
    Run(ServerArgs),
    /// Initialize the data directory (refuses to overwrite an initialized one); prints the new
    /// cluster's join token once.
    Init(ServerArgs),
    /// Manage the control-plane members of a cluster.
    #[command(subcommand)]
    Members(MembersCommand),
    /// Run a node agent (kubelet-like) for one node, against a cluster over HTTP.
    Agent(AgentArgs),
    /// Display version information (product and Kubernetes API version served).
    Version,
    /// Verify the signed transition history (every signature, hash link, state commitment and
    /// authority rule) of a stopped member's data directory or of a running server.
    Verify(VerifyArgs),
    /// Sleep until SIGTERM or SIGINT, then exit 0: the process of a pod sandbox ("pause"
    /// container) under the Docker runtime, which holds the pod's network namespace.
    #[command(hide = true)]
    Pause,
}

/// Flags of `verify`: exactly one of `--data-dir` and `--server`.
#[derive(Debug, Clone, Args)]
pub struct VerifyArgs {
    /// Data directory of a stopped member (its store is locked while the server runs).
    #[arg(
        long,
        value_name = "DIR",
        conflicts_with = "server",
        required_unless_present = "server"
    )]
    pub data_dir: Option<PathBuf>,

    /// Base URL of a running server, e.g. http://127.0.0.1:8080.
    #[arg(long, value_name = "URL")]
    pub server: Option<String>,

    /// Also trust this member or controller key id (64 hex digits); repeatable.
    #[arg(long = "trust", value_name = "KEYID")]
    pub trust: Vec<String>,

    /// Print no progress lines.
    #[arg(long)]
    pub quiet: bool,

    /// With --data-dir: start at the stored signed checkpoint (its signature and state
    /// commitment checked against the stored objects) instead of replaying from revision 1.
    #[arg(long)]
    pub from_checkpoint: bool,
}

/// Flags shared by `run` and `init`.
#[derive(Debug, Clone, Args)]
pub struct ServerArgs {
    /// Data directory for state storage (identity.json, raft/).
    #[arg(
        long,
        env = "MOCK_K8_DATA_DIR",
        default_value = "./mock-k8-data",
        value_name = "DIR"
    )]
    pub data_dir: PathBuf,

    /// API server address (host:port).
    #[arg(
        long,
        env = "MOCK_K8_API_ADDR",
        default_value = "127.0.0.1:8080",
        value_name = "HOST:PORT"
    )]
    pub api_addr: SocketAddr,

    /// Node name for this instance, recorded at init [default: the host name]. A restart keeps the
    /// recorded name.
    #[arg(long, env = "MOCK_K8_NODE_NAME", value_name = "NAME")]
    pub node_name: Option<String>,

    /// Enable cryptographic verification of state transitions (true/false).
    #[arg(
        long,
        env = "MOCK_K8_VERIFICATION_ENABLED",
        default_value_t = true,
        action = clap::ArgAction::Set,
        value_name = "true|false"
    )]
    pub verification_enabled: bool,

    /// Most past events the watch history keeps (below it, about the last 75 s, as Kubernetes'
    /// watch cache); older resume points get 410 Expired.
    #[arg(long, env = "MOCK_K8_WATCH_HISTORY", default_value_t = 100_000, allow_negative_numbers = true, value_parser = values::count_from(1), value_name = "EVENTS")]
    pub watch_history: u64,

    /// Most write requests folded into one Raft entry.
    #[arg(long, env = "MOCK_K8_MAX_BATCH", default_value_t = 512, allow_negative_numbers = true, value_parser = values::count_from(1), value_name = "N")]
    pub max_batch: u64,

    /// Largest accepted request body, in bytes (Kubernetes' limit is 3 MiB).
    #[arg(long, env = "MOCK_K8_MAX_BODY_BYTES", default_value_t = 3_145_728, allow_negative_numbers = true, value_parser = values::count_from(1), value_name = "BYTES")]
    pub max_body_bytes: u64,

    /// The reconcile loops' settings (scheduler, node health, node agents).
    #[command(flatten)]
    pub controllers: ControllerArgs,

    /// The control-plane cluster settings (joining, Raft timing, snapshots).
    #[command(flatten)]
    pub cluster: ClusterArgs,
}

/// Flags of the control-plane cluster.
#[derive(Debug, Clone, Args)]
pub struct ClusterArgs {
    /// Join the cluster of the member at this URL (e.g. http://10.0.0.1:8080) instead of starting
    /// a new one; only on an uninitialized data directory.
    #[arg(long, env = "MOCK_K8_JOIN", value_name = "URL")]
    pub join: Option<String>,

    /// The cluster's join token: the one --join presents; on the first member of a new cluster,
    /// the token to create it with [default: a random one, printed once].
    #[arg(
        long,
        env = "MOCK_K8_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,

    /// host:port other members and agents reach this member at [default: the API address, with
    /// 0.0.0.0 replaced by the host name].
    #[arg(long, env = "MOCK_K8_ADVERTISE_ADDR", value_name = "HOST:PORT")]
    pub advertise_addr: Option<String>,

    /// How often the Raft leader sends heartbeats (also the timeout of one AppendEntries RPC).
    #[arg(long, env = "MOCK_K8_RAFT_HEARTBEAT_INTERVAL", default_value = "300ms", value_parser = values::positive_duration(), value_name = "DURATION")]
    pub raft_heartbeat_interval: Duration,

    /// How long a follower waits without hearing a leader before an election (randomized up to twice this).
    #[arg(long, env = "MOCK_K8_RAFT_ELECTION_TIMEOUT", default_value = "1500ms", value_parser = values::positive_duration(), value_name = "DURATION")]
    pub raft_election_timeout: Duration,

    /// Take a snapshot (and compact the log) every this many Raft log entries (etcd's
    /// `--snapshot-count` default).
    #[arg(long, env = "MOCK_K8_SNAPSHOT_THRESHOLD", default_value_t = mock_k8::store::DEFAULT_SNAPSHOT_LOGS, allow_negative_numbers = true, value_parser = values::count_from(1), value_name = "ENTRIES")]
    pub snapshot_threshold: u64,

    /// Log entries kept behind a snapshot for lagging members.
    #[arg(
        long,
        env = "MOCK_K8_SNAPSHOT_KEEP_LOGS",
        default_value_t = 1_000,
        allow_negative_numbers = true, value_parser = values::count_from(0),
        value_name = "ENTRIES"
    )]
    pub snapshot_keep_logs: u64,
}

/// Flags of `mock_k8 agent`.
#[derive(Debug, Clone, Args)]
pub struct AgentArgs {
    /// Control-plane member URLs, comma-separated (e.g. http://m1:8080,http://m2:8080); the
    /// agent moves to the next one when a member does not answer.
    #[arg(
        long,
        env = "MOCK_K8_SERVER",
        value_delimiter = ',',
        required = true,
        value_name = "URL"
    )]
    pub server: Vec<String>,

    /// The cluster's join token.
    #[arg(
        long,
        env = "MOCK_K8_TOKEN",
        required = true,
        value_name = "TOKEN",
        hide_env_values = true
    )]
    pub token: String,

    /// The name of the Node this agent registers and serves.
    #[arg(long, env = "MOCK_K8_NODE_NAME", value_name = "NAME")]
    pub node_name: String,

    /// The node's index, which picks its pod CIDR and InternalIP [default: derived from the name].
    #[arg(long, env = "MOCK_K8_NODE_INDEX", allow_negative_numbers = true, value_parser = clap::value_parser!(u32).range(1..=65_000), value_name = "N")]
    pub node_index: Option<u32>,

    /// MockDocker runtime config (YAML or JSON): per-image delays, exit codes, pull failures.
    #[arg(long, env = "MOCK_K8_RUNTIME_CONFIG", value_name = "FILE")]
    pub runtime_config: Option<PathBuf>,

    #[command(flatten)]
    pub container_runtime: RuntimeArgs,

    /// How often the agent renews its node's Lease.
    #[arg(long, default_value = "10s", value_parser = values::positive_duration(), value_name = "DURATION")]
    pub node_lease_renew_interval: Duration,

    /// The Lease's leaseDurationSeconds.
    #[arg(long, default_value_t = 40, allow_negative_numbers = true, value_parser = clap::value_parser!(i32).range(1..=86_400), value_name = "SECONDS")]
    pub node_lease_duration_seconds: i32,

    /// First CrashLoopBackOff delay (doubles per restart).
    #[arg(long, default_value = "10s", value_parser = values::positive_duration(), value_name = "DURATION")]
    pub crash_loop_backoff_initial: Duration,

    /// Largest CrashLoopBackOff delay.
    #[arg(long, default_value = "300s", value_parser = values::positive_duration(), value_name = "DURATION")]
    pub crash_loop_backoff_max: Duration,

    /// Where the agent serves its containers' logs to the API server (`kubectl logs`); port 0
    /// picks a free one. The port is published in the Node's
    /// status.daemonEndpoints.kubeletEndpoint.Port.
    #[arg(
        long,
        env = "MOCK_K8_LOG_ADDR",
        default_value = "0.0.0.0:10250",
        value_name = "HOST:PORT"
    )]
    pub log_addr: std::net::SocketAddr,

    /// The node's InternalIP, where the API server reaches the log endpoint [default: the
    /// --log-addr host, or when that is 0.0.0.0, this host's address on the route to --server].
    #[arg(long, env = "MOCK_K8_NODE_IP", value_name = "IP")]
    pub node_ip: Option<std::net::IpAddr>,
    /// Where the agent keeps its NKO signing key (`keys/node.key`, mode 0600, made on first
    /// start; its public key is published in the Node's `nko.mock-k8.io/public-key` annotation).
    #[arg(
        long,
        env = "MOCK_K8_AGENT_DATA_DIR",
        default_value = "./mock-k8-agent-data",
        value_name = "DIR"
    )]
    pub data_dir: PathBuf,
}

impl AgentArgs {
    /// The resolved agent options.
    pub fn to_options(&self) -> mock_k8::node_agent::AgentOptions {
        mock_k8::node_agent::AgentOptions {
            servers: self.server.clone(),
            token: self.token.clone(),
            node_name: self.node_name.clone(),
            node_index: self.node_index,
            runtime_config: self.runtime_config.clone(),
            runtime: self.container_runtime.kind(),
            sandbox_image: self.container_runtime.sandbox_image.clone(),
            image_pull_timeout: self.container_runtime.image_pull_timeout,
            lease_renew_interval: self.node_lease_renew_interval,
            lease_duration_seconds: self.node_lease_duration_seconds,
            crash_loop_backoff: (self.crash_loop_backoff_initial, self.crash_loop_backoff_max),
            log_addr: self.log_addr,
            node_ip: self.node_ip,
            data_dir: self.data_dir.clone(),
        }
    }
}

/// `mock_k8 members ...`: talks to a running member with the join token.
#[derive(Debug, Subcommand)]
pub enum MembersCommand {
    /// List the members: id, address, role, leader.
    List(MembersArgs),
    /// Remove member ID from the cluster.
    Remove {
        /// The member's Raft node id (see `members list`).
        #[arg(allow_negative_numbers = true, value_parser = values::count_from(1))]
        id: u64,
        #[command(flatten)]
        args: MembersArgs,
    },
}

/// Where `members` connects and with which token.
#[derive(Debug, Clone, Args)]
pub struct MembersArgs {
    /// A member's URL.
    #[arg(
        long,
        env = "MOCK_K8_SERVER",
        default_value = "http://127.0.0.1:8080",
        value_name = "URL"
    )]
    pub server: String,

    /// The join token [default: the one in <data-dir>/cluster.json].
    #[arg(
        long,
        env = "MOCK_K8_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,

    /// The data directory to read the token from when --token is not given.
    #[arg(
        long,
        env = "MOCK_K8_DATA_DIR",
        default_value = "./mock-k8-data",
        value_name = "DIR"
    )]
    pub data_dir: PathBuf,
}

/// Flags of the reconcile loops: every timing has Kubernetes' default and takes a duration such as
/// `10s`, `1m30s` or `500ms`.
#[derive(Debug, Clone, Args)]
pub struct ControllerArgs {
    /// Serve the API alone, like a bare kube-apiserver: no scheduler, controllers or node agents.
    #[arg(long, env = "MOCK_K8_API_ONLY")]
    pub api_only: bool,

    /// The cluster's default scheduling policy (see GET /api/v1/scheduler/policies).
    #[arg(
        long,
        env = "MOCK_K8_SCHEDULER_POLICY",
        default_value = "LeastAllocated",
        value_name = "NAME"
    )]
    pub scheduler_policy: String,

    /// Kubernetes' percentageOfNodesToScore: the scheduler stops searching once this share of the
    /// nodes (at least 100) is feasible and scores only those. 0 = Kubernetes' adaptive default
    /// (50% of 100 nodes down to 10% of 5,000, never below 5%); 100 = every node.
    #[arg(
        long,
        env = "MOCK_K8_PERCENTAGE_OF_NODES_TO_SCORE",
        default_value_t = 0,
        allow_negative_numbers = true, value_parser = clap::value_parser!(u32).range(0..=100),
        value_name = "PERCENT"
    )]
    pub percentage_of_nodes_to_score: u32,

    /// Simulated nodes to serve in-process, besides this instance's own node.
    #[arg(long, env = "MOCK_K8_SIMULATED_NODES", default_value_t = 0, allow_negative_numbers = true, value_parser = clap::value_parser!(u32).range(0..=65_000), value_name = "N")]
    pub simulated_nodes: u32,

    /// A Node manifest (YAML or JSON) shaping simulated nodes: capacity, labels, taints.
    #[arg(long, env = "MOCK_K8_NODE_TEMPLATE", value_name = "FILE")]
    pub node_template: Option<PathBuf>,

    /// MockDocker runtime config (YAML or JSON): per-image delays, exit codes, pull failures.
    #[arg(long, env = "MOCK_K8_RUNTIME_CONFIG", value_name = "FILE")]
    pub runtime_config: Option<PathBuf>,

    /// How often node agents renew their Lease.
    #[arg(long, default_value = "10s", value_parser = values::positive_duration(), value_name = "DURATION")]
    pub node_lease_renew_interval: Duration,

    /// How often the node lifecycle controller checks node leases.
    #[arg(long, default_value = "5s", value_parser = values::positive_duration(), value_name = "DURATION")]
    pub node_monitor_period: Duration,

    /// Lease age after which a node becomes Ready=Unknown and is tainted unreachable.
    #[arg(long, default_value = "40s", value_parser = values::positive_duration(), value_name = "DURATION")]
    pub node_monitor_grace_period: Duration,

    /// tolerationSeconds of the default not-ready:NoExecute toleration added to pods.
    #[arg(long, default_value_t = 300, allow_negative_numbers = true, value_parser = values::count_from(0), value_name = "SECONDS")]
    pub default_not_ready_toleration_seconds: u64,

    /// tolerationSeconds of the default unreachable:NoExecute toleration added to pods.
    #[arg(long, default_value_t = 300, allow_negative_numbers = true, value_parser = values::count_from(0), value_name = "SECONDS")]
    pub default_unreachable_toleration_seconds: u64,

    /// First CrashLoopBackOff delay (doubles per restart).
    #[arg(long, default_value = "10s", value_parser = values::positive_duration(), value_name = "DURATION")]
    pub crash_loop_backoff_initial: Duration,

    /// Largest CrashLoopBackOff delay.
    #[arg(long, default_value = "300s", value_parser = values::positive_duration(), value_name = "DURATION")]
    pub crash_loop_backoff_max: Duration,

    /// The range Service ClusterIPs are allocated from.
    #[arg(long, default_value = "10.96.0.0/12", value_name = "CIDR")]
    pub service_cluster_ip_range: String,

    /// The range Service NodePorts are allocated from.
    #[arg(long, default_value = "30000-32767", value_name = "FROM-TO")]
    pub service_node_port_range: String,

    /// Run the ReplicaSet and Deployment controllers and the garbage collector.
    #[arg(
        long,
        env = "MOCK_K8_WORKLOAD_CONTROLLERS",
        default_value_t = true,
        action = clap::ArgAction::Set,
        value_name = "true|false"
    )]
    pub workload_controllers: bool,
    #[command(flatten)]
    pub container_runtime: RuntimeArgs,

    /// Run no node agent for this instance's own node (control-plane members whose nodes are
    /// `mock_k8 agent`s).
    #[arg(long, env = "MOCK_K8_NO_LOCAL_NODE")]
    pub no_local_node: bool,
}

impl ControllerArgs {
    /// The resolved [`ControllerSettings`].
    pub fn to_settings(&self) -> ControllerSettings {
        ControllerSettings {
            enabled: !self.api_only,
            scheduler_policy: self.scheduler_policy.clone(),
            percentage_of_nodes_to_score: self.percentage_of_nodes_to_score,
            simulated_nodes: self.simulated_nodes as usize,
            node_template: self.node_template.clone(),
            runtime_config: self.runtime_config.clone(),
            node_lease_renew_interval: self.node_lease_renew_interval,
            node_monitor_period: self.node_monitor_period,
            node_monitor_grace_period: self.node_monitor_grace_period,
            default_not_ready_toleration_seconds: self.default_not_ready_toleration_seconds,
            default_unreachable_toleration_seconds: self.default_unreachable_toleration_seconds,
            crash_loop_backoff_initial: self.crash_loop_backoff_initial,
            crash_loop_backoff_max: self.crash_loop_backoff_max,
            service_cluster_ip_range: self.service_cluster_ip_range.clone(),
            service_node_port_range: self.service_node_port_range.clone(),
            workload_controllers: self.workload_controllers,
            runtime: self.container_runtime.kind(),
            sandbox_image: self.container_runtime.sandbox_image.clone(),
            image_pull_timeout: self.container_runtime.image_pull_timeout,
            local_node: !self.no_local_node,
        }
    }
}

impl ServerArgs {
    /// The resolved [`Config`].
    pub fn to_config(&self) -> Config {
        Config {
            data_dir: self.data_dir.clone(),
            api_addr: self.api_addr,
            node_name: self.node_name.clone(),
            verification_enabled: self.verification_enabled,
            watch_history: to_usize(self.watch_history),
            max_batch: to_usize(self.max_batch),
            max_body_bytes: to_usize(self.max_body_bytes),
            controllers: self.controllers.to_settings(),
            join: self.cluster.join.clone(),
            token: self.cluster.token.clone(),
            advertise_addr: self.cluster.advertise_addr.clone(),
            raft: mock_k8::store::RaftTuning {
                heartbeat_ms: millis(self.cluster.raft_heartbeat_interval),
                election_timeout_ms: millis(self.cluster.raft_election_timeout),
                snapshot_logs: self.cluster.snapshot_threshold,
                keep_logs: self.cluster.snapshot_keep_logs,
            },
        }
    }
}

impl Cli {
    /// Checks what one flag's value parser cannot: flags that must be in order with each other
    /// (`--crash-loop-backoff-initial` at most `--crash-loop-backoff-max`, `--raft-election-timeout`
    /// above `--raft-heartbeat-interval`).
    ///
    /// # Errors
    /// The subcommand's name and a message naming both flags and their values (a usage error:
    /// exit code 2).
    pub fn check_flag_relations(&self) -> Result<(), (&'static str, String)> {
        match &self.command {
            Command::Run(args) | Command::Init(args) => {
                let c = &args.controllers;
                let name = if matches!(self.command, Command::Run(_)) {
                    "run"
                } else {
                    "init"
                };
                backoff_in_order(c.crash_loop_backoff_initial, c.crash_loop_backoff_max)
                    .map_err(|m| (name, m))?;
                let (heartbeat, election) = (
                    args.cluster.raft_heartbeat_interval,
                    args.cluster.raft_election_timeout,
                );
                if election <= heartbeat {
                    return Err((
                        name,
                        format!(
                            "--raft-election-timeout ({}) must be greater than --raft-heartbeat-interval ({})",
                            humantime::format_duration(election),
                            humantime::format_duration(heartbeat)
                        ),
                    ));
                }
                Ok(())
            }
            Command::Agent(args) => {
                backoff_in_order(args.crash_loop_backoff_initial, args.crash_loop_backoff_max)
                    .map_err(|m| ("agent", m))
            }
            _ => Ok(()),
        }
    }
}

/// `--crash-loop-backoff-initial` must not exceed `--crash-loop-backoff-max`.
fn backoff_in_order(initial: Duration, max: Duration) -> Result<(), String> {
    if initial > max {
        return Err(format!(
            "--crash-loop-backoff-initial ({}) must not exceed --crash-loop-backoff-max ({})",
            humantime::format_duration(initial),
            humantime::format_duration(max)
        ));
    }
    Ok(())
}

/// A duration in whole milliseconds (at least 1).
fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

/// Saturating conversion: a value beyond `usize` (only on 32-bit targets) means "as large as possible".
fn to_usize(v: u64) -> usize {
    usize::try_from(v).unwrap_or(usize::MAX)
}

/// The text `mock_k8 version` prints: the product version, and the Kubernetes API version with
/// the group versions served (core/v1, then [`mock_k8_schemas::resource::groups`], the list the
/// API router and discovery serve, so it cannot drift).
pub fn version_text() -> String {
    let groups: Vec<String> = std::iter::once("core/v1".to_string())
        .chain(
            mock_k8_schemas::resource::groups()
                .into_iter()
                .map(|(g, v)| format!("{g}/{v}")),
        )
        .collect();
    format!(
        "mock_k8 {}\nKubernetes API: {KUBERNETES_API_VERSION} ({})\n",
        env!("CARGO_PKG_VERSION"),
        groups.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("mock_k8").chain(args.iter().copied()))
    }

    #[test]
    fn cli_should_pass_clap_self_checks() {
        Cli::command().debug_assert();
    }

    #[test]
    fn run_should_parse_every_flag() {
        let cli = parse(&[
            "run",
            "--data-dir",
            "/tmp/d",
            "--api-addr",
            "0.0.0.0:9000",
            "--node-name",
            "n1",
            "--verification-enabled",
            "false",
            "--watch-history",
            "5",
            "--max-batch",
            "7",
            "--max-body-bytes",
            "1024",
        ])
        .unwrap();
        let Command::Run(args) = cli.command else {
            panic!("not run")
        };
        let c = args.to_config();
        assert_eq!(c.data_dir, PathBuf::from("/tmp/d"));
        assert_eq!(c.api_addr, "0.0.0.0:9000".parse().unwrap());
        assert_eq!(c.node_name.as_deref(), Some("n1"));
        assert!(!c.verification_enabled);
        assert_eq!(
            (c.watch_history, c.max_batch, c.max_body_bytes),
            (5, 7, 1024)
        );
    }

    #[test]
    fn init_should_parse_the_same_flags() {
        let cli = parse(&["init", "--data-dir", "x", "--node-name", "n2"]).unwrap();
        let Command::Init(args) = cli.command else {
            panic!("not init")
        };
        assert_eq!(args.data_dir, PathBuf::from("x"));
        assert_eq!(args.node_name.as_deref(), Some("n2"));
    }

    #[test]
    fn cli_should_reject_bad_values_as_usage_errors() {
        for args in [
            &["run", "--api-addr", "nope"][..],
            &["run", "--verification-enabled", "maybe"],
            &["run", "--watch-history", "0"],
            &["frobnicate"],
        ] {
            let err = parse(args).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{args:?}");
        }
    }

    #[test]
    fn no_subcommand_should_show_help_with_usage_exit_code() {
        let err = parse(&[]).unwrap_err();
        assert_eq!(err.exit_code(), 2);
    }

    #[test]
    fn version_text_should_name_both_versions() {
        let text = version_text();
        assert!(text.contains(env!("CARGO_PKG_VERSION")));
        assert!(text.contains("v1.32"));
    }
}

/// The container runtime flags shared by `run` (its in-process node agents) and `agent`.
#[derive(Debug, Clone, Args)]
pub struct RuntimeArgs {
    /// The container runtime of the node agents: `mock` (MockDocker, simulated) or `docker` (real
    /// containers on the Docker Engine at DOCKER_HOST, default /var/run/docker.sock).
    #[arg(long, env = "MOCK_K8_RUNTIME", default_value = "mock", value_parser = ["mock", "docker"], value_name = "RUNTIME")]
    pub runtime: String,

    /// The pod sandbox image of the Docker runtime; it runs `<image> pause`
    /// (`examples/docker/build-image.sh` builds mock-k8:latest locally).
    #[arg(
        long,
        env = "MOCK_K8_SANDBOX_IMAGE",
        default_value = "mock-k8:latest",
        value_name = "IMAGE"
    )]
    pub sandbox_image: String,

    /// How long the Docker runtime's one pull attempt for an image missing locally may take before
    /// the pod reports ErrImagePull.
    #[arg(long, default_value = "5s", value_parser = values::positive_duration(), value_name = "DURATION")]
    pub image_pull_timeout: Duration,
}

impl RuntimeArgs {
    /// The runtime `--runtime` names (clap has already restricted it to `mock` or `docker`).
    pub fn kind(&self) -> mock_k8_controllers::container::RuntimeKind {
        self.runtime.parse().unwrap_or_default()
    }
}
