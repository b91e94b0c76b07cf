//! Scenario 1, end to end: on a server with N simulated nodes, C concurrent clients create M pods
//! over HTTP; the time until every one of them is `Running` (seen on a watch), pods/s, and each
//! pod's create→Running latency (from just before its POST to the watch event showing it Running).

use super::Res;
use super::stats::Summary;
use futures::StreamExt;
use mock_k8_controllers::client::{Client, ListParams, RestClient, WatchParams};
use mock_k8_schemas::ApiResource;
use mock_k8_schemas::resource::by_kind;
use mock_k8_schemas::watch::EventType;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What one end-to-end run measured.
#[derive(Debug, Clone)]
pub struct E2e {
    /// Pods created (2xx answers) and failed creates.
    pub created: usize,
    pub create_failed: usize,
    pub first_error: Option<String>,
    /// Created pods seen Running before the timeout.
    pub running: usize,
    /// Seconds from the first POST to the last pod Running.
    pub total_seconds: f64,
    /// Seconds the create phase took.
    pub create_seconds: f64,
    /// create→Running per pod, in seconds.
    pub latency: Summary,
}

impl E2e {
    /// Pods Running per second of the whole run.
    pub fn pods_per_second(&self) -> f64 {
        self.running as f64 / self.total_seconds.max(1e-9)
    }
}

/// When each pod was first seen Running.
type RunningAt = Arc<Mutex<HashMap<String, Instant>>>;

fn resource(kind: &str) -> Res<&'static ApiResource> {
    by_kind("v1", kind).ok_or_else(|| format!("the schemas do not serve v1 {kind}").into())
}

fn is_ready(node: &Value) -> bool {
    node.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|cs| {
            cs.iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        })
}

/// Waits until at least `want` nodes are Ready.
///
/// # Errors
/// Not within `timeout`.
pub async fn wait_nodes_ready(url: &str, want: usize, timeout: Duration) -> Res<()> {
    let c = RestClient::http(url).map_err(|e| e.to_string())?;
    let nodes = resource("Node")?;
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(list) = c.list(nodes, None, &ListParams::default()).await
            && list.items.iter().filter(|n| is_ready(n)).count() >= want
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("fewer than {want} nodes Ready after {timeout:?}").into());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn pod_name(p: &Value) -> Option<String> {
    p.pointer("/metadata/name")
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// Records pods of `selector` as they turn Running: lists, then watches from the list's
/// resourceVersion; resumes after the stream ends and re-lists after 410 Expired. Runs until aborted.
async fn watch_running(c: Arc<dyn Client>, selector: String, running: RunningAt) {
    let Ok(pods) = resource("Pod") else { return };
    let lp = ListParams {
        label_selector: Some(selector.clone()),
        field_selector: None,
    };
    let mut rv: Option<String> = None;
    loop {
        if rv.is_none() {
            match c.list(pods, Some("default"), &lp).await {
                Ok(list) => {
                    let now = Instant::now();
                    let mut r = running.lock().unwrap_or_else(|e| e.into_inner());
                    for p in list
                        .items
                        .iter()
                        .filter(|p| p["status"]["phase"] == "Running")
                    {
                        if let Some(n) = pod_name(p) {
                            r.entry(n).or_insert(now);
                        }
                    }
                    rv = Some(list.resource_version);
                }
                Err(e) => {
                    eprintln!("list pods: {e}");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    continue;
                }
            }
        }
        let wp = WatchParams {
            label_selector: Some(selector.clone()),
            resource_version: rv.clone(),
            allow_bookmarks: true,
            timeout_seconds: Some(300),
            ..WatchParams::default()
        };
        let mut stream = c.watch(pods, Some("default"), &wp);
        while let Some(item) = stream.next().await {
            match item {
                Ok(ev) if ev.event_type == EventType::Error => {
                    rv = None;
                    break;
                }
                Ok(ev) => {
                    if let Some(v) = ev
                        .object
                        .pointer("/metadata/resourceVersion")
                        .and_then(Value::as_str)
                    {
                        rv = Some(v.to_string());
                    }
                    if ev.object["status"]["phase"] == "Running"
                        && let Some(n) = pod_name(&ev.object)
                    {
                        let now = Instant::now();
                        let mut r = running.lock().unwrap_or_else(|e| e.into_inner());
                        r.entry(n).or_insert(now);
                    }
                }
                Err(e) => {
                    if e.is_expired() {
                        rv = None;
                    } else {
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                    break;
                }
            }
        }
    }
}

/// Creates `pods` pods labelled `bench-run=run` with `clients` workers; per pod, when its POST was
/// sent. Returns (sent times, failures, first error).
async fn create_pods(
    c: Arc<dyn Client>,
    pods: usize,
    clients: usize,
    run: &str,
) -> Res<(HashMap<String, Instant>, usize, Option<String>)> {
    let pod_res = resource("Pod")?;
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..clients.max(1) {
        let (c, next, run) = (c.clone(), next.clone(), run.to_string());
        workers.spawn(async move {
            let (mut sent, mut errors) = (Vec::new(), Vec::<String>::new());
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= pods {
                    break;
                }
                let name = format!("{run}-{i}");
                let body = super::pod_json(&name, &[("bench-run", &run)]);
                let Ok(pod) = serde_json::from_slice::<Value>(&body) else {
                    continue;
                };
                let t0 = Instant::now();
                match c.create(pod_res, Some("default"), pod).await {
                    Ok(_) => sent.push((name, t0)),
                    Err(e) => errors.push(format!("{name}: {e}")),
                }
            }
            (sent, errors)
        });
    }
    let (mut sent, mut failed, mut first) = (HashMap::new(), 0, None);
    while let Some(res) = workers.join_next().await {
        let (s, errors) = res?;
        sent.extend(s);
        failed += errors.len();
        if first.is_none() {
            first = errors.into_iter().next();
        }
    }
    Ok((sent, failed, first))
}

/// Creates `pods` pods with `clients` clients on the server at `url` (whose nodes are Ready) and
/// waits up to `timeout` for all of them to be Running.
///
/// # Errors
/// The server cannot be reached.
pub async fn run(url: &str, pods: usize, clients: usize, timeout: Duration) -> Res<E2e> {
    let c: Arc<dyn Client> = RestClient::http(url).map_err(|e| e.to_string())?;
    let run = format!(
        "bench-{:x}",
        std::process::id() ^ (jiff::Timestamp::now().as_second() as u32)
    );
    let running: RunningAt = Arc::default();
    let watch = tokio::spawn(watch_running(
        c.clone(),
        format!("bench-run={run}"),
        running.clone(),
    ));
    tokio::time::sleep(Duration::from_millis(300)).await; // let the watch open first
    let start = Instant::now();
    let (sent, create_failed, first_error) = create_pods(c, pods, clients, &run).await?;
    let create_seconds = start.elapsed().as_secs_f64();
    let deadline = start + timeout;
    let mut last_report = Instant::now();
    loop {
        let n = {
            let r = running.lock().unwrap_or_else(|e| e.into_inner());
            sent.keys().filter(|k| r.contains_key(*k)).count()
        };
        if n == sent.len() || Instant::now() > deadline {
            break;
        }
        if last_report.elapsed() > Duration::from_secs(10) {
            eprintln!(
                "    {:.0} s: {n}/{} Running",
                start.elapsed().as_secs_f64(),
                sent.len()
            );
            last_report = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    watch.abort();
    let r = running.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let lat: Vec<f64> = sent
        .iter()
        .filter_map(|(n, t0)| r.get(n).map(|t1| t1.duration_since(*t0).as_secs_f64()))
        .collect();
    let last = sent
        .keys()
        .filter_map(|n| r.get(n))
        .max()
        .copied()
        .unwrap_or(start);
    Ok(E2e {
        created: sent.len(),
        create_failed,
        first_error,
        running: lat.len(),
        total_seconds: last.duration_since(start).as_secs_f64(),
        create_seconds,
        latency: Summary::of(lat),
    })
}
