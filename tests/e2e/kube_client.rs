//! The `kube` crate as a real Rust client: list, create, get, replace (and a stale replace → 409),
//! patch (merge and JSON), delete, and watches (raw `Api::watch` and `kube::runtime::watcher`).

use crate::support::Server;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{
    Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams,
};
use kube::runtime::watcher;
use serde_json::json;
use std::time::Duration;
use tokio::sync::mpsc;

const EVENT_TIMEOUT: Duration = Duration::from_secs(20);

fn client(server: &Server) -> kube::Client {
    let url = server.base().parse().expect("server URL");
    kube::Client::try_from(kube::Config::new(url)).expect("kube client")
}

fn pod(name: &str) -> Pod {
    serde_json::from_value(crate::support::pod(name, &[("app", "kube")], "nginx:1.27"))
        .expect("pod")
}

fn api_code(err: &kube::Error) -> Option<(u16, String)> {
    match err {
        kube::Error::Api(status) => Some((status.code, status.reason.clone())),
        _ => None,
    }
}

/// Receives the next (type, pod name) from a collected watch, or panics after [`EVENT_TIMEOUT`].
async fn next_event(
    rx: &mut mpsc::UnboundedReceiver<(String, String)>,
    what: &str,
) -> (String, String) {
    match tokio::time::timeout(EVENT_TIMEOUT, rx.recv()).await {
        Ok(Some(ev)) => ev,
        Ok(None) => panic!("watch ended before {what}"),
        Err(_) => panic!("no watch event ({what}) within {EVENT_TIMEOUT:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_client_should_crud_and_watch_pods() {
    let server = Server::start().await;
    let pods: Api<Pod> = Api::namespaced(client(&server), "default");

    let list = pods.list(&ListParams::default()).await.expect("list");
    assert!(list.items.is_empty(), "fresh server has no pods");
    let list_rv = list
        .metadata
        .resource_version
        .clone()
        .expect("a list carries metadata.resourceVersion");

    // A raw watch from the list's revision sees every change after it, in order.
    let mut stream = pods
        .watch(&WatchParams::default().timeout(60), &list_rv)
        .await
        .expect("watch")
        .boxed();
    let (tx, mut raw) = mpsc::unbounded_channel();
    let raw_task = tokio::spawn(async move {
        while let Some(ev) = stream.next().await {
            let item = match ev {
                Ok(WatchEvent::Added(p)) => {
                    ("ADDED".to_string(), p.metadata.name.unwrap_or_default())
                }
                Ok(WatchEvent::Modified(p)) => {
                    ("MODIFIED".to_string(), p.metadata.name.unwrap_or_default())
                }
                Ok(WatchEvent::Deleted(p)) => {
                    ("DELETED".to_string(), p.metadata.name.unwrap_or_default())
                }
                Ok(WatchEvent::Bookmark(_)) => continue,
                Ok(WatchEvent::Error(s)) => ("ERROR".to_string(), format!("{s:?}")),
                Err(e) => ("ERROR".to_string(), e.to_string()),
            };
            if tx.send(item).is_err() {
                break;
            }
        }
    });

    // kube::runtime::watcher (list + watch, with bookmarks) sees the same pod come and go.
    let (wtx, mut rt) = mpsc::unbounded_channel();
    let rt_task = tokio::spawn({
        let pods = pods.clone();
        async move {
            let mut s = watcher(pods, watcher::Config::default()).boxed();
            while let Ok(Some(ev)) = s.try_next().await {
                let item = match ev {
                    watcher::Event::Apply(p) => {
                        ("APPLY".to_string(), p.metadata.name.unwrap_or_default())
                    }
                    watcher::Event::Delete(p) => {
                        ("DELETE".to_string(), p.metadata.name.unwrap_or_default())
                    }
                    watcher::Event::InitDone => ("INITDONE".to_string(), String::new()),
                    watcher::Event::Init | watcher::Event::InitApply(_) => continue,
                };
                if wtx.send(item).is_err() {
                    break;
                }
            }
        }
    });
    assert_eq!(next_event(&mut rt, "watcher InitDone").await.0, "INITDONE");

    // create, get
    let created = pods
        .create(&PostParams::default(), &pod("kube-a"))
        .await
        .expect("create");
    let uid = created.metadata.uid.clone().expect("uid");
    let rv1 = created
        .metadata
        .resource_version
        .clone()
        .expect("resourceVersion");
    let got = pods.get("kube-a").await.expect("get");
    assert_eq!(got.metadata.uid.as_deref(), Some(uid.as_str()));
    assert_eq!(got.metadata.resource_version.as_deref(), Some(rv1.as_str()));
    let err = pods
        .create(&PostParams::default(), &pod("kube-a"))
        .await
        .expect_err("duplicate create");
    assert_eq!(api_code(&err), Some((409, "AlreadyExists".into())), "{err}");

    // replace, then a replace carrying the stale resourceVersion → 409 Conflict
    let mut changed = got.clone();
    changed
        .metadata
        .labels
        .get_or_insert_default()
        .insert("stage".into(), "replaced".into());
    let replaced = pods
        .replace("kube-a", &PostParams::default(), &changed)
        .await
        .expect("replace");
    let rv2 = replaced.metadata.resource_version.clone().expect("rv");
    assert!(
        rv2.parse::<u64>().unwrap() > rv1.parse::<u64>().unwrap(),
        "replace bumps: {rv1} -> {rv2}"
    );
    assert_eq!(
        replaced.metadata.labels.as_ref().unwrap()["stage"],
        "replaced"
    );
    let err = pods
        .replace("kube-a", &PostParams::default(), &changed)
        .await
        .expect_err("stale replace");
    assert_eq!(api_code(&err), Some((409, "Conflict".into())), "{err}");

    // patch: JSON merge patch, then JSON patch
    let merged = pods
        .patch(
            "kube-a",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"merged": "yes"}}})),
        )
        .await
        .expect("merge patch");
    let labels = merged.metadata.labels.clone().unwrap_or_default();
    assert_eq!(labels.get("merged").map(String::as_str), Some("yes"));
    assert_eq!(
        labels.get("stage").map(String::as_str),
        Some("replaced"),
        "merge keeps other labels"
    );
    let ops = serde_json::from_value(json!([
        {"op": "replace", "path": "/spec/containers/0/image", "value": "nginx:1.28"},
        {"op": "remove", "path": "/metadata/labels/merged"}
    ]))
    .expect("json patch");
    let patched = pods
        .patch("kube-a", &PatchParams::default(), &Patch::<()>::Json(ops))
        .await
        .expect("json patch");
    assert_eq!(
        patched.spec.as_ref().unwrap().containers[0]
            .image
            .as_deref(),
        Some("nginx:1.28")
    );
    assert!(
        !patched
            .metadata
            .labels
            .clone()
            .unwrap_or_default()
            .contains_key("merged")
    );
    // A bad JSON patch is rejected (422) and changes nothing.
    let bad =
        serde_json::from_value(json!([{"op": "remove", "path": "/spec/doesNotExist"}])).unwrap();
    let err = pods
        .patch("kube-a", &PatchParams::default(), &Patch::<()>::Json(bad))
        .await
        .expect_err("bad patch");
    assert!(matches!(api_code(&err), Some((422 | 400, _))), "{err}");
    let unchanged = pods.get("kube-a").await.expect("get");
    assert_eq!(
        unchanged.metadata.resource_version,
        patched.metadata.resource_version
    );

    // delete → 404 afterwards
    pods.delete("kube-a", &DeleteParams::default())
        .await
        .expect("delete");
    let err = pods.get("kube-a").await.expect_err("get after delete");
    assert_eq!(api_code(&err), Some((404, "NotFound".into())), "{err}");
    let err = pods
        .delete("kube-a", &DeleteParams::default())
        .await
        .expect_err("second delete");
    assert_eq!(api_code(&err), Some((404, "NotFound".into())), "{err}");

    // The raw watch saw exactly: ADDED, MODIFIED (replace), MODIFIED (merge), MODIFIED (json), DELETED.
    let expected = ["ADDED", "MODIFIED", "MODIFIED", "MODIFIED", "DELETED"];
    for (i, want) in expected.iter().enumerate() {
        let (ty, name) = next_event(&mut raw, want).await;
        assert_eq!(
            (ty.as_str(), name.as_str()),
            (*want, "kube-a"),
            "raw watch event #{i}"
        );
    }
    // The runtime watcher saw the pod applied (possibly coalesced) and then deleted.
    assert_eq!(
        next_event(&mut rt, "watcher Apply").await,
        ("APPLY".to_string(), "kube-a".to_string())
    );
    loop {
        let (ty, name) = next_event(&mut rt, "watcher Delete").await;
        assert_eq!(name, "kube-a");
        if ty == "DELETE" {
            break;
        }
        assert_eq!(ty, "APPLY");
    }
    raw_task.abort();
    rt_task.abort();
}
