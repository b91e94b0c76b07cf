//! The on-disk encoding of Raft log entries: a compact binary form for the write batches (the hot
//! path), JSON for the rare membership entries, and a reader for the JSON entries older versions
//! wrote.
//!
//! Binary entry (version 1), integers big-endian:
//! ```text
//! 0xB1 ‖ term u64 ‖ leader node u64 ‖ index u64 ‖ tag u8 ‖ payload
//!   tag 0 Blank:      (nothing)
//!   tag 1 Normal:     count u32, then per proposal: intent bytes ‖ op
//!   tag 2 Membership: openraft's Membership as JSON bytes
//! op:    0 Create ‖ key ‖ json ‖ rv_at u32
//!        1 Update ‖ key ‖ json ‖ rv_at u32 ‖ opt u64 (expected rv)
//!        2 Delete ‖ key ‖ opt u64 (expected rv) ‖ opt bytes (expected uid)
//! bytes: len u32 ‖ bytes;  opt: 0 (none) or 1 ‖ value
//! ```
//! The object text is stored as is (before: a `serde_json::Value` escaped inside the entry's
//! JSON, with its intent in hex). A log written by an older version (entries starting with `{`)
//! is still read, so such a data directory opens and replays.

use std::io;

use openraft::{CommittedLeaderId, EntryPayload};
use serde::Deserialize;
use serde_json::Value;

use super::WriteOp;
use super::object_text::ObjectText;
use super::types::{Entry, LogId, Member, NodeId, Proposal};

/// First byte of a binary entry (a JSON entry starts with `{`).
const BINARY_V1: u8 = 0xB1;

fn put_u32(out: &mut Vec<u8>, n: usize) -> io::Result<()> {
    let n = u32::try_from(n).map_err(|_| io::Error::other("log entry field over 4 GiB"))?;
    out.extend_from_slice(&n.to_be_bytes());
    Ok(())
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) -> io::Result<()> {
    put_u32(out, b.len())?;
    out.extend_from_slice(b);
    Ok(())
}

fn put_opt_u64(out: &mut Vec<u8>, n: Option<u64>) {
    match n {
        Some(n) => {
            out.push(1);
            out.extend_from_slice(&n.to_be_bytes());
        }
        None => out.push(0),
    }
}

/// Encodes `entry` for the log store.
///
/// # Errors
/// A field over 4 GiB, or a membership that does not serialize.
pub fn encode_entry(entry: &Entry) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    encode_entry_into(entry, &mut out)?;
    Ok(out)
}

/// [`encode_entry`] into `out` (cleared first), so that a caller can reuse one buffer: a batch
/// entry is hundreds of KB, and a fresh buffer each time costs page faults.
///
/// # Errors
/// As [`encode_entry`].
pub fn encode_entry_into(entry: &Entry, out: &mut Vec<u8>) -> io::Result<()> {
    let size = match &entry.payload {
        EntryPayload::Normal(ps) => ps
            .iter()
            .map(|p| p.intent.len() + 64 + op_len(&p.op))
            .sum::<usize>(),
        _ => 256,
    };
    out.clear();
    out.reserve(32 + size);
    out.push(BINARY_V1);
    out.extend_from_slice(&entry.log_id.leader_id.term.to_be_bytes());
    out.extend_from_slice(&entry.log_id.leader_id.node_id.to_be_bytes());
    out.extend_from_slice(&entry.log_id.index.to_be_bytes());
    match &entry.payload {
        EntryPayload::Blank => out.push(0),
        EntryPayload::Normal(proposals) => {
            out.push(1);
            put_u32(out, proposals.len())?;
            for p in proposals {
                put_bytes(out, &p.intent)?;
                encode_op(out, &p.op)?;
            }
        }
        EntryPayload::Membership(m) => {
            out.push(2);
            serde_json::to_writer(&mut *out, m).map_err(io::Error::other)?;
        }
    }
    Ok(())
}

fn op_len(op: &WriteOp) -> usize {
    match op {
        WriteOp::Create { key, object } | WriteOp::Update { key, object, .. } => {
            key.len() + object.json.len()
        }
        WriteOp::Delete { key, .. } => key.len() + 64,
    }
}

fn encode_op(out: &mut Vec<u8>, op: &WriteOp) -> io::Result<()> {
    match op {
        WriteOp::Create { key, object } => {
            out.push(0);
            put_bytes(out, key.as_bytes())?;
            put_bytes(out, object.json.as_bytes())?;
            out.extend_from_slice(&object.rv_at.to_be_bytes());
        }
        WriteOp::Update {
            key,
            object,
            expected_rv,
        } => {
            out.push(1);
            put_bytes(out, key.as_bytes())?;
            put_bytes(out, object.json.as_bytes())?;
            out.extend_from_slice(&object.rv_at.to_be_bytes());
            put_opt_u64(out, *expected_rv);
        }
        WriteOp::Delete {
            key,
            expected_rv,
            expected_uid,
        } => {
            out.push(2);
            put_bytes(out, key.as_bytes())?;
            put_opt_u64(out, *expected_rv);
            match expected_uid {
                Some(uid) => {
                    out.push(1);
                    put_bytes(out, uid.as_bytes())?;
                }
                None => out.push(0),
            }
        }
    }
    Ok(())
}

/// Reads a binary entry, field by field.
struct Reader<'a> {
    bytes: &'a [u8],
}

fn corrupt(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("corrupt log entry: {what}"),
    )
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> io::Result<&'a [u8]> {
        if self.bytes.len() < n {
            return Err(corrupt("truncated"));
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    fn u8(&mut self) -> io::Result<u8> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> io::Result<u32> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self) -> io::Result<u64> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8)?);
        Ok(u64::from_be_bytes(a))
    }

    fn bytes(&mut self) -> io::Result<&'a [u8]> {
        let n = self.u32()? as usize;
        self.take(n)
    }

    fn str(&mut self) -> io::Result<&'a str> {
        std::str::from_utf8(self.bytes()?).map_err(|_| corrupt("text is not UTF-8"))
    }

    fn opt_u64(&mut self) -> io::Result<Option<u64>> {
        match self.u8()? {
            0 => Ok(None),
            1 => Ok(Some(self.u64()?)),
            _ => Err(corrupt("bad option tag")),
        }
    }

    fn op(&mut self) -> io::Result<WriteOp> {
        Ok(match self.u8()? {
            0 => WriteOp::Create {
                key: self.str()?.to_string(),
                object: ObjectText {
                    json: self.str()?.into(),
                    rv_at: self.u32()?,
                },
            },
            1 => WriteOp::Update {
                key: self.str()?.to_string(),
                object: ObjectText {
                    json: self.str()?.into(),
                    rv_at: self.u32()?,
                },
                expected_rv: self.opt_u64()?,
            },
            2 => WriteOp::Delete {
                key: self.str()?.to_string(),
                expected_rv: self.opt_u64()?,
                expected_uid: match self.u8()? {
                    0 => None,
                    1 => Some(self.str()?.to_string()),
                    _ => return Err(corrupt("bad option tag")),
                },
            },
            _ => return Err(corrupt("unknown op")),
        })
    }
}

/// Decodes an entry written by [`encode_entry`], or by an older version as JSON.
///
/// # Errors
/// `InvalidData` for bytes that are neither.
pub fn decode_entry(bytes: &[u8]) -> io::Result<Entry> {
    match bytes.first() {
        Some(&BINARY_V1) => {}
        Some(b'{') => return decode_legacy(bytes),
        _ => return Err(corrupt("unknown format")),
    }
    let mut r = Reader { bytes: &bytes[1..] };
    let term = r.u64()?;
    let node: NodeId = r.u64()?;
    let index = r.u64()?;
    let log_id = LogId::new(CommittedLeaderId::new(term, node), index);
    let payload = match r.u8()? {
        0 => EntryPayload::Blank,
        1 => {
            let count = r.u32()? as usize;
            // Each proposal takes at least 10 bytes: never pre-allocate past the input.
            let mut proposals = Vec::with_capacity(count.min(r.bytes.len() / 10));
            for _ in 0..count {
                let intent = r.bytes()?.to_vec();
                let op = r.op()?;
                proposals.push(Proposal { op, intent });
            }
            EntryPayload::Normal(proposals)
        }
        2 => EntryPayload::Membership(
            serde_json::from_slice(r.bytes).map_err(|e| corrupt(&e.to_string()))?,
        ),
        _ => return Err(corrupt("unknown payload")),
    };
    Ok(Entry { log_id, payload })
}

/// The JSON shape of entries written before the binary encoding (objects as JSON trees, intents
/// in hex).
#[derive(Deserialize)]
struct LegacyEntry {
    log_id: LogId,
    payload: LegacyPayload,
}

#[derive(Deserialize)]
enum LegacyPayload {
    Blank,
    Normal(Vec<LegacyProposal>),
    Membership(openraft::Membership<NodeId, Member>),
}

#[derive(Deserialize)]
struct LegacyProposal {
    op: LegacyOp,
    intent: String,
}

#[derive(Deserialize)]
enum LegacyOp {
    Create {
        key: String,
        object: Value,
    },
    Update {
        key: String,
        object: Value,
        expected_rv: Option<u64>,
    },
    Delete {
        key: String,
        expected_rv: Option<u64>,
        expected_uid: Option<String>,
    },
}

fn decode_legacy(bytes: &[u8]) -> io::Result<Entry> {
    let e: LegacyEntry = serde_json::from_slice(bytes).map_err(|e| corrupt(&e.to_string()))?;
    let payload = match e.payload {
        LegacyPayload::Blank => EntryPayload::Blank,
        LegacyPayload::Membership(m) => EntryPayload::Membership(m),
        LegacyPayload::Normal(ps) => EntryPayload::Normal(
            ps.into_iter()
                .map(|p| {
                    let intent = mock_k8_nko::encode::unhex_vec(&p.intent)
                        .ok_or_else(|| corrupt("intent is not hex"))?;
                    let op = match p.op {
                        LegacyOp::Create { key, object } => WriteOp::Create {
                            key,
                            object: ObjectText::new(&object),
                        },
                        LegacyOp::Update {
                            key,
                            object,
                            expected_rv,
                        } => WriteOp::Update {
                            key,
                            object: ObjectText::new(&object),
                            expected_rv,
                        },
                        LegacyOp::Delete {
                            key,
                            expected_rv,
                            expected_uid,
                        } => WriteOp::Delete {
                            key,
                            expected_rv,
                            expected_uid,
                        },
                    };
                    Ok(Proposal { op, intent })
                })
                .collect::<io::Result<Vec<_>>>()?,
        ),
    };
    Ok(Entry {
        log_id: e.log_id,
        payload,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::{BTreeMap, BTreeSet};

    fn log_id(index: u64) -> LogId {
        LogId::new(CommittedLeaderId::new(3, 1), index)
    }

    fn ops() -> Vec<Proposal> {
        let obj = json!({"kind": "Pod", "metadata": {"name": "p\"é"}, "spec": {"a": [1, 2]}});
        vec![
            Proposal {
                op: WriteOp::Create {
                    key: "core/pods/default/p".into(),
                    object: ObjectText::new(&obj),
                },
                intent: vec![1, 2, 3],
            },
            Proposal {
                op: WriteOp::Update {
                    key: "core/pods/default/p".into(),
                    object: ObjectText::new(&obj),
                    expected_rv: Some(9),
                },
                intent: Vec::new(),
            },
            Proposal {
                op: WriteOp::Delete {
                    key: "k".into(),
                    expected_rv: None,
                    expected_uid: Some("u".into()),
                },
                intent: vec![0; 300],
            },
        ]
    }

    #[test]
    fn entries_should_round_trip_in_binary() {
        let members = BTreeMap::from([(
            1,
            Member {
                addr: "a:1".into(),
                key: "k".into(),
            },
        )]);
        let membership = openraft::Membership::new(vec![BTreeSet::from([1])], members);
        for payload in [
            EntryPayload::Blank,
            EntryPayload::Normal(ops()),
            EntryPayload::Membership(membership),
        ] {
            let e = Entry {
                log_id: log_id(7),
                payload,
            };
            let bytes = encode_entry(&e).expect("encodes");
            assert_eq!(bytes[0], BINARY_V1);
            assert_eq!(decode_entry(&bytes).expect("decodes"), e);
            assert!(decode_entry(&bytes[..bytes.len() - 1]).is_err());
        }
    }

    #[test]
    fn entries_of_the_json_format_should_still_decode() {
        let old = json!({
            "log_id": {"leader_id": {"term": 3, "node_id": 1}, "index": 7},
            "payload": {"Normal": [
                {"op": {"Create": {"key": "core/pods/default/p", "object": {"kind": "Pod", "metadata": {"name": "p"}}}}, "intent": "0102"},
                {"op": {"Delete": {"key": "k", "expected_rv": 4, "expected_uid": null}}, "intent": ""}
            ]}
        });
        let e = decode_entry(old.to_string().as_bytes()).expect("decodes");
        assert_eq!(e.log_id, log_id(7));
        let EntryPayload::Normal(ps) = e.payload else {
            panic!("normal entry expected");
        };
        assert_eq!(ps[0].intent, vec![1, 2]);
        let WriteOp::Create { object, .. } = &ps[0].op else {
            panic!("create expected");
        };
        assert_eq!(
            object.stamp(5),
            r#"{"kind":"Pod","metadata":{"name":"p","resourceVersion":"5"}}"#
        );
        assert!(matches!(
            ps[1].op,
            WriteOp::Delete {
                expected_rv: Some(4),
                ..
            }
        ));
        let blank = json!({"log_id": {"leader_id": {"term": 1, "node_id": 1}, "index": 1}, "payload": "Blank"});
        assert!(matches!(
            decode_entry(blank.to_string().as_bytes())
                .expect("decodes")
                .payload,
            EntryPayload::Blank
        ));
        assert!(decode_entry(b"xyz").is_err());
    }
}
