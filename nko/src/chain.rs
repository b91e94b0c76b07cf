//! The record chain as the store extends it at apply: one [`Record`] per change, with the next
//! revision, the previous record's hash and the LtHash commitments before and after. Every
//! member runs the same [`Chain::append`] on the same changes in the same order, so all members
//! derive identical records.

use crate::lthash::LtHash;
use crate::record::{Op, Record};

/// The end of the record chain: last revision, its record hash, the state commitment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Chain {
    /// The last revision recorded (0 before the first write).
    pub revision: u64,
    /// Hash of the record at `revision` (zeros at revision 0).
    pub head: [u8; 32],
    /// The commitment to the state at `revision`.
    pub lthash: LtHash,
}

impl Chain {
    /// Records the change of `key` from `before` to `after` (object digests; `None` = absent)
    /// caused by the intent with canonical bytes `intent`, advancing the chain by one revision.
    /// Returns `None` (and changes nothing) when both are `None`, which is no change.
    pub fn append(
        &mut self,
        key: &str,
        before: Option<[u8; 32]>,
        after: Option<[u8; 32]>,
        intent: &[u8],
    ) -> Option<Record> {
        self.append_encoded(key, before, after, intent)
            .map(|(record, _)| record)
    }

    /// [`Chain::append`], also returning the record's canonical bytes ([`Record::encode`]), which
    /// the chain encodes anyway to hash: a store keeping the bytes does not encode twice.
    pub fn append_encoded(
        &mut self,
        key: &str,
        before: Option<[u8; 32]>,
        after: Option<[u8; 32]>,
        intent: &[u8],
    ) -> Option<(Record, Vec<u8>)> {
        let op = match (before, after) {
            (None, Some(_)) => Op::Create,
            (Some(_), Some(_)) => Op::Update,
            (Some(_), None) => Op::Delete,
            (None, None) => return None,
        };
        let state_before = self.lthash.digest();
        if let Some(d) = &before {
            self.lthash.remove(key, d);
        }
        if let Some(d) = &after {
            self.lthash.add(key, d);
        }
        let record = Record {
            revision: self.revision + 1,
            prev: self.head,
            op,
            key: key.to_string(),
            before,
            after,
            state_before,
            state_after: self.lthash.digest(),
            intent: intent.to_vec(),
        };
        let bytes = record.encode();
        self.revision = record.revision;
        self.head = crate::record::digest(&bytes);
        Some((record, bytes))
    }
}
