//! WATCH (`?watch=true`): a chunked stream of newline-delimited `{"type","object"}` events, one
//! flushed chunk per event, with Kubernetes' semantics (API concepts, "Efficient detection of
//! changes", "Watch bookmarks"):
//!
//! - `resourceVersion` absent, empty or `0`: a synthetic ADDED for every matching object first,
//!   then the changes after that snapshot; `N`: only changes after revision N; a resume point older
//!   than the kept history: one ERROR event carrying a 410 `Expired` Status, then the end.
//! - Selectors apply to events: an object that stops matching is sent as DELETED (its previous
//!   state, stamped with the new revision), one that starts matching as ADDED.
//! - `sendInitialEvents=true` (streaming lists): the synthetic ADDED events whatever the
//!   resourceVersion, then a BOOKMARK annotated `k8s.io/initial-events-end: "true"`.
//! - `allowWatchBookmarks=true`: BOOKMARK events every [`super::ApiOptions::bookmark_interval`],
//!   carrying the revision this watch has caught up to (every change of its scope up to it was
//!   sent or filtered out), so a client resumes from a recent point even when nothing in its scope
//!   changed, as Kubernetes' watch cache sends bookmarks at its own progress.
//! - `timeoutSeconds` ends the stream cleanly; without it the stream stays open for
//!   [`super::ApiOptions::watch_timeout`]. Server shutdown ends every stream.
//! - Memory per watcher is bounded: the stream is pulled by the connection, so nothing is read from
//!   the store's receiver faster than the client accepts it; the store isolates slow receivers.
//! - With a Table `Accept`, each event's object is a one-row Table (column definitions on the first).

use super::Ctx;
use super::crud;
use super::error::ApiError;
use super::object;
use super::query::IncludeObject;
use super::respond;
use super::select::Selection;
use super::table;
use crate::store::{StoreError, WatchRecord};
use axum::body::Body;
use axum::http::StatusCode;
use axum::response::Response;
use bytes::Bytes;
use mock_k8_schemas::watch::{EventType, event_line};
use mock_k8_schemas::{ApiResource, Status, StatusCause, meta};
use serde_json::{Value, json};
use std::convert::Infallible;
use std::time::Duration;

/// What the next loop turn of a watch does.
enum Step {
    Stop,
    Record(Result<std::sync::Arc<WatchRecord>, StoreError>),
    Bookmark,
}

/// Turns objects into event lines for one watch.
struct Encoder {
    resource: &'static ApiResource,
    table: bool,
    include: IncludeObject,
    headers_sent: bool,
}

impl Encoder {
    /// One event line for an object given as JSON text.
    fn line(&mut self, event: EventType, json: &str, revision: u64) -> Bytes {
        if !self.table {
            return Bytes::from(event_line(event, json.as_bytes()));
        }
        match serde_json::from_str::<Value>(json) {
            Ok(v) => self.line_value(event, &v, revision),
            Err(_) => Bytes::from(event_line(event, json.as_bytes())),
        }
    }

    /// One event line for a parsed object.
    fn line_value(&mut self, event: EventType, obj: &Value, revision: u64) -> Bytes {
        if !self.table {
            return Bytes::from(event_line(
                event,
                &serde_json::to_vec(obj).unwrap_or_default(),
            ));
        }
        let row = table::row(self.resource, obj, self.include, object::now_unix_seconds());
        let t = table::table(
            self.resource,
            vec![row],
            revision,
            !self.headers_sent,
            None,
            None,
        );
        self.headers_sent = true;
        Bytes::from(event_line(
            event,
            &serde_json::to_vec(&t).unwrap_or_default(),
        ))
    }

    /// The lines (zero or one) a store change produces for a watch with selection `sel`.
    ///
    /// Selectors are evaluated on the stored versions' shared attributes
    /// ([`crate::store::StoredObject::selectable`]: one parse per stored version, whatever the
    /// number of watchers), and a matching object is sent as the
    /// stored JSON text, never re-serialized. Only an object leaving the selection (sent as
    /// DELETED with the new revision) is parsed here.
    fn record(&mut self, sel: &Selection, rec: &WatchRecord) -> Option<Bytes> {
        if sel.is_everything() {
            return Some(self.line(rec.event_type, &rec.object.json, rec.revision));
        }
        let kind = self.resource.kind;
        let cur_match = rec
            .object
            .selectable(kind)
            .is_some_and(|a| sel.matches_selectable(a));
        let prev_match = rec
            .prev
            .as_ref()
            .and_then(|p| p.selectable(kind))
            .map(|a| sel.matches_selectable(a));
        match rec.event_type {
            EventType::Modified => match (cur_match, prev_match) {
                (true, Some(true)) | (true, None) => {
                    Some(self.line(EventType::Modified, &rec.object.json, rec.revision))
                }
                (true, Some(false)) => {
                    Some(self.line(EventType::Added, &rec.object.json, rec.revision))
                }
                (false, Some(true)) => {
                    let mut prev: Value = serde_json::from_str(&rec.prev.as_ref()?.json).ok()?;
                    meta::set(
                        &mut prev,
                        "resourceVersion",
                        json!(rec.revision.to_string()),
                    );
                    Some(self.line_value(EventType::Deleted, &prev, rec.revision))
                }
                (false, _) => None,
            },
            other if cur_match => Some(self.line(other, &rec.object.json, rec.revision)),
            _ => None,
        }
    }

    /// The BOOKMARK that ends the initial events of a streaming list (Kubernetes' `WatchList`):
    /// annotated `k8s.io/initial-events-end: "true"`.
    fn initial_events_end(&self, revision: u64) -> Bytes {
        let obj = json!({
            "kind": self.resource.kind,
            "apiVersion": self.resource.api_version(),
            "metadata": {"resourceVersion": revision.to_string(), "annotations": {"k8s.io/initial-events-end": "true"}},
        });
        Bytes::from(event_line(
            EventType::Bookmark,
            &serde_json::to_vec(&obj).unwrap_or_default(),
        ))
    }

    /// A BOOKMARK line at `revision`.
    fn bookmark(&self, revision: u64) -> Bytes {
        let obj = json!({"kind": self.resource.kind, "apiVersion": self.resource.api_version(), "metadata": {"resourceVersion": revision.to_string()}});
        Bytes::from(event_line(
            EventType::Bookmark,
            &serde_json::to_vec(&obj).unwrap_or_default(),
        ))
    }
}

/// An ERROR line carrying `status`.
fn error_line(status: &Status) -> Bytes {
    Bytes::from(event_line(
        EventType::Error,
        &serde_json::to_vec(&status.to_json()).unwrap_or_default(),
    ))
}

/// How long a watch from a resourceVersion newer than the store's revision waits for the store to
/// catch up (Kubernetes' watch cache waits 3 s too).
pub const TOO_LARGE_RV_WAIT: Duration = Duration::from_secs(3);

/// Waits (at most [`TOO_LARGE_RV_WAIT`]) until the store has reached `revision`.
///
/// # Errors
/// 504 `Timeout` (`Too large resource version: requested N, current M`, cause
/// `ResourceVersionTooLarge`) when it does not in time.
pub async fn wait_for_revision(state: &super::ApiState, revision: u64) -> Result<(), ApiError> {
    let deadline = tokio::time::Instant::now() + TOO_LARGE_RV_WAIT;
    loop {
        let current = state.store.revision();
        if current >= revision {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline || state.shutdown.is_cancelled() {
            let message =
                format!("Too large resource version: requested {revision}, current {current}");
            let mut s = Status::new(504, "Timeout", message.clone());
            let details = s.details.get_or_insert_with(Default::default);
            details.causes = vec![StatusCause {
                reason: "ResourceVersionTooLarge".into(),
                message: "Too large resource version".into(),
                field: String::new(),
            }];
            details.retry_after_seconds = Some(1);
            return Err(s.into());
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(20)) => {}
            () = state.shutdown.cancelled() => {}
        }
    }
}

/// `GET ...?watch=true` on a collection.
///
/// A resume point newer than the store's revision waits up to [`TOO_LARGE_RV_WAIT`] for the store
/// to catch up, then proceeds normally.
///
/// # Errors
/// 400 for bad selectors or a non-numeric resourceVersion; 504 for a resourceVersion the store
/// does not reach in time; 503 when the store cannot watch.
pub async fn watch(ctx: &Ctx) -> Result<Response, ApiError> {
    let sel = Selection::new(&ctx.path, &ctx.params)?;
    let state = ctx.state.clone();
    let from = match ctx.params.resource_version.as_deref() {
        None | Some("0") => None,
        Some(s) => Some(
            s.parse::<u64>()
                .map_err(|_| ApiError::bad_request(format!("invalid resourceVersion {s:?}")))?,
        ),
    };
    let initial_events = ctx.params.send_initial_events;
    if let Some(n) = from.filter(|_| !initial_events) {
        wait_for_revision(&state, n).await?;
    }
    let (initial, start) = match from {
        _ if initial_events => crud::select_objects(&state, &sel),
        None => crud::select_objects(&state, &sel),
        Some(n) => (Vec::new(), n),
    };
    let receiver = match state.store.watch(&sel.prefix, start) {
        Ok(rx) => Ok(rx),
        Err(StoreError::Expired { requested, oldest }) => Err(Status::expired(format!(
            "too old resource version: {requested} ({oldest})"
        ))),
        Err(e) => return Err(ApiError::from_store(e, sel.resource, "")),
    };
    let mut enc = Encoder {
        resource: sel.resource,
        table: table::wants_table(&ctx.headers),
        include: ctx.params.include_object,
        headers_sent: false,
    };
    let timeout = ctx
        .params
        .timeout_seconds
        .map(Duration::from_secs)
        .unwrap_or(state.options.watch_timeout);
    let bookmarks = ctx.params.allow_watch_bookmarks;
    let interval = state
        .options
        .bookmark_interval
        .max(Duration::from_millis(10));
    let shutdown = state.shutdown.clone();
    let stream = async_stream::stream! {
        for obj in &initial {
            yield Ok::<Bytes, Infallible>(enc.line(EventType::Added, &obj.json, obj.resource_version));
        }
        if initial_events {
            yield Ok(enc.initial_events_end(start));
        }
        let mut rx = match receiver {
            Ok(rx) => rx,
            Err(status) => {
                yield Ok(error_line(&status));
                return;
            }
        };
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
        let mut last = start;
        loop {
            let step = tokio::select! {
                biased;
                _ = shutdown.cancelled() => Step::Stop,
                _ = &mut deadline => Step::Stop,
                rec = rx.recv() => Step::Record(rec),
                _ = ticker.tick(), if bookmarks => Step::Bookmark,
            };
            match step {
                Step::Stop => break,
                Step::Bookmark => yield Ok(enc.bookmark(last.max(rx.progress()))),
                Step::Record(Ok(rec)) => {
                    last = last.max(rec.revision);
                    if let Some(line) = enc.record(&sel, &rec) {
                        yield Ok(line);
                    }
                }
                Step::Record(Err(StoreError::Expired { requested, oldest })) => {
                    yield Ok(error_line(&Status::expired(format!("too old resource version: {requested} ({oldest})"))));
                    break;
                }
                Step::Record(Err(e)) => {
                    tracing::debug!(error = %e, "watch ended by the store");
                    break;
                }
            }
        }
    };
    let mut resp = Response::new(Body::from_stream(stream));
    *resp.status_mut() = StatusCode::OK;
    resp.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static(respond::JSON),
    );
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoredObject;
    use mock_k8_schemas::resource::by_plural;
    use std::sync::Arc;

    fn stored(json: Value, rv: u64) -> Arc<StoredObject> {
        Arc::new(StoredObject::new(
            "core/pods/default/a".into(),
            rv,
            Arc::from(json.to_string()),
        ))
    }

    #[test]
    fn encoder_should_wrap_rows_in_tables_with_headers_once() {
        let pods = by_plural("", "v1", "pods").expect("pods");
        let mut enc = Encoder {
            resource: pods,
            table: false,
            include: IncludeObject::Metadata,
            headers_sent: false,
        };
        let o = stored(json!({"kind": "Pod", "metadata": {"name": "a"}}), 3);
        let line = enc.line(EventType::Added, &o.json, 3);
        let ev: Value = serde_json::from_slice(&line).expect("json");
        assert_eq!(
            (ev["type"].clone(), ev["object"]["metadata"]["name"].clone()),
            (json!("ADDED"), json!("a"))
        );
        let b: Value = serde_json::from_slice(&enc.bookmark(9)).expect("json");
        assert_eq!(
            (
                b["type"].clone(),
                b["object"]["metadata"]["resourceVersion"].clone()
            ),
            (json!("BOOKMARK"), json!("9"))
        );
    }
}
