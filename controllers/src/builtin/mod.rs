//! The built-in controllers of mock_k8's controller manager, written only against the crate's public
//! runtime API ([`Client`], [`watcher`](crate::watcher), [`reflector`](crate::reflector),
//! [`Controller`](crate::controller::Controller), [`Recorder`](crate::events::Recorder)) and its pure cores
//! ([`scheduler`](crate::scheduler), [`endpoints`](crate::endpoints), [`nodehealth`](crate::nodehealth)).
//!
//! Every controller takes an `Arc<dyn Client>`, a config struct holding every timing (Kubernetes'
//! defaults), a [`ResultHook`] and a [`CancellationToken`]; its `run` returns once the token is cancelled
//! and its running reconciles have finished.
//!
//! # The result seam
//! Every write a built-in controller makes happens inside one reconcile of one object, and that reconcile's
//! result passes through the [`ResultHook`] given to `run` (the single place the NKO issue signs
//! results): bindings inside the scheduler's reconcile of the pod, Endpoints/EndpointSlices inside the
//! endpoints controller's reconcile of the Service (the clean-up after a Service deletion is reported as a
//! reconcile of the deleted Service), conditions, taints and evictions inside the node lifecycle
//! controller's reconcile of the Node. The scheduler's decisions, in their compact form
//! ([`DecisionSummary`](crate::scheduler::DecisionSummary): inputs, node counts, the chosen node's
//! scores), are kept in a bounded [`DecisionLog`], recorded *before* the binding is sent.
//!
//! # Layout
//! - [`scheduler`](mod@scheduler): [`SchedulerController`] — binds pending pods (`f(P, N)`), assumes
//!   bound-but-unobserved pods, records decisions, retries unschedulable pods on cluster changes.
//! - [`endpoints`](mod@endpoints): [`EndpointsController`] — Endpoints and EndpointSlices of Services with a
//!   selector (`D(S, E)`).
//! - [`nodehealth`](mod@nodehealth): [`NodeLifecycleController`] — `Ready=Unknown`, unreachable taints,
//!   not-ready pods and taint-based evictions for nodes whose heartbeats stopped.
//! - [`crate::workloads`]: [`ReplicaSetController`] and [`DeploymentController`] (`apps/v1`).
//! - [`crate::gc`]: [`GarbageCollector`] — cascading deletion through `ownerReferences`.
//! - this file: [`ControllerManagerConfig`], [`ControllerManager`], [`run_all`], [`Clock`], [`Error`].

pub mod endpoints;
pub mod nodehealth;
pub mod scheduler;

pub use crate::gc::{GarbageCollector, GcConfig};
pub use crate::workloads::{
    DeploymentConfig, DeploymentController, ReplicaSetConfig, ReplicaSetController,
};
pub use endpoints::{EndpointsConfig, EndpointsController};
pub use nodehealth::{NodeLifecycleConfig, NodeLifecycleController};
pub use scheduler::{DecisionLog, DecisionRecord, SchedulerConfig, SchedulerController};

use crate::client::Client;
use crate::controller::{self, ResultHook};
use crate::informer::Informers;
use futures::{Stream, StreamExt};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use mock_k8_schemas::ApiResource;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// Why a built-in controller could not start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// `--scheduler-policy` names no known policy (see [`crate::scheduler::policies`]).
    #[error("unknown scheduler policy {0:?}")]
    UnknownPolicy(String),
    /// A kind the controller needs is not in mock_k8's resource table (a build defect).
    #[error("resource {0} is not served")]
    ResourceNotServed(&'static str),
}

impl From<crate::informer::NotServed> for Error {
    fn from(e: crate::informer::NotServed) -> Self {
        Error::ResourceNotServed(e.0)
    }
}

/// The served resource of `kind` at `api_version`.
///
/// # Errors
/// [`Error::ResourceNotServed`] when the resource table lacks it.
pub fn resource(api_version: &str, kind: &'static str) -> Result<&'static ApiResource, Error> {
    mock_k8_schemas::resource::by_kind(api_version, kind).ok_or(Error::ResourceNotServed(kind))
}

/// A wall clock that advances with tokio's clock: the wall time when it was created plus the monotonic
/// time elapsed since. In production it reads like `Timestamp::now()` (and ignores wall-clock jumps, as
/// the lifecycle controller wants); under `tokio::time::pause()` it follows simulated time, so
/// `tolerationSeconds` and grace periods can be tested in virtual seconds.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    wall: Timestamp,
    start: tokio::time::Instant,
}

impl Default for Clock {
    fn default() -> Self {
        Clock::new()
    }
}

impl Clock {
    /// A clock reading the current wall time now.
    pub fn new() -> Self {
        Clock {
            wall: Timestamp::now(),
            start: tokio::time::Instant::now(),
        }
    }

    /// The current time, rounded down to whole seconds (the precision of Kubernetes `Time` fields).
    pub fn now(&self) -> Timestamp {
        let elapsed = SignedDuration::try_from(self.start.elapsed()).unwrap_or(SignedDuration::MAX);
        let t = self.wall.checked_add(elapsed).unwrap_or(Timestamp::MAX);
        Timestamp::from_second(t.as_second()).unwrap_or(t)
    }
}

/// The configuration of every built-in controller (each field documents its flag and default).
#[derive(Debug, Clone, Default)]
pub struct ControllerManagerConfig {
    /// The scheduler's settings (`--scheduler-policy`, scheduler name, requeue timings).
    pub scheduler: SchedulerConfig,
    /// The endpoints controller's settings.
    pub endpoints: EndpointsConfig,
    /// The node lifecycle controller's settings (`--node-monitor-period`, `--node-monitor-grace-period`,
    /// default toleration seconds).
    pub node_lifecycle: NodeLifecycleConfig,
    /// The ReplicaSet controller's settings.
    pub replicaset: ReplicaSetConfig,
    /// The Deployment controller's settings.
    pub deployment: DeploymentConfig,
    /// The garbage collector's settings.
    pub gc: GcConfig,
    /// Run the ReplicaSet and Deployment controllers and the garbage collector (`true`; off:
    /// `--workload-controllers=false`, Deployments and ReplicaSets are then only stored).
    pub workloads: WorkloadsSwitch,
}

/// Whether the workload controllers and the garbage collector run (on by default).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkloadsSwitch(pub bool);

impl Default for WorkloadsSwitch {
    fn default() -> Self {
        WorkloadsSwitch(true)
    }
}

/// The built-in controllers, created but not yet running; lets the caller take handles (the
/// scheduler's [`DecisionLog`]) before [`ControllerManager::run`].
pub struct ControllerManager {
    client: Arc<dyn Client>,
    informers: Option<Informers>,
    scheduler: SchedulerController,
    endpoints: EndpointsController,
    node_lifecycle: NodeLifecycleController,
    workloads: Option<(ReplicaSetController, DeploymentController, GarbageCollector)>,
}

impl ControllerManager {
    /// Creates the controllers (nothing runs, nothing is watched yet).
    ///
    /// # Errors
    /// [`Error::UnknownPolicy`] for an unknown `config.scheduler.policy`.
    pub fn new(client: Arc<dyn Client>, config: ControllerManagerConfig) -> Result<Self, Error> {
        Ok(ControllerManager {
            client: client.clone(),
            informers: None,
            scheduler: SchedulerController::new(client.clone(), config.scheduler)?,
            endpoints: EndpointsController::new(client.clone(), config.endpoints),
            node_lifecycle: NodeLifecycleController::new(client.clone(), config.node_lifecycle),
            workloads: config.workloads.0.then(|| {
                (
                    ReplicaSetController::new(client.clone(), config.replicaset),
                    DeploymentController::new(client.clone(), config.deployment),
                    GarbageCollector::new(client, config.gc),
                )
            }),
        })
    }

    /// Shares `informers` (pods, nodes) with the caller's other controllers, e.g. the node agent
    /// pool of the same process; the caller then stops them. By default the manager starts its
    /// own, shared by its controllers, and stops them when it stops.
    pub fn with_informers(mut self, informers: Informers) -> Self {
        self.informers = Some(informers);
        self
    }

    /// The scheduler's bounded log of decisions (for the NKO proofs).
    pub fn decisions(&self) -> DecisionLog {
        self.scheduler.decisions()
    }

    /// Runs the controllers in a `JoinSet`, each routing its reconcile results through `hook`,
    /// until `shutdown` is cancelled and all have stopped.
    ///
    /// # Errors
    /// The first start-up [`Error`] of a controller (the others are then cancelled and awaited).
    pub async fn run(
        self,
        hook: Arc<dyn ResultHook>,
        shutdown: CancellationToken,
    ) -> Result<(), Error> {
        let mut set = tokio::task::JoinSet::new();
        let child = shutdown.child_token();
        let (informers, own_informers) = match self.informers {
            Some(i) => (i, false),
            None => (Informers::new(self.client.clone(), child.clone()), true),
        };
        let i = informers.clone();
        set.spawn(
            self.scheduler
                .with_informers(i)
                .run(hook.clone(), child.clone()),
        );
        let i = informers.clone();
        set.spawn(
            self.endpoints
                .with_informers(i)
                .run(hook.clone(), child.clone()),
        );
        let i = informers.clone();
        set.spawn(
            self.node_lifecycle
                .with_informers(i)
                .run(hook.clone(), child.clone()),
        );
        if let Some((rs, deploy, gc)) = self.workloads {
            let i = informers.clone();
            set.spawn(rs.with_informers(i).run(hook.clone(), child.clone()));
            set.spawn(deploy.run(hook.clone(), child.clone()));
            set.spawn(
                gc.with_informers(informers.clone())
                    .run(hook, child.clone()),
            );
        }
        let mut first_err = None;
        while let Some(res) = set.join_next().await {
            match res {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "built-in controller failed to start");
                    child.cancel();
                    first_err.get_or_insert(e);
                }
                Err(e) => {
                    tracing::error!(error = %e, "built-in controller task panicked");
                    child.cancel();
                }
            }
        }
        if own_informers {
            child.cancel();
            informers.stopped().await;
        }
        first_err.map_or(Ok(()), Err)
    }
}

/// Runs the scheduler, the endpoints controller, the node lifecycle controller and (unless
/// switched off) the ReplicaSet and Deployment controllers and the garbage collector with `config`,
/// routing every reconcile result through `hook`; returns when `shutdown` is cancelled and all three have
/// stopped. Use [`ControllerManager`] to keep a handle on the scheduler's decisions.
///
/// # Errors
/// [`Error::UnknownPolicy`] for an unknown scheduler policy.
pub async fn run_all(
    client: Arc<dyn Client>,
    config: ControllerManagerConfig,
    hook: Arc<dyn ResultHook>,
    shutdown: CancellationToken,
) -> Result<(), Error> {
    ControllerManager::new(client, config)?
        .run(hook, shutdown)
        .await
}

/// The namespace (`default` when unset) and name (`""` when unset) of an object, for the client
/// verbs that take them apart.
pub fn namespace_and_name(
    meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
) -> (String, String) {
    let ns = meta.namespace.clone().unwrap_or_else(|| "default".into());
    (ns, meta.name.clone().unwrap_or_default())
}

/// Drains a [`Controller::run`](crate::controller::Controller::run) stream, logging failures at `warn`
/// with the controller's `name` (conflicts, HTTP 409 from the API, at `debug`: they are retried).
pub async fn drain<S, E>(name: &'static str, stream: S)
where
    S: Stream<Item = Result<(crate::ObjectRef, crate::Action), controller::Error<E>>>,
    E: std::error::Error + 'static,
{
    stream
        .for_each(|res| async move {
            match res {
                Ok((obj, action)) => {
                    tracing::trace!(controller = name, %obj, ?action, "reconciled")
                }
                Err(controller::Error::ObjectNotFound(_)) => {}
                // A 409 means the object changed under the reconcile: routine under concurrency,
                // retried with the fresh object, so not worth a warning.
                Err(controller::Error::ReconcilerFailed(ref inner, ref obj))
                    if (inner as &dyn std::error::Error)
                        .downcast_ref::<crate::client::ClientError>()
                        .is_some_and(|c| c.is_conflict()) =>
                {
                    tracing::debug!(controller = name, %obj, "reconcile conflicted; retrying");
                }
                Err(e) => tracing::warn!(controller = name, error = %e, "reconcile failed"),
            }
        })
        .await;
}

/// Runs `fut` until it completes or `shutdown` is cancelled.
pub async fn until_cancelled<F: std::future::Future<Output = ()>>(
    shutdown: &CancellationToken,
    fut: F,
) {
    tokio::select! {
        () = shutdown.cancelled() => {}
        () = fut => {}
    }
}

#[cfg(test)]
pub(crate) mod testing;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builtin::testing::{core, eventually, fake, stored};
    use crate::controller::ReconcileResult;
    use serde_json::{Value, json};
    use std::sync::Mutex;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn clock_should_follow_tokio_time() {
        let clock = Clock::new();
        let t0 = clock.now();
        tokio::time::sleep(Duration::from_secs(90)).await;
        assert_eq!(clock.now().duration_since(t0).as_secs(), 90);
    }

    #[tokio::test(start_paused = true)]
    async fn run_all_should_run_every_controller_through_one_hook_and_stop_on_cancel() {
        let (fake, client) = fake();
        let seen: Arc<Mutex<Vec<&'static str>>> = Arc::default();
        let s = seen.clone();
        let hook: Arc<dyn ResultHook> = Arc::new(move |r: &ReconcileResult<'_>| {
            s.lock().expect("lock").push(r.resource.kind);
        });
        let shutdown = CancellationToken::new();
        let manager = ControllerManager::new(client.clone(), ControllerManagerConfig::default())
            .expect("config");
        let decisions = manager.decisions();
        let task = tokio::spawn(manager.run(hook, shutdown.clone()));

        let node = json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"},
            "status": {"allocatable": {"cpu": "4", "pods": "10"},
                       "conditions": [{"type": "Ready", "status": "True"}]}});
        client.create(core("Node"), None, node).await.expect("node");
        let pod = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
            "spec": {"containers": [{"name": "c", "image": "nginx"}]}});
        client
            .create(core("Pod"), Some("default"), pod)
            .await
            .expect("pod");
        let svc = json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}});
        client
            .create(core("Service"), Some("default"), svc)
            .await
            .expect("svc");

        let bound = || {
            stored(&fake, core("Pod"), "default", "web").and_then(|p| {
                p.pointer("/spec/nodeName")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
        };
        assert!(eventually(Duration::from_secs(5), || bound().is_some()).await);
        assert!(decisions.get("default/web").is_some());
        assert!(
            eventually(Duration::from_secs(5), || stored(
                &fake,
                core("Endpoints"),
                "default",
                "web"
            )
            .is_some())
            .await
        );
        let kinds = seen.lock().expect("lock").clone();
        for kind in ["Pod", "Service", "Node"] {
            assert!(
                kinds.contains(&kind),
                "{kind} results reach the hook: {kinds:?}"
            );
        }
        shutdown.cancel();
        task.await.expect("join").expect("run");
    }

    #[test]
    fn controller_manager_should_reject_an_unknown_policy() {
        let (_, client) = fake();
        let mut config = ControllerManagerConfig::default();
        config.scheduler.policy = "Fastest".into();
        assert!(matches!(
            ControllerManager::new(client, config),
            Err(Error::UnknownPolicy(_))
        ));
    }
}
