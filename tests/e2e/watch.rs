//! Watch semantics over plain HTTP: resume by resourceVersion, `resourceVersion=0`, selectors,
//! 410 Expired past the history window, bookmarks, and `timeoutSeconds`.

use crate::support::{Server, list_rv, pod, rv};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const EVENT: Duration = Duration::from_secs(10);
const PODS: &str = "/api/v1/namespaces/default/pods";

fn summary(ev: &Value) -> (String, String) {
    (
        ev["type"].as_str().unwrap_or("?").to_string(),
        ev["object"]["metadata"]["name"]
            .as_str()
            .unwrap_or("")
            .to_string(),
    )
}

fn pair(t: &str, n: &str) -> (String, String) {
    (t.to_string(), n.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_should_resume_filter_and_time_out() {
    let server = Server::start().await;
    let a = server
        .create(PODS, &pod("a", &[("app", "web")], "nginx"))
        .await;
    let b = server
        .create(PODS, &pod("b", &[("app", "web")], "nginx"))
        .await;
    let c = server
        .create(PODS, &pod("c", &[("app", "db")], "nginx"))
        .await;
    assert!(
        rv(&a) < rv(&b) && rv(&b) < rv(&c),
        "revisions strictly increase"
    );

    // Resume from a's revision: b and c, then live changes, in revision order.
    let mut w = server
        .watch(&format!("{PODS}?watch=true&resourceVersion={}", rv(&a)))
        .await;
    assert_eq!(w.status, StatusCode::OK);
    let mut labelled = server
        .watch(&format!(
            "{PODS}?watch=1&labelSelector=app%3Dweb&resourceVersion={}",
            rv(&c)
        ))
        .await;
    let mut by_name = server
        .watch(&format!(
            "{PODS}?watch=true&fieldSelector=metadata.name%3Da&resourceVersion={}",
            rv(&c)
        ))
        .await;
    let mut all_ns = server
        .watch(&format!(
            "/api/v1/pods?watch=true&resourceVersion={}",
            rv(&c)
        ))
        .await;

    let e1 = w.next_within(EVENT).await.expect("event");
    let e2 = w.next_within(EVENT).await.expect("event");
    assert_eq!(
        (summary(&e1), summary(&e2)),
        (pair("ADDED", "b"), pair("ADDED", "c"))
    );
    assert_eq!(rv(&e1["object"]), rv(&b));
    assert_eq!(rv(&e2["object"]), rv(&c));

    let (status, a2) = server
        .patch(
            &format!("{PODS}/a"),
            "application/merge-patch+json",
            &json!({"metadata": {"labels": {"app": "api"}}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{a2}");
    // A no-op patch bumps nothing and emits nothing.
    let (status, same) = server
        .patch(
            &format!("{PODS}/a"),
            "application/merge-patch+json",
            &json!({"metadata": {"labels": {"app": "api"}}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{same}");
    assert_eq!(
        rv(&same),
        rv(&a2),
        "a no-op patch must not bump resourceVersion"
    );
    let (status, body) = server.delete(&format!("{PODS}/b")).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let e3 = w.next_within(EVENT).await.expect("event");
    assert_eq!(summary(&e3), pair("MODIFIED", "a"));
    assert_eq!(e3["object"]["metadata"]["labels"]["app"], "api");
    assert_eq!(rv(&e3["object"]), rv(&a2));
    let e4 = w.next_within(EVENT).await.expect("event");
    assert_eq!(
        summary(&e4),
        pair("DELETED", "b"),
        "the no-op patch must emit no event"
    );
    assert!(rv(&e4["object"]) > rv(&a2));

    // labelSelector app=web: a stopped matching (DELETED for this watch), then b was deleted.
    let l1 = labelled.next_within(EVENT).await.expect("event");
    assert_eq!(
        summary(&l1),
        pair("DELETED", "a"),
        "an object that stops matching is DELETED for the watch"
    );
    let l2 = labelled.next_within(EVENT).await.expect("event");
    assert_eq!(summary(&l2), pair("DELETED", "b"));
    // fieldSelector metadata.name=a: only a's change.
    assert_eq!(
        summary(&by_name.next_within(EVENT).await.expect("event")),
        pair("MODIFIED", "a")
    );
    // All namespaces.
    assert_eq!(
        summary(&all_ns.next_within(EVENT).await.expect("event")),
        pair("MODIFIED", "a")
    );
    assert_eq!(
        summary(&all_ns.next_within(EVENT).await.expect("event")),
        pair("DELETED", "b")
    );
    assert!(
        by_name
            .try_next_within(Duration::from_millis(300))
            .await
            .is_err(),
        "nothing else for name=a"
    );

    // resourceVersion=0: synthetic ADDED for every existing object first, then live events.
    let mut from_zero = server
        .watch(&format!("{PODS}?watch=true&resourceVersion=0"))
        .await;
    let mut initial = vec![
        summary(&from_zero.next_within(EVENT).await.expect("event")),
        summary(&from_zero.next_within(EVENT).await.expect("event")),
    ];
    initial.sort();
    assert_eq!(initial, [pair("ADDED", "a"), pair("ADDED", "c")]);
    server.create(PODS, &pod("d", &[], "nginx")).await;
    assert_eq!(
        summary(&from_zero.next_within(EVENT).await.expect("event")),
        pair("ADDED", "d")
    );

    // timeoutSeconds=1 ends the stream.
    let started = Instant::now();
    let (_, list) = server.get(PODS).await;
    let mut short = server
        .watch(&format!(
            "{PODS}?watch=true&timeoutSeconds=1&resourceVersion={}",
            list_rv(&list)
        ))
        .await;
    assert_eq!(short.status, StatusCode::OK);
    let end = short.try_next_within(Duration::from_secs(10)).await;
    assert!(
        matches!(end, Ok(None)),
        "timeoutSeconds=1 must end the stream without events, got {end:?}"
    );
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(800) && took < Duration::from_secs(6),
        "stream ended after {took:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_should_answer_410_expired_past_the_history_window() {
    let server = Server::start_with(&["--api-only", "--watch-history", "5"]).await;
    let mut rvs = Vec::new();
    for i in 0..20 {
        rvs.push(rv(&server
            .create(PODS, &pod(&format!("h{i}"), &[], "nginx"))
            .await));
    }
    let mut w = server
        .watch(&format!("{PODS}?watch=true&resourceVersion={}", rvs[0]))
        .await;
    assert_eq!(
        w.status,
        StatusCode::OK,
        "an expired watch is a 200 stream carrying one ERROR event"
    );
    let ev = w.next_within(EVENT).await.expect("an ERROR event");
    assert_eq!(ev["type"], "ERROR", "{ev}");
    assert_eq!(ev["object"]["kind"], "Status", "{ev}");
    assert_eq!(ev["object"]["code"], 410, "{ev}");
    assert_eq!(ev["object"]["reason"], "Expired", "{ev}");
    let end = w.try_next_within(Duration::from_secs(5)).await;
    assert!(
        matches!(end, Ok(None)),
        "the stream ends after the ERROR event, got {end:?}"
    );

    // A resume point inside the window still works.
    let mut recent = server
        .watch(&format!("{PODS}?watch=true&resourceVersion={}", rvs[17]))
        .await;
    assert_eq!(
        summary(&recent.next_within(EVENT).await.expect("event")),
        pair("ADDED", "h18")
    );
    assert_eq!(
        summary(&recent.next_within(EVENT).await.expect("event")),
        pair("ADDED", "h19")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_should_send_bookmarks_only_when_allowed() {
    let server = Server::start().await;
    let created = server.create(PODS, &pod("bm", &[], "nginx")).await;
    let current = rv(&created);

    let mut with = server
        .watch(&format!(
            "{PODS}?watch=true&allowWatchBookmarks=true&timeoutSeconds=15&resourceVersion={current}"
        ))
        .await;
    let mut without = server
        .watch(&format!(
            "{PODS}?watch=true&timeoutSeconds=15&resourceVersion={current}"
        ))
        .await;

    let mut bookmarks = Vec::new();
    while let Some(ev) = with.next_within(Duration::from_secs(25)).await {
        assert_eq!(
            ev["type"], "BOOKMARK",
            "no change happened, so only bookmarks: {ev}"
        );
        bookmarks.push(ev);
    }
    assert!(
        !bookmarks.is_empty(),
        "allowWatchBookmarks=true with timeoutSeconds=15 must get a BOOKMARK before the end"
    );
    for bm in &bookmarks {
        assert_eq!(
            bm["object"]["kind"], "Pod",
            "a bookmark carries the watched kind: {bm}"
        );
        assert!(
            rv(&bm["object"]) >= current,
            "a bookmark's resourceVersion is current: {bm}"
        );
    }
    let unexpected = without.next_within(Duration::from_secs(25)).await;
    assert!(
        unexpected.is_none(),
        "without allowWatchBookmarks nothing may arrive here: {unexpected:?}"
    );
}
