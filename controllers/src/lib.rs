//! # mock_k8_controllers
//!
//! The controller runtime mock_k8's reconcile loops are built on, in the style of kube-runtime, and
//! the built-in controllers. Depends only on [`mock_k8_schemas`]; talks to the API through the
//! [`client::Client`] trait (in-process in the server, over HTTP elsewhere).
//!
//! # Layout
//! - [`client`]: the `Client` trait and typed `Api<K>` access.
//! - [`watcher`]: list-then-watch streams that resume and re-list on 410.
//! - [`reflector`]: an indexed in-memory `Store` fed by a watcher.
//! - [`controller`]: the `Controller` (work queue, dedupe, backoff, bounded concurrency).
//! - [`scheduler`]: the scheduler's filters, scores and decisions (`f(P, N)`).
//! - [`container`]: the `ContainerRuntime` trait and `MockDocker`, its simulated in-process implementation.
//! - [`kubelet`]: pure pod-lifecycle logic (admission, CrashLoopBackOff, status, the per-pod plan, pod IPs).

pub mod client;
pub mod container;
pub mod controller;
pub mod kubelet;
pub mod reflector;
pub mod scheduler;
pub mod watcher;
