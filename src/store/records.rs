//! NKO transition records, written at apply (`nko/SPEC.md`, §6).
//!
//! Each change an applied entry makes (one per revision, in revision order) extends the record
//! chain ([`mock_k8_nko::chain::Chain`]) with the intent of the proposal that caused it. Records,
//! their objects and a checkpoint signed by this member go to [`Space::Records`] before the state
//! write of the same apply call; the chain head (revision, hash, LtHash) is a state marker written
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

fn object_key(rev: u64) -> Vec<u8> {
    [b"b".as_slice(), &be_key(rev)].concat()
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
        if let Some(record) = self.chain.append(key, before, after, intent) {
            self.ops
                .push(Op::Put(record_key(record.revision), record.encode()));
            if after.is_some() {
                let json = change.object.json.as_bytes().to_vec();
                self.ops.push(Op::Put(object_key(record.revision), json));
            }
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
        let object = backend.get(Space::Records, &object_key(rev))?;
        out.push((rev, v, object));
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
