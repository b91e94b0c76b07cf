//! The Raft log on a [`Backend`]: openraft 0.9's `RaftLogStorage` + `RaftLogReader` (storage-v2).
//!
//! Entries are encoded by [`super::codec`] (binary; older JSON entries are still read) in the
//! segment files of a [`Wal`] (`<dir>/wal`); the vote, the committed log id and the last purged
//! log id live in the backend's [`Space::LogMeta`] as JSON. A data directory of an older version
//! keeps its entries in the backend's [`Space::Log`]: they are moved to the WAL at open.
//!
//! # Guarantees
//! # Recent entries in memory
//! openraft 0.9 reads every committed entry back through `try_get_log_entries` to apply it, which
//! decoded the JSON the append had just encoded (9% of the server's CPU on the write path, in
//! `perf`). So the log keeps the entries it appended most recently in memory ([`Recent`], at most
//! [`RECENT_OPS`] write ops) and serves reads of them from there; older ones come from the backend.
//!
//! # Durability
//! `append` writes the entries, then hands the completion callback to one sync thread, which calls
//! [`Wal::sync`] (fdatasync) and only then `LogFlushed::log_io_completed`. Callbacks queued
//! while a sync runs share the next one (group commit) and complete in append order. `save_vote`
//! syncs before it returns.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::io;
use std::ops::{Bound, RangeBounds};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use openraft::storage::{LogFlushed, RaftLogStorage};
use openraft::{LogState, RaftLogReader, StorageIOError, Vote};

use super::backend::{Backend, Op, Space};
use super::codec;
use super::types::{Entry, LogId, NodeId, StorageError, TypeConfig};
use super::wal::Wal;

const VOTE_KEY: &[u8] = b"vote";
const COMMITTED_KEY: &[u8] = b"committed";
const PURGED_KEY: &[u8] = b"last_purged";

/// The most write ops the in-memory tail of the log holds (it always keeps the last entry).
pub const RECENT_OPS: usize = 8192;

/// The entries appended most recently, by index, as appended (also on disk).
#[derive(Default)]
struct Recent {
    entries: BTreeMap<u64, Entry>,
    /// Write ops in `entries`.
    ops: usize,
}

fn op_count(e: &Entry) -> usize {
    match &e.payload {
        openraft::EntryPayload::Normal(ops) => ops.len().max(1),
        _ => 1,
    }
}

impl Recent {
    fn push(&mut self, entry: Entry) {
        self.ops += op_count(&entry);
        if let Some(old) = self.entries.insert(entry.log_id.index, entry) {
            self.ops -= op_count(&old);
        }
        while self.ops > RECENT_OPS && self.entries.len() > 1 {
            if let Some((_, old)) = self.entries.pop_first() {
                self.ops -= op_count(&old);
            }
        }
    }

    /// Drops the entries with index in `range`.
    fn remove<RB: RangeBounds<u64>>(&mut self, range: RB) {
        let doomed: Vec<u64> = self.entries.range(range).map(|(i, _)| *i).collect();
        for i in doomed {
            if let Some(old) = self.entries.remove(&i) {
                self.ops -= op_count(&old);
            }
        }
    }

    /// Clones of the entries in `start..=end` if every one of them is here.
    fn get(&self, start: u64, end: u64) -> Option<Vec<Entry>> {
        let first = *self.entries.keys().next()?;
        let last = *self.entries.keys().next_back()?;
        if start < first || end > last || start > end {
            return None;
        }
        Some(
            self.entries
                .range(start..=end)
                .map(|(_, e)| e.clone())
                .collect(),
        )
    }
}

/// Reads log entries; cheap to clone (shares the backend and the in-memory tail).
#[derive(Clone)]
pub struct LogReader {
    backend: Arc<dyn Backend>,
    wal: Arc<Wal>,
    recent: Arc<Mutex<Recent>>,
}

/// The durable Raft log. Owned by openraft once the member starts.
pub struct LogStore {
    reader: LogReader,
    /// Completion callbacks waiting for the next sync; the sync thread ends when this is dropped.
    sync_tx: mpsc::Sender<LogFlushed<TypeConfig>>,
    /// Reused buffer for encoding entries (at most [`MAX_SCRATCH_BYTES`] kept between appends).
    scratch: Vec<u8>,
}

/// The largest encoding buffer the log store keeps between appends.
const MAX_SCRATCH_BYTES: usize = 8 * 1024 * 1024;

fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> io::Result<T> {
    serde_json::from_slice(bytes).map_err(io::Error::other)
}

fn encode<T: serde::Serialize>(value: &T) -> io::Result<Vec<u8>> {
    serde_json::to_vec(value).map_err(io::Error::other)
}

/// Runs blocking storage work off the async worker threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> io::Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(io::Error::other)?
}

impl LogReader {
    fn meta<T: serde::de::DeserializeOwned>(&self, key: &[u8]) -> io::Result<Option<T>> {
        self.backend
            .get(Space::LogMeta, key)?
            .map(|v| decode(&v))
            .transpose()
    }

    fn recent(&self) -> std::sync::MutexGuard<'_, Recent> {
        // Every critical section leaves `Recent` consistent: a poisoned lock is still usable.
        self.recent.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The entries of a bounded `range` from memory, when all of them are there.
    fn cached<RB: RangeBounds<u64>>(&self, range: &RB) -> Option<Vec<Entry>> {
        let start = match range.start_bound() {
            Bound::Included(i) => *i,
            Bound::Excluded(i) => i.checked_add(1)?,
            Bound::Unbounded => return None,
        };
        let end = match range.end_bound() {
            Bound::Included(i) => *i,
            Bound::Excluded(i) => i.checked_sub(1)?,
            Bound::Unbounded => return None,
        };
        self.recent().get(start, end)
    }

    fn entries<RB: RangeBounds<u64>>(&self, range: &RB) -> io::Result<Vec<Entry>> {
        let start = match range.start_bound() {
            Bound::Included(i) => *i,
            Bound::Excluded(i) => i.saturating_add(1),
            Bound::Unbounded => 0,
        };
        let end = match range.end_bound() {
            Bound::Included(i) => *i,
            Bound::Excluded(0) => return Ok(Vec::new()),
            Bound::Excluded(i) => i - 1,
            Bound::Unbounded => u64::MAX,
        };
        self.wal
            .range(start, end)?
            .iter()
            .map(|v| codec::decode_entry(v))
            .collect()
    }
}

impl RaftLogReader<TypeConfig> for LogReader {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + Send>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError> {
        if let Some(entries) = self.cached(&range) {
            return Ok(entries);
        }
        self.entries(&range)
            .map_err(|e| StorageIOError::read_logs(&e).into())
    }
}

/// A sync failure for each waiting callback (`io::Error` is not `Clone`).
fn copy_err(e: &io::Error) -> io::Error {
    io::Error::new(e.kind(), e.to_string())
}

fn sync_loop(wal: Arc<Wal>, rx: mpsc::Receiver<LogFlushed<TypeConfig>>) {
    while let Ok(first) = rx.recv() {
        let mut waiting = vec![first];
        waiting.extend(rx.try_iter());
        let result = wal.sync();
        for cb in waiting {
            cb.log_io_completed(result.as_ref().map(|_| ()).map_err(copy_err));
        }
    }
}

impl LogStore {
    /// A log store with its entries in the WAL directory `wal_dir` and its metadata on
    /// `backend`, with its sync thread. Entries an older version kept in the backend are moved to
    /// the WAL first.
    ///
    /// # Errors
    /// I/O errors (a corrupt WAL, see [`Wal::open`]); the sync thread could not be started.
    pub fn new(backend: Arc<dyn Backend>, wal_dir: &std::path::Path) -> io::Result<LogStore> {
        let purged: Option<LogId> = backend
            .get(Space::LogMeta, PURGED_KEY)?
            .map(|v| decode(&v))
            .transpose()?;
        let committed: Option<LogId> = backend
            .get(Space::LogMeta, COMMITTED_KEY)?
            .map(|v| decode(&v))
            .transpose()?;
        let wal = Arc::new(Wal::open(
            wal_dir,
            purged.map(|p| p.index),
            committed.map(|c| c.index),
        )?);
        migrate(&*backend, &wal)?;
        let (sync_tx, rx) = mpsc::channel();
        let w = wal.clone();
        std::thread::Builder::new()
            .name("store-log-sync".into())
            .spawn(move || sync_loop(w, rx))?;
        Ok(LogStore {
            reader: LogReader {
                backend,
                wal,
                recent: Arc::default(),
            },
            sync_tx,
            scratch: Vec::new(),
        })
    }

    fn backend(&self) -> Arc<dyn Backend> {
        self.reader.backend.clone()
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + Send>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError> {
        self.reader.try_get_log_entries(range).await
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogReader;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError> {
        let read = || -> io::Result<LogState<TypeConfig>> {
            let last_purged_log_id: Option<LogId> = self.reader.meta(PURGED_KEY)?;
            let last = self.reader.wal.last()?;
            let last_log_id = match last {
                Some(v) => Some(codec::decode_entry(&v)?.log_id),
                None => last_purged_log_id,
            };
            Ok(LogState {
                last_purged_log_id,
                last_log_id,
            })
        };
        read().map_err(|e| StorageIOError::read_logs(&e).into())
    }

    async fn get_log_reader(&mut self) -> LogReader {
        self.reader.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<NodeId>) -> Result<(), StorageError> {
        let backend = self.backend();
        let bytes = encode(vote).map_err(|e| StorageIOError::write_vote(&e))?;
        blocking(move || {
            backend.write(Space::LogMeta, vec![Op::Put(VOTE_KEY.to_vec(), bytes)])?;
            backend.sync()
        })
        .await
        .map_err(|e| StorageIOError::write_vote(&e).into())
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<NodeId>>, StorageError> {
        self.reader
            .meta(VOTE_KEY)
            .map_err(|e| StorageIOError::read_vote(&e).into())
    }

    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), StorageError> {
        // Not synced on its own: a lost committed marker only means fewer entries are re-applied
        // at start-up before the member commits them again.
        let write = || -> io::Result<()> {
            let op = match committed {
                Some(c) => Op::Put(COMMITTED_KEY.to_vec(), encode(&c)?),
                None => Op::Delete(COMMITTED_KEY.to_vec()),
            };
            self.reader.backend.write(Space::LogMeta, vec![op])
        };
        write().map_err(|e| StorageIOError::write(&e).into())
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, StorageError> {
        self.reader
            .meta(COMMITTED_KEY)
            .map_err(|e| StorageIOError::read(&e).into())
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> Result<(), StorageError>
    where
        I: IntoIterator<Item = Entry> + Send,
        I::IntoIter: Send,
    {
        let mut appended = Vec::new();
        for entry in entries {
            codec::encode_entry_into(&entry, &mut self.scratch)
                .map_err(|e| StorageIOError::write_log_entry(entry.log_id, &e))?;
            self.reader
                .wal
                .append(&[(entry.log_id.index, self.scratch.as_slice())])
                .map_err(|e| StorageIOError::write_logs(&e))?;
            appended.push(entry);
        }
        if self.scratch.capacity() > MAX_SCRATCH_BYTES {
            self.scratch = Vec::new();
        }
        {
            let mut recent = self.reader.recent();
            for entry in appended {
                recent.push(entry);
            }
        }
        if let Err(mpsc::SendError(cb)) = self.sync_tx.send(callback) {
            cb.log_io_completed(Err(io::Error::other("log sync thread stopped")));
        }
        Ok(())
    }

    async fn truncate(&mut self, log_id: LogId) -> Result<(), StorageError> {
        self.reader.recent().remove(log_id.index..);
        self.reader
            .wal
            .truncate(log_id.index)
            .map_err(|e| StorageIOError::write_logs(&e).into())
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), StorageError> {
        self.reader.recent().remove(..=log_id.index);
        let write = || -> io::Result<()> {
            // Record the purge point durably first: a crash in between leaves extra entries, never
            // a gap.
            self.reader.backend.write(
                Space::LogMeta,
                vec![Op::Put(PURGED_KEY.to_vec(), encode(&log_id)?)],
            )?;
            self.reader.backend.sync()?;
            self.reader.wal.purge(log_id.index)
        };
        write().map_err(|e| StorageIOError::write_logs(&e).into())
    }
}

/// Moves the entries an older version kept in the backend's [`Space::Log`] to `wal` (when it has
/// none yet), makes them durable there, then removes them from the backend.
fn migrate(backend: &dyn Backend, wal: &Wal) -> io::Result<()> {
    let all = (Bound::Unbounded, Bound::Unbounded);
    let old = backend.scan(Space::Log, all.clone())?;
    if old.is_empty() {
        return Ok(());
    }
    if wal.is_empty() {
        let mut entries = Vec::with_capacity(old.len());
        for (_, v) in old {
            let index = codec::decode_entry(&v)?.log_id.index;
            entries.push((index, v));
        }
        let refs: Vec<(u64, &[u8])> = entries.iter().map(|(i, v)| (*i, v.as_slice())).collect();
        wal.append(&refs)?;
        wal.sync()?;
        tracing::info!("raft log: moved {} entries to the WAL", entries.len());
    }
    backend.remove_range(Space::Log, all)?;
    backend.sync()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::WriteOp;
    use crate::store::types::Proposal;
    use openraft::{CommittedLeaderId, EntryPayload};

    fn entry(index: u64, ops: usize) -> Entry {
        let op = Proposal {
            op: WriteOp::Delete {
                key: format!("k{index}"),
                expected_rv: None,
                expected_uid: None,
            },
            intent: Vec::new(),
        };
        Entry {
            log_id: LogId::new(CommittedLeaderId::new(1, 1), index),
            payload: EntryPayload::Normal(vec![op; ops]),
        }
    }

    #[test]
    fn recent_should_serve_whole_ranges_only_and_stay_bounded() {
        let mut r = Recent::default();
        for i in 1..=4 {
            r.push(entry(i, 10));
        }
        assert_eq!(r.get(2, 4).map(|v| v.len()), Some(3));
        assert!(r.get(0, 2).is_none(), "index 0 is not held");
        assert!(r.get(4, 5).is_none(), "index 5 is not held");
        r.remove(3..);
        assert!(r.get(3, 3).is_none());
        assert_eq!(r.ops, 20);
        r.push(entry(3, RECENT_OPS));
        assert_eq!(r.entries.keys().copied().collect::<Vec<_>>(), vec![3]);
        r.remove(..=3);
        assert_eq!((r.entries.len(), r.ops), (0, 0));
        r.push(entry(9, 2 * RECENT_OPS));
        assert_eq!(r.entries.len(), 1, "the last entry always stays");
    }
}
