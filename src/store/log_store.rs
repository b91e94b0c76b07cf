//! The Raft log on a [`Backend`]: openraft 0.9's `RaftLogStorage` + `RaftLogReader` (storage-v2).
//!
//! Entries are serde_json-encoded under big-endian `u64` index keys in [`Space::Log`]; the vote, the
//! committed log id and the last purged log id live in [`Space::LogMeta`].
//!
//! # Guarantees
//! `append` writes the entries, then hands the completion callback to one sync thread, which calls
//! [`Backend::sync`] (flush + fsync) and only then `LogFlushed::log_io_completed`. Callbacks queued
//! while a sync runs share the next one (group commit) and complete in append order. `save_vote`
//! syncs before it returns.

use std::fmt::Debug;
use std::io;
use std::ops::{Bound, RangeBounds};
use std::sync::Arc;
use std::sync::mpsc;

use openraft::storage::{LogFlushed, RaftLogStorage};
use openraft::{LogState, RaftLogReader, StorageIOError, Vote};

use super::backend::{Backend, KeyRange, Op, Space};
use super::types::{Entry, LogId, NodeId, StorageError, TypeConfig, be_key};

const VOTE_KEY: &[u8] = b"vote";
const COMMITTED_KEY: &[u8] = b"committed";
const PURGED_KEY: &[u8] = b"last_purged";

/// Reads log entries; cheap to clone (shares the backend).
#[derive(Clone)]
pub struct LogReader {
    backend: Arc<dyn Backend>,
}

/// The durable Raft log. Owned by openraft once the member starts.
pub struct LogStore {
    reader: LogReader,
    /// Completion callbacks waiting for the next sync; the sync thread ends when this is dropped.
    sync_tx: mpsc::Sender<LogFlushed<TypeConfig>>,
}

fn index_range<RB: RangeBounds<u64>>(range: &RB) -> KeyRange {
    let map = |b: Bound<&u64>| match b {
        Bound::Included(i) => Bound::Included(be_key(*i).to_vec()),
        Bound::Excluded(i) => Bound::Excluded(be_key(*i).to_vec()),
        Bound::Unbounded => Bound::Unbounded,
    };
    (map(range.start_bound()), map(range.end_bound()))
}

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

    fn entries(&self, range: KeyRange) -> io::Result<Vec<Entry>> {
        self.backend
            .scan(Space::Log, range)?
            .iter()
            .map(|(_, v)| decode(v))
            .collect()
    }
}

impl RaftLogReader<TypeConfig> for LogReader {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + Send>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError> {
        self.entries(index_range(&range))
            .map_err(|e| StorageIOError::read_logs(&e).into())
    }
}

/// A sync failure for each waiting callback (`io::Error` is not `Clone`).
fn copy_err(e: &io::Error) -> io::Error {
    io::Error::new(e.kind(), e.to_string())
}

fn sync_loop(backend: Arc<dyn Backend>, rx: mpsc::Receiver<LogFlushed<TypeConfig>>) {
    while let Ok(first) = rx.recv() {
        let mut waiting = vec![first];
        waiting.extend(rx.try_iter());
        let result = backend.sync();
        for cb in waiting {
            cb.log_io_completed(result.as_ref().map(|_| ()).map_err(copy_err));
        }
    }
}

impl LogStore {
    /// A log store on `backend`, with its sync thread.
    ///
    /// # Errors
    /// The sync thread could not be started.
    pub fn new(backend: Arc<dyn Backend>) -> io::Result<LogStore> {
        let (sync_tx, rx) = mpsc::channel();
        let b = backend.clone();
        std::thread::Builder::new()
            .name("store-log-sync".into())
            .spawn(move || sync_loop(b, rx))?;
        Ok(LogStore {
            reader: LogReader { backend },
            sync_tx,
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
            let last = self.reader.backend.last(Space::Log)?;
            let last_log_id = match last {
                Some((_, v)) => Some(decode::<Entry>(&v)?.log_id),
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
        let mut ops = Vec::new();
        for entry in entries {
            let bytes =
                encode(&entry).map_err(|e| StorageIOError::write_log_entry(entry.log_id, &e))?;
            ops.push(Op::Put(be_key(entry.log_id.index).to_vec(), bytes));
        }
        self.reader
            .backend
            .write(Space::Log, ops)
            .map_err(|e| StorageIOError::write_logs(&e))?;
        if let Err(mpsc::SendError(cb)) = self.sync_tx.send(callback) {
            cb.log_io_completed(Err(io::Error::other("log sync thread stopped")));
        }
        Ok(())
    }

    async fn truncate(&mut self, log_id: LogId) -> Result<(), StorageError> {
        let range = (
            Bound::Included(be_key(log_id.index).to_vec()),
            Bound::Unbounded,
        );
        self.reader
            .backend
            .remove_range(Space::Log, range)
            .map_err(|e| StorageIOError::write_logs(&e).into())
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), StorageError> {
        let write = || -> io::Result<()> {
            // Record the purge point first: a crash in between leaves extra entries, never a gap.
            self.reader.backend.write(
                Space::LogMeta,
                vec![Op::Put(PURGED_KEY.to_vec(), encode(&log_id)?)],
            )?;
            let range = (
                Bound::Unbounded,
                Bound::Included(be_key(log_id.index).to_vec()),
            );
            self.reader.backend.remove_range(Space::Log, range)
        };
        write().map_err(|e| StorageIOError::write_logs(&e).into())
    }
}
