//! Admission of writes under NKO (`nko/SPEC.md` §4–5).
//!
//! The API layer works out who a write is from before it runs the handler: a request with NKO
//! headers claims a controller or node identity, which is checked here (signature, clock,
//! authority) when verification is enabled — a failure is a 403 — and a request without them is a
//! user request. The result, an [`Admission`], is put in a task-local for the duration of the
//! handler, and [`crate::store::Store::write`] turns it into the signed intent that travels in the
//! Raft entry ([`intent_for`]). Writes outside any request (bootstrap) are `system:apiserver`.

use std::collections::BTreeSet;
use std::future::Future;

use mock_k8_nko::authority::{self, Target};
use mock_k8_nko::keys::{PublicKey, SecretKey};
use mock_k8_nko::record::{Intent, Op, digest};
use mock_k8_nko::request::{ActorKind, RequestClaim, actor_kind};
use serde_json::Value;

use crate::store::{Store, WriteOp};

/// The widest accepted difference between a signed request's timestamp and the server clock.
pub const MAX_CLOCK_SKEW_MS: u64 = 5 * 60 * 1000;

/// How the API server treats identity claims.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// `MOCK_K8_VERIFICATION_ENABLED`: reject (403) bad identity writes before commit.
    pub enforced: bool,
    /// Controller manager keys allowed to act as `controller:*`.
    pub controllers: BTreeSet<PublicKey>,
    /// Node usage for the binding feasibility check (used when `enforced`).
    pub ledger: std::sync::Arc<super::feasibility::Ledger>,
}

/// Who one request's writes are from, as admitted.
#[derive(Debug, Clone)]
pub struct Admission {
    /// The claim (for user requests: filled in by the server; its key is replaced by the member
    /// key when the intent is signed).
    pub claim: RequestClaim,
    /// The actor's own signature, for identity requests.
    pub actor_sig: Option<[u8; 64]>,
    /// Whether the checks were on.
    pub enforced: bool,
}

tokio::task_local! {
    static ADMISSION: Admission;
}

/// Runs `f` with `admission` as the origin of every store write it makes.
pub async fn scope<F: Future>(admission: Admission, f: F) -> F::Output {
    ADMISSION.scope(admission, f).await
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The admission of a user request (no NKO headers): actor `user:anonymous`.
pub fn user(method: &str, target: &str, body: &[u8], enforced: bool) -> Admission {
    Admission {
        claim: RequestClaim {
            actor: "user:anonymous".into(),
            key: PublicKey([0; 32]),
            timestamp_ms: now_ms(),
            method: method.to_ascii_uppercase(),
            path: target.to_string(),
            body_digest: digest(body),
            proof: Vec::new(),
        },
        actor_sig: None,
        enforced,
    }
}

/// The canonical intent bytes for `op`, signed by `member`: from the current task's admission, or
/// `system:apiserver` outside a request.
pub fn intent_for(op: &WriteOp, member: &SecretKey) -> Vec<u8> {
    let admission = ADMISSION.try_with(Admission::clone).unwrap_or_else(|_| {
        let key = match op {
            WriteOp::Create { key, .. }
            | WriteOp::Update { key, .. }
            | WriteOp::Delete { key, .. } => key,
        };
        let mut a = user("INTERNAL", key, b"", true);
        a.claim.actor = "system:apiserver".into();
        a
    });
    let Admission {
        mut claim,
        actor_sig,
        enforced,
    } = admission;
    if actor_sig.is_none() {
        claim.key = member.public();
    }
    Intent::admit(claim, actor_sig, enforced, member).encode()
}

/// What a signed request wants to write, as far as the API layer knows before running it.
#[derive(Debug, Clone)]
pub struct Write<'a> {
    /// The storage key.
    pub key: String,
    /// Create (POST), update (PUT/PATCH) or delete.
    pub op: Op,
    /// The request body as an object, when it is the new object (POST/PUT); None for PATCH/DELETE.
    pub body: Option<&'a Value>,
}

/// Checks a signed request's claim against `policy` and the current state; `Err` is the message
/// of the 403.
pub fn check(
    policy: &Policy,
    store: &Store,
    claim: &RequestClaim,
    sig: &[u8; 64],
    write: &Write<'_>,
) -> Result<(), String> {
    let now = now_ms();
    if claim.timestamp_ms.abs_diff(now) > MAX_CLOCK_SKEW_MS {
        return Err(format!(
            "NKO request timestamp {} is more than 5 minutes from the server clock",
            claim.timestamp_ms
        ));
    }
    if !claim.verify(sig) {
        return Err(format!(
            "NKO request signature of {} does not verify",
            claim.actor
        ));
    }
    match actor_kind(&claim.actor) {
        ActorKind::Controller(_) if policy.controllers.contains(&claim.key) => Ok(()),
        ActorKind::Controller(name) => Err(format!(
            "key {} is not a controller key of this cluster (controller {name})",
            claim.key.id()
        )),
        ActorKind::Node(name) => {
            let parse = |key: &str| -> Option<Value> {
                store
                    .get(key)
                    .and_then(|o| serde_json::from_str(&o.json).ok())
            };
            let published = parse(&authority::node_storage_key(name))
                .as_ref()
                .and_then(authority::published_key);
            let before = parse(&write.key);
            let op = match (write.op, &before) {
                (Op::Create, Some(_)) | (Op::Update, _) => Op::Update,
                (op, _) => op,
            };
            let target = Target {
                key: &write.key,
                op,
                before: before.as_ref(),
                after: write.body,
            };
            authority::authorize_node(name, &claim.key, &target, published)
        }
        _ => Err(format!(
            "NKO actor {:?} is not controller:<name> or node:<name>",
            claim.actor
        )),
    }
}
