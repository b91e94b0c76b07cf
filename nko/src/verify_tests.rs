use super::*;
use crate::chain::Chain;
use crate::keys::SecretKey;
use crate::request::RequestClaim;
use proptest::prelude::*;
use serde_json::json;

/// Builds histories the way the store does: intents admitted by `member`, records by [`Chain`].
struct History {
    member: SecretKey,
    controller: SecretKey,
    chain: Chain,
    state: BTreeMap<String, Arc<str>>,
    log: Vec<(Vec<u8>, Option<Vec<u8>>)>,
    enforced: bool,
}

impl History {
    fn new() -> History {
        History {
            member: SecretKey::from_seed(&[1; 32]),
            controller: SecretKey::from_seed(&[2; 32]),
            chain: Chain::default(),
            state: BTreeMap::new(),
            log: Vec::new(),
            enforced: true,
        }
    }

    fn trust(&self) -> Trust {
        Trust {
            members: [self.member.public()].into(),
            controllers: [self.controller.public()].into(),
        }
    }

    /// Writes `object` (None = delete) at `key` as `actor`, signed by `signer` (None: the member
    /// signs for a user).
    fn write(&mut self, key: &str, object: Option<Value>, actor: &str, signer: Option<&SecretKey>) {
        let rev = self.chain.revision + 1;
        let json: Option<String> = object.map(|mut o| {
            o["metadata"]["resourceVersion"] = json!(rev.to_string());
            o.to_string()
        });
        let key_of = signer.unwrap_or(&self.member).public();
        let claim = RequestClaim {
            actor: actor.into(),
            key: key_of,
            timestamp_ms: rev,
            method: if json.is_some() { "PUT" } else { "DELETE" }.into(),
            path: format!("/{key}"),
            body_digest: digest(json.as_deref().unwrap_or("").as_bytes()),
            proof: Vec::new(),
        };
        let sig = signer.map(|s| claim.sign(s));
        let intent = Intent::admit(claim, sig, self.enforced, &self.member).encode();
        let before = self.state.get(key).map(|j| digest(j.as_bytes()));
        let after = json.as_ref().map(|j| digest(j.as_bytes()));
        let record = self
            .chain
            .append(key, before, after, &intent)
            .expect("a change");
        match &json {
            Some(j) => self.state.insert(key.into(), j.as_str().into()),
            None => self.state.remove(key),
        };
        self.log
            .push((record.encode(), json.map(String::into_bytes)));
    }

    fn stored(&self) -> Vec<(String, u64, Arc<str>)> {
        self.state
            .iter()
            .map(|(k, j)| {
                let v: Value = serde_json::from_str(j).unwrap();
                let rv = v["metadata"]["resourceVersion"]
                    .as_str()
                    .unwrap()
                    .parse()
                    .unwrap();
                (k.clone(), rv, j.clone())
            })
            .collect()
    }

    fn checkpoint(&self) -> Checkpoint {
        Checkpoint::sign(
            self.chain.revision,
            self.chain.head,
            self.chain.lthash.to_bytes(),
            &self.member,
        )
    }

    fn verify(&self, log: &[(Vec<u8>, Option<Vec<u8>>)]) -> Result<Summary, Failure> {
        let mut v = Verifier::new(self.trust());
        v.expect_checkpoint(self.checkpoint());
        for (r, b) in log {
            v.step(r, b.as_deref())?;
        }
        v.check_state(self.stored())?;
        v.finish()
    }
}

fn node(name: &str, key: &SecretKey) -> Value {
    json!({"metadata": {"name": name, "annotations": {authority::NODE_KEY_ANNOTATION: key.public().id()}}})
}

fn pod(name: &str, node: Option<&str>) -> Value {
    json!({"metadata": {"name": name}, "spec": {"nodeName": node}})
}

/// Users, the scheduler and two node agents, each writing what it may.
fn cluster() -> (History, SecretKey, SecretKey) {
    let (a, b) = (
        SecretKey::from_seed(&[10; 32]),
        SecretKey::from_seed(&[11; 32]),
    );
    let mut h = History::new();
    h.write(
        "core/namespaces//ns",
        Some(json!({"metadata": {"name": "ns"}})),
        "user:anonymous",
        None,
    );
    h.write("core/nodes//a", Some(node("a", &a)), "node:a", Some(&a));
    h.write("core/nodes//b", Some(node("b", &b)), "node:b", Some(&b));
    h.write(
        "core/pods/ns/p",
        Some(pod("p", None)),
        "user:anonymous",
        None,
    );
    let ctrl = h.controller.clone();
    h.write(
        "core/pods/ns/p",
        Some(pod("p", Some("a"))),
        "controller:scheduler",
        Some(&ctrl),
    );
    h.write(
        "core/pods/ns/p",
        Some(pod("p", Some("a"))),
        "node:a",
        Some(&a),
    );
    h.write(
        "core/pods/ns/q",
        Some(pod("q", None)),
        "user:anonymous",
        None,
    );
    h.write("core/pods/ns/q", None, "user:anonymous", None);
    (h, a, b)
}

#[test]
fn an_honest_history_should_verify_with_a_summary() {
    let (h, _, _) = cluster();
    let s = h.verify(&h.log).unwrap();
    assert_eq!((s.from, s.to, s.checkpoints), (0, 8, 1));
    assert_eq!(s.by_kind["core/pods"], 5);
    assert_eq!(s.by_actor["node:a"], 2);
    assert!(s.unenforced.is_empty());
}

#[test]
fn flipping_any_byte_of_a_record_or_object_should_fail_at_exactly_that_revision() {
    let (h, _, _) = cluster();
    for (i, (record, body)) in h.log.iter().enumerate() {
        let rev = i as u64 + 1;
        for at in 0..record.len() {
            let mut log = h.log.clone();
            log[i].0[at] ^= 0x01;
            let err = h.verify(&log).unwrap_err();
            assert_eq!(err.revision, rev, "record {rev} byte {at}: {err}");
        }
        if let Some(body) = body {
            for at in [0, body.len() / 2, body.len() - 1] {
                let mut log = h.log.clone();
                log[i].1.as_mut().unwrap()[at] ^= 0x01;
                assert_eq!(h.verify(&log).unwrap_err().revision, rev);
            }
        }
    }
}

#[test]
fn a_tampered_stored_object_should_fail_at_its_revision() {
    let (mut h, _, _) = cluster();
    let j = h.state["core/nodes//b"].replace("\"b\"", "\"c\"");
    h.state.insert("core/nodes//b".into(), j.into());
    let err = h.verify(&h.log).unwrap_err();
    assert_eq!(err.revision, 3, "{err}");
}

#[test]
fn a_status_write_for_a_pod_on_node_a_signed_by_node_b_should_fail() {
    let (mut h, _, b) = cluster();
    h.write(
        "core/pods/ns/p",
        Some(pod("p", Some("a"))),
        "node:b",
        Some(&b),
    );
    let err = h.verify(&h.log).unwrap_err();
    assert_eq!(err.revision, 9);
    assert!(err.what.contains("bound to a, not to node b"), "{err}");
    // Claiming to be node a with node b's key fails too.
    let (mut h, _, b) = cluster();
    h.write(
        "core/pods/ns/p",
        Some(pod("p", Some("a"))),
        "node:a",
        Some(&b),
    );
    assert!(h.verify(&h.log).unwrap_err().what.contains("published key"));
}

#[test]
fn with_verification_disabled_violations_should_be_reported_not_fatal() {
    let (mut h, _, b) = cluster();
    h.enforced = false;
    h.write(
        "core/pods/ns/p",
        Some(pod("p", Some("a"))),
        "node:b",
        Some(&b),
    );
    let s = h.verify(&h.log).unwrap();
    assert_eq!(s.unenforced.len(), 1);
    assert_eq!(s.unenforced[0].0, 9);
}

#[test]
fn untrusted_admitters_controllers_and_forged_user_requests_should_fail() {
    let (h, _, _) = cluster();
    let mut v = Verifier::new(Trust {
        members: BTreeSet::new(),
        ..h.trust()
    });
    assert!(
        v.step(&h.log[0].0, h.log[0].1.as_deref())
            .unwrap_err()
            .what
            .contains("untrusted")
    );
    let mut v = Verifier::new(Trust {
        controllers: BTreeSet::new(),
        ..h.trust()
    });
    let err = (|| {
        for (r, b) in &h.log {
            v.step(r, b.as_deref())?;
        }
        Ok::<(), Failure>(())
    })()
    .unwrap_err();
    assert_eq!(err.revision, 5, "the scheduler's binding: {err}");
}

#[test]
fn replaying_the_same_history_twice_should_give_the_same_commitments() {
    let (h1, _, _) = cluster();
    let (h2, _, _) = cluster();
    assert_eq!(h1.chain, h2.chain);
    assert_eq!(h1.log, h2.log);
}

#[test]
fn verification_should_resume_from_a_checkpoint_and_catch_a_cut_history() {
    let (mut h, _, _) = cluster();
    let cp = h.checkpoint();
    let stored = h.stored();
    h.write(
        "core/pods/ns/z",
        Some(pod("z", None)),
        "user:anonymous",
        None,
    );
    let mut v = Verifier::from_checkpoint(h.trust(), &cp, stored.clone()).unwrap();
    v.step(&h.log[8].0, h.log[8].1.as_deref()).unwrap();
    assert_eq!(v.finish().unwrap().to, 9);
    let mut bad = stored;
    bad.pop();
    assert!(Verifier::from_checkpoint(h.trust(), &cp, bad).is_err());
    let err = h.verify(&h.log[..7]).unwrap_err();
    assert!(
        err.what.contains("checkpoint") || err.what.contains("missing"),
        "{err}"
    );
}

#[derive(Debug, Clone)]
enum Action {
    Put(u8),
    Delete(u8),
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        (0u8..6).prop_map(Action::Put),
        (0u8..6).prop_map(Action::Delete)
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Random writes verify; any single byte mutation of the log fails verification.
    #[test]
    fn random_histories_verify_and_any_mutation_fails(
        actions in prop::collection::vec(action(), 1..12),
        pick in any::<prop::sample::Index>(),
        byte in any::<prop::sample::Index>(),
        bit in 0u8..8,
    ) {
        let mut h = History::new();
        h.write("core/namespaces//ns", Some(json!({"metadata": {"name": "ns"}})), "user:anonymous", None);
        for (i, a) in actions.iter().enumerate() {
            match a {
                Action::Put(n) => {
                    let key = format!("core/pods/ns/p{n}");
                    h.write(&key, Some(json!({"metadata": {"name": format!("p{n}")}, "i": i})), "user:anonymous", None);
                }
                Action::Delete(n) => {
                    let key = format!("core/pods/ns/p{n}");
                    if h.state.contains_key(&key) {
                        h.write(&key, None, "user:anonymous", None);
                    }
                }
            }
        }
        prop_assert!(h.verify(&h.log).is_ok());
        let i = pick.index(h.log.len());
        let mut log = h.log.clone();
        let at = byte.index(log[i].0.len());
        log[i].0[at] ^= 1 << bit;
        let err = h.verify(&log).unwrap_err();
        prop_assert_eq!(err.revision, i as u64 + 1);
    }
}
