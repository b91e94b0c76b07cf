//! [`FakeClient`]: a complete in-memory [`Client`] for tests of controllers and of the runtime.
//!
//! It keeps objects in a `BTreeMap` keyed like the real store, stamps every change with the next
//! revision (`metadata.resourceVersion`), keeps a bounded history so watches can resume from a
//! resourceVersion, and broadcasts changes to open watches. Faults are injected explicitly: the
//! next call of a verb can fail ([`FakeClient::fail_next`]), the next watch can end with a
//! `410 Expired` `ERROR` event ([`FakeClient::expire_next_watch`]), history can be compacted so
//! that old resourceVersions expire ([`FakeClient::compact`]).
//!
//! # Caveats
//! No validation beyond identity (name, namespace, resourceVersion preconditions); no
//! `deletecollection`; selectors filter on the new state of each object (an object that stops
//! matching is not turned into a `DELETED` event). Label and field selectors use
//! [`mock_k8_schemas::selector`], so they behave exactly like the server's.

use super::{Client, ClientError, DeleteParams, ListParams, ObjectList, WatchParams, WatchStream};
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use mock_k8_schemas::selector::{FieldSelector, LabelSelector};
use mock_k8_schemas::watch::{EventType, WatchEvent};
use mock_k8_schemas::{ApiResource, Status, meta};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::broadcast;

/// The verbs of [`Client`], to aim an injected failure at one of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verb {
    /// [`Client::get`].
    Get,
    /// [`Client::list`].
    List,
    /// [`Client::watch`] (the stream yields the error as its only item).
    Watch,
    /// [`Client::create`].
    Create,
    /// [`Client::replace`].
    Replace,
    /// [`Client::replace_status`].
    ReplaceStatus,
    /// [`Client::patch`].
    Patch,
    /// [`Client::delete`].
    Delete,
    /// [`Client::create_subresource`].
    CreateSubresource,
}

/// One stored change, as replayed to and broadcast to watches.
#[derive(Debug)]
struct Change {
    revision: u64,
    group: &'static str,
    plural: &'static str,
    event_type: EventType,
    object: Value,
}

#[derive(Default)]
struct State {
    revision: u64,
    objects: BTreeMap<String, Value>,
    history: VecDeque<Arc<Change>>,
    /// Watches from a revision below this get 410 Expired.
    oldest_replayable: u64,
    uid_counter: u64,
    fail_next: HashMap<Verb, VecDeque<ClientError>>,
    expire_next_watch: usize,
    list_calls: usize,
    watch_requests: Vec<WatchParams>,
}

/// An in-memory [`Client`] with Kubernetes semantics; cheap to create, safe to share (`Arc`).
pub struct FakeClient {
    state: Mutex<State>,
    tx: broadcast::Sender<Arc<Change>>,
    history_limit: usize,
}

impl Default for FakeClient {
    fn default() -> Self {
        FakeClient::new()
    }
}

impl std::fmt::Debug for FakeClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeClient").field("revision", &self.lock().revision).finish()
    }
}

fn api_err(s: Status) -> ClientError {
    ClientError::Api(s)
}

fn now_rfc3339() -> String {
    jiff::Timestamp::now().round(jiff::Unit::Second).unwrap_or(jiff::Timestamp::UNIX_EPOCH).to_string()
}

impl FakeClient {
    /// An empty fake with a history of 1000 changes and a broadcast buffer of 4096 events (a watch
    /// that falls further behind ends with `410 Expired`, like a real slow watcher).
    pub fn new() -> Self {
        FakeClient::with_history_limit(1000)
    }

    /// An empty fake that keeps the last `limit` changes for watch resumption.
    pub fn with_history_limit(limit: usize) -> Self {
        let (tx, _) = broadcast::channel(4096);
        FakeClient { state: Mutex::new(State { oldest_replayable: 0, ..State::default() }), tx, history_limit: limit.max(1) }
    }

    // Poisoning only follows a panic in a test thread; the state is still consistent (every
    // mutation is completed before any call that could panic), so recover the guard.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Makes the next call of `verb` fail with `err` (queued: several calls inject several failures).
    pub fn fail_next(&self, verb: Verb, err: ClientError) {
        self.lock().fail_next.entry(verb).or_default().push_back(err);
    }

    /// Makes the next watch yield a `410 Expired` `ERROR` event and end, as a server does when the
    /// requested resourceVersion was compacted away.
    pub fn expire_next_watch(&self) {
        self.lock().expire_next_watch += 1;
    }

    /// Drops all history: any watch resumed from a revision older than the current one gets 410.
    pub fn compact(&self) {
        let mut st = self.lock();
        st.history.clear();
        st.oldest_replayable = st.revision;
    }

    /// Sends a `BOOKMARK` with the current revision to open watches of `resource` that allowed them.
    pub fn send_bookmark(&self, resource: &'static ApiResource) {
        let st = self.lock();
        let object = json!({"apiVersion": resource.api_version(), "kind": resource.kind, "metadata": {"resourceVersion": st.revision.to_string()}});
        let change = Change { revision: st.revision, group: resource.group, plural: resource.plural, event_type: EventType::Bookmark, object };
        let _ = self.tx.send(Arc::new(change));
    }

    /// The current revision (the resourceVersion of the latest change).
    pub fn revision(&self) -> u64 {
        self.lock().revision
    }

    /// How many `list` calls were made.
    pub fn list_calls(&self) -> usize {
        self.lock().list_calls
    }

    /// The parameters of every `watch` call, in order.
    pub fn watch_requests(&self) -> Vec<WatchParams> {
        self.lock().watch_requests.clone()
    }

    /// Every stored object of `resource`, in key order.
    pub fn objects(&self, resource: &'static ApiResource) -> Vec<Value> {
        let prefix = resource.key_prefix();
        self.lock().objects.range(prefix.clone()..).take_while(|(k, _)| k.starts_with(&prefix)).map(|(_, v)| v.clone()).collect()
    }

    fn take_failure(st: &mut State, verb: Verb) -> Result<(), ClientError> {
        match st.fail_next.get_mut(&verb).and_then(VecDeque::pop_front) {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Stamps `obj` with the next revision, stores or removes it and tells the watches.
    fn commit(&self, st: &mut State, r: &'static ApiResource, event_type: EventType, mut obj: Value) -> Value {
        st.revision += 1;
        meta::set(&mut obj, "resourceVersion", json!(st.revision.to_string()));
        let key = r.key(meta::namespace(&obj), meta::name(&obj));
        if event_type == EventType::Deleted {
            st.objects.remove(&key);
        } else {
            st.objects.insert(key, obj.clone());
        }
        let change = Arc::new(Change { revision: st.revision, group: r.group, plural: r.plural, event_type, object: obj.clone() });
        st.history.push_back(change.clone());
        while st.history.len() > self.history_limit {
            if let Some(old) = st.history.pop_front() {
                st.oldest_replayable = old.revision;
            }
        }
        let _ = self.tx.send(change);
        obj
    }

    fn namespace_of(r: &'static ApiResource, namespace: Option<&str>) -> Result<String, ClientError> {
        match (r.namespaced, namespace) {
            (false, _) => Ok(String::new()),
            (true, Some(ns)) if !ns.is_empty() => Ok(ns.to_string()),
            (true, _) => Err(api_err(Status::bad_request(format!("a namespace is required for {}", r.plural)))),
        }
    }

    fn existing(st: &State, r: &'static ApiResource, ns: &str, name: &str) -> Result<Value, ClientError> {
        st.objects.get(&r.key(ns, name)).cloned().ok_or_else(|| api_err(Status::not_found(r.group, r.plural, name)))
    }

    fn do_create(&self, r: &'static ApiResource, namespace: Option<&str>, mut obj: Value) -> Result<Value, ClientError> {
        let mut st = self.lock();
        Self::take_failure(&mut st, Verb::Create)?;
        let ns = Self::namespace_of(r, namespace)?;
        let body_ns = meta::namespace(&obj);
        if r.namespaced && !body_ns.is_empty() && body_ns != ns {
            return Err(api_err(Status::bad_request("the namespace of the provided object does not match the namespace sent on the request")));
        }
        st.uid_counter += 1;
        let n = st.uid_counter;
        if meta::name(&obj).is_empty() {
            match meta::str_field(&obj, "generateName") {
                Some(prefix) => {
                    let name = format!("{prefix}{n:05x}");
                    meta::set(&mut obj, "name", json!(name));
                }
                None => return Err(api_err(Status::new(422, "Invalid", "metadata.name: Required value: name or generateName is required"))),
            }
        }
        let name = meta::name(&obj).to_string();
        if st.objects.contains_key(&r.key(&ns, &name)) {
            return Err(api_err(Status::already_exists(r.group, r.plural, &name)));
        }
        if r.namespaced {
            meta::set(&mut obj, "namespace", json!(ns));
        }
        meta::set(&mut obj, "uid", json!(format!("00000000-0000-4000-8000-{n:012x}")));
        meta::set(&mut obj, "creationTimestamp", json!(now_rfc3339()));
        meta::set(&mut obj, "generation", json!(1));
        meta::remove(&mut obj, "deletionTimestamp");
        if let Some(o) = obj.as_object_mut() {
            o.insert("apiVersion".into(), json!(r.api_version()));
            o.insert("kind".into(), json!(r.kind));
        }
        Ok(self.commit(&mut st, r, EventType::Added, obj))
    }

    /// The shared update path: precondition, identity, status handling, generation, finalizers.
    #[allow(clippy::too_many_arguments)]
    fn do_update(&self, verb: Verb, r: &'static ApiResource, namespace: Option<&str>, name: &str, f: impl FnOnce(&Value) -> Result<Value, ClientError>, status_only: bool, precondition: Option<String>) -> Result<Value, ClientError> {
        let mut st = self.lock();
        Self::take_failure(&mut st, verb)?;
        let ns = Self::namespace_of(r, namespace)?;
        let old = Self::existing(&st, r, &ns, name)?;
        if let Some(rv) = precondition {
            if meta::str_field(&old, "resourceVersion") != Some(rv.as_str()) {
                return Err(api_err(Status::conflict(r.group, r.plural, name)));
            }
        }
        let proposed = f(&old)?;
        let has_status = r.subresources.contains(&"status");
        let mut new = if status_only {
            let mut n = old.clone();
            n["status"] = proposed.get("status").cloned().unwrap_or(Value::Null);
            n
        } else {
            let mut n = proposed;
            if has_status {
                match old.get("status") {
                    Some(s) => n["status"] = s.clone(),
                    None => {
                        if let Some(o) = n.as_object_mut() {
                            o.remove("status");
                        }
                    }
                }
            }
            n
        };
        for field in ["name", "namespace", "uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds"] {
            match old.get("metadata").and_then(|m| m.get(field)) {
                Some(v) => meta::set(&mut new, field, v.clone()),
                None => {
                    meta::remove(&mut new, field);
                }
            }
        }
        let generation = old.get("metadata").and_then(|m| m.get("generation")).and_then(Value::as_i64).unwrap_or(1);
        let bump = !status_only && old.get("spec") != new.get("spec");
        meta::set(&mut new, "generation", json!(if bump { generation + 1 } else { generation }));
        let finalizers_empty = new.get("metadata").and_then(|m| m.get("finalizers")).and_then(Value::as_array).is_none_or(Vec::is_empty);
        if meta::str_field(&new, "deletionTimestamp").is_some() && finalizers_empty && !is_graceful_pod(r, &new) {
            return Ok(self.commit(&mut st, r, EventType::Deleted, new));
        }
        Ok(self.commit(&mut st, r, EventType::Modified, new))
    }

    fn do_delete(&self, r: &'static ApiResource, namespace: Option<&str>, name: &str, params: &DeleteParams) -> Result<Value, ClientError> {
        let mut st = self.lock();
        Self::take_failure(&mut st, Verb::Delete)?;
        let ns = Self::namespace_of(r, namespace)?;
        let mut obj = Self::existing(&st, r, &ns, name)?;
        let uid_ok = params.precondition_uid.as_deref().is_none_or(|u| meta::str_field(&obj, "uid") == Some(u));
        let rv_ok = params.precondition_resource_version.as_deref().is_none_or(|v| meta::str_field(&obj, "resourceVersion") == Some(v));
        if !uid_ok || !rv_ok {
            return Err(api_err(Status::conflict(r.group, r.plural, name)));
        }
        let has_finalizers = obj.get("metadata").and_then(|m| m.get("finalizers")).and_then(Value::as_array).is_some_and(|f| !f.is_empty());
        let bound_pod = r.kind == "Pod" && obj.pointer("/spec/nodeName").and_then(Value::as_str).is_some_and(|n| !n.is_empty());
        let grace = params.grace_period_seconds.unwrap_or_else(|| obj.pointer("/spec/terminationGracePeriodSeconds").and_then(Value::as_i64).unwrap_or(30));
        if has_finalizers || (bound_pod && grace > 0) {
            if meta::str_field(&obj, "deletionTimestamp").is_some() {
                return Ok(obj);
            }
            meta::set(&mut obj, "deletionTimestamp", json!(now_rfc3339()));
            if bound_pod {
                meta::set(&mut obj, "deletionGracePeriodSeconds", json!(grace.max(0)));
            }
            return Ok(self.commit(&mut st, r, EventType::Modified, obj));
        }
        Ok(self.commit(&mut st, r, EventType::Deleted, obj))
    }

    fn do_bind(&self, r: &'static ApiResource, namespace: Option<&str>, name: &str, sub: &str, body: &Value) -> Result<Value, ClientError> {
        if r.kind != "Pod" || sub != "binding" {
            let mut st = self.lock();
            Self::take_failure(&mut st, Verb::CreateSubresource)?;
            return Err(api_err(Status::new(404, "NotFound", format!("the server could not find the requested resource ({}/{sub})", r.plural))));
        }
        let node = body.pointer("/target/name").and_then(Value::as_str).unwrap_or("").to_string();
        if node.is_empty() {
            return Err(api_err(Status::new(422, "Invalid", format!("Binding \"{name}\" is invalid: target.name: Required value"))));
        }
        self.do_update(
            Verb::CreateSubresource,
            r,
            namespace,
            name,
            |old| {
                let current = old.pointer("/spec/nodeName").and_then(Value::as_str).unwrap_or("");
                if !current.is_empty() {
                    let msg = format!("Operation cannot be fulfilled on pods/binding \"{name}\": pod {name} is already assigned to node \"{current}\"");
                    return Err(api_err(Status::new(409, "Conflict", msg)));
                }
                let mut new = old.clone();
                new["spec"]["nodeName"] = json!(node);
                Ok(new)
            },
            false,
            None,
        )?;
        Ok(json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}))
    }
}

/// A pod bound to a node whose deletion waits for its node agent (grace period > 0).
fn is_graceful_pod(r: &ApiResource, obj: &Value) -> bool {
    r.kind == "Pod"
        && obj.pointer("/spec/nodeName").and_then(Value::as_str).is_some_and(|n| !n.is_empty())
        && obj.pointer("/metadata/deletionGracePeriodSeconds").and_then(Value::as_i64).unwrap_or(0) > 0
}

/// Parsed selectors of a list or watch.
struct Filter {
    group: &'static str,
    plural: &'static str,
    namespace: Option<String>,
    labels: Option<LabelSelector>,
    fields: Option<FieldSelector>,
}

impl Filter {
    fn new(r: &'static ApiResource, namespace: Option<&str>, labels: Option<&str>, fields: Option<&str>) -> Result<Self, ClientError> {
        let bad = |e: mock_k8_schemas::selector::SelectorError| api_err(Status::bad_request(e.to_string()));
        let labels = labels.filter(|s| !s.is_empty()).map(LabelSelector::parse).transpose().map_err(bad)?;
        let fields = fields.filter(|s| !s.is_empty()).map(FieldSelector::parse).transpose().map_err(bad)?;
        let namespace = namespace.filter(|_| r.namespaced).map(str::to_string);
        Ok(Filter { group: r.group, plural: r.plural, namespace, labels, fields })
    }

    fn matches(&self, obj: &Value) -> bool {
        self.namespace.as_deref().is_none_or(|ns| meta::namespace(obj) == ns)
            && self.labels.as_ref().is_none_or(|s| s.matches(&meta::labels(obj)))
            && self.fields.as_ref().is_none_or(|s| s.matches(obj))
    }

    fn wants(&self, c: &Change, bookmarks: bool) -> bool {
        c.group == self.group && c.plural == self.plural && if c.event_type == EventType::Bookmark { bookmarks } else { self.matches(&c.object) }
    }
}

fn once_event(item: Result<WatchEvent, ClientError>) -> WatchStream {
    futures::stream::once(async move { item }).boxed()
}

impl Client for FakeClient {
    fn get<'a>(&'a self, r: &'static ApiResource, namespace: Option<&'a str>, name: &'a str) -> BoxFuture<'a, Result<Value, ClientError>> {
        let mut st = self.lock();
        let res = Self::take_failure(&mut st, Verb::Get).and_then(|()| Self::existing(&st, r, &Self::namespace_of(r, namespace)?, name));
        futures::future::ready(res).boxed()
    }

    fn list<'a>(&'a self, r: &'static ApiResource, namespace: Option<&'a str>, params: &'a ListParams) -> BoxFuture<'a, Result<ObjectList, ClientError>> {
        let mut st = self.lock();
        st.list_calls += 1;
        let res = Self::take_failure(&mut st, Verb::List).and_then(|()| {
            let filter = Filter::new(r, namespace, params.label_selector.as_deref(), params.field_selector.as_deref())?;
            let prefix = r.key_prefix();
            let items = st.objects.range(prefix.clone()..).take_while(|(k, _)| k.starts_with(&prefix)).map(|(_, v)| v).filter(|v| filter.matches(v)).cloned().collect();
            Ok(ObjectList { items, resource_version: st.revision.to_string() })
        });
        futures::future::ready(res).boxed()
    }

    fn watch(&self, r: &'static ApiResource, namespace: Option<&str>, params: &WatchParams) -> WatchStream {
        let mut st = self.lock();
        st.watch_requests.push(params.clone());
        if let Err(e) = Self::take_failure(&mut st, Verb::Watch) {
            return once_event(Err(e));
        }
        // `None`/"" starts from now; "0" means "any version": replay from the start of the kept
        // history, or (once compacted) synthesize ADDED events for every current object.
        let rv = params.resource_version.as_deref().filter(|v| !v.is_empty());
        let from = match rv {
            None => st.revision,
            Some("0") => st.oldest_replayable,
            Some(v) => match v.parse::<u64>() {
                Ok(n) => n,
                Err(_) => return once_event(Err(api_err(Status::bad_request(format!("invalid resourceVersion {v:?}"))))),
            },
        };
        let synthetic = rv == Some("0") && st.oldest_replayable > 0;
        if st.expire_next_watch > 0 || (from < st.oldest_replayable && !synthetic) {
            st.expire_next_watch = st.expire_next_watch.saturating_sub(1);
            let status = Status::expired(format!("too old resource version: {from} ({})", st.oldest_replayable.max(st.revision)));
            return once_event(Ok(WatchEvent { event_type: EventType::Error, object: status.to_json() }));
        }
        let filter = match Filter::new(r, namespace, params.label_selector.as_deref(), params.field_selector.as_deref()) {
            Ok(f) => Arc::new(f),
            Err(e) => return once_event(Err(e)),
        };
        let backlog: Vec<Arc<Change>> = if synthetic {
            let prefix = r.key_prefix();
            let current = st.objects.range(prefix.clone()..).take_while(|(k, _)| k.starts_with(&prefix));
            let added = |(_, v): (&String, &Value)| Arc::new(Change { revision: st.revision, group: r.group, plural: r.plural, event_type: EventType::Added, object: v.clone() });
            current.map(added).collect()
        } else {
            st.history.iter().filter(|c| c.revision > from).cloned().collect()
        };
        // Subscribing while holding the lock: every change after the backlog reaches the receiver.
        let rx = self.tx.subscribe();
        drop(st);
        let live = futures::stream::unfold(Some(rx), |rx| async move {
            let mut rx = rx?;
            match rx.recv().await {
                Ok(c) => Some((Ok(c), Some(rx))),
                Err(broadcast::error::RecvError::Lagged(_)) => Some((Err(api_err(Status::expired("watch fell too far behind"))), None)),
                Err(broadcast::error::RecvError::Closed) => None,
            }
        });
        let bookmarks = params.allow_bookmarks;
        let events = futures::stream::iter(backlog.into_iter().map(Ok))
            .chain(live)
            .filter(move |c| futures::future::ready(c.as_ref().map_or(true, |c| filter.wants(c, bookmarks))))
            .map(|c| c.map(|c| WatchEvent { event_type: c.event_type, object: c.object.clone() }));
        match params.timeout_seconds {
            Some(secs) => events.take_until(tokio::time::sleep(std::time::Duration::from_secs(u64::from(secs)))).boxed(),
            None => events.boxed(),
        }
    }

    fn create<'a>(&'a self, r: &'static ApiResource, namespace: Option<&'a str>, object: Value) -> BoxFuture<'a, Result<Value, ClientError>> {
        futures::future::ready(self.do_create(r, namespace, object)).boxed()
    }

    fn replace<'a>(&'a self, r: &'static ApiResource, namespace: Option<&'a str>, name: &'a str, object: Value) -> BoxFuture<'a, Result<Value, ClientError>> {
        let pre = meta::str_field(&object, "resourceVersion").map(str::to_string);
        futures::future::ready(self.do_update(Verb::Replace, r, namespace, name, |_| Ok(object), false, pre)).boxed()
    }

    fn replace_status<'a>(&'a self, r: &'static ApiResource, namespace: Option<&'a str>, name: &'a str, object: Value) -> BoxFuture<'a, Result<Value, ClientError>> {
        let pre = meta::str_field(&object, "resourceVersion").map(str::to_string);
        futures::future::ready(self.do_update(Verb::ReplaceStatus, r, namespace, name, |_| Ok(object), true, pre)).boxed()
    }

    fn patch<'a>(&'a self, r: &'static ApiResource, namespace: Option<&'a str>, name: &'a str, subresource: Option<&'a str>, patch: Value) -> BoxFuture<'a, Result<Value, ClientError>> {
        let res = match subresource {
            None | Some("status") => {
                let pre = meta::str_field(&patch, "resourceVersion").map(str::to_string);
                let apply = |old: &Value| {
                    let mut new = old.clone();
                    json_patch::merge(&mut new, &patch);
                    Ok(new)
                };
                self.do_update(Verb::Patch, r, namespace, name, apply, subresource.is_some(), pre)
            }
            Some(other) => Err(api_err(Status::new(404, "NotFound", format!("the server could not find the requested resource ({}/{other})", r.plural)))),
        };
        futures::future::ready(res).boxed()
    }

    fn delete<'a>(&'a self, r: &'static ApiResource, namespace: Option<&'a str>, name: &'a str, params: &'a DeleteParams) -> BoxFuture<'a, Result<Value, ClientError>> {
        futures::future::ready(self.do_delete(r, namespace, name, params)).boxed()
    }

    fn create_subresource<'a>(&'a self, r: &'static ApiResource, namespace: Option<&'a str>, name: &'a str, sub: &'a str, body: Value) -> BoxFuture<'a, Result<Value, ClientError>> {
        futures::future::ready(self.do_bind(r, namespace, name, sub, &body)).boxed()
    }
}

#[cfg(test)]
#[path = "testing_tests.rs"]
mod tests;
