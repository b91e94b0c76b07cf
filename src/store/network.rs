//! The Raft network over HTTP: each RPC is a JSON `POST` to the target member's listener
//! (`/raft/append`, `/raft/vote`, `/raft/snapshot`, served by [`crate::cluster`]), authenticated
//! with this member's id and key (the headers [`MEMBER_HEADER`] and `Authorization: Bearer <key>`;
//! the receiver checks the key against the one the membership records for that id).
//!
//! The answer's body is the JSON of openraft's `Result<Response, RaftError>`. Connection failures
//! are `Unreachable` (openraft backs off), other failures `Network`, and a Raft error of the
//! target is a `RemoteError`.

use std::time::Duration;

use axum::http::{self, HeaderValue, Method, header};
use bytes::Bytes;
use futures::StreamExt;
use mock_k8_controllers::client::{HyperTransport, Transport};
use openraft::error::{
    InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Unreachable,
};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::types::{Member, NodeId, TypeConfig};

/// The header naming the Raft node id of the member sending an RPC.
pub const MEMBER_HEADER: &str = "x-mock-k8-member";

/// The credentials a member sends with its RPCs: its node id and its key.
#[derive(Clone)]
pub struct Credentials {
    /// This member's Raft node id.
    pub id: NodeId,
    /// This member's RPC key (the one the membership records for it).
    pub key: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl Credentials {
    /// An HTTP `POST` of `body` (JSON) to `path`, carrying these credentials.
    ///
    /// # Errors
    /// A key that is not a valid header value.
    pub fn request(&self, path: &str, body: Vec<u8>) -> Result<http::Request<Bytes>, String> {
        let auth = HeaderValue::from_str(&format!("Bearer {}", self.key))
            .map_err(|e| format!("member key: {e}"))?;
        http::Request::builder()
            .method(Method::POST)
            .uri(path)
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::AUTHORIZATION, auth)
            .header(MEMBER_HEADER, self.id.to_string())
            .body(Bytes::from(body))
            .map_err(|e| e.to_string())
    }
}

/// Sends `req` (JSON) as a `POST` to `path` on the member at `addr` and decodes the JSON answer.
///
/// # Errors
/// `Err((true, message))` when the member could not be reached (connection refused, reset,
/// timeout), `Err((false, message))` for an answer that is not a 200 with the expected JSON.
pub async fn post_json<Req: Serialize, Resp: DeserializeOwned>(
    creds: &Credentials,
    addr: &str,
    path: &str,
    req: &Req,
    timeout: Duration,
) -> Result<Resp, (bool, String)> {
    let transport = HyperTransport::new(&format!("http://{addr}"))
        .map_err(|e| (false, e.to_string()))?
        .with_timeout(timeout);
    let body = serde_json::to_vec(req).map_err(|e| (false, e.to_string()))?;
    let request = creds.request(path, body).map_err(|e| (false, e))?;
    let resp = transport
        .send(request)
        .await
        .map_err(|e| (true, format!("{addr}{path}: {e}")))?;
    let status = resp.status();
    let mut body = resp.into_body();
    let mut bytes = Vec::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| (true, format!("{addr}{path}: {e}")))?;
        bytes.extend_from_slice(&chunk);
    }
    if status != http::StatusCode::OK {
        let text = String::from_utf8_lossy(&bytes);
        return Err((false, format!("{addr}{path}: HTTP {status}: {text}")));
    }
    serde_json::from_slice(&bytes).map_err(|e| (false, format!("{addr}{path}: bad answer: {e}")))
}

/// Creates [`HttpPeer`] clients for openraft, sending with this member's [`Credentials`].
#[derive(Debug, Clone)]
pub struct HttpNetwork {
    creds: Credentials,
}

impl HttpNetwork {
    /// A network whose RPCs carry `creds`.
    pub fn new(creds: Credentials) -> HttpNetwork {
        HttpNetwork { creds }
    }
}

/// The RPC client of one peer. Connections are pooled by hyper per peer.
#[derive(Debug, Clone)]
pub struct HttpPeer {
    creds: Credentials,
    target: NodeId,
    addr: String,
}

impl RaftNetworkFactory<TypeConfig> for HttpNetwork {
    type Network = HttpPeer;

    async fn new_client(&mut self, target: NodeId, node: &Member) -> HttpPeer {
        HttpPeer {
            creds: self.creds.clone(),
            target,
            addr: node.addr.clone(),
        }
    }
}

impl HttpPeer {
    async fn call<Req, Resp, E>(
        &self,
        path: &str,
        req: &Req,
        option: &RPCOption,
    ) -> Result<Resp, RPCError<NodeId, Member, RaftError<NodeId, E>>>
    where
        Req: Serialize,
        Resp: DeserializeOwned,
        E: std::error::Error + DeserializeOwned,
    {
        let answer: Result<Result<Resp, RaftError<NodeId, E>>, _> =
            post_json(&self.creds, &self.addr, path, req, option.hard_ttl()).await;
        match answer {
            Ok(Ok(resp)) => Ok(resp),
            Ok(Err(e)) => Err(RPCError::RemoteError(RemoteError::new(self.target, e))),
            Err((true, message)) => Err(RPCError::Unreachable(Unreachable::new(
                &std::io::Error::other(message),
            ))),
            Err((false, message)) => Err(RPCError::Network(NetworkError::new(
                &std::io::Error::other(message),
            ))),
        }
    }
}

impl RaftNetwork<TypeConfig> for HttpPeer {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, RPCError<NodeId, Member, RaftError<NodeId>>> {
        self.call("/raft/append", &rpc, &option).await
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<NodeId>,
        RPCError<NodeId, Member, RaftError<NodeId, InstallSnapshotError>>,
    > {
        self.call("/raft/snapshot", &rpc, &option).await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, RPCError<NodeId, Member, RaftError<NodeId>>> {
        self.call("/raft/vote", &rpc, &option).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_peer_that_does_not_listen_should_be_unreachable() {
        let free = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = free.local_addr().expect("addr").to_string();
        drop(free);
        let creds = Credentials {
            id: 1,
            key: "k".into(),
        };
        let mut client = HttpNetwork::new(creds)
            .new_client(
                2,
                &Member {
                    addr,
                    key: String::new(),
                },
            )
            .await;
        let vote = VoteRequest::new(openraft::Vote::new(1, 1), None);
        let err = client
            .vote(vote, RPCOption::new(Duration::from_secs(1)))
            .await
            .unwrap_err();
        assert!(matches!(err, RPCError::Unreachable(_)), "{err}");
    }
}
