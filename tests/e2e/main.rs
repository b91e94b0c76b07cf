//! End-to-end tests: the real `mock_k8` binary on a free port, driven by real clients (the real
//! `kubectl`, the `kube` crate, plain HTTP). One test binary; each module is one area.
//!
//! Tests that need `kubectl` skip (with a printed message) when it is not installed, unless
//! `MOCK_K8_REQUIRE_KUBECTL=1`. The shared manifests are read from `../shared/manifests` beside the
//! repository (or `$MOCK_K8_MANIFESTS_DIR`).

mod agent_logs;
mod apply;
mod bench;
mod cli;
mod cluster;
mod docker;
mod docker_cluster;
mod kube_client;
mod kubectl;
mod logs;
mod manifests;
mod nko;
mod nko_checkpoint;
mod nko_endpoints;
mod orchestrator;
mod restart;
mod startup;
mod support;
mod wal_damage;
mod watch;
