//! The Raft RPC endpoints: JSON in, JSON out, members only (checked before the body is read).
//! Each answers `200` with the JSON of the `Result` the local call returned, so the caller gets the
//! remote error as openraft (or the store) reported it; `401`/`403` for an unauthenticated sender.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{ClusterState, require_member};
use crate::api::error::ApiError;
use crate::api::{read_body, respond};
use crate::store::types::Proposal;
use crate::store::types::{NodeId, TypeConfig};
use openraft::raft::{AppendEntriesRequest, InstallSnapshotRequest, VoteRequest};

/// The largest RPC body accepted (an append of many batched entries, a snapshot chunk).
pub const MAX_RPC_BYTES: usize = 512 * 1024 * 1024;

/// Authenticates the sender, then reads and decodes the body.
async fn decode<T: DeserializeOwned>(
    state: &ClusterState,
    headers: &HeaderMap,
    body: Body,
) -> Result<(NodeId, T), ApiError> {
    let from = require_member(state, headers)?;
    let bytes = read_body(body, headers, MAX_RPC_BYTES).await?;
    let req = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request(format!("malformed Raft RPC body: {e}")))?;
    Ok((from, req))
}

fn answer<T: Serialize>(value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(bytes) => respond::json_bytes(StatusCode::OK, bytes.into()),
        Err(e) => ApiError::internal("encoding a Raft RPC answer", e.to_string()).into_response(),
    }
}

/// `POST /raft/append`: `AppendEntries` (and heartbeats).
pub async fn append(State(state): State<ClusterState>, headers: HeaderMap, body: Body) -> Response {
    match decode::<AppendEntriesRequest<TypeConfig>>(&state, &headers, body).await {
        Ok((_, req)) => answer(&state.store.raft().append_entries(req).await),
        Err(e) => e.into_response(),
    }
}

/// `POST /raft/vote`: `RequestVote`.
pub async fn vote(State(state): State<ClusterState>, headers: HeaderMap, body: Body) -> Response {
    match decode::<VoteRequest<NodeId>>(&state, &headers, body).await {
        Ok((_, req)) => answer(&state.store.raft().vote(req).await),
        Err(e) => e.into_response(),
    }
}

/// `POST /raft/snapshot`: one chunk of `InstallSnapshot`.
pub async fn snapshot(
    State(state): State<ClusterState>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match decode::<InstallSnapshotRequest<TypeConfig>>(&state, &headers, body).await {
        Ok((_, req)) => answer(&state.store.raft().install_snapshot(req).await),
        Err(e) => e.into_response(),
    }
}

/// `POST /raft/forward`: a follower's write batch, proposed here as one entry. Answers
/// `Result<Forwarded, StoreError>`.
pub async fn forward(
    State(state): State<ClusterState>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match decode::<Vec<Proposal>>(&state, &headers, body).await {
        Ok((_, ops)) => answer(&state.store.propose(ops).await),
        Err(e) => e.into_response(),
    }
}

/// `POST /raft/read-index`: the leader's read index. Answers `Result<u64, StoreError>`.
pub async fn read_index(
    State(state): State<ClusterState>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match decode::<()>(&state, &headers, body).await {
        Ok((_, ())) => answer(&state.store.read_index_here().await),
        Err(e) => e.into_response(),
    }
}
