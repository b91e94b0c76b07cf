//! Server-side apply over HTTP against the real binary: the `PatchOptions` rules Kubernetes
//! enforces before it looks at the object.

use crate::support::{Server, pod};
use reqwest::StatusCode;
use serde_json::json;

const APPLY: &str = "application/apply-patch+yaml";

/// An apply patch without `fieldManager` is 422 Invalid (Kubernetes' `ValidatePatchOptions`), and
/// creates nothing; with one it creates the object.
#[tokio::test]
async fn apply_without_field_manager_should_be_invalid() {
    let server = Server::start().await;
    let mut cfg = pod("demo", &[("app", "demo")], "nginx");
    cfg["metadata"]["namespace"] = json!("default");
    let path = "/api/v1/namespaces/default/pods/demo";
    for query in ["", "?fieldManager="] {
        let (code, body) = server.patch(&format!("{path}{query}"), APPLY, &cfg).await;
        assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{query}: {body}");
        assert_eq!(body["reason"], "Invalid");
        assert_eq!(
            body["message"],
            "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch"
        );
        assert_eq!(body["details"]["kind"], "PatchOptions");
        assert_eq!(body["details"]["group"], "meta.k8s.io");
        assert_eq!(body["details"]["causes"][0]["field"], "fieldManager");
        assert_eq!(body["details"]["causes"][0]["reason"], "FieldValueRequired");
    }
    let (code, _) = server.get(path).await;
    assert_eq!(
        code,
        StatusCode::NOT_FOUND,
        "a refused apply creates nothing"
    );
    let (code, body) = server
        .patch(&format!("{path}?fieldManager=kubectl"), APPLY, &cfg)
        .await;
    assert_eq!(code, StatusCode::CREATED, "{body}");
}
