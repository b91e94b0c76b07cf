//! Which nodes a decision looks at: Kubernetes' `percentageOfNodesToScore`
//! (<https://kubernetes.io/docs/concepts/scheduling-eviction/scheduler-perf-tuning/>).
//!
//! In a large cluster the scheduler stops filtering once it has found enough feasible nodes and
//! scores only those. How many is [`num_feasible_nodes_to_find`] (kube-scheduler's
//! `numFeasibleNodesToFind`): all nodes below [`MIN_FEASIBLE_NODES_TO_FIND`]; otherwise
//! `percentage` of them, at least [`MIN_FEASIBLE_NODES_TO_FIND`], where percentage `0` is the
//! adaptive default `max(5, 50 − nodes/125)` (50% of 100 nodes, 10% of 5,000) and `100` is every
//! node. The search walks the nodes in name order from a start index that rotates between
//! decisions (kube-scheduler's `nextStartNodeIndex`: the previous start plus the nodes the previous
//! search processed), wrapping around, so every node is looked at in turn.
//!
//! The scheduling proof names the start index and the number of feasible nodes searched for
//! ([`NodeSearch`]), and V repeats the same walk: the guarantee is "best of the searched window",
//! not "best of all nodes" (`nko/SPEC.md` §8.1).

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use super::node_info::NodeInfo;

/// Kubernetes' `minFeasibleNodesToFind`: below this many nodes every node is searched, and a
/// search never stops before finding this many feasible nodes.
pub const MIN_FEASIBLE_NODES_TO_FIND: usize = 100;

/// Kubernetes' `minFeasibleNodesPercentageToFind`: the adaptive default never goes below 5%.
pub const MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND: u32 = 5;

/// The `percentageOfNodesToScore` that means "Kubernetes' adaptive default".
pub const ADAPTIVE_PERCENTAGE: u32 = 0;

/// kube-scheduler's `numFeasibleNodesToFind`: how many feasible nodes a search of
/// `num_all_nodes` nodes looks for under `percentage` (`percentageOfNodesToScore`, `0..=100`;
/// 0 = adaptive default `max(5, 50 − nodes/125)`; above 100 counts as 100). Integer arithmetic:
/// `nodes × percentage / 100`, at least [`MIN_FEASIBLE_NODES_TO_FIND`], and every node when
/// there are fewer than that. E.g. 5,000 nodes at 0 → 10% → 500; 1,000 at 0 → 42% → 420;
/// 150 at 5 → 100.
pub fn num_feasible_nodes_to_find(percentage: u32, num_all_nodes: usize) -> usize {
    if num_all_nodes < MIN_FEASIBLE_NODES_TO_FIND {
        return num_all_nodes;
    }
    let mut pct = percentage.min(100) as usize;
    if pct == 0 {
        let adaptive = 50usize.saturating_sub(num_all_nodes / 125);
        pct = adaptive.max(MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND as usize);
    }
    let n = num_all_nodes.saturating_mul(pct) / 100;
    n.max(MIN_FEASIBLE_NODES_TO_FIND)
}

/// The node search of one decision, as its proof records it (camelCase JSON, field `search` of
/// the decision). Absent in a proof: every node was searched from index 0 (proofs made before
/// the search was bounded).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeSearch {
    /// The scheduler's `percentageOfNodesToScore` (`0..=100`, 0 = adaptive default).
    pub percentage_of_nodes_to_score: u32,
    /// Where in the name-sorted node list the walk began (`0..numNodes`; 0 with no nodes).
    pub start_node_index: usize,
    /// How many feasible nodes it searched for: [`num_feasible_nodes_to_find`] of the
    /// percentage and the node count. The walk stops at that many, or after every node.
    pub feasible_nodes_to_find: usize,
}

impl NodeSearch {
    /// The search over `num_nodes` nodes under `percentage`, starting at `start` (taken modulo
    /// the node count).
    pub fn new(percentage: u32, start: usize, num_nodes: usize) -> NodeSearch {
        NodeSearch {
            percentage_of_nodes_to_score: percentage,
            start_node_index: if num_nodes == 0 { 0 } else { start % num_nodes },
            feasible_nodes_to_find: num_feasible_nodes_to_find(percentage, num_nodes),
        }
    }

    /// Every node, from index 0: what a decision without a recorded search means.
    pub fn all(num_nodes: usize) -> NodeSearch {
        NodeSearch::new(100, 0, num_nodes)
    }

    /// Checks that this search is one the rules allow over `num_nodes` nodes: percentage within
    /// `0..=100`, the start index within the list, and `feasibleNodesToFind` equal to
    /// [`num_feasible_nodes_to_find`].
    ///
    /// # Errors
    /// What does not hold, as text.
    pub fn check(&self, num_nodes: usize) -> Result<(), String> {
        if self.percentage_of_nodes_to_score > 100 {
            return Err(format!(
                "percentageOfNodesToScore {} is above 100",
                self.percentage_of_nodes_to_score
            ));
        }
        if self.start_node_index >= num_nodes.max(1) {
            return Err(format!(
                "start node index {} is outside the {num_nodes} nodes",
                self.start_node_index
            ));
        }
        let want = num_feasible_nodes_to_find(self.percentage_of_nodes_to_score, num_nodes);
        if self.feasible_nodes_to_find != want {
            return Err(format!(
                "search for {} feasible nodes, but percentageOfNodesToScore {} of {num_nodes} nodes \
                 means {want}",
                self.feasible_nodes_to_find, self.percentage_of_nodes_to_score
            ));
        }
        Ok(())
    }
}

/// Nodes in lexicographic order of their names, without copying them: the slice itself when it
/// is already sorted (the scheduler's cache keeps it so), else an index order sorted once.
#[derive(Debug, Clone)]
pub struct NodesByName<'a> {
    nodes: &'a [NodeInfo],
    order: Option<Cow<'a, [usize]>>,
}

impl<'a> NodesByName<'a> {
    /// `nodes` in name order (sorted here if they are not already; O(N) when they are).
    pub fn new(nodes: &'a [NodeInfo]) -> NodesByName<'a> {
        let sorted = nodes.windows(2).all(|w| w[0].name() <= w[1].name());
        let order = (!sorted).then(|| {
            let mut order: Vec<usize> = (0..nodes.len()).collect();
            order.sort_by(|&a, &b| nodes[a].name().cmp(nodes[b].name()));
            Cow::Owned(order)
        });
        NodesByName { nodes, order }
    }

    /// `nodes`, which the caller keeps sorted by name (the scheduler's cache inserts each node at
    /// its place): no O(N) check per decision outside debug builds.
    pub fn presorted(nodes: &'a [NodeInfo]) -> NodesByName<'a> {
        debug_assert!(
            nodes.windows(2).all(|w| w[0].name() <= w[1].name()),
            "nodes not sorted by name"
        );
        NodesByName { nodes, order: None }
    }

    /// `nodes` in the given order, which the caller keeps sorted by name: `order[i]` is the index
    /// in `nodes` of the i-th name (every index once).
    pub fn with_order(nodes: &'a [NodeInfo], order: &'a [usize]) -> NodesByName<'a> {
        NodesByName {
            nodes,
            order: Some(Cow::Borrowed(order)),
        }
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// `true` with no nodes.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The node at position `i` of the name order. Panics when `i >= len()` (callers index
    /// within `0..len()`).
    pub fn get(&self, i: usize) -> &'a NodeInfo {
        match &self.order {
            None => &self.nodes[i],
            Some(o) => &self.nodes[o[i]],
        }
    }

    /// The position of node `name` in the name order, if it is there (binary search).
    pub fn position(&self, name: &str) -> Option<usize> {
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.get(mid).name().cmp(name) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Some(mid),
            }
        }
        None
    }

    /// The nodes in name order.
    pub fn iter(&self) -> impl Iterator<Item = &'a NodeInfo> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::testing::make_node;

    #[test]
    fn num_feasible_nodes_to_find_should_follow_kubernetes() {
        let rows = [
            // (percentage, nodes, expected)
            (0, 50, 50),       // fewer than 100 nodes: all
            (0, 99, 99),       // still all
            (0, 100, 100),     // 50 − 0 = 50% of 100 = 50 → at least 100
            (0, 1000, 420),    // 50 − 8 = 42%
            (0, 5000, 500),    // 50 − 40 = 10%
            (0, 6000, 300),    // 50 − 48 = 2% → the 5% floor
            (0, 20000, 1000),  // 50 − 160 → 5% floor = 1000
            (30, 500, 150),    // the documentation's example
            (5, 150, 100),     // 7 → at least 100
            (100, 5000, 5000), // every node
            (250, 5000, 5000), // above 100 counts as 100
        ];
        for (pct, n, want) in rows {
            assert_eq!(num_feasible_nodes_to_find(pct, n), want, "{pct}% of {n}");
        }
    }

    #[test]
    fn node_search_check_should_tie_the_count_to_the_percentage() {
        let s = NodeSearch::new(0, 7003, 5000);
        assert_eq!(s.start_node_index, 2003);
        assert_eq!(s.feasible_nodes_to_find, 500);
        assert_eq!(s.check(5000), Ok(()));
        let narrow = NodeSearch {
            feasible_nodes_to_find: 1,
            ..s
        };
        assert!(narrow.check(5000).unwrap_err().contains("means 500"));
        assert!(s.check(2000).is_err(), "start index outside the list");
        let over = NodeSearch {
            percentage_of_nodes_to_score: 101,
            ..s
        };
        assert!(over.check(5000).is_err());
        assert_eq!(NodeSearch::all(0).check(0), Ok(()));
        let json = serde_json::to_value(s).unwrap();
        assert_eq!(json["startNodeIndex"], 2003);
        assert_eq!(json["feasibleNodesToFind"], 500);
        assert_eq!(json["percentageOfNodesToScore"], 0);
    }

    #[test]
    fn nodes_by_name_should_sort_once_and_find_by_name() {
        let nodes: Vec<NodeInfo> = ["c", "a", "b"]
            .iter()
            .map(|n| NodeInfo::new(make_node(n).build()))
            .collect();
        let by = NodesByName::new(&nodes);
        let names: Vec<&str> = by.iter().map(NodeInfo::name).collect();
        assert_eq!(names, ["a", "b", "c"]);
        assert_eq!(by.position("b"), Some(1));
        assert_eq!(by.position("z"), None);
        let sorted: Vec<NodeInfo> = by.iter().cloned().collect();
        assert!(
            NodesByName::new(&sorted).order.is_none(),
            "no copy when sorted"
        );
    }
}
