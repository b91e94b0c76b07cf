//! The kind-specific part of V (`nko/SPEC.md` §8) for `mock_k8 verify`: a
//! [`ProofChecker`](mock_k8_nko::proof::ProofChecker) that keeps a view of the replayed state and
//! recomputes what each proof claims with the controllers' own pure functions — the scheduler's
//! `f(P, N)` for bindings ([`SchedulingReplay`]), the endpoints controller's `D(S, E)` for
//! Endpoints writes ([`endpoints::proof::check`], on the same view). It lives here, not in the `nko` crate, because
//! that crate is a leaf that knows nothing of scheduling or endpoints.

use mock_k8_controllers::endpoints;
use mock_k8_controllers::scheduler::replay::SchedulingReplay;
use mock_k8_nko::proof::{ProofChecker, Transition, Verdict};
use mock_k8_nko::request::{ActorKind, actor_kind};

/// The proof checker `mock_k8 verify` installs.
#[derive(Default)]
pub struct Checker {
    scheduling: SchedulingReplay,
}

impl Checker {
    /// A checker for a replay starting from the empty state.
    pub fn new() -> Checker {
        Checker::default()
    }
}

impl ProofChecker for Checker {
    fn check(&mut self, t: &Transition<'_>) -> Verdict {
        let by_controller = matches!(actor_kind(&t.intent.claim.actor), ActorKind::Controller(_));
        let proof = &t.intent.claim.proof;
        if t.key.starts_with("core/endpoints/") {
            return endpoints::proof::check(
                &mut self.scheduling,
                t.revision,
                t.key,
                t.after,
                proof,
                by_controller,
            );
        }
        self.scheduling
            .check(t.revision, t.key, t.before, t.after, proof, by_controller)
    }

    fn apply(&mut self, t: &Transition<'_>) {
        self.scheduling.apply(t.revision, t.key, t.after);
    }

    fn load(&mut self, key: &str, json: &str) {
        self.scheduling.load(key, json);
    }
}
