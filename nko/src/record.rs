//! Transition records: one per committed change, chained by hash (SPEC.md, "Records").
//!
//! An [`Intent`] is made in the request path, before the write is proposed to Raft: it names the
//! actor, carries the actor's request signature (controllers and node agents) and is signed by the
//! admitting API server (the member key), so it is fixed by a single party and travels inside the
//! Raft entry. The [`Record`] wraps it with what only the apply order decides — revision, previous
//! record hash, object digests, state commitments — computed the same way on every member.

use crate::encode::{DecodeError, Reader, Writer};
use crate::keys::{PublicKey, SecretKey};
use crate::request::RequestClaim;

const INTENT_TAG: &str = "mock_k8/nko/intent/v1";
const RECORD_TAG: &str = "mock_k8/nko/record/v1";
const CHECKPOINT_TAG: &str = "mock_k8/nko/checkpoint/v1";

/// BLAKE3 of `bytes`: object digests are over the stored JSON bytes exactly.
pub fn digest(bytes: &[u8]) -> [u8; 32] {
    *blake3::hash(bytes).as_bytes()
}

/// The signed request behind one write, as admitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Intent {
    /// The request as claimed (for user requests the API server fills it in with its own key).
    pub claim: RequestClaim,
    /// The actor's signature over `claim` when the actor signed the request itself (controllers,
    /// node agents); `None` for requests the API server signs for.
    pub actor_sig: Option<[u8; 64]>,
    /// Whether `MOCK_K8_VERIFICATION_ENABLED` was on when the API server admitted it (identity,
    /// authority and feasibility were checked before commit).
    pub enforced: bool,
    /// The admitting API server's member key.
    pub admitter: PublicKey,
    /// The admitter's signature over every byte of the encoding before it.
    pub admission_sig: [u8; 64],
}

impl Intent {
    fn unsigned_bytes(
        claim: &RequestClaim,
        actor_sig: &Option<[u8; 64]>,
        enforced: bool,
        admitter: &PublicKey,
    ) -> Vec<u8> {
        let mut w = Writer::tagged(INTENT_TAG);
        w.str(&claim.actor)
            .raw(&claim.key.0)
            .u64(claim.timestamp_ms)
            .str(&claim.method)
            .str(&claim.path)
            .raw(&claim.body_digest)
            .bytes(&claim.proof);
        match actor_sig {
            None => w.u8(0),
            Some(s) => w.u8(1).raw(s),
        };
        w.u8(enforced as u8).raw(&admitter.0);
        w.finish()
    }

    /// Admits `claim` (with the actor's signature, if it signed) under `member`'s key.
    pub fn admit(
        claim: RequestClaim,
        actor_sig: Option<[u8; 64]>,
        enforced: bool,
        member: &SecretKey,
    ) -> Intent {
        let admitter = member.public();
        let admission_sig = member.sign(&Intent::unsigned_bytes(
            &claim, &actor_sig, enforced, &admitter,
        ));
        Intent {
            claim,
            actor_sig,
            enforced,
            admitter,
            admission_sig,
        }
    }

    /// The canonical bytes (SPEC.md, "Intent").
    pub fn encode(&self) -> Vec<u8> {
        let mut b =
            Intent::unsigned_bytes(&self.claim, &self.actor_sig, self.enforced, &self.admitter);
        b.extend_from_slice(&self.admission_sig);
        b
    }

    /// Parses [`Intent::encode`] output.
    ///
    /// # Errors
    /// [`DecodeError`] for anything that is not exactly one intent.
    pub fn decode(bytes: &[u8]) -> Result<Intent, DecodeError> {
        let mut r = Reader::tagged(bytes, INTENT_TAG)?;
        let actor = r.str()?.to_string();
        let key = PublicKey(r.array()?);
        let timestamp_ms = r.u64()?;
        let method = r.str()?.to_string();
        let path = r.str()?.to_string();
        let body_digest = r.array()?;
        let proof = r.bytes()?.to_vec();
        let at = r.offset();
        let actor_sig = match r.u8()? {
            0 => None,
            1 => Some(r.array()?),
            _ => {
                return Err(DecodeError::Invalid {
                    what: "signature tag",
                    at,
                });
            }
        };
        let at = r.offset();
        let enforced = match r.u8()? {
            0 => false,
            1 => true,
            _ => {
                return Err(DecodeError::Invalid {
                    what: "enforced flag",
                    at,
                });
            }
        };
        let admitter = PublicKey(r.array()?);
        let admission_sig = r.array()?;
        r.end()?;
        let claim = RequestClaim {
            actor,
            key,
            timestamp_ms,
            method,
            path,
            body_digest,
            proof,
        };
        Ok(Intent {
            claim,
            actor_sig,
            enforced,
            admitter,
            admission_sig,
        })
    }

    /// Whether the admission signature is the admitter's over the intent.
    pub fn admission_valid(&self) -> bool {
        let bytes =
            Intent::unsigned_bytes(&self.claim, &self.actor_sig, self.enforced, &self.admitter);
        self.admitter.verify(&bytes, &self.admission_sig)
    }

    /// Whether the actor's own signature (if any) verifies over the claim with `claim.key`.
    /// `None` when the actor did not sign (the API server signed for it).
    pub fn actor_sig_valid(&self) -> Option<bool> {
        self.actor_sig.map(|s| self.claim.verify(&s))
    }
}

/// What a transition did to its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// The key did not exist and now does (code 1).
    Create = 1,
    /// The key existed and was replaced (code 2).
    Update = 2,
    /// The key existed and was removed (code 3).
    Delete = 3,
}

/// One committed transition S_{r-1} → S_r.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The revision this transition took (= the object's `resourceVersion`); revisions are
    /// consecutive from 1.
    pub revision: u64,
    /// [`Record::hash`] of the record at `revision - 1` (32 zero bytes for revision 1 or the
    /// first record after a checkpoint's head).
    pub prev: [u8; 32],
    /// Create, update or delete.
    pub op: Op,
    /// The storage key (`{group}/{plural}/{namespace}/{name}`).
    pub key: String,
    /// BLAKE3 of the stored object JSON before (None for a create).
    pub before: Option<[u8; 32]>,
    /// BLAKE3 of the stored object JSON after (None for a delete).
    pub after: Option<[u8; 32]>,
    /// LtHash digest of the whole state before.
    pub state_before: [u8; 32],
    /// LtHash digest of the whole state after.
    pub state_after: [u8; 32],
    /// The canonical bytes of the [`Intent`] that caused it (one intent may cause several records:
    /// a namespace deletion removes its contents).
    pub intent: Vec<u8>,
}

impl Record {
    /// The canonical bytes (SPEC.md, "Record").
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::tagged(RECORD_TAG);
        w.u64(self.revision)
            .raw(&self.prev)
            .u8(self.op as u8)
            .str(&self.key)
            .opt32(&self.before)
            .opt32(&self.after)
            .raw(&self.state_before)
            .raw(&self.state_after)
            .bytes(&self.intent);
        w.finish()
    }

    /// Parses [`Record::encode`] output.
    ///
    /// # Errors
    /// [`DecodeError`] for anything that is not exactly one record.
    pub fn decode(bytes: &[u8]) -> Result<Record, DecodeError> {
        let mut r = Reader::tagged(bytes, RECORD_TAG)?;
        let revision = r.u64()?;
        let prev = r.array()?;
        let at = r.offset();
        let op = match r.u8()? {
            1 => Op::Create,
            2 => Op::Update,
            3 => Op::Delete,
            _ => return Err(DecodeError::Invalid { what: "op", at }),
        };
        let record = Record {
            revision,
            prev,
            op,
            key: r.str()?.to_string(),
            before: r.opt32()?,
            after: r.opt32()?,
            state_before: r.array()?,
            state_after: r.array()?,
            intent: r.bytes()?.to_vec(),
        };
        r.end()?;
        Ok(record)
    }

    /// The record's hash: BLAKE3 of its canonical bytes; the next record's `prev`.
    pub fn hash(&self) -> [u8; 32] {
        digest(&self.encode())
    }
}

/// A member's signed statement that the history up to `revision` ends in `head` with state
/// commitment `state` (the full LtHash, so verification can resume from it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The last revision covered.
    pub revision: u64,
    /// Hash of the record at `revision` (zeros for revision 0).
    pub head: [u8; 32],
    /// The LtHash of the state at `revision`, serialized (2048 bytes).
    pub state: Vec<u8>,
    /// The signing member's key.
    pub signer: PublicKey,
    /// Signature over [`Checkpoint::signed_bytes`].
    pub signature: [u8; 64],
}

impl Checkpoint {
    fn bytes_for(revision: u64, head: &[u8; 32], state: &[u8], signer: &PublicKey) -> Vec<u8> {
        let mut w = Writer::tagged(CHECKPOINT_TAG);
        w.u64(revision).raw(head).bytes(state).raw(&signer.0);
        w.finish()
    }

    /// Signs a checkpoint with `member`.
    pub fn sign(revision: u64, head: [u8; 32], state: Vec<u8>, member: &SecretKey) -> Checkpoint {
        let signer = member.public();
        let signature = member.sign(&Checkpoint::bytes_for(revision, &head, &state, &signer));
        Checkpoint {
            revision,
            head,
            state,
            signer,
            signature,
        }
    }

    /// The signed bytes: `tagged("mock_k8/nko/checkpoint/v1") ‖ u64(revision) ‖ head ‖
    /// bytes(state) ‖ signer`.
    pub fn signed_bytes(&self) -> Vec<u8> {
        Checkpoint::bytes_for(self.revision, &self.head, &self.state, &self.signer)
    }

    /// Whether the signature verifies with `signer`.
    pub fn valid(&self) -> bool {
        self.signer.verify(&self.signed_bytes(), &self.signature)
    }

    /// Canonical bytes: the signed bytes followed by the signature.
    pub fn encode(&self) -> Vec<u8> {
        let mut b = self.signed_bytes();
        b.extend_from_slice(&self.signature);
        b
    }

    /// Parses [`Checkpoint::encode`] output.
    ///
    /// # Errors
    /// [`DecodeError`] for anything that is not exactly one checkpoint.
    pub fn decode(bytes: &[u8]) -> Result<Checkpoint, DecodeError> {
        let mut r = Reader::tagged(bytes, CHECKPOINT_TAG)?;
        let cp = Checkpoint {
            revision: r.u64()?,
            head: r.array()?,
            state: r.bytes()?.to_vec(),
            signer: PublicKey(r.array()?),
            signature: r.array()?,
        };
        r.end()?;
        Ok(cp)
    }
}

#[cfg(test)]
#[path = "record_tests.rs"]
mod tests;
