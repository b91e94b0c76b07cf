use super::*;
use crate::client::testing::{FakeClient, Verb};
use mock_k8_schemas::resource::by_kind;
use serde_json::json;
use tokio::time::Instant;

fn pods() -> &'static ApiResource {
    by_kind("v1", "Pod").expect("pods served")
}

fn pod(name: &str) -> Value {
    json!({"metadata": {"name": name}, "spec": {}})
}

fn name_of(ev: &Event) -> String {
    ev.object()
        .map(|o| meta::name(o).to_string())
        .unwrap_or_default()
}

async fn next(s: &mut (impl Stream<Item = Result<Event, Error>> + Unpin)) -> Result<Event, Error> {
    s.next().await.expect("watcher streams never end")
}

#[tokio::test(start_paused = true)]
async fn watcher_should_list_then_watch() {
    let fake = Arc::new(FakeClient::new());
    fake.create(pods(), Some("d"), pod("a"))
        .await
        .expect("create");
    let mut w = Box::pin(watcher(fake.clone(), pods(), Config::default()));
    assert_eq!(next(&mut w).await, Ok(Event::Init));
    assert_eq!(name_of(&next(&mut w).await.expect("init apply")), "a");
    assert_eq!(next(&mut w).await, Ok(Event::InitDone));
    fake.create(pods(), Some("d"), pod("b"))
        .await
        .expect("create");
    let ev = next(&mut w).await.expect("apply");
    assert!(matches!(ev, Event::Apply(_)) && name_of(&ev) == "b");
    fake.delete(pods(), Some("d"), "a", &Default::default())
        .await
        .expect("delete");
    let ev = next(&mut w).await.expect("delete");
    assert!(matches!(ev, Event::Delete(_)) && name_of(&ev) == "a");
    assert_eq!(
        fake.watch_requests()[0].resource_version.as_deref(),
        Some("1"),
        "watch starts at the list's revision"
    );
}

#[tokio::test(start_paused = true)]
async fn watcher_should_resume_from_last_seen_version_and_bookmarks() {
    let fake = Arc::new(FakeClient::new());
    let nodes = by_kind("v1", "Node").expect("nodes");
    let mut w = Box::pin(watcher(fake.clone(), pods(), Config::default().timeout(10)));
    assert_eq!(next(&mut w).await, Ok(Event::Init));
    assert_eq!(next(&mut w).await, Ok(Event::InitDone));
    fake.create(pods(), Some("d"), pod("a"))
        .await
        .expect("create"); // rv 1
    next(&mut w).await.expect("apply a");
    fake.create(nodes, None, json!({"metadata": {"name": "n1"}}))
        .await
        .expect("node"); // rv 2, not a pod
    fake.send_bookmark(pods()); // carries rv 2
    // The watch times out after 10 s; the next one must start at the bookmark's revision.
    // Poll for 1 s: the bookmark is consumed, nothing is emitted.
    assert!(
        tokio::time::timeout(Duration::from_secs(1), next(&mut w))
            .await
            .is_err()
    );
    tokio::time::sleep(Duration::from_secs(10)).await;
    fake.create(pods(), Some("d"), pod("c"))
        .await
        .expect("create"); // rv 3 (second watch)
    assert_eq!(name_of(&next(&mut w).await.expect("apply c")), "c");
    let rvs: Vec<_> = fake
        .watch_requests()
        .into_iter()
        .map(|p| p.resource_version.unwrap_or_default())
        .collect();
    assert_eq!(rvs, vec!["0", "2"], "resumed from the bookmark, no relist");
    assert_eq!(fake.list_calls(), 1);
}

#[tokio::test(start_paused = true)]
async fn watcher_should_relist_once_on_410_and_back_off_on_a_second() {
    let fake = Arc::new(FakeClient::new());
    fake.create(pods(), Some("d"), pod("a"))
        .await
        .expect("create");
    fake.expire_next_watch();
    fake.expire_next_watch();
    let mut w = Box::pin(watcher(fake.clone(), pods(), Config::default()));
    for _ in 0..3 {
        next(&mut w).await.expect("init"); // Init, InitApply a, InitDone
    }
    // The first watch expires: re-listed at once, nothing reported.
    let start = Instant::now();
    assert_eq!(next(&mut w).await, Ok(Event::Init));
    assert_eq!(start.elapsed(), Duration::ZERO);
    assert_eq!(fake.list_calls(), 2);
    next(&mut w).await.expect("a");
    assert_eq!(next(&mut w).await, Ok(Event::InitDone));
    // The watch after that re-list expires too: reported, then a backoff before the next list.
    let err = next(&mut w)
        .await
        .expect_err("second consecutive 410 is reported");
    assert!(matches!(err, Error::WatchError(ref s) if s.code == 410));
    let before = Instant::now();
    assert_eq!(next(&mut w).await, Ok(Event::Init));
    assert!(
        before.elapsed() >= Duration::from_millis(400),
        "backed off (800 ms with jitter >= 400 ms)"
    );
    assert_eq!(fake.list_calls(), 3);
    next(&mut w).await.expect("a");
    assert_eq!(next(&mut w).await, Ok(Event::InitDone));
    // Events flow again, so a later 410 (after the 290 s watch timeout) re-lists at once again.
    fake.create(pods(), Some("d"), pod("b"))
        .await
        .expect("create");
    assert_eq!(name_of(&next(&mut w).await.expect("apply b")), "b");
    fake.expire_next_watch();
    let start = Instant::now();
    assert_eq!(next(&mut w).await, Ok(Event::Init));
    assert_eq!(
        start.elapsed(),
        Duration::from_secs(290),
        "watch timeout only, no backoff"
    );
    assert_eq!(fake.list_calls(), 4);
    let rvs: Vec<_> = fake
        .watch_requests()
        .into_iter()
        .map(|p| p.resource_version.unwrap_or_default())
        .collect();
    assert_eq!(
        rvs,
        vec!["1", "1", "1", "2"],
        "each watch starts at the list's or the last event's revision"
    );
}

#[tokio::test(start_paused = true)]
async fn watcher_should_back_off_exponentially_on_list_errors() {
    let fake = Arc::new(FakeClient::new());
    for _ in 0..3 {
        fake.fail_next(
            Verb::List,
            ClientError::Transport("connection refused".into()),
        );
    }
    let mut w = Box::pin(watcher(fake.clone(), pods(), Config::default()));
    let mut stamps = vec![Instant::now()];
    for _ in 0..3 {
        assert!(matches!(
            next(&mut w).await,
            Err(Error::InitialListFailed(_))
        ));
        stamps.push(Instant::now());
    }
    assert_eq!(next(&mut w).await, Ok(Event::Init));
    stamps.push(Instant::now());
    let gaps: Vec<Duration> = stamps.windows(2).map(|w| w[1] - w[0]).collect();
    // gaps[1..]: 800 ms, 1.6 s, 3.2 s bases, each jittered into [base/2, base].
    for (i, base_ms) in [(1, 800u64), (2, 1600), (3, 3200)] {
        assert!(
            gaps[i] >= Duration::from_millis(base_ms / 2)
                && gaps[i] <= Duration::from_millis(base_ms),
            "gap {i}: {:?}",
            gaps[i]
        );
    }
}
