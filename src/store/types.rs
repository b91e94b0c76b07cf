//! The openraft type configuration of the store, and the small encodings shared by the log store
//! and the state machine.

// `declare_raft_types!` names the default `SnapshotData = Cursor<Vec<u8>>` unqualified.
use std::io::Cursor;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{StoreError, StoredObject, WriteOp};

/// One write as proposed to Raft: the op and the canonical bytes of its NKO intent (signed in the
/// request path, so every member records the same bytes; see `mock_k8_nko::record::Intent`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Proposal {
    /// The write.
    pub op: WriteOp,
    /// `Intent::encode()` bytes, hex in the log's JSON.
    #[serde(with = "hex_bytes")]
    pub intent: Vec<u8>,
}

/// Hex (de)serialization of byte strings (half the size of serde's number arrays in JSON).
mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&mock_k8_nko::encode::hex(b))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        mock_k8_nko::encode::unhex_vec(&s).ok_or_else(|| D::Error::custom("intent is not hex"))
    }
}

/// The result of one [`WriteOp`] in an applied batch.
pub type OpResult = Result<Arc<StoredObject>, StoreError>;

openraft::declare_raft_types!(
    /// openraft's type configuration: a log entry carries a batch of [`Proposal`]s (group commit)
    /// and applying it returns one [`OpResult`] per op, in order. Node ids are `u64`, nodes are
    /// [`Member`] (`{addr, key}`), snapshots are in-memory JSON buffers.
    pub TypeConfig:
        D = Vec<Proposal>,
        R = Vec<OpResult>,
        Node = Member,
);

/// A member as the Raft membership records it: where its API (and Raft RPC) listens, and the key
/// it authenticates its Raft RPCs with.
///
/// Stored as JSON `{"addr": "host:port", "key": "..."}`; a membership written before keys existed
/// (`{"addr": ...}`, openraft's `BasicNode`) reads back with an empty key, which authenticates
/// nothing.
#[derive(Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Member {
    /// `host:port` of the member's HTTP listener.
    pub addr: String,
    /// The member's secret RPC key (hex), sent as a bearer credential on every Raft RPC.
    #[serde(default)]
    pub key: String,
}

/// Redacts the key: openraft formats the leader's node with `{:?}` in its errors (a follower's
/// "has to forward request to" message), and those reach logs and 503 Status bodies.
impl std::fmt::Debug for Member {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Member")
            .field("addr", &self.addr)
            .field(
                "key",
                &if self.key.is_empty() {
                    ""
                } else {
                    "<redacted>"
                },
            )
            .finish()
    }
}

impl std::fmt::Display for Member {
    /// Shows the address only: the key is a secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.addr)
    }
}

/// The Raft node id type.
pub type NodeId = u64;
/// A log entry of this store.
pub type Entry = openraft::Entry<TypeConfig>;
/// A log id of this store.
pub type LogId = openraft::LogId<NodeId>;
/// Membership as the state machine stores it.
pub type StoredMembership = openraft::StoredMembership<NodeId, Member>;
/// Storage errors in openraft's terms.
pub type StorageError = openraft::StorageError<NodeId>;
/// The running Raft member.
pub type Raft = openraft::Raft<TypeConfig>;

/// A `u64` as big-endian bytes, so that byte order is numeric order.
pub fn be_key(n: u64) -> [u8; 8] {
    n.to_be_bytes()
}

/// Parses a big-endian `u64` (as written by [`be_key`]); `None` if `bytes` is not 8 bytes long.
pub fn from_be(bytes: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(bytes.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_should_read_a_basic_node_without_key() {
        let m: Member = serde_json::from_str(r#"{"addr":"127.0.0.1:1"}"#).expect("json");
        assert_eq!(
            m,
            Member {
                addr: "127.0.0.1:1".into(),
                key: String::new()
            }
        );
        assert_eq!(m.to_string(), "127.0.0.1:1");
    }

    #[test]
    fn member_debug_should_not_show_the_key() {
        let m = Member {
            addr: "127.0.0.1:1".into(),
            key: "s3cr3tkey".into(),
        };
        // openraft's "has to forward request to: .., Some(Member { .. })" uses Debug, and that
        // text reaches 503 Status bodies on followers.
        let fwd = openraft::error::ForwardToLeader::<NodeId, Member> {
            leader_id: Some(2),
            leader_node: Some(m.clone()),
        };
        for text in [format!("{m:?}"), fwd.to_string()] {
            assert!(!text.contains("s3cr3tkey"), "{text}");
            assert!(text.contains("127.0.0.1:1"), "{text}");
        }
    }

    #[test]
    fn be_key_should_order_bytes_like_numbers() {
        assert!(be_key(255) < be_key(256));
        assert!(be_key(1) < be_key(u64::MAX));
        assert_eq!(from_be(&be_key(42)), Some(42));
        assert_eq!(from_be(b"abc"), None);
    }
}
