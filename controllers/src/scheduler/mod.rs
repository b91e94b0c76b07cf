//! The scheduler's pure core, `f(P, N)`: given a pod, the nodes with the pods counted on them
//! (including pods bound but not yet observed) and a policy, decide where the pod goes — or why it
//! fits nowhere — with every input and score that produced the decision. No I/O, no async: the
//! scheduler controller feeds it from its caches, and the NKO verifier recomputes it with
//! [`verify()`].
//!
//! Semantics follow Kubernetes' scheduler framework
//! (<https://kubernetes.io/docs/concepts/scheduling-eviction/scheduling-framework/>): Filter plugins
//! return [`Status`] codes (`Unschedulable` vs `UnschedulableAndUnresolvable` decides requeueing),
//! Score plugins return `0..=100` with integer arithmetic, and unschedulable pods get Kubernetes'
//! `0/N nodes are available: …` message.
//!
//! # Layout
//! - [`framework`]: the [`FilterPlugin`] / [`ScorePlugin`] traits, [`Status`] and [`Code`], [`PodInfo`].
//! - [`requests`]: resource amounts as integers and a pod's requests as Kubernetes computes them.
//! - [`node_info`]: [`NodeInfo`], a node plus its counted (observed and assumed) pods.
//! - [`filters`]: NodeName, TaintToleration, NodeReady, NodeAffinity, NodeResourcesFit.
//! - [`scores`]: LeastAllocated, MostAllocated, BalancedAllocation, NodeAffinity, TaintToleration,
//!   PodSpread.
//! - [`policy`]: named policies (filters + weighted scores), [`policies`] for the API.
//! - [`search`]: which nodes a decision looks at (`percentageOfNodesToScore`, [`NodeSearch`]).
//! - [`evaluate`](mod@evaluate): the core walk, filter and score into reusable buffers ([`Scratch`]).
//! - [`decision`]: [`decide`] (the scheduler's bounded search), [`schedule`] (every node, with
//!   every node's evaluation), [`Decision`] (and its compact [`DecisionSummary`]), [`Unschedulable`].
//! - [`verify`](mod@verify): [`verify()`] and [`verify_summary`], the proof's V: recompute and compare.
//! - [`proof`]: the NKO binding proofs (scheduling, manual feasibility); [`replay`]: their V over a
//!   replayed history (roll back to the proof's revisions, recompute, roll forward).
//!
//! # Example
//! ```
//! use mock_k8_controllers::scheduler::{NodeInfo, Policy, schedule};
//! use k8s_openapi::api::core::v1::Pod;
//!
//! let nodes: Vec<NodeInfo> = Vec::new();
//! let err = schedule(&Pod::default(), &nodes, &Policy::default()).unwrap_err();
//! assert_eq!(err.message(), "no nodes available to schedule pods");
//! ```

pub mod decision;
pub mod evaluate;
pub mod filters;
pub mod framework;
pub mod node_info;
pub mod policy;
pub mod proof;
pub mod replay;
pub mod requests;
pub mod scores;
pub mod search;
pub mod verify;

#[cfg(test)]
mod cost_tests;
#[cfg(test)]
mod decision_tests;
#[cfg(test)]
mod search_tests;
#[cfg(test)]
pub(crate) mod testing;

pub use decision::{
    Decided, Decision, DecisionSummary, FilterOutcome, NodeEvaluation, PluginScore,
    UNSCHEDULABLE_REASON, Unschedulable, decide, schedule,
};
pub use evaluate::Scratch;
pub use framework::{Code, FilterPlugin, PodInfo, ScorePlugin, Status};
pub use node_info::{NodeInfo, PodSummary, pod_key};
pub use policy::{Policy, PolicyDescription, PolicyError, TIE_BREAK, policies};
pub use requests::Resources;
pub use search::{NodeSearch, NodesByName, num_feasible_nodes_to_find};
pub use verify::{verify, verify_summary};
