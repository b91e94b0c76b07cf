//! Request validation: DELETE bodies, continue tokens, identity changes by PATCH, query
//! parameters and content types.

use super::*;

#[tokio::test]
async fn delete_should_refuse_invalid_options_and_keep_the_object() {
    let h = Harness::start().await;
    let path = "/api/v1/namespaces/default/pods/d";
    let created = h
        .post("/api/v1/namespaces/default/pods", &pod("d", json!({})))
        .await;
    assert_eq!(created.code, StatusCode::CREATED, "{}", created.body);
    let del = |ct: &'static str, body: &'static str| {
        h.send(Method::DELETE, path, Some(ct), Some(body.to_string()), None)
    };
    assert_status(
        &del("application/json", "{not json").await,
        400,
        "BadRequest",
    );
    assert_status(&del("application/yaml", "a: [").await, 400, "BadRequest");
    assert_status(
        &del("application/json", r#"{"gracePeriodSeconds":"soon"}"#).await,
        400,
        "BadRequest",
    );
    assert_status(
        &del("application/json", r#"{"kind":"Pod"}"#).await,
        400,
        "BadRequest",
    );
    let policy = del("application/json", r#"{"propagationPolicy":"Later"}"#).await;
    assert_status(&policy, 422, "Invalid");
    assert_eq!(
        policy.body["details"]["causes"][0]["field"],
        "propagationPolicy"
    );
    assert_eq!(h.get(path).await.code, StatusCode::OK, "still there");
    // A protobuf body (kubectl drain) is ignored.
    let proto = h
        .send(
            Method::DELETE,
            path,
            Some("application/vnd.kubernetes.protobuf"),
            Some("k8s\0\n\x0c\n\x02v1".into()),
            None,
        )
        .await;
    assert_eq!(proto.code, StatusCode::OK, "{}", proto.body);
    // An empty body, and a valid DeleteOptions with kind, are accepted.
    for (name, body) in [
        ("e", None),
        (
            "k",
            Some(r#"{"kind":"DeleteOptions","apiVersion":"v1","propagationPolicy":"Foreground","gracePeriodSeconds":0}"#.to_string()),
        ),
    ] {
        let c = h
            .post("/api/v1/namespaces/default/pods", &pod(name, json!({})))
            .await;
        assert_eq!(c.code, StatusCode::CREATED, "{}", c.body);
        let a = h
            .send(
                Method::DELETE,
                &format!("/api/v1/namespaces/default/pods/{name}"),
                Some("application/json"),
                body,
                None,
            )
            .await;
        assert_eq!(a.code, StatusCode::OK, "{}", a.body);
    }
}

#[tokio::test]
async fn list_should_refuse_garbage_and_foreign_continue_tokens() {
    const LEASES: &str = "/apis/coordination.k8s.io/v1/namespaces/default/leases";
    let h = Harness::start().await;
    for name in ["a", "b"] {
        let c = h
            .post("/api/v1/namespaces/default/pods", &pod(name, json!({})))
            .await;
        assert_eq!(c.code, StatusCode::CREATED, "{}", c.body);
        let lease = json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": name}, "spec": {}});
        let c = h.post(LEASES, &lease).await;
        assert_eq!(c.code, StatusCode::CREATED, "{}", c.body);
    }
    let page = h.get("/api/v1/namespaces/default/pods?limit=1").await;
    let token = page.body["metadata"]["continue"]
        .as_str()
        .expect("continue token")
        .to_string();
    let next = h
        .get(&format!(
            "/api/v1/namespaces/default/pods?limit=1&continue={token}"
        ))
        .await;
    assert_eq!(next.code, StatusCode::OK, "{}", next.body);
    assert_eq!(next.body["items"][0]["metadata"]["name"], "b");
    for bad in ["garbage", "zz", "7b7d", "%C3%A9x"] {
        let a = h
            .get(&format!("/api/v1/namespaces/default/pods?continue={bad}"))
            .await;
        assert_status(&a, 400, "BadRequest");
        assert!(
            a.body["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("continue key is not valid")),
            "{}",
            a.body
        );
    }
    let cm_page = h.get(&format!("{LEASES}?limit=1")).await;
    let cm_token = cm_page.body["metadata"]["continue"]
        .as_str()
        .expect("continue token");
    let foreign = h
        .get(&format!(
            "/api/v1/namespaces/default/pods?continue={cm_token}"
        ))
        .await;
    assert_status(&foreign, 400, "BadRequest");
}

#[tokio::test]
async fn patch_should_refuse_identity_changes_like_put() {
    let h = Harness::start().await;
    let path = "/api/v1/namespaces/default/pods/id";
    let created = h
        .post("/api/v1/namespaces/default/pods", &pod("id", json!({})))
        .await;
    assert_eq!(created.code, StatusCode::CREATED, "{}", created.body);
    let merge = "application/merge-patch+json";
    let renamed = h
        .patch(path, merge, &json!({"metadata": {"name": "other"}}))
        .await;
    assert_status(&renamed, 400, "BadRequest");
    let moved = h
        .patch(
            path,
            merge,
            &json!({"metadata": {"namespace": "kube-system"}}),
        )
        .await;
    assert_status(&moved, 400, "BadRequest");
    let json_patch = h
        .patch(
            path,
            "application/json-patch+json",
            &json!([{"op": "replace", "path": "/metadata/name", "value": "x"}]),
        )
        .await;
    assert_status(&json_patch, 400, "BadRequest");
    let uid = h
        .patch(path, merge, &json!({"metadata": {"uid": "forged"}}))
        .await;
    assert_status(&uid, 422, "Invalid");
    assert_eq!(uid.body["details"]["causes"][0]["field"], "metadata.uid");
    assert!(
        uid.body["message"]
            .as_str()
            .is_some_and(|m| m.ends_with("field is immutable")),
        "{}",
        uid.body
    );
    // PUT answers the same.
    let mut put = created.body.clone();
    put["metadata"]["uid"] = json!("forged");
    assert_status(&h.put(path, &put).await, 422, "Invalid");
    // Unchanged identity fields are fine.
    let same = h
        .patch(
            path,
            merge,
            &json!({"metadata": {"name": "id", "namespace": "default", "uid": created.body["metadata"]["uid"], "labels": {"a": "b"}}}),
        )
        .await;
    assert_eq!(same.code, StatusCode::OK, "{}", same.body);
    assert_eq!(
        h.get(path).await.body["metadata"]["uid"],
        created.body["metadata"]["uid"]
    );
}

#[tokio::test]
async fn list_and_watch_should_refuse_invalid_query_values() {
    let h = Harness::start().await;
    for q in [
        "resourceVersion=abc",
        "resourceVersion=-1",
        "resourceVersionMatch=Newest&resourceVersion=1",
        "resourceVersionMatch=NotOlderThan",
        "resourceVersionMatch=Exact&resourceVersion=0",
        "watch=yes",
        "watch=true&resourceVersionMatch=NotOlderThan&resourceVersion=1",
        "watch=true&sendInitialEvents=true",
        "watch=true&resourceVersion=abc",
    ] {
        let a = h.get(&format!("/api/v1/namespaces/default/pods?{q}")).await;
        assert_status(&a, 400, "BadRequest");
    }
    for q in [
        "resourceVersion=0",
        "resourceVersion=1&resourceVersionMatch=NotOlderThan",
        "watch=false",
        "watch=0",
    ] {
        let a = h.get(&format!("/api/v1/namespaces/default/pods?{q}")).await;
        assert_eq!(a.code, StatusCode::OK, "{q}: {}", a.body);
        assert_eq!(a.body["kind"], "PodList", "{q}");
    }
}

#[tokio::test]
async fn watch_from_a_future_revision_should_time_out_or_catch_up() {
    let h = Harness::start().await;
    let current = h.state.store.revision();
    let far = current + 1000;
    let started = std::time::Instant::now();
    let a = h
        .get(&format!(
            "/api/v1/namespaces/default/pods?watch=true&resourceVersion={far}"
        ))
        .await;
    assert_status(&a, 504, "Timeout");
    assert_eq!(
        a.body["message"],
        format!("Too large resource version: requested {far}, current {current}")
    );
    assert!(started.elapsed() >= crate::api::watch::TOO_LARGE_RV_WAIT);
    // One revision ahead, and a write arrives within the wait: the watch proceeds.
    let next = current + 1;
    let url = format!(
        "{}/api/v1/namespaces/default/pods?watch=true&resourceVersion={current}&timeoutSeconds=2",
        h.base
    );
    let ahead = format!(
        "{}/api/v1/namespaces/default/pods?watch=true&resourceVersion={next}&timeoutSeconds=2",
        h.base
    );
    let client = h.client.clone();
    let watcher = tokio::spawn(async move {
        let resp = client.get(ahead).send().await.expect("watch");
        (resp.status(), resp.text().await.expect("body"))
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let c = h
        .post("/api/v1/namespaces/default/pods", &pod("late", json!({})))
        .await;
    assert_eq!(c.code, StatusCode::CREATED, "{}", c.body);
    let (code, text) = watcher.await.expect("joined");
    assert_eq!(code, StatusCode::OK, "{text}");
    // Resuming after `next` (the create itself): nothing but the clean end.
    assert!(!text.contains("ERROR"), "{text}");
    let replay = h.client.get(url).send().await.expect("watch");
    let text = replay.text().await.expect("body");
    assert!(
        text.contains("\"ADDED\"") && text.contains("late"),
        "{text}"
    );
}

#[tokio::test]
async fn post_and_put_should_refuse_bodies_that_are_neither_json_nor_yaml() {
    let h = Harness::start().await;
    let pods = "/api/v1/namespaces/default/pods";
    let body = pod("m", json!({})).to_string();
    for ct in ["text/plain", "application/x-www-form-urlencoded"] {
        let a = h
            .send(Method::POST, pods, Some(ct), Some(body.clone()), None)
            .await;
        assert_status(&a, 415, "UnsupportedMediaType");
    }
    // No Content-Type: JSON, then YAML.
    let json_body = h
        .send(Method::POST, pods, None, Some(body.clone()), None)
        .await;
    assert_eq!(json_body.code, StatusCode::CREATED, "{}", json_body.body);
    let yaml = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: y\nspec:\n  containers:\n  - name: c1\n    image: nginx:1.27\n";
    let yaml_body = h
        .send(Method::POST, pods, None, Some(yaml.into()), None)
        .await;
    assert_eq!(yaml_body.code, StatusCode::CREATED, "{}", yaml_body.body);
    let put = h
        .send(
            Method::PUT,
            &format!("{pods}/m"),
            Some("text/plain"),
            Some(json_body.body.to_string()),
            None,
        )
        .await;
    assert_status(&put, 415, "UnsupportedMediaType");
    let put_yaml = h
        .send(
            Method::PUT,
            &format!("{pods}/m"),
            Some("application/yaml; charset=utf-8"),
            Some(json_body.body.to_string()),
            None,
        )
        .await;
    assert_eq!(put_yaml.code, StatusCode::OK, "{}", put_yaml.body);
}
