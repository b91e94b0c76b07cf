//! The Raft state machine: openraft 0.9's `RaftStateMachine` (storage-v2) and its snapshot builder.
//!
//! State lives in [`Space::State`] under prefixed keys: `o/<key>` → big-endian revision (8 bytes)
//! followed by the object JSON, and the markers `m/applied`, `m/membership`, `m/revision`, plus the last snapshot
//! (`m/snapshot_meta`, `m/snapshot_data`). Each apply call writes its objects and markers in one
//! atomic batch, so objects and the applied marker never get out of step. State writes are not
//! fsync'd on their own: the log is, and openraft re-applies committed entries after the applied
//! marker on restart (the log store keeps the committed log id for that).

use std::io::{self, Cursor};
use std::ops::Bound;
use std::sync::Arc;

use openraft::storage::RaftStateMachine;
use openraft::{EntryPayload, RaftSnapshotBuilder, Snapshot, SnapshotMeta, StorageIOError};
use serde::{Deserialize, Serialize};

use super::StoredObject;
use super::apply::Batch;
use super::backend::{Backend, Op, Space};
use super::cache::{Cache, ObjectMap};
use super::records::{self, Recorder};
use super::types::{
    Entry, LogId, NodeId, OpResult, StorageError, StoredMembership, TypeConfig, be_key, from_be,
};
use super::watch::WatchHub;
use mock_k8_nko::chain::Chain;
use mock_k8_nko::keys::SecretKey;

const OBJECT_PREFIX: &[u8] = b"o/";
const APPLIED_KEY: &[u8] = b"m/applied";
const MEMBERSHIP_KEY: &[u8] = b"m/membership";
const REVISION_KEY: &[u8] = b"m/revision";
const SNAPSHOT_META_KEY: &[u8] = b"m/snapshot_meta";
const SNAPSHOT_DATA_KEY: &[u8] = b"m/snapshot_data";

type Meta = SnapshotMeta<NodeId, super::types::Member>;

/// [`SnapshotData`] borrowing the objects it serializes (same JSON), so building a snapshot does
/// not copy every object first.
#[derive(Serialize)]
struct SnapshotDataRef<'a> {
    revision: u64,
    objects: Vec<&'a StoredObject>,
    nko_chain: Option<String>,
}

/// The snapshot payload (the meta carries applied log id and membership).
#[derive(Serialize, Deserialize)]
struct SnapshotData {
    revision: u64,
    objects: Vec<StoredObject>,
    /// The NKO chain head at `revision` (`records::encode_chain`, hex), so a member installing the
    /// snapshot continues the same chain. Records before it stay on the members that applied them.
    #[serde(default)]
    nko_chain: Option<String>,
}

/// The state machine; the cache and watch hub it feeds are shared with the [`super::Store`].
pub struct StateMachine {
    backend: Arc<dyn Backend>,
    cache: Arc<Cache>,
    hub: Arc<WatchHub>,
    applied: Option<LogId>,
    membership: StoredMembership,
    revision: u64,
    snapshots_built: u64,
    /// The NKO record chain head (see [`records`]).
    chain: Chain,
    /// Signs this member's checkpoints.
    member_key: SecretKey,
}

/// Builds a snapshot of the state as it was when the builder was made.
pub struct SnapshotBuilder {
    backend: Arc<dyn Backend>,
    objects: ObjectMap,
    revision: u64,
    applied: Option<LogId>,
    membership: StoredMembership,
    id: String,
    chain: Chain,
}

fn object_key(key: &str) -> Vec<u8> {
    [OBJECT_PREFIX, key.as_bytes()].concat()
}

fn object_value(o: &StoredObject) -> Vec<u8> {
    [&be_key(o.resource_version)[..], o.json.as_bytes()].concat()
}

fn decode_object(k: &[u8], v: &[u8]) -> io::Result<StoredObject> {
    let bad = || io::Error::new(io::ErrorKind::InvalidData, "corrupt stored object");
    let key =
        std::str::from_utf8(k.strip_prefix(OBJECT_PREFIX).ok_or_else(bad)?).map_err(|_| bad())?;
    let resource_version = from_be(v.get(..8).ok_or_else(bad)?).ok_or_else(bad)?;
    let json = std::str::from_utf8(&v[8..]).map_err(|_| bad())?;
    Ok(StoredObject::new(
        key.to_string(),
        resource_version,
        json.into(),
    ))
}

fn json<T: Serialize>(v: &T) -> io::Result<Vec<u8>> {
    serde_json::to_vec(v).map_err(io::Error::other)
}

fn read_json<T: for<'de> Deserialize<'de>>(
    backend: &dyn Backend,
    key: &[u8],
) -> io::Result<Option<T>> {
    backend
        .get(Space::State, key)?
        .map(|v| serde_json::from_slice(&v).map_err(io::Error::other))
        .transpose()
}

fn marker_ops(
    applied: &Option<LogId>,
    membership: &StoredMembership,
    revision: u64,
) -> io::Result<Vec<Op>> {
    Ok(vec![
        Op::Put(APPLIED_KEY.to_vec(), json(applied)?),
        Op::Put(MEMBERSHIP_KEY.to_vec(), json(membership)?),
        Op::Put(REVISION_KEY.to_vec(), be_key(revision).to_vec()),
    ])
}

impl StateMachine {
    /// Loads the state from `backend` and builds the cache and a watch hub keeping
    /// `watch_history` changes.
    ///
    /// # Errors
    /// I/O errors and corrupt state.
    pub fn open(backend: Arc<dyn Backend>, watch_history: usize) -> io::Result<StateMachine> {
        let mut objects = ObjectMap::new();
        let end = b"o0".to_vec(); // '0' follows '/': just past every "o/..." key
        for (k, v) in backend.scan(
            Space::State,
            (
                Bound::Included(OBJECT_PREFIX.to_vec()),
                Bound::Excluded(end),
            ),
        )? {
            let o = decode_object(&k, &v)?;
            objects.insert(o.key.clone(), Arc::new(o));
        }
        let revision = backend
            .get(Space::State, REVISION_KEY)?
            .and_then(|v| from_be(&v))
            .unwrap_or(0);
        let applied = read_json::<Option<LogId>>(&*backend, APPLIED_KEY)?.flatten();
        let membership = read_json(&*backend, MEMBERSHIP_KEY)?.unwrap_or_default();
        let chain = records::load_chain(&*backend)?;
        let member_key = SecretKey::generate().map_err(|e| io::Error::other(e.to_string()))?;
        Ok(StateMachine {
            chain,
            member_key,
            cache: Arc::new(Cache::new(objects, revision)),
            hub: Arc::new(WatchHub::new(watch_history, revision)),
            backend,
            applied,
            membership,
            revision,
            snapshots_built: 0,
        })
    }

    /// This state machine with `key` signing its NKO checkpoints (by default a random key, which
    /// no verifier trusts).
    pub fn with_member_key(mut self, key: SecretKey) -> StateMachine {
        self.member_key = key;
        self
    }

    /// The object cache this state machine keeps current.
    pub fn cache(&self) -> Arc<Cache> {
        self.cache.clone()
    }

    /// The watch hub this state machine publishes to.
    pub fn hub(&self) -> Arc<WatchHub> {
        self.hub.clone()
    }

    fn read_snapshot(&self) -> io::Result<Option<Snapshot<TypeConfig>>> {
        let Some(meta) = read_json::<Meta>(&*self.backend, SNAPSHOT_META_KEY)? else {
            return Ok(None);
        };
        let data = self
            .backend
            .get(Space::State, SNAPSHOT_DATA_KEY)?
            .unwrap_or_default();
        Ok(Some(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(data)),
        }))
    }

    fn install(&mut self, meta: &Meta, data: &[u8]) -> io::Result<()> {
        let snap: SnapshotData = serde_json::from_slice(data).map_err(io::Error::other)?;
        let objects: ObjectMap = snap
            .objects
            .into_iter()
            .map(|o| (o.key.clone(), Arc::new(o)))
            .collect();
        let mut ops: Vec<Op> = self
            .cache
            .keys("")
            .into_iter()
            .filter(|k| !objects.contains_key(k))
            .map(|k| Op::Delete(object_key(&k)))
            .collect();
        ops.extend(
            objects
                .values()
                .map(|o| Op::Put(object_key(&o.key), object_value(o))),
        );
        ops.extend(marker_ops(
            &meta.last_log_id,
            &meta.last_membership,
            snap.revision,
        )?);
        let chain = match &snap.nko_chain {
            Some(hex) => mock_k8_nko::encode::unhex_vec(hex)
                .ok_or_else(|| io::Error::other("snapshot NKO chain is not hex"))
                .and_then(|b| records::decode_chain(&b))?,
            None => Chain::default(),
        };
        ops.push(Op::Put(
            records::CHAIN_KEY.to_vec(),
            records::encode_chain(&chain),
        ));
        ops.push(Op::Put(SNAPSHOT_META_KEY.to_vec(), json(meta)?));
        ops.push(Op::Put(SNAPSHOT_DATA_KEY.to_vec(), data.to_vec()));
        self.backend.write(Space::State, ops)?;
        self.applied = meta.last_log_id;
        self.membership = meta.last_membership.clone();
        self.revision = snap.revision;
        self.chain = chain;
        let cache = &self.cache;
        self.hub
            .reset(snap.revision, || cache.replace(objects, snap.revision));
        Ok(())
    }
}

/// Bytes to reserve for the serialized snapshot of `objects`: their JSON (escaped once more as a
/// string inside the snapshot: about an eighth longer), keys and field names, so the buffer is
/// allocated once instead of doubling (at 170 MB, the last doubling alone held 1.5× the snapshot).
fn snapshot_capacity(objects: &ObjectMap) -> usize {
    objects
        .values()
        .map(|o| o.json.len() + o.json.len() / 8 + o.key.len() + 64)
        .sum::<usize>()
        + 4096
}

impl SnapshotBuilder {
    /// Serializes the state into one buffer, stores it with `meta` in one atomic write and makes
    /// it durable. Blocking (CPU and I/O): runs on a blocking thread.
    fn store(
        backend: &dyn Backend,
        objects: &ObjectMap,
        revision: u64,
        chain: &Chain,
        meta: &Meta,
    ) -> io::Result<()> {
        let data = SnapshotDataRef {
            revision,
            objects: objects.values().map(|o| &**o).collect(),
            nko_chain: Some(mock_k8_nko::encode::hex(&records::encode_chain(chain))),
        };
        let mut bytes = Vec::with_capacity(snapshot_capacity(objects));
        serde_json::to_writer(&mut bytes, &data).map_err(io::Error::other)?;
        drop(data);
        let ops = vec![
            Op::Put(SNAPSHOT_META_KEY.to_vec(), json(meta)?),
            // Moved, not copied: the backend takes the one buffer.
            Op::Put(SNAPSHOT_DATA_KEY.to_vec(), bytes),
        ];
        backend.write(Space::State, ops)?;
        // openraft purges the log behind this snapshot next: make state and snapshot durable first.
        backend.sync()
    }
}

impl RaftSnapshotBuilder<TypeConfig> for SnapshotBuilder {
    /// Writes the snapshot (see [`SnapshotBuilder::store`]) on a blocking thread, then returns it
    /// as stored, read back from the backend: the serialized state is never held twice by this
    /// code (it used to be: the buffer, a copy for the write, and the backend's own copy).
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError> {
        let meta = Meta {
            last_log_id: self.applied,
            last_membership: self.membership.clone(),
            snapshot_id: self.id.clone(),
        };
        let sig = Some(meta.signature());
        let backend = self.backend.clone();
        // A builder builds one snapshot: its objects go to the blocking task.
        let objects = std::mem::take(&mut self.objects);
        let (revision, chain, m) = (self.revision, self.chain.clone(), meta.clone());
        let build = move || -> io::Result<Vec<u8>> {
            Self::store(&*backend, &objects, revision, &chain, &m)?;
            drop(objects);
            backend
                .get(Space::State, SNAPSHOT_DATA_KEY)?
                .ok_or_else(|| io::Error::other("snapshot data missing after its write"))
        };
        let data = tokio::task::spawn_blocking(build)
            .await
            .map_err(io::Error::other)
            .and_then(|r| r)
            .map_err(|e| StorageIOError::write_snapshot(sig, &e))?;
        Ok(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(data)),
        })
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = SnapshotBuilder;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, StoredMembership), StorageError> {
        Ok((self.applied, self.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<Vec<OpResult>>, StorageError>
    where
        I: IntoIterator<Item = Entry> + Send,
        I::IntoIter: Send,
    {
        let mut batch = Batch::new(&self.cache, self.revision);
        let mut responses = Vec::new();
        let mut applied = self.applied;
        let mut membership = self.membership.clone();
        let mut chain = self.chain.clone();
        let mut recorder = Recorder::new(&mut chain);
        for entry in entries {
            applied = Some(entry.log_id);
            match entry.payload {
                EntryPayload::Blank => responses.push(Vec::new()),
                EntryPayload::Normal(proposals) => {
                    let mut results = Vec::with_capacity(proposals.len());
                    for p in proposals {
                        let seen = batch.records().len();
                        results.push(batch.apply(p.op));
                        for change in &batch.records()[seen..] {
                            recorder
                                .record(change, &p.intent)
                                .map_err(|e| StorageIOError::write_state_machine(&e))?;
                        }
                    }
                    responses.push(results)
                }
                EntryPayload::Membership(m) => {
                    membership = StoredMembership::new(Some(entry.log_id), m);
                    responses.push(Vec::new());
                }
            }
        }
        let out = batch.finish();
        let record_ops = recorder.finish(&self.member_key);
        let persist = || -> io::Result<()> {
            // Records first: if the state write is lost, re-applying rewrites identical records.
            if !record_ops.is_empty() {
                self.backend.write(Space::Records, record_ops)?;
            }
            let mut ops: Vec<Op> = out
                .changes
                .iter()
                .map(|(k, v)| match v {
                    Some(o) => Op::Put(object_key(k), object_value(o)),
                    None => Op::Delete(object_key(k)),
                })
                .collect();
            ops.extend(marker_ops(&applied, &membership, out.revision)?);
            ops.push(Op::Put(
                records::CHAIN_KEY.to_vec(),
                records::encode_chain(&chain),
            ));
            self.backend.write(Space::State, ops)
        };
        persist().map_err(|e| StorageIOError::write_state_machine(&e))?;
        self.chain = chain;
        self.applied = applied;
        self.membership = membership;
        self.revision = out.revision;
        let cache = &self.cache;
        self.hub.publish(out.records, out.revision, || {
            cache.commit(out.changes, out.revision)
        });
        Ok(responses)
    }

    async fn get_snapshot_builder(&mut self) -> SnapshotBuilder {
        self.snapshots_built += 1;
        let (objects, revision) = self.cache.snapshot();
        let last = self
            .applied
            .map(|l| format!("{}-{}", l.leader_id.term, l.index))
            .unwrap_or_else(|| "0-0".into());
        SnapshotBuilder {
            backend: self.backend.clone(),
            objects,
            revision,
            applied: self.applied,
            membership: self.membership.clone(),
            id: format!("{last}-{revision}-{}", self.snapshots_built),
            chain: self.chain.clone(),
        }
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<Cursor<Vec<u8>>>, StorageError> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &Meta,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError> {
        let data = snapshot.into_inner();
        self.install(meta, &data)
            .map_err(|e| StorageIOError::read_snapshot(Some(meta.signature()), &e).into())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot<TypeConfig>>, StorageError> {
        self.read_snapshot()
            .map_err(|e| StorageIOError::read_snapshot(None, &e).into())
    }
}
