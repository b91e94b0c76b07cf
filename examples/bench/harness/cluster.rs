//! One server with N simulated nodes carries scenarios 1, 4, 6 and 5 in turn: the idle nodes'
//! write load and memory (4), the end-to-end run (1) that fills it with M pods, its memory holding
//! them (4), LIST of every pod (6), then a restart on the same data directory (5).

use super::e2e::{self, E2e};
use super::server::{MockK8, Proc, store_revision, wait_ok};
use super::{Ctx, Res, Row};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// Parameters of the cluster scenarios.
#[derive(Debug, Clone)]
pub struct Params {
    /// Simulated nodes (the server also runs its own node: N+1 in all).
    pub nodes: u32,
    /// Pods created.
    pub pods: usize,
    /// Concurrent creating clients.
    pub clients: usize,
    /// How long the idle nodes' store writes are counted.
    pub idle_window: Duration,
    /// LISTs of every pod (the median time is reported).
    pub lists: usize,
    /// Give up waiting for Running after this long.
    pub timeout: Duration,
}

const MIB: f64 = 1048576.0;

fn e2e_rows(rows: &mut Vec<Row>, p: &Params, verification: bool, r: &E2e) {
    let params = format!(
        "{} nodes, {} pods, {} clients, verification {}",
        p.nodes,
        p.pods,
        p.clients,
        if verification { "on" } else { "off" }
    );
    let target = if verification { "≥ 2,000 pods/s" } else { "" };
    rows.push(Row::new(
        "1 end to end",
        params.clone(),
        "pods Running/s",
        format!(
            "{:.0}/s ({}/{} in {:.1} s)",
            r.pods_per_second(),
            r.running,
            r.created,
            r.total_seconds
        ),
        target,
    ));
    rows.push(Row::new(
        "1 end to end",
        params,
        "create→Running p50 / p99",
        format!("{:.2} s / {:.2} s", r.latency.p50, r.latency.p99),
        "",
    ));
}

fn e2e_json(p: &Params, verification: bool, r: &E2e, cpu: Option<f64>) -> Value {
    json!({
        "scenario": "end-to-end",
        "nodes": p.nodes, "pods": p.pods, "clients": p.clients, "verification": verification,
        "verificationNote": "--verification-enabled: identity claims checked before commit (records are written either way)",
        "created": r.created, "createFailed": r.create_failed, "firstError": r.first_error,
        "running": r.running, "totalSeconds": r.total_seconds,
        "podsPerSecond": r.pods_per_second(),
        "createSeconds": r.create_seconds,
        "createsPerSecond": r.created as f64 / r.create_seconds.max(1e-9),
        "createToRunningP50Seconds": r.latency.p50,
        "createToRunningP99Seconds": r.latency.p99,
        "serverCpuSeconds": cpu,
    })
}

async fn start_cluster(
    ctx: &Ctx,
    p: &Params,
    verification: bool,
    dir: &str,
) -> Res<(MockK8, Proc, f64)> {
    let server = MockK8 {
        bin: ctx.bin.clone(),
        data_dir: ctx.work.join(dir),
        nodes: Some(p.nodes),
        verification,
    };
    let proc = server.start()?;
    wait_ok(&ctx.http, &proc, "/readyz", Duration::from_secs(60)).await?;
    e2e::wait_nodes_ready(&proc.url, p.nodes as usize + 1, Duration::from_secs(300))
        .await
        .map_err(|e| format!("{e}\n{}", proc.log_tail()))?;
    let boot = proc.started.elapsed().as_secs_f64();
    Ok((server, proc, boot))
}

/// Scenario 1 alone (a fresh server per run): returns its JSON and rows.
///
/// # Errors
/// The server failed to start or to run the pods.
pub async fn e2e_only(ctx: &Ctx, p: &Params, verification: bool) -> Res<(Value, Vec<Row>)> {
    let dir = format!("e2e-verification-{verification}");
    let (_, mut proc, _) = start_cluster(ctx, p, verification, &dir).await?;
    let cpu0 = proc.cpu_seconds();
    let r = e2e::run(&proc.url, p.pods, p.clients, p.timeout).await;
    let cpu = proc.cpu_seconds().zip(cpu0).map(|(b, a)| b - a);
    proc.stop().await;
    let r = r?;
    let mut rows = Vec::new();
    e2e_rows(&mut rows, p, verification, &r);
    let mut v = e2e_json(p, verification, &r, cpu);
    if ctx.verify_after {
        let data_dir = ctx.work.join(&dir);
        let source = super::verify::Source::DataDir(&data_dir);
        let (audit, r) = super::verify::after_run(ctx, source, verification).await?;
        v["verifyAfter"] = audit;
        rows.extend(r);
    }
    Ok((v, rows))
}

/// GET every pod; returns (seconds, items, peak extra RSS in bytes over the RSS before).
async fn list_all(ctx: &Ctx, proc: &Proc) -> Res<(f64, usize, Option<u64>)> {
    let reset = proc.reset_peak();
    let before = proc.rss();
    let t = Instant::now();
    let body = ctx
        .http
        .get(format!("{}/api/v1/pods", proc.url))
        .send()
        .await?
        .error_for_status()?
        .bytes()
        .await?;
    let secs = t.elapsed().as_secs_f64();
    let peak = proc.peak_rss();
    let v: Value = serde_json::from_slice(&body)?;
    let items = v["items"].as_array().map_or(0, Vec::len);
    let extra = match (reset, before, peak) {
        (true, Some(b), Some(p)) => Some(p.saturating_sub(b)),
        _ => None,
    };
    Ok((secs, items, extra))
}

/// Scenarios 1 (verification on), 4, 6 and 5 on one server: returns their JSON and rows.
///
/// # Errors
/// The server failed to start, run the pods or restart.
pub async fn run(ctx: &Ctx, p: &Params) -> Res<(Vec<Value>, Vec<Row>)> {
    let mut rows = Vec::new();
    let mut out = Vec::new();
    let (server, mut proc, boot) = start_cluster(ctx, p, true, "cluster").await?;
    eprintln!("  {} nodes Ready {boot:.1} s after start", p.nodes + 1);

    // 4a: what the idle nodes write (Lease renewals, node status), and the idle memory.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rev0 = store_revision(&ctx.http, &proc).await?;
    let t0 = Instant::now();
    tokio::time::sleep(p.idle_window).await;
    let idle_writes =
        (store_revision(&ctx.http, &proc).await? - rev0) as f64 / t0.elapsed().as_secs_f64();
    let rss_idle = proc.rss().unwrap_or(0);

    // 1: end to end.
    let cpu0 = proc.cpu_seconds();
    let e = e2e::run(&proc.url, p.pods, p.clients, p.timeout).await;
    let cpu = proc.cpu_seconds().zip(cpu0).map(|(b, a)| b - a);
    let e = match e {
        Ok(e) => e,
        Err(err) => {
            proc.stop().await;
            return Err(err);
        }
    };
    e2e_rows(&mut rows, p, true, &e);
    out.push(e2e_json(p, true, &e, cpu));
    if ctx.verify_after {
        let source = super::verify::Source::Server(&proc.url);
        let (audit, r) = super::verify::after_run(ctx, source, true).await?;
        out.push(audit);
        rows.extend(r);
    }

    // 4b: memory holding the pods.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_full = proc.rss().unwrap_or(0);
    let per_pod = rss_full.saturating_sub(rss_idle) as f64 / e.running.max(1) as f64;
    let scale = format!("{} nodes, {} pods", p.nodes, e.running);
    rows.push(Row::new(
        "4 scale & memory",
        scale.clone(),
        "server RSS (idle nodes → with pods)",
        format!(
            "{:.0} MiB → {:.0} MiB",
            rss_idle as f64 / MIB,
            rss_full as f64 / MIB
        ),
        "≤ 1 GiB",
    ));
    rows.push(Row::new(
        "4 scale & memory",
        scale.clone(),
        "RSS per pod",
        format!("{per_pod:.0} B"),
        "",
    ));
    rows.push(Row::new(
        "4 scale & memory",
        format!("{} idle nodes", p.nodes + 1),
        "store writes/s (Leases, status)",
        format!("{idle_writes:.0}/s"),
        "",
    ));
    out.push(json!({
        "scenario": "scale-and-memory",
        "nodes": p.nodes, "pods": e.running,
        "rssIdleBytes": rss_idle, "rssWithPodsBytes": rss_full,
        "bytesPerPod": per_pod,
        "idleStoreWritesPerSecond": idle_writes,
        "idleWindowSeconds": p.idle_window.as_secs_f64(),
    }));

    // 6: LIST every pod.
    let mut times = Vec::new();
    let mut peak = 0u64;
    let mut items = 0;
    for _ in 0..p.lists.max(1) {
        let (secs, n, extra) = list_all(ctx, &proc).await?;
        times.push(secs);
        items = n;
        peak = peak.max(extra.unwrap_or(0));
    }
    let list = super::stats::Summary::of(times);
    rows.push(Row::new(
        "6 LIST",
        format!("{items} pods, {} times", p.lists.max(1)),
        "time (median) / peak extra RSS",
        format!("{:.2} s / {:.0} MiB", list.p50, peak as f64 / MIB),
        "",
    ));
    out.push(json!({
        "scenario": "list",
        "items": items, "lists": p.lists.max(1),
        "secondsP50": list.p50, "secondsMax": list.max,
        "peakExtraRssBytes": peak,
    }));

    // 5: restart on the same data directory (API only, so the figure is the store's start-up).
    proc.stop().await;
    let restarted = MockK8 {
        nodes: None,
        ..server
    };
    let mut proc = restarted.start()?;
    let ready = wait_ok(&ctx.http, &proc, "/readyz", Duration::from_secs(120)).await;
    let ready = ready.map(|t| t.duration_since(proc.started).as_secs_f64());
    let listed = match &ready {
        Ok(_) => list_all(ctx, &proc)
            .await
            .map(|(_, n, _)| (proc.started.elapsed().as_secs_f64(), n)),
        Err(e) => Err(e.to_string().into()),
    };
    let rss_restarted = proc.rss().unwrap_or(0);
    proc.stop().await;
    let ready = ready?;
    let (listed, n) = listed?;
    rows.push(Row::new(
        "5 restart",
        format!("{n} pods, {} nodes in the data dir", p.nodes + 1),
        "start → /readyz / → first LIST",
        format!("{ready:.2} s / {listed:.2} s"),
        "/readyz ≤ 5 s",
    ));
    out.push(json!({
        "scenario": "restart",
        "pods": n, "nodes": p.nodes + 1,
        "readySeconds": ready, "firstListSeconds": listed,
        "rssAfterFirstListBytes": rss_restarted,
        "note": "restarted with --api-only, so the figures are the store's start-up alone",
    }));
    Ok((out, rows))
}
