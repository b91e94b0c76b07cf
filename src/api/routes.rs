//! Path parsing: `/api/...` and `/apis/...` URLs to what they address, following Kubernetes' REST
//! layout (API concepts, "Resource URIs"):
//!
//! - `/api`, `/apis`, `/apis/{group}`: discovery of versions and groups;
//! - `/api/v1`, `/apis/{group}/{version}`: the resource list of one group version;
//! - `{base}/{plural}`: a cluster-scoped collection, or a namespaced one across all namespaces;
//! - `{base}/{plural}/{name}[/{sub}]`: a cluster-scoped object (for a namespaced kind, the seed's
//!   `/api/v1/pods/{id}` form: the object's uid or its name in `default`);
//! - `{base}/namespaces/{ns}/{plural}[/{name}[/{sub}]]`: namespaced collections and objects;
//! - `{base}/namespaces/{name}[/status]`: the Namespace object itself.

use mock_k8_schemas::ApiResource;
use mock_k8_schemas::resource::{self, RESOURCES};

/// What a discovery or resource path addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `/api`: the legacy `APIVersions`.
    LegacyVersions,
    /// `/apis`: the `APIGroupList`.
    Groups,
    /// `/apis/{group}`: one `APIGroup`.
    Group(&'static str),
    /// `/api/v1` or `/apis/{group}/{version}`: the `APIResourceList` of that group version.
    ResourceList {
        group: &'static str,
        version: &'static str,
    },
    /// A collection, an object or a subresource.
    Resource(ResourcePath),
}

/// A resource path, split into its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourcePath {
    /// The addressed kind.
    pub resource: &'static ApiResource,
    /// The namespace from the URL (`None` for cluster-scoped paths and all-namespaces forms).
    pub namespace: Option<String>,
    /// The object name (or, on the seed's namespaced form without a namespace, a name or uid).
    pub name: Option<String>,
    /// The subresource (`status`, `binding`, `scale`), one of the kind's served subresources.
    pub subresource: Option<String>,
}

impl ResourcePath {
    /// `true` for the seed's `/api/v1/{plural}/{id}` form on a namespaced kind: `id` is a uid or a
    /// name in `default`, not a plain name.
    pub fn is_seed_id(&self) -> bool {
        self.resource.namespaced && self.namespace.is_none() && self.name.is_some()
    }
}

/// Parses a request path (no query string). `None` when it addresses nothing served: unknown
/// groups, versions, plurals or subresources, or too many segments.
pub fn parse(path: &str) -> Option<Route> {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match segs.as_slice() {
        ["api"] => Some(Route::LegacyVersions),
        ["apis"] => Some(Route::Groups),
        ["api", "v1", rest @ ..] => resources("", "v1", rest),
        ["apis", group] => resource::groups()
            .into_iter()
            .find(|(g, _)| g == group)
            .map(|(g, _)| Route::Group(g)),
        ["apis", group, version, rest @ ..] => {
            let (g, v) = resource::groups()
                .into_iter()
                .find(|(g, v)| g == group && v == version)?;
            resources(g, v, rest)
        }
        _ => None,
    }
}

/// Parses the part of a path after the group version.
fn resources(group: &'static str, version: &'static str, rest: &[&str]) -> Option<Route> {
    let find = |plural: &str| {
        RESOURCES
            .iter()
            .find(|r| r.group == group && r.version == version && r.plural == plural)
    };
    let path = |resource, namespace: Option<&str>, name: Option<&str>, sub: Option<&str>| {
        if sub.is_some_and(|s| !resource_has_sub(resource, s)) {
            return None;
        }
        Some(Route::Resource(ResourcePath {
            resource,
            namespace: namespace.map(str::to_string),
            name: name.map(str::to_string),
            subresource: sub.map(str::to_string),
        }))
    };
    match rest {
        [] => Some(Route::ResourceList { group, version }),
        // `/namespaces/{ns}/{plural}...` when `{plural}` is a namespaced kind of this group version;
        // otherwise `/namespaces/{name}/{sub}` addresses the Namespace itself.
        ["namespaces", ns, plural, tail @ ..] if find(plural).is_some_and(|r| r.namespaced) => {
            let r = find(plural)?;
            match tail {
                [] => path(r, Some(ns), None, None),
                [name] => path(r, Some(ns), Some(name), None),
                [name, sub] => path(r, Some(ns), Some(name), Some(sub)),
                _ => None,
            }
        }
        [plural] => path(find(plural)?, None, None, None),
        [plural, name] => path(find(plural)?, None, Some(name), None),
        [plural, name, sub] => path(find(plural)?, None, Some(name), Some(sub)),
        _ => None,
    }
}

/// `true` when `r` serves subresource `sub`: its declared subresources, plus `pods/log` (served by
/// [`super::logs`], read-only, so not part of the writable subresources discovery lists).
fn resource_has_sub(r: &ApiResource, sub: &str) -> bool {
    r.subresources.contains(&sub) || (r.group.is_empty() && r.plural == "pods" && sub == "log")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(path: &str) -> ResourcePath {
        match parse(path) {
            Some(Route::Resource(r)) => r,
            other => panic!("{path}: {other:?}"),
        }
    }

    #[test]
    fn parse_should_split_namespaced_paths() {
        let r = res("/api/v1/namespaces/default/pods/web/status");
        assert_eq!(
            (r.resource.plural, r.namespace.as_deref(), r.name.as_deref()),
            ("pods", Some("default"), Some("web"))
        );
        assert_eq!(r.subresource.as_deref(), Some("status"));
        let c = res("/api/v1/namespaces/a/pods");
        assert_eq!((c.namespace.as_deref(), c.name), (Some("a"), None));
        let d = res("/apis/apps/v1/namespaces/a/deployments/d/scale");
        assert_eq!(
            (d.resource.kind, d.subresource.as_deref()),
            ("Deployment", Some("scale"))
        );
    }

    #[test]
    fn parse_should_address_the_namespace_object_itself() {
        let n = res("/api/v1/namespaces/team-a");
        assert_eq!(
            (n.resource.kind, n.name.as_deref(), n.namespace),
            ("Namespace", Some("team-a"), None)
        );
        let s = res("/api/v1/namespaces/team-a/status");
        assert_eq!(
            (s.resource.kind, s.subresource.as_deref()),
            ("Namespace", Some("status"))
        );
        assert_eq!(res("/api/v1/namespaces").name, None);
    }

    #[test]
    fn parse_should_mark_seed_ids_and_cluster_scoped_objects() {
        let p = res("/api/v1/pods/0b1c");
        assert!(p.is_seed_id());
        let all = res("/api/v1/pods");
        assert!(!all.is_seed_id() && all.name.is_none());
        let n = res("/api/v1/nodes/n1/status");
        assert!(!n.is_seed_id());
        assert_eq!(n.subresource.as_deref(), Some("status"));
    }

    #[test]
    fn parse_should_reject_unknown_paths() {
        assert_eq!(parse("/api/v2/pods"), None);
        assert_eq!(parse("/api/v1/widgets"), None);
        assert_eq!(parse("/api/v1/namespaces/a/pods/p/exec"), None);
        assert_eq!(parse("/api/v1/namespaces/a/services/s/log"), None);
        assert!(parse("/api/v1/namespaces/a/pods/p/log").is_some());
        assert_eq!(parse("/apis/nope/v1"), None);
        assert_eq!(parse("/api/v1/namespaces/a/nodes/n1"), None);
        assert_eq!(
            parse("/apis/apps/v1/namespaces/a/deployments/d/scale/x"),
            None
        );
    }

    #[test]
    fn parse_should_find_discovery_routes() {
        assert_eq!(parse("/api"), Some(Route::LegacyVersions));
        assert_eq!(parse("/apis"), Some(Route::Groups));
        assert_eq!(parse("/apis/apps"), Some(Route::Group("apps")));
        assert_eq!(
            parse("/api/v1"),
            Some(Route::ResourceList {
                group: "",
                version: "v1"
            })
        );
        assert_eq!(
            parse("/apis/apps/v1/"),
            Some(Route::ResourceList {
                group: "apps",
                version: "v1"
            })
        );
    }
}
