//! The watch path of the [`FakeClient`]: replay from history, then live broadcast, filtered.

use super::{Change, FakeClient, Verb, api_err};
use crate::client::{ClientError, WatchParams, WatchStream};
use futures::StreamExt;
use mock_k8_schemas::selector::{FieldSelector, LabelSelector};
use mock_k8_schemas::watch::{EventType, WatchEvent};
use mock_k8_schemas::{ApiResource, Status, meta};
use serde_json::Value;
use std::sync::Arc;
use tokio::sync::broadcast;

/// Parsed selectors of a list or watch.
pub(super) struct Filter {
    group: &'static str,
    plural: &'static str,
    namespace: Option<String>,
    labels: Option<LabelSelector>,
    fields: Option<FieldSelector>,
}

impl Filter {
    pub(super) fn new(
        r: &'static ApiResource,
        namespace: Option<&str>,
        labels: Option<&str>,
        fields: Option<&str>,
    ) -> Result<Self, ClientError> {
        let bad = |e: mock_k8_schemas::selector::SelectorError| {
            api_err(Status::bad_request(e.to_string()))
        };
        let labels = labels
            .filter(|s| !s.is_empty())
            .map(LabelSelector::parse)
            .transpose()
            .map_err(bad)?;
        let fields = fields
            .filter(|s| !s.is_empty())
            .map(FieldSelector::parse)
            .transpose()
            .map_err(bad)?;
        let namespace = namespace.filter(|_| r.namespaced).map(str::to_string);
        Ok(Filter {
            group: r.group,
            plural: r.plural,
            namespace,
            labels,
            fields,
        })
    }

    pub(super) fn matches(&self, obj: &Value) -> bool {
        self.namespace
            .as_deref()
            .is_none_or(|ns| meta::namespace(obj) == ns)
            && self
                .labels
                .as_ref()
                .is_none_or(|s| s.matches(&meta::labels(obj)))
            && self.fields.as_ref().is_none_or(|s| s.matches(obj))
    }

    fn wants(&self, c: &Change, bookmarks: bool) -> bool {
        c.group == self.group
            && c.plural == self.plural
            && if c.event_type == EventType::Bookmark {
                bookmarks
            } else {
                self.matches(&c.object)
            }
    }
}

fn once_event(item: Result<WatchEvent, ClientError>) -> WatchStream {
    futures::stream::once(async move { item }).boxed()
}

impl FakeClient {
    /// [`crate::client::Client::watch`] for the fake (see the module docs of `testing`).
    pub(super) fn watch_impl(
        &self,
        r: &'static ApiResource,
        namespace: Option<&str>,
        params: &WatchParams,
    ) -> WatchStream {
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
                Err(_) => {
                    return once_event(Err(api_err(Status::bad_request(format!(
                        "invalid resourceVersion {v:?}"
                    )))));
                }
            },
        };
        let synthetic = rv == Some("0") && st.oldest_replayable > 0;
        if st.expire_next_watch > 0 || (from < st.oldest_replayable && !synthetic) {
            st.expire_next_watch = st.expire_next_watch.saturating_sub(1);
            let status = Status::expired(format!(
                "too old resource version: {from} ({})",
                st.oldest_replayable.max(st.revision)
            ));
            return once_event(Ok(WatchEvent {
                event_type: EventType::Error,
                object: status.to_json(),
            }));
        }
        let filter = match Filter::new(
            r,
            namespace,
            params.label_selector.as_deref(),
            params.field_selector.as_deref(),
        ) {
            Ok(f) => Arc::new(f),
            Err(e) => return once_event(Err(e)),
        };
        let backlog: Vec<Arc<Change>> = if synthetic {
            let prefix = r.key_prefix();
            let current = st
                .objects
                .range(prefix.clone()..)
                .take_while(|(k, _)| k.starts_with(&prefix));
            let added = |(_, v): (&String, &Value)| {
                Arc::new(Change {
                    revision: st.revision,
                    group: r.group,
                    plural: r.plural,
                    event_type: EventType::Added,
                    object: v.clone(),
                })
            };
            current.map(added).collect()
        } else {
            st.history
                .iter()
                .filter(|c| c.revision > from)
                .cloned()
                .collect()
        };
        // Subscribing while holding the lock: every change after the backlog reaches the receiver.
        let rx = self.tx.subscribe();
        drop(st);
        let live = futures::stream::unfold(Some(rx), |rx| async move {
            let mut rx = rx?;
            match rx.recv().await {
                Ok(c) => Some((Ok(c), Some(rx))),
                Err(broadcast::error::RecvError::Lagged(_)) => Some((
                    Err(api_err(Status::expired("watch fell too far behind"))),
                    None,
                )),
                Err(broadcast::error::RecvError::Closed) => None,
            }
        });
        let bookmarks = params.allow_bookmarks;
        let events = futures::stream::iter(backlog.into_iter().map(Ok))
            .chain(live)
            .filter(move |c| {
                futures::future::ready(c.as_ref().map_or(true, |c| filter.wants(c, bookmarks)))
            })
            .map(|c| {
                c.map(|c| WatchEvent {
                    event_type: c.event_type,
                    object: c.object.clone(),
                })
            });
        match params.timeout_seconds {
            Some(secs) => events
                .take_until(tokio::time::sleep(std::time::Duration::from_secs(
                    u64::from(secs),
                )))
                .boxed(),
            None => events.boxed(),
        }
    }
}
