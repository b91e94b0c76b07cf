use super::*;
use futures::StreamExt;
use mock_k8_schemas::resource::by_kind;

fn pods() -> &'static ApiResource {
    by_kind("v1", "Pod").expect("pods served")
}

fn pod(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": {"containers": [{"name": "c", "image": "i"}]}})
}

#[tokio::test]
async fn fake_client_should_stamp_revisions_and_check_preconditions() {
    let c = FakeClient::new();
    let created = c
        .create(pods(), Some("default"), pod("a"))
        .await
        .expect("create");
    assert_eq!(meta::str_field(&created, "resourceVersion"), Some("1"));
    assert_eq!(meta::namespace(&created), "default");
    let mut stale = created.clone();
    c.patch(
        pods(),
        Some("default"),
        "a",
        None,
        json!({"metadata": {"labels": {"x": "1"}}}),
    )
    .await
    .expect("patch");
    stale["spec"]["nodeName"] = json!("n1");
    let err = c
        .replace(pods(), Some("default"), "a", stale)
        .await
        .expect_err("stale");
    assert!(err.is_conflict());
    let err = c
        .get(pods(), Some("default"), "zz")
        .await
        .expect_err("missing");
    assert!(err.is_not_found());
    let err = c
        .create(pods(), None, pod("b"))
        .await
        .expect_err("no namespace");
    assert_eq!(err.status().map(|s| s.code), Some(400));
}

#[tokio::test]
async fn fake_client_should_keep_status_apart_from_spec() {
    let c = FakeClient::new();
    c.create(pods(), Some("d"), pod("a")).await.expect("create");
    let p = c
        .patch(
            pods(),
            Some("d"),
            "a",
            Some("status"),
            json!({"status": {"phase": "Running"}}),
        )
        .await
        .expect("status");
    assert_eq!(p["status"]["phase"], "Running");
    assert_eq!(p["metadata"]["generation"], 1);
    let p = c
        .patch(
            pods(),
            Some("d"),
            "a",
            None,
            json!({"status": {"phase": "Failed"}, "spec": {"nodeName": "n"}}),
        )
        .await
        .expect("patch");
    assert_eq!(
        p["status"]["phase"], "Running",
        "status ignored on the main resource"
    );
    assert_eq!(
        p["metadata"]["generation"], 2,
        "spec change bumps generation"
    );
}

#[tokio::test]
async fn fake_client_should_bind_once_and_delete_bound_pods_gracefully() {
    let c = FakeClient::new();
    c.create(pods(), Some("d"), pod("a")).await.expect("create");
    c.create_subresource(
        pods(),
        Some("d"),
        "a",
        "binding",
        crate::client::binding("d", "a", "n1"),
    )
    .await
    .expect("bind");
    let err = c
        .create_subresource(
            pods(),
            Some("d"),
            "a",
            "binding",
            crate::client::binding("d", "a", "n2"),
        )
        .await
        .expect_err("rebind");
    assert!(err.is_conflict());
    let after = c
        .delete(pods(), Some("d"), "a", &DeleteParams::default())
        .await
        .expect("delete");
    assert!(meta::str_field(&after, "deletionTimestamp").is_some());
    assert_eq!(
        c.objects(pods()).len(),
        1,
        "graceful: kept until the node agent deletes with grace 0"
    );
    c.delete(
        pods(),
        Some("d"),
        "a",
        &DeleteParams {
            grace_period_seconds: Some(0),
            ..Default::default()
        },
    )
    .await
    .expect("force");
    assert!(c.objects(pods()).is_empty());
}

#[tokio::test(start_paused = true)]
async fn fake_client_should_replay_history_and_expire_compacted_versions() {
    let c = FakeClient::new();
    c.create(pods(), Some("d"), pod("a")).await.expect("create");
    c.create(pods(), Some("d"), pod("b")).await.expect("create");
    let params = WatchParams {
        resource_version: Some("1".into()),
        timeout_seconds: Some(1),
        ..Default::default()
    };
    let events: Vec<_> = c.watch(pods(), Some("d"), &params).collect().await;
    assert_eq!(events.len(), 1, "only the change after revision 1");
    assert_eq!(
        events[0]
            .as_ref()
            .map(|e| meta::name(&e.object).to_string())
            .ok(),
        Some("b".into())
    );
    c.compact();
    let events: Vec<_> = c.watch(pods(), None, &params).collect().await;
    let first = events[0].as_ref().expect("error event");
    assert_eq!(first.event_type, EventType::Error);
    assert!(ClientError::from_status_json(&first.object).is_expired());
}
