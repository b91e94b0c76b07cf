//! Group commit: many concurrent writes become one Raft entry.
//!
//! openraft 0.9 appends and flushes once per `client_write`, serially, which caps a durable log at
//! a few thousand writes per second (`/work/shared/DEPENDENCIES.md`). So [`crate::store::Store::write`]
//! queues each op into a bounded channel, and one batcher task takes up to `max_batch` queued ops,
//! proposes them as one entry (on a follower: forwards them to the leader), and answers each op with its own result. While one entry is in
//! flight the next batch accumulates in the queue.

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::forward::Router;
use super::types::{OpResult, Proposal};

/// Queued writes before `Store::write` waits for room (backpressure).
pub const QUEUE_CAPACITY: usize = 4096;

/// One queued write and where its result goes.
pub type Request = (Proposal, oneshot::Sender<OpResult>);

/// Starts the batcher task. It ends when `cancel` fires (after finishing the entry in flight) or
/// every sender is gone; requests still queued then are dropped, so their writers get `Unavailable`.
pub fn spawn(
    raft: Router,
    rx: mpsc::Receiver<Request>,
    max_batch: usize,
    cancel: CancellationToken,
) -> JoinHandle<()> {
    tokio::spawn(run(raft, rx, max_batch.max(1), cancel))
}

async fn run(
    raft: Router,
    mut rx: mpsc::Receiver<Request>,
    max_batch: usize,
    cancel: CancellationToken,
) {
    loop {
        let first = tokio::select! {
            biased;
            _ = cancel.cancelled() => break,
            next = rx.recv() => match next {
                Some(request) => request,
                None => break,
            },
        };
        let mut ops = vec![first.0];
        let mut replies = vec![first.1];
        while ops.len() < max_batch {
            match rx.try_recv() {
                Ok((op, reply)) => {
                    ops.push(op);
                    replies.push(reply);
                }
                Err(_) => break,
            }
        }
        let results: Vec<OpResult> = raft.commit(ops).await;
        for (reply, result) in replies.into_iter().zip(results) {
            // The writer may have gone away (client disconnected); the write still happened.
            let _ = reply.send(result);
        }
    }
}
