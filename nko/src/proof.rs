//! Proof kinds: the seam between the pure replay of [`crate::verify`] and the kind-specific V
//! of each proof (SPEC.md §8).
//!
//! A proof is JSON `{"kind": …, …}` carried in the intent (`RequestClaim::proof`). Its V needs
//! more than this crate knows — the scheduler's `f(P, N)`, the endpoints controller's `D(S, E)` —
//! so the verifier calls a [`ProofChecker`] supplied by the caller: once per record before the
//! record is applied (state `S_{t-1}`, to check), and once after (to keep the checker's own view
//! of the replayed state). A checker sees every record, with or without a proof, so it can keep
//! that view and also require a proof where one is due (a binding must carry one).

use crate::record::Intent;

/// Which proof kinds a record may carry (the `kind` field of the proof JSON).
pub mod kinds {
    /// A scheduling decision `π = G(P, N, d)` (the scheduler's bindings).
    pub const SCHEDULING: &str = "scheduling";
    /// A binding made by hand (`/api/v1/scheduler/bind`, a user `POST pods/{name}/binding`):
    /// feasibility only.
    pub const BINDING_FEASIBILITY: &str = "bindingFeasibility";
    /// An Endpoints object as `D(S, E)` computed it (the endpoints controller).
    pub const ENDPOINTS: &str = "endpoints";
}

/// One transition as a [`ProofChecker`] sees it.
#[derive(Debug, Clone, Copy)]
pub struct Transition<'a> {
    /// Its revision `t`.
    pub revision: u64,
    /// The storage key.
    pub key: &'a str,
    /// The decoded intent (actor, request path, proof bytes).
    pub intent: &'a Intent,
    /// The object JSON before (`None` for a create).
    pub before: Option<&'a str>,
    /// The object JSON after (`None` for a delete).
    pub after: Option<&'a str>,
}

/// What a proof check concluded about a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The proof holds (or none is due).
    Accept,
    /// The proof fails: verification fails at this revision, whatever `enforced` says (a proof is
    /// the actor's own claim, not an admission check).
    Reject(String),
    /// A check that admission would have enforced fails (a manual binding that does not fit):
    /// fatal when the intent was admitted with verification on, else reported and replayed.
    RejectIfEnforced(String),
}

/// The kind-specific part of V. `check` runs on `S_{t-1}`, then `apply` moves the checker's view to
/// `S_t`; a checker that keeps no view may leave `apply` empty.
pub trait ProofChecker {
    /// Checks transition `t` (its proof, or that it needs none) against the state before it.
    fn check(&mut self, t: &Transition<'_>) -> Verdict;
    /// Applies transition `t` (already verified) to the checker's view.
    fn apply(&mut self, t: &Transition<'_>);
    /// Loads one object of the starting state (a replay from a checkpoint).
    fn load(&mut self, key: &str, json: &str);
}

/// The proof `kind` of `proof` bytes: `None` when empty, not JSON or without a string `kind`.
pub fn kind_of(proof: &[u8]) -> Option<String> {
    if proof.is_empty() {
        return None;
    }
    let v: serde_json::Value = serde_json::from_slice(proof).ok()?;
    v.get("kind")?.as_str().map(str::to_owned)
}
