//! Joining and managing members over HTTP. Membership changes happen on the leader: a follower
//! passes the request on unchanged (marked with [`super::FORWARDED_HEADER`]) and relays the answer.
//!
//! - `POST /cluster/join` (join token): body `{"addr": "host:port", "key": "<member key>"}`; the
//!   leader gives the newcomer the next node id, adds it as a learner and answers
//!   `{"nodeId": N, "clusterId": "...", "members": {"1": {"addr": ..., "key": ...}, ...}}`.
//! - `POST /cluster/promote` (member credentials): body `{"addr": "host:port"}`; records the
//!   member's current address, waits until it has caught up and makes it a voter.
//! - `GET /cluster/members` (join token): `{"clusterId": ..., "members": [MemberInfo...]}`.
//! - `DELETE /cluster/members/{id}` (join token): removes a member.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::StreamExt;
use mock_k8_controllers::client::{HyperTransport, Transport};
use mock_k8_schemas::Status;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{ClusterState, FORWARDED_HEADER, require_member, require_token};
use crate::api::error::ApiError;
use crate::api::{read_body, respond};
use crate::store::StoreError;
use crate::store::network::MEMBER_HEADER;
use crate::store::types::{Member, NodeId};

/// The body of `POST /cluster/join`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JoinRequest {
    /// `host:port` where the newcomer's listener is reachable by the other members.
    pub addr: String,
    /// The newcomer's RPC key.
    pub key: String,
}

/// The answer to a join.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JoinResponse {
    /// The newcomer's node id.
    pub node_id: NodeId,
    /// The cluster id.
    pub cluster_id: String,
    /// Every member (the newcomer included) with its address and key.
    pub members: BTreeMap<NodeId, Member>,
}

/// The body of `POST /cluster/promote`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PromoteRequest {
    /// The member's current `host:port`.
    pub addr: String,
}

/// The largest body of a membership request.
const MAX_ADMIN_BYTES: usize = 64 * 1024;

/// How long a request passed on to the leader may take (a promotion waits for catch-up).
const LEADER_CALL_TIMEOUT: Duration = Duration::from_secs(75);

/// A retryable 503 with `Retry-After: 1`.
pub fn unavailable(message: impl Into<String>) -> ApiError {
    let mut s = Status::new(503, "ServiceUnavailable", message);
    s.details
        .get_or_insert_with(Default::default)
        .retry_after_seconds = Some(1);
    s.into()
}

fn store_error(e: StoreError, what: &str) -> ApiError {
    match e {
        StoreError::NotFound => Status::new(404, "NotFound", format!("{what} not found")).into(),
        StoreError::Conflict => Status::new(
            409,
            "Conflict",
            format!("{what}: the last voter cannot be removed"),
        )
        .into(),
        StoreError::Unavailable(m) => unavailable(m),
        other => unavailable(other.to_string()),
    }
}

/// Passes the request on to the leader and relays its answer; 503 when there is no leader, it
/// cannot be reached, or this request was passed on already.
async fn to_leader(
    state: &ClusterState,
    method: Method,
    path: &str,
    headers: &HeaderMap,
    body: Bytes,
) -> Response {
    if headers.contains_key(FORWARDED_HEADER) {
        return unavailable("the member this request was passed to is no longer the leader")
            .into_response();
    }
    let Some((id, leader)) = state.store.leader() else {
        let me = state.store.node_id();
        return unavailable(format!("member {me} knows no Raft leader; retry later"))
            .into_response();
    };
    let call = async {
        let transport = HyperTransport::new(&format!("http://{}", leader.addr))
            .map_err(|e| e.to_string())?
            .with_timeout(LEADER_CALL_TIMEOUT);
        let mut req = axum::http::Request::builder()
            .method(method)
            .uri(path)
            .header(FORWARDED_HEADER, "1");
        for name in [header::AUTHORIZATION, header::CONTENT_TYPE] {
            if let Some(v) = headers.get(&name) {
                req = req.header(name, v.clone());
            }
        }
        if let Some(v) = headers.get(MEMBER_HEADER) {
            req = req.header(MEMBER_HEADER, v.clone());
        }
        let req = req.body(body).map_err(|e| e.to_string())?;
        let resp = transport.send(req).await.map_err(|e| e.to_string())?;
        let status = resp.status();
        let mut stream = resp.into_body();
        let mut bytes = Vec::new();
        while let Some(chunk) = stream.next().await {
            bytes.extend_from_slice(&chunk.map_err(|e| e.to_string())?);
        }
        Ok::<_, String>((status, bytes))
    };
    match call.await {
        Ok((status, bytes)) => respond::json_bytes(status, bytes.into()),
        Err(e) => unavailable(format!(
            "the Raft leader (member {id} at {}) cannot be reached: {e}; retry later",
            leader.addr
        ))
        .into_response(),
    }
}

/// `POST /cluster/join`.
pub async fn join(State(state): State<ClusterState>, headers: HeaderMap, body: Body) -> Response {
    if let Err(e) = require_token(&state, &headers) {
        return e.into_response();
    }
    let bytes = match read_body(body, &headers, MAX_ADMIN_BYTES).await {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    if !state.store.is_leader() {
        return to_leader(&state, Method::POST, "/cluster/join", &headers, bytes).await;
    }
    let req: JoinRequest = match serde_json::from_slice(&bytes) {
        Ok(r) => r,
        Err(e) => {
            return ApiError::bad_request(format!("malformed join request: {e}")).into_response();
        }
    };
    if req.addr.is_empty() || req.key.len() < 32 {
        return ApiError::bad_request("a join needs the member's addr and a key of 32+ characters")
            .into_response();
    }
    let _serial = state.join_lock.lock().await;
    let id = state.store.next_node_id();
    let member = Member {
        addr: req.addr.clone(),
        key: req.key,
    };
    if let Err(e) = state.store.add_learner(id, member).await {
        return store_error(e, "member").into_response();
    }
    tracing::info!(member = id, addr = %req.addr, "member joined as a learner");
    let m = state.store.raft().metrics();
    let members: BTreeMap<NodeId, Member> = m
        .borrow()
        .membership_config
        .membership()
        .nodes()
        .map(|(i, n)| (*i, n.clone()))
        .collect();
    let answer = JoinResponse {
        node_id: id,
        cluster_id: state.cluster_id.to_string(),
        members,
    };
    json_answer(StatusCode::OK, &answer)
}

/// `POST /cluster/promote`.
pub async fn promote(
    State(state): State<ClusterState>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let id = match require_member(&state, &headers) {
        Ok(id) => id,
        Err(e) => return e.into_response(),
    };
    let bytes = match read_body(body, &headers, MAX_ADMIN_BYTES).await {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    if !state.store.is_leader() {
        return to_leader(&state, Method::POST, "/cluster/promote", &headers, bytes).await;
    }
    let req: PromoteRequest = match serde_json::from_slice(&bytes) {
        Ok(r) => r,
        Err(e) => {
            return ApiError::bad_request(format!("malformed promote request: {e}"))
                .into_response();
        }
    };
    let Some(mut member) = state.store.member(id) else {
        return store_error(StoreError::NotFound, &format!("member {id}")).into_response();
    };
    if member.addr != req.addr {
        member.addr = req.addr;
        if let Err(e) = state.store.update_member(id, member).await {
            return store_error(e, &format!("member {id}")).into_response();
        }
    }
    match state.store.promote(id).await {
        Ok(()) => json_answer(StatusCode::OK, &json!({"nodeId": id, "role": "Voter"})),
        Err(e) => store_error(e, &format!("member {id}")).into_response(),
    }
}

/// `GET /cluster/members`.
pub async fn list(State(state): State<ClusterState>, headers: HeaderMap) -> Response {
    if let Err(e) = require_token(&state, &headers) {
        return e.into_response();
    }
    let answer = json!({
        "clusterId": &*state.cluster_id,
        "members": state.store.members(),
    });
    json_answer(StatusCode::OK, &answer)
}

/// `DELETE /cluster/members/{id}`.
pub async fn remove(
    State(state): State<ClusterState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Err(e) = require_token(&state, &headers) {
        return e.into_response();
    }
    let Ok(id) = id.parse::<NodeId>() else {
        return ApiError::bad_request(format!("invalid member id {id:?}")).into_response();
    };
    if !state.store.is_leader() {
        let path = format!("/cluster/members/{id}");
        return to_leader(&state, Method::DELETE, &path, &headers, Bytes::new()).await;
    }
    match state.store.remove_member(id).await {
        Ok(()) => {
            tracing::info!(member = id, "member removed");
            json_answer(StatusCode::OK, &json!({"removed": id}))
        }
        Err(e) => store_error(e, &format!("member {id}")).into_response(),
    }
}

fn json_answer<T: Serialize>(code: StatusCode, value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(bytes) => respond::json_bytes(code, bytes.into()),
        Err(e) => ApiError::internal("encoding an answer", e.to_string()).into_response(),
    }
}
