//! [`Controller`]: runs a reconcile function for every object of a resource whenever it, or
//! something related to it, changes — the kube-runtime contract on mock_k8's [`Client`].
//!
//! ```no_run
//! # use std::{sync::Arc, time::Duration};
//! # use mock_k8_controllers::controller::{Action, Controller, default_error_policy};
//! # use mock_k8_controllers::{client::Client, watcher};
//! # use futures::StreamExt;
//! # use k8s_openapi::api::core::v1::Pod;
//! # async fn demo(client: Arc<dyn Client>) {
//! let pods = mock_k8_schemas::resource::by_kind("v1", "Pod").expect("served");
//! async fn reconcile(pod: Arc<Pod>, _ctx: Arc<()>) -> Result<Action, std::io::Error> {
//!     Ok(Action::requeue(Duration::from_secs(300)))
//! }
//! Controller::<Pod>::new(client, pods, watcher::Config::default())
//!     .run(reconcile, default_error_policy, Arc::new(()))
//!     .for_each(|res| async move { if let Err(e) = res { tracing::warn!(%e, "reconcile failed") } })
//!     .await;
//! # }
//! ```
//!
//! # Guarantees
//! - **Dedupe**: a key is queued at most once; when scheduled again, the earliest time wins.
//! - **One at a time per object**: a key is never reconciled twice concurrently. A trigger that
//!   arrives while it runs schedules exactly one more run, right after it.
//! - **Bounded concurrency**: at most [`Config::concurrency`] reconciles run at once.
//! - **Bounded queue without deadlock**: trigger intake pauses while [`Config::queue_capacity`]
//!   triggered keys wait; requeues of finishing reconciles always find room (at most one per object),
//!   and intake never pauses before the first list is complete, so the queue always drains.
//! - **Readiness**: no reconcile starts before the primary store has its first complete list.
//! - **Result seam**: every reconcile outcome passes through one [`ResultHook`] before it is emitted.
//! - **Graceful shutdown**: when the token given to [`Controller::graceful_shutdown_on`] is cancelled,
//!   no new reconcile starts, running ones finish (their results are emitted), and the stream ends.

mod queue;
mod runner;

use crate::backoff::BackoffConfig;
use crate::client::Client;
use crate::informer::SharedInformer;
use crate::reflector::{self, ObjectRef, Store};
use crate::watcher;
use futures::stream::BoxStream;
use futures::{Stream, StreamExt};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use mock_k8_schemas::{ApiResource, meta};
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// What to do after a reconcile: run again after a delay, or wait for the next change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Action {
    requeue_after: Option<Duration>,
    backoff: bool,
}

impl Action {
    /// Reconcile again after `after` (unless a change triggers it earlier).
    pub fn requeue(after: Duration) -> Self {
        Action {
            requeue_after: Some(after),
            backoff: false,
        }
    }

    /// Do nothing until the object (or a related one) changes.
    pub fn await_change() -> Self {
        Action {
            requeue_after: None,
            backoff: false,
        }
    }

    /// Retry after the controller's per-object exponential backoff ([`Config::error_backoff`]): the
    /// n-th consecutive failure of an object waits `delay(n)`; a success resets the count. Returned
    /// by [`default_error_policy`]; the runner turns it into a concrete `requeue`.
    pub fn backoff() -> Self {
        Action {
            requeue_after: None,
            backoff: true,
        }
    }

    /// The requested delay (`None` for `await_change`, and for an unresolved `backoff`).
    pub fn requeue_after(&self) -> Option<Duration> {
        self.requeue_after
    }

    /// `true` for [`Action::backoff`] before the runner resolved it.
    pub fn is_backoff(&self) -> bool {
        self.backoff
    }
}

/// The error policy most controllers want: retry the failed object with exponential backoff and
/// jitter ([`Action::backoff`], shaped by [`Config::error_backoff`]).
pub fn default_error_policy<K, E, Ctx>(_obj: Arc<K>, _err: &E, _ctx: Arc<Ctx>) -> Action {
    Action::backoff()
}

/// An item of the [`Controller::run`] stream that is not a successful reconcile.
#[derive(Debug, thiserror::Error)]
pub enum Error<E: std::error::Error + 'static> {
    /// A queued object is no longer in the store (deleted before its turn); nothing was run.
    #[error("object {0} not found in the store")]
    ObjectNotFound(ObjectRef),
    /// The reconcile function returned `Err`; the error policy decided the retry.
    #[error("reconcile of {1} failed: {0}")]
    ReconcilerFailed(#[source] E, ObjectRef),
    /// The reconcile task panicked; it is retried with the error backoff.
    #[error("reconcile of {0} panicked")]
    ReconcilerPanicked(ObjectRef),
    /// A watch feeding the queue reported an error (it retries by itself).
    #[error("trigger stream error: {0}")]
    QueueError(#[source] watcher::Error),
}

/// Tuning of a [`Controller`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// Maximum reconciles running at once (≥ 1; default 16).
    pub concurrency: usize,
    /// Maximum triggered keys waiting in the queue before trigger intake pauses (≥ 1; default 4096).
    pub queue_capacity: usize,
    /// Backoff of [`Action::backoff`] (default [`BackoffConfig::RECONCILE_ERROR`]).
    pub error_backoff: BackoffConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            concurrency: 16,
            queue_capacity: 4096,
            error_backoff: BackoffConfig::RECONCILE_ERROR,
        }
    }
}

/// How one reconcile ended, as seen by the [`ResultHook`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// `reconcile` returned `Ok(action)`.
    Reconciled(Action),
    /// `reconcile` failed (or panicked) with `error` (its `Display`); it will run again after
    /// `requeue_after` (`None`: only on the next change).
    Failed {
        /// The error's message.
        error: String,
        /// The resolved retry delay.
        requeue_after: Option<Duration>,
    },
}

/// One reconcile result, handed to the [`ResultHook`].
#[derive(Debug, Clone)]
pub struct ReconcileResult<'a> {
    /// The primary resource of the controller.
    pub resource: &'static ApiResource,
    /// The reconciled object.
    pub object: &'a ObjectRef,
    /// The `resourceVersion` of the object as the reconcile saw it (from the store).
    pub resource_version: Option<&'a str>,
    /// How it ended.
    pub outcome: &'a Outcome,
}

/// The single place every reconcile result passes through, before it is emitted on the
/// [`Controller::run`] stream and before the object is requeued. This is the seam where results
/// will be signed (NKO issue); the default, [`NoopHook`], records nothing.
///
/// Called on the controller's driver task: keep it quick and non-blocking (hand heavy work to a
/// channel). Closures `Fn(&ReconcileResult)` implement it.
pub trait ResultHook: Send + Sync + 'static {
    /// Receives one result.
    fn on_result(&self, result: &ReconcileResult<'_>);
}

/// The default [`ResultHook`]: records nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoopHook;

impl ResultHook for NoopHook {
    fn on_result(&self, _result: &ReconcileResult<'_>) {}
}

impl<F: Fn(&ReconcileResult<'_>) + Send + Sync + 'static> ResultHook for F {
    fn on_result(&self, result: &ReconcileResult<'_>) {
        self(result)
    }
}

type Trigger = BoxStream<'static, Result<ObjectRef, watcher::Error>>;

/// A controller for objects of kind `K` (decoded from JSON; `serde_json::Value` works too).
pub struct Controller<K> {
    client: Arc<dyn Client>,
    resource: &'static ApiResource,
    store: Store<K>,
    triggers: Vec<Trigger>,
    config: Config,
    hook: Arc<dyn ResultHook>,
    shutdown: CancellationToken,
}

/// Turns each watcher event into the keys it triggers (`Init`/`InitDone` trigger nothing).
fn trigger_stream<S>(
    events: S,
    map: impl Fn(&watcher::Event) -> Vec<ObjectRef> + Send + 'static,
) -> Trigger
where
    S: Stream<Item = Result<watcher::Event, watcher::Error>> + Send + 'static,
{
    events
        .flat_map(move |item| {
            let keys: Vec<Result<ObjectRef, watcher::Error>> = match item {
                Ok(ev) => map(&ev).into_iter().map(Ok).collect(),
                Err(e) => vec![Err(e)],
            };
            futures::stream::iter(keys)
        })
        .boxed()
}

impl<K> Controller<K>
where
    K: DeserializeOwned + Send + Sync + 'static,
{
    /// A controller of `resource` (decoded as `K`), watched with `config` (namespace, selectors).
    /// Every applied object (and the initial list) triggers its own reconcile; deletions do not
    /// (the object is gone from the store — use finalizers to act on deletion).
    pub fn new(
        client: Arc<dyn Client>,
        resource: &'static ApiResource,
        config: watcher::Config,
    ) -> Self {
        let (store, writer) = reflector::store::<K>();
        let events =
            reflector::reflector(writer, watcher::watcher(client.clone(), resource, config));
        let primary = trigger_stream(events, |ev| match ev {
            watcher::Event::Apply(o) | watcher::Event::InitApply(o) => {
                vec![ObjectRef::from_value(o)]
            }
            _ => Vec::new(),
        });
        Controller {
            client,
            resource,
            store,
            triggers: vec![primary],
            config: Config::default(),
            hook: Arc::new(NoopHook),
            shutdown: CancellationToken::new(),
        }
    }

    /// A controller of the objects of a [`SharedInformer`]: its store is the informer's (shared
    /// with every other subscriber, no copy), and every object applied (and every object of the
    /// current contents when it starts) triggers its own reconcile, as with [`Controller::new`].
    pub fn for_shared(client: Arc<dyn Client>, informer: &SharedInformer<K>) -> Self
    where
        K: k8s_openapi::Metadata<Ty = ObjectMeta>,
    {
        Self::for_shared_filtered(client, informer, |_: &K| true)
    }

    /// [`Controller::for_shared`], triggering only objects for which `wanted` holds (an object
    /// that is not wanted is still in the store, so a reconcile triggered otherwise reads it).
    pub fn for_shared_filtered(
        client: Arc<dyn Client>,
        informer: &SharedInformer<K>,
        wanted: impl Fn(&K) -> bool + Send + Sync + 'static,
    ) -> Self
    where
        K: k8s_openapi::Metadata<Ty = ObjectMeta>,
    {
        // Keys, not events: a full work queue here must not hold the informer back.
        let primary = informer.subscribe_keys(wanted).map(Ok).boxed();
        Controller {
            client,
            resource: informer.resource(),
            store: informer.store(),
            triggers: vec![primary],
            config: Config::default(),
            hook: Arc::new(NoopHook),
            shutdown: CancellationToken::new(),
        }
    }

    /// Also reconciles the owner when a `child` object changes or is deleted: each
    /// `metadata.ownerReferences` entry whose `apiVersion` and `kind` are the primary resource's
    /// triggers that owner (in the child's namespace).
    pub fn owns(mut self, child: &'static ApiResource, config: watcher::Config) -> Self {
        let (kind, api_version, namespaced) = (
            self.resource.kind,
            self.resource.api_version(),
            self.resource.namespaced,
        );
        let events = watcher::watcher(self.client.clone(), child, config);
        self.triggers.push(trigger_stream(events, move |ev| {
            let Some(obj) = ev.object() else {
                return Vec::new();
            };
            let ns = meta::namespace(obj);
            let owners = obj
                .pointer("/metadata/ownerReferences")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            owners
                .iter()
                .filter(|o| {
                    o.get("kind").and_then(Value::as_str) == Some(kind)
                        && o.get("apiVersion").and_then(Value::as_str) == Some(api_version.as_str())
                })
                .filter_map(|o| o.get("name").and_then(Value::as_str))
                .map(|name| {
                    if namespaced {
                        ObjectRef::new(name).within(ns)
                    } else {
                        ObjectRef::new(name)
                    }
                })
                .collect()
        }));
        self
    }

    /// Also reconciles the objects `mapper` returns whenever an object of `related` changes or is
    /// deleted (e.g. the Services selecting a Pod). Objects are decoded as `C`; one that does not
    /// decode triggers nothing (logged at `warn`).
    pub fn watches<C, F>(
        mut self,
        related: &'static ApiResource,
        config: watcher::Config,
        mapper: F,
    ) -> Self
    where
        C: DeserializeOwned,
        F: Fn(&C) -> Vec<ObjectRef> + Send + Sync + 'static,
    {
        let events = watcher::watcher(self.client.clone(), related, config);
        self.triggers.push(trigger_stream(events, move |ev| {
            let Some(obj) = ev.object() else { return Vec::new() };
            match serde_json::from_value::<C>(obj.clone()) {
                Ok(c) => mapper(&c),
                Err(e) => {
                    tracing::warn!(object = %ObjectRef::from_value(obj), error = %e, "related object does not decode; ignored");
                    Vec::new()
                }
            }
        }));
        self
    }

    /// Also reconciles every key `keys` yields (an external trigger: a timer, a channel, another
    /// controller's store).
    pub fn reconcile_on(mut self, keys: impl Stream<Item = ObjectRef> + Send + 'static) -> Self {
        self.triggers.push(keys.map(Ok).boxed());
        self
    }

    /// Sets concurrency, queue capacity and error backoff.
    pub fn with_config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// Routes every reconcile result through `hook` (replacing [`NoopHook`]).
    pub fn with_result_hook(mut self, hook: Arc<dyn ResultHook>) -> Self {
        self.hook = hook;
        self
    }

    /// Shuts the controller down gracefully when `token` is cancelled (see the module docs).
    pub fn graceful_shutdown_on(mut self, token: CancellationToken) -> Self {
        self.shutdown = token;
        self
    }

    /// A read handle on the primary store (the cache reconciles read from).
    pub fn store(&self) -> Store<K> {
        self.store.clone()
    }

    /// Runs the controller: a stream of `(object, action)` for each successful reconcile and an
    /// [`Error`] for everything else. Poll it to completion (e.g. `for_each`); it ends after a
    /// graceful shutdown, or when every trigger stream ended and nothing is queued or running.
    /// Dropping it stops everything at once (running reconciles are aborted).
    ///
    /// `reconcile(obj, ctx)` gets the latest cached object; `error_policy(obj, &err, ctx)` decides
    /// the retry after a failure (use [`default_error_policy`] for exponential backoff).
    pub fn run<R, Fut, P, E, Ctx>(
        self,
        reconcile: R,
        error_policy: P,
        ctx: Arc<Ctx>,
    ) -> impl Stream<Item = Result<(ObjectRef, Action), Error<E>>> + Send
    where
        R: FnMut(Arc<K>, Arc<Ctx>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<Action, E>> + Send + 'static,
        P: Fn(Arc<K>, &E, Arc<Ctx>) -> Action + Send + 'static,
        E: std::error::Error + Send + 'static,
        Ctx: Send + Sync + 'static,
    {
        let runner = runner::Runner {
            resource: self.resource,
            store: self.store,
            triggers: futures::stream::select_all(self.triggers),
            config: self.config,
            hook: self.hook,
            shutdown: self.shutdown,
            reconcile,
            error_policy,
            ctx,
        };
        runner::into_stream(runner)
    }
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
