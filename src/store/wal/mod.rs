//! The Raft log's entries in append-only segment files (`<dir>/wal/<first index>.wal`), fsync'd
//! with `fdatasync`.
//!
//! Why not sled: a log entry carries a whole write batch (hundreds of KB at 256 clients). sled
//! keeps up to 16 entries in one tree leaf and rewrites the whole leaf every few inserts; a page
//! over 128 KB becomes a new blob file each time. In `perf`, sled's page rewrites and blob files
//! were a quarter of the server's CPU per write. Here an entry is written once, at the end of a
//! file.
//!
//! Record: `len u32 ‖ check u32 ‖ index u64 ‖ entry bytes` (big-endian; `check` is the first 4
//! bytes of BLAKE3 over index and entry). At open, a torn or corrupt record at the end of the last
//! segment (a crash during a write) is cut off; anywhere else it is an error.
//!
//! # Durability
//! [`Wal::sync`] makes every append that returned before it durable: `fdatasync` of the segment
//! written last, and of the directory when files were created or removed. A segment is fsync'd when
//! the next one is started, so only the last can have a torn tail.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

/// A segment is closed (and a new one started) once it holds this many bytes.
pub const SEGMENT_BYTES: u64 = 64 * 1024 * 1024;

const HEADER: usize = 16;

/// Where one entry is.
#[derive(Debug, Clone, Copy)]
struct Loc {
    /// The first index of its segment (the segment's name).
    segment: u64,
    /// Offset of the record header in the segment.
    offset: u64,
    /// Length of the entry bytes.
    len: u32,
}

struct Segment {
    file: File,
    /// Bytes of whole records.
    len: u64,
    /// Bytes in the file: records, then zeros written ahead ([`PREALLOC_BYTES`]).
    allocated: u64,
}

/// The file is extended with zeros this much at a time. An append that only overwrites zeros
/// leaves the file size alone, so its `fdatasync` writes the data without a journal commit for the
/// size (on ext4, one disk flush instead of two: the latency of a lone client's write).
pub const PREALLOC_BYTES: u64 = 4 * 1024 * 1024;

#[derive(Default)]
struct Inner {
    /// Segments by first index; the last one takes appends.
    segments: BTreeMap<u64, Segment>,
    /// Every readable entry.
    index: BTreeMap<u64, Loc>,
    /// Files were created or removed since the last directory fsync.
    dir_dirty: bool,
}

/// The segmented entry log.
pub struct Wal {
    dir: PathBuf,
    inner: Mutex<Inner>,
}

fn check(index: u64, entry: &[u8]) -> [u8; 4] {
    let mut h = blake3::Hasher::new();
    h.update(&index.to_be_bytes());
    h.update(entry);
    let d = h.finalize();
    let b = d.as_bytes();
    [b[0], b[1], b[2], b[3]]
}

fn segment_path(dir: &Path, first: u64) -> PathBuf {
    dir.join(format!("{first:020}.wal"))
}

fn corrupt(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

/// Writes zeros to `file` from `from` to `to`.
fn write_zeros(file: &File, from: u64, to: u64) -> io::Result<()> {
    const CHUNK: usize = 256 * 1024;
    let zeros = vec![0u8; CHUNK];
    let mut at = from;
    while at < to {
        let n = (to - at).min(CHUNK as u64) as usize;
        file.write_all_at(&zeros[..n], at)?;
        at += n as u64;
    }
    Ok(())
}

impl Wal {
    /// Opens (or creates) the log in `dir`, ignoring entries up to `purged` (inclusive), and
    /// repairs a torn tail; `committed` is the last index the member recorded as committed (a
    /// lower bound of what was fsync'd), used to tell a torn write from damage ([`recover`]).
    ///
    /// # Errors
    /// I/O errors; a damaged record anywhere but the tail of the last segment, or one followed by a
    /// whole committed record; entries out of order (a missing or foreign segment).
    pub fn open(dir: &Path, purged: Option<u64>, committed: Option<u64>) -> io::Result<Wal> {
        if !dir.is_dir() {
            fs::create_dir_all(dir)?;
            // The new directory's own entry must be durable too.
            if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
                File::open(parent)?.sync_all()?;
            }
        }
        let inner = recover::load(dir, purged, committed)?;
        Ok(Wal {
            dir: dir.to_path_buf(),
            inner: Mutex::new(inner),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Every critical section leaves the maps consistent with the files it changed.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Appends `entries` (`(index, bytes)`, consecutive, continuing the log; an index already
    /// present first truncates the log there). Not durable until [`Wal::sync`].
    ///
    /// # Errors
    /// I/O errors.
    pub fn append(&self, entries: &[(u64, &[u8])]) -> io::Result<()> {
        let Some(&(first, _)) = entries.first() else {
            return Ok(());
        };
        let mut inner = self.lock();
        if inner.index.range(first..).next().is_some() {
            self.truncate_locked(&mut inner, first)?;
        }
        let need_new = match inner.segments.last_key_value() {
            None => true,
            Some((_, s)) => s.len >= SEGMENT_BYTES,
        };
        if need_new {
            if let Some((_, s)) = inner.segments.last_key_value() {
                s.file.sync_data()?;
            }
            let path = segment_path(&self.dir, first);
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(true)
                .open(&path)?;
            let segment = Segment {
                file,
                len: 0,
                allocated: 0,
            };
            inner.segments.insert(first, segment);
            inner.dir_dirty = true;
        }
        let Some((&seg_first, seg)) = inner.segments.last_key_value() else {
            return Err(io::Error::other("raft log: no segment"));
        };
        let mut at = seg.len;
        let needed: u64 = entries.iter().map(|(_, b)| (HEADER + b.len()) as u64).sum();
        let allocated = if at + needed > seg.allocated {
            let target = (at + needed).div_ceil(PREALLOC_BYTES) * PREALLOC_BYTES;
            write_zeros(&seg.file, seg.allocated, target)?;
            target
        } else {
            seg.allocated
        };
        let mut locs = Vec::with_capacity(entries.len());
        // Header and entry are written separately: copying a batch entry (hundreds of KB) into
        // one buffer would cost more than the second system call.
        let written = (|| -> io::Result<()> {
            for (index, bytes) in entries {
                let len = u32::try_from(bytes.len())
                    .map_err(|_| io::Error::other("raft log entry over 4 GiB"))?;
                let mut header = [0u8; HEADER];
                header[..4].copy_from_slice(&len.to_be_bytes());
                header[4..8].copy_from_slice(&check(*index, bytes));
                header[8..].copy_from_slice(&index.to_be_bytes());
                seg.file.write_all_at(&header, at)?;
                seg.file.write_all_at(bytes, at + HEADER as u64)?;
                let loc = Loc {
                    segment: seg_first,
                    offset: at,
                    len,
                };
                locs.push((*index, loc));
                at += (HEADER + bytes.len()) as u64;
            }
            Ok(())
        })();
        if let Some(s) = inner.segments.get_mut(&seg_first) {
            // On a failed write the partial record stays past `len` and is overwritten next.
            s.allocated = allocated;
            if written.is_ok() {
                s.len = at;
            }
        }
        written?;
        inner.index.extend(locs);
        Ok(())
    }

    /// Makes every append, truncation and purge that returned before this call durable.
    ///
    /// # Errors
    /// I/O errors.
    pub fn sync(&self) -> io::Result<()> {
        let (file, dir_dirty) = {
            let mut inner = self.lock();
            let file = match inner.segments.last_key_value() {
                Some((_, s)) => Some(s.file.try_clone()?),
                None => None,
            };
            (file, std::mem::take(&mut inner.dir_dirty))
        };
        let synced = (|| {
            if let Some(f) = file {
                f.sync_data()?;
            }
            if dir_dirty {
                File::open(&self.dir)?.sync_all()?;
            }
            Ok(())
        })();
        if synced.is_err() && dir_dirty {
            self.lock().dir_dirty = true;
        }
        synced
    }

    fn read(&self, inner: &Inner, loc: Loc) -> io::Result<Vec<u8>> {
        let seg = inner
            .segments
            .get(&loc.segment)
            .ok_or_else(|| io::Error::other("raft log: segment of an entry is gone"))?;
        let mut buf = vec![0u8; loc.len as usize];
        seg.file
            .read_exact_at(&mut buf, loc.offset + HEADER as u64)?;
        Ok(buf)
    }

    /// The entries with index in `start..=end` that are present, in order.
    ///
    /// # Errors
    /// I/O errors.
    pub fn range(&self, start: u64, end: u64) -> io::Result<Vec<Vec<u8>>> {
        if start > end {
            return Ok(Vec::new());
        }
        let inner = self.lock();
        inner
            .index
            .range(start..=end)
            .map(|(_, loc)| self.read(&inner, *loc))
            .collect()
    }

    /// The last entry, if any.
    ///
    /// # Errors
    /// I/O errors.
    pub fn last(&self) -> io::Result<Option<Vec<u8>>> {
        let inner = self.lock();
        match inner.index.last_key_value() {
            Some((_, loc)) => self.read(&inner, *loc).map(Some),
            None => Ok(None),
        }
    }

    /// Removes the entries from `index` on.
    ///
    /// # Errors
    /// I/O errors.
    pub fn truncate(&self, index: u64) -> io::Result<()> {
        let mut inner = self.lock();
        self.truncate_locked(&mut inner, index)
    }

    fn truncate_locked(&self, inner: &mut Inner, index: u64) -> io::Result<()> {
        let Some((_, &cut)) = inner.index.range(index..).next() else {
            return Ok(());
        };
        let doomed: Vec<u64> = inner
            .segments
            .range(cut.segment + 1..)
            .map(|(k, _)| *k)
            .collect();
        for first in doomed {
            inner.segments.remove(&first);
            fs::remove_file(segment_path(&self.dir, first))?;
            inner.dir_dirty = true;
        }
        if let Some(seg) = inner.segments.get_mut(&cut.segment) {
            // Shrinking drops the cut records' bytes: none can be read back as a record later.
            seg.file.set_len(cut.offset)?;
            seg.len = cut.offset;
            seg.allocated = cut.offset;
        }
        inner.index.split_off(&index);
        Ok(())
    }

    /// Forgets the entries up to `index` (inclusive) and removes the segment files holding only
    /// such entries (the last segment stays).
    ///
    /// # Errors
    /// I/O errors.
    pub fn purge(&self, index: u64) -> io::Result<()> {
        let mut inner = self.lock();
        inner.index = inner.index.split_off(&(index + 1));
        let firsts: Vec<u64> = inner.segments.keys().copied().collect();
        for pair in firsts.windows(2) {
            // Segment pair[0] holds entries up to pair[1] - 1.
            if pair[1] <= index + 1 {
                inner.segments.remove(&pair[0]);
                fs::remove_file(segment_path(&self.dir, pair[0]))?;
                inner.dir_dirty = true;
            }
        }
        Ok(())
    }

    /// Whether the log holds no entry.
    pub fn is_empty(&self) -> bool {
        self.lock().index.is_empty()
    }
}

mod recover;
#[cfg(test)]
mod tests;
