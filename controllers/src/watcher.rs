//! [`watcher`]: a never-ending stream of changes to one resource — list, then watch from the list's
//! resourceVersion, resuming and re-listing as the Kubernetes "efficient detection of changes"
//! protocol requires (Kubernetes docs, "API Concepts").
//!
//! # Guarantees
//! - Every object is delivered first in an `Init … InitApply* … InitDone` sequence (the full list),
//!   then as `Apply`/`Delete` changes in resourceVersion order.
//! - A watch that ends (server timeout) is resumed from the last seen resourceVersion, including the
//!   ones carried by `BOOKMARK` events, so no change is missed or repeated.
//! - On `410 Expired` the watcher re-lists at once, a single time; if the watch started after that
//!   re-list expires again before delivering anything, it reports the error and backs off before
//!   the next re-list (no relist storm).
//! - Other errors are reported as `Err` items and retried after an exponential backoff with jitter
//!   ([`BackoffConfig::WATCHER`] by default); the backoff resets when events flow again.
//!
//! The stream never ends on its own; drop it to stop.

use crate::backoff::{Backoff, BackoffConfig};
use crate::client::{Client, ClientError, ListParams, WatchParams, WatchStream};
use futures::{Stream, StreamExt};
use mock_k8_schemas::watch::EventType;
use mock_k8_schemas::{ApiResource, Status, meta};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

/// One item of a [`watcher`] stream (kube-runtime 0.9x naming).
#[derive(Debug, Clone, PartialEq)]
pub enum Event<K = Value> {
    /// The object was created or changed.
    Apply(K),
    /// The object was deleted (its last state).
    Delete(K),
    /// A (re-)list begins: a cache should start collecting a fresh set.
    Init,
    /// One object of the list.
    InitApply(K),
    /// The list is complete: a cache should atomically replace its contents with the collected set.
    InitDone,
}

impl<K> Event<K> {
    /// The object carried by `Apply`, `Delete` or `InitApply`.
    pub fn object(&self) -> Option<&K> {
        match self {
            Event::Apply(k) | Event::Delete(k) | Event::InitApply(k) => Some(k),
            Event::Init | Event::InitDone => None,
        }
    }
}

/// What went wrong; every error is followed by an automatic retry.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// The list (initial, or a re-list after 410) failed.
    #[error("initial list failed: {0}")]
    InitialListFailed(ClientError),
    /// The watch request or stream failed.
    #[error("watch failed: {0}")]
    WatchFailed(ClientError),
    /// The server sent an `ERROR` event (for 410, only when it repeats right after a re-list).
    #[error("watch error event: {0}")]
    WatchError(Box<Status>),
}

/// What to watch and how to retry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Only this namespace (`None`: all namespaces, or a cluster-scoped kind).
    pub namespace: Option<String>,
    /// A label selector (`app=web`).
    pub label_selector: Option<String>,
    /// A field selector (`spec.nodeName=n1`).
    pub field_selector: Option<String>,
    /// Ask the server for `BOOKMARK` events (default `true`).
    pub bookmarks: bool,
    /// Server-side timeout of each watch request in seconds (default 290, as kube-runtime); the
    /// watch is then resumed.
    pub timeout_seconds: Option<u32>,
    /// Retry delays after errors.
    pub backoff: BackoffConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            namespace: None,
            label_selector: None,
            field_selector: None,
            bookmarks: true,
            timeout_seconds: Some(290),
            backoff: BackoffConfig::WATCHER,
        }
    }
}

impl Config {
    /// Restricts to namespace `ns`.
    pub fn namespace(mut self, ns: &str) -> Self {
        self.namespace = Some(ns.to_string());
        self
    }

    /// Sets the label selector.
    pub fn labels(mut self, selector: &str) -> Self {
        self.label_selector = Some(selector.to_string());
        self
    }

    /// Sets the field selector.
    pub fn fields(mut self, selector: &str) -> Self {
        self.field_selector = Some(selector.to_string());
        self
    }

    /// Sets the per-request watch timeout, in seconds.
    pub fn timeout(mut self, seconds: u32) -> Self {
        self.timeout_seconds = Some(seconds);
        self
    }

    /// Stops asking for bookmarks.
    pub fn disable_bookmarks(mut self) -> Self {
        self.bookmarks = false;
        self
    }

    /// Sets the retry backoff.
    pub fn backoff(mut self, backoff: BackoffConfig) -> Self {
        self.backoff = backoff;
        self
    }
}

enum Phase {
    Listing,
    Initializing(std::vec::IntoIter<Value>),
    StartWatch,
    Watching(WatchStream),
}

struct Machine {
    client: Arc<dyn Client>,
    resource: &'static ApiResource,
    config: Config,
    phase: Phase,
    /// The last resourceVersion seen (list, event or bookmark).
    resource_version: String,
    backoff: Backoff,
    sleep: Option<Duration>,
    /// 410s since the last watch that delivered anything (or ended normally).
    expired_streak: u32,
}

impl Machine {
    fn seen(&mut self, obj: &Value) {
        if let Some(rv) = meta::str_field(obj, "resourceVersion") {
            self.resource_version = rv.to_string();
        }
        self.backoff.reset();
        self.expired_streak = 0;
    }

    /// Handles a failed watch; `None` means "continue at once" (the first 410).
    fn watch_failed(&mut self, err: ClientError) -> Option<Result<Event, Error>> {
        if err.is_expired() {
            self.expired_streak += 1;
            self.phase = Phase::Listing;
            if self.expired_streak == 1 {
                tracing::debug!(
                    resource = self.resource.plural,
                    "watch expired (410); re-listing"
                );
                return None;
            }
        } else {
            self.phase = Phase::StartWatch;
        }
        self.sleep = Some(self.backoff.next_delay());
        Some(Err(match err {
            ClientError::Api(status) => Error::WatchError(status),
            other => Error::WatchFailed(other),
        }))
    }

    async fn step(&mut self) -> Result<Event, Error> {
        loop {
            if let Some(d) = self.sleep.take() {
                tokio::time::sleep(d).await;
            }
            match &mut self.phase {
                Phase::Listing => {
                    let params = ListParams {
                        label_selector: self.config.label_selector.clone(),
                        field_selector: self.config.field_selector.clone(),
                    };
                    match self
                        .client
                        .list(self.resource, self.config.namespace.as_deref(), &params)
                        .await
                    {
                        Ok(list) => {
                            self.resource_version = list.resource_version;
                            self.phase = Phase::Initializing(list.items.into_iter());
                            return Ok(Event::Init);
                        }
                        Err(e) => {
                            self.sleep = Some(self.backoff.next_delay());
                            return Err(Error::InitialListFailed(e));
                        }
                    }
                }
                Phase::Initializing(items) => match items.next() {
                    Some(obj) => return Ok(Event::InitApply(obj)),
                    None => {
                        self.phase = Phase::StartWatch;
                        return Ok(Event::InitDone);
                    }
                },
                Phase::StartWatch => {
                    let params = WatchParams {
                        label_selector: self.config.label_selector.clone(),
                        field_selector: self.config.field_selector.clone(),
                        resource_version: Some(self.resource_version.clone()),
                        allow_bookmarks: self.config.bookmarks,
                        timeout_seconds: self.config.timeout_seconds,
                    };
                    self.phase = Phase::Watching(self.client.watch(
                        self.resource,
                        self.config.namespace.as_deref(),
                        &params,
                    ));
                }
                Phase::Watching(stream) => match stream.next().await {
                    None => {
                        // A normal end (timeout): the watch was valid, resume where it stopped.
                        self.expired_streak = 0;
                        self.phase = Phase::StartWatch;
                    }
                    Some(Ok(ev)) => match ev.event_type {
                        EventType::Added | EventType::Modified => {
                            self.seen(&ev.object);
                            return Ok(Event::Apply(ev.object));
                        }
                        EventType::Deleted => {
                            self.seen(&ev.object);
                            return Ok(Event::Delete(ev.object));
                        }
                        EventType::Bookmark => self.seen(&ev.object),
                        EventType::Error => {
                            if let Some(item) =
                                self.watch_failed(ClientError::from_status_json(&ev.object))
                            {
                                return item;
                            }
                        }
                    },
                    Some(Err(e)) => {
                        if let Some(item) = self.watch_failed(e) {
                            return item;
                        }
                    }
                },
            }
        }
    }
}

/// Lists then watches `resource` through `client`, forever (see the module docs for the guarantees).
///
/// # Errors
/// Items are `Err` when a list or watch failed ([`Error`]); the stream retries by itself after a
/// backoff, so consumers usually log errors and keep polling.
pub fn watcher(
    client: Arc<dyn Client>,
    resource: &'static ApiResource,
    config: Config,
) -> impl Stream<Item = Result<Event, Error>> + Send + 'static {
    let backoff = Backoff::new(config.backoff);
    let machine = Machine {
        client,
        resource,
        config,
        phase: Phase::Listing,
        resource_version: String::new(),
        backoff,
        sleep: None,
        expired_streak: 0,
    };
    futures::stream::unfold(machine, |mut m| async move {
        let item = m.step().await;
        Some((item, m))
    })
}

#[cfg(test)]
#[path = "watcher_tests.rs"]
mod tests;
