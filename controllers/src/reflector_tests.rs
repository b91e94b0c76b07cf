use super::*;
use crate::client::Client;
use crate::client::testing::FakeClient;
use crate::watcher::{Config, Event, watcher};
use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use mock_k8_schemas::resource::by_kind;
use serde_json::json;
use std::time::Duration;

fn pod(ns: &str, name: &str, app: &str, node: Option<&str>) -> Value {
    let mut p = json!({"metadata": {"name": name, "namespace": ns, "labels": {"app": app}}, "spec": {"containers": []}});
    if let Some(n) = node {
        p["spec"]["nodeName"] = json!(n);
    }
    p
}

#[test]
fn store_should_swap_relists_atomically_and_index() {
    let (reader, mut writer) = store::<Pod>();
    assert!(!reader.is_ready());
    writer.apply_watcher_event(&Event::Init);
    writer.apply_watcher_event(&Event::InitApply(pod("a", "p1", "web", Some("n1"))));
    writer.apply_watcher_event(&Event::InitApply(pod("a", "p2", "db", Some("n1"))));
    assert!(reader.is_empty(), "a list in progress is invisible");
    writer.apply_watcher_event(&Event::InitDone);
    assert!(reader.is_ready());
    writer.apply_watcher_event(&Event::Apply(pod("b", "p3", "web", None)));
    assert_eq!(reader.len(), 3);
    assert_eq!(reader.by_namespace("a").len(), 2);
    assert_eq!(reader.by_label("app", "web").len(), 2);
    assert_eq!(reader.by_node_name("n1").len(), 2);
    // p2 moves to n2 and changes label: the indexes follow.
    writer.apply_watcher_event(&Event::Apply(pod("a", "p2", "web", Some("n2"))));
    assert_eq!(reader.by_node_name("n1").len(), 1);
    assert_eq!(reader.by_label("app", "db").len(), 0);
    assert_eq!(reader.by_label("app", "web").len(), 3);
    let p2 = reader
        .get(&ObjectRef::new("p2").within("a"))
        .expect("cached");
    assert_eq!(
        p2.spec.as_ref().and_then(|s| s.node_name.as_deref()),
        Some("n2")
    );
    // A re-list without p1 and p3 (deleted while the watch was down): both vanish at InitDone.
    writer.apply_watcher_event(&Event::Init);
    writer.apply_watcher_event(&Event::InitApply(pod("a", "p2", "web", Some("n2"))));
    assert_eq!(reader.len(), 3, "old state readable during the re-list");
    writer.apply_watcher_event(&Event::InitDone);
    assert_eq!(reader.keys(), vec![ObjectRef::new("p2").within("a")]);
    assert!(reader.by_node_name("n1").is_empty());
    writer.apply_watcher_event(&Event::Delete(pod("a", "p2", "web", None)));
    assert!(reader.is_empty() && reader.by_namespace("a").is_empty());
}

#[tokio::test(start_paused = true)]
async fn reflector_should_signal_ready_after_the_first_list() {
    let fake = Arc::new(FakeClient::new());
    let pods = by_kind("v1", "Pod").expect("pods");
    fake.create(pods, Some("a"), pod("a", "p1", "web", Some("n1")))
        .await
        .expect("create");
    let (reader, writer) = store::<Value>();
    let stream = reflector(writer, watcher(fake.clone(), pods, Config::default()));
    let drain = tokio::spawn(stream.for_each(|_| async {}));
    tokio::time::timeout(Duration::from_secs(1), reader.wait_until_ready())
        .await
        .expect("ready in time")
        .expect("writer alive");
    assert_eq!(reader.len(), 1);
    assert_eq!(
        reader
            .resource_version(&ObjectRef::new("p1").within("a"))
            .as_deref(),
        Some("1")
    );
    fake.create(pods, Some("a"), pod("a", "p2", "web", None))
        .await
        .expect("create");
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert_eq!(reader.by_label("app", "web").len(), 2);
    drain.abort();
    let (never, w) = store::<Value>();
    drop(w);
    assert_eq!(never.wait_until_ready().await, Err(WriterDropped));
}

#[test]
fn object_ref_should_print_like_kubernetes_keys() {
    assert_eq!(ObjectRef::new("n1").to_string(), "n1");
    assert_eq!(
        ObjectRef::new("p").within("default").to_string(),
        "default/p"
    );
    assert_eq!(
        ObjectRef::from_value(&json!({"metadata": {"name": "x", "namespace": ""}})),
        ObjectRef::new("x")
    );
    let mut p = Pod::default();
    p.metadata.name = Some("w".into());
    p.metadata.namespace = Some("d".into());
    assert_eq!(ObjectRef::from_obj(&p), ObjectRef::new("w").within("d"));
    let _: &dyn Client = &FakeClient::new();
}
