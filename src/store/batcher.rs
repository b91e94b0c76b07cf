//! Group commit: many concurrent writes become one Raft entry.
//!
//! openraft 0.9 appends and flushes once per `client_write`, serially, which caps a durable log at
//! a few thousand writes per second (`/work/shared/DEPENDENCIES.md`). So [`crate::store::Store::write`]
//! queues each op into a bounded channel, and one batcher task takes up to `max_batch` queued ops,
//! proposes them as one entry, and answers each op with its own result. While one entry is in
//! flight the next batch accumulates in the queue.

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::StoreError;
use super::types::{OpResult, Proposal, Raft};

/// Queued writes before `Store::write` waits for room (backpressure).
pub const QUEUE_CAPACITY: usize = 4096;

/// One queued write and where its result goes.
pub type Request = (Proposal, oneshot::Sender<OpResult>);

/// Starts the batcher task. It ends when `cancel` fires (after finishing the entry in flight) or
/// every sender is gone; requests still queued then are dropped, so their writers get `Unavailable`.
pub fn spawn(
    raft: Raft,
    rx: mpsc::Receiver<Request>,
    max_batch: usize,
    cancel: CancellationToken,
) -> JoinHandle<()> {
    tokio::spawn(run(raft, rx, max_batch.max(1), cancel))
}

async fn run(
    raft: Raft,
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
        let count = ops.len();
        let results: Vec<OpResult> = match raft.client_write(ops).await {
            Ok(response) if response.data.len() == count => response.data,
            Ok(response) => {
                let e = format!(
                    "store: entry returned {} results for {count} writes",
                    response.data.len()
                );
                tracing::error!("{e}");
                vec![Err(StoreError::Unavailable(e)); count]
            }
            Err(e) => {
                let message = match e.forward_to_leader::<openraft::BasicNode>() {
                    Some(f) => format!(
                        "this member is not the Raft leader (leader: {:?})",
                        f.leader_id
                    ),
                    None => format!("raft: {e}"),
                };
                vec![Err(StoreError::Unavailable(message)); count]
            }
        };
        for (reply, result) in replies.into_iter().zip(results) {
            // The writer may have gone away (client disconnected); the write still happened.
            let _ = reply.send(result);
        }
    }
}
