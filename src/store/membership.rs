//! Cluster membership on the store: who the members are, who leads, who may send Raft RPCs, and
//! the leader-side changes (add a learner, promote it to voter once caught up, remove a member,
//! update a member's address). Changes go through openraft's joint consensus
//! (`Raft::change_membership`); each member's [`Member`] record (address and RPC key) lives in the
//! replicated membership, so every member can authenticate every other.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use openraft::ChangeMembers;
use serde::{Deserialize, Serialize};

use super::forward::NOT_LEADER;
use super::types::{Member, NodeId};
use super::{Store, StoreError};

/// One member, as `mock_k8 members list` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MemberInfo {
    /// Raft node id.
    pub id: NodeId,
    /// `host:port` of its listener.
    pub addr: String,
    /// `Voter` or `Learner` (a learner receives the log but does not vote).
    pub role: String,
    /// Whether this member is the current leader (as the answering member sees it).
    pub leader: bool,
}

/// How long a promotion waits for the learner to catch up.
pub const PROMOTE_TIMEOUT: Duration = Duration::from_secs(60);

fn raft_err(e: impl std::fmt::Display) -> StoreError {
    let text = e.to_string();
    if text.contains("forward request to") || text.contains("ForwardToLeader") {
        StoreError::Unavailable(format!("{NOT_LEADER}: {text}"))
    } else {
        StoreError::Unavailable(format!("membership change failed: {text}"))
    }
}

/// Compares two strings in time that depends only on their lengths (for secrets).
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

impl Store {
    /// Every member in the effective membership, voters first, in id order.
    pub fn members(&self) -> Vec<MemberInfo> {
        let m = self.inner.raft.metrics();
        let m = m.borrow();
        let membership = m.membership_config.membership();
        let voters: BTreeSet<NodeId> = membership.voter_ids().collect();
        let mut out: Vec<MemberInfo> = membership
            .nodes()
            .map(|(id, node)| MemberInfo {
                id: *id,
                addr: node.addr.clone(),
                role: if voters.contains(id) {
                    "Voter"
                } else {
                    "Learner"
                }
                .into(),
                leader: m.current_leader == Some(*id),
            })
            .collect();
        out.sort_by_key(|i| (i.role != "Voter", i.id));
        out
    }

    /// The member record of `id` in the effective membership.
    pub fn member(&self, id: NodeId) -> Option<Member> {
        let m = self.inner.raft.metrics();
        let m = m.borrow();
        m.membership_config.membership().get_node(&id).cloned()
    }

    /// The current leader's id and record, if known.
    pub fn leader(&self) -> Option<(NodeId, Member)> {
        let m = self.inner.raft.metrics();
        let m = m.borrow();
        let id = m.current_leader?;
        let node = m.membership_config.membership().get_node(&id)?.clone();
        Some((id, node))
    }

    /// Whether this member is the leader.
    pub fn is_leader(&self) -> bool {
        self.inner.raft.metrics().borrow().current_leader == Some(self.inner.node_id)
    }

    /// Whether this member is a voter of the effective membership.
    pub fn is_voter(&self) -> bool {
        let m = self.inner.raft.metrics();
        let m = m.borrow();
        m.membership_config
            .membership()
            .voter_ids()
            .any(|id| id == self.inner.node_id)
    }

    /// Whether `key` is the RPC key of member `id`: the one in the effective membership, or (for a
    /// member that joined and has not received the membership yet) the one its join answer named.
    pub fn authenticate(&self, id: NodeId, key: &str) -> bool {
        if key.is_empty() {
            return false;
        }
        if let Some(m) = self.member(id) {
            return constant_time_eq(&m.key, key);
        }
        let seeds = self.inner.seeds.lock().unwrap_or_else(|p| p.into_inner());
        seeds
            .get(&id)
            .is_some_and(|m| constant_time_eq(&m.key, key))
    }

    /// The next free node id: one above the highest id of the membership (leader only, serialized
    /// by the caller).
    pub fn next_node_id(&self) -> NodeId {
        let m = self.inner.raft.metrics();
        let m = m.borrow();
        let max = m
            .membership_config
            .membership()
            .nodes()
            .map(|(id, _)| *id)
            .max();
        max.unwrap_or(self.inner.node_id).max(self.inner.node_id) + 1
    }

    /// Adds `id` as a learner (leader only); the leader starts replicating to it at once.
    ///
    /// # Errors
    /// `Unavailable` (starting with `NOT_LEADER` on a follower).
    pub async fn add_learner(&self, id: NodeId, member: Member) -> Result<(), StoreError> {
        self.inner
            .raft
            .add_learner(id, member, false)
            .await
            .map(|_| ())
            .map_err(raft_err)
    }

    /// Makes learner `id` a voter once it has caught up with the log (leader only). A voter
    /// already is one: `Ok`.
    ///
    /// # Errors
    /// `NotFound` for an id that is not a member; `Unavailable` (not leader, not caught up within
    /// [`PROMOTE_TIMEOUT`], Raft failure).
    pub async fn promote(&self, id: NodeId) -> Result<(), StoreError> {
        let member = self.member(id).ok_or(StoreError::NotFound)?;
        let raft = &self.inner.raft;
        let voter = raft
            .metrics()
            .borrow()
            .membership_config
            .membership()
            .voter_ids()
            .any(|v| v == id);
        if voter {
            return Ok(());
        }
        tokio::time::timeout(PROMOTE_TIMEOUT, raft.add_learner(id, member, true))
            .await
            .map_err(|_| StoreError::Unavailable(format!("member {id} did not catch up in time")))?
            .map_err(raft_err)?;
        raft.change_membership(ChangeMembers::AddVoterIds(BTreeSet::from([id])), false)
            .await
            .map(|_| ())
            .map_err(raft_err)
    }

    /// Removes member `id` (leader only): a voter leaves the voters and the membership, a learner
    /// the membership.
    ///
    /// # Errors
    /// `NotFound` for an unknown id, `Conflict` for the last voter, `Unavailable` otherwise.
    pub async fn remove_member(&self, id: NodeId) -> Result<(), StoreError> {
        let (voters, known) = {
            let m = self.inner.raft.metrics();
            let m = m.borrow();
            let membership = m.membership_config.membership();
            let voters: BTreeSet<NodeId> = membership.voter_ids().collect();
            (voters, membership.get_node(&id).is_some())
        };
        if !known {
            return Err(StoreError::NotFound);
        }
        let change = if voters.contains(&id) {
            if voters.len() == 1 {
                return Err(StoreError::Conflict);
            }
            ChangeMembers::RemoveVoters(BTreeSet::from([id]))
        } else {
            ChangeMembers::RemoveNodes(BTreeSet::from([id]))
        };
        self.inner
            .raft
            .change_membership(change, false)
            .await
            .map(|_| ())
            .map_err(raft_err)
    }

    /// Records a new address or key for member `id` (leader only), e.g. after it restarted
    /// elsewhere. A record that is already equal is left alone.
    ///
    /// # Errors
    /// `NotFound` for an unknown id, `Unavailable` otherwise.
    pub async fn update_member(&self, id: NodeId, member: Member) -> Result<(), StoreError> {
        match self.member(id) {
            None => return Err(StoreError::NotFound),
            Some(m) if m == member => return Ok(()),
            Some(_) => {}
        }
        self.inner
            .raft
            .change_membership(
                ChangeMembers::SetNodes(BTreeMap::from([(id, member)])),
                false,
            )
            .await
            .map(|_| ())
            .map_err(raft_err)
    }

    /// Remembers the members a join answer named, so their RPCs are accepted before this member
    /// has received the membership.
    pub fn seed_members(&self, members: BTreeMap<NodeId, Member>) {
        let mut seeds = self.inner.seeds.lock().unwrap_or_else(|p| p.into_inner());
        seeds.extend(members);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_eq_should_compare_whole_strings() {
        assert!(constant_time_eq("abc", "abc"));
        assert!(!constant_time_eq("abc", "abd"));
        assert!(!constant_time_eq("abc", "ab"));
        assert!(constant_time_eq("", ""));
    }
}
