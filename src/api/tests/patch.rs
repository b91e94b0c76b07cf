//! PATCH in its four forms, no-op detection, and the status, binding and scale subresources.

use super::*;

const MERGE: &str = "application/merge-patch+json";
const JSON_PATCH: &str = "application/json-patch+json";
const SMP: &str = "application/strategic-merge-patch+json";
const APPLY: &str = "application/apply-patch+yaml";

#[tokio::test]
async fn patches_should_apply_and_no_ops_should_keep_the_revision() {
    let h = Harness::start().await;
    let path = "/api/v1/namespaces/default/pods/web";
    let created = h
        .post(
            "/api/v1/namespaces/default/pods",
            &pod("web", json!({"app": "web"})),
        )
        .await;
    let rv0 = rv(&created.body);

    let labeled = h
        .patch(
            &format!("{path}?fieldManager=kubectl-label"),
            MERGE,
            &json!({"metadata": {"labels": {"env": "prod"}}}),
        )
        .await;
    assert_eq!(labeled.code, StatusCode::OK, "{}", labeled.body);
    assert_eq!(
        labeled.body["metadata"]["labels"],
        json!({"app": "web", "env": "prod"})
    );
    let rv1 = rv(&labeled.body);
    assert!(rv1 > rv0);
    assert_eq!(
        labeled.body["metadata"]["generation"], 1,
        "labels are not spec"
    );

    // The same label again, and an empty patch: nothing changes, no new revision.
    let again = h
        .patch(
            path,
            MERGE,
            &json!({"metadata": {"labels": {"env": "prod"}}}),
        )
        .await;
    assert_eq!((again.code, rv(&again.body)), (StatusCode::OK, rv1));
    assert_eq!(rv(&h.patch(path, MERGE, &json!({})).await.body), rv1);

    let jp = h
        .patch(
            path,
            JSON_PATCH,
            &json!([{"op": "replace", "path": "/spec/containers/0/image", "value": "nginx:1.29"}]),
        )
        .await;
    assert_eq!(
        jp.body["spec"]["containers"][0]["image"], "nginx:1.29",
        "{}",
        jp.body
    );
    assert_eq!(jp.body["metadata"]["generation"], 2);
    let bad = h
        .patch(
            path,
            JSON_PATCH,
            &json!([{"op": "replace", "path": "/spec/nope/0", "value": 1}]),
        )
        .await;
    assert_status(&bad, 422, "Invalid");

    let smp = json!({"metadata": {"labels": {"env": null}}, "spec": {"$setElementOrder/containers": [{"name": "c1"}], "containers": [{"name": "c1", "image": "nginx:2"}]}});
    let s = h.patch(path, SMP, &smp).await;
    assert_eq!(s.code, StatusCode::OK, "{}", s.body);
    assert_eq!(s.body["metadata"]["labels"], json!({"app": "web"}));
    assert_eq!(
        s.body["spec"]["containers"].as_array().map(Vec::len),
        Some(1)
    );
    assert!(!s.body.to_string().contains("$setElementOrder"));

    // A stale resourceVersion inside a patch is a precondition.
    let stale = h
        .patch(
            path,
            MERGE,
            &json!({"metadata": {"resourceVersion": rv0.to_string(), "labels": {"x": "y"}}}),
        )
        .await;
    assert_status(&stale, 409, "Conflict");
    // Unknown content type, missing object, dry run.
    assert_status(
        &h.patch(path, "application/json", &json!({})).await,
        415,
        "UnsupportedMediaType",
    );
    assert_status(
        &h.patch("/api/v1/namespaces/default/pods/nope", MERGE, &json!({}))
            .await,
        404,
        "NotFound",
    );
    let before = rv(&h.get(path).await.body);
    let dry = h
        .patch(
            &format!("{path}?dryRun=All"),
            MERGE,
            &json!({"metadata": {"labels": {"dry": "run"}}}),
        )
        .await;
    assert_eq!(dry.body["metadata"]["labels"]["dry"], "run");
    let after = h.get(path).await;
    assert_eq!(
        (rv(&after.body), after.body["metadata"]["labels"].get("dry")),
        (before, None)
    );
    h.shutdown();
}

#[tokio::test]
async fn server_side_apply_should_create_then_merge() {
    let h = Harness::start().await;
    let path = "/api/v1/namespaces/default/pods/demo?fieldManager=kubectl&fieldValidation=Strict&force=false";
    let mut cfg = pod("demo", json!({"app": "demo"}));
    cfg["metadata"]["namespace"] = json!("default");
    let first = h.patch(path, APPLY, &cfg).await;
    assert_eq!(first.code, StatusCode::CREATED, "{}", first.body);
    cfg["metadata"]["labels"]["tier"] = json!("front");
    let second = h.patch(path, APPLY, &cfg).await;
    assert_eq!(second.code, StatusCode::OK, "{}", second.body);
    assert_eq!(
        second.body["metadata"]["labels"],
        json!({"app": "demo", "tier": "front"})
    );
    assert_eq!(
        second.body["metadata"]["uid"],
        first.body["metadata"]["uid"]
    );
    let same = h.patch(path, APPLY, &cfg).await;
    assert_eq!(rv(&same.body), rv(&second.body));
    let ns = h
        .patch(
            "/api/v1/namespaces/team-b?fieldManager=kubectl",
            APPLY,
            &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-b"}}),
        )
        .await;
    assert_eq!(ns.code, StatusCode::CREATED, "{}", ns.body);
    h.shutdown();
}

#[tokio::test]
async fn status_subresource_should_change_only_status() {
    let h = Harness::start().await;
    h.post("/api/v1/namespaces/default/pods", &pod("web", json!({})))
        .await;
    let st = h
        .patch(
            "/api/v1/namespaces/default/pods/web/status",
            MERGE,
            &json!({"status": {"phase": "Running"}, "spec": {"nodeName": "sneaky"}}),
        )
        .await;
    assert_eq!(st.code, StatusCode::OK, "{}", st.body);
    assert_eq!(st.body["status"]["phase"], "Running");
    assert_eq!(st.body["spec"].get("nodeName"), None);
    // The main resource ignores status changes.
    let main = h
        .patch(
            "/api/v1/namespaces/default/pods/web",
            MERGE,
            &json!({"status": {"phase": "Failed"}}),
        )
        .await;
    assert_eq!(main.body["status"]["phase"], "Running");
    assert_eq!(rv(&main.body), rv(&st.body));
    h.shutdown();
}

#[tokio::test]
async fn binding_should_assign_a_node_once() {
    let h = Harness::start().await;
    h.post("/api/v1/namespaces/default/pods", &pod("web", json!({})))
        .await;
    let binding = json!({"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "web"}, "target": {"kind": "Node", "name": "n1"}});
    assert_status(
        &h.post("/api/v1/namespaces/default/pods/web/binding", &binding)
            .await,
        422,
        "Invalid",
    );
    super::create_node(&h, "n1").await;
    let b = h
        .post("/api/v1/namespaces/default/pods/web/binding", &binding)
        .await;
    assert_eq!(
        (b.code, b.body["status"].clone()),
        (StatusCode::CREATED, json!("Success"))
    );
    let p = h.get("/api/v1/namespaces/default/pods/web").await;
    assert_eq!(p.body["spec"]["nodeName"], "n1");
    assert!(
        p.body["status"]["conditions"]
            .as_array()
            .expect("conditions")
            .iter()
            .any(|c| c["type"] == "PodScheduled" && c["status"] == "True")
    );
    let mut nope = binding.clone();
    nope["metadata"]["name"] = json!("nope");
    assert_status(
        &h.post("/api/v1/namespaces/default/pods/web/binding", &binding)
            .await,
        409,
        "Conflict",
    );
    assert_status(
        &h.post("/api/v1/namespaces/default/pods/nope/binding", &nope)
            .await,
        404,
        "NotFound",
    );
    h.shutdown();
}

#[tokio::test]
async fn scale_should_read_and_write_replicas() {
    let h = Harness::start().await;
    let dep = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}});
    let d = h
        .post("/apis/apps/v1/namespaces/default/deployments", &dep)
        .await;
    assert_eq!(d.code, StatusCode::CREATED, "{}", d.body);
    let scale = h
        .get("/apis/apps/v1/namespaces/default/deployments/web/scale")
        .await;
    assert_eq!(
        (
            scale.body["kind"].clone(),
            scale.body["spec"]["replicas"].clone()
        ),
        (json!("Scale"), json!(2))
    );
    assert_eq!(scale.body["status"]["selector"], "app=web");
    let mut s = scale.body.clone();
    s["spec"]["replicas"] = json!(5);
    let put = h
        .put("/apis/apps/v1/namespaces/default/deployments/web/scale", &s)
        .await;
    assert_eq!(put.body["spec"]["replicas"], 5, "{}", put.body);
    let patched = h
        .patch(
            "/apis/apps/v1/namespaces/default/deployments/web/scale",
            MERGE,
            &json!({"spec": {"replicas": 1}}),
        )
        .await;
    assert_eq!(patched.body["spec"]["replicas"], 1, "{}", patched.body);
    let dep_now = h
        .get("/apis/apps/v1/namespaces/default/deployments/web")
        .await;
    assert_eq!(
        (
            dep_now.body["spec"]["replicas"].clone(),
            dep_now.body["metadata"]["generation"].clone()
        ),
        (json!(1), json!(3))
    );
    assert_status(
        &h.put("/apis/apps/v1/namespaces/default/deployments/web/scale", &s)
            .await,
        409,
        "Conflict",
    );
    h.shutdown();
}
