use super::*;

fn intent(member: &SecretKey) -> Intent {
    let claim = RequestClaim {
        actor: "user:anonymous".into(),
        key: member.public(),
        timestamp_ms: 5,
        method: "POST".into(),
        path: "/api/v1/namespaces".into(),
        body_digest: digest(b"{}"),
        proof: Vec::new(),
    };
    Intent::admit(claim, None, true, member)
}

#[test]
fn intent_should_round_trip_and_carry_a_valid_admission() {
    let m = SecretKey::from_seed(&[3; 32]);
    let i = intent(&m);
    let back = Intent::decode(&i.encode()).unwrap();
    assert_eq!(back, i);
    assert!(back.admission_valid());
    assert_eq!(back.actor_sig_valid(), None);
    let mut bytes = i.encode();
    for at in [30, bytes.len() - 70, bytes.len() - 1] {
        bytes[at] ^= 1;
        let tampered = Intent::decode(&bytes);
        assert!(
            tampered.is_err() || !tampered.unwrap().admission_valid(),
            "byte {at}"
        );
        bytes[at] ^= 1;
    }
}

#[test]
fn record_should_round_trip_and_hash_every_field() {
    let m = SecretKey::from_seed(&[3; 32]);
    let r = Record {
        revision: 9,
        prev: [1; 32],
        op: Op::Update,
        key: "core/pods/default/p".into(),
        before: Some([2; 32]),
        after: Some([3; 32]),
        state_before: [4; 32],
        state_after: [5; 32],
        intent: intent(&m).encode(),
    };
    let bytes = r.encode();
    assert_eq!(Record::decode(&bytes).unwrap(), r);
    for at in 0..bytes.len() {
        let mut b = bytes.clone();
        b[at] ^= 0x40;
        if let Ok(other) = Record::decode(&b) {
            assert_ne!(other.hash(), r.hash(), "byte {at}");
        }
    }
    assert!(Record::decode(&bytes[..bytes.len() - 1]).is_err());
}

#[test]
fn checkpoint_should_verify_and_round_trip() {
    let m = SecretKey::from_seed(&[3; 32]);
    let cp = Checkpoint::sign(4, [7; 32], vec![0; 2048], &m);
    assert!(cp.valid());
    let back = Checkpoint::decode(&cp.encode()).unwrap();
    assert_eq!(back, cp);
    let mut forged = cp.clone();
    forged.revision = 5;
    assert!(!forged.valid());
}
