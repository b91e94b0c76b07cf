//! Tests of the segmented log: append, read, truncate, purge, reopen, damage at open.

use super::*;

fn e(i: u64) -> (u64, Vec<u8>) {
    (i, format!("entry-{i}").into_bytes())
}

fn append(wal: &Wal, entries: &[(u64, Vec<u8>)]) {
    let refs: Vec<(u64, &[u8])> = entries.iter().map(|(i, v)| (*i, v.as_slice())).collect();
    wal.append(&refs).unwrap();
}

#[test]
fn wal_should_append_read_truncate_and_purge_across_reopen() {
    let dir = tempfile::TempDir::new().unwrap();
    let wal = Wal::open(dir.path(), None, None).unwrap();
    append(&wal, &[e(1), e(2), e(3)]);
    append(&wal, &[e(4)]);
    wal.sync().unwrap();
    assert_eq!(wal.range(2, 3).unwrap(), vec![e(2).1, e(3).1]);
    wal.truncate(3).unwrap();
    append(&wal, &[(3, b"new-3".to_vec())]);
    assert_eq!(wal.last().unwrap(), Some(b"new-3".to_vec()));
    wal.purge(1).unwrap();
    assert_eq!(wal.range(0, 10).unwrap().len(), 2);
    wal.sync().unwrap();
    drop(wal);
    let wal = Wal::open(dir.path(), Some(1), None).unwrap();
    assert_eq!(wal.range(0, 10).unwrap(), vec![e(2).1, b"new-3".to_vec()]);
    // Overwriting an index truncates from it.
    append(&wal, &[(2, b"x".to_vec())]);
    assert_eq!(wal.range(0, 10).unwrap(), vec![b"x".to_vec()]);
}

#[test]
fn wal_should_cut_a_torn_tail_at_open() {
    let dir = tempfile::TempDir::new().unwrap();
    let wal = Wal::open(dir.path(), None, None).unwrap();
    append(&wal, &[e(1), e(2)]);
    wal.sync().unwrap();
    drop(wal);
    let path = segment_path(dir.path(), 1);
    assert_eq!(fs::metadata(&path).unwrap().len(), PREALLOC_BYTES);
    // Zeros after the records are no record: a zero header does not check.
    assert_ne!(check(0, &[]), [0; 4]);
    let f = OpenOptions::new().write(true).open(&path).unwrap();
    // Damage the last byte of entry 2 (records of 16 + 7 bytes each).
    f.write_all_at(b"X", 2 * (HEADER as u64 + 7) - 1).unwrap();
    let wal = Wal::open(dir.path(), None, None).unwrap();
    assert_eq!(wal.range(0, 10).unwrap(), vec![e(1).1]);
    append(&wal, &[e(2), e(3)]);
    drop(wal);
    let wal = Wal::open(dir.path(), None, None).unwrap();
    assert_eq!(wal.range(0, 10).unwrap().len(), 3);
}

/// Writes `bytes` at `offset` of the segment starting at `first`.
fn damage(dir: &Path, first: u64, offset: u64, bytes: &[u8]) {
    let f = OpenOptions::new()
        .write(true)
        .open(segment_path(dir, first))
        .unwrap();
    f.write_all_at(bytes, offset).unwrap();
}

/// Byte offset of entry `i`'s record when entries 1..i are `e(..)` with single-digit indexes.
fn offset_of(i: u64) -> u64 {
    (i - 1) * (HEADER as u64 + 7)
}

#[test]
fn wal_should_reopen_after_openraft_purges_the_hole_a_cut_tail_left() {
    // A cut tail leaves the log (1..=3) behind the applied index (4): openraft purges up to 4,
    // then appends 5. The file now holds 1, 2, 3, 5.
    let dir = tempfile::TempDir::new().unwrap();
    let wal = Wal::open(dir.path(), None, Some(4)).unwrap();
    append(&wal, &[e(1), e(2), e(3)]);
    wal.purge(4).unwrap();
    append(&wal, &[e(5), e(6)]);
    wal.sync().unwrap();
    drop(wal);
    let wal = Wal::open(dir.path(), Some(4), Some(6)).unwrap();
    assert_eq!(wal.range(0, 10).unwrap(), vec![e(5).1, e(6).1]);
    drop(wal);
    // Without the purge point the same file has a gap: refused, naming it.
    let err = Wal::open(dir.path(), None, Some(6)).err().unwrap();
    assert!(err.to_string().contains("entry 5 follows 3"), "{err}");
}

#[test]
fn wal_should_refuse_damage_that_committed_entries_follow() {
    let dir = tempfile::TempDir::new().unwrap();
    let wal = Wal::open(dir.path(), None, None).unwrap();
    append(&wal, &[e(1), e(2), e(3), e(4), e(5)]);
    wal.sync().unwrap();
    drop(wal);
    damage(dir.path(), 1, offset_of(2) + HEADER as u64 + 1, b"\xde\xad");
    let err = Wal::open(dir.path(), None, Some(5)).err().unwrap();
    let msg = err.to_string();
    assert!(msg.contains("committed entry 3"), "{msg}");
    assert!(msg.contains(&format!("byte {}", offset_of(2))), "{msg}");
    // The refused open changed nothing: with entries 3..=5 not committed (an unsynced batch
    // written out of order) the same damage is a torn write, cut off with what follows.
    let wal = Wal::open(dir.path(), None, Some(1)).unwrap();
    assert_eq!(wal.range(0, 10).unwrap(), vec![e(1).1]);
}

#[test]
fn wal_should_open_an_emptied_segment_with_a_committed_marker() {
    let dir = tempfile::TempDir::new().unwrap();
    let wal = Wal::open(dir.path(), None, None).unwrap();
    append(&wal, &[e(1), e(2)]);
    wal.sync().unwrap();
    drop(wal);
    OpenOptions::new()
        .write(true)
        .open(segment_path(dir.path(), 1))
        .unwrap()
        .set_len(0)
        .unwrap();
    let wal = Wal::open(dir.path(), None, Some(2)).unwrap();
    assert!(wal.is_empty());
    // openraft then purges up to the applied index and goes on from there.
    wal.purge(2).unwrap();
    append(&wal, &[e(3)]);
    drop(wal);
    let wal = Wal::open(dir.path(), Some(2), Some(3)).unwrap();
    assert_eq!(wal.range(0, 10).unwrap(), vec![e(3).1]);
}

#[test]
fn wal_should_refuse_damage_in_a_segment_before_the_last() {
    let dir = tempfile::TempDir::new().unwrap();
    let wal = Wal::open(dir.path(), None, None).unwrap();
    append(&wal, &[e(1), e(2)]);
    drop(wal);
    // A second segment, as when the first one fills up.
    let wal = Wal::open(dir.path(), None, None).unwrap();
    {
        let mut inner = wal.lock();
        let first = inner.segments.keys().next().copied().unwrap();
        inner.segments.get_mut(&first).unwrap().len = SEGMENT_BYTES;
    }
    append(&wal, &[e(3)]);
    wal.sync().unwrap();
    drop(wal);
    assert!(segment_path(dir.path(), 3).exists());
    damage(dir.path(), 1, offset_of(2) + HEADER as u64, b"X");
    let err = Wal::open(dir.path(), None, None).err().unwrap();
    assert!(err.to_string().contains("later segments follow"), "{err}");
}
