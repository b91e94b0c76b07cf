//! The NKO endpoints proof (`nko/SPEC.md` §8.3): what the endpoints controller sends in
//! `X-Nko-Proof` with each write of an `Endpoints` object ([`EndpointsProof`]: the Service version
//! and the pod-store revision it computed `D(S, E)` from), and its V over a replayed history
//! ([`check`]): roll the pods back to that revision, recompute [`compute_endpoints`] with the
//! Service as stored at that version, and accept only the same subsets ([`subsets_equal`]).
//!
//! The replayed view is the scheduling proofs' ([`SchedulingReplay`]): one view of nodes, pods and
//! Services, with the roll-back window shared by both proof kinds.

use k8s_openapi::api::core::v1::{Endpoints, Pod};
use mock_k8_nko::proof::{Verdict, kind_of, kinds};
use serde::{Deserialize, Serialize};

use super::{compute_endpoints, service_selector, subsets_equal};
use crate::scheduler::replay::SchedulingReplay;

/// `π` for one `Endpoints` write: `D(S, E)` with `S` the Service at `serviceResourceVersion` and `E`
/// the pods at `podsRevision`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointsProof {
    /// Always [`kinds::ENDPOINTS`].
    pub kind: String,
    /// Proof format version (1).
    pub version: u32,
    /// `metadata.resourceVersion` of the Service the endpoints were computed for.
    pub service_resource_version: u64,
    /// The revision of the controller's pod store (the last pod event it applied): `E` is every
    /// pod as stored at that revision.
    pub pods_revision: u64,
}

impl EndpointsProof {
    /// The proof for endpoints computed from `service` (its `resourceVersion`, 0 when absent) and
    /// the pods of a store at `pods_revision`.
    pub fn new(service: &k8s_openapi::api::core::v1::Service, pods_revision: u64) -> Self {
        EndpointsProof {
            kind: kinds::ENDPOINTS.to_owned(),
            version: 1,
            service_resource_version: service
                .metadata
                .resource_version
                .as_deref()
                .and_then(|r| r.parse().ok())
                .unwrap_or(0),
            pods_revision,
        }
    }

    /// The bytes sent in `X-Nko-Proof` (compact JSON; the request signature covers them as sent).
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// `namespace/name` of an `Endpoints` storage key `core/endpoints/<ns>/<name>`.
fn endpoints_key(key: &str) -> Option<&str> {
    key.strip_prefix("core/endpoints/")
        .filter(|k| k.split('/').count() == 2)
}

/// V for transition `rev` of `key` to `after` (JSON; `None`: a delete) with `proof` bytes, on
/// `view` holding the state before it. Not an `Endpoints` create or update: accept. An
/// `Endpoints` write by a controller must carry an [`EndpointsProof`] (else it fails); a write
/// by anyone else carrying one is checked the same way; a write by anyone else without one is
/// accepted (endpoints of a Service without a selector are written by hand).
pub fn check(
    view: &mut SchedulingReplay,
    rev: u64,
    key: &str,
    after: Option<&str>,
    proof: &[u8],
    by_controller: bool,
) -> Verdict {
    let (Some(ep_key), Some(after)) = (endpoints_key(key), after) else {
        return Verdict::Accept;
    };
    let reject = |why: String| Verdict::Reject(format!("endpoints proof for {ep_key}: {why}"));
    let p = match kind_of(proof).as_deref() {
        Some(kinds::ENDPOINTS) => match serde_json::from_slice::<EndpointsProof>(proof) {
            Ok(p) => p,
            Err(e) => return reject(format!("does not parse: {e}")),
        },
        None if by_controller => return reject("a controller's write carries no proof".into()),
        None => return Verdict::Accept,
        Some(other) => {
            return reject(format!(
                "an Endpoints write cannot carry a proof of kind {other:?}"
            ));
        }
    };
    let written: Endpoints = match serde_json::from_str(after) {
        Ok(e) => e,
        Err(e) => return reject(format!("the written object does not parse: {e}")),
    };
    for (what, r) in [
        ("service", p.service_resource_version),
        ("pods", p.pods_revision),
    ] {
        if !SchedulingReplay::reaches(r, rev) {
            return reject(format!(
                "{what} revision {r} is not within {} revisions before {rev}",
                crate::scheduler::replay::WINDOW
            ));
        }
    }
    let Some(service) = view.service_version(ep_key, p.service_resource_version) else {
        return reject(format!(
            "no version {} of Service {ep_key} in the history",
            p.service_resource_version
        ));
    };
    let ns = ep_key.split('/').next().unwrap_or_default();
    // Only the selected pods are copied (D ignores the others): a namespace may hold thousands.
    let selector = service_selector(&service);
    let empty = std::collections::BTreeMap::new();
    let recomputed = view.rolled_back(u64::MAX, p.pods_revision, |v| {
        let pods: Vec<Pod> = v
            .pods_in(ns)
            .filter(|p| {
                selector
                    .as_ref()
                    .is_some_and(|s| s.matches(p.metadata.labels.as_ref().unwrap_or(&empty)))
            })
            .map(|p| p.as_ref().clone())
            .collect();
        compute_endpoints(&service, &pods)
    });
    match recomputed {
        None => reject(format!(
            "Service {ep_key} at revision {} has no selector: D gives no endpoints",
            p.service_resource_version
        )),
        Some(d) if subsets_equal(&d, &written) => Verdict::Accept,
        Some(d) => reject(format!(
            "subsets differ from D(S, E) recomputed at Service revision {} and pods revision {}: \
             written {}, recomputed {}",
            p.service_resource_version,
            p.pods_revision,
            serde_json::to_string(&written.subsets).unwrap_or_default(),
            serde_json::to_string(&d.subsets).unwrap_or_default(),
        )),
    }
}

#[cfg(test)]
#[path = "proof_tests.rs"]
mod tests;
