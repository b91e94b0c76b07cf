//! Discovery documents (Kubernetes API concepts, "Discovery API"), all derived from
//! `mock_k8_schemas::resource::RESOURCES`: the legacy `/api` (`APIVersions`), `/apis`
//! (`APIGroupList`), `/apis/{group}` (`APIGroup`), the `APIResourceList` of `/api/v1` and
//! `/apis/{group}/{version}` with verbs, short names, categories and subresources, and `/version`.
//!
//! Only the legacy (unaggregated) form is served; kubectl falls back to it when its Accept asks for
//! aggregated discovery and gets plain `application/json`.

use mock_k8_schemas::resource::{self, RESOURCES, VERBS};
use serde_json::{Value, json};

/// `/api`: the core group's versions and the address clients should use.
pub fn api_versions(server_address: &str) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    })
}

fn group_json(group: &str, version: &str) -> Value {
    let gv = json!({"groupVersion": format!("{group}/{version}"), "version": version});
    json!({"name": group, "versions": [gv.clone()], "preferredVersion": gv})
}

/// `/apis`: every non-core group with its single version.
pub fn api_group_list() -> Value {
    let groups: Vec<Value> = resource::groups()
        .into_iter()
        .map(|(g, v)| group_json(g, v))
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `/apis/{group}`: one group, or `None` when it is not served.
pub fn api_group(group: &str) -> Option<Value> {
    let (g, v) = resource::groups().into_iter().find(|(g, _)| *g == group)?;
    let mut out = group_json(g, v);
    if let Some(map) = out.as_object_mut() {
        map.insert("kind".into(), json!("APIGroup"));
        map.insert("apiVersion".into(), json!("v1"));
    }
    Some(out)
}

/// The verbs and response kind of a subresource, as kube-apiserver lists them.
fn subresource_entry(r: &resource::ApiResource, sub: &str) -> Value {
    let name = format!("{}/{sub}", r.plural);
    match sub {
        "binding" => {
            json!({"name": name, "singularName": "", "namespaced": r.namespaced, "kind": "Binding", "verbs": ["create"]})
        }
        "scale" => {
            json!({"name": name, "singularName": "", "namespaced": r.namespaced, "group": "autoscaling", "version": "v1", "kind": "Scale", "verbs": ["get", "patch", "update"]})
        }
        _ => {
            json!({"name": name, "singularName": "", "namespaced": r.namespaced, "kind": r.kind, "verbs": ["get", "patch", "update"]})
        }
    }
}

/// The `APIResourceList` of one group version (`""`/`"v1"` for core), or `None` when not served.
pub fn api_resource_list(group: &str, version: &str) -> Option<Value> {
    let mut resources = Vec::new();
    for r in RESOURCES
        .iter()
        .filter(|r| r.group == group && r.version == version)
    {
        let mut e = json!({"name": r.plural, "singularName": r.singular, "namespaced": r.namespaced, "kind": r.kind, "verbs": VERBS});
        if !r.short_names.is_empty() {
            e["shortNames"] = json!(r.short_names);
        }
        if !r.categories.is_empty() {
            e["categories"] = json!(r.categories);
        }
        resources.push(e);
        resources.extend(r.subresources.iter().map(|s| subresource_entry(r, s)));
        if r.group.is_empty() && r.plural == "pods" {
            // Read-only: served by `super::logs`.
            resources.push(json!({"name": "pods/log", "singularName": "", "namespaced": true, "kind": "Pod", "verbs": ["get"]}));
        }
    }
    if resources.is_empty() {
        return None;
    }
    let gv = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    Some(
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}),
    )
}

/// `/version`: Kubernetes 1.32 (kubectl's GKE dispatcher picks the kubectl matching this minor),
/// with mock_k8's own version as semver build metadata (`v1.32.0-mock-k8+0.1.0`).
pub fn version() -> Value {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    json!({
        "major": "1",
        "minor": "32",
        // Semver pre-release identifiers allow only `[0-9A-Za-z-]`: kubectl rejects `mock_k8`.
        "gitVersion": format!("v1.32.0-mock-k8+{}", env!("CARGO_PKG_VERSION")),
        "gitCommit": "",
        "gitTreeState": "clean",
        "buildDate": "",
        "goVersion": "",
        "compiler": "rustc",
        "platform": format!("{}/{arch}", std::env::consts::OS),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_resource_list_should_carry_short_names_and_subresources() {
        let list = api_resource_list("", "v1").expect("core");
        let res = list["resources"].as_array().expect("resources");
        let pods = res.iter().find(|r| r["name"] == "pods").expect("pods");
        assert_eq!(
            (pods["shortNames"].clone(), pods["categories"].clone()),
            (json!(["po"]), json!(["all"]))
        );
        assert_eq!(pods["namespaced"], true);
        assert!(res.iter().any(|r| r["name"] == "pods/status"));
        assert!(
            res.iter()
                .any(|r| r["name"] == "pods/binding" && r["kind"] == "Binding")
        );
        let nodes = res.iter().find(|r| r["name"] == "nodes").expect("nodes");
        assert_eq!(nodes["namespaced"], false);
        assert!(res.iter().all(|r| r["name"] != "deployments"));
    }

    #[test]
    fn group_documents_should_list_apps() {
        let groups = api_group_list();
        assert!(
            groups["groups"]
                .as_array()
                .expect("groups")
                .iter()
                .any(|g| g["name"] == "apps" && g["preferredVersion"]["groupVersion"] == "apps/v1")
        );
        let apps = api_resource_list("apps", "v1").expect("apps");
        assert!(
            apps["resources"]
                .as_array()
                .expect("res")
                .iter()
                .any(|r| r["name"] == "deployments/scale" && r["group"] == "autoscaling")
        );
        assert_eq!(api_group("apps").expect("apps")["kind"], "APIGroup");
        assert!(api_group("nope").is_none());
        assert!(api_resource_list("nope", "v1").is_none());
    }

    #[test]
    fn version_should_report_minor_32() {
        let v = version();
        assert_eq!(
            (v["major"].clone(), v["minor"].clone()),
            (json!("1"), json!("32"))
        );
        assert!(
            v["gitVersion"]
                .as_str()
                .expect("str")
                .starts_with("v1.32.0-mock-k8+")
        );
    }
}
