//! NKO in the server: identity key files, the admission of writes (request signatures checked
//! before commit, intents signed in the request path) and the audit behind `mock_k8 verify`.
//! The pure rules (encoding, records, V) are in the `mock_k8_nko` crate and its SPEC.md.
//!
//! - [`keyfiles`]: keys in `<data-dir>/keys/` (owner-only), generated on first use.
//! - [`admission`]: who a write is from, the 403 checks, and the intent each write carries.
//! - [`feasibility`]: the cheap admission check that a Binding still fits its node.
//! - [`audit`]: replaying a data directory's or a server's records through the verifier.
//! - [`proofs`]: the kind-specific V (scheduling proofs of bindings) the audit installs.

pub mod admission;
pub mod audit;
pub mod feasibility;
pub mod keyfiles;
pub mod proofs;
