//! Real containers: the `ContainerRuntime` conformance suite on both runtimes, and pods run by
//! `mock_k8 run --runtime docker` on the local Docker Engine (see [`support`] for the skip rule
//! and the locally built images).

mod bad_input;
mod conformance;
mod pods;
pub mod support;
