//! NodeAffinity: `spec.nodeSelector` and required node affinity
//! (<https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/>).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{NodeSelectorRequirement, NodeSelectorTerm};

use crate::scheduler::framework::{FilterPlugin, PodInfo, Status};
use crate::scheduler::node_info::NodeInfo;

/// The only field `matchFields` may name.
pub const FIELD_METADATA_NAME: &str = "metadata.name";

/// Whether one requirement holds for a value map (node labels, or `{metadata.name: …}`), with
/// Kubernetes' label-selector semantics:
/// - `In` / `NotIn`: the value is (not) one of `values`; `NotIn` also holds when the key is absent;
/// - `Exists` / `DoesNotExist`: the key is present / absent;
/// - `Gt` / `Lt`: the key is present and its value, parsed as an int64, is greater / less than the
///   single integer in `values`.
///
/// A malformed requirement (`In` without values, `Exists` with values, `Gt` with a non-integer or
/// several values, an unknown operator) never holds, as Kubernetes ignores terms that fail to parse.
pub fn requirement_matches(
    req: &NodeSelectorRequirement,
    values: &BTreeMap<String, String>,
) -> bool {
    let wanted: &[String] = req.values.as_deref().unwrap_or(&[]);
    let actual = values.get(&req.key);
    match req.operator.as_str() {
        "In" => !wanted.is_empty() && actual.is_some_and(|v| wanted.contains(v)),
        "NotIn" => !wanted.is_empty() && actual.is_none_or(|v| !wanted.contains(v)),
        "Exists" => wanted.is_empty() && actual.is_some(),
        "DoesNotExist" => wanted.is_empty() && actual.is_none(),
        op @ ("Gt" | "Lt") => {
            let [bound] = wanted else { return false };
            let (Ok(bound), Some(Ok(v))) = (bound.parse::<i64>(), actual.map(|v| v.parse::<i64>()))
            else {
                return false;
            };
            if op == "Gt" { v > bound } else { v < bound }
        }
        _ => false,
    }
}

/// Whether a node selector term holds for the node: all `matchExpressions` (on labels) and all
/// `matchFields` (only `metadata.name`, operators `In` / `NotIn`) hold. An empty term matches no
/// node, as in Kubernetes.
pub fn term_matches(term: &NodeSelectorTerm, node: &NodeInfo) -> bool {
    let exprs = term.match_expressions.as_deref().unwrap_or(&[]);
    let fields = term.match_fields.as_deref().unwrap_or(&[]);
    if exprs.is_empty() && fields.is_empty() {
        return false;
    }
    let empty = BTreeMap::new();
    let labels = node.node().metadata.labels.as_ref().unwrap_or(&empty);
    if !exprs.iter().all(|r| requirement_matches(r, labels)) {
        return false;
    }
    let mut field_values = BTreeMap::new();
    field_values.insert(FIELD_METADATA_NAME.to_owned(), node.name().to_owned());
    fields.iter().all(|r| {
        r.key == FIELD_METADATA_NAME
            && matches!(r.operator.as_str(), "In" | "NotIn")
            && requirement_matches(r, &field_values)
    })
}

/// Whether the pod's `nodeSelector` (every pair equal to a node label) and required node affinity
/// (`nodeSelectorTerms` ORed; an empty list matches nothing) both hold for the node.
pub fn pod_matches_node(pod: &PodInfo<'_>, node: &NodeInfo) -> bool {
    if let Some(selector) = pod.node_selector() {
        let labels = node.node().metadata.labels.as_ref();
        let ok = selector
            .iter()
            .all(|(k, v)| labels.and_then(|l| l.get(k)).is_some_and(|have| have == v));
        if !ok {
            return false;
        }
    }
    let required = pod.node_affinity().and_then(|a| {
        a.required_during_scheduling_ignored_during_execution
            .as_ref()
    });
    match required {
        Some(sel) => sel
            .node_selector_terms
            .iter()
            .any(|t| term_matches(t, node)),
        None => true,
    }
}

/// The NodeAffinity filter: a node failing [`pod_matches_node`] fails, unresolvable, with
/// [`NodeAffinity::REASON`].
#[derive(Debug, Clone, Copy, Default)]
pub struct NodeAffinity;

impl NodeAffinity {
    /// The plugin name.
    pub const NAME: &'static str = "NodeAffinity";
    /// Kubernetes' reason (`ErrReasonPod` of the NodeAffinity plugin).
    pub const REASON: &'static str = "node(s) didn't match Pod's node affinity/selector";
}

impl FilterPlugin for NodeAffinity {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn filter(&self, pod: &PodInfo<'_>, node: &NodeInfo) -> Status {
        if pod_matches_node(pod, node) {
            Status::success()
        } else {
            Status::unresolvable(Self::REASON)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::testing::{expr, field_term, make_node, make_pod, term};

    fn node() -> NodeInfo {
        NodeInfo::new(
            make_node("n1")
                .label("disktype", "ssd")
                .label("cores", "8")
                .label("zone", "a")
                .build(),
        )
    }

    #[test]
    fn requirement_matches_should_follow_the_table() {
        // node labels: disktype=ssd, cores=8, zone=a
        let rows = [
            (expr("disktype", "In", &["ssd", "nvme"]), true),
            (expr("disktype", "In", &["hdd"]), false),
            (expr("disktype", "In", &[]), false), // malformed
            (expr("disktype", "NotIn", &["hdd"]), true),
            (expr("missing", "NotIn", &["x"]), true), // absent key satisfies NotIn
            (expr("disktype", "NotIn", &["ssd"]), false),
            (expr("zone", "Exists", &[]), true),
            (expr("missing", "Exists", &[]), false),
            (expr("missing", "DoesNotExist", &[]), true),
            (expr("zone", "DoesNotExist", &[]), false),
            (expr("cores", "Gt", &["4"]), true),  // 8 > 4
            (expr("cores", "Gt", &["8"]), false), // 8 > 8 is false
            (expr("cores", "Lt", &["10"]), true), // 8 < 10 (integer, not string, compare)
            (expr("cores", "Lt", &["x"]), false), // non-integer bound
            (expr("zone", "Gt", &["1"]), false),  // non-integer label
            (expr("missing", "Lt", &["1"]), false),
            (expr("zone", "Matches", &["a"]), false), // unknown operator
        ];
        let labels = node().node().metadata.labels.clone().unwrap_or_default();
        for (req, want) in rows {
            assert_eq!(requirement_matches(&req, &labels), want, "{req:?}");
        }
    }

    #[test]
    fn node_affinity_should_and_expressions_and_or_terms() {
        let rows = [
            // (case, pod, fits n1)
            ("no constraints", make_pod("p").build(), true),
            (
                "selector matches",
                make_pod("p").node_selector("disktype", "ssd").build(),
                true,
            ),
            (
                "selector misses",
                make_pod("p").node_selector("disktype", "hdd").build(),
                false,
            ),
            (
                "ANDed expressions, one fails",
                make_pod("p")
                    .require(term(vec![
                        expr("zone", "In", &["a"]),
                        expr("cores", "Gt", &["16"]),
                    ]))
                    .build(),
                false,
            ),
            (
                "ORed terms, second holds",
                make_pod("p")
                    .require(term(vec![expr("zone", "In", &["b"])]))
                    .require(term(vec![expr("cores", "Gt", &["4"])]))
                    .build(),
                true,
            ),
            (
                "empty term matches nothing",
                make_pod("p").require(term(vec![])).build(),
                false,
            ),
            (
                "matchFields name",
                make_pod("p")
                    .require(field_term(vec![expr("metadata.name", "In", &["n1"])]))
                    .build(),
                true,
            ),
            (
                "matchFields other",
                make_pod("p")
                    .require(field_term(vec![expr("metadata.name", "In", &["n2"])]))
                    .build(),
                false,
            ),
            (
                "selector and affinity both needed",
                make_pod("p")
                    .node_selector("disktype", "hdd")
                    .require(term(vec![expr("zone", "In", &["a"])]))
                    .build(),
                false,
            ),
        ];
        for (case, pod, want) in rows {
            let status = NodeAffinity.filter(&PodInfo::new(&pod), &node());
            assert_eq!(status.is_success(), want, "{case}");
            if !want {
                assert_eq!(status.reasons, vec![NodeAffinity::REASON], "{case}");
            }
        }
    }
}
