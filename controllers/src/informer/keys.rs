//! Key subscriptions of a [`super::SharedInformer`]: the keys of changed objects, deduplicated,
//! for a controller's work queue (client-go's informer handlers adding keys to a workqueue).
//!
//! Unlike an event subscription, a key subscription never makes the informer wait: a key already
//! pending is not added again, so a subscription holds at most one entry per object of the store
//! (bounded by the store's size, not by the rate of changes), however slowly it is drained. A
//! controller whose own queue is full thus holds back neither the informer nor the other
//! subscribers (a scheduler with thousands of pending pods must not stop the node agents from
//! seeing their bindings).

use crate::reflector::ObjectRef;
use futures::Stream;
use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::Notify;

/// The pending keys, in the order they were first added.
#[derive(Default)]
struct Pending {
    order: VecDeque<ObjectRef>,
    set: HashSet<ObjectRef>,
    closed: bool,
}

/// One key subscription: the informer's side adds, the stream's side takes.
pub(super) struct KeySink<K> {
    pending: Mutex<Pending>,
    notify: Notify,
    wanted: Box<dyn Fn(&K) -> bool + Send + Sync>,
}

impl<K> KeySink<K> {
    pub(super) fn new(wanted: Box<dyn Fn(&K) -> bool + Send + Sync>) -> Arc<Self> {
        Arc::new(KeySink {
            pending: Mutex::default(),
            notify: Notify::new(),
            wanted,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Pending> {
        // Each critical section is a single queue operation: a poisoned lock is still usable.
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds `key` of `obj` if the subscriber wants it and it is not pending already.
    pub(super) fn offer(&self, key: ObjectRef, obj: &K) {
        if !(self.wanted)(obj) {
            return;
        }
        let mut p = self.lock();
        if p.set.insert(key.clone()) {
            p.order.push_back(key);
            drop(p);
            self.notify.notify_one();
        }
    }

    /// Ends the stream once the pending keys are taken.
    pub(super) fn close(&self) {
        self.lock().closed = true;
        self.notify.notify_one();
    }

    /// `true` while the stream side exists.
    pub(super) fn is_open(self: &Arc<Self>) -> bool {
        Arc::strong_count(self) > 1
    }

    /// The stream of pending keys (ends after [`KeySink::close`]).
    pub(super) fn stream(self: Arc<Self>) -> impl Stream<Item = ObjectRef> + Send + 'static
    where
        K: 'static,
    {
        futures::stream::unfold(self, |sink| async move {
            loop {
                {
                    let mut p = sink.lock();
                    if let Some(key) = p.order.pop_front() {
                        p.set.remove(&key);
                        drop(p);
                        return Some((key, sink));
                    }
                    if p.closed {
                        return None;
                    }
                }
                // `notify_one` stores a permit when nobody waits: no wake-up is lost between
                // the check above and this wait.
                sink.notify.notified().await;
            }
        })
    }
}
