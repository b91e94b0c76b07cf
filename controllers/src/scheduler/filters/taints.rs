//! TaintToleration: a node's `NoSchedule` and `NoExecute` taints must be tolerated by the pod
//! (<https://kubernetes.io/docs/concepts/scheduling-eviction/taint-and-toleration/>).

use k8s_openapi::api::core::v1::{Taint, Toleration};

use crate::scheduler::framework::{FilterPlugin, PodInfo, Status};
use crate::scheduler::node_info::NodeInfo;

/// Kubernetes' toleration matching (`Toleration.ToleratesTaint`):
/// - a set `effect` must equal the taint's effect (an empty effect matches every effect);
/// - a set `key` must equal the taint's key (an empty key matches every key);
/// - operator `Exists` matches any value; `Equal` (the default) requires equal values (unset = "");
///   any other operator matches nothing.
pub fn tolerates(toleration: &Toleration, taint: &Taint) -> bool {
    let effect = toleration.effect.as_deref().unwrap_or("");
    if !effect.is_empty() && effect != taint.effect {
        return false;
    }
    let key = toleration.key.as_deref().unwrap_or("");
    if !key.is_empty() && key != taint.key {
        return false;
    }
    match toleration.operator.as_deref().unwrap_or("") {
        "" | "Equal" => {
            toleration.value.as_deref().unwrap_or("") == taint.value.as_deref().unwrap_or("")
        }
        "Exists" => true,
        _ => false,
    }
}

/// True when any of `tolerations` tolerates `taint`.
pub fn tolerated(tolerations: &[Toleration], taint: &Taint) -> bool {
    tolerations.iter().any(|t| tolerates(t, taint))
}

/// The node's taints (empty when unset).
pub fn taints_of(node: &NodeInfo) -> &[Taint] {
    node.node()
        .spec
        .as_ref()
        .and_then(|s| s.taints.as_deref())
        .unwrap_or(&[])
}

/// The TaintToleration filter: the first `NoSchedule` or `NoExecute` taint (in the node's order)
/// the pod does not tolerate fails the node, unresolvable, with the reason
/// `node(s) had untolerated taint {key: value}` (value empty when unset). `PreferNoSchedule` taints
/// only lower the score ([`crate::scheduler::scores::taint_toleration`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct TaintToleration;

impl TaintToleration {
    /// The plugin name.
    pub const NAME: &'static str = "TaintToleration";
}

/// Kubernetes' reason for an untolerated taint.
pub fn untolerated_reason(taint: &Taint) -> String {
    format!(
        "node(s) had untolerated taint {{{}: {}}}",
        taint.key,
        taint.value.as_deref().unwrap_or("")
    )
}

impl FilterPlugin for TaintToleration {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn filter(&self, pod: &PodInfo<'_>, node: &NodeInfo) -> Status {
        let tolerations = pod.tolerations();
        let blocking = taints_of(node).iter().find(|taint| {
            matches!(taint.effect.as_str(), "NoSchedule" | "NoExecute")
                && !tolerated(tolerations, taint)
        });
        match blocking {
            Some(taint) => Status::unresolvable(untolerated_reason(taint)),
            None => Status::success(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::testing::{make_node, make_pod};

    #[test]
    fn taint_toleration_should_follow_the_table() {
        // (case, taint key/value/effect, toleration key/op/value/effect, passes)
        let rows = [
            (
                "no toleration",
                ("gpu", "true", "NoSchedule"),
                ("", "", "", ""),
                false,
            ),
            (
                "equal match",
                ("gpu", "true", "NoSchedule"),
                ("gpu", "Equal", "true", "NoSchedule"),
                true,
            ),
            (
                "default operator is Equal",
                ("gpu", "true", "NoSchedule"),
                ("gpu", "", "true", ""),
                true,
            ),
            (
                "equal wrong value",
                ("gpu", "true", "NoSchedule"),
                ("gpu", "Equal", "false", "NoSchedule"),
                false,
            ),
            (
                "exists any value",
                ("gpu", "true", "NoExecute"),
                ("gpu", "Exists", "", ""),
                true,
            ),
            (
                "empty key exists = all",
                ("anything", "x", "NoSchedule"),
                ("", "Exists", "", ""),
                true,
            ),
            (
                "wrong effect",
                ("gpu", "true", "NoSchedule"),
                ("gpu", "Exists", "", "NoExecute"),
                false,
            ),
            (
                "prefer only scores",
                ("gpu", "true", "PreferNoSchedule"),
                ("", "", "", ""),
                true,
            ),
            (
                "unknown operator",
                ("gpu", "true", "NoSchedule"),
                ("gpu", "Gt", "1", ""),
                false,
            ),
        ];
        for (case, (tk, tv, te), (k, op, v, e), pass) in rows {
            let node = NodeInfo::new(make_node("n1").taint(tk, tv, te).build());
            let pod = make_pod("p").toleration(k, op, v, e).build();
            let status = TaintToleration.filter(&PodInfo::new(&pod), &node);
            assert_eq!(status.is_success(), pass, "{case}");
        }
    }

    #[test]
    fn taint_toleration_should_name_the_untolerated_taint() {
        let node = NodeInfo::new(
            make_node("n1")
                .taint("node.kubernetes.io/unreachable", "", "NoSchedule")
                .build(),
        );
        let status = TaintToleration.filter(&PodInfo::new(&make_pod("p").build()), &node);
        assert_eq!(
            status.reasons,
            vec!["node(s) had untolerated taint {node.kubernetes.io/unreachable: }"]
        );
        let node = NodeInfo::new(
            make_node("n1")
                .taint("kwok-controller/provider", "fake", "NoSchedule")
                .build(),
        );
        let status = TaintToleration.filter(&PodInfo::new(&make_pod("p").build()), &node);
        assert_eq!(
            status.reasons,
            vec!["node(s) had untolerated taint {kwok-controller/provider: fake}"]
        );
    }
}
