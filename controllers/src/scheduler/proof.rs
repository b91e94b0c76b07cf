//! The scheduling proofs NKO records with a binding (`nko/SPEC.md` §8): what the scheduler sends in
//! `X-Nko-Proof` with its binding request ([`SchedulingProof`], `π = G(P, N, d)`), and what the API
//! server attaches to a binding made by hand ([`BindingFeasibilityProof`]). Both are JSON, camelCase.
//! [`super::replay`] checks them against a replayed history.

use mock_k8_nko::proof::kinds;
use serde::{Deserialize, Serialize};

use super::decision::DecisionSummary;

/// A pod the scheduler counted as assumed (bound by it, not yet observed bound) when it decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AssumedPod {
    /// `namespace/name`.
    pub pod: String,
    /// The node it was counted on.
    pub node: String,
}

/// `π = G(P, N, d)` for one binding made by the scheduler.
///
/// The scheduler decides on two watch caches, nodes and pods, each exactly the state of its
/// resource at the last revision it applied; so the proof names both revisions. `P` is the pod at
/// `podResourceVersion` — that revision's record holds the digest of its stored bytes, so the
/// version names the pod's digest. `N` is every node at `nodesRevision` with the bound,
/// non-terminal pods of `podsRevision` counted on it, plus the [`AssumedPod`]s.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SchedulingProof {
    /// Always [`kinds::SCHEDULING`].
    pub kind: String,
    /// Proof format version (1).
    pub version: u32,
    /// `metadata.uid` of the pod as the scheduler saw it.
    pub pod_uid: Option<String>,
    /// `metadata.resourceVersion` of the pod version the decision was made for.
    pub pod_resource_version: u64,
    /// The revision of the scheduler's node cache (last node event applied).
    pub nodes_revision: u64,
    /// The revision of the scheduler's pod cache (last pod event applied).
    pub pods_revision: u64,
    /// The pods counted as assumed, with their nodes, sorted by pod.
    pub assumed: Vec<AssumedPod>,
    /// The decision `d` and what produced it: policy, weights, filters, tie-break, node count,
    /// feasible-node count, chosen node, its per-plugin scores and total. Its `assumedPods` may be
    /// left empty: it is then the pods of [`SchedulingProof::assumed`] (the scheduler sends it so,
    /// to carry the list once).
    pub decision: DecisionSummary,
}

impl SchedulingProof {
    /// The canonical bytes sent in `X-Nko-Proof` (compact JSON; the signature covers them as sent).
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// The proof of a binding made by hand: no decision to recompute, only that the pod fit the node
/// (NodeResourcesFit: requests within allocatable, pod count within `pods`) in the state the
/// binding was committed on. `kind` is [`kinds::BINDING_FEASIBILITY`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BindingFeasibilityProof {
    /// Always [`kinds::BINDING_FEASIBILITY`].
    pub kind: String,
    /// The target node.
    pub node: String,
    /// Always `"feasibility only: a manual binding is not a scheduling decision"`.
    pub note: String,
}

impl BindingFeasibilityProof {
    /// The proof for a manual binding to `node`, as bytes.
    pub fn bytes_for(node: &str) -> Vec<u8> {
        let p = BindingFeasibilityProof {
            kind: kinds::BINDING_FEASIBILITY.to_owned(),
            node: node.to_owned(),
            note: "feasibility only: a manual binding is not a scheduling decision".to_owned(),
        };
        serde_json::to_vec(&p).unwrap_or_default()
    }
}
