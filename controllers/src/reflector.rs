//! [`reflector`] + [`Store`]: an in-memory, indexed cache of one resource, fed by a
//! [`crate::watcher`] stream.
//!
//! The store is generic over the object type `K` (any `DeserializeOwned`: a k8s-openapi type such
//! as `Pod`, or `serde_json::Value` to keep every field). Objects are decoded once, when applied,
//! and shared as `Arc<K>`. Indexes are computed from the JSON form at the same time, so they work
//! for every `K`: by namespace, by label (`key=value`), and by `spec.nodeName` (pods on a node).
//!
//! # Guarantees
//! - Reads never await and never see a half-applied list: a re-list (`Init … InitApply* …
//!   InitDone`) is collected aside and swapped in atomically at `InitDone`, so objects deleted while
//!   the watch was down disappear at once and nothing flickers.
//! - [`Store::wait_until_ready`] resolves after the first complete list.
//!
//! # Caveats
//! An object that does not decode into `K` is left out of the store (and logged at `warn`).

use crate::watcher;
use futures::{Stream, TryStreamExt};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use mock_k8_schemas::meta;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use tokio::sync::watch;

/// The identity of an object within one resource: namespace (None for cluster-scoped) and name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectRef {
    /// `metadata.namespace`; `None` for cluster-scoped objects.
    pub namespace: Option<String>,
    /// `metadata.name`.
    pub name: String,
}

impl ObjectRef {
    /// A cluster-scoped reference (add a namespace with [`ObjectRef::within`]).
    pub fn new(name: &str) -> Self {
        ObjectRef {
            namespace: None,
            name: name.to_string(),
        }
    }

    /// This reference, in namespace `ns`.
    pub fn within(mut self, ns: &str) -> Self {
        self.namespace = Some(ns.to_string());
        self
    }

    /// The reference of a JSON object (an empty namespace reads as cluster-scoped).
    pub fn from_value(obj: &Value) -> Self {
        let ns = meta::namespace(obj);
        ObjectRef {
            namespace: (!ns.is_empty()).then(|| ns.to_string()),
            name: meta::name(obj).to_string(),
        }
    }

    /// The reference of a typed object (a k8s-openapi type).
    pub fn from_obj<K: k8s_openapi::Metadata<Ty = ObjectMeta>>(obj: &K) -> Self {
        let m = obj.metadata();
        ObjectRef {
            namespace: m.namespace.clone().filter(|ns| !ns.is_empty()),
            name: m.name.clone().unwrap_or_default(),
        }
    }
}

impl std::fmt::Display for ObjectRef {
    /// `namespace/name`, or `name` when cluster-scoped (as `kubectl` and klog print keys).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{ns}/{}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

struct Entry<K> {
    obj: Arc<K>,
    namespace: String,
    labels: Vec<(String, String)>,
    node_name: Option<String>,
    resource_version: Option<String>,
}

/// The objects and their indexes (index sets are ordered, so results come in key order).
struct Indexed<K> {
    objects: BTreeMap<ObjectRef, Entry<K>>,
    by_namespace: HashMap<String, BTreeSet<ObjectRef>>,
    by_label: HashMap<(String, String), BTreeSet<ObjectRef>>,
    by_node: HashMap<String, BTreeSet<ObjectRef>>,
    /// The highest `metadata.resourceVersion` of any event applied (the store's revision).
    revision: u64,
}

impl<K> Default for Indexed<K> {
    fn default() -> Self {
        Indexed {
            objects: BTreeMap::new(),
            by_namespace: HashMap::new(),
            by_label: HashMap::new(),
            by_node: HashMap::new(),
            revision: 0,
        }
    }
}

/// Decodes a `K` from borrowed JSON (no clone of the tree, unlike `serde_json::from_value`).
fn decode<K: DeserializeOwned>(obj: &Value) -> Result<K, serde_json::Error> {
    K::deserialize(obj)
}

/// `metadata.resourceVersion` of a JSON object as a number (0 when absent or not a number).
fn revision_of(obj: &Value) -> u64 {
    meta::resource_version(obj).unwrap_or(0)
}

fn unindex<I: std::hash::Hash + Eq>(
    map: &mut HashMap<I, BTreeSet<ObjectRef>>,
    k: I,
    key: &ObjectRef,
) {
    if let Some(set) = map.get_mut(&k) {
        set.remove(key);
        if set.is_empty() {
            map.remove(&k);
        }
    }
}

impl<K: DeserializeOwned> Indexed<K> {
    fn remove(&mut self, key: &ObjectRef) {
        if let Some(old) = self.objects.remove(key) {
            unindex(&mut self.by_namespace, old.namespace, key);
            for l in old.labels {
                unindex(&mut self.by_label, l, key);
            }
            if let Some(n) = old.node_name {
                unindex(&mut self.by_node, n, key);
            }
        }
    }

    /// Decodes `obj` (from the borrowed JSON: no copy of the tree) and stores it in place of the
    /// object at its key; returns the stored object (`None`: it does not decode, and is left out).
    fn apply(&mut self, obj: &Value) -> Option<Arc<K>> {
        let key = ObjectRef::from_value(obj);
        self.remove(&key);
        let decoded = match decode::<K>(obj) {
            Ok(k) => Arc::new(k),
            Err(e) => {
                tracing::warn!(object = %key, error = %e, "object does not decode; left out of the store");
                return None;
            }
        };
        let entry = Entry {
            obj: decoded.clone(),
            namespace: meta::namespace(obj).to_string(),
            labels: meta::labels(obj).into_iter().collect(),
            node_name: obj
                .pointer("/spec/nodeName")
                .and_then(Value::as_str)
                .filter(|n| !n.is_empty())
                .map(str::to_string),
            resource_version: meta::str_field(obj, "resourceVersion").map(str::to_string),
        };
        self.by_namespace
            .entry(entry.namespace.clone())
            .or_default()
            .insert(key.clone());
        for l in &entry.labels {
            self.by_label
                .entry(l.clone())
                .or_default()
                .insert(key.clone());
        }
        if let Some(n) = &entry.node_name {
            self.by_node
                .entry(n.clone())
                .or_default()
                .insert(key.clone());
        }
        self.objects.insert(key, entry);
        Some(decoded)
    }

    fn collect(&self, keys: Option<&BTreeSet<ObjectRef>>) -> Vec<Arc<K>> {
        keys.map(|ks| {
            ks.iter()
                .filter_map(|k| self.objects.get(k))
                .map(|e| e.obj.clone())
                .collect()
        })
        .unwrap_or_default()
    }
}

/// The store was dropped before its first list completed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the store's writer was dropped before the first list completed")]
pub struct WriterDropped;

/// A read handle on the cache; cheap to clone, shareable across tasks.
pub struct Store<K = Value> {
    inner: Arc<RwLock<Indexed<K>>>,
    ready: watch::Receiver<bool>,
}

impl<K> Clone for Store<K> {
    fn clone(&self) -> Self {
        Store {
            inner: self.inner.clone(),
            ready: self.ready.clone(),
        }
    }
}

impl<K> std::fmt::Debug for Store<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("ready", &*self.ready.borrow())
            .finish_non_exhaustive()
    }
}

// A std RwLock, not tokio's: critical sections are short map operations that never await, and
// readers (reconciles, the scheduler) must not yield to read. A poisoned lock only means a panic
// elsewhere; the maps are updated before anything that could panic, so the data stays usable.
fn read<K>(l: &RwLock<Indexed<K>>) -> RwLockReadGuard<'_, Indexed<K>> {
    l.read().unwrap_or_else(|p| p.into_inner())
}

fn write<K>(l: &RwLock<Indexed<K>>) -> RwLockWriteGuard<'_, Indexed<K>> {
    l.write().unwrap_or_else(|p| p.into_inner())
}

impl<K: DeserializeOwned> Store<K> {
    /// The object `key`, if cached.
    pub fn get(&self, key: &ObjectRef) -> Option<Arc<K>> {
        read(&self.inner).objects.get(key).map(|e| e.obj.clone())
    }

    /// The cached `metadata.resourceVersion` of `key`, if cached.
    pub fn resource_version(&self, key: &ObjectRef) -> Option<String> {
        read(&self.inner)
            .objects
            .get(key)
            .and_then(|e| e.resource_version.clone())
    }

    /// The store's revision: the highest `metadata.resourceVersion` of the events applied (the
    /// last event's, as a watch delivers them in order), 0 before any.
    pub fn revision(&self) -> u64 {
        read(&self.inner).revision
    }

    /// [`Store::by_label`] together with [`Store::revision`], read under one lock: the objects
    /// are exactly the store's state at that revision.
    pub fn by_label_at(&self, key: &str, value: &str) -> (Vec<Arc<K>>, u64) {
        let g = read(&self.inner);
        let keys = g.by_label.get(&(key.to_owned(), value.to_owned()));
        (g.collect(keys), g.revision)
    }

    /// Every cached object, in key order (namespace, name).
    pub fn state(&self) -> Vec<Arc<K>> {
        read(&self.inner)
            .objects
            .values()
            .map(|e| e.obj.clone())
            .collect()
    }

    /// Every cached object with its key, in key order (read under one lock).
    pub fn entries(&self) -> Vec<(ObjectRef, Arc<K>)> {
        read(&self.inner)
            .objects
            .iter()
            .map(|(k, e)| (k.clone(), e.obj.clone()))
            .collect()
    }

    /// Every cached key, in order.
    pub fn keys(&self) -> Vec<ObjectRef> {
        read(&self.inner).objects.keys().cloned().collect()
    }

    /// The number of cached objects.
    pub fn len(&self) -> usize {
        read(&self.inner).objects.len()
    }

    /// `true` when nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The objects of namespace `ns` (`""` for cluster-scoped), in key order.
    pub fn by_namespace(&self, ns: &str) -> Vec<Arc<K>> {
        let g = read(&self.inner);
        g.collect(g.by_namespace.get(ns))
    }

    /// The objects labelled `key=value`, in key order.
    pub fn by_label(&self, key: &str, value: &str) -> Vec<Arc<K>> {
        let g = read(&self.inner);
        g.collect(g.by_label.get(&(key.to_string(), value.to_string())))
    }

    /// The objects whose `spec.nodeName` is `node` (the pods bound to a node), in key order.
    pub fn by_node_name(&self, node: &str) -> Vec<Arc<K>> {
        let g = read(&self.inner);
        g.collect(g.by_node.get(node))
    }

    /// The cached objects for which `pred` holds, in key order.
    pub fn find(&self, mut pred: impl FnMut(&K) -> bool) -> Vec<Arc<K>> {
        read(&self.inner)
            .objects
            .values()
            .filter(|e| pred(&e.obj))
            .map(|e| e.obj.clone())
            .collect()
    }

    /// `true` once the first complete list has been applied.
    pub fn is_ready(&self) -> bool {
        *self.ready.borrow()
    }

    /// Waits until the first complete list has been applied (returns at once if it has).
    ///
    /// # Errors
    /// [`WriterDropped`] if the writer went away before that.
    pub async fn wait_until_ready(&self) -> Result<(), WriterDropped> {
        let mut rx = self.ready.clone();
        rx.wait_for(|r| *r)
            .await
            .map(|_| ())
            .map_err(|_| WriterDropped)
    }
}

/// The write handle on a [`Store`]: applies watcher events. Not `Clone`: one writer per store.
pub struct Writer<K = Value> {
    inner: Arc<RwLock<Indexed<K>>>,
    buffer: Option<Indexed<K>>,
    ready: watch::Sender<bool>,
}

impl<K: DeserializeOwned> Writer<K> {
    /// A new read handle on this writer's store.
    pub fn as_reader(&self) -> Store<K> {
        Store {
            inner: self.inner.clone(),
            ready: self.ready.subscribe(),
        }
    }

    /// Applies one watcher event: `Apply`/`Delete` change the live store; `Init` starts collecting a
    /// fresh set aside, `InitApply` adds to it, `InitDone` swaps it in and marks the store ready.
    pub fn apply_watcher_event(&mut self, event: &watcher::Event) {
        self.apply_event(event);
    }

    /// [`Writer::apply_watcher_event`], returning the event with its object decoded as stored
    /// (shared, not copied): what a [`crate::informer::SharedInformer`] hands its subscribers.
    /// `None` when the object does not decode into `K` (it is left out of the store; for a
    /// `Delete`, the object is removed all the same).
    pub fn apply_event(&mut self, event: &watcher::Event) -> Option<watcher::Event<Arc<K>>> {
        match event {
            watcher::Event::Apply(obj) => {
                let mut g = write(&self.inner);
                g.revision = g.revision.max(revision_of(obj));
                g.apply(obj).map(watcher::Event::Apply)
            }
            watcher::Event::Delete(obj) => {
                let mut g = write(&self.inner);
                g.revision = g.revision.max(revision_of(obj));
                g.remove(&ObjectRef::from_value(obj));
                drop(g);
                match decode::<K>(obj) {
                    Ok(k) => Some(watcher::Event::Delete(Arc::new(k))),
                    Err(e) => {
                        tracing::warn!(object = %ObjectRef::from_value(obj), error = %e, "deleted object does not decode");
                        None
                    }
                }
            }
            watcher::Event::Init => {
                self.buffer = Some(Indexed::default());
                Some(watcher::Event::Init)
            }
            watcher::Event::InitApply(obj) => {
                let b = self.buffer.get_or_insert_with(Indexed::default);
                b.revision = b.revision.max(revision_of(obj));
                b.apply(obj).map(watcher::Event::InitApply)
            }
            watcher::Event::InitDone => {
                let mut fresh = self.buffer.take().unwrap_or_default();
                let mut g = write(&self.inner);
                fresh.revision = fresh.revision.max(g.revision);
                *g = fresh;
                drop(g);
                self.ready.send_replace(true);
                Some(watcher::Event::InitDone)
            }
        }
    }
}

/// A new empty store: the read handle and its single writer.
pub fn store<K: DeserializeOwned>() -> (Store<K>, Writer<K>) {
    let inner = Arc::new(RwLock::new(Indexed::default()));
    let (tx, rx) = watch::channel(false);
    (
        Store {
            inner: inner.clone(),
            ready: rx,
        },
        Writer {
            inner,
            buffer: None,
            ready: tx,
        },
    )
}

/// Applies every event of `stream` to `writer`'s store and passes the events (and errors) on
/// unchanged, so the result can feed a controller or be drained with `for_each`.
pub fn reflector<K, S>(mut writer: Writer<K>, stream: S) -> impl Stream<Item = S::Item>
where
    K: DeserializeOwned,
    S: Stream<Item = Result<watcher::Event, watcher::Error>>,
{
    stream.inspect_ok(move |ev| writer.apply_watcher_event(ev))
}

#[cfg(test)]
#[path = "reflector_tests.rs"]
mod tests;
