//! The watch history and the fan-out of changes to watchers.
//!
//! # Design
//! - The history ([`History`]) keeps the last changes, about 75 s of them and at most
//!   `watch_history`, as Kubernetes' watch cache sizes itself; revisions in it are contiguous
//!   (every change gets the next revision).
//! - Live changes go out through a `tokio::sync::broadcast` channel of [`LIVE_CAPACITY`]: sending
//!   never waits, so a slow watcher can neither stall the state machine nor other watchers, and
//!   memory stays bounded. A receiver that falls more than the channel's capacity behind
//!   (`RecvError::Lagged`) reads the missed changes back from the history if they are still there,
//!   else fails with `StoreError::Expired` (HTTP 410: a watcher too slow for the history window is
//!   ended, as Kubernetes' watch cache ends a watcher whose buffer stays full).
//! - Reading from the history (a new receiver's replay, or catching up after lagging) goes in
//!   chunks of at most [`REPLAY_CHUNK`] records, each taken under the hub lock: a receiver never
//!   holds more than one chunk plus the channel's share, whatever the history size.
//! - The state machine publishes (updates the cache, appends to the history, sends) under one
//!   mutex, and a receiver takes its last history chunk and subscribes to the live channel under
//!   the same mutex, so it sees every change after its start point exactly once.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;

use super::history::History;
use super::{StoreError, WatchRecord};

/// Live events buffered per receiver before it counts as lagging.
pub const LIVE_CAPACITY: usize = 1024;

/// Most history records a receiver scans (and holds) per step while replaying or catching up.
pub const REPLAY_CHUNK: usize = 256;

/// What the live channel carries.
#[derive(Debug, Clone)]
enum Live {
    /// One change.
    Record(Arc<WatchRecord>),
    /// The state was replaced by a snapshot: every open watch must restart (Expired).
    Reset,
}

/// History + fan-out, shared by the state machine (publisher) and the receivers.
pub struct WatchHub {
    inner: Mutex<Inner>,
    watchers: AtomicU64,
}

struct Inner {
    history: History,
    /// The revision of the last published change (or snapshot).
    revision: u64,
    /// `None` once the store shut down.
    sender: Option<broadcast::Sender<Live>>,
}

impl Inner {
    /// The oldest revision a watch can resume from: every change after it is in the history.
    fn oldest_resumable(&self) -> u64 {
        match self.history.front() {
            Some(r) => r.revision.saturating_sub(1),
            None => self.revision,
        }
    }

    /// Checks `from` against the history; Kubernetes' watch cache rule ("too old resource version").
    fn check(&self, from: u64) -> Result<(), StoreError> {
        let oldest = self.oldest_resumable();
        if from < oldest && from < self.revision {
            return Err(StoreError::Expired {
                requested: from,
                oldest,
            });
        }
        Ok(())
    }

    /// Up to [`REPLAY_CHUNK`] history records after `from`, those on keys starting with `prefix`
    /// kept, and the revision the scan reached (`None`: it reached the end of the history).
    fn replay_chunk(&self, prefix: &str, from: u64) -> (VecDeque<Arc<WatchRecord>>, Option<u64>) {
        let start = self.history.after(from);
        let end = (start + REPLAY_CHUNK).min(self.history.len());
        let chunk = self
            .history
            .range(start, end)
            .filter(|r| r.object.key.starts_with(prefix))
            .cloned()
            .collect();
        let reached = match self.history.get(end) {
            Some(_) => self.history.get(end - 1).map(|r| r.revision),
            None => None,
        };
        (chunk, reached)
    }
}

impl WatchHub {
    /// An empty hub at `revision`, keeping at most `max_history` changes (see [`History`]).
    pub fn new(max_history: usize, revision: u64) -> WatchHub {
        let (sender, _) = broadcast::channel(LIVE_CAPACITY);
        let inner = Inner {
            history: History::new(max_history),
            revision,
            sender: Some(sender),
        };
        WatchHub {
            inner: Mutex::new(inner),
            watchers: AtomicU64::new(0),
        }
    }

    // Every critical section leaves `Inner` consistent, so a poisoned lock is still usable.
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `commit` (the cache update) and publishes `records` (in revision order, ending at
    /// `revision`) as one step for subscribers.
    pub fn publish(&self, records: Vec<Arc<WatchRecord>>, revision: u64, commit: impl FnOnce()) {
        let mut inner = self.lock();
        commit();
        inner.revision = revision;
        let now = Instant::now();
        for record in records {
            inner.history.push(record.clone(), now);
            if let Some(sender) = &inner.sender {
                // Err only means nobody is listening right now.
                let _ = sender.send(Live::Record(record));
            }
        }
    }

    /// Runs `commit` (a snapshot install), forgets the history and ends every open watch with
    /// `Expired`, since the changes that led to `revision` are unknown.
    pub fn reset(&self, revision: u64, commit: impl FnOnce()) {
        let mut inner = self.lock();
        commit();
        inner.history.clear();
        inner.revision = revision;
        if let Some(sender) = &inner.sender {
            let _ = sender.send(Live::Reset);
        }
    }

    /// Ends every watch: receivers drain what they have, then get `Unavailable`.
    pub fn close(&self) {
        self.lock().sender = None;
    }

    /// Open receivers.
    pub fn watchers(&self) -> u64 {
        self.watchers.load(Ordering::Relaxed)
    }

    /// A receiver of changes after `from` on keys starting with `prefix`.
    ///
    /// # Errors
    /// `Expired` when `from` is older than the history and not the current revision;
    /// `Unavailable` after [`WatchHub::close`].
    pub fn subscribe(
        self: &Arc<Self>,
        prefix: &str,
        from: u64,
    ) -> Result<WatchReceiver, StoreError> {
        let inner = self.lock();
        if inner.sender.is_none() {
            return Err(closed());
        }
        inner.check(from)?;
        drop(inner);
        self.watchers.fetch_add(1, Ordering::Relaxed);
        Ok(WatchReceiver {
            hub: self.clone(),
            prefix: prefix.to_string(),
            last: from,
            pending: VecDeque::new(),
            rx: None,
            failed: None,
        })
    }
}

fn closed() -> StoreError {
    StoreError::Unavailable("the store is shut down".into())
}

/// A stream of changes after a revision, filtered by key prefix (see [`WatchHub`] for how it keeps
/// up). Dropping it unsubscribes.
pub struct WatchReceiver {
    hub: Arc<WatchHub>,
    prefix: String,
    /// The revision of the last change this receiver consumed (delivered or filtered out); while
    /// catching up, the revision the history scan reached.
    last: u64,
    /// History records to deliver before anything else (at most one [`REPLAY_CHUNK`]).
    pending: VecDeque<Arc<WatchRecord>>,
    /// The live channel; `None` while reading from the history.
    rx: Option<broadcast::Receiver<Live>>,
    /// Once failed, every later `recv` repeats the error.
    failed: Option<StoreError>,
}

impl WatchReceiver {
    /// The revision this receiver has caught up to: every change up to it on its prefix has been
    /// returned by [`WatchReceiver::recv`] (changes on other keys are skipped as they pass), so a
    /// watch may be resumed from it. What a bookmark carries.
    pub fn progress(&self) -> u64 {
        match self.pending.front() {
            Some(next) => next.revision.saturating_sub(1),
            None => self.last,
        }
    }

    /// The next change, in revision order.
    ///
    /// # Errors
    /// `StoreError::Expired` when this receiver fell further behind than the history keeps (or the
    /// state was replaced by a snapshot); `StoreError::Unavailable` once the store shuts down.
    pub async fn recv(&mut self) -> Result<Arc<WatchRecord>, StoreError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let result = self.next().await;
        if let Err(e) = &result {
            self.failed = Some(e.clone());
        }
        result
    }

    async fn next(&mut self) -> Result<Arc<WatchRecord>, StoreError> {
        loop {
            if let Some(record) = self.pending.pop_front() {
                return Ok(record);
            }
            let Some(rx) = &mut self.rx else {
                self.catch_up()?;
                continue;
            };
            match rx.recv().await {
                Ok(Live::Record(record)) => {
                    if record.revision <= self.last {
                        continue;
                    }
                    self.last = record.revision;
                    if record.object.key.starts_with(&self.prefix) {
                        return Ok(record);
                    }
                }
                Ok(Live::Reset) => {
                    let oldest = self.hub.lock().oldest_resumable();
                    return Err(StoreError::Expired {
                        requested: self.last,
                        oldest,
                    });
                }
                Err(RecvError::Lagged(_)) => self.rx = None,
                Err(RecvError::Closed) => return Err(closed()),
            }
        }
    }

    /// One step of reading from the history (a new receiver, or one that lagged): loads the next
    /// chunk after `last` into `pending`; at the end of the history, subscribes to the live
    /// channel under the same lock, so nothing falls between the two.
    fn catch_up(&mut self) -> Result<(), StoreError> {
        let inner = self.hub.lock();
        let Some(sender) = &inner.sender else {
            return Err(closed());
        };
        inner.check(self.last)?;
        let (chunk, reached) = inner.replay_chunk(&self.prefix, self.last);
        match reached {
            Some(revision) => self.last = revision,
            None => {
                self.last = self.last.max(inner.revision);
                self.rx = Some(sender.subscribe());
            }
        }
        self.pending = chunk;
        Ok(())
    }
}

impl Drop for WatchReceiver {
    fn drop(&mut self) {
        self.hub.watchers.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoredObject;
    use mock_k8_schemas::watch::EventType;

    fn record(key: &str, revision: u64) -> Arc<WatchRecord> {
        let object = Arc::new(StoredObject::new(key.into(), revision, "{}".into()));
        Arc::new(WatchRecord::new(revision, EventType::Added, object, None))
    }

    fn publish(hub: &WatchHub, from: u64, to: u64, key: &str) {
        for rv in from..=to {
            hub.publish(vec![record(key, rv)], rv, || {});
        }
    }

    #[tokio::test]
    async fn watch_hub_should_replay_then_stream_live_without_gap_or_duplicate() {
        let hub = Arc::new(WatchHub::new(100, 0));
        publish(&hub, 1, 5, "core/pods/a/x");
        let mut rx = hub.subscribe("core/pods/", 2).unwrap();
        publish(&hub, 6, 7, "core/pods/a/x");
        publish(&hub, 8, 8, "core/nodes//n");
        publish(&hub, 9, 9, "core/pods/a/y");
        let mut got = Vec::new();
        for _ in 0..6 {
            got.push(rx.recv().await.unwrap().revision);
        }
        assert_eq!(got, vec![3, 4, 5, 6, 7, 9]);
        assert_eq!(rx.progress(), 9);
        assert_eq!(hub.watchers(), 1);
        drop(rx);
        assert_eq!(hub.watchers(), 0);
    }

    #[tokio::test]
    async fn watch_hub_should_expire_too_old_resume_points() {
        let hub = Arc::new(WatchHub::new(5, 0));
        publish(&hub, 1, 20, "k/p/n/a");
        // History holds 16..=20: resumable from 15.
        assert!(hub.subscribe("", 15).is_ok());
        assert_eq!(
            hub.subscribe("", 14).err(),
            Some(StoreError::Expired {
                requested: 14,
                oldest: 15
            })
        );
        assert!(hub.subscribe("", 20).is_ok());
        // Empty history: only the current revision is a valid start.
        let empty = Arc::new(WatchHub::new(5, 7));
        assert!(empty.subscribe("", 7).is_ok());
        assert!(empty.subscribe("", 6).is_err());
    }

    #[tokio::test]
    async fn watch_receiver_should_recover_from_lag_via_history_or_expire() {
        let hub = Arc::new(WatchHub::new(5000, 0));
        let mut rx = hub.subscribe("", 0).unwrap();
        publish(&hub, 1, 3000, "k/p/n/a");
        for want in 1..=3000 {
            assert_eq!(rx.recv().await.unwrap().revision, want);
        }
        let small = Arc::new(WatchHub::new(10, 0));
        let mut rx = small.subscribe("", 0).unwrap();
        publish(&small, 1, 3000, "k/p/n/a");
        assert!(matches!(
            rx.recv().await,
            Err(StoreError::Expired { requested: 0, .. })
        ));
        assert!(rx.recv().await.is_err());
    }

    #[tokio::test]
    async fn watch_receiver_progress_should_pass_changes_on_other_keys() {
        let hub = Arc::new(WatchHub::new(100, 0));
        let mut rx = hub.subscribe("core/pods/", 0).unwrap();
        publish(&hub, 1, 1, "core/pods/a/x");
        publish(&hub, 2, 2, "core/pods/a/y");
        assert_eq!(rx.recv().await.unwrap().revision, 1);
        assert_eq!(rx.progress(), 1, "2 is not returned yet");
        assert_eq!(rx.recv().await.unwrap().revision, 2);
        publish(&hub, 3, 10, "core/nodes//n");
        // Nothing on this prefix: recv waits, having passed the other keys' changes.
        let wait = std::time::Duration::from_millis(20);
        assert!(tokio::time::timeout(wait, rx.recv()).await.is_err());
        assert_eq!(rx.progress(), 10);
    }

    #[tokio::test]
    async fn watch_receiver_should_replay_in_chunks_past_other_keys() {
        let hub = Arc::new(WatchHub::new(10_000, 0));
        publish(&hub, 1, 1000, "core/nodes//n");
        publish(&hub, 1001, 1001, "core/pods/a/x");
        publish(&hub, 1002, 2000, "core/nodes//n");
        let mut rx = hub.subscribe("core/pods/", 0).unwrap();
        assert_eq!(rx.recv().await.unwrap().revision, 1001);
        assert!(rx.pending.len() <= REPLAY_CHUNK);
        publish(&hub, 2001, 2001, "core/pods/a/y");
        assert_eq!(rx.recv().await.unwrap().revision, 2001);
    }

    #[tokio::test]
    async fn watch_receiver_should_end_on_reset_and_close() {
        let hub = Arc::new(WatchHub::new(10, 0));
        let mut rx = hub.subscribe("", 0).unwrap();
        hub.reset(50, || {});
        assert!(matches!(rx.recv().await, Err(StoreError::Expired { .. })));
        let mut rx = hub.subscribe("", 50).unwrap();
        hub.close();
        assert!(matches!(rx.recv().await, Err(StoreError::Unavailable(_))));
        assert!(matches!(
            hub.subscribe("", 50),
            Err(StoreError::Unavailable(_))
        ));
    }
}
