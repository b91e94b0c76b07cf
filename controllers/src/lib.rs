//! # mock_k8_controllers
//!
//! The controller runtime mock_k8's reconcile loops are built on, in the style of kube-runtime, and
//! the built-in controllers. Depends only on [`mock_k8_schemas`]; talks to the API through the
//! [`client::Client`] trait (in-process in the server, over HTTP elsewhere).
//!
//! # Layout
//! - [`client`]: the `Client` trait and typed `Api<K>` access; `client::testing::FakeClient`.
//! - [`backoff`]: exponential backoff with jitter (watch retries, reconcile errors).
//! - [`watcher`]: list-then-watch streams that resume and re-list on 410.
//! - [`reflector`]: an indexed in-memory `Store` fed by a watcher.
//! - [`informer`]: a `SharedInformer` (one watch and one store of a resource, shared by every
//!   controller of the process, each subscribed to its changes) and the `Informers` factory.
//! - [`controller`]: the `Controller` (work queue, dedupe, backoff, bounded concurrency).
//! - [`events`]: a `Recorder` of Kubernetes Events (folded repeats, bounded cache).
//! - [`scheduler`]: the scheduler's filters, scores and decisions (`f(P, N)`).
//! - [`endpoints`]: a Service's Endpoints and EndpointSlices from its pods (`D(S, E)`), pure.
//! - [`ipalloc`]: ClusterIP and NodePort allocators.
//! - [`nodehealth`]: node-lifecycle decisions (Ready=Unknown, taints, evictions), pure.
//! - [`container`]: the `ContainerRuntime` trait and `MockDocker`, its simulated in-process implementation.
//! - [`kubelet`]: pure pod-lifecycle logic (admission, CrashLoopBackOff, status, the per-pod plan, pod IPs).
//! - [`builtin`]: the built-in controllers (scheduler, endpoints, node lifecycle, and the ones
//!   below) and `run_all`.
//! - [`workloads`]: the ReplicaSet and Deployment controllers (`apps/v1`).
//! - [`gc`]: the garbage collector (`ownerReferences`, propagation policies, finalizers).
//! - [`agent`]: the node agent (Node registration, Leases, pods on a `ContainerRuntime`), for one
//!   node or a pool of thousands of simulated ones.

pub mod agent;
pub mod backoff;
pub mod builtin;
pub mod client;
pub mod container;
pub mod controller;
pub mod endpoints;
pub mod events;
pub mod gc;
pub mod informer;
pub mod ipalloc;
pub mod kubelet;
pub mod nodehealth;
pub mod reflector;
pub mod scheduler;
pub mod watcher;
pub mod workloads;

pub use client::{Api, Client, ClientError};
pub use controller::{Action, Controller};
pub use reflector::{ObjectRef, Store};
