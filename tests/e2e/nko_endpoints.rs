//! NKO endpoints proofs end to end (`nko/SPEC.md` §8.3): an Endpoints write signed with the
//! controller key whose subsets are not `D(S, E)` at the revisions its proof names is admitted
//! (the proof is not recomputed at admission) and `mock_k8 verify` fails at exactly its revision;
//! one without a proof fails too.

use crate::nko::{Signed, controller_key, running_pod, verify};
use crate::orchestrator::{Cluster, READY};
use crate::support::{list_rv, rv};
use mock_k8_controllers::endpoints::proof::EndpointsProof;
use reqwest::StatusCode;
use serde_json::{Value, json};

const EP: &str = "/api/v1/namespaces/default/endpoints/web";

/// Creates Service `web` selecting `app: nko`, one running pod, and waits for its endpoints.
async fn service_with_endpoints(c: &Cluster) -> (Value, Value) {
    let svc = json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"selector": {"app": "nko"}, "ports": [{"port": 80, "targetPort": 8080}]}
    });
    let svc = c
        .server
        .create("/api/v1/namespaces/default/services", &svc)
        .await;
    running_pod(c, "web-1", None).await;
    c.wait_for("endpoints of web", READY, || async {
        let (_, ep) = c.server.get(EP).await;
        match ep["subsets"][0]["addresses"].as_array().map(Vec::len) {
            Some(1) => Ok(()),
            _ => Err(format!("{ep}")),
        }
    })
    .await;
    let (_, ep) = c.server.get(EP).await;
    (svc, ep)
}

/// PUTs `ep` as the controller manager (its key), with `proof` bytes.
async fn put_as_controller(c: &Cluster, ep: &Value, proof: Vec<u8>) -> (StatusCode, Value) {
    let key = controller_key(c.server.data_dir());
    let put = Signed {
        method: "PUT",
        path: EP,
        content_type: "application/json",
        actor: "controller:kube-controller-manager",
        key: &key,
        proof,
    };
    put.send(c, ep).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_endpoints_write_should_fail_verification_at_its_revision() {
    let c = Cluster::start(&[]).await;
    let (svc, mut ep) = service_with_endpoints(&c).await;
    let (_, pods) = c.server.get("/api/v1/pods").await;
    let service: k8s_openapi::api::core::v1::Service = serde_json::from_value(svc).unwrap();
    let proof = EndpointsProof::new(&service, list_rv(&pods)).to_bytes();
    // An extra address nobody backs, signed by the controller identity with an honest-looking
    // proof.
    ep["subsets"][0]["addresses"]
        .as_array_mut()
        .unwrap()
        .push(json!({"ip": "10.250.0.99"}));
    let (code, written) = put_as_controller(&c, &ep, proof).await;
    assert!(code.is_success(), "{code}: {written}");
    let bad = rv(&written);
    let (ok, out, err) = verify(&["--server", &c.server.base()]);
    assert!(!ok, "a tampered endpoints write must fail: {out}");
    assert!(err.contains(&format!("revision {bad}:")), "{err}");
    assert!(err.contains("10.250.0.99"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_controller_endpoints_write_without_a_proof_should_fail_verification() {
    let c = Cluster::start(&[]).await;
    let (_, ep) = service_with_endpoints(&c).await;
    let mut ep = ep;
    ep["metadata"]["annotations"] = json!({"touched": "yes"});
    let (code, written) = put_as_controller(&c, &ep, Vec::new()).await;
    assert!(code.is_success(), "{code}: {written}");
    let (ok, out, err) = verify(&["--server", &c.server.base()]);
    assert!(!ok, "{out}");
    assert!(
        err.contains(&format!("revision {}:", rv(&written))) && err.contains("carries no proof"),
        "{err}"
    );
}
