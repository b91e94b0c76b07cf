//! [`GarbageCollector`]: cascading deletion through `ownerReferences`, as Kubernetes' garbage
//! collector does (<https://kubernetes.io/docs/concepts/architecture/garbage-collection/>,
//! <https://kubernetes.io/docs/tasks/administer-cluster/use-cascading-deletion/>), on the public
//! runtime: a [`Controller`] per collected kind, fed by one ownership [`graph`].
//!
//! # Guarantees
//! - **Background** (the default of `kubectl delete`): the API removes the owner at once; its
//!   dependents — objects whose `ownerReferences` name its `uid` — are then deleted (each with
//!   the policy its own finalizers ask for, else Background, so the cascade goes on).
//! - **Foreground**: the API marks the owner (`deletionTimestamp`, finalizer
//!   `foregroundDeletion`); the collector deletes its dependents (those with dependents of their
//!   own in the foreground too) and removes the finalizer — so the API removes the owner — once
//!   no dependent with `blockOwnerDeletion: true` is left.
//! - **Orphan**: the API marks the owner with the `orphan` finalizer; the collector removes the
//!   owner's reference from every dependent, then the finalizer. The dependents keep running.
//! - A dependent with another, live owner is never deleted: only its references to gone or
//!   foreground-deleting owners are removed ([`plan`]).
//! - Decisions to delete are checked against the live API (an owner missing from the graph is
//!   looked up by name and uid), so a cache lag never deletes an object whose owner exists.
//! - Every object is checked after each (re-)list, so owners deleted while the collector was not
//!   running are noticed.
//! - Collected kinds: every served kind but `Event`. Results pass through the [`ResultHook`] as
//!   reconciles of the dependent or owner concerned.
//! - Memory: each kind's controller caches metadata only ([`PartialObjectMeta`]); pods, when the
//!   process shares its pod informer ([`GarbageCollector::with_informers`]), are read from that
//!   informer's store instead (no cache of their own).

pub mod graph;
pub mod plan;
mod sync;

use crate::builtin::{Error, drain};
use crate::client::Client;
use crate::controller::{self, Controller, ResultHook};
use crate::informer::Informers;
use crate::reflector::ObjectRef;
use crate::watcher;
use futures::StreamExt;
use graph::Graph;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use mock_k8_schemas::ApiResource;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// The finalizer of a foreground deletion (Kubernetes' `metav1.FinalizerDeleteDependents`).
pub const FINALIZER_FOREGROUND: &str = "foregroundDeletion";
/// The finalizer of an orphaning deletion (Kubernetes' `metav1.FinalizerOrphanDependents`).
pub const FINALIZER_ORPHAN: &str = "orphan";

/// Settings of the [`GarbageCollector`].
#[derive(Debug, Clone)]
pub struct GcConfig {
    /// Concurrency, queue capacity and error backoff of each kind's controller.
    pub controller: controller::Config,
    /// How often an owner being deleted in the foreground re-checks its dependents (1 s; they
    /// also trigger it when they go).
    pub foreground_poll: Duration,
    /// Capacity of each kind's trigger channel from the graph (4096).
    pub trigger_capacity: usize,
}

impl Default for GcConfig {
    fn default() -> Self {
        GcConfig {
            controller: controller::Config::default(),
            foreground_poll: Duration::from_secs(1),
            trigger_capacity: 4096,
        }
    }
}

/// What every kind's reconciles share.
struct Shared {
    client: Arc<dyn Client>,
    kinds: Vec<&'static ApiResource>,
    graph: Mutex<Graph>,
    triggers: Vec<mpsc::Sender<ObjectRef>>,
    config: GcConfig,
}

/// The context of one kind's controller.
struct KindCtx {
    shared: Arc<Shared>,
    kind: usize,
}

/// The garbage collector.
pub struct GarbageCollector {
    client: Arc<dyn Client>,
    config: GcConfig,
    informers: Option<Informers>,
}

/// An object reduced to what the collector reads — its `metadata` (Kubernetes' collector uses
/// metadata-only informers, `PartialObjectMetadata`, for the same reason): each collected kind's
/// controller caches this instead of the whole object (a pod's spec and status are most of it).
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize, serde::Serialize)]
pub struct PartialObjectMeta {
    /// The object's `metadata`.
    #[serde(default)]
    pub metadata: ObjectMeta,
}

/// An object whose `metadata` a collector reconcile reads: [`PartialObjectMeta`], or a whole
/// object held by a shared informer (pods, when the process shares its pod informer).
pub trait ObjectMetadata: Send + Sync + 'static {
    /// The object's `metadata`.
    fn object_meta(&self) -> &ObjectMeta;
}

impl ObjectMetadata for PartialObjectMeta {
    fn object_meta(&self) -> &ObjectMeta {
        &self.metadata
    }
}

impl ObjectMetadata for Pod {
    fn object_meta(&self) -> &ObjectMeta {
        &self.metadata
    }
}

/// The kinds the collector watches: every served kind but `Event`.
pub fn collected_kinds() -> Vec<&'static ApiResource> {
    mock_k8_schemas::resource::RESOURCES
        .iter()
        .filter(|r| r.kind != "Event")
        .collect()
}

impl GarbageCollector {
    /// A collector with `config` (nothing runs until [`GarbageCollector::run`]).
    pub fn new(client: Arc<dyn Client>, config: GcConfig) -> Self {
        GarbageCollector {
            client,
            config,
            informers: None,
        }
    }

    /// Reads pods from the pod informer of `informers` (shared with the other controllers of the
    /// process: no cache of their metadata of its own) instead of watching them itself. Other
    /// kinds are still watched as metadata only.
    pub fn with_informers(mut self, informers: Informers) -> Self {
        self.informers = Some(informers);
        self
    }

    /// Watches every collected kind and collects garbage until `shutdown` is cancelled.
    ///
    /// # Errors
    /// [`Error::ResourceNotServed`] when shared informers were given and pods are not served.
    pub async fn run(
        self,
        hook: Arc<dyn ResultHook>,
        shutdown: CancellationToken,
    ) -> Result<(), Error> {
        let kinds = collected_kinds();
        let mut senders = Vec::new();
        let mut receivers = Vec::new();
        for _ in &kinds {
            let (tx, rx) = mpsc::channel(self.config.trigger_capacity.max(1));
            senders.push(tx);
            receivers.push(rx);
        }
        let shared = Arc::new(Shared {
            client: self.client.clone(),
            kinds: kinds.clone(),
            graph: Mutex::default(),
            triggers: senders,
            config: self.config.clone(),
        });
        let shared_pods = match &self.informers {
            Some(informers) => Some(informers.pods()?),
            None => None,
        };
        let builder = tokio::spawn(build_graph(shared.clone(), shutdown.clone()));
        let mut set = tokio::task::JoinSet::new();
        for (i, (kind, rx)) in kinds.iter().zip(receivers).enumerate() {
            let keys =
                futures::stream::unfold(
                    rx,
                    |mut rx| async move { rx.recv().await.map(|k| (k, rx)) },
                );
            let ctx = Arc::new(KindCtx {
                shared: shared.clone(),
                kind: i,
            });
            let pods = shared_pods.as_ref().filter(|inf| inf.resource() == *kind);
            if let Some(pods) = pods {
                let controller = Controller::<Pod>::for_shared(self.client.clone(), pods);
                set.spawn(run_kind(
                    controller,
                    &self.config,
                    &hook,
                    &shutdown,
                    keys,
                    ctx,
                ));
            } else {
                let controller = Controller::<PartialObjectMeta>::new(
                    self.client.clone(),
                    kind,
                    watcher::Config::default(),
                );
                set.spawn(run_kind(
                    controller,
                    &self.config,
                    &hook,
                    &shutdown,
                    keys,
                    ctx,
                ));
            }
        }
        while set.join_next().await.is_some() {}
        let _ = builder.await;
        Ok(())
    }
}

/// Runs one kind's `controller` on the graph's `keys` until `shutdown`.
fn run_kind<K: ObjectMetadata + serde::de::DeserializeOwned>(
    controller: Controller<K>,
    config: &GcConfig,
    hook: &Arc<dyn ResultHook>,
    shutdown: &CancellationToken,
    keys: impl futures::Stream<Item = ObjectRef> + Send + 'static,
    ctx: Arc<KindCtx>,
) -> impl std::future::Future<Output = ()> + Send + 'static {
    let controller = controller
        .with_config(config.controller)
        .with_result_hook(hook.clone())
        .graceful_shutdown_on(shutdown.clone())
        .reconcile_on(keys);
    drain(
        "garbage-collector",
        controller.run(sync::reconcile, controller::default_error_policy, ctx),
    )
}

/// Feeds the graph from a watch of every kind and sends the triggers it returns to the kinds'
/// controllers, until `shutdown`.
async fn build_graph(shared: Arc<Shared>, shutdown: CancellationToken) {
    let streams = shared.kinds.iter().enumerate().map(|(i, kind)| {
        watcher::watcher(shared.client.clone(), kind, watcher::Config::default())
            .map(move |ev| (i, ev))
            .boxed()
    });
    let mut events = futures::stream::select_all(streams);
    crate::builtin::until_cancelled(&shutdown, async {
        while let Some((kind, ev)) = events.next().await {
            let triggers = {
                let mut g = shared.graph.lock().unwrap_or_else(|p| p.into_inner());
                match ev {
                    Ok(watcher::Event::Apply(o) | watcher::Event::InitApply(o)) => {
                        g.apply(kind, &o)
                    }
                    Ok(watcher::Event::Delete(o)) => g.delete(&o),
                    Ok(_) => Vec::new(),
                    Err(e) => {
                        tracing::debug!(error = %e, "garbage collector: watch error (retrying)");
                        Vec::new()
                    }
                }
            };
            for (k, key) in triggers {
                if let Some(tx) = shared.triggers.get(k)
                    && tx.send(key).await.is_err()
                {
                    return;
                }
            }
        }
    })
    .await;
}

#[cfg(test)]
mod tests;
