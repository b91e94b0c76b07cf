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
use futures::FutureExt;
use futures::future::BoxFuture;
use mock_k8_schemas::watch::EventType;
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
        f.debug_struct("FakeClient")
            .field("revision", &self.lock().revision)
            .finish()
    }
}

pub(crate) fn api_err(s: Status) -> ClientError {
    ClientError::api(s)
}

pub(crate) fn now_rfc3339() -> String {
    jiff::Timestamp::now()
        .round(jiff::Unit::Second)
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        .to_string()
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
        FakeClient {
            state: Mutex::new(State {
                oldest_replayable: 0,
                ..State::default()
            }),
            tx,
            history_limit: limit.max(1),
        }
    }

    // Poisoning only follows a panic in a test thread; the state is still consistent (every
    // mutation is completed before any call that could panic), so recover the guard.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Makes the next call of `verb` fail with `err` (queued: several calls inject several failures).
    pub fn fail_next(&self, verb: Verb, err: ClientError) {
        self.lock()
            .fail_next
            .entry(verb)
            .or_default()
            .push_back(err);
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
        let change = Change {
            revision: st.revision,
            group: resource.group,
            plural: resource.plural,
            event_type: EventType::Bookmark,
            object,
        };
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
        self.lock()
            .objects
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .map(|(_, v)| v.clone())
            .collect()
    }
}

mod ops;
mod watch;

impl Client for FakeClient {
    fn get<'a>(
        &'a self,
        r: &'static ApiResource,
        namespace: Option<&'a str>,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Value, ClientError>> {
        let mut st = self.lock();
        let res = Self::take_failure(&mut st, Verb::Get)
            .and_then(|()| Self::existing(&st, r, &Self::namespace_of(r, namespace)?, name));
        futures::future::ready(res).boxed()
    }

    fn list<'a>(
        &'a self,
        r: &'static ApiResource,
        namespace: Option<&'a str>,
        params: &'a ListParams,
    ) -> BoxFuture<'a, Result<ObjectList, ClientError>> {
        let mut st = self.lock();
        st.list_calls += 1;
        let res = Self::take_failure(&mut st, Verb::List).and_then(|()| {
            let filter = watch::Filter::new(
                r,
                namespace,
                params.label_selector.as_deref(),
                params.field_selector.as_deref(),
            )?;
            let prefix = r.key_prefix();
            let items = st
                .objects
                .range(prefix.clone()..)
                .take_while(|(k, _)| k.starts_with(&prefix))
                .map(|(_, v)| v)
                .filter(|v| filter.matches(v))
                .cloned()
                .collect();
            Ok(ObjectList {
                items,
                resource_version: st.revision.to_string(),
            })
        });
        futures::future::ready(res).boxed()
    }

    fn watch(
        &self,
        r: &'static ApiResource,
        namespace: Option<&str>,
        params: &WatchParams,
    ) -> WatchStream {
        self.watch_impl(r, namespace, params)
    }

    fn create<'a>(
        &'a self,
        r: &'static ApiResource,
        namespace: Option<&'a str>,
        object: Value,
    ) -> BoxFuture<'a, Result<Value, ClientError>> {
        futures::future::ready(self.do_create(r, namespace, object)).boxed()
    }

    fn replace<'a>(
        &'a self,
        r: &'static ApiResource,
        namespace: Option<&'a str>,
        name: &'a str,
        object: Value,
    ) -> BoxFuture<'a, Result<Value, ClientError>> {
        futures::future::ready(self.do_replace(Verb::Replace, r, namespace, name, object, false))
            .boxed()
    }

    fn replace_status<'a>(
        &'a self,
        r: &'static ApiResource,
        namespace: Option<&'a str>,
        name: &'a str,
        object: Value,
    ) -> BoxFuture<'a, Result<Value, ClientError>> {
        futures::future::ready(self.do_replace(
            Verb::ReplaceStatus,
            r,
            namespace,
            name,
            object,
            true,
        ))
        .boxed()
    }

    fn patch<'a>(
        &'a self,
        r: &'static ApiResource,
        namespace: Option<&'a str>,
        name: &'a str,
        subresource: Option<&'a str>,
        patch: Value,
    ) -> BoxFuture<'a, Result<Value, ClientError>> {
        let res = match subresource {
            None | Some("status") => {
                let pre = meta::str_field(&patch, "resourceVersion").map(str::to_string);
                let apply = |old: &Value| {
                    let mut new = old.clone();
                    json_patch::merge(&mut new, &patch);
                    Ok(new)
                };
                self.do_update(
                    Verb::Patch,
                    r,
                    namespace,
                    name,
                    apply,
                    subresource.is_some(),
                    pre,
                )
            }
            Some(other) => Err(api_err(Status::new(
                404,
                "NotFound",
                format!(
                    "the server could not find the requested resource ({}/{other})",
                    r.plural
                ),
            ))),
        };
        futures::future::ready(res).boxed()
    }

    fn delete<'a>(
        &'a self,
        r: &'static ApiResource,
        namespace: Option<&'a str>,
        name: &'a str,
        params: &'a DeleteParams,
    ) -> BoxFuture<'a, Result<Value, ClientError>> {
        futures::future::ready(self.do_delete(r, namespace, name, params)).boxed()
    }

    fn create_subresource<'a>(
        &'a self,
        r: &'static ApiResource,
        namespace: Option<&'a str>,
        name: &'a str,
        sub: &'a str,
        body: Value,
    ) -> BoxFuture<'a, Result<Value, ClientError>> {
        futures::future::ready(self.do_bind(r, namespace, name, sub, &body)).boxed()
    }
}

#[cfg(test)]
mod tests;
