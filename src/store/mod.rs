//! The object store: every write is a Raft entry (openraft 0.9, storage-v2) persisted in sled and
//! acknowledged only once fsync'd; reads and watches are served from an in-memory cache.
//! OWNER: helper store. The public surface below is the contract the API server codes against.
//!
//! # Layout
//! - [`types`]: the openraft type configuration (a log entry is a batch of [`WriteOp`]s);
//!   [`object_text`]: objects as JSON text stamped with their revision at apply; [`codec`]: the
//!   binary encoding of log entries.
//! - [`backend`]: the storage seam ([`backend::Backend`]) and its sled implementation, with real fsync.
//! - [`log_store`]: the durable Raft log (`RaftLogStorage`), its entries in [`wal`] segment files.
//! - [`state_machine`] + `apply`: the state machine (`RaftStateMachine`), snapshots, op semantics.
//! - [`cache`]: the in-memory objects serving reads; [`watch`]: the watch fan-out, from the
//!   [`history`] of recent changes.
//! - `batcher`: group commit of concurrent writes into one entry; [`forward`]: where a batch goes
//!   (proposed here on the leader, forwarded to the leader from a follower).
//! - [`network`]: the Raft network over HTTP; [`membership`]: members, leader, RPC authentication
//!   and membership changes; [`read_index`]: linearizable reads.

mod apply;
pub mod backend;
mod batcher;
pub mod cache;
pub mod codec;
pub mod forward;
pub mod history;
pub mod log_store;
pub mod membership;
pub mod network;
pub mod object_text;
pub mod read_index;
pub mod records;
pub mod state_machine;
#[cfg(test)]
mod tests;
pub mod types;
pub mod wal;
pub mod watch;

use mock_k8_schemas::selector::Selectable;
use mock_k8_schemas::watch::EventType;
use openraft::ServerState;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use backend::{Backend, SledBackend};
use cache::Cache;
use forward::Router;
use log_store::LogStore;
use mock_k8_nko::keys::SecretKey;
use network::{Credentials, HttpNetwork};
pub use object_text::ObjectText;
use read_index::ReadIndex;
use state_machine::StateMachine;
use types::{Member, NodeId, Raft};
use watch::WatchHub;
pub use watch::WatchReceiver;

/// How to open the store.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// Directory holding the sled database (`<data-dir>/raft`).
    pub dir: PathBuf,
    /// This member's Raft node id (1 for a single-member cluster).
    pub node_id: u64,
    /// The address this member's API listens on, recorded in the Raft membership.
    pub advertise_addr: String,
    /// The most past events the watch history keeps (its upper bound: below it, it keeps about the
    /// last 75 s, see [`history`]); older resume points get 410 Expired.
    pub watch_history: usize,
    /// The most write requests folded into one Raft entry.
    pub max_batch: usize,
    /// This member's NKO key: signs the intents of the writes it admits and its checkpoints.
    /// `None`: a random key for this process (tests; no verifier will trust it).
    pub member_key: Option<SecretKey>,
    /// This member's RPC key, recorded in the membership; peers authenticate its RPCs with it.
    pub rpc_key: String,
    /// `true` for the first member of a new cluster: an uninitialized store initializes the
    /// cluster with this member as its only voter. `false` for a member joining a cluster: it
    /// waits for the leader to replicate the log (or a snapshot) to it.
    pub bootstrap: bool,
    /// Raft timing and log compaction.
    pub raft: RaftTuning,
}

/// Raft timing and log compaction settings (`--raft-*` and `--snapshot-*` flags).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RaftTuning {
    /// How often the leader sends heartbeats, in milliseconds.
    pub heartbeat_ms: u64,
    /// A follower that hears no leader for a random time in `[min, 2 × min)` milliseconds starts
    /// an election.
    pub election_timeout_ms: u64,
    /// A snapshot is taken every this many log entries since the last one.
    pub snapshot_logs: u64,
    /// Log entries kept behind a snapshot (for lagging members), then purged.
    pub keep_logs: u64,
}

/// Log entries between snapshots by default: etcd's `--snapshot-count` default (100,000 since
/// etcd 3.2). Each snapshot writes the whole state (about 170 MB at 40,000 running pods), so a
/// threshold of 10,000 entries spent most of the server's CPU writing snapshots once tens of
/// thousands of pods were stored (`perf`: 39% of samples in sled's blob writes, issue 7).
pub const DEFAULT_SNAPSHOT_LOGS: u64 = 100_000;

impl Default for RaftTuning {
    /// 300 ms heartbeats, 1.5 s election timeout, a snapshot every [`DEFAULT_SNAPSHOT_LOGS`]
    /// entries keeping 1 000.
    /// openraft also uses the heartbeat interval as the timeout of each AppendEntries RPC, so it
    /// must leave room for a loaded machine.
    fn default() -> Self {
        RaftTuning {
            heartbeat_ms: 300,
            election_timeout_ms: 1500,
            snapshot_logs: DEFAULT_SNAPSHOT_LOGS,
            keep_logs: 1_000,
        }
    }
}

/// One stored object: its key, revision and serialized JSON (with `metadata.resourceVersion` set).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredObject {
    /// Storage key: `ApiResource::key(namespace, name)`.
    pub key: String,
    /// The revision that last wrote it (its `metadata.resourceVersion`).
    pub resource_version: u64,
    /// The object as JSON bytes.
    pub json: Arc<str>,
    /// Its labels and selectable fields, extracted from `json` on first use
    /// ([`StoredObject::selectable`]); never serialized.
    #[serde(skip)]
    attrs: OnceLock<Option<Selectable>>,
}

impl StoredObject {
    /// An object at `key` written at revision `resource_version`, its JSON text `json` (already
    /// stamped with that `metadata.resourceVersion`).
    pub fn new(key: String, resource_version: u64, json: Arc<str>) -> StoredObject {
        StoredObject {
            key,
            resource_version,
            json,
            attrs: OnceLock::new(),
        }
    }

    /// The labels and selectable fields of this object version, `kind` being its kind (e.g.
    /// `"Pod"`; an object's kind never changes, so the first caller's is the one). `None` when the
    /// JSON does not parse.
    ///
    /// The JSON is parsed once per stored version, by the first caller, and the result lives as
    /// long as the version does. A change's record and the next change's `prev` hold the same
    /// version ([`WatchRecord`]), so a fan-out to W watchers with selectors costs one parse per
    /// change, not W, and the history holds one set of attributes per version, not two per record.
    pub fn selectable(&self, kind: &str) -> Option<&Selectable> {
        self.attrs
            .get_or_init(|| Selectable::parse(kind, &self.json))
            .as_ref()
    }
}

/// Equal key, revision and JSON (whether the attributes were extracted yet does not count).
impl PartialEq for StoredObject {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
            && self.resource_version == other.resource_version
            && self.json == other.json
    }
}

impl Eq for StoredObject {}

/// A write, as carried in Raft entries. Preconditions are checked when the entry is applied, so
/// every member reaches the same outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum WriteOp {
    /// Create `key`; fails with `AlreadyExists`, or `NamespaceNotFound` when its namespace is missing.
    Create { key: String, object: ObjectText },
    /// Replace `key`; fails with `NotFound`, or `Conflict` when `expected_rv` is set and stale.
    Update {
        key: String,
        object: ObjectText,
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

/// One change, as watchers receive it. Selectors are evaluated on the attributes of `object` and
/// `prev` ([`StoredObject::selectable`]): extracted once per stored version, whatever the number of
/// watchers and records sharing it.
#[derive(Debug, Clone)]
pub struct WatchRecord {
    /// The revision of the change.
    pub revision: u64,
    /// ADDED, MODIFIED or DELETED.
    pub event_type: EventType,
    /// The object after the change (for DELETED: the last state, stamped with the delete revision).
    pub object: Arc<StoredObject>,
    /// The object before the change, for MODIFIED and DELETED: the very version the previous
    /// change of the key stored (the same `Arc`).
    pub prev: Option<Arc<StoredObject>>,
}

impl WatchRecord {
    /// A record of a change.
    pub fn new(
        revision: u64,
        event_type: EventType,
        object: Arc<StoredObject>,
        prev: Option<Arc<StoredObject>>,
    ) -> WatchRecord {
        WatchRecord {
            revision,
            event_type,
            object,
            prev,
        }
    }
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
    inner: Arc<Inner>,
}

struct Inner {
    node_id: u64,
    raft: Raft,
    router: Router,
    read_index: Arc<ReadIndex>,
    seeds: Mutex<BTreeMap<NodeId, Member>>,
    cache: Arc<Cache>,
    hub: Arc<WatchHub>,
    backend: Arc<dyn Backend>,
    queue: mpsc::Sender<batcher::Request>,
    cancel: CancellationToken,
    batcher: Mutex<Option<JoinHandle<()>>>,
    closed: AtomicBool,
    member_key: SecretKey,
}

/// The Raft log's segment files, inside the store directory ([`wal`]).
pub const WAL_DIR: &str = "wal";

/// How long `open` waits for this member to become leader and catch up.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// openraft's configuration from `tuning`. Elections wait `[t, 2t)` after the last heartbeat; a
/// single voter elects itself at once, so the timeouts only matter once there are peers.
fn raft_config(tuning: &RaftTuning) -> Result<openraft::Config, StoreError> {
    let election = tuning.election_timeout_ms.max(tuning.heartbeat_ms * 2 + 1);
    openraft::Config {
        cluster_name: "mock_k8".into(),
        heartbeat_interval: tuning.heartbeat_ms.max(1),
        election_timeout_min: election,
        election_timeout_max: election * 2,
        install_snapshot_timeout: 10_000,
        snapshot_policy: openraft::SnapshotPolicy::LogsSinceLast(tuning.snapshot_logs.max(1)),
        max_in_snapshot_log_to_keep: tuning.keep_logs,
        purge_batch_size: 1_000,
        ..Default::default()
    }
    .validate()
    .map_err(|e| StoreError::Unavailable(format!("raft config: {e}")))
}

fn unavailable(context: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(format!("{context}: {e}"))
}

/// Opens sled and loads the state machine. sled locks its directory; a store of this process that
/// was dropped without `shutdown` releases it only once its Raft tasks have ended, so a held lock
/// is retried for up to [`LOCK_WAIT`].
async fn open_storage(
    cfg: &StoreConfig,
    member_key: &SecretKey,
) -> Result<(Arc<dyn Backend>, StateMachine), StoreError> {
    let deadline = tokio::time::Instant::now() + LOCK_WAIT;
    loop {
        let (dir, history) = (cfg.dir.clone(), cfg.watch_history);
        let key = member_key.clone();
        let opened = tokio::task::spawn_blocking(move || -> std::io::Result<_> {
            let backend: Arc<dyn Backend> = Arc::new(SledBackend::open(&dir)?);
            let sm = StateMachine::open(backend.clone(), history)?.with_member_key(key);
            Ok((backend, sm))
        })
        .await
        .map_err(|e| unavailable("store open", e))?;
        match opened {
            Ok(opened) => return Ok(opened),
            Err(e)
                if e.to_string().contains("could not acquire lock")
                    && tokio::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => return Err(unavailable(&format!("store open {}", cfg.dir.display()), e)),
        }
    }
}

/// How long `open` waits for the database lock held by a store of this process being dropped.
const LOCK_WAIT: Duration = Duration::from_secs(5);

impl Store {
    /// Opens (or creates) the store under `cfg.dir` and starts this Raft member.
    ///
    /// - An uninitialized store with `cfg.bootstrap` initializes a new cluster with the one voter
    ///   `{cfg.node_id: Member(cfg.advertise_addr, cfg.member_key)}` and waits until it leads.
    /// - A store whose recorded cluster has this member as its only voter waits until it leads
    ///   (a restarted single-member cluster).
    /// - Otherwise (a joining member, or one of several) it returns at once; the member follows
    ///   the leader once one reaches it, and writes fail with `Unavailable` until then.
    ///
    /// # Errors
    /// I/O or Raft start-up failures (including another process holding `cfg.dir`), as
    /// `Unavailable` text.
    pub async fn open(cfg: StoreConfig) -> Result<Store, StoreError> {
        let member_key = match &cfg.member_key {
            Some(k) => k.clone(),
            None => SecretKey::generate().map_err(|e| unavailable("member key", e))?,
        };
        let (backend, sm) = open_storage(&cfg, &member_key).await?;
        let (cache, hub) = (sm.cache(), sm.hub());
        let log_store = LogStore::new(backend.clone(), &cfg.dir.join(WAL_DIR))
            .map_err(|e| unavailable("store open", e))?;
        let config = Arc::new(raft_config(&cfg.raft)?);
        let creds = Credentials {
            id: cfg.node_id,
            key: cfg.rpc_key.clone(),
        };
        let network = HttpNetwork::new(creds.clone());
        let raft = Raft::new(cfg.node_id, config, network, log_store, sm)
            .await
            .map_err(|e| unavailable("raft start", e))?;
        let initialized = raft
            .is_initialized()
            .await
            .map_err(|e| unavailable("raft start", e))?;
        if !initialized && cfg.bootstrap {
            let me = Member {
                addr: cfg.advertise_addr.clone(),
                key: cfg.rpc_key.clone(),
            };
            raft.initialize(BTreeMap::from([(cfg.node_id, me)]))
                .await
                .map_err(|e| unavailable("raft initialize", e))?;
        }
        let id = cfg.node_id;
        let (voters, nodes): (Vec<u64>, Vec<u64>) = raft
            .with_raft_state(|st| {
                let m = st.membership_state.effective();
                (
                    m.voter_ids().collect(),
                    m.nodes().map(|(i, _)| *i).collect(),
                )
            })
            .await
            .map_err(|e| unavailable("raft start", e))?;
        if (initialized || cfg.bootstrap) && !nodes.contains(&id) {
            let _ = raft.shutdown().await;
            let message = format!(
                "raft start: node id {id} is not a member of the recorded cluster (voters {voters:?}); \
                 it was removed, or the data directory belongs to another member"
            );
            return Err(StoreError::Unavailable(message));
        }
        if voters == [id] {
            raft.wait(Some(START_TIMEOUT))
                .metrics(
                    |m| {
                        m.state == ServerState::Leader
                            && m.current_leader == Some(id)
                            && m.last_applied.map(|l| l.index) >= m.last_log_index
                    },
                    "leader with its log applied",
                )
                .await
                .map_err(|e| unavailable("raft start: waiting for leadership", e))?;
        }
        let router = Router {
            raft: raft.clone(),
            creds,
        };
        let (queue, rx) = mpsc::channel(batcher::QUEUE_CAPACITY);
        let cancel = CancellationToken::new();
        let handle = batcher::spawn(router.clone(), rx, cfg.max_batch, cancel.clone());
        let inner = Inner {
            node_id: cfg.node_id,
            raft,
            read_index: ReadIndex::new(router.clone()),
            router,
            seeds: Mutex::new(BTreeMap::new()),
            cache,
            hub,
            backend,
            queue,
            cancel,
            batcher: Mutex::new(Some(handle)),
            closed: AtomicBool::new(false),
            member_key,
        };
        Ok(Store {
            inner: Arc::new(inner),
        })
    }

    /// Waits until this member's cache reflects every write acknowledged (by any member) before
    /// the call: a linearizable read may follow. Free when this member is the only voter and
    /// leads; otherwise one leader round trip, shared by concurrent callers.
    ///
    /// # Errors
    /// `Unavailable` (retryable) when no leader can confirm its leadership or this member cannot
    /// catch up in time; the message names the leader as far as known.
    pub async fn read_barrier(&self) -> Result<(), StoreError> {
        if self.inner.closed.load(Ordering::Acquire) {
            return Err(StoreError::Unavailable("the store is shut down".into()));
        }
        let sole_leader = {
            let m = self.inner.raft.metrics();
            let m = m.borrow();
            let mut voters = m.membership_config.membership().voter_ids();
            m.current_leader == Some(self.inner.node_id)
                && voters.next() == Some(self.inner.node_id)
                && voters.next().is_none()
        };
        if sole_leader {
            return Ok(());
        }
        self.inner.read_index.barrier().await
    }

    /// Proposes `ops` as one entry on this member, which must be the leader (the target of a
    /// forwarded batch).
    ///
    /// # Errors
    /// `Unavailable` starting with [`forward::NOT_LEADER`] on a follower.
    pub async fn propose(
        &self,
        ops: Vec<types::Proposal>,
    ) -> Result<forward::Forwarded, StoreError> {
        self.inner.router.propose(ops).await
    }

    /// The leader's read index (for a follower's linearizable read).
    ///
    /// # Errors
    /// `Unavailable` starting with [`forward::NOT_LEADER`] on a follower.
    pub async fn read_index_here(&self) -> Result<u64, StoreError> {
        self.inner.router.read_index_here().await
    }

    /// The Raft member, for the RPC handlers.
    pub fn raft(&self) -> &Raft {
        &self.inner.raft
    }

    /// Commits one write through Raft (batched with concurrent writes into one entry) and returns
    /// the stored object (for Delete: the removed object stamped with the delete revision). Returns
    /// only after the entry is fsync'd and applied, so a following `get`/`list` sees it.
    ///
    /// # Errors
    /// The precondition failures of [`WriteOp`], or `Unavailable` (shut down, Raft failure).
    pub async fn write(&self, op: WriteOp) -> Result<Arc<StoredObject>, StoreError> {
        if self.inner.closed.load(Ordering::Acquire) {
            return Err(StoreError::Unavailable("the store is shut down".into()));
        }
        let (reply, result) = oneshot::channel();
        let shut = || StoreError::Unavailable("the store is shutting down".into());
        // The intent is signed here, in the request path, so that it travels in the Raft entry.
        let intent = crate::nko::admission::intent_for(&op, &self.inner.member_key);
        self.inner
            .queue
            .send((types::Proposal { op, intent }, reply))
            .await
            .map_err(|_| shut())?;
        result.await.map_err(|_| shut())?
    }

    /// The object at `key`, from the in-memory cache.
    pub fn get(&self, key: &str) -> Option<Arc<StoredObject>> {
        self.inner.cache.get(key)
    }

    /// Every object whose key starts with `prefix`, in key order, and the revision of that snapshot.
    pub fn list(&self, prefix: &str) -> (Vec<Arc<StoredObject>>, u64) {
        self.inner.cache.list(prefix)
    }

    /// The current revision (the last applied write's).
    pub fn revision(&self) -> u64 {
        self.inner.cache.revision()
    }

    /// Changes with revision `> from` on keys starting with `prefix`: first those still in the
    /// history, then live ones, with no gap and no duplicate.
    ///
    /// # Errors
    /// `StoreError::Expired` when `from` is older than the kept history (`oldest` is the oldest
    /// revision a watch can start from, as Kubernetes' watch cache reports it); `from` equal to
    /// the current revision is always accepted. `Unavailable` after shutdown.
    pub fn watch(&self, prefix: &str, from: u64) -> Result<WatchReceiver, StoreError> {
        self.inner.hub.subscribe(prefix, from)
    }

    /// Health and size figures.
    pub fn stats(&self) -> StoreStats {
        let m = self.inner.raft.metrics().borrow().clone();
        StoreStats {
            revision: self.revision(),
            objects_by_resource: self.inner.cache.counts(),
            watchers: self.inner.hub.watchers(),
            raft_term: m.current_term,
            raft_last_log_index: m.last_log_index.unwrap_or(0),
            raft_applied_index: m.last_applied.map(|l| l.index).unwrap_or(0),
            raft_state: format!("{:?}", m.state),
            raft_leader: m.current_leader,
        }
    }

    /// This member's NKO public key (admits writes, signs checkpoints).
    pub fn member_key(&self) -> mock_k8_nko::keys::PublicKey {
        self.inner.member_key.public()
    }

    /// Up to `limit` NKO records from revision `from` on (see [`records::read_records`]).
    ///
    /// # Errors
    /// `Unavailable` on I/O errors.
    pub async fn records(
        &self,
        from: u64,
        limit: usize,
    ) -> Result<Vec<records::StoredRecord>, StoreError> {
        let backend = self.inner.backend.clone();
        tokio::task::spawn_blocking(move || records::read_records(&*backend, from, limit))
            .await
            .map_err(|e| unavailable("records", e))?
            .map_err(|e| unavailable("records", e))
    }

    /// The latest NKO checkpoint's canonical bytes.
    ///
    /// # Errors
    /// `Unavailable` on I/O errors.
    pub async fn checkpoint(&self) -> Result<Option<Vec<u8>>, StoreError> {
        let backend = self.inner.backend.clone();
        tokio::task::spawn_blocking(move || records::read_checkpoint(&*backend))
            .await
            .map_err(|e| unavailable("checkpoint", e))?
            .map_err(|e| unavailable("checkpoint", e))
    }

    /// This member's Raft node id.
    pub fn node_id(&self) -> u64 {
        self.inner.node_id
    }

    /// Stops Raft and flushes storage. Later writes fail with `Unavailable`; open watches end with
    /// `Unavailable`. The entry in flight finishes first. Idempotent.
    pub async fn shutdown(&self) {
        let inner = &self.inner;
        if inner.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        inner.cancel.cancel();
        let handle = inner
            .batcher
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(handle) = handle {
            let _ = handle.await;
        }
        if let Err(e) = inner.raft.shutdown().await {
            tracing::warn!("raft shutdown: {e}");
        }
        inner.hub.close();
        // The log store and state machine drop their backend handles once openraft's tasks end;
        // wait (bounded) so that the database is released when the last Store handle goes.
        for _ in 0..500 {
            if Arc::strong_count(&inner.backend) == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let backend = inner.backend.clone();
        match tokio::task::spawn_blocking(move || backend.sync()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!("store: final sync failed: {e}"),
            Err(e) => tracing::error!("store: final sync task failed: {e}"),
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Without `shutdown`: stop the batcher and end watches; Raft stops once its handles are gone.
        self.cancel.cancel();
        self.hub.close();
    }
}
