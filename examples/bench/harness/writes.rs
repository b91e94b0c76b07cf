//! Scenario 2, durable writes: Pod creates per second over HTTP at each concurrency, every write
//! fsync'd before its answer, on a `--api-only` mock_k8; then, in the same run and with the same
//! load generator and the same payload bytes, etcd puts through its JSON gateway.

use super::load::{self, Outcome, Request};
use super::server::{MockK8, Proc, wait_ok};
use super::{Ctx, Res, Row, etcd, pod_json};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

/// Parameters of the durable-writes scenario.
#[derive(Debug, Clone)]
pub struct Params {
    /// Concurrencies to measure (e.g. 1, 32, 256).
    pub clients: Vec<usize>,
    /// Unmeasured time at the start of each step.
    pub warmup: Duration,
    /// Measured time of each step.
    pub window: Duration,
}

/// Each concurrency's outcome, with the server's CPU time per successful request (seconds).
async fn measure(
    p: &Params,
    server: &Proc,
    make: impl Fn(usize) -> Arc<dyn Fn(u64) -> Request + Send + Sync>,
) -> Res<Vec<(Outcome, Option<f64>)>> {
    let mut out = Vec::new();
    for &c in &p.clients {
        let http = load::client()?;
        let cpu0 = server.cpu_seconds();
        let o = load::closed_loop(&http, c, p.warmup, p.window, make(c)).await?;
        // Over warm-up and window alike, so divided by every answer of the step (≈ rate × time).
        let cpu = server.cpu_seconds().zip(cpu0).map(|(b, a)| b - a);
        let total = o.rate() * (p.warmup + p.window).as_secs_f64();
        out.push((o, cpu.map(|c| c / total.max(1.0))));
        // Let the previous step's connections close before the next one.
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(out)
}

/// Runs the scenario; returns its JSON and table rows.
///
/// # Errors
/// A server could not be started, or every request of a step failed.
pub async fn run(ctx: &Ctx, p: &Params) -> Res<(Value, Vec<Row>)> {
    let server = MockK8 {
        bin: ctx.bin.clone(),
        data_dir: ctx.work.join("writes-mock_k8"),
        nodes: None,
        verification: true,
    };
    let mut proc = server.start()?;
    wait_ok(&ctx.http, &proc, "/readyz", Duration::from_secs(60)).await?;
    let url = proc.url.clone();
    let mock = measure(p, &proc, |c| {
        let url = format!("{url}/api/v1/namespaces/default/pods");
        Arc::new(move |i| Request {
            url: url.clone(),
            body: pod_json(&format!("w{c}-{i}"), &[]),
        })
    })
    .await;
    proc.stop().await;
    let mock = mock?;

    let etcd_bin = etcd::find(ctx.etcd.as_deref()).filter(|_| ctx.with_etcd);
    let (etcd_version, etcd_results) = match etcd_bin {
        Some(bin) => {
            let version = etcd::version(&bin).await;
            let mut proc = etcd::start(&bin, &ctx.work.join("writes-etcd"), &ctx.http).await?;
            let url = proc.url.clone();
            let res = measure(p, &proc, |c| {
                let url = url.clone();
                Arc::new(move |i| {
                    let name = format!("w{c}-{i}");
                    etcd::put(
                        &url,
                        &format!("/registry/pods/default/{name}"),
                        &pod_json(&name, &[]),
                    )
                })
            })
            .await;
            proc.stop().await;
            (Some(version), Some(res?))
        }
        None => (None, None),
    };

    let mut steps = Vec::new();
    let mut rows = Vec::new();
    for (i, &c) in p.clients.iter().enumerate() {
        let (m, m_cpu) = &mock[i];
        let (e, e_cpu) = match etcd_results.as_ref().map(|r| &r[i]) {
            Some((e, cpu)) => (Some(e), *cpu),
            None => (None, None),
        };
        let ratio = e.map(|e| m.rate() / e.rate().max(1e-9));
        steps.push(json!({
            "clients": c,
            "mockK8": outcome_json(m, *m_cpu),
            "etcd": e.map(|e| outcome_json(e, e_cpu)),
            "ratio": ratio,
        }));
        let etcd_text = match e {
            Some(e) => format!(
                "{:.0}/s ({:.0} µs CPU/put)",
                e.rate(),
                e_cpu.unwrap_or(f64::NAN) * 1e6
            ),
            None => "n/a (etcd skipped or not installed)".into(),
        };
        rows.push(Row::new(
            "2 durable writes",
            format!("{c} clients"),
            "mock_k8 creates/s (p99, server CPU/write)",
            format!(
                "{:.0}/s ({:.1} ms, {:.0} µs)",
                m.rate(),
                m.latency.p99 * 1e3,
                m_cpu.unwrap_or(f64::NAN) * 1e6
            ),
            "",
        ));
        rows.push(Row::new(
            "2 durable writes",
            format!("{c} clients"),
            "etcd puts/s, mock_k8 ÷ etcd",
            match ratio {
                Some(r) => format!("{etcd_text}, {r:.2}×"),
                None => etcd_text,
            },
            if c >= 256 { "ratio ≥ 2.0×" } else { "" },
        ));
    }
    let note = if etcd_version.is_none() {
        Some(etcd::INSTALL_HINT)
    } else {
        None
    };
    let result = json!({
        "scenario": "durable-writes",
        "warmupSeconds": p.warmup.as_secs_f64(),
        "windowSeconds": p.window.as_secs_f64(),
        "payloadBytes": pod_json("w256-0", &[]).len(),
        "etcdVersion": etcd_version,
        "note": note,
        "steps": steps,
    });
    Ok((result, rows))
}

fn outcome_json(o: &Outcome, cpu_per_request: Option<f64>) -> Value {
    json!({
        "serverCpuMicrosPerRequest": cpu_per_request.map(|c| c * 1e6),
        "perSecond": o.rate(),
        "ok": o.ok,
        "failed": o.failed,
        "firstError": o.first_error,
        "latencyP50Ms": o.latency.p50 * 1e3,
        "latencyP99Ms": o.latency.p99 * 1e3,
    })
}
