//! Configuration and the data directory.
//!
//! The data directory holds everything `mock_k8` persists:
//! - `identity.json`: the [`Identity`] fixed by `init` (node name, Raft node id, cluster id);
//! - `cluster.json`: the join token and Raft RPC key; `keys/`: the NKO signing keys;
//! - `raft/` ([`raft_dir`]): the Raft log in `raft/wal/*.wal` segments beside sled's files (the
//!   vote, the log's metadata and the state machine).
//!
//! The directory is created owner-only (mode 0700) and the identity file is written atomically
//! (temporary file, fsync, rename, fsync of the directory), so a crash during `init` leaves either
//! no identity or a complete one.

use std::fs;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Everything `mock_k8 run` needs, after flags and environment variables are resolved.
#[derive(Debug, Clone)]
pub struct Config {
    /// Data directory (`--data-dir`, `MOCK_K8_DATA_DIR`, default `./mock-k8-data`).
    pub data_dir: PathBuf,
    /// API listen address (`--api-addr`, `MOCK_K8_API_ADDR`, default `127.0.0.1:8080`).
    pub api_addr: SocketAddr,
    /// Node name to record at init (`--node-name`, `MOCK_K8_NODE_NAME`); default: the host name.
    /// Ignored once the data directory is initialized (a restart never renames the node).
    pub node_name: Option<String>,
    /// `MOCK_K8_VERIFICATION_ENABLED` (default true); used by the NKO.
    pub verification_enabled: bool,
    /// Most events the watch history keeps (`--watch-history`, default 100000; below it about the
    /// last 75 s, [`crate::store::history`]); older resume points get 410.
    pub watch_history: usize,
    /// Most write requests folded into one Raft entry (`--max-batch`, default 512).
    pub max_batch: usize,
    /// Largest accepted request body in bytes (`--max-body-bytes`, default 3 MiB, as Kubernetes).
    pub max_body_bytes: usize,
    /// Settings of the reconcile loops `run` starts (scheduler, endpoints, node health, node agents).
    pub controllers: ControllerSettings,
    /// `--join URL`: join the cluster a member at `URL` belongs to (on an uninitialized data
    /// directory; ignored once initialized).
    pub join: Option<String>,
    /// `--token`: the join token `--join` presents.
    pub token: Option<String>,
    /// `--advertise-addr`: `host:port` other members and agents reach this member at (default: the
    /// bound address, `0.0.0.0` replaced by the host name).
    pub advertise_addr: Option<String>,
    /// Raft timing and log compaction.
    pub raft: crate::store::RaftTuning,
}

/// Settings of the reconcile loops started by `mock_k8 run`. Every timing is a flag with
/// Kubernetes' default, so tests and demos can turn it down to seconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControllerSettings {
    /// `false` serves the API alone, like a bare kube-apiserver (`--api-only`): no scheduler, no
    /// controllers, no node agents. Tests of pure API semantics use it.
    pub enabled: bool,
    /// The cluster's default scheduling policy (`--scheduler-policy`, default `LeastAllocated`;
    /// `GET /api/v1/scheduler/policies` lists them).
    pub scheduler_policy: String,
    /// Kubernetes' `percentageOfNodesToScore` (`--percentage-of-nodes-to-score`, `0..=100`,
    /// default 0 = the adaptive default; 100 = every node): how much of the cluster the scheduler
    /// searches for feasible nodes before it scores them.
    pub percentage_of_nodes_to_score: u32,
    /// Simulated nodes served in-process besides this instance's own node (`--simulated-nodes`).
    pub simulated_nodes: usize,
    /// A Node manifest (YAML or JSON) that shapes simulated nodes (`--node-template`): capacity,
    /// labels, taints.
    pub node_template: Option<PathBuf>,
    /// The MockDocker runtime config file (`--runtime-config`): per-image start delays, exit codes,
    /// crash loops and image pull failures.
    pub runtime_config: Option<PathBuf>,
    /// How often node agents renew their Lease (`--node-lease-renew-interval`, kubelet: 10 s).
    pub node_lease_renew_interval: Duration,
    /// How often the node lifecycle controller checks leases (`--node-monitor-period`, 5 s).
    pub node_monitor_period: Duration,
    /// Lease age after which a node is `Ready=Unknown` and tainted unreachable
    /// (`--node-monitor-grace-period`, 40 s).
    pub node_monitor_grace_period: Duration,
    /// `tolerationSeconds` of the default `node.kubernetes.io/not-ready:NoExecute` toleration added
    /// at admission (`--default-not-ready-toleration-seconds`, 300).
    pub default_not_ready_toleration_seconds: u64,
    /// `tolerationSeconds` of the default `node.kubernetes.io/unreachable:NoExecute` toleration
    /// added at admission (`--default-unreachable-toleration-seconds`, 300).
    pub default_unreachable_toleration_seconds: u64,
    /// First CrashLoopBackOff delay (`--crash-loop-backoff-initial`, 10 s); doubles per restart.
    pub crash_loop_backoff_initial: Duration,
    /// Largest CrashLoopBackOff delay (`--crash-loop-backoff-max`, 300 s).
    pub crash_loop_backoff_max: Duration,
    /// The range ClusterIPs are allocated from (`--service-cluster-ip-range`, `10.96.0.0/12`).
    pub service_cluster_ip_range: String,
    /// The range NodePorts are allocated from (`--service-node-port-range`, `30000-32767`).
    pub service_node_port_range: String,
    /// Run the ReplicaSet and Deployment controllers and the garbage collector
    /// (`--workload-controllers`, `true`).
    pub workload_controllers: bool,
    /// The node agents' container runtime (`--runtime mock|docker`, default `mock`).
    pub runtime: mock_k8_controllers::container::RuntimeKind,
    /// The Docker runtime's pod sandbox image (`--sandbox-image`, default `mock-k8:latest`).
    pub sandbox_image: String,
    /// The Docker runtime's pull timeout for a missing image (`--image-pull-timeout`, 5 s).
    pub image_pull_timeout: Duration,
    /// Whether this instance runs a node agent for its own node (`--no-local-node` turns it off,
    /// for control-plane members whose nodes are `mock_k8 agent`s elsewhere).
    pub local_node: bool,
}

impl Default for ControllerSettings {
    fn default() -> Self {
        ControllerSettings {
            enabled: true,
            scheduler_policy: "LeastAllocated".into(),
            percentage_of_nodes_to_score: 0,
            simulated_nodes: 0,
            node_template: None,
            runtime_config: None,
            node_lease_renew_interval: Duration::from_secs(10),
            node_monitor_period: Duration::from_secs(5),
            node_monitor_grace_period: Duration::from_secs(40),
            default_not_ready_toleration_seconds: 300,
            default_unreachable_toleration_seconds: 300,
            crash_loop_backoff_initial: Duration::from_secs(10),
            crash_loop_backoff_max: Duration::from_secs(300),
            service_cluster_ip_range: "10.96.0.0/12".into(),
            service_node_port_range: "30000-32767".into(),
            workload_controllers: true,
            runtime: mock_k8_controllers::container::RuntimeKind::Mock,
            sandbox_image: mock_k8_controllers::container::docker::DEFAULT_SANDBOX_IMAGE.into(),
            image_pull_timeout: Duration::from_secs(5),
            local_node: true,
        }
    }
}

/// What `init` records in the data directory (`<data-dir>/identity.json`), fixed for its lifetime.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Identity {
    /// This instance's node name.
    pub node_name: String,
    /// This member's Raft node id.
    pub node_id: u64,
    /// A random cluster id (hex).
    pub cluster_id: String,
    /// When the directory was initialized (RFC 3339).
    pub created: String,
}

/// Why the data directory could not be initialized or read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// `init` on a directory that already holds an identity.
    #[error("data directory {0} is already initialized")]
    AlreadyInitialized(PathBuf),
    /// Reading or writing the directory failed.
    #[error("data directory {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The identity file is unreadable.
    #[error("data directory {path}: corrupt identity file: {message}")]
    Corrupt { path: PathBuf, message: String },
    /// The node name (given, or derived from the host name) is not a valid Kubernetes object name
    /// (an RFC 1123 DNS subdomain: at most 253 characters of `a-z`, `0-9`, `-` and `.`, starting and
    /// ending with an alphanumeric character), which a Node's `metadata.name` must be.
    #[error("invalid node name {name:?}: {reason}")]
    InvalidNodeName { name: String, reason: String },
}

/// The identity file's name inside the data directory.
pub const IDENTITY_FILE: &str = "identity.json";

/// The node name used when neither a flag nor the host name gives one.
pub const FALLBACK_NODE_NAME: &str = "mock-k8-node";

/// The path of the identity file inside `data_dir`.
pub fn identity_path(data_dir: &Path) -> PathBuf {
    data_dir.join(IDENTITY_FILE)
}

/// Initializes `dir` (creating it, owner-only permissions) and writes its [`Identity`].
///
/// The node name is `node_name` when given, else the host name (lower-cased), else
/// [`FALLBACK_NODE_NAME`]. The Raft node id is 1 (a single-member cluster); the cluster id is 16
/// random bytes in hex.
///
/// # Errors
/// [`ConfigError::AlreadyInitialized`] if `dir` holds an identity already;
/// [`ConfigError::InvalidNodeName`] for a name that is not a DNS subdomain; I/O errors.
pub fn init_data_dir(dir: &Path, node_name: Option<&str>) -> Result<Identity, ConfigError> {
    let cluster_id =
        random_hex(16).map_err(|e| io_err(dir, std::io::Error::other(e.to_string())))?;
    init_data_dir_as(dir, node_name, 1, &cluster_id)
}

/// Initializes `dir` like [`init_data_dir`], with a given Raft node id and cluster id (a member
/// joining an existing cluster takes both from the join answer).
///
/// # Errors
/// As [`init_data_dir`].
pub fn init_data_dir_as(
    dir: &Path,
    node_name: Option<&str>,
    node_id: u64,
    cluster_id: &str,
) -> Result<Identity, ConfigError> {
    let name = match node_name {
        Some(n) => n.to_string(),
        None => host_name().unwrap_or_else(|| FALLBACK_NODE_NAME.to_string()),
    };
    if let Err(reason) = validate_node_name(&name) {
        return Err(ConfigError::InvalidNodeName { name, reason });
    }
    create_private_dir(dir)?;
    let path = identity_path(dir);
    if path.exists() {
        return Err(ConfigError::AlreadyInitialized(dir.to_path_buf()));
    }
    let identity = Identity {
        node_name: name,
        node_id,
        cluster_id: cluster_id.to_string(),
        created: jiff::Timestamp::now()
            .round(jiff::Unit::Second)
            .map(|t| t.to_string())
            .unwrap_or_else(|_| jiff::Timestamp::now().to_string()),
    };
    let mut bytes = serde_json::to_vec_pretty(&identity)
        .map_err(|e| io_err(&path, std::io::Error::other(e.to_string())))?;
    bytes.push(b'\n');
    write_atomically(dir, &path, &bytes)?;
    Ok(identity)
}

/// Reads `dir`'s [`Identity`], initializing the directory first if it is empty or missing.
///
/// A directory that exists and holds other files but no identity is initialized as well (an
/// identity is written next to them); `node_name` only matters then.
///
/// # Errors
/// I/O errors and a corrupt identity file.
pub fn load_or_init(dir: &Path, node_name: Option<&str>) -> Result<Identity, ConfigError> {
    let path = identity_path(dir);
    match fs::read(&path) {
        Ok(bytes) => parse_identity(&path, &bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => match init_data_dir(dir, node_name) {
            Ok(identity) => Ok(identity),
            // Lost a race with a concurrent init: read what the other one wrote.
            Err(ConfigError::AlreadyInitialized(_)) => {
                let bytes = fs::read(&path).map_err(|e| io_err(&path, e))?;
                parse_identity(&path, &bytes)
            }
            Err(e) => Err(e),
        },
        Err(e) => Err(io_err(&path, e)),
    }
}

/// Where the Raft store lives inside the data directory.
pub fn raft_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("raft")
}

/// Checks that `name` is a valid Node name: an RFC 1123 DNS subdomain (Kubernetes
/// `IsDNS1123Subdomain`: at most 253 characters, lower-case alphanumerics, `-` and `.`, each
/// dot-separated part starting and ending with an alphanumeric).
///
/// # Errors
/// A human-readable reason.
pub fn validate_node_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("must not be empty".into());
    }
    if name.len() > 253 {
        return Err("must be no more than 253 characters".into());
    }
    for part in name.split('.') {
        let ok_chars = part
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        let ok_ends = part
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric())
            && part
                .bytes()
                .last()
                .is_some_and(|b| b.is_ascii_alphanumeric());
        if !ok_chars || !ok_ends {
            return Err("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, \
                 '-' or '.', and must start and end with an alphanumeric character"
                .into());
        }
    }
    Ok(())
}

/// This machine's host name, lower-cased: `/proc/sys/kernel/hostname` (what `gethostname` returns on
/// Linux), else `/etc/hostname`, else the `HOSTNAME` environment variable. `None` when none is set.
pub fn host_name() -> Option<String> {
    let from_files = ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .filter_map(|p| fs::read_to_string(p).ok())
        .map(|s| s.trim().to_ascii_lowercase())
        .find(|s| !s.is_empty());
    from_files.or_else(|| {
        std::env::var("HOSTNAME")
            .ok()
            .map(|s| s.trim().to_ascii_lowercase())
            .filter(|s| !s.is_empty())
    })
}

fn parse_identity(path: &Path, bytes: &[u8]) -> Result<Identity, ConfigError> {
    serde_json::from_slice(bytes).map_err(|e| ConfigError::Corrupt {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

fn io_err(path: &Path, source: std::io::Error) -> ConfigError {
    ConfigError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Creates `dir` (and missing parents) with mode 0700; an existing directory keeps its mode.
pub fn create_private_dir(dir: &Path) -> Result<(), ConfigError> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir).map_err(|e| io_err(dir, e))?;
    if !dir.is_dir() {
        return Err(io_err(dir, std::io::Error::other("not a directory")));
    }
    Ok(())
}

/// Writes `bytes` to `path` so that a crash leaves the old content or the new one, never a torn
/// file: write a temporary file in `dir`, fsync it, rename it over `path`, fsync `dir`. Refuses to
/// replace an existing `path` (hard-link based, so a concurrent writer cannot win silently).
fn write_atomically(dir: &Path, path: &Path, bytes: &[u8]) -> Result<(), ConfigError> {
    let tmp = dir.join(format!(".{IDENTITY_FILE}.tmp.{}", std::process::id()));
    let result = (|| {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        // `hard_link` fails if `path` exists, unlike `rename`: the first initializer wins.
        fs::hard_link(&tmp, path)?;
        fs::remove_file(&tmp)?;
        fs::File::open(dir)?.sync_all()
    })();
    match result {
        Ok(()) => Ok(()),
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                Err(ConfigError::AlreadyInitialized(dir.to_path_buf()))
            } else {
                Err(io_err(path, e))
            }
        }
    }
}

fn random_hex(len: usize) -> Result<String, getrandom::Error> {
    let mut buf = vec![0u8; len];
    getrandom::fill(&mut buf)?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_data_dir_should_write_identity_with_given_name() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data");
        let id = init_data_dir(&dir, Some("node-a")).unwrap();
        assert_eq!(id.node_name, "node-a");
        assert_eq!(id.node_id, 1);
        assert_eq!(id.cluster_id.len(), 32);
        assert!(id.cluster_id.bytes().all(|b| b.is_ascii_hexdigit()));
        assert!(
            id.created.parse::<jiff::Timestamp>().is_ok(),
            "created: {}",
            id.created
        );
        let on_disk: Identity =
            serde_json::from_slice(&fs::read(dir.join("identity.json")).unwrap()).unwrap();
        assert_eq!(on_disk, id);
    }

    #[cfg(unix)]
    #[test]
    fn init_data_dir_should_create_owner_only_dir() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data");
        init_data_dir(&dir, Some("n")).unwrap();
        let mode = fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
    }

    #[test]
    fn init_data_dir_should_refuse_an_initialized_dir() {
        let tmp = tempfile::tempdir().unwrap();
        let first = init_data_dir(tmp.path(), Some("n1")).unwrap();
        let err = init_data_dir(tmp.path(), Some("n2")).unwrap_err();
        assert!(matches!(err, ConfigError::AlreadyInitialized(_)), "{err}");
        assert_eq!(load_or_init(tmp.path(), None).unwrap(), first);
    }

    #[test]
    fn init_data_dir_should_leave_no_temporary_file() {
        let tmp = tempfile::tempdir().unwrap();
        init_data_dir(tmp.path(), Some("n")).unwrap();
        let names: Vec<_> = fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("identity.json")]);
    }

    #[test]
    fn init_data_dir_should_reject_invalid_node_name() {
        let tmp = tempfile::tempdir().unwrap();
        for bad in ["", "Upper", "-lead", "trail-", "a_b", "a..b"] {
            let err = init_data_dir(tmp.path(), Some(bad)).unwrap_err();
            assert!(
                matches!(err, ConfigError::InvalidNodeName { .. }),
                "{bad}: {err}"
            );
        }
        assert!(!identity_path(tmp.path()).exists());
    }

    #[test]
    fn init_data_dir_should_default_to_host_name() {
        let tmp = tempfile::tempdir().unwrap();
        let id = init_data_dir(tmp.path(), None).unwrap();
        let expected = host_name().unwrap_or_else(|| FALLBACK_NODE_NAME.to_string());
        assert_eq!(id.node_name, expected);
    }

    #[test]
    fn load_or_init_should_keep_the_first_node_name() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("nested").join("data");
        let first = load_or_init(&dir, Some("first")).unwrap();
        let second = load_or_init(&dir, Some("second")).unwrap();
        assert_eq!(second, first);
        assert_eq!(second.node_name, "first");
    }

    #[test]
    fn load_or_init_should_report_a_corrupt_identity() {
        let tmp = tempfile::tempdir().unwrap();
        fs::write(identity_path(tmp.path()), b"{not json").unwrap();
        let err = load_or_init(tmp.path(), None).unwrap_err();
        assert!(matches!(err, ConfigError::Corrupt { .. }), "{err}");
    }

    #[test]
    fn validate_node_name_should_accept_dns_subdomains() {
        for ok in ["a", "node-1", "mock-k8-node", "n1.example.com", "0abc"] {
            assert_eq!(validate_node_name(ok), Ok(()), "{ok}");
        }
        assert!(validate_node_name(&"a".repeat(254)).is_err());
    }

    #[test]
    fn raft_dir_should_be_inside_the_data_dir() {
        assert_eq!(raft_dir(Path::new("/d")), PathBuf::from("/d/raft"));
    }
}
