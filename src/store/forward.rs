//! Committing writes from any member: the leader proposes a batch itself; a follower forwards the
//! batch to the leader (`POST /raft/forward`, authenticated like every Raft RPC), then waits until
//! its own state machine has applied the entry, so a read on this member right after the write
//! sees it. The same split serves read indexes for linearizable reads (`POST /raft/read-index`).
//!
//! A member that knows no leader waits up to [`LEADER_WAIT`] for an election, then answers
//! `Unavailable` with a message naming the last known leader; so does a member whose leader does not
//! answer. Both are retryable: the API answers 503 with `Retry-After`.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::StoreError;
use super::network::{Credentials, post_json};
use super::types::{Member, NodeId, OpResult, Proposal, Raft};

/// How long a member without a known leader waits for one before failing a request.
pub const LEADER_WAIT: Duration = Duration::from_secs(3);

/// How long a forwarded write may take at the leader (commit and apply on a quorum).
const FORWARD_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a follower waits for the leader's read index: a leader that does not answer in this
/// time (dead, or cut off: a connection to a vanished host hangs) makes the read fail retryably
/// instead of holding it (and every read coalesced behind it).
const READ_INDEX_TIMEOUT: Duration = Duration::from_secs(2);

/// How long a follower waits to apply an entry the leader committed for it.
const APPLY_WAIT: Duration = Duration::from_secs(10);

/// The leader's answer to a forwarded batch: one result per op, and the log index of the entry.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Forwarded {
    /// One result per forwarded op, in order.
    pub results: Vec<OpResult>,
    /// The log index of the entry carrying the batch.
    pub index: u64,
}

/// Where writes and read indexes go: this member's Raft and its RPC credentials.
#[derive(Clone)]
pub struct Router {
    pub(crate) raft: Raft,
    pub(crate) creds: Credentials,
}

/// The leader as this member sees it.
enum Leader {
    Me,
    Other(NodeId, Member),
    Unknown(Option<NodeId>),
}

impl Router {
    fn leader(&self) -> Leader {
        let m = self.raft.metrics();
        let m = m.borrow();
        match m.current_leader {
            Some(id) if id == self.creds.id => Leader::Me,
            Some(id) => match m.membership_config.membership().get_node(&id) {
                Some(node) => Leader::Other(id, node.clone()),
                None => Leader::Unknown(Some(id)),
            },
            None => Leader::Unknown(None),
        }
    }

    /// The leader, waiting up to [`LEADER_WAIT`] for one to be known.
    async fn await_leader(&self) -> Result<Leader, StoreError> {
        let deadline = tokio::time::Instant::now() + LEADER_WAIT;
        let mut rx = self.raft.metrics();
        loop {
            match self.leader() {
                Leader::Unknown(last) if tokio::time::Instant::now() < deadline => {
                    let _ = tokio::time::timeout_at(deadline, rx.changed()).await;
                    if rx.has_changed().is_err() {
                        return Err(unavailable_no_leader(self.creds.id, last));
                    }
                }
                Leader::Unknown(last) => return Err(unavailable_no_leader(self.creds.id, last)),
                known => return Ok(known),
            }
        }
    }

    /// Commits `ops` as one entry and returns one result per op. On a follower the batch is
    /// forwarded to the leader and this returns once this member has applied the entry.
    pub async fn commit(&self, ops: Vec<Proposal>) -> Vec<OpResult> {
        let count = ops.len();
        let fail = |e: StoreError| vec![Err(e); count];
        loop {
            match self.await_leader().await {
                Err(e) => return fail(e),
                Ok(Leader::Me) => return self.commit_here(ops).await,
                Ok(Leader::Other(id, node)) => {
                    let answer: Result<Result<Forwarded, StoreError>, _> = post_json(
                        &self.creds,
                        &node.addr,
                        "/raft/forward",
                        &ops,
                        FORWARD_TIMEOUT,
                    )
                    .await;
                    match answer {
                        Ok(Ok(f)) if f.results.len() == count => {
                            self.wait_applied(f.index).await;
                            return f.results;
                        }
                        Ok(Ok(f)) => {
                            let e =
                                format!("leader returned {} results for {count}", f.results.len());
                            return fail(StoreError::Unavailable(e));
                        }
                        // The leader stepped down before appending: nothing was written; retry
                        // with the new leader once one is known.
                        Ok(Err(StoreError::Unavailable(m))) if m.starts_with(NOT_LEADER) => {
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                        Ok(Err(e)) => return fail(e),
                        Err((_, m)) => {
                            return fail(unreachable_leader(self.creds.id, id, &node, &m));
                        }
                    }
                }
                Ok(Leader::Unknown(_)) => unreachable!("await_leader never returns Unknown"),
            }
        }
    }

    /// Proposes `ops` on this member, which believes it is the leader.
    pub async fn commit_here(&self, ops: Vec<Proposal>) -> Vec<OpResult> {
        let count = ops.len();
        match self.propose(ops).await {
            Ok(f) => f.results,
            Err(e) => vec![Err(e); count],
        }
    }

    /// Proposes `ops` as one entry on this member and returns the results with the entry's index.
    ///
    /// # Errors
    /// `Unavailable` starting with [`NOT_LEADER`] when this member is not the leader (nothing was
    /// appended), or another `Unavailable` for a Raft failure.
    pub async fn propose(&self, ops: Vec<Proposal>) -> Result<Forwarded, StoreError> {
        let count = ops.len();
        match self.raft.client_write(ops).await {
            Ok(response) if response.data.len() == count => Ok(Forwarded {
                results: response.data,
                index: response.log_id.index,
            }),
            Ok(response) => {
                let e = format!(
                    "store: entry returned {} results for {count} writes",
                    response.data.len()
                );
                tracing::error!("{e}");
                Err(StoreError::Unavailable(e))
            }
            Err(e) => Err(StoreError::Unavailable(
                match e.forward_to_leader::<Member>() {
                    Some(f) => format!(
                        "{NOT_LEADER} (leader: {})",
                        f.leader_id
                            .map(|id| describe(id, f.leader_node.as_ref()))
                            .unwrap_or_else(|| "unknown".into())
                    ),
                    None => format!("raft: {e}"),
                },
            )),
        }
    }

    /// Waits (bounded) until this member has applied log index `index`.
    async fn wait_applied(&self, index: u64) {
        let waited = self
            .raft
            .wait(Some(APPLY_WAIT))
            .applied_index_at_least(Some(index), "forwarded entry applied")
            .await;
        if let Err(e) = waited {
            tracing::warn!(
                index,
                "forwarded write committed but not yet applied here: {e}"
            );
        }
    }

    /// The log index a linearizable read must wait for: the leader's read index (it confirms its
    /// leadership with a quorum first).
    ///
    /// # Errors
    /// `Unavailable` when no leader is known or reachable.
    pub async fn fetch_read_index(&self) -> Result<u64, StoreError> {
        loop {
            match self.await_leader().await? {
                Leader::Me => return self.read_index_here().await,
                Leader::Other(id, node) => {
                    let call = post_json::<_, Result<u64, StoreError>>(
                        &self.creds,
                        &node.addr,
                        "/raft/read-index",
                        &(),
                        READ_INDEX_TIMEOUT,
                    );
                    // A read is safe to ask again: when this member stops following `id` (an
                    // election started, as after the leader died), the call to `id` is dropped
                    // and the new leader asked, rather than waiting for the call's timeout.
                    let mut rx = self.raft.metrics();
                    let moved = async move {
                        // Raft shut down: only the call can end this wait.
                        if rx.wait_for(|m| m.current_leader != Some(id)).await.is_err() {
                            std::future::pending::<()>().await;
                        }
                    };
                    let answer = tokio::select! {
                        answer = call => answer,
                        () = moved => continue,
                    };
                    match answer {
                        Ok(Err(StoreError::Unavailable(m))) if m.starts_with(NOT_LEADER) => {
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                        Ok(r) => return r,
                        Err((_, m)) => {
                            return Err(unreachable_leader(self.creds.id, id, &node, &m));
                        }
                    }
                }
                Leader::Unknown(_) => unreachable!("await_leader never returns Unknown"),
            }
        }
    }

    /// The read index, on the leader.
    ///
    /// # Errors
    /// `Unavailable` (starting with [`NOT_LEADER`]) when this member is not the leader or cannot
    /// confirm it with a quorum.
    pub async fn read_index_here(&self) -> Result<u64, StoreError> {
        match self.raft.get_read_log_id().await {
            Ok((read, _applied)) => Ok(read.map(|l| l.index).unwrap_or(0)),
            Err(e) => Err(StoreError::Unavailable(format!("{NOT_LEADER}: {e}"))),
        }
    }

    /// Waits until this member has applied `index`.
    ///
    /// # Errors
    /// `Unavailable` when it does not within `timeout`.
    pub async fn await_applied(&self, index: u64, timeout: Duration) -> Result<(), StoreError> {
        self.raft
            .wait(Some(timeout))
            .applied_index_at_least(Some(index), "read index applied")
            .await
            .map(|_| ())
            .map_err(|e| {
                StoreError::Unavailable(format!(
                    "member {} has not caught up with the leader: {e}",
                    self.creds.id
                ))
            })
    }
}

/// How a "this member is not the leader" failure starts, so that forwarders retry it.
pub const NOT_LEADER: &str = "this member is not the Raft leader";

fn describe(id: NodeId, node: Option<&Member>) -> String {
    match node {
        Some(n) => format!("member {id} at {}", n.addr),
        None => format!("member {id}"),
    }
}

fn unavailable_no_leader(me: NodeId, last: Option<NodeId>) -> StoreError {
    let last = match last {
        Some(id) => format!("last known leader: member {id}"),
        None => "no leader known".into(),
    };
    StoreError::Unavailable(format!(
        "member {me} has no Raft leader ({last}); it may be cut off from the majority; retry later"
    ))
}

fn unreachable_leader(me: NodeId, id: NodeId, node: &Member, detail: &str) -> StoreError {
    StoreError::Unavailable(format!(
        "the Raft leader ({}) cannot be reached from member {me}: {detail}; retry later",
        describe(id, Some(node))
    ))
}
