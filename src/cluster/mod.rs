//! The control-plane cluster over HTTP, served on the API port next to the Kubernetes API.
//!
//! - `/raft/{append,vote,snapshot}`: openraft's RPCs; `/raft/forward`: a follower's write batch;
//!   `/raft/read-index`: a follower's linearizable read ([`rpc`]). Only members may call them:
//!   each request names its sender ([`crate::store::network::MEMBER_HEADER`]) and carries that
//!   member's key as a bearer credential, checked against the replicated membership.
//! - `/cluster/join`, `/cluster/members[/{id}]`: joining and managing members, for holders of the
//!   join token; `/cluster/promote`: a joined member asks to become a voter ([`admin`]). A
//!   follower passes these on to the leader.
//! - [`client`]: the calling side: `run --join`, the promotion loop, `mock_k8 members`.
//! - [`secrets`]: the join token and member key in the data directory.

pub mod admin;
pub mod client;
pub mod rpc;
pub mod secrets;
pub mod start;

use std::sync::Arc;

use axum::Router;
use axum::http::HeaderMap;
use axum::routing::{delete, get, post};

use crate::api::error::ApiError;
use crate::api::node_auth::bearer;
use crate::store::Store;
use crate::store::membership::constant_time_eq;
use crate::store::network::MEMBER_HEADER;
use crate::store::types::NodeId;
use mock_k8_schemas::Status;

/// The header marking a request a follower passed on to the leader (never passed on twice).
pub const FORWARDED_HEADER: &str = "x-mock-k8-forwarded";

/// What the cluster routes share; cheap to clone.
#[derive(Clone)]
pub struct ClusterState {
    /// This member's store.
    pub store: Store,
    /// The cluster's join token.
    pub token: Arc<str>,
    /// The cluster id (from the first member's identity).
    pub cluster_id: Arc<str>,
    /// Serializes joins on the leader (node id allocation).
    pub join_lock: Arc<tokio::sync::Mutex<()>>,
}

impl ClusterState {
    /// State for `store` with the cluster's `token` and `cluster_id`.
    pub fn new(store: Store, token: &str, cluster_id: &str) -> ClusterState {
        ClusterState {
            store,
            token: token.into(),
            cluster_id: cluster_id.into(),
            join_lock: Arc::new(tokio::sync::Mutex::new(())),
        }
    }
}

/// The cluster routes (see the module docs); merge them into the API router.
pub fn router(state: ClusterState) -> Router {
    Router::new()
        .route("/raft/append", post(rpc::append))
        .route("/raft/vote", post(rpc::vote))
        .route("/raft/snapshot", post(rpc::snapshot))
        .route("/raft/forward", post(rpc::forward))
        .route("/raft/read-index", post(rpc::read_index))
        .route("/cluster/join", post(admin::join))
        .route("/cluster/promote", post(admin::promote))
        .route("/cluster/members", get(admin::list))
        .route("/cluster/members/{id}", delete(admin::remove))
        .with_state(state)
}

fn unauthorized(message: &str) -> ApiError {
    Status::new(401, "Unauthorized", message).into()
}

/// Checks that the request carries the join token.
///
/// # Errors
/// 401 Unauthorized without a bearer credential, 403 Forbidden with another one.
pub fn require_token(state: &ClusterState, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(given) = bearer(headers) else {
        return Err(unauthorized(
            "this request needs the cluster join token (Authorization: Bearer <token>)",
        ));
    };
    if constant_time_eq(given, &state.token) {
        Ok(())
    } else {
        Err(Status::new(
            403,
            "Forbidden",
            "the join token is not valid for this cluster",
        )
        .into())
    }
}

/// Checks that the request comes from a member (its id header and key) and returns its id.
///
/// # Errors
/// 401 Unauthorized without credentials, 403 Forbidden for a key that is not the member's.
pub fn require_member(state: &ClusterState, headers: &HeaderMap) -> Result<NodeId, ApiError> {
    let id = headers
        .get(MEMBER_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<NodeId>().ok());
    let (Some(id), Some(key)) = (id, bearer(headers)) else {
        return Err(unauthorized("Raft RPCs need a member id and key"));
    };
    if state.store.authenticate(id, key) {
        Ok(id)
    } else {
        tracing::warn!(member = id, "rejected a Raft RPC with a wrong member key");
        Err(Status::new(
            403,
            "Forbidden",
            format!("member {id} is not authenticated"),
        )
        .into())
    }
}
