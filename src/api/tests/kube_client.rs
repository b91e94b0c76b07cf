//! The `kube` crate (a real Rust Kubernetes client) against the router: list, watch, create,
//! replace, patch (merge, strategic, apply), delete, with its strict typed decoding.

use super::*;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{
    Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams,
};

#[tokio::test]
async fn kube_client_should_drive_the_api() {
    let h = Harness::start().await;
    let config = kube::Config::new(h.base.parse().expect("url"));
    let client = kube::Client::try_from(config).expect("client");
    let pods: Api<Pod> = Api::namespaced(client, "default");

    let p: Pod = serde_json::from_value(pod("kube-a", json!({"app": "k"}))).expect("pod");
    let created = pods
        .create(&PostParams::default(), &p)
        .await
        .expect("create");
    assert!(created.metadata.uid.is_some());

    let list = pods
        .list(&ListParams::default().labels("app=k"))
        .await
        .expect("list");
    assert_eq!(list.items.len(), 1);
    let rv = list.metadata.resource_version.clone().expect("list rv");

    let mut stream = pods
        .watch(&WatchParams::default().timeout(5), &rv)
        .await
        .expect("watch")
        .boxed();

    let mut replaced = created.clone();
    replaced
        .metadata
        .labels
        .get_or_insert_with(Default::default)
        .insert("r".into(), "1".into());
    let replaced = pods
        .replace("kube-a", &PostParams::default(), &replaced)
        .await
        .expect("replace");
    let stale = pods
        .replace("kube-a", &PostParams::default(), &created)
        .await
        .expect_err("stale");
    assert!(
        matches!(stale, kube::Error::Api(ref s) if s.code == 409),
        "{stale:?}"
    );

    let merged = pods
        .patch(
            "kube-a",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"m": "1"}}})),
        )
        .await
        .expect("merge");
    let strategic = pods
        .patch(
            "kube-a",
            &PatchParams::default(),
            &Patch::Strategic(json!({"metadata": {"labels": {"s": "1"}}})),
        )
        .await
        .expect("strategic");
    assert!(strategic.metadata.resource_version > merged.metadata.resource_version);
    let applied = pods
        .patch(
            "kube-b",
            &PatchParams::apply("test").force(),
            &Patch::Apply(pod("kube-b", json!({}))),
        )
        .await
        .expect("apply creates");
    assert_eq!(applied.metadata.name.as_deref(), Some("kube-b"));

    let deleted = pods
        .delete("kube-a", &DeleteParams::default())
        .await
        .expect("delete");
    assert!(
        deleted
            .left()
            .is_some_and(|p| p.metadata.name.as_deref() == Some("kube-a"))
    );

    let mut seen = Vec::new();
    while let Some(ev) = stream.try_next().await.expect("event") {
        match ev {
            WatchEvent::Added(p) | WatchEvent::Modified(p) | WatchEvent::Deleted(p) => {
                seen.push(p.metadata.name.unwrap_or_default());
            }
            WatchEvent::Bookmark(_) => {}
            WatchEvent::Error(e) => panic!("watch error {e:?}"),
        }
        if seen.len() == 5 {
            break;
        }
    }
    // replace, merge, strategic (kube-a), the apply create (kube-b), the delete (kube-a).
    assert_eq!(seen, ["kube-a", "kube-a", "kube-a", "kube-b", "kube-a"]);
    assert_eq!(
        replaced
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get("r"))
            .map(String::as_str),
        Some("1")
    );
    h.shutdown();
}
