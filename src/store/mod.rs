//! The object store: every write is a Raft entry (openraft 0.9, storage-v2) persisted in sled and
//! acknowledged only once fsync'd; reads and watches are served from an in-memory cache.
//! OWNER: helper store. The public surface below is the contract the API server codes against.

use mock_k8_schemas::watch::EventType;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::PathBuf;
use std::sync::Arc;

/// How to open the store.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// Directory holding the sled database (`<data-dir>/raft`).
    pub dir: PathBuf,
    /// This member's Raft node id (1 for a single-member cluster).
    pub node_id: u64,
    /// The address this member's API listens on, recorded in the Raft membership.
    pub advertise_addr: String,
    /// How many past events the watch history keeps; older resume points get 410 Expired.
    pub watch_history: usize,
    /// The most write requests folded into one Raft entry.
    pub max_batch: usize,
}

/// One stored object: its key, revision and serialized JSON (with `metadata.resourceVersion` set).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredObject {
    /// Storage key: `ApiResource::key(namespace, name)`.
    pub key: String,
    /// The revision that last wrote it (its `metadata.resourceVersion`).
    pub resource_version: u64,
    /// The object as JSON bytes.
    pub json: Arc<str>,
}

/// A write, as carried in Raft entries. Preconditions are checked when the entry is applied, so
/// every member reaches the same outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum WriteOp {
    /// Create `key`; fails with `AlreadyExists`, or `NamespaceNotFound` when its namespace is missing.
    Create { key: String, object: Value },
    /// Replace `key`; fails with `NotFound`, or `Conflict` when `expected_rv` is set and stale.
    Update {
        key: String,
        object: Value,
        expected_rv: Option<u64>,
    },
    /// Remove `key` (a Namespace: with everything in it); fails with `NotFound`, or `Conflict` on a
    /// stale `expected_rv` or a different `expected_uid`.
    Delete {
        key: String,
        expected_rv: Option<u64>,
        expected_uid: Option<String>,
    },
}

/// Why a write or watch failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum StoreError {
    /// The key does not exist.
    #[error("not found")]
    NotFound,
    /// The key exists already.
    #[error("already exists")]
    AlreadyExists,
    /// A precondition (resourceVersion or uid) did not hold.
    #[error("conflict")]
    Conflict,
    /// The object's namespace does not exist.
    #[error("namespace {0} not found")]
    NamespaceNotFound(String),
    /// The watch resume point is older than the kept history (410 Expired).
    #[error("too old resource version: {requested} ({oldest})")]
    Expired { requested: u64, oldest: u64 },
    /// The store cannot serve the request now (no leader, shutting down, I/O error); retryable.
    #[error("unavailable: {0}")]
    Unavailable(String),
}

/// One change, as watchers receive it.
#[derive(Debug, Clone)]
pub struct WatchRecord {
    /// The revision of the change.
    pub revision: u64,
    /// ADDED, MODIFIED or DELETED.
    pub event_type: EventType,
    /// The object after the change (for DELETED: the last state, stamped with the delete revision).
    pub object: Arc<StoredObject>,
    /// The object before the change, for MODIFIED and DELETED.
    pub prev: Option<Arc<StoredObject>>,
}

/// Store health and size figures for `/metrics` and `/readyz`.
#[derive(Debug, Clone, Default)]
pub struct StoreStats {
    /// The current cluster-wide revision.
    pub revision: u64,
    /// Objects per key prefix `"{group}/{plural}"` (e.g. `"core/pods"`).
    pub objects_by_resource: Vec<(String, u64)>,
    /// Open watch receivers.
    pub watchers: u64,
    /// Raft: current term, last log index, last applied index, `"Leader"`/`"Follower"`/….
    pub raft_term: u64,
    pub raft_last_log_index: u64,
    pub raft_applied_index: u64,
    pub raft_state: String,
    /// The current leader's node id, if known.
    pub raft_leader: Option<u64>,
}

/// A handle to the store; cheap to clone.
#[derive(Clone)]
pub struct Store {
    _todo: Arc<()>,
}

/// A stream of changes after a revision, filtered by key prefix.
pub struct WatchReceiver {
    _todo: (),
}

impl WatchReceiver {
    /// The next change, in revision order.
    ///
    /// # Errors
    /// `StoreError::Expired` when this receiver fell further behind than the history keeps;
    /// `StoreError::Unavailable` once the store shuts down.
    pub async fn recv(&mut self) -> Result<Arc<WatchRecord>, StoreError> {
        todo!("store")
    }
}

impl Store {
    /// Opens (or creates) the store under `cfg.dir`, starts the single-voter Raft member and waits
    /// until it is leader and has applied its log.
    ///
    /// # Errors
    /// I/O or Raft start-up failures, as text.
    pub async fn open(cfg: StoreConfig) -> Result<Store, StoreError> {
        let _ = cfg;
        todo!("store")
    }

    /// Commits one write through Raft (batched with concurrent writes into one entry) and returns
    /// the stored object (for Delete: the removed object stamped with the delete revision). Returns
    /// only after the entry is fsync'd and applied.
    ///
    /// # Errors
    /// The precondition failures of [`WriteOp`], or `Unavailable`.
    pub async fn write(&self, op: WriteOp) -> Result<Arc<StoredObject>, StoreError> {
        let _ = op;
        todo!("store")
    }

    /// The object at `key`, from the in-memory cache.
    pub fn get(&self, key: &str) -> Option<Arc<StoredObject>> {
        let _ = key;
        todo!("store")
    }

    /// Every object whose key starts with `prefix`, in key order, and the revision of that snapshot.
    pub fn list(&self, prefix: &str) -> (Vec<Arc<StoredObject>>, u64) {
        let _ = prefix;
        todo!("store")
    }

    /// The current revision (the last applied write's).
    pub fn revision(&self) -> u64 {
        todo!("store")
    }

    /// Changes with revision `> from` on keys starting with `prefix`.
    ///
    /// # Errors
    /// `StoreError::Expired` when `from` is older than the kept history.
    pub fn watch(&self, prefix: &str, from: u64) -> Result<WatchReceiver, StoreError> {
        let _ = (prefix, from);
        todo!("store")
    }

    /// Health and size figures.
    pub fn stats(&self) -> StoreStats {
        todo!("store")
    }

    /// Stops Raft and flushes storage. Later writes fail with `Unavailable`.
    pub async fn shutdown(&self) {
        todo!("store")
    }
}
