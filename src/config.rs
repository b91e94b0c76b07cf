//! Configuration and the data directory.
//! OWNER: helper cli. The items below are the contract `server` and `main` code against.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

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
    /// Watch history window in events (`--watch-history`, default 100000); older resume points get 410.
    pub watch_history: usize,
    /// Most write requests folded into one Raft entry (`--max-batch`, default 512).
    pub max_batch: usize,
    /// Largest accepted request body in bytes (`--max-body-bytes`, default 3 MiB, as Kubernetes).
    pub max_body_bytes: usize,
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
}

/// Initializes `dir` (creating it, owner-only permissions) and writes its [`Identity`].
///
/// # Errors
/// [`ConfigError::AlreadyInitialized`] if `dir` holds an identity already; I/O errors.
pub fn init_data_dir(dir: &Path, node_name: Option<&str>) -> Result<Identity, ConfigError> {
    let _ = (dir, node_name);
    todo!("cli")
}

/// Reads `dir`'s [`Identity`], initializing the directory first if it is empty or missing.
///
/// # Errors
/// I/O errors and a corrupt identity file.
pub fn load_or_init(dir: &Path, node_name: Option<&str>) -> Result<Identity, ConfigError> {
    let _ = (dir, node_name);
    todo!("cli")
}

/// Where the Raft store lives inside the data directory.
pub fn raft_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("raft")
}
