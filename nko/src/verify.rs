//! The verifier V: replays transition records over the state they describe and checks every
//! signature, hash link, object digest, state commitment and authority rule (SPEC.md,
//! "Verification"). Pure: the caller feeds records in revision order from wherever they are
//! stored (a data directory, the records API).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use serde_json::Value;

use crate::authority::{self, Target};
use crate::keys::PublicKey;
use crate::lthash::LtHash;
use crate::proof::{ProofChecker, Transition, Verdict, kind_of};
use crate::record::{Checkpoint, Intent, Op, Record, digest};
use crate::request::{ActorKind, actor_kind};

/// The keys the auditor trusts: API server members (which admit writes and sign for users) and
/// controller managers. Node keys need no trust entry: Nodes publish them (see [`authority`]).
#[derive(Debug, Clone, Default)]
pub struct Trust {
    /// Member keys.
    pub members: BTreeSet<PublicKey>,
    /// Controller manager keys.
    pub controllers: BTreeSet<PublicKey>,
}

/// The first bad transition: its revision and what failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("revision {revision}: {what}")]
pub struct Failure {
    /// The revision of the transition that failed (for a stored object that differs from the
    /// replay: the object's resourceVersion).
    pub revision: u64,
    /// What failed.
    pub what: String,
}

/// What a successful verification saw.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Revision the replay started after (0, or a checkpoint's).
    pub from: u64,
    /// The last verified revision.
    pub to: u64,
    /// Transitions by resource (`core/pods`, `apps/deployments`, …).
    pub by_kind: BTreeMap<String, u64>,
    /// Transitions by actor (`user:anonymous`, `controller:scheduler`, `node:n1`, …).
    pub by_actor: BTreeMap<String, u64>,
    /// Checkpoints whose signature and values were checked.
    pub checkpoints: u64,
    /// Writes admitted with verification disabled whose actor signature or authority does not
    /// hold (revision, reason); they do not fail verification, as the record says so.
    pub unenforced: Vec<(u64, String)>,
    /// Records carrying a proof, by proof kind (`scheduling`, `endpoints`, …).
    pub proofs: BTreeMap<String, u64>,
    /// Whether a [`ProofChecker`] checked the proofs (without one, only steps 1–6 of V ran).
    pub proofs_checked: bool,
}

struct Obj {
    rv: u64,
    digest: [u8; 32],
    json: Arc<str>,
}

/// Replays records one by one; see the module docs.
pub struct Verifier {
    trust: Trust,
    revision: u64,
    head: [u8; 32],
    lthash: LtHash,
    objects: HashMap<String, Obj>,
    checkpoints: BTreeMap<u64, Checkpoint>,
    summary: Summary,
    checker: Option<Box<dyn ProofChecker>>,
}

fn fail(revision: u64, what: impl Into<String>) -> Failure {
    Failure {
        revision,
        what: what.into(),
    }
}

fn resource_of(key: &str) -> String {
    key.splitn(3, '/').take(2).collect::<Vec<_>>().join("/")
}

impl Verifier {
    /// A verifier starting from the empty state at revision 0.
    pub fn new(trust: Trust) -> Verifier {
        Verifier {
            trust,
            revision: 0,
            head: [0; 32],
            lthash: LtHash::default(),
            objects: HashMap::new(),
            checkpoints: BTreeMap::new(),
            summary: Summary::default(),
            checker: None,
        }
    }

    /// Checks proofs with `checker` (the kind-specific V, see [`crate::proof`]); it sees every
    /// record from here on, so install it before the first [`Verifier::step`].
    /// Objects of a checkpoint start are loaded into it first ([`ProofChecker::load`]).
    pub fn with_checker(mut self, mut checker: Box<dyn ProofChecker>) -> Verifier {
        for (key, o) in &self.objects {
            checker.load(key, &o.json);
        }
        self.summary.proofs_checked = true;
        self.checker = Some(checker);
        self
    }

    /// A verifier resuming at signed checkpoint `cp`, whose state is `objects` (key, revision,
    /// JSON). Checks the checkpoint's signature and that `objects` hash to its commitment.
    ///
    /// # Errors
    /// A [`Failure`] at the checkpoint's revision.
    pub fn from_checkpoint(
        trust: Trust,
        cp: &Checkpoint,
        objects: impl IntoIterator<Item = (String, u64, Arc<str>)>,
    ) -> Result<Verifier, Failure> {
        let mut v = Verifier::new(trust);
        v.check_checkpoint_signature(cp)?;
        for (key, rv, json) in objects {
            let d = digest(json.as_bytes());
            v.lthash.add(&key, &d);
            v.objects.insert(
                key,
                Obj {
                    rv,
                    digest: d,
                    json,
                },
            );
        }
        if LtHash::from_bytes(&cp.state).as_ref() != Some(&v.lthash) {
            return Err(fail(
                cp.revision,
                "checkpoint state does not match the objects",
            ));
        }
        v.revision = cp.revision;
        v.head = cp.head;
        v.summary.from = cp.revision;
        v.summary.to = cp.revision;
        v.summary.checkpoints = 1;
        Ok(v)
    }

    /// Registers a checkpoint to check when the replay reaches its revision.
    pub fn expect_checkpoint(&mut self, cp: Checkpoint) {
        self.checkpoints.insert(cp.revision, cp);
    }

    /// The last verified revision.
    pub fn revision(&self) -> u64 {
        self.revision
    }

    fn check_checkpoint_signature(&self, cp: &Checkpoint) -> Result<(), Failure> {
        if !self.trust.members.contains(&cp.signer) {
            return Err(fail(
                cp.revision,
                format!("checkpoint signed by untrusted key {}", cp.signer.id()),
            ));
        }
        if !cp.valid() {
            return Err(fail(cp.revision, "checkpoint signature does not verify"));
        }
        Ok(())
    }

    fn check_pending_checkpoint(&mut self) -> Result<(), Failure> {
        let Some(cp) = self.checkpoints.remove(&self.revision) else {
            return Ok(());
        };
        self.check_checkpoint_signature(&cp)?;
        if cp.head != self.head {
            return Err(fail(
                cp.revision,
                "checkpoint head differs from the record chain",
            ));
        }
        if LtHash::from_bytes(&cp.state).as_ref() != Some(&self.lthash) {
            return Err(fail(
                cp.revision,
                "checkpoint state commitment differs from the replay",
            ));
        }
        self.summary.checkpoints += 1;
        Ok(())
    }

    /// Verifies the next record (canonical bytes) and the stored object JSON it produced (`None`
    /// for a delete), then applies it.
    ///
    /// # Errors
    /// A [`Failure`] at the record's expected revision (`last + 1`).
    pub fn step(&mut self, record: &[u8], body: Option<&[u8]>) -> Result<(), Failure> {
        if self.revision == self.summary.from {
            self.check_pending_checkpoint()?;
        }
        let rev = self.revision + 1;
        let r = Record::decode(record)
            .map_err(|e| fail(rev, format!("record does not decode: {e}")))?;
        if r.revision != rev {
            return Err(fail(
                rev,
                format!("record says revision {}, expected {rev}", r.revision),
            ));
        }
        if r.prev != self.head {
            return Err(fail(rev, "hash link to the previous record is broken"));
        }
        let current = self.objects.get(&r.key);
        if r.before != current.map(|o| o.digest) {
            return Err(fail(
                rev,
                format!("digest of {} before differs from the replayed state", r.key),
            ));
        }
        match (r.op, r.before.is_some(), r.after.is_some()) {
            (Op::Create, false, true) | (Op::Update, true, true) | (Op::Delete, true, false) => {}
            _ => {
                return Err(fail(
                    rev,
                    "operation does not match the before/after digests",
                ));
            }
        }
        let after_json: Option<Arc<str>> = match (r.after, body) {
            (None, None) => None,
            (None, Some(_)) => return Err(fail(rev, "a delete carries an object")),
            (Some(_), None) => return Err(fail(rev, format!("the object {} is missing", r.key))),
            (Some(d), Some(b)) => {
                if digest(b) != d {
                    return Err(fail(
                        rev,
                        format!("stored object {} does not match its digest", r.key),
                    ));
                }
                let text = std::str::from_utf8(b).map_err(|_| fail(rev, "object is not UTF-8"))?;
                Some(text.into())
            }
        };
        let after_value: Option<Value> = match &after_json {
            None => None,
            Some(t) => {
                let v: Value =
                    serde_json::from_str(t).map_err(|_| fail(rev, "object is not JSON"))?;
                let rv = v
                    .pointer("/metadata/resourceVersion")
                    .and_then(Value::as_str);
                if rv != Some(rev.to_string().as_str()) {
                    return Err(fail(
                        rev,
                        "object resourceVersion differs from the revision",
                    ));
                }
                Some(v)
            }
        };
        if r.state_before != self.lthash.digest() {
            return Err(fail(rev, "state commitment before differs from the replay"));
        }
        let mut next = self.lthash.clone();
        if let Some(d) = &r.before {
            next.remove(&r.key, d);
        }
        if let Some(d) = &r.after {
            next.add(&r.key, d);
        }
        if r.state_after != next.digest() {
            return Err(fail(rev, "state commitment after differs from the replay"));
        }
        let intent = Intent::decode(&r.intent)
            .map_err(|e| fail(rev, format!("intent does not decode: {e}")))?;
        self.check_intent(rev, &r, &intent, after_value.as_ref())?;
        if let Some(kind) = kind_of(&intent.claim.proof) {
            *self.summary.proofs.entry(kind).or_default() += 1;
        }
        if let Some(checker) = self.checker.as_mut() {
            let t = Transition {
                revision: rev,
                key: &r.key,
                intent: &intent,
                before: self.objects.get(&r.key).map(|o| &*o.json),
                after: after_json.as_deref(),
            };
            match checker.check(&t) {
                Verdict::Accept => {}
                Verdict::Reject(why) => return Err(fail(rev, format!("proof: {why}"))),
                Verdict::RejectIfEnforced(why) if intent.enforced => {
                    return Err(fail(rev, format!("proof: {why}")));
                }
                Verdict::RejectIfEnforced(why) => {
                    self.summary.unenforced.push((rev, format!("proof: {why}")));
                }
            }
            checker.apply(&t);
        }

        *self.summary.by_kind.entry(resource_of(&r.key)).or_default() += 1;
        *self
            .summary
            .by_actor
            .entry(intent.claim.actor.clone())
            .or_default() += 1;
        self.lthash = next;
        match (after_json, r.after) {
            (Some(json), Some(d)) => {
                self.objects.insert(
                    r.key.clone(),
                    Obj {
                        rv: rev,
                        digest: d,
                        json,
                    },
                );
            }
            _ => {
                self.objects.remove(&r.key);
            }
        }
        self.head = r.hash();
        self.revision = rev;
        self.summary.to = rev;
        self.check_pending_checkpoint()
    }

    /// Admission signature (always), then the actor's signature and authority (failures of
    /// those on writes admitted with verification off are noted, not fatal).
    fn check_intent(
        &mut self,
        rev: u64,
        r: &Record,
        i: &Intent,
        after: Option<&Value>,
    ) -> Result<(), Failure> {
        if !self.trust.members.contains(&i.admitter) {
            return Err(fail(
                rev,
                format!("admitted by untrusted key {}", i.admitter.id()),
            ));
        }
        if !i.admission_valid() {
            return Err(fail(rev, "admission signature does not verify"));
        }
        let actor_check = self.check_actor(r, i, after);
        match actor_check {
            Ok(()) => Ok(()),
            Err(why) if i.enforced => Err(fail(rev, format!("{}: {why}", i.claim.actor))),
            Err(why) => {
                self.summary
                    .unenforced
                    .push((rev, format!("{}: {why}", i.claim.actor)));
                Ok(())
            }
        }
    }

    fn check_actor(&self, r: &Record, i: &Intent, after: Option<&Value>) -> Result<(), String> {
        let kind = actor_kind(&i.claim.actor);
        if let ActorKind::User(_) | ActorKind::System(_) = kind {
            return match (i.actor_sig, i.claim.key == i.admitter) {
                (None, true) => Ok(()),
                _ => Err("a user request must be signed by the admitting member".into()),
            };
        }
        match i.actor_sig_valid() {
            Some(true) => {}
            Some(false) => return Err("request signature does not verify".into()),
            None => return Err("request carries no actor signature".into()),
        }
        match kind {
            ActorKind::Controller(_) if self.trust.controllers.contains(&i.claim.key) => Ok(()),
            ActorKind::Controller(_) => Err(format!(
                "{} is not a trusted controller key",
                i.claim.key.id()
            )),
            ActorKind::Node(name) => {
                let before: Option<Value> = self
                    .objects
                    .get(&r.key)
                    .and_then(|o| serde_json::from_str(&o.json).ok());
                let published = self
                    .objects
                    .get(&authority::node_storage_key(name))
                    .and_then(|o| serde_json::from_str::<Value>(&o.json).ok())
                    .and_then(|n| authority::published_key(&n));
                let t = Target {
                    key: &r.key,
                    op: r.op,
                    before: before.as_ref(),
                    after,
                };
                authority::authorize_node(name, &i.claim.key, &t, published)
            }
            _ => Err("unknown actor kind".into()),
        }
    }

    /// Compares the replayed state with the stored objects (key, revision, JSON), e.g. the state
    /// tree of a data directory.
    ///
    /// # Errors
    /// A [`Failure`] at the revision of the first differing object (the stored one's, or the
    /// replayed one's when it is missing).
    pub fn check_state(
        &self,
        stored: impl IntoIterator<Item = (String, u64, Arc<str>)>,
    ) -> Result<(), Failure> {
        let mut seen = BTreeSet::new();
        let mut first: Option<Failure> = None;
        let mut note = |f: Failure| {
            if first.as_ref().is_none_or(|g| f.revision < g.revision) {
                first = Some(f);
            }
        };
        for (key, rv, json) in stored {
            match self.objects.get(&key) {
                None => note(fail(
                    rv,
                    format!("stored object {key} is not in the history"),
                )),
                Some(o) if o.rv != rv || o.digest != digest(json.as_bytes()) => note(fail(
                    rv.min(o.rv),
                    format!("stored object {key} differs from the history"),
                )),
                Some(_) => {}
            }
            seen.insert(key);
        }
        for (key, o) in &self.objects {
            if !seen.contains(key) {
                note(fail(
                    o.rv,
                    format!("object {key} of the history is missing from the store"),
                ));
            }
        }
        first.map_or(Ok(()), Err)
    }

    /// Ends the replay.
    ///
    /// # Errors
    /// A checkpoint beyond the last record (the history was cut short).
    pub fn finish(mut self) -> Result<Summary, Failure> {
        self.check_pending_checkpoint()?;
        if let Some((rev, _)) = self.checkpoints.iter().next() {
            return Err(fail(
                self.revision + 1,
                format!("history ends before checkpoint {rev}"),
            ));
        }
        Ok(self.summary)
    }
}

#[cfg(test)]
#[path = "verify_tests.rs"]
mod tests;
