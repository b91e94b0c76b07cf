//! The storage seam: a small ordered key-value interface ([`Backend`]) that the Raft log store and
//! the state machine are written against, and its sled 0.34 implementation ([`SledBackend`]).
//!
//! Keys live in three separate [`Space`]s (sled trees). Every write call is atomic within its space
//! (a `sled::Batch`), so a crash never leaves half of a batch behind. Writes are *not* durable until
//! [`Backend::sync`] returns: sled's own `flush()` only issues `sync_file_range` (see
//! `/work/shared/DEPENDENCIES.md`, "sled 0.34's flush() is not an fsync"), so `sync` follows it with
//! `fsync` on sled's files through our own handles.

use std::collections::HashSet;
use std::ffi::OsString;
use std::fs::File;
use std::io;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// sled's page cache budget. Every read the server serves comes from its own in-memory cache
/// (`super::cache`), so sled is read only at start-up and by Raft; its default (1 GiB) would be
/// the largest holder of memory with 100,000 pods (issue 7's memory target is 1 GiB in all).
pub const SLED_CACHE_BYTES: u64 = 64 * 1024 * 1024;

/// A key range: lower and upper bound over raw key bytes.
pub type KeyRange = (Bound<Vec<u8>>, Bound<Vec<u8>>);

/// One key/value pair as stored.
pub type Pair = (Vec<u8>, Vec<u8>);

/// A keyspace of the backend; each is an independent ordered map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Space {
    /// Raft log entries, keyed by big-endian `u64` index.
    Log,
    /// Raft log metadata: vote, committed log id, last purged log id.
    LogMeta,
    /// The state machine: objects (`o/<key>`) and its markers (`m/<name>`).
    State,
    /// NKO transition records with their objects (`r` + revision; `b` + revision held the
    /// objects in older data directories) and the latest signed checkpoint (`c`); see
    /// `super::records`. Never touched by log compaction.
    Records,
}

/// One change in an atomic write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Set `key` to `value`.
    Put(Vec<u8>, Vec<u8>),
    /// Remove `key` (a no-op when absent).
    Delete(Vec<u8>),
}

/// An ordered, atomic-batch key-value store with an explicit durability point.
///
/// All methods block on I/O; async callers run them on a blocking thread or keep them short.
pub trait Backend: Send + Sync + 'static {
    /// The value at `key`.
    fn get(&self, space: Space, key: &[u8]) -> io::Result<Option<Vec<u8>>>;
    /// Every pair in `range`, in key byte order.
    fn scan(&self, space: Space, range: KeyRange) -> io::Result<Vec<Pair>>;
    /// The pair with the largest key, if any.
    fn last(&self, space: Space) -> io::Result<Option<Pair>>;
    /// Applies `ops` atomically (all or none after a crash).
    fn write(&self, space: Space, ops: Vec<Op>) -> io::Result<()>;
    /// Removes every key in `range` atomically.
    fn remove_range(&self, space: Space, range: KeyRange) -> io::Result<()>;
    /// Makes every write that returned before this call durable (survives power loss).
    fn sync(&self) -> io::Result<()>;
}

/// [`Backend`] on a sled 0.34 database directory.
pub struct SledBackend {
    db: sled::Db,
    log: sled::Tree,
    log_meta: sled::Tree,
    state: sled::Tree,
    records: sled::Tree,
    dir: PathBuf,
    /// Serializes `sync` calls (sled's flush is safe to call concurrently, but one at a time is
    /// enough and keeps the fsync bookkeeping simple).
    sync_state: Mutex<SyncState>,
}

/// What `sync` has made durable so far.
struct SyncState {
    /// Our own handle on sled's main file `<dir>/db` (sled never replaces it).
    db_file: File,
    /// Blob files (`<dir>/blobs/<lsn>`, large pages) already fsync'd; sled never fsyncs them.
    synced_blobs: HashSet<OsString>,
    /// Whether the directory entries (`db`, `conf`, `blobs/`) were fsync'd once.
    dir_synced: bool,
}

fn sled_err(e: sled::Error) -> io::Error {
    match e {
        sled::Error::Io(e) => e,
        other => io::Error::other(other.to_string()),
    }
}

impl SledBackend {
    /// Opens (or creates) the sled database in `dir`.
    ///
    /// # Errors
    /// I/O errors, or sled's own (e.g. the directory is locked by another process).
    pub fn open(dir: &Path) -> io::Result<SledBackend> {
        std::fs::create_dir_all(dir)?;
        let db = sled::Config::new()
            .path(dir)
            .cache_capacity(SLED_CACHE_BYTES)
            .open()
            .map_err(sled_err)?;
        let log = db.open_tree("raft_log").map_err(sled_err)?;
        let log_meta = db.open_tree("raft_log_meta").map_err(sled_err)?;
        let state = db.open_tree("state").map_err(sled_err)?;
        let records = db.open_tree("nko_records").map_err(sled_err)?;
        let db_file = File::open(dir.join("db"))?;
        let sync_state = SyncState {
            db_file,
            synced_blobs: HashSet::new(),
            dir_synced: false,
        };
        Ok(SledBackend {
            db,
            log,
            log_meta,
            state,
            records,
            dir: dir.to_path_buf(),
            sync_state: Mutex::new(sync_state),
        })
    }

    fn tree(&self, space: Space) -> &sled::Tree {
        match space {
            Space::Log => &self.log,
            Space::LogMeta => &self.log_meta,
            Space::State => &self.state,
            Space::Records => &self.records,
        }
    }

    /// fsyncs sled's files: the main `db` file, every blob file not synced before, and the
    /// directories when they gained entries (so new files are durable too).
    fn fsync_files(&self) -> io::Result<()> {
        let mut state = self.sync_state.lock().unwrap_or_else(|p| p.into_inner());
        state.db_file.sync_data()?;
        let blobs_dir = self.dir.join("blobs");
        match std::fs::read_dir(&blobs_dir) {
            Ok(entries) => {
                let mut present = HashSet::new();
                let mut new_blob = false;
                for entry in entries {
                    let entry = entry?;
                    let name = entry.file_name();
                    if !state.synced_blobs.contains(&name) {
                        // A blob may be garbage-collected between read_dir and open.
                        match File::open(entry.path()) {
                            Ok(f) => f.sync_data()?,
                            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                            Err(e) => return Err(e),
                        }
                        new_blob = true;
                    }
                    present.insert(name);
                }
                if new_blob {
                    File::open(&blobs_dir)?.sync_all()?;
                }
                state.synced_blobs = present;
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        if !state.dir_synced {
            File::open(&self.dir)?.sync_all()?;
            // The directory itself may have been created by `open`.
            let parent = self
                .dir
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            File::open(parent)?.sync_all()?;
            state.dir_synced = true;
        }
        Ok(())
    }
}

fn to_ref_bound(b: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    match b {
        Bound::Included(v) => Bound::Included(v.as_slice()),
        Bound::Excluded(v) => Bound::Excluded(v.as_slice()),
        Bound::Unbounded => Bound::Unbounded,
    }
}

impl Backend for SledBackend {
    fn get(&self, space: Space, key: &[u8]) -> io::Result<Option<Vec<u8>>> {
        Ok(self
            .tree(space)
            .get(key)
            .map_err(sled_err)?
            .map(|v| v.to_vec()))
    }

    fn scan(&self, space: Space, range: KeyRange) -> io::Result<Vec<Pair>> {
        let bounds = (to_ref_bound(&range.0), to_ref_bound(&range.1));
        self.tree(space)
            .range::<&[u8], _>(bounds)
            .map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())).map_err(sled_err))
            .collect()
    }

    fn last(&self, space: Space) -> io::Result<Option<Pair>> {
        Ok(self
            .tree(space)
            .last()
            .map_err(sled_err)?
            .map(|(k, v)| (k.to_vec(), v.to_vec())))
    }

    fn write(&self, space: Space, ops: Vec<Op>) -> io::Result<()> {
        let mut batch = sled::Batch::default();
        for op in ops {
            match op {
                Op::Put(k, v) => batch.insert(k, v),
                Op::Delete(k) => batch.remove(k),
            }
        }
        self.tree(space).apply_batch(batch).map_err(sled_err)
    }

    fn remove_range(&self, space: Space, range: KeyRange) -> io::Result<()> {
        let tree = self.tree(space);
        let bounds = (to_ref_bound(&range.0), to_ref_bound(&range.1));
        let mut batch = sled::Batch::default();
        for key in tree.range::<&[u8], _>(bounds).keys() {
            batch.remove(key.map_err(sled_err)?);
        }
        tree.apply_batch(batch).map_err(sled_err)
    }

    fn sync(&self) -> io::Result<()> {
        // `flush` (never `flush_async`: it deadlocks with concurrent callers, sled #1308) writes
        // sled's buffers; the fsyncs make them durable.
        self.db.flush().map_err(sled_err)?;
        self.fsync_files()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sled_backend_should_scan_in_key_order_and_remove_ranges() {
        let dir = tempfile::TempDir::new().unwrap();
        let b = SledBackend::open(dir.path()).unwrap();
        let ops = [3u64, 1, 2, 10]
            .iter()
            .map(|i| Op::Put(i.to_be_bytes().to_vec(), vec![*i as u8]))
            .collect();
        b.write(Space::Log, ops).unwrap();
        let all = b
            .scan(Space::Log, (Bound::Unbounded, Bound::Unbounded))
            .unwrap();
        assert_eq!(
            all.iter().map(|(_, v)| v[0]).collect::<Vec<_>>(),
            vec![1, 2, 3, 10]
        );
        b.remove_range(
            Space::Log,
            (
                Bound::Included(2u64.to_be_bytes().to_vec()),
                Bound::Unbounded,
            ),
        )
        .unwrap();
        assert_eq!(
            b.scan(Space::Log, (Bound::Unbounded, Bound::Unbounded))
                .unwrap()
                .len(),
            1
        );
        assert_eq!(b.last(Space::Log).unwrap().unwrap().1, vec![1]);
        assert!(b.get(Space::State, b"x").unwrap().is_none());
        b.sync().unwrap();
    }

    #[test]
    fn sled_backend_should_keep_data_across_reopen() {
        let dir = tempfile::TempDir::new().unwrap();
        {
            let b = SledBackend::open(dir.path()).unwrap();
            b.write(
                Space::State,
                vec![Op::Put(b"k".to_vec(), vec![0u8; 300_000])],
            )
            .unwrap();
            b.sync().unwrap();
        }
        let b = SledBackend::open(dir.path()).unwrap();
        assert_eq!(
            b.get(Space::State, b"k").unwrap().map(|v| v.len()),
            Some(300_000)
        );
    }
}
