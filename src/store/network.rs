//! The Raft network of a single-voter cluster.
//!
//! A single voter never sends RPCs, but openraft needs a [`RaftNetworkFactory`]. Every RPC fails
//! with `RPCError::Unreachable`, saying that multi-member clusters are not configured; the HTTP
//! network replaces this when clusters are supported.

use std::io;

use openraft::BasicNode;
use openraft::error::{InstallSnapshotError, RPCError, RaftError, Unreachable};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};

use super::types::{NodeId, TypeConfig};

/// Creates [`NoPeers`] clients.
#[derive(Debug, Clone, Default)]
pub struct SingleVoterNetwork;

/// A client for a peer that cannot be reached: every RPC is `Unreachable`.
#[derive(Debug, Clone)]
pub struct NoPeers {
    target: NodeId,
    addr: String,
}

impl NoPeers {
    fn unreachable<E: std::error::Error>(&self) -> RPCError<NodeId, BasicNode, E> {
        let e = io::Error::other(format!(
            "cannot reach Raft member {} at {}: multi-member clusters are not configured (single voter only)",
            self.target, self.addr
        ));
        RPCError::Unreachable(Unreachable::new(&e))
    }
}

impl RaftNetworkFactory<TypeConfig> for SingleVoterNetwork {
    type Network = NoPeers;

    async fn new_client(&mut self, target: NodeId, node: &BasicNode) -> NoPeers {
        NoPeers {
            target,
            addr: node.addr.clone(),
        }
    }
}

impl RaftNetwork<TypeConfig> for NoPeers {
    async fn append_entries(
        &mut self,
        _rpc: AppendEntriesRequest<TypeConfig>,
        _option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId>>> {
        Err(self.unreachable())
    }

    async fn install_snapshot(
        &mut self,
        _rpc: InstallSnapshotRequest<TypeConfig>,
        _option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<NodeId>,
        RPCError<NodeId, BasicNode, RaftError<NodeId, InstallSnapshotError>>,
    > {
        Err(self.unreachable())
    }

    async fn vote(
        &mut self,
        _rpc: VoteRequest<NodeId>,
        _option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId>>> {
        Err(self.unreachable())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn no_peers_should_answer_every_rpc_unreachable() {
        let mut client = SingleVoterNetwork
            .new_client(2, &BasicNode::new("10.0.0.2:8080"))
            .await;
        let vote = VoteRequest::new(openraft::Vote::new(1, 1), None);
        let err = client
            .vote(vote, RPCOption::new(std::time::Duration::from_secs(1)))
            .await
            .unwrap_err();
        assert!(matches!(err, RPCError::Unreachable(_)));
        assert!(err.to_string().contains("not configured"), "{err}");
    }
}
