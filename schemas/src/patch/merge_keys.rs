//! How strategic merge patch treats each list field, per kind: the `patchStrategy` / `patchMergeKey`
//! struct tags of `k8s.io/api` (core/v1, apps/v1) as a lookup table.
//!
//! A field is named by its path of JSON field names from the object root; list elements add no segment,
//! so a container's env list is `spec.containers.env`. Fields not in the table are replaced whole, which
//! is also what Kubernetes does for lists without a patch strategy (tolerations, taints, args, command,
//! envFrom, Endpoints subsets).

/// How a list field is merged by a strategic merge patch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListStrategy {
    /// The patch list replaces the original list (no `patchStrategy`).
    Replace,
    /// A list of scalars merged as a set union (`patchStrategy:"merge"` without a merge key, e.g.
    /// `metadata.finalizers`); `$deleteFromPrimitiveList/<field>` removes values.
    MergePrimitives,
    /// A list of objects merged element-wise by the named merge key (`patchMergeKey`).
    MergeByKey(&'static str),
}

use ListStrategy::{MergeByKey, MergePrimitives, Replace};

/// `ObjectMeta` lists, relative to a `metadata` object (top level or inside a pod template).
const METADATA: &[(&str, ListStrategy)] = &[
    ("ownerReferences", MergeByKey("uid")),
    ("finalizers", MergePrimitives),
];

/// `PodSpec` lists, relative to the pod spec.
const POD_SPEC: &[(&str, ListStrategy)] = &[
    ("containers", MergeByKey("name")),
    ("initContainers", MergeByKey("name")),
    ("ephemeralContainers", MergeByKey("name")),
    ("imagePullSecrets", MergeByKey("name")),
    ("volumes", MergeByKey("name")),
    ("resourceClaims", MergeByKey("name")),
    ("schedulingGates", MergeByKey("name")),
    ("hostAliases", MergeByKey("ip")),
    ("topologySpreadConstraints", MergeByKey("topologyKey")),
];

/// Lists inside one `Container` (or init / ephemeral container), relative to the container.
const CONTAINER: &[(&str, ListStrategy)] = &[
    ("ports", MergeByKey("containerPort")),
    ("env", MergeByKey("name")),
    ("volumeMounts", MergeByKey("mountPath")),
    ("volumeDevices", MergeByKey("devicePath")),
];

/// The container lists of a pod spec, whose elements use [`CONTAINER`].
const CONTAINER_LISTS: &[&str] = &["containers", "initContainers", "ephemeralContainers"];

/// `PodStatus` lists, relative to `status`.
const POD_STATUS: &[(&str, ListStrategy)] = &[
    ("conditions", MergeByKey("type")),
    ("podIPs", MergeByKey("ip")),
    ("hostIPs", MergeByKey("ip")),
    ("containerStatuses", MergeByKey("name")),
    ("initContainerStatuses", MergeByKey("name")),
    ("ephemeralContainerStatuses", MergeByKey("name")),
    ("resourceClaimStatuses", MergeByKey("name")),
];

/// `NodeSpec` lists, relative to `spec`.
const NODE_SPEC: &[(&str, ListStrategy)] = &[("podCIDRs", MergePrimitives)];

/// `NodeStatus` lists, relative to `status`.
const NODE_STATUS: &[(&str, ListStrategy)] = &[
    ("conditions", MergeByKey("type")),
    ("addresses", MergeByKey("type")),
];

/// `ServiceSpec` lists, relative to `spec`.
const SERVICE_SPEC: &[(&str, ListStrategy)] = &[("ports", MergeByKey("port"))];

/// Status lists of kinds whose only mergeable status list is `conditions` keyed by `type`
/// (Deployment, ReplicaSet, Namespace, Service).
const CONDITIONS_STATUS: &[(&str, ListStrategy)] = &[("conditions", MergeByKey("type"))];

/// The strategy of the list at `path` (JSON field names from the object root) in an object of `kind`.
///
/// Kinds and fields not covered return [`ListStrategy::Replace`].
pub fn list_strategy(kind: &str, path: &[String]) -> ListStrategy {
    let segs: Vec<&str> = path.iter().map(String::as_str).collect();
    if let ["metadata", rest @ ..] = segs.as_slice() {
        return lookup(METADATA, rest);
    }
    match (kind, segs.as_slice()) {
        ("Pod", ["spec", rest @ ..]) => pod_spec(rest),
        ("Pod", ["status", rest @ ..]) => lookup(POD_STATUS, rest),
        ("ReplicaSet" | "Deployment", ["spec", "template", "metadata", rest @ ..]) => {
            lookup(METADATA, rest)
        }
        ("ReplicaSet" | "Deployment", ["spec", "template", "spec", rest @ ..]) => pod_spec(rest),
        ("ReplicaSet" | "Deployment" | "Namespace" | "Service", ["status", rest @ ..]) => {
            lookup(CONDITIONS_STATUS, rest)
        }
        ("Node", ["spec", rest @ ..]) => lookup(NODE_SPEC, rest),
        ("Node", ["status", rest @ ..]) => lookup(NODE_STATUS, rest),
        ("Service", ["spec", rest @ ..]) => lookup(SERVICE_SPEC, rest),
        _ => Replace,
    }
}

/// A list inside a pod spec: the pod-level lists, or a list inside one of its containers.
fn pod_spec(rest: &[&str]) -> ListStrategy {
    match rest {
        [list, inner @ ..] if !inner.is_empty() && CONTAINER_LISTS.contains(list) => {
            lookup(CONTAINER, inner)
        }
        _ => lookup(POD_SPEC, rest),
    }
}

/// Finds a one-segment path in `table`; deeper or unknown paths are [`ListStrategy::Replace`].
fn lookup(table: &[(&str, ListStrategy)], rest: &[&str]) -> ListStrategy {
    match rest {
        [field] => table
            .iter()
            .find(|(name, _)| name == field)
            .map_or(Replace, |(_, s)| *s),
        _ => Replace,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(p: &str) -> Vec<String> {
        p.split('.').map(str::to_string).collect()
    }

    #[test]
    fn list_strategy_should_follow_the_kubernetes_struct_tags() {
        let cases: &[(&str, &str, ListStrategy)] = &[
            ("Pod", "spec.containers", MergeByKey("name")),
            ("Pod", "spec.containers.ports", MergeByKey("containerPort")),
            ("Pod", "spec.initContainers.env", MergeByKey("name")),
            (
                "Pod",
                "spec.containers.volumeMounts",
                MergeByKey("mountPath"),
            ),
            (
                "Pod",
                "spec.containers.volumeDevices",
                MergeByKey("devicePath"),
            ),
            ("Pod", "spec.containers.args", Replace),
            ("Pod", "spec.containers.envFrom", Replace),
            ("Pod", "spec.tolerations", Replace),
            ("Pod", "spec.volumes", MergeByKey("name")),
            ("Pod", "spec.hostAliases", MergeByKey("ip")),
            (
                "Pod",
                "spec.topologySpreadConstraints",
                MergeByKey("topologyKey"),
            ),
            ("Pod", "status.conditions", MergeByKey("type")),
            ("Pod", "status.podIPs", MergeByKey("ip")),
            ("Pod", "status.containerStatuses", MergeByKey("name")),
            ("Pod", "metadata.finalizers", MergePrimitives),
            ("Node", "metadata.ownerReferences", MergeByKey("uid")),
            ("Node", "status.addresses", MergeByKey("type")),
            ("Node", "spec.taints", Replace),
            ("Service", "spec.ports", MergeByKey("port")),
            ("Endpoints", "subsets", Replace),
            (
                "Deployment",
                "spec.template.spec.containers",
                MergeByKey("name"),
            ),
            (
                "Deployment",
                "spec.template.spec.containers.env",
                MergeByKey("name"),
            ),
            (
                "ReplicaSet",
                "spec.template.metadata.finalizers",
                MergePrimitives,
            ),
            ("ReplicaSet", "status.conditions", MergeByKey("type")),
            ("Deployment", "spec.containers", Replace),
        ];
        for (kind, p, want) in cases {
            assert_eq!(list_strategy(kind, &path(p)), *want, "{kind} {p}");
        }
    }
}
