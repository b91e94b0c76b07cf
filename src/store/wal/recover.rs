//! Opening the log: reading every segment, checking that the entries continue one another, and
//! telling a torn write (cut off) from damage (refused).
//!
//! # The rules
//! - Entries up to `purged` (the last purged index, recorded before a purge) are skipped: a purge
//!   keeps the last segment, so entries below the purge point stay in it, and openraft purges up to
//!   the applied index when the log ends before it (a cut tail), after which the next entry does
//!   not follow the last one in the file.
//! - Above `purged`, each entry must follow the previous one; a gap means a missing or foreign
//!   segment and is refused.
//! - A record whose length or check fails at the end of the *last* segment is a torn write: the
//!   process stopped between a write and its `fdatasync`, so nothing after it was acknowledged.
//!   It is cut off, with everything after it.
//! - Unless a whole record with an index at or below `committed` follows it: a committed entry was
//!   fsync'd, so the bytes before it were fsync'd too, and the damaged record is not a torn write
//!   but damage to durable data. The log is refused with the byte offsets, rather than silently
//!   dropping committed entries (etcd's WAL likewise repairs only a torn tail, never a CRC mismatch
//!   in the middle: `wal.Repair`). Whole records after the damage with higher indexes were never
//!   committed (an unsynced batch whose pages reached the disk out of order) and are cut too.
//! - Damage in any segment but the last is refused: a segment is fsync'd before the next starts.
//! - A log that ends before `committed` lost entries that were durable (a deleted, emptied or
//!   truncated segment). It is opened with a warning: the state machine keeps what it applied, and
//!   openraft then purges the hole up to the applied index.

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::io;
use std::path::Path;

use super::{HEADER, Inner, Loc, Segment, check, corrupt, segment_path};

/// One whole record: `(index, offset of its header, entry length)`.
type Record = (u64, u64, u32);

/// Parses the header at `at`, if a whole record with a matching check starts there.
fn record_at(bytes: &[u8], at: usize) -> Option<Record> {
    let h = bytes.get(at..at.checked_add(HEADER)?)?;
    let len = u32::from_be_bytes([h[0], h[1], h[2], h[3]]);
    let sum = [h[4], h[5], h[6], h[7]];
    let mut ix = [0u8; 8];
    ix.copy_from_slice(&h[8..16]);
    let index = u64::from_be_bytes(ix);
    let end = (at + HEADER).checked_add(len as usize)?;
    let entry = bytes.get(at + HEADER..end)?;
    (check(index, entry) == sum).then_some((index, at as u64, len))
}

/// Parses a segment's records from its start: each whole one in order, and the length of that
/// valid prefix (bytes).
pub(super) fn scan(bytes: &[u8]) -> (Vec<Record>, u64) {
    let mut out = Vec::new();
    let mut at = 0usize;
    while let Some(r) = record_at(bytes, at) {
        out.push(r);
        at += HEADER + r.2 as usize;
    }
    (out, at as u64)
}

/// The first whole record starting after byte `from` whose index could follow `after` (in
/// `after + 1 ..= after + remaining bytes / HEADER`, which random bytes almost never hit, so the
/// search hashes almost nothing but real records).
fn next_record(bytes: &[u8], from: usize, after: u64) -> Option<Record> {
    let most = (bytes.len().saturating_sub(from) / HEADER) as u64;
    (from + 1..bytes.len().saturating_sub(HEADER - 1)).find_map(|at| {
        let mut ix = [0u8; 8];
        ix.copy_from_slice(&bytes[at + 8..at + 16]);
        let index = u64::from_be_bytes(ix);
        if index <= after || index - after > most {
            return None;
        }
        record_at(bytes, at)
    })
}

/// Reads the segment files in `dir` into the log's index (see the module docs for the rules).
pub(super) fn load(dir: &Path, purged: Option<u64>, committed: Option<u64>) -> io::Result<Inner> {
    let mut firsts: Vec<u64> = Vec::new();
    for e in fs::read_dir(dir)? {
        let name = e?.file_name();
        let name = name.to_string_lossy();
        if let Some(n) = name.strip_suffix(".wal").and_then(|n| n.parse().ok()) {
            firsts.push(n);
        }
    }
    firsts.sort_unstable();
    let mut inner = Inner {
        dir_dirty: true,
        ..Inner::default()
    };
    let floor = purged.unwrap_or(0);
    let count = firsts.len();
    for (i, first) in firsts.into_iter().enumerate() {
        let path = segment_path(dir, first);
        let bytes = fs::read(&path)?;
        let (records, valid) = scan(&bytes);
        let is_last = i + 1 == count;
        add(&mut inner.index, first, &records, purged, &path)?;
        if bytes[valid as usize..].iter().any(|b| *b != 0) {
            let at = format!(
                "raft log segment {} is damaged at byte {valid}",
                path.display()
            );
            if !is_last {
                return Err(corrupt(format!("{at}, and later segments follow it")));
            }
            let after = inner.index.last_key_value().map_or(floor, |(i, _)| *i);
            if let Some((index, offset, _)) = next_record(&bytes, valid as usize, after)
                && index <= committed.unwrap_or(0)
            {
                return Err(corrupt(format!(
                    "{at}, but the committed entry {index} follows it at byte {offset}: the \
                     damage is not a torn write. Restore the data directory from a backup, or \
                     remove it and add this member to its cluster again"
                )));
            }
            tracing::warn!("{at}: cutting off a torn write (never acknowledged) from there");
        }
        let file = OpenOptions::new().read(true).write(true).open(&path)?;
        if is_last && valid < bytes.len() as u64 {
            // Zeros are written ahead again by the next append.
            file.set_len(valid)?;
            file.sync_all()?;
        }
        let allocated = file.metadata()?.len();
        let len = valid;
        let segment = Segment {
            file,
            len,
            allocated,
        };
        inner.segments.insert(first, segment);
    }
    let last = inner.index.last_key_value().map_or(floor, |(i, _)| *i);
    if let Some(c) = committed.filter(|c| *c > last) {
        tracing::warn!(
            "raft log in {} ends at entry {last}, but entry {c} was committed: a segment was \
             removed, emptied or cut short. Entries the state machine applied are kept; the log \
             restarts after them",
            dir.display()
        );
    }
    Ok(inner)
}

/// Indexes a segment's `records`, skipping those at or below `purged` and refusing one that does
/// not follow the entry before it.
fn add(
    index: &mut BTreeMap<u64, Loc>,
    segment: u64,
    records: &[Record],
    purged: Option<u64>,
    path: &Path,
) -> io::Result<()> {
    for &(i, offset, len) in records {
        if purged.is_some_and(|p| i <= p) {
            continue;
        }
        let last = index.last_key_value().map(|(l, _)| *l).or(purged);
        if let Some(last) = last
            && i != last + 1
        {
            return Err(corrupt(format!(
                "raft log segment {}: entry {i} follows {last} (a segment is missing or foreign)",
                path.display()
            )));
        }
        let loc = Loc {
            segment,
            offset,
            len,
        };
        index.insert(i, loc);
    }
    Ok(())
}
