//! NKO transition records, written at apply (`nko/SPEC.md`, §6).
//!
//! Each change an applied entry makes (one per revision, in revision order) extends the record
//! chain ([`mock_k8_nko::chain::Chain`]) with the intent of the proposal that caused it. Records
//! (each with its object in the same value: one sled insert per change) and a checkpoint signed by
//! this member go to [`Space::Records`] before the state write of the same apply call; the chain head (revision, hash, LtHash) is a state marker written
//! with the state, so a crash in between re-applies the entry and rewrites identical records.
//! Raft log compaction and snapshots never touch [`Space::Records`].

use std::io;
use std::ops::Bound;

use mock_k8_nko::chain::Chain;
use mock_k8_nko::keys::SecretKey;
use mock_k8_nko::lthash::{self, LtHash};
use mock_k8_nko::record::{Checkpoint, digest};
use mock_k8_schemas::watch::EventType;

use super::WatchRecord;
use super::backend::{Backend, Op, Space};
use super::types::{be_key, from_be};

/// State marker holding the chain head: `u64 revision ‖ head(32) ‖ LtHash(2048)`.
pub const CHAIN_KEY: &[u8] = b"m/nko_chain";
/// Records space key of the latest checkpoint.
const CHECKPOINT_KEY: &[u8] = b"c";

fn record_key(rev: u64) -> Vec<u8> {
    [b"r".as_slice(), &be_key(rev)].concat()
}

/// Where a record written before objects shared its value kept its object (`b` + revision).
fn legacy_object_key(rev: u64) -> Vec<u8> {
    [b"b".as_slice(), &be_key(rev)].concat()
}

/// The length prefix of a bare RECORD, as written before records carried their objects: the
/// length of its tag `mock_k8/nko/record/v1` (a stored value's first four bytes, big-endian).
/// A value with a record and its object starts with the record's length, always longer.
const BARE_RECORD_PREFIX: [u8; 4] = 21u32.to_be_bytes();

/// The stored value of one record: `u32 len(RECORD) ‖ RECORD ‖ object JSON` (the object empty
/// for deletes), big-endian, so a change costs one insert (`nko/SPEC.md` §6).
fn record_value(record: &[u8], object: Option<&[u8]>) -> Vec<u8> {
    let object = object.unwrap_or_default();
    let mut v = Vec::with_capacity(4 + record.len() + object.len());
    // A record is far below 4 GiB (its largest part is one request's intent).
    v.extend_from_slice(
        &u32::try_from(record.len())
            .unwrap_or(u32::MAX)
            .to_be_bytes(),
    );
    v.extend_from_slice(record);
    v.extend_from_slice(object);
    v
}

/// A record's canonical bytes and its object JSON (`None` for deletes), borrowed from a stored value.
type RecordParts<'a> = (&'a [u8], Option<&'a [u8]>);

/// Splits a stored record value into the record and its object; `None` for a bare record of the
/// older layout, whose object is at [`legacy_object_key`].
fn split_record_value(v: &[u8]) -> io::Result<Option<RecordParts<'_>>> {
    let prefix = v
        .get(..4)
        .ok_or_else(|| io::Error::other("corrupt record value"))?;
    if prefix == BARE_RECORD_PREFIX {
        return Ok(None);
    }
    let len = from_be32(prefix);
    let rest = &v[4..];
    if len > rest.len() {
        return Err(io::Error::other(
            "corrupt record value: length past the end",
        ));
    }
    let (record, object) = rest.split_at(len);
    Ok(Some((record, (!object.is_empty()).then_some(object))))
}

fn from_be32(b: &[u8]) -> usize {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[..4]);
    u32::from_be_bytes(a) as usize
}

/// Encodes a chain head for [`CHAIN_KEY`].
pub fn encode_chain(chain: &Chain) -> Vec<u8> {
    [
        &be_key(chain.revision)[..],
        &chain.head,
        &chain.lthash.to_bytes(),
    ]
    .concat()
}

/// Decodes [`encode_chain`] output.
pub fn decode_chain(bytes: &[u8]) -> io::Result<Chain> {
    let bad = || io::Error::new(io::ErrorKind::InvalidData, "corrupt NKO chain head");
    if bytes.len() != 8 + 32 + lthash::BYTES {
        return Err(bad());
    }
    let revision = from_be(&bytes[..8]).ok_or_else(bad)?;
    let mut head = [0u8; 32];
    head.copy_from_slice(&bytes[8..40]);
    let lthash = LtHash::from_bytes(&bytes[40..]).ok_or_else(bad)?;
    Ok(Chain {
        revision,
        head,
        lthash,
    })
}

/// The chain head stored in `backend`'s state (the empty chain for a new store).
pub fn load_chain(backend: &dyn Backend) -> io::Result<Chain> {
    match backend.get(Space::State, CHAIN_KEY)? {
        Some(b) => decode_chain(&b),
        None => Ok(Chain::default()),
    }
}

/// Extends the chain during one apply call and collects the writes for [`Space::Records`].
pub struct Recorder<'a> {
    chain: &'a mut Chain,
    ops: Vec<Op>,
}

impl<'a> Recorder<'a> {
    /// A recorder extending `chain`.
    pub fn new(chain: &'a mut Chain) -> Recorder<'a> {
        Recorder {
            chain,
            ops: Vec::new(),
        }
    }

    /// Records one change (a watch record of this apply) caused by the intent `intent`.
    ///
    /// # Errors
    /// The change's revision is not the chain's next one (the chain and the state disagree).
    pub fn record(&mut self, change: &WatchRecord, intent: &[u8]) -> io::Result<()> {
        let key = &change.object.key;
        let before = change.prev.as_ref().map(|p| digest(p.json.as_bytes()));
        let after = match change.event_type {
            EventType::Deleted => None,
            _ => Some(digest(change.object.json.as_bytes())),
        };
        let expected = self.chain.revision + 1;
        if change.revision != expected {
            return Err(io::Error::other(format!(
                "NKO chain at revision {} cannot record revision {}",
                self.chain.revision, change.revision
            )));
        }
        if let Some((record, bytes)) = self.chain.append_encoded(key, before, after, intent) {
            let object = after.map(|_| change.object.json.as_bytes());
            let value = record_value(&bytes, object);
            self.ops.push(Op::Put(record_key(record.revision), value));
        }
        Ok(())
    }

    /// The writes for [`Space::Records`], ending with a checkpoint of the chain signed by
    /// `member`; empty when nothing was recorded.
    pub fn finish(mut self, member: &SecretKey) -> Vec<Op> {
        if self.ops.is_empty() {
            return self.ops;
        }
        let c = &self.chain;
        let cp = Checkpoint::sign(c.revision, c.head, c.lthash.to_bytes(), member);
        self.ops.push(Op::Put(CHECKPOINT_KEY.to_vec(), cp.encode()));
        self.ops
    }
}

/// One stored record: revision, canonical record bytes, the object JSON after (None for deletes).
pub type StoredRecord = (u64, Vec<u8>, Option<Vec<u8>>);

/// Up to `limit` records from revision `from` on, in order.
///
/// # Errors
/// I/O errors.
pub fn read_records(
    backend: &dyn Backend,
    from: u64,
    limit: usize,
) -> io::Result<Vec<StoredRecord>> {
    // Revisions are consecutive, so `[from, from + limit)` holds at most `limit` records.
    let end = match from.checked_add(limit as u64) {
        Some(end) => Bound::Excluded(record_key(end)),
        None => Bound::Excluded(b"s".to_vec()),
    };
    let range = (Bound::Included(record_key(from)), end);
    let mut out = Vec::new();
    for (k, v) in backend.scan(Space::Records, range)? {
        let rev = from_be(&k[1..]).ok_or_else(|| io::Error::other("corrupt record key"))?;
        match split_record_value(&v)? {
            Some((record, object)) => out.push((rev, record.to_vec(), object.map(<[u8]>::to_vec))),
            None => {
                let object = backend.get(Space::Records, &legacy_object_key(rev))?;
                out.push((rev, v, object));
            }
        }
    }
    Ok(out)
}

/// The latest checkpoint's canonical bytes, if any.
///
/// # Errors
/// I/O errors.
pub fn read_checkpoint(backend: &dyn Backend) -> io::Result<Option<Vec<u8>>> {
    backend.get(Space::Records, CHECKPOINT_KEY)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::backend::SledBackend;

    #[test]
    fn record_values_should_carry_their_object_and_read_the_older_layout() {
        let dir = tempfile::TempDir::new().unwrap();
        let b = SledBackend::open(dir.path()).unwrap();
        // The older layout: a bare record at `r` (starting with its tag) and its object at `b`.
        let bare = mock_k8_nko::encode::Writer::tagged("mock_k8/nko/record/v1").finish();
        let ops = vec![
            Op::Put(record_key(1), bare.clone()),
            Op::Put(legacy_object_key(1), b"{\"a\":1}".to_vec()),
            Op::Put(record_key(2), record_value(b"rec-2", Some(b"{\"b\":2}"))),
            Op::Put(record_key(3), record_value(b"rec-3", None)),
        ];
        b.write(Space::Records, ops).unwrap();
        let got = read_records(&b, 1, 10).unwrap();
        assert_eq!(
            got,
            vec![
                (1, bare, Some(b"{\"a\":1}".to_vec())),
                (2, b"rec-2".to_vec(), Some(b"{\"b\":2}".to_vec())),
                (3, b"rec-3".to_vec(), None),
            ]
        );
        assert_eq!(read_records(&b, 2, 1).unwrap().len(), 1);
        b.write(
            Space::Records,
            vec![Op::Put(record_key(4), vec![0, 0, 9, 0, 1])],
        )
        .unwrap();
        assert!(read_records(&b, 4, 1).is_err(), "length past the end");
    }
}
