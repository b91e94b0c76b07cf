//! Scenario 3, watch fan-out: W watchers on pods (each with its own label selector and HTTP
//! connection, as W kubelets or controllers would hold) while pods are created at a fixed rate,
//! each matching exactly one watcher. Delivery latency per event is measured from just before the
//! create's POST (so it includes the write's own commit and fsync) to the event's arrival; memory
//! per idle watcher is the server's RSS growth with W open, idle watches, divided by W.

use super::server::{MockK8, wait_ok};
use super::stats::Summary;
use super::{Ctx, Res, Row, pod_json};
use futures::StreamExt;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// Parameters of the watch scenario.
#[derive(Debug, Clone)]
pub struct Params {
    /// Open watches.
    pub watchers: usize,
    /// Pod creates per second during the measurement.
    pub rate: u32,
    /// How long the writes run.
    pub window: Duration,
}

/// Reads one watch stream until cancelled; returns (pod index, arrival) per event.
async fn read_events(resp: reqwest::Response, stop: CancellationToken) -> Vec<(u64, Instant)> {
    let mut got = Vec::new();
    let mut buf: Vec<u8> = Vec::new();
    let mut stream = resp.bytes_stream();
    loop {
        let chunk = tokio::select! {
            _ = stop.cancelled() => break,
            c = stream.next() => match c {
                Some(Ok(c)) => c,
                _ => break,
            },
        };
        let now = Instant::now();
        buf.extend_from_slice(&chunk);
        while let Some(nl) = buf.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = buf.drain(..=nl).collect();
            let Ok(ev) = serde_json::from_slice::<Value>(&line) else {
                continue;
            };
            let index = ev
                .pointer("/object/metadata/name")
                .and_then(Value::as_str)
                .and_then(|n| n.strip_prefix("watch-"))
                .and_then(|i| i.parse::<u64>().ok());
            if let Some(i) = index {
                got.push((i, now));
            }
        }
    }
    got
}

/// Runs the scenario; returns its JSON and table rows.
///
/// # Errors
/// The server could not be started, or a watch could not be opened.
pub async fn run(ctx: &Ctx, p: &Params) -> Res<(Value, Vec<Row>)> {
    let server = MockK8 {
        bin: ctx.bin.clone(),
        data_dir: ctx.work.join("watch"),
        nodes: None,
        verification: true,
    };
    let mut proc = server.start()?;
    let result = measure(ctx, p, &proc).await;
    if result.is_err() {
        eprintln!("{}", proc.log_tail());
    }
    proc.stop().await;
    result
}

async fn measure(ctx: &Ctx, p: &Params, proc: &super::server::Proc) -> Res<(Value, Vec<Row>)> {
    wait_ok(&ctx.http, proc, "/readyz", Duration::from_secs(60)).await?;
    let http = super::load::client()?;
    let url = format!("{}/api/v1/namespaces/default/pods", proc.url);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss0 = proc.rss().unwrap_or(0);

    // Open the watches (an answer's headers mean the server has subscribed).
    let stop = CancellationToken::new();
    let mut readers = tokio::task::JoinSet::new();
    for i in 0..p.watchers {
        let resp = http
            .get(&url)
            .query(&[
                ("watch", "true"),
                ("labelSelector", &format!("bench-watch={i}")),
            ])
            .timeout(Duration::from_secs(3600))
            .send()
            .await?
            .error_for_status()?;
        readers.spawn(read_events(resp, stop.clone()));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss1 = proc.rss().unwrap_or(0);
    let per_watcher = rss1.saturating_sub(rss0) as f64 / p.watchers.max(1) as f64;

    // Writes at a fixed rate (open loop: a slow answer does not delay the next send).
    let total = (p.rate as f64 * p.window.as_secs_f64()) as u64;
    let period = Duration::from_secs_f64(1.0 / p.rate.max(1) as f64);
    let in_flight = Arc::new(tokio::sync::Semaphore::new(1024));
    let mut writers = tokio::task::JoinSet::new();
    let start = Instant::now();
    // A server that cannot keep up gets no more than the window (plus a grace second) of sends,
    // so the scenario stays bounded; the achieved rate says how far it fell behind.
    let stop_sending = start + p.window + Duration::from_secs(1);
    for i in 0..total {
        let due = start + period.mul_f64(i as f64);
        tokio::time::sleep_until(due.into()).await;
        if Instant::now() > stop_sending {
            break;
        }
        let permit = in_flight.clone().acquire_owned();
        let Ok(Ok(permit)) = tokio::time::timeout_at(stop_sending.into(), permit).await else {
            break;
        };
        let label = (i % p.watchers.max(1) as u64).to_string();
        let body = pod_json(&format!("watch-{i}"), &[("bench-watch", &label)]);
        let (http, url) = (http.clone(), url.clone());
        writers.spawn(async move {
            let sent = Instant::now();
            let ok = http
                .post(&url)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            drop(permit);
            (i, sent, Instant::now(), ok)
        });
    }
    let mut sent: Vec<Option<Instant>> = vec![None; total as usize];
    let mut write_lat = Vec::new();
    let mut failed = 0u64;
    while let Some(done) = writers.join_next().await {
        let (i, t0, t1, ok) = done?;
        if ok {
            sent[i as usize] = Some(t0);
            write_lat.push(t1.duration_since(t0).as_secs_f64());
        } else {
            failed += 1;
        }
    }
    let write_seconds = start.elapsed().as_secs_f64();
    // Let the last events arrive.
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.cancel();
    let mut delivery = Vec::new();
    while let Some(done) = readers.join_next().await {
        for (i, at) in done? {
            if let Some(Some(t0)) = sent.get(i as usize) {
                delivery.push(at.duration_since(*t0).as_secs_f64());
            }
        }
    }
    let ok = write_lat.len();
    let d = Summary::of(delivery);
    let w = Summary::of(write_lat);
    let achieved = ok as f64 / write_seconds.max(1e-9);
    let params = format!("{} watchers, {} writes/s", p.watchers, p.rate);
    let rows = vec![
        Row::new(
            "3 watch fan-out",
            params.clone(),
            "delivery p50 / p99 (from POST)",
            format!("{:.1} ms / {:.1} ms", d.p50 * 1e3, d.p99 * 1e3),
            "p99 ≤ 100 ms",
        ),
        Row::new(
            "3 watch fan-out",
            params.clone(),
            "events delivered / writes (achieved rate)",
            format!("{} / {ok} ({achieved:.0}/s)", d.count),
            "",
        ),
        Row::new(
            "3 watch fan-out",
            format!("{} idle watchers", p.watchers),
            "RSS per idle watcher",
            format!("{:.1} KiB", per_watcher / 1024.0),
            "",
        ),
    ];
    let result = json!({
        "scenario": "watch-fan-out",
        "watchers": p.watchers, "rate": p.rate, "windowSeconds": p.window.as_secs_f64(),
        "writes": ok, "writesFailed": failed, "achievedWritesPerSecond": achieved,
        "eventsDelivered": d.count,
        "deliveryP50Ms": d.p50 * 1e3, "deliveryP99Ms": d.p99 * 1e3, "deliveryMaxMs": d.max * 1e3,
        "writeLatencyP50Ms": w.p50 * 1e3, "writeLatencyP99Ms": w.p99 * 1e3,
        "rssBeforeWatchersBytes": rss0, "rssWithIdleWatchersBytes": rss1,
        "bytesPerIdleWatcher": per_watcher,
        "note": "delivery latency is measured from just before each create's POST, so it includes that write's commit and fsync",
    });
    Ok((result, rows))
}
