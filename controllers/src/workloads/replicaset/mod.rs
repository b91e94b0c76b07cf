//! [`ReplicaSetController`]: keeps `spec.replicas` pods matching `spec.selector` running from
//! `spec.template`, as Kubernetes' ReplicaSet controller does
//! (<https://kubernetes.io/docs/concepts/workloads/controllers/replicaset/>).
//!
//! # Guarantees
//! - Pods it creates carry a controller `ownerReference` (`controller`, `blockOwnerDeletion`) to
//!   the set and are named `<set>-<5 random characters>` (`generateName`).
//! - **Claiming** ([`sync`]): a pod without a controller reference that matches the selector is
//!   adopted (the reference is added); an owned pod that stops matching is released (the
//!   reference is removed) and no longer counts, so a replacement is created.
//! - **Scaling**: too few active pods (not `Succeeded`/`Failed`, not being deleted) → creates in
//!   slow-start batches of 1, 2, 4 … (at most [`ReplicaSetConfig::burst_replicas`] per sync,
//!   stopping at the first failure); too many → deletes the first ones of the [`rank`] order.
//!   Nothing is created or deleted again until the pod cache shows the last round
//!   ([`expectations::Expectations`]); a set whose pods keep failing waits longer before each
//!   round of replacements ([`expectations::CreateBackoff`]). A set marked for deletion is
//!   never scaled.
//! - **Status** ([`status`]): `replicas`, `fullyLabeledReplicas`, `readyReplicas`,
//!   `availableReplicas` (ready for `minReadySeconds`, re-checked when that time comes),
//!   `observedGeneration`, the `ReplicaFailure` condition; written only when it changes.
//! - Events (component `replicaset-controller`): `SuccessfulCreate`, `SuccessfulDelete`,
//!   `FailedCreate`, `FailedDelete`.

pub mod expectations;
pub mod rank;
pub mod status;
mod sync;

use crate::builtin::{Error, drain};
use crate::client::Client;
use crate::controller::{self, Controller, ResultHook};
use crate::events::{Recorder, Reporter};
use crate::informer::{Informers, ScopedInformers};
use crate::reflector::{ObjectRef, Store};
use crate::watcher;
use expectations::{CreateBackoff, Expectations};
use futures::StreamExt;
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::Pod;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The Events' reporting component.
pub const REPLICASET_CONTROLLER: &str = "replicaset-controller";

/// Settings of the [`ReplicaSetController`].
#[derive(Debug, Clone)]
pub struct ReplicaSetConfig {
    /// Concurrency, queue capacity and error backoff of the controller.
    pub controller: controller::Config,
    /// Most pods created or deleted by one sync (Kubernetes' `BurstReplicas`, 500).
    pub burst_replicas: usize,
    /// How long a set waits for the cache to show its last creates and deletes before acting
    /// anyway (Kubernetes' expectations timeout is 5 min; 30 s here).
    pub expectations_timeout: Duration,
    /// First wait before replacing failed pods (1 s), doubling per round …
    pub failed_pod_backoff_initial: Duration,
    /// … up to this (5 min).
    pub failed_pod_backoff_max: Duration,
}

impl Default for ReplicaSetConfig {
    fn default() -> Self {
        ReplicaSetConfig {
            controller: controller::Config::default(),
            burst_replicas: 500,
            expectations_timeout: Duration::from_secs(30),
            failed_pod_backoff_initial: Duration::from_secs(1),
            failed_pod_backoff_max: Duration::from_secs(300),
        }
    }
}

/// What every reconcile shares.
struct Ctx {
    client: Arc<dyn Client>,
    /// The sets as last observed: a create batch re-checks its set here before it runs.
    sets: Store<ReplicaSet>,
    pods: Store<Pod>,
    expectations: Mutex<Expectations>,
    backoff: Mutex<CreateBackoff>,
    recorder: Recorder,
    config: ReplicaSetConfig,
}

/// The ReplicaSet controller.
pub struct ReplicaSetController {
    client: Arc<dyn Client>,
    config: ReplicaSetConfig,
    informers: Option<Informers>,
}

/// The sets a pod event concerns: its controller (a ReplicaSet), or — for a pod without a
/// controller — every set in its namespace whose selector matches it (adoption).
fn pod_to_sets(sets: &Store<ReplicaSet>, pod: &Pod) -> Vec<ObjectRef> {
    super::owners_of_child(sets, &pod.metadata, "ReplicaSet", |o: &ReplicaSet| {
        o.spec.as_ref().map(|s| &s.selector)
    })
}

impl ReplicaSetController {
    /// A controller with `config` (nothing runs until [`ReplicaSetController::run`]).
    pub fn new(client: Arc<dyn Client>, config: ReplicaSetConfig) -> Self {
        ReplicaSetController {
            client,
            config,
            informers: None,
        }
    }

    /// Reads pods from `informers` (shared with the other controllers of the process) instead
    /// of watching them itself.
    pub fn with_informers(mut self, informers: Informers) -> Self {
        self.informers = Some(informers);
        self
    }

    /// Watches ReplicaSets and Pods and keeps the sets' pods until `shutdown` is cancelled; every
    /// reconcile result passes through `hook`.
    ///
    /// # Errors
    /// [`Error::ResourceNotServed`] when a needed kind is not in the resource table.
    pub async fn run(
        self,
        hook: Arc<dyn ResultHook>,
        shutdown: CancellationToken,
    ) -> Result<(), Error> {
        let sets = crate::builtin::resource("apps/v1", "ReplicaSet")?;
        let controller =
            Controller::<ReplicaSet>::new(self.client.clone(), sets, watcher::Config::default());
        let set_store = controller.store();
        let sets_for_ctx = set_store.clone();
        let informers = ScopedInformers::new(self.informers, self.client.clone(), shutdown.clone());
        let pod_informer = informers.get().pods()?;
        let pod_store = pod_informer.store();
        let triggers = pod_informer.subscribe().flat_map(move |ev| {
            let keys = ev
                .object()
                .map(|pod| pod_to_sets(&set_store, pod))
                .unwrap_or_default();
            futures::stream::iter(keys)
        });
        let ctx = Arc::new(Ctx {
            client: self.client.clone(),
            sets: sets_for_ctx,
            pods: pod_store,
            expectations: Mutex::default(),
            backoff: Mutex::new(CreateBackoff::new(
                self.config.failed_pod_backoff_initial,
                self.config.failed_pod_backoff_max,
            )),
            recorder: Recorder::new(
                self.client.clone(),
                Reporter {
                    component: REPLICASET_CONTROLLER.into(),
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
            "replicaset",
            controller.run(sync::reconcile, controller::default_error_policy, ctx),
        )
        .await;
        informers.finish().await;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
