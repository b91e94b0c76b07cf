//! Durability: a SIGTERM restart keeps every object with its resourceVersion and never renames the
//! node; a SIGKILL in the middle of concurrent writes loses no acknowledged create.

use crate::support::{Server, list_rv, pod, rv};
use mock_k8::config::Identity;
use reqwest::StatusCode;
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn identity(server: &Server) -> Identity {
    let path = server.data_dir().join("identity.json");
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_slice(&bytes).expect("identity.json")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_should_keep_objects_revisions_and_node_name() {
    let mut server = Server::start_with(&["--api-only", "--node-name", "first-name"]).await;
    assert_eq!(identity(&server).node_name, "first-name");

    let mut paths = Vec::new();
    server
        .create(
            "/api/v1/namespaces",
            &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "keep"}}),
        )
        .await;
    paths.push("/api/v1/namespaces/keep".to_string());
    for i in 0..5 {
        server
            .create(
                "/api/v1/namespaces/keep/pods",
                &pod(&format!("p{i}"), &[("i", &i.to_string())], "nginx"),
            )
            .await;
        paths.push(format!("/api/v1/namespaces/keep/pods/p{i}"));
    }
    let svc = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
                     "spec": {"ports": [{"port": 80}], "selector": {"i": "1"}}});
    server
        .create("/api/v1/namespaces/keep/services", &svc)
        .await;
    paths.push("/api/v1/namespaces/keep/services/s".to_string());
    // An update and a delete, so that the restart replays more than creates.
    let (status, body) = server
        .patch(
            "/api/v1/namespaces/keep/pods/p0",
            "application/merge-patch+json",
            &json!({"metadata": {"labels": {"patched": "1"}}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = server.delete("/api/v1/namespaces/keep/pods/p4").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    paths.retain(|p| !p.ends_with("/p4"));

    let mut before = Vec::new();
    for p in &paths {
        let (status, body) = server.get(p).await;
        assert_eq!(status, StatusCode::OK, "GET {p}: {body}");
        before.push(body);
    }
    let (_, list) = server.get("/api/v1/pods").await;
    let list_rv_before = list_rv(&list);

    let status = server.stop().await;
    assert!(
        status.success(),
        "SIGTERM must end mock_k8 cleanly, got {status}; log:\n{}",
        server.log_tail(40)
    );

    server
        .restart(&["--api-only", "--node-name", "second-name"])
        .await;
    assert_eq!(
        identity(&server).node_name,
        "first-name",
        "a restart never renames the node"
    );
    for (p, old) in paths.iter().zip(&before) {
        let (status, now) = server.get(p).await;
        assert_eq!(status, StatusCode::OK, "after restart GET {p}: {now}");
        assert_eq!(
            &now, old,
            "{p} must come back identical (same resourceVersion, uid, fields)"
        );
    }
    let (status, body) = server.get("/api/v1/namespaces/keep/pods/p4").await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "a deleted pod stays deleted: {body}"
    );
    let (_, list) = server.get("/api/v1/pods").await;
    let list_rv_after = list_rv(&list);
    assert_eq!(
        list_rv_after, list_rv_before,
        "the cluster revision survives the restart"
    );
    let names: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["metadata"]["name"].as_str())
        .collect();
    assert_eq!(names, ["p0", "p1", "p2", "p3"], "{list}");

    // Writes after the restart continue the revision sequence.
    let created = server
        .create("/api/v1/namespaces/keep/pods", &pod("after", &[], "nginx"))
        .await;
    assert!(
        rv(&created) > list_rv_before,
        "revisions keep increasing across restarts: {created}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill9_should_lose_no_acknowledged_create() {
    const WRITERS: usize = 8;
    const WRITE_FOR: Duration = Duration::from_secs(3);
    const KILL_AFTER: Duration = Duration::from_millis(1500);

    let mut server = Server::start().await;
    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let unexpected: Arc<Mutex<Vec<String>>> = Arc::default();
    let url = server.url("/api/v1/namespaces/default/pods");
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let (acked, unexpected, url) = (acked.clone(), unexpected.clone(), url.clone());
        writers.push(tokio::spawn(async move {
            let http = reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap();
            let start = Instant::now();
            let mut n = 0u64;
            let mut errors = 0u32;
            while start.elapsed() < WRITE_FOR {
                let name = format!("w{w}-{n}");
                n += 1;
                match http
                    .post(&url)
                    .json(&pod(&name, &[("writer", &w.to_string())], "nginx"))
                    .send()
                    .await
                {
                    Ok(resp) if resp.status() == StatusCode::CREATED => {
                        acked.lock().unwrap().push(name)
                    }
                    Ok(resp) => unexpected
                        .lock()
                        .unwrap()
                        .push(format!("create {name}: {}", resp.status())),
                    // After the kill: connection refused / reset. Keep trying until WRITE_FOR ends.
                    Err(_) => {
                        errors += 1;
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
            }
            errors
        }));
    }
    tokio::time::sleep(KILL_AFTER).await;
    let acked_at_kill = acked.lock().unwrap().len();
    server.kill9();
    for w in writers {
        w.await.expect("writer task");
    }
    let acked = acked.lock().unwrap().clone();
    let unexpected = unexpected.lock().unwrap().clone();
    assert!(
        unexpected.is_empty(),
        "creates answered with neither 201 nor a dropped connection: {unexpected:?}"
    );
    assert!(
        acked_at_kill > 0,
        "no create was acknowledged in {KILL_AFTER:?}; log:\n{}",
        server.log_tail(40)
    );
    println!("kill9: {} creates acknowledged before SIGKILL", acked.len());

    server.restart(&["--api-only"]).await;
    let (status, list) = server.get("/api/v1/namespaces/default/pods").await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let stored: std::collections::HashSet<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["metadata"]["name"].as_str())
        .collect();
    let missing: Vec<&String> = acked
        .iter()
        .filter(|n| !stored.contains(n.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged creates lost after kill -9: {:?}",
        missing.len(),
        &missing[..missing.len().min(20)]
    );
    // And each one individually, by name.
    for name in &acked {
        let (status, body) = server
            .get(&format!("/api/v1/namespaces/default/pods/{name}"))
            .await;
        assert_eq!(
            status,
            StatusCode::OK,
            "acknowledged pod {name} lost: {body}"
        );
    }
}
