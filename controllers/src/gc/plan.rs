//! What the garbage collector does with one dependent, pure (Kubernetes' `attemptToDeleteItem`,
//! <https://kubernetes.io/docs/concepts/architecture/garbage-collection/>).
//!
//! Each owner reference is classified ([`OwnerState`]): **solid** (the owner exists with that
//! uid and is not waiting for its dependents), **dangling** (no object of that kind, name and uid
//! exists) or **waiting** (the owner is being deleted in the foreground). Then ([`decide`]):
//!
//! - some solid owner: keep the object, removing its references to dangling and waiting owners;
//! - only waiting or dangling owners, some waiting, and the object has dependents of its own:
//!   delete it in the foreground too, so the cascade reaches its dependents first;
//! - otherwise delete it, with the policy its own finalizers ask for (`orphan`: Orphan,
//!   `foregroundDeletion`: Foreground) or Background.

/// How one owner reference resolves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnerState {
    /// The owner exists and is not being deleted in the foreground.
    Solid,
    /// The owner does not exist (or another object with another uid has its name).
    Dangling,
    /// The owner is being deleted in the foreground.
    Waiting,
}

/// The policy of a deletion the collector sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// `propagationPolicy: Background`.
    Background,
    /// `propagationPolicy: Foreground`.
    Foreground,
    /// `propagationPolicy: Orphan`.
    Orphan,
}

impl Policy {
    /// The `propagationPolicy` string.
    pub fn as_str(self) -> &'static str {
        match self {
            Policy::Background => "Background",
            Policy::Foreground => "Foreground",
            Policy::Orphan => "Orphan",
        }
    }
}

/// What to do with a dependent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Nothing: no owners, or only solid ones.
    Keep,
    /// Remove the references to these owner uids (the object has a solid owner left).
    RemoveRefs(Vec<String>),
    /// Delete the object with this policy.
    Delete(Policy),
}

/// Decides for an object whose owner references resolved to `owners` (uid, state);
/// `has_dependents` tells whether other objects name it as owner; `orphan`/`foreground`: it
/// carries that finalizer.
pub fn decide(
    owners: &[(String, OwnerState)],
    has_dependents: bool,
    orphan: bool,
    foreground: bool,
) -> Decision {
    if owners.is_empty() {
        return Decision::Keep;
    }
    let solid = owners.iter().any(|(_, s)| *s == OwnerState::Solid);
    if solid {
        let stale: Vec<String> = owners
            .iter()
            .filter(|(_, s)| *s != OwnerState::Solid)
            .map(|(u, _)| u.clone())
            .collect();
        return if stale.is_empty() {
            Decision::Keep
        } else {
            Decision::RemoveRefs(stale)
        };
    }
    let waiting = owners.iter().any(|(_, s)| *s == OwnerState::Waiting);
    if waiting && has_dependents {
        return Decision::Delete(Policy::Foreground);
    }
    Decision::Delete(if orphan {
        Policy::Orphan
    } else if foreground {
        Policy::Foreground
    } else {
        Policy::Background
    })
}
