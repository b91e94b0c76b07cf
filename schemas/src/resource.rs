//! The kinds mock_k8 serves, as data: the single table that discovery (`/api/v1`, `/apis/...`),
//! routing, OpenAPI and storage keys are derived from.
//!
//! Names follow Kubernetes' API discovery (`APIResource`): `plural` is the URL segment, `kind` the
//! object kind, `short_names` what `kubectl get po` resolves.

/// One served resource (a kind at a group/version), as Kubernetes' discovery describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiResource {
    /// API group; `""` for the core (legacy) group served under `/api/v1`.
    pub group: &'static str,
    /// API version within the group, e.g. `"v1"`.
    pub version: &'static str,
    /// Object kind, e.g. `"Pod"`.
    pub kind: &'static str,
    /// Lower-case plural used in URLs, e.g. `"pods"`.
    pub plural: &'static str,
    /// Lower-case singular, e.g. `"pod"`.
    pub singular: &'static str,
    /// `true` when objects live in a namespace (`/namespaces/{ns}/{plural}`).
    pub namespaced: bool,
    /// `kubectl` short names, e.g. `["po"]`.
    pub short_names: &'static [&'static str],
    /// Discovery categories, e.g. `["all"]`.
    pub categories: &'static [&'static str],
    /// Subresources served, e.g. `["status", "binding"]`.
    pub subresources: &'static [&'static str],
}

/// Verbs every served resource supports (discovery `verbs`).
pub const VERBS: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

impl ApiResource {
    /// The `apiVersion` string: `"v1"` for core, `"apps/v1"` otherwise.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The list kind, e.g. `"PodList"`.
    pub fn list_kind(&self) -> String {
        format!("{}List", self.kind)
    }

    /// The prefix of this resource's storage keys: `"{group or core}/{plural}/"`.
    ///
    /// A full key is `prefix + namespace + "/" + name` (namespace empty for cluster-scoped kinds), so a
    /// byte-ordered scan of `prefix` lists the resource and of `prefix + ns + "/"` one namespace.
    pub fn key_prefix(&self) -> String {
        let g = if self.group.is_empty() {
            "core"
        } else {
            self.group
        };
        format!("{g}/{}/", self.plural)
    }

    /// The storage key of one object.
    pub fn key(&self, namespace: &str, name: &str) -> String {
        let ns = if self.namespaced { namespace } else { "" };
        format!("{}{ns}/{name}", self.key_prefix())
    }

    /// The URL path of the collection (`namespace` ignored for cluster-scoped kinds), without a
    /// trailing slash, e.g. `/api/v1/namespaces/default/pods`.
    pub fn collection_path(&self, namespace: Option<&str>) -> String {
        let base = if self.group.is_empty() {
            "/api/v1".to_string()
        } else {
            format!("/apis/{}/{}", self.group, self.version)
        };
        match (self.namespaced, namespace) {
            (true, Some(ns)) => format!("{base}/namespaces/{ns}/{}", self.plural),
            _ => format!("{base}/{}", self.plural),
        }
    }
}

const NONE: &[&str] = &[];

/// Every resource mock_k8 serves. Order is discovery order.
pub const RESOURCES: &[ApiResource] = &[
    ApiResource {
        group: "",
        version: "v1",
        kind: "Namespace",
        plural: "namespaces",
        singular: "namespace",
        namespaced: false,
        short_names: &["ns"],
        categories: NONE,
        subresources: &["status"],
    },
    ApiResource {
        group: "",
        version: "v1",
        kind: "Pod",
        plural: "pods",
        singular: "pod",
        namespaced: true,
        short_names: &["po"],
        categories: &["all"],
        subresources: &["status", "binding"],
    },
    ApiResource {
        group: "",
        version: "v1",
        kind: "Service",
        plural: "services",
        singular: "service",
        namespaced: true,
        short_names: &["svc"],
        categories: &["all"],
        subresources: &["status"],
    },
    ApiResource {
        group: "",
        version: "v1",
        kind: "Node",
        plural: "nodes",
        singular: "node",
        namespaced: false,
        short_names: &["no"],
        categories: NONE,
        subresources: &["status"],
    },
    ApiResource {
        group: "",
        version: "v1",
        kind: "Endpoints",
        plural: "endpoints",
        singular: "endpoints",
        namespaced: true,
        short_names: &["ep"],
        categories: NONE,
        subresources: NONE,
    },
    ApiResource {
        group: "",
        version: "v1",
        kind: "Event",
        plural: "events",
        singular: "event",
        namespaced: true,
        short_names: &["ev"],
        categories: NONE,
        subresources: NONE,
    },
    ApiResource {
        group: "coordination.k8s.io",
        version: "v1",
        kind: "Lease",
        plural: "leases",
        singular: "lease",
        namespaced: true,
        short_names: NONE,
        categories: NONE,
        subresources: NONE,
    },
    ApiResource {
        group: "apps",
        version: "v1",
        kind: "ReplicaSet",
        plural: "replicasets",
        singular: "replicaset",
        namespaced: true,
        short_names: &["rs"],
        categories: &["all"],
        subresources: &["status", "scale"],
    },
    ApiResource {
        group: "apps",
        version: "v1",
        kind: "Deployment",
        plural: "deployments",
        singular: "deployment",
        namespaced: true,
        short_names: &["deploy"],
        categories: &["all"],
        subresources: &["status", "scale"],
    },
    ApiResource {
        group: "discovery.k8s.io",
        version: "v1",
        kind: "EndpointSlice",
        plural: "endpointslices",
        singular: "endpointslice",
        namespaced: true,
        short_names: NONE,
        categories: NONE,
        subresources: NONE,
    },
];

/// Finds a resource by group, version and URL plural (`("apps", "v1", "deployments")`).
pub fn by_plural(group: &str, version: &str, plural: &str) -> Option<&'static ApiResource> {
    RESOURCES
        .iter()
        .find(|r| r.group == group && r.version == version && r.plural == plural)
}

/// Finds a resource by `apiVersion` (`"v1"`, `"apps/v1"`) and `kind`.
pub fn by_kind(api_version: &str, kind: &str) -> Option<&'static ApiResource> {
    RESOURCES
        .iter()
        .find(|r| r.kind == kind && r.api_version() == api_version)
}

/// The API groups served besides core, each with its single version, in discovery order.
pub fn groups() -> Vec<(&'static str, &'static str)> {
    let mut out: Vec<(&str, &str)> = Vec::new();
    for r in RESOURCES.iter().filter(|r| !r.group.is_empty()) {
        if !out.iter().any(|(g, _)| *g == r.group) {
            out.push((r.group, r.version));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_should_order_namespaces_under_their_resource() {
        let pods = by_plural("", "v1", "pods").expect("pods served");
        assert_eq!(pods.key("default", "web"), "core/pods/default/web");
        assert!(pods.key("default", "web").starts_with(&pods.key_prefix()));
        let nodes = by_kind("v1", "Node").expect("nodes served");
        assert_eq!(nodes.key("ignored", "n1"), "core/nodes//n1");
        assert_eq!(
            by_kind("apps/v1", "Deployment").map(|r| r.plural),
            Some("deployments")
        );
        assert_eq!(pods.collection_path(Some("a")), "/api/v1/namespaces/a/pods");
    }
}
