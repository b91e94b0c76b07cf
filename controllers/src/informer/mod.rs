//! [`SharedInformer`]: one watch and one [`Store`] of a resource, shared by every controller in
//! the process that needs it, each subscribed to its changes — client-go's shared informers
//! (`SharedInformerFactory`), kube-runtime's shared reflector store with subscribers.
//!
//! Without it each controller ran its own [`watcher`] and [`reflector`] of pods and so held its
//! own decoded copy of every pod. With it every object is decoded once, stored once as an
//! `Arc<K>`, and handed to the subscribers as that same `Arc`.
//!
//! # Guarantees
//! - The store is updated before an event reaches any subscriber, so a subscriber that reads the
//!   store on an event sees at least that event's state (as with an unshared reflector).
//! - A subscriber sees every change after it subscribed, in order. One that subscribes after the
//!   first list gets the current contents first, as an `Init`, `InitApply`* , `InitDone` sequence
//!   (client-go's synthetic "added" notifications); one that subscribes during a (re-)list gets
//!   that list's `Init` and the objects listed so far, then the rest of it.
//! - Bounded memory: each subscriber has a channel of [`SUBSCRIBER_CAPACITY`] events. A full
//!   channel makes the informer wait (backpressure, as kube-runtime's shared streams do): a
//!   subscriber must keep polling, or drop its stream (it is then unsubscribed).
//! - The watch runs in one task owned by the caller's [`TaskTracker`]; it ends when the shutdown
//!   token is cancelled, and the subscribers' streams end with it.
//!
//! Watch errors are logged at `debug` and retried by the watcher; subscribers do not see them.

mod keys;

use crate::client::Client;
use crate::reflector::{self, ObjectRef, Store, Writer};
use crate::watcher::{self, Event};
use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::{Node, Pod};
use keys::KeySink;
use mock_k8_schemas::ApiResource;
use serde::de::DeserializeOwned;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Events buffered per subscriber before the informer waits for it.
pub const SUBSCRIBER_CAPACITY: usize = 1024;

/// The subscribers, and the objects of a (re-)list in progress (for a subscriber joining mid-list).
struct Hub<K> {
    subscribers: Vec<mpsc::Sender<Event<Arc<K>>>>,
    /// Key subscriptions ([`SharedInformer::subscribe_keys`]): never waited for.
    key_sinks: Vec<Arc<KeySink<K>>>,
    relist: Option<Vec<(ObjectRef, Arc<K>)>>,
    /// `false` once the watch task ended: new subscribers get the contents, then the end.
    running: bool,
}

struct Shared<K> {
    resource: &'static ApiResource,
    store: Store<K>,
    hub: Mutex<Hub<K>>,
}

/// A running watch of one resource with its store; cheap to clone (a handle).
pub struct SharedInformer<K> {
    shared: Arc<Shared<K>>,
}

impl<K> Clone for SharedInformer<K> {
    fn clone(&self) -> Self {
        SharedInformer {
            shared: self.shared.clone(),
        }
    }
}

impl<K> std::fmt::Debug for SharedInformer<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedInformer")
            .field("resource", &self.shared.resource.plural)
            .finish_non_exhaustive()
    }
}

fn lock<K>(hub: &Mutex<Hub<K>>) -> MutexGuard<'_, Hub<K>> {
    // Every critical section leaves the hub consistent: a poisoned lock is still usable.
    hub.lock().unwrap_or_else(|p| p.into_inner())
}

impl<K: DeserializeOwned + Send + Sync + 'static> SharedInformer<K> {
    /// Starts watching `resource` through `client` with `config` (namespace, selectors) in a task
    /// of `tasks`, until `shutdown` is cancelled. Must be called inside a tokio runtime.
    pub fn spawn(
        client: Arc<dyn Client>,
        resource: &'static ApiResource,
        config: watcher::Config,
        tasks: &TaskTracker,
        shutdown: CancellationToken,
    ) -> Self {
        let (store, writer) = reflector::store::<K>();
        let shared = Arc::new(Shared {
            resource,
            store,
            hub: Mutex::new(Hub {
                subscribers: Vec::new(),
                key_sinks: Vec::new(),
                relist: None,
                running: true,
            }),
        });
        let events = watcher::watcher(client, resource, config);
        let s = shared.clone();
        tasks.spawn(async move {
            tokio::select! {
                () = shutdown.cancelled() => {}
                () = run(&s, writer, events) => {}
            }
            let mut hub = lock(&s.hub);
            hub.running = false;
            hub.subscribers.clear();
            for sink in hub.key_sinks.drain(..) {
                sink.close();
            }
        });
        SharedInformer { shared }
    }

    /// The resource watched.
    pub fn resource(&self) -> &'static ApiResource {
        self.shared.resource
    }

    /// A read handle on the shared store.
    pub fn store(&self) -> Store<K> {
        self.shared.store.clone()
    }

    /// A stream of every change from now on, preceded by the current contents (see the module
    /// docs). It ends when the informer stops. Keep polling it, or drop it.
    pub fn subscribe(&self) -> impl Stream<Item = Event<Arc<K>>> + Send + 'static {
        let (tx, rx) = mpsc::channel(SUBSCRIBER_CAPACITY);
        let mut hub = lock(&self.shared.hub);
        let initial: Vec<Event<Arc<K>>> = match &hub.relist {
            Some(listed) => std::iter::once(Event::Init)
                .chain(listed.iter().map(|(_, o)| Event::InitApply(o.clone())))
                .collect(),
            None if self.shared.store.is_ready() => std::iter::once(Event::Init)
                .chain(self.shared.store.state().into_iter().map(Event::InitApply))
                .chain(std::iter::once(Event::InitDone))
                .collect(),
            None => Vec::new(),
        };
        if hub.running {
            hub.subscribers.push(tx);
        }
        drop(hub);
        let live =
            futures::stream::unfold(
                rx,
                |mut rx| async move { rx.recv().await.map(|ev| (ev, rx)) },
            );
        futures::stream::iter(initial).chain(live)
    }

    /// A stream of the keys of the objects applied from now on (and of every object already in
    /// the store) for which `wanted` holds, each key pending at most once: what a controller's
    /// work queue takes. Never makes the informer wait (a key is pending at most once, so this
    /// holds at most one entry per stored object however slowly it is drained); ends when the informer
    /// stops. Deletions yield nothing (the object is gone from the store).
    pub fn subscribe_keys(
        &self,
        wanted: impl Fn(&K) -> bool + Send + Sync + 'static,
    ) -> impl Stream<Item = ObjectRef> + Send + 'static {
        let sink = KeySink::new(Box::new(wanted));
        let mut hub = lock(&self.shared.hub);
        match &hub.relist {
            Some(listed) => {
                for (key, obj) in listed {
                    sink.offer(key.clone(), obj);
                }
            }
            None => {
                for (key, obj) in self.shared.store.entries() {
                    sink.offer(key, &obj);
                }
            }
        }
        if hub.running {
            hub.key_sinks.push(sink.clone());
        } else {
            sink.close();
        }
        drop(hub);
        sink.stream()
    }
}

/// Applies each watch event to the store, then hands it to every subscriber.
async fn run<K, S>(shared: &Shared<K>, mut writer: Writer<K>, events: S)
where
    K: DeserializeOwned + Send + Sync + 'static,
    S: Stream<Item = Result<watcher::Event, watcher::Error>>,
{
    let mut events = std::pin::pin!(events);
    while let Some(item) = events.next().await {
        let ev = match item {
            Ok(ev) => ev,
            Err(e) => {
                tracing::debug!(resource = shared.resource.plural, error = %e, "shared informer: watch error (retrying)");
                continue;
            }
        };
        let key = ev.object().map(ObjectRef::from_value);
        let (typed, subscribers) = {
            let mut hub = lock(&shared.hub);
            let Some(typed) = writer.apply_event(&ev) else {
                continue;
            };
            match (&typed, key) {
                (Event::Init, _) => hub.relist = Some(Vec::new()),
                (Event::InitApply(obj), Some(key)) => {
                    for sink in &hub.key_sinks {
                        sink.offer(key.clone(), obj);
                    }
                    if let Some(listed) = hub.relist.as_mut() {
                        listed.push((key, obj.clone()));
                    }
                }
                (Event::Apply(obj), Some(key)) => {
                    for sink in &hub.key_sinks {
                        sink.offer(key.clone(), obj);
                    }
                }
                (Event::InitDone, _) => hub.relist = None,
                _ => {}
            }
            hub.key_sinks.retain(KeySink::is_open);
            (typed, hub.subscribers.clone())
        };
        let mut gone = false;
        for tx in &subscribers {
            gone |= tx.send(typed.clone()).await.is_err();
        }
        if gone {
            lock(&shared.hub).subscribers.retain(|tx| !tx.is_closed());
        }
    }
}

/// The shared informers of one process, created on first use: every controller asking for pods
/// gets the same [`SharedInformer`] (client-go's `SharedInformerFactory`). Cheap to clone.
#[derive(Clone)]
pub struct Informers {
    inner: Arc<Factory>,
}

struct Factory {
    client: Arc<dyn Client>,
    tasks: TaskTracker,
    shutdown: CancellationToken,
    pods: OnceLock<SharedInformer<Pod>>,
    nodes: OnceLock<SharedInformer<Node>>,
}

impl std::fmt::Debug for Informers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Informers").finish_non_exhaustive()
    }
}

/// A kind the informers need is not in mock_k8's resource table (a build defect).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("resource {0} is not served")]
pub struct NotServed(pub &'static str);

/// The informers one controller run reads from: the process's shared [`Informers`] when the
/// controller was given them, or informers of its own, started for this run alone.
#[derive(Debug)]
pub struct ScopedInformers {
    informers: Informers,
    owned: bool,
}

impl ScopedInformers {
    /// `shared` when given; otherwise new informers through `client` that stop when `shutdown`
    /// is cancelled.
    pub fn new(
        shared: Option<Informers>,
        client: Arc<dyn Client>,
        shutdown: CancellationToken,
    ) -> Self {
        match shared {
            Some(informers) => ScopedInformers {
                informers,
                owned: false,
            },
            None => ScopedInformers {
                informers: Informers::new(client, shutdown),
                owned: true,
            },
        }
    }

    /// The informers to read from.
    pub fn get(&self) -> &Informers {
        &self.informers
    }

    /// Waits for the tasks of informers this run started (after its `shutdown` was cancelled);
    /// returns at once for shared ones, which their owner stops.
    pub async fn finish(self) {
        if self.owned {
            self.informers.stopped().await;
        }
    }
}

impl Informers {
    /// Informers watching through `client`; their tasks stop when `shutdown` is cancelled
    /// ([`Informers::stopped`] then waits for them).
    pub fn new(client: Arc<dyn Client>, shutdown: CancellationToken) -> Self {
        Informers {
            inner: Arc::new(Factory {
                client,
                tasks: TaskTracker::new(),
                shutdown,
                pods: OnceLock::new(),
                nodes: OnceLock::new(),
            }),
        }
    }

    /// The informer of every Pod (all namespaces), started on first use.
    ///
    /// # Errors
    /// [`NotServed`] when pods are not in the resource table.
    pub fn pods(&self) -> Result<SharedInformer<Pod>, NotServed> {
        self.get(&self.inner.pods, "v1", "Pod")
    }

    /// The informer of every Node, started on first use.
    ///
    /// # Errors
    /// [`NotServed`] when nodes are not in the resource table.
    pub fn nodes(&self) -> Result<SharedInformer<Node>, NotServed> {
        self.get(&self.inner.nodes, "v1", "Node")
    }

    fn get<K: DeserializeOwned + Send + Sync + 'static>(
        &self,
        cell: &OnceLock<SharedInformer<K>>,
        api_version: &str,
        kind: &'static str,
    ) -> Result<SharedInformer<K>, NotServed> {
        let resource =
            mock_k8_schemas::resource::by_kind(api_version, kind).ok_or(NotServed(kind))?;
        let f = &self.inner;
        Ok(cell
            .get_or_init(|| {
                SharedInformer::spawn(
                    f.client.clone(),
                    resource,
                    watcher::Config::default(),
                    &f.tasks,
                    f.shutdown.clone(),
                )
            })
            .clone())
    }

    /// Waits until every informer task has ended (after the shutdown token was cancelled).
    pub async fn stopped(&self) {
        self.inner.tasks.close();
        self.inner.tasks.wait().await;
    }
}

#[cfg(test)]
mod tests;
