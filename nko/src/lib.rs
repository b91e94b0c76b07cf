//! NKO (Node Kernel Operator): the pure, I/O-free core of mock_k8's signed history, written to be
//! read by an independent verifier next to [SPEC.md](../SPEC.md).
//!
//! - [`encode`]: the canonical binary encoding every hash and signature is computed over.
//! - [`keys`]: Ed25519 identity keys and key ids.
//! - [`request`]: the request signature wire format (headers, signed bytes, actor names).
//! - [`record`]: intents (signed in the request path), transition records (computed at apply),
//!   checkpoints.
//! - [`chain`]: extending the record chain at apply (revision, hash link, commitments).
//! - [`authority`]: who may write what (NodeRestriction by signature).
//! - [`lthash`]: the incremental state commitment.
//! - [`proof`]: the seam for proof kinds' V (scheduling, endpoints), supplied by the caller.
//! - [`verify`]: the verifier V, replaying records over the state.

pub mod authority;
pub mod chain;
pub mod encode;
pub mod keys;
pub mod lthash;
pub mod proof;
pub mod record;
pub mod request;
pub mod verify;
