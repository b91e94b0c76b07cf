use super::*;
use serde_json::{Value, json};

/// `obj` as stored at revision `rev` (JSON with that resourceVersion).
fn at(mut obj: Value, rev: u64) -> String {
    obj["metadata"]["resourceVersion"] = json!(rev.to_string());
    obj.to_string()
}

fn pod(name: &str, ip: &str) -> Value {
    json!({
        "metadata": {"name": name, "namespace": "default", "uid": format!("uid-{name}"),
                     "labels": {"app": "web"}},
        "spec": {"containers": [{"name": "c", "image": "i"}], "nodeName": "n1"},
        "status": {"podIP": ip, "conditions": [{"type": "Ready", "status": "True"}]}
    })
}

/// Service `web` at 1, pod a at 2, pod b at 3: the controller computes at revision 3.
fn history() -> SchedulingReplay {
    let mut v = SchedulingReplay::new();
    let svc = json!({
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}
    });
    v.apply(1, "core/services/default/web", Some(&at(svc, 1)));
    v.apply(2, "core/pods/default/a", Some(&at(pod("a", "10.0.0.2"), 2)));
    v.apply(3, "core/pods/default/b", Some(&at(pod("b", "10.0.0.3"), 3)));
    v
}

/// D(S, E) at revision 3, as the controller would write it (with its label), as JSON.
fn honest(v: &mut SchedulingReplay) -> String {
    let svc = v.service_version("default/web", 1).unwrap();
    let pods: Vec<Pod> = v.pods_in("default").map(|p| p.as_ref().clone()).collect();
    let mut ep = compute_endpoints(&svc, &pods).unwrap();
    ep.metadata
        .labels
        .get_or_insert_with(Default::default)
        .insert("endpoints.kubernetes.io/managed-by".into(), "x".into());
    serde_json::to_string(&ep).unwrap()
}

fn proof(service_rv: u64, pods_rev: u64) -> Vec<u8> {
    EndpointsProof {
        kind: kinds::ENDPOINTS.into(),
        version: 1,
        service_resource_version: service_rv,
        pods_revision: pods_rev,
    }
    .to_bytes()
}

const KEY: &str = "core/endpoints/default/web";

#[test]
fn an_honest_recomputation_should_verify_after_later_pod_changes_are_rolled_back() {
    let mut v = history();
    let ep = honest(&mut v);
    // A pod arrives after the controller computed: V must judge on pods at revision 3.
    v.apply(4, "core/pods/default/c", Some(&at(pod("c", "10.0.0.4"), 4)));
    v.apply(5, "core/pods/default/a", None);
    assert_eq!(
        check(&mut v, 6, KEY, Some(&ep), &proof(1, 3), true),
        Verdict::Accept
    );
    // The roll-forward left the view as it was: the same proof at revision 5 would now differ.
    assert_eq!(v.pods_in("default").count(), 2);
}

#[test]
fn tampered_endpoints_should_fail_naming_the_revisions() {
    let mut v = history();
    let mut ep: Value = serde_json::from_str(&honest(&mut v)).unwrap();
    ep["subsets"][0]["addresses"]
        .as_array_mut()
        .unwrap()
        .push(json!({"ip": "10.9.9.9"}));
    let verdict = check(&mut v, 4, KEY, Some(&ep.to_string()), &proof(1, 3), true);
    let Verdict::Reject(why) = verdict else {
        panic!("accepted: {verdict:?}");
    };
    assert!(
        why.contains("Service revision 1 and pods revision 3"),
        "{why}"
    );
    assert!(why.contains("10.9.9.9"), "{why}");
}

#[test]
fn a_proof_naming_an_earlier_pods_revision_should_fail_when_the_pods_differ() {
    let mut v = history();
    let ep = honest(&mut v);
    // At revision 2 pod b did not exist: the same endpoints are not D(S, E) there.
    assert!(matches!(
        check(&mut v, 4, KEY, Some(&ep), &proof(1, 2), true),
        Verdict::Reject(_)
    ));
}

#[test]
fn a_controller_write_without_a_proof_should_fail_and_a_user_write_pass() {
    let mut v = history();
    let ep = honest(&mut v);
    let Verdict::Reject(why) = check(&mut v, 4, KEY, Some(&ep), &[], true) else {
        panic!("a controller write without a proof was accepted");
    };
    assert!(why.contains("carries no proof"), "{why}");
    assert_eq!(
        check(&mut v, 4, KEY, Some(&ep), &[], false),
        Verdict::Accept
    );
    // A delete needs no proof.
    assert_eq!(check(&mut v, 4, KEY, None, &[], true), Verdict::Accept);
}

#[test]
fn revisions_out_of_range_or_unknown_service_versions_should_fail() {
    let mut v = history();
    let ep = honest(&mut v);
    for (svc, pods) in [(1, 4), (2, 3), (7, 3)] {
        assert!(
            matches!(
                check(&mut v, 4, KEY, Some(&ep), &proof(svc, pods), true),
                Verdict::Reject(_)
            ),
            "service {svc} pods {pods}"
        );
    }
}
