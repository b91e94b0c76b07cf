//! # mock_k8
//!
//! A Kubernetes-style orchestrator in one binary: a watch-based API server whose every write is a
//! Raft entry (openraft) persisted in sled, driven by the real `kubectl`.
//!
//! # Layout
//! - [`config`]: the `run`/`init` configuration, the data directory and its identity file.
//! - [`store`]: the Raft-backed object store: durable batched writes, one cluster-wide
//!   `resourceVersion`, an in-memory object cache and the watch history.
//! - [`api`]: the HTTP API (axum): Kubernetes REST semantics, discovery, OpenAPI, tables, watch.
//! - [`nko`]: signed transitions in the server: key files, admission (403 checks), `verify`.
//! - [`manager`]: the reconcile loops `run` starts (built-in controllers, node agent pool).
//! - [`node_logs`]: the node agent's container log endpoint and the API server's proxy to it.
//! - [`cluster`]: the control-plane cluster over HTTP: Raft RPCs, joining, members.
//! - [`server`]: wires store and API together and runs them until shutdown.
//! - [`inproc`]: the in-process [`mock_k8_controllers::Client`]: the API router called without a
//!   socket, for the controllers that run inside the server.
//!
//! The resource model itself (kinds, quantities, selectors, validation, patches) is the leaf crate
//! [`mock_k8_schemas`].

pub mod api;
pub mod cluster;
pub mod config;
pub mod inproc;
pub mod manager;
pub mod nko;
pub mod node_agent;
pub mod node_log_endpoint;
pub mod node_logs;
pub mod node_logs_auth;
pub mod server;
pub mod store;
