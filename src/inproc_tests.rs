//! The same scenarios over both clients: in-process ([`RouterTransport`]) and HTTP
//! ([`HyperTransport`] against the router served on `127.0.0.1:0`), each on a real store in a
//! temporary directory.

use super::*;
use crate::api::{ApiOptions, ApiState, crud, router};
use crate::store::{Store, StoreConfig};
use futures::StreamExt;
use mock_k8_controllers::client::{DeleteParams, HyperTransport, ListParams, WatchParams, binding};
use mock_k8_controllers::reflector;
use mock_k8_controllers::watcher::{self, Event};
use mock_k8_schemas::ApiResource;
use mock_k8_schemas::watch::EventType;
use serde_json::{Value, json};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// A store, the router over it served on a real listener, and both clients.
struct Cluster {
    _dir: tempfile::TempDir,
    state: ApiState,
    clients: Vec<(&'static str, Arc<dyn Client>)>,
}

impl Cluster {
    async fn start(watch_history: usize) -> Cluster {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(StoreConfig {
            member_key: None,
            dir: dir.path().join("raft"),
            node_id: 1,
            advertise_addr: "127.0.0.1:0".into(),
            watch_history,
            max_batch: 64,
            rpc_key: String::new(),
            bootstrap: true,
            raft: Default::default(),
        })
        .await
        .expect("store opens");
        let options = ApiOptions {
            bookmark_interval: Duration::from_millis(100),
            ..ApiOptions::default()
        };
        let state = ApiState::new(store, options, CancellationToken::new());
        for ns in crate::server::SYSTEM_NAMESPACES {
            crud::ensure_namespace(&state, ns).await.expect("namespace");
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let app = router(state.clone());
        let token = state.shutdown.clone();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move { token.cancelled().await })
                .await;
        });
        let http = HyperTransport::new(&format!("http://{addr}"))
            .expect("url")
            .with_timeout(Duration::from_secs(5));
        Cluster {
            _dir: dir,
            clients: vec![
                ("in-process", in_process_client(router(state.clone()))),
                ("http", Arc::new(RestClient::new(http))),
            ],
            state,
        }
    }

    async fn stop(self) {
        self.state.shutdown.cancel();
        self.state.store.shutdown().await;
    }
}

fn res(api_version: &str, kind: &str) -> &'static ApiResource {
    mock_k8_schemas::resource::by_kind(api_version, kind).expect("served")
}

fn leases() -> &'static ApiResource {
    res("coordination.k8s.io/v1", "Lease")
}

fn lease(name: &str, app: &str) -> Value {
    json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
           "metadata": {"name": name, "labels": {"app": app}}, "spec": {"holderIdentity": "v"}})
}

fn name_of(v: &Value) -> &str {
    v["metadata"]["name"].as_str().unwrap_or("")
}

/// The next non-bookmark event of `s`, within 5 s.
async fn next_change(s: &mut mock_k8_controllers::client::WatchStream) -> (EventType, Value) {
    loop {
        let item = tokio::time::timeout(Duration::from_secs(5), s.next())
            .await
            .expect("an event within 5 s")
            .expect("stream open")
            .expect("no error");
        if item.event_type != EventType::Bookmark {
            return (item.event_type, item.object);
        }
    }
}

#[tokio::test]
async fn clients_should_have_kubernetes_crud_semantics() {
    let c = Cluster::start(1000).await;
    let leases_r = leases();
    for (label, client) in &c.clients {
        let ns = Some("default");
        let a = format!("{label}-a");
        let made = client
            .create(leases_r, ns, lease(&a, "web"))
            .await
            .expect("create");
        assert!(made["metadata"]["uid"].is_string(), "{label}");
        client
            .create(leases_r, ns, lease(&format!("{label}-b"), "db"))
            .await
            .expect("create b");
        let dup = client.create(leases_r, ns, lease(&a, "web")).await;
        assert!(dup.expect_err("dup").is_already_exists(), "{label}");

        let got = client.get(leases_r, ns, &a).await.expect("get");
        assert_eq!(got["spec"]["holderIdentity"], "v");
        let params = ListParams {
            label_selector: Some("app=web".into()),
            field_selector: None,
        };
        let list = client.list(leases_r, ns, &params).await.expect("list");
        let names: Vec<&str> = list.items.iter().map(name_of).collect();
        assert!(names.contains(&a.as_str()) && names.iter().all(|n| !n.ends_with("-b")));
        assert!(list.resource_version.parse::<u64>().is_ok());

        // Replace with the current version succeeds; replaying the old one is a Conflict.
        let mut v1 = got.clone();
        v1["spec"]["holderIdentity"] = json!("v2");
        let replaced = client.replace(leases_r, ns, &a, v1).await.expect("replace");
        assert_eq!(replaced["spec"]["holderIdentity"], "v2");
        let mut stale = got.clone();
        stale["spec"]["holderIdentity"] = json!("v3");
        let err = client
            .replace(leases_r, ns, &a, stale)
            .await
            .expect_err("stale");
        assert!(err.is_conflict(), "{label}: {err}");

        let patched = client
            .patch(
                leases_r,
                ns,
                &a,
                None,
                json!({"metadata": {"labels": {"x": "1"}}}),
            )
            .await
            .expect("patch");
        assert_eq!(
            patched["metadata"]["labels"],
            json!({"app": "web", "x": "1"})
        );

        // Delete with a failing precondition, then for real; the object is then gone.
        let wrong = DeleteParams {
            precondition_uid: Some("not-the-uid".into()),
            ..DeleteParams::default()
        };
        let err = client
            .delete(leases_r, ns, &a, &wrong)
            .await
            .expect_err("pre");
        assert!(err.is_conflict(), "{label}: {err}");
        client
            .delete(leases_r, ns, &a, &DeleteParams::default())
            .await
            .expect("delete");
        let err = client.get(leases_r, ns, &a).await.expect_err("gone");
        assert!(err.is_not_found(), "{label}: {err}");
        assert_eq!(err.status().map(|s| s.reason.as_str()), Some("NotFound"));
        let err = client
            .get(leases_r, None, &a)
            .await
            .expect_err("no namespace");
        assert_eq!(err.status().map(|s| s.code), Some(400));
    }
    c.stop().await;
}

#[tokio::test]
async fn clients_should_bind_pods_and_write_status() {
    let c = Cluster::start(1000).await;
    let pods = res("v1", "Pod");
    // A binding must name an existing Node.
    let node = json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}});
    c.clients[0]
        .1
        .create(res("v1", "Node"), None, node)
        .await
        .expect("create node");
    for (label, client) in &c.clients {
        let name = format!("{label}-pod");
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
                         "spec": {"containers": [{"name": "c", "image": "nginx"}]}});
        client
            .create(pods, Some("default"), pod)
            .await
            .expect("create");
        client
            .create_subresource(
                pods,
                Some("default"),
                &name,
                "binding",
                binding("default", &name, "n1"),
            )
            .await
            .expect("bind");
        let status = json!({"status": {"phase": "Running"}});
        let p = client
            .patch(pods, Some("default"), &name, Some("status"), status)
            .await
            .expect("status patch");
        assert_eq!(p["spec"]["nodeName"], "n1", "{label}");
        assert_eq!(p["status"]["phase"], "Running", "{label}");
        let now = DeleteParams {
            grace_period_seconds: Some(0),
            ..DeleteParams::default()
        };
        client
            .delete(pods, Some("default"), &name, &now)
            .await
            .expect("delete");
        let err = client.get(pods, Some("default"), &name).await;
        assert!(err.expect_err("deleted").is_not_found(), "{label}");
    }
    c.stop().await;
}

#[tokio::test]
async fn clients_should_watch_changes_in_order() {
    let c = Cluster::start(1000).await;
    let leases_r = leases();
    let ns = Some("kube-public");
    for (label, client) in &c.clients {
        let rv = client
            .list(leases_r, ns, &ListParams::default())
            .await
            .expect("list")
            .resource_version;
        let params = WatchParams {
            resource_version: Some(rv),
            allow_bookmarks: true,
            timeout_seconds: Some(30),
            ..WatchParams::default()
        };
        let mut s = client.watch(leases_r, ns, &params);
        // A watch "from now" (no resourceVersion) replays nothing that already exists.
        let mut from_now = client.watch(leases_r, ns, &WatchParams::default());
        let quiet = tokio::time::timeout(Duration::from_millis(300), from_now.next()).await;
        assert!(
            quiet.is_err(),
            "{label}: nothing to replay, nothing new yet"
        );
        let name = format!("{label}-w");
        client
            .create(leases_r, ns, lease(&name, "w"))
            .await
            .expect("create");
        client
            .patch(
                leases_r,
                ns,
                &name,
                None,
                json!({"spec": {"holderIdentity": "v2"}}),
            )
            .await
            .expect("patch");
        client
            .delete(leases_r, ns, &name, &DeleteParams::default())
            .await
            .expect("delete");
        for expected in [EventType::Added, EventType::Modified, EventType::Deleted] {
            let (t, obj) = next_change(&mut s).await;
            assert_eq!((t, name_of(&obj)), (expected, name.as_str()), "{label}");
        }
        let (t, obj) = next_change(&mut from_now).await;
        assert_eq!(
            (t, name_of(&obj)),
            (EventType::Added, name.as_str()),
            "{label}"
        );
    }
    c.stop().await;
}

#[tokio::test]
async fn clients_should_report_expired_watches_and_the_watcher_should_relist() {
    let c = Cluster::start(3).await;
    let leases_r = leases();
    let ns = Some("default");
    for (label, client) in &c.clients {
        let old = client
            .list(leases_r, ns, &ListParams::default())
            .await
            .expect("list")
            .resource_version;
        // A watcher that has listed but not yet started its watch.
        let mut w = watcher::watcher(
            client.clone(),
            leases_r,
            watcher::Config::default().namespace("default").timeout(30),
        )
        .boxed();
        assert_eq!(w.next().await, Some(Ok(Event::Init)));
        while w.next().await != Some(Ok(Event::InitDone)) {}
        for i in 0..6 {
            let cm = lease(&format!("{label}-e{i}"), "e");
            client.create(leases_r, ns, cm).await.expect("create");
        }
        // A raw watch from the compacted version gets one ERROR event carrying 410 Expired.
        let params = WatchParams {
            resource_version: Some(old),
            ..WatchParams::default()
        };
        let first = client.watch(leases_r, ns, &params).next().await;
        let ev = first.expect("an item").expect("an ERROR event");
        assert_eq!(ev.event_type, EventType::Error, "{label}");
        let err = mock_k8_controllers::ClientError::from_status_json(&ev.object);
        assert!(err.is_expired(), "{label}: {err}");
        // The watcher hits the same 410 and re-lists at once, without surfacing an error.
        let next = tokio::time::timeout(Duration::from_secs(5), w.next()).await;
        assert_eq!(next.expect("in time"), Some(Ok(Event::Init)), "{label}");
        let mut names = Vec::new();
        loop {
            match w.next().await {
                Some(Ok(Event::InitApply(o))) => names.push(name_of(&o).to_string()),
                Some(Ok(Event::InitDone)) => break,
                other => panic!("{label}: unexpected {other:?}"),
            }
        }
        assert!(names.contains(&format!("{label}-e5")), "{label}: {names:?}");
    }
    c.stop().await;
}

#[tokio::test]
async fn reflector_should_become_ready_and_follow_changes_over_both_clients() {
    let c = Cluster::start(1000).await;
    let leases_r = leases();
    for (label, client) in &c.clients {
        client
            .create(
                leases_r,
                Some("kube-system"),
                lease(&format!("{label}-r"), "r"),
            )
            .await
            .expect("create");
        let (reader, writer) = reflector::store::<Value>();
        let cfg = watcher::Config::default().labels("app=r").timeout(30);
        let stream = reflector::reflector(writer, watcher::watcher(client.clone(), leases_r, cfg));
        let task = tokio::spawn(stream.for_each(|_| async {}));
        tokio::time::timeout(Duration::from_secs(5), reader.wait_until_ready())
            .await
            .expect("ready in time")
            .expect("writer alive");
        assert!(!reader.is_empty(), "{label}");
        let later = format!("{label}-r2");
        client
            .create(leases_r, Some("kube-system"), lease(&later, "r"))
            .await
            .expect("create later");
        let key = reflector::ObjectRef::new(&later).within("kube-system");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while reader.get(&key).is_none() {
            assert!(tokio::time::Instant::now() < deadline, "{label}: not seen");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        task.abort();
    }
    c.stop().await;
}
