//! Linearizable reads (Raft's "read index", Raft thesis §6.4): before a read is served from this
//! member's cache, the leader confirms its leadership with a quorum and names its commit index;
//! the read waits until this member has applied that index.
//!
//! Concurrent reads share one confirmation: a request joins the next fetch that has not started
//! yet, and a fetch starts only after the previous one ended, so every read is covered by a fetch
//! that began after the read arrived (etcd batches its read-index requests the same way).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::FutureExt;
use futures::future::{BoxFuture, Shared};

use super::StoreError;
use super::forward::Router;

type Fetch = Shared<BoxFuture<'static, Result<u64, StoreError>>>;

/// The coalescing read-index fetcher of one member.
pub struct ReadIndex {
    router: Router,
    /// The next fetch, not started yet: requests arriving now join it.
    pending: Mutex<Option<Fetch>>,
    /// Held by the fetch in flight.
    inflight: Arc<tokio::sync::Mutex<()>>,
}

/// How long a read waits for this member to apply the read index.
pub const APPLY_TIMEOUT: Duration = Duration::from_secs(10);

impl ReadIndex {
    /// A fetcher over `router`.
    pub fn new(router: Router) -> Arc<ReadIndex> {
        Arc::new(ReadIndex {
            router,
            pending: Mutex::new(None),
            inflight: Arc::new(tokio::sync::Mutex::new(())),
        })
    }

    /// Waits until this member's state is at least as new as every write acknowledged before the
    /// call, by any member.
    ///
    /// # Errors
    /// `Unavailable` when no leader confirms its leadership, or this member does not catch up
    /// within [`APPLY_TIMEOUT`].
    pub async fn barrier(self: &Arc<Self>) -> Result<(), StoreError> {
        let fetch = {
            let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
            match &*pending {
                Some(f) => f.clone(),
                None => {
                    let this = self.clone();
                    let f = async move { this.run_next().await }.boxed().shared();
                    *pending = Some(f.clone());
                    f
                }
            }
        };
        let index = fetch.await?;
        self.router.await_applied(index, APPLY_TIMEOUT).await
    }

    /// Waits for the fetch in flight, then starts this one (new requests now form the next).
    async fn run_next(self: Arc<Self>) -> Result<u64, StoreError> {
        let _turn = self.inflight.clone().lock_owned().await;
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        self.router.fetch_read_index().await
    }
}
