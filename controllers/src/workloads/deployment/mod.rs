//! [`DeploymentController`]: rolls a Deployment's pod template out through ReplicaSets, as
//! Kubernetes' deployment controller does
//! (<https://kubernetes.io/docs/concepts/workloads/controllers/deployment/>).
//!
//! # Guarantees
//! - The Deployment owns (controller `ownerReference`) one ReplicaSet per template it has run,
//!   named `<deployment>-<hash>` with the [`hash::POD_TEMPLATE_HASH`] label on the set, its
//!   selector and its pods. Orphan sets matching the selector are adopted; owned ones that stop
//!   matching are released. Sets carry Kubernetes' annotations `deployment.kubernetes.io/revision`
//!   (also on the Deployment), `desired-replicas` and `max-replicas`.
//! - `RollingUpdate` grows the new set and shrinks old ones within `maxSurge` and
//!   `maxUnavailable` ([`rollout`]); `Recreate` scales every old set to 0, waits until their pods
//!   are gone, then scales the new set up.
//! - A change of `spec.replicas` outside a rollout is spread proportionally
//!   ([`rollout::proportional_scale`]); `kubectl scale` works through the `scale` subresource.
//! - `paused`: only scaling and status; no new set, no rollout.
//! - Old sets scaled to 0 beyond `revisionHistoryLimit` are deleted, oldest revision first, once
//!   a rollout is complete.
//! - Status and conditions per [`status`]; a Deployment marked for deletion only gets its
//!   status updated.
//! - Events (component `deployment-controller`): `ScalingReplicaSet`.

pub mod hash;
pub mod rollout;
mod sets;
pub mod status;
mod sync;

use crate::builtin::{Error, drain};
use crate::client::Client;
use crate::controller::{self, Controller, ResultHook};
use crate::events::{Recorder, Reporter};
use crate::reflector::{self, ObjectRef, Store};
use crate::watcher;
use futures::StreamExt;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The Events' reporting component.
pub const DEPLOYMENT_CONTROLLER: &str = "deployment-controller";

/// Settings of the [`DeploymentController`].
#[derive(Debug, Clone)]
pub struct DeploymentConfig {
    /// Concurrency, queue capacity and error backoff of the controller.
    pub controller: controller::Config,
    /// How often a `Recreate` rollout checks whether the old pods are gone (500 ms).
    pub recreate_poll: Duration,
}

impl Default for DeploymentConfig {
    fn default() -> Self {
        DeploymentConfig {
            controller: controller::Config::default(),
            recreate_poll: Duration::from_millis(500),
        }
    }
}

/// What every reconcile shares.
struct Ctx {
    client: Arc<dyn Client>,
    sets: Store<ReplicaSet>,
    /// ReplicaSets as this controller last wrote them, until the cache catches up (by
    /// `resourceVersion`): a sync never acts on a set older than its own last write.
    written: Mutex<HashMap<ObjectRef, Arc<ReplicaSet>>>,
    recorder: Recorder,
    config: DeploymentConfig,
}

/// The deployment controller.
pub struct DeploymentController {
    client: Arc<dyn Client>,
    config: DeploymentConfig,
}

/// The Deployments a ReplicaSet event concerns: its controller, or — for an orphan — those in its
/// namespace whose selector matches it.
fn set_to_deployments(deployments: &Store<Deployment>, rs: &ReplicaSet) -> Vec<ObjectRef> {
    super::owners_of_child(deployments, &rs.metadata, "Deployment", |o: &Deployment| {
        o.spec.as_ref().map(|s| &s.selector)
    })
}

impl DeploymentController {
    /// A controller with `config` (nothing runs until [`DeploymentController::run`]).
    pub fn new(client: Arc<dyn Client>, config: DeploymentConfig) -> Self {
        DeploymentController { client, config }
    }

    /// Watches Deployments and ReplicaSets and rolls Deployments out until `shutdown` is
    /// cancelled; every reconcile result passes through `hook`.
    ///
    /// # Errors
    /// [`Error::ResourceNotServed`] when a needed kind is not in the resource table.
    pub async fn run(
        self,
        hook: Arc<dyn ResultHook>,
        shutdown: CancellationToken,
    ) -> Result<(), Error> {
        let deployments = crate::builtin::resource("apps/v1", "Deployment")?;
        let sets = crate::builtin::resource("apps/v1", "ReplicaSet")?;
        crate::builtin::resource("v1", "Pod")?;
        let controller = Controller::<Deployment>::new(
            self.client.clone(),
            deployments,
            watcher::Config::default(),
        );
        let d_store = controller.store();
        let (set_store, set_writer) = reflector::store::<ReplicaSet>();
        let triggers = reflector::reflector(
            set_writer,
            watcher::watcher(self.client.clone(), sets, watcher::Config::default()),
        )
        .flat_map(move |ev| {
            let keys = match ev {
                Ok(ev) => match ev
                    .object()
                    .map(|o| serde_json::from_value::<ReplicaSet>(o.clone()))
                {
                    Some(Ok(rs)) => set_to_deployments(&d_store, &rs),
                    _ => Vec::new(),
                },
                Err(e) => {
                    tracing::debug!(error = %e, "deployment: replicaset watch error (retrying)");
                    Vec::new()
                }
            };
            futures::stream::iter(keys)
        });
        let ctx = Arc::new(Ctx {
            client: self.client.clone(),
            sets: set_store,
            written: Mutex::default(),
            recorder: Recorder::new(
                self.client.clone(),
                Reporter {
                    component: DEPLOYMENT_CONTROLLER.into(),
                    instance: None,
                },
            ),
            config: self.config.clone(),
        });
        let controller = controller
            .with_config(self.config.controller)
            .with_result_hook(hook)
            .graceful_shutdown_on(shutdown.clone())
            .reconcile_on(triggers);
        drain(
            "deployment",
            controller.run(sync::reconcile, controller::default_error_policy, ctx),
        )
        .await;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
