//! Watch streams: initial events, resume, selectors, bookmarks, timeouts, 410 and Table events.

use super::*;
use futures::StreamExt;
use futures::stream::BoxStream;

/// The events of one open watch.
pub(super) struct Events {
    stream: BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    buf: Vec<u8>,
}

impl Events {
    pub(super) async fn open(h: &Harness, path: &str, accept: &str) -> Events {
        let resp = h
            .client
            .get(format!("{}{path}", h.base))
            .header("Accept", accept)
            .send()
            .await
            .expect("watch");
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(resp.headers()["content-type"], "application/json");
        Events {
            stream: resp.bytes_stream().boxed(),
            buf: Vec::new(),
        }
    }

    /// The next event, or `None` when the stream ends or nothing arrives within 3 s.
    pub(super) async fn next(&mut self) -> Option<Value> {
        loop {
            if let Some(i) = self.buf.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=i).collect();
                return Some(serde_json::from_slice(&line).expect("each line is one JSON event"));
            }
            match tokio::time::timeout(Duration::from_secs(3), self.stream.next()).await {
                Ok(Some(Ok(chunk))) => self.buf.extend_from_slice(&chunk),
                _ => return None,
            }
        }
    }

    /// The next event that is not a BOOKMARK.
    pub(super) async fn next_change(&mut self) -> Option<Value> {
        loop {
            let e = self.next().await?;
            if e["type"] != "BOOKMARK" {
                return Some(e);
            }
        }
    }
}

fn kind_and_name(e: &Value) -> (String, String) {
    (
        e["type"].as_str().unwrap_or("").to_string(),
        e["object"]["metadata"]["name"]
            .as_str()
            .unwrap_or("")
            .to_string(),
    )
}

#[tokio::test]
async fn watch_should_replay_then_stream_and_resume() {
    let h = Harness::start().await;
    h.post("/api/v1/namespaces/default/pods", &pod("a", json!({})))
        .await;
    let mut w = Events::open(
        &h,
        "/api/v1/namespaces/default/pods?watch=true",
        "application/json",
    )
    .await;
    assert_eq!(
        kind_and_name(&w.next().await.expect("initial")),
        ("ADDED".into(), "a".into())
    );
    let b = h
        .post("/api/v1/namespaces/default/pods", &pod("b", json!({})))
        .await;
    assert_eq!(
        kind_and_name(&w.next().await.expect("created")),
        ("ADDED".into(), "b".into())
    );
    h.patch(
        "/api/v1/namespaces/default/pods/b",
        "application/merge-patch+json",
        &json!({"metadata": {"labels": {"x": "1"}}}),
    )
    .await;
    let m = w.next().await.expect("modified");
    assert_eq!(kind_and_name(&m), ("MODIFIED".into(), "b".into()));
    h.delete("/api/v1/namespaces/default/pods/a").await;
    assert_eq!(
        kind_and_name(&w.next().await.expect("deleted")),
        ("DELETED".into(), "a".into())
    );

    // Resume after b's creation: only the later changes.
    let mut r = Events::open(
        &h,
        &format!(
            "/api/v1/namespaces/default/pods?watch=1&resourceVersion={}",
            rv(&b.body)
        ),
        "application/json",
    )
    .await;
    assert_eq!(
        kind_and_name(&r.next().await.expect("modified")),
        ("MODIFIED".into(), "b".into())
    );
    assert_eq!(
        kind_and_name(&r.next().await.expect("deleted")),
        ("DELETED".into(), "a".into())
    );
    h.shutdown();
}

#[tokio::test]
async fn watch_should_apply_selectors_with_added_and_deleted_transitions() {
    let h = Harness::start().await;
    h.post(
        "/api/v1/namespaces/default/pods",
        &pod("web", json!({"app": "web"})),
    )
    .await;
    let list = h.get("/api/v1/pods?labelSelector=app%3Dweb").await;
    let mut w = Events::open(
        &h,
        &format!(
            "/api/v1/pods?labelSelector=app%3Dweb&watch=true&resourceVersion={}",
            rv(&list.body)
        ),
        "application/json",
    )
    .await;
    h.post(
        "/api/v1/namespaces/default/pods",
        &pod("db", json!({"app": "db"})),
    )
    .await;
    let merge = "application/merge-patch+json";
    h.patch(
        "/api/v1/namespaces/default/pods/web",
        merge,
        &json!({"metadata": {"labels": {"app": "off"}}}),
    )
    .await;
    assert_eq!(
        kind_and_name(&w.next().await.expect("stopped matching")),
        ("DELETED".into(), "web".into())
    );
    h.patch(
        "/api/v1/namespaces/default/pods/db",
        merge,
        &json!({"metadata": {"labels": {"app": "web"}}}),
    )
    .await;
    assert_eq!(
        kind_and_name(&w.next().await.expect("started matching")),
        ("ADDED".into(), "db".into())
    );

    // Single-object watch with resourceVersion=0 starts with the current state.
    let mut one = Events::open(&h, "/api/v1/namespaces/default/pods?fieldSelector=metadata.name%3Ddb&resourceVersion=0&watch=true", "application/json").await;
    assert_eq!(
        kind_and_name(&one.next().await.expect("initial")),
        ("ADDED".into(), "db".into())
    );
    h.patch(
        "/api/v1/namespaces/default/pods/web",
        merge,
        &json!({"metadata": {"labels": {"other": "x"}}}),
    )
    .await;
    h.patch(
        "/api/v1/namespaces/default/pods/db",
        merge,
        &json!({"metadata": {"labels": {"z": "1"}}}),
    )
    .await;
    assert_eq!(
        kind_and_name(&one.next().await.expect("db only")),
        ("MODIFIED".into(), "db".into())
    );
    h.shutdown();
}

#[tokio::test]
async fn watch_should_send_bookmarks_and_end_on_timeout() {
    let h = Harness::start().await;
    let rev = rv(&h.get("/api/v1/namespaces/default/pods").await.body);
    let mut w = Events::open(&h, &format!("/api/v1/namespaces/default/pods?allowWatchBookmarks=true&resourceVersion={rev}&timeoutSeconds=1&watch=true"), "application/json").await;
    let b = w.next().await.expect("bookmark");
    assert_eq!(
        (b["type"].clone(), b["object"]["kind"].clone()),
        (json!("BOOKMARK"), json!("Pod"))
    );
    assert_eq!(rv(&b["object"]), rev);
    let started = std::time::Instant::now();
    while w.next().await.is_some() {}
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "the stream ends after timeoutSeconds"
    );
    h.shutdown();
}

#[tokio::test]
async fn streaming_list_should_end_initial_events_with_a_bookmark() {
    let h = Harness::start().await;
    h.post("/api/v1/namespaces/default/pods", &pod("a", json!({})))
        .await;
    let path = "/api/v1/namespaces/default/pods?watch=true&sendInitialEvents=true&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan&resourceVersion=1";
    let mut w = Events::open(&h, path, "application/json").await;
    assert_eq!(
        kind_and_name(&w.next().await.expect("initial")),
        ("ADDED".into(), "a".into())
    );
    let end = w.next().await.expect("end bookmark");
    assert_eq!(end["type"], "BOOKMARK");
    assert_eq!(
        end["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"],
        "true"
    );
    h.shutdown();
}

#[tokio::test]
async fn watch_past_the_history_should_get_410_expired() {
    let h = Harness::start_with(5, ApiOptions::default()).await;
    for i in 0..20 {
        h.post(
            "/api/v1/namespaces/default/pods",
            &pod(&format!("p{i}"), json!({})),
        )
        .await;
    }
    let mut w = Events::open(
        &h,
        "/api/v1/namespaces/default/pods?watch=true&resourceVersion=1",
        "application/json",
    )
    .await;
    let e = w.next().await.expect("error event");
    assert_eq!(
        (
            e["type"].clone(),
            e["object"]["code"].clone(),
            e["object"]["reason"].clone()
        ),
        (json!("ERROR"), json!(410), json!("Expired"))
    );
    assert!(w.next().await.is_none(), "the stream ends after the error");
    h.shutdown();
}

#[tokio::test]
async fn watch_with_table_accept_should_send_one_row_tables() {
    let h = Harness::start().await;
    h.post("/api/v1/namespaces/default/pods", &pod("a", json!({})))
        .await;
    let list = h
        .send(
            Method::GET,
            "/api/v1/namespaces/default/pods?limit=500",
            None,
            None,
            Some(TABLE_ACCEPT),
        )
        .await;
    let mut w = Events::open(
        &h,
        &format!(
            "/api/v1/namespaces/default/pods?resourceVersion={}&watch=true",
            rv(&list.body)
        ),
        TABLE_ACCEPT,
    )
    .await;
    h.post("/api/v1/namespaces/default/pods", &pod("b", json!({})))
        .await;
    h.delete("/api/v1/namespaces/default/pods/b").await;
    let added = w.next_change().await.expect("added");
    assert_eq!(
        (added["type"].clone(), added["object"]["kind"].clone()),
        (json!("ADDED"), json!("Table"))
    );
    assert_eq!(added["object"]["rows"][0]["cells"][0], "b");
    assert_eq!(
        added["object"]["rows"][0]["object"]["metadata"]["name"],
        "b"
    );
    let deleted = w.next_change().await.expect("deleted");
    assert_eq!(
        (
            deleted["type"].clone(),
            deleted["object"]["columnDefinitions"].clone()
        ),
        (json!("DELETED"), Value::Null)
    );
    h.shutdown();
}

#[tokio::test]
async fn shutdown_should_end_open_watches() {
    let h = Harness::start().await;
    let mut w = Events::open(
        &h,
        "/api/v1/namespaces/default/pods?watch=true",
        "application/json",
    )
    .await;
    h.shutdown();
    assert!(w.next().await.is_none());
}

#[tokio::test]
async fn exact_list_should_be_served_at_the_current_revision_only() {
    let h = Harness::start().await;
    for i in 0..3 {
        h.post(
            "/api/v1/namespaces/default/pods",
            &pod(&format!("p{i}"), json!({})),
        )
        .await;
    }
    let now = h.get("/api/v1/namespaces/default/pods").await;
    let rv = now.body["metadata"]["resourceVersion"]
        .as_str()
        .expect("list resourceVersion")
        .to_string();
    let base = "/api/v1/namespaces/default/pods?resourceVersionMatch=Exact&resourceVersion=";
    let current = h.get(&format!("{base}{rv}")).await;
    assert_eq!(current.code, StatusCode::OK, "{}", current.body);
    assert_eq!(current.body["metadata"]["resourceVersion"], json!(rv));
    assert_eq!(current.body["items"].as_array().map(Vec::len), Some(3));
    let old = h.get(&format!("{base}2")).await;
    assert_eq!(
        (old.code, old.body["reason"].clone()),
        (StatusCode::GONE, json!("Expired")),
        "{}",
        old.body
    );
    let bad = h.get(&format!("{base}abc")).await;
    assert_eq!(bad.code, StatusCode::BAD_REQUEST, "{}", bad.body);
    h.shutdown();
}
